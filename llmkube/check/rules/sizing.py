"""LK1xx: sizing rules — does the model fit the GPU, the MIG slice, the TP group, the gang?

These rules read manifests: the model from vLLM's `--model` (or `vllm serve
MODEL`) / TGI's `--model-id`, matched to a model profile by Hugging Face id;
the GPU from a `nvidia.com/gpu.product` node selector or required node
affinity (`-MIG-<profile>` = a MIG slice under the single strategy,
`-SHARED` = a time-sliced or MPS GPU) or from a `nvidia.com/mig-<profile>`
resource; GPUs from the container's resources. What cannot be read is not
guessed: the rule skips, or says so as an info finding.

The arithmetic lives in `llmkube.plan.sizing` (shared with `llmkube plan`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from llmkube.check.findings import Severity
from llmkube.check.rules import Hit, RuleContext, rule
from llmkube.check.rules._workloads import (
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    MIG_RESOURCE,
    PodGroup,
    Path,
    arg_value,
    command_line,
    gpu_request,
    pod_groups,
    server_runtime,
)
from llmkube.check.run import Target
from llmkube.plan.sizing import (
    DEFAULT_GPU_MEMORY_UTILIZATION,
    DEFAULT_TGI_MEMORY_FRACTION,
    GIB,
    ServingFit,
    TrainingFit,
    load_seconds,
    parse_engine_version,
    recommend_serving,
    serving_fit,
    training_fit,
    weight_bytes,
)

# Startup defaults of an InferenceEndpoint (spec `startup`), used for plain manifests too.
DEFAULT_LOAD_THROUGHPUT_GBPS = 0.5
DEFAULT_LOAD_OVERHEAD_SECONDS = 120


# --------------------------------------------------------------------------- reading GPUs


@dataclass(frozen=True)
class GPUTarget:
    """Which GPU (or MIG slice) a pod lands on, as far as the manifest says."""

    name: str  # "h100-80gb", "h100-80gb MIG 3g.40gb"
    memory_gib: float  # physical memory of one device (GPU or slice)
    gpu: Any | None  # GPUProfile, when one profile matches
    mig_profile: str | None = None
    shared: bool = False

    @property
    def gpus_per_node(self) -> int | None:
        return self.gpu.spec.gpus_per_node if self.gpu is not None and self.mig_profile is None else None


def _products(group: PodGroup) -> list[str]:
    """Values of nvidia.com/gpu.product the pod must land on (selector or required affinity)."""
    value = group.node_selector.get(GPU_PRODUCT_LABEL) if isinstance(group.node_selector, Mapping) else None
    if value:
        return [str(value)]
    affinity = ((group.spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    values: list[str] = []
    for term in affinity.get("nodeSelectorTerms") or []:
        for expr in (term or {}).get("matchExpressions") or []:
            if expr.get("key") == GPU_PRODUCT_LABEL and expr.get("operator") == "In":
                values.extend(str(v) for v in expr.get("values") or [])
    return values


def _mig_profile_of(gpu: Any, name: str) -> Any | None:
    mig = gpu.spec.mig
    if mig is None:
        return None
    wanted = name.replace(".me", "+me")
    return next((p for p in mig.profiles if p.name in (name, wanted)), None)


def _one_product(profiles: Any, product: str, mig_resource: str | None) -> GPUTarget | None:
    shared = product.endswith("-SHARED")
    base = product[: -len("-SHARED")] if shared else product
    mig_name = None
    if "-MIG-" in base:
        base, mig_name = base.split("-MIG-", 1)
    mig_name = mig_name or mig_resource
    gpu = next((g for g in profiles.gpus.values() if g.spec.product.lower() == base.lower()), None)
    if gpu is None:
        return None
    if mig_name:
        slice_ = _mig_profile_of(gpu, mig_name)
        if slice_ is None:
            return None
        return GPUTarget(f"{gpu.name} MIG {slice_.name}", slice_.memory_gi_b, gpu, slice_.name, shared)
    return GPUTarget(gpu.name, gpu.spec.memory_gi_b, gpu, None, shared)


def gpu_target(profiles: Any, group: PodGroup, resource: str | None) -> GPUTarget | None:
    """The GPU of a pod group; with several possible products, the one with the most memory
    (so a "does not fit" holds on every one of them)."""
    m = MIG_RESOURCE.match(resource or "")
    mig_resource = m.group("profile") if m else None
    found = [t for t in (_one_product(profiles, p, mig_resource) for p in _products(group)) if t is not None]
    if not found and mig_resource:
        # only the MIG resource: every GPU that has this profile is a candidate
        for gpu in profiles.gpus.values():
            slice_ = _mig_profile_of(gpu, mig_resource)
            if slice_ is not None:
                found.append(GPUTarget(f"MIG {slice_.name}", slice_.memory_gi_b, None, slice_.name))
    if not found:
        return None
    return max(found, key=lambda t: t.memory_gib)


# --------------------------------------------------------------------------- reading servers


def _env(container: Mapping[str, Any], name: str) -> str | None:
    for e in container.get("env") or []:
        if isinstance(e, Mapping) and e.get("name") == name and "value" in e:
            return str(e["value"])
    return None


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


def flag_path(container_path: Path, container: Mapping[str, Any], *flags: str) -> Path:
    """Path of the command-line item holding one of `flags` (the flag or flag=value)."""
    for key in ("args", "command"):
        for i, arg in enumerate(container.get(key) or []):
            a = str(arg)
            if any(a == f or a.startswith(f + "=") for f in flags):
                return (*container_path, key, i)
    return container_path


def _vllm_model(line: list[str]) -> tuple[str | None, tuple[str, ...]]:
    value = arg_value(line, "--model")
    if value:
        return value, ("--model",)
    for i, arg in enumerate(line[:-1]):
        if arg == "serve" and not line[i + 1].startswith("-"):
            return line[i + 1], ("serve",)
    return None, ()


@dataclass
class ServerSetup:
    """One vLLM/TGI container as the rules see it."""

    target: Target
    group: PodGroup
    path: Path  # the container
    container: Mapping[str, Any]
    runtime: str
    model_id: str | None
    model_path: Path
    model: Any | None  # ModelProfile
    tensor_parallel: int
    tp_flag: str | None  # the flag that set TP ("--tensor-parallel-size"), None = default
    pipeline_parallel: int
    utilization: float
    max_model_len: int | None
    max_num_seqs: int | None
    dtype: str | None
    quantization: str | None
    kv_cache_dtype: str | None
    engine_version: tuple[int, ...] | None
    gpu_resource: str | None
    gpu_count: int | None
    gpu: GPUTarget | None

    def arg_path(self, *flags: str) -> Path:
        return flag_path(self.path, self.container, *flags)

    @property
    def tp_path(self) -> Path:
        return self.arg_path(self.tp_flag) if self.tp_flag else self.path

    def fit(self) -> ServingFit | None:
        if self.model is None or self.gpu is None:
            return None
        return serving_fit(
            self.model,
            self.gpu.memory_gib,
            tensor_parallel=self.tensor_parallel,
            pipeline_parallel=self.pipeline_parallel,
            utilization=self.utilization,
            max_model_len=self.max_model_len if self.max_model_len is not None else (None if self.runtime == "vllm" else 1),
            max_num_seqs=self.max_num_seqs,
            dtype=self.dtype,
            quantization=self.quantization,
            kv_cache_dtype=self.kv_cache_dtype,
            runtime=self.runtime,
            engine_version=self.engine_version,
        )

    @property
    def length_known(self) -> bool:
        """vLLM defaults max-model-len to the model's context; TGI decides at start-up."""
        return self.runtime == "vllm" or self.max_model_len is not None

    def load_estimate(self) -> float | None:
        """Seconds to load the weights and start the engine (as the InferenceEndpoint planner sizes it)."""
        if self.model is None:
            return None
        throughput, overhead = DEFAULT_LOAD_THROUGHPUT_GBPS, DEFAULT_LOAD_OVERHEAD_SECONDS
        spec = self.target.spec.spec if self.target.spec is not None else None
        if spec is not None and getattr(spec, "kind", None) == "InferenceEndpoint":
            throughput = spec.spec.startup.load_throughput_g_bps
            overhead = spec.spec.startup.overhead_seconds
        return load_seconds(weight_bytes(self.model, self.dtype, self.quantization), throughput, overhead)

    def recommendation(self) -> str | None:
        if self.model is None or self.gpu is None or self.gpu.gpu is None:
            return None
        return recommend_serving(
            self.model, self.gpu.gpu, utilization=self.utilization,
            max_model_len=self.max_model_len if self.length_known else 1,
            max_num_seqs=self.max_num_seqs, dtype=self.dtype, quantization=self.quantization,
            kv_cache_dtype=self.kv_cache_dtype, runtime=self.runtime, engine_version=self.engine_version,
        ).text


