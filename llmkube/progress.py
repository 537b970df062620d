"""A progress bar on stderr for long runs: only when stderr is a terminal, never with -q.

Reading hundreds of files and checking thousands of objects takes seconds; a bar says the run
is alive. It is drawn on stderr only (never on stdout, where the report or the YAML goes) and is
transient: it is erased before the phase returns, so on a terminal the report that follows is
not mixed with it. Piped or redirected stderr (CI logs), `--quiet`, or TERM=dumb: nothing at all.
rich is imported only when a bar is drawn, so short runs and `--help` start no slower.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: Fewer items than this: no bar (a short run is over before a bar would help).
MIN_ITEMS = 100

_allowed = True  # False with --quiet; set once by the CLI's root
_color = "auto"  # --color (or the settings file's `color`): "never" draws the bar without colour


def allow(allowed: bool) -> None:
    global _allowed
    _allowed = allowed


def set_color(mode: str) -> None:
    """Follow --color: `never` keeps the bar monochrome like the rest of the output ($NO_COLOR
    is honoured by rich itself)."""
    global _color
    _color = mode


def possible() -> bool:
    """Could a bar be drawn now: not --quiet, and stderr is a terminal that draws?"""
    if not _allowed or os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def _bar(description: str, total: int | None) -> Iterator[Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr, no_color=_color == "never")
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    if total is None:
        columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def track(items: Sequence[T], description: str) -> Iterator[T]:
    """`items`, one by one, with a bar when there are many and a bar is possible."""
    if len(items) < MIN_ITEMS or not possible():
        yield from items
        return
    with _bar(f"{description} ({len(items)})", len(items)) as advance:
        for item in items:
            yield item
            advance()


@contextmanager
def working(description: str, count: int) -> Iterator[None]:
    """A spinner while a step without countable parts runs over `count` things (none below MIN_ITEMS)."""
    if count < MIN_ITEMS or not possible():
        yield
        return
    with _bar(f"{description} ({count})", None):
        yield


def count_files(paths: Iterable[str]) -> int:
    """How many files `paths` stand for, asked only when a bar is possible (it walks directories)."""
    if not possible():
        return 0
    from llmkube.errors import InputError
    from llmkube.yamlio import expand_paths

    try:
        return len(expand_paths(paths))
    except InputError:
        return 0  # read_documents reports it
