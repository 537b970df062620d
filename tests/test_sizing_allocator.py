"""The weights as vLLM's "Model loading took" counts them: PyTorch's caching allocator rounds each
large weight tensor up to its 2 MiB segment when the rest is too small to split off.

c10/cuda/CUDACachingAllocator.cpp: requests round to 512 B; a request of 10 MiB or more gets a new
segment rounded up to 2 MiB; the block is split only when more than 1 MiB would be left, and
`torch.cuda.memory_allocated` (which vLLM reads) counts the unsplit block whole.
"""

from __future__ import annotations

import pytest

from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

MIB = 2**20
GIB = 2**30
H100 = 79.19


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


def test_allocated_bytes_rounds_a_large_tensor_to_its_segment_when_the_rest_cannot_be_split():
    assert em.allocated_bytes(231 * MIB) == 232 * MIB  # 1 MiB left: not split, counted
    assert em.allocated_bytes(259 * MIB) == 260 * MIB
    assert em.allocated_bytes(int(129.5 * MIB)) == 130 * MIB  # 0.5 MiB left
    assert em.allocated_bytes(int(24.5 * MIB)) == int(24.5 * MIB)  # 1.5 MiB left: split off, not counted
    assert em.allocated_bytes(224 * MIB) == 224 * MIB  # a whole number of segments
    assert em.allocated_bytes(9 * MIB + 1000) == 9 * MIB + 1024  # under 10 MiB: a shared 20 MiB segment, 512 B rounding
    assert em.allocated_bytes(1000) == 1024


