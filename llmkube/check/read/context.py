"""`ReadContext`: the objects of one run and the profiles, each reading done once.

Rules and `llmkube plan` ask the context (`ctx.servers`, `ctx.kueue`,
`ctx.mig_parted_configs` …) instead of re-reading manifests; every answer is
computed on first use and kept for the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from llmkube.check.read.index import IndexedTargets, RunIndex, index_of
from llmkube.check.run import Target
from llmkube.records import record

# Each reader is imported by the property that uses it: a run of one rule (`render` runs LK501
# alone) does not load the server, training and GPU Operator readers (nor the planners they use).
if TYPE_CHECKING:
    from llmkube.profiles import ProfileStore
    from llmkube.check.read.gpu_operator import Embedded, Selection
    from llmkube.check.read.kueue import KueueIndex
    from llmkube.check.read.llmisvc import Pool
    from llmkube.check.read.lws import LeaderWorkers
    from llmkube.check.read.multikueue import Federation
    from llmkube.check.read.servers import ServerSetup
    from llmkube.check.read.sizing_cache import SizingCache
    from llmkube.check.read.training import TrainingSetup


class DeferredProfiles:
    """The profiles, read when a reader first asks them something: a run whose objects hold no model
    server, training job or GPU config never reads them, nor imports the profile models (pydantic)."""

    def __init__(self, load: Callable[[], ProfileStore]) -> None:
        self._load = load
        self._store: ProfileStore | None = None

    def __getattr__(self, name: str) -> Any:
        if self._store is None:
            self._store = self._load()
        return getattr(self._store, name)


@record
class ReadContext:
    """Everything a rule may look at: all objects of the run, and the profiles (or what reads them
    when first asked: `DeferredProfiles`)."""

    targets: Sequence[Target]
    profiles: ProfileStore

    def __post_init__(self) -> None:
        if callable(self.profiles):
            self.profiles = cast("ProfileStore", DeferredProfiles(self.profiles))
        if not isinstance(self.targets, IndexedTargets):
            self.targets = IndexedTargets(self.targets)
        self._subjects: Sequence[Target] | None = None

    @property
    def subjects(self) -> Sequence[Target]:
        """The objects the running rule judges: those of the kinds it declares (`@rule(kinds=…)`),
        in run order; every object for a rule that declares none, or outside the rule runner."""
        return self.targets if self._subjects is None else self._subjects

    def judge(self, subjects: Sequence[Target] | None) -> None:
        """The rule runner: the objects the next rule judges (None: every object)."""
        self._subjects = subjects

    @property
    def index(self) -> RunIndex:
        """The run by kind and by (kind, name): ask it instead of scanning `targets` (check/read/index.py)."""
        return index_of(self.targets)

    def of_kind(self, *kinds: str) -> list[Target]:
        return self.index.of_kind(*kinds)

    @cached_property
    def servers(self) -> list[ServerSetup]:
        """Every vLLM/TGI container of the run."""
        from llmkube.check.read.servers import server_setups

        return server_setups(self.targets, self.profiles)

    @cached_property
    def leader_worker_sets(self) -> list[LeaderWorkers]:
        """Every LeaderWorkerSet of the run, read once for LK340-LK342 (each read its pods' command
        lines and GPU requests again before)."""
        from llmkube.check.read.lws import leader_worker_sets

        return leader_worker_sets(self.targets)

    @cached_property
    def sizing(self) -> SizingCache:
        """The servers' memory-model answers, once per configuration (`ctx.sizing.fit(server)`)."""
        from llmkube.check.read.sizing_cache import SizingCache

        return SizingCache()

    @cached_property
    def llm_pools(self) -> list[Pool]:
        """Every pool (main/decode, prefill) of every LLMInferenceService of the run."""
        from llmkube.check.read.llmisvc import pools

        return [p for t in self.of_kind("LLMInferenceService") for p in pools(t)]

    @cached_property
    def training_jobs(self) -> list[TrainingSetup]:
        """Every training job whose method is known (from its spec, or LoRA/QLoRA flags)."""
        from llmkube.check.read.training import training_setups

        return training_setups(self.targets, self.profiles)

    @cached_property
    def torchrun_jobs(self) -> list[TrainingSetup]:
        """Jobs that run torchrun but are neither a known training job nor a server (method unknown)."""
        from llmkube.check.read.training import torchrun_job

        covered = {id(t.target) for t in self.training_jobs} | {id(s.target) for s in self.servers}
        jobs = (torchrun_job(self.profiles, t) for t in self.targets if id(t) not in covered)
        return [j for j in jobs if j is not None]

    @cached_property
    def kueue(self) -> KueueIndex:
        """The queues of the cluster jobs are submitted to (a federation's manager; see multikueue)."""
        from llmkube.check.read.kueue import KueueIndex
        from llmkube.check.read.multikueue import primary_targets

        return KueueIndex.of(primary_targets(self.targets))

    @cached_property
    def federation(self) -> Federation:
        """Each cluster's Kueue objects, by the `llmkube.dev/cluster` annotation."""
        from llmkube.check.read.multikueue import Federation

        return Federation.of(self.targets)

    @cached_property
    def gpu_configs(self) -> list[Embedded]:
        """GPU Operator configs (mig-parted and device-plugin), in ConfigMaps or as files."""
        from llmkube.check.read import gpu_operator

        return list(gpu_operator.embedded_configs(self.targets))

    @cached_property
    def mig_parted_configs(self) -> list[Embedded]:
        from llmkube.check.read import gpu_operator

        return [e for e in self.gpu_configs if gpu_operator.is_mig_parted(e)]

    @cached_property
    def plugin_configs(self) -> list[Embedded]:
        from llmkube.check.read import gpu_operator

        return [e for e in self.gpu_configs if gpu_operator.is_device_plugin(e)]

    @cached_property
    def mig_layouts(self) -> dict[str, list[dict[str, int]]]:
        """mig-parted config name → its per-GPU layouts (MIG on only; [] when only disabled)."""
        from llmkube.check.read import gpu_operator

        return gpu_operator.layouts_by_name(self.mig_parted_configs)

    @cached_property
    def selections(self) -> list[Selection]:
        """Node labels selected by ResourceFlavors and pod nodeSelectors."""
        from llmkube.check.read import gpu_operator

        return list(gpu_operator.selections(self.targets))
