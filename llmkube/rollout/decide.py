"""The rollout decision: pure functions of the policy, the stage and the two revisions' numbers.

Fail fast, pass slow: once both revisions have `minRequests` completed requests in the window,
any failing gate rolls back at once, however young the stage; advancing needs every gate to pass
*and* the stage to have been observed for `observe`. Thin traffic on either revision waits —
a verdict on a handful of requests is noise, in either direction.
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Literal

from llmkube.records import record
from llmkube.specs.rollout import ErrorGate, LatencyGate, RolloutPolicy

Action = Literal["advance", "promote", "wait", "rollback", "rolled-back", "refused", "idle"]
Status = Literal["pass", "fail", "wait", "skip"]

#: Gate key (spec.rollout.gates) → label in the evidence table.
GATE_LABELS = {
    "ttftP50": "TTFT p50",
    "ttftP99": "TTFT p99",
    "tpotP99": "TPOT p99",
    "e2eP99": "E2E p99",
    "errorRate": "error rate",
}


@record(frozen=True)
class Sample:
    """One revision's numbers over the window. Latencies in seconds, None: no data."""

    requests: float | None = None
    latency: dict[str, float | None] = field(default_factory=dict)
    errors: float | None = None  # failed requests
    answered: float | None = None  # all requests the error ratio is over

    @property
    def error_ratio(self) -> float | None:
        if not self.answered:
            return None if self.errors is None else (0.0 if self.errors == 0 else None)
        return (self.errors or 0.0) / self.answered


@record(frozen=True)
class GateResult:
    gate: str  # key, e.g. ttftP99
    canary: float | None
    baseline: float | None
    limit: float | None  # the canary's largest passing value
    status: Status
    why: str = ""

    @property
    def label(self) -> str:
        return GATE_LABELS.get(self.gate, self.gate)


@record(frozen=True)
class Decision:
    action: Action
    percent: int | None  # canaryTrafficPercent now
    to_percent: int | None  # after the action (None: the field removed — promoted)
    reason: str
    gates: tuple[GateResult, ...] = ()
    young: bool = False  # waiting only for the stage's observation time (every gate passes)


def latency_gate(key: str, gate: LatencyGate, canary: float | None, baseline: float | None) -> GateResult:
    """Canary ≤ min(baseline × (1 + maxIncreasePercent/100), ceilingSeconds)."""
    if not gate.enabled:
        return GateResult(key, canary, baseline, None, "skip", "disabled")
    limits = []
    if baseline is not None:
        limits.append(baseline * (1 + gate.max_increase_percent / 100))
    if gate.ceiling_seconds is not None:
        limits.append(gate.ceiling_seconds)
    limit = min(limits) if limits else None
    if canary is None and baseline is None:
        return GateResult(key, None, None, limit, "skip", "no data on either revision")
    if canary is None:
        return GateResult(key, None, baseline, limit, "wait", "no canary data yet")
    if limit is None:
        return GateResult(key, canary, None, None, "wait", "no baseline data to compare with")
    if canary <= limit or (math.isinf(canary) and math.isinf(limit)):
        return GateResult(key, canary, baseline, limit, "pass")
    return GateResult(key, canary, baseline, limit, "fail", _over(key, canary, baseline, gate))


def _over(key: str, canary: float, baseline: float | None, gate: LatencyGate) -> str:
    label = GATE_LABELS[key]
    if gate.ceiling_seconds is not None and canary > gate.ceiling_seconds:
        return f"{label} {_s(canary)} is above the ceiling {_s(gate.ceiling_seconds)}"
    assert baseline is not None
    rise = (canary / baseline - 1) * 100 if baseline > 0 else math.inf
    return f"{label} {_s(canary)} is {rise:.0f} % above the baseline's {_s(baseline)} (allowed {gate.max_increase_percent:g} %)"


