"""LK6xx admission rules and the readers behind them (llmkube.check.read.kserve, .placement).

Cases for each rule are in tests/cases/rules/LK6xx (run by test_rule_cases.py); here: the
readers' upstream semantics, the CLI on a hand-written manifest, and the examples.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from llmkube.check.findings import Severity
from llmkube.check.read import kserve, placement
from llmkube.check.run import Target
from tests.support.cli import llmkube
from tests.support.paths import EXAMPLES
from tests.test_rule_cases import CASES, findings_for

MINE = re.compile(r"^LK6\d\d$")


def target(obj: dict[str, Any]) -> Target:
    return Target(obj=obj, document=None, spec=None)


def isvc(annotations: dict[str, str] | None = None, **predictor: Any) -> Target:
    return target(
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "m", "annotations": annotations or {}},
            "spec": {"predictor": predictor},
        }
    )


def config_map(name: str, data: dict[str, str]) -> Target:
    return target({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "kserve"}, "data": data})


# ---- read/kserve ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "mode", "explicit"),
    [
        ("Serverless", kserve.KNATIVE, True),
        ("Knative", kserve.KNATIVE, True),
        ("RawDeployment", kserve.STANDARD, True),
        ("Standard", kserve.STANDARD, True),
        (None, kserve.KNATIVE, False),  # the shipped inferenceservice-config default is Serverless
    ],
)
def test_deployment_mode_maps_legacy_names_and_defaults_to_knative(annotation, mode, explicit):
    t = isvc({kserve.KSERVE_DEPLOYMENT_MODE_ANNOTATION: annotation} if annotation else None)
    got = kserve.mode_of(t, [t])
    assert (got.name, got.explicit) == (mode, explicit)


def test_the_runs_inferenceservice_config_sets_the_default_mode_and_resources():
    cm = config_map(
        "inferenceservice-config",
        {
            "deploy": '{"defaultDeploymentMode": "RawDeployment"}',
            "inferenceService": '{"resource": {"cpuLimit": "", "memoryLimit": "8Gi", "cpuRequest": "1", "memoryRequest": "2Gi"}}',
        },
    )
    t = isvc()
    assert kserve.mode_of(t, [cm, t]).name == kserve.STANDARD
    # an empty value means no default for that item (configmap.go)
    assert kserve.default_resources([cm]) == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "8Gi"}}
    assert kserve.default_resources([]) == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}


def test_framework_predictors_merge_onto_a_runtime_like_model():
    t = isvc(tensorflow={"storageUri": "gs://x", "resources": {"requests": {"cpu": "4"}}})
    (served,) = kserve.served_containers(t, [t])
    assert served.path == ("spec", "predictor", "tensorflow") and served.base["limits"]["cpu"] == "1"


def test_knative_features_come_from_config_features():
    cm = config_map("config-features", {"kubernetes.podspec-nodeselector": "Enabled", "_example": "…"})
    assert kserve.knative_features([cm]) == {"kubernetes.podspec-nodeselector": "enabled"}


# ---- read/placement (Kueue's flavorSelector) ---------------------------------------


def podset(selector=None, terms=None, tolerations=None) -> placement.PodSet:
    return placement.PodSet("w", (), selector or {}, terms or [], tolerations or [], frozenset({"cpu"}))


def test_only_keys_the_flavor_defines_are_judged():
    # flavorassigner_test.go: nodeSelector type=two plus ignored keys fits flavor two, not one
    ps = podset({"type": "two", "ignored1": "foo", "ignored2": "bar"})
    assert placement.selection_fits(ps, {"type": "two"})
    assert not placement.selection_fits(ps, {"type": "one"})
    assert ps.keys == {"type", "ignored1", "ignored2"}


def test_required_affinity_terms_are_ored_and_emptied_terms_match():
    three = podset(terms=[[{"key": "type", "operator": "In", "values": ["three"]}]])
    assert not placement.selection_fits(three, {"type": "one"}) and not placement.selection_fits(three, {"type": "two"})
    either = podset(terms=[[{"key": "type", "operator": "In", "values": ["three"]}], [{"key": "zone", "operator": "Exists"}]])
    assert placement.selection_fits(either, {"type": "one"})  # the zone term names no flavor key: it matches
    not_two = podset(terms=[[{"key": "type", "operator": "NotIn", "values": ["two"]}]])
    assert placement.selection_fits(not_two, {"type": "one"}) and not placement.selection_fits(not_two, {"type": "two"})


def test_untolerated_taints():
    flavor = {"nodeTaints": [{"key": "dedicated", "value": "training", "effect": "NoSchedule"}]}
    assert placement.untolerated_taint(podset(), flavor) is not None
    assert placement.untolerated_taint(podset(tolerations=[{"key": "dedicated", "operator": "Exists"}]), flavor) is None
    assert placement.untolerated_taint(podset(tolerations=[{"key": "dedicated", "value": "serving"}]), flavor) is not None
    assert placement.untolerated_taint(podset(), {"nodeTaints": [{"key": "k", "effect": "PreferNoSchedule"}]}) is None
    # the flavor's own tolerations are added to the pods it admits (checkFlavorForPodSets)
    assert placement.untolerated_taint(podset(), {**flavor, "tolerations": [{"key": "dedicated", "operator": "Exists"}]}) is None


def test_a_trainjobs_selection_comes_from_its_runtime_patches():
    obj = {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {"name": "t"},
        "spec": {
            "trainer": {"resourcesPerNode": {"limits": {"nvidia.com/gpu": 4}}},
            "runtimePatches": [
                {"trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [
                    {"name": "node", "template": {"spec": {"template": {"spec": {"nodeSelector": {"a": "b"}}}}}}
                ]}}}}
            ],
        },
    }
    (ps,) = placement.podsets(target(obj))
    assert ps.node_selector == {"a": "b"} and ps.resources == {"nvidia.com/gpu"}


# ---- severities and the CLI --------------------------------------------------------


def test_knative_findings_without_a_mode_annotation_are_warnings(store):
    found = [f for f in findings_for(CASES / "LK604" / "fail" / "ports.yaml", store) if f.code == "LK604"]
    assert {f.object.split("/")[-1]: f.severity for f in found}["llama-default-mode"] is Severity.WARNING
    assert {f.severity for f in found if "default-mode" not in f.object} == {Severity.ERROR}


def test_deprecated_elastic_nproc_alone_is_a_warning(store, tmp_path: Path):
    path = tmp_path / "job.yaml"
    path.write_text(
        """apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: elastic}
