"""A custom resource is copied and decoded in one walk (check/schemas.py `_prepared`), not copied by
`_plain` and then walked again by an in-place `_prepare`: the same decoded object, the same problems,
and the run's object left as it was. The reference below is the code this replaced, kept as it was."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarint import HexInt, ScalarInt
from ruamel.yaml.scalarstring import LiteralScalarString

from llmkube.check import schemas as schemas_mod
from llmkube.check.schemas import SchemaProblem

from tests.check.test_check_shared_schemas import _broken


def _reference_plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _reference_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reference_plain(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _reference_prepare(value: Any, s: Mapping[str, Any], path: tuple, problems: list, root: bool) -> None:
    """The in-place walk of the copy, as it was (less its defaults memo, which changes no result)."""
    if isinstance(value, dict):
        props = s.get("properties") or {}
        add = s.get("additionalProperties")
        add = add if isinstance(add, Mapping) else None
        for k in [k for k, v in value.items() if v is None]:
            sub = props.get(k, add)
            if sub is not None and sub.get("nullable") is not True and "default" not in sub:
                del value[k]
                want = sub.get("type") or "a value"
                problems.append(
                    SchemaProblem(
                        path + (k,),
                        f"null where the schema allows no null (it wants {want}): dropped on create, "
                        "but refused by server-side apply (llmkube apply, kubectl apply --server-side)",
                        warning=True,
                    )
                )
        for k, sub in [(k, sub) for k, sub in props.items() if "default" in sub]:
            if k not in value or (value[k] is None and sub.get("nullable") is not True):
                value[k] = copy.deepcopy(sub["default"])
        for k, v in value.items():
            if root and k == "metadata":
                continue
            sub = props.get(k, add)
            if sub is not None and isinstance(v, (dict, list)):
                _reference_prepare(v, sub, path + (k,), problems, False)
    elif isinstance(value, list):
        items = s.get("items")
        if not isinstance(items, Mapping):
            return
        for i, item in enumerate(value):
            if isinstance(item, (dict, list)):
                _reference_prepare(item, items, path + (i,), problems, False)
        keys = s.get("x-kubernetes-list-map-keys")
        if s.get("x-kubernetes-list-type") == "map" and keys:
            seen: dict[tuple, int] = {}
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    continue
                ident = tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)
                if ident in seen:
                    shown = ", ".join(f"{k}={json.dumps(item.get(k))}" for k in keys)
                    problems.append(SchemaProblem(path + (i,), f"duplicate entry ({shown}); same keys as item {seen[ident]}"))
                else:
                    seen[ident] = i


def _nulled(doc: Any) -> list[Any]:
    """Copies with every mapping's values set to null one level at a time (pruned or defaulted),
    and with every list's items doubled (duplicate list-map keys)."""
    out = []
    for depth in range(1, 6):
        nulled, doubled = copy.deepcopy(doc), copy.deepcopy(doc)
        stack = [(nulled, 0), (doubled, 0)]
        while stack:
            node, d = stack.pop()
            if isinstance(node, dict):
                for k in list(node):
                    if d == depth and k not in ("apiVersion", "kind") and node is not nulled:
                        node[k] = None
                    else:
                        stack.append((node[k], d + 1))
            elif isinstance(node, list):
                if d == depth:
                    node.extend(copy.deepcopy(node))
                stack.extend((v, d + 1) for v in node)
        out += [nulled, doubled]
    return out


