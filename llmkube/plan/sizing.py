"""Sizing arithmetic: weight bytes, KV cache, load time, probe budgets.

Pure functions over profiles and plain numbers; figures and their sources are
in ../shared/reference/gpu-and-model-facts.md (§6, §7).
"""

from __future__ import annotations

import dataclasses
import math

from typing import TYPE_CHECKING

from llmkube.engines import DEFAULT_GPU_MEMORY_UTILIZATION, TGI_KV_CACHE_DTYPES, flag
from llmkube.profiles import GPUProfile, ModelProfile, ModelSpec
from llmkube.records import record

if TYPE_CHECKING:  # both imported by the functions that use them: an endpoint's planner (load time,
    # probe budgets) needs neither, so a render of one endpoint does not build their dataclasses
    from llmkube import modelshape
    from llmkube.plan import engine_memory as em

GIB = 2**30  # = engine_memory.GIB (tests/test_startup.py holds them equal)

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


@record(frozen=True)
class ProbeBudget:
    """A start-up probe's period and failure threshold: how long it lets a server load."""

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
# vLLM sizes its KV cache at start-up by one identity (facts §7.1b, [V] to ±0.01 GiB;
# vllm/v1/worker/gpu_worker.py `Worker.determine_available_memory`):
#
#     KV GiB = util × CUDA total − weights − activation peak − non-torch [− CUDA graphs, v0.21 on]
#
# Each term is modelled from what the engine reads, in `llmkube.plan.engine_memory`: the
# activation peak from the profiling batch (max_num_batched_tokens / max_num_seqs, whose defaults
# depend on the GPU) and the model's shapes, the KV pool per KV-cache group (sliding-window and
# hybrid models), the layers each pipeline stage holds. Weights and KV per token follow from the
# model's shapes (above).

SHARE_LIMIT = 0.40  # a model needing more than this share of one GPU should not share it

KV_DTYPE_BYTES = {"auto": None, "fp8": 1.0, "fp8_e4m3": 1.0, "fp8_e5m2": 1.0, "fp8_inc": 1.0, "fp8_ds_mla": 1.0,
                  "fp8_e4m3fn": 1.0, "bfloat16": 2.0, "float16": 2.0, "half": 2.0, "float32": 4.0, "float": 4.0}
# --dtype values (vllm/config/model.py `_STR_DTYPE_TO_TORCH_DTYPE`) → bytes of activations and an auto KV cache
SERVED_DTYPE_BYTES = {"half": 2.0, "float16": 2.0, "bfloat16": 2.0, "float": 4.0, "float32": 4.0}


def served_dtype_bytes(dtype: str | None) -> float:
    """Bytes per activation element as served. `--dtype auto` takes the checkpoint's dtype but
    downcasts float32 checkpoints to 16-bit (vllm/config/model.py `_resolve_auto_dtype`, v0.11.0 …
    v0.28: "Downcast for float32 models"); fp8 checkpoints compute in bfloat16."""
    return SERVED_DTYPE_BYTES.get((dtype or "auto").lower(), 2.0)


def served_weight_bytes(model: ModelProfile, dtype: str | None = None, quantization: str | None = None) -> float:
    """Weight bytes as vLLM reports them ("Model loading took X GiB").

    Runtime quantization (fp8 too) keeps the embeddings and LM head in 16-bit (facts §7.1b; vLLM
    0.19 `--quantization fp8` on Llama-3.1-8B: 8.49 GiB = 6.98e9 × 1 B + 1.05e9 × 2 B); an explicit
    `--dtype` sets the bytes of every weight; `auto` keeps the checkpoint's, float32 downcast to 16-bit.
    """
    params = model.spec.parameters_b * 1e9
    if quantization in QUANT_BYTES:
        embed = embedding_params(model)
        return (params - embed) * QUANT_BYTES[quantization] + embed * 2.0
    if dtype not in (None, "auto"):
        return params * served_dtype_bytes(dtype)
    native = DTYPE_BYTES.get(model.spec.dtype, 2.0)
    return params * min(native, 2.0)


def kv_dtype_bytes(kv_cache_dtype: str | None, dtype: str | None = None) -> float:
    """Bytes per KV element: `--kv-cache-dtype auto` is the served model dtype (`--dtype`, so a
    `--dtype float32` server keeps a 4-byte cache), fp8 variants 1 (vllm/config/cache.py `CacheDType`)."""
    chosen = KV_DTYPE_BYTES.get((kv_cache_dtype or "auto").lower())
    if chosen is not None:
        return chosen
    return served_dtype_bytes(dtype)


