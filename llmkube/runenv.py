"""Environment variables llmkube sets for its own process, kept out of the programs it starts.

A run sets `PYDANTIC_DISABLE_PLUGINS` (see `cli.PYDANTIC_PLUGINS_ENV`) for pydantic in this
process. kubectl, and the credential plugins kubectl runs in turn, should see the user's
environment as it was: `for_children` is that environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: name → the value this process set (only where the user had not set the name).
_set_here: dict[str, str] = {}


def set_default(name: str, value: str) -> bool:
    """Set `name` for this process unless the user set it; True when it was set here."""
    if name in os.environ:
        return False
    os.environ[name] = value
    _set_here[name] = value
    return True


def unset(name: str) -> None:
    """Undo `set_default` (an in-process caller of `cli.main` keeps its environment)."""
    if _set_here.pop(name, None) is not None:
        os.environ.pop(name, None)


def for_children(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) without what this process set for itself."""
    env = dict(os.environ if base is None else base)
    for name, value in _set_here.items():
        if env.get(name) == value:
            del env[name]
    return env
