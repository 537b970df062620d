"""InferenceEndpoint with `nodes` > 1 → one vLLM server over several nodes.

Rendered as a LeaderWorkerSet (kubernetes-sigs/lws, one group of `nodes` pods per replica, the
leader's Service, a PodDisruptionBudget) or, with `multiNode.backend: kserve`, as a KServe
InferenceService with `workerSpec`. Parallelism defaults to vLLM's own advice for multi-node
serving (`docs/serving/parallelism_scaling.md`): tensor parallel = the GPUs of one node,
pipeline parallel = the nodes; a spec that sets either must still fill every GPU of every node.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from llmkube.engines import (
    DEFAULT_IMAGES,
    HEALTH_PATH,
    VLLM_NATIVE_MULTI_NODE_SINCE,
    VLLM_RAY_SCRIPT,
    FlagValue,
    command_line,
    extra_value,
    parse_engine_version,
)
from llmkube.names import (
    ENDPOINT_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    KSERVE_AUTOSCALER_CLASS_ANNOTATION,
    KSERVE_DEPLOYMENT_MODE_ANNOTATION,
    KSERVE_GPU_RESOURCE_TYPES_ANNOTATION,
    LWS_GROUP_SIZE_ENV,
    LWS_LEADER_ADDRESS_ENV,
    LWS_NAME_LABEL,
    LWS_WORKER_INDEX_ENV,
    LWS_WORKER_INDEX_LABEL,
)
from llmkube.plan import nodeload
from llmkube.plan.base import Plan
from llmkube.plan.context import PlanContext, PlanError
from llmkube.plan.inference import DEPLOYMENT_PORT_NAME, UNKNOWN_MODEL_LOAD_SECONDS, runtime_args
from llmkube.plan.pods import (
    K8sObject,
    claim_volume,
    container_resources,
    merge_env,
    secret_env,
    shm_volume,
    standard_labels,
    tolerations,
)
from llmkube.plan.sizing import (
    GIB,
    ServerConfig,
    serving_fit,
    stage_weight_bytes,
    startup_budget,
)
from llmkube.plan.training import nccl_env, rdma_security_context, shm_size
from llmkube.profiles import GPUProfile, ModelProfile
from llmkube.records import record
from llmkube.specs.inferenceendpoint import LEADER_SERVICE_SUFFIX, InferenceEndpoint, InferenceEndpointSpec, Startup, weights_source
from llmkube.specs.network import effective_rdma

# KServe v0.20.0 `config/runtimes/kserve-huggingfaceserver-multinode.yaml`: the ClusterServingRuntime
# with a `workerSpec` (Ray head in the predictor, Ray workers in `worker-container`), model format
# `huggingface`. `pkg/constants/constants.go`: `WorkerContainerName`, `AutoscalerClassNone`.
KSERVE_MULTINODE_RUNTIME = "kserve-huggingfaceserver-multinode"
KSERVE_MULTINODE_FORMAT = "huggingface"
KSERVE_WORKER_CONTAINER = "worker-container"
KSERVE_AUTOSCALER_NONE = "none"

# The flags KServe's multi-node runtime sets itself (`--model_dir`, `--tensor-parallel-size`,
# `--pipeline-parallel-size` from its env, `--model_name` from its args); the endpoint passes the rest.
KSERVE_RUNTIME_SETS = ("model", "served_model_name", "port", "tensor_parallel", "pipeline_parallel")

# What one link between nodes carries compared with NVLink inside a node, for the `plan` note: an
# HGX H100's NVLink 4 is 900 GB/s per GPU (NVIDIA's H100 datasheet); one 400 Gb/s NDR InfiniBand or
# RoCE NIC per GPU is 50 GB/s — about 1/18. A stage boundary sends one token's activations per
# step; tensor parallelism all-reduces twice per layer, so it stays inside a node.
INTERCONNECT_NOTE = (
    "tensor parallelism all-reduces twice per layer and stays on NVLink inside a node; pipeline parallelism "
    "sends one hidden-state tensor per step between nodes, which a 400 Gb/s RDMA NIC per GPU (~1/18 of "
    "NVLink 4's 900 GB/s) carries well and TCP on the pod network slows"
)


@record(frozen=True)
class NodeContainer:
    """The vLLM container of one pod of the group (leader or worker)."""

    name: str
    image: str | None  # None: KServe's worker takes the ServingRuntime's image
    command: tuple[str, ...]
    args: tuple[str, ...]
    port: int | None  # the leader serves HTTP; workers do not
    port_name: str
    env: tuple[K8sObject, ...]
    resources: dict[str, dict[str, Any]]
    volume_mounts: tuple[K8sObject, ...]
    security_context: K8sObject | None
    startup_probe: K8sObject | None
    readiness_probe: K8sObject | None
    liveness_probe: K8sObject | None


@record(frozen=True)
class NodePod:
    """One pod template of the group."""

    labels: dict[str, str]
    container: NodeContainer


@record(frozen=True, kw_only=True)
class MultiNodePlan(Plan):
    """One InferenceEndpoint over several nodes, decided: what leaderworkerset.yaml.j2 and
    inferenceservice-multinode.yaml.j2 render."""

    name: str
    namespace: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    backend: str  # "leaderworkerset" | "kserve"
    launcher: str  # "ray" | "native" | "kserve" (the runtime's)
    nodes: int  # pods per group (LeaderWorkerSet `size`)
    replicas: int  # groups
    tensor_parallel: int
    pipeline_parallel: int
    gpus_per_node: int
    leader: NodePod
    worker: NodePod
    service_name: str  # the leader's Service (LeaderWorkerSet)
    service_selector: dict[str, str]
    port: int
    volumes: tuple[K8sObject, ...]
    node_selector: dict[str, str]
    tolerations: tuple[dict[str, str], ...]
    service_account: str | None
    pdb_selector: dict[str, str] | None  # one budget over every pod of every group (see `disruption_budget`)
    load_estimate_seconds: int
    # KServe multi-node
    storage_uri: str | None
    runtime_name: str
    model_format: str

    hidden_from_template = ("node_label_steps",)


def launcher_for(spec: InferenceEndpointSpec, image: str) -> str:
    """How vLLM joins the nodes: the spec's choice, else its own mode from 0.12 on, Ray before.
    An unpinned tag counts as current."""
    if spec.multi_node.launcher is not None:
        return spec.multi_node.launcher
    version = parse_engine_version(image)
    return "native" if version is None or version >= VLLM_NATIVE_MULTI_NODE_SINCE else "ray"


def parallelism(spec: InferenceEndpointSpec, gpus_per_node: int) -> tuple[int, int]:
    """(TP, PP): the GPUs of a node × the nodes, or as the spec sets them; every GPU of every node is a rank.

    vLLM places ranks node by node (TP innermost), so TP × PP must be the group's GPUs exactly:
    fewer leaves GPUs idle that each pod still holds, more cannot start."""
    fields = spec.model_fields_set
    total = spec.nodes * gpus_per_node
    if "tensor_parallel" not in fields and "pipeline_parallel" not in fields:
        return gpus_per_node, spec.nodes
    tp, pp = spec.tensor_parallel, spec.pipeline_parallel
    if "pipeline_parallel" not in fields and total % tp == 0:
        pp = total // tp
    elif "tensor_parallel" not in fields and total % pp == 0:
        tp = total // pp
    if tp * pp != total:
        raise PlanError(
            ("spec", "tensorParallel" if "tensor_parallel" in fields else "pipelineParallel"),
            f"tensorParallel × pipelineParallel = {tp} × {pp} = {tp * pp}, but {spec.nodes} nodes × {gpus_per_node} GPUs = {total}",
            f"every GPU of the group is one vLLM rank: e.g. tensorParallel {gpus_per_node} × pipelineParallel {spec.nodes}",
        )
    if tp > gpus_per_node:
        raise PlanError(
            ("spec", "tensorParallel"),
            f"tensorParallel {tp} spans nodes: a node has {gpus_per_node} GPUs",
            "tensor parallelism all-reduces at every layer; keep it inside a node (NVLink) and pipeline across nodes",
        )
    return tp, pp


def gpu_nodes(ep: InferenceEndpoint, ctx: PlanContext) -> tuple[GPUProfile, int, dict[str, str], tuple[dict[str, str], ...]]:
    """(GPU profile, GPUs per node, node selector, pool tolerations) of the nodes the group runs on."""
    spec = ep.spec
    if spec.pool:
        pool = ctx.pools.get(spec.pool)
        if pool is None:
            known = ", ".join(sorted(ctx.pools)) or "none"
            raise PlanError(("spec", "pool"), f"pool {spec.pool!r} is not in any Fleet given with this endpoint",
                            f"pass the Fleet spec in the same run (pools: {known}), or use `gpu:`")
        if pool.shared or pool.mig_layout:
            raise PlanError(("spec", "pool"), f"pool {spec.pool!r} shares or slices its GPUs", "a multi-node server takes whole GPUs")
        return pool.gpu, pool.gpus_per_node, dict(pool.node_labels), tuple(pool.tolerations)
    gpu = ctx.gpu(spec.gpu or "", ("spec", "gpu"))
    return gpu, gpu.spec.gpus_per_node, {GPU_PRODUCT_LABEL: gpu.spec.product}, ()


def node_load_seconds(model: ModelProfile, dtype: str | None, quantization: str | None, tp: int, pp: int,
                      gpus_per_node: int, startup: Startup, source: str) -> float:
    """Seconds until a multi-node server serves with these `startup` settings (`plan.nodeload`)."""
    return nodeload.node_load_seconds(model, dtype, quantization, tp, pp, gpus_per_node, source,
                                      load_gbps=startup.load_throughput_g_bps, overhead_seconds=startup.overhead_seconds,
                                      download_throughput_gbps=startup.download_throughput_g_bps)


def _load_estimate(model: ModelProfile | None, spec: InferenceEndpointSpec, tp: int, pp: int, gpus_per_node: int) -> float:
    if model is None:
        return UNKNOWN_MODEL_LOAD_SECONDS
    return node_load_seconds(model, spec.dtype, spec.quantization, tp, pp, gpus_per_node, spec.startup, weights_source(spec))


def memory_notes(ep: InferenceEndpoint, model: ModelProfile, memory_gib: float, tp: int, pp: int, gpus_per_node: int,
                 gpu_name: str = "") -> list[str]:
    """What `llmkube plan` says of a multi-node server: weights per node and per GPU, the KV pool of the
    binding stage, and what the link between nodes means for TP against PP."""
    spec = ep.spec
    config = ServerConfig(tensor_parallel=tp, pipeline_parallel=pp, utilization=spec.gpu_memory_utilization,
                          max_model_len=spec.max_model_len, max_num_seqs=spec.max_num_seqs, dtype=spec.dtype,
                          quantization=spec.quantization, kv_cache_dtype=spec.kv_cache_dtype,
                          enforce_eager=bool(spec.enforce_eager), max_num_batched_tokens=spec.max_batch_tokens,
                          chunked_prefill=spec.chunked_prefill,
                          performance_mode=extra_value(spec.runtime, spec.extra_args, "performance_mode"),
                          engine_version=parse_engine_version(spec.image or DEFAULT_IMAGES[spec.runtime]))
    stages = stage_weight_bytes(model, config, pp)
    per_node = max(1, gpus_per_node // tp)
    nodes = [sum(stages[i:i + per_node]) for i in range(0, len(stages), per_node)]
    weights = ", ".join(f"node {i}: {b / GIB:.1f} GiB ({b / GIB / gpus_per_node:.1f} GiB/GPU)" for i, b in enumerate(nodes))
    fit = serving_fit(model, memory_gib, config, gpu_name=gpu_name)
    kv = (f"stage {fit.stage} binds with a {fit.kv_budget_gib:.1f} GiB KV pool per GPU ({fit.kv_tokens:,} tokens)"
          if fit.fits else f"stage {fit.stage} does not fit: it needs {fit.need_gib:.1f} GiB of {fit.budget_gib:.1f} GiB per GPU")
    where = f"{ep.kind} {ep.metadata.name}"
    return [
        f"{where}: TP {tp} × PP {pp} over {spec.nodes} nodes × {gpus_per_node} GPUs; weights per node — {weights}; {kv}",
        f"{where}: {INTERCONNECT_NOTE}",
    ]


def _probes(spec: InferenceEndpointSpec, estimate: float) -> tuple[K8sObject, K8sObject, K8sObject]:
    budget = startup_budget(estimate)
    probe = {"httpGet": {"path": HEALTH_PATH[spec.runtime], "port": spec.port}}
    return (
        {**probe, "periodSeconds": budget.period_seconds, "failureThreshold": budget.failure_threshold, "timeoutSeconds": 5},
        {**probe, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 5},
        {**probe, "periodSeconds": 30, "failureThreshold": 5, "timeoutSeconds": 10},
    )


def _env(spec: InferenceEndpointSpec) -> list[K8sObject]:
    """NCCL's settings (as a TrainingJob's), the Hugging Face cache and token, then the user's env."""
    env = nccl_env(spec.network)
    if spec.cache:
        env.append({"name": "HF_HOME", "value": spec.cache.mount_path})
    if spec.hugging_face.token_secret:
        env.append(secret_env("HF_TOKEN", spec.hugging_face.token_secret))
    return merge_env(env, spec.env)


