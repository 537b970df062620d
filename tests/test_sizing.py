"""Sizing arithmetic against the facts file (§6, §7) and against real vLLM start-ups (§7.1b).

Every expected figure is derived here from first principles (shapes × bytes) or
taken from a published vLLM start-up log, with the derivation next to it.
Physical H100 memory is 79.19 GiB (facts §7.1b: "an '80 GB' H100 reports 79.19 GiB").
"""

from __future__ import annotations

import dataclasses

import pytest

from llmkube.engines import parse_engine_version
from llmkube.plan import sizing
from llmkube.plan.sizing import (
    GIB,
    ServerConfig,
    kv_bytes_per_token,
    recommend_serving,
    serving_fit,
    tp_problems,
    valid_tensor_parallel,
    weight_bytes,
)
from llmkube.profiles import ProfileStore

H100 = 79.19
KIB = 1024
# vLLM's RoPE cos/sin table for Llama 3.x (131,072 positions × 128 dims × 2 B), GiB: every GPU holds one
LLAMA31_ROPE = 131072 * 128 * 2 / 2**30


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


@pytest.fixture(scope="module")
def m(store):
    return store.model


# --------------------------------------------------------------------------- weights and KV per token (facts §6)


@pytest.mark.parametrize(
    "model, kib",
    [
        # 2 (K and V) × layers × KV heads × head_dim × 2 bytes
        ("llama-3.1-8b", 128),  # 2·32·8·128·2 = 131072 B
        ("llama-3.1-70b", 320),  # 2·80·8·128·2
        ("llama-3.1-405b", 504),  # 2·126·8·128·2
        ("llama-3.2-1b", 32),  # 2·16·8·64·2
        ("llama-3.2-3b", 112),  # 2·28·8·128·2
        ("qwen2.5-7b", 56),  # 2·28·4·128·2
        ("gemma-2-9b", 336),  # 2·42·8·256·2
        ("phi-3-mini", 384),  # 2·32·32·96·2
        ("deepseek-v3", 68.625),  # MLA: 61 layers × (512 + 64) × 2 B = 70272 B
    ],
)
def test_kv_per_token_matches_facts_table(m, model, kib):
    assert kv_bytes_per_token(m(model)) == kib * KIB


def test_kv_heads_split_over_tp_never_below_one(m):
    llama70 = m("llama-3.1-70b")
    assert kv_bytes_per_token(llama70, tensor_parallel=4) == 80 * KIB  # 8 KV heads → 2 per rank
    assert kv_bytes_per_token(llama70, tensor_parallel=8) == 40 * KIB  # 1 per rank
    assert kv_bytes_per_token(llama70, tensor_parallel=16) == 40 * KIB  # replicated, still 1 per rank
    # MLA keeps the whole latent on every rank
    assert kv_bytes_per_token(m("deepseek-v3"), tensor_parallel=8) == kv_bytes_per_token(m("deepseek-v3"))
    # fp8 KV halves the bytes
    assert kv_bytes_per_token(llama70, kv_dtype_bytes=1.0) == 160 * KIB


def test_weights_per_gpu_llama_70b_tp4(m):
    # 70.55e9 params × 2 B = 141.1 GB (facts: "141 GB") = 131.41 GiB; ÷ 4 = 32.85 GiB per GPU,
    # + the RoPE cos/sin table every GPU holds whole (131,072 positions × 128 × 2 B = 1/32 GiB)
    fit = serving_fit(m("llama-3.1-70b"), H100, ServerConfig(tensor_parallel=4, max_model_len=8192))
    assert fit.weights_gib == pytest.approx(32.85 + LLAMA31_ROPE, abs=0.01)
    assert weight_bytes(m("llama-3.1-70b")) == pytest.approx(141.1e9)


def test_weights_within_one_percent_of_vllm_logs(m):
    # vLLM 0.19 / 0.11 logs: Llama-3.1-8B "model weights take 14.99 GiB"; Qwen2.5-7B 14.25 GiB;
    # Llama-3.1-8B at TP 2: 7.51 GiB (facts §7.1b: params × bytes ÷ 2^30 ÷ TP within ~1 %)
    assert serving_fit(m("llama-3.1-8b"), H100).weights_gib == pytest.approx(14.99, rel=0.01)
    assert serving_fit(m("qwen2.5-7b"), H100).weights_gib == pytest.approx(14.25, rel=0.01)
    assert serving_fit(m("llama-3.1-8b"), H100, ServerConfig(tensor_parallel=2)).weights_gib == pytest.approx(7.51, rel=0.01)


def test_runtime_quantization_keeps_embeddings_16_bit(m):
    # vLLM 0.19, Llama-3.1-8B --quantization fp8: "model weights take 8.49 GiB".
    # 8.03e9 params, of which 2 × 128256 × 4096 = 1.05e9 embedding/LM-head params stay bf16:
    # (6.98e9 × 1 + 1.05e9 × 2) / 2^30 = 8.46 GiB
    fit = serving_fit(m("llama-3.1-8b"), H100, ServerConfig(quantization="fp8"))
    assert fit.weights_gib == pytest.approx(8.49, rel=0.01)
    # the existing weight_bytes (load-time estimate) is unchanged: params × 1 B
    assert weight_bytes(m("llama-3.1-8b"), quantization="fp8") == pytest.approx(8.03e9)


# --------------------------------------------------------------------------- the KV budget identity (facts §7.1b)


# Llama-3.1-8B shapes: hidden 4096, intermediate 14336, 32 heads, 8 KV heads × 128, vocab 128256.
# One forward pass of T tokens keeps residual + hidden (2 × 4096) and 4 MLP-wide tensors
# (4 × 14336 = 57344, wider than q/k/v/o: 48 × 128 + 32 × 128 = 10240) per token, 2 bytes each.
LLAMA8_FORWARD_PER_TOKEN = (2 * 4096 + 4 * 14336) * 2
# The sampler run: requests × vocab logits in bf16 (2 B) + the sampler's fp32 work per logit
# (36.4 B with vLLM ≤ 0.16's sort, 12.9 B after), while the forward's [T, 4096] output is held.
def llama8_sampler(requests: int, tokens: int, fp32_bytes: float) -> float:
    return requests * 128256 * (fp32_bytes + 2) + tokens * 4096 * 2


