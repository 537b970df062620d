"""`llmkube rollout status|step|promote|rollback SPEC`: a canary moved by its metrics.

Reads the InferenceService the spec renders (through kubectl), the canary and baseline
revisions' metrics (from Prometheus), decides (llmkube.rollout.decide), prints the evidence, and
-- unless `--dry-run` or `status` -- patches `canaryTrafficPercent` through llmkube.kubectl and
records the stage in the ConfigMap `<name>-llmkube-rollout`. See docs/rollouts.md.

Exit codes: 0 advanced, promoted, or nothing to do (status: always 0) · 1 promote refused by a
failing gate · 2 bad input, an unsupported target or mode, Prometheus or the cluster unreachable
(nothing was changed) · 4 the traffic patch ran out of time or was killed: outcome unknown ·
5 waiting (stage too young, traffic too thin, data missing) · 6 rolled back (now or earlier).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone

from llmkube import pipeline
from llmkube.commands.common import note
from llmkube.errors import InputError
from llmkube.kubectl import DEFAULT_TIMEOUT, Kubectl
from llmkube.options import Options
from llmkube.rollout import kserve, metrics
from llmkube.rollout.decide import Decision, Sample, decide
from llmkube.rollout.prometheus import Prometheus
from llmkube.rollout.report import Evidence, to_json, to_text
from llmkube.specs.inferenceendpoint import KNATIVE_MODES, InferenceEndpoint
from llmkube.specs.rollout import RolloutPolicy
from llmkube.yamlio import dump_yaml_documents

EXIT_OK, EXIT_REFUSED, EXIT_UNKNOWN, EXIT_WAITING, EXIT_ROLLED_BACK = 0, 1, 4, 5, 6
COMMANDS = ("status", "step", "promote", "rollback")
_EXIT = {"advance": EXIT_OK, "promote": EXIT_OK, "idle": EXIT_OK, "wait": EXIT_WAITING, "rollback": EXIT_ROLLED_BACK, "rolled-back": EXIT_ROLLED_BACK, "refused": EXIT_REFUSED}


def run_rollout(
    command: str,
    paths: Sequence[str],
    options: Options = Options(),
    *,
    name: str | None = None,
    prometheus: str | None = None,
    dry_run: bool = False,
    output: str = "text",
    force: bool = False,
    context: str | None = None,
    kubeconfig: str | None = None,
    namespace: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    kubectl: Kubectl | None = None,
    now: datetime | None = None,
) -> int:
    endpoint = _endpoint(paths, options, name)
    spec = endpoint.spec
    _check_target(endpoint)
    policy = spec.rollout or RolloutPolicy()
    kc = kubectl or Kubectl(context=context, kubeconfig=kubeconfig, timeout=timeout)
    ns = endpoint.metadata.namespace or namespace or kc.default_namespace()
    isvc = kc.get_object(kserve.ISVC_RESOURCE, endpoint.metadata.name, ns)
    if isvc is None:
        raise InputError(
            f"InferenceService {ns}/{endpoint.metadata.name} not found",
            hint="apply the spec first (`llmkube apply`), or pass --namespace / --context",
        )
    revs = kserve.read_revisions(isvc)
    kserve.check_mode(revs)
    record, history = kserve.read_record(kc.get_object("configmaps", kserve.state_name(revs.name), ns))
    moment = now or datetime.now(timezone.utc)
    age = kserve.stage_age(record, revs, moment)
    url = prometheus or policy.prometheus or (spec.autoscaling.prometheus if spec.autoscaling else None)
    decision, canary, baseline = _decision(command, policy, spec.runtime, revs, age, url, force, moment)
    changed = _change(kc, command, revs, decision, age, moment, history) if command != "status" and not dry_run else None
    applied = changed == EXIT_OK
    evidence = Evidence(
        command, revs, spec.runtime, decision, canary, baseline, policy.observe, policy.min_requests,
        age, applied, dry_run, url,
    )
    if output == "json":
        sys.stdout.write(json.dumps(to_json(evidence), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(to_text(evidence))
    if command == "status":
        return EXIT_OK
    return EXIT_UNKNOWN if changed == EXIT_UNKNOWN else _EXIT[decision.action]


def _decision(
    command: str, policy: RolloutPolicy, engine: str, revs: kserve.Revisions, age: float | None,
    url: str | None, force: bool, moment: datetime,
) -> tuple[Decision, Sample | None, Sample | None]:
    """What to do, and the two revisions' numbers it was decided on (None: no metrics read)."""
    if command == "rollback":
        return _manual_rollback(revs), None, None
    if command == "promote" and force:
        return _manual_promote(revs, Decision("promote", revs.percent, None, "promoted by hand (--force: no gates)")), None, None
    if revs.percent is None or revs.percent in (0, 100) or not (revs.canary and revs.baseline):
        decision = decide(policy, revs.percent, age, Sample(), Sample())
        if decision.action == "wait":  # a percent between 0 and 100, but no two revisions to compare
            decision = Decision("wait", revs.percent, revs.percent, "KServe reports no canary and baseline revisions yet "
                                "(status.components.predictor): the new revision is not ready, or KServe has not reconciled")
        return decision, None, None
    if not url:
        raise InputError(
            "no Prometheus to read the canary's metrics from",
            hint="pass --prometheus http://HOST:9090 or set spec.rollout.prometheus",
        )
    canary, baseline = _samples(Prometheus(url), engine, policy, revs, moment)
    decision = decide(policy, revs.percent, age, canary, baseline)
    if command == "promote":
        decision = _gated_promote(decision, revs)
    return decision, canary, baseline


