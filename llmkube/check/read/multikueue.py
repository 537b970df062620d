"""A MultiKueue federation as the manifests of one run describe it.

The manager's objects carry no `llmkube.dev/cluster` annotation; each worker's
objects carry its name there (what `llmkube render` emits for a Quota with
`multiKueue`, and what hand-written manifests may add). The chain Kueue v0.19.2
follows: ClusterQueue `spec.admissionChecksStrategy.admissionChecks[].name` (or
v1beta1 `spec.admissionChecks[]`) → AdmissionCheck with `spec.controllerName:
kueue.x-k8s.io/multikueue` → `spec.parameters` (apiGroup kueue.x-k8s.io, kind
MultiKueueConfig: pkg/util/admissioncheck `ConfigFromRef` refuses others) →
MultiKueueConfig `spec.clusters` → MultiKueueCluster names.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence

from llmkube.check.read.kueue import is_kueue
from llmkube.check.read.shape import as_list, as_mapping, as_str, dig, meta
from llmkube.check.run import Target
from llmkube.federation import cluster_of
from llmkube.names import KUEUE_GROUP, MULTIKUEUE_CONTROLLER
from llmkube.records import record

Path = tuple[str | int, ...]


@record(frozen=True)
class CheckRef:
    """One admission check a ClusterQueue names, and where."""

    name: str
    path: Path
    on_flavors: bool  # restricted to some flavors (admissionChecksStrategy onFlavors)


def check_refs(cq: Target) -> list[CheckRef]:
    """The admission checks a ClusterQueue names, in both API versions' forms."""
    out = []
    for i, item in enumerate(as_list(dig(cq.obj, "spec", "admissionChecks"))):
        if isinstance(item, str):
            out.append(CheckRef(item, ("spec", "admissionChecks", i), False))
    rules = as_list(dig(cq.obj, "spec", "admissionChecksStrategy", "admissionChecks"))
    for i, item in enumerate(rules):
        name = as_str(as_mapping(item).get("name"))
        if name:
            flavors = as_list(as_mapping(item).get("onFlavors"))
            out.append(CheckRef(name, ("spec", "admissionChecksStrategy", "admissionChecks", i, "name"), bool(flavors)))
    return out


def _by_name(targets: Sequence[Target], kind: str) -> dict[str, Target]:
    """The Kueue objects of one kind by name, first of each name (the reference for `_by_kind_and_name`)."""
    out: dict[str, Target] = {}
    for t in targets:
        name = meta(t.obj).get("name")
        if is_kueue(t, kind) and isinstance(name, Hashable) and isinstance(name, str):
            out.setdefault(name, t)
    return out


def _by_kind_and_name(targets: Sequence[Target], kinds: tuple[str, ...]) -> dict[str, dict[str, Target]]:
    """`_by_name` for each of `kinds`, in one pass over the targets (a run with many federating
    Quotas has a cluster per Quota, and the manager's holds nearly every object)."""
    out: dict[str, dict[str, Target]] = {kind: {} for kind in kinds}
    for t in targets:
        kind = t.obj.get("kind")
        found = out.get(kind) if isinstance(kind, str) else None
        if found is None or not str(t.obj.get("apiVersion", "")).startswith(KUEUE_GROUP + "/"):
            continue  # is_kueue
        name = meta(t.obj).get("name")
        if isinstance(name, str):
            found.setdefault(name, t)
    return out


