"""llmkube/check/builtin_validation.py on what tests/check/test_realworld_verdicts.py does not ask the
server about: Go's base64 decoding at its edges, where each finding points, and what is left alone."""

from __future__ import annotations

import pytest

from llmkube.check import builtin_validation as bv


@pytest.mark.parametrize("text,ok", [
    ("", True), ("YQ==", True), ("YWJj", True), ("YW\r\nJj", True),  # CR and LF are skipped by Go's decoder
    ("YQ", False),  # StdEncoding is padded
    ("YQ==YQ==", False), ("YW Jj", False), ("YWJj\t", False), ("YW-j", False),  # URL alphabet is not the standard one
    ("Y\u00e9Jj", False),
])
def test_base64_as_go_std_encoding_reads_it(text, ok):
    assert bv.is_base64(text) is ok


def test_a_pod_without_spec_has_no_containers():
    assert bv.problems({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}) == [
        (("spec",), 'missing required field "containers": Required value (no pod spec, so no containers)')]


def test_paths_point_at_the_field_in_every_container_list():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "volumes": [{"name": "data"}],
        "initContainers": [{"name": "i", "volumeMounts": [{"name": "cache", "mountPath": "/c"}]}],
        "containers": [{"name": "c", "ports": [{"containerPort": 1, "protocol": "udp"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/d"}]}],
    }}
    assert [p for p, _ in bv.problems(pod)] == [
        ("spec", "initContainers", 0, "volumeMounts", 0, "name"),
        ("spec", "containers", 0, "ports", 0, "protocol"),
    ]
    assert "did you mean 'UDP'?" in bv.problems(pod)[1][1]


def test_other_kinds_versions_and_wrong_types_are_left_to_the_schema():
    assert bv.problems({"apiVersion": "example.com/v1", "kind": "Deployment", "spec": {"template": {}}}) == []
    assert bv.problems({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": "text"}}) == []
    assert bv.problems({"apiVersion": "v1", "kind": "Secret", "data": ["not", "a", "map"]}) == []
    assert bv.problems({"apiVersion": "v1", "kind": "Secret", "data": {"n": 12}}) == []  # a type error: the schema's
    assert bv.problems({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 1, "protocol": "SCTP"}]}}) == []
