"""Every LLM-aware rule against the case corpus in tests/cases/rules/.

A case is a file: `<CODE>/fail/*.yaml` names every finding of <CODE> it
expects in header comments (`# expect: LK202 line 9`), and the rule must
report exactly those lines, each with a message and a hint;
`<CODE>/pass/*.yaml` must give no finding of <CODE>. Cases may be plain
manifests or llmkube specs (rendered through the pipeline; their findings
point at the spec). Adding a case is adding a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkube.check.rules import load_rules
from llmkube.profiles import ProfileStore
from tests.support.paths import RULE_CASES as CASES
from tests.support.rules import corpus, expected_of, findings_for


def test_every_rule_has_a_failing_and_a_passing_case():
    for code in load_rules():
        assert list((CASES / code / "fail").glob("*.yaml")), f"{code} has no failing case"
        assert list((CASES / code / "pass").glob("*.yaml")), f"{code} has no passing case"
    unknown = {p.name for p in CASES.iterdir()} - set(load_rules())
    assert not unknown, f"cases for rules that do not exist: {unknown}"


@pytest.mark.parametrize("path", corpus("fail"), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_fail_case_reports_its_code_on_the_expected_lines(path: Path, store: ProfileStore):
    code = path.parent.parent.name
    expected = expected_of(path)
    assert expected and all(c == code for c, _ in expected), "a fail case names its expected findings"
    found = findings_for(path, store)
    got = sorted((f.code, f.mark.line) for f in found if f.code == code and f.mark)
    assert got == expected, "\n".join(f"{f.mark}: {f.code} {f.message}" for f in found)
    for f in found:
        if f.code == code:
            assert f.message and f.hint, f"{code} findings carry a message and a hint"
            assert f.mark and f.mark.file == str(path)


@pytest.mark.parametrize("path", corpus("pass"), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_pass_case_is_quiet_for_its_code(path: Path, store: ProfileStore):
    code = path.parent.parent.name
    found = [f for f in findings_for(path, store) if f.code == code]
    assert found == [], "\n".join(f"{f.mark}: {f.code} {f.message}" for f in found)
