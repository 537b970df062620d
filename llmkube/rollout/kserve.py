"""What a rollout reads from and writes to a KServe InferenceService (v0.20.0), as pure functions.

The split: `spec.predictor.canaryTrafficPercent`. KServe's Knative reconciler
(`reconcilers/knative/ksvc_reconciler.go` `createKnativeService`) sends that share to the latest
revision and the rest to `status.components.predictor.latestRolledoutRevision` (tag `prev`), once
a revision has been rolled out; with the field unset the latest revision takes 100 %. So:
advance = a higher percent, rollback = 0 (all traffic back to the rolled-out revision, KServe's
documented rollback), promote = the field removed (KServe's documented promotion).
Standard/RawDeployment mode never reads the field (see specs.inferenceendpoint
`_canary_in_standard_mode`): there is nothing to move, and the command says so.

The stage record — which revision was at which percent since when — cannot live on the
InferenceService: KServe copies the InferenceService's annotations and labels into the Knative
Service's revision template (`components/predictor.go` `buildObjectMeta`), so writing one there
would start a new revision — a new canary — at every step. It lives in a ConfigMap beside it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from llmkube.errors import InputError
from llmkube.records import record
from llmkube.specs.inferenceendpoint import KNATIVE_MODES

ISVC_RESOURCE = "inferenceservices.serving.kserve.io"
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
FIELD_MANAGER = "llmkube-rollout"
STATE_SUFFIX = "-llmkube-rollout"
HISTORY_KEPT = 50


@record(frozen=True)
class Revisions:
    """One InferenceService as a rollout sees it."""

    name: str
    namespace: str
    mode: str | None  # status.deploymentMode, else the annotation
    percent: int | None  # spec.predictor.canaryTrafficPercent
    canary: str | None  # the latest revision (takes `percent`)
    baseline: str | None  # the rolled-out revision (takes the rest)


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def read_revisions(isvc: dict) -> Revisions:
    """Revisions from `status.components.predictor`: the traffic targets when KServe has written
    them (the one with `latestRevision: true` is the canary, the other the baseline), else
    `latestReadyRevision` and `latestRolledoutRevision`."""
    md = isvc.get("metadata") or {}
    predictor = _dig(isvc, "status", "components", "predictor") or {}
    canary = baseline = None
    for target in predictor.get("traffic") or []:
        if not isinstance(target, dict) or not target.get("revisionName"):
            continue
        if target.get("latestRevision") is True:
            canary = canary or target["revisionName"]
        else:
            baseline = baseline or target["revisionName"]
    canary = canary or predictor.get("latestReadyRevision") or predictor.get("latestCreatedRevision")
    baseline = baseline or predictor.get("latestRolledoutRevision")
    if baseline == canary:
        baseline = None
    percent = _dig(isvc, "spec", "predictor", "canaryTrafficPercent")
    mode = _dig(isvc, "status", "deploymentMode") or (md.get("annotations") or {}).get(DEPLOYMENT_MODE_ANNOTATION)
    return Revisions(
        name=md.get("name", ""),
        namespace=md.get("namespace", "default"),
        mode=mode if isinstance(mode, str) else None,
        percent=percent if isinstance(percent, int) and not isinstance(percent, bool) else None,
        canary=canary if isinstance(canary, str) else None,
        baseline=baseline if isinstance(baseline, str) else None,
    )


def check_mode(revs: Revisions) -> None:
    """InputError unless the InferenceService runs in a mode whose traffic split KServe applies."""
    if revs.mode is not None and revs.mode not in KNATIVE_MODES:
        raise InputError(
            f"InferenceService {revs.namespace}/{revs.name} runs in {revs.mode} mode, where KServe ignores "
            "canaryTrafficPercent: there is no traffic split to move",
            hint="only Knative (Serverless) mode keeps revisions to split traffic between; see docs/rollouts.md",
        )


def traffic_patch(percent: int | None) -> dict:
    """The merge patch that sets the split (None removes the field: promoted)."""
    return {"spec": {"predictor": {"canaryTrafficPercent": percent}}}


@record(frozen=True)
class StageRecord:
    revision: str
    percent: int
    since: datetime


def state_name(isvc_name: str) -> str:
    return isvc_name + STATE_SUFFIX


def read_record(configmap: dict | None) -> tuple[StageRecord | None, list[dict]]:
    """The stage record and history in the state ConfigMap (None, [] when absent or unreadable)."""
    data = (configmap or {}).get("data") or {}
    try:
        history = json.loads(data.get("history") or "[]")
        history = history if isinstance(history, list) else []
    except ValueError:
        history = []
    try:
        since = datetime.fromisoformat(data["since"].replace("Z", "+00:00"))
        record = StageRecord(str(data["revision"]), int(data["percent"]), since)
    except (KeyError, ValueError, AttributeError):
        return None, history
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
        record = StageRecord(record.revision, record.percent, since)
    return record, history


def stage_age(record: StageRecord | None, revs: Revisions, now: datetime) -> float | None:
    """Seconds the canary revision has run at its percent, if the record is about this stage."""
    if record is None or record.revision != revs.canary or record.percent != revs.percent:
        return None
    return max(0.0, (now - record.since).total_seconds())


def state_configmap(revs: Revisions, record: StageRecord, history: list[dict]) -> dict:
    """The ConfigMap holding the stage record (and the last HISTORY_KEPT decisions)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": state_name(revs.name),
            "namespace": revs.namespace,
            "labels": {"app.kubernetes.io/managed-by": "llmkube", "llmkube.dev/rollout-of": revs.name},
        },
        "data": {
            "inferenceService": revs.name,
            "revision": record.revision,
            "percent": str(record.percent),
            "since": iso(record.since),
            "history": json.dumps(history[-HISTORY_KEPT:], separators=(",", ":")),
        },
    }


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
