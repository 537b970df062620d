"""InferenceEndpoint → the plan of a KServe InferenceService or a Deployment + Service.

One spec, either runtime: the spec speaks of the model and its limits, and
`runtime_args` turns them into vLLM's or TGI's own flags. Probe budgets,
GPU resources and node selection are decided here, not in templates.
"""

from __future__ import annotations

from typing import Any

from llmkube import promql
from llmkube.engines import (
    DEFAULT_IMAGES,
    HEALTH_PATH,
    METRIC_QUERIES,
    TGI_DEFAULT_MAX_CONCURRENT_REQUESTS,
    TGI_DTYPES,
    TGI_KV_CACHE_DTYPES,
    VLLM_QUANTIZATIONS,
    VLLM_TASK_REMOVED_IN,
    FlagValue,
    command_line,
    embedding_values,
    parse_engine_version,
    vllm_has_runner,
)
from llmkube.names import (
    ENDPOINT_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    HOSTNAME_LABEL,
    KNATIVE_PROGRESS_DEADLINE_ANNOTATION,
    KSERVE_AUTOSCALER_CLASS_ANNOTATION,
    KSERVE_DEPLOYMENT_MODE_ANNOTATION,
    KSERVE_ISVC_LABEL,
)
from llmkube.plan.base import Plan
from llmkube.plan.context import PlanContext, PlanError, PoolInfo
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
from llmkube.plan.sizing import ProbeBudget, download_gbps, load_seconds, startup_budget, weight_bytes
from llmkube.quantity import quantity_value
from llmkube.records import record
from llmkube.specs.inferenceendpoint import KNATIVE_MODES, InferenceEndpoint, InferenceEndpointSpec, weights_source

UNKNOWN_MODEL_LOAD_SECONDS = 1800
KNATIVE_DEFAULT_DEADLINE = 600

# The serving port's name. Knative (knative-v1.21.1 `pkg/apis/serving/k8s_validation.go`
# `validPortNames`, checked by `validateContainerPorts`) accepts only "", "http1" or "h2c" on the one
# port of a Service; vLLM and TGI speak HTTP/1.1, so "http1". In Standard mode KServe v0.20.0 copies
# the name onto its predictor Service port (`reconcilers/service/service_reconciler.go`
# `createDefaultSvc`), where "http1" is a valid name too. The Deployment target's own Service refers
# to the port by the name "http".
KSERVE_PORT_NAME = "http1"
DEPLOYMENT_PORT_NAME = "http"

# KServe v0.20.0 `config/configmap/inferenceservice.yaml`, key `inferenceService.resource`: what its
# defaulter (`inference_service_defaults.go` `setResourceRequirementDefaults`, applied by
# `CustomPredictor.Default` to `containers[0]`) fills into each request and limit the container
# leaves out, key by key, without comparing a request with its limit. No ServingRuntime container is
# merged under an endpoint's: the controller (`components/predictor.go` `buildPredictorResources`) looks up
# and merges a runtime only for `predictor.model`, and an endpoint's predictor is a custom container.
KSERVE_DEFAULT_REQUESTS = {"cpu": "1", "memory": "2Gi"}
KSERVE_DEFAULT_LIMITS = {"cpu": "1", "memory": "2Gi"}

# Knative `config-features` flags (knative-v1.21.1 `pkg/apis/config/features.go`, all Disabled by
# default) that gate pod fields: `pkg/apis/serving/fieldmask.go` `PodSpecMask` drops nodeSelector,
# affinity and tolerations unless the flag is not Disabled (the field is then refused as "must not
# set the field(s)"); `k8s_validation.go` `validatePersistentVolumeClaims` needs the claim flag, and
# the write flag for a claim that is not read-only, to be exactly `enabled`.
FEATURE_NODE_SELECTOR = "kubernetes.podspec-nodeselector"
FEATURE_AFFINITY = "kubernetes.podspec-affinity"
FEATURE_TOLERATIONS = "kubernetes.podspec-tolerations"
FEATURE_PVC = "kubernetes.podspec-persistent-volume-claim"
FEATURE_PVC_WRITE = "kubernetes.podspec-persistent-volume-write"


def server_image(spec: InferenceEndpointSpec) -> str:
    return spec.image or DEFAULT_IMAGES[spec.runtime]


