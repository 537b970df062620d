"""llmkube.kubectl against a real kube-apiserver (tests/support/kubeserver.py), with the real kubectl."""

from __future__ import annotations

import os
import shutil
import socket
import uuid

import pytest
import yaml

from llmkube.errors import InputError
from llmkube.kubectl import APIResource, Kubectl, format_selector, is_unreachable, parse_api_resources

#: This module's node pool label value: the nodes it creates are its own on a shared server.
POOL = f"kubectl-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def server(kube_server):
    kube_server.add_node(f"{POOL}-h100-1", {"pool": f"{POOL}-h100", "zone": "a"})
    kube_server.add_node(f"{POOL}-h100-2", {"pool": f"{POOL}-h100", "zone": "b"})
    kube_server.add_node(f"{POOL}-a100-1", {"pool": f"{POOL}-a100"})
    return kube_server


@pytest.fixture
def kc(server):
    return Kubectl(kubeconfig=server.kubeconfig, env=server.env)


@pytest.fixture
def ns(kube_namespace):
    return kube_namespace


def unique(name: str) -> str:
    """A cluster-scoped name of this test's own (the server is shared by the session)."""
    return f"{name}-{uuid.uuid4().hex[:6]}"


def cq(name: str, gpus: int = 8) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ClusterQueue",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "llmkube"}},
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


def cm(name: str, value: str, ns: str = "default") -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"k": value}}
    )


# ---------------------------------------------------------------------------- get_crds


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_get_crds_returns_all_crds(server, kc):
    crds = kc.get_crds()
    names = {c["metadata"]["name"] for c in crds}
    assert names == {c["metadata"]["name"] for c in server.objects("crd")}
    assert {"clusterqueues.kueue.x-k8s.io", "pytorchjobs.kubeflow.org"} <= names
    cq_crd = next(c for c in crds if c["metadata"]["name"] == "clusterqueues.kueue.x-k8s.io")
    assert cq_crd["kind"] == "CustomResourceDefinition"
    assert [v["name"] for v in cq_crd["spec"]["versions"]] == ["v1beta1", "v1beta2"]
    assert "openAPIV3Schema" in cq_crd["spec"]["versions"][1]["schema"]


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_get_crds_by_name_skips_missing(kc):
    crds = kc.get_crds(["pytorchjobs.kubeflow.org", "nope.example.com"])
    assert [c["metadata"]["name"] for c in crds] == ["pytorchjobs.kubeflow.org"]
    assert kc.get_crds(["nope.example.com"]) == []
    one = kc.get_crds(["localqueues.kueue.x-k8s.io"])
    assert len(one) == 1 and one[0]["spec"]["names"]["kind"] == "LocalQueue"


# ---------------------------------------------------------------------------- failures before/at the cluster


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_missing_binary_is_input_error(server):
    kc = Kubectl(kubeconfig=server.kubeconfig, binary="kubectl-does-not-exist", env=server.env)
    server.clear_requests()
    with pytest.raises(InputError) as e:
        kc.get_crds()
    assert e.value.message.startswith("kubectl not found on PATH")
    assert e.value.hint and "install kubectl" in e.value.hint
    assert server.requests == []


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_unreachable_cluster_is_one_line_input_error(server, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
                "current-context": "gone",
            }
        )
    )
    kc = Kubectl(kubeconfig=str(kubeconfig), env={**server.env, "KUBECONFIG": str(kubeconfig)})
    with pytest.raises(InputError) as e:
        kc.get_crds()
    assert e.value.message.startswith("cannot reach the Kubernetes API server")
    assert "refused" in e.value.message and f"127.0.0.1:{port}" in e.value.message
    assert "\n" not in e.value.message
    with pytest.raises(InputError, match="cannot reach"):
        kc.apply(cm("x", "1"))


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_unknown_context_fails_before_any_request(server):
    kc = Kubectl(context="prod", kubeconfig=server.kubeconfig, env=server.env)
    server.clear_requests()
    with pytest.raises(InputError) as e:
        kc.apply(cq("never"))
    assert "'prod' not found in the kubeconfig" in e.value.message
    assert e.value.hint == f"available contexts: {server.CONTEXT}"
    assert server.requests == []
    assert server.get("cq", "never") is None


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_known_context_is_used(server, ns, tmp_path):
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", contexts=["staging", "prod"])
    kc = Kubectl(context="prod", kubeconfig=kubeconfig, env=server.env)
    assert "prod" in kc.contexts()
    assert kc.apply(cm("via-context", "1", ns)).ok
    assert server.get("cm", "via-context", ns)["data"] == {"k": "1"}


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_diff_needs_a_diff_program(server, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("kubectl"), bindir / "kubectl")
    kc = Kubectl(kubeconfig=server.kubeconfig, env={**server.env, "PATH": str(bindir)})
    server.clear_requests()
    with pytest.raises(InputError, match="needs the 'diff' program"):
        kc.diff(cq("x"))
    assert server.requests == []


