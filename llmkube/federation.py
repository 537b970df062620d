"""A federation's clusters (Kueue MultiKueue): which objects go to which cluster.

A rendered object names the worker cluster it goes to in its `llmkube.dev/cluster`
annotation; objects without one belong to the run's own cluster (a federation's
manager). Pure functions: `render` splits its output with them, `diff`/`apply`
send each set with its cluster's kubectl context, the rules keep clusters apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from llmkube.errors import InputError
from llmkube.names import CLUSTER_ANNOTATION
from llmkube.records import record

if TYPE_CHECKING:  # named only: a run of plain manifests imports no planner
    from llmkube.plan.base import ClusterTarget

class _HasObj(Protocol):
    @property
    def obj(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=_HasObj)


def cluster_of(obj: Any) -> str | None:
    """The federation cluster an object goes to (its `llmkube.dev/cluster` annotation); None: the run's own."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    value = annotations.get(CLUSTER_ANNOTATION) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) and value else None


@record(frozen=True)
class ClusterSet(Generic[T]):
    """The objects that go to one cluster of a federation (or the one set of a plain run)."""

    name: str  # "" when the run has no federation
    context: str | None
    objects: list[T]
    manager: bool = False  # the run's own objects (no annotation): the Fleet's, the jobs'


def by_cluster(objects: Sequence[T], clusters: Sequence[ClusterTarget]) -> list[ClusterSet[T]]:
    """Split objects by their `llmkube.dev/cluster` annotation: the manager (objects without
    one, named by the federation's manager, else "default") first, then each worker in the
    federation's order, then clusters only the annotations name (hand-written manifests).
    A run without any federation is one set named "", in the same order as before."""
    manager = next((c for c in clusters if c.manager), None)
    named = [cluster_of(r.obj) for r in objects]
    if manager is None and not clusters and not any(named):
        return [ClusterSet("", None, list(objects))]
    order = [c.name for c in clusters if not c.manager]
    order += sorted({n for n in named if n and n not in order})
    contexts = {c.name: c.context for c in clusters}
    home = manager.name if manager else "default"
    sets = [ClusterSet(home, manager.context if manager else None, [r for r, n in zip(objects, named) if n is None], True)]
    sets += [ClusterSet(name, contexts.get(name), [r for r, n in zip(objects, named) if n == name]) for name in order]
    return [s for s in sets if s.objects or s.name in contexts]


class ClusterMerge:
    """A run's clusters, merged plan by plan: several Quotas may federate to the same clusters, so
    one list, manager first; a name given two contexts, or two managers, is a conflict.

    Kept by name with the manager apart: the list it replaced was copied and scanned once per plan,
    N² for a run of N specs that federate to their own clusters. A plan whose clusters conflict adds
    none of them. `tests/test_federation_merge.py` holds it to that list merge, kept there.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, ClusterTarget] = {}
        self._manager: ClusterTarget | None = None

    def add(self, more: Sequence[ClusterTarget]) -> None:
        """Merge one plan's clusters; ValueError (and nothing added) on a conflict."""
        staged: dict[str, ClusterTarget] = {}
        manager = self._manager
        for c in more:
            same = self._by_name.get(c.name)
            if same is None:
                same = staged.get(c.name)
            if same is None:
                if c.manager and manager is not None:
                    raise ValueError(f"manager cluster {c.name!r} differs from {manager.name!r}, named by another Quota")
                if c.manager:
                    manager = c
                staged[c.name] = c
            elif same != c:
                raise ValueError(f"cluster {c.name!r} is given differently by two Quotas (context or role)")
        self._by_name.update(staged)
        self._manager = manager

    @property
    def clusters(self) -> list[ClusterTarget]:
        """Manager first, then the others in the order they were first named."""
        head = [self._manager] if self._manager is not None else []
        return head + [c for c in self._by_name.values() if not c.manager]


def parse_cluster_contexts(values: Sequence[str]) -> dict[str, str]:
    """`--cluster-context NAME=CONTEXT`, repeatable."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, context = (part.strip() for part in value.partition("="))
        if not (name and sep and context):
            raise InputError(f"--cluster-context {value!r}: expected NAME=CONTEXT", hint="e.g. --cluster-context gpu-east=gke-east")
        out[name] = context
    return out


def cluster_contexts(
    sets: Sequence[ClusterSet[T]], selected: Sequence[str], contexts: dict[str, str], context: str | None
) -> list[tuple[ClusterSet[T], str | None]]:
    """Each cluster's set (only the `selected` ones, when any are) with its kubectl context,
    workers first and the manager last. A context comes from `--cluster-context NAME=CTX`,
    else (the manager) `--context`, else the spec; the manager may fall back to the current
    context, a worker may not (sending its queues to the manager would be wrong silently)."""
    known = [s.name for s in sets]
    unknown = sorted((set(selected) | set(contexts)) - set(known))
    if unknown:
        raise InputError(
            f"no cluster {', '.join(unknown)} in these inputs",
            hint=f"the clusters are {', '.join(known)}",
        )
    out = []
    for s in [*sets[1:], sets[0]]:
        if selected and s.name not in selected:
            continue
        ctx = contexts.get(s.name) or (context if s.manager else None) or s.context
        if ctx is None and not s.manager:
            raise InputError(
                f"no kubectl context for worker cluster {s.name}",
                hint=f"set spec.multiKueue.clusters[].context in the Quota, or give --cluster-context {s.name}=CONTEXT",
            )
        out.append((s, ctx))
    return out
