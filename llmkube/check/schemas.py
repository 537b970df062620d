"""Schema validation of Kubernetes objects, offline, the way the API server would do it.

Core kinds are checked against kubernetes-validate's bundled *strict* JSON schemas
for one Kubernetes version, loaded and compiled once per process (its own
`validate()` re-reads 1.3 MB of JSON per call). Custom resources are checked
against their CRD's `openAPIV3Schema`, translated as the API server reads a
structural schema: int-or-string, nullable, unknown fields rejected (kubectl's
default field validation is Strict) unless preserved, embedded resources,
root metadata as ObjectMeta, formats not asserted. Before that the object is
prepared like the API server does: nulls in non-nullable fields pruned, then
schema defaults applied. The CRD's CEL rules then run over that prepared object.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import importlib.util
import json
import re
from dataclasses import field
from functools import lru_cache
from pathlib import Path
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

import jsonschema_rs

from llmkube import diskcache
from llmkube.check import builtin_validation
from llmkube.check.crdstore import CRDStore, CRDVersion
from llmkube.errors import InputError
from llmkube.options import DEFAULT_KUBE_VERSION
from llmkube.records import record

if TYPE_CHECKING:  # the CEL rules are read for CRDs only: a run of core kinds does not import them
    from llmkube.check import cel

DEFS_URI = "https://kubernetes.io/api/_definitions.json"
OBJECT_META_REF = DEFS_URI + "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_OBJECT_META_ROOT = frozenset({"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"})  # what a translated CRD schema refers to
#: The translated-schema side cache keeps this many entries (CRD versions and core-kind definitions).
TRANSLATED_KEEP = 128
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_CRD_HINT = "pass the CRD files with --crds DIR, or fetch them with `llmkube crds pull`"
_VERSION_DIR = re.compile(r"^v(\d+)\.(\d+)\.0-local-strict$")

Path_ = tuple[str | int, ...]


@record(frozen=True, order=True)
class SchemaProblem:
    """One way an object breaks its schema: where, what, and which checker said so."""

    path: Path_
    message: str
    source: str = "schema"  # "schema" | "cel" | "no-schema"
    rule: str | None = None
    warning: bool = False  # accepted on some write paths, refused on others


# --------------------------------------------------------------------------- core kinds


@lru_cache(maxsize=1)
def _schema_root() -> Path:
    # find_spec, not import: kubernetes_validate imports jsonschema + referencing (slow).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("kubernetes-validate is not installed; it bundles the core schemas")
    return Path(list(spec.submodule_search_locations)[0]) / "kubernetes-json-schema"


@lru_cache(maxsize=1)
def available_kube_versions() -> tuple[str, ...]:
    """Kubernetes minor versions with bundled strict schemas, e.g. ("1.28", ..., "1.37")."""
    found = []
    for d in _schema_root().iterdir():
        m = _VERSION_DIR.match(d.name)
        if m:
            found.append((int(m.group(1)), int(m.group(2))))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


def _version_dir(kube_version: str) -> Path:
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?$", kube_version.strip())
    versions = available_kube_versions()
    if not m or f"{int(m.group(1))}.{int(m.group(2))}" not in versions:
        raise InputError(
            f"no bundled schemas for Kubernetes version {kube_version!r}",
            field="--kube-version",
            hint="available: " + ", ".join(versions),
        )
    return _schema_root() / f"v{int(m.group(1))}.{int(m.group(2))}.0-local-strict"


#: Fields the OpenAPI of built-in kinds lists as `required` (its generator marks every field without
#: `omitempty`) but that the API server's validation never asks for: kube-apiserver v1.34.4 creates
#: each object without them (server dry run, tests/check/test_realworld_verdicts.py), and later
#: schemas dropped them (serviceName in 1.33, podSelector in 1.34, the others in 1.36). Seen in
#: public repositories (StatefulSets of kubeflow/manifests without serviceName), where the 1.32
#: schemas made them errors the API server does not raise. Removed from `required` on load.
UNENFORCED_REQUIRED: dict[str, frozenset[str]] = {
    "io.k8s.api.apps.v1.StatefulSetSpec": frozenset({"serviceName"}),
    "io.k8s.api.networking.v1.NetworkPolicySpec": frozenset({"podSelector"}),
    "io.k8s.api.rbac.v1.RoleRef": frozenset({"apiGroup"}),  # defaulted (rbac/v1 SetDefaults_RoleBinding)
    "io.k8s.api.scheduling.v1.PriorityClass": frozenset({"value"}),
    "io.k8s.api.discovery.v1.EndpointSlice": frozenset({"endpoints"}),
}


@lru_cache(maxsize=4)
def _definitions(version_dir: Path) -> dict[str, Any]:
    """The version's `_definitions.json` (1.3 MB, 638 definitions in 1.32), less `UNENFORCED_REQUIRED`."""
    defs = json.loads((version_dir / "_definitions.json").read_text(encoding="utf-8"))
    for name in UNENFORCED_REQUIRED:
        _drop_unenforced(name, defs.get("$defs", {}).get(name))
    return defs


