"""`llmkube diff` and `llmkube apply` end to end: the CLI as a subprocess, the real
kubectl, and a real kube-apiserver with the upstream CRDs (tests/support/kubeserver.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from llmkube.options import DEFAULT_APPLY_SET
from tests.support import kubeserver
from tests.support.crds import UPSTREAM_CRDS
from tests.support.kubeserver import KubeServer

# End-to-end kubectl runs against a real kube-apiserver with the upstream CRDs.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("upstream_crds")]

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"
MIG_EXAMPLE = next(EXAMPLES.glob("07-*.yaml"))
FLEET_QUOTA = next(EXAMPLES.glob("01-*.yaml"))
VOLCANO_JOB = next(EXAMPLES.glob("02-*.yaml"))
SET_LABEL = "llmkube.dev/apply-set"
# One cluster's examples: the MultiKueue example is three clusters (tests/test_multikueue.py applies it).
ONE_CLUSTER = [str(p) for p in sorted(EXAMPLES.glob("*.yaml")) if "multikueue" not in p.name]
EXAMPLE_NAMESPACES = ("llm-team-alpha", "llm-training", "llm-serving", "gpu-operator")


def llmkube(server: KubeServer, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the CLI against `server` (its kubeconfig, HOME and kubectl cache)."""
    return subprocess.run(
        [sys.executable, "-m", "llmkube", *args, "--kubeconfig", server.kubeconfig],
        capture_output=True,
        text=True,
        env={**server.env, **(env or {})},
        cwd=REPO,
        timeout=120,
    )


def write_docs(path: Path, *docs: dict) -> str:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


def cm(name: str, ns: str | None, data: dict | None = None, labels: dict | None = None) -> dict:
    md: dict = {"name": name}
    if ns:
        md["namespace"] = ns
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data or {"k": "v"}}


def local_queue(name: str, ns: str) -> dict:
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "LocalQueue",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterQueue": "gpu-training-queue"},
    }


def managers(obj: dict) -> set[str]:
    return {m["manager"] for m in obj["metadata"].get("managedFields", [])}


@pytest.fixture(scope="module")
def cluster(kube_server):
    """The session's server (every upstream CRD); the examples' namespaces exist."""
    for ns in EXAMPLE_NAMESPACES:
        kube_server.add_namespace(ns)
    return kube_server


@pytest.fixture
def ns(kube_namespace):
    return kube_namespace


@pytest.fixture(scope="module")
def own_server(upstream_crds, tmp_path_factory):
    """Start a server of a test module's own with only the given CRDs (stopped at the module's end)."""
    kubeserver.skip_unless_built()
    started: list[KubeServer] = []

    def start(*crds: Path) -> KubeServer:
        started.append(kubeserver.start(tmp_path_factory.mktemp("own-server"), list(crds)))
        return started[-1]

    yield start
    for server in started:
        kubeserver.stop(server)


# ---------------------------------------------------------------------------- examples on an empty cluster


def test_apply_examples_to_empty_cluster_then_diff_is_clean(cluster, examples_turn):
    result = llmkube(cluster, "apply", *ONE_CLUSTER)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # order that works on an empty cluster: flavors and cluster queues before local queues,
    # ConfigMaps before the ClusterPolicy that names them, workloads last
    assert out.index("resourceflavor.kueue.x-k8s.io/h100-pool") < out.index("clusterqueue.kueue.x-k8s.io/gpu-training-queue")
    assert out.index("clusterqueue.kueue.x-k8s.io/gpu-training-queue") < out.index("localqueue.kueue.x-k8s.io/training-queue")
    assert out.index("configmap/llmkube-mig-parted-config") < out.index("clusterpolicy.nvidia.com/cluster-policy")
    assert out.index("localqueue.kueue.x-k8s.io/training-queue") < out.index("pytorchjob.kubeflow.org/llama-8b-finetune")

    lq = cluster.get("localqueue", "training-queue", "llm-team-alpha")
    assert lq["metadata"]["labels"][SET_LABEL] == "default"
    assert managers(lq) == {"llmkube"}
    assert cluster.get("job.batch.volcano.sh", "llama-70b-pretraining", "llm-training") is not None
    assert cluster.get("trainjob", "qwen-7b-sft", "llm-team-alpha") is not None
    assert cluster.get("cm", "llmkube-mig-parted-config", "gpu-operator") is not None

    cluster.clear_requests()
    again = llmkube(cluster, "diff", *ONE_CLUSTER)
    assert (again.returncode, again.stdout) == (0, ""), again.stderr
    assert cluster.writes() == [] and cluster.requests  # it asked the server, and changed nothing


