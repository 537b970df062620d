"""What the API server refuses in any object, checked offline: names, labels, int32 fields, selectors.

The schemas (OpenAPI, CRDs) do not carry these rules -- apimachinery applies
them in Go -- so without this pass a bad label value reaches `kubectl apply`
and fails there, after other objects were already sent. Codes:

- `label`: a label key or value, an annotation key, a nodeSelector / matchLabels
  entry or a Kueue ResourceFlavor's nodeLabels entry breaks apimachinery's rules;
- `name`: `metadata.name` / `metadata.namespace` breaks its kind's name rule;
- `range`: a replica count or port outside the int32 / port range;
- `selector`: a workload's selector does not match its pod template's labels.

The walk reads whatever shape it is given: wrong shapes are the schema's
business, this pass only skips them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from llmkube import apimachinery as am
from llmkube.check.findings import Finding, Severity, dotted, object_label

Path = tuple[str | int, ...]
CODES = {
    "label": "A label key or value, or an annotation key, breaks Kubernetes' rules (qualified names; values of at most 63 characters [A-Za-z0-9-_.]).",
    "name": "metadata.name or metadata.namespace breaks its kind's name rule (DNS-1123 subdomain or label, DNS-1035 label for Services).",
    "range": "A replica count or port is outside its range (int32; ports 1-65535).",
    "selector": "A workload's spec.selector does not match its pod template's labels; the API server refuses it.",
}
_RBAC = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
_SELECTED = {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job"}
_INT32_KEYS = {"replicas", "parallelism", "completions", "backoffLimit", "minReplicas", "maxReplicas", "minAvailable", "minMember"}
_PORT_KEYS = {"containerPort", "hostPort"}


def metadata_findings(obj: Mapping[str, Any], mark: Any) -> list[Finding]:
    """Every problem of this pass in one object; `mark(path)` gives the user's line for a path."""
    out: list[Finding] = []
    label = ""  # the object's label, made for its first problem (most objects have none)
    for path, message, code in _problems(obj):
        label = label or object_label(obj)
        out.append(Finding(code=code, severity=Severity.ERROR, message=message, object=label, path=dotted(path), mark=mark(path)))
    return out


def _problems(obj: Mapping[str, Any]) -> Iterator[tuple[Path, str, str]]:
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    meta = obj.get("metadata")
    if isinstance(meta, dict) or isinstance(meta, Mapping):  # a dict first: a Mapping check is an ABC's
        yield from _name_problems(str(kind), meta)
    yield from _walk(obj, ())
    if kind in _SELECTED:
        yield from _selector_problems(obj)


def _name_problems(kind: str, meta: Mapping[str, Any]) -> Iterator[tuple[Path, str, str]]:
    name = meta.get("name")
    if isinstance(name, str) and not (not name and meta.get("generateName")):
        rule = am.dns1123_subdomain_errors
        if kind == "Namespace":
            rule = am.dns1123_label_errors
        elif kind == "Service":
            rule = am.dns1035_label_errors
        elif kind in _RBAC:
            rule = am.path_segment_errors
        for e in rule(name):
            yield ("metadata", "name"), f"name {name!r}: {e}", "name"
    ns = meta.get("namespace")
    if isinstance(ns, str) and ns:
        for e in am.dns1123_label_errors(ns):
            yield ("metadata", "namespace"), f"namespace {ns!r}: {e}", "name"


#: `am.qualified_name_errors` and `am.label_value_errors`, remembered: a run repeats the same label
#: keys and values (and annotation keys) in every object, and both are pure functions of a string.
_key_errors = functools.lru_cache(maxsize=1 << 14)(lambda key: tuple(am.qualified_name_errors(key)))
_value_errors = functools.lru_cache(maxsize=1 << 14)(lambda value: tuple(am.label_value_errors(value)))


def _labels(mapping: Mapping[Any, Any], path: Path, what: str) -> Iterator[tuple[Path, str, str]]:
    for key, value in mapping.items():
        if not isinstance(key, str):
            continue
        for e in _key_errors(key):
            yield (*path, key), f"{what} key {key!r}: {e}", "label"
        if isinstance(value, str):
            for e in _value_errors(value):
                yield (*path, key), f"{what} {key!r} value {value!r}: {e}", "label"


