"""`llmkube validate`: check specs and plain manifests; report findings."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import os
import stat
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, overload
from pathlib import Path

from llmkube import runs
from llmkube.check.findings import Finding, Severity, object_label
from llmkube.commands.common import detail, verbose
from llmkube.errors import InputError, combined, each
from llmkube.options import Options
from llmkube.report import NO_SCHEMA, Subject, input_error_findings, write_report

if TYPE_CHECKING:
    from llmkube.check.run import Target


class Subjects(Sequence[Subject]):
    """The objects checked, each labelled and placed when read: only -v and JUnit reports read them
    (placing 2,000 objects costs ~0.05 s a run that does not show them would pay)."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self._targets = targets

    def __len__(self) -> int:
        return len(self._targets)

    @overload
    def __getitem__(self, index: int) -> Subject: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Subject]: ...
    def __getitem__(self, index: int | slice) -> Subject | Sequence[Subject]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        target = self._targets[index]
        return Subject(object_label(target.obj), target.mark())


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
    skip_non_manifests: bool = False,
) -> int:
    """Check, report, and pick the exit code: 0 clean, 1 failing findings, 2 input errors.

    An input error does not cut the report short: the other files are still
    checked, and the machine formats carry the error as a finding at its file and
    line (so a SARIF upload or a JUnit step always gets a complete file). The
    errors are also printed on stderr, as for every command.
    """
    if skip_non_manifests:
        paths = keep_manifests(paths, options)
    try:
        result, errors = runs.run_partial(paths, options)
    except InputError as exc:
        result, errors = None, each(exc)
    findings: list[Finding] = []
    subjects: Sequence[Subject] = []
    if result is not None:
        try:
            findings = result.findings
            subjects = Subjects(result.targets)
        except InputError as exc:
            errors += each(exc)
    if verbose():
        for subject in subjects:
            detail(f"checked {subject.label} at {subject.mark}")
    if not subjects and not errors and not skip_non_manifests:
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


def keep_manifests(paths: Sequence[str], options: Options) -> list[str]:
    """--skip-non-manifests: the files worth checking; the others are named with -v."""
    from llmkube.manifestfiles import split

    try:
        kept, skipped = split(paths, options.limits)
    except InputError:
        return list(paths)  # a missing path: the run reports it
    for path, why in skipped:
        detail(f"skipped {path}: {why}")
    return kept


def write_report_file(path: Path, findings: Sequence[Finding], fmt: str, **kw: object) -> None:
    """Write a report file, creating missing parent directories; trouble writing is exit 2."""
    text = io.StringIO()
    write_report(findings, fmt, stream=text, color="never", **kw)  # type: ignore[arg-type]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        why = f"{blocker} exists and is not a directory" if blocker is not None else exc.strerror or str(exc)
        raise InputError(f"cannot write the report to {path}: {why}", hint="check --output-file") from None
    write_file(path, text.getvalue())


def write_file(path: Path, text: str) -> None:
    """Write the whole report or nothing: a regular file is written beside it and renamed into
    place (an earlier report stays as it was if the disk is full); a device or pipe
    (`/dev/stdout`) is written as it is. A directory, an unwritable place or a full disk is the
    user's to fix (exit 2).
    """
    tmp: Path | None = None
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        if path.exists() and not path.is_file():
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            return
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise InputError(
            f"cannot write the report to {path}: {exc.strerror or exc}",
            hint="give --output-file a file in a writable directory with free space",
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def report_format_for(path: Path, default: str) -> str:
    """The machine format a file name asks for (.json, .sarif, .xml); else the -o format."""
    suffix = path.suffix.lower()
    return {".json": "json", ".sarif": "sarif", ".xml": "junit"}.get(suffix, default)
