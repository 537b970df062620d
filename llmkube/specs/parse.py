"""Turn loaded YAML documents into typed specs, with errors at the user's line.

Pure: takes `yamlio.Document`s, returns models or raises `InputError`s. Each
pydantic error becomes one message with `file:line:col`, the field path, what
was expected and a hint (a "did you mean" for misspelt keys).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from llmkube.errors import InputError, combined, each
from llmkube.kinds import KINDS
from llmkube.records import record
from llmkube.specs.base import API_VERSION
from llmkube.yamlio import Document, dotted, kind_word, plain_data, to_plain


M = TypeVar("M", bound=BaseModel)


@record(frozen=True)
class LoadedSpec:
    """A validated spec and the document it came from (for line marks)."""

    spec: Any
    document: Document

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def name(self) -> str:
        return self.spec.metadata.name


def parse_spec(doc: Document) -> LoadedSpec:
    """Validate one llmkube document; raises InputError(s) pointing at the lines."""
    data = doc.data
    if not isinstance(data, Mapping):
        raise InputError("a spec must be a mapping", mark=doc.mark())
    api_version = data.get("apiVersion")
    if api_version != API_VERSION:
        raise InputError(
            f"unsupported apiVersion {api_version!r}",
            mark=doc.mark(("apiVersion",)),
            field="apiVersion",
            hint=f"llmkube reads apiVersion: {API_VERSION}",
        )
    kind = data.get("kind")
    info = KINDS.get(kind) if isinstance(kind, str) else None
    if info is None:
        raise InputError(
            f"unknown kind {kind!r}",
            mark=doc.mark(("kind",)),
            field="kind",
            hint=_did_you_mean(str(kind), KINDS) or f"llmkube kinds are: {', '.join(KINDS)}",
        )
    spec = validate_document(doc, info.model)
    problems = info.semantic(spec)
    if problems:
        errors = [
            InputError(p.message, mark=doc.mark(p.path), field=dotted(p.path), hint=p.hint)
            for p in problems
        ]
        raise combined(errors)
    return LoadedSpec(spec, doc)


def validate_document(doc: Document, model: type[M]) -> M:
    """Validate a document against a pydantic model; errors carry line marks."""
    try:
        return model.model_validate(plain_data(doc))  # the reader's plain twin: no second walk
    except ValidationError as exc:
        raise _errors(doc, model, exc) from None


def parse_specs(docs: Iterable[Document]) -> list[LoadedSpec]:
    """Parse every spec document; report every bad one, not just the first."""
    out: list[LoadedSpec] = []
    errors: list[InputError] = []
    for doc in docs:
        try:
            out.append(parse_spec(doc))
        except InputError as exc:
            errors.extend(each(exc))
    if errors:
        raise combined(errors)
    return out


def _errors(doc: Document, model: type[BaseModel], exc: ValidationError) -> InputError:
    errors = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors():
        loc = _clean_loc(err["loc"])
        message, hint, loc = _describe(err, loc, doc.data, model)
        if (loc, message) in seen:
            continue
        seen.add((loc, message))
        errors.append(InputError(message, mark=doc.mark(loc), field=dotted(loc), hint=hint))
    errors = _collapse_unions(errors)
    return combined(errors)


def _clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    # pydantic adds union member names ("int", "NodeRange", "function-after[...]") to loc
    out: list[str | int] = []
    for elem in loc:
        if isinstance(elem, int):
            out.append(elem)
        elif isinstance(elem, str) and (
            elem[:1].isupper()
            or "[" in elem
            or elem in _TYPE_NAMES
            or elem.startswith(("function-", "constrained-"))
        ):
            continue
        else:
            out.append(elem)
    return tuple(out)


# Keys users often put in the wrong place, with where they belong.
_FIELD_HINTS = {
    "gpu": "GPUs per pod come from `gpusPerNode` (default: the GPU profile's node size)",
    "gpus": "GPUs per pod come from `gpusPerNode` (default: the GPU profile's node size)",
    "replicas": "the number of pods is `nodes` (one pod per node)",
    "cohortName": "the spec key is `cohort`; llmkube writes cohortName or cohort for your Kueue version",
}

_TYPE_NAMES = {"int", "str", "float", "bool", "list", "dict", "none", "literal"}

_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _value_at(data: Any, loc: tuple[str | int, ...]) -> Any:
    cur = data
    for elem in loc:
        try:
            cur = cur[elem]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _describe(
    err: Mapping[str, Any], loc: tuple[str | int, ...], data: Any, model: type[BaseModel]
) -> tuple[str, str | None, tuple[str | int, ...]]:
    etype = err["type"]
    if etype == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        allowed = _allowed_keys(model, loc[:-1])
        hint = _FIELD_HINTS.get(key) if key not in allowed else None
        hint = hint or _did_you_mean(key, allowed)
        if hint is None and allowed:
            hint = "allowed here: " + ", ".join(sorted(allowed))
        return f"unknown field {key!r}", hint, loc
    if etype == "missing":
        key = str(loc[-1]) if loc else "?"
        return f"missing required field {key!r}", f"add `{key}:` here", loc[:-1]
    if etype == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        got = to_plain(_value_at(data, loc))
        return f"invalid value {got!r}: expected one of {expected}", None, loc
    if etype == "string_too_short":
        return "expected a non-empty string, got \"\"", "remove the key to use the default, or give a value", loc
    if etype in _TYPE_WORDS:
        got = to_plain(_value_at(data, loc))
        hint = None
        if isinstance(got, str) and etype.startswith("int") and got.strip().isdigit():
            hint = f"write the number without quotes: {got.strip()}"
        return f"expected {_TYPE_WORDS[etype]}, got {_type_name(got)} {got!r}", hint, loc
    if etype in ("value_error", "assertion_error"):
        msg = str(err.get("ctx", {}).get("error", err["msg"]))
        return msg, None, loc
    if etype in ("greater_than_equal", "greater_than", "less_than_equal", "too_short", "too_long"):
        return f"{err['msg'].lower()} (got {to_plain(_value_at(data, loc))!r})", None, loc
    return err["msg"], None, loc


def _type_name(value: Any) -> str:
    """`a mapping`, `an integer`: YAML words, never a Python class name (CommentedMap)."""
    return kind_word(value).split(" ", 1)[-1]


def _collapse_unions(errors: list[InputError]) -> list[InputError]:
    """A value of a union type fails once per member: merge them into one error.

    When one member took the value's shape and failed on its content (`nodes: {min: 3, max: 2}`
    against `int | NodeRange`), the other members' "expected an integer" is noise: drop it.
    """
    errors = [e for e in errors if not _type_error_beside_a_deeper_one(e, errors)]
    out: list[InputError] = []
    by_field: dict[str | None, InputError] = {}
    for e in errors:
        if e.message.startswith("expected ") and e.field in by_field:
            first = by_field[e.field]
            want, _, got = e.message[len("expected "):].partition(", got ")
            head, _, got0 = first.message[len("expected "):].partition(", got ")
            if want not in head:
                first.message = f"expected {head} or {want}, got {got0}"
            first.hint = first.hint or e.hint
            continue
        if e.message.startswith("expected "):
            by_field[e.field] = e
        out.append(e)
    return sorted(out, key=lambda e: (e.mark.line or 0, e.mark.column or 0) if e.mark else (0, 0))


def _type_error_beside_a_deeper_one(error: InputError, errors: list[InputError]) -> bool:
    if not error.message.startswith("expected ") or error.field is None:
        return False
    field = error.field
    return any(
        other is not error and other.field is not None
        and (
            (other.field == field and not other.message.startswith("expected "))
            or other.field.startswith((field + ".", field + "["))
        )
        for other in errors
    )


def _allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The camelCase keys valid at `loc`, found by walking the model's fields."""
    current: Any = model
    for elem in loc:
        if isinstance(elem, int):
            continue
        fields = _fields(current)
        match = next((f for f in fields.values() if (f.alias or "") == elem), None)
        if match is None:
            return []
        current = match.annotation
    return sorted((f.alias or name) for name, f in _fields(current).items())


def _fields(annotation: Any) -> dict[str, Any]:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.model_fields
    for arg in typing.get_args(annotation):
        found = _fields(arg)
        if found:
            return found
    return {}


def _did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f"did you mean {close[0]!r}?" if close else None
