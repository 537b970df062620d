"""The parts of an `InferenceEndpoint` that only `target: llm-inference-service` reads.

KServe's `LLMInferenceService` (serving.kserve.io, v0.20.0) runs vLLM from
presets (`LLMInferenceServiceConfig`s named `kserve-config-llm-*`) behind the
llm-d inference scheduler and a Gateway API route. The spec says which of the
router parts are KServe's (managed) and which already exist, and, for
prefill/decode disaggregation, the two pools and how the KV cache moves
between them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from llmkube.specs.base import DNSLabel, DNSSubdomain, PositiveInt, SpecModel, SpecProblem, empty_list
from llmkube.specs.network import RdmaSpec, effective_rdma

if TYPE_CHECKING:
    from llmkube.specs.inferenceendpoint import InferenceEndpoint

TARGET = "llm-inference-service"

# A model URI the storage initializer understands (KServe v0.20.0
# `pkg/controller/v1alpha2/llmisvc/workload_storage.go` `attachModelArtifacts`: it cuts the scheme at
# "://" and refuses a URI without one).
ModelURI = Annotated[str, Field(pattern=r"^(hf|pvc|s3|gs|oci|https?)://\S+$")]


class GatewayRef(SpecModel):
    """An existing Gateway API Gateway (`spec.router.gateway.refs[]`)."""

    name: DNSSubdomain
    namespace: DNSLabel | None = None


class LLMServiceOptions(SpecModel):
    """Router, scheduler, parallelism and cluster settings of the rendered LLMInferenceService.

    Unset, KServe manages each part: `router.gateway: {}` is its ingress Gateway, `route: {}` an
    HTTPRoute it creates (preset `kserve-config-llm-router-route`), `scheduler: {}` the llm-d
    endpoint picker and its InferencePool (preset `kserve-config-llm-scheduler`).

    `dataLocal` / `expertParallel`: vLLM data-parallel ranks per pod and `--enable-expert-parallel`
    (`spec.parallelism.dataLocal` / `expert`); data parallelism is rendered with a `worker`, which
    makes KServe pick its data-parallel preset (see plan/llmisvc.py). `autoscaler` / `variantCost`:
    the Workload Variant Autoscaler's actuator and cost (`spec.scaling.wva`), used when
    `replicas.max` > `replicas.min`.
    """

    model_uri: ModelURI | None = None  # default hf://<model>
    gateway: GatewayRef | None = None
    http_route: DNSSubdomain | None = None
    inference_pool: DNSSubdomain | None = None
    scheduler: bool = True
    tls: bool = False
    base_refs: list[DNSSubdomain] = Field(default_factory=empty_list)
    data_local: PositiveInt | None = None  # data-parallel ranks per pod; default: a node's GPUs ÷ TP with `nodes` > 1
    expert_parallel: bool = False
    autoscaler: Literal["hpa", "keda"] = "hpa"
    # KServe v0.20.0 llm_inference_service_validation.go `variantCostPattern`
    variant_cost: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$")


class PoolSpec(SpecModel):
    """One pool of a disaggregated service: its replicas (autoscaled up to `maxReplicas`), tensor-parallel
    size, and with `nodes`/`dataLocal` its data-parallel ranks over several pods (a `worker`)."""

    replicas: PositiveInt | None = None
    max_replicas: PositiveInt | None = None
    tensor_parallel: PositiveInt | None = None
    nodes: PositiveInt | None = None
    data_local: PositiveInt | None = None


class Disaggregation(SpecModel):
    """Prefill/decode disaggregation: separate pools, the KV cache sent from prefill to decode.

    Only NIXL: the decode preset of KServe v0.20.0 (`config/llmisvcconfig/
    config-llm-decode-template.yaml`) runs llm-d's routing sidecar with `--kv-connector=nixlv2`.
    """

    connector: Literal["NixlConnector"] = "NixlConnector"
    prefill: PoolSpec = Field(default_factory=PoolSpec)
    decode: PoolSpec = Field(default_factory=PoolSpec)
    rdma: RdmaSpec | None = None
    networks: str | None = Field(default=None, min_length=1)


def llmisvc_problems(ep: InferenceEndpoint) -> list[SpecProblem]:
    """Settings an LLMInferenceService cannot carry, or that KServe's webhook would refuse."""
    spec = ep.spec
    if spec.target != TARGET:
        out = []
        if spec.disaggregation is not None:
            out.append(SpecProblem(("spec", "disaggregation"), "prefill/decode disaggregation is rendered as a KServe LLMInferenceService",
                                   f"set `target: {TARGET}`"))
        if "llm_inference_service" in spec.model_fields_set:
            out.append(SpecProblem(("spec", "llmInferenceService"), f"`llmInferenceService` is read only by `target: {TARGET}`",
                                   f"remove it, or set `target: {TARGET}`"))
        return out
    out = _unsupported(ep)
    opts = spec.llm_inference_service
    if opts.http_route and opts.gateway is None:
        # KServe v0.20.0 pkg/apis/serving/v1alpha1/llm_inference_service_validation.go
        # validateRouterCrossFieldConstraints: custom HTTP routes cannot be used with a managed gateway
        out.append(SpecProblem(("spec", "llmInferenceService", "httpRoute"),
                               "KServe refuses an existing HTTPRoute behind its managed gateway",
                               "name the Gateway the route is attached to under `gateway`, or remove `httpRoute`"))
    if opts.inference_pool and not opts.scheduler:
        out.append(SpecProblem(("spec", "llmInferenceService", "inferencePool"),
                               "an InferencePool is the scheduler's: `scheduler: false` routes straight to the pods' Service",
                               "remove `inferencePool`, or set `scheduler: true`"))
    dis = spec.disaggregation
    if dis is not None and not opts.scheduler:
        out.append(SpecProblem(("spec", "llmInferenceService", "scheduler"),
                               "only llm-d's scheduler sends prompts to the prefill pool (KServe configures its prefill profile)",
                               "keep `scheduler: true` with `disaggregation`"))
    if dis is not None and dis.rdma is None:
        out.append(SpecProblem(("spec", "disaggregation", "rdma"),
                               f"{dis.connector} moves the KV cache from prefill to decode pods over RDMA, and no RDMA device is requested",
                               "set `rdma: {resource: rdma/roce_gdr}` (what your RDMA device plugin advertises) and `networks` (the Multus network)"))
    return out


