"""InferenceEndpoint `nodes` > 1 (issue 15): a LeaderWorkerSet or KServe's multi-node mode."""

from __future__ import annotations

import json

import pytest

from llmkube.check.read.servers import multi_node_worker
from llmkube.errors import InputError
from llmkube.kinds import KINDS
from llmkube.pipeline import load_inputs
from llmkube.plan.context import PlanContext, PlanError
from llmkube.plan.multinode import MultiNodePlan, node_load_seconds
from llmkube.plan.nodeload import node_weight_bytes
from llmkube.plan.sizing import load_seconds, stage_weight_bytes, startup_budget, weight_bytes, ServerConfig
from llmkube.profiles import ProfileStore
from llmkube.specs.inferenceendpoint import Startup
from tests.support.cli import llmkube, load_all
from tests.support.crds import UPSTREAM_CRDS
from tests.support.paths import EXAMPLES

EXAMPLE = EXAMPLES / "11-llama-405b-multinode-lws.yaml"
PROFILES = ProfileStore.load()
BASE = """apiVersion: llmkube.dev/v1alpha1
kind: InferenceEndpoint
metadata: {name: llama-405b, namespace: llm-serving}
spec:
  model: meta-llama/Llama-3.1-405B-Instruct
  gpu: h100-80gb
  nodes: 2
"""


def plan(tmp_path, extra: str = "") -> MultiNodePlan:
    path = tmp_path / "ep.yaml"
    path.write_text(BASE + extra)
    (loaded,) = load_inputs([str(path)]).specs
    problems = KINDS["InferenceEndpoint"].semantic(loaded.spec)
    assert not problems, problems
    result = KINDS["InferenceEndpoint"].planner(loaded.spec, PlanContext(profiles=PROFILES))
    assert isinstance(result, MultiNodePlan)
    return result


def problems(tmp_path, extra: str) -> str:
    """The input error a spec is refused with (parsing runs the semantic checks)."""
    path = tmp_path / "ep.yaml"
    path.write_text(BASE + extra)
    with pytest.raises(InputError) as refused:
        load_inputs([str(path)])
    return str(refused.value)


def flag(args, name):
    return args[args.index(name) + 1]


def test_tp_is_a_node_and_pp_the_nodes_by_default(tmp_path):
    p = plan(tmp_path)
    h100 = PROFILES.gpu("h100-80gb").spec.gpus_per_node
    assert (p.tensor_parallel, p.pipeline_parallel, p.nodes) == (h100, 2, 2)
    args = list(p.leader.container.args)
    assert flag(args, "--tensor-parallel-size") == str(h100) and flag(args, "--pipeline-parallel-size") == "2"
    for pod in (p.leader, p.worker):
        assert pod.container.resources["limits"]["nvidia.com/gpu"] == h100


@pytest.mark.parametrize(("extra", "tp", "pp"), [("  tensorParallel: 4\n", 4, 4), ("  pipelineParallel: 4\n", 4, 4)])
def test_one_of_tp_and_pp_set_the_other_fills_the_group(tmp_path, extra, tp, pp):
    p = plan(tmp_path, extra)
    assert (p.tensor_parallel, p.pipeline_parallel) == (tp, pp)
    assert tp * pp == p.nodes * p.gpus_per_node


@pytest.mark.parametrize("extra", ["  tensorParallel: 8\n  pipelineParallel: 4\n", "  tensorParallel: 16\n  pipelineParallel: 1\n",
                                   "  tensorParallel: 3\n"])
def test_tp_times_pp_must_be_every_gpu_of_the_group_within_a_node(tmp_path, extra):
    with pytest.raises(PlanError):
        plan(tmp_path, extra)


