"""Doc coverage: every spec and profile field is documented, and no documented field is invented.

Paths are dotted camelCase keys as users write them:

- `spec.pools[].nodeLabels` — `[]` steps into the items of a list;
- `spec.foo.<key>.bar` — `<key>` steps into the values of a map whose values are objects;
- a union (`nodes: int | {min, max}`) is walked through each object member.

Every field must have a row, `path` in backticks in the first column, in a field
table (header `| field | ...`) of its kind's section (`## Fleet`, ...) or, for the
fields every kind shares (`apiVersion`, `kind`, `metadata.*`, `spec`), of the
`## Common fields` section. Conversely every path in a field table must exist
in the model. A new kind (e.g. `InferenceEndpoint`) is covered as soon as
it is registered in `llmkube.kinds.KINDS`.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from llmkube.profile_schema import GPUProfile, ModelProfile  # the pydantic models: their fields are the documented ones
from llmkube.kinds import KINDS

ROOT = Path(__file__).resolve().parent.parent
SPEC_REFERENCE = ROOT / "docs" / "spec-reference.md"
PROFILES_DOC = ROOT / "docs" / "profiles.md"
EXAMPLES = ROOT / "docs" / "examples"

# The one list of spec kinds: whatever the spec parser accepts.
SPEC_KINDS: dict[str, type[BaseModel]] = {name: info.model for name, info in KINDS.items()}
PROFILE_KINDS: dict[str, type[BaseModel]] = {"GPUProfile": GPUProfile, "ModelProfile": ModelProfile}

# Fields every kind shares; documented once, in this section of each document.
COMMON_SECTION = {SPEC_REFERENCE: "Common fields", PROFILES_DOC: "Common fields"}
COMMON_ROOTS = ("apiVersion", "kind", "metadata")


# --------------------------------------------------------------------------- walking models


def _models_in(annotation: object) -> list[tuple[str, type[BaseModel]]]:
    """The models reachable through one annotation, each with the path suffix to reach it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models_in(args[0])
    if origin in (list, set, frozenset, tuple) or (
        isinstance(origin, type) and issubclass(origin, (list, set, frozenset, tuple))
    ):
        return [("[]" + suffix, m) for a in args if a is not Ellipsis for suffix, m in _models_in(a)]
    if origin is dict or (isinstance(origin, type) and issubclass(origin, dict)):
        return [(".<key>" + suffix, m) for suffix, m in _models_in(args[1])] if len(args) == 2 else []
    if origin in (typing.Union, types.UnionType):
        out: list[tuple[str, type[BaseModel]]] = []
        for a in args:
            out.extend(_models_in(a))
        return out
    return []


def field_paths(model: type[BaseModel], prefix: str = "", _seen: tuple[type, ...] = ()) -> list[str]:
    """Every field path of `model`, recursively, by alias (the key users write)."""
    if model in _seen:  # a recursive model: its fields are listed once
        return []
    out: list[str] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}.{key}" if prefix else key
        out.append(path)
        for suffix, sub in _models_in(info.annotation):
            sub_prefix = path + suffix
            for p in field_paths(sub, sub_prefix, (*_seen, model)):
                if p not in out:
                    out.append(p)
    return out


# --------------------------------------------------------------------------- reading docs


def sections(text: str) -> dict[str, str]:
    """Level-2 sections by title; the text runs to the next level-2 heading."""
    out: dict[str, str] = {}
    parts = re.split(r"^## +(.+?)\s*$", text, flags=re.M)
    for title, body in zip(parts[1::2], parts[2::2]):
        out[title.strip()] = body
    return out


def kind_section(doc: Path, kind: str) -> str:
    secs = sections(doc.read_text(encoding="utf-8"))
    assert kind in secs, f"{doc.relative_to(ROOT)} has no `## {kind}` section"
    return secs[kind]


def common_section(doc: Path) -> str:
    title = COMMON_SECTION[doc]
    secs = sections(doc.read_text(encoding="utf-8"))
    assert title in secs, f"{doc.relative_to(ROOT)} has no `## {title}` section"
    return secs[title]


def table_paths(section: str) -> set[str]:
    """Paths in the first column of the section's field tables (header `| field | ...`)."""
    out: set[str] = set()
    for table in re.findall(r"(?:^\|.*\n?)+", section, flags=re.M):
        rows = table.splitlines()
        if not re.match(r"^\|\s*field\s*\|", rows[0]):
            continue
        for row in rows[2:]:
            m = re.match(r"^\|\s*`([^`]+)`\s*\|", row)
            assert m, f"field table row without a `path` in its first column: {row}"
            out.add(m.group(1))
    return out


