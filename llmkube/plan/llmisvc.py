"""InferenceEndpoint (`target: llm-inference-service`) → the plan of a KServe LLMInferenceService.

KServe v0.20.0 builds the pods from presets (`config/llmisvcconfig/*.yaml`, merged by
`pkg/controller/v1alpha2/llmisvc/config_merge.go` `combineBaseRefsConfig`): the container named
`main` runs `vllm serve /mnt/models --served-model-name <spec.model.name> --port 8000
--tensor-parallel-size <parallelism.tensor> … $@`, where `$@` are the container's `args`. The
rendered object therefore sets only what the presets leave to the user — GPUs, CPU and memory,
/dev/shm, the startup probe sized for the load, the engine flags llmkube derives, the HF token —
and the same per pool when prefill and decode are disaggregated.

Everything an InferenceEndpoint already decides (GPU placement, resources, env, notes) comes from
`plan.inference.plan_inference_endpoint`, planned once per pool with that pool's GPUs per pod.

A pool over several pods (`nodes` > 1, or `dataLocal` > 1) gets a `worker` and data parallelism:
with `spec.worker` and `parallelism.data`/`dataLocal` set, v0.20.0's `config_merge.go`
`combineBaseRefsConfig` merges the data-parallel preset (`kserve-config-llm-worker-data-parallel`,
`-decode-worker-data-parallel`, `-prefill-worker-data-parallel`), whose leader runs `vllm serve …
--tensor-parallel-size <tensor> --data-parallel-size <data> --data-parallel-size-local <dataLocal>
--data-parallel-address <leader> --data-parallel-start-rank 0` (plus `--enable-expert-parallel` when
`parallelism.expert`) and whose workers run the same `--headless` from rank `LWS_WORKER_INDEX ×
dataLocal`; `workload_multi_node.go` `expectedMainMultiNodeLWS` makes one LeaderWorkerSet of
`ParallelismSpec.GetSize()` = data ÷ dataLocal pods per replica. Each data-parallel rank is a whole
copy of the model over `tensor` GPUs (its experts spread over every rank with expert parallelism).
Pipeline parallelism over pods has no preset in v0.20.0 (specs/llmisvc.py refuses it).

`replicas.max` > `replicas.min` renders `spec.scaling` instead of `spec.replicas`: v0.20.0
`scaling.go` `reconcileScaling` creates a VariantAutoscaling for the Workload Variant Autoscaler and
an HPA (or KEDA ScaledObject) on its `wva_desired_replicas` metric, targeting the pool's Deployment
or LeaderWorkerSet (`mainScaleTargetRef`/`prefillScaleTargetRef`).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from llmkube.engines import DEFAULT_GPU_MEMORY_UTILIZATION, SETTING, extra_value, parse_engine_version
from llmkube.names import (
    APP_COMPONENT_LABEL,
    APP_NAME_LABEL,
    HOSTNAME_LABEL,
    LLMISVC_COMPONENT_PREFILL,
    LLMISVC_COMPONENT_WORKLOAD,
    MULTUS_NETWORKS_ANNOTATION,
)
from llmkube.plan.base import Plan
from llmkube.plan.context import PlanContext, PlanError
from llmkube.plan.inference import EndpointPlan, plan_inference_endpoint
from llmkube.plan.multinode import gpu_nodes
from llmkube.plan.pods import K8sObject, merge_env, standard_labels
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.plan.training import nccl_env
from llmkube.records import record
from llmkube.specs.inferenceendpoint import InferenceEndpoint, InferenceEndpointSpec, Startup
from llmkube.specs.llmisvc import Disaggregation, LLMServiceOptions
from llmkube.specs.network import RdmaSpec, effective_rdma

# The presets' vLLM port: `--port 8000` in config-llm-template.yaml and config-llm-prefill-template.yaml;
# in config-llm-decode-template.yaml vLLM moves to 8001 and llm-d's routing sidecar (an init container
# with restartPolicy Always, `--port=8000 --vllm-port=8001 --kv-connector=nixlv2`) takes 8000.
VLLM_PORT = 8000
DECODE_VLLM_PORT = 8001
# vLLM's health endpoint, probed by every preset.
HEALTH_PATH = "/health"
# The presets probe over HTTPS only when the cluster's `inferenceservice-config` ingress sets
# `enableLLMInferenceServiceTLS: true` (v0.20.0 `pkg/apis/serving/v1beta1/configmap.go`, read by
# `llmisvc/config_loader.go` `NewConfig` as `EnableTLS`; default false, and the shipped ConfigMap does
# not set it). The upstream samples' `scheme: HTTPS` assumes a cluster where it is on.
# Settings the presets put on vLLM's command line themselves: not repeated in `args`.
PRESET_SETTINGS = ("model", "served_model_name", "port", "tensor_parallel")
# The KV roles of the upstream P/D sample (docs/samples/llmisvc/single-node-gpu/
# llm-inference-service-pd-qwen2-7b-gpu.yaml): prefill produces the KV cache, decode consumes it.
KV_ROLES = {"prefill": "kv_producer", "decode": "kv_consumer"}
# UCX transports of the same sample: RDMA reliable connection, shared memory, CUDA copies.
UCX_TLS = "rc,sm,self,cuda_copy,cuda_ipc"
# vLLM's expert-parallel switch (vllm/engine/arg_utils.py `EngineArgs.enable_expert_parallel`): the
# data-parallel presets add it from `parallelism.expert`; the single-node presets do not read that
# field, so a pool without a worker passes the flag in its args.
ENABLE_EXPERT_PARALLEL = "--enable-expert-parallel"


@record(frozen=True)
class LLMContainer:
    """The `main` container's fields llmkube sets; the preset supplies the rest."""

    image: str | None
    args: tuple[str, ...]
    env: tuple[K8sObject, ...]
    resources: dict[str, dict[str, Any]]
    volume_mounts: tuple[K8sObject, ...]
    startup_probe: K8sObject | None  # None: a worker (the presets probe only the leader)


