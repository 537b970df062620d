"""`llmkube config`: the effective settings of a run and where each came from."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmkube.config import KEYS, Setting


def run_config(path: Path | None, settings: Mapping[str, Setting], *, report: str) -> int:
    """Print every setting: its value and its source (flag, the file's path:line, default)."""
    if report == "json":
        out = {
            "file": str(path) if path else None,
            "settings": {name: {"value": _plain(s.value), "source": s.source} for name, s in settings.items()},
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0
    sys.stdout.write(f"settings file: {path if path else 'none found (defaults and flags only)'}\n\n")
    rows = [(name, _text(s.value), s.source) for name, s in settings.items()]
    width = max(len(name) for name in KEYS)
    value_width = min(40, max(len(r[1]) for r in rows))
    for name, value, source in rows:
        sys.stdout.write(f"{name:<{width}}  {value:<{value_width}}  {source}\n")
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ", ".join(value) if value else "[]"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) if value else "{}"
    return str(value)
