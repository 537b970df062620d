"""`InferenceEndpoint`: an LLM served over HTTP, as an ML engineer writes it.

The spec speaks of the model and its limits; the runtime (vLLM or TGI)
decides the flags.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

from llmkube.engines import DEFAULT_LOAD_THROUGHPUT_GBPS, DEFAULT_STARTUP_OVERHEAD_SECONDS
from llmkube.quantity import quantity_value
from llmkube.specs.network import NetworkSpec, network_problems

from llmkube.specs.base import (
    CountRange,
    DNSLabel,
    DNSSubdomain,
    HuggingFace,
    LabelKey,
    Metadata,
    PositiveInt,
    Quantity,
    Resources,
    SpecModel,
    SpecProblem,
    literal_token_problems,
    Toleration,
    empty_list,
)
from llmkube.specs.llmisvc import Disaggregation, LLMServiceOptions, llmisvc_problems
from llmkube.specs.rollout import RolloutPolicy


# KServe v0.20.0 `pkg/apis/serving/v1beta1/inference_service_validation.go`: `IsvcNameFmt`, matched
# whole by `validateInferenceServiceName`. It is also the DNS-1035 label the Service of
# `target: deployment` (and KServe's `<name>-predictor` Service) must be.
ISVC_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# KServe v0.20.0 `pkg/constants/constants.go` `PredictorServiceName`, used unshortened by
# `components/predictor.go` as the name of the predictor's objects: its Deployment and Service
# (Standard) or Knative Service (Knative) is `<name>-predictor`; a Service name is a DNS-1035 label, ≤ 63.
PREDICTOR_SUFFIX = "-predictor"
DNS_LABEL_MAX = 63

# knative/serving knative-v1.21.1 (the version KServe v0.20.0 pins) `pkg/apis/serving/k8s_validation.go`
# `reservedPorts`: queue-proxy's ports (`pkg/networking/constants.go`: 8012, 8013, 8022, 9090, 9091)
# and knative.dev/pkg's profiling port (`observability/runtime/pprof.go`: 8008).
KNATIVE_RESERVED_PORTS = frozenset({8008, 8012, 8013, 8022, 9090, 9091})

# KServe v0.20.0 `pkg/constants/constants.go` `DeploymentModeType`: `Knative` and `Standard`, with the
# legacy `Serverless` and `RawDeployment` that `DefaultInferenceService` (`inference_service_defaults.go`)
# rewrites to them before validation. The default here is Standard (docs/spec-reference.md says why),
# not the Knative default of KServe's shipped `inferenceservice-config`.
KNATIVE_MODES = frozenset({"Knative", "Serverless"})
STANDARD_MODES = frozenset({"Standard", "RawDeployment"})

# A Knative `config-features` flag name (knative-v1.21.1 `pkg/apis/config/features.go`).
KnativeFeature = Annotated[str, Field(pattern=r"^kubernetes\.(podspec|containerspec)-[a-z0-9-]+$")]


class ServingResources(Resources):
    """CPU and memory of one server replica, plus the CPU limit KServe would otherwise default to 1."""

    cpu_limit: Quantity | None = None


class Replicas(CountRange):
    min: PositiveInt = 1
    max: PositiveInt = 1


class Autoscaling(SpecModel):
    """Scale on KServe's request metrics, or on an LLM server metric via Prometheus."""

    metric: Literal["concurrency", "rps", "queued-requests", "kv-cache-usage"] = "concurrency"
    target: float = Field(gt=0)
    prometheus: str | None = Field(default=None, pattern=r"^https?://")


class Canary(SpecModel):
    traffic_percent: int = Field(ge=0, le=100)


WeightSource = Literal["hub", "pvc", "image", "object-store"]


class Startup(SpecModel):
    """How long the model takes to load, to size the startup probe.

    `source` says where a starting server finds the weights: a pull from the
    Hugging Face hub or an object store is part of every start that has no
    warm cache, so it is part of the budget; weights on a PVC or baked into the
    image are not downloaded. Unset, it follows `cache` (see `weights_source`).
    """

    load_throughput_g_bps: float = Field(default=DEFAULT_LOAD_THROUGHPUT_GBPS, alias="loadThroughputGBps", gt=0)
    overhead_seconds: int = Field(default=DEFAULT_STARTUP_OVERHEAD_SECONDS, ge=0)
    source: WeightSource | None = None
    download_throughput_g_bps: float | None = Field(default=None, alias="downloadThroughputGBps", gt=0)


