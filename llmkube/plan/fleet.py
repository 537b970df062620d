"""Fleet → Kueue ResourceFlavors (one per pool) and a Topology."""

from __future__ import annotations

from typing import Any

from llmkube.plan.context import GPU_PRODUCT_LABEL, PlanContext, PoolInfo, standard_labels
from llmkube.specs.fleet import Fleet


def pool_infos(fleet: Fleet, ctx: PlanContext) -> dict[str, PoolInfo]:
    """What Quotas and jobs in the same run need to know about each pool."""
    out = {}
    for i, pool in enumerate(fleet.spec.pools):
        gpu = ctx.gpu(pool.gpu, ("spec", "pools", i, "gpu"))
        out[pool.name] = PoolInfo(
            name=pool.name,
            gpu=gpu,
            gpus_per_node=pool.gpus_per_node or gpu.spec.gpus_per_node,
        )
    return out


def plan_fleet(fleet: Fleet, ctx: PlanContext) -> dict[str, Any]:
    topology = fleet.spec.topology
    topology_name = (topology.name or fleet.metadata.name) if topology else None
    flavors = []
    for i, pool in enumerate(fleet.spec.pools):
        gpu = ctx.gpu(pool.gpu, ("spec", "pools", i, "gpu"))
        node_labels = {GPU_PRODUCT_LABEL: gpu.spec.product, **pool.node_labels}
        flavors.append(
            {
                "name": pool.name,
                "labels": standard_labels(fleet.metadata.name, "resource-flavor"),
                "node_labels": dict(sorted(node_labels.items())),
                "tolerations": [
                    {
                        "key": t.key,
                        "operator": "Equal" if t.value is not None else "Exists",
                        **({"value": t.value} if t.value is not None else {}),
                        "effect": t.effect,
                    }
                    for t in pool.taints
                ],
                "topology_name": topology_name if pool.topology else None,
            }
        )
    return {
        "api_version": ctx.kueue_api_version,
        "topology": (
            {
                "name": topology_name,
                "labels": standard_labels(fleet.metadata.name, "topology"),
                "levels": list(topology.levels),
            }
            if topology
            else None
        ),
        "flavors": flavors,
    }
