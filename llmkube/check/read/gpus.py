"""Which GPU (or MIG slice) a pod lands on, as far as its manifest says.

The GPU comes from a `nvidia.com/gpu.product` node selector or required node
affinity (`-MIG-<profile>` = a MIG slice under the single strategy, `-SHARED`
= a time-sliced or MPS GPU) or from a `nvidia.com/mig-<profile>` resource,
matched to a GPU profile by its product label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from llmkube.check.read.shape import as_list, dig
from llmkube.check.read.workloads import PodGroup
from llmkube.names import GPU_PRODUCT_LABEL, MIG_RESOURCE
from llmkube.records import record

if TYPE_CHECKING:  # the profiles are only named here: a run with no GPU never loads them
    from llmkube.profiles import GPUProfile, MigProfile, ProfileStore

SHARED_SUFFIX = "-SHARED"
MIG_INFIX = "-MIG-"


@record(frozen=True)
class GPUTarget:
    """Which GPU (or MIG slice) a pod lands on, as far as the manifest says."""

    name: str  # "h100-80gb", "h100-80gb MIG 3g.40gb"
    memory_gib: float  # physical memory of one device (GPU or slice)
    gpu: GPUProfile | None  # when one profile matches
    mig_profile: str | None = None
    shared: bool = False

    @property
    def gpus_per_node(self) -> int | None:
        return self.gpu.spec.gpus_per_node if self.gpu is not None and self.mig_profile is None else None


def products(group: PodGroup) -> list[str]:
    """Values of nvidia.com/gpu.product the pod must land on (selector or required affinity)."""
    value = group.node_selector.get(GPU_PRODUCT_LABEL)
    if value:
        return [str(value)]
    terms = dig(group.spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    values: list[str] = []
    for term in as_list(terms):
        for expr in as_list(dig(term, "matchExpressions")):
            if isinstance(expr, Mapping) and expr.get("key") == GPU_PRODUCT_LABEL and expr.get("operator") == "In":
                values.extend(str(v) for v in as_list(expr.get("values")))
    return values


def mig_profile_of(gpu: GPUProfile, name: str) -> MigProfile | None:
    """The GPU's MIG profile of this name (`.me` written as in resource names, or `+me`)."""
    mig = gpu.spec.mig
    if mig is None:
        return None
    wanted = name.replace(".me", "+me")
    return next((p for p in mig.profiles if p.name in (name, wanted)), None)


def _one_product(profiles: ProfileStore, product: str, mig_resource: str | None) -> GPUTarget | None:
    shared = product.endswith(SHARED_SUFFIX)
    base = product[: -len(SHARED_SUFFIX)] if shared else product
    mig_name = None
    if MIG_INFIX in base:
        base, mig_name = base.split(MIG_INFIX, 1)
    mig_name = mig_name or mig_resource
    gpu = next((g for g in profiles.gpus.values() if g.spec.product.lower() == base.lower()), None)
    if gpu is None:
        return None
    if mig_name:
        slice_ = mig_profile_of(gpu, mig_name)
        if slice_ is None:
            return None
        return GPUTarget(f"{gpu.name} MIG {slice_.name}", slice_.memory_gi_b, gpu, slice_.name, shared)
    return GPUTarget(gpu.name, gpu.spec.memory_gi_b, gpu, None, shared)


def gpu_target(profiles: ProfileStore, group: PodGroup, resource: str | None) -> GPUTarget | None:
    """The GPU of a pod group; with several possible products, the one with the most memory
    (so a "does not fit" holds on every one of them)."""
    m = MIG_RESOURCE.fullmatch(resource or "")
    mig_resource = m.group("profile") if m else None
    found = [t for t in (_one_product(profiles, p, mig_resource) for p in products(group)) if t is not None]
    if not found and mig_resource:
        # only the MIG resource: every GPU that has this profile is a candidate
        for gpu in profiles.gpus.values():
            slice_ = mig_profile_of(gpu, mig_resource)
            if slice_ is not None:
                found.append(GPUTarget(f"MIG {slice_.name}", slice_.memory_gi_b, None, slice_.name))
    if not found:
        return None
    return max(found, key=lambda t: t.memory_gib)
