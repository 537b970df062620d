"""Fast YAML → plain data through libyaml events, for large or many files.

No line marks (use `yamlio` for user specs, where errors must point at lines).
Unquoted scalars resolve as YAML 1.1, the way kubectl (sigs.k8s.io/yaml)
reads them; anchors, tags and merge keys fall back to PyYAML's loader.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from llmkube import yamlresolve
from llmkube.errors import InputError, SourceMark
from llmkube.lazyre import lazy
from llmkube.options import MAX_NESTING

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
            docs = _plain_documents(text)
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


# --- marked documents: libyaml's speed, the round-trip loader's values and marks ------------------


class NeedsReference(Exception):
    """The fast marked loader met input it leaves to the reference (ruamel round-trip) loader:
    anchored scalars, aliases the Python loop does not take (see `load_marked_python`), tags,
    directives, merge keys, timestamps, duplicate or complex keys, scalar documents, or a syntax
    error (whose message the reference loader words)."""


class _LineCol:
    """The part of ruamel's `LineCol` that `yamlio.mark_of` reads (0-based line and column)."""

    __slots__ = ("_node",)

    def __init__(self, node: MarkedMap | MarkedList) -> None:
        self._node = node

    @property
    def line(self) -> int:
        return self._node.start >> _SHIFT

    @property
    def col(self) -> int:
        return self._node.start & _MASK

    def key(self, key: Any) -> tuple[int, int] | None:
        node = self._node
        assert isinstance(node, MarkedMap)
        for i, k in enumerate(node):
            if k == key:
                packed = node.marks[i]
                return packed >> _SHIFT, packed & _MASK
        return None

    def item(self, index: int) -> tuple[int, int] | None:
        marks = self._node.marks
        if 0 <= index < len(marks):
            return marks[index] >> _SHIFT, marks[index] & _MASK
        return None


#: A position packs into one integer: line << _SHIFT | column (columns stay below 2**24).
_SHIFT = 24
_MASK = (1 << _SHIFT) - 1


class MarkedMap(dict[Any, Any]):
    """A plain dict that also knows where it and each of its keys start (like ruamel's CommentedMap.lc)."""

    __slots__ = ("start", "marks")
    start: int  # packed position of the mapping
    marks: list[int]  # packed position of each key, in key order

    @property
    def lc(self) -> _LineCol:
        return _LineCol(self)


def shift_lines(root: MarkedMap | MarkedList, lines: int) -> None:
    """Move the marks of `root` and every container in it `lines` down (a document read apart from
    the lines before it); an aliased container once."""
    offset = lines << _SHIFT
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        node.start += offset
        node.marks = [m + offset for m in node.marks]
        stack.extend(v for v in (node.values() if isinstance(node, dict) else node) if isinstance(v, (MarkedMap, MarkedList)))


class MarkedList(list[Any]):
    """A plain list that also knows where it and each of its items start."""

    __slots__ = ("start", "marks")
    start: int
    marks: list[int]  # packed position of each item

    @property
    def lc(self) -> _LineCol:
        return _LineCol(self)


