"""MXFP4 experts as vLLM holds them after loading, not as the checkpoint stores them.

vllm/model_executor/layers/quantization/mxfp4.py `Mxfp4MoEMethod.create_weights` /
`process_weights_after_loading`: the kernel vLLM picks for the GPU decides the padding of the
expert shapes, the bias dtype and (Hopper's Triton kernels) a second, swizzled copy of the scales.
"""

from __future__ import annotations

import pytest

from llmkube import modelshape
from llmkube.plan import engine_memory as em
from llmkube.plan import sizing
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

GIB = 1024**3


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


def checkpoint_expert_layer_bytes(spec, layer: int) -> float:
    return sum(modelshape.tensor_bytes(spec, t) for t in modelshape.tensors(spec)
               if t.group == "experts" and t.layer == layer)


@pytest.mark.parametrize("name, backend", [
    ("NVIDIA H100 80GB HBM3 (SXM5)", "triton"), ("NVIDIA H200", "triton"),
    ("NVIDIA A100-SXM4-80GB", "marlin"), ("NVIDIA L4", "marlin"), ("NVIDIA GeForce RTX 4090", "marlin"),
    ("NVIDIA B200", "flashinfer"), ("", None),
])
def test_backend_follows_the_device(name, backend):
    assert em.mxfp4_moe_backend(name) == backend


