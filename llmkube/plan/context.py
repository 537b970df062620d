"""What every planner needs besides its own spec."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmkube.names import GPU_RESOURCE, KUEUE_GROUP, MANAGED_BY_LABEL
from llmkube.options import DEFAULT_KUEUE_API, KueueAPI
from llmkube.profiles import GPUProfile, ModelProfile, ProfileStore
from llmkube.records import record

MANAGED_BY = {MANAGED_BY_LABEL: "llmkube"}


class PlanError(Exception):
    """A spec that is well-formed but cannot be planned (unknown profile, missing pool)."""

    def __init__(self, path: tuple[str | int, ...], message: str, hint: str | None = None):
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint


@record(frozen=True)
class PoolInfo:
    """A Fleet pool as other specs see it: flavor name, GPU resources, node selection.

    `resources` maps each extended resource the pool's nodes advertise to its
    count per node; `product` is the GFD product label its nodes carry once
    MIG or sharing is applied; `node_labels` select its nodes.
    """

    name: str
    gpu: GPUProfile
    gpus_per_node: int = 8
    resources: dict[str, int] = field(default_factory=dict)
    product: str = ""
    node_labels: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, str]] = field(default_factory=list)
    mig_strategy: str | None = None
    mig_layout: dict[str, int] = field(default_factory=dict)
    shared: bool = False

    @property
    def gpu_resource(self) -> str | None:
        """The one resource that `gpu` means for this pool (None for mixed MIG)."""
        if self.mig_strategy == "mixed":
            return None
        return next(iter(self.resources), GPU_RESOURCE)


@record
class PlanContext:
    profiles: ProfileStore
    kueue_api: KueueAPI = DEFAULT_KUEUE_API
    pools: dict[str, PoolInfo] = field(default_factory=dict)
    pool_owners: dict[str, str] = field(default_factory=dict)  # pool name → the Fleet that defines it
    # ClusterPolicy name → the run's Fleets (specs.fleet.Fleet) with MIG or shared pools naming it, in input order
    operator_fleets: dict[str, list[Any]] = field(default_factory=dict)
    mig_strategies: dict[str, tuple[str, str]] = field(default_factory=dict)  # ClusterPolicy → (strategy, first Fleet)

    @property
    def kueue_api_version(self) -> str:
        return f"{KUEUE_GROUP}/{self.kueue_api}"

    def gpu(self, name: str, path: tuple[str | int, ...]) -> GPUProfile:
        found = self.profiles.gpu(name)
        if found is None:
            raise PlanError(path, f"unknown GPU profile {name!r}", self.profiles.suggest_gpu(name))
        return found

    def model(self, name: str, path: tuple[str | int, ...]) -> ModelProfile:
        found = self.profiles.model(name)
        if found is None:
            raise PlanError(path, f"unknown model {name!r}", self.profiles.suggest_model(name))
        return found