def read_server(profiles: Any, target: Target, group: PodGroup, path: Path, container: Mapping[str, Any]) -> ServerSetup | None:
    runtime = server_runtime(container)
    if runtime is None:
        return None
    line = command_line(container)
    request = gpu_request(container)
    resource, count = request if request else (None, None)
    if runtime == "vllm":
        model_id, model_flags = _vllm_model(line)
        tp_flag = next((f for f in ("--tensor-parallel-size", "-tp") if arg_value(line, f) is not None), None)
        tp = _int_arg(arg_value(line, tp_flag)) if tp_flag else 1
        pp = _int_arg(arg_value(line, "--pipeline-parallel-size", "-pp")) or 1
        util = _float_arg(arg_value(line, "--gpu-memory-utilization")) or DEFAULT_GPU_MEMORY_UTILIZATION
        max_len = _int_arg(arg_value(line, "--max-model-len"))
        max_seqs = _int_arg(arg_value(line, "--max-num-seqs"))
        quant = arg_value(line, "--quantization", "-q")
        kv_dtype = arg_value(line, "--kv-cache-dtype")
    else:
        model_id = arg_value(line, "--model-id") or _env(container, "MODEL_ID")
        model_flags = ("--model-id",)
        tp_flag = "--num-shard" if arg_value(line, "--num-shard") is not None else None
        shards = arg_value(line, "--num-shard") or _env(container, "NUM_SHARD")
        # TGI shards over every visible GPU unless told otherwise
        tp = _int_arg(shards) if shards else (count if count and resource == GPU_RESOURCE else 1)
        pp = 1
        util = _float_arg(arg_value(line, "--cuda-memory-fraction") or _env(container, "CUDA_MEMORY_FRACTION")) or DEFAULT_TGI_MEMORY_FRACTION
        max_len = _int_arg(arg_value(line, "--max-total-tokens") or _env(container, "MAX_TOTAL_TOKENS"))
        max_seqs = None
        quant = arg_value(line, "--quantize") or _env(container, "QUANTIZE")
        kv_dtype = arg_value(line, "--kv-cache-dtype")
    dtype = arg_value(line, "--dtype")
    setup = ServerSetup(
        target=target, group=group, path=path, container=container, runtime=runtime,
        model_id=model_id,
        model_path=flag_path(path, container, *model_flags) if model_flags else path,
        model=profiles.model(model_id) if model_id else None,
        tensor_parallel=tp or 1, tp_flag=tp_flag, pipeline_parallel=pp, utilization=util,
        max_model_len=max_len, max_num_seqs=max_seqs,
        dtype=dtype if dtype not in (None, "auto") else None,
        quantization=quant.lower() if quant else None,
        kv_cache_dtype=kv_dtype,
        engine_version=parse_engine_version(str(container.get("image", ""))) if runtime == "vllm" else None,
        gpu_resource=resource, gpu_count=count,
        gpu=gpu_target(profiles, group, resource),
    )
    return setup


