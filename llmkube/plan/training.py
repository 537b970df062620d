"""TrainingJob → the values a PyTorchJob, TrainJob or Volcano Job template needs.

Every number here (GPUs per pod, torchrun arguments, gang size, /dev/shm
size) is decided in Python and reaches the templates as a plain value.
"""

from __future__ import annotations

from typing import Any

from llmkube.plan import quantity
from llmkube.plan.context import (
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    PlanContext,
    standard_labels,
    toleration,
)
from llmkube.specs.trainingjob import NodeRange, TrainingJob, effective_scheduler

RDZV_PORT = 29500
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
KUEUE_PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
KUEUE_PREFERRED_TOPOLOGY = "kueue.x-k8s.io/podset-preferred-topology"
KUEUE_REQUIRED_TOPOLOGY = "kueue.x-k8s.io/podset-required-topology"
JOB_LABEL = "llmkube.dev/training-job"

# Volcano policy actions for what happens when a pod is evicted.
EVICTION_ACTIONS = {"restart-job": "RestartJob", "restart-task": "RestartTask", "fail": "AbortJob"}


def shm_size(gpus_per_pod: int, explicit: str | None) -> str | None:
    """In-memory /dev/shm for multi-GPU pods: NCCL and dataloader workers use it.

    Docker's 64 MiB default breaks NCCL's shared-memory transport between
    local ranks; 8 GiB per GPU (capped at 64 GiB) is a common sizing.
    """
    if explicit is not None:
        return str(explicit)
    if gpus_per_pod <= 1:
        return None
    return f"{min(8 * gpus_per_pod, 64)}Gi"


def memory_limit(request: int | str, shm: str | None) -> int | str:
    """Memory limit = request + /dev/shm: a memory-backed emptyDir is charged to the container."""
    return quantity.add(request, shm) if shm else request


def node_counts(job: TrainingJob) -> tuple[int, int]:
    """(min, max) nodes; equal for a fixed-size job."""
    nodes = job.spec.nodes
    if isinstance(nodes, NodeRange):
        return nodes.min, nodes.max
    return nodes, nodes


def torchrun_command(
    script: str, args: list[str], nproc: int, rendezvous: dict[str, Any] | None
) -> list[str]:
    """torchrun with --nproc_per_node = GPUs per pod.

    Under the Kubeflow operators the node count and rendezvous come from the
    PET_* variables they inject; on Volcano they are given explicitly.
    """
    cmd = ["torchrun", f"--nproc_per_node={nproc}"]
    if rendezvous:
        cmd += [
            f"--nnodes={rendezvous['nnodes']}",
            "--rdzv_backend=c10d",
            f"--rdzv_endpoint={rendezvous['endpoint']}",
            f"--rdzv_id={rendezvous['id']}",
        ]
    return [*cmd, script, *args]