def canary_percent(spec: InferenceEndpointSpec) -> int | None:
    """`canaryTrafficPercent`: `canary.trafficPercent`, else a rollout's first stage, so that a new
    revision starts its canary there (KServe splits only once a revision was rolled out: the first
    deployment takes 100 %; with no new revision the split falls on one revision, a no-op —
    `PropagateStatus` in KServe v0.20.0 `inference_service_status.go`)."""
    if spec.canary is not None:
        return spec.canary.traffic_percent
    return spec.rollout.stages[0] if spec.rollout is not None else None


def _max_concurrent_requests(spec: InferenceEndpointSpec) -> int | None:
    """TGI's admission cap: as set, else raised to the batch size when that exceeds TGI's default
    (below it the batch could never fill: the surplus is refused with 429, not queued)."""
    if spec.runtime != "tgi":
        return None
    if spec.max_concurrent_requests is not None:
        return spec.max_concurrent_requests
    if spec.max_num_seqs is not None and spec.max_num_seqs > TGI_DEFAULT_MAX_CONCURRENT_REQUESTS:
        return spec.max_num_seqs
    return None


def task_flag_problem(spec: InferenceEndpointSpec) -> tuple[str, bool] | None:
    """(message, refused) when `extraArgs` passes vLLM's `--task` to a version that replaced it."""
    if spec.runtime != "vllm" or not any(a == "--task" or a.startswith("--task=") for a in spec.extra_args):
        return None
    version = parse_engine_version(server_image(spec))
    if not vllm_has_runner(version):
        return None
    removed = version is None or version >= VLLM_TASK_REMOVED_IN
    what = "was removed in vLLM 0.13" if removed else "is deprecated since vLLM 0.10.1 (removed in 0.13)"
    return f"`--task` in extraArgs {what}: use `task: embed` (→ --runner pooling)", removed


def runtime_args(spec: InferenceEndpointSpec, served_name: str, *, generative_model: bool = False) -> list[str]:
    """The server's command-line flags for this spec's limits, spelled by the engines table.

    `generative_model`: the model is a decoder LM (it has a ModelProfile), so serving it
    for embeddings needs vLLM's `--convert embed`.
    """
    if spec.runtime == "vllm" and spec.quantization and spec.quantization not in VLLM_QUANTIZATIONS:
        raise PlanError(("spec", "quantization"), f"vLLM has no {spec.quantization!r} quantization", f"vLLM supports {', '.join(sorted(VLLM_QUANTIZATIONS))}")
    if spec.runtime == "tgi" and spec.dtype == "float32":
        raise PlanError(("spec", "dtype"), "TGI serves float16 or bfloat16 only", "set dtype to bfloat16 or float16")
    task = task_flag_problem(spec)
    if task is not None and task[1]:
        raise PlanError(("spec", "extraArgs"), task[0], f"image {server_image(spec)}; drop `--task` from extraArgs")
    embed = embedding_values(parse_engine_version(server_image(spec)), generative_model) if spec.task == "embed" else {}
    values: dict[str, FlagValue] = {
        "model": spec.model,
        "served_model_name": served_name,
        "port": spec.port,
        "tensor_parallel": spec.tensor_parallel,
        "gpu_memory_utilization": spec.gpu_memory_utilization,
        "max_model_len": spec.max_model_len,
        "max_input_tokens": spec.max_model_len - 1 if spec.max_model_len else None,
        "max_num_seqs": spec.max_num_seqs,
        "max_batch_tokens": spec.max_batch_tokens,
        "max_concurrent_requests": _max_concurrent_requests(spec),
        **embed,
        "chunked_prefill": spec.chunked_prefill,
        "pipeline_parallel": spec.pipeline_parallel if spec.pipeline_parallel > 1 else None,
        "kv_cache_dtype": _kv_cache_dtype(spec),
        "enforce_eager": spec.enforce_eager,
        "dtype": spec.dtype if spec.runtime == "vllm" or spec.dtype in TGI_DTYPES else None,
        "quantization": spec.quantization,
    }
    return command_line(spec.runtime, values) + list(spec.extra_args)


