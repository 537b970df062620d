"""Pieces of a pod that every planner builds the same way.

Training pods and model servers share the mechanics: standard labels,
tolerations from spec taints, /dev/shm as a memory-backed volume that is
charged to the memory limit, claims mounted into the container, and
environment variables where the user's own value wins. The policies (how
large /dev/shm is, which variables a workload needs) stay with each planner.

The values returned are Kubernetes API fragments (core/v1 shapes) as plain
dicts: templates emit them verbatim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmkube import quantity
from llmkube.names import APP_COMPONENT_LABEL, APP_NAME_LABEL
from llmkube.plan.context import MANAGED_BY
from llmkube.specs.base import Quantity, SecretKeyRef, Toleration

K8sObject = dict[str, Any]
"""A Kubernetes API fragment (a volume, a mount, an env var…) as the API server reads it."""

SHM_VOLUME = "dshm"


def standard_labels(name: str, component: str | None = None) -> dict[str, str]:
    """The labels every object llmkube emits carries."""
    labels = {APP_NAME_LABEL: name, **MANAGED_BY}
    if component:
        labels[APP_COMPONENT_LABEL] = component
    return labels


def toleration(t: Toleration) -> dict[str, str]:
    """A spec Toleration → core/v1 toleration (Exists when no value is given)."""
    out = {"key": t.key, "operator": "Equal" if t.value is not None else "Exists"}
    if t.value is not None:
        out["value"] = t.value
    out["effect"] = t.effect
    return out


def tolerations(taints: Sequence[Toleration]) -> list[dict[str, str]]:
    return [toleration(t) for t in taints]


def memory_limit(request: Quantity, shm: str | None) -> Quantity:
    """Memory limit = request + /dev/shm: a memory-backed emptyDir is charged to the container."""
    return quantity.add(request, shm) if shm else request


def shm_volume(size: str) -> tuple[K8sObject, K8sObject]:
    """An in-memory /dev/shm of `size` (Docker's 64 MiB default is too small for NCCL): volume, mount."""
    return (
        {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": size}},
        {"name": SHM_VOLUME, "mountPath": "/dev/shm"},
    )


def claim_volume(name: str, claim: str, mount_path: str, *, read_only: bool = False) -> tuple[K8sObject, K8sObject]:
    """A PersistentVolumeClaim mounted at `mount_path`: volume, mount."""
    read_only_field = {"readOnly": True} if read_only else {}
    return (
        {"name": name, "persistentVolumeClaim": {"claimName": claim, **read_only_field}},
        {"name": name, "mountPath": mount_path, **read_only_field},
    )


def secret_env(name: str, ref: SecretKeyRef) -> K8sObject:
    """An env var read from a Secret: secrets are never written into the manifest."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}


def merge_env(derived: Sequence[K8sObject], user: Mapping[str, str]) -> list[K8sObject]:
    """Derived variables, then the user's (sorted): the user's own value wins over a derived one."""
    env = [e for e in derived if e["name"] not in user]
    env.extend({"name": k, "value": v} for k, v in sorted(user.items()))
    return env


def container_resources(
    cpu: Quantity | None,
    memory: Quantity | None,
    shm: str | None,
    gpu_resource: str,
    gpus: int,
    devices: Mapping[str, int] | None = None,
    *,
    cpu_limit: Quantity | None = None,
) -> dict[str, dict[str, Any]]:
    """requests and limits: CPU and memory as given, the memory limit counting /dev/shm, GPUs in both.

    A CPU limit is written only when given; a CPU request is then at most the limit (the limit
    when no request is given, as Kubernetes itself would default it). `devices` are further
    extended resources (an RDMA NIC, EFA interfaces): like GPUs they cannot be overcommitted,
    so requests and limits are equal.
    """
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if cpu is not None or cpu_limit is not None:
        requests["cpu"] = cpu if cpu is not None else cpu_limit
    if cpu_limit is not None:
        limits["cpu"] = cpu_limit
    if memory is not None:
        requests["memory"] = memory
        limits["memory"] = memory_limit(memory, shm)
    requests[gpu_resource] = limits[gpu_resource] = gpus
    for name, count in (devices or {}).items():
        requests[name] = limits[name] = count
    return {"requests": requests, "limits": limits}
