"""Check, then send: what apimachinery refuses is found offline, for specs and plain manifests (issue 10)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from llmkube import apimachinery as am
from llmkube.check.metadata import metadata_findings, selector_matches
from llmkube.commands import kubeapply
from llmkube.errors import InputError
from llmkube.kubectl import Kubectl
from llmkube.options import Options

# apimachinery's regexes, anchored as Go anchors them (no trailing-newline slack)
_GO_LABEL_VALUE = re.compile(r"\A(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")


@given(st.text(max_size=70) | st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,70}\n?\Z"))
def test_label_value_rule_is_apimachinerys(value: str) -> None:
    ok = len(value) <= 63 and bool(_GO_LABEL_VALUE.match(value))
    assert (am.label_value_errors(value) == []) == ok


@pytest.mark.parametrize("bad", ["a\n", "a b", "-a", "x" * 64, "a;rm", "a\u2028"])
def test_bad_label_values(bad: str) -> None:
    assert am.label_value_errors(bad)


@pytest.mark.parametrize("bad", ["a/b/c", "/a", "Bad_Prefix.com/a", "a\n", "a" * 64, "example.com/"])
def test_bad_qualified_names(bad: str) -> None:
    assert am.qualified_name_errors(bad)


@pytest.mark.parametrize("good", ["a", "example.com/a-b_c.d", "nvidia.com/mig.config", "A1"])
def test_good_qualified_names(good: str) -> None:
    assert am.qualified_name_errors(good) == []


def _deployment(**over) -> dict:
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}]},
            },
        },
    }
    for path, value in over.items():
        node = dep
        *head, last = path.split(".")
        for p in head:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[last] = value
    return dep


def _codes(obj: dict) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in metadata_findings(obj, lambda path: None)]


def test_a_clean_deployment_has_no_findings() -> None:
    assert _codes(_deployment()) == []


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"metadata.labels": {"app": "we b"}}, ("label", "metadata.labels.app")),
        ({"metadata.name": "Web"}, ("name", "metadata.name")),
        ({"metadata.name": "web\n"}, ("name", "metadata.name")),
        ({"metadata.namespace": "a.b"}, ("name", "metadata.namespace")),
        ({"spec.replicas": 2**31}, ("range", "spec.replicas")),
        ({"spec.template.spec.containers.0.ports.0.containerPort": 70000}, ("range", "spec.template.spec.containers[0].ports[0].containerPort")),
        ({"spec.template.spec.nodeSelector": {"pool": "a\nb"}}, ("label", "spec.template.spec.nodeSelector.pool")),
        ({"spec.template.metadata.annotations": {"a/b/c": "x"}}, ("label", "spec.template.metadata.annotations.a/b/c")),
        ({"spec.selector": {"matchLabels": {"app": "other"}}}, ("selector", "spec.selector")),
    ],
)
def test_each_apimachinery_refusal_is_found(over: dict, expected: tuple[str, str]) -> None:
    assert expected in _codes(_deployment(**over))


def test_selector_expressions() -> None:
    labels = {"app": "web", "tier": "a"}
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, labels)


def test_service_names_are_dns1035() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1web"}, "spec": {}}
    assert ("name", "metadata.name") in _codes(svc)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:x"}}
    assert _codes(role) == []


class _Recording(Kubectl):
    calls: list[str] = []

    def run(self, args, **kw):  # pragma: no cover - must not be reached
        self.calls.append(" ".join(args))
        raise AssertionError(f"kubectl ran: {args}")

    def check_context(self) -> None:
        self.calls.append("check_context")


FLEET = """\
apiVersion: llmkube.dev/v1alpha1
kind: Fleet
metadata:
  name: f
spec:
  pools:
    - name: h100
      gpu: h100-80gb
      nodes: 2
      nodeLabels:
        pool: "{value}"
      sharing:
        timeSlicing:
          replicas: 2
