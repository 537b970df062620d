"""No cyclic garbage collection while a run builds what it keeps until exit.

A cold `render` creates a few hundred thousand objects that live for the whole
process: modules, classes, pydantic schemas, the profiles, the parsed inputs.
CPython's collector scans every one of them again at each full collection, and
start-up triggers several: ~10 % of a cold render's CPU (measured with the
collector off, docs/performance.md). So `main()` pauses the collector, and the
pipeline resumes it once the inputs are read and rendered: `gc.freeze()` moves
everything alive into the permanent generation (never scanned again; objects
are still freed by reference counting as usual), then collection restarts for
the work that follows, whose garbage cycles are collected as before. The price: garbage cycles
made while paused are frozen with the rest and kept until exit. Start-up makes few; reading YAML
makes none on the fast path and ~2 small objects per document on ruamel's reference path (anchors,
tags: measured over 500 such documents).
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> bool:
    """Turn the collector off; returns whether it was on (for `restore`)."""
    global _paused
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
        _paused = True
    return was_enabled


def resume() -> None:
    """If `pause` turned it off: freeze what is alive now and turn the collector back on."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def restore(was_enabled: bool) -> None:
    """Leave the collector as `pause` found it (an in-process caller, a test, keeps its own)."""
    global _paused
    _paused = False
    if was_enabled:
        gc.enable()