def test_diff_shows_a_changed_spec(cluster, examples_turn, tmp_path):
    changed = tmp_path / "quota.yaml"
    changed.write_text(FLEET_QUOTA.read_text().replace("gpu: 128", "gpu: 96"))
    if cluster.get("cq", "gpu-training-queue") is None:  # run alone: apply the original first
        assert llmkube(cluster, "apply", str(FLEET_QUOTA)).returncode == 0
    before = cluster.get("cq", "gpu-training-queue")
    result = llmkube(cluster, "diff", str(changed))
    assert result.returncode == 1, result.stderr
    assert "-        nominalQuota: 128" in result.stdout
    assert "+        nominalQuota: 96" in result.stdout
    assert cluster.get("cq", "gpu-training-queue") == before


# ---------------------------------------------------------------------------- checks before kubectl


def test_check_error_stops_apply_before_anything_is_written(cluster, ns, tmp_path):
    bad_cq = {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ClusterQueue",
        "metadata": {"name": "bad-cq"},
        "spec": {"namespaceSelector": {}, "cohort_name": "x"},
    }
    path = write_docs(tmp_path / "bad.yaml", cm("fine", ns), bad_cq)
    cluster.clear_requests()
    result = llmkube(cluster, "apply", path)
    assert result.returncode == 1
    assert "nothing was applied" in result.stderr and "cohort_name" in result.stderr
    # the schema came from the cluster (no --crds, empty cache): reads only, no writes
    assert cluster.writes() == []
    assert cluster.get("cm", "fine", ns) is None and cluster.get("cq", "bad-cq") is None

    diff = llmkube(cluster, "diff", path)
    assert diff.returncode == 2, "a failed check is an error for diff (1 means changes)"


def test_core_schema_error_stops_before_kubectl_runs(cluster, ns, tmp_path):
    path = write_docs(tmp_path / "bad.yaml", {**cm("bad", ns), "data": ["not", "a", "map"]})
    cluster.clear_requests()
    for command, code in (("apply", 1), ("diff", 2)):
        result = llmkube(cluster, command, path)
        assert result.returncode == code, result.stderr
        assert "kubectl was not run" in result.stderr
    assert cluster.requests == []


def test_plain_manifests_get_the_namespace_option(cluster, ns, tmp_path):
    name = f"no-ns-{ns}"
    path = write_docs(tmp_path / "cm.yaml", cm(name, ns=None))
    assert llmkube(cluster, "apply", path, "--namespace", ns).returncode == 0
    assert cluster.get("cm", name, ns) is not None
    result = llmkube(cluster, "apply", path)  # else kubectl's default: the context's namespace
    assert result.returncode == 0, result.stderr
    assert cluster.get("cm", name, "default") is not None
    cluster.delete("cm", name, "default")


def test_conflict_is_refused_until_forced(cluster, ns, tmp_path):
    helm = cluster.kubectl("apply", "--server-side", "--field-manager=helm", "-f", "-",
                           input=yaml.safe_dump(cm("contested", ns, data={"k": "theirs"})))
    assert helm.returncode == 0, helm.stderr
    path = write_docs(tmp_path / "cm.yaml", cm("contested", ns, data={"k": "ours"}))
    result = llmkube(cluster, "apply", path)
    assert result.returncode == 1
    assert 'conflict with "helm"' in result.stderr and "--force-conflicts" in result.stderr
    assert llmkube(cluster, "apply", path, "--force-conflicts").returncode == 0
    assert cluster.get("cm", "contested", ns)["data"] == {"k": "ours"}


