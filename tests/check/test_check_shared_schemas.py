"""Translated CRD schemas keep each repeated subschema once, under `$defs` (check/schemas.py `_shared`):
the same constraints, the same findings, a smaller schema for jsonschema-rs to compile."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmkube.check import schemas as schemas_mod
from llmkube.check.crdstore import CRDStore
from llmkube.check.schemas import SchemaValidator


def _expand(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with every local `$ref` replaced by what it names (the reverse of `_shared`)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            assert set(node) == {"$ref"}
            return _expand(defs[ref[len("#/$defs/") :]], defs)
        return {k: _expand(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_expand(v, defs) for v in node]
    return node


def test_a_shared_schema_expands_back_to_the_translated_one(crd_store):
    shrunk = 0
    for group, kind in crd_store.kinds():
        for crd in crd_store.definitions(group, kind):
            translated = schemas_mod._translate(crd.schema, root=True)
            shared = schemas_mod._shared(translated)
            assert _expand(shared, shared.get("$defs", {})) == translated, kind
            shrunk += len(json.dumps(shared)) < len(json.dumps(translated)) // 2
    assert shrunk >= 3  # KServe's InferenceService and both LLMInferenceService versions at least


def test_equal_subschemas_are_shared_and_different_ones_are_not():
    container = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$" * 40}}}
    other = copy.deepcopy(container)
    other["properties"]["name"]["maxLength"] = 3  # one keyword apart
    schema = {"type": "object", "properties": {"a": container, "b": copy.deepcopy(container), "c": other}}
    shared = schemas_mod._shared(schema)
    assert shared["properties"]["a"] == shared["properties"]["b"] == {"$ref": shared["properties"]["a"]["$ref"]}
    assert shared["properties"]["c"] == other
    assert list(shared["$defs"].values()) == [container]
    # items and additionalProperties holding the same subschema are different places
    place = {"type": "object", "properties": {"x": {"items": container}, "y": {"additionalProperties": container}}}
    assert _expand(schemas_mod._shared(place), schemas_mod._shared(place).get("$defs", {})) == place


def _broken(doc: Any) -> list[dict]:
    """Copies of a document with every mapping given unknown fields, and with every leaf of the wrong
    type: problems all over the schema, many inside shared subschemas."""
    extra, retyped = copy.deepcopy(doc), copy.deepcopy(doc)
    stack = [extra]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
            first = next((k for k in node if isinstance(k, str) and len(k) > 3), None)
            if first:
                node[first[:-1] + "z"] = 1  # a misspelling: "did you mean"
            node["bogusField"] = 1
        elif isinstance(node, list):
            stack.extend(node)
    stack = [retyped]
    while stack:
        node = stack.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        for k, v in items:
            if k in ("apiVersion", "kind", "metadata"):
                continue
            if isinstance(v, (dict, list)):
                stack.append(v)
            elif isinstance(v, str):
                node[k] = 7
            else:
                node[k] = "seven"
    return [extra, retyped]


@pytest.mark.slow  # every upstream CRD's schema compiled twice: ~10 s
def test_shared_and_inline_schemas_report_the_same_problems(crd_store, upstream_crds: Path, tmp_path: Path):
    """Schemas are shared when the translation is kept (a cache directory); --no-cache checks against the
    inline translation, where sharing would cost about what it saves. Both find the same."""
    docs = []
    for path in sorted((upstream_crds / "examples").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and "/" in str(doc.get("apiVersion", "")) and crd_store.lookup(doc["apiVersion"], doc.get("kind", "")):
                docs += [doc, *_broken(doc)]
    assert len(docs) > 60
    for run in ("fills the cache", "reads it"):
        shared = SchemaValidator(CRDStore.load([upstream_crds], cache_dir=tmp_path / "cache"), kube_version="1.32")
        found = [shared.validate(copy.deepcopy(d)) for d in docs]
        assert any("$defs" in c.schema for c in shared._compiled.values()), run
        inline = SchemaValidator(crd_store, kube_version="1.32")  # no cache: inline schemas
        assert [inline.validate(copy.deepcopy(d)) for d in docs] == found, run
        assert not any("$defs" in c.schema for c in inline._compiled.values())
    assert sum(len(f) for f in found) > 1000
    assert any("did you mean" in p.message for f in found for p in f)
