"""Findings → text (for people), json, junit, sarif and github (for machines).

Choices the formats leave open, made once here:

- **input errors** (exit 2: a file that does not parse, a bad spec) are findings
  too, code `input-error`, at their file and line, so every format still carries
  a complete report (`input_error_findings`).
- **junit**: one `<testsuite name="llmkube">` with one `<testcase>` per object
  checked (named `Kind/namespace/name`, classname = its file), so a pass is a
  testcase too. A testcase fails (`<failure type="CODES">`) when the object has a
  finding that fails the run (errors; warnings too with --strict); its other
  findings are in `<system-out>`. An object whose schema was missing and skipped
  (--ignore-missing-schemas) is `<skipped>`. An input error is a testcase with
  `<error type="input-error">` named after its file. Counts (tests, failures,
  errors, skipped) are those of the testcases. A run with nothing to report
  still has one passing testcase, so CI shows "1 test, 0 failures" rather than
  an empty suite. The layout follows the JUnit XSD CI servers read (Jenkins'
  xunit junit-10.xsd; tests/data/report-schemas/junit-10.xsd): no attributes beyond it.
- **sarif**: SARIF 2.1.0; `runs[0].tool.driver.rules` lists every registered
  rule (summary, first paragraph, the docs as help, `helpUri` into docs/rules.md)
  plus the non-rule codes seen; `results` is always present, empty on a clean
  run. Locations are `artifactLocation.uri` relative to `--sarif-base` (default:
  the working directory) with `uriBaseId: "%SRCROOT%"`, which
  `run.originalUriBaseIds` maps to that directory; a file outside it gets an
  absolute file:// URI. Regions are `startLine/startColumn`.
- **github**: one workflow command per finding,
  `::error file=…,line=…,col=…,title=LK201::message` (warning → `::warning`,
  info → `::notice`), escaped per GitHub's rules, then a plain summary line.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from llmkube.check.findings import Finding, Severity
from llmkube.errors import InputError, SourceMark
from llmkube.check.metadata import CODES as METADATA_CODES
from llmkube.lazyre import lazy
from llmkube.oneline import one_line
from llmkube.records import record
from llmkube.secrets import mask

FORMATS = ("text", "json", "junit", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: Where the rule docs are published; `helpUri` is this plus the rule's anchor. Set
#: $LLMKUBE_DOCS_URL to point reports at a fork's or a pinned release's docs.
DOCS_URL = "https://github.com/llmkube/llmkube/blob/main/docs/"
DOCS_URL_ENV = "LLMKUBE_DOCS_URL"
INPUT_ERROR = "input-error"
NO_SCHEMA = "no-schema"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_OTHER_CODES = {
    "schema": "The object does not match the API schema of its kind (core kinds: the bundled Kubernetes schemas; custom resources: the CRD's openAPIV3Schema).",
    "cel": "The object breaks one of its CRD's validation rules (x-kubernetes-validations, CEL), evaluated offline.",
    "no-schema": "No schema is known for this custom resource; pass its CRD with --crds DIR or fetch it with `llmkube crds pull`.",
    INPUT_ERROR: "An input file could not be read or a spec in it is invalid; nothing in it was checked.",
    **METADATA_CODES,
}
#: Where each non-rule code is documented (docs/cli.md).
_OTHER_DOCS = {code: "cli.md#llmkube-validate" for code in _OTHER_CODES}
_OTHER_DOCS[INPUT_ERROR] = "cli.md#exit-codes"


@record(frozen=True)
class Subject:
    """One object checked: its label (Kind/namespace/name) and where it is."""

    label: str
    mark: SourceMark | None = None


def input_error_findings(errors: Sequence[InputError]) -> list[Finding]:
    """Input errors as findings (code `input-error`) at their file and line, for the reports."""
    return [
        Finding(
            code=INPUT_ERROR,
            severity=Severity.ERROR,
            message=err.message,
            object=err.mark.file if err.mark else "input",
            path=err.field or "",
            mark=err.mark,
            hint=err.hint,
        )
        for err in errors
    ]


def missing_schema_advice(findings: Sequence[Finding]) -> str | None:
    """One line for every object left unchecked for want of a schema: which kinds, and the pull that fixes it."""
    missing = [f for f in findings if f.code == NO_SCHEMA]
    if not missing:
        return None
    kinds = sorted({f.object.split("/")[0] for f in missing})
    projects = sorted({m for f in missing for m in re.findall(r"`llmkube crds pull ([a-z-]+)`", f.hint or "")})
    fix = (
        f"run `llmkube crds pull {' '.join(projects)}` or pass --crds DIR"
        if projects
        else "pass their CRDs with --crds DIR, or cache them with `llmkube crds pull FILE|URL`"
    )
    n = len(missing)
    return (
        f"{n} object{'s' * (n != 1)} not checked, no schema for {', '.join(kinds)}: {fix}"
        " (--ignore-missing-schemas skips them)"
    )


def masked(findings: Sequence[Finding]) -> list[Finding]:
    """The findings with token-shaped values in their texts masked: no format prints a token in full."""
    return [
        dataclasses.replace(
            f,
            message=mask(f.message),
            object=mask(f.object),
            path=mask(f.path),
            hint=mask(f.hint) if f.hint else f.hint,
        )
        for f in findings
    ]


def use_color(stream: TextIO, mode: str = "auto") -> bool:
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


_STYLE = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[1;33m", Severity.INFO: "\033[1;36m"}
_RESET = "\033[0m"
_DIM = "\033[2m"


def render_text(findings: Sequence[Finding], *, color: bool = False, checked: int | None = None) -> str:
    """One line (and a hint line) per finding, then the summary; missing schemas are summed up once at the end."""
    findings = masked(findings)
    advice = missing_schema_advice(findings)
    lines = []
    for f in findings:
        where = str(f.mark) if f.mark else "<input>"
        sev = f.severity.value
        if color:
            sev = f"{_STYLE[f.severity]}{sev}{_RESET}"
        head = f"{one_line(where)}: {sev} [{f.code}] {one_line(f.object)}"
        if f.path:
            head += f" {one_line(f.path)}"
        lines.append(f"{head}: {one_line(f.message)}")
        if f.hint and not (advice and f.code == NO_SCHEMA):
            hint = f"  hint: {one_line(f.hint)}"
            lines.append(f"{_DIM}{hint}{_RESET}" if color else hint)
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    if checked is not None:
        summary = f"{checked} object{'s' * (checked != 1)} checked: {summary}"
    lines.append(summary)
    if advice:
        lines.append(f"{_DIM}{one_line(advice)}{_RESET}" if color else one_line(advice))
    return "\n".join(lines) + "\n"


def render_json(findings: Sequence[Finding], *, checked: int | None = None) -> str:
    findings = masked(findings)
    def one(f: Finding) -> dict:
        return {
            "code": f.code,
            "severity": f.severity.value,
            "message": f.message,
            "object": f.object,
            "path": f.path,
            "file": f.mark.file if f.mark else None,
            "line": f.mark.line if f.mark else None,
            "column": f.mark.column if f.mark else None,
            "hint": f.hint,
        }

    return json.dumps(
        {
            "checked": checked,
            "errors": sum(1 for f in findings if f.severity is Severity.ERROR),
            "findings": [one(f) for f in findings],
        },
        indent=2,
    ) + "\n"


def _summary(findings: Sequence[Finding], checked: int | None) -> str:
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    if checked is not None:
        summary = f"{checked} object{'s' * (checked != 1)} checked: {summary}"
    return summary


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llmkube")
    except Exception:  # pragma: no cover - not installed
        return "0"


# ---- junit ----------------------------------------------------------------------


_XML_FORBIDDEN = lazy("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    """Characters XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, surrogates, U+FFFE/F) as escapes."""
    return _XML_FORBIDDEN().sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def _failing_severities(strict: bool) -> set[Severity]:
    return {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}


def _key(label: str, mark: SourceMark | None) -> tuple[str, str]:
    return (label, mark.file if mark else "")


def _by_subject(findings: Sequence[Finding], subjects: Sequence[Subject] | None) -> list[tuple[Subject, list[Finding]]]:
    """Each object checked with its findings; findings on no listed object get a testcase of their own."""
    groups: dict[tuple[str, str], tuple[Subject, list[Finding]]] = {}
    for subject in subjects or ():
        groups.setdefault(_key(subject.label, subject.mark), (subject, []))
    for f in findings:
        if f.code == INPUT_ERROR:
            continue
        key = _key(f.object, f.mark)
        if key not in groups:
            groups[key] = (Subject(f.object, f.mark), [])
        groups[key][1].append(f)
    return list(groups.values())


def _line(f: Finding) -> str:
    """A finding as JUnit text lines. A CI step may print them: each field stays on its line, as in
    the text report (a name with a newline must not start a `::error` line of its own)."""
    where = str(f.mark) if f.mark else "<input>"
    body = f"{one_line(where)}: {f.severity.value} [{f.code}] {one_line(f.object)}{' ' + one_line(f.path) if f.path else ''}: {one_line(f.message)}"
    return body + (f"\n  hint: {one_line(f.hint)}" if f.hint else "")


def render_junit(
    findings: Sequence[Finding],
    *,
    checked: int | None = None,
    subjects: Sequence[Subject] | None = None,
    strict: bool = False,
) -> str:
    """JUnit XML: one testcase per object checked, one per input error (see the module docstring)."""
    import xml.etree.ElementTree as ET

    findings = [
        dataclasses.replace(
            f,
            object=_xml_text(f.object),
            path=_xml_text(f.path) if f.path else f.path,
            message=_xml_text(f.message),
            hint=_xml_text(f.hint) if f.hint else f.hint,
            mark=dataclasses.replace(f.mark, file=_xml_text(f.mark.file)) if f.mark else f.mark,
        )
        for f in masked(findings)
    ]
    subjects = [
        Subject(_xml_text(mask(s.label)), dataclasses.replace(s.mark, file=_xml_text(s.mark.file)) if s.mark else None)
        for s in subjects or ()
    ]
    failing = _failing_severities(strict)
    suite = ET.Element("testsuite", {"name": "llmkube"})
    if checked is not None:
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "checked", "value": str(checked)})
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for err in (f for f in findings if f.code == INPUT_ERROR):
        case = ET.SubElement(suite, "testcase", {"name": err.mark.file if err.mark else "input", "classname": "llmkube.input"})
        where = str(err.mark) if err.mark else "<input>"
        ET.SubElement(case, "error", {"type": INPUT_ERROR, "message": f"{where}: {err.message}"}).text = _line(err)
        counts["tests"] += 1
        counts["errors"] += 1
    for subject, found in _by_subject(findings, subjects):
        case = ET.SubElement(suite, "testcase", {"name": subject.label, "classname": subject.mark.file if subject.mark else "llmkube"})
        counts["tests"] += 1
        bad = [f for f in found if f.severity in failing]
        if bad:
            codes = ",".join(dict.fromkeys(f.code for f in bad))
            first = bad[0]
            where = str(first.mark) if first.mark else "<input>"
            message = f"{where}: {first.message}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
            ET.SubElement(case, "failure", {"type": codes, "message": message}).text = "\n".join(_line(f) for f in bad)
            counts["failures"] += 1
        elif found and all(f.code == NO_SCHEMA for f in found):
            ET.SubElement(case, "skipped", {"message": found[0].message})
            counts["skipped"] += 1
        rest = [f for f in found if f not in bad]
        if rest:
            ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in rest)
    if counts["tests"] == 0:
        ET.SubElement(suite, "testcase", {"name": _summary(findings, checked), "classname": "llmkube"})
        counts["tests"] = 1
    for name, value in counts.items():
        suite.set(name, str(value))
    suites = ET.Element(
        "testsuites",
        {"name": "llmkube validate", "tests": str(counts["tests"]), "failures": str(counts["failures"]), "errors": str(counts["errors"])},
    )
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# ---- sarif ----------------------------------------------------------------------


SRCROOT = "%SRCROOT%"


def _uri(path: str, base: Path) -> tuple[str, bool]:
    """A SARIF artifact URI: relative to `base` (forward slashes, percent-encoded) when under it, else file://."""
    from urllib.parse import quote

    p = Path(path)
    absolute = p if p.is_absolute() else Path.cwd() / p
    try:
        rel = Path(os.path.normpath(absolute)).relative_to(base)
        return quote(rel.as_posix()), True
    except ValueError:
        return Path(os.path.normpath(absolute)).as_uri(), False


