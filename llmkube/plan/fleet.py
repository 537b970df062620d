"""Fleet → Kueue ResourceFlavors and Topology; MIG and sharing → GPU Operator config.

MIG is applied the way the GPU Operator really does it: a mig-parted
ConfigMap (`version: v1`, `mig-configs:`), the ClusterPolicy pointing its MIG
manager at it, and the `nvidia.com/mig.config=<name>` label on the pool's
nodes. Sharing likewise: a device-plugin config ConfigMap, the ClusterPolicy
`devicePlugin.config` reference, and the `nvidia.com/device-plugin.config`
node label. There is no MIGConfig kind.
"""

from __future__ import annotations

from typing import Any

from llmkube.names import (
    DEVICE_PLUGIN_CONFIG_LABEL,
    GPU_CONFIG_COMPONENT,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    GPU_RESOURCES_ANNOTATION,
    MIG_CONFIG_LABEL,
)
from llmkube.plan import mig as migplan
from llmkube.plan.base import NodeLabels, Plan
from llmkube.plan.context import PlanContext, PlanError, PoolInfo
from llmkube.plan.pods import standard_labels, tolerations
from llmkube.profiles import GPUProfile
from llmkube.records import record
from llmkube.specs.fleet import Fleet, Pool, SharingReplicas
from llmkube.yamlio import dump_yaml

DEVICE_PLUGIN_DEFAULT_CONFIG = "default"


@record(frozen=True)
class FleetTopology:
    """A Kueue Topology: node-label levels, widest first."""

    name: str
    labels: dict[str, str]
    levels: tuple[str, ...]


@record(frozen=True)
class Flavor:
    """One pool as a Kueue ResourceFlavor."""

    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    node_labels: dict[str, str]
    tolerations: tuple[dict[str, str], ...]
    topology_name: str | None


@record(frozen=True)
class GPUOperatorConfig:
    """The GPU Operator's MIG and device-plugin ConfigMaps and the ClusterPolicy fields that use them."""

    namespace: str
    cluster_policy: str
    labels: dict[str, str]
    mig_strategy: str | None
    mig_config_map: str | None
    mig_config: str | None  # mig-parted's config.yaml
    device_plugin_config_map: str | None
    device_plugin_configs: dict[str, str] | None  # config name → device plugin config YAML
    device_plugin_default: str | None


@record(frozen=True, kw_only=True)
class FleetPlan(Plan):
    """One Fleet, decided: what fleet.yaml.j2 renders, and the node labels to set."""

    api_version: str
    topology: FleetTopology | None
    flavors: tuple[Flavor, ...]
    gpu_operator: GPUOperatorConfig | None

    hidden_from_template = ("notes",)  # fleet.yaml.j2 has always seen node_label_steps


def _sharing(pool: Pool) -> tuple[str, SharingReplicas] | None:
    """The device plugin's sharing method of a pool and its settings."""
    if pool.sharing is None:
        return None
    if pool.sharing.time_slicing:
        return "timeSlicing", pool.sharing.time_slicing
    if pool.sharing.mps:
        return "mps", pool.sharing.mps
    return None  # a spec error, reported before planning


def pool_info(fleet: Fleet, i: int, ctx: PlanContext) -> PoolInfo:
    """Resolve one pool: check its MIG layout, derive resources and labels."""
    pool = fleet.spec.pools[i]
    gpu = ctx.gpu(pool.gpu, ("spec", "pools", i, "gpu"))
    per_node = pool.gpus_per_node or gpu.spec.gpus_per_node
    product = gpu.spec.product
    labels: dict[str, str] = {}
    resources: dict[str, int] = {GPU_RESOURCE: per_node}
    layout: dict[str, int] = {}
    if pool.mig:
        problems = migplan.check_layout(gpu, pool.mig.layout, known_gpus=ctx.profiles.gpus.values())
        if problems:
            first = problems[0]
            raise PlanError(("spec", "pools", i, "mig", "layout"), f"pool {pool.name!r}: {first.message}", first.hint)
        layout = dict(pool.mig.layout)
        per_gpu = migplan.resource_names(layout, pool.mig.strategy)
        resources = {name: count * per_node for name, count in per_gpu.items()}
        if pool.mig.strategy == "single":
            (profile,) = layout
            product = migplan.mig_product_label(product, profile)
        labels[MIG_CONFIG_LABEL] = migplan.mig_parted_config_name(pool.name)
    sharing = _sharing(pool)
    if sharing:
        _, settings = sharing
        if settings.rename_by_default:
            resources = {f"{name}.shared": count * settings.replicas for name, count in resources.items()}
        else:
            resources = {name: count * settings.replicas for name, count in resources.items()}
            product = f"{product}-SHARED"
        labels[DEVICE_PLUGIN_CONFIG_LABEL] = migplan.mig_parted_config_name(pool.name)
    node_labels = {GPU_PRODUCT_LABEL: product, **labels, **pool.node_labels}
    return PoolInfo(
        name=pool.name,
        gpu=gpu,
        gpus_per_node=per_node,
        resources=resources,
        product=product,
        node_labels=dict(sorted(node_labels.items())),
        tolerations=tolerations(pool.taints),
        mig_strategy=pool.mig.strategy if pool.mig else None,
        mig_layout=layout,
        shared=sharing is not None,
    )