def test_marlin_pads_the_expert_width_and_the_hidden_size(store):
    """Marlin's n % 256 / k % 128 rule: at TP 4 gpt-oss's 2880-wide experts are 720 per rank,
    padded to 768, and the hidden size 2880 to 3072; e8m0 scales and bf16 biases stay as loaded."""
    s = store.model("gpt-oss-120b").spec
    e, i, h = 128, 768, 3072
    assert (s.experts.total, s.hidden_size, s.intermediate_size) == (e, 2880, 2880)
    expected = e * (2 * i * h // 2 + h * i // 2 + 2 * i * h // 32 + h * i // 32 + (2 * i + h) * 2)
    assert em.mxfp4_expert_layer_bytes(s, 4, "marlin") == expected
    # more than the rank's share of the checkpoint: the padding is real memory
    assert expected > checkpoint_expert_layer_bytes(s, 0) / 4 * 1.13


def test_hopper_keeps_the_scales_and_adds_a_swizzled_copy(store):
    """Triton on Hopper: no padding of 2880 (a multiple of 64), float32 biases, and the original
    scales stay registered beside their swizzled copy (rows padded to 256, columns to 2)."""
    s = store.model("gpt-oss-20b").spec
    e, i, h = 32, 2880, 2880
    checkpoint = checkpoint_expert_layer_bytes(s, 0)
    swizzled = e * ((2 * i + 255) // 256 * 256 * (h // 32) + (h + 255) // 256 * 256 * (i // 32))
    bias_upcast = e * (2 * i + h) * 2  # bf16 -> float32
    assert em.mxfp4_expert_layer_bytes(s, 1, "triton") == pytest.approx(checkpoint + swizzled + bias_upcast)


def test_triton_pads_an_odd_rank_width_to_64(store):
    """At TP 2 gpt-oss's 2880 becomes 1440 per rank, not a multiple of 64: padded to 1472."""
    s = store.model("gpt-oss-20b").spec
    at_1440 = s.model_copy(update={"intermediate_size": 2 * 1472})
    assert em.mxfp4_expert_layer_bytes(s, 2, "triton") == em.mxfp4_expert_layer_bytes(at_1440, 2, "triton")


def test_serving_fit_counts_the_loaded_experts(store):
    model = store.model("gpt-oss-120b")
    cfg = ServerConfig(max_model_len=16384)
    unknown = serving_fit(model, 79.19, cfg, gpu_name="")
    hopper = serving_fit(model, 79.19, cfg, gpu_name="NVIDIA H100 80GB HBM3")
    extra = 36 * (em.mxfp4_expert_layer_bytes(model.spec, 1, "triton") - checkpoint_expert_layer_bytes(model.spec, 0)
                  + em.mxfp4_expert_rounding_bytes(model.spec, 1, "triton", 128))
    assert hopper.weights_gib - unknown.weights_gib == pytest.approx(extra / GIB)
    # the checkpoint's own bytes (and the RoPE table) without a device name; the weights the KV budget loses
    rope = em.rope_cache_bytes(model.spec, 2.0)
    assert unknown.weights_gib == pytest.approx((sum(sizing.stage_weight_bytes(model, cfg, 1)) + rope) / GIB)
    assert hopper.kv_budget_gib == pytest.approx(unknown.kv_budget_gib - extra / GIB)


def test_other_checkpoints_are_untouched(store):
    model = store.model("llama-3.1-8b")
    assert model.spec.quantization is None and model.spec.experts is None
    cfg = ServerConfig(max_model_len=4096)
    assert sizing.loaded_expert_extra_bytes(model, cfg, "NVIDIA H100 80GB HBM3", range(model.spec.layers)) == 0.0
    tgi = ServerConfig(max_model_len=4096, runtime="tgi")
    gpt = store.model("gpt-oss-20b")
    assert sizing.loaded_expert_extra_bytes(gpt, tgi, "NVIDIA H100 80GB HBM3", range(gpt.spec.layers)) == 0.0


def test_marlin_on_one_gpu_pads_2880_to_2944_and_3072(store):
    """Without triton_kernels (a plain pip install) vLLM falls back to Marlin even on a Hopper GPU
    (vLLM 0.10.1 log in vllm-project/vllm#23278: 'leveraging the Marlin kernel'): at TP 1 the
    expert width 2880 pads to 2944 (128) and the hidden size to 3072 (256)."""
    s = store.model("gpt-oss-120b").spec
    e, i, h = 128, 2944, 3072
    expected = e * (2 * i * h // 2 + h * i // 2 + 2 * i * h // 32 + h * i // 32 + (2 * i + h) * 2)
    assert em.mxfp4_expert_layer_bytes(s, 1, "marlin") == expected


def test_scale_tensors_round_to_the_caching_allocators_segments(store):
    """gpt-oss-120b at TP 1: the e8m0 scale tensors are not whole multiples of 2 MiB, and the caching
    allocator keeps a large tensor's whole 2 MiB-rounded segment when the rest is 1 MiB or less
    (`allocated_bytes`). Triton (Hopper): w13 scales [128, 5760, 90] 63.28 MiB → 64, w2 scales
    [128, 2880, 90] 31.64 → 32, the swizzled w2 copy [128, 3072, 90] 33.75 → 34 (the w13 copy,
    64.69 MiB, splits). Marlin: w13 scales [128, 5888, 96] are 69 MiB → 70; the rest split or are
    whole multiples of 2 MiB."""
    s = store.model("gpt-oss-120b").spec
    mib = 2 ** 20
    triton_scales = [128 * 5760 * 90, 128 * 2880 * 90, 128 * 3072 * 90]
    expected = sum(-(-size // (2 * mib)) * 2 * mib - size for size in triton_scales)
    assert em.mxfp4_expert_rounding_bytes(s, 1, "triton", 128) == expected
    assert em.mxfp4_expert_rounding_bytes(s, 1, "marlin", 128) == 70 * mib - 128 * 5888 * 96 == 1 * mib
    # the tensor list is the layout mxfp4_expert_layer_bytes sums
    assert sum(em.mxfp4_expert_layer_tensors(s, 1, "triton")) == em.mxfp4_expert_layer_bytes(s, 1, "triton")


def test_gpt_oss_rope_table_is_float32(store):
    """vllm/model_executor/models/gpt_oss.py builds its YaRN table with dtype=torch.float32 whatever
    the served dtype: 131,072 positions × 64 × 4 B. Other models keep the served dtype."""
    oss = store.model("gpt-oss-120b").spec
    assert em.rope_cache_bytes(oss, 2.0) == 131072 * 64 * 4
    llama = store.model("llama-3.1-8b").spec
    assert em.rope_cache_bytes(llama, 2.0) == 131072 * 128 * 2


def test_loaded_weights_meet_the_v011_readings(store):
    """The two gpt-oss-120b loading readings on one H100 (fit rows): the vllm-openai image's Triton
    path logs 'Model loading took 64.38 GiB' (llm-d planner, v0.11.0), a pip install's Marlin path
    65.9651 GiB (vllm-project/vllm#23278, jxm020202/aimo3). Both follow from the checkpoint, the
    kernel's layout, the allocator's rounding and the float32 RoPE table, with nothing fitted."""
    model = store.model("gpt-oss-120b")
    cfg = ServerConfig(max_model_len=16000, utilization=0.95, engine_version=(0, 11, 0))
    triton = serving_fit(model, 79.18, cfg, gpu_name="NVIDIA H100 80GB HBM3")
    marlin = serving_fit(model, 79.18, ServerConfig(max_model_len=16000, utilization=0.95, engine_version=(0, 11, 0),
                                                    mxfp4_backend="marlin"), gpu_name="NVIDIA H100 80GB HBM3")
    assert triton.weights_gib == pytest.approx(64.38, abs=0.005)
    assert marlin.weights_gib == pytest.approx(65.9651, abs=0.005)
