"""InferenceEndpoint (`target: llm-inference-service`) → the plan of a KServe LLMInferenceService.

KServe v0.20.0 builds the pods from presets (`config/llmisvcconfig/*.yaml`, merged by
`pkg/controller/v1alpha2/llmisvc/config_merge.go` `combineBaseRefsConfig`): the container named
`main` runs `vllm serve /mnt/models --served-model-name <spec.model.name> --port 8000
--tensor-parallel-size <parallelism.tensor> … $@`, where `$@` are the container's `args`. The
rendered object therefore sets only what the presets leave to the user — GPUs, CPU and memory,
/dev/shm, the startup probe sized for the load, the engine flags llmkube derives, the HF token —
and the same per pool when prefill and decode are disaggregated.

Everything an InferenceEndpoint already decides (GPU placement, resources, env, notes) comes from
`plan.inference.plan_inference_endpoint`, planned once per pool with that pool's tensor-parallel size.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from llmkube.engines import DEFAULT_GPU_MEMORY_UTILIZATION, SETTING, parse_engine_version
from llmkube.names import (
    APP_COMPONENT_LABEL,
    APP_NAME_LABEL,
    HOSTNAME_LABEL,
    LLMISVC_COMPONENT_PREFILL,
    LLMISVC_COMPONENT_WORKLOAD,
    MULTUS_NETWORKS_ANNOTATION,
)
from llmkube.plan.base import Plan
from llmkube.plan.context import PlanContext
from llmkube.plan.inference import EndpointPlan, plan_inference_endpoint
from llmkube.plan.pods import K8sObject, merge_env, standard_labels
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.specs.inferenceendpoint import InferenceEndpoint, InferenceEndpointSpec, Startup
from llmkube.specs.llmisvc import Disaggregation, LLMServiceOptions

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


@dataclass(frozen=True)
class LLMContainer:
    """The `main` container's fields llmkube sets; the preset supplies the rest."""

    image: str | None
    args: tuple[str, ...]
    env: tuple[K8sObject, ...]
    resources: dict[str, dict[str, Any]]
    volume_mounts: tuple[K8sObject, ...]
    startup_probe: K8sObject


@dataclass(frozen=True)
class PoolPlan:
    """One pool (the main/decode workload, or prefill): its pods and how many."""

    role: str  # "main", "decode" or "prefill"
    replicas: int
    tensor_parallel: int
    gpu_resource: str
    gpus: int
    container: LLMContainer
    volumes: tuple[K8sObject, ...]
    node_selector: dict[str, str]
    tolerations: tuple[dict[str, str], ...]
    affinity: K8sObject | None
    service_account: str | None
    load_estimate_seconds: int


