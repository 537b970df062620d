"""The evidence of a rollout decision: a text table and a JSON document."""

from __future__ import annotations

import math
from typing import Any

from llmkube.records import record
from llmkube.rollout.decide import Decision, GateResult, Sample, format_ratio, format_seconds
from llmkube.rollout.kserve import Revisions


@record(frozen=True)
class Evidence:
    command: str  # status | step | promote | rollback
    revisions: Revisions
    engine: str
    decision: Decision
    canary: Sample | None
    baseline: Sample | None
    window: str
    min_requests: int
    age_seconds: float | None
    applied: bool  # the change was made on the cluster
    dry_run: bool
    prometheus: str | None


def _num(value: float | None) -> float | None:
    """JSON has no NaN or Infinity: +Inf (a percentile above the largest bucket) becomes None with a note."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def _gate_json(g: GateResult) -> dict[str, Any]:
    return {
        "gate": g.gate,
        "canary": _num(g.canary),
        "baseline": _num(g.baseline),
        "limit": _num(g.limit),
        "unit": "ratio" if g.gate == "errorRate" else "seconds",
        "status": g.status,
        "why": g.why,
        **({"aboveLargestBucket": True} if g.canary is not None and math.isinf(g.canary) else {}),
    }


def to_json(ev: Evidence) -> dict[str, Any]:
    r, d = ev.revisions, ev.decision
    return {
        "command": ev.command,
        "inferenceService": {"name": r.name, "namespace": r.namespace, "deploymentMode": r.mode, "runtime": ev.engine},
        "canary": {"revision": r.canary, "percent": d.percent, "requests": _num(ev.canary.requests) if ev.canary else None},
        "baseline": {
            "revision": r.baseline,
            "percent": None if d.percent is None else 100 - d.percent,
            "requests": _num(ev.baseline.requests) if ev.baseline else None,
        },
        "stage": {"ageSeconds": ev.age_seconds, "window": ev.window, "minRequests": ev.min_requests},
        "prometheus": ev.prometheus,
        "gates": [_gate_json(g) for g in d.gates],
        "decision": {"action": d.action, "fromPercent": d.percent, "toPercent": d.to_percent, "reason": d.reason},
        "applied": ev.applied,
        "dryRun": ev.dry_run,
    }


def _value(gate: str, value: float | None) -> str:
    return format_ratio(value) if gate == "errorRate" else format_seconds(value)


def to_text(ev: Evidence) -> str:
    r, d = ev.revisions, ev.decision
    lines = [f"InferenceService {r.namespace}/{r.name} ({r.mode or 'mode unknown'}, {ev.engine})"]
    pct = "—" if d.percent is None else f"{d.percent} %"
    rest = "—" if d.percent is None else f"{100 - d.percent} %"
    lines.append(f"  canary    {r.canary or '—'}  {pct}")
    lines.append(f"  baseline  {r.baseline or '—'}  {rest}")
    if ev.canary is not None:
        age = "not recorded yet" if ev.age_seconds is None else f"{ev.age_seconds:.0f}s"
        lines.append(f"  window {ev.window} · stage age {age} · min requests {ev.min_requests}")
        rows = [("gate", "canary", "baseline", "limit", "result")]
        rows.append(
            (
                "requests",
                _count(ev.canary.requests),
                _count(ev.baseline.requests if ev.baseline else None),
                f"≥ {ev.min_requests}",
                "ok" if all((s.requests or 0) >= ev.min_requests for s in (ev.canary, ev.baseline) if s) else "thin",
            )
        )
        for g in d.gates:
            limit = "—" if g.limit is None else "≤ " + _value(g.gate, g.limit)
            result = g.status + (f" ({g.why})" if g.why and g.status in ("skip", "wait") else "")
            rows.append((g.label, _value(g.gate, g.canary), _value(g.gate, g.baseline), limit, result))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines.append("")
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        lines.append("")
    target = "removed (100 %)" if d.to_percent is None and d.action == "promote" else f"{d.to_percent} %"
    change = f"canaryTrafficPercent {d.percent} → {target}" if d.action in ("advance", "promote", "rollback") else ""
    state = "applied" if ev.applied else ("dry run: not applied" if ev.dry_run and change else "")
    tail = " · ".join(x for x in (change, state) if x)
    lines.append(f"decision: {d.action} — {d.reason}" + (f" [{tail}]" if tail else ""))
    return "\n".join(lines) + "\n"


def _count(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"