def test_the_one_walk_decodes_and_finds_what_copy_then_prepare_did(crd_store, upstream_crds: Path):
    docs = []
    for path in sorted((upstream_crds / "examples").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and crd_store.lookup(str(doc.get("apiVersion", "")), str(doc.get("kind", ""))):
                docs += [doc, *_broken(doc), *_nulled(doc)]
    assert len(docs) > 300
    pruned = defaulted = duplicates = 0
    for doc in docs:
        crd = crd_store.lookup(doc["apiVersion"], doc["kind"])
        before = copy.deepcopy(doc)
        want_problems: list = []
        want = _reference_plain(doc)
        _reference_prepare(want, crd.schema, (), want_problems, True)
        problems: list = []
        got = schemas_mod._prepared(doc, crd.schema, (), problems, True, {})
        assert got == want and problems == want_problems
        assert json.dumps(got) == json.dumps(want)  # the same key order too
        assert doc == before  # the run's object is not changed
        pruned += any(p.warning for p in problems)
        duplicates += any("duplicate entry" in p.message for p in problems)
        defaulted += _reference_plain(doc) != got
    assert pruned > 20 and duplicates > 5 and defaulted > 50


def test_the_plain_copy_is_the_reference_copy_for_every_kind_of_value():
    odd = CommentedMap()
    odd["hex"] = HexInt(255)
    odd["n"] = ScalarInt(3)
    odd[7] = CommentedSeq([LiteralScalarString("a\n"), (1, 2), datetime.date(2024, 1, 2), b"x", 1.5, True, None])
    odd["plain"] = {"k": [1, "s", {"deep": None}], 8: 9.0}
    for value in (odd, {"plain": [1, 2.0, "x", None, False]}, [odd, (odd,)], "s", 3, None):
        got, want = schemas_mod._plain(value), _reference_plain(value)
        assert got == want and json.dumps(got) == json.dumps(want)
        assert all(type(a) is type(b) for a, b in zip(_leaves(got), _leaves(want), strict=True))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [k for k in value] + [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _core_objects() -> list[Any]:
    """Core-kind objects, clean and broken, as plain data and as the round-trip loader reads them."""
    from llmkube.yamlio import parse_documents, to_plain
    from tests.support.paths import RULE_CASES

    plain, parsed = [], []
    for path in sorted(RULE_CASES.rglob("*.yaml")):
        for doc in parse_documents(path.read_text(), str(path), reference=True):
            api, kind = (doc.data.get("apiVersion"), doc.data.get("kind")) if isinstance(doc.data, Mapping) else (None, None)
            if isinstance(api, str) and isinstance(kind, str) and "." not in api.rpartition("/")[0]:
                plain += [to_plain(doc.data), *_broken(to_plain(doc.data))]
                parsed.append(doc.data)
    odd = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "creationTimestamp": datetime.datetime(2024, 1, 2)}}
    return plain + parsed + [odd, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {1: "a", False: 2}},
                             {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": ({"name": "c"},)}}]


def test_a_core_kind_is_checked_without_a_copy_and_finds_what_the_copy_found(monkeypatch):
    """A core kind is not decoded, so the run's (plain) object goes to jsonschema-rs as it is; what
    jsonschema-rs refuses (ruamel's types, timestamps, int keys) is copied plain first, as before."""
    from llmkube.check.crdstore import CRDStore
    from llmkube.check.schemas import SchemaValidator

    objects = _core_objects()
    assert len(objects) > 300
    validator = SchemaValidator(CRDStore.load([], include_cache=False))
    copies: list[int] = []
    plain = schemas_mod._plain
    monkeypatch.setattr(schemas_mod, "_plain", lambda v: copies.append(1) or plain(v))
    found = []
    for obj in objects:
        before = len(copies)
        found.append(validator.validate(obj))
        if _exact(obj):
            assert len(copies) == before, obj  # a plain object is not copied
    monkeypatch.setattr(schemas_mod, "_plain", plain)
    always = [validator.validate(_reference_plain(obj)) for obj in objects]
    assert found == always
    assert sum(1 for f in found if f) > 100 and sum(1 for o in objects if _exact(o)) > 200
    assert len(copies) >= 3  # the timestamp, the int keys and some ruamel scalar were copied


def _exact(value: Any) -> bool:
    """Only exact JSON types, string keys (what jsonschema-rs takes)."""
    if type(value) is dict:
        return all(type(k) is str and _exact(v) for k, v in value.items())
    if type(value) in (list, tuple):
        return all(_exact(v) for v in value)
    return type(value) in (str, int, float, bool, type(None))
