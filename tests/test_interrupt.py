"""Ctrl-C during `apply`: before anything is sent it is an ordinary interrupt (130); once a
kubectl run that changes the cluster has started, the outcome is unknown (exit 4, said so).

The end-to-end tests run the real CLI with a fake kubectl first on PATH that answers the
reads of preparation and hangs where told, and send SIGINT as a terminal's Ctrl-C would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmkube.commands import kubeapply
from llmkube.kubectl import APIResource, Kubectl, KubectlResult
from llmkube.options import Options
from tests.support.paths import REPO

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: default\ndata:\n  k: v\n"

FAKE = '''\
import json, os, sys, time
args = [a for a in sys.argv[1:] if not a.startswith(("--kubeconfig", "--context"))]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
if args[0] == os.environ["FAKE_HANG"]:
    time.sleep(60)
if args[0] == "api-resources":
    print("NAME         SHORTNAMES   APIVERSION   NAMESPACED   KIND        VERBS")
    print("configmaps   cm           v1           true         ConfigMap   create,delete,get,list,patch,update,watch")
    print("namespaces   ns           v1           false        Namespace   create,delete,get,list,patch,update,watch")
elif args[0] == "api-versions":
    print("v1")
elif args[0] == "get":
    print(json.dumps({"kind": "List", "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}]}))
elif args[0] == "apply":
    sys.stdin.read()
    print("configmap/a serverside-applied")
'''


@contextlib.contextmanager
def _sigint_not_ignored() -> Iterator[None]:
    """Start children with SIGINT at its default, as a terminal's foreground job has it.

    A shell without job control starts a background job (`pytest ... &`) with SIGINT and SIGQUIT
    ignored, and an ignored signal stays ignored across fork and exec: llmkube would then start with
    Ctrl-C ignored (Python installs its KeyboardInterrupt handler only over a default disposition)
    and these tests would wait for the fake kubectl's minute. A handled signal is reset to the
    default at exec, so handling SIGINT here while the child starts gives it the default."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupt_apply(tmp_path: Path, hang: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`llmkube apply` with kubectl hanging at the `hang` subcommand; SIGINT once it hangs there."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    kubectl = bindir / "kubectl"
    kubectl.write_text(f"#!{sys.executable}\n{FAKE}")
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "kubectl.log"
    log.touch()
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(CONFIGMAP)
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "FAKE_LOG": str(log),
        "FAKE_HANG": hang,
        "HOME": str(tmp_path),
        "KUBECACHEDIR": str(tmp_path / "kube-cache"),
    }
    with _sigint_not_ignored():
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmkube", "apply", str(manifest), *extra],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    deadline = time.monotonic() + 60
    while not any(line.split(" ")[0] == hang for line in log.read_text().splitlines()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "kubectl never reached the step"
        time.sleep(0.05)
    time.sleep(0.3)  # kubectl is now asleep in that step
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), log.read_text().splitlines()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_while_kubectl_apply_runs_is_outcome_unknown(tmp_path):
    result, calls = _interrupt_apply(tmp_path, "apply")
    assert result.returncode == kubeapply.EXIT_UNKNOWN == 4, result.stderr
    assert "interrupted during kubectl apply: its outcome is unknown" in result.stderr
    assert "llmkube diff" in result.stderr and "nothing was applied" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_before_anything_is_sent_is_an_ordinary_interrupt(tmp_path):
    result, calls = _interrupt_apply(tmp_path, "api-resources")
    assert result.returncode == 130, result.stderr
    assert "llmkube: interrupted" in result.stderr
    assert "unknown" not in result.stderr and "Traceback" not in result.stderr
    assert not any(c.startswith("apply") for c in calls)


# ---- the same, in-process: every changing step, and a dry run -------------------------------


class _Cluster(Kubectl):
    """Answers preparation's reads; `interrupt_at` raises KeyboardInterrupt there (as Ctrl-C would)."""

    def __init__(self, interrupt_at: str) -> None:
        super().__init__(timeout=5)
        self.interrupt_at = interrupt_at

    def _maybe(self, step: str) -> None:
        if step == self.interrupt_at:
            raise KeyboardInterrupt

    def check_context(self) -> None:
        pass

    def api_resources(self):
        self._maybe("api-resources")
        return [APIResource("configmaps", "", "v1", "ConfigMap", True, ("create", "get", "list", "patch", "delete"))]

    def api_versions(self):
        return ["v1"]

    def default_namespace(self) -> str:
        return "default"

    def get_objects(self, resources, **kw):
        if kw.get("selector"):
            self._maybe("prune-read")
            return []
        return [{"kind": "Namespace", "metadata": {"name": "default"}}]

    def apply(self, manifest_yaml, **kw):
        self._maybe("apply")
        return KubectlResult(["kubectl", "apply"], 0, "configmap/a serverside-applied\n", "")


def _run(tmp_path: Path, kc: Kubectl, *, dry_run: bool = False, prune: bool = False) -> int | str:
    """The exit code, or "interrupt" when the KeyboardInterrupt went on (caught: it would end pytest)."""
    path = tmp_path / "cm.yaml"
    path.write_text(CONFIGMAP)
    try:
        return kubeapply.run_apply(
            [str(path)], Options(), context=None, kubeconfig=None, namespace=None, color="never",
            dry_run_server=dry_run, force_conflicts=False, prune=prune, kubectl=kc,
        )
    except KeyboardInterrupt:
        return "interrupt"


def test_interrupt_in_apply_and_after_it_is_unknown(tmp_path, capsys):
    assert _run(tmp_path, _Cluster("apply")) == 4
    assert "node labels were not set and nothing was pruned" in capsys.readouterr().err
    assert _run(tmp_path, _Cluster("prune-read"), prune=True) == 4
    err = capsys.readouterr().err
    assert "interrupted during pruning" in err and "the objects were applied" in err


def test_interrupt_before_sending_or_in_a_dry_run_stays_an_interrupt(tmp_path):
    assert _run(tmp_path, _Cluster("api-resources")) == "interrupt"
    assert _run(tmp_path, _Cluster("apply"), dry_run=True) == "interrupt"  # a dry run persists nothing
