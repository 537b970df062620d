"""The Jinja environment: values are JSON, templates carry structure.

Every `{{ … }}` is emitted through `json.dumps` (a YAML 1.2 flow scalar or
collection), so no value — a colon, a newline, `{{`, a quote — can add keys
or documents. The rendered text is parsed back and re-emitted by yamlio, so
template whitespace never reaches the output. Null values are dropped: the
API server prunes them anyway, and templates stay free of `if` guards.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from llmkube.errors import InputError, SourceMark
from llmkube.fastyaml import load_plain
from llmkube.yamlio import UNSAFE_RAW
from llmkube.resources import builtin_templates

BUILTIN_TEMPLATES = builtin_templates()


def _finalize(value: Any) -> str:
    if isinstance(value, _Block):
        return value
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming the missing value
    return _escape_unsafe(json.dumps(value, ensure_ascii=False))


def _escape_unsafe(text: str) -> str:
    """JSON leaves U+2028, U+2029, U+0085, DEL and C1 controls raw; a YAML reader folds
    the first three into a space and refuses the rest, so they go in as `\\uXXXX` escapes."""
    return UNSAFE_RAW().sub(lambda m: "\\u%04x" % ord(m.group()) if ord(m.group()) < 0x10000 else m.group(), text)


class _BytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept in the user cache (`<cache>/.jinja`), so a run does not compile its
    template again (~5 ms for an endpoint's). Jinja keys a template by its name and file and checks the
    source's hash itself; the file name adds the Jinja version. Writes are atomic (llmkube.diskcache),
    an entry another user could have written is never loaded (it is code), and an entry Jinja cannot
    read is a miss: the template is compiled and the entry rewritten."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _name(self, bucket: jinja2.bccache.Bucket) -> str:
        return f"{bucket.key}-{jinja2.__version__}.jinja"

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        from llmkube import diskcache

        data = diskcache.read_private_bytes(self.directory, self._name(bucket))
        if data is None:  # no entry, or one another user could have written: compile instead
            return
        try:
            bucket.bytecode_from_string(data)
        except Exception:  # noqa: BLE001 - unreadable, truncated or foreign: compile instead
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        from llmkube import diskcache

        try:
            data = bucket.bytecode_to_string()
        except (TypeError, ValueError):
            return
        if diskcache.write_bytes(self.directory, self._name(bucket), data, private=True):
            diskcache.prune(self.directory, pattern="*.jinja")


class Renderer:
    """Renders templates by name, searching user dirs before the built-ins."""

    def __init__(self, template_dirs: Sequence[str | Path] = (), *, bytecode_cache: Path | None = None) -> None:
        dirs = [Path(d) for d in template_dirs]
        for d in dirs:
            if not d.is_dir():
                raise InputError(
                    "template directory not found",
                    mark=SourceMark(str(d)),
                    hint="--templates takes a directory of *.yaml.j2 files that override built-ins by name",
                )
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([*dirs, BUILTIN_TEMPLATES]),
            undefined=jinja2.StrictUndefined,
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,
            bytecode_cache=_BytecodeCache(bytecode_cache) if bytecode_cache is not None else None,
        )
        self.env.filters["block"] = _block

    def render(self, template: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Render one template into the objects it describes."""
        try:
            text = self.env.get_template(template).render(**values)
        except jinja2.TemplateNotFound:
            raise InputError(f"template {template!r} not found", hint="is a --templates dir missing it?") from None
        except jinja2.TemplateSyntaxError as exc:
            raise InputError(
                f"template syntax error: {exc.message}",
                mark=SourceMark(exc.filename or template, exc.lineno),
            ) from None
        except jinja2.UndefinedError as exc:
            raise InputError(f"template {template!r}: {exc.message}", hint="the template uses a value llmkube does not provide") from None
        try:
            docs = load_plain(text, f"{template} (rendered)", what="rendered template")
        except InputError as exc:
            exc.message = f"template {template!r} rendered invalid YAML: {exc.message}"
            exc.hint = "check the template's indentation around this line"
            raise
        out = []
        for doc in docs:
            pruned = drop_nulls(doc)
            if pruned:
                if not isinstance(pruned, dict):
                    raise InputError(f"template {template!r} rendered a document that is not a mapping")
                out.append(pruned)
        return out


def _block(text: Any, width: int = 4) -> _Block:
    """Place a macro's rendered YAML block under its parent key.

    `finalize` passes a `_Block` through as YAML text; every value inside the
    macro was already emitted as JSON, so no spec value escapes quoting.
    """
    return _Block(jinja2.filters.do_indent(str(text), width, False))


class _Block(str):
    """A rendered YAML block (macro output) that `finalize` passes through."""


def drop_nulls(node: Any) -> Any:
    """Remove null values from mappings, recursively (lists keep their shape)."""
    if isinstance(node, dict):
        return {k: drop_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [drop_nulls(v) for v in node]
    return node
