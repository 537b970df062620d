"""How long Kubernetes, Knative and KServe wait for a loading model server.

A startup (or liveness) probe tolerates `initialDelaySeconds + periodSeconds
× failureThreshold`; Knative fails a revision that is not ready within its
progress deadline (an annotation, 600 s by default, in KServe's Serverless
mode); a Deployment marks a rollout failed after `progressDeadlineSeconds`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llmkube.check.read.shape import as_mapping, dig
from llmkube.check.read.workloads import Path
from llmkube.check.run import Target
from llmkube.names import (
    KNATIVE_PROGRESS_DEADLINE_ANNOTATION,
    KNATIVE_SERVING_GROUP,
    KSERVE_DEPLOYMENT_MODE_ANNOTATION,
)

KNATIVE_DEFAULT_DEADLINE = 600  # Knative's default progress deadline, seconds
DEPLOYMENT_DEFAULT_DEADLINE = 600  # Deployment progressDeadlineSeconds default
# KServe deployment modes served by Knative: the legacy name and its current one
# (kserve v0.20.0 pkg/apis/serving/v1beta1/configmap.go NewDeployConfig maps Serverless → Knative)
KNATIVE_MODES = ("Serverless", "Knative")


def probe_budget(probe: Any) -> int | None:
    """Seconds a probe tolerates failures before acting: delay + period × threshold."""
    if not isinstance(probe, dict):
        return None
    period = probe.get("periodSeconds", 10)
    threshold = probe.get("failureThreshold", 3)
    delay = probe.get("initialDelaySeconds", 0)
    if not all(isinstance(v, int) for v in (period, threshold, delay)):
        return None
    return int(delay + period * threshold)


def startup_probe_budget(container: Mapping[str, Any]) -> int | None:
    """Seconds the kubelet lets a server load: its startup probe, else its liveness probe."""
    probe = container.get("startupProbe") or container.get("livenessProbe")
    return probe_budget(probe) if probe is not None else None


def parse_duration(value: Any) -> int | None:
    """Seconds of a Go duration such as 600s, 10m, 1h30m (or a bare number)."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return int(sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts))


def knative_deadline(target: Target) -> tuple[int | None, Path, str] | None:
    """(seconds, path, "annotation" | "default") of the progress deadline Knative gives a served pod;
    None when Knative does not serve the object. Seconds is None for an unreadable annotation."""
    obj = target.obj
    kind = obj.get("kind")
    annotations = as_mapping(as_mapping(obj.get("metadata")).get("annotations"))
    key = KNATIVE_PROGRESS_DEADLINE_ANNOTATION
    if kind == "InferenceService":
        mode = annotations.get(KSERVE_DEPLOYMENT_MODE_ANNOTATION, "Serverless")
        pred = as_mapping(as_mapping(obj.get("spec")).get("predictor"))
        pred_ann = as_mapping(pred.get("annotations"))
        if key in pred_ann:
            return parse_duration(pred_ann[key]), ("spec", "predictor", "annotations", key), "annotation"
        if key in annotations:
            return parse_duration(annotations[key]), ("metadata", "annotations", key), "annotation"
        if mode in KNATIVE_MODES:
            return KNATIVE_DEFAULT_DEADLINE, ("spec", "predictor"), "default"
        return None
    if kind == "Service" and str(obj.get("apiVersion", "")).startswith(KNATIVE_SERVING_GROUP + "/"):
        tmpl_ann = as_mapping(dig(obj, "spec", "template", "metadata", "annotations"))
        if key in tmpl_ann:
            return parse_duration(tmpl_ann[key]), ("spec", "template", "metadata", "annotations", key), "annotation"
        return KNATIVE_DEFAULT_DEADLINE, ("spec", "template"), "default"
    return None