def _lws_commands(launcher: str, nodes: int, server_args: list[str]) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], tuple[tuple[str, ...], tuple[str, ...]]]:
    """((command, args) of the leader, of a worker).

    `native`: every pod runs the image's `vllm serve` with the same flags and its rank; the
    workers run headless (no API server). The rank and the leader's address are the variables the
    LWS webhook puts in each container, expanded by the kubelet (`$(VAR)` in args).
    `ray`: the leader starts a Ray head and waits for the group (`multi-node-serving.sh leader
    --ray_cluster_size=$(LWS_GROUP_SIZE)`), then runs the OpenAI server; workers join the head and
    block — lws v0.10.0 `docs/examples/vllm/GPU/lws.yaml`. The server's flags stay separate items
    (`"$@"` of `sh -c`), so they are read, and compared, as flags.
    """
    if launcher == "native":
        values: dict[str, FlagValue] = {
            "nnodes": nodes, "node_rank": f"$({LWS_WORKER_INDEX_ENV})", "master_addr": f"$({LWS_LEADER_ADDRESS_ENV})",
        }
        shared = tuple(server_args) + tuple(command_line("vllm", values))
        return ((), shared), ((), (*shared, *command_line("vllm", {"headless": True})))
    server_args = [*server_args, *command_line("vllm", {"distributed_executor_backend": "ray"})]
    leader_script = (f"bash {VLLM_RAY_SCRIPT} leader --ray_cluster_size=$({LWS_GROUP_SIZE_ENV}) && "
                     'exec python3 -m vllm.entrypoints.openai.api_server "$@"')
    worker_script = f"exec bash {VLLM_RAY_SCRIPT} worker --ray_address=$({LWS_LEADER_ADDRESS_ENV})"
    return (("sh", "-c", leader_script, "vllm"), tuple(server_args)), (("sh", "-c", worker_script), ())