def _plain(text: str) -> str:
    """Markdown prose as one plain-text line: code spans and emphasis unmarked, whitespace collapsed."""
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*|(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    return " ".join(text.split())


def _sentence(text: str) -> str:
    text = _plain(text)
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def docs_url(page_and_anchor: str) -> str:
    """The published docs page (and anchor) under $LLMKUBE_DOCS_URL or DOCS_URL."""
    base = os.environ.get(DOCS_URL_ENV) or DOCS_URL
    return base.rstrip("/") + "/" + page_and_anchor


def rule_anchor(code: str, name: str) -> str:
    """The anchor of a rule's heading in docs/rules.md (`### LK201 nproc-per-node` → `lk201-nproc-per-node`)."""
    return f"{code.lower()}-{name.lower()}"


def render_sarif(findings: Sequence[Finding], *, checked: int | None = None, base: str | Path | None = None) -> str:
    """SARIF 2.1.0 (see the module docstring); `base` is the directory URIs are relative to."""
    findings = masked(findings)
    from llmkube.check.rules import load_rules

    root = Path(os.path.normpath(Path(base).absolute() if base is not None else Path.cwd()))
    registry = load_rules()
    rules: list[dict] = []
    index: dict[str, int] = {}
    for code, r in registry.items():
        index[code] = len(rules)
        doc = inspect.cleandoc(r.doc)
        rules.append(
            {
                "id": code,
                "name": r.name,
                "shortDescription": {"text": _sentence(r.summary)},
                "fullDescription": {"text": _sentence(doc.split("\n\n", 1)[0])},
                "help": {"text": doc, "markdown": doc},
                "helpUri": docs_url("rules.md#" + rule_anchor(code, r.name)),
                "defaultConfiguration": {"level": _LEVEL[r.severity]},
                "properties": {"family": code[:3] + "xx"},
            }
        )
    for f in findings:
        if f.code not in index:
            index[f.code] = len(rules)
            text = _sentence(_OTHER_CODES.get(f.code, f.code))
            rule: dict = {"id": f.code, "name": f.code, "shortDescription": {"text": text}, "fullDescription": {"text": text}, "help": {"text": text}}
            if f.code in _OTHER_DOCS:
                rule["helpUri"] = docs_url(_OTHER_DOCS[f.code])
            rules.append(rule)
    results = []
    for f in findings:
        text = f"{f.object}{' ' + f.path if f.path else ''}: {f.message}"
        if f.hint:
            text += f"\nhint: {f.hint}"
        result: dict = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": _LEVEL[f.severity],
            "message": {"text": text},
            "locations": [],
            "properties": {"object": f.object, "path": f.path, "hint": f.hint},
        }
        if f.mark:
            uri, relative = _uri(f.mark.file, root)
            artifact: dict = {"uri": uri}
            if relative:
                artifact["uriBaseId"] = SRCROOT
            physical: dict = {"artifactLocation": artifact}
            if f.mark.line is not None:
                region = {"startLine": f.mark.line}
                if f.mark.column is not None:
                    region["startColumn"] = f.mark.column
                physical["region"] = region
            result["locations"].append({"physicalLocation": physical})
        results.append(result)
    run: dict = {
        "tool": {
            "driver": {
                "name": "llmkube",
                "version": _version(),
                "informationUri": docs_url("cli.md"),
                "rules": rules,
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri() + "/"}},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"checked": checked},
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


