"""LK2xx, LK4xx and LK5xx rules, driven by the case corpus in tests/cases/rules/.

A case is a file: `tests/cases/rules/<CODE>/fail/*.yaml` names every finding
of <CODE> it expects in header comments (`# expect: LK202 line 9`), and the
rule must report exactly those lines; `…/pass/*.yaml` must give no finding
of <CODE>. Adding a case is adding a file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from llmkube.check.findings import Finding, Severity
from llmkube.check.rules import load_rules
from llmkube.profiles import ProfileStore
from tests.support.cli import llmkube
from tests.support.paths import EXAMPLES
from tests.support.rules import findings_for

CASES = Path(__file__).parent / "cases" / "rules"
MINE = re.compile(r"^LK[245]\d\d$")
EXPECT = re.compile(r"^#\s*expect:\s*(LK\d{3})\s+line\s+(\d+)\s*$", re.M)


# ---- messages that matter ---------------------------------------------------------


def _one(path: Path, code: str, store: ProfileStore) -> list[Finding]:
    return [f for f in findings_for(path, store) if f.code == code]


def test_lk204_says_why_for_each_limit(store):
    found = _one(CASES / "LK204" / "fail" / "textbook-clusterqueue.yaml", "LK204", store)
    borrowing, lending = sorted(found, key=lambda f: f.mark.line)
    assert "CRD's validation rule" in borrowing.message
    assert "webhook" in lending.message and "schema does not" in lending.message
    assert "spec.cohort:" in borrowing.hint  # v1beta1 field name
    (v1beta2,) = _one(CASES / "LK204" / "fail" / "lending-only-v1beta2.yaml", "LK204", store)
    assert "spec.cohortName:" in v1beta2.hint


def test_lk402_hint_carries_a_valid_alternative_and_points_inside_the_block(store):
    (f,) = _one(CASES / "LK402" / "fail" / "textbook-layout-on-h100.yaml", "LK402", store)
    assert "h100-80gb" in f.message and "4g.40gb + 2×2g.20gb" in f.message
    assert f.hint and "closest valid layout: 4g.40gb + 2g.20gb + 1g.20gb" in f.hint
    assert f.path == "data.config.yaml.mig-configs.h100-mixed[0].mig-devices"
    (a30,) = _one(CASES / "LK402" / "fail" / "device-filter-a30.yaml", "LK402", store)
    assert "a30-24gb" in a30.message and "device-filter" in a30.message


def test_lk203_counts_only_flavors_the_pods_can_use(store):
    (f,) = _one(CASES / "LK203" / "fail" / "pytorchjob-over-nominal.yaml", "LK203", store)
    assert "needs 24 nvidia.com/gpu" in f.message and "at most 16" in f.message and "h100" in f.message
    (g,) = _one(CASES / "LK203" / "fail" / "volcano-gang-min-available.yaml", "LK203", store)
    assert "needs 64" in g.message and "at most 48" in g.message


def test_lk201_names_the_gpu_count_in_the_hint(store):
    (f,) = _one(CASES / "LK201" / "fail" / "volcano-torchrun-4-of-8.yaml", "LK201", store)
    assert "--nproc_per_node is 4" in f.message and "8 GPUs" in f.message and "idle" in f.message
    assert f.hint.endswith("--nproc_per_node 8")


def test_lk501_never_prints_the_whole_token(store):
    for f in _one(CASES / "LK501" / "fail" / "literal-tokens.yaml", "LK501", store):
        assert "hf_QwErTyUiOpAsDfGhJkLzXcVbNm12345678" not in f.message
        assert "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" not in f.message
        assert "Secret" in (f.hint or "")


def test_severities():
    rules = load_rules()
    warnings = {"LK206", "LK207", "LK208", "LK209", "LK502"}
    for code, r in rules.items():
        if MINE.match(code):
            assert r.severity is (Severity.WARNING if code in warnings else Severity.ERROR), code


def test_a_finding_is_silenced_by_the_ignore_annotation(store, tmp_path):
    text = (CASES / "LK502" / "fail" / "latest-and-untagged.yaml").read_text(encoding="utf-8")
    text = text.replace("metadata: {name: p}", 'metadata: {name: p, annotations: {llmkube.dev/ignore: "LK502"}}')
    path = tmp_path / "ignored.yaml"
    path.write_text(text, encoding="utf-8")
    assert [f for f in findings_for(path, store) if f.code == "LK502"] == []


# ---- through the CLI -----------------------------------------------------------------


def test_the_examples_give_none_of_these_rules_errors(upstream_crds):
    out = llmkube("validate", str(EXAMPLES), "--crds", str(upstream_crds), "-o", "json")
    report = json.loads(out.stdout)
    mine = [f for f in report["findings"] if MINE.match(f["code"]) and f["severity"] == "error"]
    assert mine == [], mine


@pytest.mark.slow  # ~3.5 s: every example in several orders
def test_cross_object_findings_do_not_depend_on_the_order_of_the_files(upstream_crds):
    # Kueue's tas_sample-queues.yaml and tas_sample-gpu-queues.yaml both define tas-cluster-queue;
    # which one LK205 judged the LeaderWorkerSet against used to follow the file order.
    files = sorted(str(p) for p in (upstream_crds / "examples").rglob("*.yaml"))

    def rule_findings(order: list[str]) -> set[tuple[str, str, int]]:
        out = llmkube("validate", *order, "--crds", str(upstream_crds), "-o", "json")
        report = json.loads(out.stdout)
        return {(f["code"], f["file"], f["line"]) for f in report["findings"] if f["code"].startswith("LK2")}

    forward, backward = rule_findings(files), rule_findings(files[::-1])
    assert not any(code == "LK205" for code, _, _ in forward)
    # LK209 reports the later definition of each pair, so the two orders name different files
    assert {f for f in forward if f[0] != "LK209"} == {f for f in backward if f[0] != "LK209"}
    assert sum(f[0] == "LK209" for f in forward) == sum(f[0] == "LK209" for f in backward) > 0


def test_validate_reports_a_rule_finding_with_its_line_and_exit_code(upstream_crds):
    path = CASES / "LK202" / "fail" / "volcano-job-and-task.yaml"
    out = llmkube("validate", str(path), "--crds", str(upstream_crds))
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{path}:8:3: error [LK202] Job/ml/llama-70b spec.minAvailable:" in out.stdout
    out = llmkube("validate", str(path), "--crds", str(upstream_crds), "--ignore", "LK202")
    assert out.returncode == 0, out.stdout