@record(frozen=True)
class ServerConfig:
    """What sizes one model server's memory: its parallelism and the engine flags that matter.

    Built from an InferenceEndpoint spec or read from a vLLM/TGI container's flags (engines.py
    SETTINGS); `serving_fit` and `recommend_serving` take it whole. None = the engine's default.
    """

    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    # --data-parallel-size: engines of TP GPUs each. An MoE's routed experts are spread over all
    # TP × DP GPUs, with or without --enable-expert-parallel (vllm/model_executor/layers/fused_moe/
    # config.py `FusedMoEParallelConfig.make`: no EP flattens TP across DP; EP gives each rank
    # experts ÷ (TP × DP) whole experts); attention, dense and shared-expert weights stay ÷ TP.
    data_parallel: int = 1
    # --enable-expert-parallel: with more than one TP × DP rank each GPU holds whole routed experts,
    # ceil(experts ÷ (TP × DP)) of them, and runs them at their whole width (`em.moe_width_parallel`,
    # `em.local_experts`); attention, dense and shared-expert weights stay ÷ TP.
    expert_parallel: bool = False
    utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION  # --gpu-memory-utilization / --cuda-memory-fraction
    max_model_len: int | None = None  # None: the model's whole context (vLLM's default)
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None  # vLLM --max-num-batched-tokens / TGI --max-batch-prefill-tokens
    chunked_prefill: bool | None = None  # --[no-]enable-chunked-prefill; None: on (V1 default for generative models)
    enforce_eager: bool = False  # --enforce-eager: no CUDA graphs
    cuda_graph_estimate: bool | None = None  # VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS; None: the version's default
    # VLLM_USE_V2_MODEL_RUNNER (1 / 0): vLLM's Model Runner V2, which before 0.29 takes nothing for
    # CUDA graphs from the KV budget (`em.uses_model_runner_v2`, `em.mrv2_counts_graphs`); None: the
    # runner the version picks for the model by default
    model_runner_v2: bool | None = None
    # FlashInfer's top-k/top-p sampler in use (VLLM_USE_FLASHINFER_SAMPLER); None: the install's default
    # (`em.flashinfer_sampler_by_default`: on in the vllm-openai image from 0.8.0 to 0.11.0, off for a pip install)
    flashinfer_sampler: bool | None = None
    # The MXFP4 MoE kernel ("marlin", "triton", "flashinfer": `em.mxfp4_moe_backend`); None: the one the
    # vLLM image picks for the device. "marlin" when VLLM_MXFP4_USE_MARLIN=1 or vLLM was installed without
    # triton_kernels (its log: "Using Marlin backend"), see `loaded_expert_extra_bytes`.
    mxfp4_backend: str | None = None
    # vLLM was installed from its PyPI wheel (`pip install vllm`) rather than run from the vllm-openai
    # image: before 0.12 that wheel has no triton_kernels, so MXFP4 experts run through Marlin on
    # Hopper (`em.mxfp4_moe_backend`, `em.TRITON_KERNELS_IN_WHEEL_SINCE`), and up to 0.11.0 it has no
    # FlashInfer, so the sampler sorts (`em.flashinfer_sampler_by_default`). llmkube renders the image.
    pip_install: bool = False
    # VLLM_MLA_DISABLE=1: an MLA model (DeepSeek V2/V3) runs without its latent KV cache, as before vLLM 0.7.1
    mla_disabled: bool = False
    # VLLM_USE_V1 (vLLM 0.8 - 0.10): False runs the V0 engine; True keeps V1 (no fallback: vLLM refuses
    # what V1 cannot serve); None lets vLLM choose (`em.falls_back_to_v0`)
    use_v1: bool | None = None
    # VLLM_ATTENTION_BACKEND as set in the container (FLASH_ATTN, FLASHINFER, XFORMERS, ...); None: the
    # platform's choice. On 0.8 - 0.10 a name V1's oracle does not list sends the server to V0
    # (`em.falls_back_to_v0`); V0's FlashInfer backend holds a 256 MiB workspace (`em.attention_workspace_bytes`)
    attention_backend: str | None = None
    # The TP group spans nodes (TP > GPUs per node): no intra-node all-reduce buffers (`em.non_torch_bytes`)
    tp_spans_nodes: bool = False
    # The engine runs under Python's offline `LLM` class, not the OpenAI server (`vllm serve`): vLLM's
    # LLM_CLASS usage context, whose default batch is larger (`em.LLM_CLASS_DEFAULTS`). llmkube renders
    # servers; a start-up log from an offline script says so ("... for LLM_CLASS usage context").
    offline: bool = False
    # vLLM --performance-mode (0.17+): "throughput" doubles the unset batch defaults (`em.profiling_batch`),
    # "interactivity" captures CUDA graphs at every batch size up to 32 (`em.capture_size_list`);
    # None: the engine's default, "balanced"
    performance_mode: str | None = None
    # --limit-mm-per-prompt of images and of videos: 0 drops the modality from profiling (both 0:
    # no encoder batch); None: vLLM's default (999). --mm-processor-kwargs max_pixels: the largest
    # image a Qwen-VL processor builds (None: the checkpoint's). See `em.vision_item`,
    # `em.mm_profiled_items`, `em.qwen_vl_item`.
    mm_limit_per_prompt: int | None = None
    mm_video_limit_per_prompt: int | None = None
    mm_max_pixels: int | None = None
    dtype: str | None = None
    quantization: str | None = None
    kv_cache_dtype: str | None = None
    runtime: str = "vllm"
    engine_version: tuple[int, ...] | None = None


