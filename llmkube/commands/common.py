"""What every command's output shares: one-line notes and errors on stderr.

A value in a message (a pool name, a label, a path) may carry a newline or
another line break; written raw it would start a line of its own and could
forge an `llmkube: error:` line for whoever reads the log. Every note and
error is therefore exactly one line (llmkube.oneline), and token-shaped
values in it are masked (llmkube.secrets).
"""

from __future__ import annotations

import sys

from llmkube.errors import InputError
from llmkube.oneline import one_line
from llmkube.secrets import mask


#: -1 with --quiet (no notes), 0 by default, 1 with -v (also details); set once by the CLI's root.
_verbosity = 0


def set_verbosity(level: int) -> None:
    global _verbosity
    _verbosity = level


def verbose() -> bool:
    """Whether -v asked for details (so a command can skip computing them)."""
    return _verbosity > 0


def detail(message: str) -> None:
    """What only `-v` asks for: which objects were read, from where."""
    if _verbosity > 0:
        sys.stderr.write(f"llmkube: info: {one_line(mask(message))}\n")


def warning(message: str) -> None:
    sys.stderr.write(f"llmkube: warning: {one_line(mask(message))}\n")


def note(message: str) -> None:
    if _verbosity < 0:
        return
    sys.stderr.write(f"llmkube: note: {one_line(mask(message))}\n")


def error(message: str) -> None:
    sys.stderr.write(f"llmkube: error: {one_line(mask(message))}\n")


def input_error_lines(err: InputError) -> list[str]:
    """An input error as its stderr lines: the error line, then its field and hint lines, each one line."""
    head = f"{err.mark}: {err.message}" if err.mark else err.message
    lines = [f"llmkube: error: {one_line(mask(head))}"]
    if err.field:
        lines.append(f"  field: {one_line(mask(err.field))}")
    if err.hint:
        lines.append(f"  hint: {one_line(mask(err.hint))}")
    return lines