def _kv_cache_dtype(spec: InferenceEndpointSpec) -> str | None:
    """The spec's KV-cache dtype as the engine spells it (TGI: fp8_e4m3fn / fp8_e5m2; `auto` is TGI's default)."""
    if spec.kv_cache_dtype is None or spec.runtime == "vllm":
        return spec.kv_cache_dtype
    return TGI_KV_CACHE_DTYPES.get(spec.kv_cache_dtype)


def _num(value: float) -> str:
    return f"{value:g}"


@record(frozen=True)
class GPUPlacement:
    """Where one server runs: the GPU resource and count it requests, and on which nodes."""

    resource: str
    count: int
    node_selector: dict[str, str]
    tolerations: tuple[dict[str, str], ...]


@record(frozen=True)
class Probes:
    """core/v1 probes of the server: startup sized for the model load."""

    startup: K8sObject
    readiness: K8sObject
    liveness: K8sObject


@record(frozen=True)
class ServerContainer:
    """The model server container (vLLM or TGI)."""

    image: str
    args: tuple[str, ...]
    port: int
    port_name: str
    env: tuple[K8sObject, ...]
    resources: dict[str, dict[str, Any]]
    volume_mounts: tuple[K8sObject, ...]
    probes: Probes


@record(frozen=True)
class DisruptionBudget:
    max_unavailable: int


@record(frozen=True, kw_only=True)
class EndpointPlan(Plan):
    """One InferenceEndpoint, decided: what inferenceservice/deployment.yaml.j2 render."""

    name: str
    namespace: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    pod_labels: dict[str, str]
    predictor_annotations: dict[str, str]
    selector: dict[str, str]
    runtime: str
    container: ServerContainer
    volumes: tuple[K8sObject, ...]
    node_selector: dict[str, str]
    tolerations: tuple[dict[str, str], ...]
    affinity: K8sObject | None
    service_account: str | None
    min_replicas: int
    max_replicas: int
    canary_percent: int | None
    pdb: DisruptionBudget | None
    # a Deployment must outlive a slow model load before it is marked failed
    progress_deadline: int
    load_estimate_seconds: int
    # KServe scaling: on its request metrics (Knative) or a Prometheus query (KEDA)
    scale_metric: str | None = None
    scale_target: int | None = None
    auto_scaling: K8sObject | None = None

    hidden_from_template = ("node_label_steps",)  # the templates have always seen notes


def _pool(ctx: PlanContext, name: str) -> PoolInfo:
    pool = ctx.pools.get(name)
    if pool is None:
        known = ", ".join(sorted(ctx.pools)) or "none"
        raise PlanError(("spec", "pool"), f"pool {name!r} is not in any Fleet given with this endpoint", f"pass the Fleet spec in the same run (pools: {known}), or use `gpu:`")
    return pool


