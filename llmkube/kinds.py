"""Every llmkube spec kind, and what the pipeline does with it.

One entry per kind: the pydantic model and semantic checks that parse it
(`specs.parse`), the planner and template that render it, and an optional
pre-pass that runs over every spec of the kind before any spec is planned (a
Fleet's pools must be known to the endpoints and jobs placed on them). A new
kind is a spec module, a planner, a template and one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from llmkube.plan.base import Plan
from llmkube.plan.context import PlanContext
from llmkube.plan.fleet import plan_fleet, pool_infos
from llmkube.plan.inference import plan_inference_endpoint
from llmkube.plan.llmisvc import plan_llm_inference_service
from llmkube.plan.multinode import plan_multinode_endpoint
from llmkube.plan.quota import plan_quota
from llmkube.plan.training import plan_training_job
from llmkube.specs import fleet, inferenceendpoint, quota, trainingjob
from llmkube.specs.base import SpecProblem

Planner = Callable[[Any, PlanContext], Plan]


@dataclass(frozen=True)
class Kind:
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


def _training_template(job: trainingjob.TrainingJob) -> str:
    return TRAINING_TEMPLATES[job.spec.framework]


ENDPOINT_TEMPLATES = {
    "kserve": "inferenceservice.yaml.j2",
    "deployment": "deployment.yaml.j2",
    "llm-inference-service": "llminferenceservice.yaml.j2",
}


def _endpoint_template(ep: inferenceendpoint.InferenceEndpoint) -> str:
    if ep.spec.nodes > 1 and ep.spec.target != "llm-inference-service":
        return "inferenceservice-multinode.yaml.j2" if ep.spec.multi_node.backend == "kserve" else "leaderworkerset.yaml.j2"
    return ENDPOINT_TEMPLATES[ep.spec.target]


def _plan_endpoint(ep: inferenceendpoint.InferenceEndpoint, ctx: PlanContext) -> Plan:
    """An endpoint's planner: KServe's LLMInferenceService its own (its nodes are a `worker`); other
    endpoints over several nodes (`nodes` > 1) plan.multinode; else plan.inference."""
    if ep.spec.target == "llm-inference-service":
        return plan_llm_inference_service(ep, ctx)
    if ep.spec.nodes > 1:
        return plan_multinode_endpoint(ep, ctx)
    return plan_inference_endpoint(ep, ctx)


def _register_pools(spec: fleet.Fleet, ctx: PlanContext) -> None:
    """Endpoints and jobs are placed on a Fleet's pools: make them known first."""
    ctx.pools.update(pool_infos(spec, ctx))


KINDS: dict[str, Kind] = {
    "Fleet": Kind(fleet.Fleet, fleet.semantic_problems, plan_fleet, _always("fleet.yaml.j2"), _register_pools),
    "Quota": Kind(quota.Quota, quota.semantic_problems, plan_quota, _always("quota.yaml.j2")),
    "TrainingJob": Kind(trainingjob.TrainingJob, trainingjob.semantic_problems, plan_training_job, _training_template),
    "InferenceEndpoint": Kind(
        inferenceendpoint.InferenceEndpoint, inferenceendpoint.semantic_problems, _plan_endpoint, _endpoint_template
    ),
}
