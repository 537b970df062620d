"""vLLM and TGI containers as rules and `llmkube plan` see them: model, GPU, engine flags.

The model comes from vLLM's `--model` (or `vllm serve MODEL`) / TGI's
`--model-id`, matched to a model profile by Hugging Face id; the flags that
size the server are read as the engines table spells them; the GPU as
`check.read.gpus` finds it. What cannot be read is left None, not guessed.

The InferenceEndpoint spec models, the sizing model (`plan.sizing`), the multi-node planner and the
GPU and LLMInferenceService readers are imported where a server needs them, and the profiles are
only named here: a run of manifests with no model server does without the spec, planner and profile
stack (and pydantic; tests/test_startup.py, tests/test_validate_throughput.py).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from llmkube.check.read.args import FALSE, command_line, dashed_flags, env_value, flag_on, flag_path, shell_words
from llmkube.check.read.shape import as_list, as_mapping
from llmkube.check.read.workloads import POD_KINDS, Path, PodGroup, gpu_request, pod_groups
from llmkube.check.run import Target
from llmkube.engines import (
    DEFAULT_GPU_MEMORY_UTILIZATION,
    DEFAULT_LOAD_THROUGHPUT_GBPS,
    DEFAULT_STARTUP_OVERHEAD_SECONDS,
    DEFAULT_TGI_MEMORY_FRACTION,
    SETTING,
    VLLM_ATTENTION_BACKEND_ENV,
    VLLM_CUDAGRAPH_ESTIMATE_ENV,
    VLLM_FLASHINFER_SAMPLER_ENV,
    VLLM_MLA_DISABLE_ENV,
    VLLM_MODEL_RUNNER_V2_ENV,
    VLLM_MXFP4_MARLIN_ENV,
    VLLM_USE_V1_ENV,
    arg_value,
    engine_of,
    install_annotation,
    mm_profiling_settings,
    parse_engine_version,
    pip_installed_vllm,
    vllm_default_utilization,
)
from llmkube.names import GPU_RESOURCE
from llmkube.records import record

if TYPE_CHECKING:
    from llmkube.check.read import llmisvc
    from llmkube.check.read.gpus import GPUTarget
    from llmkube.plan.sizing import ServerConfig, ServingFit
    from llmkube.profiles import ModelProfile, ProfileStore
    from llmkube.specs.inferenceendpoint import InferenceEndpoint

#: The kinds `server_setups` reads servers from: a vLLM/TGI container may run in any pod an object
#: makes (`pod_groups`), an LLMInferenceService's pools among them. Rules over `ctx.servers` declare
#: these kinds (`@rule(kinds=SERVER_KINDS)`), so a run with none of them skips them
#: (tests/test_rule_dispatch.py holds the list to what the reader finds).
SERVER_KINDS: tuple[str, ...] = POD_KINDS


def _int_arg(value: str | None) -> int | None:
    """An integer flag value; vLLM also reads 8k (×1000) and 8K (×1024)."""
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)\s*", value)
    if not m:
        return None
    scale = {"": 1, "k": 1000, "K": 1024, "m": 10**6, "M": 2**20}[m.group(2)]
    return int(m.group(1)) * scale


def _float_arg(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@record
class ServerSetup:
    """One vLLM/TGI container as the rules see it."""

    target: Target
    group: PodGroup
    path: Path  # the container
    container: Mapping[str, Any]
    model_id: str | None
    model_path: Path
    model: ModelProfile | None
    config: ServerConfig  # as read: max_model_len None = not set
    tp_flag: str | None  # the flag that set TP ("--tensor-parallel-size"), None = default
    gpu_resource: str | None
    gpu_count: int | None
    gpu: GPUTarget | None
    # An LLMInferenceService pool: TP is `parallelism.tensor`, not a flag; its pods run
    # tensor × local data ranks GPUs; the storage initializer has the weights on disk before the
    # server starts (see check/read/llmisvc.py).
    tp_line: Path | None = None
    gpus_needed: int | None = None
    weights: str | None = None
    pool: str | None = None  # an LLMInferenceService pool: "main", "decode" or "prefill"
    pool_pods: int = 1  # pods per replica of that pool (a data-parallel worker's LeaderWorkerSet)

    @property
    def runtime(self) -> str:
        return self.config.runtime

    def setting_path(self, setting: str) -> Path:
        """Path of the command-line item that sets an engines-table setting (the container if none)."""
        return flag_path(self.path, self.container, *SETTING[setting].flags(self.runtime))

    @property
    def tp_path(self) -> Path:
        if self.tp_line is not None:
            return self.tp_line
        return flag_path(self.path, self.container, self.tp_flag) if self.tp_flag else self.path

    @property
    def length_known(self) -> bool:
        """vLLM defaults max-model-len to the model's context; TGI decides at start-up."""
        return self.runtime == "vllm" or self.config.max_model_len is not None

    @property
    def sizing_config(self) -> ServerConfig:
        """The config to size with: a TGI server of unknown length is sized for one token."""
        return self.config if self.length_known else replace(self.config, max_model_len=1)

    def fit(self) -> ServingFit | None:
        if self.model is None or self.gpu is None:
            return None
        from llmkube.plan.sizing import serving_fit

        return serving_fit(self.model, self.gpu.memory_gib, self.sizing_config, gpu_name=self.gpu_name)

    @property
    def gpu_name(self) -> str:
        """The device name CUDA reports, as far as it matters to the engine (vLLM keeps small batch
        defaults on any A100): the GPU profile's display name."""
        return self.gpu.gpu.spec.display_name if self.gpu is not None and self.gpu.gpu is not None else ""

    @cached_property
    def weights_source(self) -> str:
        """Where this server's weights come from: the InferenceEndpoint's `startup.source` (or its
        default), else as the manifest shows it (`manifest_weights_source`). Read once: LK305-LK307
        key their load estimate on it, and the objects do not change once checking starts."""
        if self.weights is not None:
            return self.weights
        endpoint = self._endpoint()
        if endpoint is not None:
            from llmkube.specs.inferenceendpoint import weights_source  # lazily: see the module docstring

            return weights_source(endpoint.spec)
        return manifest_weights_source(self.group, self.container, self.model_id, self.runtime)

    def _endpoint(self) -> InferenceEndpoint | None:
        """The InferenceEndpoint this server was rendered from, if any. A plain manifest has no
        spec, and its run need not import the spec models to tell."""
        if self.target.spec is None:
            return None
        from llmkube.specs.inferenceendpoint import InferenceEndpoint  # lazily: see the module docstring

        spec = self.target.spec.spec
        return spec if isinstance(spec, InferenceEndpoint) else None

    @property
    def multi_node(self) -> bool:
        """One server over several pods: a LeaderWorkerSet's, or a KServe predictor with `workerSpec`."""
        return self.target.obj.get("kind") == "LeaderWorkerSet" or bool(self.group.spec.get("workerSpec"))

    def load_estimate(self) -> float | None:
        """Seconds to pull (when the source is downloaded at start-up) and load the weights and start
        the engine — as the InferenceEndpoint planner sizes it, so LK305–LK307 judge what it emitted."""
        if self.model is None:
            return None
        from llmkube.plan.sizing import download_gbps, load_seconds, weight_bytes  # lazily: see the module docstring

        # an InferenceEndpoint's `startup` settings; their defaults (`Startup()`'s) for plain manifests
        endpoint = self._endpoint()
        if endpoint is not None:
            startup = endpoint.spec.startup
            load, overhead, download_setting = startup.load_throughput_g_bps, startup.overhead_seconds, startup.download_throughput_g_bps
        else:
            load, overhead, download_setting = DEFAULT_LOAD_THROUGHPUT_GBPS, DEFAULT_STARTUP_OVERHEAD_SECONDS, None
        c = self.config
        if self.multi_node and c.pipeline_parallel > 1 and self.gpu_count:
            # each node loads its pipeline stages (plan.multinode sizes the endpoint's probe the same way)
            from llmkube.plan.nodeload import node_load_seconds

            return node_load_seconds(self.model, c.dtype, c.quantization, c.tensor_parallel, c.pipeline_parallel,
                                     self.gpu_count, self.weights_source, load_gbps=load, overhead_seconds=overhead,
                                     download_throughput_gbps=download_setting)
        weights = weight_bytes(self.model, c.dtype, c.quantization)
        download = download_gbps(self.weights_source, download_setting)
        return load_seconds(weights, load, overhead, download)

    def fit_options(self) -> list[str]:
        """Settings that would make this server fit its GPU (`plan.sizing.fit_options`), when it does not."""
        fit = self.fit()
        if fit is None or fit.fits or self.model is None:
            return []
        from llmkube.plan.sizing import fit_options

        return fit_options(self.model, fit, self.sizing_config, gpu_name=self.gpu_name)

    def recommendation(self) -> str | None:
        """One node's advice (`recommend_serving`); none for a server already spread over nodes."""
        if self.model is None or self.gpu is None or self.gpu.gpu is None or self.multi_node:
            return None
        from llmkube.plan.sizing import recommend_serving

        return recommend_serving(self.model, self.gpu.gpu, self.sizing_config).text