def _object_meta(meta: Mapping[str, Any], path: Path) -> Iterator[tuple[Path, str, str]]:
    labels = meta.get("labels")
    if isinstance(labels, dict) or (labels is not None and isinstance(labels, Mapping)):
        yield from _labels(labels, (*path, "labels"), "label")
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) or (annotations is not None and isinstance(annotations, Mapping)):
        for key in annotations:
            if isinstance(key, str):
                for e in _key_errors(key.lower()):
                    yield (*path, "annotations", key), f"annotation key {key!r}: {e}", "label"


def _walk(node: Any, path: Path) -> Iterator[tuple[Path, str, str]]:
    """Object metadata (the object's and its templates'), label maps and int32/port fields, anywhere.

    Depth first, in document order. A path is built for each container and for what is reported,
    not for every scalar (every object of a run is walked, and most of its nodes are scalars); the
    walk recurses (a document is at most MAX_NESTING deep) and gathers into one list, where a stack
    of iterators asked `next` once per node."""
    if not isinstance(node, (dict, list)) and not isinstance(node, Mapping):
        return iter(())
    out: list[tuple[Path, str, str]] = []
    _walk_into(node, path, out)
    return iter(out)


def _walk_into(node: Mapping[Any, Any] | list[Any], parent: Path, out: list[tuple[Path, str, str]]) -> None:
    if type(node) is list or (type(node) is not dict and isinstance(node, list)):
        for index, value in enumerate(node):
            kind = type(value)
            if kind is dict or kind is list or (kind is not str and isinstance(value, (Mapping, list))):
                _walk_into(value, (*parent, index), out)
        return
    for key, value in node.items():  # an entry of a mapping: some are judged whole, the rest walked
        kind = type(value)
        if kind is str or value is None or kind is bool or kind is float:
            continue  # a scalar no check reads (the most common entry)
        if type(key) is not str and not isinstance(key, str):
            continue
        is_mapping = kind is dict or (kind is not list and kind is not int and isinstance(value, Mapping))
        if is_mapping and key == "metadata" and (not parent or parent[-1] == "template"):
            out += _object_meta(value, (*parent, key))
            continue
        if key == "openAPIV3Schema":
            continue  # a CRD's schema: its `properties.matchLabels` is a field's schema, not labels
        if is_mapping and (key == "nodeSelector" or key == "matchLabels"):
            out += _labels(value, (*parent, key), key)
            continue
        if is_mapping and key == "nodeLabels" and parent == ("spec",):
            out += _labels(value, (*parent, key), "nodeLabels")
            continue
        if kind is int or (not is_mapping and kind is not list and isinstance(value, int) and not isinstance(value, bool)):
            if key in _PORT_KEYS or key in _INT32_KEYS:
                out += _range(key, value, (*parent, key))
            continue
        if is_mapping or kind is list or isinstance(value, list):
            _walk_into(value, (*parent, key), out)


def _range(key: str, value: int, path: Path) -> Iterator[tuple[Path, str, str]]:
    if key in _PORT_KEYS and "ports" in path and not 1 <= value <= 65535:
        yield path, f"{key} {value} is not a port (1-65535)", "range"
    elif key in _INT32_KEYS and not 0 <= value <= am.INT32_MAX:
        yield path, f"{key} {value} is outside 0-{am.INT32_MAX} (int32)", "range"


def _selector_problems(obj: Mapping[str, Any]) -> Iterator[tuple[Path, str, str]]:
    spec = obj.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("selector"), Mapping):
        return
    template = spec.get("template")
    meta = template.get("metadata") if isinstance(template, Mapping) else None
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    labels = labels if isinstance(labels, Mapping) else {}
    if not selector_matches(spec["selector"], labels):
        yield ("spec", "selector"), "spec.selector does not match spec.template.metadata.labels (the API server refuses it)", "selector"


def selector_matches(selector: Mapping[str, Any], labels: Mapping[Any, Any]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a set of labels; odd shapes match."""
    match = selector.get("matchLabels")
    if isinstance(match, Mapping) and any(labels.get(k) != v for k, v in match.items()):
        return False
    exprs = selector.get("matchExpressions")
    for expr in exprs if isinstance(exprs, list) else []:
        if not isinstance(expr, Mapping):
            continue
        key, op = expr.get("key"), expr.get("operator")
        raw = expr.get("values")
        values: list[Any] = raw if isinstance(raw, list) else []
        present = key in labels
        if (
            (op == "In" and (not present or labels[key] not in values))
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True
