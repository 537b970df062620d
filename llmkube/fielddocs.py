"""The spec reference's field tables, read as data: what `explain` and `schema` say about a field.

docs/spec-reference.md documents every field of every kind in a table
(`| field | type | default | required | meaning |`; tests/test_docs.py keeps
it complete and holds it to the models). The pydantic models carry the types,
enums and defaults but little prose, so the prose comes from here, from one
source: the page users read. The page ships inside the package as
`llmkube.builtin_docs` (see pyproject.toml).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from llmkube.records import record
from llmkube.resources import builtin_dir

COMMON_SECTION = "Common fields"


@record(frozen=True)
class FieldDoc:
    """One row of a field table; cells as written (Markdown), `\\|` unescaped."""

    path: str
    type: str
    default: str
    required: str
    meaning: str


def spec_reference_path() -> Path:
    return builtin_dir("llmkube.builtin_docs", "docs") / "spec-reference.md"


@functools.cache
def _sections() -> dict[str, str]:
    text = spec_reference_path().read_text(encoding="utf-8")
    parts = re.split(r"^## +(.+?)\s*$", text, flags=re.M)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2])}


def _cells(row: str) -> list[str]:
    inner = row.strip().strip("|")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _rows(section: str) -> dict[str, FieldDoc]:
    out: dict[str, FieldDoc] = {}
    for table in re.findall(r"(?:^\|.*\n?)+", section, flags=re.M):
        lines = table.splitlines()
        header = [c.lower() for c in _cells(lines[0])]
        if not header or header[0] != "field":
            continue
        for line in lines[2:]:
            cells = dict(zip(header, _cells(line)))
            path = cells.get("field", "").strip("`")
            if not path:
                continue
            meaning = next((v for k, v in cells.items() if k.startswith("meaning")), "")
            out[path] = FieldDoc(path, cells.get("type", ""), cells.get("default", ""), cells.get("required", ""), meaning)
    return out


@functools.cache
def field_docs(kind: str) -> dict[str, FieldDoc]:
    """Every documented field of `kind` by its docs path (`spec.pools[].name`), the common fields included."""
    sections = _sections()
    return {**_rows(sections.get(COMMON_SECTION, "")), **_rows(sections.get(kind, ""))}


def kind_summary(kind: str) -> str:
    """The first paragraph of the kind's section."""
    body = _sections().get(kind, "").strip()
    return " ".join(body.split("\n\n", 1)[0].split()) if body else ""


def plain(markdown: str) -> str:
    """Markdown links as their text (their targets are pages of the docs, not of an editor's hover)."""
    return re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)