# ---------------------------------------------------------------------------- pruning


def state(cluster: KubeServer, ns: str) -> set[tuple[str, str, str]]:
    """What this test's namespace holds (ConfigMaps and LocalQueues) and the apply-set parents."""
    return {
        (o["kind"], o["metadata"]["namespace"], o["metadata"]["name"])
        for resource in ("configmaps", "localqueues", "secrets")
        for o in cluster.objects(resource, ns)
    }


def test_prune_removes_only_what_left_this_apply_set(cluster, ns, tmp_path):
    set_a = {"LLMKUBE_APPLY_SET": "prune-a"}
    full = write_docs(tmp_path / "full.yaml", cm("keep", ns), cm("drop", ns), cm("shared", ns), local_queue("drop-lq", ns))
    assert llmkube(cluster, "apply", full, env=set_a).returncode == 0
    # another apply set of llmkube's
    other = write_docs(tmp_path / "other.yaml", cm("other-set", ns))
    assert llmkube(cluster, "apply", other, "--apply-set", "prune-b").returncode == 0
    assert cluster.get("configmaps", "other-set", ns)["metadata"]["labels"][SET_LABEL] == "prune-b"
    # our label, but another field manager applied it
    impostor = cm("by-kubectl", ns, labels={SET_LABEL: "prune-a"})
    assert cluster.kubectl("apply", "--server-side", "--field-manager=kubectl", "-f", "-",
                           input=yaml.safe_dump(impostor)).returncode == 0
    # a kubectl ApplySet
    r = subprocess.run(
        ["kubectl", "apply", "--server-side", "--prune", "--applyset=their-set", f"--namespace={ns}", "-f", "-"],
        input=yaml.safe_dump(cm("kubectl-applyset", ns, labels={SET_LABEL: "prune-a"})),
        capture_output=True,
        text=True,
        env={**cluster.env, "KUBECTL_APPLYSET": "true"},
    )
    assert r.returncode == 0, r.stderr
    # llmkube applied it, and so did someone else: shared, never pruned
    assert cluster.kubectl("apply", "--server-side", "--field-manager=helm", "-f", "-",
                           input=yaml.safe_dump(cm("shared", ns, data={"other": "x"}))).returncode == 0

    small = write_docs(tmp_path / "small.yaml", cm("keep", ns))
    everything = state(cluster, ns)

    dry = llmkube(cluster, "apply", small, "--prune", "--dry-run=server", env=set_a)
    assert dry.returncode == 0, dry.stderr
    assert 'configmap "drop" deleted (server dry run)' in dry.stdout
    assert state(cluster, ns) == everything

    result = llmkube(cluster, "apply", small, "--prune", env=set_a)
    assert result.returncode == 0, result.stderr
    assert 'configmap "drop" deleted' in result.stdout
    assert 'localqueue.kueue.x-k8s.io "drop-lq" deleted' in result.stdout
    assert f"ConfigMap/{ns}/shared left the specs but other field managers own it too" in result.stderr
    after = state(cluster, ns)
    assert everything - after == {("ConfigMap", ns, "drop"), ("LocalQueue", ns, "drop-lq")}
    for name in ("keep", "shared", "other-set", "by-kubectl", "kubectl-applyset"):
        assert cluster.get("cm", name, ns) is not None, name

    # without --prune nothing is deleted
    nothing = write_docs(tmp_path / "nothing.yaml", cm("unrelated", ns))
    assert llmkube(cluster, "apply", nothing, env=set_a).returncode == 0
    assert cluster.get("cm", "keep", ns) is not None