def _gpu_placement(ep: InferenceEndpoint, ctx: PlanContext) -> GPUPlacement:
    """GPU resource and count, node selector and tolerations of one server."""
    spec = ep.spec
    node_selector: dict[str, str] = {}
    pool_tolerations: tuple[dict[str, str], ...] = ()
    pool = _pool(ctx, spec.pool) if spec.pool else None
    if pool is not None:
        gpu = pool.gpu
        node_selector.update(pool.node_labels)
        pool_tolerations = tuple(pool.tolerations)
        strategy = pool.mig_strategy
        if pool.mig_layout and not spec.mig_profile:
            raise PlanError(("spec", "pool"), f"pool {spec.pool!r} is split into MIG slices", f"set `migProfile` to one of {', '.join(sorted(pool.mig_layout))}")
        if spec.mig_profile and spec.mig_profile not in pool.mig_layout:
            have = ", ".join(sorted(pool.mig_layout)) or "none (MIG is not enabled on it)"
            raise PlanError(("spec", "migProfile"), f"pool {spec.pool!r} has no {spec.mig_profile} slices", f"its slices: {have}")
        if pool.shared and spec.tensor_parallel > 1:
            raise PlanError(("spec", "tensorParallel"), f"pool {spec.pool!r} shares its GPUs: a replica is a time slice, not a GPU", "use a pool of whole GPUs for tensorParallel > 1")
        shared_resource = pool.gpu_resource if pool.shared and not spec.mig_profile else None
    else:
        gpu = ctx.gpu(spec.gpu or "", ("spec", "gpu"))
        strategy = "mixed" if spec.mig_profile else None
        shared_resource = None
        node_selector[GPU_PRODUCT_LABEL] = gpu.spec.product
    if spec.mig_profile:
        mig = gpu.spec.mig
        profile = next((p for p in mig.profiles if p.name == spec.mig_profile), None) if mig else None
        if profile is None:
            hint = "this GPU has no MIG" if mig is None else "profiles: " + ", ".join(p.name for p in mig.profiles)
            raise PlanError(("spec", "migProfile"), f"{gpu.name} has no MIG profile {spec.mig_profile!r}", hint)
        from llmkube.plan import mig as migplan  # MIG slices only: an endpoint on whole GPUs never loads it

        if strategy == "single":
            resource = GPU_RESOURCE
            if pool is None:
                node_selector[GPU_PRODUCT_LABEL] = migplan.mig_product_label(gpu.spec.product, profile.name)
        else:
            resource = migplan.mig_resource_name(profile.name)
        if pool is not None and f"{resource}.shared" in pool.resources:
            resource = f"{resource}.shared"  # time-sliced with renameByDefault
        return GPUPlacement(resource=resource, count=1, node_selector=node_selector, tolerations=pool_tolerations)
    per_node = pool.gpus_per_node if pool is not None else gpu.spec.gpus_per_node
    where = f"pool {spec.pool!r}" if spec.pool else gpu.name
    if spec.tensor_parallel > per_node:
        raise PlanError(
            ("spec", "tensorParallel"),
            f"tensorParallel {spec.tensor_parallel} exceeds the {per_node} GPUs of one {where} node",
            "tensor parallelism must stay inside one node (NVLink); use pipeline parallelism across nodes",
        )
    gpus = spec.tensor_parallel * spec.pipeline_parallel
    if gpus > per_node:
        raise PlanError(
            ("spec", "pipelineParallel"),
            f"tensorParallel × pipelineParallel = {gpus} GPUs exceeds the {per_node} GPUs of one {where} node",
            "one server runs in one pod on one node: lower pipelineParallel, or use a GPU with more memory",
        )
    if pool is not None and pool.shared and spec.pipeline_parallel > 1:
        raise PlanError(("spec", "pipelineParallel"), f"pool {spec.pool!r} shares its GPUs: a replica is a time slice, not a GPU",
                        "use a pool of whole GPUs for pipelineParallel > 1")
    return GPUPlacement(
        resource=shared_resource or GPU_RESOURCE, count=gpus, node_selector=node_selector, tolerations=pool_tolerations
    )


def _probes(spec: InferenceEndpointSpec, startup: ProbeBudget) -> Probes:
    probe = {"httpGet": {"path": HEALTH_PATH[spec.runtime], "port": spec.port}}
    return Probes(
        startup={**probe, "periodSeconds": startup.period_seconds, "failureThreshold": startup.failure_threshold, "timeoutSeconds": 5},
        readiness={**probe, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 5},
        liveness={**probe, "periodSeconds": 30, "failureThreshold": 5, "timeoutSeconds": 10},
    )


def _env(spec: InferenceEndpointSpec) -> list[K8sObject]:
    """The Hugging Face cache and token, then the user's env."""
    env: list[K8sObject] = []
    if spec.cache:
        env.append({"name": "HF_HOME", "value": spec.cache.mount_path})
    if spec.hugging_face.token_secret:
        env.append(secret_env("HF_TOKEN", spec.hugging_face.token_secret))
    return merge_env(env, spec.env)


def _volumes(spec: InferenceEndpointSpec, shm: str | None) -> tuple[list[K8sObject], list[K8sObject]]:
    pairs = [shm_volume(shm)] if shm else []
    if spec.cache:
        pairs.append(claim_volume("model-cache", spec.cache.claim, spec.cache.mount_path))
    return [volume for volume, _ in pairs], [mount for _, mount in pairs]


def _resources(spec: InferenceEndpointSpec, shm: str | None, placement: GPUPlacement) -> dict[str, dict[str, Any]]:
    """The container's requests and limits. On KServe the CPU limit is always written when a CPU
    request is: left out, KServe's defaulter would fill the 1-CPU default under a larger request and
    the pod would be refused. A Deployment gets a CPU limit only when the spec sets one."""
    cpu_limit = spec.resources.cpu_limit
    if cpu_limit is None and spec.target == "kserve":
        cpu_limit = spec.resources.cpu
    resources = container_resources(spec.resources.cpu, spec.resources.memory, shm, placement.resource, placement.count, cpu_limit=cpu_limit)
    if spec.target == "kserve":
        _check_after_kserve_defaults(resources)
    return resources


