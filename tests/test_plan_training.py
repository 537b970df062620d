"""Derived values of a TrainingJob: GPUs per pod, torchrun, gang, /dev/shm."""

from __future__ import annotations

import pytest

from llmkube.plan.context import PlanContext
from llmkube.plan.training import Rendezvous, TrainingPlan, plan_training_job, shm_size, torchrun_command
from llmkube.profiles import ProfileStore
from llmkube.specs.parse import parse_specs
from llmkube.yamlio import parse_documents

BASE = """\
apiVersion: llmkube.dev/v1alpha1
kind: TrainingJob
metadata: {name: job, namespace: team}
spec:
  image: img:1
  script: train.py
"""


@pytest.fixture(scope="module")
def ctx() -> PlanContext:
    return PlanContext(profiles=ProfileStore.load())


def plan(ctx: PlanContext, extra: str) -> TrainingPlan:
    (loaded,) = parse_specs(parse_documents(BASE + extra, "job.yaml"))
    return plan_training_job(loaded.spec, ctx)


@pytest.mark.parametrize(("gpu", "per_node"), [("h100-80gb", 8), ("l4", None)])
def test_gpus_per_pod_default_to_the_profile(ctx, gpu, per_node):
    p = plan(ctx, f"  gpu: {gpu}\n")
    expected = ctx.profiles.gpu(gpu).spec.gpus_per_node
    assert p.gpus_per_pod == expected
    assert p.pod.resources["limits"]["nvidia.com/gpu"] == expected
    assert f"--nproc_per_node={expected}" in p.pod.command
    if per_node is not None:
        assert expected == per_node


