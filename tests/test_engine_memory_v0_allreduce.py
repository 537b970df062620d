"""The V0 engine's out-of-place tensor-parallel all-reduce (issue 11).

From 0.6.5 `GroupCoordinator.all_reduce` (vllm/distributed/parallel_state.py) returns a new tensor
(custom all-reduce and pynccl both `torch.empty_like` their output); 0.6.4.post1 reduces a large
tensor in place. `RowParallelLinear.forward` keeps its `output_parallel` meanwhile, so at TP >= 2 the
down projection's step holds one more [tokens, hidden]. Expected values below are computed from the
configs' shapes, not read off llmkube.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkube.modelconfig import import_profile
from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import ServerConfig, serving_fit

CONFIGS = Path(__file__).parent / "data" / "hf-configs"


def _spec(name: str):
    return import_profile(str(CONFIGS / name)).spec


def test_the_step_only_where_the_all_reduce_writes_a_copy() -> None:
    qwen, llama = _spec("qwen2.5-14b-instruct.json"), _spec("llama-3.1-8b.json")
    moe = _spec("qwen1.5-moe-a2.7b-chat.json")
    v072, v064 = em.accounting_for("vllm", (0, 7, 2)), em.accounting_for("vllm", (0, 6, 4))
    v065 = em.accounting_for("vllm", (0, 6, 5))
    # Qwen2MLP keeps gate_up: gate_up + activation (3 intermediates) and input, output, copy (3 hidden)
    assert em.v0_down_projection_step(qwen, v072, (0, 7, 2), 2) == (3, 3)
    assert em.v0_down_projection_step(qwen, v065, (0, 6, 5), 4) == (3, 3)
    # LlamaMLP frees gate_up first from 0.6.5: the activation alone
    assert em.v0_down_projection_step(llama, v072, (0, 7, 2), 2) == (1, 3)
    assert em.v0_down_projection_step(qwen, v072, (0, 7, 2), 1) is None  # no all-reduce at TP 1
    assert em.v0_down_projection_step(qwen, v064, (0, 6, 4), 2) is None  # reduced in place
    assert em.v0_down_projection_step(qwen, v072, None, 2) is None
    v1 = em.accounting_for("vllm", (0, 11, 0))
    assert em.v0_down_projection_step(qwen, v1, (0, 11, 0), 2) is None  # V1: compiled, fitted MLP_LIVE
    assert em.v0_down_projection_step(moe, v072, (0, 7, 2), 2) is None
    # the V0 fallback of 0.8 - 0.10 (VLLM_USE_V1=0) keeps the 0.7 line's all-reduce
    fallback = em.accounting_for("vllm", (0, 8, 5), use_v1=False)
    assert em.v0_down_projection_step(qwen, fallback, (0, 8, 5), 2) == (3, 3)


def test_llama_down_step_wins_once_the_intermediate_share_is_narrower_than_hidden() -> None:
    s = _spec("llama-3.1-8b.json")
    h, i, tokens = s.hidden_size, s.intermediate_size, 8192
    acc = em.accounting_for("vllm", (0, 7, 3))
    held = em.dense_mlp_held_hidden(s, acc, (0, 7, 3))
    for tp in (2, 4):
        step = em.v0_down_projection_step(s, acc, (0, 7, 3), tp)
        got = em.forward_peak_bytes(s, tokens, tp, 2, acc.mlp_live, None, held, step)
        expected = tokens * (2 * h + max(3 * i / tp + h, i / tp + 3 * h)) * 2
        assert got == pytest.approx(expected)
    # at TP 2 (I/2 = 7168 > h = 4096) the activation's step stays the peak: no change
    assert em.forward_peak_bytes(s, tokens, 2, 2, acc.mlp_live, None, held,
                                 em.v0_down_projection_step(s, acc, (0, 7, 3), 2)) == pytest.approx(
        em.forward_peak_bytes(s, tokens, 2, 2, acc.mlp_live, None, held))
    # at TP 4 (I/4 = 3584 < h) the copy's step is higher
    assert em.forward_peak_bytes(s, tokens, 4, 2, acc.mlp_live, None, held,
                                 em.v0_down_projection_step(s, acc, (0, 7, 3), 4)) > em.forward_peak_bytes(
        s, tokens, 4, 2, acc.mlp_live, None, held)


def test_fit_row_qwen2_5_14b_tp2_v072() -> None:
    """gh-distagentgc-qwen2.5-14b-tp2-40gb-v072: Qwen2.5-14B-Instruct, TP 2, V0 0.7.2, OpenAI server,
    float16, max_model_len the model's 32,768 (chunked prefill off: one 32,768-token batch), 39.50 GiB
    CUDA total, util 0.90; both workers print a 2.84 GiB activation peak."""
    profile = import_profile(str(CONFIGS / "qwen2.5-14b-instruct.json"))
    s = profile.spec
    h, i, tokens = s.hidden_size, s.intermediate_size, 32768
    config = ServerConfig(tensor_parallel=2, utilization=0.9, max_model_len=tokens, dtype="float16",
                          engine_version=(0, 7, 2))
    fit = serving_fit(profile, 39.5, config, gpu_name="unknown-40gb")
    assert (fit.batch.tokens, fit.batch.seqs) == (tokens, 256)
    forward = tokens * (2 * h + 3 * i / 2 + 3 * h) * 2  # residual, normed; gate_up + act; input, output, copy
    assert fit.activation_gib == pytest.approx(forward / em.GIB)
    assert fit.activation_gib == pytest.approx(2.84, rel=0.01)  # 2.52 without the copy
    # at 0.6.4 (in place) the same server holds no copy: one [T, h] less
    before = serving_fit(profile, 39.5, ServerConfig(tensor_parallel=2, utilization=0.9, max_model_len=tokens,
                                                     dtype="float16", engine_version=(0, 6, 4)),
                         gpu_name="unknown-40gb")
    assert fit.activation_gib - before.activation_gib == pytest.approx(tokens * h * 2 / em.GIB)
