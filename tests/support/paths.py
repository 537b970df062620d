"""Where things are in the repository."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
RULE_CASES = REPO / "tests" / "cases" / "rules"
VALIDATE_CASES = REPO / "tests" / "cases" / "validate"


def example_params(*quick: str) -> list:
    """EXAMPLE_FILES as pytest params; all but the `quick` ones (by file name) run only with --slow.

    For per-example checks whose cost is a whole render each: a few examples that between them cover
    what the check is about keep the quick suite honest, and CI (`--slow`) runs every example.
    """
    import pytest

    unknown = set(quick) - {p.name for p in EXAMPLE_FILES}
    assert not unknown, f"no such example: {sorted(unknown)}"
    return [
        pytest.param(p, id=p.name, marks=() if p.name in quick else pytest.mark.slow)
        for p in EXAMPLE_FILES
    ]
