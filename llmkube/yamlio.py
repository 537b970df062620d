"""YAML in and out.

Loading keeps line marks so that every error can point at the user's line.
Dumping is deterministic (same data → same bytes) and safe for YAML 1.1
readers such as kubectl: strings that a 1.1 parser would read as something
else (`on`, `yes`, `012`, `1:30`) are always quoted.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from llmkube.errors import InputError, SourceMark

YAML_SUFFIXES = (".yaml", ".yml", ".json")
STDIN_NAME = "<stdin>"

PathElem = str | int


@dataclass
class Document:
    """One YAML document of a file, with its line marks kept."""

    data: Any
    file: str
    index: int
    line: int  # 1-based line where the document starts

    def mark(self, path: Sequence[PathElem] = ()) -> SourceMark:
        """The source position of `path` inside this document (best effort)."""
        return mark_of(self.data, path, self.file, default_line=self.line)


def _loader() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def parse_documents(text: str, file: str) -> list[Document]:
    """Parse multi-document YAML; empty documents are dropped."""
    yaml = _loader()
    docs: list[Document] = []
    try:
        for index, data in enumerate(yaml.load_all(text)):
            if data is None:
                continue
            line = data.lc.line + 1 if hasattr(data, "lc") and data.lc.line is not None else 1
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
    return docs


def _syntax_hint(problem: str) -> str | None:
    if "duplicate key" in problem:
        return "each key may appear once per mapping; remove or rename the repeated key"
    if "tab" in problem:
        return "YAML indentation must use spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted, or the line is indented wrongly"
    return "check the indentation and quoting around this position"


def read_text(path: str) -> tuple[str, str]:
    """Read a file (or stdin for `-`); returns (display name, text)."""
    if path == "-":
        return STDIN_NAME, sys.stdin.read()
    try:
        return path, Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file or directory", mark=SourceMark(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory", mark=SourceMark(path)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", mark=SourceMark(path)) from None
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
            found = sorted(
                str(f)
                for f in path.rglob("*")
                if f.is_file() and f.suffix in YAML_SUFFIXES and not _hidden(f, path)
            )
            out.extend(found)
        elif path.exists():
            out.append(p)
        else:
            raise InputError("no such file or directory", mark=SourceMark(p))
    return out


def _hidden(f: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in f.relative_to(root).parts)


def load_paths(paths: Iterable[str]) -> list[Document]:
    """Read and parse every file; all syntax errors are collected, then raised."""
    from llmkube.errors import InputErrors

    docs: list[Document] = []
    errors: list[InputError] = []
    for p in expand_paths(paths):
        try:
            name, text = read_text(p)
            docs.extend(parse_documents(text, name))
        except InputError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputErrors(errors)
    return docs


def mark_of(
    node: Any, path: Sequence[PathElem], file: str, default_line: int = 1
) -> SourceMark:
    """Walk `path` through ruamel nodes; return the deepest position found.

    For a mapping key the mark points at the key itself, which is where a
    user looks when a field is misspelt or has the wrong value.
    """
    line, col = default_line, 1
    if hasattr(node, "lc") and node.lc.line is not None:
        line, col = node.lc.line + 1, node.lc.col + 1
    cur = node
    for elem in path:
        if isinstance(cur, CommentedMap) and elem in cur:
            pos = cur.lc.key(elem)
            if pos:
                line, col = pos[0] + 1, pos[1] + 1
            cur = cur[elem]
        elif isinstance(cur, CommentedSeq) and isinstance(elem, int) and 0 <= elem < len(cur):
            pos = cur.lc.item(elem)
            if pos:
                line, col = pos[0] + 1, pos[1] + 1
            cur = cur[elem]
        else:
            break
    return SourceMark(file, line, col)


def dotted(path: Iterable[PathElem]) -> str:
    """("spec", "pools", 0, "gpu") → "spec.pools[0].gpu", as users read field paths."""
    out = ""
    for elem in path:
        if isinstance(elem, int):
            out += f"[{elem}]"
        else:
            out += ("." if out else "") + str(elem)
    return out


def to_plain(node: Any) -> Any:
    """ruamel round-trip types → plain dict/list/str/int/float/bool/None."""
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

_YAML11 = VersionedResolver(version=(1, 1))
_YAML12 = VersionedResolver(version=(1, 2))


def _needs_quotes(value: str) -> bool:
    for resolver in (_YAML11, _YAML12):
        tag = resolver.resolve(ScalarNode, value, (True, False))
        if tag != "tag:yaml.org,2002:str":
            return True
    return False


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter; strings quoted where a YAML 1.1 or 1.2 reader would misread them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # never emit anchors: kubectl users read this output


#: Characters a YAML 1.1 or 1.2 reader treats as a line break (besides "\n"), and the
#: characters YAML does not allow raw in a stream (c-printable's complement): written
#: raw they would be folded into a space or refused, so such strings are double-quoted,
#: where the emitter writes them as escapes (\\L, \\P, \\N, \\r, \\x7F, …).
UNSAFE_RAW = re.compile("[^\\x09\\x0a\\x20-\\x7e\\xa0-\\u2027\\u202a-\\ud7ff\\ue000-\\ufefe\\uff00-\\ufffd\\U00010000-\\U0010ffff]")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> Any:
    style = None
    if UNSAFE_RAW.search(data):
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