def _drop_unenforced(name: str, node: Any) -> None:
    """Remove the `UNENFORCED_REQUIRED` fields of definition `name` from `node`'s `required`."""
    fields = UNENFORCED_REQUIRED.get(name)
    if fields and isinstance(node, dict) and isinstance(node.get("required"), list):
        node["required"] = [f for f in node["required"] if f not in fields]
        if not node["required"]:
            del node["required"]


def _def_refs(node: Any) -> set[str]:
    """The names of the definitions a schema node refers to (`…#/$defs/<name>`), at any depth."""
    found: set[str] = set()
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            ref = cur.get("$ref")
            if isinstance(ref, str) and "#/$defs/" in ref:
                found.add(ref.split("#/$defs/", 1)[1])
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return found


def _closure(defs: Mapping[str, Any], roots: frozenset[str]) -> dict[str, Any] | None:
    """`{"$defs": …}` with the definitions `roots` reach; None if one is missing from `defs`."""
    out: dict[str, Any] = {}
    todo = set(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if name not in defs:
            return None
        out[name] = defs[name]
        todo |= _def_refs(defs[name]) - out.keys()
    return {"$defs": out}


@lru_cache(maxsize=64)
def _defs_for(version_dir: Path, roots: frozenset[str], cache: Path | None) -> tuple[dict[str, Any], Any]:
    """The definitions `roots` reach and a jsonschema_rs registry holding them.

    A kind's schema needs few of the version's definitions (a PodDisruptionBudget 11 of 638), and
    loading and registering all 1.3 MB cost ~13 ms of every run: the closure is kept in the side
    cache (llmkube.diskcache), keyed by the definitions file's path, size and mtime, the roots and
    this module's code; an entry that is malformed or incomplete is computed again.
    """
    key = None
    if cache is not None and _code_key():

        stat = (version_dir / "_definitions.json").stat()
        ident = "\0".join((_code_key(), str(version_dir), str(stat.st_size), str(stat.st_mtime_ns), *sorted(roots)))
        key = hashlib.sha256(ident.encode()).hexdigest()
        found = diskcache.read(cache, key)
        if isinstance(found, dict) and isinstance(found.get("$defs"), dict):
            closed = _closure(found["$defs"], roots)  # every definition reached is there
            if closed is not None and closed["$defs"].keys() == found["$defs"].keys():
                try:
                    return found, jsonschema_rs.Registry([(DEFS_URI, found)])
                except Exception:  # noqa: BLE001 - an entry jsonschema-rs refuses: compute afresh
                    pass
    closed = _closure(_definitions(version_dir)["$defs"], roots) or _definitions(version_dir)
    if key is not None:
        diskcache.write(cache, key, closed, keep=TRANSLATED_KEEP)
    return closed, jsonschema_rs.Registry([(DEFS_URI, closed)])


@lru_cache(maxsize=4)
def _core_files(version_dir: Path) -> frozenset[str]:
    return frozenset(p.name for p in version_dir.iterdir())


@lru_cache(maxsize=4)
def _core_group_heads(version_dir: Path) -> frozenset[str]:
    """First label of every built-in group (apps, batch, networking, ...)."""
    heads = set()
    for name in _core_files(version_dir):
        parts = name[: -len(".json")].split("-")
        if len(parts) == 3:
            heads.add(parts[1])
    return frozenset(heads)


def _core_file_name(group: str, version: str, kind: str) -> str:
    head = group.split(".")[0]
    return f"{kind.lower()}-{head}-{version}.json" if group else f"{kind.lower()}-{version}.json"


def _serves(schema: Mapping[str, Any], api_version: str, kind: str) -> bool:
    props = schema.get("properties") or {}
    return api_version in ((props.get("apiVersion") or {}).get("enum") or ()) and kind in (
        (props.get("kind") or {}).get("enum") or ()
    )


@lru_cache(maxsize=256)
def _core_validator(version_dir: Path, api_version: str, kind: str, cache: Path | None = None) -> tuple[Any, dict, dict] | None:
    """A core kind's validator, its schema and the definitions it reaches (None: not a core kind here)."""
    group, _, version = api_version.rpartition("/")
    name = _core_file_name(group, version, kind)
    if name not in _core_files(version_dir):
        return None
    schema = json.loads((version_dir / name).read_text(encoding="utf-8"))
    if not _serves(schema, api_version, kind):
        return None
    _drop_unenforced(f"io.k8s.api.{group.split('.')[0] or 'core'}.{version}.{kind}", schema)  # the kind's root
    defs, registry = _defs_for(version_dir, frozenset(_def_refs(schema)), cache)
    return jsonschema_rs.validator_for(schema, registry=registry, validate_formats=False), schema, defs


def _core_api_versions(version_dir: Path, kind: str) -> list[str]:
    """apiVersions under which this Kubernetes version serves `kind`."""
    out: list[str] = []
    prefix = kind.lower() + "-"
    for name in sorted(_core_files(version_dir)):
        if not name.startswith(prefix) or len(name[len(prefix) :].split("-")) > 2:
            continue
        props = json.loads((version_dir / name).read_text(encoding="utf-8")).get("properties") or {}
        if kind in ((props.get("kind") or {}).get("enum") or ()):
            out.extend((props.get("apiVersion") or {}).get("enum") or ())
    return out


def _is_builtin_group(version_dir: Path, group: str) -> bool:
    if group == "" or "." not in group:
        return True
    return group.endswith(".k8s.io") and group.split(".")[0] in _core_group_heads(version_dir)


def _builtin_validation(data: Mapping[str, Any]) -> list[SchemaProblem]:
    """Checks of the API server's validation code for built-in kinds that their schemas do not carry
    (`builtin_validation`: probed on kube-apiserver v1.34.4, cited there)."""
    return [SchemaProblem(path, message) for path, message in builtin_validation.problems(data)]


# --------------------------------------------------------------------------- CRD schemas


_VALUE_KEYWORDS = (
    "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems",
    "uniqueItems", "minProperties", "maxProperties", "multipleOf", "required",
)


_VALUE_KEYWORD_SET = frozenset(_VALUE_KEYWORDS)
_COMBINATOR_SET = frozenset(("allOf", "anyOf", "oneOf", "not"))


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """`isinstance(value, Mapping)`, with the plain dict (every parsed CRD's type) asked first:
    the ABC check, on every node and value, was a third of the translation's time."""
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def _translate(s: Mapping[str, Any], *, structural: bool = True, root: bool = False) -> dict:
    """One OpenAPI v3 structural-schema node → JSON Schema 2020-12, as the API server reads it.

    A CRD's schema has tens of thousands of nodes, most of them a type and a description: the
    keyword groups a node lacks (value constraints, combinators) are skipped with one set test."""
    get = s.get
    out: dict[str, Any] = {}
    nullable = structural and get("nullable") is True
    int_or_string = get("x-kubernetes-int-or-string") is True
    types: list[str] = []
    if int_or_string:
        types = ["integer", "string"]
    elif isinstance(get("type"), str):
        types = [s["type"]]
    if types:
        if nullable:
            types.append("null")
        out["type"] = types[0] if len(types) == 1 else types
    if not _VALUE_KEYWORD_SET.isdisjoint(s):
        for key in _VALUE_KEYWORDS:
            if key in s:
                out[key] = s[key]
        if get("exclusiveMinimum") is True and "minimum" in s:
            out["exclusiveMinimum"] = out.pop("minimum")
        if get("exclusiveMaximum") is True and "maximum" in s:
            out["exclusiveMaximum"] = out.pop("maximum")
    if "enum" in s:
        out["enum"] = list(s["enum"]) + ([None] if nullable and None not in s["enum"] else [])
    if get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True

    props = {k: _translate(v, structural=structural) for k, v in (get("properties") or {}).items()}
    if get("x-kubernetes-embedded-resource") is True:
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = _metadata_schema(s.get("properties", {}).get("metadata"))
    if root:
        # A custom resource's apiVersion and kind are always allowed at its root, declared or not:
        # the API server's pruning skips TypeMeta and ObjectMeta there (apiextensions-apiserver
        # pkg/apiserver/schema/pruning `PruneWithOptions`, isResourceRoot), and checks their values itself.
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = _metadata_schema((get("properties") or {}).get("metadata"))
    if props:
        out["properties"] = props
    items = get("items")
    if _is_mapping(items):
        out["items"] = _translate(items, structural=structural)
    add = get("additionalProperties")
    if _is_mapping(add):
        out["additionalProperties"] = _translate(add, structural=structural)
    elif add is True or get("x-kubernetes-preserve-unknown-fields") is True:
        pass
    elif structural and (get("type") == "object" or "properties" in s) and not int_or_string:
        out["additionalProperties"] = False
    if not _COMBINATOR_SET.isdisjoint(s):
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(get(key), list):
                out[key] = [_translate(x, structural=False) for x in s[key]]
        if _is_mapping(get("not")):
            out["not"] = _translate(s["not"], structural=False)
    return out


#: Subschemas smaller than this (characters of JSON) stay inline: a `$ref` would save nothing.
_SHARED_MIN_CHARS = 300
_SUBSCHEMA_KEYS = ("items", "additionalProperties", "not")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_NESTING_KEYS = frozenset(("properties", *_SUBSCHEMA_KEYS, *_SUBSCHEMA_LISTS))


def _subschemas(node: Mapping[str, Any]) -> Iterator[Any]:
    """The schema nodes directly under a translated node (the positions `_translate` fills)."""
    yield from (node.get("properties") or {}).values()
    for key in _SUBSCHEMA_KEYS:
        if isinstance(node.get(key), dict):
            yield node[key]
    for key in _SUBSCHEMA_LISTS:
        yield from node.get(key) or ()


def _shared(schema: dict) -> dict:
    """The translated schema with each subschema that occurs more than once (and is not tiny) written
    once under the root's `$defs` and referred to with a local `$ref`; the same constraints.

    CRDs repeat whole subtrees: KServe's InferenceService spells out a PodSpec's containers, volumes
    and affinity for every predictor framework, 680 kB of translated JSON that jsonschema-rs compiled
    copy by copy (~0.1 s; all upstream CRDs 0.3 s). Shared, it is 84 kB (all: 2.3 MB → 0.7 MB) and
    compiles in ~10 ms (all: 0.05 s), and the translation cache loads the smaller text. Errors mean
    the same: jsonschema-rs reports `schema_path` through `$defs/<name>/…`, which `_node_at` walks
    like any other path, and findings name the instance path, which does not change
    (tests/check/test_check_shared_schemas.py). Finding the repeats costs about what one compile
    saves, so a schema is shared when its translation is kept in the cache (not with --no-cache).
    """
    # Bottom-up: a node's identity is a number given to its own keywords and its subschemas'
    # identities, so equal subtrees get equal identities in one pass.
    ident: dict[int, int] = {}
    size: dict[int, int] = {}
    table: dict[tuple[Any, ...], int] = {}
    order: list[tuple[Mapping[str, Any], list[Any] | None]] = [(schema, None)]
    while order:
        node, kids = order.pop()
        if kids is None:
            kids = list(_subschemas(node))
            order.append((node, kids))
            order.extend((c, None) for c in kids if isinstance(c, dict))
            continue
        own = repr(sorted((k, v) for k, v in node.items() if k not in _NESTING_KEYS))
        shape = (
            own,
            tuple(node.get("properties") or ()),  # with the layout below, which child sits where
            tuple(k for k in node if k in _NESTING_KEYS),
            tuple(len(node[k]) for k in _SUBSCHEMA_LISTS if isinstance(node.get(k), list)),
            tuple(ident[id(c)] if isinstance(c, dict) else repr(c) for c in kids),
        )
        key = table.setdefault(shape, len(table))
        ident[id(node)] = key
        size[id(node)] = len(own) + sum(size[id(c)] + 8 for c in kids if isinstance(c, dict))
    # Top-down: how often each subtree is written once shared (the inside of a repeated subtree
    # counts once, so nothing inside a shared subschema is split out for its own copies).
    uses: dict[int, int] = {}
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        key = ident[id(node)]
        uses[key] = uses.get(key, 0) + 1
        if uses[key] == 1:
            stack.extend(c for c in _subschemas(node) if isinstance(c, dict))
    defs: dict[int, Any] = {}

    def rebuild(node: Mapping[str, Any], root: bool = False) -> Any:
        key = ident[id(node)]
        if not root and uses[key] > 1 and size[id(node)] >= _SHARED_MIN_CHARS:
            if key not in defs:
                defs[key] = None  # placeholder: keeps the order of first use
                defs[key] = rebuild(node, root=True)
            return {"$ref": f"#/$defs/s{key}"}
        out = dict(node)
        if isinstance(node.get("properties"), dict):
            out["properties"] = {k: rebuild(v) if isinstance(v, dict) else v for k, v in node["properties"].items()}
        for k in _SUBSCHEMA_KEYS:
            if isinstance(node.get(k), dict):
                out[k] = rebuild(node[k])
        for k in _SUBSCHEMA_LISTS:
            if isinstance(node.get(k), list):
                out[k] = [rebuild(x) if isinstance(x, dict) else x for x in node[k]]
        return out

    out = rebuild(schema, root=True)
    if defs:
        out["$defs"] = {f"s{k}": v for k, v in defs.items()}
    return out


def _metadata_schema(declared: Mapping[str, Any] | None) -> dict:
    """ObjectMeta, plus only the name/generateName constraints a CRD may add."""
    extra = {}
    for key in ("name", "generateName"):
        sub = ((declared or {}).get("properties") or {}).get(key)
        if isinstance(sub, Mapping):
            extra[key] = _translate(sub, structural=False)
    if not extra:
        return {"$ref": OBJECT_META_REF}
    return {"allOf": [{"$ref": OBJECT_META_REF}, {"properties": extra}]}


def _prepared(value: Any, s: Mapping[str, Any], path: Path_, problems: list, root: bool, defaulted: dict[int, list]) -> Any:
    """A plain copy of `value` (as `_plain` makes) with the API server's decoding applied where the
    schema `s` reaches: non-nullable nulls pruned, defaults filled in, list-map keys checked.

    One walk: copying the object and then walking the copy for the schema cost two (the object is
    not changed: it is the run's, which the rules read). `defaulted` remembers, per schema node (by
    id: the caller keeps the schema alive), its properties that have a default: a pod template's
    schema has hundreds of properties and few defaults."""
    kind = type(value)
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        out = {k if type(k) is str else str(k): v for k, v in value.items()}
        props = s.get("properties") or {}
        add = s.get("additionalProperties")
        add = add if isinstance(add, Mapping) else None
        for k in [k for k, v in out.items() if v is None]:
            sub = props.get(k, add)
            if sub is not None and sub.get("nullable") is not True and "default" not in sub:
                # Create and update decode the body through the CRD's defaulting, which prunes
                # the null (apiextensions-apiserver pkg/apiserver/schema/defaulting/prunenulls.go
                # PruneNonNullableNullsWithoutDefaults); a server-side apply patch is merged
                # without it, and the real kube-apiserver (v1.34) refuses the null there:
                # "in body must be of type object: "null"".
                del out[k]
                want = sub.get("type") or "a value"
                problems.append(
                    SchemaProblem(
                        path + (k,),
                        f"null where the schema allows no null (it wants {want}): dropped on create, "
                        "but refused by server-side apply (llmkube apply, kubectl apply --server-side)",
                        warning=True,
                    )
                )
        with_default = defaulted.get(id(s))
        if with_default is None:
            with_default = defaulted[id(s)] = [(k, sub) for k, sub in props.items() if "default" in sub]
        for k, sub in with_default:
            if k not in out or (out[k] is None and sub.get("nullable") is not True):
                out[k] = copy.deepcopy(sub["default"])
        for k, v in out.items():  # values are replaced, no key is added: iterating stays valid
            if type(v) in _LEAVES:
                continue  # a plain scalar is its own copy
            sub = None if root and k == "metadata" else props.get(k, add)
            if sub is not None and _is_container(v):
                out[k] = _prepared(v, sub, path + (k,), problems, False, defaulted)
            else:
                out[k] = _plain(v)
        return out
    if kind is list or isinstance(value, (list, tuple)):
        items = s.get("items")
        if not isinstance(items, Mapping):
            return _plain(value)
        copied = [
            item if type(item) in _LEAVES
            else _prepared(item, items, path + (i,), problems, False, defaulted) if _is_container(item)
            else _plain(item)
            for i, item in enumerate(value)
        ]
        keys = s.get("x-kubernetes-list-map-keys")
        if s.get("x-kubernetes-list-type") == "map" and keys:
            seen: dict[tuple, int] = {}
            for i, item in enumerate(copied):
                if not isinstance(item, dict):
                    continue
                ident = tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)
                if ident in seen:
                    shown = ", ".join(f"{k}={json.dumps(item.get(k))}" for k in keys)
                    problems.append(
                        SchemaProblem(
                            path + (i,),
                            f"duplicate entry ({shown}); same keys as item {seen[ident]}",
                        )
                    )
                else:
                    seen[ident] = i
        return copied
    return _plain(value)