def server_setups(ctx: RuleContext) -> list[ServerSetup]:
    """Every vLLM/TGI container of the run (computed once per context)."""
    cached = getattr(ctx, "_llmkube_servers", None)
    if cached is not None:
        return cached
    out = []
    for target in ctx.targets:
        for group in pod_groups(target):
            for path, container in group.containers():
                setup = read_server(ctx.profiles, target, group, path, container)
                if setup is not None:
                    out.append(setup)
    ctx._llmkube_servers = out  # type: ignore[attr-defined]
    return out


# --------------------------------------------------------------------------- reading training jobs

TRAINING_KINDS = {"PyTorchJob", "TrainJob", "MPIJob", "JobSet", "Job"}
MODEL_FLAGS = ("--model_name_or_path", "--model-name-or-path", "--model_id", "--model-id", "--base_model", "--pretrained_model_name_or_path", "--model")
QLORA_FLAGS = ("--use_qlora", "--qlora", "--use-qlora")
LORA_FLAGS = ("--use_lora", "--lora", "--use-lora", "--use_peft", "--use-peft")
FALSE = {"false", "0", "no", "off"}


def _flag_on(line: list[str], *flags: str) -> bool:
    for i, arg in enumerate(line):
        for flag in flags:
            if arg == flag:
                nxt = line[i + 1] if i + 1 < len(line) else ""
                return nxt.lower() not in FALSE
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1].lower() not in FALSE
    return False


