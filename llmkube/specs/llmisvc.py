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

from llmkube.specs.base import DNSLabel, DNSSubdomain, PositiveInt, SpecModel, SpecProblem
from llmkube.specs.trainingjob import RdmaSpec

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
    """Router, scheduler and cluster settings of the rendered LLMInferenceService.

    Unset, KServe manages each part: `router.gateway: {}` is its ingress Gateway, `route: {}` an
    HTTPRoute it creates (preset `kserve-config-llm-router-route`), `scheduler: {}` the llm-d
    endpoint picker and its InferencePool (preset `kserve-config-llm-scheduler`).
    """

    model_uri: ModelURI | None = None  # default hf://<model>
    gateway: GatewayRef | None = None
    http_route: DNSSubdomain | None = None
    inference_pool: DNSSubdomain | None = None
    scheduler: bool = True
    tls: bool = False
    base_refs: list[DNSSubdomain] = Field(default_factory=list)


class PoolSpec(SpecModel):
    """One pool of a disaggregated service: its replicas and tensor-parallel size (GPUs per pod)."""

    replicas: PositiveInt | None = None
    tensor_parallel: PositiveInt | None = None


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
    if spec.autoscaling is not None or spec.replicas.max != spec.replicas.min:
        out.append(SpecProblem(("spec", "replicas") if spec.autoscaling is None else ("spec", "autoscaling"),
                               "llmkube renders a fixed replica count for an LLMInferenceService (its autoscaling is the "
                               "Workload Variant Autoscaler, `spec.scaling.wva`, which llmkube does not render yet)",
                               "set `replicas: {min: N, max: N}` and remove `autoscaling`"))
    if spec.cache is not None:
        out.append(SpecProblem(("spec", "cache"), "the server reads the weights KServe's storage initializer put in /mnt/models, "
                               "not a Hugging Face cache", "remove `cache`; for weights on a claim set "
                               "`llmInferenceService.modelUri: pvc://<claim>/<path>`"))
    if "nodes" in spec.model_fields_set and getattr(spec, "nodes", 1) != 1:
        out.append(SpecProblem(("spec", "nodes"), "multi-node LLMInferenceService workers (spec.worker) are not rendered yet",
                               "use `target: kserve` with `nodes`, or fit the model on one node (tensorParallel, disaggregation)"))
    return out
