"""`yamlresolve.tag` resolves unquoted scalars exactly as ruamel.yaml's VersionedResolver does, for
YAML 1.1 and 1.2: every string over an alphabet of the characters the type patterns look at, up to
four characters, every unquoted value in the examples and rule cases, and longer spellings of each
type; and the marked loader reads every such number as ruamel's round-trip loader does."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from llmkube import yamlresolve
from llmkube.fastyaml import NeedsReference, load_marked

REPO = Path(__file__).resolve().parents[1]

ALPHABET = "0178_-+.:eExXobBnNyYtTfFulLsaO~<=!&*Z \t\n"
LONGER = [
    "0b1010", "-0b1_0", "0o17", "0o", "017", "0x1F", "0xfg", "0x", "+0x_", "1_000", "1__", "190:20:30", "1:30", "1:30.5",
    "-1:60", "12e3", "1.5e+3", "1.5E-3", ".5e+3", ".5e3", "-.5", "+.inf", "-.Inf", ".NaN", ".nan", "-.nan", "1.", "1.e5",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-1-1 1:00:00", "2001-12-14T21:59:43Z",
    "2001-12-1", "null", "Null", "NULL", "nULL", "~", "", "true\n", "yes", "Yes", "YES", "yEs", "on", "Off", "n", "Y",
    "True", "TRUE", "tRUE", "false", "False", "FALSE", "<<", "<", "=", "==", "!", "&a", "*a", "0.90", "8192", "h100-80gb", "128Gi", "1e", "e5",
]


def _ruamel_tag(resolver: VersionedResolver, value: str) -> str:
    return str(resolver.resolve(ScalarNode, value, (True, False)))


def _values() -> set[str]:
    values = {"".join(chars) for n in range(5) for chars in itertools.product(ALPHABET[:16] if n == 4 else ALPHABET, repeat=n)}
    for path in [*(REPO / "docs" / "examples").glob("*.yaml"), *(REPO / "tests" / "cases" / "rules").rglob("*.yaml")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            _, sep, rest = line.partition(": ")
            if sep:
                values.add(rest.strip())
    return values | set(LONGER)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_tags_equal_ruamels_resolver(version):
    resolver = VersionedResolver(version=tuple(map(int, version.split("."))))
    values = _values()
    assert len(values) > 100_000
    differ = [v for v in values if yamlresolve.tag(v, version) != _ruamel_tag(resolver, v)]
    assert differ == []


def test_needs_quotes_is_either_versions_reading():
    assert yamlresolve.needs_quotes("on") and yamlresolve.needs_quotes("0o17") and yamlresolve.needs_quotes("1:30")
    assert not yamlresolve.needs_quotes("h100-80gb") and not yamlresolve.needs_quotes("128Gi")


def test_the_marked_loader_reads_numbers_bools_and_nulls_as_ruamel_does():
    """Same value, same builtin kind (ruamel's ScalarInt/ScalarFloat are int/float subclasses), or
    left to the reference path where ruamel cannot read the value either."""
    rt = YAML(typ="rt")
    typed = [v for v in _values() if yamlresolve.tag(v) != yamlresolve.STR and "\n" not in v and v.strip() == v and v]
    assert len(typed) > 2_000
    differ, left = [], []
    for value in typed:
        try:
            expected: object = rt.load(f"a: {value}\n")["a"]
        except Exception:
            expected = NeedsReference
        try:
            got: object = load_marked(f"a: {value}\n")[0][0]["a"]
        except NeedsReference:
            got = NeedsReference
        if got is NeedsReference:  # the reference path reads it (or words why it cannot)
            left.append(value)
        elif not (type(got) is _builtin(expected) and (got == expected or got != got and expected != expected)):
            differ.append((value, got, expected))
    assert differ == []
    assert all(tag_left_to_reference(v) or "_" in v for v in left), left  # only odd spellings are left


def tag_left_to_reference(value: str) -> bool:
    """Timestamps and merge keys: the reference loader reads them (ruamel's types, not builtins)."""
    return yamlresolve.tag(value) in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge", "tag:yaml.org,2002:value", "tag:yaml.org,2002:yaml")


def _builtin(value: object) -> type:
    for kind in (bool, int, float):
        if isinstance(value, kind):
            return kind
    return type(value)
