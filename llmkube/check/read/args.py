"""Command lines of containers: flag values, and where a flag sits in the manifest."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from llmkube.check.read.shape import as_list
from llmkube.check.read.workloads import Path

FALSE = {"false", "0", "no", "off"}


def command_line(container: Mapping[str, Any]) -> list[str]:
    """command + args as one list of strings."""
    return [str(a) for a in as_list(container.get("command")) + as_list(container.get("args"))]


SHELLS = ("sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/bash")

# What POSIX `shlex.split` (comments off) treats specially besides its whitespace: quotes and the escape.
_QUOTING = re.compile(r"['\"\\]")
# shlex's whitespace is these four (shlex.shlex.whitespace), not all that str.split() splits on.
_WORD = re.compile(r"[^ \t\r\n]+")


def split_words(text: str) -> list[str]:
    """`shlex.split(text)` (POSIX, no comments), which raises ValueError on an unclosed quote.

    Without quotes or backslashes shlex only splits on its four whitespace characters, which a
    regex does at C speed; shlex reads a character at a time in Python (a server's script line
    was ~0.1 ms each, read for several rules); a quoted one is split by shlex once per text."""
    if _QUOTING.search(text) is None:
        return _WORD.findall(text)
    known = _SHLEX_SPLIT.get(text)
    if known is None:
        if len(_SHLEX_SPLIT) >= 4096:
            _SHLEX_SPLIT.clear()
        try:
            known = tuple(shlex.split(text))
        except ValueError as exc:
            known = str(exc)
        _SHLEX_SPLIT[text] = known
    if isinstance(known, str):
        raise ValueError(known)
    return list(known)


#: `shlex.split` per quoted text (its words, or its ValueError's message): the rules read a
#: server's script several times, and a run holds many copies of one (~0.1 s of shlex per 2,000
#: mixed documents). Bounded: cleared when full.
_SHLEX_SPLIT: dict[str, tuple[str, ...] | str] = {}


def shell_words(line: list[str]) -> list[str]:
    """A command line with the script of `sh -c SCRIPT` split into its words (POSIX shlex), so the
    flags of a server started from a script (lws v0.10.0 `docs/examples/vllm/GPU/lws.yaml`) read
    as flags; the line as it is when it runs no shell script or the script does not split."""
    if len(line) < 3 or line[0] not in SHELLS or line[1] != "-c":
        return line
    try:
        words = split_words(line[2])
    except ValueError:
        return line
    return [*line[:2], *words, *line[3:]]


def dashed_flags(line: list[str]) -> list[str]:
    """`--flag_name[=v]` spelled `--flag-name[=v]`: vLLM's FlexibleArgumentParser (vllm/utils/
    argparse_utils.py `parse_args`) reads a long option's underscores as dashes."""
    out = []
    for arg in line:
        if arg.startswith("--") and "_" in arg.split("=", 1)[0]:
            key, eq, value = arg.partition("=")
            arg = key.replace("_", "-") + eq + value
        out.append(arg)
    return out


def flag_on(line: list[str], *flags: str) -> bool:
    """A boolean flag is set (`--x`, `--x true`, `--x=1`; not `--x false`)."""
    for i, arg in enumerate(line):
        for flag in flags:
            if arg == flag:
                nxt = line[i + 1] if i + 1 < len(line) else ""
                return nxt.lower() not in FALSE
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1].lower() not in FALSE
    return False


def flag_path(container_path: Path, container: Mapping[str, Any], *flags: str) -> Path:
    """Path of the command-line item holding one of `flags` (the flag or flag=value)."""
    for key in ("args", "command"):
        for i, arg in enumerate(as_list(container.get(key))):
            a = str(arg)
            if any(a == f or a.startswith(f + "=") for f in flags):
                return (*container_path, key, i)
    return container_path


def env_value(container: Mapping[str, Any], name: str) -> str | None:
    """A literal environment variable of the container (valueFrom is not followed)."""
    for e in as_list(container.get("env")):
        if isinstance(e, Mapping) and e.get("name") == name and "value" in e:
            return str(e["value"])
    return None
