"""Quota → Kueue ClusterQueue, LocalQueues, WorkloadPriorityClasses, Cohort."""

from __future__ import annotations

from typing import Any

from llmkube.plan.context import GPU_RESOURCE, PlanContext, PlanError, standard_labels
from llmkube.specs.quota import PoolQuota, Quota, ResourceAmounts


def _amounts(res: PoolQuota | ResourceAmounts, gpu_resource: str) -> dict[str, str | int | float]:
    """Spec resource keys → Kubernetes resource names, in a fixed order."""
    out: dict[str, Any] = {}
    for key, name in (("cpu", "cpu"), ("memory", "memory"), ("gpu", gpu_resource)):
        value = getattr(res, key)
        if value is not None:
            out[name] = value
    out.update(sorted(res.extra.items()))
    return out


def plan_quota(quota: Quota, ctx: PlanContext) -> dict[str, Any]:
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
        if gpu_resource is None and (res.gpu is not None or limits_gpu):
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
    flavor_plans = [
        {
            "name": pool,
            "resources": [
                {
                    "name": rname,
                    "nominal_quota": nominal.get(rname, 0),
                    "borrowing_limit": borrowing.get(rname),
                    "lending_limit": lending.get(rname),
                }
                for rname in covered
            ],
        }
        for pool, nominal, borrowing, lending in flavors
    ]
    namespaces = list(spec.namespaces) or ([quota.metadata.namespace] if quota.metadata.namespace else [])
    preemption = None
    if spec.preemption:
        p = spec.preemption
        preemption = {
            "reclaim_within_cohort": p.reclaim_within_cohort,
            "within_cluster_queue": p.within_cluster_queue,
            "borrow_within_cohort": (
                {
                    "policy": p.borrow_within_cohort,
                    "max_priority_threshold": p.borrow_max_priority_threshold,
                }
                if p.borrow_within_cohort
                else None
            ),
        }
    return {
        "api_version": ctx.kueue_api_version,
        "cohort_field": "cohortName" if ctx.kueue_api == "v1beta2" else "cohort",
        "name": name,
        "labels": standard_labels(name, "cluster-queue"),
        "cohort": spec.cohort,
        "queueing_strategy": spec.queueing_strategy,
        "stop_policy": spec.stop_policy,
        "covered_resources": covered,
        "flavors": flavor_plans,
        "preemption": preemption,
        "local_queues": [
            {
                "name": spec.local_queue_name or name,
                "namespace": ns,
                "labels": standard_labels(name, "local-queue"),
            }
            for ns in namespaces
        ],
        "priority_classes": [
            {
                "name": pc.name,
                "value": pc.value,
                "description": pc.description,
                "labels": standard_labels(name, "priority-class"),
            }
            for pc in spec.priority_classes
        ],
    }
