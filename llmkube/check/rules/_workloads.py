"""Find the pods inside any workload manifest, the way rules need to see them.

A rule asks "which pods does this object make, how many, with which
containers, GPUs and node selection?" — the answer lives at a different path
in a Deployment, a PyTorchJob, a Volcano Job, a TrainJob or a KServe
InferenceService. This module knows those paths so rules do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from llmkube.check.run import Target

GPU_RESOURCE = "nvidia.com/gpu"
MIG_RESOURCE = re.compile(r"^nvidia\.com/mig-(?P<profile>[0-9]+g\.[0-9]+gb(\.[a-z.]+)?)$")
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class PodGroup:
    """A set of identical pods an object makes: where its pod spec is, and how many."""

    target: Target
    role: str  # "Worker", "Master", task name, "predictor", …
    spec_path: Path  # path of the pod spec (or of the inline pod spec for KServe)
    spec: Mapping[str, Any]
    replicas: int
    labels: Mapping[str, str]  # pod template labels
    annotations: Mapping[str, str]

    def containers(self) -> Iterator[tuple[Path, Mapping[str, Any]]]:
        for i, c in enumerate(self.spec.get("containers") or []):
            if isinstance(c, Mapping):
                yield (*self.spec_path, "containers", i), c

    @property
    def node_selector(self) -> Mapping[str, str]:
        return self.spec.get("nodeSelector") or {}


def _int(value: Any, default: int = 1) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _template(target: Target, role: str, path: Path, template: Any, replicas: int) -> PodGroup | None:
    if not isinstance(template, Mapping):
        return None
    spec = template.get("spec")
    if not isinstance(spec, Mapping):
        return None
    meta = template.get("metadata") or {}
    return PodGroup(
        target, role, (*path, "spec"), spec, replicas, meta.get("labels") or {}, meta.get("annotations") or {}
    )


def pod_groups(target: Target) -> list[PodGroup]:
    """Every pod group of one object (empty for kinds that make no pods)."""
    obj = target.obj
    kind = obj.get("kind")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return []
    groups: list[PodGroup | None] = []
    if kind == "Pod":
        meta = obj.get("metadata") or {}
        groups.append(PodGroup(target, "pod", ("spec",), spec, 1, meta.get("labels") or {}, meta.get("annotations") or {}))
    elif kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        groups.append(_template(target, kind.lower(), ("spec", "template"), spec.get("template"), _int(spec.get("replicas"))))
    elif kind == "DaemonSet":
        groups.append(_template(target, "daemonset", ("spec", "template"), spec.get("template"), 1))
    elif kind == "Job":
        if str(obj.get("apiVersion", "")).startswith("batch.volcano.sh/"):
            for i, task in enumerate(spec.get("tasks") or []):
                if isinstance(task, Mapping):
                    groups.append(
                        _template(target, str(task.get("name", i)), ("spec", "tasks", i, "template"), task.get("template"), _int(task.get("replicas")))
                    )
        else:
            groups.append(_template(target, "job", ("spec", "template"), spec.get("template"), _int(spec.get("parallelism"))))
    elif kind in ("PyTorchJob", "MPIJob", "TFJob", "XGBoostJob", "PaddleJob", "JAXJob"):
        key = next((k for k in spec if k.endswith("ReplicaSpecs")), None)
        for role, rs in (spec.get(key) or {}).items() if key else []:
            if isinstance(rs, Mapping):
                groups.append(_template(target, role, ("spec", key, role, "template"), rs.get("template"), _int(rs.get("replicas"))))
    elif kind == "InferenceService":
        for component in ("predictor", "transformer", "explainer"):
            comp = spec.get(component)
            if isinstance(comp, Mapping) and (comp.get("containers") or comp.get("model")):
                inline = dict(comp)
                if comp.get("model") and not comp.get("containers"):
                    inline["containers"] = [comp["model"]]
                groups.append(
                    PodGroup(target, component, ("spec", component), inline, _int(comp.get("minReplicas")), comp.get("labels") or {}, comp.get("annotations") or {})
                )
    elif kind == "LeaderWorkerSet":
        lwt = spec.get("leaderWorkerTemplate") or {}
        size = _int(lwt.get("size"))
        replicas = _int(spec.get("replicas"))
        if lwt.get("leaderTemplate"):
            groups.append(_template(target, "leader", ("spec", "leaderWorkerTemplate", "leaderTemplate"), lwt.get("leaderTemplate"), replicas))
            groups.append(_template(target, "worker", ("spec", "leaderWorkerTemplate", "workerTemplate"), lwt.get("workerTemplate"), replicas * max(size - 1, 0)))
        else:
            groups.append(_template(target, "worker", ("spec", "leaderWorkerTemplate", "workerTemplate"), lwt.get("workerTemplate"), replicas * size))
    elif kind == "JobSet":
        for i, rj in enumerate(spec.get("replicatedJobs") or []):
            job = ((rj or {}).get("template") or {}).get("spec") or {}
            groups.append(
                _template(target, str(rj.get("name", i)), ("spec", "replicatedJobs", i, "template", "spec", "template"), job.get("template"), _int(rj.get("replicas")) * _int(job.get("parallelism")))
            )
    return [g for g in groups if g is not None]


def gpu_request(container: Mapping[str, Any]) -> tuple[str, int] | None:
    """(resource name, count) of the container's GPU or MIG limit (limits win over requests)."""
    resources = container.get("resources") or {}
    for section in ("limits", "requests"):
        for name, value in (resources.get(section) or {}).items():
            if name == GPU_RESOURCE or name.startswith("nvidia.com/gpu.") or MIG_RESOURCE.match(name):
                try:
                    return name, int(str(value))
                except ValueError:
                    return name, 0
    return None


def arg_value(args: list[str], *flags: str) -> str | None:
    """The value of `--flag value` or `--flag=value` in a command line."""
    for i, arg in enumerate(args):
        for flag in flags:
            if arg == flag and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(flag + "="):
                return arg[len(flag) + 1 :]
    return None


def command_line(container: Mapping[str, Any]) -> list[str]:
    """command + args as one list of strings."""
    return [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]


def server_runtime(container: Mapping[str, Any]) -> str | None:
    """'vllm' or 'tgi' when the container runs one of those servers."""
    image = str(container.get("image", ""))
    line = " ".join(command_line(container))
    if "vllm" in image or "vllm" in line:
        return "vllm"
    if "text-generation-inference" in image or "text-generation-launcher" in line:
        return "tgi"
    return None
