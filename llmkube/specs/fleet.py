"""`Fleet`: the GPU node pools of a cluster, as the platform team describes them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from llmkube import apimachinery
from llmkube.names import HOSTNAME_LABEL
from llmkube.specs.base import (
    DNSLabel,
    DNSSubdomain,
    LabelKey,
    Metadata,
    PositiveInt,
    SpecModel,
    SpecProblem,
    Toleration,
    empty_list,
)


class TopologySpec(SpecModel):
    """Node-label levels for Kueue topology-aware scheduling, widest first."""

    name: DNSLabel | None = None
    levels: list[LabelKey] = Field(min_length=1, max_length=16)

    @model_validator(mode="after")
    def _hostname_last(self) -> TopologySpec:
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("topology levels must be distinct")
        if HOSTNAME_LABEL in self.levels and self.levels[-1] != HOSTNAME_LABEL:
            raise ValueError(f"{HOSTNAME_LABEL} must be the last (narrowest) topology level")
        return self


class PoolMig(SpecModel):
    """How every GPU of the pool is split into MIG instances."""

    strategy: Literal["single", "mixed"] = "mixed"
    layout: dict[str, PositiveInt] = Field(min_length=1)


class SharingReplicas(SpecModel):
    """Advertise each GPU `replicas` times (time-slicing or MPS)."""

    replicas: PositiveInt
    rename_by_default: bool = False
    fail_requests_greater_than_one: bool | None = None


class Sharing(SpecModel):
    """Device-plugin GPU sharing: exactly one of timeSlicing or mps."""

    time_slicing: SharingReplicas | None = None
    mps: SharingReplicas | None = None


class Pool(SpecModel):
    """A set of identical GPU nodes; becomes one Kueue ResourceFlavor."""

    name: DNSLabel
    gpu: str = Field(description="GPU profile name, e.g. h100-80gb")
    gpus_per_node: PositiveInt | None = None
    nodes: PositiveInt | None = None
    node_labels: dict[LabelKey, str] = Field(default_factory=dict)
    taints: list[Toleration] = Field(default_factory=empty_list)
    topology: bool = True
    mig: PoolMig | None = None
    sharing: Sharing | None = None


class GPUOperator(SpecModel):
    """Where the NVIDIA GPU Operator runs and what its objects are called."""

    namespace: DNSLabel = "gpu-operator"
    cluster_policy: DNSSubdomain = "cluster-policy"
    mig_config_map: DNSSubdomain = "llmkube-mig-parted-config"
    device_plugin_config_map: DNSSubdomain = "llmkube-device-plugin-config"


class FleetSpec(SpecModel):
    pools: list[Pool] = Field(min_length=1)
    topology: TopologySpec | None = None
    gpu_operator: GPUOperator = Field(default_factory=GPUOperator)


class Fleet(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["Fleet"]
    metadata: Metadata
    spec: FleetSpec


def _node_label_problems(i: int, pool: Pool) -> list[SpecProblem]:
    """nodeLabels select the nodes `apply` labels: refuse what the API server would, before kubectl runs."""
    out = []
    for key, value in pool.node_labels.items():
        errors = apimachinery.qualified_name_errors(key) + apimachinery.label_value_errors(value)
        if errors:
            out.append(
                SpecProblem(
                    ("spec", "pools", i, "nodeLabels", key),
                    f"pool {pool.name!r}: node label {key!r}: {value!r}: {'; '.join(errors)}",
                    "nodeLabels must be real node labels (e.g. cloud.google.com/gke-nodepool: h100-pool)",
                )
            )
    return out


def semantic_problems(fleet: Fleet) -> list[SpecProblem]:
    """Pool names become ResourceFlavor names, so they must be unique."""
    seen: set[str] = set()
    out: list[SpecProblem] = []
    for i, pool in enumerate(fleet.spec.pools):
        if pool.name in seen:
            out.append(
                SpecProblem(
                    ("spec", "pools", i, "name"),
                    f"pool name {pool.name!r} is used twice",
                    "each pool becomes a Kueue ResourceFlavor of the same name; rename one",
                )
            )
        seen.add(pool.name)
        out.extend(_sharing_problems(i, pool))
        out.extend(_node_label_problems(i, pool))
        if (pool.mig or pool.sharing) and not pool.node_labels:
            what = "MIG" if pool.mig else "GPU sharing"
            out.append(
                SpecProblem(
                    ("spec", "pools", i),
                    f"pool {pool.name!r}: {what} needs nodeLabels that select the pool's nodes",
                    "the GPU Operator applies the config to nodes labelled with it, and llmkube "
                    "labels the nodes matching nodeLabels (e.g. a node-pool label)",
                )
            )
        if pool.mig and pool.mig.strategy == "single" and len(pool.mig.layout) > 1:
            out.append(
                SpecProblem(
                    ("spec", "pools", i, "mig", "strategy"),
                    f"pool {pool.name!r}: the single strategy needs one MIG profile per node, "
                    f"got {', '.join(sorted(pool.mig.layout))}",
                    "use `strategy: mixed` to advertise each profile as nvidia.com/mig-<profile>",
                )
            )
    strategies = {p.mig.strategy for p in fleet.spec.pools if p.mig}
    if len(strategies) > 1:
        first = next(i for i, p in enumerate(fleet.spec.pools) if p.mig)
        out.append(
            SpecProblem(
                ("spec", "pools", first, "mig", "strategy"),
                "MIG pools use different strategies (single and mixed)",
                "the strategy is cluster-wide (ClusterPolicy spec.mig.strategy): use one for all pools",
            )
        )
    return out


def _sharing_problems(i: int, pool: Pool) -> list[SpecProblem]:
    """Time-slicing xor MPS; MPS needs ≥ 2 replicas and whole GPUs."""
    sharing = pool.sharing
    if sharing is None:
        return []
    path = ("spec", "pools", i, "sharing")
    if sharing.time_slicing and sharing.mps:
        return [
            SpecProblem(
                path,
                f"pool {pool.name!r}: time-slicing and MPS exclude each other",
                "the device plugin applies one sharing method to all GPUs of a node; keep one",
            )
        ]
    if not (sharing.time_slicing or sharing.mps):
        return [SpecProblem(path, f"pool {pool.name!r}: sharing names no method", "set timeSlicing or mps")]
    out = []
    if sharing.mps and sharing.mps.replicas < 2:
        out.append(
            SpecProblem(
                (*path, "mps", "replicas"),
                f"pool {pool.name!r}: MPS needs at least 2 replicas",
                "each MPS client gets 1/replicas of the GPU; 1 replica is no sharing",
            )
        )
    if sharing.mps and pool.mig:
        out.append(
            SpecProblem(
                (*path, "mps"),
                f"pool {pool.name!r}: MPS is not available on MIG-enabled GPUs",
                "use timeSlicing to share MIG instances, or drop `mig` from this pool",
            )
        )
    return out
