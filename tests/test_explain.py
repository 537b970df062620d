"""`llmkube explain`: a field's type, default, allowed values and meaning come from the models and the
spec reference, an unknown path is exit 2 with the nearest field, and every documented field explains."""

from __future__ import annotations

import json
import re

import pytest

from llmkube.explain import explain
from llmkube.fielddocs import field_docs
from llmkube.kinds import KINDS
from llmkube.specs.trainingjob import TrainingJobSpec
from tests.support.cli import llmkube


def test_a_field_shows_type_default_and_the_spec_reference_text():
    out = llmkube("explain", "TrainingJob.spec.gang")
    assert out.returncode == 0, out.stderr
    assert "FIELD:    spec.gang <boolean>" in out.stdout
    # the default is the model's, the prose the docs' row
    assert f"DEFAULT:  {json.dumps(TrainingJobSpec.model_fields['gang'].default)}" in out.stdout
    meaning = field_docs("TrainingJob")["spec.gang"].meaning
    assert meaning.split(";")[0] in " ".join(out.stdout.split())


def test_allowed_values_are_the_models_literals():
    e = explain("TrainingJob.spec.framework")
    assert e.allowed == ["pytorchjob", "trainjob", "volcano"]
    assert e.default == "pytorchjob"
    e = explain("InferenceEndpoint.spec.runtime")
    assert set(e.allowed) >= {"vllm", "tgi"}


def test_children_of_an_object_and_of_a_list_of_objects():
    e = explain("TrainingJob.spec.nodes")
    assert e.type == "integer | object"
    assert [(c.name, c.required) for c in e.children] == [("min", True), ("max", True)]
    # lists are stepped through, with or without []
    assert explain("Fleet.spec.pools.name").path == "spec.pools[].name"
    assert explain("Fleet.spec.pools[].taints[].effect").allowed == ["NoSchedule", "PreferNoSchedule", "NoExecute"]
    pools = explain("Fleet.spec.pools")
    assert pools.type == "[]object" and "gpu" in [c.name for c in pools.children]


def test_a_kind_alone_lists_its_top_level_fields_any_case():
    e = explain("trainingjob")
    assert e.kind == "TrainingJob" and [c.name for c in e.children] == ["apiVersion", "kind", "metadata", "spec"]
    assert e.description.startswith("A distributed training")


def test_json_output():
    out = llmkube("explain", "TrainingJob.spec.onEviction", "-o", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["path"] == "spec.onEviction" and data["default"] == "restart-job"
    assert data["allowed"] == ["restart-job", "restart-task", "fail"]
    assert data["apiVersion"] == "llmkube.dev/v1alpha1" and data["description"]


@pytest.mark.parametrize(
    ("query", "suggestion"),
    [
        ("TrainingJob.spec.gng", "TrainingJob.spec.gang"),
        ("TrainingJob.gang", "TrainingJob.spec.gang"),  # a level skipped
        ("Fleet.spec.pools.gpuPerNode", "Fleet.spec.pools[].gpusPerNode"),
        ("TrainJob.spec", "TrainingJob"),
    ],
)
def test_an_unknown_path_is_exit_2_with_the_nearest(query, suggestion):
    out = llmkube("explain", query)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "llmkube: error:" in out.stderr and f"did you mean {suggestion}" in out.stderr


def test_every_documented_field_of_every_kind_explains_with_its_text():
    for kind in KINDS:
        for path, doc in field_docs(kind).items():
            if "<key>" in path:
                continue
            e = explain(f"{kind}.{path}")
            assert e.path == path
            assert e.description, f"{kind}.{path}"


def test_every_explain_the_docs_and_starters_show_works():
    """`llmkube explain X` as written in the README, docs/ and the starters' comments."""
    from tests.support.paths import REPO

    sources = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "llmkube" / "starters").glob("*.yaml")]
    queries = {q for f in sources for q in re.findall(r"llmkube explain ([A-Za-z][\w.\[\]<>]*)", f.read_text(encoding="utf-8"))}
    assert len(queries) >= 6
    for query in sorted(queries):
        if query.startswith(("TrainingJob.gang", "KIND")):
            continue  # the docs' example of a mistake; the usage line
        assert explain(query).kind, query
