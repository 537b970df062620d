"""Findings → text (for people) or json (for machines)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from llmkube.check.findings import Finding, Severity

FORMATS = ("text", "json")


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
    lines = []
    for f in findings:
        where = str(f.mark) if f.mark else "<input>"
        sev = f.severity.value
        if color:
            sev = f"{_STYLE[f.severity]}{sev}{_RESET}"
        head = f"{where}: {sev} [{f.code}] {f.object}"
        if f.path:
            head += f" {f.path}"
        lines.append(f"{head}: {f.message}")
        if f.hint:
            hint = f"  hint: {f.hint}"
            lines.append(f"{_DIM}{hint}{_RESET}" if color else hint)
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    if checked is not None:
        summary = f"{checked} object{'s' * (checked != 1)} checked: {summary}"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def render_json(findings: Sequence[Finding], *, checked: int | None = None) -> str:
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


def write_report(findings: Sequence[Finding], fmt: str, *, checked: int | None = None, stream: TextIO = sys.stdout, color: str = "auto") -> None:
    if fmt == "json":
        stream.write(render_json(findings, checked=checked))
    else:
        stream.write(render_text(findings, color=use_color(stream, color), checked=checked))