def _unsupported(ep: InferenceEndpoint) -> list[SpecProblem]:
    """InferenceEndpoint fields an LLMInferenceService has no place for."""
    spec = ep.spec
    out: list[SpecProblem] = []
    if spec.runtime != "vllm":
        out.append(SpecProblem(("spec", "runtime"), "KServe's LLMInferenceService presets run vLLM", "use `runtime: vllm`"))
    if "port" in spec.model_fields_set:
        out.append(SpecProblem(("spec", "port"), "the LLMInferenceService presets fix vLLM's port (8000; 8001 behind the decode sidecar)",
                               "remove `port`"))
    if "deployment_mode" in spec.model_fields_set or spec.knative_features:
        out.append(SpecProblem(("spec", "deploymentMode"), "an LLMInferenceService is always plain Deployments (or LeaderWorkerSets): "
                               "it has no deployment mode", "remove `deploymentMode` and `knativeFeatures`"))
    if spec.autoscaling is not None:
        # KServe v0.20.0 `pkg/controller/v1alpha2/llmisvc/scaling.go`: `spec.scaling.wva` makes a
        # VariantAutoscaling for the Workload Variant Autoscaler, which computes the replica count
        # itself; its HPA or KEDA actuator only enforces `wva_desired_replicas` (target 1). There is no
        # field for a metric or target of one's own.
        out.append(SpecProblem(("spec", "autoscaling"),
                               "an LLMInferenceService is scaled by the Workload Variant Autoscaler (KServe v0.20.0 "
                               "`spec.scaling.wva`), which picks the replica count from its own model of the servers' "
                               "load: it takes no metric or target",
                               "remove `autoscaling`; `replicas: {min: N, max: M}` with M > N renders `spec.scaling` "
                               "(`llmInferenceService.autoscaler: hpa|keda` picks the actuator)"))
    if spec.cache is not None:
        out.append(SpecProblem(("spec", "cache"), "the server reads the weights KServe's storage initializer put in /mnt/models, "
                               "not a Hugging Face cache", "remove `cache`; for weights on a claim set "
                               "`llmInferenceService.modelUri: pvc://<claim>/<path>`"))
    if "network" in spec.model_fields_set:
        if not _multi_node(ep):
            out.append(SpecProblem(("spec", "network"), "`network` sets NCCL and RDMA between the pods of a replica, and "
                                   "every pool here is one pod", "remove `network`, or set `nodes` (a data-parallel worker); "
                                   "for the KV transfer of disaggregated pools use `disaggregation.rdma`"))
        elif spec.disaggregation is not None and effective_rdma(spec.network) is not None:
            out.append(SpecProblem(("spec", "network", "rdma"), "with `disaggregation` the RDMA device of both pools is "
                                   "`disaggregation.rdma`", "move the device to `disaggregation.rdma`"))
    if spec.pipeline_parallel > 1 and _multi_node(ep):
        # v0.20.0 config_merge.go: the pipeline-parallel worker presets (`kserve-config-llm-worker-
        # pipeline-parallel` and its decode/prefill forms) are named but not shipped ("FIXME move those
        # presets to well-known"); a worker with `parallelism.pipeline` stops at ConfigNotFound.
        out.append(SpecProblem(("spec", "pipelineParallel"),
                               "KServe v0.20.0 ships no pipeline-parallel worker preset: an LLMInferenceService over "
                               "several pods is data parallel (vLLM --data-parallel-size, each rank a whole model copy)",
                               "remove `pipelineParallel` (use `tensorParallel` within a node, `expertParallel` for an "
                               "MoE model), or serve a model too big for one node with `target: kserve` and `nodes`"))
    return out


def pools_of(ep: InferenceEndpoint) -> list[tuple[tuple[str, ...], int, int | None]]:
    """(spec path, nodes, dataLocal) of each pool as the spec sets them: main/decode, then prefill."""
    spec = ep.spec
    opts = spec.llm_inference_service
    dis = spec.disaggregation
    if dis is None:
        return [(("spec",), spec.nodes, opts.data_local)]
    return [
        (("spec", "disaggregation", "decode"), dis.decode.nodes or spec.nodes, dis.decode.data_local or opts.data_local),
        (("spec", "disaggregation", "prefill"), dis.prefill.nodes or 1, dis.prefill.data_local or opts.data_local),
    ]


def _multi_node(ep: InferenceEndpoint) -> bool:
    return any(nodes > 1 or (local or 1) > 1 for _, nodes, local in pools_of(ep))
