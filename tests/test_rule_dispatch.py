"""Rule dispatch by kind (the fast path) finds what handing every rule every object finds (the
reference path): the same findings in the same order, over each rule case alone, all of them in
one run, the upstream examples and the rendered docs/examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkube import pipeline
from llmkube.check.rules import load_rules, run_rules
from llmkube.check.read.workloads import POD_KINDS, WORKLOAD_KINDS, is_workload, pod_groups
from llmkube.options import Options
from llmkube.profiles import ProfileStore
from tests.support.paths import EXAMPLES, RULE_CASES
from tests.support.rules import corpus


def both(paths: list[Path]) -> tuple[list[str], list[str]]:
    run, _ = pipeline.run_partial([str(p) for p in paths], Options())
    store = ProfileStore.load()
    fast = run_rules(run.targets, store)
    reference = run_rules(run.targets, store, dispatch=False)
    return [repr(f) for f in fast], [repr(f) for f in reference]


def test_some_rules_declare_their_kinds():
    declared = [r for r in load_rules().values() if r.kinds is not None]
    assert len(declared) >= 10


@pytest.mark.parametrize("kind", ["fail", "pass"])
def test_each_rule_case_alone(kind: str):
    for path in corpus(kind):
        fast, reference = both([path])
        assert fast == reference, path


def test_every_rule_case_and_example_in_one_run():
    fast, reference = both([RULE_CASES, EXAMPLES])
    assert fast == reference and len(fast) > 100


def test_the_upstream_examples(upstream_crds: Path):
    fast, reference = both([upstream_crds / "examples"])
    assert fast == reference


def test_the_declared_kinds_cover_every_object_with_pods():
    """POD_KINDS/WORKLOAD_KINDS name every kind `pod_groups`/`is_workload` accept in the corpora."""
    run, _ = pipeline.run_partial([str(RULE_CASES), str(EXAMPLES)], Options())
    with_pods = {t.obj.get("kind") for t in run.targets if pod_groups(t)}
    workloads = {t.obj.get("kind") for t in run.targets if is_workload(t)}
    assert with_pods and with_pods <= set(POD_KINDS)
    assert workloads <= set(WORKLOAD_KINDS)
