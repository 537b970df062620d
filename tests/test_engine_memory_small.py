"""Small cards and long contexts: the non-torch terms that follow from the engine version and its
settings (issue 11).

- From 0.18, --enforce-eager (no torch.compile) keeps the pre-0.18 TP 1 non-torch figures
  (`engine_memory.EAGER_NON_TORCH_TP1_GIB`).

Expected differences below are computed from those rules, not read off llmkube's output.
"""

from __future__ import annotations

import dataclasses

import pytest

from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

L4, A100, H100 = "NVIDIA L4 24GB", "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"
RTX3090 = "NVIDIA GeForce RTX 3090 24GB"


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


def _gib(acc: em.Accounting, tp: int, name: str, eager: bool = False) -> float:
    return round(em.non_torch_bytes(acc, tp, 1, name, eager=eager) / em.GIB, 3)


# --------------------------------------------------------------------------- 0.18+: --enforce-eager


def test_eager_keeps_the_pre_0_18_tp1_non_torch_figures() -> None:
    for version in ((0, 18, 0), (0, 19, 0), (0, 21, 0), (0, 24, 0)):
        acc = em.accounting_for("vllm", version)
        assert _gib(acc, 1, H100) == _gib(acc, 1, A100) == 0.25  # compiled: one figure from 0.18
        assert _gib(acc, 1, H100, eager=True) == 0.13
        assert _gib(acc, 1, A100, eager=True) == _gib(acc, 1, L4, eager=True) == em.NON_TORCH_OTHER_GIB
        assert _gib(acc, 1, "", eager=True) == 0.13  # no name: sized as the H100
        # the NCCL / custom all-reduce buffers of TP >= 2 are not compiled code: eager keeps them
        assert _gib(acc, 4, A100, eager=True) == _gib(acc, 4, A100) == 0.55
        # without P2P (GeForce) TP >= 2 is one GPU's figure: the eager one for an eager server
        assert _gib(acc, 4, RTX3090, eager=True) == _gib(acc, 1, RTX3090, eager=True) == em.NON_TORCH_OTHER_GIB
    # before 0.18 the switch changes nothing
    for version in ((0, 11, 0), (0, 17, 0)):
        acc = em.accounting_for("vllm", version)
        for name in (H100, A100, RTX3090):
            assert _gib(acc, 1, name, eager=True) == _gib(acc, 1, name)


def test_eager_fit_rows_off_the_h100(store: ProfileStore) -> None:
    # fit row gh-lambo-qwen2.5-32b-4x3090-tp4-v0181: 4 × RTX 3090, TP 4, vLLM 0.18.1, util 0.88,
    # 32,768 tokens, 1 sequence, 2,048 batched tokens, --enforce-eager: 5.24 GiB of KV cache per GPU
    lambo = ServerConfig(tensor_parallel=4, utilization=0.88, max_model_len=32768, max_num_seqs=1,
                         max_num_batched_tokens=2048, enforce_eager=True, engine_version=(0, 18, 1))
    fit = serving_fit(store.model("qwen2.5-32b"), 23.58, lambo, gpu_name=RTX3090)
    compiled = serving_fit(store.model("qwen2.5-32b"), 23.58,
                           dataclasses.replace(lambo, enforce_eager=False), gpu_name=RTX3090)
    assert fit.non_torch_gib == pytest.approx(em.NON_TORCH_OTHER_GIB)
    assert fit.kv_budget_gib == pytest.approx(5.24, rel=0.01)  # 4.99 (4.8 % short) with 0.25
    assert compiled.non_torch_gib == pytest.approx(0.25)


# --------------------------------------------------------------------------- V0: LlamaMLP frees gate_up (vllm#10339)


