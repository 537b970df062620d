"""A lookup parses only the CRD files that define the kind (exact kind and group, not substrings)."""

from __future__ import annotations

from llmkube.check import crdstore
from llmkube.check.crdstore import CRDStore


def parsed_files(store: CRDStore, monkeypatch, api_version: str, kind: str) -> list[str]:
    seen: list[str] = []
    original = crdstore._CRDFile.definitions

    def spy(self):
        seen.append(self.path.name)
        return original(self)

    monkeypatch.setattr(crdstore._CRDFile, "definitions", spy)
    assert store.lookup(api_version, kind) is not None
    return seen


def test_inference_service_does_not_open_the_llm_inference_service_crd(upstream_crds, monkeypatch):
    store = CRDStore.load([upstream_crds], include_cache=False)
    assert parsed_files(store, monkeypatch, "serving.kserve.io/v1beta1", "InferenceService") == ["serving.kserve.io_inferenceservices.yaml"]


def test_trainjob_does_not_open_the_runtime_crds(upstream_crds, monkeypatch):
    store = CRDStore.load([upstream_crds], include_cache=False)
    assert parsed_files(store, monkeypatch, "trainer.kubeflow.org/v1alpha1", "TrainJob") == ["trainer.kubeflow.org_trainjobs.yaml"]


def test_json_and_flow_style_files_are_found(tmp_path):
    crd = (
        '{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},'
        ' "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",'
        ' "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]}}'
    )
    (tmp_path / "widgets.json").write_text(crd)
    (tmp_path / "gadgets.yaml").write_text(crd.replace("Widget", "BigWidget").replace("widgets", "bigwidgets"))
    store = CRDStore.load([tmp_path], include_cache=False)
    assert store.lookup("example.com/v1", "Widget") is not None
    assert store.lookup("example.com/v1", "BigWidget") is not None
    assert store.lookup("example.com/v1", "Gadget") is None
