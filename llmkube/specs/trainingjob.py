"""`TrainingJob`: a distributed training or fine-tuning run, as an ML engineer writes it."""

from __future__ import annotations

import re

from typing import Literal

from pydantic import Field, model_validator

from llmkube.specs.base import (
    CountRange,
    DNSSubdomain,
    HuggingFace,
    LabelKey,
    Metadata,
    NonNegativeInt,
    PositiveInt,
    Quantity,
    Resources,
    SpecModel,
    SpecProblem,
    dns1035_label_error,
    literal_token_problems,
    Toleration,
    empty_list,
)
# The network section is shared with InferenceEndpoint (specs/network.py); imported here as before.
from llmkube.specs.network import NetworkSpec, RdmaSpec, effective_rdma, network_problems  # noqa: F401


class NodeRange(CountRange):
    """Elastic size: the job runs with any node count from min to max."""


class TopologySpec(SpecModel):
    """Co-locate the job's pods within one domain of a node label."""

    prefer: LabelKey | None = None
    require: LabelKey | None = None

    @model_validator(mode="after")
    def _one(self) -> TopologySpec:
        if self.prefer and self.require:
            raise ValueError("set either prefer or require, not both")
        if not (self.prefer or self.require):
            raise ValueError("set prefer or require to a node label key")
        return self


class ClaimMount(SpecModel):
    """A PersistentVolumeClaim mounted into every pod."""

    claim: DNSSubdomain
    mount_path: str = Field(pattern=r"^/")
    read_only: bool = False


class Volumes(SpecModel):
    checkpoints: ClaimMount | None = None
    hf_cache: ClaimMount | None = None


class Training(SpecModel):
    """What is trained and how; read by sizing checks, not passed to the script."""

    method: Literal["full", "lora", "qlora"] = "full"
    precision: Literal["bf16", "fp16", "fp32"] = "bf16"
    # How model states spread over the GPUs, for sizing: ddp (every GPU holds all of them), zero2
    # (gradients and optimizer sharded) or fsdp (FSDP FULL_SHARD / ZeRO-3: everything sharded).
    distribution: Literal["ddp", "zero2", "fsdp"] = "fsdp"


class RuntimeRef(SpecModel):
    name: DNSSubdomain = "torch-distributed"
    kind: Literal["ClusterTrainingRuntime", "TrainingRuntime"] = "ClusterTrainingRuntime"


class TrainingJobSpec(SpecModel):
    image: str = Field(min_length=1)
    script: str | None = None
    command: list[str] | None = None
    args: list[str] = Field(default_factory=empty_list)
    env: dict[str, str] = Field(default_factory=dict)
    model: str | None = None
    nodes: PositiveInt | NodeRange = 1
    gpu: str
    gpus_per_node: PositiveInt | None = None
    resources: Resources = Field(default_factory=Resources)
    framework: Literal["pytorchjob", "trainjob", "volcano"] = "pytorchjob"
    scheduler: Literal["kueue", "volcano", "default"] | None = None
    queue: DNSSubdomain | None = None
    priority_class: DNSSubdomain | None = None
    gang: bool = True
    on_eviction: Literal["restart-job", "restart-task", "fail"] = "restart-job"
    max_restarts: NonNegativeInt = 3
    topology: TopologySpec | None = None
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    shm_size: Quantity | None = None
    volumes: Volumes = Field(default_factory=Volumes)
    hugging_face: HuggingFace = Field(default_factory=HuggingFace)
    tolerations: list[Toleration] = Field(default_factory=empty_list)
    node_selector: dict[LabelKey, str] = Field(default_factory=dict)
    service_account: DNSSubdomain | None = None
    training: Training = Field(default_factory=Training)
    runtime_ref: RuntimeRef = Field(default_factory=RuntimeRef)