class CacheVolume(SpecModel):
    claim: DNSSubdomain
    mount_path: str = Field(default="/models", pattern=r"^/")


class MultiNode(SpecModel):
    """How an endpoint spread over `nodes` is deployed (docs/spec-reference.md, multi-node serving).

    `backend`: a LeaderWorkerSet (kubernetes-sigs/lws) or KServe's own multi-node mode (an
    InferenceService with `workerSpec`). `launcher`: how vLLM joins the nodes on a LeaderWorkerSet —
    a Ray cluster (`multi-node-serving.sh`, every vLLM image) or vLLM's own multi-node mode
    (`--nnodes/--node-rank/--master-addr/--headless`, vLLM 0.12 on); unset, by the image's version.
    `storageUri`: where KServe's multi-node runtime reads the weights (its webhook takes only
    `pvc://` and `oci://`).
    """

    backend: Literal["leaderworkerset", "kserve"] = "leaderworkerset"
    launcher: Literal["ray", "native"] | None = None
    storage_uri: str | None = Field(default=None, pattern=r"^(pvc|oci)://[^/]+")


class InferenceEndpointSpec(SpecModel):
    model: str = Field(min_length=1)
    served_model_name: str | None = None
    runtime: Literal["vllm", "tgi"] = "vllm"
    image: str | None = Field(default=None, min_length=1)  # "" is an error, not the default image
    target: Literal["kserve", "deployment", "llm-inference-service"] = "kserve"
    deployment_mode: Literal["Standard", "RawDeployment", "Knative", "Serverless"] = "Standard"
    knative_features: list[KnativeFeature] = Field(default_factory=empty_list)
    gpu: str | None = None
    pool: DNSLabel | None = None
    mig_profile: str | None = None
    tensor_parallel: PositiveInt = 1
    pipeline_parallel: PositiveInt = 1  # vLLM pipeline stages: on one node, the pod asks for TP × PP GPUs
    nodes: PositiveInt = 1  # > 1: one server over this many nodes (TP × PP = nodes × GPUs per node)
    multi_node: MultiNode = Field(default_factory=MultiNode)
    network: NetworkSpec = Field(default_factory=NetworkSpec)  # NCCL and RDMA between the nodes, as TrainingJob
    max_model_len: PositiveInt | None = None
    gpu_memory_utilization: float = Field(default=0.90, gt=0, le=1)
    max_num_seqs: PositiveInt | None = None
    max_batch_tokens: PositiveInt | None = None
    max_concurrent_requests: PositiveInt | None = None
    task: Literal["generate", "embed"] = "generate"
    chunked_prefill: bool | None = None
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"] | None = None
    enforce_eager: bool | None = None  # vLLM: no CUDA graphs
    dtype: Literal["auto", "bfloat16", "float16", "float32"] | None = None
    quantization: Literal["awq", "gptq", "fp8", "bitsandbytes", "marlin", "eetq", "exl2"] | None = None
    port: int = Field(default=8080, ge=1, le=65535)
    extra_args: list[str] = Field(default_factory=empty_list)
    env: dict[str, str] = Field(default_factory=dict)
    replicas: Replicas = Field(default_factory=Replicas)
    autoscaling: Autoscaling | None = None
    canary: Canary | None = None
    rollout: RolloutPolicy | None = None  # `llmkube rollout` (llmkube/specs/rollout.py)
    startup: Startup = Field(default_factory=Startup)
    resources: ServingResources = Field(default_factory=ServingResources)
    shm_size: Quantity | None = None
    cache: CacheVolume | None = None
    hugging_face: HuggingFace = Field(default_factory=HuggingFace)
    node_selector: dict[LabelKey, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=empty_list)
    service_account: DNSSubdomain | None = None
    llm_inference_service: LLMServiceOptions = Field(default_factory=LLMServiceOptions)  # target: llm-inference-service
    disaggregation: Disaggregation | None = None  # prefill/decode pools (target: llm-inference-service)


