"""`llmkube validate`: check specs and plain manifests; report findings."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from llmkube import pipeline
from llmkube.check.findings import Finding, Severity
from llmkube.errors import InputError
from llmkube.options import Options
from llmkube.report import write_report


def failing(findings: Sequence[Finding], strict: bool) -> bool:
    """Errors fail a run; with --strict, warnings do too."""
    bad = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return any(f.severity in bad for f in findings)


def run_validate(
    paths: Sequence[str],
    options: Options,
    *,
    report: str,
    color: str,
    strict: bool = False,
    output_file: Path | None = None,
) -> int:
    result = pipeline.run(paths, options)
    targets = result.targets
    if not targets:
        raise InputError("no Kubernetes objects or llmkube specs found in the given paths")
    findings = result.findings
    write_report(findings, report, checked=len(targets), stream=sys.stdout, color=color)
    if output_file is not None:
        fmt = report_format_for(output_file, report)
        with open(output_file, "w", encoding="utf-8") as fh:
            write_report(findings, fmt, checked=len(targets), stream=fh, color="never")
    return 1 if failing(findings, strict) else 0


def report_format_for(path: Path, default: str) -> str:
    """The machine format a file name asks for (.json, .sarif, .xml); else the -o format."""
    suffix = path.suffix.lower()
    return {".json": "json", ".sarif": "sarif", ".xml": "junit"}.get(suffix, default)
