"""`llmkube rules list|show`: the registry as a table, a rule's docs entry as text."""

from __future__ import annotations

import json

from llmkube.check.rules import load_rules
from llmkube.check.rules._docs import rule_doc
from tests.support.cli import llmkube
from tests.support.paths import REPO


def test_list_shows_every_registered_rule():
    rules = load_rules()
    out = llmkube("rules", "list", "-o", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["code"] for r in rows] == list(rules)
    for row in rows:
        r = rules[row["code"]]
        assert (row["name"], row["severity"], row["summary"]) == (r.name, r.severity.value, r.summary)
    text = llmkube("rules", "list")
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "SEVERITY", "SUMMARY"]
    assert len(lines) == 1 + len(rules)
    assert all(line.split()[:3] == [c, r.name, r.severity.value] and line.rstrip().endswith(r.summary)
               for line, (c, r) in zip(lines[1:], rules.items()))


def test_show_prints_the_rules_docs_entry():
    """The same text docs/rules.md carries for the rule, by code in any case or by name."""
    r = load_rules()["LK201"]
    for key in ("LK201", "lk201", r.name):
        out = llmkube("rules", "show", key)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"LK201 {r.name}\n")
        assert rule_doc(r) in out.stdout
        assert rule_doc(r) in (REPO / "docs" / "rules.md").read_text()
        assert "Fails:" in out.stdout and "Passes:" in out.stdout


def test_show_unknown_code_exits_2_with_the_nearest():
    out = llmkube("rules", "show", "LK2O1")
    assert out.returncode == 2
    assert "unknown rule 'LK2O1'" in out.stderr
    assert "did you mean LK201 (nproc-per-node)" in out.stderr
    assert "Traceback" not in out.stderr
    by_name = llmkube("rules", "show", "nproc")
    assert by_name.returncode == 2 and "LK201 (nproc-per-node)" in by_name.stderr