class InferenceEndpoint(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["InferenceEndpoint"]
    metadata: Metadata
    spec: InferenceEndpointSpec


def weights_source(spec: InferenceEndpointSpec) -> WeightSource:
    """Where the server reads its weights: `startup.source`, else `pvc` with a `cache`, else `hub`."""
    if spec.startup.source is not None:
        return spec.startup.source
    return "pvc" if spec.cache is not None else "hub"


def _batching_problems(spec: InferenceEndpointSpec) -> list[SpecProblem]:
    """Batch size, step tokens and admission cap as each engine checks them at start-up."""
    out: list[SpecProblem] = []
    if spec.max_concurrent_requests is not None and spec.runtime == "vllm":
        out.append(SpecProblem(
            ("spec", "maxConcurrentRequests"),
            "vLLM has no admission cap: requests beyond `maxNumSeqs` wait in its queue",
            "remove it (cap requests in a gateway in front of vLLM), or use `runtime: tgi`",
        ))
    if (spec.max_concurrent_requests is not None and spec.max_num_seqs is not None
            and spec.max_concurrent_requests < spec.max_num_seqs):
        out.append(SpecProblem(
            ("spec", "maxConcurrentRequests"),
            f"maxConcurrentRequests {spec.max_concurrent_requests} is below maxNumSeqs {spec.max_num_seqs}: "
            "TGI refuses (429) the requests that would fill the batch",
            f"set maxConcurrentRequests ≥ {spec.max_num_seqs} (the client concurrency you expect)",
        ))
    if spec.max_batch_tokens is not None and spec.runtime == "vllm":
        # vllm/config/scheduler.py SchedulerConfig.verify_max_model_len: both are ValueErrors at start-up
        if spec.max_num_seqs is not None and spec.max_batch_tokens < spec.max_num_seqs:
            out.append(SpecProblem(
                ("spec", "maxBatchTokens"),
                f"vLLM refuses max-num-batched-tokens {spec.max_batch_tokens} below max-num-seqs {spec.max_num_seqs}",
                f"set maxBatchTokens ≥ {spec.max_num_seqs}, or lower maxNumSeqs",
            ))
        if spec.chunked_prefill is False and spec.max_model_len is not None and spec.max_batch_tokens < spec.max_model_len:
            out.append(SpecProblem(
                ("spec", "maxBatchTokens"),
                f"without chunked prefill vLLM refuses max-num-batched-tokens {spec.max_batch_tokens} "
                f"below max-model-len {spec.max_model_len}",
                f"set maxBatchTokens ≥ {spec.max_model_len}, or enable chunkedPrefill",
            ))
    return out


def _startup_problems(spec: InferenceEndpointSpec) -> list[SpecProblem]:
    source = weights_source(spec)
    out: list[SpecProblem] = []
    if source == "pvc" and spec.cache is None:
        out.append(SpecProblem(
            ("spec", "startup", "source"),
            "`source: pvc` reads the weights from the `cache` claim, and none is set",
            "set `cache: {claim: <pvc>}`, or choose `hub`, `image` or `object-store`",
        ))
    if spec.startup.download_throughput_g_bps is not None and source in ("pvc", "image"):
        out.append(SpecProblem(
            ("spec", "startup", "downloadThroughputGBps"),
            f"weights from `{source}` are not downloaded at start-up, so a download rate has no effect",
            "remove it, or set `startup.source: hub` / `object-store`",
        ))
    return out


def semantic_problems(ep: InferenceEndpoint) -> list[SpecProblem]:
    """Combinations the shape allows but KServe, vLLM or TGI would refuse."""
    spec = ep.spec
    out: list[SpecProblem] = []
    if not spec.gpu and not spec.pool:
        out.append(SpecProblem(("spec",), "missing the GPU: set `gpu` (a GPU profile) or `pool` (a Fleet pool)", "e.g. `gpu: h100-80gb`"))
    if spec.gpu and spec.pool:
        out.append(
            SpecProblem(
                ("spec", "gpu"),
                "`gpu` and `pool` are exclusive: a pool already names its GPU",
                "keep `pool` to run on a Fleet pool, or `gpu` to select nodes by GPU model",
            )
        )
    if spec.pipeline_parallel > 1 and spec.runtime != "vllm":
        out.append(SpecProblem(("spec", "pipelineParallel"), "TGI has no pipeline parallelism", "use tensorParallel, or runtime: vllm"))
    if spec.enforce_eager is not None and spec.runtime != "vllm":
        out.append(SpecProblem(("spec", "enforceEager"), "enforceEager is a vLLM setting; TGI has no such flag", "drop enforceEager, or use runtime: vllm"))
    if spec.mig_profile and spec.pipeline_parallel > 1:
        out.append(SpecProblem(("spec", "pipelineParallel"), "a pod on a MIG slice gets one slice: pipeline parallelism needs one GPU per stage",
                               "use whole GPUs for pipelineParallel > 1"))
    if spec.mig_profile and spec.tensor_parallel > 1:
        out.append(
            SpecProblem(
                ("spec", "tensorParallel"),
                "a MIG slice cannot run tensor parallelism: MIG instances have no peer-to-peer link",
                "use whole GPUs for tensorParallel > 1, or a larger MIG profile",
            )
        )
    scaling = spec.autoscaling
    if scaling and spec.target != "llm-inference-service":  # refused whole there (specs/llmisvc.py)
        knative = spec.target == "kserve" and spec.deployment_mode in KNATIVE_MODES
        if scaling.metric in ("concurrency", "rps") and scaling.target != int(scaling.target):
            out.append(
                SpecProblem(
                    ("spec", "autoscaling", "target"),
                    f"a {scaling.metric} target is a whole number of requests per replica, got {scaling.target:g}",
                    "KServe's scaleTarget is an integer",
                )
            )
        if scaling.metric in ("concurrency", "rps") and not knative:
            out.append(
                SpecProblem(
                    ("spec", "autoscaling", "metric"),
                    f"scaling on {scaling.metric} needs KServe's Serverless (Knative) mode",
                    "set `deploymentMode: Serverless`, or scale on queued-requests / kv-cache-usage with Prometheus",
                )
            )
        if scaling.metric in ("queued-requests", "kv-cache-usage"):
            if spec.target != "kserve" or spec.deployment_mode in KNATIVE_MODES:
                out.append(
                    SpecProblem(
                        ("spec", "autoscaling", "metric"),
                        f"scaling on {scaling.metric} uses KServe's KEDA autoscaler, which needs RawDeployment (Standard) mode",
                        "set `target: kserve` and `deploymentMode: RawDeployment`",
                    )
                )
            if not scaling.prometheus:
                out.append(
                    SpecProblem(
                        ("spec", "autoscaling", "prometheus"),
                        f"scaling on {scaling.metric} reads the server's metric from Prometheus",
                        "set `prometheus: http://<prometheus service>:9090`",
                    )
                )
            if scaling.metric == "kv-cache-usage" and spec.runtime == "tgi":
                out.append(
                    SpecProblem(
                        ("spec", "autoscaling", "metric"),
                        "TGI exports no KV-cache usage metric",
                        "scale TGI on queued-requests (tgi_queue_size)",
                    )
                )
    if spec.canary and spec.target != "kserve":
        out.append(
            SpecProblem(
                ("spec", "canary"),
                "canary traffic splitting is a KServe feature",
                "set `target: kserve`, or roll out a Deployment with its own strategy",
            )
        )
    elif spec.canary and spec.deployment_mode in STANDARD_MODES:
        out.append(_canary_in_standard_mode(spec.deployment_mode))
    out.extend(_rollout_problems(spec))
    out.extend(_name_problems(ep))
    out.extend(_cpu_limit_problems(spec))
    if spec.target == "kserve" and spec.deployment_mode in KNATIVE_MODES and spec.port in KNATIVE_RESERVED_PORTS:
        out.append(
            SpecProblem(
                ("spec", "port"),
                f"Knative reserves port {spec.port} for its queue-proxy sidecar and refuses it as the container port",
                f"pick another port (reserved: {', '.join(map(str, sorted(KNATIVE_RESERVED_PORTS)))}), e.g. the default 8080",
            )
        )
    if spec.task == "embed" and spec.runtime == "tgi":
        out.append(SpecProblem(
            ("spec", "task"),
            "TGI serves text generation only; embedding models are served by text-embeddings-inference",
            "use `runtime: vllm` for `task: embed`",
        ))
    out.extend(_batching_problems(spec))
    out.extend(_startup_problems(spec))
    out.extend(multi_node_problems(ep))
    out.extend(network_problems(spec.network, spec.env))
    out.extend(literal_token_problems(spec.env))
    out.extend(llmisvc_problems(ep))
    return out


def _canary_in_standard_mode(mode: str) -> SpecProblem:
    """KServe v0.20.0 reads `predictor.canaryTrafficPercent` only in its Knative reconciler
    (`reconcilers/knative/ksvc_reconciler.go`); in Standard mode nothing validates or applies it, so
    the new version would take 100 % of the traffic at once. The Standard-mode `spec.canary[]` of
    v0.20.0 is a second, separately specified predictor, and `validateCanarySpecs`
    (`inference_service_validation.go`) refuses it unless the stable predictor has a `model` or
    `storageUri`, which an endpoint (a custom container) does not have."""
    return SpecProblem(
        ("spec", "canary"),
        f"KServe ignores a canary traffic split in {mode} mode: the new version would get 100 % of the traffic at once",
        "remove `canary` (the Deployment rolls out replica by replica), or set `deploymentMode: Knative` for a revision-based canary",
    )


def _rollout_problems(spec: InferenceEndpointSpec) -> list[SpecProblem]:
    """A rollout moves KServe's `canaryTrafficPercent`, which only Knative mode applies (see
    `_canary_in_standard_mode`); a Deployment has no per-request traffic split at all."""
    if spec.rollout is None:
        return []
    if spec.target != "kserve":
        return [SpecProblem(
            ("spec", "rollout"),
            f"a canary rollout moves KServe's revision traffic split (an InferenceService in Knative mode); "
            f"`target: {spec.target}` has none",
            "set `target: kserve` and `deploymentMode: Knative`, or remove `rollout`",
        )]
    if spec.deployment_mode in STANDARD_MODES:
        return [SpecProblem(
            ("spec", "rollout"),
            f"KServe ignores canaryTrafficPercent in {spec.deployment_mode} mode, so a rollout has no traffic split to move",
            "set `deploymentMode: Knative` (revisions and a traffic split), or remove `rollout`",
        )]
    return []


def _name_problems(ep: InferenceEndpoint) -> list[SpecProblem]:
    """The name by the rule of the object it becomes: KServe's InferenceService name, or a
    Service name (DNS-1035 label) for `target: deployment`; the DNS-1123 check of the metadata
    lets `8b-chat` through, and KServe's webhook / the API server would refuse it."""
    name = ep.metadata.name
    path = ("metadata", "name")
    # several nodes: the multi-node backend decides what the name becomes, not `target`
    kserve = ep.spec.multi_node.backend == "kserve" if ep.spec.nodes > 1 else ep.spec.target == "kserve"
    if not ISVC_NAME.fullmatch(name):
        what = "an InferenceService name (KServe)" if kserve else "a Service name (DNS-1035 label)"
        family = re.match(r"[a-z]+", ep.spec.model.rsplit("/", 1)[-1].lower())
        fixed = f"{family[0] if family else 'model'}-{name}"
        return [
            SpecProblem(
                path,
                f"{name!r} cannot be {what}: it must start with a lowercase letter, then lowercase letters, "
                "digits or '-', ending with a letter or digit (regex [a-z]([-a-z0-9]*[a-z0-9])?)",
                f"start the name with a letter, e.g. {fixed!r}",
            )
        ]
    if kserve and len(name) + len(PREDICTOR_SUFFIX) > DNS_LABEL_MAX:
        return [
            SpecProblem(
                path,
                f"{name!r} is too long: KServe names the predictor's Service {name + PREDICTOR_SUFFIX!r}, "
                f"which must fit a {DNS_LABEL_MAX}-character DNS label",
                f"use at most {DNS_LABEL_MAX - len(PREDICTOR_SUFFIX)} characters",
            )
        ]
    return []


def _cpu_limit_problems(spec: InferenceEndpointSpec) -> list[SpecProblem]:
    """A CPU request above its limit makes the pod invalid (the API server refuses request > limit)."""
    res = spec.resources
    if res.cpu is None or res.cpu_limit is None:
        return []
    request, limit = quantity_value(res.cpu), quantity_value(res.cpu_limit)
    if request is None or limit is None or request <= limit:
        return []
    return [
        SpecProblem(
            ("spec", "resources", "cpuLimit"),
            f"the CPU limit {res.cpu_limit} is below the CPU request {res.cpu}: Kubernetes refuses a pod whose request exceeds its limit",
            f"set `cpuLimit` ≥ {res.cpu}, or leave it unset (the limit is then the request)",
        )
    ]


# kubernetes-sigs/lws v0.10.0: the LeaderWorkerSet's headless Service takes the LWS's own name
# (`pkg/webhooks/leaderworkerset_webhook.go` `generalValidate` checks it as a DNS-1035 label), so
# the leader's client Service is `<name>-leader`, as in the upstream example
# (`docs/examples/vllm/GPU/lws.yaml`, Service `vllm-leader`).
LEADER_SERVICE_SUFFIX = "-leader"


def multi_node_problems(ep: InferenceEndpoint) -> list[SpecProblem]:
    """What a server over several nodes cannot have: TGI, MIG, scaling, a canary; and the
    constraints of each backend (KServe v0.20.0 `inference_service_validation.go`
    `validateMultiNodeVariables`: pvc/oci storage, autoscaler class `none`; its predictor
    reconciler builds the workers only in Standard mode, `components/predictor.go` `Reconcile`)."""
    spec = ep.spec
    mn = spec.multi_node
    if spec.nodes == 1:
        return [SpecProblem(("spec", "multiNode"), "`multiNode` has no effect on one node", "remove it, or set `nodes` > 1")] \
            if "multi_node" in spec.model_fields_set else []
    out: list[SpecProblem] = []
    def add(path: tuple[str, ...], message: str, hint: str) -> None:
        out.append(SpecProblem(("spec", *path), message, hint))
    if spec.target == "llm-inference-service":
        # rendered as the LLMInferenceService's `worker` (KServe makes the LeaderWorkerSet and scales
        # it with `spec.scaling`); its own problems are in specs/llmisvc.py
        if "multi_node" in spec.model_fields_set:
            add(("multiNode",), "`multiNode` chooses a LeaderWorkerSet or KServe InferenceService; an LLMInferenceService "
                "runs its nodes as KServe's data-parallel worker", "remove `multiNode`")
        return out
    if spec.runtime != "vllm":
        add(("nodes",), "TGI serves from one node: it has no multi-node mode", "use `runtime: vllm`, or `nodes: 1`")
    if spec.mig_profile:
        add(("migProfile",), "a server over several nodes takes whole GPUs, not MIG slices", "remove `migProfile`")
    if spec.replicas.min != spec.replicas.max:
        add(("replicas",), "a multi-node server is not autoscaled: neither LeaderWorkerSet nor KServe's multi-node mode scales it",
            f"set `replicas: {{min: {spec.replicas.min}, max: {spec.replicas.min}}}`")
    if spec.autoscaling:
        add(("autoscaling",), "a multi-node server is not autoscaled (KServe's multi-node mode needs autoscaler class `none`)",
            "remove `autoscaling`")
    if spec.canary:
        add(("canary",), "KServe refuses a canary with `workerSpec`, and a LeaderWorkerSet has no traffic split",
            "remove `canary`")
    if mn.backend == "kserve":
        if spec.deployment_mode not in STANDARD_MODES:
            add(("deploymentMode",), f"KServe builds the worker pods only in Standard mode, not in {spec.deployment_mode}",
                "set `deploymentMode: Standard`")
        if mn.storage_uri is None:
            add(("multiNode", "storageUri"), "KServe's multi-node mode reads the weights from a `pvc://` or `oci://` storageUri",
                "e.g. `storageUri: pvc://model-cache/meta-llama/Llama-3.1-405B-Instruct`")
        if mn.launcher is not None:
            add(("multiNode", "launcher"), "the launcher is the ServingRuntime's choice on KServe (Ray, or its `mp` executor annotation)",
                "remove `launcher`, or use `backend: leaderworkerset`")
    else:
        if mn.storage_uri is not None:
            add(("multiNode", "storageUri"), "`storageUri` is read by KServe's multi-node mode only",
                "remove it (a LeaderWorkerSet reads the weights as one node does: hub, `cache` claim or image)")
        name = ep.metadata.name
        if ISVC_NAME.fullmatch(name) and len(name) + len(LEADER_SERVICE_SUFFIX) > DNS_LABEL_MAX:
            add(("nodes",), f"{name!r} is too long: the leader's Service is {name + LEADER_SERVICE_SUFFIX!r}, "
                f"which must fit a {DNS_LABEL_MAX}-character DNS label",
                f"use at most {DNS_LABEL_MAX - len(LEADER_SERVICE_SUFFIX)} characters")
    return out
