"""`InferenceEndpoint`: an LLM served over HTTP, as an ML engineer writes it.

The spec speaks of the model and its limits; the runtime (vLLM or TGI)
decides the flags.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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
)


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


class Startup(SpecModel):
    """How long the model takes to load, to size the startup probe."""

    load_throughput_g_bps: float = Field(default=0.5, alias="loadThroughputGBps", gt=0)
    overhead_seconds: int = Field(default=120, ge=0)


class CacheVolume(SpecModel):
    claim: DNSSubdomain
    mount_path: str = Field(default="/models", pattern=r"^/")


class InferenceEndpointSpec(SpecModel):
    model: str = Field(min_length=1)
    served_model_name: str | None = None
    runtime: Literal["vllm", "tgi"] = "vllm"
    image: str | None = None
    target: Literal["kserve", "deployment"] = "kserve"
    deployment_mode: Literal["Serverless", "RawDeployment", "Standard", "Knative"] = "Serverless"
    gpu: str | None = None
    pool: DNSLabel | None = None
    mig_profile: str | None = None
    tensor_parallel: PositiveInt = 1
    max_model_len: PositiveInt | None = None
    gpu_memory_utilization: float = Field(default=0.90, gt=0, le=1)
    max_num_seqs: PositiveInt | None = None
    chunked_prefill: bool | None = None
    dtype: Literal["auto", "bfloat16", "float16", "float32"] | None = None
    quantization: Literal["awq", "gptq", "fp8", "bitsandbytes", "marlin", "eetq", "exl2"] | None = None
    port: int = Field(default=8080, ge=1, le=65535)
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    replicas: Replicas = Field(default_factory=Replicas)
    autoscaling: Autoscaling | None = None
    canary: Canary | None = None
    startup: Startup = Field(default_factory=Startup)
    resources: Resources = Field(default_factory=Resources)
    shm_size: Quantity | None = None
    cache: CacheVolume | None = None
    hugging_face: HuggingFace = Field(default_factory=HuggingFace)
    node_selector: dict[LabelKey, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    service_account: DNSSubdomain | None = None


class InferenceEndpoint(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["InferenceEndpoint"]
    metadata: Metadata
    spec: InferenceEndpointSpec


_KNATIVE_MODES = {"Serverless", "Knative"}


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
    if spec.mig_profile and spec.tensor_parallel > 1:
        out.append(
            SpecProblem(
                ("spec", "tensorParallel"),
                "a MIG slice cannot run tensor parallelism: MIG instances have no peer-to-peer link",
                "use whole GPUs for tensorParallel > 1, or a larger MIG profile",
            )
        )
    scaling = spec.autoscaling
    if scaling:
        knative = spec.target == "kserve" and spec.deployment_mode in _KNATIVE_MODES
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
            if spec.target != "kserve" or spec.deployment_mode in _KNATIVE_MODES:
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
    out.extend(literal_token_problems(spec.env))
    return out
