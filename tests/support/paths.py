"""Where things are in the repository."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
RULE_CASES = REPO / "tests" / "cases" / "rules"
VALIDATE_CASES = REPO / "tests" / "cases" / "validate"
