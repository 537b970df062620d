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
    empty_list,
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


class WorkerCluster(SpecModel):
    """A MultiKueue worker cluster: how the manager reaches it, and how `llmkube apply` does.

    Kueue v0.19.2 (`MultiKueueCluster` v1beta2 `spec.clusterSource`, exactly one of
    `kubeConfig` and `clusterProfileRef`; v1beta1 `spec.kubeConfig` only) reads a
    kubeconfig Secret from the namespace the Kueue controller runs in, under the key
    `kubeconfig` (site/content/en/docs/tasks/manage/setup_multikueue.md). llmkube
    names the Secret, it never holds the kubeconfig.
    """

    name: DNSLabel
    kube_config_secret: DNSSubdomain | None = None
    cluster_profile: DNSSubdomain | None = None
    context: str | None = Field(default=None, min_length=1)
    resources: list[PoolQuota] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> WorkerCluster:
        given = [f for f in ("kube_config_secret", "cluster_profile") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of kubeConfigSecret (a Secret in Kueue's namespace holding the worker's "
                "kubeconfig under the key `kubeconfig`) and clusterProfile (a ClusterProfile name)"
            )
        return self


class MultiKueue(SpecModel):
    """Dispatch this quota's workloads to worker clusters with Kueue's MultiKueue."""

    clusters: list[WorkerCluster] = Field(min_length=1, max_length=20)
    admission_check: DNSLabel | None = None
    config: DNSLabel | None = None
    manager_name: DNSLabel = "manager"
    manager_context: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> MultiKueue:
        names = [c.name for c in self.clusters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"each worker cluster may appear once; repeated: {', '.join(dupes)}")
        if self.manager_name in names:
            raise ValueError(
                f"managerName {self.manager_name!r} is also a worker's name: Kueue does not support the "
                "manager cluster as one of its own workers"
            )
        return self


class QuotaSpec(SpecModel):
    cohort: DNSLabel | None = None
    resources: list[PoolQuota] = Field(min_length=1)
    namespaces: list[DNSLabel] = Field(default_factory=empty_list)
    local_queue_name: DNSSubdomain | None = None
    queueing_strategy: Literal["BestEffortFIFO", "StrictFIFO"] = "BestEffortFIFO"
    preemption: Preemption | None = None
    priority_classes: list[PriorityClass] = Field(default_factory=empty_list)
    stop_policy: Literal["None", "Hold", "HoldAndDrain"] | None = None
    multi_kueue: MultiKueue | None = None

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
    lists: list[tuple[tuple[str | int, ...], list[PoolQuota]]] = [(("spec", "resources"), quota.spec.resources)]
    if quota.spec.multi_kueue:
        lists += [
            (("spec", "multiKueue", "clusters", j, "resources"), c.resources)
            for j, c in enumerate(quota.spec.multi_kueue.clusters)
            if c.resources
        ]
    if quota.spec.cohort is None:
        for base, resources in lists:
            problems += _limits_without_cohort(base, resources)
    return problems


def _limits_without_cohort(base: tuple[str | int, ...], resources: list[PoolQuota]) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    for i, res in enumerate(resources):
        for field in ("borrowing_limit", "lending_limit"):
            if getattr(res, field) is not None:
                key = "borrowingLimit" if field == "borrowing_limit" else "lendingLimit"
                problems.append(
                    SpecProblem(
                        (*base, i, key),
                        f"{key} needs a cohort: a ClusterQueue borrows from and lends to "
                        "the other queues of its cohort, and the Kueue API rejects "
                        f"{key} on a ClusterQueue without one",
                        "add `cohort: <name>` under spec (queues sharing a cohort name "
                        f"share unused quota), or remove {key}",
                    )
                )
    return problems