def _change(
    kc: Kubectl, command: str, revs: kserve.Revisions, decision: Decision, age: float | None,
    moment: datetime, history: list[dict],
) -> int | None:
    """Make the decision's change: EXIT_OK when the split moved, another code when that failed, None: no change."""
    if decision.action in ("advance", "promote", "rollback") and decision.to_percent != revs.percent:
        code = _move(kc, revs, decision)
        if code is not None:
            return code
        # the new stage starts once its traffic moved, not when its metrics were read
        _record(kc, revs, decision.to_percent, datetime.now(timezone.utc), [*history, _entry(moment, command, decision)])
        return EXIT_OK
    if decision.action == "wait" and age is None and revs.canary and revs.percent not in (None, 0, 100):
        assert revs.percent is not None
        _record(kc, revs, revs.percent, moment, history)  # start this stage's clock
    return None


def _endpoint(paths: Sequence[str], options: Options, name: str | None) -> InferenceEndpoint:
    """The one InferenceEndpoint in the inputs (or the one named `name`)."""
    specs = [s.spec for s in pipeline.load_inputs(paths, options.limits).specs if s.kind == "InferenceEndpoint"]
    if name is not None:
        specs = [s for s in specs if s.metadata.name == name]
    if len(specs) == 1:
        return specs[0]
    if not specs:
        what = f"named {name!r} " if name else ""
        raise InputError(f"no InferenceEndpoint {what}in the given paths", hint="give the spec file the endpoint was applied from")
    names = ", ".join(s.metadata.name for s in specs)
    raise InputError(f"several InferenceEndpoints in the given paths ({names})", hint="choose one with --name")


def _check_target(ep: InferenceEndpoint) -> None:
    spec = ep.spec
    if spec.target != "kserve":
        raise InputError(
            f"InferenceEndpoint {ep.metadata.name} has target: {spec.target}, which llmkube cannot canary: "
            "only a KServe InferenceService in Knative mode has a revision traffic split",
            hint="use target: kserve with deploymentMode: Knative (see docs/rollouts.md)",
        )
    if spec.deployment_mode not in KNATIVE_MODES:
        raise InputError(
            f"InferenceEndpoint {ep.metadata.name} runs in KServe {spec.deployment_mode} mode, where KServe ignores "
            "canaryTrafficPercent: there is no traffic split to move",
            hint="set deploymentMode: Knative (see docs/rollouts.md)",
        )