def test_apply_keeps_another_fleets_pool_configs_unless_pruning(cluster, ns, tmp_path):
    """The GPU Operator's ConfigMaps are shared by a cluster's Fleets: applied together, then one of
    them alone, apply stops before dropping the other's configs (diff says it would), and
    `--prune` applies the run as the whole state. The operator objects are the test's own (its
    namespace, its ClusterPolicy name, pools and so ResourceFlavors named after its namespace), so
    no other test's examples are touched."""
    operator = f"gpuOperator: {{namespace: {ns}, clusterPolicy: {ns}-policy}}"
    fleet_a = (f"apiVersion: llmkube.dev/v1alpha1\nkind: Fleet\nmetadata: {{name: fleet-a}}\nspec:\n  {operator}\n  pools:\n"
               f"    - {{name: {ns}-a, gpu: h100-80gb, nodeLabels: {{pool: none-a}}, mig: {{layout: {{3g.40gb: 1, 2g.20gb: 2}}}}}}\n")
    fleet_b = (f"apiVersion: llmkube.dev/v1alpha1\nkind: Fleet\nmetadata: {{name: fleet-b}}\nspec:\n  {operator}\n  pools:\n"
               f"    - {{name: {ns}-b, gpu: a100-80gb, nodeLabels: {{pool: none-b}}, mig: {{layout: {{1g.10gb: 7}}}}}}\n")
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(fleet_a)
    b.write_text(fleet_b)
    set_env = {"LLMKUBE_APPLY_SET": f"fleets-{ns}"}

    def mig_configs() -> set[str]:
        live = cluster.get("cm", "llmkube-mig-parted-config", ns)
        return set(yaml.safe_load(live["data"]["config.yaml"])["mig-configs"])

    together = llmkube(cluster, "apply", str(a), str(b), env=set_env)
    assert together.returncode == 0, together.stderr
    config_a, config_b = f"llmkube-{ns}-a", f"llmkube-{ns}-b"
    assert {config_a, config_b} <= mig_configs()

    diff = llmkube(cluster, "diff", str(a), env=set_env)
    assert diff.returncode == 1, diff.stderr
    assert (f"ConfigMap {ns}/llmkube-mig-parted-config on the cluster holds MIG configs this run does not render: "
            f"{config_b}; the diff removes them") in diff.stderr

    cluster.clear_requests()
    refused = llmkube(cluster, "apply", str(a), env=set_env)
    assert refused.returncode == 2, refused.stderr
    assert f"{config_b}; applying it would remove them" in refused.stderr
    assert "or pass --prune if those pools are gone" in refused.stderr
    assert "nothing was applied" in refused.stderr
    assert cluster.writes() == []
    assert config_b in mig_configs()

    pruned = llmkube(cluster, "apply", str(a), "--prune", env=set_env)
    assert pruned.returncode == 0, pruned.stderr
    assert config_b not in mig_configs() and config_a in mig_configs()
    cluster.delete("clusterpolicies.nvidia.com", f"{ns}-policy")
    for pool in (f"{ns}-a", f"{ns}-b"):
        cluster.delete("resourceflavors.kueue.x-k8s.io", pool)


# ---------------------------------------------------------------------------- before any request


def test_kubectl_missing_is_one_clear_line(cluster, tmp_path):
    path = write_docs(tmp_path / "cm.yaml", cm("x", "default"))
    empty = tmp_path / "bin"
    empty.mkdir()
    cluster.clear_requests()
    for command in ("apply", "diff"):
        result = llmkube(cluster, command, path, env={"PATH": str(empty)})
        assert result.returncode == 2
        assert result.stderr.splitlines()[0] == "llmkube: error: kubectl not found on PATH"
        assert "Traceback" not in result.stderr
    assert cluster.requests == []


def test_unknown_context_fails_before_any_request(cluster, tmp_path):
    path = write_docs(tmp_path / "cm.yaml", cm("x", "default"))
    cluster.clear_requests()
    for command in ("apply", "diff"):
        result = llmkube(cluster, command, path, "--context", "prod")
        assert result.returncode == 2
        assert "kubectl context 'prod' not found in the kubeconfig" in result.stderr
    assert cluster.requests == []


# ---------------------------------------------------------------------------- missing CRDs, namespaces


