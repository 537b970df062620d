"""Sizing arithmetic: weight bytes, KV cache, load time, probe budgets.

Pure functions over profiles and plain numbers; figures and their sources are
in ../shared/reference/gpu-and-model-facts.md (§6, §7).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from llmkube.engines import DEFAULT_GPU_MEMORY_UTILIZATION
from llmkube.profiles import GPUProfile, ModelProfile

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
    return params * (native if dtype in (None, "auto") else DTYPE_BYTES.get(dtype, 2.0))


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


# Where a starting server finds its weights (InferenceEndpoint `startup.source`), and the rate at
# which a start without a warm cache pulls them, GB/s. Conservative defaults, not measurements: a
# pod's download from the Hugging Face hub rarely sustains more than ~100 MB/s; an object store
# in the cluster's own region does better. `pvc` and `image` are on the node when the server starts
# (a pull into an empty claim resumes after a restart, and an image pull precedes the container).
WEIGHT_SOURCES = ("hub", "pvc", "image", "object-store")
DEFAULT_DOWNLOAD_GBPS = {"hub": 0.1, "object-store": 0.5}


def download_gbps(source: str, explicit: float | None = None) -> float | None:
    """GB/s at which a start downloads the weights from `source`; None when nothing is downloaded."""
    if source not in DEFAULT_DOWNLOAD_GBPS:
        return None
    return explicit if explicit is not None else DEFAULT_DOWNLOAD_GBPS[source]


def load_seconds(weights: float, throughput_gbps: float, overhead_seconds: int, download: float | None = None) -> float:
    """Time to download the weights (at `download` GB/s, when they are pulled at start-up), read
    them at `throughput_gbps` GB/s, plus engine start-up."""
    pull = weights / (download * 1e9) if download else 0.0
    return pull + weights / (throughput_gbps * 1e9) + overhead_seconds


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


# --------------------------------------------------------------------------- serving memory model
#
# vLLM sizes its KV cache at start-up by one identity (facts §7.1b, [V] to ±0.01 GiB):
#
#     KV GiB = util × physical GPU memory − weights − activation peak − non-torch memory
#
# Weights and KV per token follow from the model's shapes (above). The two
# overheads are engine constants, measured from public vLLM start-up logs on
# H100 (facts §7.1b and the logs behind it). They changed between engine
# versions, so both generations are kept and chosen by the image tag:
#
#   recent engines (the facts file's "2026 versions"; vLLM 0.19.0 sweep of the
#   llm-d planner, accuracy/results/v0.19.0, 50 runs):
#     non-torch  TP 1: 0.25 GiB (observed 0.24–0.27; facts "≈0.1–0.3")
#                TP ≥ 2: 2.1 GiB per GPU (observed 2.06–2.17, NCCL buffers; facts "≈2 GiB")
#                PP ≥ 2 at TP 1: 0.07 GiB (facts "≈0.07 GiB per pipeline stage")
#     activation per architecture (TP-invariant, independent of max-model-len):
#                llama 1.9 (Llama-3.1-8B 1.89), qwen2 2.25 (2.21–2.29), gemma2 3.65
#                (3.62–3.66), phi3 1.5 (1.52), mixtral 1.2 (1.21), deepseek 1.95
#                (DeepSeek-V2 1.93); other architectures 2.5 (facts "≈1–4 GiB");
#                × 0.58 with pipeline parallelism (Llama-3.1-8B: 1.89 → 1.10 at PP 2).
#   older engines (vLLM ≤ 0.11, e.g. the vllm/vllm-openai:v0.11.0 image llmkube pins;
#   facts "older versions several GiB more"): public v0.11.0 profiles on H100 show
#     non-torch 0.13 GiB at TP 1, 0.55 GiB at TP 2; activation 4.76 (Llama-3.1-8B),
#     4.84 (Llama-3.3-70B TP 2), 5.6 (Qwen3), 7.4 (MoE) GiB.
#
# CUDA graphs are captured after the KV pool is sized: not part of the identity
# (real usage exceeds util × memory by ≈0.5–2 GiB, facts §7.1b).

BLOCK_SIZE = 16  # vLLM DEFAULT_BLOCK_SIZE (facts §7.1)
SHARE_LIMIT = 0.40  # a model needing more than this share of one GPU should not share it

NON_TORCH_TP1_GIB = 0.25
NON_TORCH_TP_GIB = 2.1
NON_TORCH_PP_GIB = 0.07
ACTIVATION_GIB = {"llama": 1.9, "mistral": 1.9, "qwen2": 2.25, "gemma2": 3.65, "phi3": 1.5,
                  "mixtral": 1.2, "deepseek_v2": 1.95, "deepseek_v3": 1.95}
ACTIVATION_DEFAULT_GIB = 2.5
ACTIVATION_PP_FACTOR = 0.58

LEGACY_MAX_VERSION = (0, 11, 99)  # engines up to this version use the older constants
LEGACY_NON_TORCH_TP1_GIB = 0.13
LEGACY_NON_TORCH_TP_GIB = 0.55
LEGACY_ACTIVATION_GIB = {"llama": 4.8, "mistral": 4.8, "qwen2": 5.6, "gemma2": 5.5, "phi3": 5.5}
LEGACY_ACTIVATION_DEFAULT_GIB = 4.8
LEGACY_ACTIVATION_MOE_GIB = 7.4

KV_DTYPE_BYTES = {"auto": None, "fp8": 1.0, "fp8_e4m3": 1.0, "fp8_e5m2": 1.0, "fp8_inc": 1.0,
                  "bfloat16": 2.0, "float16": 2.0, "half": 2.0, "float32": 4.0}


def served_weight_bytes(model: ModelProfile, dtype: str | None = None, quantization: str | None = None) -> float:
    """Weight bytes as vLLM reports them: like `weight_bytes`, but every runtime
    quantization (fp8 too) keeps the embeddings and LM head in 16-bit (facts §7.1b;
    vLLM 0.19 `--quantization fp8` on Llama-3.1-8B: 8.49 GiB = 6.98e9 × 1 B + 1.05e9 × 2 B)."""
    if quantization in QUANT_BYTES:
        embed = embedding_params(model)
        return (model.spec.parameters_b * 1e9 - embed) * QUANT_BYTES[quantization] + embed * 2.0
    return weight_bytes(model, dtype, quantization)


def is_legacy_engine(runtime: str, version: tuple[int, ...] | None) -> bool:
    return runtime == "vllm" and version is not None and version <= LEGACY_MAX_VERSION


def non_torch_gib(tensor_parallel: int, pipeline_parallel: int = 1, legacy: bool = False) -> float:
    """Memory vLLM allocates outside torch per GPU (NCCL, CUDA context) (facts §7.1b)."""
    if tensor_parallel >= 2:
        return LEGACY_NON_TORCH_TP_GIB if legacy else NON_TORCH_TP_GIB
    if pipeline_parallel >= 2 and not legacy:
        return NON_TORCH_PP_GIB
    return LEGACY_NON_TORCH_TP1_GIB if legacy else NON_TORCH_TP1_GIB


def activation_gib(model: ModelProfile, pipeline_parallel: int = 1, legacy: bool = False) -> float:
    """The torch activation peak of vLLM's profiling run (facts §7.1b): per architecture, TP-invariant."""
    arch = model.spec.architecture
    if legacy:
        if model.spec.experts is not None:
            value = LEGACY_ACTIVATION_MOE_GIB
        else:
            value = LEGACY_ACTIVATION_GIB.get(arch, LEGACY_ACTIVATION_DEFAULT_GIB)
    else:
        value = ACTIVATION_GIB.get(arch, ACTIVATION_DEFAULT_GIB)
    return value * (ACTIVATION_PP_FACTOR if pipeline_parallel >= 2 else 1.0)


