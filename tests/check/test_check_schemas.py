"""SchemaValidator against the real upstream CRDs and kubernetes-validate's core schemas."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest
import yaml

from llmkube.check.crdstore import CRDStore
from llmkube.check.schemas import SchemaProblem, SchemaValidator, available_kube_versions
from llmkube.errors import InputError
from tests.support.crds import UPSTREAM_CRDS

# The two upstream examples SOURCES.md names as fixed only at admission time.
RESTART_JOBSET = "jobset/restartjobset-action.yaml"
CLUSTER_POLICY = "gpu-operator/v1_clusterpolicy.yaml"


def _example_docs(shared_crds: Path) -> list[tuple[str, int, dict]]:
    out = []
    for path in sorted((shared_crds / "examples").rglob("*.yaml")):
        rel = path.relative_to(shared_crds / "examples").as_posix()
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        out.extend((rel, i, d) for i, d in enumerate(docs))
    return out


# Collected from the upstream examples when they are here (none in a clone without them).
EXAMPLES = _example_docs(UPSTREAM_CRDS)


def _validator_for(rel: str, validator, training_operator_validator):
    # The two mpijobs.kubeflow.org CRDs are mutually exclusive (SOURCES.md): the
    # Training Operator examples need its v1 CRD loaded first.
    return training_operator_validator if rel.startswith("training-operator/") else validator


def test_index_lists_every_example_file(upstream_crds: Path) -> None:
    with (upstream_crds / "examples" / "INDEX.tsv").open() as fh:
        listed = {row["dest"] for row in csv.DictReader(fh, delimiter="\t")}
    assert len(listed) > 50
    assert {rel for rel, _, _ in EXAMPLES} == listed


# Without the upstream CRDs one placeholder stands in, skipped by the validator's fixture.
PASSING = [e for e in EXAMPLES if e[0] != RESTART_JOBSET] or [("(no upstream examples)", 0, {})]


@pytest.mark.parametrize(("rel", "index", "doc"), PASSING, ids=[f"{e[0]}#{e[1]}" for e in PASSING])
def test_upstream_example_passes(rel, index, doc, validator, training_operator_validator) -> None:
    v = _validator_for(rel, validator, training_operator_validator)
    # an object without a schema gets a no-schema problem; only the ClusterPolicy's null warns
    assert [p for p in v.validate(doc) if not p.warning] == []


def test_restartjobset_example_misses_rule_name(validator, upstream_crds: Path) -> None:
    # JobSet's webhook fills failurePolicy.rules[].name; the CRD schema requires it.
    doc = yaml.safe_load((upstream_crds / "examples" / RESTART_JOBSET).read_text())
    assert validator.validate(doc) == [
        SchemaProblem(("spec", "failurePolicy", "rules", 0), 'missing required field "name"')
    ]


def test_clusterpolicy_null_plugin_is_pruned_with_a_warning(validator, upstream_crds: Path) -> None:
    # `spec.validator.plugin:` is null in the upstream sample. Create and update prune nulls in
    # non-nullable fields before validating; server-side apply does not, and the real API server
    # refuses it there (tests/test_examples_on_server.py, docs/testing.md): a warning, not an error.
    doc = yaml.safe_load((upstream_crds / "examples" / CLUSTER_POLICY).read_text())
    assert "plugin" in doc["spec"]["validator"] and doc["spec"]["validator"]["plugin"] is None
    (problem,) = validator.validate(doc)
    assert problem.warning and problem.path == ("spec", "validator", "plugin")
    assert "wants object" in problem.message and "server-side apply" in problem.message
    assert doc["spec"]["validator"]["plugin"] is None  # the caller's object is not mutated


def test_core_examples_were_checked_against_core_schemas(validator) -> None:
    services = [d for rel, _, d in EXAMPLES if d["kind"] == "Service"]
    assert len(services) == 2
    bad = copy.deepcopy(services[0])
    bad["spec"]["ports"][0]["port"] = "eighty"
    assert validator.validate(bad) == [
        SchemaProblem(("spec", "ports", 0, "port"), 'expected integer, got string "eighty"')
    ]


# ---------------------------------------------------------------- Kueue


def _cluster_queue(api_version: str = "kueue.x-k8s.io/v1beta2", **spec) -> dict:
    base = {
        "namespaceSelector": {},
        "resourceGroups": [
            {
                "coveredResources": ["cpu", "nvidia.com/gpu"],
                "flavors": [
                    {
                        "name": "h100",
                        "resources": [
                            {"name": "cpu", "nominalQuota": 64},
                            {"name": "nvidia.com/gpu", "nominalQuota": 8},
                        ],
                    }
                ],
            }
        ],
    }
    base.update(spec)
    return {"apiVersion": api_version, "kind": "ClusterQueue", "metadata": {"name": "team-a"}, "spec": base}


def test_unknown_field_suggests_close_name(validator) -> None:
    problems = validator.validate(_cluster_queue(cohrt="all"))
    assert problems == [
        SchemaProblem(("spec", "cohrt"), 'unknown field "cohrt" (did you mean "cohortName"?)')
    ]


def test_unknown_field_in_nested_list_item(validator) -> None:
    cq = _cluster_queue()
    cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"][1]["nominalQuot"] = 8
    problems = validator.validate(cq)
    path = ("spec", "resourceGroups", 0, "flavors", 0, "resources", 1, "nominalQuot")
    assert SchemaProblem(path, 'unknown field "nominalQuot" (did you mean "nominalQuota"?)') in problems


def test_missing_required_field(validator) -> None:
    cq = _cluster_queue()
    del cq["spec"]["resourceGroups"][0]["flavors"][0]["name"]
    assert validator.validate(cq) == [
        SchemaProblem(("spec", "resourceGroups", 0, "flavors", 0), 'missing required field "name"')
    ]


def test_enum_violation(validator) -> None:
    problems = validator.validate(_cluster_queue(queueingStrategy="FIFO"))
    assert problems == [
        SchemaProblem(
            ("spec", "queueingStrategy"),
            'unsupported value "FIFO": expected one of "StrictFIFO", "BestEffortFIFO"',
        )
    ]


@pytest.mark.parametrize("quota", [8, "8", "500m", "16Gi"])
def test_int_or_string_accepts_both_forms(validator, quota) -> None:
    cq = _cluster_queue()
    cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"][1]["nominalQuota"] = quota
    assert validator.validate(cq) == []


def test_int_or_string_rejects_other_types_and_bad_quantities(validator) -> None:
    cq = _cluster_queue()
    res = cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"]
    res[0]["nominalQuota"] = True
    res[1]["nominalQuota"] = "eight"
    path = ("spec", "resourceGroups", 0, "flavors", 0, "resources")
    assert validator.validate(cq) == [
        SchemaProblem(path + (0, "nominalQuota"), "expected integer or string, got boolean true"),
        SchemaProblem(
            path + (1, "nominalQuota"), '"eight" is not a quantity (expected e.g. 8, 500m, 16Gi)'
        ),
    ]


def test_wrong_type(validator) -> None:
    problems = validator.validate(_cluster_queue(resourceGroups={"cpu": 1}))
    assert problems == [SchemaProblem(("spec", "resourceGroups"), "expected array, got object")]


@pytest.mark.parametrize(
    ("api_version", "cohort_field"),
    [("kueue.x-k8s.io/v1beta1", "cohort"), ("kueue.x-k8s.io/v1beta2", "cohortName")],
)
def test_borrowing_limit_without_cohort_fails_cel_rule(validator, api_version, cohort_field) -> None:
    cq = _cluster_queue(api_version)
    cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"][1]["borrowingLimit"] = 4
    problems = validator.validate(cq)
    assert len(problems) == 1
    (p,) = problems
    assert (p.path, p.message, p.source) == (
        ("spec",), "borrowingLimit must be nil when cohort is empty", "cel"
    )
    assert f"!has(self.{cohort_field})" in p.rule
    cq["spec"][cohort_field] = "all-teams"
    assert validator.validate(cq) == []


def test_lending_limit_without_cohort_is_not_a_crd_rule(validator) -> None:
    # Kueue's CRD has no CEL rule for lendingLimit (its webhook checks it), so the
    # schema layer must not invent one; the LLM-aware admission rules cover it.
    cq = _cluster_queue()
    cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"][1]["lendingLimit"] = 4
    assert validator.validate(cq) == []


def test_cel_runs_on_defaulted_object(validator) -> None:
    # flavorFungibility defaults to whenCanBorrow/whenCanPreempt; the rule on it
    # (preference needs TryNextFlavor for both) must see those defaults.
    cq = _cluster_queue(flavorFungibility={"preference": "BorrowingOverPreemption"})
    (p,) = validator.validate(cq)
    assert (p.path, p.source) == (("spec", "flavorFungibility"), "cel")
    assert p.message == (
        "preference can only be set when both whenCanBorrow and whenCanPreempt are TryNextFlavor"
    )
    fungibility = cq["spec"]["flavorFungibility"]
    fungibility.update(whenCanBorrow="TryNextFlavor", whenCanPreempt="TryNextFlavor")
    assert validator.validate(cq) == []


# ---------------------------------------------------------------- other CRDs


def test_volcano_job_with_typo(validator, upstream_crds: Path) -> None:
    doc = yaml.safe_load((upstream_crds / "examples/volcano/job.yaml").read_text())
    doc["spec"]["minAvailble"] = doc["spec"].pop("minAvailable")
    assert validator.validate(doc) == [
        SchemaProblem(("spec", "minAvailble"), 'unknown field "minAvailble" (did you mean "minAvailable"?)')
    ]


def test_pytorchjob_with_typo(training_operator_validator, upstream_crds: Path) -> None:
    doc = yaml.safe_load((upstream_crds / "examples/training-operator/pytorch-simple.yaml").read_text())
    doc["spec"]["pytorchReplicaSpecs"]["Worker"]["replica"] = 2
    problems = training_operator_validator.validate(doc)
    assert problems == [
        SchemaProblem(
            ("spec", "pytorchReplicaSpecs", "Worker", "replica"),
            'unknown field "replica" (did you mean "replicas"?)',
        )
    ]


def test_pod_template_typo_inside_crd_is_found(validator, upstream_crds: Path) -> None:
    doc = yaml.safe_load((upstream_crds / "examples/jobset/paralleljobs.yaml").read_text())
    pod = doc["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    pod["containers"][0]["resorces"] = {}
    (p,) = validator.validate(doc)
    assert p.path[-3:] == ("containers", 0, "resorces")
    assert p.message == 'unknown field "resorces" (did you mean "resources"?)'


def test_unknown_custom_resource_kind_has_no_schema(validator) -> None:
    doc = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "r"}}
    (p,) = validator.validate(doc)
    assert p.source == "no-schema" and p.path == ()
    assert "RayCluster" in p.message and "--crds DIR" in p.message and "llmkube crds pull" in p.message


def test_known_kind_at_unserved_version(validator) -> None:
    doc = _cluster_queue("kueue.x-k8s.io/v1beta3")
    (p,) = validator.validate(doc)
    assert p.source == "no-schema"
    assert p.message == (
        "ClusterQueue is not served as kueue.x-k8s.io/v1beta3: its CRD serves "
        "kueue.x-k8s.io/v1beta1, kueue.x-k8s.io/v1beta2"
    )


def test_both_mpijob_crds_are_served(validator, training_operator_validator) -> None:
    """Two CRDs define MPIJob at different versions; each version keeps its own schema."""
    v1 = {"apiVersion": "kubeflow.org/v1", "kind": "MPIJob", "metadata": {"name": "m"}, "spec": {"mpiReplicaSpecs": {}}}
    assert validator.validate(v1) == []
    assert training_operator_validator.validate(v1) == []
    v2 = {"apiVersion": "kubeflow.org/v2beta1", "kind": "MPIJob", "metadata": {"name": "m"}, "spec": {"mpiReplicaSpecs": {}}}
    assert validator.validate(v2) == []
    v2["spec"]["runPolicy"] = {"cleanPodPolicyy": "All"}
    (p,) = validator.validate(v2)
    assert p.path == ("spec", "runPolicy", "cleanPodPolicyy")
    v3 = dict(v1, apiVersion="kubeflow.org/v3")
    (p,) = validator.validate(v3)
    assert p.source == "no-schema" and "kubeflow.org/v1" in p.message and "kubeflow.org/v2beta1" in p.message


# ---------------------------------------------------------------- core kinds


def _deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "vllm", "labels": {"app": "vllm"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "vllm"}},
            "template": {
                "metadata": {"labels": {"app": "vllm"}},
                "spec": {
                    "containers": [
                        {
                            "name": "vllm",
                            "image": "vllm/vllm-openai:v0.6.0",
                            "ports": [{"containerPort": 8000}],
                            "resources": {"limits": {"nvidia.com/gpu": 1, "memory": "64Gi"}},
                        }
                    ]
                },
            },
        },
    }


def test_core_deployment_valid(validator) -> None:
    assert validator.validate(_deployment()) == []  # an object without a schema gets a no-schema problem


def test_core_deployment_bad_fields(validator) -> None:
    doc = _deployment()
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolcy"] = "Always"
    container["ports"][0]["containerPort"] = "8000"
    container["resources"]["limits"]["nvidia.com/gpu"] = [1]
    doc["spec"]["replicas"] = "2"
    c = ("spec", "template", "spec", "containers", 0)
    assert validator.validate(doc) == [
        SchemaProblem(("spec", "replicas"), 'expected integer, got string "2"'),
        SchemaProblem(c + ("imagePullPolcy",), 'unknown field "imagePullPolcy" (did you mean "imagePullPolicy"?)'),
        SchemaProblem(c + ("ports", 0, "containerPort"), 'expected integer, got string "8000"'),
        SchemaProblem(c + ("resources", "limits", "nvidia.com/gpu"), "expected string or number, got array"),
    ]


@pytest.mark.parametrize("kind_doc", ["core", "crd"])
def test_metadata_name_required(validator, kind_doc) -> None:
    doc = _deployment() if kind_doc == "core" else _cluster_queue()
    doc["metadata"] = {"labels": {"a": "b"}}
    assert SchemaProblem(("metadata",), 'missing required field "name"') in validator.validate(doc)
    doc["metadata"]["generateName"] = "x-"
    assert validator.validate(doc) == []


def test_crd_root_metadata_is_object_meta(validator) -> None:
    doc = _cluster_queue()
    doc["metadata"]["lables"] = {"a": "b"}
    doc["metadata"]["annotations"] = {"a": 1}
    assert validator.validate(doc) == [
        SchemaProblem(("metadata", "annotations", "a"), "expected string, got integer 1"),
        SchemaProblem(("metadata", "lables"), 'unknown field "lables" (did you mean "labels"?)'),
    ]


def test_removed_core_version_names_served_ones(validator) -> None:
    doc = {"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"}}
    (p,) = validator.validate(doc)
    assert p.source == "no-schema"
    assert p.message.endswith("it serves autoscaling/v1, autoscaling/v2")


def test_missing_api_version_and_kind(validator) -> None:
    assert validator.validate({"metadata": {"name": "x"}}) == [
        SchemaProblem((), 'missing required field "apiVersion"'),
        SchemaProblem((), 'missing required field "kind"'),
    ]


def test_unsupported_kube_version(crd_store: CRDStore) -> None:
    with pytest.raises(InputError) as info:
        SchemaValidator(crd_store, kube_version="1.12")
    assert "1.12" in info.value.message
    # The hint lists what the installed kubernetes-validate bundles (1.32, the default, at least).
    assert "1.32" in available_kube_versions()
    assert info.value.hint and all(v in info.value.hint for v in available_kube_versions())


@pytest.mark.parametrize("version", ["newest", "v1.30", "1.28.4"])
def test_other_kube_versions_accepted(crd_store: CRDStore, version: str) -> None:
    if version == "newest":  # whatever the installed kubernetes-validate bundles last (1.37 today)
        version = max(available_kube_versions(), key=lambda v: tuple(map(int, v.split("."))))
    assert SchemaValidator(crd_store, kube_version=version).validate(_deployment()) == []


def test_ruamel_documents_are_accepted(validator) -> None:
    from ruamel.yaml import YAML

    doc = YAML().load(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
        "spec: {replicas: 1, selector: {matchLabels: {a: b}},\n"
        "  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}\n"
    )
    assert validator.validate(doc) == []


# ---------------------------------------------------------------- synthetic CRD semantics

WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata:
            type: object
            properties:
              name: {type: string, maxLength: 10}
          spec:
            type: object
            x-kubernetes-validations:
            - rule: self.replicas <= self.maxReplicas
              messageExpression: "'replicas ' + string(self.replicas) + ' exceeds ' + string(self.maxReplicas)"
              fieldPath: .replicas
            - rule: "!has(self.mode) || self.mode != 'off' || self.replicas == 0"
              message: off needs zero replicas
              reason: FieldValueForbidden
            - rule: self.size == oldSelf.size
              message: immutable
            properties:
              replicas: {type: integer, default: 1, minimum: 0}
              maxReplicas: {type: integer, default: 4}
              mode: {type: string, nullable: true, enum: ["on", "off"]}
              note: {type: string}
              size: {type: string}
              port:
                x-kubernetes-int-or-string: true
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  level: {type: integer}
              labels:
                type: object
                additionalProperties: {type: string}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    number: {type: integer, format: int32}
              created: {type: string, format: date-time}
"""


