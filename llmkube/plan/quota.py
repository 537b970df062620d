"""Quota → Kueue ClusterQueue, LocalQueues, WorkloadPriorityClasses, Cohort; with
`multiKueue`, the manager's AdmissionCheck, MultiKueueConfig and MultiKueueClusters
and, per worker cluster, the same queues and their ResourceFlavors."""

from __future__ import annotations

from decimal import Decimal

from llmkube.names import CLUSTER_ANNOTATION, GPU_RESOURCE, GPU_RESOURCES_ANNOTATION, KUEUE_GROUP, MULTIKUEUE_CONTROLLER
from llmkube.plan.base import ClusterTarget, Plan
from llmkube.plan.context import MANAGED_BY, PlanContext, PlanError
from llmkube.plan.pods import standard_labels
from llmkube.quantity import human_bytes, parse_quantity
from llmkube.records import record
from llmkube.specs.base import Quantity
from llmkube.specs.quota import MultiKueue, PoolQuota, Quota, ResourceAmounts


@record(frozen=True)
class FlavorResource:
    """One covered resource of a flavor; Kueue reads an absent nominal quota as 0."""

    name: str
    nominal_quota: Quantity
    borrowing_limit: Quantity | None
    lending_limit: Quantity | None


@record(frozen=True)
class FlavorQuota:
    """A pool's quota: every covered resource, in the resource group's order."""

    name: str
    resources: tuple[FlavorResource, ...]


@record(frozen=True)
class BorrowWithinCohort:
    policy: str
    max_priority_threshold: int | None


@record(frozen=True)
class Preemption:
    reclaim_within_cohort: str
    within_cluster_queue: str
    borrow_within_cohort: BorrowWithinCohort | None


@record(frozen=True)
class LocalQueue:
    name: str
    namespace: str
    labels: dict[str, str]


@record(frozen=True)
class PriorityClass:
    """A Kueue WorkloadPriorityClass."""

    name: str
    value: int
    description: str | None
    labels: dict[str, str]


@record(frozen=True)
class MultiKueueClusterPlan:
    """A MultiKueueCluster: the worker's name, and the Secret or ClusterProfile that reaches it."""

    name: str
    labels: dict[str, str]
    kube_config_secret: str | None
    cluster_profile: str | None


@record(frozen=True)
class MultiKueuePlan:
    """The manager-side objects: AdmissionCheck → MultiKueueConfig → MultiKueueClusters.

    `cluster_source` is True for Kueue v1beta2, whose MultiKueueCluster nests the
    connection under `spec.clusterSource`; v1beta1 has `spec.kubeConfig` alone.
    """

    admission_check: str
    controller_name: str
    parameters: dict[str, str]
    config: str
    labels: dict[str, str]
    cluster_source: bool
    clusters: tuple[MultiKueueClusterPlan, ...]


@record(frozen=True)
class WorkerFlavor:
    """A ResourceFlavor on a worker: the pool's node labels and tolerations when its Fleet is known."""

    name: str
    labels: dict[str, str]
    annotations: dict[str, str]  # the cluster, and (Fleet known) the GPU resources its nodes advertise
    node_labels: dict[str, str]
    tolerations: tuple[dict[str, str], ...]


@record(frozen=True)
class WorkerPlan:
    """One worker cluster's objects: the manager's queues (same names), without the admission check."""

    cluster: str
    annotations: dict[str, str]  # llmkube.dev/cluster: which output set each object belongs to
    covered_resources: tuple[str, ...]
    flavors: tuple[FlavorQuota, ...]
    resource_flavors: tuple[WorkerFlavor, ...]


@record(frozen=True, kw_only=True)
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
    admission_check: str | None = None  # the manager ClusterQueue's MultiKueue check
    multikueue: MultiKueuePlan | None = None
    workers: tuple[WorkerPlan, ...] = ()


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