def kv_dtype_bytes(kv_cache_dtype: str | None, model: ModelProfile) -> float:
    """Bytes per KV element: the model dtype for auto, 1 for fp8 (facts §7.1)."""
    chosen = KV_DTYPE_BYTES.get((kv_cache_dtype or "auto").lower())
    if chosen is not None:
        return chosen
    native = DTYPE_BYTES.get(model.spec.dtype, 2.0)
    # fp8 checkpoints (DeepSeek-V3) still keep a 16-bit KV cache unless asked otherwise
    return 2.0 if native < 2.0 else native


@dataclass(frozen=True)
class ServerConfig:
    """What sizes one model server's memory: its parallelism and the engine flags that matter.

    Built from an InferenceEndpoint spec or read from a vLLM/TGI container's
    flags; `serving_fit` and `recommend_serving` take it whole.
    """

    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION  # --gpu-memory-utilization / --cuda-memory-fraction
    max_model_len: int | None = None  # None: the model's whole context (vLLM's default)
    max_num_seqs: int | None = None
    dtype: str | None = None
    quantization: str | None = None
    kv_cache_dtype: str | None = None
    runtime: str = "vllm"
    engine_version: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ServingFit:
    """One vLLM server's memory per GPU (GiB) against what it may use."""

    model: str
    memory_gib: float  # physical memory of one GPU or MIG slice
    utilization: float
    tensor_parallel: int
    pipeline_parallel: int
    max_model_len: int
    max_num_seqs: int | None
    weights_gib: float
    activation_gib: float
    non_torch_gib: float
    kv_token_bytes: float  # per GPU
    legacy_engine: bool
    kv_exact: bool = True  # False for sliding-window models: KV counted for every layer is an upper bound

    @property
    def budget_gib(self) -> float:
        """util × physical memory: everything vLLM may allocate on one GPU."""
        return self.utilization * self.memory_gib

    @property
    def overhead_gib(self) -> float:
        return self.activation_gib + self.non_torch_gib

    @property
    def kv_budget_gib(self) -> float:
        """The KV pool vLLM will allocate (facts §7.1b identity); negative = no room."""
        return self.budget_gib - self.weights_gib - self.overhead_gib

    @property
    def kv_sequence_gib(self) -> float:
        """KV for one full max-model-len sequence on one GPU."""
        return self.kv_token_bytes * self.max_model_len / GIB

    @property
    def need_gib(self) -> float:
        """Per-GPU need for one full sequence: vLLM refuses to start below it."""
        return self.weights_gib + self.overhead_gib + self.kv_sequence_gib

    @property
    def headroom_gib(self) -> float:
        return self.budget_gib - self.need_gib

    @property
    def fits(self) -> bool:
        return self.need_gib <= self.budget_gib

    @property
    def kv_blocks(self) -> int:
        if self.kv_budget_gib <= 0:
            return 0
        return int(self.kv_budget_gib * GIB // (self.kv_token_bytes * BLOCK_SIZE))

    @property
    def kv_tokens(self) -> int:
        """Tokens the KV pool holds, in whole 16-token blocks (vLLM's "GPU KV cache size")."""
        return self.kv_blocks * BLOCK_SIZE

    @property
    def max_concurrency(self) -> float:
        """vLLM's "Maximum concurrency for max-model-len tokens per request"."""
        return self.kv_tokens / self.max_model_len

    @property
    def max_sequences(self) -> int:
        """Whole max-model-len sequences the pool holds at once."""
        return self.kv_blocks // math.ceil(self.max_model_len / BLOCK_SIZE)

    @property
    def fits_requested(self) -> bool | None:
        if self.max_num_seqs is None:
            return None
        return self.max_sequences >= self.max_num_seqs


def serving_fit(model: ModelProfile, memory_gib: float, config: ServerConfig = ServerConfig()) -> ServingFit:
    """Per-GPU memory of one server: weights/(TP·PP) + overheads + KV, against util × memory.

    `max_model_len` defaults to the model's context (as vLLM does). Layers
    split across pipeline stages (the largest stage counts); KV heads split
    across TP ranks (never below one per rank); MLA keeps the latent per rank.
    """
    c = config
    legacy = is_legacy_engine(c.runtime, c.engine_version)
    tp, pp = max(1, c.tensor_parallel), max(1, c.pipeline_parallel)
    weights = served_weight_bytes(model, c.dtype, c.quantization) / GIB / (tp * pp)
    layers_on_gpu = math.ceil(model.spec.layers / pp)
    per_token = kv_bytes_per_token(model, kv_dtype_bytes(c.kv_cache_dtype, model), tp) * layers_on_gpu / model.spec.layers
    return ServingFit(
        model=model.name,
        memory_gib=memory_gib,
        utilization=c.utilization,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        max_model_len=c.max_model_len or model.spec.max_context,
        max_num_seqs=c.max_num_seqs,
        weights_gib=weights,
        activation_gib=activation_gib(model, pp, legacy),
        non_torch_gib=non_torch_gib(tp, pp, legacy),
        kv_token_bytes=per_token,
        legacy_engine=legacy,
        kv_exact=model.spec.sliding_window is None,
    )


def tp_problems(model: ModelProfile, tensor_parallel: int) -> list[str]:
    """Why vLLM/TGI would refuse this TP size for the model's shapes (empty if none)."""
    s = model.spec
    tp = tensor_parallel
    out = []
    if s.attention_heads % tp:
        out.append(f"{s.attention_heads} attention heads do not divide by {tp}")
    if s.mla is None:
        if s.kv_heads >= tp and s.kv_heads % tp:
            out.append(f"{s.kv_heads} KV heads do not divide by {tp}")
        elif s.kv_heads < tp and tp % s.kv_heads:
            out.append(f"{tp} is not a multiple of the {s.kv_heads} KV heads")
    return out


def valid_tensor_parallel(model: ModelProfile, gpus_per_node: int) -> list[int]:
    """TP sizes the model's heads allow inside one node, smallest first."""
    return [tp for tp in range(1, gpus_per_node + 1) if not tp_problems(model, tp)]


@dataclass(frozen=True)
class Recommendation:
    kind: str  # "mig", "whole", "none"
    tensor_parallel: int | None
    mig_profile: str | None
    text: str
    fit: ServingFit | None


def recommend_serving(model: ModelProfile, gpu: GPUProfile, config: ServerConfig = ServerConfig()) -> Recommendation:
    """The smallest placement that fits one full sequence: a MIG slice or sharing for a model
    that needs little of the GPU, else the smallest valid TP on whole GPUs (one pipeline stage;
    the config's own parallel sizes are what is being replaced)."""
    max_num_seqs = config.max_num_seqs

    def at(tensor_parallel: int) -> ServerConfig:
        return dataclasses.replace(config, tensor_parallel=tensor_parallel, pipeline_parallel=1)

    whole = serving_fit(model, gpu.spec.memory_gi_b, at(1))
    share = whole.need_gib / gpu.spec.memory_gi_b
    if whole.fits and share <= SHARE_LIMIT:
        mig = gpu.spec.mig
        if mig is not None:
            first: tuple[str, ServingFit] | None = None
            for p in sorted(mig.profiles, key=lambda p: (p.memory_gi_b, p.compute_slices)):
                if "+" in p.name or p.name.endswith("-me"):
                    continue
                fit = serving_fit(model, p.memory_gi_b, at(1))
                if not fit.fits:
                    continue
                first = first or (p.name, fit)
                if max_num_seqs is None or fit.fits_requested:
                    break
            if first is not None:
                name, fit0 = first
                text = f"MIG {name} (needs {share:.0%} of a GPU; or share it via MPS)"
                if max_num_seqs is not None and not fit0.fits_requested:
                    text += (f"; MIG {p.name} holds {max_num_seqs} full sequences" if fit.fits_requested and p.name != name
                             else f"; {max_num_seqs} full sequences need more than one slice")
                return Recommendation("mig", 1, name, text, fit0)
        return Recommendation("whole", 1, None, f"share one GPU (MPS/time-slicing): needs {share:.0%} of it", whole)
    first_fit: ServingFit | None = None
    reach: ServingFit | None = None
    for tp in valid_tensor_parallel(model, gpu.spec.gpus_per_node):
        fit = serving_fit(model, gpu.spec.memory_gi_b, at(tp))
        if not fit.fits:
            continue
        first_fit = first_fit or fit
        if max_num_seqs is None or fit.fits_requested:
            reach = fit
            break
    if first_fit is None:
        return Recommendation("none", None, None,
                              f"does not fit one {gpu.name} node: quantize, shorten max-model-len, "
                              "pipeline-parallel across nodes or a larger GPU", None)
    text = f"TP {first_fit.tensor_parallel} on whole GPUs"
    if share > SHARE_LIMIT and first_fit.tensor_parallel == 1:
        text += f" (needs {share:.0%} of one: do not share it)"
    if max_num_seqs is not None and reach is not first_fit:
        text += (f"; TP {reach.tensor_parallel} holds {max_num_seqs} full sequences" if reach
                 else f"; no TP on one node holds {max_num_seqs} full sequences")
    return Recommendation("whole", first_fit.tensor_parallel, None, text, first_fit)


# --------------------------------------------------------------------------- training memory model
# Lives in llmkube/plan/training_memory.py (DDP, ZeRO-2 and FSDP/ZeRO-3; LoRA/QLoRA); re-exported
# here for the callers that import it from this module.
from llmkube.plan.training_memory import (  # noqa: E402
    CUDA_CONTEXT_GIB as CUDA_CONTEXT_GIB,
    TRAIN_BYTES_PER_PARAM as TRAIN_BYTES_PER_PARAM,
    TrainingFit as TrainingFit,
    training_fit as training_fit,
)