@dataclass(frozen=True, kw_only=True)
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
    """The endpoint as one pool serves it: its TP size and replicas, the weights already on disk
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


def _pool(ep: InferenceEndpoint, ctx: PlanContext, role: str, tensor_parallel: int, replicas: int,
          dis: Disaggregation | None) -> tuple[PoolPlan, EndpointPlan]:
    base = plan_inference_endpoint(_pool_endpoint(ep, tensor_parallel, replicas), ctx)
    spec = ep.spec
    args = _engine_args(base)
    derived_env: list[K8sObject] = []
    if dis is not None:
        args += ["--kv-transfer-config", kv_transfer_config(dis.connector, KV_ROLES[role])]
        # NIXL's side channel listens on the pod IP (vLLM envs.py VLLM_NIXL_SIDE_CHANNEL_HOST), as in the sample
        derived_env.append({"name": "VLLM_NIXL_SIDE_CHANNEL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
        if dis.rdma is not None and not dis.rdma.efa:
            # the presets' RoCE discovery (KSERVE_INFER_ROCE: NCCL_IB_HCA, UCX_NET_DEVICES, GID index)
            derived_env += [{"name": "KSERVE_INFER_ROCE", "value": "true"}, {"name": "UCX_TLS", "value": UCX_TLS}]
    # derived variables first (the HF token from its Secret comes with the endpoint's), the user's last and winning
    env = merge_env([*derived_env, *(e for e in base.container.env if e["name"] not in spec.env)], spec.env)
    resources = base.container.resources
    if dis is not None and dis.rdma is not None:
        resources = {section: {**values, dis.rdma.resource: dis.rdma.count} for section, values in resources.items()}
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
    affinity = (
        {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "labelSelector": {"matchLabels": {APP_NAME_LABEL: ep.metadata.name, APP_COMPONENT_LABEL: component}},
            "topologyKey": HOSTNAME_LABEL}}]}}
        if replicas > 1 else None
    )
    pool = PoolPlan(
        role=role,
        replicas=replicas,
        tensor_parallel=tensor_parallel,
        gpu_resource=gpu_resource,
        gpus=int(resources["limits"][gpu_resource]),
        container=LLMContainer(
            image=spec.image,
            args=preset_safe(args),
            env=tuple(env),
            resources=resources,
            volume_mounts=base.container.volume_mounts,
            startup_probe=probe,
        ),
        volumes=base.volumes,
        node_selector=base.node_selector,
        tolerations=base.tolerations,
        affinity=affinity,
        service_account=spec.service_account,
        load_estimate_seconds=base.load_estimate_seconds,
    )
    return pool, base


def _pool_note(ep: InferenceEndpoint, ctx: PlanContext, pool: PoolPlan) -> str | None:
    """What sizes the pool: prefill pods are busy computing prompts (more replicas, more prompt
    throughput); decode pods hold every running sequence's KV cache, so their KV capacity bounds
    decode concurrency. Sized with the serving memory model (plan/sizing.py `serving_fit`)."""
    spec = ep.spec
    model = ctx.profiles.model(spec.model)
    gpu = ctx.profiles.gpu(spec.gpu) if spec.gpu else (ctx.pools[spec.pool].gpu if spec.pool in ctx.pools else None)
    if model is None or gpu is None or spec.mig_profile:
        return None
    config = ServerConfig(
        tensor_parallel=pool.tensor_parallel, pipeline_parallel=spec.pipeline_parallel,
        utilization=spec.gpu_memory_utilization or DEFAULT_GPU_MEMORY_UTILIZATION, max_model_len=spec.max_model_len,
        max_num_seqs=spec.max_num_seqs, max_num_batched_tokens=spec.max_batch_tokens, chunked_prefill=spec.chunked_prefill,
        enforce_eager=bool(spec.enforce_eager), dtype=spec.dtype if spec.dtype != "auto" else None,
        quantization=spec.quantization, kv_cache_dtype=spec.kv_cache_dtype,
        engine_version=parse_engine_version(spec.image) if spec.image else None,
    )
    fit = serving_fit(model, gpu.spec.memory_gi_b, config, gpu_name=gpu.spec.display_name)
    pods = f"{pool.role} pool: {pool.replicas} × {pool.gpus} {gpu.name} (TP {pool.tensor_parallel})"
    if not fit.fits:
        return f"{ep.kind} {ep.metadata.name}: {pods}: the model does not fit ({fit.need_gib:.1f} GiB per GPU needed, {fit.budget_gib:.1f} usable)"
    kv = f"KV cache {fit.kv_budget_gib:.1f} GiB per GPU, {fit.kv_tokens:,} tokens ≈ {fit.max_concurrency:.0f} sequences of {fit.max_model_len}"
    if pool.role == "prefill":
        return f"{ep.kind} {ep.metadata.name}: {pods}: compute-bound on prompts, replicas scale prompt throughput ({kv}, held only until sent to decode)"
    if pool.role == "decode":
        return f"{ep.kind} {ep.metadata.name}: {pods}: {kv} per replica bounds decode concurrency"
    return None


def model_uri(ep: InferenceEndpoint) -> str:
    return ep.spec.llm_inference_service.model_uri or f"hf://{ep.spec.model}"


def plan_llm_inference_service(ep: InferenceEndpoint, ctx: PlanContext) -> LLMServicePlan:
    spec = ep.spec
    dis = spec.disaggregation
    opts = spec.llm_inference_service
    if dis is None:
        main, base = _pool(ep, ctx, "main", spec.tensor_parallel, spec.replicas.min, None)
        prefill = None
    else:
        main, base = _pool(ep, ctx, "decode", dis.decode.tensor_parallel or spec.tensor_parallel,
                           dis.decode.replicas or spec.replicas.min, dis)
        prefill, _ = _pool(ep, ctx, "prefill", dis.prefill.tensor_parallel or spec.tensor_parallel,
                           dis.prefill.replicas or 1, dis)
    pool_notes = [n for n in (_pool_note(ep, ctx, p) for p in (prefill, main) if p is not None) if n]
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
