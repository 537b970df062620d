"""A CRD among the inputs defines its kind for the run: a repository that holds an operator's CRDs
beside its custom resources is checked against them, as kubectl applies both, without --crds.
And a CRD's schema is a schema: its `properties.matchLabels` is not a label map."""

from __future__ import annotations

import json

from llmkube.check.crdstore import CRDStore
from tests.support.cli import llmkube


def _crd(*, size_type: str = "integer", group: str = "example.dev") -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "required": ["size"], "properties": {
                            "size": {"type": size_type},
                            # a field named like a label map: its schema node is not labels
                            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"},
                                            "description": "matchLabels selects the widgets this one serves; a long description."},
                        }},
                    },
                }},
            }],
        },
    }


WIDGET = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": "big"}}


def _validate(tmp_path, *files: tuple[str, list[dict]], args: tuple[str, ...] = ()) -> tuple[int, dict]:
    for name, docs in files:
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_text("\n---\n".join(json.dumps(d, indent=1) for d in docs))
    result = llmkube("validate", "--no-cache", "-o", "json", *args, str(tmp_path / "in"), env={"HOME": str(tmp_path)})
    return result.returncode, json.loads(result.stdout)


def test_a_custom_resource_is_checked_against_the_crd_beside_it(tmp_path):
    code, report = _validate(tmp_path, ("crd.yaml", [_crd()]), ("widget.yaml", [WIDGET]))
    assert code == 1
    assert [(f["code"], f["object"], f["path"]) for f in report["findings"]] == [("schema", "Widget/default/w", "spec.size")]
    assert report["checked"] == 2


def test_without_its_crd_the_custom_resource_has_no_schema(tmp_path):
    code, report = _validate(tmp_path, ("widget.yaml", [WIDGET]))
    assert code == 1 and [f["code"] for f in report["findings"]] == ["no-schema"]


def test_the_inputs_crd_comes_before_a_crds_directory(tmp_path):
    other = tmp_path / "crds"
    other.mkdir()
    (other / "widgets.json").write_text(json.dumps(_crd(size_type="string")))  # would accept "big"
    code, report = _validate(tmp_path, ("crd.yaml", [_crd()]), ("widget.yaml", [WIDGET]), args=("--crds", str(other)))
    assert code == 1 and [f["path"] for f in report["findings"]] == ["spec.size"]
    # and the directory still defines what the inputs do not
    (tmp_path / "in" / "crd.yaml").unlink()
    code, report = _validate(tmp_path, ("widget.yaml", [WIDGET]), args=("--crds", str(other)))
    assert code == 0, report


def test_the_store_lists_the_inputs_kinds_first():
    store = CRDStore().with_inputs([(_crd(), "crd.yaml"), (_crd(group="other.dev"), "crd2.yaml")])
    assert store.kinds() == [("example.dev", "Widget"), ("other.dev", "Widget")]
    found = store.lookup("example.dev/v1", "Widget")
    assert found is not None and found.source == "crd.yaml" and found.plural == "widgets"
    assert CRDStore().with_inputs([]).kinds() == []


def test_a_crds_schema_is_not_read_as_labels(tmp_path):
    code, report = _validate(tmp_path, ("crd.yaml", [_crd()]))
    assert code == 0, report["findings"]


def test_upstream_crds_as_inputs_are_clean(tmp_path, upstream_crds):
    """Trainer's CRDs describe `matchLabels` fields with 255-character descriptions (which the
    label pass took for label values), and every CRD here is one kubectl applies as it is."""
    result = llmkube("validate", "--no-cache", "-o", "json", str(upstream_crds / "trainer"), str(upstream_crds / "kueue"),
                     env={"HOME": str(tmp_path)})
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["errors"] == 0, report["findings"][:3]
    assert report["checked"] >= 5