@record(frozen=True)
class ServingFit:
    """One server's memory on one GPU (GiB) against what it may use, as the engine accounts it.

    The figures are those of the worker that binds — the pipeline stage with the fewest KV
    blocks, since the engine keeps the smallest block count of all workers.
    """

    model: str
    memory_gib: float  # the GPU's (or MIG slice's) memory as CUDA reports it
    utilization: float
    tensor_parallel: int
    pipeline_parallel: int
    max_model_len: int
    max_num_seqs: int | None  # as requested (None: not set)
    accounting: em.Accounting
    batch: em.ProfilingBatch
    weights_gib: float
    activation_gib: float
    non_torch_gib: float
    cuda_graph_gib: float  # 0 with --enforce-eager
    cuda_graph_counted: bool  # taken from the KV budget (vLLM ≥ 0.21 by default, not Model Runner V2 < 0.29); else captured after
    kv_token_bytes: float  # per GPU, all the stage's layers, as if every layer kept every token
    layout: em.KVLayout
    kv_blocks: int
    stage: int = 0
    model_runner_v2: bool = False  # vLLM runs the model under Model Runner V2 (`em.uses_model_runner_v2`)

    @property
    def budget_gib(self) -> float:
        """util × CUDA memory: everything the engine may allocate on one GPU (TGI: 95 % of it)."""
        return self.utilization * self.accounting.budget_factor * self.memory_gib

    @property
    def overhead_gib(self) -> float:
        """Everything besides weights and KV that the engine subtracts before sizing the KV cache."""
        return self.activation_gib + self.non_torch_gib + (self.cuda_graph_gib if self.cuda_graph_counted else 0.0)

    @property
    def kv_budget_gib(self) -> float:
        """The KV pool the engine allocates (facts §7.1b identity); negative = no room."""
        return self.budget_gib - self.weights_gib - self.overhead_gib

    @property
    def kv_sequence_gib(self) -> float:
        """KV one max-model-len request needs on this GPU (sliding-window layers only their window)."""
        return self.layout.request_bytes / GIB

    @property
    def need_gib(self) -> float:
        """Per-GPU need for one full request: the engine refuses to start below it
        (kv_cache_utils.py `check_enough_kv_cache_memory`)."""
        return self.weights_gib + self.overhead_gib + self.kv_sequence_gib

    @property
    def headroom_gib(self) -> float:
        return self.budget_gib - self.need_gib

    @property
    def fits(self) -> bool:
        return self.need_gib <= self.budget_gib

    @property
    def kv_tokens(self) -> int:
        """vLLM's "GPU KV cache size: N tokens"."""
        return self.layout.tokens(self.kv_blocks)

    @property
    def max_concurrency(self) -> float:
        """vLLM's "Maximum concurrency for max-model-len tokens per request"."""
        return self.layout.concurrency(self.kv_blocks)

    @property
    def max_sequences(self) -> int:
        """Whole max-model-len requests the pool holds at once."""
        return int(self.max_concurrency)

    @property
    def fits_requested(self) -> bool | None:
        if self.max_num_seqs is None:
            return None
        return self.max_sequences >= self.max_num_seqs


def stage_count(layers: int, pipeline_parallel: int) -> int:
    """Pipeline stages worth sizing: at most one per layer. vLLM's `get_pp_indices` gives stages
    beyond the layer count no layers at all, a configuration no one serves; sizing it stage by
    stage would only cost memory (a hostile `--pipeline-parallel-size 10**12` once did)."""
    return min(max(1, pipeline_parallel), max(1, layers))


def stage_weight_bytes(model: ModelProfile, config: ServerConfig, pipeline_parallel: int) -> list[float]:
    """Weights each pipeline stage holds, all its TP ranks together, as vLLM loads them.

    The checkpoint's own bytes per module (`modelshape.weight_bytes_by_layer`: a quantized
    checkpoint — compressed-tensors, AWQ/GPTQ with scales and zeros, fp8 keeping some layers
    16-bit, MXFP4 experts — as its `quantization_config` stores it), at the served `--dtype` for an
    unquantized one (float32 checkpoints downcast to 16-bit under `auto`). Runtime `--quantization`
    of a 16-bit checkpoint: `served_weight_bytes`, spread over the layers. The first stage holds
    the embedding (and a vision tower), the last the LM head — a tied head is a second copy once
    the two are on different stages (vllm/model_executor/models/utils.py `PPMissingLayer`).
    """
    from llmkube.plan import engine_memory as em

    s = model.spec
    parts = em.pp_partition(s.layers, stage_count(s.layers, pipeline_parallel))
    wb = _served_weight_bytes(model, config)
    out: list[float] = []
    start = 0
    for stage, n in enumerate(parts):
        first, last = stage == 0, stage == len(parts) - 1
        total = sum(wb.layers[start:start + n])
        start += n
        if first:
            total += wb.embedding + wb.other
        if last:
            total += wb.lm_head if wb.lm_head or len(parts) == 1 else wb.embedding
        out.append(total)
    return out


def stage_routed_expert_bytes(model: ModelProfile, config: ServerConfig, pipeline_parallel: int) -> list[float]:
    """The part of each stage's weights (`stage_weight_bytes`) that is routed experts: each layer's
    served bytes × the experts' share of that layer in the checkpoint. Zero for a dense model."""
    from llmkube import modelshape
    from llmkube.plan import engine_memory as em

    s = model.spec
    parts = em.pp_partition(s.layers, stage_count(s.layers, pipeline_parallel))
    if s.experts is None:
        return [0.0] * len(parts)
    experts, whole = modelshape.expert_bytes_by_layer(s)
    served = _served_weight_bytes(model, config).layers
    out, start = [], 0
    for n in parts:
        out.append(sum(served[i] * experts[i] / whole[i] for i in range(start, start + n) if whole[i]))
        start += n
    return out