def test_kv_budget_identity_llama_8b_one_h100(m):
    # util 0.9 × 79.19 = 71.27 GiB; − 14.99 weights (with the RoPE table) − activation − non-torch − CUDA graphs (≥ 0.21)
    # 0.22: the newest accounting, and a release whose V1 runner still serves Llama (Model Runner V2
    # takes Llama from 0.23: `test_model_runner_v2_default_follows_the_release_and_the_architecture`)
    fit = serving_fit(m("llama-3.1-8b"), H100, ServerConfig(utilization=0.9, max_model_len=8192, engine_version=(0, 22, 0)),
                      gpu_name="NVIDIA H100 80GB HBM3")
    assert fit.accounting.key == "vllm-0.21" and not fit.model_runner_v2
    assert (fit.batch.tokens, fit.batch.seqs) == (8192, 1024)  # ≥ 70 GiB and not an A100
    assert fit.budget_gib == pytest.approx(71.27, abs=0.01)
    assert fit.weights_gib == pytest.approx(14.96 + LLAMA31_ROPE, abs=0.01)  # the v0.19.0 logs: 14.99
    # the larger of the forward at 8192 tokens (1.0 GiB) and the sampler run over 1024 rows (1.89 GiB)
    activation = max(8192 * LLAMA8_FORWARD_PER_TOKEN, llama8_sampler(1024, 8192, 12.9)) / GIB
    assert fit.activation_gib == pytest.approx(activation) and fit.activation_gib == pytest.approx(1.89, abs=0.01)
    assert fit.non_torch_gib == 0.25
    # graphs: 51 piecewise capture sizes (1, 2, 4, 8…248 by 8, 256…512 by 16) and 51 FULL decode sizes,
    # 33 pieces each (32 layers + 1), + the 512-token pool: the v0.19.0 logs' estimate
    assert fit.cuda_graph_counted and fit.cuda_graph_gib == pytest.approx(0.84)
    assert fit.kv_budget_gib == pytest.approx(71.27 - 14.99 - activation - 0.25 - fit.cuda_graph_gib, abs=0.01)
    # KV tokens: the pool ÷ 128 KiB per token, in whole 16-token blocks
    tokens = int(fit.kv_budget_gib * GIB // (128 * KIB * 16)) * 16
    assert fit.kv_tokens == tokens and tokens % 16 == 0
    assert fit.max_sequences == tokens // 8192 == 53
    assert fit.max_concurrency == pytest.approx(tokens / 8192)
    # unpinned: the newest release, whose Model Runner V2 profiles a lighter sampler run (the forward
    # at 8192 tokens binds) and estimates its graphs before sizing (0.29)
    newest = serving_fit(m("llama-3.1-8b"), H100, ServerConfig(utilization=0.9, max_model_len=8192),
                         gpu_name="NVIDIA H100 80GB HBM3")
    assert newest.model_runner_v2 and newest.cuda_graph_counted
    assert newest.activation_gib == pytest.approx(8192 * LLAMA8_FORWARD_PER_TOKEN / GIB)


def test_issue_example_llama_8b_one_l4_8k_fits(store, m):
    # Issue 11: Llama-3.1-8B on one L4 at 8,192 tokens with the pinned vLLM v0.11.0 image.
    # The L4 has < 70 GiB, so vLLM profiles 2048 tokens and 256 sequences (get_batch_defaults):
    # forward 2048 × 131072 B = 0.25 GiB; sampler 256 × 128256 × 14.9 B = 0.46 GiB (FlashInfer's
    # sort-free kernel, the v0.11.0 image's default; a pip install of 0.11.0 sorts: 38.4 B, 1.18 GiB).
    l4 = store.gpu("l4")
    config = ServerConfig(max_model_len=8192, engine_version=(0, 11, 0))
    fit = serving_fit(m("llama-3.1-8b"), l4.spec.memory_gi_b, config, gpu_name=l4.spec.display_name)
    assert (fit.batch.tokens, fit.batch.seqs) == (2048, 256)
    assert fit.activation_gib == pytest.approx(llama8_sampler(256, 2048, 12.9) / GIB)
    pip = serving_fit(m("llama-3.1-8b"), l4.spec.memory_gi_b, dataclasses.replace(config, pip_install=True),
                      gpu_name=l4.spec.display_name)
    assert pip.activation_gib == pytest.approx(llama8_sampler(256, 2048, 36.4) / GIB)
    assert not fit.cuda_graph_counted  # v0.11 captures graphs after sizing the KV cache
    # non-torch memory on an Ada card: the other-generation figure, not the H100's 0.13 GiB
    assert fit.non_torch_gib == pytest.approx(0.03)
    # 0.9 × memory − 14.99 − 0.47 − 0.03 leaves room for several 8192-token sequences (1 GiB each)
    assert fit.kv_budget_gib == pytest.approx(0.9 * l4.spec.memory_gi_b - 14.99 - 0.47 - 0.03, abs=0.01)
    assert fit.fits and fit.kv_budget_gib > 3 * fit.kv_sequence_gib
    # the old per-image constant (4.8 GiB activation) left 0.2 GiB and refused it
    assert 0.9 * l4.spec.memory_gi_b - 14.96 - 4.8 - 0.13 < fit.kv_sequence_gib


def test_activation_follows_the_profiling_batch(m):
    llama = m("llama-3.1-8b")
    h100 = serving_fit(llama, H100, ServerConfig(max_model_len=8192, engine_version=(0, 14, 0)), gpu_name="H100")
    a100 = serving_fit(llama, 79.15, ServerConfig(max_model_len=8192, engine_version=(0, 14, 0)), gpu_name="NVIDIA A100-SXM4-80GB")
    assert (h100.batch.tokens, h100.batch.seqs) == (8192, 1024)
    assert (a100.batch.tokens, a100.batch.seqs) == (2048, 256)  # an A100 keeps the small defaults
    assert h100.activation_gib == pytest.approx(4.76, abs=0.05)  # the H100 reading of llmd-v0.11-llama-3.1-8b (0.14.0 image)
    assert a100.activation_gib < h100.activation_gib / 3
    # set flags are taken as they are; fewer sequences, a smaller sampler run
    fewer = serving_fit(llama, H100, ServerConfig(max_model_len=8192, max_num_seqs=64, max_num_batched_tokens=4096,
                                                  engine_version=(0, 14, 0)))
    assert (fewer.batch.tokens, fewer.batch.seqs) == (4096, 64)
    # 64 rows: the sampler run (0.32 GiB) is now below the forward pass (0.5 GiB)
    assert fewer.activation_gib == pytest.approx(4096 * LLAMA8_FORWARD_PER_TOKEN / GIB)
    assert llama8_sampler(64, 4096, 36.4) < 4096 * LLAMA8_FORWARD_PER_TOKEN


def test_profiling_batch_defaults():
    from llmkube.plan.engine_memory import profiling_batch
    # chunked prefill off: tokens raised to max-model-len; default tokens capped at seqs × length
    assert profiling_batch("vllm", 22.0, "L4", 32768, chunked_prefill=False).tokens == 32768
    assert profiling_batch("vllm", 22.0, "L4", 4, max_num_seqs=8).tokens == 32
    # default sequences capped at the tokens
    assert profiling_batch("vllm", 22.0, "L4", 8192, max_num_batched_tokens=128).seqs == 128
    # TGI: --max-batch-prefill-tokens defaults to max-input-tokens (length − 1) + 50
    assert profiling_batch("tgi", 79.19, "H100", 8192).tokens == 8191 + 50


def test_tgi_keeps_five_percent_and_counts_its_context(m):
    # TGI: KV = free − (1 − fraction × 0.95) × total, the CUDA context among what is in use
    fit = serving_fit(m("llama-3.1-8b"), H100, ServerConfig(runtime="tgi", utilization=1.0, max_model_len=8192))
    assert fit.budget_gib == pytest.approx(0.95 * H100)
    assert fit.non_torch_gib == pytest.approx(0.5 + 0.13)
    assert fit.cuda_graph_gib == 0 and fit.accounting.label == "TGI 3.x"


def test_cuda_graphs_counted_from_0_21(m):
    llama = m("llama-3.1-8b")
    for version, counted in (((0, 11, 0), False), ((0, 19, 0), False), ((0, 21, 0), True), (None, True)):
        assert serving_fit(llama, H100, ServerConfig(engine_version=version)).cuda_graph_counted is counted
    eager = serving_fit(llama, H100, ServerConfig(engine_version=(0, 21, 0), enforce_eager=True))
    assert eager.cuda_graph_gib == 0 and not eager.cuda_graph_counted
    off = serving_fit(llama, H100, ServerConfig(engine_version=(0, 21, 0), cuda_graph_estimate=False))
    on = serving_fit(llama, H100, ServerConfig(engine_version=(0, 19, 0), cuda_graph_estimate=True))
    assert not off.cuda_graph_counted and on.cuda_graph_counted
    assert off.kv_budget_gib - serving_fit(llama, H100, ServerConfig(engine_version=(0, 21, 0))).kv_budget_gib == pytest.approx(off.cuda_graph_gib)


def test_model_runner_v2_default_follows_the_release_and_the_architecture():
    """vLLM's default runner grew release by release (vllm/config/vllm.py `use_v2_model_runner`):
    Qwen3 dense from 0.22, Llama/Mistral from 0.23, the Qwen/DeepSeek-V2/Granite MoE families and
    quantized checkpoints from 0.24, every dense model from 0.25, every family from 0.29;
    VLLM_USE_V2_MODEL_RUNNER overrides it either way."""
    from llmkube.plan.engine_memory import uses_model_runner_v2 as v2

    assert not v2("qwen3", False, False, (0, 21, 0)) and v2("qwen3", False, False, (0, 22, 0))
    assert not v2("llama", False, False, (0, 22, 1)) and v2("llama", False, False, (0, 23, 0))
    assert not v2("qwen2", False, False, (0, 24, 0)) and v2("qwen2", False, False, (0, 25, 1))
    assert not v2("qwen2_moe", True, False, (0, 23, 0)) and v2("qwen2_moe", True, False, (0, 24, 0))
    # an MoE family the rollout had not reached stays on V1 until 0.29
    assert not v2("mixtral", True, False, (0, 28, 0)) and v2("mixtral", True, False, (0, 29, 0))
    # quantized checkpoints of an enabled family join in 0.24
    assert not v2("llama", False, True, (0, 23, 0)) and v2("llama", False, True, (0, 24, 0))
    assert not v2("qwen3", False, False, (0, 25, 1), forced=False) and v2("qwen2", False, False, (0, 11, 0), forced=True)
    assert v2("mixtral", True, False, None)  # an unpinned image: the newest release read


def test_model_runner_v2_takes_no_cuda_graph_estimate_before_0_29(m):
    """MRV2's `profile_cudagraph_memory` returns 0 until 0.29 (vllm-project/vllm#53306), so a
    Qwen2 server on 0.25.1 sizes its KV cache as if graphs were free and captures them after; the
    same server on 0.24 (V1 runner) or 0.29 (MRV2 with its estimator) subtracts them first."""
    qwen2 = m("qwen2-7b")
    cfg = ServerConfig(max_model_len=16384, utilization=0.92, engine_version=(0, 25, 1))
    mrv2 = serving_fit(qwen2, 23.64, cfg)
    assert mrv2.model_runner_v2 and not mrv2.cuda_graph_counted and mrv2.cuda_graph_gib > 0
    # the estimate switch cannot add what the runner does not estimate
    assert not serving_fit(qwen2, 23.64, dataclasses.replace(cfg, cuda_graph_estimate=True)).cuda_graph_counted
    v1 = serving_fit(qwen2, 23.64, dataclasses.replace(cfg, model_runner_v2=False))
    assert not v1.model_runner_v2 and v1.cuda_graph_counted
    # the KV pool gains the graphs V1 would subtract (and the lighter sampler run's difference)
    assert mrv2.kv_budget_gib - v1.kv_budget_gib == pytest.approx(
        v1.cuda_graph_gib + v1.activation_gib - mrv2.activation_gib)
    before = serving_fit(qwen2, 23.64, dataclasses.replace(cfg, engine_version=(0, 24, 0)))
    after = serving_fit(qwen2, 23.64, dataclasses.replace(cfg, engine_version=(0, 29, 0)))
    assert not before.model_runner_v2 and before.cuda_graph_counted
    assert after.model_runner_v2 and after.cuda_graph_counted
    # --enforce-eager: no graphs under either runner
    eager = serving_fit(qwen2, 23.64, dataclasses.replace(cfg, enforce_eager=True))
    assert eager.cuda_graph_gib == 0 and not eager.cuda_graph_counted
    # TGI has no vLLM runner
    assert not serving_fit(qwen2, 23.64, dataclasses.replace(cfg, runtime="tgi", engine_version=None)).model_runner_v2


def test_model_runner_v2_profiles_a_lighter_sampler(m):
    """MRV2's dummy sampler run asks for no top-k/top-p or logprobs: the fp32 copy of the logits
    (4 B per logit) beside them, not V1's 12.9 B; the forward pass is the same."""
    from llmkube.plan import engine_memory as em

    qwen2 = m("qwen2-7b")
    cfg = ServerConfig(max_model_len=16384, utilization=0.92, engine_version=(0, 25, 1))
    mrv2 = serving_fit(qwen2, 23.64, cfg)
    v1 = serving_fit(qwen2, 23.64, dataclasses.replace(cfg, model_runner_v2=False))
    seqs = min(mrv2.batch.seqs, mrv2.batch.tokens)
    assert em.sampler_peak_bytes(qwen2.spec, seqs, mrv2.accounting, 2, model_runner_v2=True) == (
        seqs * qwen2.spec.vocab_size * (em.MRV2_SAMPLER_BYTES + 2))
    forward = em.forward_peak_bytes(qwen2.spec, mrv2.batch.tokens, 1, 2)
    # V1: the sampler run binds; MRV2: the forward pass does
    assert v1.activation_gib * sizing.GIB > forward
    assert mrv2.activation_gib * sizing.GIB == pytest.approx(forward)


def test_float32_server_keeps_a_4_byte_cache(m):
    llama = m("llama-3.1-8b")
    bf16 = serving_fit(llama, H100, ServerConfig(max_model_len=8192))
    fp32 = serving_fit(llama, H100, ServerConfig(max_model_len=8192, dtype="float32"))
    assert fp32.kv_token_bytes == 2 * bf16.kv_token_bytes  # --kv-cache-dtype auto follows --dtype
    assert fp32.weights_gib == pytest.approx(2 * bf16.weights_gib)
    assert sizing.kv_dtype_bytes("fp8", "float32") == 1.0


def test_pipeline_stages_split_like_vllm(m):
    from llmkube.plan.engine_memory import pp_partition
    # get_pp_indices: the remainder goes to the stages before the last, from the second-to-last back
    assert pp_partition(32, 2) == [16, 16]
    assert pp_partition(32, 3) == [11, 11, 10]
    assert pp_partition(61, 4) == [15, 15, 16, 15]
    # Llama-3.1-8B at PP 2: the last stage (LM head + sampler + received activations) binds
    fit = serving_fit(m("llama-3.1-8b"), H100, ServerConfig(pipeline_parallel=2, max_model_len=8192, engine_version=(0, 19, 0)))
    assert fit.stage == 1
    assert fit.kv_token_bytes == 16 * 2 * 8 * 128 * 2  # its 16 layers


def test_hybrid_sliding_window_kv(m):
    # Gemma-2-9B: 42 layers alternating sliding (window 4096) and full; vLLM's hybrid allocator
    # makes 2 groups of 21 layers sharing 21 pools of 16-token blocks (8 KiB/token/layer → 128 KiB pages)
    fit = serving_fit(m("gemma-2-9b"), H100, ServerConfig(max_model_len=8192, engine_version=(0, 19, 0)))
    layout = fit.layout
    assert layout.hybrid and (layout.pools, layout.groups) == (21, 2)
    assert layout.page_bytes == 16 * 2 * 8 * 256 * 2
    blocks = int(fit.kv_budget_gib * GIB // layout.page_bytes // 21)
    assert fit.kv_blocks == blocks
    assert fit.kv_tokens == blocks // 2 * 16  # _report_kv_cache_config
    # one request: 512 blocks (full) + min(4095 + 8192, 8192) / 16 + 1 = 513 blocks (sliding)
    assert layout.blocks_per_request == 512 + 513
    assert fit.max_concurrency == pytest.approx(blocks / 1025)
    # the sliding layers need only their window: at 131072 tokens far less than every layer at full length
    long = serving_fit(m("gemma-2-9b"), H100, ServerConfig(max_model_len=131072, engine_version=(0, 19, 0)))
    assert long.kv_sequence_gib < 0.6 * 42 * 131072 * 8192 / GIB


def test_non_torch_by_tensor_parallel(m):
    assert serving_fit(m("llama-3.1-8b"), H100, ServerConfig(tensor_parallel=1)).non_torch_gib == 0.25
    # TP 2, newest release (0.29: FlashInfer's mnnvl workspace, one 512 MiB multicast granule) and 0.19
    # (the TensorRT-LLM workspace's three granules): 0.6 GiB of NCCL/custom all-reduce buffers besides
    assert serving_fit(m("llama-3.1-8b"), H100, ServerConfig(tensor_parallel=2)).non_torch_gib == pytest.approx(0.6 + 0.5)
    assert serving_fit(m("llama-3.1-8b"), H100, ServerConfig(tensor_parallel=2, engine_version=(0, 19, 0))).non_torch_gib == pytest.approx(2.1)
    assert serving_fit(m("llama-3.1-8b"), H100, ServerConfig(pipeline_parallel=2)).non_torch_gib == 0.07


# Real start-ups. "actual KV" is what vLLM logged, or — where only the parts were
# published — the identity applied to the logged parts (exact to ±0.01 GiB per facts §7.1b).
REAL_STARTUPS = [
    # model, physical GiB, util, TP, PP, quant, engine version, actual weights, actual KV GiB, actual tokens
    # llm-d planner sweep, vLLM 0.19.0, H100, util 0.95 (75.23 GiB): KV 58.11 GiB, 476,016 tokens
    ("llama-3.1-8b", 79.19, 0.95, 1, 1, None, (0, 19, 0), 14.99, 58.11, 476016),
    # same sweep: Qwen2.5-7B-Instruct, KV 58.53 GiB, 1,096,000 tokens
    ("qwen2.5-7b", 79.19, 0.95, 1, 1, None, (0, 19, 0), 14.25, 58.53, 1096000),
    # same sweep, TP 2: weights 7.51, activation 1.89, non-torch 2.07 → KV 75.23 − 11.47 = 63.76
    ("llama-3.1-8b", 79.19, 0.95, 2, 1, None, (0, 19, 0), 7.51, 63.76, None),
    # same sweep, TP 4: weights 3.77, activation 1.89, non-torch 2.13 → KV 67.44
    ("llama-3.1-8b", 79.19, 0.95, 4, 1, None, (0, 19, 0), 3.77, 67.44, None),
    # same sweep, PP 2: weights 7.51, activation 1.10, non-torch 0.07 → KV 66.55
    ("llama-3.1-8b", 79.19, 0.95, 1, 2, None, (0, 19, 0), 7.51, 66.55, None),
    # vllm/vllm-openai:latest of January 2026 (0.14.0; llm-d-benchmark#622) on H100 (79.18 GiB), util 0.9:
    # weights 14.99, activation 4.76 (the sort sampler of 0.11.1+), non-torch 0.13, KV 51.38 GiB
    ("llama-3.1-8b", 79.18, 0.90, 1, 1, None, (0, 14, 0), 14.99, 51.38, None),
    # the same, Llama-3.3-70B FP8 (same shapes as 3.1-70B) at TP 2: weights 33.88, KV 32.00 GiB
    ("llama-3.1-70b", 79.18, 0.90, 2, 1, "fp8", (0, 14, 0), 33.88, 32.00, None),
]


@pytest.mark.parametrize("case", REAL_STARTUPS, ids=lambda c: f"{c[0]}-tp{c[3]}-pp{c[4]}-v{'.'.join(map(str, c[6]))}")
def test_matches_real_vllm_startups(m, case):
    model, mem, util, tp, pp, quant, version, weights, kv, tokens = case
    config = ServerConfig(utilization=util, tensor_parallel=tp, pipeline_parallel=pp,
                          quantization=quant, engine_version=version, max_model_len=8192)
    fit = serving_fit(m(model), mem, config)
    assert fit.weights_gib == pytest.approx(weights, rel=0.01)
    # half of the best public planner's 6.7 % mean KV error, per run
    assert fit.kv_budget_gib == pytest.approx(kv, rel=0.0335)
    if tokens:
        assert fit.kv_tokens == pytest.approx(tokens, rel=0.0335)


def test_mean_kv_error_beats_half_the_public_bar(m):
    errors = []
    for model, mem, util, tp, pp, quant, version, _, kv, _ in REAL_STARTUPS:
        config = ServerConfig(utilization=util, tensor_parallel=tp, pipeline_parallel=pp,
                              quantization=quant, engine_version=version)
        fit = serving_fit(m(model), mem, config)
        errors.append(abs(fit.kv_budget_gib - kv) / kv)
    # llm-d planner: 6.70 % mean abs KV error (and 9.90 % on concurrency); aim for half
    assert sum(errors) / len(errors) < 0.0335
    assert max(errors) < 0.05


def test_fp8_kv_doubles_tokens_pool_unchanged(m):
    auto = serving_fit(m("llama-3.1-8b"), H100, ServerConfig(max_model_len=8192))
    fp8 = serving_fit(m("llama-3.1-8b"), H100, ServerConfig(max_model_len=8192, kv_cache_dtype="fp8"))
    assert fp8.kv_budget_gib == auto.kv_budget_gib
    assert fp8.kv_tokens == pytest.approx(2 * auto.kv_tokens, abs=16)


def test_engine_version_from_image():
    from llmkube.plan.engine_memory import accounting_for
    assert parse_engine_version("vllm/vllm-openai:v0.11.0") == (0, 11, 0)
    assert parse_engine_version("docker.io/vllm/vllm-openai:0.19.1") == (0, 19, 1)
    assert parse_engine_version("vllm/vllm-openai:latest") is None
    assert parse_engine_version("registry:5000/vllm/vllm-openai") is None
    assert parse_engine_version("vllm/vllm-openai:v0.7") == (0, 7, 0)
    assert parse_engine_version("vllm/vllm-openai:v0.11.0@sha256:" + "0" * 64) == (0, 11, 0)
    assert parse_engine_version("public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.19.0") == (0, 19, 0)
    # another image's tag is its own release, not vLLM's: it pins nothing (counts as current)
    assert parse_engine_version("ghcr.io/llm-d/llm-d-cuda:v0.3.0") is None
    assert parse_engine_version("registry.example.com/ml/serving:0.5.1") is None
    assert accounting_for("vllm", (0, 11, 0)).key == "vllm-0.10"
    assert accounting_for("vllm", (0, 16, 3)).key == "vllm-0.10"
    assert accounting_for("vllm", (0, 5, 5)).key == "vllm-v0"
    assert accounting_for("vllm", (0, 6, 4)).key == "vllm-v0.6.4"
    assert accounting_for("vllm", (0, 6, 6)).label == "vLLM 0.6.5-0.6.6 (V0)"
    assert accounting_for("vllm", (0, 7, 3)).engine == "v0"
    assert accounting_for("vllm", (0, 9, 2)).engine == "v1"  # V1 is the default from 0.8.0
    assert accounting_for("vllm", (0, 17, 0)).key == "vllm-0.17"
    assert accounting_for("vllm", (0, 19, 1)).key == "vllm-0.18"
    assert accounting_for("vllm", (0, 28, 0)).key == "vllm-0.21"
    assert accounting_for("vllm", None).key == "vllm-0.21"  # unpinned: the newest engine
    assert accounting_for("tgi", None).key == "tgi-3"


# --------------------------------------------------------------------------- fit, headroom and recommendations


def test_llama_70b_tp4_h100_8k(m):
    # per GPU (newest engine), 128 sequences asked: 32.85 weights + activation (the 8192-token
    # forward of Llama-70B shapes at TP 4 outweighs 128 sampler rows) + 1.1 non-torch (0.6 + FlashInfer's
    # mnnvl all-reduce workspace, one 512 MiB multicast granule from 0.27) + CUDA graphs
    # (35 + 19 captures × 81 pieces, below) + one 8192-token sequence of 80 KiB/token = 0.625 GiB
    fit = serving_fit(m("llama-3.1-70b"), H100, ServerConfig(tensor_parallel=4, max_model_len=8192, max_num_seqs=128))
    forward = 8192 * (2 * 8192 + 4 * 28672 / 4) * 2
    assert forward > 128 * 128256 * 14.9 + 8192 * 8192 * 2
    assert fit.activation_gib == pytest.approx(forward / GIB)
    # graphs: 35 piecewise sizes (up to 2 × 128 = 256) and 19 FULL decode sizes (up to 128): the first
    # capture (its 81 pieces + the pool of a 256-token batch) and 34 + 18 more, 81 pieces each
    pool = 256 * (2 * 8192 + 4 * 28672 / 4) * 2
    piece = (0.84 * GIB - 512 * (2 * 4096 + 4 * 14336) * 2) / (101 * 33)
    assert fit.cuda_graph_gib == pytest.approx((pool + (1 + 34 + 18) * 81 * piece) / GIB)
    assert fit.kv_sequence_gib == pytest.approx(0.625)
    assert fit.non_torch_gib == pytest.approx(0.6 + 0.5)
    assert fit.need_gib == pytest.approx(32.85 + LLAMA31_ROPE + fit.activation_gib + 1.1 + fit.cuda_graph_gib + 0.625, abs=0.01)
    assert fit.headroom_gib == pytest.approx(71.27 - fit.need_gib, abs=0.02)
    assert fit.fits
    # KV pool ~35.6 GiB ÷ 80 KiB → ~466k tokens → 56 full 8k sequences < 128 requested
    assert fit.max_sequences == int(fit.kv_budget_gib * GIB // (80 * KIB)) // 8192 == 56
    assert fit.fits_requested is False


def test_llama_70b_does_not_fit_one_h100(m):
    fit = serving_fit(m("llama-3.1-70b"), H100, ServerConfig(max_model_len=8192))
    assert not fit.fits and fit.kv_blocks == 0 and fit.max_sequences == 0
    assert fit.need_gib > 131


def test_max_model_len_defaults_to_model_context(m):
    fit = serving_fit(m("llama-3.1-8b"), H100)
    assert fit.max_model_len == 131072
    assert fit.kv_sequence_gib == pytest.approx(16.0)  # facts: 16 GiB at 128k


def test_tp_must_divide_heads(m):
    assert tp_problems(m("llama-3.1-70b"), 4) == []
    assert "64 attention heads do not divide by 3" in tp_problems(m("llama-3.1-70b"), 3)[0]
    # Qwen2.5-7B: 28 heads, 4 KV heads
    assert valid_tensor_parallel(m("qwen2.5-7b"), 8) == [1, 2, 4]
    # Llama-3.2-3B: 24 heads divide by 3 and 6, its 8 KV heads do not
    assert valid_tensor_parallel(m("llama-3.2-3b"), 8) == [1, 2, 4, 8]
    # Phi-3-mini: 32 heads = 32 KV heads
    assert valid_tensor_parallel(m("phi-3-mini"), 8) == [1, 2, 4, 8]


def test_recommendations(store, m):
    h100 = store.gpu("h100-80gb")
    # vLLM 0.21, TP 2: 65.7 weights + 1.9 activation + 2.1 non-torch (1.5 of it FlashInfer's all-reduce
    # workspace) + 2.0 CUDA graphs + 1.25 KV > 71.27
    big = recommend_serving(m("llama-3.1-70b"), h100, ServerConfig(max_model_len=8192, engine_version=(0, 21, 0)))
    assert big.kind == "whole" and big.tensor_parallel == 4
    # the newest release's workspace is 1 GiB smaller (and Model Runner V2 samples lighter): TP 2 fits
    newest = recommend_serving(m("llama-3.1-70b"), h100, ServerConfig(max_model_len=8192))
    assert newest.kind == "whole" and newest.tensor_parallel == 2
    # with 128 sequences vLLM 0.19 (CUDA graphs captured after the KV cache) starts at TP 2; TP 8 holds them all
    many = recommend_serving(m("llama-3.1-70b"), h100, ServerConfig(max_model_len=8192, max_num_seqs=128, engine_version=(0, 19, 0)))
    assert many.tensor_parallel == 2 and "TP 8 holds 128" in many.text
    small = recommend_serving(m("llama-3.1-8b"), h100, ServerConfig(max_model_len=8192))
    assert small.kind == "mig" and small.mig_profile == "1g.20gb"  # a < 70 GiB slice profiles a small batch
    tiny = recommend_serving(m("llama-3.2-1b"), h100, ServerConfig(max_model_len=8192))
    assert tiny.kind == "mig" and tiny.mig_profile == "1g.10gb"
    assert recommend_serving(m("llama-3.1-405b"), h100, ServerConfig(max_model_len=8192)).kind == "none"
    # no MIG on L4: share the GPU only below 40 %
    l4 = store.gpu("l4")
    assert recommend_serving(m("llama-3.2-1b"), l4, ServerConfig(max_model_len=4096)).text.startswith("share one GPU")
    assert recommend_serving(m("llama-3.1-8b"), l4, ServerConfig(max_model_len=4096)).tensor_parallel == 1


def test_a_recommendation_for_a_data_parallel_server_says_its_dp_size_is_kept(store, m):
    """TP is what the advice replaces; a DP pool's size stays (and spreads the MoE experts), so the
    text says so rather than reading as the whole server's placement."""
    h100, v3 = store.gpu("h100-80gb"), m("deepseek-v3")
    dp = recommend_serving(v3, h100, ServerConfig(max_model_len=8192, data_parallel=2, quantization="fp8"))
    assert dp.kind == "whole" and "per data-parallel rank (DP 2 kept)" in dp.text, dp.text
    alone = recommend_serving(m("llama-3.1-70b"), h100, ServerConfig(max_model_len=8192))
    assert "data-parallel" not in alone.text


def test_fit_options_are_checked_against_the_same_accounting(store, m):
    # Llama-3.1-8B on one L4 at its whole 131072-token context does not fit; each option does
    l4 = store.gpu("l4")
    config = ServerConfig(engine_version=(0, 11, 0))
    fit = serving_fit(m("llama-3.1-8b"), l4.spec.memory_gi_b, config, gpu_name=l4.spec.display_name)
    assert not fit.fits
    options = sizing.fit_options(m("llama-3.1-8b"), fit, config, gpu_name=l4.spec.display_name)
    # the pool as it stands, in whole blocks of 128 KiB tokens (the L4's batch does not follow the length)
    longest = int(fit.kv_budget_gib * GIB // (128 * KIB)) // 16 * 16
    assert f"maxModelLen ≤ {longest} (--max-model-len)" in options

    def at(length: int) -> sizing.ServingFit:
        return serving_fit(m("llama-3.1-8b"), l4.spec.memory_gi_b, ServerConfig(engine_version=(0, 11, 0), max_model_len=length),
                           gpu_name=l4.spec.display_name)
    assert at(longest).fits and not at(longest + 16).fits
    # TGI's warm-up prefill follows the length (max-input-tokens + 50): the search finds where it fits
    tgi = ServerConfig(runtime="tgi", max_model_len=32768)
    fit = serving_fit(m("llama-3.1-8b"), l4.spec.memory_gi_b, tgi, gpu_name=l4.spec.display_name)
    (option,) = [o for o in sizing.fit_options(m("llama-3.1-8b"), fit, tgi) if o.startswith("maxModelLen")]
    assert option.endswith("(--max-total-tokens)")
    length = int(option.split("≤ ")[1].split(" ")[0])
    assert serving_fit(m("llama-3.1-8b"), l4.spec.memory_gi_b, ServerConfig(runtime="tgi", max_model_len=length)).fits
    assert not any(o.startswith("kvCacheDtype") for o in options)  # 8 GiB of fp8 KV at 128k still too much


# Training memory: tests/test_training_memory.py


def test_quantized_checkpoint_weights_as_stored(m):
    # A checkpoint whose config says it is quantized needs no flag: W4A16 with group-128 scales
    # (compressed-tensors pack-quantized) loads as modelshape counts it; embeddings/LM head stay 16-bit.
    # RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16 logs 5.38 GiB on vLLM 0.19 (a fit row).
    from llmkube import modelshape
    from llmkube.profiles import Quantization

    llama = m("llama-3.1-8b")
    q = Quantization(method="compressed-tensors", weight_bits=4, group_size=128, strategy="group", format="pack-quantized")
    w4 = llama.model_copy(update={"spec": llama.spec.model_copy(update={"quantization": q})})
    fit = serving_fit(w4, H100, ServerConfig(max_model_len=8192))
    assert fit.weights_gib == pytest.approx(modelshape.checkpoint_weight_bytes(w4.spec) / GIB + LLAMA31_ROPE)
    assert fit.weights_gib == pytest.approx(5.38, rel=0.02)
    # at TP 2 each rank holds half, and the caching allocator keeps 1 MiB more of each 16-bit table
    # ([64,128, 4096] is 501 MiB: its 502 MiB segment is not split); at TP 1 every tensor is whole segments
    half = serving_fit(w4, H100, ServerConfig(tensor_parallel=2)).weights_gib
    assert half == pytest.approx((fit.weights_gib - LLAMA31_ROPE) / 2 + LLAMA31_ROPE + 2 / 1024)


def test_pipeline_stage_weights(m):
    # untied Llama-3.1-8B at PP 2: embedding on stage 0, LM head on stage 1, 16 layers each
    llama = m("llama-3.1-8b")
    stages = sizing.stage_weight_bytes(llama, ServerConfig(), 2)
    assert sum(stages) == pytest.approx((serving_fit(llama, H100).weights_gib - LLAMA31_ROPE) * GIB)
    assert stages[0] == pytest.approx(stages[1], rel=0.001)
    # a tied model (Llama-3.2-1B) keeps a second copy of the table on the last stage once split
    tied = m("llama-3.2-1b")
    assert tied.spec.tie_embeddings
    one = sizing.stage_weight_bytes(tied, ServerConfig(), 1)[0]
    table = 128256 * 2048 * 2
    assert sum(sizing.stage_weight_bytes(tied, ServerConfig(), 2)) == pytest.approx(one + table, rel=0.001)


# --------------------------------------------------------------------------- sampler and batch defaults by version


def test_flashinfer_sampler_drops_the_full_vocabulary_sort(m):
    from llmkube.plan.engine_memory import SORT_FREE_SAMPLER_BYTES, accounting_for, sampler_bytes_per_logit
    v10, v19 = accounting_for("vllm", (0, 10, 1)), accounting_for("vllm", (0, 19, 0))
    assert sampler_bytes_per_logit(v10) == v10.sampler_fp32_bytes_per_logit > SORT_FREE_SAMPLER_BYTES
    assert sampler_bytes_per_logit(v10, True) == SORT_FREE_SAMPLER_BYTES
    assert sampler_bytes_per_logit(v10, False) == v10.sampler_fp32_bytes_per_logit
    # from 0.17 every sampler is sort-free: the flag changes nothing
    assert sampler_bytes_per_logit(v19, True) == sampler_bytes_per_logit(v19, False) == SORT_FREE_SAMPLER_BYTES
    # on an A100 the 0.10 server samples 256 rows: FlashInfer frees 256 x vocab x (sort - sort-free) bytes
    qwen = m("qwen2-7b")
    base = ServerConfig(max_model_len=16384, utilization=0.5, engine_version=(0, 10, 1))
    sort = serving_fit(qwen, 79.15, dataclasses.replace(base, flashinfer_sampler=False), gpu_name="NVIDIA A100-SXM4-80GB")
    flash = serving_fit(qwen, 79.15, dataclasses.replace(base, flashinfer_sampler=True), gpu_name="NVIDIA A100-SXM4-80GB")
    assert (sort.batch.tokens, sort.batch.seqs) == (2048, 256)
    freed = 256 * qwen.spec.vocab_size * (v10.sampler_fp32_bytes_per_logit - SORT_FREE_SAMPLER_BYTES) / 2**30
    assert sort.activation_gib - flash.activation_gib == pytest.approx(freed, rel=0.01)
    assert flash.kv_budget_gib > sort.kv_budget_gib


def test_the_image_samples_with_flashinfer_from_0_8_to_0_11_0(m):
    """vllm/v1/sample/ops/topk_topp_sampler.py `TopKTopPSampler.__init__`: V1 uses FlashInfer's
    sort-free top-k/top-p kernel unless VLLM_USE_FLASHINFER_SAMPLER is 0 (v0.8.0 … v0.11.0; the
    vllm-openai image installs FlashInfer, the PyPI wheel does not) and only on request from v0.11.1
    (vllm-project/vllm#26859); V0 never by default."""
    from llmkube.plan.engine_memory import accounting_for, flashinfer_sampler_by_default
    on = [(0, 8, 0), (0, 8, 5), (0, 9, 0, 1), (0, 10, 1, 1), (0, 11, 0)]
    off = [(0, 7, 3), (0, 11, 1), (0, 14, 0), (0, 16, 0), (0, 19, 0), None]
    assert all(flashinfer_sampler_by_default(accounting_for("vllm", v), v) for v in on)
    assert not any(flashinfer_sampler_by_default(accounting_for("vllm", v), v) for v in off)
    assert not any(flashinfer_sampler_by_default(accounting_for("vllm", v), v, pip_install=True) for v in on)
    assert not flashinfer_sampler_by_default(accounting_for("tgi", None), (0, 11, 0))
    # Llama-3.1-8B on one H100 at the 0.11 defaults (8,192 tokens, 1,024 sequences of 128,256 logits):
    # the v0.11.0 image's sampler run is the sort-free one; a pip install's, 0.11.1's, or one told
    # VLLM_USE_FLASHINFER_SAMPLER=0, sorts
    llama = m("llama-3.1-8b")
    cfg = ServerConfig(max_model_len=16000, engine_version=(0, 11, 0))
    image = serving_fit(llama, H100, cfg, gpu_name="NVIDIA H100 80GB HBM3")
    pip = serving_fit(llama, H100, dataclasses.replace(cfg, pip_install=True), gpu_name="NVIDIA H100 80GB HBM3")
    later = serving_fit(llama, H100, dataclasses.replace(cfg, engine_version=(0, 11, 1)), gpu_name="NVIDIA H100 80GB HBM3")
    told = serving_fit(llama, H100, dataclasses.replace(cfg, flashinfer_sampler=False), gpu_name="NVIDIA H100 80GB HBM3")
    assert image.activation_gib == pytest.approx(llama8_sampler(1024, 8192, 12.9) / GIB)
    assert pip.activation_gib == later.activation_gib == told.activation_gib == pytest.approx(
        llama8_sampler(1024, 8192, 36.4) / GIB)
    assert image.kv_budget_gib - pip.kv_budget_gib == pytest.approx(1024 * 128256 * (36.4 - 12.9) / GIB)


def test_which_gpus_get_the_large_v1_batch_defaults_depends_on_the_version():
    from llmkube.plan.engine_memory import big_gpu_defaults, profiling_batch
    a100, b200, h100 = (79.15, "NVIDIA A100-SXM4-80GB"), (178.4, "NVIDIA B200"), (79.19, "NVIDIA H100 80GB HBM3")
    # up to 0.8.4 by name (H100/H200 only), 0.8.5 by memory, from 0.9.0 by memory except A100s
    assert [big_gpu_defaults(*a100, v) for v in ((0, 8, 4), (0, 8, 5), (0, 9, 0), None)] == [False, True, False, False]
    assert [big_gpu_defaults(*b200, v) for v in ((0, 8, 4), (0, 8, 5), (0, 9, 2))] == [False, True, True]
    assert all(big_gpu_defaults(*h100, v) for v in ((0, 8, 0), (0, 8, 5), (0, 19, 0), None))
    assert not big_gpu_defaults(22.05, "NVIDIA L4", (0, 11, 0))
    batch = profiling_batch("vllm", *a100, 8192, version=(0, 8, 5))
    assert (batch.tokens, batch.seqs) == (8192, 1024)
    batch = profiling_batch("vllm", *a100, 8192, version=(0, 9, 2))
    assert (batch.tokens, batch.seqs) == (2048, 256)


def test_non_torch_memory_depends_on_the_gpu_generation_and_switch():
    from llmkube.plan.engine_memory import GIB, accounting_for, non_torch_bytes
    v11, v19 = accounting_for("vllm", (0, 11, 0)), accounting_for("vllm", (0, 19, 0))
    h100, pcie, l40s, a100 = "NVIDIA H100 80GB HBM3 (SXM5)", "NVIDIA H100 PCIe 80GB", "NVIDIA L40S 48GB", "NVIDIA A100-SXM4-80GB"
    gib = lambda acc, tp, name: round(non_torch_bytes(acc, tp, 1, name) / GIB, 3)  # noqa: E731
    # TP 1: the H100 rows' 0.13 GiB on Hopper (and when the name is unknown), 0.03 on other generations
    assert [gib(v11, 1, n) for n in (h100, pcie, "", l40s, a100)] == [0.13, 0.13, 0.13, 0.03, 0.03]
    # TP >= 2 from 0.18: 0.6 GiB on NVSwitch-connected SXM Hopper (or an unnamed GPU), 0.55 elsewhere;
    # FlashInfer's 1.5 GiB all-reduce fusion workspace comes on top of the former where the pass is on
    # (`fi_allreduce_fusion_workspace_bytes`, tests/test_fi_allreduce_workspace.py)
    assert [gib(v19, 2, n) for n in (h100, "", pcie, "NVIDIA H100 NVL 94GB", l40s, a100)] == [0.6, 0.6, 0.55, 0.55, 0.55, 0.55]
    assert gib(v11, 4, h100) == gib(v11, 4, l40s) == 0.55  # before 0.18 no difference


# --------------------------------------------------------------------------- the V0 engine (vLLM < 0.8)


def test_v0_profiling_batch_follows_max_model_len_without_chunked_prefill():
    from llmkube.plan.engine_memory import accounting_for, profiling_batch
    v0, v1 = accounting_for("vllm", (0, 6, 4)), accounting_for("vllm", (0, 11, 0))
    for length in (8192, 20000, 29000):
        # V0: chunked prefill off below 32K, so max_num_batched_tokens = max(max_model_len, 2048)
        assert profiling_batch("vllm", 23.58, "RTX 3090", length, accounting=v0).tokens == length
        # V1: chunked prefill always on; the GPU's default (2048 on a 24 GiB card) whatever the length
        assert profiling_batch("vllm", 23.58, "RTX 3090", length, accounting=v1).tokens == 2048
    assert profiling_batch("vllm", 23.58, "RTX 3090", 1024, accounting=v0).tokens == 2048
    # V0 has no GPU-dependent defaults: 256 sequences on an H100 too (V1 takes 1024 there)
    assert profiling_batch("vllm", 79.19, "H100", 8192, accounting=v0).seqs == 256
    assert profiling_batch("vllm", 79.19, "H100", 8192, accounting=v1).seqs == 1024


def test_v0_chunked_prefill_above_32k_takes_the_versions_chunked_default():
    from llmkube.plan.engine_memory import accounting_for, profiling_batch
    long = 131072
    assert profiling_batch("vllm", 23.58, "", long, accounting=accounting_for("vllm", (0, 6, 4))).tokens == 512
    assert profiling_batch("vllm", 23.58, "", long, accounting=accounting_for("vllm", (0, 7, 2))).tokens == 2048
    # an explicit --no-enable-chunked-prefill raises the batch to the whole context again
    assert profiling_batch("vllm", 23.58, "", long, chunked_prefill=False,
                           accounting=accounting_for("vllm", (0, 7, 2))).tokens == long
    # flags are taken as set
    batch = profiling_batch("vllm", 23.58, "", 8192, max_num_batched_tokens=16384, max_num_seqs=64,
                            accounting=accounting_for("vllm", (0, 6, 4)))
    assert (batch.tokens, batch.seqs) == (16384, 64)


def test_v0_chunks_long_contexts_by_itself_only_from_0_5_4_and_without_a_sliding_window(m):
    from llmkube.plan.engine_memory import accounting_for, profiling_batch, v0_chunked_by_default
    long = 65536
    v0 = accounting_for("vllm", (0, 5, 3))
    # before vllm-project/vllm#6666 (0.5.4) V0 never chunks by itself: max(max_model_len, 2048) tokens
    assert profiling_batch("vllm", 79.19, "H100", long, accounting=v0, version=(0, 5, 3)).tokens == long
    assert profiling_batch("vllm", 79.19, "H100", long, accounting=v0, version=(0, 5, 4)).tokens == 512
    # a sliding-window model keeps chunked prefill off in every V0 release (get_sliding_window())
    v07 = accounting_for("vllm", (0, 7, 3))
    assert profiling_batch("vllm", 79.19, "H100", long, accounting=v07, version=(0, 7, 3)).tokens == 2048
    assert profiling_batch("vllm", 79.19, "H100", long, accounting=v07, version=(0, 7, 3),
                           sliding_window=True).tokens == long
    # an explicit --enable-chunked-prefill still chunks
    assert profiling_batch("vllm", 79.19, "H100", long, chunked_prefill=True, accounting=v0,
                           version=(0, 5, 3)).tokens == 512
    assert not v0_chunked_by_default(32768, (0, 7, 3))  # "> 32K", not ">="
    # serving_fit passes the model's window: Mistral-7B-v0.1 (4096-token window) stretched to 64K on
    # 0.6.5 profiles a whole 64K prompt; Llama 3.1 at the same length the 2048-token chunk (vllm#10544)
    llama = m("llama-3.1-8b")
    config = ServerConfig(max_model_len=long, engine_version=(0, 6, 5))
    assert serving_fit(llama, H100, config, gpu_name="H100").batch.tokens == 2048
    windowed = llama.model_copy(update={"spec": llama.spec.model_copy(update={"sliding_window": 4096})})
    assert serving_fit(windowed, H100, config, gpu_name="H100").batch.tokens == long
    # V1 (0.8 on) is unaffected: its chunked prefill is always on
    v1 = dataclasses.replace(config, engine_version=(0, 11, 0))
    assert serving_fit(windowed, H100, v1, gpu_name="H100").batch.tokens == 8192


def test_v0_0_7_with_mla_profiles_the_whole_context(m):
    from llmkube.plan.engine_memory import accounting_for, profiling_batch
    v07 = accounting_for("vllm", (0, 7, 3))
    # "MLA is enabled; forcing chunked prefill and prefix caching to be disabled." (0.7.1 - 0.7.3)
    assert profiling_batch("vllm", 79.19, "H100", 65536, chunked_prefill=True, accounting=v07,
                           version=(0, 7, 3), mla=True).tokens == 65536
    assert profiling_batch("vllm", 79.19, "H100", 1024, accounting=v07, version=(0, 7, 3), mla=True).tokens == 2048
    # 0.6.x had no MLA path: the usual chunk (2048 from 0.6.5, vllm#10544)
    v06 = accounting_for("vllm", (0, 6, 6))
    assert profiling_batch("vllm", 79.19, "H100", 65536, accounting=v06, version=(0, 6, 6), mla=True).tokens == 2048
    # serving_fit passes the profile's MLA: DeepSeek-V2-Lite at 65,536 tokens on 0.7.3
    lite = m("deepseek-v2-lite")
    assert lite.spec.mla is not None
    fit = serving_fit(lite, H100, ServerConfig(max_model_len=32768 * 2, engine_version=(0, 7, 3)), gpu_name="H100")
    assert fit.batch.tokens == 65536


def test_v0_activation_is_an_eager_forward_or_the_256_row_sampler(m):
    llama = m("llama-3.1-8b")
    # short context: 256 sampler rows over 128,256 logits with the full-vocabulary sort bind;
    # the fit row vllm-pr10511-llama3-8b-tp1 (V0, H100, 8192 tokens) reads 1.26 GiB
    short = serving_fit(llama, H100, ServerConfig(max_model_len=8192, engine_version=(0, 6, 5)), gpu_name="H100")
    assert (short.batch.tokens, short.batch.seqs) == (8192, 256)
    assert short.activation_gib == pytest.approx(llama8_sampler(256, 8192, 36.4) / GIB)
    assert short.activation_gib == pytest.approx(1.26, abs=0.05)
    # long context without chunking: the forward over max_model_len tokens, MLP peak gate_up +
    # SiluAndMul's output (3 × intermediate; V1's compiled graph holds 4), beside the residual, the
    # normed input, the layer's input the model loop still holds and down_proj's output (4 × hidden)
    v0_forward_per_token = (4 * 4096 + 3 * 14336) * 2
    long = serving_fit(llama, 23.58, ServerConfig(max_model_len=29000, engine_version=(0, 6, 4)), gpu_name="RTX 3090")
    assert long.activation_gib == pytest.approx(29000 * v0_forward_per_token / GIB)
    v1 = serving_fit(llama, 23.58, ServerConfig(max_model_len=29000, engine_version=(0, 11, 0)), gpu_name="RTX 3090")
    assert v1.activation_gib < long.activation_gib / 2  # V1 profiles 2048 tokens whatever the context
    assert not long.cuda_graph_counted  # V0 captures graphs after sizing the KV cache


def test_v0_non_torch_counts_the_cuda_context_in_0_6_4_only(m):
    llama = m("llama-3.1-8b")
    fits = {v: serving_fit(llama, 23.58, ServerConfig(max_model_len=8192, engine_version=v))
            for v in ((0, 6, 3), (0, 6, 4), (0, 6, 5))}
    assert fits[(0, 6, 4)].non_torch_gib == pytest.approx(fits[(0, 6, 5)].non_torch_gib + 0.5)
    assert fits[(0, 6, 3)].non_torch_gib == fits[(0, 6, 5)].non_torch_gib
    assert fits[(0, 6, 4)].kv_budget_gib == pytest.approx(fits[(0, 6, 5)].kv_budget_gib - 0.5)


def test_v0_keeps_every_token_in_every_layer(m):
    # Gemma-2-9B: V1 groups sliding and full layers; V0's cache engine has one block pool for all
    gemma = m("gemma-2-9b")
    v0 = serving_fit(gemma, H100, ServerConfig(max_model_len=8192, engine_version=(0, 7, 3)))
    v1 = serving_fit(gemma, H100, ServerConfig(max_model_len=8192, engine_version=(0, 11, 0)))
    assert v1.layout.hybrid and not v0.layout.hybrid
    assert v0.layout.pools == gemma.spec.layers


def test_fit_options_offer_4_bit_when_fp8_is_not_enough_and_nothing_for_a_quantized_checkpoint(store, m):
    """The not-fit hint names a quantized checkpoint only when one would start: Llama-3.1-70B on one
    H100 at 8,192 tokens needs ~67 GiB of fp8 weights plus ~5 GiB of runtime (over 0.9 × 79.19), but
    4-bit weights fit; a checkpoint that is already quantized gets no such advice."""
    h100 = store.gpu("h100-80gb")
    config = ServerConfig(max_model_len=8192, engine_version=(0, 11, 0))
    name = h100.spec.display_name
    fit = serving_fit(m("llama-3.1-70b"), h100.spec.memory_gi_b, config, gpu_name=name)
    assert not fit.fits
    fp8 = serving_fit(m("llama-3.1-70b"), h100.spec.memory_gi_b, dataclasses.replace(config, quantization="fp8"), gpu_name=name)
    awq = serving_fit(m("llama-3.1-70b"), h100.spec.memory_gi_b, dataclasses.replace(config, quantization="awq"), gpu_name=name)
    assert not fp8.fits and awq.fits
    options = sizing.fit_options(m("llama-3.1-70b"), fit, config, gpu_name=name)
    assert "a 4-bit (AWQ/GPTQ) checkpoint (fp8 is not enough)" in options
    assert not any(o.startswith("an fp8") for o in options)
    # an AWQ checkpoint that does not fit one L4 is not told to quantize again
    l4 = store.gpu("l4")
    awq_model = m("qwen2.5-72b-instruct-awq")
    assert awq_model.spec.quantization is not None
    fit = serving_fit(awq_model, l4.spec.memory_gi_b, ServerConfig(max_model_len=8192), gpu_name=l4.spec.display_name)
    assert not fit.fits
    assert not any("checkpoint" in o for o in sizing.fit_options(awq_model, fit, ServerConfig(max_model_len=8192),
                                                                  gpu_name=l4.spec.display_name))


def test_qwen3_32b_awq_derivative_loads_as_a_public_start_up_reports(store, m):
    """Qwen/Qwen3-32B-AWQ resolves to the qwen3-32b shapes with AWQ int4 weights (group-128 scales
    and zeros, 16-bit embeddings and LM head): one A100 80GB on vLLM 0.19.0 logs 18.14 GiB of
    weights and 52.31 GiB of KV at util 0.90, eager (a fit row of benchmarks/data/vllm_startups.csv)."""
    model = store.model("Qwen/Qwen3-32B-AWQ")
    assert model is not None and model.name == "qwen3-32b-awq"
    assert model.spec.layers == m("qwen3-32b").spec.layers and model.spec.quantization.method == "awq"
    a100 = store.gpu("a100-80gb")
    fit = serving_fit(model, a100.spec.memory_gi_b, ServerConfig(max_model_len=8192, dtype="float16", quantization="awq",
                                                                 enforce_eager=True, engine_version=(0, 19, 0)),
                      gpu_name=a100.spec.display_name)
    assert fit.weights_gib == pytest.approx(18.14, rel=0.02)
    assert fit.kv_budget_gib == pytest.approx(52.31, rel=0.02)


def test_more_pipeline_stages_than_layers_are_sized_without_one_entry_per_stage(m):
    """A hostile `--pipeline-parallel-size 10**12` once built a list of 10**12 stages (MemoryError):
    stages beyond the layer count hold no layers (vLLM `get_pp_indices`), so at most one per layer is sized."""
    model = m("llama-3.1-8b")
    assert sizing.stage_count(model.spec.layers, 10**12) == model.spec.layers
    assert sizing.stage_count(model.spec.layers, 0) == 1
    fit = serving_fit(model, H100, ServerConfig(pipeline_parallel=10**12))
    assert fit.pipeline_parallel == model.spec.layers
    assert len(sizing.stage_weight_bytes(model, ServerConfig(), 10**12)) == model.spec.layers


def test_rope_cos_sin_table_counts_with_the_weights(m):
    # vLLM's RotaryEmbedding registers a [max_position_embeddings, rotary_dim] cos/sin buffer in the
    # model dtype while the model loads: one per GPU, whatever the TP/PP split.
    from llmkube.plan import engine_memory as em

    llama = m("llama-3.1-8b")
    assert em.rope_cache_bytes(llama.spec, 2.0) == 131072 * 128 * 2
    assert em.rope_cache_bytes(llama.spec, 4.0) == 131072 * 128 * 4  # --dtype float32
    # Gemma 3: sliding layers build an unscaled table over 131,072 positions, global layers a linearly
    # scaled one over 131,072 × 8 (LinearScalingRotaryEmbedding), head_dim 256: 576 MiB. The v0.19.0
    # H100 fit row of gemma-3-4b-it logs 8.58 GiB of weights; 8.01 of them are the checkpoint
    gemma = m("gemma-3-12b")
    assert em.rope_cache_bytes(gemma.spec, 2.0) == (131072 + 131072 * 8) * 256 * 2
    small = serving_fit(m("gemma-3-4b"), H100, ServerConfig(max_model_len=8192, engine_version=(0, 19, 0)))
    assert small.weights_gib == pytest.approx(8.58, rel=0.005)
    # MLA rotates only the rope part of the head
    ds = m("deepseek-v2-lite")
    assert em.rope_cache_bytes(ds.spec, 2.0) == ds.spec.max_context * ds.spec.mla.qk_rope_head_dim * 2
    # Llama-4-Scout-Instruct: 10,485,760 positions → 2.5 GiB on every GPU. The v0.19.0 H100 TP 4 log
    # (fit row) reads 53.12 GiB of weights; the sharded checkpoint alone is 50.76
    scout = m("llama-4-scout-instruct")
    assert scout.spec.max_context == 10485760
    assert em.rope_cache_bytes(scout.spec, 2.0) / GIB == pytest.approx(2.5)
    config = ServerConfig(tensor_parallel=4, max_model_len=8192, utilization=0.95, engine_version=(0, 19, 0))
    fit = serving_fit(scout, H100, config, gpu_name="NVIDIA H100 80GB HBM3")
    assert fit.weights_gib == pytest.approx(53.12, rel=0.005)
    base = serving_fit(m("llama-4-scout"), H100, config, gpu_name="NVIDIA H100 80GB HBM3")
    assert fit.weights_gib - base.weights_gib == pytest.approx(2.5 - 262144 * 128 * 2 / GIB)
    # TGI computes its cos/sin per batch: no table counted
    tgi = serving_fit(llama, H100, ServerConfig(runtime="tgi", max_model_len=8192))
    assert tgi.weights_gib == pytest.approx(serving_fit(llama, H100, ServerConfig(max_model_len=8192)).weights_gib
                                            - 131072 * 128 * 2 / GIB)


# --------------------------------------------------------------------------- data parallelism and MoE experts


def test_data_parallel_spreads_routed_experts_over_tp_times_dp(m):
    """vLLM shards an MoE's routed experts over all TP × DP GPUs (fused_moe/config.py
    FusedMoEParallelConfig.make); the rest stays ÷ TP. DeepSeek-V3's routed experts, from its
    config: 58 MoE layers × 256 experts × 3 matrices of 7168 × 2048, FP8 (1 byte) — 609 GiB;
    going from DP 1 to DP 2 at TP 8 takes 609/8 − 609/16 = 38.06 GiB off each GPU."""
    v3 = m("deepseek-v3")
    routed = 58 * 256 * 3 * 7168 * 2048 / 2**30
    one = serving_fit(v3, 139.8, ServerConfig(tensor_parallel=8, max_model_len=8192))
    two = serving_fit(v3, 139.8, ServerConfig(tensor_parallel=8, data_parallel=2, max_model_len=8192))
    assert one.weights_gib - two.weights_gib == pytest.approx(routed / 8 - routed / 16, rel=0.002)
    # a dense model holds a whole copy per engine whatever the DP size
    dense = m("llama-3.1-70b")
    assert serving_fit(dense, H100, ServerConfig(tensor_parallel=4, data_parallel=4, max_model_len=8192)).weights_gib == (
        serving_fit(dense, H100, ServerConfig(tensor_parallel=4, max_model_len=8192)).weights_gib
    )


def test_fused_moe_workspace_stays_allocated_through_the_sampler_run(m):
    """vLLM 0.19's fused-MoE experts take their workspaces from the worker's persistent
    WorkspaceManager buffer (modular_kernel.py `_allocate_buffers`), so the sampler run that follows
    the profiling forward peaks on top of them: TritonExperts.workspace_shapes, workspace13
    [M, top_k, max(N/2, K)] + workspace2 [M, top_k, max(N, K)], N = 2 × expert width ÷ TP."""
    from llmkube.plan.engine_memory import FUSED_MOE_CHUNK_SIZE, moe_workspace_bytes, triton_moe_experts
    qwen = m("qwen3-30b-a3b").spec  # hidden 2048, expert width 768, top 8
    assert qwen.experts is not None and (qwen.hidden_size, qwen.experts.intermediate_size, qwen.experts.active) == (2048, 768, 8)
    # N = 1536 (gate + up), K = 2048: 8192 tokens × 8 × (max(768, 2048) + max(1536, 2048)) × 2 B = 512 MiB
    assert moe_workspace_bytes(qwen, 8192, 1, 2.0) == 8192 * 8 * (2048 + 2048) * 2
    # wider experts split over TP: Mixtral (4096 hidden, 14336 wide, top 2) at TP 2 → N = 14336
    mixtral = m("mixtral-8x7b").spec
    assert moe_workspace_bytes(mixtral, 8192, 2, 2.0) == 8192 * 2 * (7168 + 14336) * 2
    # one chunk of at most VLLM_FUSED_MOE_CHUNK_SIZE tokens at a time
    assert moe_workspace_bytes(qwen, 4 * FUSED_MOE_CHUNK_SIZE, 1, 2.0) == moe_workspace_bytes(qwen, FUSED_MOE_CHUNK_SIZE, 1, 2.0)
    assert moe_workspace_bytes(m("llama-3.1-8b").spec, 8192, 1, 2.0) == 0.0
    # only 16-bit experts run TritonExperts; MXFP4 (gpt-oss) and runtime quantization are left out
    assert triton_moe_experts(qwen) and not triton_moe_experts(qwen, "fp8")
    assert not triton_moe_experts(m("gpt-oss-20b").spec) and not triton_moe_experts(m("llama-3.1-8b").spec)

    # v0.19 on an H100 (8,192 tokens, 1,024 sequences): the sampler phase holds the workspace too
    config = ServerConfig(max_model_len=8192, engine_version=(0, 19, 0))
    fit = serving_fit(m("qwen3-30b-a3b"), H100, config, gpu_name="NVIDIA H100 80GB HBM3")
    v17 = serving_fit(m("qwen3-30b-a3b"), H100, dataclasses.replace(config, engine_version=(0, 17, 0)),
                      gpu_name="NVIDIA H100 80GB HBM3")
    sampler_phase = (1024 * qwen.vocab_size * (fit.accounting.sampler_fp32_bytes_per_logit + 2) + 8192 * 2048 * 2) / GIB
    assert fit.activation_gib == pytest.approx(sampler_phase + 0.5, abs=1e-9)
    # the lines before 0.18 are not modelled with it (their MoE path was not read): the same batch, no workspace
    assert v17.activation_gib == pytest.approx(sampler_phase, abs=1e-9)
    # a dense model and gpt-oss's MXFP4 experts are unchanged
    dense = serving_fit(m("qwen3-8b"), H100, config, gpu_name="NVIDIA H100 80GB HBM3")
    assert dense.activation_gib == pytest.approx(
        (1024 * m("qwen3-8b").spec.vocab_size * (fit.accounting.sampler_fp32_bytes_per_logit + 2)
         + 8192 * m("qwen3-8b").spec.hidden_size * 2) / GIB, abs=1e-9)


def test_a_tp_group_across_nodes_has_no_intra_node_all_reduce_buffers(m):
    """vLLM's custom all-reduce (and its NVLink-only successors) refuse a TP group that spans nodes
    (custom_all_reduce.py `CustomAllreduce.__init__`): its non-torch memory is one GPU's."""
    from llmkube.plan.engine_memory import GIB as EM_GIB, accounting_for, non_torch_bytes
    v10, v19 = accounting_for("vllm", (0, 10, 1)), accounting_for("vllm", (0, 19, 0))
    a100, h100 = "NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3"
    gib = lambda acc, tp, name, spans: round(non_torch_bytes(acc, tp, 1, name, spans) / EM_GIB, 3)  # noqa: E731
    assert gib(v10, 2, a100, False) == 0.55 and gib(v10, 2, a100, True) == gib(v10, 1, a100, False) == 0.03
    # the NVSwitch buffers of 0.18+ belong to one node's NVLink domain too
    assert gib(v19, 4, h100, False) == 0.6 and gib(v19, 4, h100, True) == gib(v19, 1, h100, False) == 0.25
    # fit row gh-dennislee22-qwen2-7b-2xa100-40-tp2: Qwen2-7B, TP 2 over two nodes, vLLM 0.10.1.1,
    # util 0.5, 16,384 tokens, torch sampler; the log's KV cache is 11.03 GiB per GPU
    config = ServerConfig(tensor_parallel=2, utilization=0.5, max_model_len=16384, engine_version=(0, 10, 1),
                          flashinfer_sampler=False)
    one_node = serving_fit(m("qwen2-7b"), 39.38, config, gpu_name=a100)
    two_nodes = serving_fit(m("qwen2-7b"), 39.38, dataclasses.replace(config, tp_spans_nodes=True), gpu_name=a100)
    assert two_nodes.kv_budget_gib - one_node.kv_budget_gib == pytest.approx(0.55 - 0.03, abs=1e-9)
    assert two_nodes.kv_budget_gib == pytest.approx(11.03, rel=0.015)  # 11.15: the A100 TP 1 figure is 0.03


# --------------------------------------------------------------------------- issue 11: mechanisms read from vLLM/NCCL source


def test_a_two_part_version_is_its_x_y_0_release():
    """`vllm/vllm-openai:v0.7` and a log's "0.7" mean 0.7.0: (0, 7) must not sort below (0, 7, 0)
    and fall back to the 0.6.5 – 0.6.6 accounting, the release line before it (0.7's chunked-prefill
    default, 2048 tokens: vllm/config.py `SchedulerConfig.__post_init__`, v0.7.3; 512 up to 0.6.4)."""
    from llmkube.plan.engine_memory import accounting_for, big_gpu_defaults, profiling_batch, release
    assert release((0, 7)) == (0, 7, 0) and release((0, 10, 1, 1)) == (0, 10, 1)
    assert accounting_for("vllm", (0, 7)) == accounting_for("vllm", (0, 7, 0))
    assert accounting_for("vllm", (0, 7)).label == "vLLM 0.7 (V0)"
    assert accounting_for("vllm", (0, 17)) == accounting_for("vllm", (0, 17, 0))
    # V0 0.7 above 32K tokens: chunked prefill on, 2048 tokens (up to 0.6.4: 512)
    assert profiling_batch("vllm", 22.07, "NVIDIA A10", 131072, accounting=accounting_for("vllm", (0, 7))).tokens == 2048
    # the batch-default rules read the padded version too: "0.9" is 0.9.0 (no A100 large defaults)
    assert big_gpu_defaults(79.15, "NVIDIA A100-SXM4-80GB", (0, 9)) is False
    assert big_gpu_defaults(79.15, "NVIDIA A100-SXM4-80GB", (0, 8, 5)) is True


def test_geforce_cards_have_no_peer_to_peer_so_tp_buffers_stay_in_host_memory(m):
    """NCCL gives ranks without P2P (NVML reports none between GeForce cards: paths.cc
    `ncclTopoCheckP2p`) its SHM transport, whose buffers are host memory (shm.cc); vLLM's custom
    all-reduce needs P2P. So the device-side TP buffers are absent: non-torch is one GPU's."""
    from llmkube.plan.engine_memory import GIB as EM_GIB, accounting_for, non_torch_bytes, peer_to_peer
    assert peer_to_peer("NVIDIA GeForce RTX 3090 24GB") is False and peer_to_peer("rtx-4090") is False
    assert peer_to_peer("NVIDIA A10 24GB") and peer_to_peer("NVIDIA RTX 6000 Ada Generation")
    assert peer_to_peer("NVIDIA L40S 48GB") and peer_to_peer("NVIDIA H100 80GB HBM3")
    assert peer_to_peer("") is None
    gib = lambda acc, tp, name: round(non_torch_bytes(acc, tp, 1, name) / EM_GIB, 3)  # noqa: E731
    for version in ((0, 7, 3), (0, 11, 0), (0, 18, 1), (0, 21, 0)):
        acc = accounting_for("vllm", version)
        for tp in (2, 4, 8):
            assert gib(acc, tp, "NVIDIA GeForce RTX 4090") == gib(acc, 1, "NVIDIA GeForce RTX 4090")
            # a P2P-capable PCIe card keeps the NCCL/custom all-reduce buffers
            assert gib(acc, tp, "NVIDIA L40S 48GB") > gib(acc, 1, "NVIDIA L40S 48GB")
    # fit row gh-lambo-qwen2.5-32b-4x3090-tp4-v0181: Qwen2.5-32B, 4 × RTX 3090 (23.58 GiB), TP 4,
    # vLLM 0.18.1, util 0.88, 32,768 tokens, 1 sequence, 2,048 batched tokens, --enforce-eager:
    # the log's KV cache is 5.24 GiB per GPU
    config = ServerConfig(tensor_parallel=4, utilization=0.88, max_model_len=32768, max_num_seqs=1,
                          max_num_batched_tokens=2048, enforce_eager=True, engine_version=(0, 18, 1))
    geforce = serving_fit(m("qwen2.5-32b"), 23.58, config, gpu_name="NVIDIA GeForce RTX 3090 24GB")
    pro = serving_fit(m("qwen2.5-32b"), 23.58, config, gpu_name="NVIDIA RTX A6000")
    assert geforce.kv_budget_gib - pro.kv_budget_gib == pytest.approx(pro.non_torch_gib - geforce.non_torch_gib)
    # 0.18's TP >= 2 figure against the eager TP 1 one of a non-Hopper GPU (engine_memory.EAGER_NON_TORCH_TP1_GIB)
    assert pro.non_torch_gib - geforce.non_torch_gib == pytest.approx(0.55 - 0.03)
    # the weights carry the allocator's rounding and read as the log's (15.42 GiB against 15.39); the
    # log leaves 0.12 GiB for activation and non-torch together (5.24 = 0.88 × 23.58 − 15.39 − 0.12)
    assert geforce.weights_gib == pytest.approx(15.39, abs=0.03)
    assert geforce.kv_budget_gib == pytest.approx(5.24, rel=0.01)
    assert pro.kv_budget_gib < 5.24 * 0.92  # with the P2P buffers it would be ~9 % short


def test_enforce_eager_runs_v1_without_torch_compile_so_the_mlp_peak_is_the_eager_one(m):
    """vLLM V1's --enforce-eager turns torch.compile off too (config `VllmConfig.__post_init__`,
    v0.11.0 / v0.18.1): the forward is V0's eager code, gate_up + SiluAndMul's output (3 × the
    intermediate width) at the MLP's peak, not the compiled graph's 4."""
    qwen = m("qwen2.5-32b")
    # one sequence: the sampler run is tiny, the forward binds
    config = ServerConfig(max_model_len=8192, max_num_seqs=1, max_num_batched_tokens=2048, engine_version=(0, 18, 1))
    compiled = serving_fit(qwen, 79.19, config, gpu_name="NVIDIA H100 80GB HBM3")
    eager = serving_fit(qwen, 79.19, dataclasses.replace(config, enforce_eager=True), gpu_name="NVIDIA H100 80GB HBM3")
    h, i = qwen.spec.hidden_size, qwen.spec.intermediate_size
    assert compiled.activation_gib == pytest.approx(2048 * (2 * h + 4 * i) * 2 / GIB)
    assert eager.activation_gib == pytest.approx(2048 * (2 * h + 3 * i) * 2 / GIB)
    # TGI is not vLLM: the flag means nothing to its warm-up
    tgi = ServerConfig(max_model_len=8192, max_num_batched_tokens=2048, runtime="tgi")
    assert (serving_fit(qwen, 79.19, tgi).activation_gib
            == serving_fit(qwen, 79.19, dataclasses.replace(tgi, enforce_eager=True)).activation_gib)


# --------------------------------------------------------------------------- the MXFP4 kernel as configured


def test_mxfp4_backend_marlin_on_hopper_loads_marlins_padded_experts(m):
    """VLLM_MXFP4_USE_MARLIN=1, or a vLLM without triton_kernels, runs Marlin on an H100
    (quantization/mxfp4.py `get_mxfp4_backend`): the weights are Marlin's layout, not the image's
    Triton one; the fit rows of such pip installs read 65.97 GiB for gpt-oss-120b."""
    from llmkube.plan import engine_memory as em
    oss = m("gpt-oss-120b")
    base = ServerConfig(max_model_len=16000, utilization=0.95, engine_version=(0, 11, 0))
    image = serving_fit(oss, H100, base, gpu_name="NVIDIA H100 80GB HBM3")
    marlin = serving_fit(oss, H100, dataclasses.replace(base, mxfp4_backend="marlin"), gpu_name="NVIDIA H100 80GB HBM3")
    moe_layers = oss.spec.layers
    per_layer = (em.mxfp4_expert_layer_bytes(oss.spec, 1, "marlin") - em.mxfp4_expert_layer_bytes(oss.spec, 1, "triton")
                 + em.mxfp4_expert_rounding_bytes(oss.spec, 1, "marlin", 128)
                 - em.mxfp4_expert_rounding_bytes(oss.spec, 1, "triton", 128))
    assert marlin.weights_gib - image.weights_gib == pytest.approx(moe_layers * per_layer / GIB)
    assert marlin.kv_budget_gib == pytest.approx(image.kv_budget_gib - moe_layers * per_layer / GIB)
    assert marlin.weights_gib == pytest.approx(65.97, abs=0.1)
    # on an A100 the device already picks Marlin: the switch changes nothing there
    a100 = "NVIDIA A100-SXM4-80GB"
    assert (serving_fit(oss, 79.15, dataclasses.replace(base, mxfp4_backend="marlin"), gpu_name=a100).weights_gib
            == serving_fit(oss, 79.15, base, gpu_name=a100).weights_gib)


# --------------------------------------------------------------------------- MLA without its latent cache


def test_mla_models_keep_full_padded_kv_before_0_7_1_or_with_mla_disabled(m):
    """vLLM caches DeepSeek's latent (kv_lora_rank + rope) from 0.7.1; before, and with
    VLLM_MLA_DISABLE=1, DeepseekV2Attention caches K and V per head at qk_nope + qk_rope (V padded)."""
    from llmkube.plan import engine_memory as em
    lite = m("deepseek-v2-lite")
    s = lite.spec
    assert s.mla is not None
    latent = (s.mla.kv_lora_rank + s.mla.qk_rope_head_dim) * 2.0
    padded = 2 * s.attention_heads * (s.head_dim + s.mla.qk_rope_head_dim) * 2.0  # 16 heads × 192 × K and V
    assert em.kv_bytes_per_token_per_layer(s, 2.0, 1) == latent
    assert em.kv_bytes_per_token_per_layer(s, 2.0, 1, mla_cache=False) == padded
    # heads split over TP in the padded layout; the latent is whole on every rank
    assert em.kv_bytes_per_token_per_layer(s, 2.0, 2, mla_cache=False) == padded / 2
    assert em.kv_bytes_per_token_per_layer(s, 2.0, 2) == latent
    base = ServerConfig(max_model_len=8192, engine_version=(0, 7, 3))
    new = serving_fit(lite, H100, base, gpu_name="H100")
    old = serving_fit(lite, H100, dataclasses.replace(base, engine_version=(0, 6, 6)), gpu_name="H100")
    off = serving_fit(lite, H100, dataclasses.replace(base, engine_version=(0, 11, 0), mla_disabled=True), gpu_name="H100")
    assert new.kv_token_bytes == s.layers * latent
    assert old.kv_token_bytes == off.kv_token_bytes == s.layers * padded
    assert old.kv_tokens < new.kv_tokens / 5
    # VLLM_MLA_DISABLE also lifts V0 0.7's forced unchunking (the model no longer uses MLA)
    long = dataclasses.replace(base, max_model_len=65536)
    assert serving_fit(lite, H100, long, gpu_name="H100").batch.tokens == 65536
    assert serving_fit(lite, H100, dataclasses.replace(long, mla_disabled=True), gpu_name="H100").batch.tokens == 2048