# Where the Hugging Face cache of a container is: the variables huggingface_hub reads (the hub
# cache first, then its legacy name, then HF_HOME), else the image's default: vLLM's image runs as
# root with the library default ~/.cache/huggingface; TGI's Dockerfile sets HF_HOME=/data (v3.3.6).
HF_CACHE_ENV = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "TRANSFORMERS_CACHE")
DEFAULT_HF_CACHE = {"vllm": "/root/.cache/huggingface", "tgi": "/data"}
OBJECT_STORE_SCHEMES = ("s3://", "gs://", "gcs://", "az://", "abfs://", "abfss://")


def _claim_mounts(group: PodGroup, container: Mapping[str, Any]) -> list[str]:
    """Mount paths of the container's PersistentVolumeClaim volumes."""
    claims = {
        v.get("name") for v in as_list(group.spec.get("volumes"))
        if isinstance(v, Mapping) and isinstance(v.get("name"), str) and isinstance(v.get("persistentVolumeClaim"), Mapping)
    }
    return [
        str(m.get("mountPath", "")) for m in as_list(container.get("volumeMounts"))
        if isinstance(m, Mapping) and isinstance(m.get("name"), str) and m.get("name") in claims and m.get("mountPath")
    ]


def _under(path: str, mounts: Iterable[str]) -> bool:
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