# ---- github ---------------------------------------------------------------------


def _gh_data(text: str) -> str:
    """GitHub's workflow-command data escaping (%, CR, LF); other line breaks and controls as escapes.

    The runner reads commands line by line, so a raw U+2028 or NEL could still
    start a line in some viewers: they are shown as backslash escapes.
    """
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return one_line(text)


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding], *, checked: int | None = None) -> str:
    findings = masked(findings)
    command = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines = []
    for f in findings:
        props = []
        if f.mark:
            props.append(f"file={_gh_property(f.mark.file)}")
            if f.mark.line is not None:
                props.append(f"line={f.mark.line}")
            if f.mark.column is not None:
                props.append(f"col={f.mark.column}")
        props.append(f"title={_gh_property(f.code)}")
        text = f"{f.object}{' ' + f.path if f.path else ''}: {f.message}"
        if f.hint:
            text += f"\nhint: {f.hint}"
        lines.append(f"::{command[f.severity]} {','.join(props)}::{_gh_data(text)}")
    lines.append(_summary(findings, checked))
    return "\n".join(lines) + "\n"


def write_report(
    findings: Sequence[Finding],
    fmt: str,
    *,
    checked: int | None = None,
    stream: TextIO = sys.stdout,
    color: str = "auto",
    subjects: Sequence[Subject] | None = None,
    strict: bool = False,
    sarif_base: str | Path | None = None,
) -> None:
    """Write findings in one of FORMATS to `stream` (text gets colour when `color` allows).

    `subjects` (the objects checked) and `strict` shape the JUnit testcases; `sarif_base`
    is the directory SARIF URIs are relative to.
    """
    if fmt == "json":
        stream.write(render_json(findings, checked=checked))
    elif fmt == "junit":
        stream.write(render_junit(findings, checked=checked, subjects=subjects, strict=strict))
    elif fmt == "sarif":
        stream.write(render_sarif(findings, checked=checked, base=sarif_base))
    elif fmt == "github":
        stream.write(render_github(findings, checked=checked))
    elif fmt == "text":
        stream.write(render_text(findings, color=use_color(stream, color), checked=checked))
    else:
        raise ValueError(f"unknown report format {fmt!r} (one of {', '.join(FORMATS)})")
