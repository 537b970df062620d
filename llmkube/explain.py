"""`llmkube explain KIND[.field.path]`: one spec field's type, default, allowed values, meaning and children.

Like `kubectl explain`: the path is the keys as written in YAML, with lists and
maps stepped through (`Fleet.spec.pools.name`; `[]` may be written too). The
answer comes from the same schema `llmkube schema` writes (llmkube.specschema:
the pydantic models plus the spec reference's field tables).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, field
from typing import Any

from llmkube.errors import InputError
from llmkube.fielddocs import FieldDoc, field_docs, kind_summary, plain
from llmkube.records import record
from llmkube.specs.base import API_VERSION
from llmkube.specschema import Schema, alternatives, children, kind_schema, spec_kinds
from llmkube.suggest import nearest

_NONE = ("", "—", "-", "none")


@record(frozen=True)
class Child:
    name: str
    type: str
    required: bool
    summary: str


@record(frozen=True)
class Explanation:
    kind: str
    api_version: str
    path: str  # docs path (`spec.pools[].name`); "" for the kind itself
    type: str
    docs_type: str
    default: Any
    has_default: bool
    default_text: str
    required: str
    allowed: list[Any]
    description: str
    children: list[Child] = field(default_factory=list)


def type_name(node: Schema) -> str:
    """`integer`, `[]string`, `map[string]integer`, `object`, `integer | object`; `null` left out."""
    members = node.get("anyOf") or node.get("oneOf")
    if members:
        names: list[str] = []
        for member in members:
            if member.get("type") != "null" and (name := type_name(member)) not in names:
                names.append(name)
        return " | ".join(names) or "null"
    if "const" in node:
        return json.dumps(node["const"])
    kind = node.get("type")
    if kind == "array":
        return "[]" + type_name(node.get("items", {}))
    if kind == "object" and not node.get("properties") and isinstance(node.get("additionalProperties"), dict):
        return "map[string]" + type_name(node["additionalProperties"])
    return str(kind or ("string" if "enum" in node else "any"))


def allowed_values(node: Schema) -> list[Any]:
    out: list[Any] = []
    for member in alternatives(node):
        for value in [*member.get("enum", ()), *([member["const"]] if "const" in member else ())]:
            if value not in out:
                out.append(value)
    return out


def resolve_kind(name: str) -> str:
    """The spec kind `name` names (any case, a plural too); an unknown one is an input error with the nearest."""
    kinds = spec_kinds()
    by_lower = {k.lower(): k for k in kinds}
    hit = by_lower.get(name.lower()) or by_lower.get(name.lower().removesuffix("s"))
    if hit:
        return hit
    close = nearest(name, kinds)
    raise InputError(
        f"unknown spec kind {name!r}",
        hint=(f"did you mean {' or '.join(close)}? " if close else "") + "the kinds are " + ", ".join(kinds),
    )


def _segments(text: str) -> list[str]:
    return [s.removesuffix("[]") for s in text.split(".") if s.removesuffix("[]")]


def _descendants(node: Schema, path: str, depth: int = 4) -> list[str]:
    out: list[str] = []
    if depth == 0:
        return out
    for _key, sub_path, sub, _req in children(node, path):
        out.append(sub_path)
        out += _descendants(sub, sub_path, depth - 1)
    return out


def _unknown(kind: str, node: Schema, path: str, segment: str) -> InputError:
    here = {key: sub_path for key, sub_path, _sub, _req in children(node, path) if key != "<key>"}
    close = [here[k] for k in nearest(segment, here)]
    if not close:  # a key one level further down: `TrainingJob.gang` → spec.gang
        close = [p for p in _descendants(node, path) if p.rsplit(".", 1)[-1].lower() == segment.lower()][:3]
    wanted = f"{path}.{segment}" if path else segment
    hint = f"did you mean {' or '.join(f'{kind}.{p}' for p in close)}?" if close else None
    fields = ", ".join(here) if here else "none (it is not an object)"
    return InputError(
        f"{kind} has no field {wanted!r}",
        field=wanted,
        hint=(hint + " " if hint else "") + f"fields of {kind}{'.' + path if path else ''}: {fields}",
    )


def _summary(description: str, width: int = 100) -> str:
    first = description.split(". ", 1)[0].split("; ", 1)[0].strip()
    return textwrap.shorten(first, width, placeholder=" …") if first else ""


def explain(query: str) -> Explanation:
    """What `query` (`TrainingJob.spec.gang`) names; an unknown kind or field is an input error with the nearest."""
    head, _, rest = query.strip().partition(".")
    kind = resolve_kind(head)
    node: Schema = kind_schema(kind)
    path, required = "", True
    for segment in _segments(rest):
        steps = {key: (sub_path, sub, req) for key, sub_path, sub, req in reversed(list(children(node, path)))}
        step = steps.get(segment) or (steps.get("<key>") if segment == "<key>" or "<key>" in steps else None)
        if step is None:
            raise _unknown(kind, node, path, segment)
        path, node, required = step
    doc: FieldDoc | None = field_docs(kind).get(path) if path else None
    description = plain(doc.meaning) if doc else node.get("description", "") if path else plain(kind_summary(kind))
    has_default = "default" in node
    default_text = json.dumps(node["default"]) if has_default else (doc.default if doc and doc.default not in _NONE else "none")
    kids = [
        Child(key, type_name(sub), req, _summary(sub.get("description", "")))
        for key, _sub_path, sub, req in children(node, path)
    ]
    return Explanation(
        kind=kind,
        api_version=API_VERSION,
        path=path,
        type=type_name(node) if path else "object",
        docs_type=plain(doc.type) if doc else "",
        default=node.get("default"),
        has_default=has_default,
        default_text=default_text,
        required=plain(doc.required) if doc and doc.required else ("yes" if required else "no"),
        allowed=allowed_values(node),
        description=description,
        children=kids,
    )


def as_json(e: Explanation) -> str:
    data = asdict(e)
    data["apiVersion"] = data.pop("api_version")
    data["docsType"] = data.pop("docs_type")
    data["hasDefault"] = data.pop("has_default")
    data["defaultText"] = data.pop("default_text")
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def as_text(e: Explanation, width: int = 100) -> str:
    lines = [f"KIND:     {e.kind}", f"VERSION:  {e.api_version}", ""]
    if e.path:
        lines.append(f"FIELD:    {e.path} <{e.type}>")
        if e.docs_type and e.docs_type != e.type:
            lines.append(f"FORMAT:   {e.docs_type}")
        if e.allowed:
            lines.append("VALUES:   " + ", ".join(json.dumps(v) if not isinstance(v, str) else v for v in e.allowed))
        lines.append(f"DEFAULT:  {e.default_text}")
        lines.append(f"REQUIRED: {e.required}")
        lines.append("")
    lines.append("DESCRIPTION:")
    lines += textwrap.wrap(e.description or "(not documented)", width - 4, initial_indent="    ", subsequent_indent="    ")
    if e.children:
        lines += ["", "FIELDS:"]
        for child in e.children:
            lines.append(f"  {child.name} <{child.type}>" + (" -required-" if child.required else ""))
            if child.summary:
                lines += textwrap.wrap(child.summary, width - 4, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines) + "\n"
