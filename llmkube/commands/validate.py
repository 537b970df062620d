"""`llmkube validate`: check specs and plain manifests; report findings."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from llmkube import pipeline
from llmkube.check.findings import Finding, Severity, object_label
from llmkube.errors import InputError, combined, each
from llmkube.options import Options
from llmkube.report import NO_SCHEMA, Subject, input_error_findings, write_report


def failing(findings: Sequence[Finding], strict: bool) -> bool:
    """Errors fail a run; with --strict, warnings do too."""
    bad = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return any(f.severity in bad for f in findings)


def skipping_missing_schemas(findings: Sequence[Finding]) -> list[Finding]:
    """--ignore-missing-schemas: an object without a schema is reported as skipped (info), not an error."""
    return [
        dataclasses.replace(f, severity=Severity.INFO, message=f"not checked: {f.message}") if f.code == NO_SCHEMA else f
        for f in findings
    ]


def run_validate(
    paths: Sequence[str],
    options: Options,
    *,
    report: str,
    color: str,
    strict: bool = False,
    output_file: Path | None = None,
    ignore_missing_schemas: bool = False,
    sarif_base: Path | None = None,
) -> int:
    """Check, report, and pick the exit code: 0 clean, 1 failing findings, 2 input errors.

    An input error does not cut the report short: the other files are still
    checked, and the machine formats carry the error as a finding at its file and
    line (so a SARIF upload or a JUnit step always gets a complete file). The
    errors are also printed on stderr, as for every command.
    """
    try:
        result, errors = pipeline.run_partial(paths, options)
    except InputError as exc:
        result, errors = None, each(exc)
    findings: list[Finding] = []
    subjects: list[Subject] = []
    if result is not None:
        try:
            findings = result.findings
            subjects = [Subject(object_label(t.obj), t.mark()) for t in result.targets]
        except InputError as exc:
            errors += each(exc)
    if not subjects and not errors:
        errors.append(InputError("no Kubernetes objects or llmkube specs found in the given paths"))
    if ignore_missing_schemas:
        findings = skipping_missing_schemas(findings)
    reported = findings + input_error_findings(errors)
    kw = {"checked": len(subjects), "subjects": subjects, "strict": strict, "sarif_base": sarif_base}
    if report != "text":
        write_report(reported, report, stream=sys.stdout, color=color, **kw)  # type: ignore[arg-type]
    elif subjects:
        write_report(findings, "text", stream=sys.stdout, color=color, **kw)  # type: ignore[arg-type]
    if output_file is not None:
        fmt = report_format_for(output_file, report)
        write_report_file(output_file, reported if fmt != "text" else findings, fmt, **kw)
    if errors:
        raise combined(errors)
    return 1 if failing(findings, strict) else 0


def write_report_file(path: Path, findings: Sequence[Finding], fmt: str, **kw: object) -> None:
    """Write a report file, creating missing parent directories; trouble writing is exit 2."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            write_report(findings, fmt, stream=fh, color="never", **kw)  # type: ignore[arg-type]
    except OSError as exc:
        raise InputError(f"cannot write the report to {path}: {exc.strerror or exc}", hint="check --output-file") from None


def report_format_for(path: Path, default: str) -> str:
    """The machine format a file name asks for (.json, .sarif, .xml); else the -o format."""
    suffix = path.suffix.lower()
    return {".json": "json", ".sarif": "sarif", ".xml": "junit"}.get(suffix, default)
