"""Quota `multiKueue`: the manager's MultiKueue objects and each worker's queues (Kueue v0.19.2),
per-cluster output of render, and the federation's clusters apart in the rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from llmkube import pipeline
from llmkube.errors import InputError
from llmkube.federation import ClusterSet, by_cluster, cluster_contexts, parse_cluster_contexts
from llmkube.names import CLUSTER_ANNOTATION
from llmkube.options import Options
from llmkube.plan.base import ClusterTarget
from tests.support.cli import llmkube, load_all
from tests.support.paths import EXAMPLES

EXAMPLE = EXAMPLES / "10-two-cluster-multikueue.yaml"

QUOTA = """\
apiVersion: llmkube.dev/v1alpha1
kind: Quota
metadata: {{name: {name}, namespace: ml}}
spec:
  resources: [{{pool: gpus, gpu: 8}}]
  multiKueue:
{extra}    clusters:
    - {{name: east, kubeConfigSecret: east-kubeconfig, context: east-ctx}}
"""


def rendered(*paths: str | Path, **options) -> list[dict]:
    run = pipeline.run([str(p) for p in paths], Options(**options))
    return [r.obj for r in run.rendering.objects]


def cluster(obj: dict) -> str | None:
    return (obj["metadata"].get("annotations") or {}).get(CLUSTER_ANNOTATION)


def one(objs: list[dict], kind: str, where: str | None = None) -> dict:
    (found,) = [o for o in objs if o["kind"] == kind and cluster(o) == where]
    return found


def write(tmp_path: Path, text: str, name: str = "q.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_manager_chain_is_wired_as_kueue_follows_it():
    objs = rendered(EXAMPLE)
    cq = one(objs, "ClusterQueue")
    (check,) = cq["spec"]["admissionChecksStrategy"]["admissionChecks"]
    ac = next(o for o in objs if o["kind"] == "AdmissionCheck" and o["metadata"]["name"] == check["name"])
    assert ac["spec"]["controllerName"] == "kueue.x-k8s.io/multikueue"
    params = ac["spec"]["parameters"]
    assert (params["apiGroup"], params["kind"]) == ("kueue.x-k8s.io", "MultiKueueConfig")
    config = next(o for o in objs if o["kind"] == "MultiKueueConfig" and o["metadata"]["name"] == params["name"])
    assert config["spec"]["clusters"] == ["gpu-east", "gpu-west"]  # the spec's order: the dispatcher's preference
    mkc = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "MultiKueueCluster"}
    assert mkc == {
        w: {"clusterSource": {"kubeConfig": {"locationType": "Secret", "location": f"{w}-kubeconfig"}}}
        for w in ("gpu-east", "gpu-west")
    }
    assert not [o for o in objs if o["kind"] == "Secret"]  # kubeconfigs are named, never rendered
    # the manager's objects carry no cluster annotation: they are the run's own
    assert all(cluster(o) is None for o in objs if o["kind"] in ("AdmissionCheck", "MultiKueueConfig", "MultiKueueCluster"))


def test_each_worker_mirrors_the_queues_with_its_own_quota():
    objs = rendered(EXAMPLE)
    manager_lq = one(objs, "LocalQueue")
    for worker, gpus in (("gpu-east", 24), ("gpu-west", 8)):
        cq = one(objs, "ClusterQueue", worker)
        assert cq["metadata"]["name"] == "llm-batch" and "admissionChecksStrategy" not in cq["spec"]
        (flavor,) = cq["spec"]["resourceGroups"][0]["flavors"]
        assert {r["name"]: r["nominalQuota"] for r in flavor["resources"]}["nvidia.com/gpu"] == gpus
        lq = one(objs, "LocalQueue", worker)
        assert (lq["metadata"]["name"], lq["metadata"]["namespace"], lq["spec"]) == (
            manager_lq["metadata"]["name"], manager_lq["metadata"]["namespace"], manager_lq["spec"])
        rf = one(objs, "ResourceFlavor", worker)
        fleet_rf = one(objs, "ResourceFlavor")  # the Fleet's, on the manager
        assert rf["spec"] == fleet_rf["spec"]  # node labels and tolerations of the pool
        assert one(objs, "WorkloadPriorityClass", worker)["value"] == 500


def test_a_worker_without_its_own_resources_gets_the_managers_quota(tmp_path):
    objs = rendered(write(tmp_path, QUOTA.format(name="q", extra="")))
    manager, east = one(objs, "ClusterQueue"), one(objs, "ClusterQueue", "east")
    assert manager["spec"]["resourceGroups"] == east["spec"]["resourceGroups"]
    assert one(objs, "ResourceFlavor", "east")["spec"] == {"nodeLabels": {}}  # no Fleet: any node


def test_v1beta1_uses_spec_kubeconfig(upstream_crds):
    objs = rendered(EXAMPLE, kueue_api="v1beta1")
    east = next(o for o in objs if o["kind"] == "MultiKueueCluster" and o["metadata"]["name"] == "gpu-east")
    assert east["apiVersion"] == "kueue.x-k8s.io/v1beta1"
    assert east["spec"] == {"kubeConfig": {"locationType": "Secret", "location": "gpu-east-kubeconfig"}}
    out = llmkube("render", str(EXAMPLE), "--kueue-api", "v1beta1", "--crds", str(upstream_crds))
    assert out.returncode == 0, out.stderr  # the v1beta1 schemas and CEL accept every object


def test_cluster_profile_renders_clusterprofileref_and_needs_v1beta2(tmp_path, upstream_crds):
    text = QUOTA.format(name="q", extra="").replace("kubeConfigSecret: east-kubeconfig", "clusterProfile: east")
    path = write(tmp_path, text)
    (mkc,) = [o for o in rendered(path) if o["kind"] == "MultiKueueCluster"]
    assert mkc["spec"] == {"clusterSource": {"clusterProfileRef": {"name": "east"}}}
    with pytest.raises(InputError) as err:
        rendered(path, kueue_api="v1beta1")
    assert err.value.field == "spec.multiKueue.clusters[0].clusterProfile"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("kubeConfigSecret: east-kubeconfig", "kubeConfigSecret: east-kubeconfig, clusterProfile: east"), "exactly one of"),
        (("{name: east,", "{name: manager,"), "manager cluster as one of its own workers"),
        (("clusters:\n", "clusters:\n    - {name: east, kubeConfigSecret: x}\n"), "repeated: east"),
    ],
)
def test_bad_federations_are_spec_errors(tmp_path, change, message):
    path = write(tmp_path, QUOTA.format(name="q", extra="").replace(*change))
    out = llmkube("render", path)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_two_quotas_share_workers_and_conflicting_contexts_are_refused(tmp_path):
    a = write(tmp_path, QUOTA.format(name="a", extra=""), "a.yaml")
    b = write(tmp_path, QUOTA.format(name="b", extra=""), "b.yaml")
    objs = rendered(a, b)
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "MultiKueueCluster"] == ["east"]  # one, shared
    assert sorted(o["metadata"]["name"] for o in objs if o["kind"] == "MultiKueueConfig") == ["a", "b"]
    c = write(tmp_path, QUOTA.format(name="c", extra="").replace("east-ctx", "elsewhere"), "c.yaml")
    with pytest.raises(InputError, match="cluster 'east' is given differently"):
        rendered(a, c)


def test_render_stdout_heads_each_cluster_and_stays_one_yaml_stream():
    out = llmkube("render", str(EXAMPLE))
    assert out.returncode == 0, out.stderr
    headers = [line for line in out.stdout.splitlines() if line.startswith("# ")]
    assert headers == [
        "# ==== cluster: hub (kubectl context hub) ====",
        "# ==== cluster: gpu-east (kubectl context gpu-east) ====",
        "# ==== cluster: gpu-west (kubectl context gpu-west) ====",
    ]
    docs = load_all(out.stdout)
    assert len(docs) == len(rendered(EXAMPLE))
    # each header's documents are that cluster's
    for part, name in zip(out.stdout.split("# ==== cluster: ")[1:], ("hub", "gpu-east", "gpu-west")):
        expected = None if name == "hub" else name
        assert {cluster(d) for d in load_all(part.split("\n", 1)[1])} == {expected}
    as_json = json.loads(llmkube("render", str(EXAMPLE), "--format", "json").stdout)
    assert len(as_json["items"]) == len(docs)


def test_render_dir_writes_a_folder_per_cluster_that_validates_alone_and_together(tmp_path, upstream_crds):
    out = llmkube("render", str(EXAMPLE), "-d", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    folders = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert folders == ["gpu-east", "gpu-west", "hub"]
    east = sorted(p.name for p in (tmp_path / "out" / "gpu-east").iterdir())
    assert east == ["clusterqueue_llm-batch.yaml", "localqueue_llm-team-beta_training-queue.yaml",
                    "resourceflavor_h100-sxm.yaml", "workloadpriorityclass_batch-normal.yaml"]
    for target in ("out", "out/hub", "out/gpu-east"):
        check = llmkube("validate", str(tmp_path / target), "--crds", str(upstream_crds), "-o", "json")
        report = json.loads(check.stdout)
        assert check.returncode == 0 and report["findings"] == [], (target, report["findings"])


def test_the_rules_follow_a_rendered_federation(tmp_path, upstream_crds):
    """A Volcano Job queued to a federated Quota's LocalQueue: LK212 on the job, through the
    rendered manager queue; a worker's queues in the same run do not confuse the chain."""
    volcano = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "pretrain", "namespace": "ml", "labels": {"kueue.x-k8s.io/queue-name": "q"}},
        "spec": {"minAvailable": 1, "tasks": [{"name": "w", "replicas": 1, "template": {"spec": {
            "containers": [{"name": "t", "image": "nvcr.io/nvidia/pytorch:24.07-py3"}]}}}]},
    }
    path = write(tmp_path, QUOTA.format(name="q", extra="") + "---\n" + yaml.safe_dump(volcano))
    out = llmkube("validate", path, "--crds", str(upstream_crds), "-o", "json")
    found = [(f["code"], f["object"]) for f in json.loads(out.stdout)["findings"]]
    assert found == [("LK212", "Job/ml/pretrain")], out.stdout
    pytorch = {**volcano, "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "spec": {"pytorchReplicaSpecs": {
        "Worker": {"replicas": 1, "template": {"spec": {"containers": [{"name": "pytorch", "image": "nvcr.io/nvidia/pytorch:24.07-py3"}]}}}}}}
    path = write(tmp_path, QUOTA.format(name="q", extra="") + "---\n" + yaml.safe_dump(pytorch))
    out = llmkube("validate", path, "--crds", str(upstream_crds), "-o", "json")
    assert json.loads(out.stdout)["findings"] == [], out.stdout


