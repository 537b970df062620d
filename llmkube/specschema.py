"""A JSON Schema of the spec kinds, as users write them, for editors (`llmkube schema`) and `llmkube explain`.

Built from the pydantic models (types, enums, defaults, required keys, camelCase
aliases, `additionalProperties: false` where a model forbids extra keys), with
every field's description from the spec reference (llmkube.fielddocs). Draft-07,
fully inlined (no `$ref`): yaml-language-server 1.x checks schemas against the
draft-07 meta-schema (its yamlSchemaService.js loads ajv's
`json-schema-draft-07.json`), and in draft-07 a keyword beside `$ref` is
ignored, so an inlined node is the only place a per-field description holds.
What the models check beyond a schema (DNS names, quantities, cross-field
rules) stays with `llmkube validate`.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from llmkube.fielddocs import field_docs, kind_summary, plain
from llmkube.specs.base import API_VERSION

DIALECT = "http://json-schema.org/draft-07/schema#"
SCHEMA_ID = "https://llmkube.dev/schemas/v1alpha1/specs.json"

Schema = dict[str, Any]


class _Generator(GenerateJsonSchema):
    """Defaults made by a factory (`Field(default_factory=Resources)`) are shown too; `None` (unset) is not a default."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        default = super().get_default_value(schema)
        return NoDefault if default is None else default  # unset: no value an editor should insert

    def encode_default(self, dft: Any) -> Any:
        return _drop_nulls(super().encode_default(dft))


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _inline(node: Any, defs: dict[str, Schema]) -> Any:
    """`node` with every `$ref` replaced by a copy of its definition and pydantic's titles dropped."""
    if isinstance(node, list):
        return [_inline(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key == "properties":
            out[key] = {name: _inline(sub, defs) for name, sub in value.items()}
        elif key in ("default", "const", "enum", "examples"):
            out[key] = value
        else:
            out[key] = _inline(value, defs)
    return out


def children(node: Schema, path: str) -> Iterator[tuple[str, str, Schema, bool]]:
    """The schema nodes one step below `node` at docs path `path`: (key, docs path, node, required).

    Object properties step by `.key`, list items by `[]`, map values by `.<key>`;
    the members of a union (`int | NodeRange`) are walked at the same path.
    """
    for member in alternatives(node):
        required = set(member.get("required", ()))
        for key, sub in member.get("properties", {}).items():
            yield key, f"{path}.{key}" if path else key, sub, key in required
        items = member.get("items")
        if isinstance(items, dict):
            yield from children(items, path + "[]")
        values = member.get("additionalProperties")
        if isinstance(values, dict):
            yield "<key>", f"{path}.<key>", values, False


def alternatives(node: Schema) -> list[Schema]:
    """The node and the members of its unions, flattened."""
    out = [node]
    for keyword in ("anyOf", "oneOf"):
        for member in node.get(keyword, []):
            out += alternatives(member)
    return out


def _describe(node: Schema, path: str, docs: dict[str, Any], seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    doc = docs.get(path)
    if doc is not None and doc.meaning:
        node["description"] = plain(doc.meaning)
        node["markdownDescription"] = doc.meaning
    for _key, sub_path, sub, _required in list(children(node, path)):
        _describe(sub, sub_path, docs, seen)


@functools.cache
def _kind_schema(kind: str) -> Schema:
    from llmkube.kinds import KINDS

    raw = KINDS[kind].model.model_json_schema(by_alias=True, schema_generator=_Generator)
    defs = raw.pop("$defs", {})
    schema: Schema = _inline(raw, defs)
    schema.pop("description", None)  # the model's docstring; the docs say it better
    summary = kind_summary(kind)
    if summary:
        schema["description"] = plain(summary)
        schema["markdownDescription"] = summary
    _describe(schema, "", field_docs(kind), set())
    return schema


def kind_schema(kind: str) -> Schema:
    """One kind's schema (a fresh copy: callers may change it)."""
    return copy.deepcopy(_kind_schema(kind))


def spec_kinds() -> list[str]:
    from llmkube.kinds import KINDS

    return list(KINDS)


def document_schema(kinds: list[str] | None = None) -> Schema:
    """The schema of one YAML document: any of `kinds` (default: every spec kind), picked by `kind`.

    Each kind is an `if kind is X then <its schema>` clause, so an editor checks a
    document against its own kind only and names the field that is wrong,
    instead of reporting that it matches none of the kinds.
    """
    kinds = kinds or spec_kinds()
    out: Schema = {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "llmkube spec" if len(kinds) > 1 else f"llmkube {kinds[0]}",
        "description": f"An llmkube spec ({API_VERSION}): " + ", ".join(kinds) + ". Written by `llmkube schema`.",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {
            "apiVersion": {"const": API_VERSION, "description": f"Always `{API_VERSION}`."},
            "kind": {"enum": kinds, "description": "The spec kind; selects the fields below."},
        },
    }
    if len(kinds) == 1:
        return {**out, **kind_schema(kinds[0]), "$schema": DIALECT, "$id": SCHEMA_ID, "title": out["title"]}
    out["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": kind_schema(kind),
        }
        for kind in kinds
    ]
    return out

