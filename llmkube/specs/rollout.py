"""`InferenceEndpoint.spec.rollout`: how `llmkube rollout` moves a canary through its stages.

The policy only says what to observe and what counts as healthy; the traffic
split itself is KServe's (`canaryTrafficPercent`, Knative mode). Defaults follow
the usual LLM canary: 10 → 25 → 50 → 100 %, ten minutes a stage, latency within
10 % of the baseline revision, no rise in errors (docs/rollouts.md).
"""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from llmkube.specs.base import PositiveInt, SpecModel

# Prometheus durations as `rate(...[W])` takes them, the units a stage is observed in.
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# A Prometheus label name (prometheus/model/labels: `LabelNameRE`, the legacy charset).
PROM_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def duration_seconds(text: str) -> int:
    """`1h30m` → 5400; ValueError for anything else (`10`, `1.5m`, `1d`, empty)."""
    m = _DURATION.fullmatch(text)
    if not text or not m or not any(m.groups()):
        raise ValueError("must be a duration such as 30s, 10m or 1h30m (hours, minutes, seconds)")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def _duration(value: str) -> str:
    if duration_seconds(value) < 1:
        raise ValueError("must be at least 1s")
    return value


def _label_name(value: str) -> str:
    if not PROM_LABEL_NAME.fullmatch(value):
        raise ValueError("must be a Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*")
    return value


Duration = Annotated[str, AfterValidator(_duration)]
PromLabelName = Annotated[str, AfterValidator(_label_name)]


class LatencyGate(SpecModel):
    """A latency percentile of the canary against the baseline's, with an optional absolute SLO."""

    enabled: bool = True
    max_increase_percent: float = Field(default=10.0, ge=0)  # canary ≤ baseline × (1 + p/100)
    ceiling_seconds: float | None = Field(default=None, gt=0)  # and canary ≤ this, when set


class ErrorGate(SpecModel):
    """The canary's error ratio against the baseline's, in percentage points, with an optional ceiling."""

    enabled: bool = True
    max_increase_points: float = Field(default=0.0, ge=0, le=100)  # canary ≤ baseline + p/100
    ceiling_percent: float | None = Field(default=None, ge=0, le=100)


class Gates(SpecModel):
    ttft_p50: LatencyGate = Field(default_factory=LatencyGate)
    ttft_p99: LatencyGate = Field(default_factory=LatencyGate)
    tpot_p99: LatencyGate = Field(default_factory=LatencyGate)
    e2e_p99: LatencyGate = Field(default_factory=LatencyGate, alias="e2eP99")
    error_rate: ErrorGate = Field(default_factory=ErrorGate)


DEFAULT_STAGES = (10, 25, 50, 100)


class RolloutPolicy(SpecModel):
    stages: list[Annotated[int, Field(ge=1, le=100)]] = Field(default_factory=lambda: list(DEFAULT_STAGES), min_length=1)
    observe: Duration = "10m"  # per stage; also the window percentiles and counts are taken over
    min_requests: PositiveInt = 100  # completed requests per revision in the window before judging
    prometheus: str | None = Field(default=None, pattern=r"^https?://")
    revision_label: PromLabelName | None = None  # a Prometheus label holding the Knative revision name
    gates: Gates = Field(default_factory=Gates)

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        if any(b <= a for a, b in zip(self.stages, self.stages[1:])):
            raise ValueError("stages must be strictly increasing percentages, e.g. [10, 25, 50, 100]")
        return self

    @property
    def observe_seconds(self) -> int:
        return duration_seconds(self.observe)