def test_launcher_follows_the_image_version(tmp_path):
    ray = plan(tmp_path, "  image: vllm/vllm-openai:v0.11.0\n")
    assert ray.launcher == "ray"
    leader, worker = ray.leader.container, ray.worker.container
    assert leader.command[:2] == ("sh", "-c") and "multi-node-serving.sh leader --ray_cluster_size=$(LWS_GROUP_SIZE)" in leader.command[2]
    assert flag(list(leader.args), "--distributed-executor-backend") == "ray"
    assert "multi-node-serving.sh worker --ray_address=$(LWS_LEADER_ADDRESS)" in worker.command[2] and not worker.args
    native = plan(tmp_path, "  image: vllm/vllm-openai:v0.12.0\n")
    assert native.launcher == "native"
    leader, worker = list(native.leader.container.args), list(native.worker.container.args)
    assert flag(leader, "--nnodes") == "2" and flag(leader, "--master-addr") == "$(LWS_LEADER_ADDRESS)"
    assert flag(leader, "--node-rank") == "$(LWS_WORKER_INDEX)"
    assert worker == [*leader, "--headless"]  # the same server, headless
    assert plan(tmp_path, "  image: vllm/vllm-openai:v0.12.0\n  multiNode: {launcher: ray}\n").launcher == "ray"


def test_only_the_leader_serves_and_is_probed(tmp_path):
    p = plan(tmp_path)
    assert p.leader.container.port == 8080 and p.leader.container.startup_probe is not None
    assert p.worker.container.port is None and p.worker.container.startup_probe is None
    assert p.service_name == "llama-405b-leader"
    assert p.service_selector == {"leaderworkerset.sigs.k8s.io/name": "llama-405b", "leaderworkerset.sigs.k8s.io/worker-index": "0"}


def test_startup_probe_is_sized_for_one_nodes_share(tmp_path):
    p = plan(tmp_path, "  startup: {source: image}\n")
    model = PROFILES.model("meta-llama/Llama-3.1-405B-Instruct")
    share = node_weight_bytes(model, None, None, 8, 2, 8)
    stages = stage_weight_bytes(model, ServerConfig(tensor_parallel=8, pipeline_parallel=2), 2)
    assert share == pytest.approx(weight_bytes(model) * max(stages) / sum(stages))
    assert share < 0.51 * weight_bytes(model)  # two stages, each about half (embedding vs LM head)
    startup = Startup()
    expected = load_seconds(share, startup.load_throughput_g_bps, startup.overhead_seconds)
    assert p.load_estimate_seconds == round(expected)
    budget = startup_budget(expected)
    probe = p.leader.container.startup_probe
    assert probe["failureThreshold"] == budget.failure_threshold
    whole = startup_budget(load_seconds(weight_bytes(model), startup.load_throughput_g_bps, startup.overhead_seconds))
    assert budget.failure_threshold < whole.failure_threshold


def test_a_hub_download_pulls_the_whole_checkpoint_on_every_node():
    model = PROFILES.model("meta-llama/Llama-3.1-405B-Instruct")
    startup = Startup()
    hub = node_load_seconds(model, None, None, 8, 2, 8, startup, "hub")
    local = node_load_seconds(model, None, None, 8, 2, 8, startup, "pvc")
    assert hub - local == pytest.approx(weight_bytes(model) / 0.1e9)


def test_rdma_and_nccl_as_a_training_job(tmp_path):
    p = plan(tmp_path, "  network: {rdma: {resource: rdma/rdma_shared_device_a}, ncclDebug: WARN, infiniband: true}\n")
    for pod in (p.leader, p.worker):
        c = pod.container
        assert c.resources["limits"]["rdma/rdma_shared_device_a"] == 1
        assert c.security_context == {"capabilities": {"add": ["IPC_LOCK"]}}
        assert {"name": "NCCL_IB_DISABLE", "value": "0"} in c.env and {"name": "NCCL_DEBUG", "value": "WARN"} in c.env
    efa = plan(tmp_path, "  network: {rdma: {resource: vpc.amazonaws.com/efa, count: 32}}\n")
    assert efa.leader.container.security_context is None
    assert not any("no RDMA" in n for n in p.notes) and any("no RDMA" in n for n in plan(tmp_path).notes)