def plan_multinode_endpoint(ep: InferenceEndpoint, ctx: PlanContext) -> MultiNodePlan:
    spec = ep.spec
    name = ep.metadata.name
    served_name = spec.served_model_name or spec.model.rsplit("/", 1)[-1].lower()
    gpu, gpus_per_node, node_selector, pool_tolerations = gpu_nodes(ep, ctx)
    tp, pp = parallelism(spec, gpus_per_node)
    model = ctx.profiles.model(spec.model)
    kserve = spec.multi_node.backend == "kserve"
    image = spec.image or DEFAULT_IMAGES[spec.runtime]
    launcher = "kserve" if kserve else launcher_for(spec, image)

    notes: list[str] = []
    if model is None:
        notes.append(f"{ep.kind} {name}: no profile for model {spec.model!r}; startup probe sized for "
                     f"{UNKNOWN_MODEL_LOAD_SECONDS} s (add a ModelProfile with --profiles to size it)")
    else:
        notes.extend(memory_notes(ep, model, gpu.spec.memory_gi_b, tp, pp, gpus_per_node, gpu.spec.display_name))
    rdma = effective_rdma(spec.network)
    if rdma is None:
        notes.append(f"{ep.kind} {name}: no RDMA device requested (`network.rdma`): NCCL runs between the nodes over "
                     "TCP sockets on the pod network")
    estimate = _load_estimate(model, spec, tp, pp, gpus_per_node)
    startup, readiness, liveness = _probes(spec, estimate)

    gpus = gpus_per_node  # parallelism() made TP × PP = nodes × GPUs per node
    shm = shm_size(gpus, spec.shm_size)
    pairs = [shm_volume(shm)] if shm else []
    if spec.cache:
        pairs.append(claim_volume("model-cache", spec.cache.claim, spec.cache.mount_path))
    volumes, mounts = [v for v, _ in pairs], [m for _, m in pairs]
    resources = container_resources(spec.resources.cpu, spec.resources.memory, shm, GPU_RESOURCE, gpus,
                                    {rdma.resource: rdma.count} if rdma else None, cpu_limit=spec.resources.cpu_limit)
    security = rdma_security_context() if rdma and not rdma.efa else None
    env = tuple(_env(spec))

    parallel_spec = spec.model_copy(update={"tensor_parallel": tp, "pipeline_parallel": pp})
    server_args = runtime_args(parallel_spec, served_name, generative_model=model is not None)
    if kserve:
        leader_cmd: tuple[tuple[str, ...], tuple[str, ...]] = ((), tuple(command_line("vllm", _kserve_values(parallel_spec)) + list(spec.extra_args)))
        worker_cmd: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    else:
        leader_cmd, worker_cmd = _lws_commands(launcher, spec.nodes, server_args)

    labels = {**standard_labels(name, "inference"), **ep.metadata.labels}
    pod_labels = {**labels, ENDPOINT_LABEL: name}
    base = NodeContainer(
        name="vllm-leader" if not kserve else "kserve-container", image=image, command=leader_cmd[0], args=leader_cmd[1],
        port=spec.port, port_name=DEPLOYMENT_PORT_NAME, env=env, resources=resources, volume_mounts=tuple(mounts),
        security_context=security, startup_probe=startup, readiness_probe=readiness, liveness_probe=liveness,
    )
    worker = replace(base, name="vllm-worker" if not kserve else KSERVE_WORKER_CONTAINER, command=worker_cmd[0], args=worker_cmd[1],
                     port=None, startup_probe=None, readiness_probe=None, liveness_probe=None)
    if kserve:
        # the ServingRuntime brings the image, /dev/shm and the probes; the endpoint its image only if it names one
        base = replace(base, image=spec.image, resources=container_resources(
            spec.resources.cpu, spec.resources.memory, None, GPU_RESOURCE, gpus, {rdma.resource: rdma.count} if rdma else None,
            cpu_limit=spec.resources.cpu_limit))
        worker = replace(worker, image=None, env=tuple(e for e in env if e["name"] != "HF_HOME"), volume_mounts=(),
                         resources=container_resources(None, None, None, GPU_RESOURCE, gpus, {rdma.resource: rdma.count} if rdma else None))
    annotations = dict(ep.metadata.annotations)
    if kserve:
        annotations[KSERVE_DEPLOYMENT_MODE_ANNOTATION] = spec.deployment_mode
        annotations[KSERVE_AUTOSCALER_CLASS_ANNOTATION] = KSERVE_AUTOSCALER_NONE
        if rdma is not None:
            # v0.20.0 `pkg/utils/utils.go` `HasUnknownGpuResourceType`: with `workerSpec`, every resource
            # besides cpu/memory/storage must be a known GPU type or listed in this annotation, or the
            # webhook refuses the InferenceService (InvalidUnknownGPUTypeError); an RDMA device is neither.
            annotations[KSERVE_GPU_RESOURCE_TYPES_ANNOTATION] = json.dumps([rdma.resource])
    return MultiNodePlan(
        name=name,
        namespace=ep.metadata.namespace,
        labels=labels,
        annotations=annotations,
        backend=spec.multi_node.backend,
        launcher=launcher,
        nodes=spec.nodes,
        replicas=spec.replicas.min,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        gpus_per_node=gpus,
        leader=NodePod(labels=pod_labels, container=base),
        worker=NodePod(labels=pod_labels, container=worker),
        service_name=name + LEADER_SERVICE_SUFFIX,
        service_selector={LWS_NAME_LABEL: name, LWS_WORKER_INDEX_LABEL: "0"},
        port=spec.port,
        volumes=tuple(volumes),
        node_selector=dict(sorted({**node_selector, **spec.node_selector}.items())),
        tolerations=pool_tolerations + tuple(tolerations(spec.tolerations)),
        service_account=spec.service_account,
        pdb_selector=disruption_budget(name, spec.replicas.min, kserve),
        load_estimate_seconds=round(estimate),
        storage_uri=spec.multi_node.storage_uri,
        runtime_name=KSERVE_MULTINODE_RUNTIME,
        model_format=KSERVE_MULTINODE_FORMAT,
        notes=tuple(notes),
    )