# ---------------------------------------------------------------------------- pure parts


def _sets() -> list[ClusterSet]:
    return [ClusterSet("hub", "hub-ctx", [], True), ClusterSet("east", "east-ctx", []), ClusterSet("west", None, [])]


def test_contexts_workers_first_manager_last_and_overrides():
    everything = cluster_contexts(_sets(), [], {"west": "w"}, None)
    assert [(s.name, c) for s, c in everything] == [("east", "east-ctx"), ("west", "w"), ("hub", "hub-ctx")]
    assert [(s.name, c) for s, c in cluster_contexts(_sets(), ["west"], {"west": "w"}, None)] == [("west", "w")]
    got = cluster_contexts(_sets(), ["east", "hub"], {}, "explicit")  # --context: the manager's
    assert [(s.name, c) for s, c in got] == [("east", "east-ctx"), ("hub", "explicit")]


def test_a_worker_without_a_context_is_refused_and_unknown_names_listed():
    with pytest.raises(InputError, match="no kubectl context for worker cluster west"):
        cluster_contexts(_sets(), [], {}, None)
    with pytest.raises(InputError, match="no cluster north in these inputs"):
        cluster_contexts(_sets(), ["north"], {}, None)
    with pytest.raises(InputError, match="no cluster north"):
        cluster_contexts(_sets(), [], {"north": "x"}, None)
    assert parse_cluster_contexts(["a=x", " b = ctx "]) == {"a": "x", "b": "ctx"}
    for bad in ("b=", "b", "=x"):
        with pytest.raises(InputError):
            parse_cluster_contexts([bad])


