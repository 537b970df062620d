"""The fixtures every test module may use; `tests/conftest.py` registers them."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import crds, kubeserver


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real user cache, kubeconfig or discovery cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LLMKUBE_CACHE_DIR", str(home / "llmkube-cache"))
    monkeypatch.setenv("KUBECACHEDIR", str(home / "kube-cache"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture(scope="session")
def upstream_crds() -> Path:
    """The upstream CRD directory (see its SOURCES.md); skips the test when there is none."""
    if not crds.found():
        pytest.skip(crds.missing_reason())
    return crds.UPSTREAM_CRDS


@pytest.fixture(scope="session")
def store():
    """The built-in GPU and model profiles, loaded once."""
    from llmkube.profiles import ProfileStore

    return ProfileStore.load()


@pytest.fixture(scope="session")
def crd_store(upstream_crds: Path):
    """All upstream CRDs; the MPI Operator's v2beta1 MPIJob wins (sorted file order)."""
    from llmkube.check.crdstore import CRDStore

    return CRDStore.load([upstream_crds], include_cache=False)


@pytest.fixture(scope="session")
def validator(crd_store):
    from llmkube.check.schemas import SchemaValidator

    return SchemaValidator(crd_store, kube_version="1.32")


@pytest.fixture(scope="session")
def training_operator_validator(upstream_crds: Path):
    """Training Operator v1 CRDs first, so its kubeflow.org/v1 MPIJob wins."""
    from llmkube.check.crdstore import CRDStore
    from llmkube.check.schemas import SchemaValidator

    store = CRDStore.load([upstream_crds / "training-operator", upstream_crds], include_cache=False)
    return SchemaValidator(store, kube_version="1.32")


@pytest.fixture(scope="session")
def kube_server(upstream_crds: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real kube-apiserver + etcd with every upstream CRD, one per pytest run (shared by the xdist
    workers, each with a user of its own), stopped by PID at the end; skips the test when the
    binaries are not built (tests/support/kubeserver.py)."""
    kubeserver.skip_unless_built()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    root = _server_root(tmp_path_factory)
    server = kubeserver.shared(root, kubeserver.crd_paths(upstream_crds), worker)
    try:
        yield server
    finally:
        kubeserver.release(root)


def _server_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's directory for the shared server: every xdist worker's basetemp is inside the run's
    temporary root, so all workers find the same one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return (tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()) / "kube-server"


@pytest.fixture
def examples_turn(kube_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The examples' cluster-wide objects (their ClusterQueues and flavors, the GPU Operator's
    ConfigMaps in gpu-operator, the ClusterPolicy, the pool nodes' labels) exist once per server, and
    the xdist workers share the server: a test that applies, changes or expects them takes its turn
    under an exclusive lock beside the server, so that another worker's test cannot change them
    between its steps (the MIG example's test labels a node that applying every example labels too)."""
    root = _server_root(tmp_path_factory)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "examples.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.fixture
def kube_namespace(kube_server) -> str:
    """A namespace of the test's own on the shared server (left Terminating at the end: no
    namespace controller runs to empty it, and nothing else uses it)."""
    name = kube_server.namespace()
    yield name
    kube_server.delete("namespaces", name)