def method_from_args(line: list[str]) -> str | None:
    """lora / qlora from obvious flags; None when the command line does not say (full is not assumed)."""
    peft = (arg_value(line, "--peft") or arg_value(line, "--peft_type") or "").lower()
    if _flag_on(line, *QLORA_FLAGS) or peft == "qlora":
        return "qlora"
    if _flag_on(line, *LORA_FLAGS) or peft == "lora" or arg_value(line, "--lora_r", "--lora-r") is not None:
        return "qlora" if _flag_on(line, "--load_in_4bit", "--load-in-4bit") else "lora"
    return None


@dataclass
class TrainingSetup:
    target: Target
    path: Path
    model_id: str | None
    model: Any | None
    method: str
    gpus: int
    gpu: GPUTarget | None
    from_spec: bool

    def fit(self) -> TrainingFit | None:
        if self.model is None or self.gpu is None or self.gpus < 1:
            return None
        return training_fit(self.model, self.method, self.gpus, self.gpu.memory_gib)


def _from_spec(ctx: RuleContext, target: Target) -> TrainingSetup | None:
    loaded = target.spec
    job = loaded.spec
    spec = job.spec
    if not spec.model:
        return None
    gpu = ctx.profiles.gpu(spec.gpu)
    per_node = spec.gpus_per_node or (gpu.spec.gpus_per_node if gpu else 0)
    nodes = spec.nodes if isinstance(spec.nodes, int) else spec.nodes.min
    return TrainingSetup(
        target, (), spec.model, ctx.profiles.model(spec.model), spec.training.method, nodes * per_node,
        GPUTarget(gpu.name, gpu.spec.memory_gi_b, gpu) if gpu else None, True,
    )


def _from_manifest(ctx: RuleContext, target: Target) -> TrainingSetup | None:
    groups = pod_groups(target)
    method = model_id = None
    path: Path = ()
    gpu: GPUTarget | None = None
    gpus = 0
    for group in groups:
        per_pod = 0
        for cpath, container in group.containers():
            if server_runtime(container):
                return None
            line = command_line(container)
            m = method_from_args(line)
            if m and method is None:
                method, path = m, flag_path(cpath, container, *MODEL_FLAGS)
                model_id = arg_value(line, *MODEL_FLAGS)
            request = gpu_request(container)
            if request:
                per_pod += request[1]
                gpu = gpu or gpu_target(ctx.profiles, group, request[0])
        replicas = group.replicas
        elastic = (target.obj.get("spec") or {}).get("elasticPolicy") or {}
        if isinstance(elastic.get("minReplicas"), int) and group.role == "Worker":
            replicas = elastic["minReplicas"]
        gpus += per_pod * replicas
    if method is None:
        return None
    return TrainingSetup(target, path, model_id, ctx.profiles.model(model_id) if model_id else None, method, gpus, gpu, False)


def training_setups(ctx: RuleContext) -> list[TrainingSetup]:
    cached = getattr(ctx, "_llmkube_training", None)
    if cached is not None:
        return cached
    out = []
    for target in ctx.targets:
        if target.obj.get("kind") not in TRAINING_KINDS:
            continue
        if target.spec is not None and target.spec.kind == "TrainingJob":
            setup = _from_spec(ctx, target)
        else:
            setup = _from_manifest(ctx, target)
        if setup is not None:
            out.append(setup)
    ctx._llmkube_training = out  # type: ignore[attr-defined]
    return out


def _gib(x: float) -> str:
    return f"{x:.1f}"


# --------------------------------------------------------------------------- rules