def _served_weight_bytes(model: ModelProfile, config: ServerConfig) -> modelshape.WeightBytes:
    """The checkpoint's bytes per module as the engine serves them (see `stage_weight_bytes`)."""
    from llmkube import modelshape

    s = model.spec
    if config.quantization in QUANT_BYTES and s.quantization is None:
        table = s.vocab_size * s.hidden_size * 2.0
        head = 0.0 if s.tie_embeddings else table
        per_layer = max(0.0, served_weight_bytes(model, config.dtype, config.quantization) - table - head) / s.layers
        wb = modelshape.WeightBytes(table, head, tuple([per_layer] * s.layers), 0.0)
    else:
        wb = modelshape.weight_bytes_by_layer(s)
        if s.quantization is None and s.dtype != "float8":
            scale = served_dtype_bytes(config.dtype) / modelshape.unquantized_bytes(s)
            wb = modelshape.WeightBytes(wb.embedding * scale, wb.lm_head * scale,
                                        tuple(b * scale for b in wb.layers), wb.other * scale)
    return wb


def routed_expert_share(model: ModelProfile, config: ServerConfig) -> float:
    """The share of the routed experts' bytes one GPU holds: 1 ÷ (TP × DP) when each expert's
    width is split over the flattened ranks (no EP), ceil(experts ÷ ranks) ÷ experts under expert
    parallelism (`em.local_experts`: the busiest rank, which binds, when the count does not divide)."""
    from llmkube.plan import engine_memory as em

    ranks = max(1, config.tensor_parallel) * max(1, config.data_parallel)
    e = model.spec.experts
    if e is not None and em.moe_width_parallel(config.tensor_parallel, config.data_parallel, config.expert_parallel) == 1 and ranks > 1:
        return em.local_experts(e.total, ranks) / e.total
    return 1.0 / ranks


def loaded_expert_extra_bytes(model: ModelProfile, config: ServerConfig, gpu_name: str, layers: range) -> float:
    """What one GPU holds beyond its share of the checkpoint for the MoE layers `layers` once vLLM
    has prepared an MXFP4 checkpoint's experts for its kernel (padding, float32 biases, Hopper's
    second, swizzled copy of the scales: `engine_memory.mxfp4_expert_layer_bytes`; the caching
    allocator's rounding of those tensors: `engine_memory.mxfp4_expert_rounding_bytes`). Zero for other
    checkpoints, for TGI and when the device name does not tell the kernel.

    The kernel is `config.mxfp4_backend` when given, else the device's (`em.mxfp4_moe_backend`).
    vllm/model_executor/layers/quantization/mxfp4.py `get_mxfp4_backend` (v0.11 … v0.14): on CUDA,
    after the FlashInfer branches, "if envs.VLLM_MXFP4_USE_MARLIN or not triton_kernels_supported"
    → Marlin ("Using Marlin backend"), where triton_kernels_supported needs the `triton_kernels`
    package, torch ≥ 2.8 and 9.0 ≤ capability < 11.0. So the switch and an install without
    triton_kernels (a pip wheel before vllm-project/vllm#28788) both give Hopper Marlin's padded
    experts: the fit rows vllm-i27508-gpt-oss-120b-h100-util095 and
    gh-aimo3-gpt-oss-120b-h100-fp8kv-v0112 (0.11.x pip installs whose logs say "Using Marlin
    backend", 65.97 GiB loaded against the image's 64.38)."""
    from llmkube import modelshape
    from llmkube.plan import engine_memory as em

    s = model.spec
    q = s.quantization
    backend = config.mxfp4_backend or em.mxfp4_moe_backend(gpu_name, config.engine_version, config.pip_install)
    if (q is None or q.method != "mxfp4" or s.experts is None or backend is None or config.runtime != "vllm"
            or config.quantization not in (None, "mxfp4")):
        return 0.0
    # The kernel pads each expert's width as split over the MoE's ranks (whole under EP), and the
    # GPU holds `routed_expert_share` of the experts laid out that way.
    width_tp = em.moe_width_parallel(config.tensor_parallel, config.data_parallel, config.expert_parallel)
    share = routed_expert_share(model, config)
    checkpoint = [0.0] * s.layers
    quantized: set[int] = set()
    for t in modelshape.tensors(s):
        if t.group == "experts" and t.layer is not None:
            checkpoint[t.layer] += modelshape.tensor_bytes(s, t)
            if modelshape.is_quantized(s, t):
                quantized.add(t.layer)
    loaded = em.mxfp4_expert_layer_bytes(s, width_tp, backend) * width_tp * share
    # ... and the caching allocator's rounding of those tensors as this GPU allocates them (all the
    # experts at the split width, or its whole experts under EP: `em.mxfp4_expert_rounding_bytes`)
    loaded += em.mxfp4_expert_rounding_bytes(s, width_tp, backend, round(s.experts.total * share * width_tp))
    return sum(loaded - checkpoint[i] * share for i in layers if i in quantized)


