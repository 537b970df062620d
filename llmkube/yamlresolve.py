"""Which type a YAML 1.1 or 1.2 reader gives an unquoted scalar (its implicit tag).

Used on every run: the marked loader (`fastyaml.load_marked`) types the spec's unquoted values as
YAML 1.2 does, and the dumper (`yamlio`) quotes every string a 1.1 or 1.2 reader would read as
something else. Kept here, and not taken from ruamel.yaml's `VersionedResolver`, so that a run on
the fast path never imports ruamel.yaml (~9 ms of a render's start-up; the reference loader still
uses it). The patterns are the YAML type definitions (yaml.org/type/{bool,float,int,null,merge,
timestamp,value}.html for 1.1; the 1.2 core schema) as ruamel.yaml 0.19.1 spells them
(`ruamel/yaml/resolver.py`, `implicit_resolvers`), tried in the same order for the same first
characters: tests/test_yamlresolve.py holds `tag` equal to ruamel's resolver for both versions.
"""

from __future__ import annotations

import re

STR = "tag:yaml.org,2002:str"

_BOOL_12 = "true|True|TRUE|false|False|FALSE"
_INF_NAN = r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"

#: (versions, tag, pattern, first characters it can match), in ruamel's order.
_RESOLVERS: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("1.2",), "bool", _BOOL_12, "tTfF"),
    (("1.1",), "bool", "y|Y|yes|Yes|YES|n|N|no|No|NO|" + _BOOL_12 + "|on|On|ON|off|Off|OFF", "yYnNtTfFoO"),
    (
        ("1.2",),
        "float",
        r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
        r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?" + _INF_NAN,
        "-+0123456789.",
    ),
    (
        ("1.1",),
        "float",
        r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
        r"|\.[0-9_]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*" + _INF_NAN,  # sexagesimal float
        "-+0123456789.",
    ),
    (("1.2",), "int", r"[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+", "-+0123456789"),
    (
        ("1.1",),
        "int",
        r"[-+]?0b[0-1_]+|[-+]?0?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",  # sexagesimal int
        "-+0123456789",
    ),
    (("1.2", "1.1"), "merge", "<<", "<"),
    (("1.2", "1.1"), "null", "~|null|Null|NULL|", "~nN"),  # and the empty string
    (
        ("1.2", "1.1"),
        "timestamp",
        r"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
        r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
        r"(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?"
        r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?",
        "0123456789",
    ),
    (("1.2", "1.1"), "value", "=", "="),
    (("1.2", "1.1"), "yaml", r"!|&|\*", "!&*"),  # cannot occur unquoted; kept as ruamel has it
)


def _table(version: str) -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    by_first: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for versions, tag, pattern, first in _RESOLVERS:
        if version in versions:
            compiled = re.compile(f"(?:{pattern})$")  # `$` as ruamel's: also before a final newline
            for ch in [*first, ""] if tag == "null" else first:  # "": the empty string's entry
                by_first.setdefault(ch, []).append((f"tag:yaml.org,2002:{tag}", compiled))
    return by_first


_TABLES: dict[str, dict[str, list[tuple[str, re.Pattern[str]]]]] = {}


def tag(value: str, version: str = "1.2") -> str:
    """The tag a YAML `version` reader resolves the unquoted scalar `value` to (STR if none)."""
    table = _TABLES.get(version)
    if table is None:
        table = _TABLES[version] = _table(version)
    for name, pattern in table.get(value[:1], ()):
        if pattern.match(value):
            return name
    return STR


def needs_quotes(value: str) -> bool:
    """Whether a YAML 1.1 or 1.2 reader would read `value`, unquoted, as something else than a string."""
    return tag(value, "1.1") != STR or tag(value, "1.2") != STR
