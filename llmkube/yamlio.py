"""YAML in and out.

Loading keeps line marks so that every error can point at the user's line.
Dumping is deterministic (same data → same bytes) and safe for YAML 1.1
readers such as kubectl: strings that a 1.1 parser would read as something
else (`on`, `yes`, `012`, `1:30`) are always quoted.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from llmkube import yamlresolve
from llmkube.errors import InputError, InputErrors, SourceMark
from llmkube.fastyaml import NeedsReference, load_marked, shift_lines
from llmkube.lazyre import lazy
from llmkube.options import MAX_NESTING, InputLimits
from llmkube.records import record

YAML_SUFFIXES = (".yaml", ".yml", ".json")
STDIN_NAME = "<stdin>"

PathElem = str | int


@record
class Document:
    """One YAML document of a file, with its line marks kept."""

    data: Any
    file: str
    index: int
    line: int  # 1-based line where the document starts
    #: The document as plain data (`to_plain(data)`), when the fast reader built it beside `data`
    #: and found the document clean (`document_problems` has nothing to walk for); else None.
    plain: Any = field(default=None, repr=False, compare=False)

    def mark(self, path: Sequence[PathElem] = ()) -> SourceMark:
        """The source position of `path` inside this document (best effort)."""
        return mark_of(self.data, path, self.file, default_line=self.line)


def _loader() -> Any:
    """ruamel's round-trip loader: imported here, on the reference path only (a render or validate
    of ordinary input never imports ruamel.yaml)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


#: Characters no YAML reader takes raw in a stream: the complement of YAML's c-printable
#: (`[\\x09\\x0a\\x0d\\x20-\\x7e\\x85\\xa0-\\ud7ff\\ue000-\\ufffd\\U00010000-\\U0010ffff]`), spelled out:
#: the negated class compiles ~10x slower, a cost every run paid at import. Compiled on first use:
#: an ASCII text is told clean without it (`_printable_ascii`).
_NOT_YAML = lazy("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x84\\x86-\\x9f\\ud800-\\udfff\\ufffe\\uffff]")
#: The ASCII characters YAML takes raw (c-printable's ASCII part): tab, line feed, carriage return, 0x20–0x7E.
_PRINTABLE_ASCII = b"\t\n\r" + bytes(range(0x20, 0x7F))
_SURROGATE = lazy("[\\ud800-\\udfff]")
_INT64 = 2**63


def parse_documents(
    text: str, file: str, limits: InputLimits | None = None, *, reference: bool = False
) -> list[Document]:
    """Parse multi-document YAML; empty documents are dropped.

    Parsed by libyaml (`fastyaml.load_marked`) into dicts and lists that carry their line marks,
    with the values ruamel's round-trip loader would construct; anything else (anchors, tags,
    timestamps, a syntax error, ...) goes to that loader, the reference path (`reference=True`
    forces it). Both give the same data, the same marks and the same errors
    (tests/test_fastyaml_marked.py).

    Every failure is an `InputError` at the line: a character YAML forbids, bad
    syntax, nesting too deep for the parser, an integer too long to convert, or
    more documents than `limits.max_documents`.
    """
    limits = limits or InputLimits()
    bad = None if _printable_ascii(text) else _NOT_YAML().search(text)
    if bad:
        raise InputError(
            f"control character U+{ord(bad.group()):04X} is not allowed in YAML",
            mark=position(text, bad.start(), file),
            hint='write it as an escape inside a double-quoted string, such as "\\x00" or "\\u0007"',
        )
    if not reference:
        try:
            loaded = load_marked(text)
        except NeedsReference:
            parts = _parse_by_parts(text, file, limits)
            if parts is not None:
                return parts
        else:
            docs = [
                Document(data=data, file=file, index=i, line=line, plain=plain)
                for i, (data, line, plain) in enumerate(loaded)
                if data is not None
            ]
            if len(docs) <= limits.max_documents:
                return docs
    return _parse_reference(text, file, limits)