def disruption_budget(name: str, replicas: int, kserve: bool) -> dict[str, str] | None:
    """The selector of the group's PodDisruptionBudget (`maxUnavailable: 1`), or None.

    With lws's default `restartPolicy: RecreateGroupOnPodRestart` (v0.10.0
    `pkg/webhooks/leaderworkerset_webhook.go` `Default`), one evicted pod recreates its whole
    group, whose pods are then not ready until the model is loaded again; one budget over every
    pod of the set therefore lets a drain take one group at a time and keeps the others whole.
    With one group there is nothing to keep serving (a budget would only block drains), and KServe
    manages its own multi-node objects.
    """
    if kserve or replicas < 2:
        return None
    return {LWS_NAME_LABEL: name}


def _kserve_values(spec: InferenceEndpointSpec) -> dict[str, FlagValue]:
    """The engine flags KServe's multi-node runtime passes through to vLLM: the endpoint's limits,
    less those the runtime sets itself (KSERVE_RUNTIME_SETS)."""
    values: dict[str, FlagValue] = {
        "gpu_memory_utilization": spec.gpu_memory_utilization,
        "max_model_len": spec.max_model_len,
        "max_num_seqs": spec.max_num_seqs,
        "max_batch_tokens": spec.max_batch_tokens,
        "chunked_prefill": spec.chunked_prefill,
        "kv_cache_dtype": spec.kv_cache_dtype,
        "enforce_eager": spec.enforce_eager,
        "dtype": spec.dtype,
        "quantization": spec.quantization,
    }
    return {k: v for k, v in values.items() if k not in KSERVE_RUNTIME_SETS}