def pool_infos(fleet: Fleet, ctx: PlanContext) -> dict[str, PoolInfo]:
    """What Quotas and endpoints in the same run need to know about each pool."""
    return {pool.name: pool_info(fleet, i, ctx) for i, pool in enumerate(fleet.spec.pools)}


def device_plugin_config(kind: str, settings: SharingReplicas, resource_names: list[str]) -> dict[str, Any]:
    """One named config of the device plugin (`version: v1`, `sharing:`).

    Time-slicing shares whole GPUs or (mixed strategy) each MIG resource.
    """
    body: dict[str, Any] = {}
    if settings.rename_by_default:
        body["renameByDefault"] = True
    if settings.fail_requests_greater_than_one is not None:
        body["failRequestsGreaterThanOne"] = settings.fail_requests_greater_than_one
    body["resources"] = [{"name": name, "replicas": settings.replicas} for name in resource_names]
    return {"version": "v1", "sharing": {kind: body}}


def node_label_steps(fleet: Fleet, infos: dict[str, PoolInfo]) -> list[NodeLabels]:
    """The node labels that select each pool's MIG or sharing config."""
    steps = []
    for pool in fleet.spec.pools:
        info = infos[pool.name]
        labels = {k: v for k, v in info.node_labels.items() if k in (MIG_CONFIG_LABEL, DEVICE_PLUGIN_CONFIG_LABEL)}
        if labels:
            steps.append(NodeLabels(pool=pool.name, selector=dict(sorted(pool.node_labels.items())), labels=labels))
    return steps


def register_fleet(fleet: Fleet, ctx: PlanContext) -> None:
    """Make a Fleet's pools known to the run (endpoints and jobs are placed on them), after checking
    it against the Fleets registered before it.

    A cluster has one GPU Operator, so every Fleet rendered with this one that names the same
    ClusterPolicy shares its ConfigMaps (see `cluster_gpu_operator`): they must agree on where those
    live and on the MIG strategy, and a pool name can be used once (it names a ResourceFlavor and
    the pool's MIG and sharing configs).
    """
    infos = pool_infos(fleet, ctx)
    operator = fleet.spec.gpu_operator
    for i, pool in enumerate(fleet.spec.pools):
        owner = ctx.pool_owners.get(pool.name)
        if owner is not None:
            raise PlanError(
                ("spec", "pools", i, "name"),
                f"pool {pool.name!r} is also a pool of Fleet {owner!r}",
                "a pool names a Kueue ResourceFlavor and its MIG and sharing configs: use each name once across the Fleets of a cluster",
            )
    if _uses_operator(fleet):
        group = ctx.operator_fleets.setdefault(operator.cluster_policy, [])
        if group and group[0].spec.gpu_operator != operator:  # the group agrees with its first
            raise PlanError(
                ("spec", "gpuOperator"),
                f"gpuOperator differs from that of Fleet {group[0].metadata.name!r}, which names the same ClusterPolicy {operator.cluster_policy!r}",
                "the GPU Operator reads one MIG and one device-plugin ConfigMap, from its own namespace: give every Fleet the same gpuOperator settings",
            )
        ours = _mig_strategy(fleet)
        first = ctx.mig_strategies.setdefault(operator.cluster_policy, (ours, fleet.metadata.name)) if ours else None
        if first is not None and first[0] != ours:
            i = next(i for i, p in enumerate(fleet.spec.pools) if p.mig)
            raise PlanError(
                ("spec", "pools", i, "mig", "strategy"),
                f"MIG strategy {ours!r} differs from Fleet {first[1]!r}, whose MIG pools use {first[0]!r}",
                "the strategy is cluster-wide (ClusterPolicy spec.mig.strategy): use one for every MIG pool of the cluster",
            )
        group.append(fleet)
    ctx.pools.update(infos)
    ctx.pool_owners.update(dict.fromkeys(infos, fleet.metadata.name))


def _uses_operator(fleet: Fleet) -> bool:
    """Whether a Fleet renders GPU Operator objects (a pool with MIG or sharing)."""
    return any(p.mig or p.sharing for p in fleet.spec.pools)


