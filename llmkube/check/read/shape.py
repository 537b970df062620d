"""Read schema-invalid input without crashing: the schema check reports it, rules skip it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


# `type(v) is dict` first: nearly every value is a plain dict, and the test is ~5× cheaper than the
# ABC check `isinstance(v, Mapping)`, which still answers for the rest (ruamel's maps, other mappings).


def as_mapping(value: Any) -> Mapping[str, Any]:
    """A mapping as written, else {}."""
    return value if type(value) is dict or isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """A list as written, else []."""
    return value if isinstance(value, list) else []


def dig(value: Any, *keys: str) -> Any:
    """value[k1][k2]… through mappings only; None as soon as a step is missing or not a mapping."""
    for key in keys:
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def count(value: Any, default: int = 1) -> int:
    """A replica count as written (an int), else `default`."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def as_int(value: Any) -> int | None:
    """An int, or a string of digits; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_str(value: Any) -> str | None:
    """A string as written, else None (a mapping, list or number where a name belongs is not a name)."""
    return value if isinstance(value, str) else None


def meta(obj: Any) -> Mapping[str, Any]:
    """An object's metadata, or {} when it has none (or it, or the object, is not a mapping):
    `as_mapping(dig(obj, "metadata"))`, written out (the readers and the run index ask it of every object)."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        return {}
    found = obj.get("metadata")
    return found if type(found) is dict or isinstance(found, Mapping) else {}