@pytest.fixture(scope="module")
def widget_validator(tmp_path_factory) -> SchemaValidator:
    d = tmp_path_factory.mktemp("widget-crds")
    (d / "widget.yaml").write_text(WIDGET_CRD)
    return SchemaValidator(CRDStore.load([d], include_cache=False))


def _widget(**spec) -> dict:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def test_widget_defaults_satisfy_rules(widget_validator) -> None:
    assert widget_validator.validate(_widget()) == []


def test_nullable_field_accepts_null_and_others_are_pruned(widget_validator) -> None:
    problems = widget_validator.validate(_widget(mode=None, note=None, replicas=None))
    # `mode` is nullable; `replicas` has a default (the null is defaulted); `note` is pruned with a warning
    assert [(p.path, p.warning) for p in problems] == [(("spec", "note"), True)]


def test_message_expression_and_field_path(widget_validator) -> None:
    (p,) = widget_validator.validate(_widget(replicas=9))
    assert (p.path, p.message, p.source) == (("spec", "replicas"), "replicas 9 exceeds 4", "cel")


def test_default_feeds_cel_and_reason_prefix(widget_validator) -> None:
    (p,) = widget_validator.validate(_widget(mode="off"))  # replicas defaults to 1
    assert (p.path, p.message) == (("spec",), "forbidden: off needs zero replicas")
    assert widget_validator.validate(_widget(mode="off", replicas=0)) == []