def _flavor_quotas(
    resources: list[PoolQuota], ctx: PlanContext, base: tuple[str | int, ...]
) -> tuple[tuple[str, ...], tuple[FlavorQuota, ...]]:
    """A list of pool quotas → the covered resources and one FlavorQuota per pool."""
    flavors = []
    covered: list[str] = []
    for i, res in enumerate(resources):
        pool = ctx.pools.get(res.pool)
        if ctx.pools and pool is None:
            raise PlanError(
                (*base, i, "pool"),
                f"pool {res.pool!r} is not in any Fleet given with this Quota",
                "known pools: " + ", ".join(sorted(ctx.pools)),
            )
        gpu_resource = pool.gpu_resource if pool else GPU_RESOURCE
        limits_gpu = any(lim is not None and lim.gpu is not None for lim in (res.borrowing_limit, res.lending_limit))
        if pool is not None and gpu_resource is None and (res.gpu is not None or limits_gpu):
            names = ", ".join(f"{name}: <count>" for name in pool.resources)
            raise PlanError(
                (*base, i, "gpu"),
                f"pool {res.pool!r} advertises MIG slices, not whole GPUs (mixed strategy)",
                f"give the quota per slice resource under `extra`, e.g. extra: {{{names}}}",
            )
        nominal = _amounts(res, gpu_resource)
        if not nominal:
            raise PlanError(
                (*base, i),
                f"no quota given for pool {res.pool!r}",
                "set at least one of gpu, cpu, memory, extra",
            )
        borrowing = _amounts(res.borrowing_limit, gpu_resource) if res.borrowing_limit else {}
        lending = _amounts(res.lending_limit, gpu_resource) if res.lending_limit else {}
        for limits, key in ((borrowing, "borrowingLimit"), (lending, "lendingLimit")):
            for rname in limits:
                if rname not in nominal:
                    raise PlanError(
                        (*base, i, key),
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
    return tuple(covered), flavor_plans


def plan_quota(quota: Quota, ctx: PlanContext) -> QuotaPlan:
    spec = quota.spec
    name = quota.metadata.name
    covered, flavor_plans = _flavor_quotas(spec.resources, ctx, ("spec", "resources"))
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
    multikueue, workers, clusters = _federation(quota, ctx) if spec.multi_kueue else (None, (), ())
    return QuotaPlan(
        notes=_quota_sum_notes(name, flavor_plans, workers),
        clusters=clusters,
        admission_check=multikueue.admission_check if multikueue else None,
        multikueue=multikueue,
        workers=workers,
        api_version=ctx.kueue_api_version,
        cohort_field="cohortName" if ctx.kueue_api == "v1beta2" else "cohort",
        name=name,
        labels=standard_labels(name, "cluster-queue"),
        cohort=spec.cohort,
        queueing_strategy=spec.queueing_strategy,
        stop_policy=spec.stop_policy,
        covered_resources=covered,
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


def _federation(quota: Quota, ctx: PlanContext) -> tuple[MultiKueuePlan, tuple[WorkerPlan, ...], tuple[ClusterTarget, ...]]:
    """The manager's MultiKueue objects and one WorkerPlan per worker cluster.

    Kueue v0.19.2 wires them as in site/static/examples/multikueue/multikueue-setup.yaml:
    the ClusterQueue names an AdmissionCheck (controllerName `kueue.x-k8s.io/multikueue`)
    whose parameters name a MultiKueueConfig (apiGroup kueue.x-k8s.io, kind
    MultiKueueConfig: pkg/util/admissioncheck ConfigFromRef refuses any other), whose
    `clusters` name MultiKueueClusters. A worker must mirror the manager's namespaces and
    LocalQueues (docs/tasks/manage/setup_multikueue.md), so its queues are this quota's,
    under the same names.
    """
    spec = quota.spec
    mk: MultiKueue = spec.multi_kueue  # type: ignore[assignment]
    name = quota.metadata.name
    v1beta2 = ctx.kueue_api == "v1beta2"
    for j, c in enumerate(mk.clusters):
        if c.cluster_profile is not None and not v1beta2:
            raise PlanError(
                ("spec", "multiKueue", "clusters", j, "clusterProfile"),
                "a ClusterProfile source needs the Kueue v1beta2 API: v1beta1's clusterProfileRef has no effect",
                "render with --kueue-api v1beta2, or give kubeConfigSecret",
            )
    config = mk.config or name
    multikueue = MultiKueuePlan(
        admission_check=mk.admission_check or f"{name}-multikueue",
        controller_name=MULTIKUEUE_CONTROLLER,
        parameters={"apiGroup": KUEUE_GROUP, "kind": "MultiKueueConfig", "name": config},
        config=config,
        labels=standard_labels(name, "multikueue"),
        cluster_source=v1beta2,
        clusters=tuple(
            MultiKueueClusterPlan(
                name=c.name,
                labels=dict(MANAGED_BY),  # shared by every Quota that federates to this worker
                kube_config_secret=c.kube_config_secret,
                cluster_profile=c.cluster_profile,
            )
            for c in mk.clusters
        ),
    )
    workers = []
    for j, c in enumerate(mk.clusters):
        if c.resources:
            covered, flavors = _flavor_quotas(c.resources, ctx, ("spec", "multiKueue", "clusters", j, "resources"))
        else:
            covered, flavors = _flavor_quotas(spec.resources, ctx, ("spec", "resources"))
        resource_flavors = []
        for f in flavors:
            pool = ctx.pools.get(f.name)
            resource_flavors.append(
                WorkerFlavor(
                    name=f.name,
                    labels=dict(MANAGED_BY),  # shared by every Quota on this pool
                    annotations={
                        CLUSTER_ANNOTATION: c.name,
                        # as the Fleet's flavor says it (plan/fleet.py), for the rules that read it
                        **({GPU_RESOURCES_ANNOTATION: ",".join(f"{k}={v}" for k, v in pool.resources.items())} if pool else {}),
                    },
                    node_labels=dict(pool.node_labels) if pool else {},
                    tolerations=tuple(pool.tolerations) if pool else (),
                )
            )
        workers.append(
            WorkerPlan(
                cluster=c.name,
                annotations={CLUSTER_ANNOTATION: c.name},
                covered_resources=covered,
                flavors=flavors,
                resource_flavors=tuple(resource_flavors),
            )
        )
    clusters = (
        ClusterTarget(mk.manager_name, mk.manager_context, manager=True),
        *(ClusterTarget(c.name, c.context) for c in mk.clusters),
    )
    return multikueue, tuple(workers), clusters


def _quota_sum_notes(name: str, manager: tuple[FlavorQuota, ...], workers: tuple[WorkerPlan, ...]) -> tuple[str, ...]:
    """Kueue's MultiKueue guide (v0.19.2 site/content/en/docs/concepts/multikueue.md, "Manager
    Cluster"): the manager's quota should equal the total of the workers'. Lower leaves
    workers idle, higher dispatches workloads no worker can admit. Said once per resource."""
    if not workers:
        return ()
    totals: dict[tuple[str, str], Decimal] = {}
    for w in workers:
        for f in w.flavors:
            for r in f.resources:
                totals[(f.name, r.name)] = totals.get((f.name, r.name), Decimal(0)) + parse_quantity(str(r.nominal_quota))
    notes = []
    for f in manager:
        for r in f.resources:
            mine, theirs = parse_quantity(str(r.nominal_quota)), totals.get((f.name, r.name), Decimal(0))
            if mine != theirs:
                how = "lower: workers stay idle" if mine < theirs else "higher: it dispatches workloads no worker can admit"
                notes.append(
                    f"Quota {name}: the manager's {r.name} quota in {f.name} is {r.nominal_quota}, the workers' total "
                    f"is {_plain(theirs, r.name)} ({how}); Kueue advises the manager's quota equal the workers' total "
                    "(give each worker its own `resources`, or the manager the sum)"
                )
    return tuple(notes)


def _plain(value: Decimal, resource: str) -> str:
    """A total as a quantity reads: bytes in binary units for memory, else the number."""
    if resource in ("memory", "ephemeral-storage"):
        return human_bytes(value)
    return format(value.normalize(), "f")
