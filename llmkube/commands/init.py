"""`llmkube init KIND`: write a commented starter spec to stdout or a file."""

from __future__ import annotations

import sys
from pathlib import Path

from llmkube.errors import InputError
from llmkube.starters import starter


def run_init(kind: str, *, output: Path | None, force: bool) -> int:
    text = starter(kind)
    if output is None:
        sys.stdout.write(text)
        return 0
    if output.exists() and not force:
        raise InputError(f"{output} exists; not overwriting it", hint="pass --force to replace it, or -o another file")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    sys.stdout.write(f"wrote a {kind} starter to {output}\n")
    return 0
