"""Training memory per GPU: model states (weights, gradients, optimizer) under DDP or sharding.

Bytes per parameter, before activations (facts §7.2):
  full fine-tune, mixed precision + AdamW: 16 (ZeRO paper accounting: bf16 weights 2 + bf16
    gradients 2 + fp32 master weights, Adam m and v 12) … 18 (HF "model memory anatomy": weights 6
    + Adam 8 + fp32 gradients 4);
  LoRA: frozen 16-bit base 2 B/param (a quantized checkpoint is trained dequantized) + adapters
    (0.1–1 % of params) with gradients and optimizer state, 16 B each;
  QLoRA: the base in bitsandbytes NF4 with double quantization, as its modules' shapes give it
    (4-bit linears with their absmax constants; embeddings, LM head and norms 16-bit), + adapters.
How the states spread over the job's GPUs (`training.distribution`):
  ddp   — every GPU holds all of them (DistributedDataParallel): more GPUs never help;
  zero2 — gradients and optimizer states sharded, weights replicated (ZeRO-2, FSDP SHARD_GRAD_OP);
  fsdp  — everything sharded over all GPUs (ZeRO-3, FSDP FULL_SHARD).
Plus the CUDA context per GPU (≈0.5 GiB, facts §7.1 rule of thumb). Activations are not counted.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

from llmkube.modelshape import checkpoint_weight_bytes
from llmkube.profiles import ModelProfile, Quantization
from llmkube.records import record

GIB = 2**30

Distribution = Literal["ddp", "zero2", "fsdp"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("ddp", "zero2", "fsdp")
DISTRIBUTION_TEXT = {
    "ddp": "DDP: every GPU holds the whole model states",
    "zero2": "ZeRO-2: gradients and optimizer states sharded, weights on every GPU",
    "fsdp": "FSDP/ZeRO-3: model states sharded over all GPUs",
}

FULL_BYTES = (16.0, 18.0)  # per parameter: weights + gradients + optimizer, low / high accounting
FULL_REPLICATED_WEIGHT_BYTES = (2.0, 6.0)  # the part ZeRO-2 keeps on every GPU (bf16; HF: fp32 + bf16)
ADAPTER_SHARE = (0.001, 0.01)  # LoRA adapter parameters as a share of the model's
ADAPTER_BYTES = 16.0  # adapter weights + gradients + AdamW states, per adapter parameter
ADAPTER_WEIGHT_BYTES = 2.0  # the adapter weights themselves (replicated under ZeRO-2)
LORA_BASE_BYTES = 2.0  # frozen 16-bit base
CUDA_CONTEXT_GIB = 0.5

# Kept for callers of the former `llmkube.plan.sizing.TRAIN_BYTES_PER_PARAM`.
TRAIN_BYTES_PER_PARAM = {
    "full": FULL_BYTES,
    "lora": (LORA_BASE_BYTES + ADAPTER_SHARE[0] * ADAPTER_BYTES, LORA_BASE_BYTES + ADAPTER_SHARE[1] * ADAPTER_BYTES),
    "qlora": (0.5 + ADAPTER_SHARE[0] * ADAPTER_BYTES, 0.5 + ADAPTER_SHARE[1] * ADAPTER_BYTES),
}

@functools.cache
def nf4() -> Quantization:
    """QLoRA's base quantization: bitsandbytes NF4 with double quantization. Built on first use, not
    at import: validating it builds the Quantization model's schema, ~10 ms of every run's start-up."""
    return Quantization(method="bitsandbytes", weight_bits=4, group_size=64, format="nf4-double-quant")


def qlora_base_bytes(model: ModelProfile) -> float:
    """The frozen base as QLoRA loads it: bitsandbytes NF4 (double quantization) over the model's
    linear layers, everything else 16-bit."""
    spec = model.spec.model_copy(update={"quantization": nf4(), "dtype": "bfloat16"})
    return checkpoint_weight_bytes(spec)


def _split(model: ModelProfile, method: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """(all model states, the part ZeRO-2 keeps on every GPU) in bytes, each as (low, high)."""
    params = model.spec.parameters_b * 1e9
    if method == "full":
        total = (params * FULL_BYTES[0], params * FULL_BYTES[1])
        weights = (params * FULL_REPLICATED_WEIGHT_BYTES[0], params * FULL_REPLICATED_WEIGHT_BYTES[1])
        return total, weights
    base = params * LORA_BASE_BYTES if method == "lora" else qlora_base_bytes(model)
    adapters = (params * ADAPTER_SHARE[0], params * ADAPTER_SHARE[1])
    total = (base + adapters[0] * ADAPTER_BYTES, base + adapters[1] * ADAPTER_BYTES)
    # ZeRO-2 shards only what has gradients: the frozen base stays whole on every GPU
    replicated = (base + adapters[0] * ADAPTER_WEIGHT_BYTES, base + adapters[1] * ADAPTER_WEIGHT_BYTES)
    return total, replicated


def state_bytes_per_gpu(model: ModelProfile, method: str, gpus: int, distribution: str) -> tuple[float, float]:
    """Model-state bytes on one GPU of a `gpus`-GPU job, (low, high)."""
    n = max(1, gpus)
    total, replicated = _split(model, method)
    if distribution == "ddp":
        return total
    if distribution == "zero2":
        return (replicated[0] + (total[0] - replicated[0]) / n, replicated[1] + (total[1] - replicated[1]) / n)
    return (total[0] / n, total[1] / n)


@record(frozen=True)
class TrainingFit:
    model: str
    method: str
    gpus: int
    memory_gib: float
    low_gib: float  # per GPU, lower bound of the rule of thumb
    high_gib: float  # per GPU, upper bound
    distribution: str = "fsdp"
    sharded_states_gib: float = 0.0  # all model states (low bound), what FSDP spreads over the GPUs

    @property
    def fits(self) -> bool:
        """False only when even the lower bound exceeds the GPU: a certain miss."""
        return self.low_gib <= self.memory_gib

    @property
    def headroom_gib(self) -> float:
        return self.memory_gib - self.low_gib

    @property
    def gpus_needed(self) -> int:
        """GPUs the model states need at least when fully sharded (FSDP/ZeRO-3), whatever the job's
        distribution: the one way more GPUs always help."""
        return math.ceil(self.sharded_states_gib / (self.memory_gib - CUDA_CONTEXT_GIB))

    @property
    def assumption(self) -> str:
        """What the numbers assume, for people: the distribution and the GPU count."""
        return f"{DISTRIBUTION_TEXT[self.distribution]} ({self.gpus} GPU{'s' * (self.gpus != 1)}), before activations"


def training_fit(model: ModelProfile, method: str, gpus: int, memory_gib: float, distribution: str = "fsdp") -> TrainingFit:
    """Per-GPU model states of a training job over `gpus` GPUs (excluding activations)."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}")
    n = max(1, gpus)
    low, high = state_bytes_per_gpu(model, method, n, distribution)
    total_low = state_bytes_per_gpu(model, method, 1, "fsdp")[0]
    return TrainingFit(model.name, method, n, memory_gib, low / GIB + CUDA_CONTEXT_GIB, high / GIB + CUDA_CONTEXT_GIB,
                       distribution, total_low / GIB)