@record(frozen=True)
class DataParallel:
    """A pool's data parallelism over `pods` pods per replica (`parallelism.data`/`dataLocal`)."""

    data: int  # ranks in all (vLLM --data-parallel-size)
    local: int  # ranks per pod (--data-parallel-size-local)
    expert: bool

    @property
    def pods(self) -> int:
        """KServe's `ParallelismSpec.GetSize`: data ÷ dataLocal."""
        return max(self.data // self.local, 1)


@record(frozen=True)
class PoolPlan:
    """One pool (the main/decode workload, or prefill): its pods and how many."""

    role: str  # "main", "decode" or "prefill"
    replicas: int
    max_replicas: int  # > replicas: `scaling` (the Workload Variant Autoscaler) instead of `replicas`
    tensor_parallel: int
    data_parallel: DataParallel | None  # with a worker (a LeaderWorkerSet of data ÷ dataLocal pods)
    worker: LLMContainer | None
    scaling: K8sObject | None
    gpu_resource: str
    gpus: int
    container: LLMContainer
    volumes: tuple[K8sObject, ...]
    node_selector: dict[str, str]
    tolerations: tuple[dict[str, str], ...]
    affinity: K8sObject | None
    service_account: str | None
    load_estimate_seconds: int


@record(frozen=True, kw_only=True)
class LLMServicePlan(Plan):
    """One InferenceEndpoint as an LLMInferenceService: what llminferenceservice.yaml.j2 renders."""

    name: str
    namespace: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    model_uri: str
    model_name: str
    base_refs: tuple[K8sObject, ...]  # LLMInferenceServiceConfigs merged over the presets
    router: K8sObject
    main: PoolPlan
    prefill: PoolPlan | None


def router_section(opts: LLMServiceOptions) -> K8sObject:
    """`spec.router`: KServe's managed parts (`{}`), or references to existing ones.

    `gateway.refs` / `route.http.refs` / `scheduler.pool.ref` are the v1alpha1 CRD's fields; an empty
    object asks for the managed default (`config_merge.go`: the scheduler preset is merged when the pool
    has no ref, the route preset when the route has no refs). Without a scheduler the route's backend is
    the workload Service.
    """
    gateway: K8sObject = {}
    if opts.gateway is not None:
        ref = {"name": opts.gateway.name, **({"namespace": opts.gateway.namespace} if opts.gateway.namespace else {})}
        gateway = {"refs": [ref]}
    route: K8sObject = {"http": {"refs": [{"name": opts.http_route}]}} if opts.http_route else {}
    router: K8sObject = {"route": route, "gateway": gateway}
    if opts.scheduler:
        router["scheduler"] = {"pool": {"ref": {"name": opts.inference_pool}}} if opts.inference_pool else {}
    return router


def kv_transfer_config(connector: str, role: str) -> str:
    """vLLM's `--kv-transfer-config` JSON (vllm/config/kv_transfer.py `KVTransferConfig`: kv_connector, kv_role)."""
    return json.dumps({"kv_connector": connector, "kv_role": role}, separators=(",", ":"))


def preset_safe(args: list[str]) -> tuple[str, ...]:
    """Arguments quoted for the preset's `eval "exec vllm serve … $@"`: eval parses the joined words
    again, so a JSON value (`{"kv_connector":…}`) would lose its quotes; shlex.quote keeps it one word."""
    return tuple(shlex.quote(a) for a in args)


def _engine_args(base: EndpointPlan) -> list[str]:
    """The InferenceEndpoint's vLLM flags without those the preset already sets."""
    preset = {f for name in PRESET_SETTINGS for f in SETTING[name].vllm}
    out: list[str] = []
    skip = False
    for arg in base.container.args:
        if skip:
            skip = False
            continue
        flag = arg.split("=", 1)[0]
        if flag in preset:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def _pool_endpoint(ep: InferenceEndpoint, tensor_parallel: int, replicas: int) -> InferenceEndpoint:
    """The endpoint as one pod of a pool serves it: its GPUs (TP × local data ranks, so that the
    GPU request, /dev/shm and placement are the pod's) and replicas, the weights already on disk
    (KServe's storage initializer downloads them in an init container, before the server's startup
    probe runs), and a CPU limit (an LLMInferenceService container is not defaulted: the limit is the
    request unless `cpuLimit` says otherwise)."""
    spec = ep.spec
    resources = spec.resources
    if resources.cpu_limit is None and resources.cpu is not None:
        resources = resources.model_copy(update={"cpu_limit": resources.cpu})
    startup = Startup.model_validate({**spec.startup.model_dump(), "source": "image", "download_throughput_g_bps": None})
    pool_spec: InferenceEndpointSpec = spec.model_copy(update={
        "tensor_parallel": tensor_parallel,
        "replicas": spec.replicas.model_copy(update={"min": replicas, "max": replicas}),
        "resources": resources,
        "startup": startup,
        "target": "deployment",
    })
    return ep.model_copy(update={"spec": pool_spec})


def data_parallel(ep: InferenceEndpoint, ctx: PlanContext, path: tuple[str, ...], tensor_parallel: int,
                  nodes: int, local: int | None) -> DataParallel | None:
    """A pool's data parallelism, or None for one pod per replica.

    `nodes` pods per replica; `dataLocal` ranks per pod, by default as many as fill a node's GPUs
    (GPUs per node ÷ TP) when there are several nodes — what vLLM's data-parallel deployment
    (docs/serving/data_parallel_deployment.md) runs: one engine per TP group on every GPU."""
    expert = ep.spec.llm_inference_service.expert_parallel
    if nodes == 1 and (local or 1) == 1:
        return None
    gpu, per_node, _, _ = gpu_nodes(ep, ctx)
    if local is None:
        local = max(per_node // tensor_parallel, 1) if nodes > 1 else 1
    if tensor_parallel * local > per_node:
        raise PlanError((*path, "dataLocal"),
                        f"dataLocal {local} × tensorParallel {tensor_parallel} = {tensor_parallel * local} GPUs per pod, "
                        f"but a {gpu.name} node has {per_node}",
                        f"a pod runs dataLocal engines of tensorParallel GPUs each: e.g. dataLocal {max(per_node // tensor_parallel, 1)}")
    return DataParallel(data=nodes * local, local=local, expert=expert)


def _pool(ep: InferenceEndpoint, ctx: PlanContext, role: str, tensor_parallel: int, replicas: int, max_replicas: int,
          dis: Disaggregation | None, dp: DataParallel | None) -> tuple[PoolPlan, EndpointPlan]:
    gpus_per_pod = tensor_parallel * (dp.local if dp else 1)
    base = plan_inference_endpoint(_pool_endpoint(ep, gpus_per_pod, replicas), ctx)
    spec = ep.spec
    args = _engine_args(base)
    if spec.llm_inference_service.expert_parallel and dp is None:
        args.append(ENABLE_EXPERT_PARALLEL)
    derived_env: list[K8sObject] = []
    rdma: RdmaSpec | None = dis.rdma if dis is not None else (effective_rdma(spec.network) if dp is not None else None)
    if dis is not None:
        args += ["--kv-transfer-config", kv_transfer_config(dis.connector, KV_ROLES[role])]
        # NIXL's side channel listens on the pod IP (vLLM envs.py VLLM_NIXL_SIDE_CHANNEL_HOST), as in the sample
        derived_env.append({"name": "VLLM_NIXL_SIDE_CHANNEL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    if dp is not None:
        # NCCL between the pods of a replica (the MoE all-to-all, the data-parallel all-reduce)
        derived_env += nccl_env(spec.network)
    if rdma is not None and not rdma.efa:
        # the presets' RoCE discovery (KSERVE_INFER_ROCE: NCCL_IB_HCA, UCX_NET_DEVICES, GID index)
        derived_env += [{"name": "KSERVE_INFER_ROCE", "value": "true"}, {"name": "UCX_TLS", "value": UCX_TLS}]
    # derived variables first (the HF token from its Secret comes with the endpoint's), the user's last and winning
    env = merge_env([*derived_env, *(e for e in base.container.env if e["name"] not in spec.env)], spec.env)
    resources = base.container.resources
    if rdma is not None:
        resources = {section: {**values, rdma.resource: rdma.count} for section, values in resources.items()}
    gpu_resource = next(k for k in resources["limits"] if k.startswith("nvidia.com/"))
    tls = spec.llm_inference_service.tls
    port = DECODE_VLLM_PORT if role == "decode" else VLLM_PORT
    startup = base.container.probes.startup
    probe = {
        "httpGet": {"path": HEALTH_PATH, "port": port, "scheme": "HTTPS" if tls else "HTTP"},
        "periodSeconds": startup["periodSeconds"],
        "failureThreshold": startup["failureThreshold"],
        "timeoutSeconds": startup["timeoutSeconds"],
    }
    component = LLMISVC_COMPONENT_PREFILL if role == "prefill" else LLMISVC_COMPONENT_WORKLOAD
    # one replica a node: a multi-pod replica's LeaderWorkerSet pods carry other component labels
    # (workload_multi_node.go: `…-leader`/`…-worker`) and take whole nodes already
    affinity = (
        {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "labelSelector": {"matchLabels": {APP_NAME_LABEL: ep.metadata.name, APP_COMPONENT_LABEL: component}},
            "topologyKey": HOSTNAME_LABEL}}]}}
        if max_replicas > 1 and dp is None else None
    )
    container = LLMContainer(
        image=spec.image,
        args=preset_safe(args),
        env=tuple(env),
        resources=resources,
        volume_mounts=base.container.volume_mounts,
        startup_probe=probe,
    )
    # the presets' workers have no probes: the leader's startup probe waits for the whole group
    worker = LLMContainer(image=container.image, args=container.args, env=container.env, resources=resources,
                          volume_mounts=container.volume_mounts, startup_probe=None) if dp is not None else None
    pool = PoolPlan(
        role=role,
        replicas=replicas,
        max_replicas=max_replicas,
        tensor_parallel=tensor_parallel,
        data_parallel=dp,
        worker=worker,
        scaling=scaling_section(spec.llm_inference_service, replicas, max_replicas),
        gpu_resource=gpu_resource,
        gpus=int(resources["limits"][gpu_resource]),
        container=container,
        volumes=base.volumes,
        node_selector=base.node_selector,
        tolerations=base.tolerations,
        affinity=affinity,
        service_account=spec.service_account,
        load_estimate_seconds=base.load_estimate_seconds,
    )
    return pool, base


