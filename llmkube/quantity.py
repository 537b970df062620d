"""Kubernetes quantities (`500m`, `16Gi`, `1.5e3`): one exact parser, and byte formatting.

The grammar is the API server's (k8s.io/apimachinery `resource.ParseQuantity`):

    quantity ::= sign? number suffix?
    number   ::= digits | digits "." digits? | "." digits
    suffix   ::= binary SI (Ki Mi Gi Ti Pi Ei) | decimal SI (n u m k M G T P E)
               | decimal exponent ("e" | "E") sign? digits

No whitespace; `1E` is 10^18 while `1E3` is 1000; a suffix and an exponent never
combine. Values are exact `Decimal`s — the API server additionally rounds a
non-zero amount up to whole nano units, which no caller here depends on.
"""

from __future__ import annotations

import math
from decimal import MAX_EMAX, MIN_EMIN, Decimal, localcontext

from llmkube.lazyre import lazy

_QUANTITY = lazy(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}  # powers of two
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}  # powers of ten
_BINARY_UNITS = ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki")


def parse_quantity(text: str) -> Decimal:
    """The exact value of a quantity string; ValueError when the API server would reject it."""
    match = _QUANTITY().fullmatch(text)
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    number, suffix = match["number"], match["suffix"] or ""
    if suffix in _BINARY:
        with localcontext() as ctx:  # wide enough that the product is exact
            ctx.prec, ctx.Emax, ctx.Emin = len(number) + 20, MAX_EMAX, MIN_EMIN
            return Decimal(number) * (2 ** _BINARY[suffix])
    exponent = _DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:])
    return Decimal(f"{number}E{exponent}")


def quantity_value(value: object) -> Decimal | None:
    """A quantity as a manifest holds it (a string, or a YAML int or float); None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return parse_quantity(value)
        except ValueError:
            return None
    return None


def to_bytes(quantity: int | str) -> int:
    """'1500Gi' → 1610612736000; plain numbers are bytes (fractions of a byte are dropped)."""
    try:
        return int(parse_quantity(str(quantity).strip()))
    except ValueError:
        raise ValueError(f"not a memory quantity: {quantity!r}") from None


def format_bytes(n: int) -> str:
    """The largest binary unit that divides n exactly (bytes as a plain number otherwise)."""
    for unit in _BINARY_UNITS:
        size = 2 ** _BINARY[unit]
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def add(a: int | str, b: int | str) -> str:
    """Two memory quantities added, written back exactly."""
    return format_bytes(to_bytes(a) + to_bytes(b))


def human_bytes(n: Decimal) -> str:
    """A byte count for a message: exact binary units where they divide, else one decimal."""
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if n >= size and (n / size) == (n / size).to_integral_value():
            return f"{int(n / size)}{unit}"
    for unit, size in (("Gi", 2**30), ("Mi", 2**20)):
        if n >= size:
            return f"{float(n / size):.1f}{unit}"
    return str(int(n))