@pytest.fixture(scope="module")
def kueue_only(own_server):
    """A server of its own with the Kueue CRDs only."""
    return own_server(UPSTREAM_CRDS / "kueue")


def test_missing_crd_is_refused_before_anything_is_applied(kueue_only):
    for ns in EXAMPLE_NAMESPACES:
        kueue_only.add_namespace(ns)
    kueue_only.clear_requests()
    for command in ("apply", "diff"):
        result = llmkube(kueue_only, command, str(FLEET_QUOTA), str(VOLCANO_JOB))
        assert result.returncode == 2, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("llmkube: error:")]
        assert errors == [
            "llmkube: error: the cluster does not serve Job (batch.volcano.sh/v1alpha1): "
            "install the CRD jobs.batch.volcano.sh (from Volcano)"
        ]
        assert "nothing was" in result.stderr
    assert kueue_only.writes() == []
    assert kueue_only.objects("clusterqueues") == []


def test_missing_namespace_is_refused(kueue_only, tmp_path):
    path = write_docs(tmp_path / "cm.yaml", cm("x", ns="nowhere"), cm("y", ns="default"))
    kueue_only.clear_requests()
    result = llmkube(kueue_only, "apply", path)
    assert result.returncode == 2
    assert "namespace 'nowhere' does not exist (needed by ConfigMap/nowhere/x)" in result.stderr
    assert kueue_only.writes() == []


