"""`kind: List` (what `kubectl get -o yaml` writes for several objects): its items are the objects,
each checked at its own line, as `kubectl apply -f` sends them and kubeconform checks them."""

from __future__ import annotations

import json

import pytest

from llmkube.yamlio import parse_documents, read_documents, unpack_lists
from tests.support.cli import llmkube

LIST = """\
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: a
    namespace: default
  data:
    k: v
- apiVersion: v1
  kind: Service
  metadata:
    name: s
    namespace: default
  spec:
    ports:
    - port: eighty
"""


def _objects(text: str, *, reference: bool = False) -> list[tuple[str, int, int, int]]:
    """(kind, document line, line and column of metadata.name) of each object the text holds."""
    out = []
    for doc in unpack_lists(parse_documents(text, "f.yaml", reference=reference)):
        mark = doc.mark(("metadata", "name"))
        out.append((doc.data["kind"], doc.line, mark.line, mark.column))
    return out


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
def test_a_list_is_its_items_each_at_its_own_line(reference):
    assert _objects(LIST, reference=reference) == [("ConfigMap", 6, 9, 5), ("Service", 13, 16, 5)]


def test_lists_inside_lists_are_flattened_and_plain_twins_follow_their_items():
    nested = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}]},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "y"}},
    ]}
    docs = list(unpack_lists(parse_documents(json.dumps(nested, indent=2), "f.json")))
    assert [(d.data["kind"], d.data["metadata"]["name"]) for d in docs] == [("ConfigMap", "x"), ("Secret", "y")]
    for d in docs:
        assert d.plain is None or d.plain == d.data


def test_a_list_without_an_items_sequence_stays_an_object(tmp_path):
    text = "apiVersion: v1\nkind: List\nitems: {}\n---\napiVersion: v1\nkind: List\nitems: []\n"
    docs = list(unpack_lists(parse_documents(text, "f.yaml")))
    assert [d.data["kind"] for d in docs] == ["List"]  # the empty list holds no object


def test_an_item_that_is_not_an_object_is_an_error_at_its_line(tmp_path):
    path = tmp_path / "l.yaml"
    path.write_text("apiVersion: v1\nkind: List\nitems:\n- 42\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: ok}\n")
    docs, errors = read_documents([str(path)])
    assert [d.data["kind"] for d in docs] == ["ConfigMap"]
    assert len(errors) == 1 and errors[0].mark is not None and errors[0].mark.line == 4
    assert "must be a mapping" in errors[0].message


def test_validate_checks_the_items_of_a_list(tmp_path):
    path = tmp_path / "get.yaml"
    path.write_text(LIST)
    result = llmkube("validate", "-o", "json", str(path), env={"HOME": str(tmp_path)})
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["checked"] == 2
    [finding] = report["findings"]
    assert (finding["object"], finding["path"], finding["line"], finding["column"]) == ("Service/default/s", "spec.ports[0].port", 20, 7)

    path.write_text(LIST.replace("port: eighty", "port: 80"))
    result = llmkube("validate", str(path), env={"HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 objects checked" in result.stdout
