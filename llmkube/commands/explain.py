"""`llmkube explain` and `llmkube schema`: the spec kinds described, for people and for editors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from llmkube.errors import InputError
from llmkube.explain import as_json, as_text, explain


def run_explain(query: str, *, report: str) -> int:
    e = explain(query)
    sys.stdout.write(as_json(e) if report == "json" else as_text(e))
    return 0


def run_schema(kinds: list[str], *, output: Path | None) -> int:
    from llmkube.explain import resolve_kind
    from llmkube.specschema import document_schema

    text = json.dumps(document_schema([resolve_kind(k) for k in kinds] or None), indent=2, ensure_ascii=False) + "\n"
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return 0
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    return 0