def test_vllm_fused_layout_per_rank(store):
    qwen72 = store.model("qwen2.5-72b")
    assert qwen72 is not None
    shapes = em.vllm_weight_tensors(qwen72.spec, 2, 80)
    # qkv [(64/2 + 2 × 8/2) × 128, 8192], o [8192, 32 × 128], gate_up [2 × 14,784, 8192], down [8192, 14,784]
    assert shapes[:4] == [(5120 * 8192, 80, True), (8192 * 4096, 80, True), (29568 * 8192, 80, True),
                          (8192 * 14784, 80, True)]
    # embedding and the untied LM head, [152,064 / 2, 8192] each
    assert shapes[4:] == [(76032 * 8192, 1, False), (76032 * 8192, 1, False)]
    # KV heads are replicated when fewer than TP: Llama-3.1-8B's 8 at TP 16 stay one per rank
    llama = store.model("llama-3.1-8b")
    assert llama is not None
    assert em.vllm_weight_tensors(llama.spec, 16, 32)[0][0] == (32 // 16 + 2 * 1) * 128 * 4096
    # a tied table is one tensor unless pipeline stages split it
    tied = store.model("qwen2.5-3b")
    assert tied is not None and tied.spec.tie_embeddings
    assert sum(1 for _, _, linear in em.vllm_weight_tensors(tied.spec, 1, 36) if not linear) == 1
    assert sum(1 for _, _, linear in em.vllm_weight_tensors(tied.spec, 1, 18, first_stage=False) if not linear) == 1


def test_rounding_per_gpu_from_the_shapes(store):
    qwen72, llama = store.model("qwen2.5-72b"), store.model("llama-3.1-8b")
    assert qwen72 is not None and llama is not None
    # TP 2: only down_proj (231 MiB) leaves 1 MiB per layer; the rest are whole segments
    assert em.weight_rounding_bytes(qwen72.spec, 2, 2.0, 80) == 80 * MIB
    # TP 4: gate_up (231 MiB) 1 MiB and down (115.5 MiB) 0.5 MiB per layer
    assert em.weight_rounding_bytes(qwen72.spec, 4, 2.0, 80) == 120 * MIB
    # Llama-3.1-8B's layer tensors are whole multiples of 2 MiB at any TP; its two [128,256 / TP, 4096]
    # tables are 1002 MiB at TP 1 (whole), 501 at TP 2 (1 MiB left each), 250.5 at TP 4 (1.5 MiB left:
    # split off), 125.25 at TP 8 (0.75 MiB left each)
    rounding = {tp: em.weight_rounding_bytes(llama.spec, tp, 2.0, 32) for tp in (1, 2, 4, 8)}
    assert rounding == {1: 0, 2: 2 * MIB, 4: 0, 8: 1.5 * MIB}
    # an 8-bit checkpoint's linears are one byte per element: Qwen2.5-7B's gate_up 129.5 MiB, qkv 15.75 MiB
    qwen7 = store.model("qwen2.5-7b")
    assert qwen7 is not None
    assert em.weight_rounding_bytes(qwen7.spec, 1, 2.0, 28) == 57 * MIB  # 16-bit: 2 MiB per layer + 2 × 0.5
    assert em.weight_rounding_bytes(qwen7.spec, 1, 2.0, 28, linear_bytes=1.0) == 22 * MIB  # 0.75 per layer + 2 × 0.5


def test_serving_fit_adds_the_rounding_to_the_weights_and_takes_it_from_the_kv_cache(store):
    qwen72 = store.model("qwen2.5-72b")
    assert qwen72 is not None
    cfg = ServerConfig(tensor_parallel=2, max_model_len=8192, engine_version=(0, 19, 0))
    fit = serving_fit(qwen72, H100, cfg, gpu_name="NVIDIA H100 80GB HBM3")
    shapes = 135.426 / 2 + em.rope_cache_bytes(qwen72.spec, 2.0) / GIB  # the checkpoint's half + the RoPE table
    assert fit.weights_gib == pytest.approx(shapes + 80 / 1024, abs=0.001)
    # the fit rows of Qwen2.5-72B-Instruct (v0.19.0, H100, TP 2) print 67.80 GiB
    assert fit.weights_gib == pytest.approx(67.80, abs=0.005)
    # an 8-bit checkpoint is rounded with one byte per element; a 4-bit one and runtime quantization are not
    w8a8 = store.model("RedHatAI/Qwen2.5-7B-Instruct-quantized.w8a8")
    assert w8a8 is not None
    one = serving_fit(w8a8, H100, ServerConfig(max_model_len=8192, engine_version=(0, 19, 0)))
    assert one.weights_gib == pytest.approx(8.14, abs=0.002)  # its fit rows print 8.14 GiB (8.118 unrounded)
    qwen7 = store.model("qwen2.5-7b")
    assert qwen7 is not None
    plain = serving_fit(qwen7, H100, ServerConfig(max_model_len=8192, engine_version=(0, 19, 0)))
    online = serving_fit(qwen7, H100, ServerConfig(max_model_len=8192, engine_version=(0, 19, 0), quantization="fp8"))
    assert plain.weights_gib == pytest.approx(14.25, abs=0.002)  # its fit rows print 14.25 GiB (14.193 unrounded)
    assert online.weights_gib < plain.weights_gib / 1.7  # fp8 at run time: no rounding term, as before


def test_four_bit_packings_round_by_their_packed_bytes(store):
    # Qwen3-32B-AWQ: int32 tensors of eight 4-bit values: qkv 5120 × 10,240 / 2 B = 25 MiB (1 MiB left),
    # gate_up 5120 × 51,200 / 2 = 125 MiB (1 MiB), down 62.5 MiB (1.5 MiB: split), o 20 MiB; the 16-bit
    # tables [151,936, 5120] are 1483.75 MiB each (0.25 MiB left)
    awq = store.model("Qwen/Qwen3-32B-AWQ")
    assert awq is not None and awq.spec.quantization is not None and awq.spec.quantization.weight_bits == 4
    assert em.weight_rounding_bytes(awq.spec, 1, 2.0, 64, linear_bytes=0.5) == 64 * 2 * MIB + 2 * MIB // 4
    # in serving_fit, with the checkpoint's method detected or repeated by --quantization awq; its two fit
    # rows (v0.17.1 RTX 5090, v0.19.0 A100) print 18.14 GiB
    for cfg in (ServerConfig(max_model_len=8192, engine_version=(0, 19, 0)),
                ServerConfig(max_model_len=8192, engine_version=(0, 19, 0), quantization="awq")):
        assert serving_fit(awq, H100, cfg).weights_gib == pytest.approx(18.14, abs=0.01)
