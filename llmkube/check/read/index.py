"""`RunIndex`: the objects of one run by kind and by (kind, name), built once.

A rule or reader that needs "the ConfigMap named X" or "every ClusterQueue" asks the index
instead of scanning the run: a scan per object makes a run of N objects cost N², the index
keeps it linear. Answers keep the run's order, so findings do not depend on how it is kept.

    index = index_of(targets)            # the run's index (ReadContext.targets carries one)
    index.of_kind("ClusterQueue")        # every object of these kinds, in run order
    index.named("ConfigMap", "cfg")      # objects of a kind with this metadata.name, in run order
    index.named(("ServingRuntime", "ClusterServingRuntime"), "vllm")   # of either kind
    index.named("LocalQueue", "q", namespace="team")   # ... in this namespace only
    index.of_kind("Service.serving.knative.dev")   # a kind of one API group only (`qualified_kinds`)

Objects whose kind or name is not a string (schema-invalid) are in `targets` only: no lookup by
kind or name finds them, as no comparison with a string would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from llmkube.check.read.shape import meta
from llmkube.check.run import Target

#: `namespace=` left out: any namespace (and none).
ANY: Any = object()


def api_group(obj: Any) -> str:
    """The API group of an object's apiVersion: `serving.knative.dev` of `serving.knative.dev/v1`,
    "" for the core group (`v1`)."""
    group, slash, _ = str(obj.get("apiVersion", "")).partition("/")
    return group if slash else ""


def qualified_kinds(obj: Any) -> tuple[str, ...]:
    """The names an object's kind goes by in a kind list: its kind, and for a kind of a named API
    group also `Kind.group` (kubectl's `kind.group`, as in `services.serving.knative.dev`), which
    tells a Knative `Service` from a core one. Kinds hold no dot, so the first dot starts the group."""
    kind = str(obj.get("kind"))
    group = api_group(obj)
    return (kind, f"{kind}.{group}") if group else (kind,)


class RunIndex:
    """The objects of one run by kind and by (kind, name)."""

    def __init__(self, targets: Iterable[Target]) -> None:
        self.targets: list[Target] = list(targets)
        self._by_kind: dict[str, list[Target]] = {}
        self._by_name: dict[tuple[str, str], list[Target]] = {}
        self._position = {id(t): i for i, t in enumerate(self.targets)}
        for t in self.targets:
            kind = t.obj.get("kind")
            if not isinstance(kind, str):
                continue
            self._by_kind.setdefault(kind, []).append(t)
            name = meta(t.obj).get("name")
            if isinstance(name, str):
                self._by_name.setdefault((kind, name), []).append(t)

    def of_kind(self, *kinds: str) -> list[Target]:
        """Every object of these kinds, in run order. A kind may name its API group
        (`Service.serving.knative.dev`: only the Knative Services, `qualified_kinds`)."""
        if len(kinds) == 1:
            return self._of_one(kinds[0])
        found = [t for kind in dict.fromkeys(kinds) for t in self._of_one(kind)]
        return sorted(found, key=lambda t: self._position[id(t)])

    def _of_one(self, kind: str) -> list[Target]:
        if "." not in kind:
            return list(self._by_kind.get(kind, ()))
        kind, _, group = kind.partition(".")
        return [t for t in self._by_kind.get(kind, ()) if api_group(t.obj) == group]

    def named(self, kinds: str | tuple[str, ...], name: Any, namespace: Any = ANY) -> list[Target]:
        """Objects of the kind (or kinds) named `name`, in run order; in `namespace` when given
        (None: objects without one)."""
        if not isinstance(name, str):
            return []
        if isinstance(kinds, str):
            found = self._by_name.get((kinds, name), [])
        else:
            found = sorted((t for k in dict.fromkeys(kinds) for t in self._by_name.get((k, name), ())), key=lambda t: self._position[id(t)])
        if namespace is ANY:
            return list(found)
        return [t for t in found if meta(t.obj).get("namespace") == namespace]


class IndexedTargets(list[Target]):
    """The targets of one run, carrying their index (built on first use). Do not change it after."""

    _index: RunIndex | None = None

    @property
    def run_index(self) -> RunIndex:
        if self._index is None or len(self._index.targets) != len(self):
            self._index = RunIndex(self)
        return self._index


def index_of(targets: Sequence[Target]) -> RunIndex:
    """The index of a run: the one `targets` carries, else one built now (linear)."""
    return targets.run_index if isinstance(targets, IndexedTargets) else RunIndex(targets)