def plan_training_job(job: TrainingJob, ctx: PlanContext) -> dict[str, Any]:
    spec = job.spec
    name = job.metadata.name
    gpu = ctx.gpu(spec.gpu, ("spec", "gpu"))
    model = ctx.model(spec.model, ("spec", "model")) if spec.model else None
    gpus = spec.gpus_per_node or gpu.spec.gpus_per_node
    min_nodes, max_nodes = node_counts(job)
    scheduler = effective_scheduler(spec)

    rendezvous = None
    if spec.framework == "volcano":
        rendezvous = {
            "nnodes": max_nodes,
            "endpoint": f"{name}-worker-0.{name}:{RDZV_PORT}",
            "id": name,
        }
    if spec.script:
        command = torchrun_command(spec.script, list(spec.args), gpus, rendezvous)
        args: list[str] = []
    else:
        command = list(spec.command or [])
        args = list(spec.args)

    labels = {**standard_labels(name, "training"), JOB_LABEL: name, **job.metadata.labels}
    job_labels = dict(labels)
    if scheduler == "kueue":
        job_labels[KUEUE_QUEUE_LABEL] = spec.queue
        if spec.priority_class:
            job_labels[KUEUE_PRIORITY_LABEL] = spec.priority_class

    env = _env(job)
    volumes, mounts = _volumes(job, gpus)

    resources: dict[str, dict[str, Any]] = {"requests": {}, "limits": {}}
    if spec.resources.cpu is not None:
        resources["requests"]["cpu"] = spec.resources.cpu
    if spec.resources.memory is not None:
        resources["requests"]["memory"] = spec.resources.memory
        resources["limits"]["memory"] = memory_limit(spec.resources.memory, shm_size(gpus, spec.shm_size))
    resources["requests"][GPU_RESOURCE] = gpus
    resources["limits"][GPU_RESOURCE] = gpus

    pod_annotations: dict[str, str] = {}
    affinity = None
    if spec.topology:
        key = spec.topology.prefer or spec.topology.require
        if scheduler == "kueue":
            ann = KUEUE_PREFERRED_TOPOLOGY if spec.topology.prefer else KUEUE_REQUIRED_TOPOLOGY
            pod_annotations[ann] = key
        else:
            affinity = _co_location(name, key, required=spec.topology.require is not None)

    node_selector = {GPU_PRODUCT_LABEL: gpu.spec.product, **spec.node_selector}
    pod = {
        "labels": labels,
        "annotations": pod_annotations,
        "image": spec.image,
        "command": command,
        "args": args,
        "env": env,
        "resources": resources,
        "volume_mounts": mounts,
        "volumes": volumes,
        "node_selector": dict(sorted(node_selector.items())),
        "tolerations": [toleration(t) for t in spec.tolerations],
        "affinity": affinity,
        "service_account": spec.service_account,
        "priority_class_name": spec.priority_class if scheduler != "kueue" else None,
    }
    return {
        "name": name,
        "namespace": job.metadata.namespace,
        "annotations": dict(job.metadata.annotations),
        "labels": job_labels,
        "framework": spec.framework,
        "scheduler": scheduler,
        "gpus_per_pod": gpus,
        "min_nodes": min_nodes,
        "max_nodes": max_nodes,
        "elastic": min_nodes != max_nodes,
        "worker_replicas": max_nodes - 1,
        "max_restarts": spec.max_restarts,
        "nproc_per_node": gpus,
        "pod": pod,
        # Volcano
        "queue": spec.queue or "default",
        "min_available": max_nodes if spec.gang else 1,
        "eviction_action": EVICTION_ACTIONS[spec.on_eviction],
        # TrainJob
        "runtime_ref": {"name": spec.runtime_ref.name, "kind": spec.runtime_ref.kind},
        "model": model.name if model else None,
    }


def _env(job: TrainingJob) -> list[dict[str, Any]]:
    spec = job.spec
    env: list[dict[str, Any]] = []
    env.append({"name": "NCCL_IB_DISABLE", "value": "0" if spec.network.infiniband else "1"})
    if spec.network.nccl_debug:
        env.append({"name": "NCCL_DEBUG", "value": spec.network.nccl_debug})
    if spec.network.socket_ifname:
        env.append({"name": "NCCL_SOCKET_IFNAME", "value": spec.network.socket_ifname})
    if spec.volumes.hf_cache:
        env.append({"name": "HF_HOME", "value": spec.volumes.hf_cache.mount_path})
    token = spec.hugging_face.token_secret
    if token:
        env.append(
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": token.name, "key": token.key}}}
        )
    # The user's own env wins over a derived variable of the same name.
    env = [e for e in env if e["name"] not in spec.env]
    env.extend({"name": k, "value": v} for k, v in sorted(spec.env.items()))
    return env


def _volumes(job: TrainingJob, gpus: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    spec = job.spec
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    size = shm_size(gpus, spec.shm_size)
    if size:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": size}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    for vol_name, claim in (("checkpoints", spec.volumes.checkpoints), ("hf-cache", spec.volumes.hf_cache)):
        if claim is None:
            continue
        volumes.append(
            {"name": vol_name, "persistentVolumeClaim": {"claimName": claim.claim, **({"readOnly": True} if claim.read_only else {})}}
        )
        mounts.append({"name": vol_name, "mountPath": claim.mount_path, **({"readOnly": True} if claim.read_only else {})})
    return volumes, mounts


def _co_location(name: str, key: str, *, required: bool) -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": {JOB_LABEL: name}}, "topologyKey": key}
    if required:
        return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {
        "podAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]
        }
    }
