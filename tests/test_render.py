"""End to end through the real CLI entry point: render, output files, exit codes."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import llmkube, load_all
from tests.support.paths import EXAMPLE_FILES, EXAMPLES, REPO, example_params


def test_version_and_help():
    out = llmkube("--version")
    assert out.returncode == 0 and out.stdout.startswith("llmkube 0.")
    out = llmkube("--help")
    assert out.returncode == 0
    for command in ("render", "validate", "crds"):
        assert command in out.stdout


# 01 (Fleet + Quota), 05 (an InferenceService), 10 (a federation), 12 (an LLMInferenceService over
# nodes) stay in the quick suite; --slow (CI) renders every example.
@pytest.mark.parametrize("example", example_params(
    "01-h100-fleet-and-team-quota.yaml", "05-llama-70b-vllm-endpoint.yaml",
    "10-two-cluster-multikueue.yaml", "12-deepseek-v3-wide-ep-llmisvc.yaml",
))
def test_every_example_renders_and_passes_the_upstream_crds(upstream_crds, example):
    out = llmkube("render", str(example), "--crds", str(upstream_crds))
    assert out.returncode == 0, out.stderr
    docs = load_all(out.stdout)
    assert docs, "an example must produce objects"
    # Render already checked them; check again through `validate` on the output,
    # as a user would on a GitOps repo, with no llmkube specs involved.
    check = llmkube("validate", "-", "--crds", str(upstream_crds), "-o", "json", stdin=out.stdout)
    report = json.loads(check.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert errors == [], errors
    assert report["checked"] == len(docs)


@pytest.mark.slow  # ~3 s: renders every example twice
def test_render_is_byte_identical_across_runs(upstream_crds):
    first = llmkube("render", str(EXAMPLES), "--crds", str(upstream_crds))
    second = llmkube("render", str(EXAMPLES), "--crds", str(upstream_crds))
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout


def test_kueue_v1beta1_uses_cohort_and_passes_the_crds(upstream_crds):
    example = EXAMPLES / "01-h100-fleet-and-team-quota.yaml"
    out = llmkube("render", str(example), "--kueue-api", "v1beta1", "--crds", str(upstream_crds))
    assert out.returncode == 0, out.stderr
    (cq,) = [d for d in load_all(out.stdout) if d["kind"] == "ClusterQueue"]
    assert cq["apiVersion"] == "kueue.x-k8s.io/v1beta1"
    assert cq["spec"]["cohort"] == "llm-org" and "cohortName" not in cq["spec"]


def test_textbook_quota_values():
    out = llmkube("render", str(EXAMPLES / "01-h100-fleet-and-team-quota.yaml"))
    docs = {(d["kind"], d["metadata"]["name"]): d for d in load_all(out.stdout)}
    flavor = docs[("ResourceFlavor", "h100-pool")]
    assert flavor["spec"]["nodeLabels"] == {
        "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
        "topology.kubernetes.io/zone": "us-central1-a",
    }
    assert flavor["spec"]["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    cq = docs[("ClusterQueue", "gpu-training-queue")]["spec"]
    assert cq["cohortName"] == "llm-org"
    (group,) = cq["resourceGroups"]
    assert group["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]
    gpu = group["flavors"][0]["resources"][2]
    assert gpu == {"name": "nvidia.com/gpu", "nominalQuota": 128, "borrowingLimit": 32, "lendingLimit": 64}
    assert cq["preemption"] == {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority"}
    lq = docs[("LocalQueue", "training-queue")]
    assert lq["metadata"]["namespace"] == "llm-team-alpha" and lq["spec"]["clusterQueue"] == "gpu-training-queue"


def test_textbook_volcano_job_values():
    out = llmkube("render", str(EXAMPLES / "02-llama-70b-pretraining-volcano.yaml"))
    (job,) = load_all(out.stdout)
    spec = job["spec"]
    assert (spec["schedulerName"], spec["minAvailable"], spec["tasks"][0]["replicas"]) == ("volcano", 8, 8)
    assert spec["policies"] == [
        {"event": "PodEvicted", "action": "RestartJob"},
        {"event": "PodFailed", "action": "RestartJob"},  # fires because the pods never restart in place
        {"event": "TaskCompleted", "action": "CompleteJob"},
    ]
    assert spec["maxRetry"] == 4  # maxRestarts 3: the 4th restart action fails the job
    assert set(spec["plugins"]) >= {"svc", "ssh"}
    pod = spec["tasks"][0]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert "--nproc_per_node=8" in container["command"]
    # An RDMA device and the capability to pin memory for it; NCCL is left to find it.
    assert container["resources"]["limits"]["rdma/rdma_shared_device_a"] == 1
    assert container["resources"]["requests"]["rdma/rdma_shared_device_a"] == 1
    assert container["securityContext"] == {"capabilities": {"add": ["IPC_LOCK"]}}
    assert "NCCL_IB_DISABLE" not in {e["name"] for e in container["env"]}
    affinity = pod["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert affinity["podAffinityTerm"]["topologyKey"] == "topology.kubernetes.io/rack"
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"


def test_textbook_elastic_pytorchjob_values():
    out = llmkube("render", str(EXAMPLES / "03-llama-8b-finetune-elastic.yaml"))
    (job,) = load_all(out.stdout)
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "training-queue"
    elastic = job["spec"]["elasticPolicy"]
    assert (elastic["minReplicas"], elastic["maxReplicas"], elastic["maxRestarts"]) == (2, 4, 3)
    # The training-operator v1.9.4 webhook refuses elasticPolicy.nProcPerNode beside spec.nprocPerNode.
    assert "nProcPerNode" not in elastic
    assert job["spec"]["nprocPerNode"] == "8"
    assert job["spec"]["runPolicy"]["suspend"] is True  # Kueue-managed: created suspended
    worker = job["spec"]["pytorchReplicaSpecs"]["Worker"]
    assert "Master" not in job["spec"]["pytorchReplicaSpecs"]
    (container,) = worker["template"]["spec"]["containers"]
    assert container["name"] == "pytorch"
    assert container["command"][:2] == ["torchrun", "--nproc_per_node=8"]
    assert "--lora_r=16" in container["command"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["checkpoints"] == "/shared" and mounts["dshm"] == "/dev/shm"


def test_values_cannot_inject_structure(tmp_path):
    spec = tmp_path / "job.yaml"
    evil = 'x: y\nkind: Secret\n---\napiVersion: v1 {{ 7*7 }} "quoted"'
    spec.write_text(
        "apiVersion: llmkube.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: job, namespace: ns}\n"
        f'spec:\n  image: img:1\n  script: {json.dumps(evil)}\n  gpu: l4\n  env: {{NOTE: "a: b"}}\n'
    )
    out = llmkube("render", str(spec))
    assert out.returncode == 0, out.stderr
    (job,) = load_all(out.stdout)
    container = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    assert container["command"][-1] == 'x: y\nkind: Secret\n---\napiVersion: v1 {{ 7*7 }} "quoted"'
    assert {"name": "NOTE", "value": "a: b"} in container["env"]


def test_output_dir_one_file_per_object(tmp_path):
    out_dir = tmp_path / "out"
    out = llmkube("render", str(EXAMPLES / "01-h100-fleet-and-team-quota.yaml"), "--output-dir", str(out_dir))
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        "clusterqueue_gpu-training-queue.yaml",
        "cohort_llm-org.yaml",
        "localqueue_llm-team-alpha_training-queue.yaml",
        "resourceflavor_h100-pool.yaml",
        "workloadpriorityclass_training-high.yaml",
        "workloadpriorityclass_training-low.yaml",
    ]
    (cq,) = load_all((out_dir / "clusterqueue_gpu-training-queue.yaml").read_text())
    assert cq["kind"] == "ClusterQueue"


def test_json_format_is_a_kubectl_list():
    out = llmkube("render", str(EXAMPLES / "02-llama-70b-pretraining-volcano.yaml"), "--format", "json")
    data = json.loads(out.stdout)
    assert data["kind"] == "List" and data["items"][0]["kind"] == "Job"


def test_a_bad_spec_exits_2_with_the_line_and_writes_nothing(tmp_path):
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "apiVersion: llmkube.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: job}\n"
        "spec:\n  image: img:1\n  script: t.py\n  gpu: h100-80gb\n  gpusPerNod: 8\n"
    )
    out_dir = tmp_path / "out"
    out = llmkube("render", str(spec), "--output-dir", str(out_dir))
    assert out.returncode == 2
    assert f"{spec}:8:3: unknown field 'gpusPerNod'" in out.stderr
    assert "did you mean 'gpusPerNode'?" in out.stderr
    assert "Traceback" not in out.stderr
    assert not out_dir.exists()


def test_unknown_profile_exits_2_with_a_suggestion(tmp_path):
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "apiVersion: llmkube.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: job}\n"
        "spec:\n  image: img:1\n  script: t.py\n  gpu: h100\n"
    )
    out = llmkube("render", str(spec))
    assert out.returncode == 2
    assert f"{spec}:7:3: unknown GPU profile 'h100'" in out.stderr
    assert "did you mean" in out.stderr


def test_yaml_syntax_error_exits_2(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("apiVersion: llmkube.dev/v1alpha1\nkind: Fleet\nspec: [\n")
    out = llmkube("render", str(spec))
    assert out.returncode == 2
    assert f"{spec}:4:1: YAML syntax error" in out.stderr


def test_missing_file_and_bad_option_exit_2(tmp_path):
    assert llmkube("render", str(tmp_path / "nope.yaml")).returncode == 2
    assert llmkube("render", str(EXAMPLES), "--format", "toml").returncode == 2


def test_user_profiles_and_template_overrides(upstream_crds, tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    h100 = (REPO / "profiles" / "gpus" / "h100-80gb.yaml").read_text()
    (profiles / "my-gpu.yaml").write_text(
        h100.replace("name: h100-80gb", "name: my-gpu").replace("gpusPerNode: 8", "gpusPerNode: 2")
    )
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "apiVersion: llmkube.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: job, namespace: ns}\n"
        "spec:\n  image: img:1\n  script: t.py\n  gpu: my-gpu\n"
    )
    out = llmkube("render", str(spec), "--profiles", str(profiles))
    assert out.returncode == 0, out.stderr
    assert "--nproc_per_node=2" in out.stdout

    # An override template that breaks the schema is caught by render's own check.
    templates = tmp_path / "templates"
    templates.mkdir()
    original = (REPO / "templates" / "pytorchjob.yaml.j2").read_text()
    (templates / "pytorchjob.yaml.j2").write_text(original.replace("  runPolicy:", "  runPolcy:"))
    out = llmkube("render", str(spec), "--profiles", str(profiles), "--templates", str(templates), "--crds", str(upstream_crds))
    assert out.returncode == 1
    assert "runPolcy" in out.stderr and "nothing was written" in out.stderr
    assert out.stdout == ""


def test_an_internal_error_is_exit_3_with_a_report_line_and_no_traceback(monkeypatch, capsys):
    import llmkube.commands.render as render_cmd
    from llmkube.cli import State, main

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(render_cmd, "run_render", boom)
    monkeypatch.setattr(State, "debug", False)
    with pytest.raises(SystemExit) as exc:
        main(["render", str(EXAMPLES)])
    assert exc.value.code == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: kaboom" in err and "please report" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["--debug", "render", str(EXAMPLES)])
    assert "Traceback" in capsys.readouterr().err


ADMISSION_JOBS = """\
apiVersion: llmkube.dev/v1alpha1
kind: TrainingJob
metadata: {name: fixed-kueue, namespace: ns}
spec:
  image: img:1
  script: train.py
  gpu: h100-80gb
  nodes: 4
  queue: q
  topology: {require: topology.kubernetes.io/rack}
  network: {rdma: {resource: rdma/rdma_shared_device_a}}
