"""Regular expressions compiled when first used.

Compiling a pattern costs 0.1–1 ms of start-up (`re` parses and optimises it in Python). A module
that keeps patterns for text most runs never hold (tokens, JUnit-unsafe characters, config files,
float spellings) defines them with `lazy`, and every run that holds no such text skips the compile.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable


def lazy(pattern: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """A function that compiles `pattern` on its first call and returns that same pattern after it."""
    return functools.cache(lambda: re.compile(pattern, flags))