def test_served_version_mismatch_names_the_fix(own_server, tmp_path):
    crd = yaml.safe_load((UPSTREAM_CRDS / "kueue" / "kueue.x-k8s.io_localqueues.yaml").read_text())
    crd["spec"]["versions"] = [{**v, "storage": True} for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    crd_file = tmp_path / "lq-v1beta1.yaml"
    crd_file.write_text(yaml.safe_dump(crd))
    path = write_docs(tmp_path / "lq.yaml", local_queue("q", ns="default"))
    s = own_server(crd_file)
    s.clear_requests()
    result = llmkube(s, "apply", path)
    assert result.returncode == 2
    assert ("the cluster serves LocalQueue (kueue.x-k8s.io) at v1beta1, not v1beta2: upgrade the CRD "
            "localqueues.kueue.x-k8s.io (or render with --kueue-api v1beta1)") in result.stderr
    assert s.writes() == []


# ---------------------------------------------------------------------------- MIG node labels


@pytest.fixture
def mig_cluster(cluster, examples_turn):
    """The session's server with the MIG example's objects removed (another test may have applied
    every example) and two nodes of its own, one in the example's pool."""
    cluster.delete("cm", "llmkube-mig-parted-config", "gpu-operator")
    cluster.delete("clusterpolicies.nvidia.com", "cluster-policy")
    for node in ("mig-1", "other-1"):
        cluster.delete("nodes", node)
    cluster.add_node("mig-1", {"cloud.google.com/gke-nodepool": "h100-mig"})
    cluster.add_node("other-1", {"cloud.google.com/gke-nodepool": "a100"})
    return cluster


def test_mig_example_labels_the_pool_nodes(mig_cluster):
    s = mig_cluster
    label = "nvidia.com/mig.config"

    diff = llmkube(s, "diff", str(MIG_EXAMPLE))
    assert diff.returncode == 1, diff.stderr
    assert "  node/mig-1: nvidia.com/mig.config: (unset) -> llmkube-h100-mig" in diff.stdout
    assert "other-1" not in diff.stdout

    s.clear_requests()
    dry = llmkube(s, "apply", str(MIG_EXAMPLE), "--dry-run=server")
    assert dry.returncode == 0, dry.stderr
    assert "node/mig-1 labeled (server dry run)" in dry.stdout
    assert s.writes() == []
    assert label not in s.get("node", "mig-1")["metadata"]["labels"]
    assert s.get("cm", "llmkube-mig-parted-config", "gpu-operator") is None

    result = llmkube(s, "apply", str(MIG_EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("clusterpolicy.nvidia.com/cluster-policy") < result.stdout.index("node/mig-1 labeled")
    assert s.get("node", "mig-1")["metadata"]["labels"][label] == "llmkube-h100-mig"
    assert label not in s.get("node", "other-1")["metadata"]["labels"]
    assert "other-1" not in result.stdout

    clean = llmkube(s, "diff", str(MIG_EXAMPLE))
    assert (clean.returncode, clean.stdout) == (0, ""), clean.stderr

    s.add_node("mig-1", {"cloud.google.com/gke-nodepool": "h100-mig", label: "all-disabled"})
    drift = llmkube(s, "diff", str(MIG_EXAMPLE))
    assert drift.returncode == 1
    assert drift.stdout == (
        "node labels for pool 'h100-mig' (nodes matching cloud.google.com/gke-nodepool=h100-mig):\n"
        "  node/mig-1: nvidia.com/mig.config: all-disabled -> llmkube-h100-mig\n"
    )


def test_crds_pull_from_the_cluster_fills_the_cache_validate_reads(kueue_only, tmp_path):
    cache = tmp_path / "cache"
    pulled = subprocess.run(
        [sys.executable, "-m", "llmkube", "crds", "pull", "--from-cluster", "--kubeconfig", kueue_only.kubeconfig, "--cache-dir", str(cache)],
        capture_output=True, text=True, env=kueue_only.env, cwd=REPO, timeout=120,
    )
    assert pulled.returncode == 0, pulled.stderr
    stored = sorted(p.name for p in cache.glob("*.yaml"))
    assert "clusterqueues.kueue.x-k8s.io.yaml" in stored and "jobs.batch.volcano.sh.yaml" not in stored
    check = subprocess.run(
        [sys.executable, "-m", "llmkube", "validate", str(REPO / "tests" / "cases" / "validate" / "textbook-clusterqueue.yaml")],
        capture_output=True, text=True, env={**kueue_only.env, "LLMKUBE_CACHE_DIR": str(cache)}, cwd=REPO, timeout=120,
    )
    assert check.returncode == 1 and "[cel] ClusterQueue/gpu-training-queue" in check.stdout, check.stdout + check.stderr


def test_crds_pull_with_an_unknown_context_is_exit_2(kueue_only, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "llmkube", "crds", "pull", "--from-cluster", "--kubeconfig", kueue_only.kubeconfig, "--context", "nope", "--cache-dir", str(tmp_path)],
        capture_output=True, text=True, env=kueue_only.env, cwd=REPO, timeout=120,
    )
    assert out.returncode == 2 and "nope" in out.stderr and "Traceback" not in out.stderr


# ---------------------------------------------------------------------------- --create-namespace, diff --prune, --ignore-missing-schemas


def test_create_namespace_creates_the_missing_namespaces_and_says_so(cluster, tmp_path):
    fresh = f"made-{tmp_path.name[-20:].lower().replace('_', '-').strip('-')}"
    path = write_docs(tmp_path / "cm.yaml", cm("x", fresh), cm("y", "default"))
    refused = llmkube(cluster, "apply", path)
    assert refused.returncode == 2 and "apply --create-namespace" in refused.stderr
    assert cluster.get("namespaces", fresh) is None

    created = llmkube(cluster, "apply", path, "--create-namespace")
    assert created.returncode == 0, created.stderr
    assert f"namespace '{fresh}' does not exist (needed by ConfigMap/{fresh}/x): --create-namespace creates it" in created.stderr
    assert f"namespace/{fresh} serverside-applied" in created.stdout
    made = cluster.get("namespaces", fresh)
    assert made is not None and SET_LABEL not in (made["metadata"].get("labels") or {})  # in no apply set: never pruned
    assert cluster.get("cm", "x", fresh) is not None

    again = llmkube(cluster, "apply", path, "--create-namespace")  # it exists now: nothing to say
    assert again.returncode == 0 and "creates it" not in again.stderr
    cluster.delete("namespaces", fresh)


def test_create_namespace_with_server_dry_run(cluster, tmp_path):
    """A server dry run creates no namespace, so objects in a new one are held back with a note
    (the server would refuse each: namespace not found); nothing is created."""
    fresh = f"dry-{tmp_path.name[-20:].lower().replace('_', '-').strip('-')}"
    path = write_docs(tmp_path / "cm.yaml", cm("x", fresh))
    out = llmkube(cluster, "apply", path, "--create-namespace", "--dry-run=server")
    assert out.returncode == 0, out.stderr
    assert f"namespace/{fresh} serverside-applied (server dry run)" in out.stdout
    held = f"namespace '{fresh}' does not exist yet and a server dry run creates nothing: its 1 object was checked offline only"
    assert held in out.stderr
    assert "configmap/x" not in out.stdout
    assert cluster.get("namespaces", fresh) is None

    # A Namespace manifest among the inputs: the same, without --create-namespace.
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": fresh}}
    with_ns = write_docs(tmp_path / "ns.yaml", namespace, cm("x", fresh), cm(fresh, "default"))
    out = llmkube(cluster, "apply", with_ns, "--dry-run=server")
    assert out.returncode == 0, out.stderr
    assert held in out.stderr and f"configmap/{fresh} serverside-applied (server dry run)" in out.stdout
    assert cluster.get("namespaces", fresh) is None and cluster.get("cm", fresh, "default") is None

    # diff is a server dry run too: the held-back objects are shown as new, kubectl diff's way.
    out = llmkube(cluster, "diff", with_ns)
    assert out.returncode == 1, out.stderr
    assert f"namespace '{fresh}' does not exist yet and a server dry run creates nothing: its 1 object was shown as new" in out.stderr
    new_cm = out.stdout[out.stdout.index(f"diff -u -N LIVE/v1.ConfigMap.{fresh}.x MERGED/v1.ConfigMap.{fresh}.x\n") :]
    assert new_cm.splitlines()[1:4] == [f"--- LIVE/v1.ConfigMap.{fresh}.x", f"+++ MERGED/v1.ConfigMap.{fresh}.x", "@@ -0,0 +1,9 @@"]
    assert yaml.safe_load("\n".join(line[1:] for line in new_cm.splitlines()[4:13]))["metadata"] == {
        "name": "x",
        "namespace": fresh,
        "labels": {SET_LABEL: DEFAULT_APPLY_SET},  # as apply would send it
    }
    assert f"+  name: {fresh}" in out.stdout  # the Namespace itself, from kubectl diff

    # Once it exists, the server checks them too.
    cluster.add_namespace(fresh)
    out = llmkube(cluster, "apply", with_ns, "--dry-run=server")
    assert out.returncode == 0 and "does not exist yet" not in out.stderr
    assert "configmap/x serverside-applied (server dry run)" in out.stdout
    cluster.delete("namespaces", fresh)


def test_diff_lists_what_prune_would_delete(cluster, ns, tmp_path):
    set_env = {"LLMKUBE_APPLY_SET": f"diff-prune-{ns}"[:63]}
    both = write_docs(tmp_path / "both.yaml", cm("keep", ns), cm("gone", ns))
    assert llmkube(cluster, "apply", both, env=set_env).returncode == 0
    one = write_docs(tmp_path / "one.yaml", cm("keep", ns))

    plain = llmkube(cluster, "diff", one, env=set_env)
    assert (plain.returncode, plain.stdout) == (0, ""), plain.stderr  # no change to what is sent
    assert "1 object of apply set" in plain.stderr and "apply --prune would delete them" in plain.stderr

    listed = llmkube(cluster, "diff", one, "--prune", env=set_env)
    assert listed.returncode == 1, listed.stderr
    assert f"  - ConfigMap/{ns}/gone\n" in listed.stdout and f"ConfigMap/{ns}/keep" not in listed.stdout
    assert cluster.get("cm", "gone", ns) is not None  # diff deletes nothing

    assert llmkube(cluster, "apply", one, "--prune", env=set_env).returncode == 0
    assert llmkube(cluster, "diff", one, "--prune", env=set_env).returncode == 0  # nothing left to prune


def test_ignore_missing_schemas_skips_the_cluster_crd_check(cluster, ns, tmp_path):
    path = write_docs(tmp_path / "lq.yaml", local_queue("q", ns))
    env = {"LLMKUBE_CACHE_DIR": str(tmp_path / "empty-cache")}  # no LocalQueue schema offline
    cluster.clear_requests()
    checked = llmkube(cluster, "diff", path, env=env)
    assert checked.returncode == 1, checked.stderr  # the LocalQueue would be created
    assert any("customresourcedefinitions" in r for r in cluster.requests)  # its CRD was read from the cluster
    for command in ("diff", "apply"):
        cluster.clear_requests()
        skipped = llmkube(cluster, command, path, "--ignore-missing-schemas", env=env)
        assert skipped.returncode in (0, 1), skipped.stderr
        assert not any("customresourcedefinitions" in r for r in cluster.requests), command
        assert "not checked" not in skipped.stderr
    assert cluster.get("localqueue", "q", ns) is not None


def test_custom_resources_of_a_crd_in_the_same_run_go_after_it(cluster, ns, tmp_path):
    """A CRD and its custom resources in one run: kubectl alone would refuse the resources ("no matches
    for kind", the CRD not yet Established); apply sends them once the CRD is Established, and a
    server dry run, which creates no CRD, shows or checks them offline only."""
    group = f"{tmp_path.name[-20:].lower().replace('_', '-').strip('-')}.example.com"
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}]},
    }
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": ns}, "spec": {"size": 3}}
    path = write_docs(tmp_path / "widgets.yaml", widget, crd, cm("beside", ns))
    note = f"1 custom resource of the run's new CustomResourceDefinitions (widgets.{group}) was"

    bad = write_docs(tmp_path / "bad.yaml", {**widget, "spec": {"size": "big"}}, crd)
    refused = llmkube(cluster, "apply", bad)  # the run's CRD is its schema offline: refused before kubectl
    assert refused.returncode == 1 and "spec.size" in refused.stderr, refused.stderr
    assert cluster.get("customresourcedefinitions", f"widgets.{group}") is None

    diff = llmkube(cluster, "diff", path)
    assert diff.returncode == 1, diff.stderr
    assert f"{note} shown as new" in diff.stderr
    assert f"diff -u -N LIVE/{group}.v1.Widget.{ns}.w MERGED/{group}.v1.Widget.{ns}.w\n" in diff.stdout
    assert f"+  name: widgets.{group}" in diff.stdout  # the CRD itself, from kubectl diff

    dry = llmkube(cluster, "apply", path, "--dry-run=server")
    assert dry.returncode == 0, dry.stderr
    assert f"{note} checked offline only" in dry.stderr
    assert f"customresourcedefinition.apiextensions.k8s.io/widgets.{group} serverside-applied (server dry run)" in dry.stdout
    assert "widget." not in dry.stdout and cluster.get("customresourcedefinitions", f"widgets.{group}") is None

    applied = llmkube(cluster, "apply", path)
    assert applied.returncode == 0, applied.stderr
    lines = applied.stdout.splitlines()
    assert lines.index(f"customresourcedefinition.apiextensions.k8s.io/widgets.{group} serverside-applied") < lines.index(
        f"widget.{group}/w serverside-applied")
    assert "configmap/beside serverside-applied" in lines
    live = cluster.get(f"widgets.{group}", "w", ns)
    assert live is not None and live["spec"] == {"size": 3}
    assert live["metadata"]["labels"][SET_LABEL] == DEFAULT_APPLY_SET

    again = llmkube(cluster, "diff", path)  # now the cluster serves Widget: an ordinary, clean diff
    assert (again.returncode, again.stdout) == (0, ""), again.stderr
    assert "new CustomResourceDefinitions" not in again.stderr
    cluster.delete(f"widgets.{group}", "w", ns)
    cluster.delete("customresourcedefinitions", f"widgets.{group}")
