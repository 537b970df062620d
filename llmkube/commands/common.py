"""What every command's output shares."""

from __future__ import annotations

import sys


def note(message: str) -> None:
    sys.stderr.write(f"llmkube: note: {message}\n")
