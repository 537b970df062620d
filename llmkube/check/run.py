"""Run the checks over output objects and turn problems into findings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from llmkube.apimachinery import api_group
from llmkube.check.findings import Finding, Severity, dotted, object_label
from llmkube.check.metadata import metadata_findings
from llmkube.errors import SourceMark
from llmkube.records import record
from llmkube.yamlio import Document

if TYPE_CHECKING:  # checking plain manifests needs no spec models
    from llmkube.specs.parse import LoadedSpec


@record
class Target:
    """An object to check, and where it came from: a manifest or a spec."""

    obj: dict[str, Any]
    document: Document | None = None  # a hand-written manifest
    spec: LoadedSpec | None = None  # the spec it was rendered from
    #: What readers derived from `obj`, kept for the run (check/read: e.g. its pod groups); `obj` is not
    #: changed once checking starts.
    reads: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def mark(self, path: tuple[str | int, ...] = ()) -> SourceMark | None:
        """The user's line: in the manifest, or the spec field the output field came from."""
        if self.document is not None:
            return self.document.mark(path)
        if self.spec is not None:
            from llmkube.check.provenance import spec_path

            data = self.spec.document.data
            spec = data.get("spec") if hasattr(data, "get") else None
            where = spec_path(self.spec.kind, self.obj, path, spec or {}) if path else ()
            return self.spec.document.mark(where)
        return None


def _is_fictional_mig_config(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "MIGConfig" and str(obj.get("apiVersion", "")).startswith("nvidia.com/")


def _pull_hint(obj: dict[str, Any]) -> str:
    """How to get the missing CRD: the catalog project that defines its group, when one does."""
    from llmkube.check.crdcatalog import projects_for_group

    group = api_group(obj)
    names = " or ".join(f"`llmkube crds pull {p.name}`" for p in projects_for_group(group))
    return (
        f"fetch it once with {names}, or pass the CRD with --crds DIR"
        if names
        else "pass the CRD with --crds DIR, or fetch it once with `llmkube crds pull FILE|URL`"
    )


def schema_findings(targets: Iterable[Target], validator: Any) -> list[Finding]:
    """Schema, CEL and missing-schema problems, and what apimachinery refuses (check.metadata), as findings."""
    findings: list[Finding] = []
    for target in targets:
        findings += metadata_findings(target.obj, target.mark)
        problems = validator.validate(target.obj)
        label = object_label(target.obj) if problems else ""  # most objects have none
        for problem in problems:
            if problem.source == "no-schema" and _is_fictional_mig_config(target.obj):
                continue  # rule LK406 says what to use instead
            if problem.source == "no-schema":
                findings.append(
                    Finding(
                        code="no-schema",
                        severity=Severity.ERROR,
                        message=problem.message,
                        object=label,
                        mark=target.mark(),
                        hint=_pull_hint(target.obj),
                    )
                )
                continue
            findings.append(
                Finding(
                    code=problem.source,
                    severity=Severity.WARNING if problem.warning else Severity.ERROR,
                    message=problem.message,
                    object=label,
                    path=dotted(problem.path),
                    mark=target.mark(tuple(problem.path)),
                    hint=("from the CRD rule: " + problem.rule) if problem.rule
                    else "remove the key, or give it a value" if problem.warning else None,
                    spec_mark=target.spec.document.mark() if target.spec else None,
                )
            )
    return sorted(findings, key=Finding.sort_key)