def kserve_defaulted(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The requests and limits KServe's defaulter leaves on the predictor container (see
    KSERVE_DEFAULT_REQUESTS): each missing cpu/memory key filled on its own."""
    requests = {**KSERVE_DEFAULT_REQUESTS, **resources.get("requests", {})}
    limits = {**KSERVE_DEFAULT_LIMITS, **resources.get("limits", {})}
    return {"requests": requests, "limits": limits}


def _check_after_kserve_defaults(resources: dict[str, dict[str, Any]]) -> None:
    """No request may exceed the limit in effect once KServe has defaulted the container."""
    after = kserve_defaulted(resources)
    for key in ("cpu", "memory"):
        request, limit = quantity_value(after["requests"][key]), quantity_value(after["limits"][key])
        if request is not None and limit is not None and request > limit:
            raise PlanError(
                ("spec", "resources", key),
                f"after KServe's defaulting the {key} request {after['requests'][key]} would exceed the {key} limit "
                f"{after['limits'][key]}, and Kubernetes refuses the pod",
                f"set `resources.{key}` explicitly",
            )


def _knative_features_needed(
    node_selector: dict[str, str], pod_tolerations: tuple[dict[str, str], ...], volumes: list[K8sObject]
) -> dict[str, str]:
    """The `config-features` flags a Knative predictor with these fields needs: flag → why."""
    needed: dict[str, str] = {}
    if node_selector:
        needed[FEATURE_NODE_SELECTOR] = "nodeSelector (" + ", ".join(sorted(node_selector)) + ")"
    if pod_tolerations:
        needed[FEATURE_TOLERATIONS] = "tolerations"
    for volume in volumes:
        claim = volume.get("persistentVolumeClaim")
        if claim is not None:
            needed[FEATURE_PVC] = f"the PersistentVolumeClaim {claim['claimName']}"
            if not claim.get("readOnly"):
                needed[FEATURE_PVC_WRITE] = f"the writable PersistentVolumeClaim {claim['claimName']}"
    return needed


def _check_knative_features(spec: InferenceEndpointSpec, needed: dict[str, str]) -> None:
    missing = {flag: why for flag, why in needed.items() if flag not in spec.knative_features}
    if not missing:
        return
    flags = ", ".join(missing)
    raise PlanError(
        ("spec", "knativeFeatures"),
        f"in {spec.deployment_mode} mode the predictor is a Knative Service, and a default Knative install refuses "
        + "; ".join(f"{why} unless `{flag}` is on" for flag, why in missing.items()),
        f"turn on {flags} in the `config-features` ConfigMap of `knative-serving` (the claim flags must be `enabled`) "
        "and list them under `knativeFeatures`, or use `deploymentMode: Standard`",
    )


def plan_inference_endpoint(ep: InferenceEndpoint, ctx: PlanContext) -> EndpointPlan:
    spec = ep.spec
    name = ep.metadata.name
    namespace = ep.metadata.namespace
    served_name = spec.served_model_name or spec.model.rsplit("/", 1)[-1].lower()
    placement = _gpu_placement(ep, ctx)
    model = ctx.profiles.model(spec.model)
    notes: list[str] = []
    task = task_flag_problem(spec)
    if task is not None:
        notes.append(f"{ep.kind} {name}: {task[0]}")
    if model is not None:
        download = download_gbps(weights_source(spec), spec.startup.download_throughput_g_bps)
        estimate = load_seconds(
            weight_bytes(model, spec.dtype, spec.quantization), spec.startup.load_throughput_g_bps, spec.startup.overhead_seconds, download
        )
    else:
        estimate = UNKNOWN_MODEL_LOAD_SECONDS
        notes.append(
            f"{ep.kind} {name}: no profile for model {spec.model!r}; startup probe sized for "
            f"{UNKNOWN_MODEL_LOAD_SECONDS} s (add a ModelProfile with --profiles to size it)"
        )
    budget = startup_budget(estimate)

    kserve = spec.target == "kserve"
    selector = {KSERVE_ISVC_LABEL: name} if kserve else {ENDPOINT_LABEL: name}
    pod_labels = {**standard_labels(name, "inference"), ENDPOINT_LABEL: name, **ep.metadata.labels}

    # /dev/shm for the tensor-parallel workers' NCCL traffic
    shm = str(spec.shm_size) if spec.shm_size is not None else ("2Gi" if placement.count > 1 else None)
    volumes, mounts = _volumes(spec, shm)

    ha = spec.replicas.min > 1
    knative = kserve and spec.deployment_mode in KNATIVE_MODES
    # The anti-affinity only spreads replicas when it can; on Knative without the affinity flag it is left out.
    spread = ha and (not knative or FEATURE_AFFINITY in spec.knative_features)
    affinity = (
        {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": selector}, "topologyKey": HOSTNAME_LABEL}}
        ]}}
        if spread else None
    )
    if ha and not spread:
        notes.append(
            f"{ep.kind} {name}: no pod anti-affinity in {spec.deployment_mode} mode (Knative refuses `affinity` unless "
            f"`{FEATURE_AFFINITY}` is on; list it under `knativeFeatures` to spread the replicas over nodes)"
        )
    node_selector = dict(sorted({**placement.node_selector, **spec.node_selector}.items()))
    pod_tolerations = placement.tolerations + tuple(tolerations(spec.tolerations))
    if knative:
        _check_knative_features(spec, _knative_features_needed(node_selector, pod_tolerations, volumes))

    isvc_annotations: dict[str, str] = {}
    predictor_annotations: dict[str, str] = {}
    scale_metric: str | None = None
    scale_target: int | None = None
    auto_scaling: K8sObject | None = None
    if kserve:
        isvc_annotations[KSERVE_DEPLOYMENT_MODE_ANNOTATION] = spec.deployment_mode
        if knative:
            # Knative kills a revision that is not ready within its progress deadline (default 600 s).
            predictor_annotations[KNATIVE_PROGRESS_DEADLINE_ANNOTATION] = f"{max(KNATIVE_DEFAULT_DEADLINE, budget.seconds + 60)}s"
    if spec.autoscaling:
        metric = spec.autoscaling.metric
        if metric in ("concurrency", "rps"):
            scale_metric, scale_target = metric, int(spec.autoscaling.target)
        else:
            isvc_annotations[KSERVE_AUTOSCALER_CLASS_ANNOTATION] = "keda"
            query = promql.fill(METRIC_QUERIES[(spec.runtime, metric)], ns=namespace or "default", model=served_name, name=name)
            target = (
                {"type": "AverageValue", "averageValue": _num(spec.autoscaling.target)}
                if metric == "queued-requests"
                else {"type": "Value", "value": _num(spec.autoscaling.target)}
            )
            auto_scaling = {"metrics": [{"type": "External", "external": {
                "metric": {"backend": "prometheus", "serverAddress": spec.autoscaling.prometheus, "query": query},
                "target": target}}]}

    container = ServerContainer(
        image=server_image(spec),
        args=tuple(runtime_args(spec, served_name, generative_model=model is not None)),
        port=spec.port,
        port_name=KSERVE_PORT_NAME if kserve else DEPLOYMENT_PORT_NAME,
        env=tuple(_env(spec)),
        resources=_resources(spec, shm, placement),
        volume_mounts=tuple(mounts),
        probes=_probes(spec, budget),
    )
    return EndpointPlan(
        name=name,
        namespace=namespace,
        labels={**standard_labels(name, "inference"), **ep.metadata.labels},
        annotations={**ep.metadata.annotations, **isvc_annotations},
        pod_labels=pod_labels,
        predictor_annotations=predictor_annotations,
        selector=selector,
        runtime=spec.runtime,
        container=container,
        volumes=tuple(volumes),
        node_selector=node_selector,
        tolerations=pod_tolerations,
        affinity=affinity,
        service_account=spec.service_account,
        min_replicas=spec.replicas.min,
        max_replicas=spec.replicas.max,
        canary_percent=canary_percent(spec),
        pdb=DisruptionBudget(max_unavailable=1) if ha else None,
        progress_deadline=max(600, budget.seconds + 120),
        load_estimate_seconds=round(estimate),
        scale_metric=scale_metric,
        scale_target=scale_target,
        auto_scaling=auto_scaling,
        notes=tuple(notes),
    )