def _mig_strategy(fleet: Fleet) -> str | None:
    return next((p.mig.strategy for p in fleet.spec.pools if p.mig), None)


def cluster_gpu_operator(fleet: Fleet, ctx: PlanContext) -> GPUOperatorConfig | None:
    """The GPU Operator's config for this Fleet and every other Fleet of the run naming its ClusterPolicy.

    The operator reads one mig-parted ConfigMap and one device-plugin ConfigMap (the ClusterPolicy's
    `migManager.config.name` and `devicePlugin.config.name`): the first Fleet of the group renders
    them, merged, and the others none (each rendering the whole group would cost the square of the
    Fleets: 10,000 specs had 1,668). Each pool's configs are named
    after the pool, and pool names are unique across the Fleets (`register_fleet`), so the merge
    never has to choose between two layouts.
    """
    if not _uses_operator(fleet):
        return None
    operator = fleet.spec.gpu_operator
    fleets = ctx.operator_fleets.get(operator.cluster_policy) or [fleet]  # [fleet]: planned without the pre-pass
    if fleets[0] is not fleet:  # the group's first Fleet renders the shared objects, once
        return None
    mig_configs: dict[str, dict[str, int]] = {}
    mig_gpus: list[GPUProfile] = []
    sharing_configs: dict[str, str] = {}
    strategy = None
    for f in fleets:
        infos = {p.name: ctx.pools.get(p.name) or pool_info(f, i, ctx) for i, p in enumerate(f.spec.pools)}
        for pool in f.spec.pools:
            if pool.mig:
                mig_configs[migplan.mig_parted_config_name(pool.name)] = dict(pool.mig.layout)
                mig_gpus.append(infos[pool.name].gpu)
                strategy = pool.mig.strategy
            sharing = _sharing(pool)
            if sharing:
                names = (
                    [migplan.mig_resource_name(p) for p in sorted(pool.mig.layout)]
                    if pool.mig and pool.mig.strategy == "mixed"
                    else [GPU_RESOURCE]
                )
                sharing_configs[migplan.mig_parted_config_name(pool.name)] = dump_yaml(
                    device_plugin_config(*sharing, names)
                )
    if sharing_configs:
        sharing_configs = {DEVICE_PLUGIN_DEFAULT_CONFIG: dump_yaml({"version": "v1"}), **dict(sorted(sharing_configs.items()))}
    if not (mig_configs or sharing_configs):
        return None
    return GPUOperatorConfig(
        namespace=operator.namespace,
        cluster_policy=operator.cluster_policy,
        # Shared by every Fleet of a cluster (one ClusterPolicy), so not named after this one.
        labels=standard_labels("nvidia-gpu-operator", GPU_CONFIG_COMPONENT),
        mig_strategy=strategy,
        mig_config_map=operator.mig_config_map if mig_configs else None,
        # the operator's stock configs for the pools' GPUs stay selectable (see migplan.stock_configs)
        mig_config=dump_yaml(migplan.mig_parted_config(mig_configs, mig_gpus)) if mig_configs else None,
        device_plugin_config_map=operator.device_plugin_config_map if sharing_configs else None,
        device_plugin_configs=sharing_configs or None,
        device_plugin_default=DEVICE_PLUGIN_DEFAULT_CONFIG if sharing_configs else None,
    )


def plan_fleet(fleet: Fleet, ctx: PlanContext) -> FleetPlan:
    infos = pool_infos(fleet, ctx)
    topology = fleet.spec.topology
    topology_name = (topology.name or fleet.metadata.name) if topology else None
    flavors = []
    for pool in fleet.spec.pools:
        info = infos[pool.name]
        flavors.append(
            Flavor(
                name=pool.name,
                labels={**standard_labels(fleet.metadata.name, "resource-flavor"), **fleet.metadata.labels},
                annotations={GPU_RESOURCES_ANNOTATION: ",".join(f"{k}={v}" for k, v in info.resources.items())},
                node_labels=info.node_labels,
                tolerations=tuple(info.tolerations),
                topology_name=topology_name if pool.topology else None,
            )
        )
    gpu_operator = cluster_gpu_operator(fleet, ctx)
    fleet_topology = None
    if topology:
        fleet_topology = FleetTopology(
            name=topology.name or fleet.metadata.name,
            labels={**standard_labels(fleet.metadata.name, "topology"), **fleet.metadata.labels},
            levels=tuple(topology.levels),
        )
    return FleetPlan(
        api_version=ctx.kueue_api_version,
        topology=fleet_topology,
        flavors=tuple(flavors),
        gpu_operator=gpu_operator,
        node_label_steps=tuple(node_label_steps(fleet, infos)),
    )