# ---------------------------------------------------------------------------- apply / diff / delete


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_apply_then_diff(server, kc, ns):
    name = unique("team-a")
    manifest = cq(name, 8) + "---\n" + cm("team-a", "1", ns)
    result = kc.apply(manifest)
    assert result.ok, result.stderr
    assert f"clusterqueue.kueue.x-k8s.io/{name} serverside-applied" in result.stdout
    stored = server.get("cq", name)
    assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["llmkube"]

    same = kc.diff(manifest)
    assert (same.returncode, same.stdout) == (0, "")
    changed = kc.diff(cq(name, 16))
    assert changed.returncode == 1
    assert "-        nominalQuota: 8" in changed.stdout
    assert "+        nominalQuota: 16" in changed.stdout
    assert server.get("cq", name) == stored


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_apply_dry_run_server(server, kc):
    name = unique("dry-run")
    server.clear_requests()
    result = kc.apply(cq(name), dry_run_server=True)
    assert result.ok, result.stderr
    assert "(server dry run)" in result.stdout
    assert server.get("cq", name) is None
    assert any("dryRun=All" in r for r in server.requests) and server.writes() == []


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_apply_conflict_is_returned_and_force_resolves_it(server, kc, ns):
    assert kc.apply(cm("contested", "theirs", ns), field_manager="helm").ok
    result = kc.apply(cm("contested", "ours", ns))
    assert result.returncode == 1
    assert 'conflict with "helm": .data.k' in result.message()
    assert server.get("cm", "contested", ns)["data"] == {"k": "theirs"}
    diff = kc.diff(cm("contested", "ours", ns))
    assert diff.returncode > 1 and "conflict" in diff.stderr
    assert kc.diff(cm("contested", "ours", ns), force_conflicts=True).returncode == 1
    assert kc.apply(cm("contested", "ours", ns), force_conflicts=True).ok
    stored = server.get("cm", "contested", ns)
    assert stored["data"] == {"k": "ours"}
    # forced: the field moved to llmkube; helm keeps only what it still owns (nothing of data)
    owners = {m["manager"]: m.get("fieldsV1", {}) for m in stored["metadata"]["managedFields"]}
    assert "f:k" in owners["llmkube"]["f:data"] and "f:data" not in owners.get("helm", {})


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_apply_error_from_server_is_returned(server, kc):
    name = unique("typo")
    bad = yaml.safe_load(cq(name))
    bad["spec"]["cohort_name"] = "x"
    result = kc.apply(yaml.safe_dump(bad))
    assert result.returncode == 1
    assert "field not declared in schema" in result.message()
    assert server.get("cq", name) is None


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_apply_with_applyset_prunes_objects_left_out(server, kc, ns):
    keep, drop = unique("keep"), unique("drop")
    first = kc.apply(cq(keep) + "---\n" + cq(drop), applyset="llmkube-pool", namespace=ns)
    assert first.ok, first.stderr
    assert server.get("secret", "llmkube-pool", ns) is not None
    second = kc.apply(cq(keep), applyset="llmkube-pool", namespace=ns)
    assert second.ok, second.stderr
    assert f"clusterqueue.kueue.x-k8s.io/{drop} pruned" in second.stdout
    assert server.get("cq", keep) and server.get("cq", drop) is None


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_delete_objects(server, kc, ns):
    gone = unique("gone-1")
    assert kc.apply(cq(gone) + "---\n" + cm("gone-2", "v", ns)).ok
    objects = [yaml.safe_load(cq(gone)), yaml.safe_load(cm("gone-2", "v", ns)), yaml.safe_load(cq(unique("never-existed")))]
    result = kc.delete(objects)
    assert result.ok, result.stderr
    assert server.get("cq", gone) is None and server.get("cm", "gone-2", ns) is None
    assert kc.delete([]).ok
    with pytest.raises(InputError):
        kc.delete([{"kind": "ConfigMap", "metadata": {"name": "x"}}])