def test_transition_rules_are_skipped(widget_validator) -> None:
    assert widget_validator.validate(_widget(size="big")) == []


def test_preserve_unknown_and_additional_properties(widget_validator) -> None:
    doc = _widget(extra={"anything": [1, 2], "level": 3}, labels={"a": "b"})
    assert widget_validator.validate(doc) == []
    problems = widget_validator.validate(_widget(extra={"level": "high"}, labels={"a": 1}))
    assert problems == [
        SchemaProblem(("spec", "extra", "level"), 'expected integer, got string "high"'),
        SchemaProblem(("spec", "labels", "a"), "expected string, got integer 1"),
    ]


def test_embedded_resource_gets_object_meta(widget_validator) -> None:
    ok = _widget(template={"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": "b"}}, "spec": {}})
    assert widget_validator.validate(ok) == []
    bad = _widget(template={"apiVersion": 1, "metadata": {"labls": {}}})
    assert widget_validator.validate(bad) == [
        SchemaProblem(("spec", "template", "apiVersion"), "expected string, got integer 1"),
        SchemaProblem(("spec", "template", "metadata", "labls"), 'unknown field "labls" (did you mean "labels"?)'),
    ]


def test_int_or_string_and_formats(widget_validator) -> None:
    assert widget_validator.validate(_widget(port=80, created="2024-05-01T10:00:00Z")) == []
    assert widget_validator.validate(_widget(port="http", ports=[{"name": "a", "number": 2**31 - 1}])) == []


def test_list_map_keys_must_be_unique(widget_validator) -> None:
    doc = _widget(ports=[{"name": "a", "number": 1}, {"name": "a", "number": 2}])
    (p,) = widget_validator.validate(doc)
    assert p.path == ("spec", "ports", 1) and "duplicate entry" in p.message


def test_crd_metadata_name_constraint_applies(widget_validator) -> None:
    doc = _widget()
    doc["metadata"]["name"] = "much-too-long-name"
    (p,) = widget_validator.validate(doc)
    assert p.path == ("metadata", "name") and "longer than 10" in p.message


def test_problems_sorted_and_hashable(widget_validator) -> None:
    problems = widget_validator.validate(_widget(replicas=-1, extra={"level": "x"}, bogus=1))
    assert problems == [
        SchemaProblem(("spec", "bogus"), 'unknown field "bogus"; expected one of: created, extra, labels, '
                      "maxReplicas, mode, note, port, ports, replicas, size, template"),
        SchemaProblem(("spec", "extra", "level"), 'expected integer, got string "x"'),
        SchemaProblem(("spec", "replicas"), "-1 is less than the minimum of 0"),
    ]
    assert len(set(problems)) == 3
