"""`RunIndex` answers what a scan of the run would, in run order."""

from __future__ import annotations

from llmkube.check.read.context import ReadContext
from llmkube.check.read.index import IndexedTargets, RunIndex, index_of
from llmkube.check.run import Target
from llmkube.profiles import ProfileStore


def target(kind: object, name: object, namespace: str | None = None) -> Target:
    meta: dict[str, object] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return Target(obj={"apiVersion": "v1", "kind": kind, "metadata": meta})


RUN = [
    target("ConfigMap", "a", "x"),
    target("LocalQueue", "q", "team"),
    target("ConfigMap", "a"),
    target("ServingRuntime", "vllm", "x"),
    target(["ConfigMap"], "a"),  # schema-invalid kind: no lookup finds it
    target("ClusterServingRuntime", "vllm"),
    target("ConfigMap", ["a"]),  # schema-invalid name
    target("LocalQueue", "q", "other"),
]


def scan(kinds: tuple[str, ...], name: object = None, namespace: object = "any") -> list[Target]:
    return [
        t
        for t in RUN
        if t.obj["kind"] in kinds
        and (name is None or t.obj["metadata"]["name"] == name)
        and (namespace == "any" or t.obj["metadata"].get("namespace") == namespace)
    ]


def test_lookups_match_a_scan_in_run_order():
    index = RunIndex(RUN)
    for kinds in (("ConfigMap",), ("LocalQueue",), ("ServingRuntime", "ClusterServingRuntime"), ("ClusterServingRuntime", "ServingRuntime"), ("Nope",)):
        assert index.of_kind(*kinds) == scan(kinds)
    assert index.named("ConfigMap", "a") == scan(("ConfigMap",), "a")
    assert index.named(("ClusterServingRuntime", "ServingRuntime"), "vllm") == scan(("ServingRuntime", "ClusterServingRuntime"), "vllm")
    assert index.named("LocalQueue", "q", namespace="other") == [RUN[7]]
    assert index.named("ConfigMap", "a", namespace=None) == [RUN[2]]
    assert index.named("ConfigMap", ["a"]) == []


def test_the_context_carries_one_index_and_other_sequences_get_their_own():
    ctx = ReadContext(targets=RUN, profiles=ProfileStore.load())
    assert isinstance(ctx.targets, IndexedTargets)
    assert ctx.index is ctx.index and ctx.index is index_of(ctx.targets)
    assert ctx.of_kind("ConfigMap") == scan(("ConfigMap",))
    assert index_of(RUN) is not index_of(RUN)