class TrainingJob(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["TrainingJob"]
    metadata: Metadata
    spec: TrainingJobSpec





def effective_scheduler(spec: TrainingJobSpec) -> str:
    """The scheduler the job will use when the spec leaves it open."""
    if spec.scheduler:
        return spec.scheduler
    if spec.framework == "volcano":
        return "volcano"
    return "kueue" if spec.queue else "default"


def semantic_problems(job: TrainingJob) -> list[SpecProblem]:
    """Combinations the shape allows but no cluster would run."""
    spec = job.spec
    out: list[SpecProblem] = []
    if not spec.script and not spec.command:
        out.append(
            SpecProblem(
                ("spec",),
                "missing the program to run: set `script` (run with torchrun) or `command`",
                "e.g. `script: train.py`",
            )
        )
    if spec.script and spec.command:
        out.append(
            SpecProblem(
                ("spec", "command"),
                "`script` and `command` are exclusive",
                "use `script` to have torchrun start it, or `command` to start it yourself",
            )
        )
    scheduler = effective_scheduler(spec)
    if spec.framework == "volcano" and scheduler != "volcano":
        out.append(
            SpecProblem(
                ("spec", "scheduler"),
                f"framework volcano runs on the Volcano scheduler, not {scheduler}",
                "remove `scheduler` or set it to volcano",
            )
        )
    if spec.framework != "volcano" and scheduler == "volcano":
        out.append(
            SpecProblem(
                ("spec", "scheduler"),
                f"scheduler volcano needs framework volcano (a Volcano Job), not {spec.framework}",
                "set `framework: volcano`, or use `scheduler: kueue` with a queue",
            )
        )
    if scheduler == "kueue" and not spec.queue:
        out.append(
            SpecProblem(
                ("spec", "queue"),
                "a Kueue job must name its LocalQueue",
                "set `queue: <local queue name>` (the LocalQueue in the job's namespace)",
            )
        )
    if isinstance(spec.nodes, NodeRange) and spec.framework != "pytorchjob":
        out.append(
            SpecProblem(
                ("spec", "nodes"),
                f"an elastic node range needs framework pytorchjob; {spec.framework} runs a fixed node count",
                "give `nodes` as one number, or set `framework: pytorchjob`",
            )
        )
    out.extend(network_problems(spec.network, spec.env))
    out.extend(name_problems(job))
    out.extend(literal_token_problems(spec.env))
    return out


# Names the operators derive from metadata.name, and the rule each must pass.
# PyTorchJob (kubeflow/trainer v1.9.4): `pkg/webhooks/pytorch/pytorchjob_webhook.go`
#   `validatePyTorchJob` refuses a name that fails apimachinery's NameIsDNS1035Label; the
#   controller then creates a pod and a Service per replica named `<job>-<type>-<index>`
#   (`pkg/controller.v1/common/util.go` `GenGeneralName`, `service.go`), and Service
#   names are DNS-1035 labels too.
# TrainJob (kubeflow/trainer v2.3.0): CEL on the type (`pkg/apis/trainer/v1alpha1/trainjob_types.go`)
#   requires `^[a-z]([-a-z0-9]*[a-z0-9])?$` and at most 63 characters. Its JobSet (same name)
#   runs Jobs `<name>-<replicatedJob>-<index>` whose pods get `-<index>-<5 random>`; the JobSet
#   webhook (kubernetes-sigs/jobset `pkg/webhooks/jobset_webhook.go` `ValidateCreate`) checks that
#   the longest of those is a DNS-1035 label. The torch runtime's replicated job is `node`, one Job.
# Volcano Job (volcano v1.15.1): `pkg/webhooks/admission/jobs/validate/admit_job.go`
#   `validateJobName` and `validateK8sPodNameLength` only require qualified names (pods are
#   `<job>-<task>-<index>`), but the `svc` plugin we enable creates a Service named after the job
#   (`pkg/controllers/job/plugins/svc/svc.go` `createServiceIfNotExist`): that is a DNS-1035 label.
def derived_names(job: TrainingJob) -> list[tuple[str, str]]:
    """(name, what it is) for every object name the operator derives from the job's name."""
    spec = job.spec
    name = job.metadata.name
    nodes = spec.nodes.max if isinstance(spec.nodes, NodeRange) else spec.nodes
    if spec.framework == "pytorchjob":
        elastic = isinstance(spec.nodes, NodeRange) and spec.nodes.min != spec.nodes.max
        last_worker = nodes - 1 if elastic else nodes - 2
        out = [(f"{name}-master-0", "the master pod and Service")] if not elastic else []
        if last_worker >= 0:
            out.append((f"{name}-worker-{last_worker}", "the last worker pod and Service"))
        return out
    if spec.framework == "trainjob":
        return [(f"{name}-node-0-{nodes - 1}-abcde", "the last pod of the JobSet's Job, with its 5-character suffix")]
    return [(f"{name}-worker-{nodes - 1}", "the last pod of the task `worker`")]


def name_problems(job: TrainingJob) -> list[SpecProblem]:
    """The job's name must pass the rule of the object it becomes, and so must the names derived from it."""
    name = job.metadata.name
    kind = {"pytorchjob": "PyTorchJob", "trainjob": "TrainJob", "volcano": "Volcano Job (whose svc plugin makes a Service of that name)"}[
        job.spec.framework
    ]
    path = ("metadata", "name")
    error = dns1035_label_error(name)
    if error:
        return [
            SpecProblem(
                path,
                f"`{name}` cannot name a {kind}: the name {error}",
                f"start the name with a letter, e.g. `{suggest_name(name, job.spec.model)}`",
            )
        ]
    for derived, what in derived_names(job):
        if len(derived) > 63:
            room = 63 - (len(derived) - len(name))
            return [
                SpecProblem(
                    path,
                    f"`{name}` is too long for a {kind}: {what} would be named `{derived}` "
                    f"({len(derived)} characters; at most 63)",
                    f"shorten the name to at most {room} characters",
                )
            ]
    return []


def suggest_name(name: str, model: str | None) -> str:
    """A close valid name: lowercased, invalid characters dashed, prefixed with a word when it starts badly."""
    fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "job"
    if not fixed[0].isalpha():
        word = re.match(r"[a-z]+", (model or "").rsplit("/", 1)[-1].lower())
        fixed = f"{word.group(0) if word else 'job'}-{fixed}"
    return fixed[:63].rstrip("-")