@rule("LK101", "model-does-not-fit", Severity.ERROR, "a vLLM/TGI server's model does not fit its GPUs")
def model_does_not_fit(ctx: RuleContext) -> Iterator[Hit]:
    """A model server needs, on each GPU, its share of the weights (÷ tensor × pipeline
    parallel size), the engine's runtime memory (activation peak, NCCL and CUDA
    context) and the KV cache for at least one full `--max-model-len` sequence
    (vLLM defaults it to the model's whole context). vLLM may use
    `--gpu-memory-utilization` × the GPU's *physical* memory (79.19 GiB on an
    "80 GB" H100, the slice's memory on MIG); if the need is larger, the server
    exits at start-up ("No available memory for the cache blocks") and the pod
    crash-loops. The message gives the numbers; the hint the smallest
    tensor-parallel size or MIG profile that fits.

    For sliding-window models (Gemma-2) the KV cache is not counted (the engine may
    size it per layer); only weights and runtime memory are compared.

    Fails:

    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: llama-70b}
    spec:
      selector: {matchLabels: {app: llama-70b}}
      template:
        metadata: {labels: {app: llama-70b}}
        spec:
          nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.11.0
              args: [--model, meta-llama/Llama-3.1-70B-Instruct, --max-model-len, "8192"]
              resources: {limits: {nvidia.com/gpu: 1}}
    ```

    Passes:

    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: llama-70b}
    spec:
      selector: {matchLabels: {app: llama-70b}}
      template:
        metadata: {labels: {app: llama-70b}}
        spec:
          nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.11.0
              args: [--model, meta-llama/Llama-3.1-70B-Instruct, --max-model-len, "8192",
                     --tensor-parallel-size, "4"]
              resources: {limits: {nvidia.com/gpu: 4}}
    ```
    """
    for s in server_setups(ctx):
        fit = s.fit()
        if fit is None:
            continue
        where = f"{fit.utilization:g} × {fit.memory_gib:g} GiB {s.gpu.name}"
        par = f"TP {fit.tensor_parallel}" + (f" × PP {fit.pipeline_parallel}" if fit.pipeline_parallel > 1 else "")
        if fit.kv_exact and s.length_known:
            if fit.fits:
                continue
            message = (
                f"{s.model.spec.display_name} needs {_gib(fit.need_gib)} GiB per GPU at {par} "
                f"({_gib(fit.weights_gib)} weights + {_gib(fit.kv_sequence_gib)} KV for one {fit.max_model_len}-token "
                f"sequence + {_gib(fit.overhead_gib)} runtime) but may use {_gib(fit.budget_gib)} GiB ({where})"
            )
        else:
            base = fit.weights_gib + fit.overhead_gib
            if base <= fit.budget_gib:
                continue
            message = (
                f"{s.model.spec.display_name} needs {_gib(base)} GiB per GPU at {par} before any KV cache "
                f"({_gib(fit.weights_gib)} weights + {_gib(fit.overhead_gib)} runtime) but may use "
                f"{_gib(fit.budget_gib)} GiB ({where})"
            )
        advice = s.recommendation()
        hint = (f"recommended on {s.gpu.gpu.name}: {advice}" if advice else
                "raise the tensor-parallel size, shorten --max-model-len, quantize, or use a larger GPU")
        yield Hit(s.target, s.model_path, message, hint)


@rule("LK102", "unknown-model", Severity.INFO, "no model profile: sizing checks skipped")
def unknown_model(ctx: RuleContext) -> Iterator[Hit]:
    """Sizing needs the model's shapes (parameters, layers, KV heads, head size). When the
    served or trained model matches no model profile by name or Hugging Face id, the
    sizing rules (LK101, LK103, LK104, LK302, LK305, LK307) skip it rather than guess,
    and this note says so. Add a ModelProfile with `--profiles DIR` to size it.

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: my-model}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, my-org/my-private-13b]
          resources: {limits: {nvidia.com/gpu: 1}}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-8b}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-8B-Instruct]
          resources: {limits: {nvidia.com/gpu: 1}}
    ```
    """
    for s in server_setups(ctx):
        if s.model_id and s.model is None:
            yield Hit(s.target, s.model_path, f"no model profile for {s.model_id!r}: sizing not checked",
                      "add a ModelProfile (layers, heads, KV heads, head size, parameters) with --profiles DIR")
    for t in training_setups(ctx):
        if t.model_id and t.model is None:
            yield Hit(t.target, t.path, f"no model profile for {t.model_id!r}: training memory not checked",
                      "add a ModelProfile with --profiles DIR")


