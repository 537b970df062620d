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
    loads each expert padded to Marlin's tiles, so the KV budget shrinks by exactly that padding."""
    base = ServerConfig(utilization=0.95, max_num_batched_tokens=1024, engine_version=(0, 11, 0))
    image = serving_fit(gpt_oss_120b, H100, base, gpu_name=H100_NAME)
    pip = serving_fit(gpt_oss_120b, H100, dataclasses.replace(base, pip_install=True), gpu_name=H100_NAME)
    named = serving_fit(gpt_oss_120b, H100, dataclasses.replace(base, mxfp4_backend="marlin"), gpu_name=H100_NAME)
    assert pip.weights_gib == named.weights_gib and pip.kv_budget_gib == named.kv_budget_gib
    spec = gpt_oss_120b.spec
    assert spec.experts is not None
    # every gpt-oss layer is an MoE layer; Marlin pads H = 2880 to 3072 (Triton keeps H and adds a
    # swizzled scale copy): the difference per layer is what the loaded weights grow by
    padding = spec.layers * (em.mxfp4_expert_layer_bytes(spec, 1, "marlin") - em.mxfp4_expert_layer_bytes(spec, 1, "triton"))
    assert padding > 1.0 * GIB
    assert (pip.weights_gib - image.weights_gib) * GIB == pytest.approx(padding, rel=1e-9)
    assert (image.kv_budget_gib - pip.kv_budget_gib) * GIB == pytest.approx(padding, rel=1e-9)
