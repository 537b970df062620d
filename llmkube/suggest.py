"""Nearest names to a mistyped one, for "did you mean" hints.

difflib alone ranks by edit similarity of the raw strings, so `H100` is
nearer to `a10g` than to `h100-80gb` (short strings, a case mismatch, a
suffix the user did not type). People type a prefix, in any case, or the
product name a vendor prints; so, in order: an exact case-insensitive match
of a name or an alias, names starting with what was typed (or an alias that
does), then difflib on the lower-cased strings.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping


def nearest(typed: str, names: Iterable[str], aliases: Mapping[str, str] | None = None, *, n: int = 3) -> list[str]:
    """Up to `n` of `names` nearest to `typed`, best first; `aliases` maps other spellings
    (a product label, a display name, a Hugging Face id) to the name they stand for."""
    names = sorted(set(names))
    spellings: dict[str, str] = {name.lower(): name for name in names}
    for alias, name in (aliases or {}).items():
        spellings.setdefault(alias.lower(), name)
    key = typed.strip().lower()
    out: list[str] = []

    def add(name: str) -> None:
        if name not in out:
            out.append(name)

    if key in spellings:
        add(spellings[key])
    if _digits(key) in spellings:  # `LK2O1`: a letter O typed for a zero
        add(spellings[_digits(key)])
    if key:
        canonical = {name.lower() for name in names}
        # Names before aliases, shorter before longer: `h100` → `h100-80gb` before `h100-nvl-94gb`.
        for spelling in sorted(spellings, key=lambda s: (s not in canonical, len(s), s)):
            if spelling.startswith(key) or _squash(spelling).startswith(_squash(key)):
                add(spellings[spelling])
    for spelling in difflib.get_close_matches(key, list(spellings), n=len(spellings), cutoff=0.5):
        add(spellings[spelling])
    return out[:n]


def _squash(s: str) -> str:
    """`H100 80GB`, `h100-80gb` and `NVIDIA-H100` compare alike: no separators."""
    return "".join(c for c in s if c.isalnum())


def _digits(s: str) -> str:
    """Letters that look like digits, read as the digits (o → 0, l and i → 1) after the first
    digit: rule codes (`LK2O1`) and GPU names (`h1OO`) are typed with them. difflib alone ranks
    `LK212` as near to `LK2O1` as `LK201` (one letter each) and breaks the tie the wrong way."""
    first = next((i for i, c in enumerate(s) if c.isdigit()), len(s))
    return s[:first] + s[first:].translate(str.maketrans("oil", "011"))
