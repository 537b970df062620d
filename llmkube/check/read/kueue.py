"""Kueue objects of a run, and the chain a workload is admitted through.

A workload names a LocalQueue by the `kueue.x-k8s.io/queue-name` label; the
LocalQueue (in the workload's namespace) names a ClusterQueue; the
ClusterQueue's flavors name ResourceFlavors. `KueueIndex` indexes those
objects by name once per run, keeping the first of each name in manifest
order (what a scan would find).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmkube.check.read.workloads import Path, meta, pod_groups
from llmkube.check.run import Target
from llmkube.names import KUEUE_GROUP, KUEUE_QUEUE_LABEL


def is_kueue(target: Target, kind: str) -> bool:
    return target.obj.get("kind") == kind and str(target.obj.get("apiVersion", "")).startswith(KUEUE_GROUP + "/")


def queue_label(target: Target) -> tuple[str, Path] | None:
    """The LocalQueue a workload names, and where (object labels, else its pod template)."""
    labels = meta(target.obj).get("labels") or {}
    if isinstance(labels, Mapping) and labels.get(KUEUE_QUEUE_LABEL):
        return str(labels[KUEUE_QUEUE_LABEL]), ("metadata", "labels", KUEUE_QUEUE_LABEL)
    for group in pod_groups(target):
        if group.labels.get(KUEUE_QUEUE_LABEL) and group.spec_path[-1] == "spec":
            return str(group.labels[KUEUE_QUEUE_LABEL]), (*group.spec_path[:-1], "metadata", "labels", KUEUE_QUEUE_LABEL)
    return None


def cohort_of(cq: Mapping[str, Any]) -> str | None:
    """A ClusterQueue's cohort (`spec.cohortName` in v1beta2, `spec.cohort` in v1beta1)."""
    spec = cq.get("spec") or {}
    return (spec.get("cohortName") or spec.get("cohort") or None) if isinstance(spec, Mapping) else None


class _ByName:
    """The first object of each name, in manifest order (a scan would find the same one)."""

    def __init__(self, targets: Iterable[Target]):
        self.targets = list(targets)
        self._first: dict[Any, Target] = {}
        for t in reversed(self.targets):
            name = meta(t.obj).get("name")
            if isinstance(name, Hashable):
                self._first[name] = t

    def get(self, name: Any) -> Target | None:
        if isinstance(name, Hashable):
            return self._first.get(name)
        return next((t for t in self.targets if meta(t.obj).get("name") == name), None)  # a list or map: schema-invalid


@dataclass
class KueueIndex:
    """LocalQueues, ClusterQueues and ResourceFlavors of one run, by name."""

    local_queues: Sequence[Target]
    cluster_queues: _ByName
    flavors: _ByName
    _local_by_name: dict[Any, list[Target]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, targets: Sequence[Target]) -> KueueIndex:
        local = [t for t in targets if is_kueue(t, "LocalQueue")]
        by_name: dict[Any, list[Target]] = {}
        for lq in local:
            name = meta(lq.obj).get("name")
            if isinstance(name, Hashable):  # a queue label is a string: other names never match it
                by_name.setdefault(name, []).append(lq)
        return cls(
            local_queues=local,
            cluster_queues=_ByName(t for t in targets if is_kueue(t, "ClusterQueue")),
            flavors=_ByName(t for t in targets if is_kueue(t, "ResourceFlavor")),
            _local_by_name=by_name,
        )

    def local_queue(self, name: str, namespace: str | None) -> Target | None:
        """The LocalQueue of this name in the namespace (any namespace when the workload has none)."""
        for lq in self._local_by_name.get(name, []):
            if namespace is None or meta(lq.obj).get("namespace") in (None, namespace):
                return lq
        return None

    def cluster_queue_of(self, target: Target) -> tuple[Target, Path] | None:
        """Workload → LocalQueue (same namespace) → ClusterQueue, all inside this run; and the label's path."""
        found = queue_label(target)
        if not found:
            return None
        lq = self.local_queue(found[0], meta(target.obj).get("namespace"))
        if lq is None:
            return None
        cq = self.cluster_queues.get((lq.obj.get("spec") or {}).get("clusterQueue"))
        return (cq, found[1]) if cq is not None else None

    def flavor_labels(self, name: str) -> Mapping[str, str] | None:
        """A ResourceFlavor's nodeLabels ({} when it has none); None when it is not in the run."""
        rf = self.flavors.get(name)
        return None if rf is None else (rf.obj.get("spec") or {}).get("nodeLabels") or {}
