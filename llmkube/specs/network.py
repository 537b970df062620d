"""The `network` section TrainingJob and multi-node InferenceEndpoint share: NCCL and RDMA between pods.

Its own module, so that an endpoint's spec does not build the TrainingJob models.
"""

from __future__ import annotations

from typing import Literal

from llmkube.names import DEFAULT_RDMA_RESOURCE, EFA_RESOURCE
from llmkube.specs.base import ExtendedResource, PositiveInt, SpecModel, SpecProblem


class RdmaSpec(SpecModel):
    """The RDMA device each pod requests: which device plugin resource, how many."""

    resource: ExtendedResource
    count: PositiveInt = 1

    @property
    def efa(self) -> bool:
        """AWS EFA: NCCL reaches it through the aws-ofi-nccl plugin, not its own IB transport."""
        return self.resource == EFA_RESOURCE


class NetworkSpec(SpecModel):
    """NCCL settings for the collective traffic between pods.

    `infiniband` is a switch on NCCL's own IB/RoCE transport: unset lets NCCL
    probe (it uses RDMA when the pod can see a device), `false` disables it,
    `true` asks for it. `rdma` names the device the pods request.
    """

    infiniband: bool | None = None
    rdma: RdmaSpec | None = None
    nccl_debug: Literal["VERSION", "WARN", "INFO", "TRACE"] | None = None
    socket_ifname: str | None = None


def effective_rdma(network: NetworkSpec) -> RdmaSpec | None:
    """The RDMA device the pods request: the one named, or the default for `infiniband: true`."""
    if network.rdma is not None:
        return network.rdma
    if network.infiniband:
        return RdmaSpec(resource=DEFAULT_RDMA_RESOURCE)
    return None


def network_problems(network: NetworkSpec, env: dict[str, str]) -> list[SpecProblem]:
    """RDMA and the NCCL IB switch (the field, or the variable in `env`) must not contradict each other."""
    rdma = effective_rdma(network)
    if rdma is None:
        return []
    if not rdma.efa and env.get("NCCL_IB_DISABLE", "0").strip() not in ("", "0"):
        return [
            SpecProblem(
                ("spec", "env", "NCCL_IB_DISABLE"),
                f"NCCL_IB_DISABLE={env['NCCL_IB_DISABLE']} turns off NCCL's RDMA transport, but the pods request {rdma.resource}",
                "remove NCCL_IB_DISABLE from `env`, or remove `network.rdma` (and `infiniband`) to run over TCP",
            )
        ]
    if rdma.efa and network.infiniband is not None:
        return [
            SpecProblem(
                ("spec", "network", "infiniband"),
                "EFA does not use NCCL's InfiniBand transport, so `infiniband` has no meaning with it",
                "remove `infiniband`: NCCL reaches EFA through the aws-ofi-nccl plugin in the image",
            )
        ]
    if network.infiniband is False:
        return [
            SpecProblem(
                ("spec", "network", "infiniband"),
                f"`infiniband: false` disables NCCL's RDMA transport, but the pods request {rdma.resource}",
                "remove `infiniband` to let NCCL use the device, or remove `rdma` to run over TCP",
            )
        ]
    return []