def _is_common(path: str) -> bool:
    return path == "spec" or path.split(".")[0].split("[")[0] in COMMON_ROOTS


def _cases(kinds: dict[str, type[BaseModel]], doc: Path) -> list:
    return [pytest.param(doc, kind, model, id=f"{doc.name}:{kind}") for kind, model in kinds.items()]


CASES = _cases(SPEC_KINDS, SPEC_REFERENCE) + _cases(PROFILE_KINDS, PROFILES_DOC)


# --------------------------------------------------------------------------- tests


def test_walker_sees_nested_lists_unions_and_aliases() -> None:
    fleet = field_paths(SPEC_KINDS["Fleet"])
    assert "spec.pools[].nodeLabels" in fleet
    assert "spec.pools[].taints[].effect" in fleet
    job = field_paths(SPEC_KINDS["TrainingJob"])
    assert "spec.nodes.min" in job  # through the int | NodeRange union
    assert "spec.huggingFace.tokenSecret.key" in job
    gpu = field_paths(GPUProfile)
    assert "spec.mig.profiles[].memoryGiB" in gpu  # explicit alias


def test_walker_steps_into_maps_of_models() -> None:
    class Inner(BaseModel):
        leaf: int

    class Outer(BaseModel):
        things: dict[str, list[Inner]]
        either: int | Inner | None = None

    assert field_paths(Outer) == ["things", "things.<key>[].leaf", "either", "either.leaf"]


def undocumented_fields(doc: Path, kind: str, model: type[BaseModel]) -> list[str]:
    """Fields of `model` with no row in the field tables of its section (or the common one)."""
    own, common = table_paths(kind_section(doc, kind)), table_paths(common_section(doc))
    return [p for p in field_paths(model) if p not in own and not (_is_common(p) and p in common)]


@pytest.mark.parametrize(("doc", "kind", "model"), CASES)
def test_every_field_is_documented(doc: Path, kind: str, model: type[BaseModel]) -> None:
    missing = undocumented_fields(doc, kind, model)
    assert not missing, f"{doc.relative_to(ROOT)}, section {kind}: undocumented fields: {missing}"


def test_a_new_field_without_docs_fails() -> None:
    """The check bites: a field added to a nested spec model is reported."""
    from llmkube.specs.base import SpecModel
    from llmkube.specs.trainingjob import NetworkSpec, TrainingJob, TrainingJobSpec

    class NewNetwork(NetworkSpec):
        rdma_devices: int = 0

    class NewSpec(TrainingJobSpec):
        network: NewNetwork = NewNetwork()
        preemptible: bool = False

    class NewJob(TrainingJob):
        spec: NewSpec

    assert issubclass(NewJob, SpecModel)
    missing = undocumented_fields(SPEC_REFERENCE, "TrainingJob", NewJob)
    assert missing == ["spec.network.rdmaDevices", "spec.preemptible"]


@pytest.mark.parametrize(("doc", "kind", "model"), CASES)
def test_no_documented_field_is_invented(doc: Path, kind: str, model: type[BaseModel]) -> None:
    real = set(field_paths(model))
    invented = sorted(table_paths(kind_section(doc, kind)) - real)
    assert not invented, f"{doc.relative_to(ROOT)}, section {kind}: not fields of {kind}: {invented}"


@pytest.mark.parametrize("doc", [SPEC_REFERENCE, PROFILES_DOC], ids=lambda d: d.name)
def test_common_fields_exist_in_every_kind(doc: Path) -> None:
    kinds = SPEC_KINDS if doc == SPEC_REFERENCE else PROFILE_KINDS
    documented = table_paths(common_section(doc))
    for kind, model in kinds.items():
        extra = sorted(documented - set(field_paths(model)))
        assert not extra, f"{doc.relative_to(ROOT)}: common fields not in {kind}: {extra}"


def test_every_example_is_mentioned() -> None:
    text = SPEC_REFERENCE.read_text(encoding="utf-8")
    examples = sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".yml"))
    assert examples, "no examples found"
    missing = [name for name in examples if name not in text]
    assert not missing, f"docs/spec-reference.md does not mention: {missing}"


def test_every_builtin_profile_is_listed() -> None:
    from llmkube.profiles import ProfileStore

    store = ProfileStore.load()
    text = PROFILES_DOC.read_text(encoding="utf-8")
    missing = [n for n in [*store.gpus, *store.models] if f"`{n}`" not in text]
    assert not missing, f"docs/profiles.md does not list built-in profiles: {missing}"
