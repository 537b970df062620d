"""`llmkube apply`/`diff` of a MultiKueue federation against two real kube-apiservers: the manager
(`hub`) and one worker (`gpu-east`), each a server of its own with the Kueue CRDs (two servers, not
one with two namespaces: the manager's and the workers' ClusterQueues are cluster-scoped objects of
the same name). The example's third cluster, `gpu-west`, has no server: selecting clusters with
`--cluster` leaves it out, `--cluster-context` sends it with another context, and naming it without a context is refused before anything is sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import kubeserver
from tests.support.crds import UPSTREAM_CRDS
from tests.support.paths import EXAMPLES, REPO

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("upstream_crds")]

EXAMPLE = EXAMPLES / "10-two-cluster-multikueue.yaml"
NAMESPACE = "llm-team-beta"


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    """Two servers and one kubeconfig with the contexts `hub` and `gpu-east`."""
    kubeserver.skip_unless_built()
    servers = {}
    try:
        for name in ("hub", "gpu-east"):
            servers[name] = kubeserver.start(tmp_path_factory.mktemp(name), [UPSTREAM_CRDS / "kueue"])
            servers[name].add_namespace(NAMESPACE)
        config: dict = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
        for name, server in servers.items():
            one = json.loads(Path(server.kubeconfig).read_text())
            config["clusters"].append({**one["clusters"][0], "name": name})
            config["users"].append({**one["users"][0], "name": name})
            config["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
        config["current-context"] = "hub"
        path = tmp_path_factory.mktemp("kubeconfig") / "config"
        path.write_text(json.dumps(config))
        yield servers, str(path)
    finally:
        for server in servers.values():
            kubeserver.stop(server)


def run(federation, *args: str) -> subprocess.CompletedProcess:
    servers, kubeconfig = federation
    env = {**servers["hub"].env, "KUBECONFIG": kubeconfig}
    return subprocess.run([sys.executable, "-m", "llmkube", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def test_a_cluster_without_a_context_is_refused_before_anything_is_sent(federation):
    servers, _ = federation
    for server in servers.values():
        server.clear_requests()
    out = run(federation, "apply", str(EXAMPLE))  # gpu-west's context does not exist
    assert out.returncode == 2, out.stderr
    assert "kubectl context 'gpu-west' not found in the kubeconfig" in out.stderr
    assert all(server.writes() == [] for server in servers.values())


def test_apply_sends_each_cluster_its_own_objects_then_diff_is_clean(federation):
    servers, _ = federation
    out = run(federation, "apply", str(EXAMPLE), "--cluster", "hub", "--cluster", "gpu-east")
    assert out.returncode == 0, out.stderr
    assert out.stderr.index("cluster gpu-east (kubectl context gpu-east)") < out.stderr.index("cluster hub (kubectl context hub)")
    hub, east = servers["hub"], servers["gpu-east"]

    cq = hub.get("clusterqueues", "llm-batch")
    assert cq["spec"]["admissionChecksStrategy"]["admissionChecks"] == [{"name": "llm-batch-multikueue"}]
    ac = hub.get("admissionchecks", "llm-batch-multikueue")
    assert ac["spec"]["parameters"] == {"apiGroup": "kueue.x-k8s.io", "kind": "MultiKueueConfig", "name": "llm-batch"}
    assert hub.get("multikueueconfigs", "llm-batch")["spec"]["clusters"] == ["gpu-east", "gpu-west"]
    assert {o["metadata"]["name"] for o in hub.objects("multikueueclusters")} == {"gpu-east", "gpu-west"}
    assert hub.get("localqueues", "training-queue", NAMESPACE) is not None

    worker_cq = east.get("clusterqueues", "llm-batch")
    assert "admissionChecksStrategy" not in worker_cq["spec"]
    quota = {r["name"]: r["nominalQuota"] for r in worker_cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"]}
    assert quota["nvidia.com/gpu"] == 24  # gpu-east's own quota, not the manager's 32
    assert east.get("localqueues", "training-queue", NAMESPACE)["spec"]["clusterQueue"] == "llm-batch"
    assert east.get("resourceflavors", "h100-sxm") is not None
    assert east.objects("multikueueclusters") == [] and east.objects("admissionchecks") == []

    for server in servers.values():
        server.clear_requests()
    again = run(federation, "diff", str(EXAMPLE), "--cluster", "hub", "--cluster", "gpu-east")
    assert (again.returncode, again.stdout) == (0, ""), again.stderr + again.stdout
    assert all(server.writes() == [] and server.requests for server in servers.values())


def test_cluster_context_override_sends_one_cluster(federation):
    """`--cluster gpu-west --cluster-context gpu-west=gpu-east` sends gpu-west's objects (a dry run)
    with the gpu-east context."""
    servers, _ = federation
    args = ("--cluster", "gpu-west", "--cluster-context", "gpu-west=gpu-east", "--dry-run", "server")
    out = run(federation, "apply", str(EXAMPLE), *args)
    assert out.returncode == 0, out.stderr
    assert "cluster gpu-west (kubectl context gpu-east)" in out.stderr
    assert "cluster hub" not in out.stderr
    assert "clusterqueue.kueue.x-k8s.io/llm-batch serverside-applied (server dry run)" in out.stdout