#: A line that starts a document: `---` at a line's start, then a space, a tab or the line's end.
#: YAML forbids it inside a scalar or a flow collection (the readers stop there or refuse), and a
#: block collection or block scalar of a document's root mapping or sequence is indented, so in
#: a text that reads it is where a document starts.
_DOCUMENT_START = lazy(r"^---(?=[ \t\r\n]|\Z)", re.MULTILINE)
#: What keeps a text whole on the reference path: line breaks `str.count("\n")` does not count as
#: YAML does (a lone CR; the YAML 1.1 breaks), and what libyaml and ruamel read differently (a tab
#: as separating space, `a:\tb`; a byte-order mark after the start), where a part read by the fast
#: reader would not read as the whole text does on the reference path.
_NOT_SPLIT = lazy("\r(?!\n)|[\x85\u2028\u2029\t]|[\\s\\S]\ufeff")


def _parse_by_parts(text: str, file: str, limits: InputLimits) -> list[Document] | None:
    """A text the fast reader left to the reference, read a document at a time: each part from one
    document-start line to the next by the fast reader, and only the parts it leaves by the
    reference loader (a merge key, a tag, a timestamp in one document of a 10,000-document stream
    no longer sends all of it through the pure-Python loader, ~100x slower). Marks are moved down
    by the lines before the part; indexes count on across parts.

    None, and the caller reads the whole text with the reference loader as before, when the text
    has fewer than two parts, something in `_NOT_SPLIT` (other line breaks, a tab, a byte-order
    mark after its start), a part the reference cannot read
    (its error is worded on the whole text, at the same place as before), a part the reference
    reads as a scalar document, or more documents than the limit (worded likewise)."""
    starts = [m.start() for m in _DOCUMENT_START().finditer(text)]
    bounds = [0, *(s for s in starts if s), len(text)]
    if len(bounds) < 3 or _NOT_SPLIT().search(text):
        return None
    unbounded = InputLimits(limits.max_input_mb, sys.maxsize, limits.max_alias_nodes)
    docs: list[Document] = []
    index = line = 0
    for start, end in zip(bounds, bounds[1:]):
        part = text[start:end]
        try:
            loaded = load_marked(part)
        except NeedsReference:
            try:
                found, count = _reference_documents(part, file, unbounded)
            except InputError:
                return None
            if any(not isinstance(d.data, (Mapping, list)) for d in found):
                return None  # a scalar document: where a `---` line may be its text, the whole text decides
            if line:
                _shift_reference_marks([d.data for d in found], line)
            for d in found:
                d.index += index
                d.line += line
            docs += found
        else:
            count = len(loaded)
            for i, (data, first, plain) in enumerate(loaded):
                if data is not None:
                    if line:
                        shift_lines(data, line)
                    docs.append(Document(data=data, file=file, index=index + i, line=first + line, plain=plain))
        index += count
        line += part.count("\n")
    return docs if len(docs) <= limits.max_documents else None


def _shift_reference_marks(roots: list[Any], lines: int) -> None:
    """Move the line marks of ruamel's containers (CommentedMap, CommentedSeq: `lc.line` and the
    key, value and item lines in `lc.data`) `lines` down; an aliased or merged container once."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen or not hasattr(node, "lc"):
            continue
        seen.add(id(node))
        lc = node.lc
        if lc.line is not None:
            lc.line += lines
        for pos in (lc.data or {}).values():  # None where ruamel recorded no key or item
            pos[0] += lines
            if len(pos) > 2:
                pos[2] += lines
        stack.extend(v for v in (node.values() if isinstance(node, Mapping) else node) if isinstance(v, (Mapping, list)))


def _printable_ascii(text: str) -> bool:
    """Whether `text` is ASCII with no character `_NOT_YAML` matches: what most inputs are, told
    ~10x faster than searching for the class (the printable bytes deleted by one C loop leave none)."""
    return text.isascii() and not text.encode("ascii").translate(None, _PRINTABLE_ASCII)


def _parse_reference(text: str, file: str, limits: InputLimits) -> list[Document]:
    """The reference path: ruamel's round-trip loader (pure Python), for every input the fast path
    leaves to it and for the wording of every syntax error."""
    return _reference_documents(text, file, limits)[0]


def _reference_documents(text: str, file: str, limits: InputLimits) -> tuple[list[Document], int]:
    """`_parse_reference`'s documents, and how many documents the text has (empty ones too)."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = _loader()
    docs: list[Document] = []
    lines: list[int] = []
    count = 0
    try:
        for index, data in enumerate(yaml.load_all(text)):
            count = index + 1
            if data is not None and len(docs) >= limits.max_documents:
                start = data.lc.line + 1 if hasattr(data, "lc") and data.lc.line is not None else None
                raise InputError(
                    f"more than {limits.max_documents} YAML documents",
                    mark=SourceMark(file, start),
                    hint="split the input, or raise the limit with --max-documents",
                )
            if data is None:
                continue
            if hasattr(data, "lc") and data.lc.line is not None:
                line = data.lc.line + 1
            else:  # a scalar document: ruamel keeps no mark, libyaml's events have it
                lines = lines or _document_lines(text)
                line = lines[index] if index < len(lines) else 1
            docs.append(Document(data=data, file=file, index=index, line=line))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(
            f"YAML syntax error: {problem}",
            mark=SourceMark(file, mark.line + 1, mark.column + 1) if mark else SourceMark(file),
            hint=_syntax_hint(problem),
        ) from None
    except YAMLError as exc:
        raise InputError(f"YAML error: {exc}", mark=SourceMark(file)) from None
    except (RecursionError, ValueError):
        # ruamel's composer recurses once per level; int() refuses > 4300 digits; a
        # timestamp like 2020-02-30 or `!!int x` fails to construct
        raise _locate_overload(text, file) or _locate_bad_value(text, file) from None
    return docs, count


