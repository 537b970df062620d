"""LeaderWorkerSets as the multi-node serving rules see them: one group, its leader and workers.

A group is `size` pods (kubernetes-sigs/lws v0.10.0 `api/leaderworkerset/v1`): the leader from
`leaderTemplate` (or `workerTemplate` when there is none) and `size - 1` workers. Each pod's
server container is the first that runs vLLM (else the first container), with its command line as
vLLM parses it (`servers.server_line`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llmkube.check.read.args import command_line
from llmkube.check.read.servers import server_line
from llmkube.check.read.shape import as_int, as_mapping
from llmkube.check.read.workloads import Path, PodGroup, gpu_request, pod_groups
from llmkube.check.run import Target
from llmkube.engines import SETTING, arg_value, engine_of
from llmkube.records import record


@record(frozen=True)
class GroupPod:
    """The server container of one pod template of the group."""

    group: PodGroup
    path: Path
    container: Mapping[str, Any]
    line: list[str]  # as vLLM parses it
    vllm: bool
    gpus: int | None  # the container's GPU limit (or request); None when it asks for none

    @property
    def image(self) -> str:
        return str(self.container.get("image", ""))

    def value(self, setting: str) -> str | None:
        """A vLLM setting's value on this command line (any of its spellings)."""
        return arg_value(self.line, *SETTING[setting].vllm)

    def int_value(self, setting: str) -> int | None:
        value = self.value(setting)
        return int(value) if value is not None and value.strip().isdigit() else None


@record(frozen=True)
class LeaderWorkers:
    """One LeaderWorkerSet: the group's size and its leader and worker pods."""

    target: Target
    size: int
    leader: GroupPod | None
    worker: GroupPod | None  # None with size 1, or without a workerTemplate container

    @property
    def group_gpus(self) -> int | None:
        """GPUs of one group: the leader's and `size - 1` workers'; None when one is not known."""
        if self.leader is None or self.leader.gpus is None:
            return None
        if self.size == 1:
            return self.leader.gpus
        if self.worker is None or self.worker.gpus is None:
            return None
        return self.leader.gpus + (self.size - 1) * self.worker.gpus

    @property
    def native(self) -> bool:
        """vLLM's own multi-node mode (`--nnodes`, the workers `--headless`), not Ray."""
        pods = [p for p in (self.leader, self.worker) if p is not None]
        return any(p.value("nnodes") is not None or "--headless" in p.line for p in pods)


def _pod(group: PodGroup | None) -> GroupPod | None:
    if group is None:
        return None
    containers = list(group.containers())
    if not containers:
        return None
    path, container = next(
        ((p, c) for p, c in containers if engine_of(str(c.get("image", "")), " ".join(command_line(c))) == "vllm"),
        containers[0],
    )
    vllm = engine_of(str(container.get("image", "")), " ".join(command_line(container))) == "vllm"
    request = gpu_request(container)
    return GroupPod(group, path, container, server_line(container), vllm, request[1] if request else None)


def leader_worker_sets(targets: Iterable[Target]) -> list[LeaderWorkers]:
    """Every LeaderWorkerSet of the run."""
    out = []
    for target in targets:
        if target.obj.get("kind") != "LeaderWorkerSet":
            continue
        lwt = as_mapping(as_mapping(target.obj.get("spec")).get("leaderWorkerTemplate"))
        size = as_int(lwt.get("size"))
        groups = {g.role: g for g in pod_groups(target)}
        explicit_leader = "leader" in groups
        leader = _pod(groups.get("leader") or groups.get("worker"))
        worker = _pod(groups.get("worker")) if explicit_leader or (size or 1) > 1 else None
        out.append(LeaderWorkers(target, size if size is not None and size >= 1 else 1, leader, worker))
    return out
