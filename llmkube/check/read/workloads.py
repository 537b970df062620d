"""Find the pods inside any workload manifest, the way rules need to see them.

A rule asks "which pods does this object make, how many, with which
containers, GPUs and node selection?" — the answer lives at a different path
in a Deployment, a PyTorchJob, a Volcano Job, a TrainJob, a JobSet, a
LeaderWorkerSet or a KServe InferenceService. This module knows those paths so
rules do not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llmkube.check.read.shape import as_int, as_list, as_mapping, count, dig, meta
from llmkube.check.run import Target
from llmkube.names import KUEUE_GROUP, VOLCANO_BATCH_GROUP, is_gpu_resource
from llmkube.records import record

Path = tuple[str | int, ...]
KUBEFLOW_JOB_KINDS = ("PyTorchJob", "MPIJob", "TFJob", "XGBoostJob", "PaddleJob", "JAXJob")
#: The kinds `pod_groups` finds pods in (any other kind makes none): what a rule about pods judges.
POD_KINDS = (
    "Pod", "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", *KUBEFLOW_JOB_KINDS,
    "InferenceService", "LeaderWorkerSet", "LLMInferenceService", "JobSet",
)
#: The kinds `is_workload` can accept: those that make pods, and TrainJob.
WORKLOAD_KINDS = (*POD_KINDS, "TrainJob")


@record(frozen=True)
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
        for i, c in enumerate(as_list(self.spec.get("containers"))):
            if isinstance(c, dict) or isinstance(c, Mapping):  # a dict first: a Mapping check is an ABC's
                yield (*self.spec_path, "containers", i), c

    @property
    def node_selector(self) -> Mapping[str, str]:
        return as_mapping(self.spec.get("nodeSelector"))


def is_volcano(obj: Mapping[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith(VOLCANO_BATCH_GROUP + "/")


def _template(target: Target, role: str, path: Path, template: Any, replicas: int) -> PodGroup | None:
    if not isinstance(template, Mapping):
        return None
    spec = template.get("spec")
    if not isinstance(spec, Mapping):
        return None
    tmeta = as_mapping(template.get("metadata"))
    return PodGroup(target, role, (*path, "spec"), spec, replicas, as_mapping(tmeta.get("labels")), as_mapping(tmeta.get("annotations")))


def pod_groups(target: Target) -> tuple[PodGroup, ...]:
    """Every pod group of one object (empty for kinds that make no pods), read once per object:
    a dozen readers and rules ask for them (~14,000 calls over 2,000 objects)."""
    found = target.reads.get("pod_groups")
    if found is None:
        found = target.reads["pod_groups"] = tuple(_pod_groups(target))
    return found


def _pod_groups(target: Target) -> list[PodGroup]:
    obj = target.obj
    kind = obj.get("kind")
    spec = obj.get("spec")
    if not isinstance(spec, dict) and not isinstance(spec, Mapping):
        return []
    groups: list[PodGroup | None] = []
    if kind == "Pod":
        m = meta(obj)
        groups.append(PodGroup(target, "pod", ("spec",), spec, 1, as_mapping(m.get("labels")), as_mapping(m.get("annotations"))))
    elif kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        groups.append(_template(target, kind.lower(), ("spec", "template"), spec.get("template"), count(spec.get("replicas"))))
    elif kind == "DaemonSet":
        groups.append(_template(target, "daemonset", ("spec", "template"), spec.get("template"), 1))
    elif kind == "Job":
        if is_volcano(obj):
            for i, task in enumerate(as_list(spec.get("tasks"))):
                if isinstance(task, Mapping):
                    groups.append(
                        _template(target, str(task.get("name", i)), ("spec", "tasks", i, "template"), task.get("template"), count(task.get("replicas")))
                    )
        else:
            groups.append(_template(target, "job", ("spec", "template"), spec.get("template"), count(spec.get("parallelism"))))
    elif kind in KUBEFLOW_JOB_KINDS:
        key = next((k for k in spec if isinstance(k, str) and k.endswith("ReplicaSpecs")), None)
        for role, rs in as_mapping(spec.get(key)).items() if key else []:
            if isinstance(rs, Mapping):
                groups.append(_template(target, str(role), ("spec", str(key), role, "template"), rs.get("template"), count(rs.get("replicas"))))
    elif kind == "InferenceService":
        for component in ("predictor", "transformer", "explainer"):
            comp = spec.get(component)
            if isinstance(comp, Mapping) and (comp.get("containers") or comp.get("model")):
                inline = dict(comp)
                if comp.get("model") and not comp.get("containers"):
                    inline["containers"] = [comp["model"]]
                groups.append(
                    PodGroup(
                        target, component, ("spec", component), inline, count(comp.get("minReplicas")), as_mapping(comp.get("labels")), as_mapping(comp.get("annotations"))
                    )
                )
    elif kind == "LeaderWorkerSet":
        lwt = as_mapping(spec.get("leaderWorkerTemplate"))
        size = count(lwt.get("size"))
        replicas = count(spec.get("replicas"))
        if lwt.get("leaderTemplate"):
            groups.append(_template(target, "leader", ("spec", "leaderWorkerTemplate", "leaderTemplate"), lwt.get("leaderTemplate"), replicas))
            groups.append(_template(target, "worker", ("spec", "leaderWorkerTemplate", "workerTemplate"), lwt.get("workerTemplate"), replicas * max(size - 1, 0)))
        else:
            groups.append(_template(target, "worker", ("spec", "leaderWorkerTemplate", "workerTemplate"), lwt.get("workerTemplate"), replicas * size))
    elif kind == "LLMInferenceService":
        # KServe v0.20.0: the main (decode) workload at spec, a prefill one at spec.prefill; each a pod
        # spec `template` (one pod per replica) and, multi-node, a `worker` pod spec (LWS size − 1 per replica)
        workloads = [("spec",), ("spec", "prefill")] if isinstance(spec.get("prefill"), Mapping) else [("spec",)]
        for wpath in workloads:
            workload = as_mapping(dig(obj, *wpath))
            role = "prefill" if len(wpath) > 1 else ("decode" if len(workloads) > 1 else "main")
            replicas = count(workload.get("replicas"))
            for key, pods in (("template", replicas), ("worker", replicas * max(llmisvc_pods_per_replica(workload) - 1, 0))):
                pod = workload.get(key)
                if isinstance(pod, Mapping):
                    groups.append(PodGroup(target, role if key == "template" else f"{role}-worker", (*wpath, key), with_preset_shm(pod), pods, {}, {}))
    elif kind == "JobSet":
        for i, rj in enumerate(as_list(spec.get("replicatedJobs"))):
            if not isinstance(rj, Mapping):
                continue
            job = as_mapping(dig(rj, "template", "spec"))
            groups.append(
                _template(target, str(rj.get("name", i)), ("spec", "replicatedJobs", i, "template", "spec", "template"), job.get("template"), count(rj.get("replicas")) * count(job.get("parallelism")))
            )
    return [g for g in groups if g is not None]


# KServe v0.20.0's LLMInferenceService presets (config/llmisvcconfig/config-llm-*.yaml) give every pod a
# memory-backed /dev/shm: volume `dshm` (emptyDir, medium Memory, sizeLimit 1Gi) mounted into `main`.
PRESET_SHM_VOLUME = {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}
PRESET_SHM_MOUNT = {"name": "dshm", "mountPath": "/dev/shm"}


def with_preset_shm(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    """An LLMInferenceService pod spec with the presets' /dev/shm merged in as KServe merges it
    (volumes by name, the `main` container's mounts by path): the user's own win."""
    volumes = as_list(pod.get("volumes"))
    if not any(isinstance(v, Mapping) and v.get("name") == PRESET_SHM_VOLUME["name"] for v in volumes):
        volumes = [*volumes, PRESET_SHM_VOLUME]
    containers = []
    for c in as_list(pod.get("containers")):
        if isinstance(c, Mapping) and c.get("name") == "main" and shm_mount(c) is None:
            c = {**c, "volumeMounts": [*as_list(c.get("volumeMounts")), PRESET_SHM_MOUNT]}
        containers.append(c)
    return {**pod, "volumes": volumes, "containers": containers}


def llmisvc_pods_per_replica(workload: Mapping[str, Any]) -> int:
    """Pods per replica of a multi-node LLMInferenceService workload: KServe v0.20.0
    `ParallelismSpec.GetSize` (data ÷ dataLocal when data-parallel, else pipeline)."""
    par = as_mapping(workload.get("parallelism"))
    data, local, pipeline = as_int(par.get("data")), as_int(par.get("dataLocal")), as_int(par.get("pipeline"))
    if data or local:
        return max(max(data or 1, 1) // max(local or 1, 1), 1)
    return max(pipeline or 1, 1)


def is_workload(target: Target) -> bool:
    """An object Kueue admits: it makes pods (or is a TrainJob), and is not Kueue's own."""
    obj = target.obj
    if obj.get("kind") == "TrainJob" or pod_groups(target):
        return not str(obj.get("apiVersion", "")).startswith(KUEUE_GROUP + "/")
    return False


# ---- GPUs -----------------------------------------------------------------------


def gpu_request(container: Mapping[str, Any]) -> tuple[str, int] | None:
    """(resource name, count) of the container's GPU or MIG limit (limits win over requests)."""
    resources = as_mapping(container.get("resources"))
    for section in ("limits", "requests"):
        for name, value in as_mapping(resources.get(section)).items():
            if isinstance(name, str) and is_gpu_resource(name):
                try:
                    return name, int(str(value))
                except ValueError:
                    return name, 0
    return None


def pod_gpus(spec: Mapping[str, Any]) -> dict[str, int]:
    """GPU-like resources one pod asks for, summed over its containers."""
    out: dict[str, int] = {}
    for c in as_list(spec.get("containers")):
        if isinstance(c, Mapping):
            req = gpu_request(c)
            if req and req[1] > 0:
                out[req[0]] = out.get(req[0], 0) + req[1]
    return out


def _section(resources: Mapping[str, Any], resource: str) -> str:
    """Where a resource is set: "limits", or "requests" when only that has it."""
    return "limits" if resource in as_mapping(resources.get("limits")) else "requests"


def resource_line(container: Mapping[str, Any], container_path: Path, resource: str) -> Path:
    """Path of a container's `resources.limits.<resource>` line (`requests` when only that has it)."""
    return (*container_path, "resources", _section(as_mapping(container.get("resources")), resource), resource)


def gpu_line(group: PodGroup) -> tuple[Path, str] | None:
    """Path of the first container's GPU limit (or request) line, and the resource name."""
    for path, c in group.containers():
        req = gpu_request(c)
        if req and req[1] > 0:
            return resource_line(c, path, req[0]), req[0]
    return None


@record(frozen=True)
class JobPods:
    """Pods of one role of a job, normalised across job kinds (TrainJob included)."""

    role: str
    replicas: int
    gpus: dict[str, int]  # per pod
    node_selector: Mapping[str, str]
    gpu_path: Path | None  # the line to point at for GPU findings
    min_available: int | None = None  # Volcano task-level gang size


def job_pods(target: Target) -> list[JobPods]:
    obj = target.obj
    spec = as_mapping(obj.get("spec"))
    if obj.get("kind") == "TrainJob":
        trainer = as_mapping(spec.get("trainer"))
        res = as_mapping(trainer.get("resourcesPerNode"))
        req = gpu_request({"resources": res})
        if not req:
            return []
        nodes = as_int(trainer.get("numNodes")) or 1
        path = ("spec", "trainer", "resourcesPerNode", _section(res, req[0]), req[0])
        return [JobPods("node", nodes, {req[0]: req[1]}, {}, path)]
    out = []
    tasks = spec.get("tasks")
    for group in pod_groups(target):
        where = gpu_line(group)
        min_avail = None
        if is_volcano(obj) and isinstance(tasks, list):
            idx = group.spec_path[2] if len(group.spec_path) > 2 else None
            if isinstance(idx, int) and idx < len(tasks) and isinstance(tasks[idx], Mapping):
                min_avail = as_int(tasks[idx].get("minAvailable"))
        out.append(JobPods(group.role, group.replicas, pod_gpus(group.spec), group.node_selector, where[0] if where else None, min_avail))
    return out


def gang_gpus(target: Target, pods: Sequence[JobPods]) -> dict[str, int]:
    """GPUs that must be admitted together: all pods, or Volcano's minAvailable pods."""
    spec = as_mapping(target.obj.get("spec"))
    volcano = is_volcano(target.obj)
    out: dict[str, int] = {}
    if volcano and as_int(spec.get("minAvailable")) is not None:
        need = as_int(spec.get("minAvailable")) or 0
        # the `need` pods with the fewest GPUs, counted per group (a replica count may be huge)
        for p in sorted(pods, key=lambda p: sum(p.gpus.values())):
            take = min(need, max(p.replicas, 0))
            need -= take
            for k, v in p.gpus.items():
                out[k] = out.get(k, 0) + v * take
        return out
    for p in pods:
        n = p.min_available if volcano and p.min_available is not None else p.replicas
        for k, v in p.gpus.items():
            out[k] = out.get(k, 0) + v * n
    return out


# ---- /dev/shm -------------------------------------------------------------------


def shm_mount(container: Mapping[str, Any]) -> tuple[int, str] | None:
    """(index, volume name) of the container's mount at /dev/shm."""
    for i, m in enumerate(as_list(container.get("volumeMounts"))):
        if isinstance(m, Mapping) and str(m.get("mountPath", "")).rstrip("/") == "/dev/shm":
            return i, str(m.get("name"))
    return None


def volume(spec: Mapping[str, Any], name: str) -> tuple[int, Mapping[str, Any]] | None:
    """(index, volume) of the pod's volume of this name."""
    for i, v in enumerate(as_list(spec.get("volumes"))):
        if isinstance(v, Mapping) and v.get("name") == name:
            return i, v
    return None


def memory_backed(vol: Mapping[str, Any]) -> bool:
    """An emptyDir with medium: Memory (charged to the container's memory cgroup)."""
    empty = vol.get("emptyDir")
    return isinstance(empty, Mapping) and empty.get("medium") == "Memory"
