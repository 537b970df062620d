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


def test_a_kind_of_one_api_group():
    """`Service.serving.knative.dev` finds the Knative Services only, in run order; `Service` finds
    both (`qualified_kinds` names an object both ways; a core object has no group)."""
    from llmkube.check.read.index import api_group, qualified_kinds

    def obj(api: object, kind: str, name: str) -> Target:
        return Target(obj={"apiVersion": api, "kind": kind, "metadata": {"name": name}})

    run = [obj("v1", "Service", "core"), obj("serving.knative.dev/v1", "Service", "ksvc"), obj("batch/v1", "Job", "j"),
           obj("batch.volcano.sh/v1alpha1", "Job", "vc"), obj("serving.knative.dev/v1", "Service", "ksvc2"), obj(None, "Service", "none")]
    index = RunIndex(run)
    assert index.of_kind("Service.serving.knative.dev") == [run[1], run[4]]
    assert index.of_kind("Service") == [run[0], run[1], run[4], run[5]]
    assert index.of_kind("Job.batch.volcano.sh", "Service.serving.knative.dev") == [run[1], run[3], run[4]]
    assert index.of_kind("Job.batch") == [run[2]] and index.of_kind("Service.knative.dev") == []
    assert [api_group(t.obj) for t in run] == ["", "serving.knative.dev", "batch", "batch.volcano.sh", "serving.knative.dev", ""]
    assert qualified_kinds(run[0].obj) == ("Service",)
    assert qualified_kinds(run[1].obj) == ("Service", "Service.serving.knative.dev")
