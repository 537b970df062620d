"""torchrun command lines: how many processes a pod starts, and where that is written.

The launcher may be `torchrun`, `python -m torch.distributed.run` (or
`.launch`), alone in `command`/`args` or inside a shell line
(`bash -c "torchrun --nproc_per_node=8 …"`); flags after the training
script belong to the script, not the launcher.
"""

from __future__ import annotations

from llmkube.check.read.args import split_words
from collections.abc import Mapping, Sequence
from typing import Any

from llmkube.check.read.workloads import Path

NPROC_FLAGS = ("--nproc_per_node", "--nproc-per-node")
LAUNCHER_MODULES = ("torch.distributed.run", "torch.distributed.launch")


def runs_torchrun(line: Sequence[str]) -> bool:
    """The command line mentions torchrun or torch.distributed anywhere."""
    text = " ".join(line)
    return "torchrun" in text or "torch.distributed" in text


def tokens(container: Mapping[str, Any], base: Path) -> list[tuple[Path, str]]:
    """command + args as tokens, each with the path of the list item it came from.

    A shell line (`bash -c "torchrun --nproc_per_node=8 …"`) is split into words.
    """
    out: list[tuple[Path, str]] = []
    for key in ("command", "args"):
        items = container.get(key) or []
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            text = str(item)
            # the launcher's name first: a substring search at C speed rules out most items (each argument
            # of a model server), before the whitespace test walks the text a character at a time
            if ("torchrun" in text or "torch.distributed" in text) and any(ch.isspace() for ch in text.strip()):
                try:
                    words = split_words(text)
                except ValueError:
                    words = text.split()
                out += [((*base, key, i), w) for w in words]
            else:
                out.append(((*base, key, i), text))
    return out


def launcher_nproc(toks: Sequence[tuple[Path, str]]) -> tuple[Path, str] | None:
    """(path, value) of --nproc_per_node when the line runs torchrun / torch.distributed.run."""
    words = [w for _, w in toks]
    if not runs_torchrun(words):
        return None  # no launcher named (the start test below looks for "torchrun" or torch.distributed.*)
    start = None
    for i, w in enumerate(words):
        if w.rsplit("/", 1)[-1] == "torchrun" or (w in LAUNCHER_MODULES and i and words[i - 1] == "-m"):
            start = i
            break
    if start is None:
        return None
    for i in range(start + 1, len(words)):
        w = words[i]
        for flag in NPROC_FLAGS:
            if w == flag and i + 1 < len(words):
                return toks[i + 1][0], words[i + 1]
            if w.startswith(flag + "="):
                return toks[i][0], w[len(flag) + 1 :]
        if w.endswith(".py") or w == "-m" and i > start + 1:
            break  # the training script's own flags start here
    return None
