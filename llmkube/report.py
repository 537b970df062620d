"""Findings → text (for people), json, junit, sarif and github (for machines).

Choices the formats leave open, made once here:

- **junit**: one `<testsuite name="llmkube">`, one `<testcase>` per finding
  (named `CODE object path`, classname = the file). Errors and warnings carry a
  `<failure type="CODE" message="…">` whose text is `file:line:col`, the
  message and the hint; info findings pass, their text in `<system-out>`. A
  clean run has one passing testcase, so CI shows "1 test, 0 failures" rather
  than an empty suite. Per-finding (not per-object) because the reporter
  gets findings and a count; a finding is what a reviewer acts on.
- **sarif**: SARIF 2.1.0; `runs[0].tool.driver.rules` lists every registered
  rule (its docstring as help) plus the non-rule codes seen (schema, cel,
  no-schema); `results` is always present, empty on a clean run. Locations
  are `artifactLocation.uri` (relative to the working directory when the file
  is under it) and `region.startLine/startColumn`.
- **github**: one workflow command per finding,
  `::error file=…,line=…,col=…,title=LK201::message` (warning → `::warning`,
  info → `::notice`), escaped per GitHub's rules, then a plain summary line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import TextIO

from llmkube.check.findings import Finding, Severity
from llmkube.check.metadata import CODES as METADATA_CODES
from llmkube.oneline import one_line
from llmkube.secrets import mask

FORMATS = ("text", "json", "junit", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_OTHER_CODES = {
    "schema": "The object does not match the API schema of its kind (core kinds: the bundled Kubernetes schemas; custom resources: the CRD's openAPIV3Schema).",
    "cel": "The object breaks one of its CRD's validation rules (x-kubernetes-validations, CEL), evaluated offline.",
    "no-schema": "No schema is known for this custom resource; pass its CRD with --crds DIR or fetch it with `llmkube crds pull`.",
    **METADATA_CODES,
}


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
    findings = masked(findings)
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
        if f.hint:
            hint = f"  hint: {one_line(f.hint)}"
            lines.append(f"{_DIM}{hint}{_RESET}" if color else hint)
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    if checked is not None:
        summary = f"{checked} object{'s' * (checked != 1)} checked: {summary}"
    lines.append(summary)
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


_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    """Characters XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, surrogates, U+FFFE/F) as escapes."""
    return _XML_FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def render_junit(findings: Sequence[Finding], *, checked: int | None = None) -> str:
    findings = masked(findings)
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
        for f in findings
    ]

    failing = [f for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)]
    suite = ET.Element(
        "testsuite",
        {
            "name": "llmkube",
            "tests": str(max(len(findings), 1)),
            "failures": str(len(failing)),
            "errors": "0",
            "skipped": "0",
        },
    )
    if checked is not None:
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "checked", "value": str(checked)})
    for f in findings:
        name = " ".join(p for p in (f.code, f.object, f.path) if p)
        case = ET.SubElement(suite, "testcase", {"name": name, "classname": f.mark.file if f.mark else "llmkube"})
        if f.mark:
            case.set("file", f.mark.file)
            if f.mark.line is not None:
                case.set("line", str(f.mark.line))
        where = str(f.mark) if f.mark else "<input>"
        body = f"{where}: {f.severity.value} [{f.code}] {f.object}{' ' + f.path if f.path else ''}: {f.message}"
        if f.hint:
            body += f"\nhint: {f.hint}"
        if f in failing:
            failure = ET.SubElement(case, "failure", {"type": f.code, "message": f"{where}: {f.message}"})
            failure.text = body
        else:
            ET.SubElement(case, "system-out").text = body
    if not findings:
        ET.SubElement(suite, "testcase", {"name": _summary(findings, checked), "classname": "llmkube"})
    suites = ET.Element("testsuites", {"name": "llmkube validate", "tests": suite.get("tests", "0"), "failures": str(len(failing))})
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# ---- sarif ----------------------------------------------------------------------


def _uri(path: str) -> tuple[str, bool]:
    """A SARIF artifact URI: relative (with forward slashes) under the working directory, else file://."""
    from pathlib import Path
    from urllib.parse import quote

    p = Path(path)
    try:
        rel = p.resolve().relative_to(Path.cwd().resolve()) if p.is_absolute() else p
        return quote(rel.as_posix()), True
    except ValueError:
        return p.resolve().as_uri(), False


def render_sarif(findings: Sequence[Finding], *, checked: int | None = None) -> str:
    findings = masked(findings)
    from llmkube.check.rules import load_rules

    registry = load_rules()
    rules: list[dict] = []
    index: dict[str, int] = {}
    for code, r in registry.items():
        index[code] = len(rules)
        rules.append(
            {
                "id": code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.doc.split("\n\n", 1)[0].replace("\n", " ")},
                "help": {"text": r.doc, "markdown": r.doc},
                "defaultConfiguration": {"level": _LEVEL[r.severity]},
                "properties": {"family": code[:3] + "xx"},
            }
        )
    for f in findings:
        if f.code not in index:
            index[f.code] = len(rules)
            text = _OTHER_CODES.get(f.code, f.code)
            rules.append({"id": f.code, "name": f.code, "shortDescription": {"text": text}, "help": {"text": text}})
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
            uri, relative = _uri(f.mark.file)
            artifact: dict = {"uri": uri}
            if relative:
                artifact["uriBaseId"] = "%SRCROOT%"
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
                "rules": rules,
            }
        },
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


_RENDERERS = {"json": render_json, "junit": render_junit, "sarif": render_sarif, "github": render_github}


def write_report(findings: Sequence[Finding], fmt: str, *, checked: int | None = None, stream: TextIO = sys.stdout, color: str = "auto") -> None:
    """Write findings in one of FORMATS to `stream` (text gets colour when `color` allows)."""
    if fmt in _RENDERERS:
        stream.write(_RENDERERS[fmt](findings, checked=checked))
    elif fmt == "text":
        stream.write(render_text(findings, color=use_color(stream, color), checked=checked))
    else:
        raise ValueError(f"unknown report format {fmt!r} (one of {', '.join(FORMATS)})")