def test_shm_is_sized_as_a_training_pod(tmp_path):
    p = plan(tmp_path)
    (shm,) = [v for v in p.volumes if v["name"] == "dshm"]
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Gi"}  # 8 GiB × 8 GPUs, capped at 64 GiB


def test_a_budget_keeps_groups_whole_only_with_more_than_one(tmp_path):
    assert plan(tmp_path).pdb_selector is None
    two = plan(tmp_path, "  replicas: {min: 2, max: 2}\n")
    assert two.pdb_selector == {"leaderworkerset.sigs.k8s.io/name": "llama-405b"}


def test_plan_notes_memory_per_node_and_the_interconnect(tmp_path):
    p = plan(tmp_path, "  maxModelLen: 32768\n")
    model = PROFILES.model("meta-llama/Llama-3.1-405B-Instruct")
    stages = stage_weight_bytes(model, ServerConfig(tensor_parallel=8, pipeline_parallel=2, max_model_len=32768), 2)
    text = " ".join(p.notes)
    assert f"node 0: {stages[0] / 2**30:.1f} GiB ({stages[0] / 2**30 / 8:.1f} GiB/GPU)" in text
    assert "NVLink" in text and "pipeline parallelism" in text


@pytest.mark.parametrize(("extra", "needle"), [
    ("  runtime: tgi\n", "TGI serves from one node"),
    ("  autoscaling: {metric: queued-requests, target: 4, prometheus: 'http://p:9090'}\n", "not autoscaled"),
    ("  replicas: {min: 1, max: 3}\n", "not autoscaled"),
    ("  multiNode: {backend: kserve}\n", "storageUri"),
    ("  multiNode: {backend: kserve, storageUri: 'pvc://c/m'}\n  deploymentMode: Knative\n", "only in Standard mode"),
    ("  multiNode: {storageUri: 'pvc://c/m'}\n", "read by KServe's multi-node mode only"),
    ("  network: {rdma: {resource: rdma/x}}\n  env: {NCCL_IB_DISABLE: '1'}\n", "NCCL_IB_DISABLE=1"),
])
def test_what_a_multi_node_endpoint_cannot_have(tmp_path, extra, needle):
    assert needle in problems(tmp_path, extra)


def test_multi_node_on_one_node_is_refused(tmp_path):
    path = tmp_path / "one.yaml"
    path.write_text(BASE.replace("nodes: 2", "nodes: 1") + "  multiNode: {launcher: ray}\n")
    with pytest.raises(InputError, match="no effect on one node"):
        load_inputs([str(path)])


def test_kserve_backend_renders_workerspec_and_passes_the_crd(tmp_path):
    spec = tmp_path / "ks.yaml"
    spec.write_text(BASE + "  multiNode: {backend: kserve, storageUri: 'pvc://models/llama-405b'}\n"
                    "  network: {rdma: {resource: rdma/rdma_shared_device_a}}\n  maxModelLen: 16384\n")
    out = llmkube("render", str(spec), "--crds", str(UPSTREAM_CRDS))
    assert out.returncode == 0, out.stderr
    (isvc,) = load_all(out.stdout)
    annotations = isvc["metadata"]["annotations"]
    assert annotations["serving.kserve.io/autoscalerClass"] == "none"
    assert annotations["serving.kserve.io/deploymentMode"] == "Standard"
    assert json.loads(annotations["serving.kserve.io/gpu-resource-types"]) == ["rdma/rdma_shared_device_a"]
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == "pvc://models/llama-405b"
    assert predictor["model"]["runtime"] == "kserve-huggingfaceserver-multinode"
    assert (predictor["workerSpec"]["tensorParallelSize"], predictor["workerSpec"]["pipelineParallelSize"]) == (8, 2)
    (worker,) = predictor["workerSpec"]["containers"]
    assert worker["name"] == "worker-container" and worker["resources"]["limits"]["nvidia.com/gpu"] == 8
    args = predictor["model"]["args"]
    assert flag(args, "--max-model-len") == "16384" and "--tensor-parallel-size" not in args and "--model" not in args