def scaling_section(opts: LLMServiceOptions, replicas: int, max_replicas: int) -> K8sObject | None:
    """`scaling` of a pool whose replicas may grow, else None (`replicas` is written instead: the CRD's
    CEL and the webhook's `ValidateWorkloadScaling` refuse both). `wva.hpa: {}` or `wva.keda: {}`
    picks the actuator (v0.20.0 `scaling.go` `reconcileActuator`); both pools get the same one,
    as `ValidateActuatorConsistency` requires."""
    if max_replicas <= replicas:
        return None
    wva: K8sObject = {opts.autoscaler: {}}
    if opts.variant_cost is not None:
        wva["variantCost"] = opts.variant_cost
    return {"minReplicas": replicas, "maxReplicas": max_replicas, "wva": wva}


def _pool_note(ep: InferenceEndpoint, ctx: PlanContext, pool: PoolPlan) -> str | None:
    """What sizes the pool: prefill pods are busy computing prompts (more replicas, more prompt
    throughput); decode pods hold every running sequence's KV cache, so their KV capacity bounds
    decode concurrency; a data-parallel pool holds a whole model copy per rank, several ranks a
    node, its MoE experts spread over every rank of the pool. Sized with the serving memory model
    (plan/sizing.py `serving_fit`, data parallelism included) for one rank."""
    spec = ep.spec
    model = ctx.profiles.model(spec.model)
    gpu = ctx.profiles.gpu(spec.gpu) if spec.gpu else (ctx.pools[spec.pool].gpu if spec.pool in ctx.pools else None)
    if model is None or gpu is None or spec.mig_profile:
        return None
    config = ServerConfig(
        tensor_parallel=pool.tensor_parallel, pipeline_parallel=spec.pipeline_parallel,
        data_parallel=pool.data_parallel.data if pool.data_parallel else 1,
        expert_parallel=bool(spec.llm_inference_service.expert_parallel),
        utilization=spec.gpu_memory_utilization or DEFAULT_GPU_MEMORY_UTILIZATION, max_model_len=spec.max_model_len,
        max_num_seqs=spec.max_num_seqs, max_num_batched_tokens=spec.max_batch_tokens, chunked_prefill=spec.chunked_prefill,
        enforce_eager=bool(spec.enforce_eager), dtype=spec.dtype if spec.dtype != "auto" else None,
        quantization=spec.quantization, kv_cache_dtype=spec.kv_cache_dtype,
        performance_mode=extra_value(spec.runtime, spec.extra_args, "performance_mode"),
        engine_version=parse_engine_version(spec.image) if spec.image else None,
    )
    fit = serving_fit(model, gpu.spec.memory_gi_b, config, gpu_name=gpu.spec.display_name)
    dp = pool.data_parallel
    scaled = f"{pool.replicas}–{pool.max_replicas}" if pool.max_replicas > pool.replicas else f"{pool.replicas}"
    if dp is None:
        pods = f"{pool.role} pool: {scaled} × {pool.gpus} {gpu.name} (TP {pool.tensor_parallel})"
    else:
        pods = (f"{pool.role} pool: {scaled} × {dp.pods} pods × {pool.gpus} {gpu.name} "
                f"(DP {dp.data} = {dp.local} rank{'s' if dp.local != 1 else ''} per pod × {dp.pods} pods, TP {pool.tensor_parallel} each)")
    if not fit.fits:
        return f"{ep.kind} {ep.metadata.name}: {pods}: the model does not fit ({fit.need_gib:.1f} GiB per GPU needed, {fit.budget_gib:.1f} usable)"
    kv = f"KV cache {fit.kv_budget_gib:.1f} GiB per GPU, {fit.kv_tokens:,} tokens ≈ {fit.max_concurrency:.0f} sequences of {fit.max_model_len}"
    if dp is not None:
        per_node = (f"per node {dp.local} rank{'s' if dp.local > 1 else ''} loading "
                    f"{fit.weights_gib * pool.tensor_parallel * dp.local:.1f} GiB of weights ({fit.weights_gib:.1f} GiB per GPU)")
        gpus = dp.data * pool.tensor_parallel
        spread = (f", the routed experts spread over all {gpus} GPUs "
                  f"({'whole experts per GPU: expert parallel' if dp.expert else 'each expert split across them'})"
                  if model.spec.experts is not None else "")
        return f"{ep.kind} {ep.metadata.name}: {pods}: {per_node}{spread}; {kv} per rank"
    if pool.role == "prefill":
        return f"{ep.kind} {ep.metadata.name}: {pods}: compute-bound on prompts, replicas scale prompt throughput ({kv}, held only until sent to decode)"
    if pool.role == "decode":
        return f"{ep.kind} {ep.metadata.name}: {pods}: {kv} per replica bounds decode concurrency"
    return None