---
apiVersion: llmkube.dev/v1alpha1
kind: TrainingJob
metadata: {name: volcano-efa, namespace: ns}
spec:
  image: img:1
  script: train.py
  gpu: h100-80gb
  nodes: 2
  framework: volcano
  priorityClass: high
  maxRestarts: 0
  network: {rdma: {resource: vpc.amazonaws.com/efa, count: 32}}
---
apiVersion: llmkube.dev/v1alpha1
kind: TrainingJob
metadata: {name: trainjob-rdma, namespace: ns}
spec:
  image: img:1
  script: train.py
  gpu: h100-80gb
  nodes: 2
  framework: trainjob
  queue: q
  network: {infiniband: true}
"""


def pytorchjob_webhook_problems(job: dict) -> list[str]:
    """What kubeflow/trainer v1.9.4 `pkg/webhooks/pytorch/pytorchjob_webhook.go` `validatePyTorchJob` refuses."""
    spec = job["spec"]
    out = []
    if "nprocPerNode" in spec and "nProcPerNode" in spec.get("elasticPolicy", {}):
        out.append("both nprocPerNode fields")
    replicas = spec["pytorchReplicaSpecs"]
    if "elasticPolicy" in spec and "Worker" not in replicas:
        out.append("elastic without Worker")
    for key, replica in replicas.items():
        if key not in ("Master", "Worker"):
            out.append(f"key {key}")
        containers = replica["template"]["spec"]["containers"]
        if not any(c["name"] == "pytorch" and c.get("image") for c in containers):
            out.append(f"{key}: no pytorch container with an image")
    if "Master" in replicas and replicas["Master"].get("replicas") != 1:
        out.append("Master.replicas must be 1")
    return out


def test_training_objects_are_what_the_controllers_admit(upstream_crds, tmp_path):
    spec = tmp_path / "jobs.yaml"
    spec.write_text(ADMISSION_JOBS)
    out = llmkube("render", str(spec), "--crds", str(upstream_crds))
    assert out.returncode == 0, out.stderr
    docs = {d["metadata"]["name"]: d for d in load_all(out.stdout)}

    pytorch = docs["fixed-kueue"]
    assert pytorchjob_webhook_problems(pytorch) == []
    assert pytorch["spec"]["runPolicy"]["suspend"] is True
    for replica in pytorch["spec"]["pytorchReplicaSpecs"].values():
        annotations = replica["template"]["metadata"]["annotations"]
        assert annotations["kueue.x-k8s.io/podset-group-name"] == "pytorch"
        assert annotations["kueue.x-k8s.io/podset-required-topology"] == "topology.kubernetes.io/rack"
    assert "kubeflow.org/pytorchjob" in out.stderr  # the Kueue >= 0.19 integration note

    volcano = docs["volcano-efa"]["spec"]
    assert volcano["priorityClassName"] == "high"  # copied to the PodGroup: the gang's priority
    assert volcano["maxRetry"] == 1
    (container,) = volcano["tasks"][0]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["vpc.amazonaws.com/efa"] == 32
    assert "securityContext" not in container
    assert not any(e["name"].startswith("NCCL_IB") for e in container.get("env", []))

    trainjob = docs["trainjob-rdma"]["spec"]
    assert trainjob["suspend"] is True
    assert trainjob["trainer"]["resourcesPerNode"]["limits"]["rdma/rdma_shared_device_a"] == 1
    (patch,) = trainjob["runtimePatches"]
    node = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    assert node["containers"][0]["securityContext"] == {"capabilities": {"add": ["IPC_LOCK"]}}


@pytest.mark.parametrize("example", [p for p in EXAMPLE_FILES if "elastic" in p.name or "pytorch" in p.name], ids=lambda p: p.name)
def test_example_pytorchjobs_pass_the_training_operator_webhook(example):
    out = llmkube("render", str(example))
    for doc in load_all(out.stdout):
        if doc["kind"] == "PyTorchJob":
            assert pytorchjob_webhook_problems(doc) == []