def test_explicit_gpus_per_node_wins(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  gpusPerNode: 4\n")
    assert p.pod.command[:2] == ("torchrun", "--nproc_per_node=4")
    assert p.gpus_per_pod == 4
    assert p.template_context()["nproc_per_node"] == 4


def test_volcano_gets_an_explicit_rendezvous_and_a_gang(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  nodes: 8\n  framework: volcano\n")
    cmd = p.pod.command
    assert "--nnodes=8" in cmd
    assert "--rdzv_endpoint=job-worker-0.job:29500" in cmd
    assert p.min_available == 8
    assert p.scheduler == "volcano"


def test_volcano_without_gang_needs_only_one_pod(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  nodes: 8\n  framework: volcano\n  gang: false\n")
    assert p.min_available == 1


def test_elastic_range(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  nodes: {min: 2, max: 4}\n  queue: q\n")
    assert (p.min_nodes, p.max_nodes, p.elastic) == (2, 4, True)
    assert p.labels["kueue.x-k8s.io/queue-name"] == "q"


def test_kueue_topology_uses_the_podset_annotation_others_use_affinity(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  queue: q\n  topology: {prefer: example.com/rack}\n")
    assert p.pod.annotations == {"kueue.x-k8s.io/podset-preferred-topology": "example.com/rack"}
    assert p.pod.affinity is None
    p = plan(ctx, "  gpu: h100-80gb\n  framework: volcano\n  topology: {require: example.com/rack}\n")
    term = p.pod.affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "example.com/rack"


def test_token_comes_from_a_secret_and_infiniband_toggles_nccl(ctx):
    p = plan(ctx, "  gpu: l4\n  network: {infiniband: true}\n  huggingFace: {tokenSecret: {name: hf}}\n")
    env = {e["name"]: e for e in p.pod.env}
    assert env["NCCL_IB_DISABLE"]["value"] == "0"
    assert env["HF_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "hf", "key": "token"}}
    assert "value" not in env["HF_TOKEN"]


@pytest.mark.parametrize(("gpus", "explicit", "expected"), [(1, None, None), (2, None, "16Gi"), (8, None, "64Gi"), (16, None, "64Gi"), (1, "1Gi", "1Gi")])
def test_shm_size(gpus, explicit, expected):
    assert shm_size(gpus, explicit) == expected


def test_torchrun_command_keeps_user_args_after_the_script():
    assert torchrun_command("t.py", ["--lr", "1e-4"], 2, None) == ["torchrun", "--nproc_per_node=2", "t.py", "--lr", "1e-4"]


def test_torchrun_command_with_an_explicit_rendezvous():
    rdzv = Rendezvous(nnodes=2, endpoint="j-worker-0.j:29500", id="j")
    assert torchrun_command("t.py", [], 8, rdzv) == [
        "torchrun", "--nproc_per_node=8", "--nnodes=2", "--rdzv_backend=c10d",
        "--rdzv_endpoint=j-worker-0.j:29500", "--rdzv_id=j", "t.py",
    ]


def test_unknown_gpu_profile_is_a_plan_error_with_a_suggestion(ctx):
    from llmkube.plan.context import PlanError

    with pytest.raises(PlanError) as exc:
        plan(ctx, "  gpu: h100-80g\n")
    assert exc.value.path == ("spec", "gpu")
    assert "h100-80gb" in exc.value.hint


def test_model_found_by_hugging_face_id(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  model: meta-llama/Llama-3.1-70B-Instruct\n")
    assert p.model == "llama-3.1-70b"


def test_user_env_overrides_a_derived_variable(ctx):
    p = plan(ctx, "  gpu: l4\n  network: {infiniband: false}\n  env: {NCCL_IB_DISABLE: '0', EXTRA: x}\n")
    names = [e["name"] for e in p.pod.env]
    assert names.count("NCCL_IB_DISABLE") == 1
    assert {"name": "NCCL_IB_DISABLE", "value": "0"} in p.pod.env
    assert {"name": "EXTRA", "value": "x"} in p.pod.env


@pytest.mark.parametrize(
    ("request_", "shm", "expected"),
    [("1500Gi", "64Gi", "1564Gi"), ("512Mi", "1Gi", "1536Mi"), (1024, "1Ki", "2Ki"), ("100Gi", None, "100Gi"), ("1G", "1Gi", "2073741824")],
)
def test_memory_limit_counts_dev_shm(request_, shm, expected):
    from llmkube.plan.pods import memory_limit

    assert str(memory_limit(request_, shm)) == expected


def env_of(p: TrainingPlan) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in p.pod.env}


@pytest.mark.parametrize(("network", "ib_disable"), [("", None), ("  network: {infiniband: false}\n", "1"), ("  network: {infiniband: true}\n", "0")])
def test_nccl_ib_is_disabled_only_when_asked(ctx, network, ib_disable):
    # Unset lets NCCL probe for IB/RoCE devices; the old default forced RDMA clusters onto TCP.
    assert env_of(plan(ctx, "  gpu: h100-80gb\n" + network)).get("NCCL_IB_DISABLE") == ib_disable


def test_an_rdma_device_is_requested_with_ipc_lock(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  network: {rdma: {resource: rdma/hca_shared_devices_a, count: 2}}\n")
    assert p.pod.resources["requests"]["rdma/hca_shared_devices_a"] == 2
    assert p.pod.resources["limits"]["rdma/hca_shared_devices_a"] == 2
    assert p.pod.security_context == {"capabilities": {"add": ["IPC_LOCK"]}}
    assert "NCCL_IB_DISABLE" not in env_of(p)
    assert p.notes == ()


def test_efa_gets_the_device_and_no_nccl_ib_settings(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  network: {rdma: {resource: vpc.amazonaws.com/efa, count: 32}}\n")
    assert p.pod.resources["limits"]["vpc.amazonaws.com/efa"] == 32
    assert not any(name.startswith("NCCL_IB") for name in env_of(p))
    assert p.pod.security_context is None


def test_infiniband_without_a_named_device_requests_the_usual_one_and_says_so(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  network: {infiniband: true}\n")
    assert p.pod.resources["limits"]["rdma/rdma_shared_device_a"] == 1
    assert p.pod.security_context == {"capabilities": {"add": ["IPC_LOCK"]}}
    (note,) = p.notes
    assert "rdma/rdma_shared_device_a" in note and "network.rdma.resource" in note


@pytest.mark.parametrize(
    ("extra", "grouped"),
    [
        ("  nodes: 4\n", True),  # Master (1) + Worker (3): exactly the 2 PodSets Kueue groups
        ("  nodes: 1\n", False),  # a Master alone: one PodSet
        ("  nodes: {min: 2, max: 4}\n", False),  # elastic: Workers only
        ("  nodes: 4\n  framework: trainjob\n", False),  # the runtime's single `node` PodSet
    ],
)
def test_podset_group_only_where_kueue_allows_it(ctx, extra, grouped):
    p = plan(ctx, "  gpu: h100-80gb\n  queue: q\n  topology: {require: example.com/rack}\n" + extra)
    assert p.pod.annotations.get("kueue.x-k8s.io/podset-group-name") == ("pytorch" if grouped else None)
    assert p.pod.annotations["kueue.x-k8s.io/podset-required-topology"] == "example.com/rack"
    assert not p.pod.annotations.get("kueue.x-k8s.io/podset-group-name", "x").isdigit()


def test_no_podset_group_without_topology(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  queue: q\n  nodes: 4\n")
    assert p.pod.annotations == {}


@pytest.mark.parametrize(("framework", "note"), [("pytorchjob", True), ("trainjob", False)])
def test_kueue_jobs_are_created_suspended(ctx, framework, note):
    p = plan(ctx, f"  gpu: h100-80gb\n  queue: q\n  framework: {framework}\n")
    assert p.suspend is True
    assert any("kubeflow.org/pytorchjob" in n and "Kueue 0.19" in n for n in p.notes) is note


def test_jobs_outside_kueue_are_not_suspended(ctx):
    assert plan(ctx, "  gpu: h100-80gb\n").suspend is False
    assert plan(ctx, "  gpu: h100-80gb\n  framework: volcano\n  queue: q\n").suspend is False


def test_volcano_priority_goes_to_the_job_for_its_podgroup(ctx):
    p = plan(ctx, "  gpu: h100-80gb\n  framework: volcano\n  priorityClass: high\n")
    assert p.priority_class_name == "high"
    assert p.pod.priority_class_name == "high"
    assert plan(ctx, "  gpu: h100-80gb\n  priorityClass: high\n").priority_class_name is None  # PyTorchJob: pods only


@pytest.mark.parametrize(("on_eviction", "action"), [("restart-job", "RestartJob"), ("restart-task", "RestartTask"), ("fail", "AbortJob")])
def test_volcano_policies_follow_on_eviction_and_a_failed_pod_restarts_the_job(ctx, on_eviction, action):
    p = plan(ctx, f"  gpu: h100-80gb\n  framework: volcano\n  onEviction: {on_eviction}\n")
    assert p.policies == (
        {"event": "PodEvicted", "action": action},
        {"event": "PodFailed", "action": "RestartJob"},
        {"event": "TaskCompleted", "action": "CompleteJob"},
    )
    assert len({pol["event"] for pol in p.policies}) == len(p.policies)  # Volcano refuses a repeated event


@pytest.mark.parametrize(("max_restarts", "max_retry"), [(0, 1), (3, 4)])
def test_volcano_max_retry_allows_exactly_max_restarts(ctx, max_restarts, max_retry):
    # Volcano fails the job at the restart that makes retryCount reach maxRetry, and turns 0 into 3.
    p = plan(ctx, f"  gpu: h100-80gb\n  framework: volcano\n  maxRestarts: {max_restarts}\n")
    assert p.max_retry == max_retry


@pytest.mark.parametrize(
    ("path", "key"),
    [
        (("spec", "maxRetry"), "maxRestarts"),
        (("spec", "policies", 1, "action"), "onEviction"),
        (("spec", "priorityClassName"), "priorityClass"),
        (("spec", "runPolicy", "suspend"), "queue"),
        (("spec", "tasks", 0, "template", "spec", "containers", 0, "securityContext"), "network"),
    ],
)
def test_findings_on_the_new_job_fields_point_at_the_spec_field_behind_them(path, key):
    from llmkube.check.provenance import spec_path

    spec = {"maxRestarts": 3, "onEviction": "fail", "priorityClass": "p", "queue": "q", "network": {}}
    assert spec_path("TrainingJob", {}, path, spec) == ("spec", key)


def test_an_unknown_model_is_a_note_naming_the_nearest_profiles(ctx):
    # The model is not rendered (the script loads it): like an InferenceEndpoint's, an unknown
    # one leaves only its memory unchecked (LK104), so it renders with a note (issue 13).
    p = plan(ctx, "  gpu: h100-80gb\n  model: meta-llama/Llama-3.1-8B-Instrukt\n")
    (note,) = [n for n in p.notes if "no profile for model" in n]
    assert "'meta-llama/Llama-3.1-8B-Instrukt'" in note and "LK104" in note
    assert "llama-3.1-8b" in note.lower()  # the suggestion names the profile the typo was near
    assert p.model is None
    known = plan(ctx, "  gpu: h100-80gb\n  model: meta-llama/Llama-3.1-8B-Instruct\n")
    assert known.model == "llama-3.1-8b" and not any("no profile" in n for n in known.notes)
