"""`llmkube schema`: a draft-07 JSON Schema of the spec kinds that every example and starter satisfies,
that refuses what the models refuse by shape (unknown keys, wrong types, values outside an enum),
and that carries the spec reference's text for every field. The editor side is
tests/test_schema_yamlls.py (the real yaml-language-server)."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
import yaml

from llmkube.fielddocs import field_docs
from llmkube.kinds import KINDS
from llmkube.specschema import children, document_schema, kind_schema
from tests.support.cli import llmkube
from tests.support.paths import EXAMPLE_FILES, REPO

STARTERS = sorted((REPO / "llmkube" / "starters").glob("*.yaml"))


def spec_documents():
    for path in [*EXAMPLE_FILES, *STARTERS]:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("apiVersion") == "llmkube.dev/v1alpha1":
                yield pytest.param(doc, id=f"{path.name}:{doc['kind']}:{doc['metadata']['name']}")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    out = llmkube("schema")
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("doc", list(spec_documents()))
def test_every_example_and_starter_satisfies_the_schema(validator, doc):
    assert [e.message for e in validator.iter_errors(doc)] == []


def errors(validator, doc) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


def test_what_the_models_refuse_by_shape_the_schema_refuses(validator):
    job = yaml.safe_load((REPO / "docs/examples/02-llama-70b-pretraining-volcano.yaml").read_text(encoding="utf-8"))
    typo = copy.deepcopy(job)
    typo["spec"]["gpusPerNod"] = 8
    assert any("gpusPerNod" in m for m in errors(validator, typo))
    wrong_type = copy.deepcopy(job)
    wrong_type["spec"]["nodes"] = "8"  # strict: a string is not a node count
    assert errors(validator, wrong_type)
    bad_enum = copy.deepcopy(job)
    bad_enum["spec"]["framework"] = "mpijob"
    assert errors(validator, bad_enum)
    missing = copy.deepcopy(job)
    del missing["spec"]["gpu"]
    assert any("'gpu' is a required property" in m for m in errors(validator, missing))
    # a field of another kind is not allowed in this one
    other = copy.deepcopy(job)
    other["spec"]["runtime"] = "vllm"
    assert any("runtime" in m for m in errors(validator, other))


def test_one_kind_alone_and_to_a_file(tmp_path):
    out = llmkube("schema", "fleet", "-o", str(tmp_path / "sub" / "fleet.json"))
    assert out.returncode == 0, out.stderr
    schema = json.loads((tmp_path / "sub" / "fleet.json").read_text(encoding="utf-8"))
    assert schema["properties"]["kind"]["const"] == "Fleet"
    assert schema["additionalProperties"] is False
    bad = llmkube("schema", "Flet")
    assert bad.returncode == 2 and "did you mean Fleet" in bad.stderr


def _nodes(node, path=""):
    yield path, node
    for _key, sub_path, sub, _req in children(node, path):
        yield from _nodes(sub, sub_path)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_documented_field_has_its_description_and_every_model_forbids_extras(kind):
    schema = kind_schema(kind)
    described = {path: node.get("markdownDescription") for path, node in _nodes(schema)}
    for path, doc in field_docs(kind).items():
        assert described.get(path) == doc.meaning, f"{kind}.{path}"
    for path, node in _nodes(schema):
        for member in [node, *node.get("anyOf", [])]:
            if "properties" in member:
                assert member.get("additionalProperties") is False, f"{kind}.{path} allows unknown keys"


def test_defaults_are_the_models_defaults_in_camel_case():
    spec = kind_schema("TrainingJob")["properties"]["spec"]["properties"]
    assert spec["maxRestarts"]["default"] == 3
    assert spec["training"]["default"] == {"method": "full", "precision": "bf16", "distribution": "fsdp"}
    assert spec["runtimeRef"]["default"] == {"name": "torch-distributed", "kind": "ClusterTrainingRuntime"}
    assert "default" not in spec["queue"]  # unset is not a value to insert
    assert document_schema()["properties"]["kind"]["enum"] == list(KINDS)
