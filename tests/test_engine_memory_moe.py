"""MoE, quantized-MoE and multimodal start-up mechanisms (issue 11, i11-moe).

Each test pins one mechanism read in vLLM's source at the version named; the expected figures are
derived from the profiles' shapes and the rule, not read off llmkube's output.
"""

from __future__ import annotations

import dataclasses

import pytest

from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import GIB, ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

H100 = 79.19
H100_NAME = "NVIDIA H100 80GB HBM3"


@pytest.fixture(scope="module")
def gpt_oss_120b():
    profile = ProfileStore.load().model("gpt-oss-120b")
    assert profile is not None
    return profile


@pytest.mark.parametrize(("version", "pip_install", "backend"), [
    ((0, 11, 0), True, "marlin"),   # 0.11 wheel: no triton_kernels → `get_mxfp4_backend` picks Marlin
    ((0, 11, 2), True, "marlin"),
    ((0, 12, 0), True, "triton"),   # vendored from 0.12.0 (vllm-project/vllm#28788)
    ((0, 11, 0), False, "triton"),  # the vllm-openai image
    (None, True, "triton"),         # an unpinned install is the newest release
])
def test_pip_wheel_without_triton_kernels_runs_mxfp4_through_marlin_on_hopper(version, pip_install, backend):
    assert em.mxfp4_moe_backend(H100_NAME, version, pip_install) == backend


def test_pip_install_changes_nothing_off_hopper():
    # Ampere/Ada always run Marlin, Blackwell FlashInfer: the wheel's contents do not enter
    assert em.mxfp4_moe_backend("NVIDIA A100-SXM4-80GB", (0, 11, 0), True) == "marlin"
    assert em.mxfp4_moe_backend("NVIDIA B200", (0, 11, 0), True) == "flashinfer"


def test_pip_install_of_0_11_sizes_gpt_oss_120b_with_marlin_experts(gpt_oss_120b):
    """`vllm serve openai/gpt-oss-120b --gpu-memory-utilization 0.95 --max-num-batched-tokens 1024`
    from a 0.11.0 pip install on one H100: the same start-up as with the Marlin kernel named, which
    loads each expert padded to Marlin's tiles, so the KV budget shrinks by exactly that padding
    (the sampler pinned to the sort for all three: a pip install of 0.11.0 has no FlashInfer either,
    `em.flashinfer_sampler_by_default`, where the image would sample with it)."""
    base = ServerConfig(utilization=0.95, max_num_batched_tokens=1024, engine_version=(0, 11, 0),
                        flashinfer_sampler=False)
    image = serving_fit(gpt_oss_120b, H100, base, gpu_name=H100_NAME)
    pip = serving_fit(gpt_oss_120b, H100, dataclasses.replace(base, pip_install=True), gpu_name=H100_NAME)
    named = serving_fit(gpt_oss_120b, H100, dataclasses.replace(base, mxfp4_backend="marlin"), gpu_name=H100_NAME)
    assert pip.weights_gib == named.weights_gib and pip.kv_budget_gib == named.kv_budget_gib
    spec = gpt_oss_120b.spec
    assert spec.experts is not None
    # every gpt-oss layer is an MoE layer; Marlin pads H = 2880 to 3072 (Triton keeps H and adds a
    # swizzled scale copy): the difference per layer is what the loaded weights grow by
    # (each kernel's tensors also round to the caching allocator's segments: `mxfp4_expert_rounding_bytes`)
    padding = spec.layers * (em.mxfp4_expert_layer_bytes(spec, 1, "marlin") - em.mxfp4_expert_layer_bytes(spec, 1, "triton")
                             + em.mxfp4_expert_rounding_bytes(spec, 1, "marlin", 128)
                             - em.mxfp4_expert_rounding_bytes(spec, 1, "triton", 128))
    assert padding > 1.0 * GIB
    assert (pip.weights_gib - image.weights_gib) * GIB == pytest.approx(padding, rel=1e-9)
    assert (image.kv_budget_gib - pip.kv_budget_gib) * GIB == pytest.approx(padding, rel=1e-9)


@pytest.fixture(scope="module")
def qwen3_235b_fp8():
    profile = ProfileStore.load().model("Qwen/Qwen3-235B-A22B-FP8")
    assert profile is not None
    return profile


def test_router_and_kv_heads_are_whole_on_every_tp_rank(qwen3_235b_fp8):
    """Qwen3-235B-A22B-FP8: 94 layers, router [128, 4096] in bf16 (`ReplicatedLinear`, no quant
    config), 4 KV heads of 128 on hidden 4096, k/v in fp8 with one float32 scale per 128 × 128 block.
    At TP 8 every rank holds the whole router and one KV head (`QKVParallelLinear`: 8 ≥ 4 heads)."""
    from llmkube.plan.sizing import replicated_weight_bytes

    s = qwen3_235b_fp8.spec
    assert (s.layers, s.kv_heads, s.head_dim, s.hidden_size) == (94, 4, 128, 4096)
    router = 128 * 4096 * 2
    kv_proj = 4 * 128 * 4096 * 1 + (4 * 128 // 128) * (4096 // 128) * 4  # fp8 values + block scales
    layers = range(s.layers)
    tp8 = replicated_weight_bytes(qwen3_235b_fp8, ServerConfig(tensor_parallel=8), layers)
    assert tp8 == pytest.approx(94 * (router * (1 - 1 / 8) + 2 * kv_proj * (1 / 4 - 1 / 8)))
    # at TP 4 the 4 KV heads split evenly: only the router is replicated
    tp4 = replicated_weight_bytes(qwen3_235b_fp8, ServerConfig(tensor_parallel=4), layers)
    assert tp4 == pytest.approx(94 * router * (1 - 1 / 4))
    assert replicated_weight_bytes(qwen3_235b_fp8, ServerConfig(tensor_parallel=1), layers) == 0.0
    # a pipeline stage counts only its own layers
    half = replicated_weight_bytes(qwen3_235b_fp8, ServerConfig(tensor_parallel=8), range(47))
    assert half == pytest.approx(tp8 / 2)


def test_replicated_tensors_enter_the_loaded_weights(qwen3_235b_fp8):
    """The start-up of fit row gh-evaldataset-qwen3-235b-fp8-8xh100-ep-v0100 (vLLM 0.10.0, 8 × H100,
    --enable-expert-parallel, fp8 KV): every worker logs "Model loading took 27.6656 GiB". Without
    the replicated routers and KV heads (0.12 GiB per GPU) llmkube read 27.54."""
    config = ServerConfig(tensor_parallel=8, expert_parallel=True, kv_cache_dtype="fp8", max_model_len=32768,
                          max_num_batched_tokens=8192, engine_version=(0, 10, 0))
    fit = serving_fit(qwen3_235b_fp8, H100, config, gpu_name=H100_NAME)
    assert fit.weights_gib == pytest.approx(27.6656, abs=0.03)