def _dense_note(ep: InferenceEndpoint, ctx: PlanContext) -> str | None:
    """Expert parallelism asked of a model without experts: vLLM has nothing to spread."""
    model = ctx.profiles.model(ep.spec.model)
    if not ep.spec.llm_inference_service.expert_parallel or model is None or model.spec.experts is not None:
        return None
    return (f"{ep.kind} {ep.metadata.name}: {model.name} has no experts (a dense model): `expertParallel` changes nothing; "
            "its data-parallel ranks each hold the whole model")


def _scaling_note(ep: InferenceEndpoint, pools: list[PoolPlan]) -> str | None:
    """What an autoscaled LLMInferenceService needs in the cluster (v0.20.0 scaling.go)."""
    scaled = [p for p in pools if p.scaling is not None]
    if not scaled:
        return None
    actuator = ep.spec.llm_inference_service.autoscaler
    needs = ("an HPA reads WVA's wva_desired_replicas through the external metrics API (a Prometheus Adapter must serve it)"
             if actuator == "hpa" else
             "a KEDA ScaledObject queries WVA's wva_desired_replicas in Prometheus (KEDA installed, and the `wva` "
             "autoscaling settings in KServe's inferenceservice-config)")
    which = ", ".join(f"{p.role} {p.replicas}–{p.max_replicas}" for p in scaled)
    return (f"{ep.kind} {ep.metadata.name}: replicas scaled by the Workload Variant Autoscaler ({which}): KServe creates a "
            f"VariantAutoscaling (the WVA controller and its CRD must be installed) and {needs}")