def manifest_weights_source(group: PodGroup, container: Mapping[str, Any], model_id: str | None, runtime: str) -> str:
    """The InferenceEndpoint `startup.source` a hand-written server amounts to.

    A model in an object store (`s3://…`) is `object-store`; a local path is `pvc` when a claim
    is mounted over it, else `image` (baked in, or put there by an init container such as
    KServe's storage initializer); a hub id is `pvc` when the Hugging Face cache is on a claim,
    else `hub` — it is downloaded at every start into a cache that does not survive the container.
    """
    claims = _claim_mounts(group, container)
    model = model_id or ""
    if model.startswith(OBJECT_STORE_SCHEMES):
        return "object-store"
    if model.startswith(("/", "./")):
        return "pvc" if _under(model, claims) else "image"
    cache = next((v for v in (env_value(container, e) for e in HF_CACHE_ENV) if v), DEFAULT_HF_CACHE.get(runtime, ""))
    return "pvc" if cache and _under(cache, claims) else "hub"


def _vllm_model(line: list[str]) -> tuple[str | None, tuple[str, ...]]:
    value = arg_value(line, *SETTING["model"].vllm)
    if value:
        return value, SETTING["model"].vllm
    for i, arg in enumerate(line[:-1]):
        if arg == "serve" and not line[i + 1].startswith("-"):
            return line[i + 1], ("serve",)
    return None, ()


def _switch(line: list[str], setting: str) -> bool | None:
    """A vLLM boolean flag: True when on, False when turned off (`--no-…` or `--x false`), None if absent."""
    s = SETTING[setting]
    if s.vllm_off and s.vllm_off in line:
        return False
    if any(a == f or a.startswith(f + "=") for a in line for f in s.vllm):
        return flag_on(line, *s.vllm)
    return None


def _env_switch(container: Mapping[str, Any], name: str) -> bool | None:
    value = env_value(container, name)
    return None if value is None else value.strip().lower() not in FALSE


