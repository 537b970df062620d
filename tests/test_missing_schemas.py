"""Objects no schema describes: said once, at the end, with the pull that fixes it; or skipped on request."""

from __future__ import annotations

import io
import json
import sys
import xml.etree.ElementTree as ET

from llmkube.commands.render import run_render
from llmkube.options import Options
from tests.support.cli import llmkube
from tests.support.paths import EXAMPLES, VALIDATE_CASES

QUEUES = """\
apiVersion: kueue.x-k8s.io/v1beta2
kind: LocalQueue
metadata: {name: team-a, namespace: ml}
spec: {clusterQueue: gpus}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: LocalQueue
metadata: {name: team-b, namespace: ml}
spec: {clusterQueue: gpus}
---
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata: {name: js, namespace: ml}
spec: {replicatedJobs: []}
"""


def test_validate_says_once_at_the_end_which_pull_fixes_it(tmp_path):
    path = tmp_path / "queues.yaml"
    path.write_text(QUEUES)
    out = llmkube("validate", str(path), "--no-cache")
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert sum("[no-schema]" in line for line in lines) == 3  # each object is still listed ...
    assert not any(line.startswith("  hint:") for line in lines)  # ... without the same hint three times
    assert lines[-2] == "3 objects checked: 3 errors, 0 warnings"
    assert lines[-1] == (
        "3 objects not checked, no schema for JobSet, LocalQueue: run `llmkube crds pull jobset kueue` or pass "
        "--crds DIR (--ignore-missing-schemas skips them)"
    )


def test_ignore_missing_schemas_skips_them_like_kubeconform(tmp_path):
    out = llmkube("validate", str(VALIDATE_CASES / "unknown-crd.yaml"), "--no-cache", "--ignore-missing-schemas", "-o", "json")
    assert out.returncode == 0, out.stdout + out.stderr
    (finding,) = json.loads(out.stdout)["findings"]
    assert finding["code"] == "no-schema" and finding["severity"] == "info" and finding["message"].startswith("not checked:")
    junit = llmkube("validate", str(VALIDATE_CASES / "unknown-crd.yaml"), "--no-cache", "--ignore-missing-schemas", "-o", "junit")
    (suite,) = ET.fromstring(junit.stdout).findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("1", "0", "1")
    # Without the flag, a missing schema stays an error (a typo in an apiVersion must not pass);
    # a kind no catalog project defines gets the general advice.
    plain = llmkube("validate", str(VALIDATE_CASES / "unknown-crd.yaml"), "--no-cache")
    assert plain.returncode == 1
    assert plain.stdout.splitlines()[-1] == (
        "1 object not checked, no schema for Widget: pass their CRDs with --crds DIR, or cache them with "
        "`llmkube crds pull FILE|URL` (--ignore-missing-schemas skips them)"
    )


def test_render_notes_missing_schemas_last_so_a_terminal_shows_it(monkeypatch):
    both = io.StringIO()  # one stream for stdout and stderr: the order a terminal shows
    monkeypatch.setattr(sys, "stdout", both)
    monkeypatch.setattr(sys, "stderr", both)
    spec = str(EXAMPLES / "01-h100-fleet-and-team-quota.yaml")
    assert run_render([spec], Options(use_cache=False), output_dir=None, fmt="yaml", color="never") == 0
    text = both.getvalue().rstrip("\n")
    last = text.splitlines()[-1]
    assert last.startswith("llmkube: note: ") and "not checked, no schema for" in last
    assert "run `llmkube crds pull kueue`" in last
    assert text.count("not checked") == 1
    both.seek(0)
    both.truncate()
    assert run_render([spec], Options(use_cache=False), output_dir=None, fmt="yaml", color="never", ignore_missing_schemas=True) == 0
    assert "not checked" not in both.getvalue()