def replicated_weight_bytes(model: ModelProfile, config: ServerConfig, layers: range) -> float:
    """What one GPU holds of the decoder layers `layers` beyond its 1/TP share of their non-expert
    weights (`serving_fit` divides those by TP): the tensors vLLM replicates on every TP rank.

    - An MoE router: every vLLM MoE block read builds it whole on each rank, `ReplicatedLinear`
      (vllm/model_executor/models/qwen3_moe.py, qwen2_moe.py, mixtral.py, deepseek_v2.py,
      granitemoe.py `self.gate`, llama4.py `self.router`, v0.10.0) or a plain `torch.nn.Linear`
      (gpt_oss.py `self.router`, v0.11.0): (1 − 1/TP) of its bytes more per GPU.
    - K and V projections when there are fewer KV heads than TP ranks: vllm/model_executor/layers/
      linear.py `QKVParallelLinear.__init__` (v0.10.0) gives each rank one KV head ("if tp_size >=
      self.total_num_kv_heads: self.num_kv_heads = 1; self.num_kv_head_replicas = tp_size //
      total_num_kv_heads"), i.e. max(1, kv ÷ TP) heads of the checkpoint's kv.
    Bytes per tensor as the checkpoint stores them (fp8 and other quantized linears with their
    scales), at the served dtype for an unquantized one. Zero at TP 1, for TGI, and for a runtime
    `--quantization` of a 16-bit checkpoint (whose per-tensor layout is not kept). Fit row
    gh-evaldataset-qwen3-235b-fp8-8xh100-ep-v0100 (TP 8, 4 KV heads, 94 routers [128, 4096] bf16):
    loaded 27.67 GiB against 27.54 without this term."""
    from llmkube import modelshape

    s = model.spec
    tp = max(1, config.tensor_parallel)
    if tp == 1 or config.runtime != "vllm" or (config.quantization in QUANT_BYTES and s.quantization is None):
        return 0.0
    spec = modelshape.stored_spec(s)
    scale = (served_dtype_bytes(config.dtype) / modelshape.unquantized_bytes(s)
             if s.quantization is None and s.dtype != "float8" else 1.0)
    kv_share = max(1, s.kv_heads // tp) / s.kv_heads if s.kv_heads and s.mla is None else 1.0 / tp
    extra = 0.0
    for t in modelshape.tensors(s):
        if t.layer is None or t.layer not in layers:
            continue
        if t.group == "router":
            extra += modelshape.tensor_bytes(spec, t) * (1.0 - 1.0 / tp)
        elif t.group == "attention" and t.name.endswith((".k_proj", ".v_proj")) and kv_share > 1.0 / tp:
            extra += modelshape.tensor_bytes(spec, t) * (kv_share - 1.0 / tp)
    return extra * scale


def serving_fit(model: ModelProfile, memory_gib: float, config: ServerConfig = ServerConfig(), *,
                gpu_name: str = "") -> ServingFit:
    """Per-GPU memory of one server as its engine accounts it at start-up.

    `memory_gib` is the GPU's memory as CUDA reports it; `gpu_name` its device name, which vLLM
    reads for its batch defaults (an A100 keeps the small ones). `max_model_len` defaults to the
    model's context (as vLLM does). Every pipeline stage is sized; the one with the fewest KV
    blocks binds.
    """
    from llmkube.plan import engine_memory as em

    c = config
    s = model.spec
    acc = em.accounting_for(c.runtime, c.engine_version, gpu_name=gpu_name, kv_cache_dtype=c.kv_cache_dtype,
                            mla=s.mla is not None and not c.mla_disabled, use_v1=c.use_v1,
                            attention_backend=c.attention_backend)
    tp, pp = max(1, c.tensor_parallel), stage_count(s.layers, c.pipeline_parallel)
    max_len = c.max_model_len or s.max_context
    batch = em.profiling_batch(c.runtime, memory_gib, gpu_name, max_len, c.max_num_batched_tokens,
                               c.max_num_seqs, c.chunked_prefill, accounting=acc, version=c.engine_version,
                               sliding_window=s.sliding_window is not None,
                               mla=s.mla is not None and not c.mla_disabled,
                               multimodal=bool(s.vision_parameters_b), offline=c.offline,
                               performance_mode=c.performance_mode)
    act_bytes = served_dtype_bytes(c.dtype)
    kv_bytes = kv_dtype_bytes(c.kv_cache_dtype, c.dtype)
    # vLLM caches MLA's latent from 0.7.1 unless VLLM_MLA_DISABLE=1 (`em.MLA_CACHE_SINCE`)
    mla_cache = c.runtime != "vllm" or not (c.mla_disabled or (c.engine_version is not None
                                                             and em.release(c.engine_version) < em.MLA_CACHE_SINCE))
    token_layer = em.kv_bytes_per_token_per_layer(s, kv_bytes, tp, mla_cache)
    stage_weights = stage_weight_bytes(model, c, pp)
    dp = max(1, c.data_parallel)
    # Routed experts spread over TP × DP ranks (flattened width, or whole experts under EP)
    expert_share = routed_expert_share(model, c)
    whole_experts = em.moe_width_parallel(tp, dp, c.expert_parallel) == 1 and tp * dp > 1
    stage_experts = stage_routed_expert_bytes(model, c, pp) if dp > 1 or whole_experts else [0.0] * pp
    # The fused-MoE intermediates are as wide as a whole expert under EP; without EP they stay the
    # TP slice (with DP the flattened width shrinks but the dispatched tokens grow alike: not modelled)
    moe_tp = 1 if whole_experts else tp
    graphs_on = c.runtime == "vllm" and not c.enforce_eager
    counted = graphs_on and (c.cuda_graph_estimate if c.cuda_graph_estimate is not None else acc.cuda_graphs_counted)
    # Model Runner V2 (vLLM 0.22+ for some models, `em.uses_model_runner_v2`) has no CUDA-graph
    # estimate before 0.29: graphs are captured after the KV cache is sized, whatever the switch says
    mrv2 = (c.runtime == "vllm" and acc.engine == "v1"
            and em.uses_model_runner_v2(s.architecture, s.experts is not None,
                                        s.quantization is not None or c.quantization is not None,
                                        c.engine_version, c.model_runner_v2))
    if mrv2 and not em.mrv2_counts_graphs(c.engine_version):
        counted = False
    non_torch = em.non_torch_bytes(acc, tp, pp, gpu_name, c.tp_spans_nodes, eager=c.enforce_eager and c.runtime == "vllm",
                                   version=c.engine_version if c.runtime == "vllm" else None)
    if c.runtime == "vllm" and acc.engine == "v1":
        # FlashInfer's all-reduce fusion workspace (0.17+, Hopper/Blackwell, TP 2/4/8): 1.5 GiB on 0.17 - 0.21, less after
        non_torch += em.fi_allreduce_fusion_workspace_bytes(
            c.engine_version, gpu_name, tp, s.hidden_size, act_bytes, batch.tokens, pipeline_parallel=pp,
            data_parallel=dp, eager=c.enforce_eager, tp_spans_nodes=c.tp_spans_nodes)
    kinds = em.layer_kinds(s)
    if acc.engine == "v0":
        # V0 has no hybrid allocator: vllm/worker/cache_engine.py `CacheEngine._allocate_kv_cache`
        # gives every layer the same blocks, each token held in all of them (v0.6.4, v0.7.3)
        kinds = ["full_attention"] * len(kinds)
    # vLLM's RoPE cos/sin table loads with the weights, one copy per GPU (`em.rope_cache_bytes`)
    rope = em.rope_cache_bytes(s, act_bytes) if c.runtime == "vllm" else 0.0
    # The fused-MoE workspace a forward pass leaves allocated (`em.moe_workspace_bytes`)
    moe_workspace = (em.moe_workspace_bytes(s, batch.tokens, moe_tp, act_bytes)
                     if c.runtime == "vllm" and acc.moe_workspace_persists and em.triton_moe_experts(s, c.quantization)
                     else 0.0)
    # The top-k/top-p sampler the profiling sampler run uses: the server's setting, else the install's
    # default (FlashInfer's sort-free kernel in the vllm-openai image 0.8 - 0.11.0: `em.flashinfer_sampler_by_default`)
    flashinfer_sampler = (c.flashinfer_sampler if c.flashinfer_sampler is not None
                          else em.flashinfer_sampler_by_default(acc, c.engine_version, c.pip_install))
    # The multimodal profiling batch V1 keeps through the profile run (`em.mm_profile_bytes`)
    mm_held = (em.mm_profile_bytes(s, batch, max_len, act_bytes, c.engine_version, c.mm_limit_per_prompt,
                                   c.mm_max_pixels, c.mm_video_limit_per_prompt)
               if c.runtime == "vllm" and acc.engine == "v1" else 0.0)
    # V0's FlashInfer attention workspace, allocated by the profiling forward (`em.attention_workspace_bytes`)
    attention_held = em.attention_workspace_bytes(acc, c.engine_version, c.attention_backend)
    # ... and the vision tower's own forward over that batch, before the language model's (`em.encoder_peak_bytes`)
    encoder_peak = (em.encoder_peak_bytes(s, batch, max_len, act_bytes, tp, c.engine_version, c.mm_limit_per_prompt,
                                          c.mm_max_pixels, c.mm_video_limit_per_prompt)
                    if c.runtime == "vllm" and acc.engine == "v1" else 0.0)
    # CUDA graphs as vLLM estimates them (`em.cuda_graph_bytes`): FULL decode graphs beside the
    # piecewise ones under V1's default FULL_AND_PIECEWISE, and the first capture's graph pool (the
    # forward's intermediates at the largest capture size)
    full_decode = acc.engine == "v1" and (c.engine_version is None
                                          or em.release(c.engine_version) >= em.FULL_AND_PIECEWISE_SINCE)
    # --performance-mode interactivity (0.17+) captures every batch size up to 32 (`em.capture_size_list`)
    fine_graphs = c.performance_mode == "interactivity" and (c.engine_version is None or em.release(c.engine_version)
                                                             >= em.PERFORMANCE_MODE_SINCE)
    graph_pool = em.forward_peak_bytes(s, em.max_capture_size(batch.seqs, batch.tokens), tp, act_bytes,
                                       acc.mlp_live, moe_tp) if graphs_on else 0.0
    # The caching allocator's rounding of the weight tensors (`em.weight_rounding_bytes`), where their
    # layout is known (`_rounded_linear_bytes`: 16-bit, 8-bit and 4-bit integer linears)
    linear_bytes = _rounded_linear_bytes(model, c, act_bytes)
    best: ServingFit | None = None
    start = 0
    for stage, n in enumerate(em.pp_partition(s.layers, pp)):
        first, last = stage == 0, stage == pp - 1
        weights = ((stage_weights[stage] - stage_experts[stage]) / tp + stage_experts[stage] * expert_share
                   + loaded_expert_extra_bytes(model, c, gpu_name, range(start, start + n)) + rope
                   + replicated_weight_bytes(model, c, range(start, start + n))
                   + (em.weight_rounding_bytes(s, tp, act_bytes, n, first, last, linear_bytes)
                      if linear_bytes is not None else 0.0))
        activation = em.activation_bytes(s, acc, batch, tp, act_bytes, first, last, flashinfer_sampler,
                                         persistent_bytes=moe_workspace,
                                         eager=c.enforce_eager and c.runtime == "vllm", held_bytes=mm_held + attention_held,
                                         moe_tensor_parallel=moe_tp if c.runtime == "vllm" else None,
                                         mlp_held_hidden=em.dense_mlp_held_hidden(s, acc, c.engine_version),
                                         model_runner_v2=mrv2,
                                         down_step=em.v0_down_projection_step(s, acc, c.engine_version, tp))
        if first:  # the tower runs on the first pipeline stage
            activation = max(activation, encoder_peak)
        graphs = (em.cuda_graph_bytes(batch.seqs, n, batch.tokens, full_decode, graph_pool, fine_graphs)
                  if graphs_on else 0.0)
        layout = em.kv_layout(s, kinds[start:start + n], token_layer, max_len, batch.tokens)
        start += n
        kv_budget = c.utilization * acc.budget_factor * memory_gib * GIB - weights - activation - non_torch - (graphs if counted else 0.0)
        fit = ServingFit(
            model=model.name, memory_gib=memory_gib, utilization=c.utilization, tensor_parallel=tp,
            pipeline_parallel=pp, max_model_len=max_len, max_num_seqs=c.max_num_seqs, accounting=acc, batch=batch,
            weights_gib=weights / GIB, activation_gib=activation / GIB, non_torch_gib=non_torch / GIB,
            cuda_graph_gib=graphs / GIB, cuda_graph_counted=counted, kv_token_bytes=token_layer * n,
            layout=layout, kv_blocks=layout.blocks(kv_budget) if kv_budget > 0 else 0, stage=stage,
            model_runner_v2=mrv2,
        )
        if best is None or (fit.kv_blocks, fit.kv_budget_gib) < (best.kv_blocks, best.kv_budget_gib):
            best = fit
    assert best is not None
    return best


def _rounded_linear_bytes(model: ModelProfile, config: ServerConfig, act_bytes: float) -> float | None:
    """Bytes per element of the decoder layers' linear weights as vLLM allocates them, where
    `em.weight_rounding_bytes` knows their layout: the served 16-bit dtype for an unquantized
    checkpoint (and for the dense layers of an expert-only scheme), 1 for an 8-bit one
    (compressed-tensors W8A8 / FP8, fp8 checkpoints: [out, in] int8 or fp8 weights), 0.5 for 4-bit
    integer packings (AWQ, GPTQ, compressed-tensors W4A16: int32 tensors of eight values each, as
    large in bytes as the packed weight whichever dimension is packed; the Marlin repack after
    loading allocates a tensor of the same size in place of each); None for other schemes, for
    checkpoints that keep decoder linears unquantized besides the LM head, and for runtime
    `--quantization` (which quantizes 16-bit tensors after loading them)."""
    s = model.spec
    if config.runtime != "vllm" or (config.quantization is not None and s.quantization is None):
        return None  # vLLM only, and not runtime quantization of a 16-bit checkpoint
    q = s.quantization
    if q is None:
        return 1.0 if s.dtype == "float8" else act_bytes
    if q.targets == "experts":  # MXFP4 experts only: the dense layers listed stay 16-bit
        return act_bytes
    if any("lm_head" not in pattern for pattern in q.ignore):
        return None  # some decoder linears stay 16-bit: which ones is not followed here
    if q.weight_bits == 8 and q.method in ("compressed-tensors", "fp8", "fbgemm_fp8", "awq", "gptq"):
        return 1.0
    if q.weight_bits == 4 and q.weight_type == "int" and q.method in ("compressed-tensors", "awq", "gptq"):
        return 0.5  # eight 4-bit values per int32, packed along one dimension
    return None


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


def quantization_tp_problems(model: ModelProfile, tensor_parallel: int, data_parallel: int = 1,
                             expert_parallel: bool = False) -> list[str]:
    """Why vLLM would refuse to load a block-quantized fp8 checkpoint split this way (empty if none).

    Every rank must hold whole weight blocks (`weight_block_size`, [block_n, block_k], 128 × 128 for
    DeepSeek-V3 and Qwen3 FP8): vllm/model_executor/layers/quantization/fp8.py `Fp8MoEMethod.create_weights`
    raises "The output_size of gate's and up's weight = {width ÷ TP} is not divisible by weight
    quantization block_n = {block_n}" (and `validate_fp8_block_shape` "Weight output_partition_size
    … is not divisible" for the dense layers). The routed experts' width is split over the MoE's
    ranks (`em.moe_width_parallel`: TP × DP, or not at all under expert parallelism, which is how
    such checkpoints run at TP 8: Qwen3-235B-A22B-FP8's 1,536-wide experts are 192 per rank at
    TP 8); dense MLPs and shared experts over TP.
    """
    from llmkube.plan import engine_memory as em

    s = model.spec
    q = s.quantization
    if q is None or q.method != "fp8" or not q.block_size:
        return []
    block_n = q.block_size[0]
    tp = max(1, tensor_parallel)
    out: list[str] = []

    def check(what: str, width: int, ways: int) -> None:
        if ways > 1 and (width % ways or (width // ways) % block_n):
            out.append(f"{what} {width} split {ways} ways is not a whole number of the fp8 checkpoint's "
                       f"{block_n}-wide weight blocks")

    e = s.experts
    if e is not None:
        check("each routed expert's width", _moe_width(s), em.moe_width_parallel(tp, data_parallel, expert_parallel))
        if e.shared:
            check("the shared expert's width", e.shared_intermediate_size or _moe_width(s), tp)
    if s.intermediate_size and (e is None or e.dense_layers or e.layer_step > 1):
        check("the dense MLP's width", s.intermediate_size, tp)
    return out


def _moe_width(spec: ModelSpec) -> int:
    own = spec.experts.intermediate_size if spec.experts is not None else None
    return int(own or spec.intermediate_size or 4 * spec.hidden_size)


def valid_tensor_parallel(model: ModelProfile, gpus_per_node: int, data_parallel: int = 1,
                          expert_parallel: bool = False) -> list[int]:
    """TP sizes the model's heads — and a block-quantized fp8 checkpoint's weight blocks
    (`quantization_tp_problems`) — allow inside one node, smallest first."""
    return [tp for tp in range(1, gpus_per_node + 1)
            if not tp_problems(model, tp) and not quantization_tp_problems(model, tp, data_parallel, expert_parallel)]


@record(frozen=True)
class Recommendation:
    """What to change so that a server fits: a MIG profile, a tensor-parallel size, or nothing that does."""

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

    device = gpu.spec.display_name
    whole = serving_fit(model, gpu.spec.memory_gi_b, at(1), gpu_name=device)
    share = whole.need_gib / gpu.spec.memory_gi_b
    if whole.fits and share <= SHARE_LIMIT:
        mig = gpu.spec.mig
        if mig is not None:
            first: tuple[str, ServingFit] | None = None
            for p in sorted(mig.profiles, key=lambda p: (p.memory_gi_b, p.compute_slices)):
                if "+" in p.name or p.name.endswith("-me"):
                    continue
                fit = serving_fit(model, p.memory_gi_b, at(1), gpu_name=device)
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
    for tp in valid_tensor_parallel(model, gpu.spec.gpus_per_node, config.data_parallel, config.expert_parallel):
        fit = serving_fit(model, gpu.spec.memory_gi_b, at(tp), gpu_name=device)
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
    if config.data_parallel > 1:  # `at` replaces TP and PP only: the MoE experts stay spread over TP x DP
        text += f" per data-parallel rank (DP {config.data_parallel} kept)"
    if share > SHARE_LIMIT and first_fit.tensor_parallel == 1:
        text += f" (needs {share:.0%} of one: do not share it)"
    if max_num_seqs is not None and reach is not first_fit:
        text += (f"; TP {reach.tensor_parallel} holds {max_num_seqs} full sequences" if reach
                 else f"; no TP on one node holds {max_num_seqs} full sequences")
    return Recommendation("whole", first_fit.tensor_parallel, None, text, first_fit)


MAX_UTILIZATION = 0.95  # above this the CUDA context (~0.5 GiB) and graphs captured later no longer fit beside


def _longest_fitting_context(model: ModelProfile, fit: ServingFit, config: ServerConfig, gpu_name: str) -> int | None:
    """The longest max-model-len (whole blocks) below the current one at which the server starts;
    searched, since the profiling batch (TGI, or vLLM without chunked prefill) follows the length."""
    def fits(length: int) -> bool:
        return serving_fit(model, fit.memory_gib, dataclasses.replace(config, max_model_len=length), gpu_name=gpu_name).fits

    from llmkube.plan.engine_memory import BLOCK_SIZE

    lo, hi = 0, (fit.max_model_len - 1) // BLOCK_SIZE  # in blocks
    if hi < 1 or not fits(BLOCK_SIZE):
        return None
    lo = 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid * BLOCK_SIZE):
            lo = mid
        else:
            hi = mid - 1
    return lo * BLOCK_SIZE


def fit_options(model: ModelProfile, fit: ServingFit, config: ServerConfig, *, gpu_name: str = "") -> list[str]:
    """What would make a server that does not fit start, each option checked against the same
    accounting: a higher gpuMemoryUtilization, a shorter context, an fp8 KV cache, a quantized
    checkpoint (fp8, else 4-bit). (More GPUs: `recommend_serving`.)"""
    out: list[str] = []
    util = fit.need_gib / fit.memory_gib
    engine = config.runtime
    if util <= MAX_UTILIZATION and util > fit.utilization:
        out.append(f"gpuMemoryUtilization {math.ceil(util * 100) / 100:g} ({flag(engine, 'gpu_memory_utilization')})")
    longest = _longest_fitting_context(model, fit, config, gpu_name)
    if longest:
        out.append(f"maxModelLen ≤ {longest} ({flag(engine, 'max_model_len')})")
    if (config.kv_cache_dtype or "auto").lower() in ("auto", "bfloat16", "float16", "half", "float32", "float"):
        if serving_fit(model, fit.memory_gib, dataclasses.replace(config, kv_cache_dtype="fp8"), gpu_name=gpu_name).fits:
            out.append(f"kvCacheDtype fp8 ({flag(engine, 'kv_cache_dtype')} {'fp8' if engine == 'vllm' else TGI_KV_CACHE_DTYPES['fp8']})")
    if config.quantization is None and model.spec.quantization is None and model.spec.dtype != "float8":
        # A 16-bit checkpoint only: one that is already quantized says so in its config (and
        # `stage_weight_bytes` sizes it as stored). fp8 first (the smaller step), then 4-bit weights
        # with 16-bit embeddings and LM head (`served_weight_bytes`), each checked like the others.
        if serving_fit(model, fit.memory_gib, dataclasses.replace(config, quantization="fp8"), gpu_name=gpu_name).fits:
            out.append("an fp8 or 4-bit (AWQ/GPTQ) checkpoint")
        elif serving_fit(model, fit.memory_gib, dataclasses.replace(config, quantization="awq"), gpu_name=gpu_name).fits:
            out.append("a 4-bit (AWQ/GPTQ) checkpoint (fp8 is not enough)")
    return out