_RT_SCALARS: dict[str, Any] = {}
_INT64 = 2**63
#: An unpaired UTF-16 surrogate, which only a double-quoted `\\u` escape can bring in.
_SURROGATE = lazy("[\\ud800-\\udfff]")
_RT: Any = None
_DECIMAL = re.compile(r"[-+]?[0-9]+")
_DECIMAL_FLOAT = lazy(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+")
_NUMBER_TAGS = {"tag:yaml.org,2002:int": int, "tag:yaml.org,2002:float": float}


def _rt_plain(value: str) -> Any:
    """An unquoted scalar as ruamel's round-trip loader (YAML 1.2) reads it: the same value, of the
    same builtin kind (ruamel's ScalarInt, HexInt and ScalarFloat are int and float subclasses that
    only remember how the number was written, for ruamel's own dumper, which llmkube never uses).

    Resolved by `yamlresolve` (ruamel's 1.2 rules); decimal integers and floats Python reads alike
    are converted here, and only the rarer spellings (`0x1F`, `0o17`, `1_000`, `.inf`) are handed to
    ruamel's constructor: a spec or manifest of ordinary values never imports ruamel.yaml.
    Timestamps, merge keys and other tags go to the reference loader."""
    tag = yamlresolve.tag(value)
    if tag == yamlresolve.STR:
        out: Any = value
    elif tag == "tag:yaml.org,2002:null":
        out = None
    elif tag == "tag:yaml.org,2002:bool":
        out = value in ("true", "True", "TRUE")
    elif tag in _NUMBER_TAGS:
        kind = _NUMBER_TAGS[tag]
        plain = (_DECIMAL if kind is int else _DECIMAL_FLOAT()).fullmatch(value)
        try:
            out = kind(value) if plain else kind(_ruamel_number(tag, value))
        except Exception:  # too many digits, or a value ruamel refuses: the reference path words it
            raise NeedsReference from None
    else:
        raise NeedsReference
    if (type(out) is float and not math.isfinite(out)) or (type(out) is int and not -_INT64 <= out < _INT64):
        return out  # not remembered: `load_marked` tells a document that is not clean by this
    if len(_RT_SCALARS) > 200_000:
        _RT_SCALARS.clear()
    _RT_SCALARS[value] = out
    return out


def _ruamel_number(tag: str, value: str) -> Any:
    """ruamel's round-trip construction of a number spelt in a way Python's int()/float() read differently."""
    global _RT
    from ruamel.yaml.nodes import ScalarNode

    if _RT is None:
        from ruamel.yaml import YAML

        _RT = YAML(typ="rt")
    return _RT.constructor.construct_object(ScalarNode(tag, value), deep=True)


def _block_scalar(value: str, style: str) -> Any:
    """A `|` or `>` block scalar as the round-trip loader types it (LiteralScalarString, FoldedScalarString)."""
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    return LiteralScalarString(value) if style == "|" else FoldedScalarString(value)


#: Characters YAML 1.1 (libyaml) reads as line breaks and YAML 1.2 (ruamel) does not.
_BREAKS_11 = ("\x85", "\u2028", "\u2029")


def load_marked(text: str) -> list[tuple[Any, int, Any]]:
    """`load_marked_python`'s result, built by the compiled reader (llmkube/_marked.c) when it is
    built and current, else by that Python loop (the reference): the same documents, marks, plain
    twins and refusals either way (tests/test_fastyaml_compiled.py)."""
    if any(ch in text for ch in _BREAKS_11):
        raise NeedsReference
    if _compiled_load is _UNSET:
        _setup()
    if _compiled_load is not None:
        try:
            return _compiled_load(text)
        except NeedsReference:
            if "&" not in text:
                raise
            # The compiled reader refuses every anchor; the Python loop reads anchored mappings and
            # sequences and their aliases (what hand-written manifests and PyYAML's dumper write),
            # ~2.5x the compiled reader's time where the reference loader takes ~100x.
    return load_marked_python(text)


def load_marked_python(text: str) -> list[tuple[Any, int, Any]]:
    """Every document of `text` (None for an empty one) with its 1-based start line, as the
    round-trip loader reads it: same values and types for scalars (YAML 1.2), dicts and lists that
    carry the same line/column marks. Raises NeedsReference for anything it leaves to that loader.

    The third item of each is the document as plain data, built in the same pass: what
    `yamlio.to_plain` makes of it (exact dicts, lists and builtin scalars; a block scalar as a str),
    when the document is also *clean* as `yamlio.document_problems` asks (string keys, no surrogate
    escape, finite floats, 64-bit integers, shallower than MAX_NESTING; aliases never get here);
    None otherwise, and the caller walks the document as before (tests/test_fastyaml_marked.py).

    Anchors on mappings and sequences (`labels: &labels {...}`) and their aliases (`*labels`) are
    read as the reference reads them: the alias is the anchored container itself, the same object
    with the same marks, so `yamlio.document_problems` counts what aliases bring in (its alias
    budget) on the same tree. Such a document is not clean (its walker must count them). Left to
    the reference: an anchor on a scalar (ruamel types it as PlainScalarString, ScalarInt, ...),
    an alias to an anchor not yet closed (a recursive node) or not defined in the document, an
    anchor defined twice, and an alias as a key or as a whole document."""
    if any(ch in text for ch in _BREAKS_11):
        raise NeedsReference
    loader = _Loader(text)
    get_event = loader.get_event
    docs: list[tuple[Any, int, Any]] = []
    frames: list[tuple[Any, Any, Any, bool, Any, Any]] = []  # the enclosing containers' (top, plain, marks, is_list, key, anchor)
    top: Any = None  # the container being built (MarkedMap or MarkedList), None between documents
    plain: Any = None  # its plain twin
    marks: list[int] = []
    is_list = False
    key: Any = _NO_KEY  # a mapping's pending key
    anchor: Any = None  # the anchor of the container being built
    anchors: dict[str, tuple[Any, Any]] = {}  # the document's closed anchored containers: name -> (node, plain twin)
    clean = True  # the document so far: see the docstring
    cache = _RT_SCALARS
    scalar_event, map_start, seq_start = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    map_end, seq_end, doc_start = yaml.MappingEndEvent, yaml.SequenceEndEvent, yaml.DocumentStartEvent
    no_key, marked_list, marked_map, text_type = _NO_KEY, MarkedList, MarkedMap, str
    try:
        while True:
            event = get_event()
            if event is None:
                break
            etype = type(event)
            if etype is scalar_event:
                if event.anchor is not None or event.tag is not None:
                    raise NeedsReference
                if event.implicit[0]:
                    raw = event.value
                    if raw in cache:
                        value = cache[raw]
                    else:
                        value = _rt_plain(raw)
                        if raw not in cache:  # not remembered: a value that is not clean
                            clean = False
                    twin = value
                elif event.style == "|" or event.style == ">":
                    twin = event.value
                    value = _block_scalar(twin, event.style)
                else:
                    value = twin = event.value
                    if event.style == '"' and not value.isascii() and _SURROGATE().search(value):
                        clean = False
                if top is None:
                    if value is not None:
                        raise NeedsReference  # a scalar document: the reference loader places it
                    docs.append((None, 0, None))
                    continue
                if is_list:
                    top.append(value)
                    plain.append(twin)
                    mark = event.start_mark
                    marks.append(mark.line << _SHIFT | mark.column)
                elif key is no_key:
                    if value in top:
                        raise NeedsReference  # a duplicate key: the reference loader words it
                    if type(value) is not text_type:
                        clean = False
                    key = value
                    mark = event.start_mark
                    marks.append(mark.line << _SHIFT | mark.column)
                else:
                    top[key] = value
                    plain[key] = twin
                    key = no_key
            elif etype is map_start or etype is seq_start:
                if event.tag is not None or (event.anchor is not None and event.anchor in anchors):
                    raise NeedsReference
                if top is not None:
                    if not is_list and key is no_key:
                        raise NeedsReference  # a complex key: the reference loader words it
                    frames.append((top, plain, marks, is_list, key, anchor))
                    if len(frames) >= MAX_NESTING:
                        clean = False
                anchor = event.anchor
                is_list = etype is seq_start
                top = marked_list() if is_list else marked_map()
                plain = [] if is_list else {}
                mark = event.start_mark
                top.start = mark.line << _SHIFT | mark.column
                top.marks = marks = []
                key = no_key
            elif etype is map_end or etype is seq_end:
                value, twin = top, plain
                if anchor is not None:
                    if anchor in anchors:
                        raise NeedsReference  # defined twice (nested): the reference loader words it
                    anchors[anchor] = (value, twin)
                if not frames:
                    docs.append((value, (value.start >> _SHIFT) + 1, twin if clean else None))
                    top = plain = anchor = None
                    clean = True
                    continue
                top, plain, marks, is_list, key, anchor = frames.pop()
                if is_list:
                    top.append(value)
                    plain.append(twin)
                    marks.append(value.start)
                else:
                    top[key] = value
                    plain[key] = twin
                    key = no_key
            elif etype is doc_start:
                if event.version is not None or event.tags:
                    raise NeedsReference
                anchors = {}  # an alias refers to an anchor of its own document only
            elif etype is yaml.AliasEvent:
                found = anchors.get(event.anchor)
                if found is None or top is None or (not is_list and key is no_key):
                    raise NeedsReference  # undefined, still open (recursive), a whole document or a key
                value, twin = found
                clean = False  # what the alias brings in is counted by the document's walker
                if is_list:
                    top.append(value)
                    plain.append(twin)
                    marks.append(value.start)
                else:
                    top[key] = value
                    plain[key] = twin
                    key = no_key
            # StreamStart, StreamEnd, DocumentEnd: nothing to do
    except yaml.YAMLError:
        raise NeedsReference from None
    except (ValueError, RecursionError, TypeError):
        raise NeedsReference from None
    finally:
        loader.dispose()
    return docs


_NO_KEY = object()


def _compiled() -> Any:
    """The compiled reader's `load`, handed this module's classes, cache and callbacks; None when
    llmkube._marked is not built (no compiler or libyaml headers at install), was built for another
    interface (rebuild with `pip install -e .`), or runs on a libyaml (the system's) or beside one
    (PyYAML's, `_libyaml_nest_limit`) whose refusals it was not written for."""
    try:
        from llmkube import _marked
    except ImportError:
        return None
    if getattr(_marked, "API", None) != _MARKED_API or _marked.LIBYAML_VERSION not in _SYSTEM_LIBYAML:
        return None
    return _marked


def _libyaml_nest_limit() -> int | None:
    """The nesting PyYAML's libyaml refuses, which the compiled reader (on the system's libyaml) must
    refuse alike (llmkube/_marked.c, LEVEL_*): 1000 levels in the libyaml PyYAML's wheels bundle
    ("0.2.6": "exceeded maximum nesting depth"), none in 0.2.5; None for anything else. Measured
    with block sequences (~0.2 ms; flow ones cost libyaml quadratic time)."""
    from yaml._yaml import CParser, get_version_string

    def refused(depth: int) -> bool:
        try:
            CParser("- " * depth + "x").raw_parse()
        except yaml.YAMLError:
            return True
        return False

    if not refused(_NEST_LIMIT):
        return 0 if get_version_string() == "0.2.5" else None
    return _NEST_LIMIT if not refused(_NEST_LIMIT - 1) else None


def _setup() -> None:
    """On first use: set the compiled readers up, or settle on the Python loops."""
    global _compiled_load, _compiled_plain
    module = _compiled()
    limit = _libyaml_nest_limit() if module is not None and _Loader is not yaml.SafeLoader else None
    if module is None or limit is None:
        _compiled_load = _compiled_plain = None
        return
    module.setup(NeedsReference, yaml.YAMLError, MarkedMap, MarkedList, _RT_SCALARS, _rt_plain, _block_scalar, MAX_NESTING, limit)
    module.setup_plain(_NeedsFullLoader, _plain_scalar, _PLAIN_SCALARS)
    _compiled_load, _compiled_plain = module.load, module.load_plain


def compiled_reader() -> Any:
    """The compiled marked reader's `load` in use (set up on first use), or None: the Python loop reads."""
    if _compiled_load is _UNSET:
        _setup()
    return _compiled_load


def _plain_documents(text: str) -> list[Any]:
    """`_fast_documents(text)`, by the compiled plain reader when it is built: it returns the same
    documents or hands the text to that Python loop, which reads it or raises what it raises
    (anchors, tags, merge keys, syntax errors: tests/test_fastyaml_compiled.py)."""
    if _compiled_plain is _UNSET:
        _setup()
    if _compiled_plain is not None:
        try:
            docs: list[Any] = _compiled_plain(text)
            return docs
        except _NeedsFullLoader:
            pass
    return _fast_documents(text)


#: What `_plain_scalar` made of a raw plain scalar, for the compiled plain reader (bounded there).
_PLAIN_SCALARS: dict[str, Any] = {}
_UNSET: Any = object()
#: The interface of llmkube/_marked.c this module speaks (its MARKED_API).
_MARKED_API = 3
#: The libyaml releases the compiled reader may run on: 0.2.5 has no nesting limit of its own (the
#: one PyYAML's bundled libyaml has is counted in llmkube/_marked.c); a later one may refuse otherwise.
_SYSTEM_LIBYAML = ("0.2.5",)
#: The nesting limit of the libyaml PyYAML's wheels bundle (its MAX_NESTING_LEVEL).
_NEST_LIMIT = 1000
#: What `load_marked` and `load_plain` read with: unset until the first call, then the compiled
#: readers' functions, or None (the Python loops).
_compiled_load: Any = _UNSET
_compiled_plain: Any = _UNSET