"""


@pytest.mark.parametrize("value", ["a b", "x\\nllmkube: note: forged", "a" * 64, "ok;rm -rf /"])
def test_invalid_pool_node_labels_stop_apply_before_kubectl(tmp_path: Path, value: str) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(value=value))
    kc = _Recording()
    kc.calls = []
    with pytest.raises(InputError, match="node label 'pool'") as err:
        kubeapply.run_apply(
            [str(path)], Options(), context=None, kubeconfig=None, namespace=None, color="never",
            dry_run_server=False, force_conflicts=False, prune=False, kubectl=kc,
        )
    assert err.value.mark is not None and err.value.mark.line == 11
    assert kc.calls == []


def test_invalid_manifest_label_stops_apply_before_kubectl(tmp_path: Path, capsys) -> None:
    path = tmp_path / "dep.yaml"
    path.write_text(yaml.safe_dump(_deployment(**{"spec.template.spec.nodeSelector": {"pool": "a b"}})))
    kc = _Recording()
    kc.calls = []
    code = kubeapply.run_apply(
        [str(path)], Options(), context=None, kubeconfig=None, namespace=None, color="never",
        dry_run_server=False, force_conflicts=False, prune=False, kubectl=kc,
    )
    assert code == 1 and kc.calls == []
    assert "[label]" in capsys.readouterr().err


def test_remembered_label_checks_answer_what_apimachinery_computes(monkeypatch):
    """The metadata pass remembers the label key and value checks (a run repeats its labels); every
    finding over the rule cases and examples is what the checks computed afresh give, and the
    remembered answers are those of `apimachinery` for keys and values valid, invalid and odd."""
    from llmkube import apimachinery as am
    from llmkube import pipeline
    from llmkube.check import metadata
    from llmkube.options import Options
    from tests.support.paths import EXAMPLES, RULE_CASES

    odd = ["app", "app.kubernetes.io/name", "a/b/c", "-x", "x-", "A" * 64, "a" * 63, "", "/x", "x/", "é", "Tier", "x_y.z", "1"]
    for _ in range(2):
        for s in odd:
            assert metadata._key_errors(s) == tuple(am.qualified_name_errors(s))
            assert metadata._value_errors(s) == tuple(am.label_value_errors(s))
    run, _ = pipeline.run_partial([str(RULE_CASES), str(EXAMPLES)], Options())

    objs = [t.obj for t in run.targets]
    for s in odd * 2:  # each twice: the second answered from memory
        labels = {s: s, "ok": s}
        objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": labels, "annotations": {s.upper(): "x"}},
                     "spec": {"nodeSelector": labels, "containers": [{"name": "c", "image": "i:1"}]}})

    def findings() -> list[object]:
        return [f for obj in objs for f in metadata.metadata_findings(obj, lambda path: None)]

    remembered = findings()
    monkeypatch.setattr(metadata, "_key_errors", lambda key: tuple(am.qualified_name_errors(key)))
    monkeypatch.setattr(metadata, "_value_errors", lambda value: tuple(am.label_value_errors(value)))
    assert findings() == remembered and sum(f.code == "label" for f in remembered) > 20


# --- the metadata walk against the stack-of-iterators walk it replaced (session 24) ---------------

from collections.abc import Iterator, Mapping  # noqa: E402 - the reference walk's names
from typing import Any  # noqa: E402

from llmkube.check import metadata  # noqa: E402

FieldPath = tuple

def _walk_before(node: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str, str]]:
    """Object metadata (the object's and its templates'), label maps and int32/port fields, anywhere.

    Depth first, in document order, with a stack of (path, iterator) per mapping or list: a path is
    built for each container and for what is reported, not for every scalar (every object of a run
    is walked, and most of its nodes are scalars)."""
    if not isinstance(node, (Mapping, list)):
        return
    stack: list[tuple[FieldPath, Iterator[tuple[Any, Any]], bool]] = [_opened_before(node, path)]
    while stack:
        parent, entries, is_map = stack[-1]
        step = next(entries, None)
        if step is None:
            stack.pop()
            continue
        key, value = step
        kind = type(value)
        if is_map:  # an entry of a mapping: some are judged whole, the rest walked
            if type(key) is not str and not isinstance(key, str):
                continue
            is_mapping = kind is dict or (kind is not list and kind is not str and isinstance(value, Mapping))
            if is_mapping and key == "metadata" and (not parent or parent[-1] == "template"):
                yield from metadata._object_meta(value, (*parent, key))
                continue
            if is_mapping and (key == "nodeSelector" or key == "matchLabels"):
                yield from metadata._labels(value, (*parent, key), key)
                continue
            if is_mapping and key == "nodeLabels" and parent == ("spec",):
                yield from metadata._labels(value, (*parent, key), "nodeLabels")
                continue
            if kind is int or (kind is not bool and kind is not str and isinstance(value, int) and not isinstance(value, bool)):
                if key in metadata._PORT_KEYS or key in metadata._INT32_KEYS:
                    yield from metadata._range(key, value, (*parent, key))
                continue
        if kind is dict or kind is list or (kind is not str and isinstance(value, (Mapping, list))):
            stack.append(_opened_before(value, (*parent, key)))


def _opened_before(node: Any, path: FieldPath) -> tuple[FieldPath, Iterator[tuple[Any, Any]], bool]:
    if isinstance(node, list):
        return path, enumerate(node), False
    return path, iter(node.items()), True


def test_the_metadata_walk_finds_what_the_walk_it_replaced_found():
    """The recursive walk (a list, no `next` per node) against the stack of iterators it replaced,
    kept above: the same problems in the same order over the rule cases, the examples and the
    upstream examples (as the fast path, the reference path and plain data read them), and over
    objects with out-of-range ints, odd keys and scalar types at the checked fields."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from llmkube import yamlio
    from tests.support.crds import UPSTREAM_CRDS
    from tests.support.paths import EXAMPLES, RULE_CASES

    files = sorted(RULE_CASES.rglob("*.yaml")) + sorted(EXAMPLES.glob("*.yaml")) + sorted((UPSTREAM_CRDS / "examples").rglob("*.yaml"))
    objs: list[object] = []
    for p in files:
        for reference in (False, True):
            try:
                docs = yamlio.parse_documents(p.read_text(encoding="utf-8"), str(p), reference=reference)
            except InputError:
                continue
            objs += [d.data for d in docs] + [yamlio.to_plain(d.data) for d in docs]
    for value in (-1, 0, 70000, 2**31, True, 1.5, None, "8080", [1], {"a": 1}):
        ports = [{"containerPort": value, "hostPort": value}]
        objs.append({"kind": "Deployment", "metadata": {"name": "x", "labels": {"-bad": "é", 1: "x"}},
                     "spec": {"replicas": value, "nodeLabels": {"a/b/c": "x"},
                              "template": {"metadata": {"labels": {"ok": "-"}, "annotations": {"A_": 1}},
                                           "spec": {"nodeSelector": {"": ""}, "containers": [{"ports": ports}], 3: {"replicas": -1}}}}})
        objs.append(CommentedMap({"spec": CommentedMap({"minReplicas": value, "ports": CommentedSeq([{"hostPort": value}])})}))
    found = 0
    for obj in objs:
        want = list(_walk_before(obj, ()))
        assert list(metadata._walk(obj, ())) == want
        found += len(want)
    assert len(objs) > 1000 and found > 50
