"""`Fleet`: the GPU node pools of a cluster, as the platform team describes them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from llmkube.specs.base import (
    DNSLabel,
    LabelKey,
    Metadata,
    PositiveInt,
    SpecModel,
    SpecProblem,
    Toleration,
)

HOSTNAME_LABEL = "kubernetes.io/hostname"


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


class Pool(SpecModel):
    """A set of identical GPU nodes; becomes one Kueue ResourceFlavor."""

    name: DNSLabel
    gpu: str = Field(description="GPU profile name, e.g. h100-80gb")
    gpus_per_node: PositiveInt | None = None
    nodes: PositiveInt | None = None
    node_labels: dict[LabelKey, str] = Field(default_factory=dict)
    taints: list[Toleration] = Field(default_factory=list)
    topology: bool = True


class FleetSpec(SpecModel):
    pools: list[Pool] = Field(min_length=1)
    topology: TopologySpec | None = None


class Fleet(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["Fleet"]
    metadata: Metadata
    spec: FleetSpec


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
    return out
