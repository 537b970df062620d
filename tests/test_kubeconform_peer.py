"""benchmarks/kubeconform_peer.py: the schema location it builds for kubeconform from llmkube's schemas."""

from __future__ import annotations

import importlib.util

from tests.support.paths import REPO

spec = importlib.util.spec_from_file_location("kubeconform_peer", REPO / "benchmarks" / "kubeconform_peer.py")
assert spec and spec.loader
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)


def test_crd_schema_becomes_strict_json_schema_as_openapi2jsonschema_does():
    crd = {
        "type": "object",
        "properties": {
            "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "note": {"type": "string", "nullable": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {"type": "string"}}},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    out = peer.openapi_to_jsonschema(crd)
    assert out["additionalProperties"] is False  # strict: undeclared fields refused
    assert out["properties"]["port"]["oneOf"] == [{"type": "string"}, {"type": "integer"}]
    assert out["properties"]["note"]["type"] == ["string", "null"]
    assert "additionalProperties" not in out["properties"]["free"]  # preserve-unknown-fields stays open
    assert out["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert not any(k.startswith("x-kubernetes-") for k in out["properties"]["port"])


def test_core_refs_are_inlined_into_a_standalone_schema():
    defs = {"Meta": {"type": "object", "properties": {"name": {"type": "string"}}}, "Spec": {"$ref": "/api/_definitions.json#/$defs/Meta"}}
    schema = {"properties": {"metadata": {"$ref": "/api/_definitions.json#/$defs/Meta", "description": "d"}, "spec": {"$ref": "x#/$defs/Spec"}}}
    out = peer.inline_refs(schema, defs)
    assert out["properties"]["metadata"] == {"type": "object", "properties": {"name": {"type": "string"}}, "description": "d"}
    assert out["properties"]["spec"]["properties"]["name"] == {"type": "string"}  # refs within refs too
    assert "$ref" not in str(out)


def test_core_file_names_are_the_bundled_schemas():
    for group, version, kind in (("apps", "v1", "Deployment"), ("", "v1", "ConfigMap"), ("rbac.authorization.k8s.io", "v1", "Role")):
        assert (peer.core_schema_dir() / peer.core_file_name(group, version, kind)).is_file(), kind
