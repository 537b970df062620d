"""Reporters: every format carries every finding, and a clean run is well-formed too."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest

from llmkube.check.findings import Finding, Severity
from llmkube.check.rules import load_rules
from llmkube.errors import SourceMark
from llmkube.report import FORMATS, render_json, render_text, write_report
from tests.support.cli import llmkube
from tests.support.paths import RULE_CASES as CASES

FINDINGS = [
    Finding(
        code="LK201",
        severity=Severity.ERROR,
        message="--nproc_per_node is 4 but each Worker pod gets 8 GPUs: 4 GPUs per pod sit idle",
        object="PyTorchJob/ml/llama",
        path="spec.pytorchReplicaSpecs.Worker.template.spec.containers[0].command[1]",
        mark=SourceMark("deploy/jobs,team a.yaml", 17, 11),
        hint="start one process per GPU: --nproc_per_node 8",
    ),
    Finding(
        code="LK502",
        severity=Severity.WARNING,
        message="image busybox has no tag, so it means :latest\n100% floating",
        object="Pod/p",
        path="spec.containers[0].image",
        mark=SourceMark("deploy/pod.yaml", 6, 5),
    ),
    Finding(code="LK102", severity=Severity.INFO, message="no model profile", object="Deployment/x", mark=SourceMark("d.yaml", 3, 1)),
    Finding(code="cel", severity=Severity.ERROR, message="borrowingLimit needs a cohort", object="ClusterQueue/q", mark=SourceMark("/abs/q.yaml", 7, 1)),
    Finding(code="no-schema", severity=Severity.ERROR, message="no schema for Widget", object="Widget/w"),
]


def report(fmt: str, findings=FINDINGS, checked=9) -> str:
    out = io.StringIO()
    write_report(findings, fmt, checked=checked, stream=out, color="never")
    return out.getvalue()


def test_formats():
    assert FORMATS == ("text", "json", "junit", "sarif", "github")
    with pytest.raises(ValueError):
        report("yaml")


def test_text_and_json_are_unchanged():
    assert report("text") == render_text(FINDINGS, checked=9)
    assert report("json") == render_json(FINDINGS, checked=9)
    data = json.loads(report("json"))
    assert data["checked"] == 9 and data["errors"] == 3 and len(data["findings"]) == 5
    assert data["findings"][0] == {
        "code": "LK201", "severity": "error", "message": FINDINGS[0].message, "object": "PyTorchJob/ml/llama",
        "path": FINDINGS[0].path, "file": "deploy/jobs,team a.yaml", "line": 17, "column": 11, "hint": FINDINGS[0].hint,
    }


# ---- junit ---------------------------------------------------------------------------


def test_junit_one_testcase_per_finding_errors_and_warnings_fail():
    root = ET.fromstring(report("junit"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 5 and suite.get("tests") == "5" and suite.get("failures") == "4"
    first = cases[0]
    assert first.get("name") == f"LK201 PyTorchJob/ml/llama {FINDINGS[0].path}"
    assert first.get("classname") == "deploy/jobs,team a.yaml" and first.get("line") == "17"
    failure = first.find("failure")
    assert failure is not None and failure.get("type") == "LK201"
    assert failure.get("message").startswith("deploy/jobs,team a.yaml:17:11: --nproc_per_node is 4")
    assert "hint: start one process per GPU" in failure.text
    info = cases[2]
    assert info.find("failure") is None and "no model profile" in info.find("system-out").text
    assert suite.find("properties/property[@name='checked']").get("value") == "9"


def test_junit_clean_run_has_one_passing_testcase():
    root = ET.fromstring(report("junit", []))
    (suite,) = root.findall("testsuite")
    (case,) = suite.findall("testcase")
    assert suite.get("failures") == "0" and case.find("failure") is None
    assert "9 objects checked: 0 errors" in case.get("name")


# ---- sarif ---------------------------------------------------------------------------


def test_sarif_carries_rules_results_and_locations():
    data = json.loads(report("sarif"))
    assert data["version"] == "2.1.0" and "sarif-2.1.0" in data["$schema"]
    (run,) = data["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    for code in load_rules():
        assert code in ids
    lk204 = rules[ids.index("LK204")]
    assert "Fails:" in lk204["help"]["text"] and lk204["defaultConfiguration"]["level"] == "error"
    assert {"cel", "no-schema"} <= set(ids)
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["LK201", "LK502", "LK102", "cel", "no-schema"]
    assert [r["level"] for r in results] == ["error", "warning", "note", "error", "error"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "deploy/jobs%2Cteam%20a.yaml"
    assert loc["region"] == {"startLine": 17, "startColumn": 11}
    assert "hint: start one process per GPU" in results[0]["message"]["text"]
    assert results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "file:///abs/q.yaml"
    assert results[4]["locations"] == []


def test_sarif_has_results_even_when_clean():
    data = json.loads(report("sarif", []))
    assert data["runs"][0]["results"] == []
    assert data["runs"][0]["tool"]["driver"]["rules"]


# ---- github --------------------------------------------------------------------------


def test_github_workflow_commands_are_escaped():
    lines = report("github").splitlines()
    assert lines[0] == (
        "::error file=deploy/jobs%2Cteam a.yaml,line=17,col=11,title=LK201::PyTorchJob/ml/llama "
        f"{FINDINGS[0].path}: --nproc_per_node is 4 but each Worker pod gets 8 GPUs: 4 GPUs per pod sit idle"
        "%0Ahint: start one process per GPU: --nproc_per_node 8"
    )
    assert lines[1].startswith("::warning file=deploy/pod.yaml,line=6,col=5,title=LK502::")
    assert "latest%0A100%25 floating" in lines[1]
    assert lines[2].startswith("::notice file=d.yaml,line=3,col=1,title=LK102::")
    assert lines[4] == "::error title=no-schema::Widget/w: no schema for Widget"
    assert lines[-1] == "9 objects checked: 3 errors, 1 warning"


def test_github_clean_run_is_just_the_summary():
    assert report("github", []) == "9 objects checked: 0 errors, 0 warnings\n"


# ---- through the CLI -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["junit", "sarif", "github"])
def test_validate_writes_each_format(upstream_crds, fmt, tmp_path):
    path = CASES / "LK202" / "fail" / "volcano-job-and-task.yaml"
    out = llmkube("validate", str(path), "--crds", str(upstream_crds), "-o", fmt)
    assert out.returncode == 1, out.stderr
    if fmt == "junit":
        failures = ET.fromstring(out.stdout).findall(".//failure")
        assert [f.get("type") for f in failures] == ["LK202", "LK202"]
    elif fmt == "sarif":
        results = json.loads(out.stdout)["runs"][0]["results"]
        assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results] == [
            ("LK202", 8), ("LK202", 17)
        ]
    else:
        assert out.stdout.startswith(f"::error file={path},line=8,col=3,title=LK202::")


def test_output_file_picks_the_format_from_its_suffix(upstream_crds, tmp_path):
    good = CASES / "LK202" / "pass" / "volcano-all-pods.yaml"
    sarif, junit = tmp_path / "r.sarif", tmp_path / "r.xml"
    for target in (sarif, junit):
        out = llmkube("validate", str(good), "--crds", str(upstream_crds), "--output-file", str(target))
        assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(sarif.read_text())["runs"][0]["results"] == []
    assert ET.parse(junit).getroot().find(".//testcase").find("failure") is None