# ---------------------------------------------------------------------------- nodes


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_list_nodes(server, kc):
    h100 = f"{POOL}-h100"
    assert sorted(n["metadata"]["name"] for n in kc.list_nodes({"pool": h100})) == [f"{h100}-1", f"{h100}-2"]
    assert [n["metadata"]["name"] for n in kc.list_nodes({"pool": h100, "zone": "b"})] == [f"{h100}-2"]
    everything = {n["metadata"]["name"] for n in kc.list_nodes()}
    assert everything == {n["metadata"]["name"] for n in server.objects("nodes")} and f"{POOL}-a100-1" in everything
    assert kc.list_nodes({"pool": "tpu"}) == []


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_label_nodes(server, kc):
    labels = {"nvidia.com/mig.config": "all-3g.40gb"}
    h100 = f"{POOL}-h100"
    dry = kc.label_nodes({"pool": h100}, labels, dry_run=True)
    assert dry.ok, dry.stderr
    assert "nvidia.com/mig.config" not in server.get("node", f"{h100}-1")["metadata"]["labels"]
    result = kc.label_nodes({"pool": h100}, labels)
    assert result.ok, result.stderr
    for name in (f"{h100}-1", f"{h100}-2"):
        assert server.get("node", name)["metadata"]["labels"]["nvidia.com/mig.config"] == "all-3g.40gb"
    assert "nvidia.com/mig.config" not in server.get("node", f"{POOL}-a100-1")["metadata"]["labels"]
    removed = kc.label_nodes({"pool": h100}, {"nvidia.com/mig.config": None})
    assert removed.ok, removed.stderr
    assert "nvidia.com/mig.config" not in server.get("node", f"{h100}-1")["metadata"]["labels"]


@pytest.mark.parametrize(
    ("selector", "labels"),
    [
        ({}, {"a": "b"}),  # would label every node
        ({"pool": "h100,zone=a"}, {"a": "b"}),  # a value that smuggles in a requirement
        ({"pool": "h100"}, {"a": "b c"}),
        ({"pool": "h100"}, {"bad key": "x"}),
        ({"pool": "h100"}, {}),
    ],
)
@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_label_nodes_rejects_bad_input_before_kubectl(server, kc, selector, labels):
    server.clear_requests()
    with pytest.raises(InputError):
        kc.label_nodes(selector, labels)
    assert server.requests == []


def test_format_selector_is_sorted_and_validated():
    assert format_selector({"zone": "a", "app.kubernetes.io/name": "x"}) == "app.kubernetes.io/name=x,zone=a"
    with pytest.raises(InputError):
        format_selector({"pool": "a)"})


def test_unreachable_classification():
    assert is_unreachable("The connection to the server 127.0.0.1:9 was refused - did you specify the right host or port?")
    assert is_unreachable("Unable to connect to the server: dial tcp: lookup x.invalid: no such host")
    webhook = (
        'Error from server (InternalError): Internal error occurred: failed calling webhook "mcq.kb.io": '
        'Post "https://kueue-webhook.kueue-system.svc:443/mutate": dial tcp 10.0.0.5:443: connect: connection refused'
    )
    assert not is_unreachable(webhook)
    assert not is_unreachable('Error from server (NotFound): namespaces "x" not found')


# ---------------------------------------------------------------------------- discovery, reads


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_api_resources(server, kc):
    resources = {(r.group, r.kind): r for r in kc.api_resources()}
    cqr = resources[("kueue.x-k8s.io", "ClusterQueue")]
    assert (cqr.name, cqr.version, cqr.namespaced) == ("clusterqueues", "v1beta2", False)
    assert cqr.qualified_name == "clusterqueues.kueue.x-k8s.io"
    assert "list" in cqr.verbs
    cm_res = resources[("", "ConfigMap")]
    assert (cm_res.qualified_name, cm_res.version, cm_res.namespaced) == ("configmaps", "v1", True)
    assert resources[("", "Secret")].namespaced  # a row with no short names
    assert resources[("batch.volcano.sh", "Job")].namespaced  # every upstream CRD is installed
    assert ("ray.io", "RayCluster") not in resources  # ...and no other