def position(text: str, offset: int, file: str) -> SourceMark:
    """The 1-based line and column of a character offset in `text`."""
    line = text.count("\n", 0, offset) + 1
    return SourceMark(file, line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def _document_lines(text: str) -> list[int]:
    """The 1-based line of each document's first node (its start line for an empty one)."""
    out: list[int] = []
    want = False
    loader = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.DocumentStartEvent):
                want = True
            elif isinstance(event, yaml.DocumentEndEvent):
                if want:
                    out.append(event.start_mark.line + 1 if event.start_mark else 1)
                want = False
            elif want and isinstance(event, yaml.NodeEvent):
                out.append(event.start_mark.line + 1 if event.start_mark else 1)
                want = False
    finally:
        loader.dispose()
    return out


def _locate_overload(text: str, file: str) -> InputError | None:
    """Find, with libyaml's iterative parser, the node too deep or the number too long."""
    depth = 0
    loader = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    try:
        while (event := loader.get_event()) is not None:
            start = event.start_mark
            mark = SourceMark(file, start.line + 1, start.column + 1) if start else SourceMark(file)
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_NESTING:
                    return InputError(
                        f"nested more than {MAX_NESTING} levels deep",
                        mark=mark,
                        hint="no Kubernetes object nests this deep; check the brackets",
                    )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent) and event.implicit[0] and len(event.value) > 1000:
                return InputError(
                    f"number with {len(event.value)} characters is too long",
                    mark=mark,
                    hint="Kubernetes numbers are 64-bit; quote the value if it is text",
                )
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return None


def _locate_bad_value(text: str, file: str) -> InputError:
    """Find the scalar ruamel cannot construct (an impossible date, `!!int x`), by composing."""
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    reader = _loader()
    try:
        for root in reader.compose_all(text):
            stack = [root]
            while stack:
                node = stack.pop()
                if isinstance(node, ScalarNode):
                    try:
                        reader.constructor.construct_object(node, deep=True)
                    except (ValueError, YAMLError) as exc:
                        what = str(node.tag).rsplit(":", 1)[-1]
                        return InputError(
                            f"cannot read {node.value!r} as {what}: {exc}",
                            mark=SourceMark(file, node.start_mark.line + 1, node.start_mark.column + 1),
                            hint="quote the value if it is text",
                        )
                elif isinstance(node, SequenceNode):
                    stack.extend(node.value)
                elif isinstance(node, MappingNode):
                    stack.extend(n for pair in node.value for n in pair)
    except (YAMLError, ValueError, RecursionError):
        pass
    return InputError("a value cannot be read", mark=SourceMark(file), hint="quote values that are text")


def _syntax_hint(problem: str) -> str | None:
    if "duplicate key" in problem:
        return "each key may appear once per mapping; remove or rename the repeated key"
    if "tab" in problem:
        return "YAML indentation must use spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted, or the line is indented wrongly"
    return "check the indentation and quoting around this position"