@rule("LK103", "concurrency-exceeds-kv-cache", Severity.WARNING, "the KV cache holds fewer full sequences than --max-num-seqs")
def concurrency_exceeds_kv(ctx: RuleContext) -> Iterator[Hit]:
    """vLLM sizes its KV cache from what is left after weights and runtime memory
    (`--gpu-memory-utilization` × physical memory − weights − runtime), in blocks of 16
    tokens. When that pool holds fewer full `--max-model-len` sequences than
    `--max-num-seqs` asks for, long requests are preempted and recomputed under load:
    the requested concurrency is not there. Fix it with a larger tensor-parallel size,
    a shorter `--max-model-len`, an fp8 KV cache (`--kv-cache-dtype fp8` doubles the
    tokens) or a lower `--max-num-seqs`.

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-8b}
    spec:
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-8B-Instruct, --max-model-len, "32768", --max-num-seqs, "64"]
          resources: {limits: {nvidia.com/gpu: 1}}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-8b}
    spec:
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-8B-Instruct, --max-model-len, "8192", --max-num-seqs, "32"]
          resources: {limits: {nvidia.com/gpu: 1}}
    ```
    """
    for s in server_setups(ctx):
        fit = s.fit()
        if fit is None or fit.max_num_seqs is None or not fit.kv_exact or not fit.fits:
            continue
        if fit.fits_requested:
            continue
        yield Hit(
            s.target,
            s.arg_path("--max-num-seqs"),
            f"the KV cache holds {fit.max_sequences} full {fit.max_model_len}-token sequences "
            f"({fit.kv_tokens} tokens, {_gib(fit.kv_budget_gib)} GiB per GPU) but --max-num-seqs is {fit.max_num_seqs}",
            (s.recommendation() or "raise the tensor-parallel size") +
            "; or shorten --max-model-len, use --kv-cache-dtype fp8, or lower --max-num-seqs",
        )


@rule("LK104", "training-does-not-fit", Severity.ERROR, "a training job's per-GPU memory exceeds its GPU")
def training_does_not_fit(ctx: RuleContext) -> Iterator[Hit]:
    """Training keeps model states on the GPUs before any activation: a full fine-tune
    with mixed precision and AdamW about 16–18 bytes per parameter, LoRA the frozen
    16-bit base (2 B/param) plus small adapters, QLoRA a 4-bit base (≈0.5 B/param).
    Even sharded evenly over all of the job's GPUs (FSDP / ZeRO-3) — the best case —
    the lower bound must fit one GPU, or the job dies with CUDA out-of-memory.

    The method comes from the TrainingJob spec's `training.method`; for plain
    manifests only from obvious flags (`--use_lora`, `--lora_r`, `--use_qlora`,
    `--load_in_4bit` with LoRA); otherwise the job is skipped. The GPU count is the
    job's minimum size (all workers × GPUs per pod).

    Fails:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: lora-405b}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 1
          template:
            spec:
              nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  command: [torchrun, --nproc_per_node=8, train.py,
                            --model_name_or_path=meta-llama/Llama-3.1-405B, --use_lora]
                  resources: {limits: {nvidia.com/gpu: 8}}
    ```

    Passes:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: lora-405b}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  command: [torchrun, --nproc_per_node=8, train.py,
                            --model_name_or_path=meta-llama/Llama-3.1-405B, --use_lora]
                  resources: {limits: {nvidia.com/gpu: 8}}
    ```
    """
    for t in training_setups(ctx):
        fit = t.fit()
        if fit is None or fit.fits:
            continue
        what = {"full": "a full fine-tune", "lora": "LoRA", "qlora": "QLoRA"}[t.method]
        params = t.model.spec.parameters_b * 1e9
        from llmkube.plan.sizing import CUDA_CONTEXT_GIB

        states_gib = (fit.low_gib - CUDA_CONTEXT_GIB) * fit.gpus
        gpus_needed = math.ceil(states_gib / (fit.memory_gib - CUDA_CONTEXT_GIB))
        yield Hit(
            t.target,
            t.path,
            f"{what} of {t.model.spec.display_name} ({params / 1e9:.0f}B parameters) needs at least "
            f"{_gib(fit.low_gib)} GiB per GPU sharded over {fit.gpus} GPUs, before activations, "
            f"but one {t.gpu.name} has {fit.memory_gib:g} GiB",
            f"use at least {gpus_needed} GPUs with FSDP/ZeRO-3" + ("" if t.method == "qlora" else ", or LoRA/QLoRA"),
        )


__all__ = [
    "GPUTarget", "ServerSetup", "TrainingSetup", "server_setups", "training_setups", "read_server",
    "gpu_target", "method_from_args", "flag_path", "DEFAULT_LOAD_THROUGHPUT_GBPS", "DEFAULT_LOAD_OVERHEAD_SECONDS", "GIB",
]