def error_gate(gate: ErrorGate, canary: Sample, baseline: Sample) -> GateResult:
    """Canary error ratio ≤ min(baseline + maxIncreasePoints/100, ceilingPercent/100); no errors pass."""
    key = "errorRate"
    c, b = canary.error_ratio, baseline.error_ratio
    if not gate.enabled:
        return GateResult(key, c, b, None, "skip", "disabled")
    limits = []
    if b is not None:
        limits.append(b + gate.max_increase_points / 100)
    if gate.ceiling_percent is not None:
        limits.append(gate.ceiling_percent / 100)
    limit = min(limits) if limits else None
    if c is None and b is None:
        return GateResult(key, None, None, limit, "skip", "no request counts on either revision")
    if c is None:
        return GateResult(key, None, b, limit, "wait", "no canary request counts yet")
    if c == 0:
        return GateResult(key, c, b, limit, "pass")
    if limit is None:
        return GateResult(key, c, None, None, "wait", "no baseline request counts to compare with")
    if c <= limit:
        return GateResult(key, c, b, limit, "pass")
    return GateResult(key, c, b, limit, "fail", f"error rate {_pct(c)} is above {_pct(limit)} (baseline {_pct(b)})")


def evaluate(policy: RolloutPolicy, canary: Sample, baseline: Sample) -> tuple[GateResult, ...]:
    gates = policy.gates
    latency = {"ttftP50": gates.ttft_p50, "ttftP99": gates.ttft_p99, "tpotP99": gates.tpot_p99, "e2eP99": gates.e2e_p99}
    out = [latency_gate(k, g, canary.latency.get(k), baseline.latency.get(k)) for k, g in latency.items()]
    out.append(error_gate(gates.error_rate, canary, baseline))
    return tuple(out)


def next_stage(stages: list[int], percent: int) -> int:
    """The first stage above `percent`; 100 past the last (the last stage passing promotes)."""
    return next((s for s in stages if s > percent), 100)


def decide(
    policy: RolloutPolicy,
    percent: int | None,
    age_seconds: float | None,
    canary: Sample,
    baseline: Sample,
) -> Decision:
    """What `llmkube rollout step` does now.

    `percent`: the canary's traffic share now (None: no split is set, nothing to roll out).
    `age_seconds`: how long the stage has run at `percent` (None: llmkube sees it for the first time).
    """
    if percent is None or percent >= 100:
        return Decision("idle", percent, percent, "no canary in progress: canaryTrafficPercent is not set below 100")
    if percent == 0:
        return Decision("rolled-back", 0, 0, "rolled back earlier: the canary gets no traffic (canaryTrafficPercent 0)")
    gates = evaluate(policy, canary, baseline)
    thin = [
        f"{name} {_n(sample.requests)} of {policy.min_requests}"
        for name, sample in (("canary", canary), ("baseline", baseline))
        if (sample.requests or 0) < policy.min_requests
    ]
    if thin:
        return Decision("wait", percent, percent, f"too little traffic to judge in {policy.observe}: " + ", ".join(thin) + " completed requests", gates)
    failed = [g for g in gates if g.status == "fail"]
    if failed:
        return Decision("rollback", percent, 0, "; ".join(g.why for g in failed), gates)
    pending = [g for g in gates if g.status == "wait"]
    if pending:
        return Decision("wait", percent, percent, "; ".join(f"{g.label}: {g.why}" for g in pending), gates)
    observe = policy.observe_seconds
    if age_seconds is None:
        return Decision("wait", percent, percent, f"stage {percent} % was not seen before: its {policy.observe} of observation start at the first `step`", gates, young=True)
    if age_seconds < observe:
        return Decision("wait", percent, percent, f"stage {percent} % has run {_dur(age_seconds)} of {policy.observe}", gates, young=True)
    to = next_stage(policy.stages, percent)
    if to >= 100:
        return Decision("promote", percent, None, f"every gate passed at {percent} %: promote the canary to 100 %", gates)
    return Decision("advance", percent, to, f"every gate passed at {percent} % for {policy.observe}: next stage {to} %", gates)


def _s(seconds: float) -> str:
    if math.isinf(seconds):
        return "+Inf s"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _pct(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.2f} %"


def _n(value: float | None) -> str:
    return "0" if value is None else f"{value:.0f}"


def _dur(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def format_seconds(value: float | None) -> str:
    return "—" if value is None else _s(value)


def format_ratio(value: float | None) -> str:
    return _pct(value)