def _read_vllm(line: list[str], container: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...], str | None, ServerConfig]:
    """(model id, the flags that named it, the flag that set TP, config) of a vLLM command line."""
    from llmkube.plan.sizing import ServerConfig

    def arg(setting: str) -> str | None:
        return arg_value(line, *SETTING[setting].vllm)

    model_id, model_flags = _vllm_model(line)
    tp_flag = next((f for f in SETTING["tensor_parallel"].vllm if arg_value(line, f) is not None), None)
    tp = _int_arg(arg_value(line, tp_flag)) if tp_flag else 1
    quant = arg("quantization")
    images, videos, max_pixels = mm_profiling_settings(line)
    config = ServerConfig(
        tensor_parallel=tp or 1,
        pipeline_parallel=_int_arg(arg("pipeline_parallel")) or 1,
        data_parallel=_int_arg(arg("data_parallel")) or 1,
        expert_parallel=bool(_switch(line, "expert_parallel")),
        utilization=_float_arg(arg("gpu_memory_utilization")) or DEFAULT_GPU_MEMORY_UTILIZATION,
        max_model_len=_int_arg(arg("max_model_len")),
        max_num_seqs=_int_arg(arg("max_num_seqs")),
        max_num_batched_tokens=_int_arg(arg("max_batch_tokens")),
        chunked_prefill=_switch(line, "chunked_prefill"),
        enforce_eager=bool(_switch(line, "enforce_eager")),
        performance_mode=arg("performance_mode"),
        cuda_graph_estimate=_env_switch(container, VLLM_CUDAGRAPH_ESTIMATE_ENV),
        model_runner_v2=_env_switch(container, VLLM_MODEL_RUNNER_V2_ENV),
        flashinfer_sampler=_env_switch(container, VLLM_FLASHINFER_SAMPLER_ENV),
        mxfp4_backend="marlin" if _env_switch(container, VLLM_MXFP4_MARLIN_ENV) else None,
        mla_disabled=bool(_env_switch(container, VLLM_MLA_DISABLE_ENV)),
        use_v1=_env_switch(container, VLLM_USE_V1_ENV),
        attention_backend=(env_value(container, VLLM_ATTENTION_BACKEND_ENV) or "").strip() or None,
        quantization=quant.lower() if quant else None,
        kv_cache_dtype=arg("kv_cache_dtype"),
        mm_limit_per_prompt=images,
        mm_video_limit_per_prompt=videos,
        mm_max_pixels=max_pixels,
        runtime="vllm",
    )
    return model_id, model_flags, tp_flag, config


def _read_tgi(line: list[str], container: Mapping[str, Any], gpus: tuple[str, int] | None) -> tuple[str | None, tuple[str, ...], str | None, ServerConfig]:
    """The same for TGI's launcher, whose settings may also come from its environment."""
    from llmkube.plan.sizing import ServerConfig

    def arg(setting: str) -> str | None:
        return arg_value(line, *SETTING[setting].tgi)

    def arg_or_env(setting: str) -> str | None:
        env = SETTING[setting].tgi_env
        return arg(setting) or (env_value(container, env) if env else None)

    model_id = arg_or_env("model")
    tp_flag = SETTING["tensor_parallel"].tgi[0] if arg("tensor_parallel") is not None else None
    shards = arg_or_env("tensor_parallel")
    resource, count = gpus if gpus else (None, None)
    # TGI shards over every visible GPU unless told otherwise
    tp = _int_arg(shards) if shards else (count if count and resource == GPU_RESOURCE else 1)
    quant = arg_or_env("quantization")
    # the batch is --max-batch-size; --max-concurrent-requests is an admission cap (overflow → 429),
    # not sequences the KV cache must hold, so it does not size the server
    config = ServerConfig(
        tensor_parallel=tp or 1,
        utilization=_float_arg(arg_or_env("gpu_memory_utilization")) or DEFAULT_TGI_MEMORY_FRACTION,
        max_model_len=_int_arg(arg_or_env("max_model_len")),
        max_num_seqs=_int_arg(arg_or_env("max_num_seqs")),
        max_num_batched_tokens=_int_arg(arg_or_env("max_batch_tokens")),
        quantization=quant.lower() if quant else None,
        kv_cache_dtype=arg("kv_cache_dtype"),
        runtime="tgi",
    )
    return model_id, SETTING["model"].tgi, tp_flag, config


