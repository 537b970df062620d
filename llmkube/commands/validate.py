"""`llmkube validate`: check specs and plain manifests; report findings."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from llmkube.check.findings import Severity
from llmkube.check.run import schema_findings
from llmkube.commands.common import build_validator, load_and_render, rendered_targets
from llmkube.errors import InputError
from llmkube.pipeline import Options
from llmkube.report import write_report


def run_validate(
    paths: Sequence[str],
    *,
    report: str,
    profile_dirs: Sequence[str],
    template_dirs: Sequence[str],
    crd_dirs: Sequence[Path],
    kube_version: str,
    kueue_api: str,
    use_cache: bool,
    color: str = "auto",
) -> int:
    options = Options(profile_dirs=profile_dirs, template_dirs=template_dirs, kueue_api=kueue_api)  # type: ignore[arg-type]
    rendering, manifests = load_and_render(paths, options)
    targets = rendered_targets(rendering.objects) + manifests
    if not targets:
        raise InputError("no Kubernetes objects or llmkube specs found in the given paths")
    validator = build_validator(crd_dirs, kube_version, use_cache)
    findings = schema_findings(targets, validator)
    write_report(findings, report, checked=len(targets), stream=sys.stdout, color=color)
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0
