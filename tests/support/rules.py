"""The rule case corpus (tests/cases/rules/): what a case expects, and what the rules find in it.

A case is a file: `<CODE>/fail/*.yaml` names every finding of <CODE> it expects
in header comments (`# expect: LK202 line 9`); `<CODE>/pass/*.yaml` expects none.
"""

from __future__ import annotations

import re
from pathlib import Path

from llmkube import pipeline
from llmkube.check.findings import Finding
from llmkube.check.rules import run_rules
from llmkube.options import Options
from llmkube.profiles import ProfileStore
from tests.support.paths import RULE_CASES

EXPECT = re.compile(r"^#\s*expect:\s*(LK\d{3})\s+line\s+(\d+)\s*$", re.M)


def findings_for(path: Path, store: ProfileStore) -> list[Finding]:
    """The LLM-aware rules' findings on one case (specs are rendered through the pipeline)."""
    return run_rules(pipeline.run([str(path)], Options()).targets, store)


def corpus(kind: str) -> list[Path]:
    """Every `fail` or `pass` case file."""
    return sorted(RULE_CASES.glob(f"*/{kind}/*.yaml"))


def expected_of(path: Path) -> list[tuple[str, int]]:
    """(code, line) of every `# expect:` header of a case."""
    return sorted((c, int(n)) for c, n in EXPECT.findall(path.read_text(encoding="utf-8")))