def read_text(path: str, limits: InputLimits | None = None) -> tuple[str, str]:
    """Read a file (or stdin for `-`) as UTF-8; returns (display name, text).

    FIFOs and devices are refused (they may never end); stdin is read up to the size limit.
    """
    limits = limits or InputLimits()
    cap = limits.max_input_mb * 1024 * 1024
    if path == "-":
        name, data = STDIN_NAME, _read_stdin(cap)
    else:
        name, data = path, _read_file(path, cap)
    if len(data) > cap:
        raise InputError(
            f"input is larger than {limits.max_input_mb} MiB",
            mark=SourceMark(name),
            hint="split the input, or raise the limit with --max-input-mb",
        )
    try:
        return name, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        raise InputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}: {exc.reason})",
            mark=position(good, len(good), name),
            hint="llmkube reads UTF-8; convert the file, e.g. with iconv -t UTF-8",
        ) from None


def _read_stdin(cap: int) -> bytes:
    stream = getattr(sys.stdin, "buffer", None) if sys.stdin is not None else None
    try:
        if stream is None:
            raise ValueError
        return bytes(stream.read(cap + 1))
    except (OSError, ValueError):
        raise InputError("cannot read standard input: it is closed", mark=SourceMark(STDIN_NAME)) from None


def _read_file(path: str, cap: int) -> bytes:
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            raise InputError(
                "not a regular file (a FIFO, socket or device)",
                mark=SourceMark(path),
                hint="pass files or directories; pipe data in with `-` for stdin",
            )
        with open(path, "rb") as fh:
            return fh.read(cap + 1)
    except FileNotFoundError:
        raise InputError("no such file or directory", mark=SourceMark(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory", mark=SourceMark(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", mark=SourceMark(path)) from None


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files as given; directories walked for YAML/JSON files in sorted order."""
    out: list[str] = []
    for p in paths:
        if p == "-":
            out.append(p)
            continue
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(_yaml_files(str(path))))
        elif path.exists():
            out.append(p)
        else:
            raise InputError("no such file or directory", mark=SourceMark(p))
    return out


def _yaml_files(root: str) -> list[str]:
    """The YAML and JSON files under `root`, as `Path(root).rglob("*")` finds them (the same path
    strings; symlinked directories not entered, symlinks to files kept, unreadable directories
    passed over), less those with a hidden part (a name starting with "."), whose directories are
    not entered. One `os.scandir` per directory, whose entries know their type: rglob and an
    `is_file()` per file cost ~29 µs a file, 0.29 s of a 10,000-file tree (this ~3 µs)."""
    out: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except PermissionError:  # as rglob: a directory it may not list is passed over
            continue
        prefix = "" if folder == "." else folder if folder.endswith("/") else folder + "/"
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(prefix + name)
                continue
            dot = name.rfind(".")  # Path.suffix: the last dot's part, not for a leading or trailing dot
            if 0 < dot < len(name) - 1 and name[dot:] in YAML_SUFFIXES and entry.is_file():
                out.append(prefix + name)
    return out


def read_documents(paths: Iterable[str], limits: InputLimits | None = None) -> tuple[list[Document], list[InputError]]:
    """Read, parse and shape-check every input; the good documents and every error found.

    A broken file or document does not hide the others' errors: the caller reports them all.
    """
    limits = limits or InputLimits()
    docs: list[Document] = []
    errors: list[InputError] = []
    count = 0
    try:
        files = expand_paths(paths)
    except InputError as exc:
        return [], [exc]
    for p in files:
        try:
            name, text = read_text(p, limits)
            left = InputLimits(limits.max_input_mb, max(limits.max_documents - count, 0), limits.max_alias_nodes)
            parsed = parse_documents(text, name, left)
        except InputError as exc:
            errors.append(exc)
            continue
        count += len(parsed)
        for doc in unpack_lists(parsed):
            problems = document_problems(doc, limits)
            errors.extend(problems)
            if not problems:
                docs.append(doc)
    return docs, errors


def unpack_lists(docs: Iterable[Document]) -> Iterator[Document]:
    """Each document, with a `kind: List` replaced by its items, each an object at its own line.

    `kubectl get -o yaml` writes several objects as one `v1` List, and `kubectl apply -f` sends its
    items (the resource builder flattens a list: k8s.io/cli-runtime pkg/resource `FlattenListVisitor`,
    nested lists too); kubeconform checks the items as well. A List with no `items` sequence is left
    as it is, and is then checked as an object of kind List (which has no schema)."""
    for doc in docs:
        data = doc.data
        items = data.get("items") if isinstance(data, Mapping) and data.get("kind") == "List" else None
        if not isinstance(items, list):
            yield doc
            continue
        plain_items = doc.plain.get("items") if isinstance(doc.plain, dict) else None
        for i, item in enumerate(items):
            line = doc.line
            if hasattr(items, "lc") and (pos := items.lc.item(i)):
                line = pos[0] + 1
            plain = plain_items[i] if isinstance(plain_items, list) and i < len(plain_items) else None
            yield from unpack_lists([Document(data=item, file=doc.file, index=doc.index, line=line, plain=plain)])


def load_paths(paths: Iterable[str], limits: InputLimits | None = None) -> list[Document]:
    """Read and parse every file; all input errors are collected, then raised."""
    docs, errors = read_documents(paths, limits)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputErrors(errors)
    return docs


def document_problems(doc: Document, limits: InputLimits | None = None) -> list[InputError]:
    """What makes a document unusable as a Kubernetes object or spec, each at its line.

    Keys that are not strings, numbers JSON cannot carry (.inf, .nan, beyond 64 bits),
    unpaired UTF-16 surrogates from `\\u` escapes (pairs are joined into their character),
    nesting deeper than MAX_NESTING and aliases that bring in more than
    `limits.max_alias_nodes` nodes (a "billion laughs"). A document must be a mapping
    whose apiVersion and kind, when given, are strings.
    """
    limits = limits or InputLimits()
    data = doc.data
    if not isinstance(data, dict) and not isinstance(data, Mapping):  # a dict first: a Mapping check is an ABC's
        return [
            InputError(
                f"a document must be a mapping (a Kubernetes object or an llmkube spec), got {kind_word(data)}",
                mark=doc.mark(),
                hint="start the document with `apiVersion:` and `kind:`",
            )
        ]
    problems: list[InputError] = []
    if doc.plain is None and not _plainly_clean(data):  # a plain twin: the reader found it clean
        walker = _Walker(doc, limits)
        try:
            walker.walk(data, (), 0)
        except _Stop:
            pass
        problems = walker.problems
    if _well_shaped(data):  # the common case, told without building the five paths below
        return problems
    for path in _SHAPED_PATHS:
        value = _get(data, path)
        want_map = path == ("metadata",)
        if value is None or isinstance(value, (dict, Mapping) if want_map else str):
            continue
        problems.append(
            InputError(
                f"expected {'a mapping' if want_map else 'a string'}, got {kind_word(value)}",
                mark=doc.mark(path),
                field=dotted(path),
            )
        )
    return problems


_SHAPED_PATHS = (("apiVersion",), ("kind",), ("metadata",), ("metadata", "name"), ("metadata", "namespace"))
_STR_OR_NONE = (str, type(None))


def _well_shaped(data: Mapping[str, Any]) -> bool:
    """Whether `document_problems` finds nothing at `_SHAPED_PATHS`: apiVersion and kind strings or
    absent, metadata a dict (or absent) whose name and namespace are strings or absent. False also
    for what it answers by walking the paths (metadata some other mapping, or a wrong type)."""
    meta = data.get("metadata")
    return (
        isinstance(data.get("apiVersion"), _STR_OR_NONE)
        and isinstance(data.get("kind"), _STR_OR_NONE)
        and (meta is None or (isinstance(meta, dict) and isinstance(meta.get("name"), _STR_OR_NONE)
                              and isinstance(meta.get("namespace"), _STR_OR_NONE)))
    )


def _get(data: Any, path: Sequence[str]) -> Any:
    for elem in path:
        if not isinstance(data, dict) and not isinstance(data, Mapping):
            return None
        data = data.get(elem)
    return data


def kind_word(value: Any) -> str:
    """A YAML user's word for a value's type: never a Python class name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if hasattr(value, "isoformat"):
        return "a date"
    return "a value"


def _plainly_clean(data: Any) -> bool:
    """True when `_Walker` would find nothing and change nothing: string keys, no surrogate escape,
    finite floats, 64-bit integers, shallower than MAX_NESTING, no node reached twice (an alias).
    One pass that builds no paths; anything else goes to the walker, which words and places it."""
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= MAX_NESTING or id(node) in seen:
            return False
        seen.add(id(node))
        if isinstance(node, dict) or (not isinstance(node, list) and isinstance(node, Mapping)):
            for key in node:
                if not isinstance(key, str) or (not key.isascii() and _SURROGATE().search(key)):
                    return False
            values: Iterable[Any] = node.values()
        else:
            values = node
        for value in values:
            kind = type(value)  # exact types first (most values): a Mapping check is an ABC's
            if kind is str or (kind is not dict and kind is not list and isinstance(value, str)):
                if not value.isascii() and _SURROGATE().search(value):
                    return False
            elif kind is bool or value is None:
                continue
            elif isinstance(value, (dict, list, Mapping)):
                stack.append((value, depth + 1))
            elif isinstance(value, float):
                if not math.isfinite(value):
                    return False
            elif isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
                return False
    return True


class _Stop(Exception):
    """The walk must end (alias budget spent, or nesting too deep)."""


class _Walker:
    """One pass over a document's tree; aliased nodes are counted, not walked again."""

    def __init__(self, doc: Document, limits: InputLimits) -> None:
        self.doc = doc
        self.limits = limits
        self.problems: list[InputError] = []
        self.sizes: dict[int, int] = {}  # id(container) → nodes it expands to; -1 while walking it
        self.alias_nodes = 0

    def error(self, path: tuple[PathElem, ...], message: str, hint: str | None = None) -> None:
        self.problems.append(InputError(message, mark=self.doc.mark(path), field=dotted(path) or None, hint=hint))

    def walk(self, node: Any, path: tuple[PathElem, ...], depth: int) -> int:
        if not isinstance(node, (Mapping, list)):
            self.scalar(node, path)
            return 1
        size = self.sizes.get(id(node))
        if size is not None:
            return self.alias(size, path)
        if depth >= MAX_NESTING:
            self.error(path, f"nested more than {MAX_NESTING} levels deep", "no Kubernetes object nests this deep")
            raise _Stop
        self.sizes[id(node)] = -1
        total = 1
        if isinstance(node, Mapping):
            for key in list(node.keys()):
                if not isinstance(key, str):
                    self.key_error(node, key, path)
                    continue
                if _SURROGATE().search(key):
                    self.error((*path, key), "a key holds a UTF-16 surrogate escape", "write the character itself")
                    continue
                total += self.child(node, key, (*path, key), depth)
        else:
            for i in range(len(node)):
                total += self.child(node, i, (*path, i), depth)
        self.sizes[id(node)] = total
        return total

    def key_error(self, node: Mapping[Any, Any], key: Any, path: tuple[PathElem, ...]) -> None:
        mark = self.doc.mark((*path, key))
        if isinstance(key, (Mapping, list, tuple)):
            message, hint = f"{kind_word(key)} is used as a key", "keys are text: write a plain key"
        else:
            shown = _show(key)
            message = f"key {shown} is {kind_word(key)}, not a string"
            hint = f'quote the key so it is read as text: "{shown}": …'
        self.problems.append(InputError(message, mark=mark, field=dotted(path) or None, hint=hint))

    def child(self, parent: Any, key: PathElem, path: tuple[PathElem, ...], depth: int) -> int:
        value = parent[key]
        if isinstance(value, str) and _SURROGATE().search(value):
            fixed = join_surrogates(value)
            if fixed is None:
                self.error(path, "a \\u escape is an unpaired UTF-16 surrogate", "escape a character above U+FFFF as a pair (\\ud83d\\ude80) or write it directly")
                return 1
            parent[key] = value = fixed
        return self.walk(value, path, depth + 1)

    def alias(self, size: int, path: tuple[PathElem, ...]) -> int:
        if size < 0:
            self.error(path, "an alias refers to a node that contains it", "YAML objects for Kubernetes cannot be recursive")
            raise _Stop
        self.alias_nodes += size
        if self.alias_nodes > self.limits.max_alias_nodes:
            self.error(
                path,
                f"YAML aliases here bring in more than {self.limits.max_alias_nodes} nodes",
                "aliases that expand exponentially (a \"billion laughs\") are refused; raise the limit with --max-alias-nodes",
            )
            raise _Stop
        return size

    def scalar(self, value: Any, path: tuple[PathElem, ...]) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            word = ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
            self.error(path, f"{word} is not a number Kubernetes can store", "JSON has no infinity or NaN; write a finite number")
        elif isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
            self.error(path, "integer out of range", "Kubernetes integers are 64-bit; quote the value if it is text")


def _show(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def join_surrogates(text: str) -> str | None:
    """Join UTF-16 surrogate pairs (from JSON-style `\\ud83d\\ude80`) into one character; None if one is unpaired."""
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return None


def mark_of(
    node: Any, path: Sequence[PathElem], file: str, default_line: int = 1
) -> SourceMark:
    """Walk `path` through marked nodes (fastyaml's MarkedMap/MarkedList, ruamel's CommentedMap/
    CommentedSeq: the containers with an `lc`); return the deepest position found.

    For a mapping key the mark points at the key itself, which is where a
    user looks when a field is misspelt or has the wrong value.
    """
    line, col = default_line, 1
    if hasattr(node, "lc") and node.lc.line is not None:
        line, col = node.lc.line + 1, node.lc.col + 1
    cur = node
    for elem in path:
        if isinstance(cur, Mapping) and hasattr(cur, "lc") and elem in cur:
            pos = _key_pos(cur, elem)
            if pos:
                line, col = pos[0] + 1, pos[1] + 1
            cur = cur[elem]
        elif isinstance(cur, list) and hasattr(cur, "lc") and isinstance(elem, int) and 0 <= elem < len(cur):
            pos = cur.lc.item(elem)
            if pos:
                line, col = pos[0] + 1, pos[1] + 1
            cur = cur[elem]
        else:
            break
    return SourceMark(file, line, col)


def _key_pos(node: Any, key: Any) -> Any:
    try:
        return node.lc.key(key)
    except KeyError:  # a key brought in by a merge (`<<: *x`) has no line of its own here
        return None


def dotted(path: Iterable[PathElem]) -> str:
    """("spec", "pools", 0, "gpu") → "spec.pools[0].gpu", as users read field paths."""
    out = ""
    for elem in path:
        if isinstance(elem, int):
            out += f"[{elem}]"
        else:
            out += ("." if out else "") + str(elem)
    return out


def plain_data(doc: Document) -> Any:
    """`to_plain(doc.data)`: the reader's plain twin when it built one (the same data: tests/test_fastyaml_marked.py)."""
    return to_plain(doc.data) if doc.plain is None else doc.plain


def to_plain(node: Any) -> Any:
    """ruamel round-trip types → plain dict/list/str/int/float/bool/None."""
    kind = type(node)  # exact builtins first: most leaves are plain already, and a Mapping check is an ABC's
    if kind is str or kind is int or kind is float or kind is bool or node is None:
        return node  # what the ladder below returns for them (`str(s) is s`, `int(i) is i`, ...)
    if isinstance(node, dict):
        return {k if type(k) is str else str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, Mapping):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


# --- dumping -----------------------------------------------------------------

#: Whether a YAML 1.1 or 1.2 reader would read the plain scalar as something else than this string.
#: Cached: rendered manifests repeat the same keys' values (names, labels, flags) many times.
_needs_quotes = functools.lru_cache(maxsize=1 << 16)(yamlresolve.needs_quotes)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter; strings quoted where a YAML 1.1 or 1.2 reader would misread them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # never emit anchors: kubectl users read this output


#: Characters a YAML 1.1 or 1.2 reader treats as a line break (besides "\n"), and the
#: characters YAML does not allow raw in a stream (c-printable's complement): written
#: raw they would be folded into a space or refused, so such strings are double-quoted,
#: where the emitter writes them as escapes (\\L, \\P, \\N, \\r, \\x7F, …). The complement of
#: `[\\x09\\x0a\\x20-\\x7e\\xa0-\\u2027\\u202a-\\ud7ff\\ue000-\\ufefe\\uff00-\\ufffd\\U00010000-\\U0010ffff]`,
#: spelled out (faster to compile; tests/test_startup.py holds the two equal).
UNSAFE_RAW = lazy("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ud800-\\udfff\\ufeff\\ufffe\\uffff]")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> Any:
    style = None
    if UNSAFE_RAW().search(data):
        style = '"'
    elif "\n" in data:
        style = "|"
    elif data == "" or _needs_quotes(data):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(obj: Any) -> str:
    """One document, block style, keys in the order given."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)


def dump_yaml_documents(objects: Iterable[Any]) -> str:
    """Objects → one multi-document YAML stream (`---` between documents)."""
    parts = [dump_yaml(obj) for obj in objects]
    return "---\n" + "---\n".join(parts) if parts else ""


def dump_json_documents(objects: Iterable[Any]) -> str:
    """Objects → a JSON `List` (kubectl reads it like a multi-doc YAML stream)."""
    items = list(objects)
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2) + "\n"
