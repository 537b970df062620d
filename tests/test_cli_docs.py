"""docs/cli.md documents every command and every option the CLI accepts."""

from __future__ import annotations

from typing import Any

import typer

from llmkube.cli import app
from tests.support.paths import REPO


def commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf command under a (click) group, by its full name."""
    out: dict[str, Any] = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if hasattr(command, "commands"):
            out.update(commands(command, full + " "))
        else:
            out[full] = command
    return out


def test_every_command_and_option_is_documented():
    doc = (REPO / "docs" / "cli.md").read_text()
    root = typer.main.get_command(app)
    missing = []
    for name, command in commands(root).items():
        if f"## `llmkube {name}`" not in doc:
            missing.append(f"section for llmkube {name}")
        for param in command.params:
            for opt in [*param.opts, *param.secondary_opts]:
                if opt.startswith("-") and opt not in ("--help", "-h") and not documented(opt, doc):
                    missing.append(f"llmkube {name} {opt}")
    for param in root.params:
        for opt in param.opts:
            if opt.startswith("-") and opt not in ("--help", "-h") and not documented(opt, doc):
                missing.append(f"global {opt}")
    assert missing == []


def documented(opt: str, doc: str) -> bool:
    """`--opt` in code, or the second half of a `--flag/--no-flag` pair."""
    return f"`{opt}" in doc or f"/{opt}" in doc
