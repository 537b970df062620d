"""Kueue objects of a run, and the chain a workload is admitted through.

A workload names a LocalQueue by the `kueue.x-k8s.io/queue-name` label; the
LocalQueue (in the workload's namespace) names a ClusterQueue; the
ClusterQueue's flavors name ResourceFlavors. `KueueIndex` indexes those
objects by name once per run; a name the run defines twice, differently, is
ambiguous and is not followed (the answer would depend on the input order).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import field
from typing import Any

from llmkube.check.read.shape import as_mapping, dig, meta
from llmkube.check.read.workloads import Path, pod_groups
from llmkube.check.run import Target
from llmkube.names import KUEUE_GROUP, KUEUE_QUEUE_LABEL
from llmkube.records import record


def is_kueue(target: Target, kind: str) -> bool:
    return target.obj.get("kind") == kind and str(target.obj.get("apiVersion", "")).startswith(KUEUE_GROUP + "/")


def queue_label(target: Target) -> tuple[str, Path] | None:
    """The LocalQueue a workload names, and where (object labels, else its pod template)."""
    labels = as_mapping(meta(target.obj).get("labels"))
    if labels.get(KUEUE_QUEUE_LABEL):
        return str(labels[KUEUE_QUEUE_LABEL]), ("metadata", "labels", KUEUE_QUEUE_LABEL)
    for group in pod_groups(target):
        if group.labels.get(KUEUE_QUEUE_LABEL) and group.spec_path[-1] == "spec":
            return str(group.labels[KUEUE_QUEUE_LABEL]), (*group.spec_path[:-1], "metadata", "labels", KUEUE_QUEUE_LABEL)
    return None


def cohort_of(cq: Mapping[str, Any]) -> str | None:
    """A ClusterQueue's cohort (`spec.cohortName` in v1beta2, `spec.cohort` in v1beta1)."""
    spec = as_mapping(cq.get("spec"))
    return spec.get("cohortName") or spec.get("cohort") or None


class _ByName:
    """Cluster-scoped objects by name. A name defined twice with different content (two
    upstream examples in one run, each with its own `tas-cluster-queue`) is ambiguous: the
    cluster would hold whichever was applied last, so rules that follow the reference do not
    judge it (`get` answers None); LK209 reports the duplicate itself."""

    def __init__(self, targets: Iterable[Target]):
        self.targets = list(targets)
        self._first: dict[Any, Target] = {}
        self._ambiguous: set[Any] = set()
        for t in self.targets:
            name = meta(t.obj).get("name")
            if not isinstance(name, Hashable):
                continue
            if name not in self._first:
                self._first[name] = t
            elif self._first[name].obj != t.obj:
                self._ambiguous.add(name)

    def get(self, name: Any) -> Target | None:
        if isinstance(name, Hashable):
            return None if name in self._ambiguous else self._first.get(name)
        return next((t for t in self.targets if meta(t.obj).get("name") == name), None)  # a list or map: schema-invalid


def _serves(local_queue: Target, namespace: str | None) -> bool:
    """A LocalQueue serves a workload of its namespace (either side without one: any)."""
    return namespace is None or meta(local_queue.obj).get("namespace") in (None, namespace)


def _cluster_queue_name(local_queue: Target) -> Any:
    name = dig(local_queue.obj, "spec", "clusterQueue")
    return name if isinstance(name, Hashable) else None  # a list or map: schema-invalid, names nothing


@record
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
        return next((lq for lq in self._local_by_name.get(name, []) if _serves(lq, namespace)), None)

    def cluster_queue_of(self, target: Target) -> tuple[Target, Path] | None:
        """Workload → LocalQueue (same namespace) → ClusterQueue, all inside this run; and the label's path."""
        found = queue_label(target)
        if not found:
            return None
        namespace = meta(target.obj).get("namespace")
        lq = self.local_queue(found[0], namespace)
        if lq is None:
            return None
        cq_names = {_cluster_queue_name(q) for q in self._local_by_name.get(found[0], []) if _serves(q, namespace)}
        if len(cq_names) > 1:  # LocalQueues of one name that point at different ClusterQueues: ambiguous
            return None
        cq = self.cluster_queues.get(_cluster_queue_name(lq))
        return (cq, found[1]) if cq is not None else None

    def flavor_labels(self, name: str) -> Mapping[str, str] | None:
        """A ResourceFlavor's nodeLabels ({} when it has none); None when it is not in the run."""
        rf = self.flavors.get(name)
        return None if rf is None else as_mapping(dig(rf.obj, "spec", "nodeLabels"))