def test_llama_mlp_frees_gate_up_before_down_proj_from_0_6_5(store: ProfileStore) -> None:
    llama, qwen = store.model("llama-3.1-8b").spec, store.model("qwen2.5-7b").spec
    v073, v064 = em.accounting_for("vllm", (0, 7, 3)), em.accounting_for("vllm", (0, 6, 4))
    assert em.dense_mlp_held_hidden(llama, v073, (0, 7, 3)) == 1
    assert em.dense_mlp_held_hidden(llama, v064, (0, 6, 4)) == 2  # before the PR: gate_up lives to the end
    assert em.dense_mlp_held_hidden(qwen, v073, (0, 7, 3)) == 2  # Qwen2MLP keeps its `gate_up` name
    assert em.dense_mlp_held_hidden(llama, em.accounting_for("vllm", (0, 11, 0)), (0, 11, 0)) == 0  # V1

    # fit row gh-fastllminference-llama31-8b-l4-v073: Llama-3.1-8B on an L4, V0 0.7.3, offline LLM,
    # float16, max_model_len 24,576 (no chunked prefill below 32K: one 24,576-token batch), util 0.99;
    # the log reads a 2.54 GiB activation peak and a 4.25 GiB KV cache
    tokens, h, i = 24576, llama.hidden_size, llama.intermediate_size
    config = ServerConfig(utilization=0.99, max_model_len=tokens, dtype="float16", engine_version=(0, 7, 3),
                          offline=True)
    fit = serving_fit(store.model("llama-3.1-8b"), 22.05, config, gpu_name=L4)
    assert (fit.batch.tokens, fit.batch.seqs) == (tokens, 256)
    forward = tokens * (3 * h + 3 * i) * 2  # the activation's step: three [T, h] + gate_up + its output
    sampler = 256 * llama.vocab_size * (v073.sampler_fp32_bytes_per_logit + 2) + tokens * h * 2
    assert forward > sampler
    assert fit.activation_gib == pytest.approx(forward / em.GIB)
    assert fit.activation_gib == pytest.approx(2.54, abs=0.02)  # 4·h + 3·I would be 2.72
    assert fit.kv_budget_gib == pytest.approx(4.25, rel=0.01)  # 4.09 (3.7 % short) before


# --------------------------------------------------------------------------- V0: the chunked-prefill batch by version


def test_v0_chunked_prefill_default_is_2048_tokens_from_0_6_5() -> None:
    """vllm-project/vllm#10544 raised `SchedulerConfig`'s chunked-prefill default from 512 to 2048
    tokens after 0.6.4.post1; #11319 (2024-12-19) finds it in the code with the v0.6.5 docs still at 512."""
    long = 131072  # above 32K: V0 turns chunked prefill on by itself (no sliding window)
    tokens = {v: em.profiling_batch("vllm", 22.07, "NVIDIA A10", long, accounting=em.accounting_for("vllm", v),
                                    version=v).tokens
              for v in ((0, 5, 4), (0, 6, 3), (0, 6, 4), (0, 6, 5), (0, 6, 6), (0, 7, 0), (0, 7, 3))}
    assert tokens == {(0, 5, 4): 512, (0, 6, 3): 512, (0, 6, 4): 512, (0, 6, 5): 2048, (0, 6, 6): 2048,
                      (0, 7, 0): 2048, (0, 7, 3): 2048}


def test_v0_long_context_batch_samples_max_num_seqs_rows(store: ProfileStore) -> None:
    """V0's `profile_run` (worker/model_runner.py `_dummy_run`, v0.6.4 … v0.7.3) spreads the chunked
    batch's 2,048 tokens over `max_num_seqs` dummy prompts and samples one row of logits per prompt:
    the forward pass follows the tokens, the sampler the sequences. At 256 sequences Llama-3.1-8B's
    128,256-entry vocabulary makes the sampler the peak; with a few dozen the 2,048-token forward is."""
    llama = store.model("llama-3.1-8b")
    s = llama.spec
    h, i, tokens = s.hidden_size, s.intermediate_size, 2048
    acc = em.accounting_for("vllm", (0, 7, 0))
    forward = tokens * (3 * h + 3 * i) * 2  # Llama's eager V0 MLP from 0.6.5: three [T, h] + gate_up + act

    def sampler(rows: int) -> float:  # the rows' logits (bf16 + the sort's fp32 work) + the forward's output
        return rows * s.vocab_size * (acc.sampler_fp32_bytes_per_logit + 2) + tokens * h * 2

    config = ServerConfig(max_model_len=131072, engine_version=(0, 7, 0))
    default = serving_fit(llama, 22.07, config, gpu_name="NVIDIA A10")
    assert (default.batch.tokens, default.batch.seqs) == (tokens, 256)
    assert sampler(256) > forward
    assert default.activation_gib == pytest.approx(sampler(256) / em.GIB)
    # fit row gh-gradproj-r1-distill-llama-8b-a40-v070 (the same shape, V0 0.7.0, chunked at 2,048 with
    # 256 sequences, both printed) reads 1.19 GiB: the 256-row sampler
    assert default.activation_gib == pytest.approx(1.19, abs=0.01)
    few = serving_fit(llama, 22.07, dataclasses.replace(config, max_num_seqs=32), gpu_name="NVIDIA A10")
    assert few.batch.tokens == tokens and sampler(32) < forward
    assert few.activation_gib == pytest.approx(forward / em.GIB)
    # fit row gh-oci-aqua-llama31-8b-a10-131k (V0 0.7 on an A10, the same 131,072 tokens) reads 0.22 GiB,
    # the forward alone: no 256-row sampler ran there (its log does not print max_num_seqs)
    assert few.activation_gib == pytest.approx(0.22, abs=0.015)
    assert default.activation_gib > 5 * 0.22