def test_plain_runs_stay_one_set_and_annotated_manifests_form_clusters():
    class R:
        def __init__(self, obj):
            self.obj = obj

    plain = [R({"kind": "ConfigMap", "metadata": {"name": "x"}})]
    assert [(s.name, len(s.objects)) for s in by_cluster(plain, [])] == [("", 1)]
    marked = plain + [R({"kind": "ConfigMap", "metadata": {"name": "x", "annotations": {CLUSTER_ANNOTATION: "w"}}})]
    assert [(s.name, len(s.objects)) for s in by_cluster(marked, [])] == [("default", 1), ("w", 1)]
    assert [s.name for s in by_cluster(marked, [ClusterTarget("hub", None, manager=True)])] == ["hub", "w"]


def test_a_note_when_the_managers_quota_is_not_the_workers_total(tmp_path):
    """Kueue advises the manager's quota equal the workers' total: the example's 32 = 24 + 8
    says nothing; two workers that each default to the manager's 8 GPUs total 16."""
    assert pipeline.run([str(EXAMPLE)], Options()).rendering.notes == []
    two = QUOTA.format(name="q", extra="").replace(
        "    - {name: east,", "    - {name: west, kubeConfigSecret: west-kubeconfig, context: w}\n    - {name: east,")
    notes = pipeline.run([write(tmp_path, two)], Options()).rendering.notes
    assert notes == [
        "Quota q: the manager's nvidia.com/gpu quota in gpus is 8, the workers' total is 16 (lower: workers stay idle); "
        "Kueue advises the manager's quota equal the workers' total (give each worker its own `resources`, or the manager the sum)"
    ]
