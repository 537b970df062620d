"""CEL rules: every rule in the shared CRDs compiles and uses only supported functions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from llmkube.check import cel
from llmkube.check.crdstore import CRDStore


def referenced_functions(rule: str) -> set[str]:
    """Named functions a rule calls (operators excluded)."""
    return {f for f in cel.compile_rule(rule).functions() if not f.startswith(("_", "@", "!"))}


def _rules(schema: Any) -> Iterator[dict]:
    if isinstance(schema, dict):
        yield from schema.get("x-kubernetes-validations") or ()
        for value in schema.values():
            yield from _rules(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _rules(value)


@pytest.fixture(scope="module")
def all_rules(upstream_crds: Path) -> dict[str, str]:
    """rule text → CRD kind, across every CRD file (both MPIJob CRDs included)."""
    out: dict[str, str] = {}
    for sub in sorted(p for p in upstream_crds.iterdir() if p.is_dir() and p.name != "examples"):
        store = CRDStore.load([sub], include_cache=False)
        for group, kind in store.kinds():
            for version in store.known_versions(group, kind):
                crd = store.lookup(f"{group}/{version}", kind)
                for entry in _rules(crd.schema):
                    out.setdefault(entry["rule"], kind)
    return out


def test_shared_crds_have_many_rules(all_rules) -> None:
    assert len(all_rules) >= 90
    assert {"ClusterQueue", "LLMInferenceService", "JobSet", "TrainJob"} <= set(all_rules.values())


def test_every_rule_compiles_and_uses_supported_functions(all_rules) -> None:
    unsupported = {}
    for rule in all_rules:
        cel.compile_rule(rule)  # raises CelCompileError
        missing = referenced_functions(rule) - cel.BUILTIN_FUNCTIONS - set(cel.EXTENSION_FUNCTIONS)
        if missing - cel.KNOWN_GAPS:
            unsupported[rule] = missing
    assert unsupported == {}
    # No rule in these CRDs needs a function from the documented gap list.
    assert not any(referenced_functions(r) & cel.KNOWN_GAPS for r in all_rules)


@pytest.mark.parametrize(
    "expr",
    [
        "size('ab') == 2 && size([1]) == 1 && 'ab'.size() == 2",
        "'abc'.matches('^a') && 'abc'.startsWith('a') && 'abc'.endsWith('c') && 'abc'.contains('b')",
        "[1, 2].all(x, x > 0) && [1, 2].exists(x, x == 2) && [1, 2].exists_one(x, x == 2)",
        "[1, 2].map(x, x * 2) == [2, 4] && [1, 2].filter(x, x > 1) == [2]",
        "int('1') == 1 && uint(1) == 1u && double(1) == 1.0 && string(1) == '1'",
        "bytes('a') == b'a' && bool('true') && type(1) == int && dyn(1) == 1",
        "duration('1m') > duration('59s') && timestamp('2024-01-01T00:00:00Z').getFullYear() == 2024",
        "timestamp('2024-03-02T01:02:03Z').getMonth() == 2 && timestamp('2024-03-02T01:02:03Z').getHours() == 1",
        "has(self.a) && !has(self.b)",
    ],
)
def test_builtin_functions_exist(expr) -> None:
    assert cel.evaluate_rule(cel.Rule(expr), {"a": 1}, ()) is None


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("self.lowerAscii() == 'abc' && self.upperAscii() == 'ABC'", "aBc"),
        ("self.split(',') == ['a', 'b', 'c'] && self.split(',', 2) == ['a', 'b,c']", "a,b,c"),
        ("self.replace('a', 'x') == 'xbx' && self.replace('a', 'x', 1) == 'xba'", "aba"),
        ("self.indexOf('b') == 1 && self.lastIndexOf('a') == 2 && self.indexOf('z') == -1", "aba"),
        ("self.substring(1) == 'ba' && self.substring(0, 1) == 'a' && self.charAt(1) == 'b'", "aba"),
        ("self.trim() == 'aba' && 'abc'.reverse() == 'cba'", " aba "),
        ("bool('true') && !bool('f') && bool(self)", True),
        ("self.join('-') == 'a-b' && ['b', 'a'].isSorted() == false && self.isSorted()", ["a", "b"]),
        ("self.sum() == 6 && self.min() == 1 && self.max() == 3", [3, 1, 2]),
    ],
)
def test_kubernetes_extension_functions(expr, value) -> None:
    assert cel.evaluate_rule(cel.Rule(expr), value, ()) is None


def test_false_rule_reports_message_or_rule_text() -> None:
    p = cel.evaluate_rule(cel.Rule("self > 1", message="must exceed 1"), 1, ("spec", "n"))
    assert p == cel.CelProblem(("spec", "n"), "must exceed 1", "self > 1")
    p = cel.evaluate_rule(cel.Rule("self > 1"), 1, ())
    assert p.message == "failed rule: self > 1"


def test_message_expression_falls_back_to_message() -> None:
    rule = cel.Rule("self > 1", message="plain", message_expression="self.nope")
    assert cel.evaluate_rule(rule, 1, ()).message == "plain"
    rule = cel.Rule("self > 1", message_expression="'got ' + string(self)")
    assert cel.evaluate_rule(rule, 1, ()).message == "got 1"


def test_field_path_and_reason() -> None:
    rule = cel.Rule("false", message="m", field_path=".spec.ports['a.b'][2]", reason="FieldValueRequired")
    p = cel.evaluate_rule(rule, {}, ("root",))
    assert p.path == ("root", "spec", "ports", "a.b", 2)
    assert p.message == "required: m"


def test_evaluation_error_is_a_problem_not_a_crash() -> None:
    p = cel.evaluate_rule(cel.Rule("self.a > 1", message="m"), {"a": "x"}, ("spec",))
    assert p.path == ("spec",) and p.message.startswith("CEL rule could not be evaluated")
    p = cel.evaluate_rule(cel.Rule("self.missing == 1"), {}, ())
    assert p.message.startswith("CEL rule could not be evaluated")


def test_transition_rules_are_skipped() -> None:
    assert cel.evaluate_rule(cel.Rule("self == oldSelf"), 1, ()) is None
    assert cel.evaluate_rule(cel.Rule("self == oldSelf", message="m"), {"a": 1}, ()) is None
    # a field whose name merely starts with oldSelf is no transition rule
    assert cel.evaluate_rule(cel.Rule("self.oldSelfish == 1"), {"oldSelfish": 1}, ()) is None
    assert cel.evaluate_rule(cel.Rule("self.oldSelfish == 1", message="m"), {"oldSelfish": 2}, ()) is not None


def test_non_boolean_result_is_reported() -> None:
    p = cel.evaluate_rule(cel.Rule("self + 1"), 1, ())
    assert p is not None and "not a boolean" in p.message


def test_rule_tree_follows_items_and_additional_properties() -> None:
    schema = {
        "type": "object",
        "properties": {
            "list": {"type": "array", "items": {"type": "integer", "x-kubernetes-validations": [{"rule": "self < 10", "message": "small"}]}},
            "map": {"type": "object", "additionalProperties": {"type": "string", "x-kubernetes-validations": [{"rule": "self != 'x'", "message": "not x"}]}},
            "plain": {"type": "string"},
        },
    }
    tree = cel.rule_tree(schema)
    assert set(tree.properties) == {"list", "map"}
    problems = cel.evaluate(tree, {"list": [1, 12], "map": {"k": "x", "j": "y"}, "plain": "p"})
    assert problems == [
        cel.CelProblem(("list", 1), "small", "self < 10"),
        cel.CelProblem(("map", "k"), "not x", "self != 'x'"),
    ]
    assert cel.evaluate(tree, {"list": None}) == []
    assert cel.rule_tree({"type": "object", "properties": {"a": {"type": "string"}}}) is None


def test_rules_compile_once_per_process() -> None:
    first = cel.compile_rule("1 + 1 == 2")
    assert cel.compile_rule("1 + 1 == 2") is first
    with pytest.raises(cel.CelCompileError):
        cel.compile_rule("self.(")


def test_engine_loads_without_the_cel_cli() -> None:
    # `import cel` drags in prompt_toolkit (~370 ms); the validator must not.
    code = (
        "import sys\n"
        "from llmkube.check import cel\n"
        "assert 'cel.cel' not in sys.modules\n"
        "assert cel.evaluate_rule(cel.Rule('self > 1'), 2, ()) is None\n"
        "assert 'prompt_toolkit' not in sys.modules and 'cel.cli' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
