"""Template variables are a public interface: `--templates DIR` overrides the built-ins by name."""

from __future__ import annotations

import pytest

from llmkube.kinds import KINDS
from llmkube.pipeline import load_inputs
from llmkube.plan.base import NodeLabels, Plan, template_values
from llmkube.plan.context import PlanContext
from llmkube.plan.fleet import FleetPlan
from llmkube.plan.inference import EndpointPlan
from llmkube.plan.llmisvc import LLMServicePlan
from llmkube.plan.multinode import MultiNodePlan
from llmkube.plan.quota import QuotaPlan
from llmkube.plan.training import TrainingPlan
from llmkube.profiles import ProfileStore
from tests.support.paths import EXAMPLES

# What each kind's templates have been rendered with; a user's template may read any of these.
TEMPLATE_VARIABLES = {
    FleetPlan: {"api_version", "topology", "flavors", "gpu_operator", "node_label_steps"},
    QuotaPlan: {
        "api_version", "cohort_field", "name", "labels", "cohort", "queueing_strategy", "stop_policy",
        "covered_resources", "flavors", "preemption", "local_queues", "priority_classes",
        "admission_check", "multikueue", "workers",
    },
    TrainingPlan: {
        "name", "namespace", "annotations", "labels", "framework", "scheduler", "gpus_per_pod", "min_nodes",
        "max_nodes", "elastic", "worker_replicas", "max_restarts", "nproc_per_node", "pod", "queue",
        "min_available", "eviction_action", "runtime_ref", "model", "suspend", "policies", "max_retry",
        "priority_class_name",
    },
    EndpointPlan: {
        "name", "namespace", "labels", "annotations", "pod_labels", "predictor_annotations", "selector", "runtime",
        "container", "volumes", "node_selector", "tolerations", "affinity", "service_account", "min_replicas",
        "max_replicas", "canary_percent", "pdb", "progress_deadline", "load_estimate_seconds", "notes",
        "scale_metric", "scale_target", "auto_scaling",
    },
    LLMServicePlan: {
        "name", "namespace", "labels", "annotations", "model_uri", "model_name", "base_refs", "router", "main",
        "prefill",
    },
    MultiNodePlan: {
        "name", "namespace", "labels", "annotations", "backend", "launcher", "nodes", "replicas", "tensor_parallel",
        "pipeline_parallel", "gpus_per_node", "leader", "worker", "service_name", "service_selector", "port", "volumes",
        "node_selector", "tolerations", "service_account", "pdb_selector", "load_estimate_seconds", "storage_uri",
        "runtime_name", "model_format", "notes",
    },
}


def example_plans() -> list[Plan]:
    inputs = load_inputs([str(EXAMPLES)])
    ctx = PlanContext(profiles=ProfileStore.load())
    for loaded in inputs.specs:
        prepare = KINDS[loaded.kind].prepare
        if prepare is not None:
            prepare(loaded.spec, ctx)
    return [KINDS[loaded.kind].planner(loaded.spec, ctx) for loaded in inputs.specs]


@pytest.fixture(scope="module")
def plans() -> list[Plan]:
    return example_plans()


def test_every_kind_is_among_the_examples(plans):
    assert {type(p) for p in plans} == set(TEMPLATE_VARIABLES)


def test_template_variables_keep_their_names(plans):
    for plan in plans:
        assert set(plan.template_context()) == TEMPLATE_VARIABLES[type(plan)], type(plan).__name__


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def test_templates_see_plain_dicts_and_lists(plans):
    # json.dumps emits every value, and user templates may index, iterate or add lists.
    for plan in plans:
        assert _plain(plan.template_context()), type(plan).__name__


def test_template_values_turn_dataclasses_into_dicts_and_tuples_into_lists():
    step = NodeLabels(pool="p", selector={"a": "b"}, labels={"c": "d"})
    assert template_values((step,)) == [{"pool": "p", "selector": {"a": "b"}, "labels": {"c": "d"}}]
