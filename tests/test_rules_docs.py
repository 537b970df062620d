"""docs/rules.md is generated from the rule registry, and every rule's examples are true."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llmkube.check.rules import load_rules, run_rules
from llmkube.check.rules._docs import examples, render, rule_doc
from llmkube.check.run import Target
from llmkube.profiles import ProfileStore
from llmkube.yamlio import parse_documents, to_plain
from tests.support.paths import REPO

RULES = load_rules()


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


def test_docs_rules_md_is_up_to_date():
    on_disk = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert on_disk == render(), "docs/rules.md is stale: run `python -m llmkube.check.rules._docs > docs/rules.md`"


def test_the_generator_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "llmkube.check.rules._docs"], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout == render()


def test_every_rule_is_documented_in_its_family():
    text = render()
    for code, r in RULES.items():
        assert f"### {code} {r.name}" in text
        assert f"## LK{code[2]}xx" in text
        assert text.index(f"## LK{code[2]}xx") < text.index(f"### {code} ")


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_doc_has_fails_and_passes_examples(code):
    doc = rule_doc(RULES[code])
    ex = examples(RULES[code])
    assert "Fails:" in doc and "Passes:" in doc
    assert ex["Fails"] and ex["Passes"], f"{code}: each of Fails: and Passes: needs a fenced yaml example"


def _codes(text: str, code: str, store: ProfileStore) -> list[str]:
    docs = parse_documents(text, f"<{code} example>")
    return [f.code for f in run_rules([Target(obj=to_plain(d.data), document=d) for d in docs], store)]


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_examples_are_true(code, store):
    ex = examples(RULES[code])
    for text in ex["Fails"]:
        assert code in _codes(text, code, store), f"{code}'s Fails example does not produce {code}"
    for text in ex["Passes"]:
        assert code not in _codes(text, code, store), f"{code}'s Passes example produces {code}"
