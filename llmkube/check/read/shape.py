"""Read schema-invalid input without crashing: the schema check reports it, rules skip it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def as_mapping(value: Any) -> Mapping[str, Any]:
    """A mapping as written, else {}."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """A list as written, else []."""
    return value if isinstance(value, list) else []


def dig(value: Any, *keys: str) -> Any:
    """value[k1][k2]… through mappings only; None as soon as a step is missing or not a mapping."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
