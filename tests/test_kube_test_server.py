"""scripts/kube-test-server: the build module it writes, and the real server it starts."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from tests.support import kubeserver
from tests.support.crds import UPSTREAM_CRDS
from tests.support.kubeserver import KTS

# an excerpt of k8s.io/kubernetes v1.34.4's go.mod: the staging modules are the ./staging replaces
KUBERNETES_GOMOD = """module k8s.io/kubernetes

go 1.24.0

require (
	k8s.io/api v0.0.0
	github.com/spf13/cobra v1.9.1
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apiextensions-apiserver => ./staging/src/k8s.io/apiextensions-apiserver
	k8s.io/kms => ./staging/src/k8s.io/kms
)
"""


def test_build_module_maps_each_staging_module_to_the_release():
    gomod = KTS.build_gomod("v1.34.4", KUBERNETES_GOMOD)
    assert "\tk8s.io/kubernetes v1.34.4\n" in gomod
    assert f"\t{KTS.ETCD_MODULE} {KTS.ETCD_VERSION}\n" in gomod
    replaces = [line.strip() for line in gomod.splitlines() if "=>" in line]
    assert replaces == [
        "k8s.io/api => k8s.io/api v0.34.4",
        "k8s.io/apiextensions-apiserver => k8s.io/apiextensions-apiserver v0.34.4",
        "k8s.io/kms => k8s.io/kms v0.34.4",
    ]
    assert "cobra" not in gomod  # only the staging modules are replaced
    assert KTS.build_gomod("v1.35.12", KUBERNETES_GOMOD).count("v0.35.12") == 3


def test_kubeconfig_points_at_loopback_with_the_ca_and_token(tmp_path):
    config = json.loads(KTS.kubeconfig_text("https://127.0.0.1:1234", tmp_path / "ca.crt", "t0k", ["a", "b"], "ns"))
    assert config["current-context"] == "a" and [c["name"] for c in config["contexts"]] == ["a", "b"]
    assert config["contexts"][1]["context"]["namespace"] == "ns"
    assert config["clusters"][0]["cluster"] == {"server": "https://127.0.0.1:1234", "certificate-authority": str(tmp_path / "ca.crt")}
    assert config["users"][0]["user"] == {"token": "t0k"}


def test_certificates_name_loopback_and_chain_to_the_ca(tmp_path):
    KTS.make_certificates(tmp_path)
    text = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "server.crt"), "-noout", "-ext", "subjectAltName"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "IP Address:127.0.0.1" in text and "DNS:localhost" in text
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "server.crt")],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr


def test_first_crd_of_a_name_wins(upstream_crds):
    """The fixture's order installs the MPI Operator's v2beta1 MPIJob, not the Training Operator's v1."""
    paths = [p for p in kubeserver.crd_paths(upstream_crds) if p.name in ("training-operator", "mpi-operator")]
    docs = KTS.crd_documents(paths)
    mpijobs = [f for f, d in docs if d["metadata"]["name"] == "mpijobs.kubeflow.org"]
    assert [f.parent.name for f in mpijobs] == ["mpi-operator", "training-operator"]


# ---------------------------------------------------------------------------- the real server


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on `port` (/proc/net/tcp{,6}, state 0A)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            local, _, state = line.split()[1:4]
            address, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:
                found.add(address)
    return found


@pytest.mark.slow  # needs the real server
def test_server_is_the_pinned_release_on_loopback_only(kube_server):
    version = json.loads(kube_server.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == KTS.KUBE_VERSION
    port = int(kube_server.state["server"].rsplit(":", 1)[1])
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
    assert kube_server.state["server"].startswith("https://127.0.0.1:")


@pytest.mark.slow  # needs the real server
def test_every_upstream_crd_is_installed_and_mpijob_is_the_mpi_operators(kube_server, upstream_crds):
    names = {d["metadata"]["name"] for _, d in KTS.crd_documents(kubeserver.crd_paths(upstream_crds))}
    installed = {c["metadata"]["name"] for c in kube_server.objects("customresourcedefinitions")}
    assert installed == names
    mpijob = kube_server.get("crd", "mpijobs.kubeflow.org")
    assert mpijob["status"]["storedVersions"] == ["v2beta1"]


@pytest.mark.slow  # needs the real server
def test_real_server_refuses_the_second_mpijob_crd(kube_server):
    """The imitation accepted both; the real server refuses a CRD that drops a stored version."""
    other = (UPSTREAM_CRDS / "training-operator" / "kubeflow.org_mpijobs.yaml").read_text()
    out = kube_server.kubectl("apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-", input=other)
    assert out.returncode == 1
    assert "status.storedVersions[0]: Invalid value: \"v2beta1\": missing from spec.versions" in out.stderr


@pytest.mark.slow  # needs the real server
def test_audit_log_tells_requests_and_writes(kube_server, kube_namespace):
    kube_server.clear_requests()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": kube_namespace}}
    assert kube_server.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=yaml.safe_dump(cm)).returncode == 0
    assert any(r.startswith("patch ") for r in kube_server.requests) and kube_server.writes() == []
    kube_server.put(cm)  # the fixture's own user is not audited
    assert kube_server.writes() == []
    assert kube_server.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(cm)).returncode == 0
    assert [w.split("?")[0] for w in kube_server.writes()] == [f"patch /api/v1/namespaces/{kube_namespace}/configmaps/a"]


@pytest.mark.slow  # starts and stops a server of its own
def test_start_status_env_stop_by_pid(tmp_path):
    kubeserver.skip_unless_built()
    d = tmp_path / "srv"
    state = KTS.start(d, tie_to_parent=True)
    try:
        assert KTS.running(d) == state
        assert KTS.main(["env", "--dir", str(d)]) == 0
        pids = [p["pid"] for p in state["processes"].values()]
        assert all(KTS.alive(p["pid"], p["binary"]) for p in state["processes"].values())
    finally:
        stopped = KTS.stop(d)
    assert len(stopped) == 2 and KTS.running(d) is None
    assert not any(KTS.alive(p, b["binary"]) for p, b in zip(pids, state["processes"].values()))
    assert KTS.stop(d) == []  # nothing left to stop


def test_start_refuses_a_directory_that_is_not_a_servers(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(KTS.ServerError, match="not empty and holds no stopped server"):
        KTS.start(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
