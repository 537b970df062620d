"""A kubectl that hangs or is killed while changing the cluster: the outcome is reported as unknown (exit 4)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from llmkube.commands import kubeapply
from llmkube.errors import InputError
from llmkube.kubectl import Kubectl, KubectlResult


def fake_kubectl(tmp_path: Path, body: str) -> str:
    script = tmp_path / "kubectl"
    script.write_text(f"#!{sys.executable}\nimport os, sys, time, signal\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_apply_that_times_out_is_unknown_not_an_input_error(tmp_path):
    kc = Kubectl(binary=fake_kubectl(tmp_path, "time.sleep(30)"), timeout=0.5, env=dict(os.environ))
    result = kc.apply("kind: X\n")
    assert result.unknown and not result.ok


def test_read_that_times_out_is_an_input_error(tmp_path):
    kc = Kubectl(binary=fake_kubectl(tmp_path, "time.sleep(30)"), timeout=0.5, env=dict(os.environ))
    with pytest.raises(InputError, match="did not finish within 0.5 s"):
        kc.api_versions()


def test_killed_apply_label_and_delete_are_unknown(tmp_path):
    kc = Kubectl(binary=fake_kubectl(tmp_path, "os.kill(os.getpid(), signal.SIGKILL)"), env=dict(os.environ))
    assert kc.apply("kind: X\n").unknown
    assert kc.label_nodes({"pool": "a"}, {"x": "y"}).unknown
    assert kc.delete([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}]).unknown
    assert not kc.apply("kind: X\n", dry_run_server=True).unknown  # a dry run changes nothing


class _Hanging(Kubectl):
    """Answers the reads of preparation; its apply's outcome is unknown."""

    def check_context(self) -> None:
        pass

    def api_resources(self):
        from llmkube.kubectl import APIResource

        return [APIResource("configmaps", "", "v1", "ConfigMap", True, ("create", "get", "list", "patch"))]

    def api_versions(self):
        return ["v1"]

    def default_namespace(self) -> str:
        return "default"

    def get_objects(self, resources, **kw):
        return [{"kind": "Namespace", "metadata": {"name": "default"}}]

    def apply(self, manifest_yaml, **kw):
        return KubectlResult(["kubectl", "apply"], -1, "", "", unknown=True)


def test_run_apply_reports_unknown_outcome_with_exit_4(tmp_path, capsys):
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: default\ndata:\n  k: v\n")
    from llmkube.options import Options

    code = kubeapply.run_apply(
        [str(path)], Options(), context=None, kubeconfig=None, namespace=None, color="never",
        dry_run_server=False, force_conflicts=False, prune=False, kubectl=_Hanging(timeout=7),
    )
    err = capsys.readouterr().err
    assert code == kubeapply.EXIT_UNKNOWN == 4
    assert "did not finish within 7 s: its outcome is unknown" in err
    assert "nothing was applied" not in err
