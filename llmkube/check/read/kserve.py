"""KServe InferenceServices and Knative Services as their admission webhooks see them.

KServe (v0.20.0) decides an InferenceService's deployment mode from the
`serving.kserve.io/deploymentMode` annotation, else from the
`inferenceservice-config` ConfigMap, whose shipped default is `Serverless`
(Knative): `pkg/apis/serving/v1beta1/configmap.go` `NewDeployConfig` maps the
legacy names (`Serverless` → `Knative`, `RawDeployment` → `Standard`), and
`pkg/controller/v1beta1/inferenceservice/utils/utils.go` `GetDeploymentMode`
reads annotation before ConfigMap. In Knative mode every component's pod spec
becomes a Knative Service's revision template, which Knative's webhook
validates; this module hands rules those pod specs, and the containers whose
resources KServe fills in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any


from llmkube.check.read.index import index_of
from llmkube.check.read.shape import as_list, as_mapping, dig, meta
from llmkube.check.read.workloads import Path
from llmkube.check.run import Target
from llmkube.names import (
    KNATIVE_FEATURES_CONFIG_MAP,
    KNATIVE_SERVING_GROUP,
    KSERVE_CONFIG_MAP,
    KSERVE_DEPLOYMENT_MODE_ANNOTATION,
)
from llmkube.records import record

KNATIVE = "Knative"
STANDARD = "Standard"
MODEL_MESH = "ModelMesh"
# configmap.go NewDeployConfig (v0.20.0): legacy names still accepted and rewritten by the defaulter.
_MODES = {"serverless": KNATIVE, "knative": KNATIVE, "rawdeployment": STANDARD, "standard": STANDARD, "modelmesh": MODEL_MESH}
COMPONENTS = ("predictor", "transformer", "explainer")
# Framework predictors the defaulter converts to spec.predictor.model (inference_service_defaults.go
# setPredictorModelDefaults, v0.20.0); their container merges onto a runtime like `model` does.
FRAMEWORKS = ("sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface", "lightgbm", "paddle", "pmml")
# config/configmap/inferenceservice.yaml (v0.20.0), key inferenceService.resource; also the
# requests and limits of the stock runtimes (config/runtimes/kserve-*.yaml).
DEFAULT_RESOURCES = {"cpu": "1", "memory": "2Gi"}


@record(frozen=True)
class Mode:
    """An InferenceService's deployment mode, and whether the object says so itself."""

    name: str  # Knative | Standard | ModelMesh
    explicit: bool  # from the annotation (else the cluster default, or the run's inferenceservice-config)
    raw: str | None  # the annotation as written


def _config_map(targets: Sequence[Target], name: str) -> Mapping[str, Any] | None:
    for t in index_of(targets).named("ConfigMap", name)[:1]:
        data = t.obj.get("data")
        return data if isinstance(data, Mapping) else {}
    return None


