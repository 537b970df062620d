"""`Quota`: a team's share of the fleet, as Kueue queues and priorities."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from llmkube.specs.base import (
    DNSLabel,
    DNSSubdomain,
    Metadata,
    Quantity,
    SpecModel,
    SpecProblem,
)


class ResourceAmounts(SpecModel):
    """Amounts per resource; `gpu` means the pool's GPU resource name."""

    gpu: Quantity | None = None
    cpu: Quantity | None = None
    memory: Quantity | None = None
    extra: dict[DNSSubdomain | str, Quantity] = Field(default_factory=dict)


class PoolQuota(SpecModel):
    """The nominal quota in one pool (Kueue flavor), with borrowing and lending."""

    pool: DNSLabel
    gpu: Quantity | None = None
    cpu: Quantity | None = None
    memory: Quantity | None = None
    extra: dict[str, Quantity] = Field(default_factory=dict)
    borrowing_limit: ResourceAmounts | None = None
    lending_limit: ResourceAmounts | None = None


class Preemption(SpecModel):
    reclaim_within_cohort: Literal["Never", "LowerPriority", "Any"] = "Never"
    within_cluster_queue: Literal["Never", "LowerPriority", "LowerOrNewerEqualPriority"] = "Never"
    borrow_within_cohort: Literal["Never", "LowerPriority"] | None = None
    borrow_max_priority_threshold: int | None = None


class PriorityClass(SpecModel):
    name: DNSSubdomain
    value: int
    description: str | None = None


class QuotaSpec(SpecModel):
    cohort: DNSLabel | None = None
    resources: list[PoolQuota] = Field(min_length=1)
    namespaces: list[DNSLabel] = Field(default_factory=list)
    local_queue_name: DNSSubdomain | None = None
    queueing_strategy: Literal["BestEffortFIFO", "StrictFIFO"] = "BestEffortFIFO"
    preemption: Preemption | None = None
    priority_classes: list[PriorityClass] = Field(default_factory=list)
    stop_policy: Literal["None", "Hold", "HoldAndDrain"] | None = None

    @model_validator(mode="after")
    def _checks(self) -> QuotaSpec:
        pools = [r.pool for r in self.resources]
        dupes = sorted({p for p in pools if pools.count(p) > 1})
        if dupes:
            raise ValueError(f"each pool may appear once in resources; repeated: {', '.join(dupes)}")
        return self


class Quota(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["Quota"]
    metadata: Metadata
    spec: QuotaSpec


def semantic_problems(quota: Quota) -> list[SpecProblem]:
    """Borrowing and lending only mean something inside a cohort."""
    problems: list[SpecProblem] = []
    if quota.spec.cohort is None:
        for i, res in enumerate(quota.spec.resources):
            for field in ("borrowing_limit", "lending_limit"):
                if getattr(res, field) is not None:
                    key = "borrowingLimit" if field == "borrowing_limit" else "lendingLimit"
                    problems.append(
                        SpecProblem(
                            ("spec", "resources", i, key),
                            f"{key} needs a cohort: a ClusterQueue borrows from and lends to "
                            "the other queues of its cohort, and the Kueue API rejects "
                            f"{key} on a ClusterQueue without one",
                            "add `cohort: <name>` under spec (queues sharing a cohort name "
                            f"share unused quota), or remove {key}",
                        )
                    )
    return problems
