"""Worker processes for the per-object checks of a large run (`validate -j N`).

The schema and CEL checks judge one object at a time, so a run's objects can be split among
worker processes; the LLM-aware rules look across objects and run on the whole run in the main
process meanwhile. Workers are forked (POSIX): they inherit the parsed objects and the compiled
schemas, and send back only their findings. A chunk's findings come back in chunk order, so the
merged list is what one process finds. Where fork is not available the work runs here, in order.

Besides `kubectl.py` (which runs kubectl), this is the one module that starts processes, and it
starts only Python workers running llmkube's own functions (tests/test_architecture.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # multiprocessing is imported when workers start: other runs do not pay for it
    from concurrent.futures import Future, ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")

#: Fewer objects than this: `-j auto` stays in one process (forking costs more than it saves).
AUTO_MIN_OBJECTS = 500
#: At most this many processes for `-j auto`.
AUTO_MAX_JOBS = 8

# What a forked worker reads: set in the parent before the pool forks, inherited, never pickled.
_WORK: tuple[Callable[[Sequence[Any]], Any], Sequence[Any]] | None = None


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity where the system says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def auto_jobs(objects: int) -> int:
    """`-j auto`: one process for a small run or on one core; else one per core free now (the
    cores less the 1-minute load average, rounded; at least 1, at most AUTO_MAX_JOBS). A busy
    machine gets one process: workers would only queue for the same cores."""
    cores = usable_cores()
    if objects < AUTO_MIN_OBJECTS or cores < 2:
        return 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, min(int(cores - load + 0.5), cores, AUTO_MAX_JOBS))


def can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def chunks(n_items: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous (start, end) ranges covering 0..n_items, in order, sizes within one."""
    parts = max(1, min(parts, n_items))
    size, extra = divmod(n_items, parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append((start, end))
        start = end
    return out


def _run_chunk(bounds: tuple[int, int]) -> Any:
    assert _WORK is not None
    fn, items = _WORK
    return fn(items[bounds[0] : bounds[1]])


class Pending(Generic[R]):
    """Results still being computed by workers; `results()` waits and returns them in chunk order."""

    def __init__(self, futures: list[Future[R]] | None, done: list[R] | None, pool: ProcessPoolExecutor | None) -> None:
        self._futures, self._done, self._pool = futures, done, pool

    def results(self) -> list[R]:
        global _WORK
        try:
            if self._done is not None:
                return self._done
            assert self._futures is not None
            return [f.result() for f in self._futures]
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                _WORK = None


def start(fn: Callable[[Sequence[T]], R], items: Sequence[T], workers: int) -> Pending[R]:
    """Run `fn` over `workers` contiguous chunks of `items` in forked processes, returning at once;
    the caller works on meanwhile and collects with `.results()`. With one worker, or no fork,
    `fn` runs here over each chunk, in order, before this returns."""
    global _WORK
    bounds = chunks(len(items), workers)
    if workers < 2 or len(bounds) < 2 or not can_fork():
        return Pending(None, [fn(items[a:b]) for a, b in bounds], None)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _WORK = (fn, items)  # inherited by the workers, which fork on the first submit
    pool = ProcessPoolExecutor(max_workers=len(bounds), mp_context=multiprocessing.get_context("fork"))
    return Pending([pool.submit(_run_chunk, b) for b in bounds], None, pool)
