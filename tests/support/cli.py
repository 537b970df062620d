"""The llmkube CLI as a user runs it: a subprocess of this interpreter's `python -m llmkube`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tests.support.paths import REPO


def llmkube(
    *args: str, stdin: str | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `llmkube ARGS` (the environment is the test's, plus `env`)."""
    return subprocess.run(
        [sys.executable, "-m", "llmkube", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def load_all(text: str) -> list[dict]:
    """Every non-empty document of a multi-document YAML stream."""
    return [d for d in YAML(typ="safe").load_all(text) if d is not None]
