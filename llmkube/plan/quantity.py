"""Kubernetes memory quantities: parse to bytes, add, and write back readably."""

from __future__ import annotations

import re
from decimal import Decimal

_SUFFIX = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "m": Decimal("0.001"),
}
_QUANTITY = re.compile(r"^([+]?[0-9.]+)([eE][-+]?[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


def to_bytes(quantity: int | str) -> int:
    """'1500Gi' → 1610612736000; plain numbers are bytes."""
    text = str(quantity).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    number = Decimal(match.group(1) + (match.group(2) or ""))
    return int(number * Decimal(_SUFFIX[match.group(3) or ""]))


def format_bytes(n: int) -> str:
    """The largest binary unit that divides n exactly (bytes as a plain number otherwise)."""
    for unit in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        size = _SUFFIX[unit]
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def add(a: int | str, b: int | str) -> str:
    return format_bytes(to_bytes(a) + to_bytes(b))
