"""A real kube-apiserver and etcd for the kubectl tests (started by scripts/kube-test-server).

The binaries are built once per machine (``scripts/kube-test-server build``, cached under
``$LLMKUBE_TEST_CACHE``); `kube_server` (tests/support/fixtures.py) starts one server per pytest
process (per xdist worker) with every upstream CRD installed, and stops it by PID at the end.
Without the binaries those tests skip with one reason; CI sets ``LLMKUBE_REQUIRE_KUBE_SERVER=1``,
which turns their absence into one error at start.

What the server cannot do here: nothing reconciles (no controller-manager, no kubelet), so a deleted
namespace stays Terminating and no Pod is ever created. Tests therefore give each test its own
namespace (`KubeServer.namespace`) and never wait for a controller.

`KubeServer` is what a test sees: the kubeconfig and environment for kubectl, reads of the stored
objects, set-up writes (nodes, namespaces) under a second user that is never audited, and the audit
log of the kubeconfig's user (`requests`, `writes`): what llmkube's kubectl actually sent.
"""

from __future__ import annotations

import fcntl
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import time
import uuid
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO

SCRIPT = REPO / "scripts" / "kube-test-server"
ENV_REQUIRE = "LLMKUBE_REQUIRE_KUBE_SERVER"
#: CRD directories under the upstream set that hold example objects, not CRDs.
NOT_CRDS = ("examples", "nvidia-examples")
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def script() -> ModuleType:
    """scripts/kube-test-server as a module (it has no .py suffix: a command first)."""
    loader = importlib.machinery.SourceFileLoader("kube_test_server", str(SCRIPT))
    spec = importlib.util.spec_from_loader("kube_test_server", loader)
    assert spec
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


KTS = script()


def required() -> bool:
    return os.environ.get(ENV_REQUIRE, "") not in ("", "0")


def missing_reason() -> str | None:
    """Why no real server can be started here (None: it can)."""
    if KTS.built():
        return None
    return (
        f"no kube-apiserver {KTS.KUBE_VERSION} built in {KTS.bin_dir()}: run `scripts/kube-test-server build` "
        "(needs Go and the Go module proxy)"
    )


def skip_unless_built() -> None:
    """Skip the calling test, saying why, when no server can be started here (CI refuses to start
    instead: $LLMKUBE_REQUIRE_KUBE_SERVER, tests/conftest.py)."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)


def crd_paths(upstream: Path) -> list[Path]:
    """The upstream CRD directories, sorted: the first CRD of a name wins (scripts/kube-test-server),
    so the MPI Operator's v2beta1 mpijobs.kubeflow.org is installed and the Training Operator's
    v1 one is not — the real server refuses a CRD whose versions drop a stored version, so only
    one of the two can be there; llmkube's own CRD store makes the same choice (sorted file order)."""
    return sorted(p for p in upstream.iterdir() if p.is_dir() and p.name not in NOT_CRDS)


