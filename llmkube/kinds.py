"""Every llmkube spec kind, and what the pipeline does with it.

One entry per kind: the pydantic model and semantic checks that parse it
(`specs.parse`), the planner and template that render it, and an optional
pre-pass that runs over every spec of the kind before any spec is planned (a
Fleet's pools must be known to the endpoints and jobs placed on them). A new
kind is a spec module, a planner, a template, a loader here and one line in
`KINDS`.

`KINDS` names every kind without importing any: a kind's spec module and
planner are imported the first time its entry is read (`KINDS["Fleet"]`), so a
run that renders one InferenceEndpoint builds the pydantic models of that kind
only — building a model class is most of the cost of importing it. Iterating
`KINDS`, `in` and `len` never import; `llmkube schema`, `explain` and the docs
read every entry and so load them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from llmkube.records import record

if TYPE_CHECKING:
    from pydantic import BaseModel

    from llmkube.plan.base import Plan
    from llmkube.plan.context import PlanContext
    from llmkube.specs.base import SpecProblem
    from llmkube.specs.fleet import Fleet
    from llmkube.specs.inferenceendpoint import InferenceEndpoint
    from llmkube.specs.trainingjob import TrainingJob
    from llmkube.yamlio import Document

Planner = Callable[[Any, "PlanContext"], "Plan"]

#: The apiVersion group of every llmkube spec: a document of another group is a plain manifest.
SPEC_GROUP = "llmkube.dev/"


def is_spec_document(doc: Document) -> bool:
    """An llmkube spec (rendered by the pipeline), not a plain manifest: told without importing
    the spec models, so a run of plain manifests never loads them."""
    data = doc.data
    return isinstance(data, Mapping) and str(data.get("apiVersion", "")).startswith(SPEC_GROUP)


@record(frozen=True)
class Kind:
    """What llmkube does with one spec kind: its model, semantic checks, planner and template."""

    model: type[BaseModel]
    semantic: Callable[[Any], list[SpecProblem]]
    planner: Planner
    template: Callable[[Any], str]  # the spec → the template that renders its plan
    prepare: Callable[[Any, PlanContext], None] | None = None  # runs before any spec is planned


def _always(template: str) -> Callable[[Any], str]:
    return lambda _spec: template


TRAINING_TEMPLATES = {
    "pytorchjob": "pytorchjob.yaml.j2",
    "trainjob": "trainjob.yaml.j2",
    "volcano": "volcano-job.yaml.j2",
}


def _training_template(job: TrainingJob) -> str:
    return TRAINING_TEMPLATES[job.spec.framework]


ENDPOINT_TEMPLATES = {
    "kserve": "inferenceservice.yaml.j2",
    "deployment": "deployment.yaml.j2",
    "llm-inference-service": "llminferenceservice.yaml.j2",
}


def _endpoint_template(ep: InferenceEndpoint) -> str:
    if ep.spec.nodes > 1 and ep.spec.target != "llm-inference-service":
        return "inferenceservice-multinode.yaml.j2" if ep.spec.multi_node.backend == "kserve" else "leaderworkerset.yaml.j2"
    return ENDPOINT_TEMPLATES[ep.spec.target]


def _plan_endpoint(ep: InferenceEndpoint, ctx: PlanContext) -> Plan:
    """An endpoint's planner: KServe's LLMInferenceService its own (its nodes are a `worker`); other
    endpoints over several nodes (`nodes` > 1) plan.multinode; else plan.inference (each imported
    when first used)."""
    if ep.spec.target == "llm-inference-service":
        from llmkube.plan.llmisvc import plan_llm_inference_service

        return plan_llm_inference_service(ep, ctx)
    if ep.spec.nodes > 1:
        from llmkube.plan.multinode import plan_multinode_endpoint

        return plan_multinode_endpoint(ep, ctx)
    from llmkube.plan.inference import plan_inference_endpoint

    return plan_inference_endpoint(ep, ctx)


def _register_pools(spec: Fleet, ctx: PlanContext) -> None:
    """Endpoints and jobs are placed on a Fleet's pools: make them known first."""
    from llmkube.plan.fleet import register_fleet

    register_fleet(spec, ctx)


def _fleet() -> Kind:
    from llmkube.plan.fleet import plan_fleet
    from llmkube.specs import fleet

    return Kind(fleet.Fleet, fleet.semantic_problems, plan_fleet, _always("fleet.yaml.j2"), _register_pools)


def _quota() -> Kind:
    from llmkube.plan.quota import plan_quota
    from llmkube.specs import quota

    return Kind(quota.Quota, quota.semantic_problems, plan_quota, _always("quota.yaml.j2"))


def _training_job() -> Kind:
    from llmkube.plan.training import plan_training_job
    from llmkube.specs import trainingjob

    return Kind(trainingjob.TrainingJob, trainingjob.semantic_problems, plan_training_job, _training_template)


def _inference_endpoint() -> Kind:
    from llmkube.specs import inferenceendpoint

    return Kind(inferenceendpoint.InferenceEndpoint, inferenceendpoint.semantic_problems, _plan_endpoint, _endpoint_template)


class _LazyKinds(Mapping[str, Kind]):
    """Kind name → `Kind`, each built by its loader on first read and kept."""

    def __init__(self, loaders: Mapping[str, Callable[[], Kind]]) -> None:
        self._loaders = dict(loaders)
        self._loaded: dict[str, Kind] = {}

    def __getitem__(self, name: str) -> Kind:
        found = self._loaded.get(name)
        if found is None:
            found = self._loaded[name] = self._loaders[name]()  # KeyError for an unknown kind
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)

    def __contains__(self, name: object) -> bool:
        return name in self._loaders

    def loaded(self) -> list[str]:
        """The kinds whose modules were imported so far (for tests of what a run loads)."""
        return list(self._loaded)


KINDS = _LazyKinds({
    "Fleet": _fleet,
    "Quota": _quota,
    "TrainingJob": _training_job,
    "InferenceEndpoint": _inference_endpoint,
})
