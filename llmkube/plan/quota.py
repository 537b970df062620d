"""Quota → Kueue ClusterQueue, LocalQueues, WorkloadPriorityClasses, Cohort."""

from __future__ import annotations

from dataclasses import dataclass

from llmkube.names import GPU_RESOURCE
from llmkube.plan.base import Plan
from llmkube.plan.context import PlanContext, PlanError
from llmkube.plan.pods import standard_labels
from llmkube.specs.base import Quantity
from llmkube.specs.quota import PoolQuota, Quota, ResourceAmounts


@dataclass(frozen=True)
class FlavorResource:
    """One covered resource of a flavor; Kueue reads an absent nominal quota as 0."""

    name: str
    nominal_quota: Quantity
    borrowing_limit: Quantity | None
    lending_limit: Quantity | None


@dataclass(frozen=True)
class FlavorQuota:
    """A pool's quota: every covered resource, in the resource group's order."""

    name: str
    resources: tuple[FlavorResource, ...]


@dataclass(frozen=True)
class BorrowWithinCohort:
    policy: str
    max_priority_threshold: int | None


@dataclass(frozen=True)
class Preemption:
    reclaim_within_cohort: str
    within_cluster_queue: str
    borrow_within_cohort: BorrowWithinCohort | None


@dataclass(frozen=True)
class LocalQueue:
    name: str
    namespace: str
    labels: dict[str, str]


@dataclass(frozen=True)
class PriorityClass:
    """A Kueue WorkloadPriorityClass."""

    name: str
    value: int
    description: str | None
    labels: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class QuotaPlan(Plan):
    """One Quota, decided: what quota.yaml.j2 renders."""

    api_version: str
    cohort_field: str  # cohortName (v1beta2) or cohort (v1beta1)
    name: str
    labels: dict[str, str]
    cohort: str | None
    queueing_strategy: str
    stop_policy: str | None
    covered_resources: tuple[str, ...]
    flavors: tuple[FlavorQuota, ...]
    preemption: Preemption | None
    local_queues: tuple[LocalQueue, ...]
    priority_classes: tuple[PriorityClass, ...]


def _amounts(res: PoolQuota | ResourceAmounts, gpu_resource: str | None) -> dict[str, Quantity]:
    """Spec resource keys → Kubernetes resource names, in a fixed order.

    `gpu_resource` is None for a mixed-MIG pool, where plan_quota has refused a `gpu` amount.
    """
    out: dict[str, Quantity] = {}
    for key, name in (("cpu", "cpu"), ("memory", "memory"), ("gpu", gpu_resource)):
        value = getattr(res, key)
        if value is not None and name is not None:
            out[name] = value
    out.update(sorted(res.extra.items()))
    return out


def plan_quota(quota: Quota, ctx: PlanContext) -> QuotaPlan:
    spec = quota.spec
    name = quota.metadata.name
    flavors = []
    covered: list[str] = []
    for i, res in enumerate(spec.resources):
        pool = ctx.pools.get(res.pool)
        if ctx.pools and pool is None:
            raise PlanError(
                ("spec", "resources", i, "pool"),
                f"pool {res.pool!r} is not in any Fleet given with this Quota",
                "known pools: " + ", ".join(sorted(ctx.pools)),
            )
        gpu_resource = pool.gpu_resource if pool else GPU_RESOURCE
        limits_gpu = any(lim is not None and lim.gpu is not None for lim in (res.borrowing_limit, res.lending_limit))
        if pool is not None and gpu_resource is None and (res.gpu is not None or limits_gpu):
            names = ", ".join(f"{name}: <count>" for name in pool.resources)
            raise PlanError(
                ("spec", "resources", i, "gpu"),
                f"pool {res.pool!r} advertises MIG slices, not whole GPUs (mixed strategy)",
                f"give the quota per slice resource under `extra`, e.g. extra: {{{names}}}",
            )
        nominal = _amounts(res, gpu_resource)
        if not nominal:
            raise PlanError(
                ("spec", "resources", i),
                f"no quota given for pool {res.pool!r}",
                "set at least one of gpu, cpu, memory, extra",
            )
        borrowing = _amounts(res.borrowing_limit, gpu_resource) if res.borrowing_limit else {}
        lending = _amounts(res.lending_limit, gpu_resource) if res.lending_limit else {}
        for limits, key in ((borrowing, "borrowingLimit"), (lending, "lendingLimit")):
            for rname in limits:
                if rname not in nominal:
                    raise PlanError(
                        ("spec", "resources", i, key),
                        f"{key} for {rname} but no nominal quota for it in pool {res.pool!r}",
                        f"add the nominal amount of {rname} to this pool's quota",
                    )
        for rname in nominal:
            if rname not in covered:
                covered.append(rname)
        flavors.append((res.pool, nominal, borrowing, lending))

    # Kueue requires every flavor of a resource group to list every covered
    # resource, in the group's order; absent amounts are a nominal quota of 0.
    flavor_plans = tuple(
        FlavorQuota(
            name=pool_name,
            resources=tuple(
                FlavorResource(
                    name=rname,
                    nominal_quota=nominal.get(rname, 0),
                    borrowing_limit=borrowing.get(rname),
                    lending_limit=lending.get(rname),
                )
                for rname in covered
            ),
        )
        for pool_name, nominal, borrowing, lending in flavors
    )
    namespaces = list(spec.namespaces) or ([quota.metadata.namespace] if quota.metadata.namespace else [])
    preemption = None
    if spec.preemption:
        p = spec.preemption
        preemption = Preemption(
            reclaim_within_cohort=p.reclaim_within_cohort,
            within_cluster_queue=p.within_cluster_queue,
            borrow_within_cohort=(
                BorrowWithinCohort(policy=p.borrow_within_cohort, max_priority_threshold=p.borrow_max_priority_threshold)
                if p.borrow_within_cohort
                else None
            ),
        )
    return QuotaPlan(
        api_version=ctx.kueue_api_version,
        cohort_field="cohortName" if ctx.kueue_api == "v1beta2" else "cohort",
        name=name,
        labels=standard_labels(name, "cluster-queue"),
        cohort=spec.cohort,
        queueing_strategy=spec.queueing_strategy,
        stop_policy=spec.stop_policy,
        covered_resources=tuple(covered),
        flavors=flavor_plans,
        preemption=preemption,
        local_queues=tuple(
            LocalQueue(name=spec.local_queue_name or name, namespace=ns, labels=standard_labels(name, "local-queue"))
            for ns in namespaces
        ),
        priority_classes=tuple(
            PriorityClass(name=pc.name, value=pc.value, description=pc.description, labels=standard_labels(name, "priority-class"))
            for pc in spec.priority_classes
        ),
    )
