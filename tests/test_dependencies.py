"""The lower bounds pyproject.toml declares are the versions CI tests as the oldest (.ci/lowest-deps.txt).

A lower bound nobody runs drifts: typer 0.12, pydantic 2.7 and jsonschema-rs 0.20 were declared
while llmkube needed 0.24, 2.11 and 0.45. `.ci/run` installs the project with the pins of
`.ci/lowest-deps.txt` in a second venv and runs the quick suite there; this test keeps those pins
equal to the declared bounds, so raising one without the other fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    """A distribution name as pip compares them (PEP 503: case, `-`, `_` and `.` alike)."""
    return re.sub(r"[-_.]+", "-", requirement).lower()


def declared_lower_bounds() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    bounds = {}
    for dep in deps:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)", dep.replace(" ", ""))
        assert match, f"{dep!r}: every runtime dependency needs a plain lower bound (name>=X.Y)"
        bounds[_name(match[1])] = match[2]
    return bounds


def pinned_lowest() -> dict[str, str]:
    pins = {}
    for line in (REPO / ".ci" / "lowest-deps.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line!r}: pin an exact version"
            pins[_name(name)] = version
    return pins


def _padded(version: str) -> tuple[int, ...]:
    parts = tuple(int(p) for p in version.split("."))
    return parts + (0,) * (3 - len(parts))


def test_every_declared_lower_bound_is_the_version_ci_installs_as_the_oldest():
    bounds, pins = declared_lower_bounds(), pinned_lowest()
    assert bounds.keys() == pins.keys()
    assert {name: _padded(v) for name, v in bounds.items()} == {name: _padded(v) for name, v in pins.items()}


def test_ci_runs_the_quick_suite_with_the_oldest_versions():
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "-c .ci/lowest-deps.txt" in script