class KubeServer:
    """A running server: kubeconfig, kubectl environment, reads, set-up writes, the audit log."""

    CONTEXT = "llmkube-test"

    def __init__(self, state: dict, workdir: Path, user: str = KTS.USER) -> None:
        self.state = state
        self.workdir = workdir
        self.user = user
        self.token = state["token"] if user == KTS.USER else state["tokens"][user]
        self.kubeconfig = self.write_kubeconfig(workdir / "kubeconfig")
        self.client = KTS.Client(state["server"], Path(state["ca"]), state["fixture_token"])
        self.audit_log = Path(state["audit_log"])
        self._audit_mark = 0

    # ----------------------------------------------------------------- kubectl

    @property
    def env(self) -> dict[str, str]:
        """Environment for kubectl against this server (its own HOME and discovery cache)."""
        home, cache = self.workdir / "home", self.workdir / "kubecache"
        home.mkdir(exist_ok=True)
        cache.mkdir(exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "KUBECONFIG": self.kubeconfig,
            "KUBECACHEDIR": str(cache),
            "LANG": "C.UTF-8",
        }

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, env=self.env, timeout=timeout)

    def write_kubeconfig(self, path: str | os.PathLike, *, contexts: list[str] | tuple[str, ...] = (CONTEXT,), namespace: str | None = None) -> str:
        """A kubeconfig whose contexts all point at this server (the first is current)."""
        Path(path).write_text(
            KTS.kubeconfig_text(self.state["server"], Path(self.state["ca"]), self.token, list(contexts), namespace, self.user)
        )
        return str(path)

    # ----------------------------------------------------------------- reads

    @cached_property
    def _resources(self) -> dict[str, tuple[str, str, bool]]:
        """Every name a resource goes by (plural, singular, kind, short names, plural.group) ->
        (group-version path, plural, namespaced), from the server's discovery."""
        table: dict[str, tuple[str, str, bool]] = {}
        lists = [("/api/v1", "")]
        for group in self.api("GET", "/apis")["groups"]:
            preferred = group["preferredVersion"]["groupVersion"]
            lists.append((f"/apis/{preferred}", group["name"]))
        for path, group in lists:
            for r in self.api("GET", path)["resources"]:
                if "/" in r["name"]:
                    continue  # subresources
                entry = (path, r["name"], r["namespaced"])
                qualified = f"{r['name']}.{group}" if group else r["name"]
                singular = r.get("singularName") or r["kind"].lower()
                aliases = [qualified, r["name"], singular, r["kind"].lower(), *r.get("shortNames", [])]
                if group:
                    aliases += [f"{singular}.{group}", f"{r['kind'].lower()}.{group}"]
                for alias in aliases:
                    if alias:
                        table.setdefault(alias.lower(), entry)
        return table

    def _path(self, resource: str, namespace: str | None) -> tuple[str, bool]:
        key = resource.lower()
        if key not in self._resources:
            self.__dict__.pop("_resources", None)  # a CRD created since: discover again
        base, plural, namespaced = self._resources[key]
        if namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{plural}", True
        return f"{base}/{plural}", namespaced

    def api(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> dict:
        status, data = self.client.request(method, path, body, timeout=30, content_type=content_type)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {data.get('message', data)}")
        return data

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict | None:
        path, namespaced = self._path(resource, namespace or "default")
        status, data = self.client.request("GET", f"{path}/{name}")
        if status == 404:
            return None
        if status >= 300:
            raise RuntimeError(f"GET {path}/{name}: {status} {data}")
        return data

    def objects(self, resource: str, namespace: str | None = None) -> list[dict]:
        path, _ = self._path(resource, namespace)
        listing = self.api("GET", path)
        kind = listing["kind"].removesuffix("List")  # a list's items carry no kind of their own
        return [{"kind": kind, "apiVersion": listing["apiVersion"], **o} for o in listing["items"]]

    # ----------------------------------------------------------------- set-up writes

    def put(self, obj: dict, manager: str = "test-fixture") -> dict:
        """Server-side apply `obj` as `manager` (force: the fixture sets the state it wants)."""
        md = obj["metadata"]
        path, namespaced = self._path(f"{obj['kind']}", md.get("namespace") or "default")
        return self.api(
            "PATCH",
            f"{path}/{md['name']}?fieldManager={manager}&force=true",
            obj,
            content_type="application/apply-patch+yaml",
        )

    def add_namespace(self, name: str) -> dict:
        return self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def namespace(self, prefix: str = "t") -> str:
        """A new namespace of its own for one test."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.add_namespace(name)
        return name

    def add_node(self, name: str, labels: dict[str, str] | None = None) -> dict:
        """A Node object (no kubelet behind it: nothing but its labels matters here)."""
        return self.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}})

    def delete(self, resource: str, name: str, namespace: str | None = None) -> None:
        path, _ = self._path(resource, namespace or "default")
        status, data = self.client.request("DELETE", f"{path}/{name}")
        if status not in (200, 202, 404):
            raise RuntimeError(f"DELETE {path}/{name}: {status} {data}")

    # ----------------------------------------------------------------- what kubectl sent (audit log)

    def _audit(self) -> list[dict]:
        """The audit events since the mark, less the kubectl dispatcher's version probes: the Google
        Cloud SDK's `kubectl` is a dispatcher that asks `/version` (once per discovery-cache
        lifetime) to pick the kubectl release matching the server; that request is the wrapper's,
        not the caller's, and is sent even when the caller's kubectl then fails before any request."""
        time.sleep(0.3)  # an event is written as its request completes, just after the reply
        try:
            raw = self.audit_log.read_bytes()[self._audit_mark :]
        except FileNotFoundError:
            return []
        events = [json.loads(line) for line in raw.decode(errors="replace").splitlines() if line.strip()]
        return [
            e
            for e in events
            if e.get("user", {}).get("username") == self.user and not str(e.get("userAgent", "")).startswith("kubectl-dispatcher/")
        ]

    def clear_requests(self) -> None:
        """From now on, `requests` and `writes` count only what is sent after this call."""
        self._audit()  # let the events of what came before land first
        try:
            self._audit_mark = self.audit_log.stat().st_size
        except FileNotFoundError:
            self._audit_mark = 0

    @property
    def requests(self) -> list[str]:
        """Every request the kubeconfig's user sent since `clear_requests`, as 'VERB URI'."""
        return [f"{e['verb']} {e['requestURI']}" for e in self._audit()]

    def writes(self) -> list[str]:
        """The requests since `clear_requests` that changed (or would have changed: dry runs
        excluded) the stored state."""
        return [
            f"{e['verb']} {e['requestURI']}"
            for e in self._audit()
            if e["verb"] in WRITE_VERBS and "dryRun=All" not in e["requestURI"]
        ]


class _Locked:
    """An exclusive lock on a file (fcntl), held for a `with` block: one process at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def shared(root: Path, crds: list[Path], worker: str) -> KubeServer:
    """The server shared by every process of a pytest run (`root` is common to all xdist workers):
    the first to come starts it, the others reuse it; each worker sends as a user of its own, so its
    audit trail is its own. Counted in `root/users`; the last `release` stops it."""
    root.mkdir(parents=True, exist_ok=True)
    with _Locked(root / "lock"):
        state = KTS.running(root / "server")
        if state is None:
            with open(root / "start.log", "a") as log:
                # without xdist the server is tied to this process; with it, the workers end at
                # different times, so the last one's `release` stops it
                state = KTS.start(root / "server", crds=crds, tie_to_parent=not worker, log=log)
            (root / "users").write_text("0")
        (root / "users").write_text(str(int((root / "users").read_text()) + 1))
    user = KTS.EXTRA_USERS[int(worker.removeprefix("gw")) % len(KTS.EXTRA_USERS)] if worker else KTS.USER
    workdir = root / (worker or "main")
    workdir.mkdir(exist_ok=True)
    return KubeServer(state, workdir, user)


def release(root: Path) -> None:
    with _Locked(root / "lock"):
        left = int((root / "users").read_text()) - 1
        (root / "users").write_text(str(left))
        if left <= 0:
            KTS.stop(root / "server")


def start(workdir: Path, crds: list[Path]) -> KubeServer:
    """Start a server (tied to this process: it dies with it) in `workdir` with `crds` installed."""
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "start.log", "a") as log:
        state = KTS.start(workdir / "server", crds=crds, tie_to_parent=True, log=log)
    return KubeServer(state, workdir)


def stop(server: KubeServer) -> None:
    KTS.stop(server.workdir / "server")


def load_yaml(text: str) -> list[dict]:
    return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d]