def model_uri(ep: InferenceEndpoint) -> str:
    return ep.spec.llm_inference_service.model_uri or f"hf://{ep.spec.model}"


def plan_llm_inference_service(ep: InferenceEndpoint, ctx: PlanContext) -> LLMServicePlan:
    spec = ep.spec
    dis = spec.disaggregation
    opts = spec.llm_inference_service
    if dis is None:
        dp = data_parallel(ep, ctx, ("spec", "llmInferenceService"), spec.tensor_parallel, spec.nodes, opts.data_local)
        main, base = _pool(ep, ctx, "main", spec.tensor_parallel, spec.replicas.min, spec.replicas.max, None, dp)
        prefill = None
    else:
        d, p = dis.decode, dis.prefill
        tp = d.tensor_parallel or spec.tensor_parallel
        replicas = d.replicas or spec.replicas.min
        dp = data_parallel(ep, ctx, ("spec", "disaggregation", "decode"), tp, d.nodes or spec.nodes, d.data_local or opts.data_local)
        main, base = _pool(ep, ctx, "decode", tp, replicas, _max_replicas(("decode",), replicas, d.max_replicas,
                           spec.replicas.max if d.replicas is None else replicas), dis, dp)
        tp = p.tensor_parallel or spec.tensor_parallel
        replicas = p.replicas or 1
        dp = data_parallel(ep, ctx, ("spec", "disaggregation", "prefill"), tp, p.nodes or 1, p.data_local or opts.data_local)
        prefill, _ = _pool(ep, ctx, "prefill", tp, replicas, _max_replicas(("prefill",), replicas, p.max_replicas, replicas), dis, dp)
    pools = [x for x in (prefill, main) if x is not None]
    pool_notes = [n for n in (*(_pool_note(ep, ctx, x) for x in pools), _scaling_note(ep, pools), _dense_note(ep, ctx)) if n]
    annotations = dict(ep.metadata.annotations)
    if dis is not None and dis.networks:
        annotations[MULTUS_NETWORKS_ANNOTATION] = dis.networks
    return LLMServicePlan(
        name=ep.metadata.name,
        namespace=ep.metadata.namespace,
        labels={**standard_labels(ep.metadata.name, "inference"), **ep.metadata.labels},
        annotations=annotations,
        model_uri=model_uri(ep),
        model_name=spec.served_model_name or spec.model,
        base_refs=tuple({"name": r} for r in opts.base_refs),
        router=router_section(opts),
        main=main,
        prefill=prefill,
        notes=(*base.notes, *pool_notes),
    )


def _max_replicas(pool: tuple[str, ...], replicas: int, max_replicas: int | None, default: int) -> int:
    if max_replicas is None:
        return max(default, replicas)
    if max_replicas < replicas:
        raise PlanError(("spec", "disaggregation", *pool, "maxReplicas"), f"maxReplicas {max_replicas} is below replicas {replicas}",
                        f"set maxReplicas ≥ {replicas} (the autoscaler's range is replicas … maxReplicas)")
    return max_replicas