spec:
  elasticPolicy: {minReplicas: 1, maxReplicas: 2, nProcPerNode: 8}
  pytorchReplicaSpecs:
    Worker:
      replicas: 2
      template:
        spec:
          containers: [{name: pytorch, image: "nvcr.io/nvidia/pytorch:24.07-py3"}]
""",
        encoding="utf-8",
    )
    (f,) = [f for f in findings_for(path, store) if f.code == "LK606"]
    assert f.severity is Severity.WARNING and "deprecated" in f.message and f.mark and f.mark.line == 5


def test_validate_refuses_a_hand_written_isvc_with_line_and_hint(upstream_crds):
    path = CASES / "LK602" / "fail" / "defaulted-limits.yaml"
    out = llmkube("validate", str(path), "--crds", str(upstream_crds), "-o", "json")
    assert out.returncode == 1, out.stdout + out.stderr
    report = json.loads(out.stdout)
    (first,) = [f for f in report["findings"] if f["code"] == "LK602" and f["line"] == 19]
    assert first["severity"] == "error" and "limits.cpu" in first["hint"] and "1 CPU" in first["message"]


# ---- the examples -------------------------------------------------------------------

def test_the_examples_give_no_admission_errors(upstream_crds):
    out = llmkube("validate", str(EXAMPLES), "--crds", str(upstream_crds), "-o", "json")
    report = json.loads(out.stdout)
    mine = [f for f in report["findings"] if MINE.match(f["code"]) and f["severity"] == "error"]
    assert mine == [], mine


def test_upstream_examples_give_no_admission_findings(upstream_crds):
    root = upstream_crds / "examples"
    files = sorted(p for p in root.rglob("*.yaml") if p.name != "restartjobset-action.yaml")
    out = llmkube("validate", *map(str, files), "--crds", str(upstream_crds), "-o", "json")
    mine = [f for f in json.loads(out.stdout)["findings"] if MINE.match(f["code"])]
    assert mine == [], mine
