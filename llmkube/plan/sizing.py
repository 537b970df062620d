"""Sizing arithmetic: weight bytes, KV cache, load time, probe budgets.

Pure functions over profiles and plain numbers; figures and their sources are
in ../shared/reference/gpu-and-model-facts.md (§6, §7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmkube.profiles import ModelProfile

GIB = 2**30

DTYPE_BYTES = {"bfloat16": 2.0, "float16": 2.0, "float32": 4.0, "float8": 1.0, "auto": 2.0}
# Bytes per quantized weight. 4-bit schemes keep embeddings and the LM head in
# 16-bit (facts §7.1b: "W4 ≠ params ÷ 4"), handled in `weight_bytes`.
QUANT_BYTES = {"fp8": 1.0, "eetq": 1.0, "awq": 0.5, "gptq": 0.5, "marlin": 0.5, "bitsandbytes": 0.5, "exl2": 0.5}


def embedding_params(model: ModelProfile) -> int:
    """Input embedding plus (untied) LM head parameters."""
    s = model.spec
    return s.vocab_size * s.hidden_size * (1 if s.tie_embeddings else 2)


def weight_bytes(model: ModelProfile, dtype: str | None = None, quantization: str | None = None) -> float:
    """Bytes of the model's weights as served."""
    params = model.spec.parameters_b * 1e9
    if quantization in QUANT_BYTES:
        per = QUANT_BYTES[quantization]
        if per < 1.0:
            embed = embedding_params(model)
            return (params - embed) * per + embed * 2.0
        return params * per
    native = DTYPE_BYTES.get(model.spec.dtype, 2.0)
    chosen = DTYPE_BYTES.get(dtype or "auto", 2.0) if dtype not in (None, "auto") else native
    return params * chosen


def kv_bytes_per_token(model: ModelProfile, kv_dtype_bytes: float = 2.0, tensor_parallel: int = 1) -> float:
    """KV-cache bytes per token on one GPU (facts §7.1).

    KV heads split across TP ranks, never below one head per rank; MLA keeps
    the whole latent cache on every rank.
    """
    s = model.spec
    if s.mla is not None:
        return s.layers * (s.mla.kv_lora_rank + s.mla.qk_rope_head_dim) * kv_dtype_bytes
    heads_per_gpu = max(1, s.kv_heads // tensor_parallel)
    return 2 * s.layers * heads_per_gpu * s.head_dim * kv_dtype_bytes


def load_seconds(weights: float, throughput_gbps: float, overhead_seconds: int) -> float:
    """Time to read the weights at `throughput_gbps` GB/s, plus engine start-up."""
    return weights / (throughput_gbps * 1e9) + overhead_seconds


@dataclass(frozen=True)
class ProbeBudget:
    period_seconds: int
    failure_threshold: int

    @property
    def seconds(self) -> int:
        return self.period_seconds * self.failure_threshold


def startup_budget(estimate_seconds: float, period_seconds: int = 10, margin: float = 1.25) -> ProbeBudget:
    """A startup probe whose period × failureThreshold covers the load with a margin."""
    threshold = max(3, math.ceil(estimate_seconds * margin / period_seconds))
    return ProbeBudget(period_seconds, threshold)
