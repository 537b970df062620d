"""Findings: what a check reports about one object. Plain, sortable data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import Enum
from typing import Any

from llmkube.errors import SourceMark
from llmkube.records import record
from llmkube.yamlio import dotted

__all__ = ["Finding", "Severity", "dotted", "object_label"]


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@record(frozen=True)
class Finding:
    """One problem with one object, pointing at the line that caused it."""

    code: str  # "schema", "cel", "no-schema", or a rule code such as "LK201"
    severity: Severity
    message: str
    object: str  # "ClusterQueue/gpu-training-queue" or "PyTorchJob/ns/name"
    path: str = ""  # field path inside the object, e.g. spec.resourceGroups[0]
    mark: SourceMark | None = None
    hint: str | None = None
    spec_mark: SourceMark | None = field(default=None, compare=False)

    def sort_key(self) -> tuple[str, int, int, str, str, str]:
        """File, line, column first: findings read top to bottom like the files."""
        m = self.mark
        return (m.file if m else "", m.line or 0 if m else 0, m.column or 0 if m else 0, self.object, self.path, self.code)


def object_label(obj: Mapping[str, Any]) -> str:
    """Kind/name, or Kind/namespace/name for a namespaced object."""
    kind = obj.get("kind", "?")
    meta = obj.get("metadata") or {}
    name = meta.get("name", "?") if isinstance(meta, dict) else "?"
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    return f"{kind}/{ns}/{name}" if ns else f"{kind}/{name}"
