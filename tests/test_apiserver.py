"""The test API server, exercised with the real kubectl (tests/support/apiserver.py)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml
from tests.support.apiserver import DEFAULT_CRD_DIR, ApiServer, load_crd_files, parse_label_selector

# The test API server talks to the real kubectl: end-to-end, so slow.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("upstream_crds")]

@pytest.fixture(scope="module")
def server():
    with ApiServer() as s:  # all CRDs under ../shared/crds
        s.add_node("gpu-a-1", {"pool": "a", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"})
        s.add_node("gpu-a-2", {"pool": "a"})
        s.add_node("gpu-b-1", {"pool": "b"})
        yield s


def cm(name: str, data: dict, ns: str = "default", labels: dict | None = None) -> str:
    md = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    # YAML, not JSON: kubectl reads a stream that starts with "{" as one JSON document
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data})


def cq(name: str, gpus: int = 8, version: str = "v1beta2") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": f"kueue.x-k8s.io/{version}",
            "kind": "ClusterQueue",
            "metadata": {"name": name},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": ["nvidia.com/gpu"],
                        "flavors": [{"name": "h100", "resources": [{"name": "nvidia.com/gpu", "nominalQuota": gpus}]}],
                    }
                ],
            },
        }
    )


def apply(server: ApiServer, manifest: str, *extra: str, manager: str = "llmkube") -> subprocess.CompletedProcess:
    return server.kubectl("apply", "--server-side", f"--field-manager={manager}", *extra, "-f", "-", input=manifest)


def managers(obj: dict) -> dict[tuple[str, str], dict]:
    return {(m["manager"], m["operation"]): m["fieldsV1"] for m in obj["metadata"].get("managedFields", [])}


# ---------------------------------------------------------------------------- discovery, CRDs


def test_kubectl_version_reports_1_32(server):
    r = server.kubectl("version", "-o", "json")
    assert r.returncode == 0, r.stderr
    sv = json.loads(r.stdout)["serverVersion"]
    assert (sv["major"], sv["minor"]) == ("1", "32")
    assert sv["gitVersion"].startswith("v1.32.")


def test_get_crd_lists_every_loaded_crd(server):
    expected = {c["metadata"]["name"] for c in load_crd_files([DEFAULT_CRD_DIR])}
    assert "clusterqueues.kueue.x-k8s.io" in expected and len(expected) >= 20
    r = server.kubectl("get", "crd", "-o", "name")
    assert r.returncode == 0, r.stderr
    got = {line.split("/", 1)[1] for line in r.stdout.split()}
    assert got == expected


def test_get_crd_by_name_returns_it_as_stored(server):
    r = server.kubectl("get", "crd", "clusterqueues.kueue.x-k8s.io", "-o", "json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    stored = server.get("crd", "clusterqueues.kueue.x-k8s.io")
    assert stored["metadata"].pop("managedFields")  # kubectl hides them unless --show-managed-fields
    assert got == stored
    source = next(c for c in load_crd_files([DEFAULT_CRD_DIR / "kueue"]) if c["spec"]["names"]["kind"] == "ClusterQueue")
    assert got["spec"] == source["spec"]
    assert {c["type"]: c["status"] for c in got["status"]["conditions"]}["Established"] == "True"
    assert got["metadata"]["uid"] and got["metadata"]["resourceVersion"]


def test_discovery_serves_crd_group_versions(server):
    r = server.kubectl("api-resources", "--api-group=kueue.x-k8s.io", "-o", "name")
    assert r.returncode == 0, r.stderr
    assert "clusterqueues.kueue.x-k8s.io" in r.stdout.split()
    r = server.kubectl("api-versions")
    assert {"kueue.x-k8s.io/v1beta1", "kueue.x-k8s.io/v1beta2", "apps/v1", "policy/v1", "v1"} <= set(r.stdout.split())


def test_legacy_discovery_without_aggregated_documents():
    with ApiServer([DEFAULT_CRD_DIR / "kueue"], aggregated_discovery=False) as s:
        r = s.kubectl("get", "clusterqueues", "-o", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["items"] == []
        paths = [q.path for q in s.requests]
        assert "/apis/kueue.x-k8s.io/v1beta2" in paths  # per-group-version APIResourceList


def test_openapi_v3_advertises_field_validation_on_patch(server):
    with urllib.request.urlopen(server.url + "/openapi/v3") as resp:
        root = json.load(resp)
    url = root["paths"]["apis/kueue.x-k8s.io/v1beta2"]["serverRelativeURL"]
    with urllib.request.urlopen(server.url + url) as resp:
        doc = json.load(resp)
    patch = doc["paths"]["/apis/kueue.x-k8s.io/v1beta2/clusterqueues/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "kueue.x-k8s.io", "version": "v1beta2", "kind": "ClusterQueue"}
    assert {"name": "fieldValidation", "in": "query"}.items() <= next(
        p for p in patch["parameters"] if p["name"] == "fieldValidation"
    ).items()
    # so kubectl leaves validation to the server instead of failing client-side
    server.clear_requests()
    assert apply(server, cq("openapi-check")).returncode == 0
    assert any(q.param("fieldValidation") == "Strict" for q in server.writes())


def test_errors_are_status_objects(server):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.url + "/apis/kueue.x-k8s.io/v1beta2/clusterqueues/nope")
    body = json.load(e.value)
    assert e.value.code == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'clusterqueues.kueue.x-k8s.io "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "kueue.x-k8s.io", "kind": "clusterqueues"},
        "code": 404,
    }
    r = server.kubectl("get", "cq", "nope")
    assert r.returncode == 1
    assert 'Error from server (NotFound): clusterqueues.kueue.x-k8s.io "nope" not found' in r.stderr


# ---------------------------------------------------------------------------- server-side apply


def test_apply_creates_configmap_and_clusterqueue(server):
    server.clear_requests()
    r = apply(server, cm("create-me", {"a": "1"}) + "---\n" + cq("create-me"))
    assert r.returncode == 0, r.stderr
    assert "configmap/create-me serverside-applied" in r.stdout
    assert "clusterqueue.kueue.x-k8s.io/create-me serverside-applied" in r.stdout
    patches = [q for q in server.writes() if q.method == "PATCH"]
    assert {q.content_type for q in patches} == {"application/apply-patch+yaml"}
    assert {q.param("fieldManager") for q in patches} == {"llmkube"}

    stored = server.get("ConfigMap", "create-me", "default")
    assert stored["data"] == {"a": "1"}
    assert stored["metadata"]["uid"] and stored["metadata"]["creationTimestamp"]
    assert int(stored["metadata"]["resourceVersion"]) > 0
    assert managers(stored) == {("llmkube", "Apply"): {"f:data": {"f:a": {}}}}
    table = server.kubectl("get", "clusterqueue", "create-me")  # server-side Table with the CRD's printer columns
    assert table.stdout.split("\n")[0].split() == ["NAME", "COHORT", "PENDING", "WORKLOADS", "AGE"]
    assert table.stdout.split("\n")[1].split()[0] == "create-me"
    queue = server.get("clusterqueues.kueue.x-k8s.io", "create-me")
    assert queue["metadata"]["generation"] == 1
    assert queue["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]["nominalQuota"] == 8


def test_reapply_keeps_resource_version_and_generation(server):
    manifest = cm("noop", {"a": "1"}) + "---\n" + cq("noop")
    assert apply(server, manifest).returncode == 0
    before = (server.get("cm", "noop"), server.get("cq", "noop"))
    rv = server.resource_version
    r = apply(server, manifest)
    assert r.returncode == 0, r.stderr
    after = (server.get("cm", "noop"), server.get("cq", "noop"))
    assert after == before  # same resourceVersion, generation and managedFields time
    assert server.resource_version == rv


def test_changed_apply_bumps_resource_version_and_generation(server):
    assert apply(server, cq("grow", 8)).returncode == 0
    before = server.get("cq", "grow")
    assert apply(server, cq("grow", 16)).returncode == 0
    after = server.get("cq", "grow")
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert after["metadata"]["generation"] == 2
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    # a label change is metadata only: new resourceVersion, same generation
    labelled = yaml.safe_load(cq("grow", 16))
    labelled["metadata"]["labels"] = {"team": "a"}
    assert apply(server, json.dumps(labelled)).returncode == 0
    assert server.get("cq", "grow")["metadata"]["generation"] == 2


def test_apply_in_other_version_serves_same_object(server):
    assert apply(server, cq("versions", 4, "v1beta2")).returncode == 0
    r = server.kubectl("get", "clusterqueues.v1beta1.kueue.x-k8s.io", "versions", "-o", "json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["apiVersion"] == "kueue.x-k8s.io/v1beta1"
    assert got["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]["nominalQuota"] == 4


def test_diff_exit_codes(server):
    manifest = cm("diffme", {"a": "1"}) + "---\n" + cq("diffme", 8)
    assert apply(server, manifest).returncode == 0
    stored = server.objects()
    same = server.kubectl("diff", "--server-side", "--field-manager=llmkube", "-f", "-", input=manifest)
    assert same.returncode == 0, same.stderr
    assert same.stdout == ""
    changed = server.kubectl(
        "diff", "--server-side", "--field-manager=llmkube", "-f", "-", input=cm("diffme", {"a": "2"}) + "---\n" + cq("diffme", 16)
    )
    assert changed.returncode == 1, changed.stderr
    assert '-  a: "1"' in changed.stdout and '+  a: "2"' in changed.stdout
    assert "-        nominalQuota: 8" in changed.stdout and "+        nominalQuota: 16" in changed.stdout
    assert "-  generation: 1" in changed.stdout and "+  generation: 2" in changed.stdout
    assert server.objects() == stored  # diff is a dry run
    new = server.kubectl("diff", "--server-side", "--field-manager=llmkube", "-f", "-", input=cq("diff-new"))
    assert new.returncode == 1
    assert "+kind: ClusterQueue" in new.stdout
    assert server.get("cq", "diff-new") is None


def test_dry_run_server_never_persists(server):
    rv = server.resource_version
    server.clear_requests()
    r = apply(server, cm("dry", {"a": "1"}) + "---\n" + cq("dry"), "--dry-run=server")
    assert r.returncode == 0, r.stderr
    assert "(server dry run)" in r.stdout
    assert server.get("cm", "dry") is None and server.get("cq", "dry") is None
    assert {q.param("dryRun") for q in server.writes()} == {"All"}
    assert apply(server, cq("dry", 8)).returncode == 0
    before = server.get("cq", "dry")
    assert apply(server, cq("dry", 64), "--dry-run=server").returncode == 0
    assert server.get("cq", "dry") == before
    assert server.resource_version == rv + 1


def test_conflict_with_other_manager_and_force(server):
    assert apply(server, cm("shared", {"a": "1", "b": "2"}), manager="other").returncode == 0
    before = server.get("cm", "shared")
    r = apply(server, cm("shared", {"a": "1", "b": "3"}))
    assert r.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "other": .data.b' in r.stderr
    assert "--force-conflicts" in r.stderr
    assert server.get("cm", "shared") == before

    # same value: no conflict, the field becomes co-owned
    assert apply(server, cm("shared", {"a": "1"})).returncode == 0
    assert managers(server.get("cm", "shared"))[("llmkube", "Apply")] == {"f:data": {"f:a": {}}}

    r = apply(server, cm("shared", {"a": "1", "b": "3"}), "--force-conflicts")
    assert r.returncode == 0, r.stderr
    after = server.get("cm", "shared")
    assert after["data"] == {"a": "1", "b": "3"}
    owners = managers(after)
    assert owners[("llmkube", "Apply")] == {"f:data": {"f:a": {}, "f:b": {}}}
    assert owners[("other", "Apply")] == {"f:data": {"f:a": {}}}


def test_conflict_with_update_manager(server):
    assert apply(server, cq("scaled", 8)).returncode == 0
    patch = json.dumps({"spec": {"cohortName": "pool"}})
    r = server.kubectl("patch", "cq", "scaled", "--type=merge", "-p", patch)
    assert r.returncode == 0, r.stderr
    assert ("kubectl-patch", "Update") in managers(server.get("cq", "scaled"))
    doc = yaml.safe_load(cq("scaled", 8))
    doc["spec"]["cohortName"] = "other-pool"
    r = apply(server, json.dumps(doc))
    assert r.returncode == 1
    assert 'conflict with "kubectl-patch" using kueue.x-k8s.io/v1beta2: .spec.cohortName' in r.stderr


def test_fields_dropped_from_the_apply_are_removed(server):
    assert apply(server, cm("shrink", {"a": "1", "b": "2"}, labels={"x": "1", "w": "2"})).returncode == 0
    assert apply(server, cm("shrink", {"c": "2"}, labels={"x": "1", "w": "2"}), manager="other").returncode == 0
    assert apply(server, cm("shrink", {"a": "1"}, labels={"x": "1"})).returncode == 0
    after = server.get("cm", "shrink")
    assert after["data"] == {"a": "1", "c": "2"}  # b dropped; c belongs to "other"
    assert after["metadata"]["labels"] == {"x": "1", "w": "2"}  # w is still owned by "other"


def test_missing_namespace_is_not_found(server):
    r = apply(server, cm("orphan", {"a": "1"}, ns="no-such-ns"))
    assert r.returncode == 1
    assert 'Error from server (NotFound): namespaces "no-such-ns" not found' in r.stderr
    assert server.objects("cm", namespace="no-such-ns") == []
    ns = yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "created-ns"}})
    assert apply(server, ns + "\n---\n" + cm("adopted", {"a": "1"}, ns="created-ns")).returncode == 0
    assert server.get("cm", "adopted", "created-ns")["data"] == {"a": "1"}
    assert server.get("ns", "created-ns")["metadata"]["labels"] == {"kubernetes.io/metadata.name": "created-ns"}


def test_unknown_custom_resource_field_rejected_strictly(server):
    doc = yaml.safe_load(cq("typo"))
    doc["spec"]["nominalQuotaa"] = 3
    r = apply(server, json.dumps(doc))
    assert r.returncode == 1
    assert ".spec.nominalQuotaa: field not declared in schema" in r.stderr
    assert server.get("cq", "typo") is None


def test_crd_applied_through_the_api_becomes_servable(server):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    assert apply(server, json.dumps(crd)).returncode == 0
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 3}}
    r = apply(server, json.dumps(widget))
    assert r.returncode == 0, r.stderr
    assert server.get("widgets.example.com", "w", "default")["spec"] == {"size": 3}
    assert server.kubectl("delete", "crd", "widgets.example.com").returncode == 0
    assert server.objects("crd") and server.get("crd", "widgets.example.com") is None
    with pytest.raises(KeyError):
        server.resource_type("widgets.example.com")


# ---------------------------------------------------------------------------- delete, prune, labels, watch


def test_delete(server):
    assert apply(server, cm("doomed", {"a": "1"}) + "---\n" + cq("doomed")).returncode == 0
    r = server.kubectl("delete", "-f", "-", input=cm("doomed", {"a": "1"}) + "---\n" + cq("doomed"))
    assert r.returncode == 0, r.stderr
    assert 'configmap "doomed" deleted' in r.stdout
    assert server.get("cm", "doomed") is None and server.get("cq", "doomed") is None
    again = server.kubectl("delete", "cm", "doomed")
    assert again.returncode == 1
    assert 'configmaps "doomed" not found' in again.stderr


def test_label_nodes_by_selector(server):
    server.clear_requests()
    r = server.kubectl("label", "nodes", "-l", "pool=a", "x=y", "--overwrite")
    assert r.returncode == 0, r.stderr
    labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in server.objects("nodes")}
    assert labels["gpu-a-1"]["x"] == labels["gpu-a-2"]["x"] == "y"
    assert "x" not in labels["gpu-b-1"]
    assert {q.content_type for q in server.writes()} == {"application/merge-patch+json"}
    assert ("kubectl-label", "Update") in managers(server.get("node", "gpu-a-1"))
    # dry run and no-op
    rv = server.resource_version
    assert server.kubectl("label", "nodes", "-l", "pool=b", "x=z", "--dry-run=server").returncode == 0
    assert "x" not in server.get("node", "gpu-b-1")["metadata"]["labels"]
    assert server.kubectl("label", "nodes", "-l", "pool=a", "x=y", "--overwrite").returncode == 0
    assert server.resource_version == rv
    # set-based selectors
    r = server.kubectl("get", "nodes", "-l", "pool in (a,b),x!=y", "-o", "name")
    assert r.stdout.split() == ["node/gpu-b-1"]
    r = server.kubectl("label", "nodes", "-l", "pool=a", "x-")
    assert r.returncode == 0, r.stderr
    assert "x" not in server.get("node", "gpu-a-1")["metadata"]["labels"]


def test_strategic_merge_and_json_patch(server):
    r = server.kubectl("patch", "node", "gpu-b-1", "-p", json.dumps({"metadata": {"labels": {"smp": "1"}}}))
    assert r.returncode == 0, r.stderr
    assert server.requests[-1].content_type == "application/strategic-merge-patch+json"
    assert server.get("node", "gpu-b-1")["metadata"]["labels"]["smp"] == "1"
    ops = [{"op": "replace", "path": "/metadata/labels/smp", "value": "2"}]
    r = server.kubectl("patch", "node", "gpu-b-1", "--type=json", "-p", json.dumps(ops))
    assert r.returncode == 0, r.stderr
    assert server.get("node", "gpu-b-1")["metadata"]["labels"]["smp"] == "2"
    # custom resources do not take strategic merge patches, like on a real server
    assert apply(server, cq("smp")).returncode == 0
    r = server.kubectl("patch", "cq", "smp", "-p", json.dumps({"spec": {"cohortName": "x"}}))
    assert r.returncode == 1
    assert "UnsupportedMediaType" in r.stderr or "unknown format" in r.stderr


def test_legacy_prune_is_refused_by_kubectl_with_server_side(server):
    r = apply(server, cm("p", {"a": "1"}), "--prune", "-l", "app=x", "--prune-allowlist=core/v1/ConfigMap")
    assert r.returncode == 1
    assert "--prune is in alpha and doesn't currently work on objects created by server-side apply" in r.stderr


def test_applyset_prune(server):
    env = {**server.env, "KUBECTL_APPLYSET": "true"}

    def applyset(manifest: str) -> subprocess.CompletedProcess:
        args = ["apply", "--server-side", "--field-manager=llmkube", "--prune", "--applyset=llmkube-test", "-n", "default", "-f", "-"]
        return subprocess.run(["kubectl", *args], input=manifest, env=env, capture_output=True, text=True, timeout=60)

    r = applyset(cm("set-1", {"a": "1"}) + "---\n" + cm("set-2", {"a": "1"}) + "---\n" + cq("set-1") + "---\n" + cq("set-2"))
    assert r.returncode == 0, r.stderr
    parent = server.get("secret", "llmkube-test", "default")
    assert parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"] == "ClusterQueue.kueue.x-k8s.io,ConfigMap"
    r = applyset(cm("set-1", {"a": "1"}) + "---\n" + cq("set-1"))
    assert r.returncode == 0, r.stderr
    assert "configmap/set-2 pruned" in r.stdout and "clusterqueue.kueue.x-k8s.io/set-2 pruned" in r.stdout
    assert server.get("cm", "set-1") and server.get("cq", "set-1")
    assert server.get("cm", "set-2") is None and server.get("cq", "set-2") is None


def test_watch_sees_deletion(server):
    assert apply(server, cm("watched", {"a": "1"})).returncode == 0
    proc = subprocess.Popen(
        ["kubectl", "wait", "--for=delete", "configmap/watched", "--timeout=20s"],
        env=server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not any(q.param("watch") == "true" for q in list(server.requests)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.delete("cm", "watched")
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "condition met" in out


# ---------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("pool=a", {"pool": "a"}, True),
        ("pool==a", {"pool": "b"}, False),
        ("pool!=a", {}, True),
        ("pool in (a, b),gpu", {"pool": "b", "gpu": ""}, True),
        ("pool notin (a,b)", {"pool": "b"}, False),
        ("!gpu", {"gpu": "x"}, False),
        ("app.kubernetes.io/managed-by=llmkube", {"app.kubernetes.io/managed-by": "llmkube"}, True),
        ("", {"x": "y"}, True),
    ],
)
def test_label_selector(selector, labels, expected):
    assert parse_label_selector(selector)(labels) is expected
