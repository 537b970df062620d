"""Model servers llmkube knows — vLLM and TGI — and how each spells the same settings.

One table, three users: the planner writes an InferenceEndpoint's limits as
these flags (`plan.inference.runtime_args`), the manifest reader reads them back
from any vLLM/TGI container (`check.read.servers`), and provenance maps a flag
in rendered output to the spec field that set it (`check.provenance`). A new
engine flag is one row here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from llmkube.lazyre import lazy
from llmkube.records import record

Engine = Literal["vllm", "tgi"]
ENGINES: tuple[Engine, ...] = ("vllm", "tgi")
FlagValue = int | float | str | bool | None  # None: not set; True/False: a switch

# Pinned, never `:latest`: a rollout must not change the server under you.
DEFAULT_IMAGES: dict[str, str] = {
    "vllm": "vllm/vllm-openai:v0.11.0",
    "tgi": "ghcr.io/huggingface/text-generation-inference:3.3.6",
}
HEALTH_PATH: dict[str, str] = {"vllm": "/health", "tgi": "/health"}
DEFAULT_GPU_MEMORY_UTILIZATION = 0.90  # vLLM --gpu-memory-utilization default before 0.21 (facts §7.1)
# From v0.21.0 vLLM's default is 0.92: vllm-project/vllm#38284 ("[Startup][UX] Enable CUDAGraph memory
# profiling by default") raised `CacheConfig.gpu_memory_utilization` (vllm/config/cache.py,
# `Field(default=0.92, ...)`) with the CUDA-graph estimate it turned on, and 0.21+ logs print "CUDA graph
# memory profiling is enabled (default since v0.21.0). The current --gpu-memory-utilization=0.9200 ..."
# for a server started without the flag. llmkube's spec always writes the flag (its own default 0.90).
DEFAULT_GPU_MEMORY_UTILIZATION_V021 = 0.92
GPU_MEMORY_UTILIZATION_092_SINCE = (0, 21, 0)
DEFAULT_TGI_MEMORY_FRACTION = 1.0  # TGI --cuda-memory-fraction default
# InferenceEndpoint `startup` defaults (specs/inferenceendpoint.py `Startup`), here so that the
# readers size a hand-written server's start-up without importing the spec models.
DEFAULT_LOAD_THROUGHPUT_GBPS = 0.5  # GB/s from local disk into GPU memory
DEFAULT_STARTUP_OVERHEAD_SECONDS = 120  # engine start-up besides loading (CUDA graphs, warm-up)
# vLLM's quantization methods among the spec's choices; TGI's --quantize takes them all.
VLLM_QUANTIZATIONS = {"awq", "gptq", "fp8", "bitsandbytes", "marlin"}
TGI_DTYPES = {"bfloat16", "float16"}  # what TGI's --dtype accepts
# Prometheus queries for scaling on the server's own metrics (per-replica targets).
METRIC_QUERIES = {
    ("vllm", "queued-requests"): 'sum(vllm:num_requests_waiting{{namespace="{ns}",model_name="{model}"}})',
    ("vllm", "kv-cache-usage"): 'avg(vllm:kv_cache_usage_perc{{namespace="{ns}",model_name="{model}"}})',
    ("tgi", "queued-requests"): 'sum(tgi_queue_size{{namespace="{ns}",pod=~"{name}-predictor-.*"}})',
}


@record(frozen=True)
class Setting:
    """One server setting: the InferenceEndpoint field it comes from and each engine's spelling.

    The first flag of an engine is the one llmkube writes; the others are
    spellings the engine also accepts (read from manifests only). `off` is the
    flag that turns a boolean setting off.
    """

    name: str
    field: str | None  # spec key (camelCase); None for settings only read from manifests
    vllm: tuple[str, ...] = ()
    tgi: tuple[str, ...] = ()
    tgi_env: str | None = None  # TGI's launcher also reads its settings from the environment
    vllm_off: str | None = None

    def flags(self, engine: str) -> tuple[str, ...]:
        return self.vllm if engine == "vllm" else self.tgi

    def written(self, engine: str) -> tuple[str, ...]:
        """The flags llmkube itself may write for this setting."""
        first = self.flags(engine)[:1]
        return (*first, self.vllm_off) if engine == "vllm" and self.vllm_off else first


# In the order llmkube writes them.
SETTINGS: tuple[Setting, ...] = (
    Setting("model", "model", ("--model",), ("--model-id",), "MODEL_ID"),
    Setting("served_model_name", "servedModelName", ("--served-model-name",)),
    Setting("port", "port", ("--port",), ("--port",)),
    Setting("tensor_parallel", "tensorParallel", ("--tensor-parallel-size", "-tp"), ("--num-shard",), "NUM_SHARD"),
    Setting("gpu_memory_utilization", "gpuMemoryUtilization", ("--gpu-memory-utilization",),
            ("--cuda-memory-fraction",), "CUDA_MEMORY_FRACTION"),
    Setting("max_model_len", "maxModelLen", ("--max-model-len",), ("--max-total-tokens",), "MAX_TOTAL_TOKENS"),
    Setting("max_input_tokens", "maxModelLen", (), ("--max-input-tokens",)),  # TGI: max-model-len − 1
    # The batch: sequences one scheduler step runs. vLLM queues the rest (vllm/config/scheduler.py
    # SchedulerConfig.max_num_seqs; the V1 Scheduler.schedule stops admitting from its waiting queue
    # at that many running requests). TGI v3 caps its first batch by --max-batch-size
    # (backends/v3/src/backend.rs batching_task; with prefill chunking the running batch is bounded
    # by tokens instead, see docs/spec-reference.md).
    Setting("max_num_seqs", "maxNumSeqs", ("--max-num-seqs",), ("--max-batch-size",), "MAX_BATCH_SIZE"),
    # Tokens one forward step may process: vLLM --max-num-batched-tokens (must be >= max-num-seqs,
    # SchedulerConfig.verify_max_model_len); TGI --max-batch-prefill-tokens (launcher/src/main.rs v3.3.6).
    Setting("max_batch_tokens", "maxBatchTokens", ("--max-num-batched-tokens",), ("--max-batch-prefill-tokens",),
            "MAX_BATCH_PREFILL_TOKENS"),
    # Admission cap, TGI only: the router takes a semaphore permit per request without waiting and
    # answers 429 "Model is overloaded" when none is left (router/src/infer/mod.rs, server.rs, v3.3.7;
    # launcher default 128). vLLM has no such cap: every request waits in its queue.
    Setting("max_concurrent_requests", "maxConcurrentRequests", (), ("--max-concurrent-requests",),
            "MAX_CONCURRENT_REQUESTS"),
    Setting("chunked_prefill", "chunkedPrefill", ("--enable-chunked-prefill",), vllm_off="--no-enable-chunked-prefill"),
    # Embedding models on vLLM: --runner pooling (+ --convert embed) from 0.10.1, --task before (see embedding_values).
    Setting("task", "task", ("--task",)),
    Setting("runner", "task", ("--runner",)),
    Setting("convert", "task", ("--convert",)),
    Setting("dtype", "dtype", ("--dtype",), ("--dtype",)),
    Setting("quantization", "quantization", ("--quantization", "-q"), ("--quantize",), "QUANTIZE"),
    # Pipeline stages: vLLM only (TGI has no pipeline parallelism); the GPUs are TP × PP.
    Setting("pipeline_parallel", "pipelineParallel", ("--pipeline-parallel-size", "-pp")),
    # Data-parallel engines (vllm/engine/arg_utils.py `--data-parallel-size`): read from manifests
    # only, for sizing an MoE whose experts spread over TP × DP GPUs (plan/sizing.py ServerConfig).
    Setting("data_parallel", None, ("--data-parallel-size", "-dp")),
    # Whole routed experts per GPU (vllm/engine/arg_utils.py `--enable-expert-parallel`, `-ep`): read
    # from manifests only, for sizing (plan/sizing.py ServerConfig.expert_parallel); llmisvc.py writes
    # it from an LLMInferenceService's parallelism.expert.
    Setting("expert_parallel", None, ("--enable-expert-parallel", "-ep")),
    # Data-parallel engines this pod starts (default: all of them, on one node).
    Setting("data_parallel_local", None, ("--data-parallel-size-local", "-dpl")),
    # This pod is one engine behind an external load balancer (exactly one local engine).
    Setting("data_parallel_rank", None, ("--data-parallel-rank", "-dpn")),
    # KV-cache element type: vLLM auto (= the served dtype), fp8, fp8_e4m3, fp8_e5m2
    # (vllm/config/cache.py CacheDType); TGI fp8_e4m3fn / fp8_e5m2 (launcher KVCacheDtype).
    Setting("kv_cache_dtype", "kvCacheDtype", ("--kv-cache-dtype",), ("--kv-cache-dtype",)),
    # No CUDA graphs (vllm/config/model.py enforce_eager): no graph memory, slower decode.
    Setting("enforce_eager", "enforceEager", ("--enforce-eager",)),
    # vLLM 0.17+ (vllm-project/vllm#34936): "throughput" doubles the unset batch defaults; read from
    # manifests only, for sizing (plan/sizing.py ServerConfig.performance_mode).
    Setting("performance_mode", None, ("--performance-mode",)),
    # One server over several nodes without Ray: vLLM 0.12 on (PR #23691, "[V1] Support MP Executor for
    # multi node distributed inference"; docs/serving/parallelism_scaling.md "Running vLLM with
    # MultiProcessing"). Every node runs `vllm serve` with the same TP/PP; the others add --headless.
    Setting("nnodes", "nodes", ("--nnodes",)),
    Setting("node_rank", None, ("--node-rank",)),
    Setting("master_addr", None, ("--master-addr",)),
    Setting("headless", None, ("--headless",)),
    # Over a Ray cluster, said outright: vLLM's docs add it to the multi-node Ray commands (PR #29173,
    # "docs: fixes distributed executor backend config for multi-node vllm"), since the automatic
    # choice looks at the local GPUs only.
    Setting("distributed_executor_backend", None, ("--distributed-executor-backend",)),
    # A vision-language model's profiling batch (plan/engine_memory.py `vision_item`): items per
    # prompt of each modality (0 drops it) and the processor's kwargs (Qwen-VL's max_pixels); read
    # from manifests only, for sizing (plan/sizing.py ServerConfig.mm_*; `mm_profiling_settings`).
    Setting("limit_mm_per_prompt", None, ("--limit-mm-per-prompt",)),
    Setting("mm_processor_kwargs", None, ("--mm-processor-kwargs",)),
)
# vLLM's switch for counting CUDA-graph memory before sizing the KV cache (vllm/envs.py; default
# 1 from v0.21.0, see plan/engine_memory.py).
VLLM_CUDAGRAPH_ESTIMATE_ENV = "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS"
# vLLM's switch for FlashInfer's top-k/top-p sampler (vllm/envs.py; unset = on when FlashInfer is
# installed, V1; see plan/engine_memory.py `sampler_bytes_per_logit`).
VLLM_FLASHINFER_SAMPLER_ENV = "VLLM_USE_FLASHINFER_SAMPLER"
# vLLM's switch forcing the Marlin MXFP4 MoE kernel (vllm/envs.py; quantization/mxfp4.py
# `get_mxfp4_backend`, v0.11 …; see plan/sizing.py `loaded_expert_extra_bytes`).
VLLM_MXFP4_MARLIN_ENV = "VLLM_MXFP4_USE_MARLIN"
# vLLM's switch turning MLA's latent KV cache off (vllm/envs.py; see plan/engine_memory.py `MLA_CACHE_SINCE`).
VLLM_MLA_DISABLE_ENV = "VLLM_MLA_DISABLE"
# vLLM's engine switch (vllm/envs.py, 0.8 - 0.10): 0 runs V0; 1 runs V1 and refuses settings V1 cannot
# serve instead of falling back (see plan/engine_memory.py `falls_back_to_v0`).
VLLM_USE_V1_ENV = "VLLM_USE_V1"
# vLLM's attention backend override (vllm/envs.py: read as given, no case folding): on 0.8 - 0.10 a name
# V1 does not list sends the server to V0 (plan/engine_memory.py `v1_attention_backend`).
VLLM_ATTENTION_BACKEND_ENV = "VLLM_ATTENTION_BACKEND"
# vLLM's runner switch (vllm/envs.py; 1 forces Model Runner V2, 0 the V1 runner, unset lets the
# version choose by architecture: plan/engine_memory.py `uses_model_runner_v2`).
VLLM_MODEL_RUNNER_V2_ENV = "VLLM_USE_V2_MODEL_RUNNER"
# TGI spells the fp8 KV types its own way (launcher/src/main.rs KVCacheDtype, v3.3.6).
TGI_KV_CACHE_DTYPES = {"fp8": "fp8_e4m3fn", "fp8_e4m3": "fp8_e4m3fn", "fp8_e5m2": "fp8_e5m2"}
SETTING = {s.name: s for s in SETTINGS}


TGI_DEFAULT_MAX_CONCURRENT_REQUESTS = 128  # launcher/src/main.rs `max_concurrent_requests` default (v3.3.6/v3.3.7)

# vLLM replaced `--task` by `--runner`/`--convert` in 0.10.1 (PR #21470, "[Deprecation][2/N] Replace
# `--task` with `--runner` and `--convert`"); `ModelConfig` warns that `task` goes in v0.13.0, and
# PR #30397 removed it (merged 2025-12-10).
VLLM_RUNNER_SINCE = (0, 10, 1)
# vLLM's own multi-node mode (the flags above): PR #23691, merged in the week to 2025-11-21 (vLLM's
# weekly summary lists it beside #28879, which the v0.12.0 release notes list), so 0.12.0 is the first
# release with it. Older images join the nodes through Ray: `examples/online_serving/multi-node-serving.sh`
# in the image (`/vllm-workspace/...`), as kubernetes-sigs/lws v0.10.0 `docs/examples/vllm/GPU/lws.yaml` does.
VLLM_NATIVE_MULTI_NODE_SINCE = (0, 12, 0)
VLLM_RAY_SCRIPT = "/vllm-workspace/examples/online_serving/multi-node-serving.sh"
VLLM_TASK_REMOVED_IN = (0, 13, 0)


def parse_engine_version(image: str) -> tuple[int, ...] | None:
    """(major, minor, patch) from an image tag such as vllm/vllm-openai:v0.11.0; None if not pinned.

    Only an image named for vLLM (`vllm` in its repository's last path part: vllm/vllm-openai,
    rocm/vllm, a vllm-cpu build) has vLLM's version as its tag. Another image's tag is its own
    release (llm-d's ghcr.io/llm-d/llm-d-cuda:v0.3.0 ships a 0.11-era vLLM; an in-house
    `serving:1.4.2`), so it pins nothing and counts as current, like an unpinned tag."""
    name, _, tag = image.rsplit("/", 1)[-1].partition(":")
    if "vllm" not in name.lower():
        return None
    m = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", tag)
    if not m:
        return None
    return tuple(int(g) for g in m.groups(default="0"))


# `pip install ... vllm[extras]==X.Y.Z` in a container's script (pip, pip3, `python -m pip`, `uv pip`):
# the server then runs the PyPI wheel, whatever the image. The requirement list runs to the next
# shell operator. A pin gives the version (a fourth part, as PyPI's vllm 0.10.1.1, is a patch of the
# third: its release is x.y.z); an unpinned or ranged `vllm` installs the newest.
# Compiled when a command line holds "install" (most servers' never do: `pip_installed_vllm`).
_PIP_INSTALL = lazy(r"(?:^|[\s;&|(])(?:uv\s+)?(?:pip3?|python3?\s+-m\s+pip)\s+install\s([^;&|]*)")
_VLLM_REQUIREMENT = lazy(
    r"""(?:^|[\s'"])vllm(?:\[[^\]\s]*\])?(?:==v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?(?:\.\d{1,4})?(?![\d.]*\d)|(?=[\s'"<>=!~,]|$))""")


# How the image's vLLM was installed, said on the object or its pod template when neither the image
# nor the script shows it: `pip` (the PyPI wheel, e.g. an image built `FROM python` with `pip install
# vllm==X`) or `image` (the vllm/vllm-openai build). The wheel differs in two defaults llmkube sizes:
# no FlashInfer up to 0.11.0 (the sampler sorts) and no triton_kernels before 0.12 (MXFP4 experts
# through Marlin on Hopper); see plan/sizing.py ServerConfig.pip_install, docs/spec-reference.md.
VLLM_INSTALL_ANNOTATION = "llmkube.dev/vllm-install"
VLLM_INSTALLS = ("pip", "image")


def install_annotation(*annotations: Mapping[str, object]) -> bool | None:
    """True for `llmkube.dev/vllm-install: pip`, False for `image`, None when unset (the first
    mapping that sets it decides: the pod template's before the object's)."""
    for found in annotations:
        value = found.get(VLLM_INSTALL_ANNOTATION)
        if isinstance(value, str) and value.strip().lower() in VLLM_INSTALLS:
            return value.strip().lower() == "pip"
    return None


def pip_installed_vllm(words: Sequence[str]) -> tuple[bool, tuple[int, ...] | None]:
    """(True, the pinned version or None) when a container's command line pip-installs vLLM before
    serving: the wheel, not the vllm-openai image, decides what is installed (before 0.12 the wheel
    carries no triton_kernels: engine_memory.mxfp4_moe_backend). (False, None) otherwise."""
    text = " ".join(words)
    if "install" not in text:  # `_PIP_INSTALL` matches nothing: no pattern compiled or searched
        return False, None
    for install in _PIP_INSTALL().finditer(text):
        requirement = _VLLM_REQUIREMENT().search(install.group(1))
        if requirement:
            pinned = requirement.group(1)
            return True, tuple(int(g) for g in requirement.groups(default="0")) if pinned else None
    return False, None


def vllm_default_utilization(version: tuple[int, ...] | None) -> float:
    """vLLM's --gpu-memory-utilization when a command line leaves it out: 0.92 from 0.21.0 (and for
    an unpinned tag, taken as current), 0.90 before."""
    if version is None or tuple(version[:3]) >= GPU_MEMORY_UTILIZATION_092_SINCE:
        return DEFAULT_GPU_MEMORY_UTILIZATION_V021
    return DEFAULT_GPU_MEMORY_UTILIZATION


def vllm_has_runner(version: tuple[int, ...] | None) -> bool:
    """True when this vLLM takes `--runner`/`--convert` (0.10.1 on; an unpinned tag counts as current)."""
    return version is None or version >= VLLM_RUNNER_SINCE


def embedding_values(version: tuple[int, ...] | None, convert: bool) -> dict[str, FlagValue]:
    """The settings that make vLLM serve embeddings, spelled for its version.

    0.10.1 and later: `--runner pooling`, plus `--convert embed` when a generative
    architecture must be adapted (a native embedding model is detected as one);
    earlier: `--task embed`.
    """
    if vllm_has_runner(version):
        return {"runner": "pooling", "convert": "embed" if convert else None}
    return {"task": "embed"}


def flag(engine: str, setting: str) -> str:
    """The flag llmkube writes for a setting on this engine ('--num-shard' for TGI's tensor_parallel)."""
    return SETTING[setting].flags(engine)[0]


def arg_value(args: Sequence[str], *flags: str) -> str | None:
    """The value of `--flag value` or `--flag=value` in a command line."""
    for i, arg in enumerate(args):
        for flag in flags:
            if arg == flag and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(flag + "="):
                return arg[len(flag) + 1 :]
    return None


def extra_value(engine: str, args: Sequence[str], setting: str) -> str | None:
    """A setting's value among a spec's `extraArgs` (`--performance-mode throughput`), spelled with
    dashes or, as vLLM's parser also takes, underscores: for planners that size from the spec
    rather than from the rendered command line (which `check/read/servers.py` reads)."""
    flags = SETTING[setting].flags(engine)
    return arg_value(args, *flags, *("--" + f[2:].replace("-", "_") for f in flags if f.startswith("--")))


def _mm_option(args: Sequence[str], flag: str, key: str) -> str | None:
    """One key of a vLLM dict-valued flag: `--flag '{"key": v}'` (JSON), `--flag key=v,...` or
    `--flag.key v` (vllm/engine/arg_utils.py parses all three; the dotted form from 0.10)."""
    dotted = arg_value(args, f"{flag}.{key}")
    if dotted is not None:
        return dotted
    raw = arg_value(args, flag)
    if raw is None:
        return None
    try:
        parsed = json.loads(raw)
    except RecursionError:  # nested past the interpreter's limit: no count vLLM would read either
        return None
    except ValueError:
        pairs = dict(part.split("=", 1) for part in raw.split(",") if "=" in part)
        return pairs.get(key)
    if not isinstance(parsed, dict) or key not in parsed:
        return None
    value = parsed[key]
    if isinstance(value, dict):  # {"image": {"count": 2, ...}} (per-modality options, 0.11+)
        value = value.get("count")
    return None if value is None or isinstance(value, (dict, list)) else str(value)


# The largest count or pixel budget taken from a command line: exact as a float, so that the sizing's
# float arithmetic neither overflows nor rounds it. Beyond it, or negative, the value is unreadable.
_MAX_COUNT = 2 ** 53


def _int_or_none(text: str | None) -> int | None:
    """A non-negative integer flag value, or None when absent or not one (vLLM rejects those itself)."""
    try:
        value = int(text) if text is not None else None
    except ValueError:  # not an integer, or more digits than int() reads
        return None
    return value if value is not None and 0 <= value <= _MAX_COUNT else None


def mm_profiling_settings(args: Sequence[str]) -> tuple[int | None, int | None, int | None]:
    """(images per prompt, videos per prompt, max_pixels) a vLLM command line sets for a
    vision-language model's profiling batch (--limit-mm-per-prompt, --mm-processor-kwargs);
    None where it leaves the default."""
    limit, kwargs = SETTING["limit_mm_per_prompt"].vllm[0], SETTING["mm_processor_kwargs"].vllm[0]
    return (_int_or_none(_mm_option(args, limit, "image")), _int_or_none(_mm_option(args, limit, "video")),
            _int_or_none(_mm_option(args, kwargs, "max_pixels")))


def format_value(value: int | float | str) -> str:
    """A flag value as the engines read it: 0.9 not 0.90000001, integers as written."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def command_line(engine: str, values: Mapping[str, FlagValue]) -> list[str]:
    """Flags for the given settings, in table order; None (and False without an off flag) is left out."""
    args: list[str] = []
    for setting in SETTINGS:
        value = values.get(setting.name)
        flags = setting.flags(engine)
        if value is None or not flags:
            continue
        if value is True:
            args.append(flags[0])
        elif value is False:
            if engine == "vllm" and setting.vllm_off:
                args.append(setting.vllm_off)
        else:
            args += [flags[0], format_value(value)]
    return args


def written_flags() -> dict[str, str]:
    """Every flag llmkube writes, on any engine → the spec field it comes from."""
    return {f: s.field for s in SETTINGS if s.field for engine in ENGINES for f in s.written(engine)}


def engine_of(image: str, command: str) -> Engine | None:
    """'vllm' or 'tgi' when an image or command line runs one of those servers."""
    if "vllm" in image or "vllm" in command:
        return "vllm"
    if "text-generation-inference" in image or "text-generation-launcher" in command:
        return "tgi"
    return None