@record
class _CompiledCRD:
    """A CRD version made ready to check objects: its translated schema, validator and CEL rules."""

    crd: CRDVersion
    schema: dict  # translated JSON Schema
    validator: Any
    rules: cel.RuleTree | None
    defs: dict  # the core definitions the schema reaches (ObjectMeta's), for messages
    defaulted: dict[int, list] = field(default_factory=dict)  # `_prepared`'s memo over crd.schema's nodes


# --------------------------------------------------------------------------- messages


_LEAVES = (str, int, float, bool, type(None))


def _is_container(value: Any) -> bool:
    """A mapping, list or tuple: what `_plain` copies as a dict or a list (exact types asked first)."""
    kind = type(value)
    return kind is dict or kind is list or (kind not in _LEAVES and isinstance(value, (Mapping, list, tuple)))


def _plain(value: Any) -> Any:
    """A plain-JSON deep copy (ruamel's CommentedMap, ScalarInt, timestamps → dict, int, str).

    The exact types come first: the run's objects are plain already (`yamlio.to_plain`, the
    renderer's loader), and asking `isinstance(..., Mapping)` of every string and number (an ABC
    check) cost more than the copy."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): v if type(v) in _LEAVES else _plain(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _LEAVES else _plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
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


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {_show(value)}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {_show(value)}"
    if isinstance(value, dict):
        return "object"
    return "array"


def _types_of(schema: Any) -> list[str]:
    """The JSON types a simple schema node allows (for oneOf/anyOf of plain types)."""
    if not isinstance(schema, Mapping) or set(schema) - {"type", "description"}:
        return []
    t = schema.get("type")
    return [t] if isinstance(t, str) else list(t or [])


def _expected(types: list[str]) -> str:
    shown = [t for t in dict.fromkeys(types) if t != "null"] or ["null"]
    return " or ".join(shown)


def _node_at(err: Any, root: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    """The schema node holding the failed keyword (its parent), or None."""
    loc = err.absolute_keyword_location
    if loc and loc.startswith(DEFS_URI + "#"):
        doc, parts = defs, loc[len(DEFS_URI) + 2 :].split("/")
    else:
        doc, parts = root, [str(p) for p in err.schema_path]
    node: Any = doc
    for part in parts[:-1]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node


def _problems_from(err: Any, root: Mapping[str, Any], defs: Mapping[str, Any]) -> list[SchemaProblem]:
    path = tuple(err.instance_path)
    name = err.kind.name
    detail = err.kind.as_dict()
    instance = err.instance
    if name == "additionalProperties":
        node = _node_at(err, root, defs)
        known = list((node or {}).get("properties") or {}) if isinstance(node, Mapping) else []
        out = []
        for field in detail.get("unexpected") or []:
            msg = f'unknown field "{field}"'
            close = difflib.get_close_matches(field, known, n=1, cutoff=0.6)
            if close:
                msg += f' (did you mean "{close[0]}"?)'
            elif known and len(known) <= 12:
                msg += "; expected one of: " + ", ".join(sorted(known))
            out.append(SchemaProblem((*path, field), msg))
        return out
    if name == "required":
        return [SchemaProblem(path, f'missing required field "{detail.get("property")}"')]
    if name == "type":
        return [SchemaProblem(path, f"expected {_expected(detail.get('types') or [])}, got {_describe(instance)}")]
    if name == "enum":
        options = [o for o in detail.get("options") or [] if o is not None]
        return [
            SchemaProblem(
                path,
                f"unsupported value {_show(instance)}: expected one of "
                + ", ".join(_show(o) for o in options),
            )
        ]
    if name in ("oneOf", "anyOf"):
        node = _node_at(err, root, defs)
        branches = (node or {}).get(name) if isinstance(node, Mapping) else None
        types = [t for b in branches or [] for t in _types_of(b)]
        if branches and all(_types_of(b) for b in branches):
            return [SchemaProblem(path, f"expected {_expected(types)}, got {_describe(instance)}")]
        return [SchemaProblem(path, f"{_show(instance)} matches none of the allowed forms ({name})")]
    message = err.message
    if name == "pattern":
        pattern = str(detail.get("pattern"))
        if "[KMGTPE]i" in pattern:
            message = f"{_show(instance)} is not a quantity (expected e.g. 8, 500m, 16Gi)"
        else:
            message = f"{_show(instance)} does not match the pattern {pattern}"
    elif name in ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum",
                  "exclusiveMinimum", "exclusiveMaximum", "minProperties", "maxProperties"):
        limit = next(iter(detail.values()), None)
        message = f"{message} (limit {limit})" if str(limit) not in message else message
    return [SchemaProblem(path, message)]


def _sort_key(p: SchemaProblem) -> tuple:
    return (tuple((0, x, "") if isinstance(x, int) else (1, 0, x) for x in p.path), p.message, p.source, p.rule or "")


# --------------------------------------------------------------------------- translation cache
#
# Translating a large CRD's schema and finding its CEL rules costs more than loading the result:
# KServe's InferenceService, ~45 ms + ~22 ms against ~6 ms of JSON (docs/performance.md). So both
# are kept on disk (llmkube.diskcache: atomic writes, a bad entry is a miss), keyed by the CRD
# file's content hash, the version and kind, and a hash of this module and cel.py: editing the
# translation invalidates every entry. The jsonschema-rs validator itself and the compiled CEL
# programs cannot be serialised (neither pickles), so they are built from the cached data.


@lru_cache(maxsize=1)
def _code_key() -> str:
    """A hash of the code that translates schemas and finds rules ("" if unreadable: no caching)."""

    try:
        code = Path(__file__).read_bytes() + b"\0" + Path(__file__).with_name("cel.py").read_bytes()
    except OSError:
        return ""
    return hashlib.sha256(code).hexdigest()


def _translation_key(crd: CRDVersion) -> str | None:

    code = _code_key()
    if not (code and crd.digest):
        return None
    return hashlib.sha256("\0".join((code, crd.digest, crd.group, crd.version, crd.kind)).encode()).hexdigest()


def _cached_translation(cache: Path | None, crd: CRDVersion) -> tuple[dict, cel.RuleTree | None] | None:
    """The translated schema and rule tree of `crd` from the cache, or None (absent or malformed)."""
    from llmkube.check import cel

    key = _translation_key(crd) if cache is not None else None
    entry = diskcache.read(cache, key) if key else None
    if not (isinstance(entry, dict) and isinstance(entry.get("schema"), dict)):
        return None
    try:
        return entry["schema"], cel.tree_from_json(entry.get("rules"))
    except (ValueError, TypeError, RecursionError):
        return None


def _store_translation(cache: Path | None, crd: CRDVersion, compiled: _CompiledCRD) -> None:
    from llmkube.check import cel

    key = _translation_key(crd) if cache is not None else None
    if key:
        diskcache.write(cache, key, {"schema": compiled.schema, "rules": cel.tree_to_json(compiled.rules)}, keep=TRANSLATED_KEEP)


# --------------------------------------------------------------------------- validator


class SchemaValidator:
    """Checks Kubernetes objects against core schemas and CRD schemas (+ CEL rules)."""

    def __init__(self, crds: CRDStore, kube_version: str = DEFAULT_KUBE_VERSION) -> None:
        self.crds = crds
        self.kube_version = kube_version
        self._dir = _version_dir(kube_version)
        self._compiled: dict[tuple[str, str, str, str], _CompiledCRD] = {}
        self._cache: Path | None = getattr(crds, "translated_cache", None)  # None: no side cache (--no-cache)

    def validate(self, obj: Mapping[str, Any]) -> list[SchemaProblem]:
        """Every schema and CEL problem of one object, sorted by path."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not (isinstance(api_version, str) and api_version and isinstance(kind, str) and kind):
            return [
                SchemaProblem((), f'missing required field "{key}"')
                for key, val in (("apiVersion", api_version), ("kind", kind))
                if not isinstance(val, str) or not val
            ]
        problems: list[SchemaProblem] = []
        core = _core_validator(self._dir, api_version, kind, self._cache)
        if core is not None:
            validator, schema, defs = core
            try:  # a core kind is not decoded (no defaults, no pruning): the run's object is checked as it is
                data: Any = obj
                problems.extend(self._run(validator, data, schema, defs))
            except ValueError:  # a type jsonschema-rs refuses (a timestamp, a ScalarInt, an int key): copy it plain
                problems.clear()
                data = _plain(obj)
                problems.extend(self._run(validator, data, schema, defs))
        else:
            crd = self.crds.lookup(api_version, kind)
            if crd is None:
                return [self._no_schema(api_version, kind)]
            data, custom = self._validate_custom(crd, obj)
            problems.extend(custom)
        problems.extend(self._api_server_rules(data))
        return sorted(set(problems), key=_sort_key)

    # -- pieces

    def _run(self, validator: Any, data: Any, schema: Mapping[str, Any], defs: Mapping[str, Any]) -> list[SchemaProblem]:
        out: list[SchemaProblem] = []
        for err in validator.iter_errors(data):
            out.extend(_problems_from(err, schema, defs))
        return out

    def _compile(self, crd: CRDVersion) -> _CompiledCRD:
        from llmkube.check import cel

        key = (crd.group, crd.version, crd.kind, crd.source)
        compiled = self._compiled.get(key)
        if compiled is None:
            defs, registry = _defs_for(self._dir, _OBJECT_META_ROOT, self._cache)
            cache = self._cache
            found = _cached_translation(cache, crd)
            if found is not None:
                try:
                    validator = jsonschema_rs.validator_for(found[0], registry=registry, validate_formats=False)
                    compiled = _CompiledCRD(crd, found[0], validator, found[1], defs)
                except Exception:  # noqa: BLE001 - a cache entry jsonschema-rs refuses: translate afresh
                    compiled = None
            if compiled is None:
                translated = _translate(crd.schema, root=True)
                if cache is not None:  # sharing costs about what it saves once, and saves it in every later run
                    translated = _shared(translated)
                translated["$schema"] = _DRAFT
                validator = jsonschema_rs.validator_for(translated, registry=registry, validate_formats=False)
                compiled = _CompiledCRD(crd, translated, validator, cel.rule_tree(crd.schema), defs)
                _store_translation(cache, crd, compiled)
            self._compiled[key] = compiled
        return compiled

    def _validate_custom(self, crd: CRDVersion, obj: Mapping[str, Any]) -> tuple[dict, list[SchemaProblem]]:
        """(the object as the API server decodes it, its schema and CEL problems)."""
        from llmkube.check import cel

        compiled = self._compile(crd)
        problems: list[SchemaProblem] = []
        data = _prepared(obj, crd.schema, (), problems, True, compiled.defaulted)
        schema_problems = self._run(compiled.validator, data, compiled.schema, compiled.defs)
        problems.extend(schema_problems)
        broken = {p.path for p in schema_problems}
        for cp in cel.evaluate(compiled.rules, data):
            # An evaluation error under a node that already broke its schema is only an echo.
            if "could not be evaluated" in cp.message and any(
                b[: len(cp.path)] == cp.path for b in broken
            ):
                continue
            problems.append(SchemaProblem(cp.path, cp.message, "cel", cp.rule))
        return data, problems

    def _api_server_rules(self, data: Mapping[str, Any]) -> list[SchemaProblem]:
        """Checks the API server makes that schemas cannot express."""
        meta = data.get("metadata")
        if not isinstance(meta, dict) and not isinstance(meta, Mapping):  # a dict first: a Mapping check is an ABC's
            if meta is None:
                return [SchemaProblem((), 'missing required field "metadata"')]
            return []
        if not meta.get("name") and not meta.get("generateName"):
            return [SchemaProblem(("metadata",), 'missing required field "name"')]
        return _builtin_validation(data)

    def _no_schema(self, api_version: str, kind: str) -> SchemaProblem:
        group, _, version = api_version.rpartition("/")
        served = self.crds.known_versions(group, kind)
        if served:
            msg = (
                f"{kind} is not served as {api_version}: its CRD serves "
                + ", ".join(f"{group}/{v}" for v in served)
            )
        elif _is_builtin_group(self._dir, group):
            core = _core_api_versions(self._dir, kind)
            if core:
                msg = (
                    f"Kubernetes {self.kube_version} does not serve {kind} as {api_version}; "
                    "it serves " + ", ".join(core)
                )
            else:
                msg = f"Kubernetes {self.kube_version} has no kind {kind} in {api_version}"
        else:
            msg = f"no schema for {kind} ({api_version}): its CRD is not loaded; {_CRD_HINT}"
        return SchemaProblem((), msg, "no-schema")


__all__ = ["SchemaProblem", "SchemaValidator", "available_kube_versions"]
