"""Rules run on whatever shape a manifest has: every registered rule, mutated manifests, no exception (issue 10).

The base manifests are the rule cases (tests/cases/rules/*/{fail,pass}/*.yaml):
together they reach every rule's readers. Each example replaces a few values
anywhere in a file with another YAML type -- a mapping where a string is
expected, a list of scalars, null, a bool, a number, a string -- and runs the
whole registry over the result (the registry, not a list: rules added later
are covered too).
"""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmkube.check.metadata import metadata_findings
from llmkube.check.rules import load_rules, run_rules
from llmkube.check.run import Target
from llmkube.profiles import ProfileStore

CASES = sorted((Path(__file__).parent / "cases" / "rules").glob("*/*/*.yaml"))
Path_ = tuple[Any, ...]

other_values = st.sampled_from(
    [None, True, False, 0, -1, 2**40, 10**12, 1.5, float("inf"), "", "x", "8", "a b", "-3", "1e400",
     [], ["a", 1], [None], {}, {"a": "b"}, {"a": {"b": []}}, [{"a": 1}], {1: 2}]
)  # fmt: skip


@cache
def _docs(path: Path) -> list[Any]:
    """The plain manifests of a case (llmkube specs are the spec parser's business, not the rules')."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return [d for d in docs if not str(d.get("apiVersion", "")).startswith("llmkube.dev/")]


@cache
def _profiles() -> ProfileStore:
    return ProfileStore.load(())


def _paths(node: Any, path: Path_ = ()) -> list[Path_]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _set(root: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return root


def _run(docs: list[Any]) -> None:
    targets = [Target(obj=d) for d in docs if isinstance(d, dict)]
    run_rules(targets, _profiles())
    for t in targets:
        metadata_findings(t.obj, lambda path: None)


def _mutate(data: st.DataObject, docs: list[Any]) -> None:
    """Replace one to three values anywhere in the documents (each document stays a mapping)."""
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(docs) - 1))
        paths = [p for p in _paths(docs[i]) if p]
        if not paths:
            continue
        where = data.draw(st.sampled_from(paths))
        docs[i] = _set(docs[i], where, copy.deepcopy(data.draw(other_values)))


# The quick suite, deterministic: every value of every case replaced, one at a time, by a bool (no
# `.get`, no iteration) and by a list (unhashable, no `.get`) -- between them they break every
# shape assumption the readers used to make -- then a fixed set of random multi-value mutations.
SWEEP = (True, ["a", 1])


@pytest.mark.parametrize("case", [c for c in CASES if _docs(c)], ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}/{p.name}")
def test_rules_survive_each_value_replaced(case: Path) -> None:
    base = _docs(case)
    for i, doc in enumerate(base):
        for where in _paths(doc):
            for value in SWEEP if where else ():
                docs = copy.deepcopy(base)
                docs[i] = _set(docs[i], where, copy.deepcopy(value))
                try:
                    _run(docs)
                except Exception as exc:  # noqa: BLE001 - name the mutation that broke a rule
                    raise AssertionError(f"document {i}, {'.'.join(map(str, where))} = {value!r}: {exc!r}") from exc


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rules_survive_mutated_shapes_quick(data: st.DataObject) -> None:
    assert load_rules()  # the registry, whatever rules it holds
    docs = copy.deepcopy(_docs(data.draw(st.sampled_from([c for c in CASES if _docs(c)]))))
    _mutate(data, docs)
    _run(docs)


# The heavier variant (--slow): every case, more examples each. Derandomized, so the CI run that
# decides whether a change lands cannot fail on a crash the change did not cause; set
# LLMKUBE_FUZZ_RANDOM=1 to explore new shapes on every run (docs/testing.md).
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parts[-3]}/{p.parts[-2]}/{p.name}")
@settings(max_examples=40, deadline=None, derandomize=not os.environ.get("LLMKUBE_FUZZ_RANDOM"),
          database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rules_survive_mutated_shapes(case: Path, data: st.DataObject) -> None:
    assert load_rules()
    docs = copy.deepcopy(_docs(case))
    if not docs:
        return
    _mutate(data, docs)
    _run(docs)


@pytest.mark.parametrize(
    "mutation",
    [
        ("spec", "template", "spec", "nodeSelector"),
        ("metadata",),
        ("metadata", "labels"),
        ("metadata", "annotations"),
        ("spec", "template", "spec", "containers"),
        ("spec", "template", "spec", "containers", 0),
        ("spec", "template", "spec", "containers", 0, "args"),
        ("spec", "template", "spec", "containers", 0, "resources"),
        ("spec", "template", "spec", "containers", 0, "resources", "limits"),
        ("spec", "template", "spec", "containers", 0, "env"),
        ("spec", "template", "spec", "volumes"),
        ("spec", "selector"),
        ("spec", "template"),
        ("kind",),
        ("spec",),
    ],
)
@pytest.mark.parametrize("value", [True, None, "x", ["a", "b"], {"a": "b"}, 3, [{"a": 1}]])
def test_the_issue_shapes(mutation: Path_, value: Any) -> None:
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llama", "namespace": "ml", "labels": {"app": "x"}, "annotations": {"a": "b"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {
                    "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                    "containers": [
                        {
                            "name": "vllm",
                            "image": "vllm/vllm-openai:v0.11.0",
                            "args": ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size", "2"],
                            "env": [{"name": "HF_TOKEN", "value": "$(X)"}],
                            "resources": {"limits": {"nvidia.com/gpu": 2}},
                            "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
                        }
                    ],
                    "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory"}}],
                },
            },
        },
    }
    _run([_set(dep, mutation, copy.deepcopy(value))])