def test_parse_api_resources_reads_columns_by_header_offsets():
    table = (
        "NAME          SHORTNAMES   APIVERSION        NAMESPACED   KIND         VERBS      CATEGORIES\n"
        "secrets                    v1                true         Secret       get,list   \n"
        "pytorchjobs   ptj          kubeflow.org/v1   true         PyTorchJob   get        all\n"
        "nodes         no           v1                false        Node         list\n"
    )
    assert parse_api_resources(table) == [
        APIResource("secrets", "", "v1", "Secret", True, ("get", "list")),
        APIResource("pytorchjobs", "kubeflow.org", "v1", "PyTorchJob", True, ("get",)),
        APIResource("nodes", "", "v1", "Node", False, ("list",)),
    ]
    assert parse_api_resources("") == [] and parse_api_resources("error: boom\n") == []


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_api_versions(kc):
    versions = kc.api_versions()
    assert {"v1", "kueue.x-k8s.io/v1beta1", "kueue.x-k8s.io/v1beta2", "kubeflow.org/v1"} <= set(versions)


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_default_namespace(server, tmp_path):
    assert Kubectl(kubeconfig=server.kubeconfig, env=server.env).default_namespace() == "default"
    config = yaml.safe_load(open(server.kubeconfig))
    config["contexts"][0]["context"]["namespace"] = "team-a"
    other = tmp_path / "kubeconfig"
    other.write_text(yaml.safe_dump(config))
    assert Kubectl(kubeconfig=str(other), env=server.env).default_namespace() == "team-a"


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_get_objects_by_type_selector_and_reference(server, kc, ns):
    team = unique("a")
    assert kc.apply(cm("sel-a", "1", ns) + "---\n" + cq(unique("sel-b"))).ok
    server.put(yaml.safe_load(cm("sel-c", "1", ns)))  # no label
    labelled = yaml.safe_load(cm("sel-a", "1", ns))
    labelled["metadata"]["labels"] = {"team": team}
    assert kc.apply(yaml.safe_dump(labelled)).ok
    found = kc.get_objects(["configmaps", "clusterqueues.kueue.x-k8s.io"], selector={"team": team}, all_namespaces=True)
    assert [(o["kind"], o["metadata"]["name"]) for o in found] == [("ConfigMap", "sel-a")]
    assert "managedFields" not in found[0]["metadata"]
    with_fields = kc.get_objects(["configmaps"], selector={"team": team}, all_namespaces=True, managed_fields=True)
    assert [m["manager"] for m in with_fields[0]["metadata"]["managedFields"]] == ["llmkube"]
    refs = kc.get_objects(["namespaces/default", "namespaces/nope", "customresourcedefinitions.apiextensions.k8s.io/clusterqueues.kueue.x-k8s.io"])
    assert sorted((o["kind"], o["metadata"]["name"]) for o in refs) == [
        ("CustomResourceDefinition", "clusterqueues.kueue.x-k8s.io"),
        ("Namespace", "default"),
    ]
    assert [o["metadata"]["name"] for o in kc.get_objects(["namespaces/default"])] == ["default"]
    assert kc.get_objects(["namespaces/nope"]) == [] and kc.get_objects([]) == []
    with pytest.raises(ValueError):
        kc.get_objects(["namespaces", "namespaces/default"])


@pytest.mark.slow  # end-to-end: real kubectl against a real kube-apiserver
def test_delete_dry_run_keeps_objects(server, kc, ns):
    assert kc.apply(cm("dry-delete", "v", ns)).ok
    result = kc.delete([yaml.safe_load(cm("dry-delete", "v", ns))], dry_run=True)
    assert result.ok, result.stderr
    assert "(server dry run)" in result.stdout
    assert server.get("cm", "dry-delete", ns) is not None