#: The entries of a container `read_container` reads: its reading is a function of these alone, so
#: copies of one container (a Deployment per region, team or overlay) are read once per run
#: (`ContainerReadings`). tests/check/test_server_readings.py holds the reader to this list.
READ_FIELDS = ("image", "command", "args", "env", "resources")


@record(frozen=True)
class ContainerReading:
    """What a vLLM/TGI container's own entries (`READ_FIELDS`) say about its server; `read_server`
    adds what depends on where it runs (the pod's GPU, the model profile)."""

    model_id: str | None
    model_at: Path  # the command-line item naming the model, below the container (() = the container)
    config: ServerConfig
    tp_flag: str | None
    gpu_request: tuple[str, int] | None
    gpus_needed: int | None


def read_container(container: Mapping[str, Any]) -> ContainerReading | None:
    """The reading of one container, or None when it runs neither vLLM nor TGI."""
    line = command_line(container)
    runtime = engine_of(str(container.get("image", "")), " ".join(line))
    if runtime is None:
        return None
    if runtime == "vllm":
        line = server_line(container)
    request = gpu_request(container)
    if runtime == "vllm":
        model_id, model_flags, tp_flag, config = _read_vllm(line, container)
        pip_install, pinned = pip_installed_vllm(line)
        # a script that pip-installs vLLM runs that wheel: its pin (or the newest), not the image's tag
        version = pinned if pip_install else parse_engine_version(str(container.get("image", "")))
        config = replace(config, pip_install=pip_install)
    else:
        model_id, model_flags, tp_flag, config = _read_tgi(line, container, request)
        version = None
    dtype = arg_value(line, *SETTING["dtype"].flags(runtime))
    config = replace(config, dtype=dtype if dtype not in (None, "auto") else None, engine_version=version)
    if runtime == "vllm" and _float_arg(arg_value(line, *SETTING["gpu_memory_utilization"].vllm)) is None:
        config = replace(config, utilization=vllm_default_utilization(version))
    return ContainerReading(
        model_id=model_id,
        model_at=flag_path((), container, *model_flags) if model_flags else (),
        config=config, tp_flag=tp_flag, gpu_request=request,
        gpus_needed=_data_parallel_gpus(line, config) if runtime == "vllm" else None,
    )


