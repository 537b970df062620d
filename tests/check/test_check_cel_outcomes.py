"""CEL rules run once per equal value (`cel.evaluate`'s remembered outcomes), and report what running
every rule on every value reports (`remember=False`, the reference): the same problems, paths and
messages, in the same order, over the upstream examples, copies of them broken all over, and values
that print alike but differ in CEL (1, 1.0, True, "1"; int and string keys)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from llmkube.check import cel
from llmkube.check.schemas import SchemaValidator

from tests.check.test_check_prepared_copy import _nulled
from tests.check.test_check_shared_schemas import _broken


def _problems(validator: SchemaValidator, docs: list[Any]) -> list[list]:
    return [validator.validate(d) for d in docs]


def test_remembered_outcomes_are_every_rule_run_afresh(crd_store, upstream_crds: Path, monkeypatch):
    docs = []
    for path in sorted((upstream_crds / "examples").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and crd_store.lookup(str(doc.get("apiVersion", "")), str(doc.get("kind", ""))):
                docs += [doc, *_broken(doc), *_nulled(doc)]
    docs += copy.deepcopy(docs[::5])  # copies answer from what the first left
    assert len(docs) > 400
    cel._OUTCOMES.clear()
    fast = _problems(SchemaValidator(crd_store), docs)
    remembered = len(cel._OUTCOMES)
    monkeypatch.setattr(cel, "evaluate", functools.partial(cel.evaluate, remember=False))
    reference = _problems(SchemaValidator(crd_store), docs)
    assert fast == reference
    found = [p for ps in reference for p in ps if p.source == "cel"]
    assert len(found) > 30 and len({p.message for p in found}) > 5
    assert any(len(p.path) > 2 for p in found)  # rules below the root: outcomes re-rooted
    assert 100 < remembered < sum(len(ps) for ps in reference) * 10


def test_values_alike_in_print_but_not_in_cel_are_told_apart():
    tree = cel.RuleTree(
        (cel.Rule("type(self) == int", message="not an int"), cel.Rule("self != 1", message="one")),
    )
    values = [1, 1.0, True, "1", 2, {"1": 1}, {1: 1}, [1], [1.0], None]
    for value in [*values, *values]:  # the second pass answers from memory
        assert cel.evaluate(tree, value, ("x",)) == cel.evaluate(tree, value, ("x",), remember=False), value
    assert [p.message for p in cel.evaluate(tree, 1, ("x",))] == ["one"]
    assert [p.message for p in cel.evaluate(tree, 1.0, ("x",))] == ["not an int", "one"]
    assert cel.evaluate(tree, 2, ("a", 0)) == [] and cel.evaluate(tree, "1", ("b",))[0].path == ("b",)


def test_an_outcome_with_a_field_path_is_re_rooted_where_the_value_is():
    tree = cel.RuleTree(items=cel.RuleTree((cel.Rule("self.a > 1", message="small", field_path=".a"),)))
    value = [{"a": 1}, {"a": 2}, {"a": 1}]
    got = cel.evaluate(tree, value, ("spec", "list"))
    assert got == cel.evaluate(tree, value, ("spec", "list"), remember=False)
    assert [p.path for p in got] == [("spec", "list", 0, "a"), ("spec", "list", 2, "a")]


def test_a_value_too_deep_to_print_is_evaluated_unremembered():
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    assert cel._value_key(deep) is None
