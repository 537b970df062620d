"""The translation of CRD schemas and the search for their CEL rules (check/schemas.py `_translate`,
check/cel.py `rule_tree`) were rewritten for speed (docs/performance.md, ninth round): a first run
translates every CRD version its documents use. The functions as they were before are kept here as the
reference; the new ones must give the same output, key order included (the translation cache stores
it as JSON), over every upstream CRD version and a schema that takes every branch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from llmkube.check import cel
from llmkube.check import schemas as schemas_mod

_VALUE_KEYWORDS = (
    "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems",
    "uniqueItems", "minProperties", "maxProperties", "multipleOf", "required",
)


def reference_translate(s: Mapping[str, Any], *, structural: bool = True, root: bool = False) -> dict:
    """`_translate` as it was before the ninth round (session 26), verbatim but for the root's
    apiVersion and kind (session 29: the API server never prunes them from a custom resource)."""
    out: dict[str, Any] = {}
    nullable = structural and s.get("nullable") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    types: list[str] = []
    if s.get("x-kubernetes-int-or-string") is True:
        types = ["integer", "string"]
    elif isinstance(s.get("type"), str):
        types = [s["type"]]
    if types:
        if nullable:
            types.append("null")
        out["type"] = types[0] if len(types) == 1 else types
    for key in _VALUE_KEYWORDS:
        if key in s:
            out[key] = s[key]
    if s.get("exclusiveMinimum") is True and "minimum" in s:
        out["exclusiveMinimum"] = out.pop("minimum")
    if s.get("exclusiveMaximum") is True and "maximum" in s:
        out["exclusiveMaximum"] = out.pop("maximum")
    if "enum" in s:
        out["enum"] = list(s["enum"]) + ([None] if nullable and None not in s["enum"] else [])
    if s.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True

    props = {k: reference_translate(v, structural=structural) for k, v in (s.get("properties") or {}).items()}
    if s.get("x-kubernetes-embedded-resource") is True:
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = reference_metadata_schema(s.get("properties", {}).get("metadata"))
    if root:  # apiVersion and kind allowed at the root whether declared or not: added in session 29
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = reference_metadata_schema((s.get("properties") or {}).get("metadata"))
    if props:
        out["properties"] = props
    if isinstance(s.get("items"), Mapping):
        out["items"] = reference_translate(s["items"], structural=structural)
    add = s.get("additionalProperties")
    if isinstance(add, Mapping):
        out["additionalProperties"] = reference_translate(add, structural=structural)
    elif add is True or preserve:
        pass
    elif structural and (s.get("type") == "object" or "properties" in s) and not (
        s.get("x-kubernetes-int-or-string") is True
    ):
        out["additionalProperties"] = False
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(s.get(key), list):
            out[key] = [reference_translate(x, structural=False) for x in s[key]]
    if isinstance(s.get("not"), Mapping):
        out["not"] = reference_translate(s["not"], structural=False)
    return out


def reference_metadata_schema(declared: Mapping[str, Any] | None) -> dict:
    """`_metadata_schema` over the reference translation."""
    extra = {}
    for key in ("name", "generateName"):
        sub = ((declared or {}).get("properties") or {}).get(key)
        if isinstance(sub, Mapping):
            extra[key] = reference_translate(sub, structural=False)
    if not extra:
        return {"$ref": schemas_mod.OBJECT_META_REF}
    return {"allOf": [{"$ref": schemas_mod.OBJECT_META_REF}, {"properties": extra}]}


def reference_rule_tree(schema: Mapping[str, Any]) -> cel.RuleTree | None:
    """`rule_tree` as it was before the ninth round (session 26), verbatim."""
    if not isinstance(schema, Mapping):
        return None
    rules = tuple(
        cel.Rule.from_schema(e)
        for e in schema.get("x-kubernetes-validations") or ()
        if isinstance(e, Mapping) and e.get("rule")
    )
    props = {}
    for name, sub in (schema.get("properties") or {}).items():
        tree = reference_rule_tree(sub)
        if tree is not None:
            props[name] = tree
    items = reference_rule_tree(schema["items"]) if isinstance(schema.get("items"), Mapping) else None
    add = schema.get("additionalProperties")
    additional = reference_rule_tree(add) if isinstance(add, Mapping) else None
    if not (rules or props or items or additional):
        return None
    return cel.RuleTree(rules, props or None, items, additional)


class _Frozen(Mapping):
    """A mapping that is not a dict (the readers' types may be): the ABC path of the type checks."""

    def __init__(self, data: dict) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


_RULE = [{"rule": "self.a <= self.b", "message": "a after b"}, {"rule": ""}, "not a rule"]
#: Every branch of the translation: nullable enums, exclusive bounds, int-or-string, list sets, embedded
#: resources, preserved fields, schema-valued and boolean additionalProperties, combinators, `not`.
EVERY_BRANCH: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "x-kubernetes-validations": _RULE,
    "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 63}}},
        "spec": {
            "type": "object",
            "nullable": True,
            "minProperties": 1,
            "properties": {
                "mode": {"type": "string", "enum": ["a", "b"], "nullable": True},
                "nullmode": {"type": "string", "enum": ["a", None], "nullable": True},
                "low": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 9, "multipleOf": 3},
                "high": {"type": "number", "maximum": 1.5, "exclusiveMaximum": True},
                "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string", "pattern": "^x"}},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"metadata": {"type": "object"}},
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
                "free": {"type": "object", "additionalProperties": True},
                "kept": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "pick": {
                    "oneOf": [{"required": ["a"]}, {"required": ["b"], "properties": {"b": {"type": "object"}}}],
                    "allOf": [{"minProperties": 1}],
                    "not": {"required": ["c"]},
                    "x-kubernetes-validations": [{"rule": "has(self.a)", "fieldPath": ".a", "reason": "FieldValueInvalid"}],
                },
                "frozen": _Frozen({"type": "object", "items": _Frozen({"type": "string"}), "properties": {}}),
                "oddItems": {"type": "array", "items": [{"type": "string"}]},
            },
        },
    },
}


def _dump(value: Any) -> str:
    return json.dumps(value)  # not sorted: the order of keys is compared too


def _tree(tree: cel.RuleTree | None) -> str:
    return _dump(cel.tree_to_json(tree))


def test_the_translation_matches_the_reference_on_every_branch():
    assert _dump(schemas_mod._translate(EVERY_BRANCH, root=True)) == _dump(reference_translate(EVERY_BRANCH, root=True))
    for node in EVERY_BRANCH["properties"]["spec"]["properties"].values():
        for structural in (True, False):
            assert _dump(schemas_mod._translate(node, structural=structural)) == _dump(
                reference_translate(node, structural=structural)
            )
    assert cel.rule_tree(EVERY_BRANCH) is not None
    assert _tree(cel.rule_tree(EVERY_BRANCH)) == _tree(reference_rule_tree(EVERY_BRANCH))


def test_the_translation_matches_the_reference_on_every_upstream_crd_version(crd_store):
    versions = [crd for group, kind in crd_store.kinds() for crd in crd_store.definitions(group, kind)]
    assert len(versions) >= 30
    with_rules = 0
    for crd in versions:
        label = f"{crd.kind} {crd.api_version}"
        assert _dump(schemas_mod._translate(crd.schema, root=True)) == _dump(reference_translate(crd.schema, root=True)), label
        tree = cel.rule_tree(crd.schema)
        assert _tree(tree) == _tree(reference_rule_tree(crd.schema)), label
        with_rules += tree is not None
    assert with_rules >= 10  # Kueue, JobSet, LeaderWorkerSet, the Trainer's and KServe's CRDs hold CEL rules