def _json_key(data: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    try:
        value = json.loads(str((data or {}).get(key) or "{}"))
    except (ValueError, RecursionError):  # not JSON, a number too long to convert, deep nesting
        return {}
    return value if isinstance(value, Mapping) else {}


def default_mode(targets: Sequence[Target]) -> str:
    """The cluster default: the run's inferenceservice-config `deploy.defaultDeploymentMode`, else Knative."""
    deploy = _json_key(_config_map(targets, KSERVE_CONFIG_MAP), "deploy")
    return _MODES.get(str(deploy.get("defaultDeploymentMode", "")).lower(), KNATIVE)


def default_resources(targets: Sequence[Target]) -> dict[str, dict[str, str]]:
    """{"requests": {...}, "limits": {...}} the KServe defaulter fills in (configmap.go ResourceConfig).

    An empty or missing value in a ConfigMap of the run means no default for that item.
    """
    data = _config_map(targets, KSERVE_CONFIG_MAP)
    if data is None:
        return {"requests": dict(DEFAULT_RESOURCES), "limits": dict(DEFAULT_RESOURCES)}
    res = as_mapping(_json_key(data, "inferenceService").get("resource"))
    out: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
    for key, section, name in (
        ("cpuRequest", "requests", "cpu"),
        ("memoryRequest", "requests", "memory"),
        ("cpuLimit", "limits", "cpu"),
        ("memoryLimit", "limits", "memory"),
    ):
        if isinstance(res, Mapping) and res.get(key):
            out[section][name] = str(res[key])
    return out


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """An object's annotations, or {} when missing or not a mapping (schema-invalid)."""
    found = meta(obj).get("annotations")
    return found if isinstance(found, Mapping) else {}


def mode_of(target: Target, targets: Sequence[Target]) -> Mode:
    raw = annotations_of(target.obj).get(KSERVE_DEPLOYMENT_MODE_ANNOTATION)
    if raw is not None and str(raw).lower() in _MODES:
        return Mode(_MODES[str(raw).lower()], True, str(raw))
    return Mode(default_mode(targets), False, None if raw is None else str(raw))


def components(target: Target) -> Iterator[tuple[str, Path, Mapping[str, Any]]]:
    """(name, path, spec) of each component an InferenceService sets."""
    spec = target.obj.get("spec")
    if not isinstance(spec, Mapping):
        return
    for name in COMPONENTS:
        comp = spec.get(name)
        if isinstance(comp, Mapping):
            yield name, ("spec", name), comp


@record(frozen=True)
class Served:
    """A container KServe runs for a component, with what it merges in."""

    target: Target
    component: str
    path: Path  # the container (or spec.predictor.model) in the manifest
    container: Mapping[str, Any]
    base: dict[str, dict[str, str]]  # requests/limits filled in where the manifest has none
    source: str  # where `base` comes from, for messages


def runtime_resources(targets: Sequence[Target], name: str | None) -> tuple[dict[str, dict[str, str]], str] | None:
    """Resources of a (Cluster)ServingRuntime's first container, when it is in the run."""
    if not name:
        return None
    for t in index_of(targets).named(("ServingRuntime", "ClusterServingRuntime"), name)[:1]:
        containers = as_list(dig(t.obj, "spec", "containers"))
        first = as_mapping(containers[0]) if containers else {}
        res = as_mapping(first.get("resources"))
        return (
            {s: {str(k): str(v) for k, v in as_mapping(res.get(s)).items()} for s in ("requests", "limits")},
            f"{t.obj.get('kind')} {name}",
        )
    return None


def served_containers(target: Target, targets: Sequence[Target]) -> Iterator[Served]:
    """Containers whose resources KServe completes before the pod is made.

    `predictor.model` is merged onto its ServingRuntime's container
    (`pkg/utils/container_merge.go` `MergeContainerWithPatch`, v0.20.0: maps
    merge per key); custom containers get the ConfigMap defaults on their
    first container (`predictor_custom.go` `CustomPredictor.Default` →
    `inference_service_defaults.go` `setResourceRequirementDefaults`).
    """
    defaults = default_resources(targets)
    for name, path, comp in components(target):
        key = next((k for k in ("model", *FRAMEWORKS) if isinstance(comp.get(k), Mapping)), None)
        if key is not None:
            model = comp[key]
            found = runtime_resources(targets, model.get("runtime"))
            base, source = found if found else (
                {"requests": dict(DEFAULT_RESOURCES), "limits": dict(DEFAULT_RESOURCES)},
                "the stock ServingRuntime (kserve-vllmserver, kserve-huggingfaceserver: 1 CPU, 2Gi)",
            )
            yield Served(target, name, (*path, key), model, base, source)
            continue
        containers = comp.get("containers")
        if isinstance(containers, list) and containers and isinstance(containers[0], Mapping):
            yield Served(target, name, (*path, "containers", 0), containers[0], defaults, "KServe's inferenceservice-config defaults")


# ---- Knative ------------------------------------------------------------------


def knative_features(targets: Sequence[Target]) -> dict[str, str]:
    """The run's `config-features` flags (lower-cased values); {} when the run has none."""
    data = _config_map(targets, KNATIVE_FEATURES_CONFIG_MAP) or {}
    return {str(k): str(v).strip().lower() for k, v in data.items() if not str(k).startswith("_")}


@record(frozen=True)
class RevisionPod:
    """A pod spec Knative's webhook validates: a Knative Service's template, or a Knative-mode ISVC component."""

    target: Target
    what: str  # "predictor", "template", …
    path: Path  # path of the pod spec
    spec: Mapping[str, Any]
    certain: bool  # False when the ISVC relies on the cluster's default deployment mode


def revision_pods(targets: Sequence[Target]) -> Iterator[RevisionPod]:
    for t in targets:
        obj = t.obj
        if obj.get("kind") == "Service" and str(obj.get("apiVersion", "")).startswith(KNATIVE_SERVING_GROUP + "/"):
            spec = dig(obj, "spec", "template", "spec")
            if isinstance(spec, Mapping):
                yield RevisionPod(t, "template", ("spec", "template", "spec"), spec, True)
        elif obj.get("kind") == "InferenceService":
            mode = mode_of(t, targets)
            if mode.name != KNATIVE:
                continue
            for name, path, comp in components(t):
                if comp.get("containers") or comp.get("model"):
                    yield RevisionPod(t, name, path, comp, mode.explicit or bool(_config_map(targets, KSERVE_CONFIG_MAP)))