def _frozen(value: Any) -> Hashable:
    """A hashable copy of a YAML value that tells apart whatever the reader could read differently:
    mappings keep their order (`gpu_request` takes the first GPU resource it meets), other scalars
    than strings their type and text (`1`, `1.0` and `true` are equal in Python, but an argument
    reads as "1", "1.0" or "True"; -0.0 equals 0.0 but reads "-0.0")."""
    if type(value) is str:
        return value
    if value is None or isinstance(value, (int, float)):  # before the Mapping check, an ABC's
        return (type(value), str(value))
    if isinstance(value, dict) or isinstance(value, Mapping):
        return ("mapping", tuple((_frozen(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_frozen(v) for v in value))
    return (type(value), str(value))


class ContainerReadings:
    """`read_container`, once per distinct container content in a run: the key is every entry the
    reader reads (`READ_FIELDS`, present or not), frozen by `_frozen`. And `_server_model`, once
    per model name the run's servers give (a lookup by name, id or path in one `ProfileStore`)."""

    def __init__(self) -> None:
        self._known: dict[Hashable, ContainerReading | None] = {}
        self._models: dict[tuple[int, str | None], tuple[ProfileStore, ModelProfile | None]] = {}

    def read(self, container: Mapping[str, Any]) -> ContainerReading | None:
        key = tuple((f, _frozen(container[f])) for f in READ_FIELDS if f in container)
        if key in self._known:
            return self._known[key]
        reading = self._known[key] = read_container(container)
        return reading

    def model(self, profiles: ProfileStore, model_id: str | None) -> ModelProfile | None:
        """`_server_model(profiles, model_id)`, remembered for the run (the store is kept with the
        answer, so an identity cannot be reused)."""
        key = (id(profiles), model_id)
        found = self._models.get(key)
        if found is not None and found[0] is profiles:
            return found[1]
        model = _server_model(profiles, model_id)
        self._models[key] = (profiles, model)
        return model


def _server_model(profiles: ProfileStore, model_id: str | None) -> ModelProfile | None:
    """The profile of the checkpoint a server names: by name, id or readable config.json, else the
    built-in checkpoint its path inside the container ends with (`ProfileStore.model_at_path`)."""
    if not model_id:
        return None
    return profiles.model(model_id) or profiles.model_at_path(model_id)


def read_server(
    profiles: ProfileStore, target: Target, group: PodGroup, path: Path, container: Mapping[str, Any],
    readings: ContainerReadings | None = None,
) -> ServerSetup | None:
    """The server one container runs, or None when it runs neither vLLM nor TGI. With `readings`,
    a container whose entries were read before in this run is not read again."""
    reading = readings.read(container) if readings is not None else read_container(container)
    if reading is None:
        return None
    from llmkube.check.read.gpus import gpu_target

    resource, count = reading.gpu_request if reading.gpu_request else (None, None)
    model_id = reading.model_id
    config = reading.config
    if tp_spans_pods(target, group, container, config, count):
        config = replace(config, tp_spans_nodes=True)
    pip = _install_said(target, group)
    if pip is not None and config.runtime == "vllm":
        config = replace(config, pip_install=pip)
    return ServerSetup(
        target=target, group=group, path=path, container=container,
        model_id=model_id,
        model_path=(*path, *reading.model_at),
        model=readings.model(profiles, model_id) if readings is not None else _server_model(profiles, model_id),
        config=config, tp_flag=reading.tp_flag,
        gpu_resource=resource, gpu_count=count,
        gpu=gpu_target(profiles, group, resource),
        gpus_needed=reading.gpus_needed,
    )


def _install_said(target: Target, group: PodGroup) -> bool | None:
    """`llmkube.dev/vllm-install` on the pod template, else on the object (`engines.install_annotation`)."""
    return install_annotation(group.annotations, as_mapping(as_mapping(target.obj.get("metadata")).get("annotations")))


def tp_spans_pods(target: Target, group: PodGroup, container: Mapping[str, Any], config: ServerConfig,
                  gpus: int | None) -> bool:
    """Whether a vLLM server's tensor-parallel group reaches past its own pod: a multi-node server
    (a LeaderWorkerSet, KServe's `workerSpec`, a Ray executor, `--nnodes` > 1) whose TP is more than
    the GPUs the pod holds. vLLM then sees ranks on other nodes and allocates no custom all-reduce
    buffers ("Custom allreduce is disabled because this process group spans across nodes":
    vllm/distributed/device_communicators/custom_all_reduce.py `CustomAllreduce.__init__`, which
    tests `in_the_same_node_as`, v0.10.1.1; another pod's ranks are another node to it, whose
    shared-memory test cannot reach them), so the sizing leaves them out (ServerConfig.tp_spans_nodes)."""
    if config.runtime != "vllm" or not gpus or config.tensor_parallel <= gpus:
        return False
    if target.obj.get("kind") == "LeaderWorkerSet" or group.spec.get("workerSpec"):
        return True
    line = server_line(container)
    nodes = _int_arg(arg_value(line, *SETTING["nnodes"].vllm))
    backend = arg_value(line, *SETTING["distributed_executor_backend"].vllm)
    return backend == "ray" or (nodes is not None and nodes > 1) or "ray start" in " ".join(line)


def _data_parallel_gpus(line: list[str], config: ServerConfig) -> int | None:
    """GPUs a data-parallel vLLM pod runs on: tensor × its local engines — one with
    `--data-parallel-rank` (external load balancing), else `--data-parallel-size-local`, else every
    engine of `--data-parallel-size` (vllm/engine/arg_utils.py `EngineArgs.create_engine_config`).
    None without DP."""
    if config.data_parallel <= 1:
        return None
    if arg_value(line, *SETTING["data_parallel_rank"].vllm) is not None:
        return config.tensor_parallel
    local = _int_arg(arg_value(line, *SETTING["data_parallel_local"].vllm))
    return config.tensor_parallel * (local if local is not None else config.data_parallel)


def llmisvc_server(profiles: ProfileStore, target: Target, group: PodGroup, pool: llmisvc.Pool) -> ServerSetup | None:
    """The vLLM server of one LLMInferenceService pool, with the command line its preset builds
    (`vllm serve` + the model + `--tensor-parallel-size <parallelism.tensor>` + the extra words) and
    the startup probe in effect (the preset's when the template has none)."""
    from llmkube.check.read import llmisvc
    from llmkube.check.read.gpus import gpu_target

    found = pool.main_container()
    if found is None:
        return None
    path, container = found
    model_id = llmisvc.model_id(target.obj)
    _, _, _, config = _read_vllm(["vllm", "serve", model_id or "/mnt/models", *pool.words()], container)
    dtype = arg_value(pool.words(), *SETTING["dtype"].vllm)
    # A data-parallel worker's preset passes `--data-parallel-size <parallelism.data>`; the single-node
    # presets ignore parallelism.data (LK335).
    data = pool.data if pool.worker is not None and pool.data else 1
    # ... and `--enable-expert-parallel` from parallelism.expert (plan/llmisvc.py ENABLE_EXPERT_PARALLEL)
    expert = pool.worker is not None and as_mapping(pool.workload.get("parallelism")).get("expert") is True
    version = parse_engine_version(str(container.get("image", "")))
    config = replace(config, tensor_parallel=pool.tensor or 1, data_parallel=data, dtype=dtype if dtype not in (None, "auto") else None,
                     expert_parallel=config.expert_parallel or expert, engine_version=version)
    if _float_arg(arg_value(pool.words(), *SETTING["gpu_memory_utilization"].vllm)) is None:
        config = replace(config, utilization=vllm_default_utilization(version))
    pip = _install_said(target, group)
    if pip is not None:
        config = replace(config, pip_install=pip)
    request = gpu_request(container)
    resource, count = request if request else (None, None)
    effective = {**container, "startupProbe": pool.startup_probe(container)}
    return ServerSetup(
        target=target, group=group, path=path, container=effective,
        model_id=model_id, model_path=("spec", "model", "uri"),
        model=_server_model(profiles, model_id),
        config=config, tp_flag=None,
        gpu_resource=resource, gpu_count=count,
        gpu=gpu_target(profiles, group, resource),
        tp_line=pool.tensor_path, gpus_needed=pool.gpus_needed, weights="image",
        pool=pool.role, pool_pods=pool.lws_size,
    )


def server_line(container: Mapping[str, Any]) -> list[str]:
    """A vLLM container's command line as vLLM parses it: a `sh -c` script split into words, long
    options with underscores spelled with dashes."""
    return dashed_flags(shell_words(command_line(container)))


def multi_node_worker(line: list[str]) -> bool:
    """A container that lends its GPUs to a server run elsewhere: vLLM's headless node (`--headless`,
    vLLM's own multi-node mode) or a Ray worker (`multi-node-serving.sh worker`, `ray start
    --address`) — not a server of its own."""
    text = " ".join(line)
    if "--headless" in line:
        return True
    serves = "vllm serve" in text or "api_server" in text or "--model" in line
    return not serves and ("multi-node-serving.sh worker" in text or ("ray start" in text and "--head" not in text))


def server_setups(targets: Iterable[Target], profiles: ProfileStore, *, reuse: bool = True) -> list[ServerSetup]:
    """Every vLLM/TGI container of the run, in manifest order (a multi-node server once, at its leader).

    With `reuse` (the fast path) copies of one container are read once (`ContainerReadings`); without
    it (the reference path) each is read on its own. Both give the same servers
    (tests/check/test_server_readings.py)."""
    readings = ContainerReadings() if reuse else None
    out = []
    for target in targets:
        if target.obj.get("kind") == "LLMInferenceService":  # llmisvc.KIND: its reader is loaded for one
            from llmkube.check.read import llmisvc

            groups = {g.spec_path: g for g in pod_groups(target)}
            for pool in llmisvc.pools(target):
                group = groups.get(pool.template_path)
                setup = llmisvc_server(profiles, target, group, pool) if group is not None else None
                if setup is not None:
                    out.append(setup)
            continue
        for group in pod_groups(target):
            for path, container in group.containers():
                if multi_node_worker(shell_words(command_line(container))):
                    continue
                setup = read_server(profiles, target, group, path, container, readings)
                if setup is not None:
                    out.append(setup)
    return out