def _samples(prom: Prometheus, engine: str, policy: RolloutPolicy, revs: kserve.Revisions, moment: datetime) -> tuple[Sample, Sample]:
    at = moment.timestamp()
    window = policy.observe_seconds
    out = []
    for revision in (revs.canary, revs.baseline):
        assert revision is not None
        sel = metrics.Selector(revs.namespace, revision, policy.revision_label)
        latency = {
            key: prom.scalar(metrics.quantile_query(names[engine], q, sel, window), at=at) if names[engine] else None
            for key, (_, q, names) in metrics.LATENCY.items()
        }
        errors = answered = None
        for failed, total in metrics.error_queries(engine, sel, window):
            answered = prom.scalar(total, at=at)
            if answered is not None:
                errors = prom.scalar(failed, at=at)
                break
        out.append(
            Sample(
                requests=prom.scalar(metrics.count_query(metrics.REQUESTS[engine], sel, window), at=at),
                latency=latency,
                errors=errors,
                answered=answered,
            )
        )
    return out[0], out[1]


def _manual_rollback(revs: kserve.Revisions) -> Decision:
    if revs.percent == 0:
        return Decision("rolled-back", 0, 0, "already rolled back (canaryTrafficPercent 0)")
    if not revs.baseline:
        raise InputError(
            f"InferenceService {revs.namespace}/{revs.name} has no rolled-out revision to go back to",
            hint="KServe splits traffic only after a revision was rolled out at 100 %",
        )
    return Decision("rollback", revs.percent, 0, "rolled back by hand: all traffic to the baseline revision")


def _manual_promote(revs: kserve.Revisions, decision: Decision) -> Decision:
    if revs.percent is None:
        return Decision("idle", None, None, "nothing to promote: canaryTrafficPercent is not set")
    return decision


def _gated_promote(decision: Decision, revs: kserve.Revisions) -> Decision:
    """`promote` skips the remaining stages and the stage clock, never a gate or the minimum traffic."""
    if decision.action in ("advance", "promote") or decision.young:
        return Decision("promote", revs.percent, None, "promoted by hand: every gate passes", decision.gates)
    if decision.action == "rollback":
        return Decision("refused", revs.percent, revs.percent, "not promoted: " + decision.reason, decision.gates)
    return decision


def _move(kc: Kubectl, revs: kserve.Revisions, decision: Decision) -> int | None:
    """Patch the split; an exit code when that did not happen (None: done)."""
    result = kc.patch(
        kserve.ISVC_RESOURCE, revs.name, revs.namespace, kserve.traffic_patch(decision.to_percent),
        field_manager=kserve.FIELD_MANAGER,
    )
    if result.unknown:
        note(f"the traffic change of {revs.namespace}/{revs.name} ran out of time or was killed: its outcome is unknown")
        return EXIT_UNKNOWN
    if not result.ok:
        raise InputError(f"kubectl patch of InferenceService {revs.namespace}/{revs.name} failed: {result.message()}")
    return None


def _record(kc: Kubectl, revs: kserve.Revisions, percent: int | None, moment: datetime, history: list[dict]) -> None:
    record = kserve.StageRecord(revs.canary or "", 100 if percent is None else percent, moment)
    manifest = dump_yaml_documents([kserve.state_configmap(revs, record, history)])
    result = kc.apply(manifest, field_manager=kserve.FIELD_MANAGER, force_conflicts=True)
    if not result.ok:
        note(f"the stage record ConfigMap {revs.namespace}/{kserve.state_name(revs.name)} was not written: {result.message()}")


def _entry(moment: datetime, command: str, decision: Decision) -> dict:
    return {
        "time": kserve.iso(moment),
        "command": command,
        "action": decision.action,
        "from": decision.percent,
        "to": decision.to_percent,
        "reason": decision.reason,
    }
