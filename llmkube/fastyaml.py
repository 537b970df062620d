"""Fast YAML → plain data through libyaml events, for large or many files.

No line marks (use `yamlio` for user specs, where errors must point at lines).
Unquoted scalars resolve as YAML 1.1, the way kubectl (sigs.k8s.io/yaml)
reads them; anchors, tags and merge keys fall back to PyYAML's loader.
"""

from __future__ import annotations

from typing import Any

import yaml

from llmkube.errors import InputError, SourceMark

class _NeedsFullLoader(Exception):
    """The fast builder met YAML it does not handle (anchors, tags, merge keys)."""


_SAFE_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_RESOLVER = yaml.resolver.Resolver()
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _plain_scalar(value: str) -> Any:
    """Resolve an unquoted scalar as YAML 1.1 (like sigs.k8s.io/yaml); timestamps stay strings."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
    if tag == "tag:yaml.org,2002:str" or tag == "tag:yaml.org,2002:timestamp":
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() in ("yes", "true", "on")
    if tag == "tag:yaml.org,2002:int":
        return _SAFE_CONSTRUCTOR.construct_yaml_int(yaml.ScalarNode(tag, value))
    if tag == "tag:yaml.org,2002:float":
        return _SAFE_CONSTRUCTOR.construct_yaml_float(yaml.ScalarNode(tag, value))
    if tag == "tag:yaml.org,2002:merge":
        raise _NeedsFullLoader
    return value


def _fast_documents(text: str) -> list[Any]:
    """Build documents from libyaml events; plain dict/list/str/int/float/bool/None."""
    loader = _Loader(text)
    docs: list[Any] = []
    stack: list[Any] = []  # containers being built
    keys: list[Any] = []  # for mappings: pending key (or _NO_KEY)
    no_key = object()
    try:
        while True:
            event = loader.get_event()
            if event is None:
                break
            etype = type(event)
            if etype is yaml.ScalarEvent:
                if event.anchor is not None or (event.tag not in (None, "!")):
                    raise _NeedsFullLoader
                value = _plain_scalar(event.value) if event.implicit[0] else event.value
            elif etype is yaml.MappingStartEvent or etype is yaml.SequenceStartEvent:
                if event.anchor is not None or (event.tag is not None and event.tag != "!"):
                    raise _NeedsFullLoader
                container: Any = {} if etype is yaml.MappingStartEvent else []
                stack.append(container)
                keys.append(no_key)
                continue
            elif etype is yaml.MappingEndEvent or etype is yaml.SequenceEndEvent:
                value = stack.pop()
                keys.pop()
            elif etype is yaml.AliasEvent:
                raise _NeedsFullLoader
            elif etype is yaml.DocumentStartEvent:
                continue
            elif etype is yaml.DocumentEndEvent:
                continue
            else:  # StreamStart / StreamEnd
                continue
            if not stack:
                docs.append(value)
                continue
            top = stack[-1]
            if type(top) is list:
                top.append(value)
            elif keys[-1] is no_key:
                if isinstance(value, (dict, list)):
                    raise _NeedsFullLoader  # complex keys: leave to PyYAML
                keys[-1] = value
            else:
                top[keys[-1]] = value
                keys[-1] = no_key
    finally:
        loader.dispose()
    return docs


#: Nodes one document may expand to through YAML aliases before it is refused.
MAX_EXPANDED_NODES = 1_000_000


def _bounded(doc: Any, source: str) -> Any:
    """Refuse a document whose aliases expand past MAX_EXPANDED_NODES (a "billion laughs").

    PyYAML shares an aliased node; sizes are counted once per node, so this is linear.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(doc, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (dict, list)) or (not done and id(node) in sizes):
            continue
        children = list(node.values()) if isinstance(node, dict) else node
        if not done:
            sizes[id(node)] = -1
            stack.append((node, True))
            stack.extend((c, False) for c in children)
            continue
        total = 1 + sum(max(sizes.get(id(c), 1), 1) if isinstance(c, (dict, list)) else 1 for c in children)
        sizes[id(node)] = total
        if total > MAX_EXPANDED_NODES:
            raise InputError(
                f"YAML aliases expand to more than {MAX_EXPANDED_NODES} nodes",
                mark=SourceMark(source),
                hint="aliases that expand exponentially (a \"billion laughs\") are refused",
            )
    return doc


def _jsonable(value: Any) -> Any:
    """Turn PyYAML's dates into strings, as the API server's JSON view would have them."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def load_plain(text: str, source: str, what: str = "file") -> list[Any]:
    """All documents of a YAML or JSON text as plain data; bad syntax → InputError at the line."""
    try:
        try:
            docs = _fast_documents(text)
        except _NeedsFullLoader:
            docs = [_jsonable(_bounded(d, source)) for d in yaml.load_all(text, Loader=_Loader)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = SourceMark(source, mark.line + 1, mark.column + 1) if mark else SourceMark(source)
        raise InputError(
            f"cannot parse {what}: {exc.problem or exc.context}",
            mark=where,
            hint="fix the YAML syntax at this position",
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"cannot parse {what}: {exc}", mark=SourceMark(source)) from None
    except (ValueError, RecursionError):
        raise InputError(
            f"cannot parse {what}: a number too long or nesting too deep", mark=SourceMark(source)
        ) from None
    return [d for d in docs if d is not None]