@record
class ClusterObjects:
    """The Kueue objects of one cluster of the run, by name (LocalQueues by namespace and name)."""

    cluster_queues: dict[str, Target]
    local_queues: dict[tuple[str, str], Target]
    admission_checks: dict[str, Target]
    configs: dict[str, Target]
    clusters: dict[str, Target]
    #: `local_queues` by the ClusterQueue each names (`spec.clusterQueue`), in their order: built
    #: once, so asking per ClusterQueue is not a scan of every LocalQueue (N² for N Quotas).
    local_queues_by_cq: dict[str, list[Target]] | None = None

    @classmethod
    def of(cls, targets: Sequence[Target]) -> ClusterObjects:
        local: dict[tuple[str, str], Target] = {}
        for t in targets:
            if is_kueue(t, "LocalQueue"):
                key = (str(meta(t.obj).get("namespace") or ""), str(meta(t.obj).get("name")))
                local.setdefault(key, t)
        by_cq: dict[str, list[Target]] = {}
        for lq in local.values():
            cq = dig(lq.obj, "spec", "clusterQueue")
            if isinstance(cq, str):  # only a string equals a ClusterQueue's name
                by_cq.setdefault(cq, []).append(lq)
        named = _by_kind_and_name(targets, ("ClusterQueue", "AdmissionCheck", "MultiKueueConfig", "MultiKueueCluster"))
        return cls(
            cluster_queues=named["ClusterQueue"],
            local_queues=local,
            admission_checks=named["AdmissionCheck"],
            configs=named["MultiKueueConfig"],
            clusters=named["MultiKueueCluster"],
            local_queues_by_cq=by_cq,
        )

    def multikueue_check(self, name: str) -> Target | None:
        """The AdmissionCheck of this name when MultiKueue runs it."""
        ac = self.admission_checks.get(name)
        return ac if ac is not None and dig(ac.obj, "spec", "controllerName") == MULTIKUEUE_CONTROLLER else None

    def local_queues_of(self, cq_name: str) -> list[Target]:
        """The LocalQueues that point at this ClusterQueue, in their order."""
        if self.local_queues_by_cq is None:
            return self.local_queues_of_by_scan(cq_name)
        return list(self.local_queues_by_cq.get(cq_name, ()))

    def local_queues_of_by_scan(self, cq_name: str) -> list[Target]:
        """The reference for `local_queues_of` (tests/test_validate_throughput.py)."""
        return [lq for lq in self.local_queues.values() if dig(lq.obj, "spec", "clusterQueue") == cq_name]


def config_ref(ac: Target) -> tuple[str | None, str | None]:
    """(the MultiKueueConfig an AdmissionCheck names, why it names none): Kueue accepts only
    `parameters` with apiGroup kueue.x-k8s.io and kind MultiKueueConfig."""
    params = dig(ac.obj, "spec", "parameters")
    if not isinstance(params, dict):
        return None, "it has no spec.parameters"
    group, kind, name = params.get("apiGroup"), params.get("kind"), params.get("name")
    if group != KUEUE_GROUP or kind != "MultiKueueConfig":
        return None, f"its parameters name {kind}.{group}, not MultiKueueConfig.{KUEUE_GROUP}"
    return (name, None) if isinstance(name, str) and name else (None, "its parameters name no config")


def config_clusters(config: Target) -> list[tuple[str, Path]]:
    """The worker names a MultiKueueConfig lists."""
    items = as_list(dig(config.obj, "spec", "clusters"))
    return [(c, ("spec", "clusters", i)) for i, c in enumerate(items) if isinstance(c, str)]


@record
class Federation:
    """Each cluster's Kueue objects: the manager (None: objects without the annotation) and the workers."""

    by_cluster: dict[str | None, ClusterObjects]

    @classmethod
    def of(cls, targets: Sequence[Target]) -> Federation:
        groups: dict[str | None, list[Target]] = {}
        for t in targets:
            groups.setdefault(cluster_of(t.obj), []).append(t)
        return cls({name: ClusterObjects.of(ts) for name, ts in groups.items()})

    @property
    def manager(self) -> ClusterObjects:
        return self.by_cluster.get(None) or ClusterObjects({}, {}, {}, {}, {})

    def workers(self) -> list[str]:
        return sorted(n for n in self.by_cluster if n is not None)

    def multikueue_queues(self) -> Iterator[tuple[Target, CheckRef, Target]]:
        """The manager's ClusterQueues with a MultiKueue admission check: (queue, reference, check)."""
        mgr = self.manager
        for cq in mgr.cluster_queues.values():
            for ref in check_refs(cq):
                ac = mgr.multikueue_check(ref.name)
                if ac is not None:
                    yield cq, ref, ac

    def dispatch_clusters(self, ac: Target) -> list[str] | None:
        """The worker names a MultiKueue check dispatches to, when its config is in the run."""
        name, _ = config_ref(ac)
        config = self.manager.configs.get(name) if name else None
        return None if config is None else [c for c, _ in config_clusters(config)]


def primary_targets(targets: Sequence[Target]) -> list[Target]:
    """The objects of the cluster jobs are submitted to, for the rules that follow a workload's
    queue: the manager's (no annotation) when the run has any; a run of one worker's manifests
    alone is that worker's."""
    named = [cluster_of(t.obj) for t in targets]
    if None in named or not named:
        return [t for t, n in zip(targets, named) if n is None]
    first = min(n for n in named if n is not None)
    return [t for t, n in zip(targets, named) if n == first]
