"""The V0 engine's eager decoder layer: what is live at its MLP peak (issue 11).

vllm/model_executor/models/llama.py / qwen2.py (v0.6.4 … v0.7.3) hold, while a layer's MLP runs,
the residual and the normed input (the two [T, h] every layer keeps), the layer's input (still
referenced by the model's loop; normalised in place by `RMSNorm.forward_cuda`), gate_up [T, 2·I],
the activation's output [T, I] and down_proj's output [T, h]: 4·h + 3·I per token. Expected values
below are computed from the config's shape, not read off llmkube.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkube.modelconfig import import_profile
from llmkube.plan import engine_memory as em

CONFIGS = Path(__file__).parent / "data" / "hf-configs"


@pytest.fixture(scope="module")
def qwen14b():
    return import_profile(str(CONFIGS / "qwen2.5-14b-instruct.json")).spec


def test_v0_mlp_peak_holds_layer_input_and_down_output(qwen14b) -> None:
    s = qwen14b
    tokens = 32768  # V0 without chunked prefill profiles one max_model_len prompt
    acc = em.accounting_for("vllm", (0, 6, 6))
    batch = em.v0_profiling_batch(acc, tokens, chunked_prefill=False)
    assert (batch.tokens, batch.seqs) == (tokens, 256)
    expected_forward = tokens * (4 * s.hidden_size + 3 * s.intermediate_size) * 2  # bf16
    sampler = 256 * s.vocab_size * (acc.sampler_fp32_bytes_per_logit + 2) + tokens * s.hidden_size * 2
    assert expected_forward > sampler  # the forward pass is the peak at this batch
    got = em.activation_bytes(s, acc, batch, 1, 2)
    assert got == pytest.approx(expected_forward)
    # without the two held [T, h] the peak would be 2·h + 3·I: the term is what moved it
    assert got - tokens * (2 * s.hidden_size + 3 * s.intermediate_size) * 2 == pytest.approx(
        2 * tokens * s.hidden_size * 2)


@pytest.mark.parametrize("version", [(0, 4, 2), (0, 6, 4), (0, 6, 5), (0, 7, 0)])
def test_every_v0_line_holds_them(version: tuple[int, ...]) -> None:
    assert em.accounting_for("vllm", version).mlp_held_hidden == em.V0_MLP_HELD_HIDDEN == 2


def test_v1_forward_unchanged(qwen14b) -> None:
    s = qwen14b
    acc = em.accounting_for("vllm", (0, 11, 0))
    assert acc.mlp_held_hidden == 0
    assert em.forward_peak_bytes(s, 8192, 1, 2, acc.mlp_live, None, acc.mlp_held_hidden) == pytest.approx(
        8192 * (2 * s.hidden_size + em.MLP_LIVE * s.intermediate_size) * 2)