def test_the_example_renders_a_leaderworkerset_its_service_and_budget():
    out = llmkube("render", str(EXAMPLE), "--crds", str(UPSTREAM_CRDS))
    assert out.returncode == 0, out.stderr
    docs = {d["kind"]: d for d in load_all(out.stdout)}
    assert set(docs) == {"LeaderWorkerSet", "Service", "PodDisruptionBudget"}
    lwt = docs["LeaderWorkerSet"]["spec"]["leaderWorkerTemplate"]
    assert lwt["size"] == 2 and lwt["restartPolicy"] == "RecreateGroupOnPodRestart"
    assert docs["Service"]["metadata"]["name"] == "llama-405b-leader"
    assert docs["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    check = llmkube("validate", "-", "--crds", str(UPSTREAM_CRDS), stdin=out.stdout)
    assert check.returncode == 0, check.stdout  # no finding on what llmkube itself rendered


@pytest.mark.parametrize(("line", "worker"), [
    (["vllm", "serve", "m", "--headless"], True),
    (["sh", "-c", "bash /x/multi-node-serving.sh worker --ray_address=$(LWS_LEADER_ADDRESS)"], True),
    (["sh", "-c", "ray start --address=$(LWS_LEADER_ADDRESS):6379 --block"], True),
    (["sh", "-c", "bash /x/multi-node-serving.sh leader --ray_cluster_size=2; python3 -m vllm.entrypoints.openai.api_server"], False),
    (["--model", "m", "--tensor-parallel-size", "8"], False),
])
def test_headless_and_ray_workers_are_not_servers_of_their_own(line, worker):
    assert multi_node_worker(line) is worker


@pytest.mark.slow
def test_kserve_backend_is_accepted_by_the_real_server(kube_server, upstream_crds, tmp_path):
    spec = tmp_path / "ks.yaml"
    spec.write_text(BASE + "  multiNode: {backend: kserve, storageUri: 'pvc://models/llama-405b'}\n"
                    "  network: {rdma: {resource: rdma/rdma_shared_device_a}}\n")
    rendered = llmkube("render", str(spec), "--crds", str(upstream_crds))
    assert rendered.returncode == 0, rendered.stderr
    kube_server.add_namespace("llm-serving")
    out = kube_server.kubectl("apply", "--server-side", "--field-manager=llmkube", "--dry-run=server", "-f", "-", input=rendered.stdout)
    assert out.returncode == 0 and "(server dry run)" in out.stdout, out.stderr


def test_a_leaderworkerset_name_is_bounded_by_its_leader_service(tmp_path):
    name = "a" * 56  # KServe's `<name>-predictor` would refuse it; `<name>-leader` is 63
    path = tmp_path / "ep.yaml"
    path.write_text(BASE.replace("name: llama-405b", f"name: {name}"))
    load_inputs([str(path)])
    path.write_text(BASE.replace("name: llama-405b", f"name: {name}a"))
    with pytest.raises(InputError, match="the leader's Service"):
        load_inputs([str(path)])


def test_two_stages_per_node_render_clean(tmp_path):
    """TP 4 × PP 4 on 2 × 8 GPUs: each pod holds two stages of 4 GPUs — valid for vLLM, and no rule
    may count it per pod against the tensor-parallel size alone."""
    spec = tmp_path / "ep.yaml"
    spec.write_text(BASE + "  tensorParallel: 4\n  maxModelLen: 8192\n  startup: {source: image}\n")
    out = llmkube("render", str(spec), "--crds", str(UPSTREAM_CRDS))
    assert out.returncode == 0, out.stderr
    check = llmkube("validate", "-", "--crds", str(UPSTREAM_CRDS), "-o", "json", stdin=out.stdout)
    codes = {f["code"] for f in json.loads(check.stdout)["findings"]}
    assert not codes & {"LK304", "LK340", "LK341"}, codes
