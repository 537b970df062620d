"""InferenceEndpoint and Fleet GPU partitioning (issue 3), through the real CLI."""

from __future__ import annotations

import copy
import json
import math

import pytest
from ruamel.yaml import YAML

from llmkube.plan.sizing import load_seconds, startup_budget, weight_bytes
from llmkube.profiles import ProfileStore
from tests.support.cli import llmkube, load_all
from tests.support.crds import UPSTREAM_CRDS
from tests.support.paths import EXAMPLES

NVIDIA = UPSTREAM_CRDS / "nvidia-examples"

# Every test here renders with the upstream CRDs or reads NVIDIA's config examples.
pytestmark = pytest.mark.usefixtures("upstream_crds")
HEAD = "apiVersion: llmkube.dev/v1alpha1\n"
# Knative mode for example 05: the flags its node selector, anti-affinity and writable cache claim need.
KNATIVE_70B = (
    "deploymentMode: Knative\n  knativeFeatures: [kubernetes.podspec-nodeselector, kubernetes.podspec-affinity, "
    "kubernetes.podspec-persistent-volume-claim, kubernetes.podspec-persistent-volume-write]"
)


def render(path_or_text, tmp_path=None, *extra: str) -> tuple[int, list[dict], str]:
    if tmp_path is not None:
        spec = tmp_path / "spec.yaml"
        spec.write_text(path_or_text)
        path_or_text = spec
    out = llmkube("render", str(path_or_text), "--crds", str(UPSTREAM_CRDS), *extra)
    return out.returncode, load_all(out.stdout) if out.returncode == 0 else [], out.stderr


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def predictor_container(isvc: dict) -> dict:
    (container,) = isvc["spec"]["predictor"]["containers"]
    return container


# ---- the textbook endpoint -------------------------------------------------------------


def test_vllm_endpoint_carries_the_spec_in_vllm_flags():
    rc, docs, err = render(EXAMPLES / "05-llama-70b-vllm-endpoint.yaml")
    assert rc == 0, err
    (isvc,) = by_kind(docs, "InferenceService")
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 8)
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "keda"
    assert "canaryTrafficPercent" not in predictor  # KServe ignores it in Standard mode
    c = predictor_container(isvc)
    args = c["args"]
    pairs = dict(zip(args[::2], args[1::2]))
    assert pairs["--model"] == "meta-llama/Llama-3.1-70B-Instruct"
    assert pairs["--tensor-parallel-size"] == "4"
    assert pairs["--max-model-len"] == "8192"
    assert pairs["--gpu-memory-utilization"] == "0.9"
    assert pairs["--max-num-seqs"] == "128"
    assert "--enable-chunked-prefill" in args
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 4
    assert any(v.get("emptyDir", {}).get("medium") == "Memory" for v in predictor["volumes"])
    (pdb,) = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == {"serving.kserve.io/inferenceservice": "llama-70b-chat"}
    anti = predictor["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"


def test_startup_probe_budget_covers_the_load_time_and_others_do_not_restart_a_loading_model():
    rc, docs, _ = render(EXAMPLES / "05-llama-70b-vllm-endpoint.yaml")
    c = predictor_container(by_kind(docs, "InferenceService")[0])
    store = ProfileStore.load()
    model = store.model("meta-llama/Llama-3.1-70B-Instruct")
    # 70.55 B params × 2 bytes = 141.1 GB at the default 0.5 GB/s + 120 s start-up
    estimate = load_seconds(weight_bytes(model), 0.5, 120)
    assert math.isclose(estimate, 70.55e9 * 2 / 0.5e9 + 120)
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= estimate
    assert "initialDelaySeconds" not in c["livenessProbe"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    # Standard mode: no Knative revision deadline to outlast
    assert "serving.knative.dev/progress-deadline" not in (by_kind(docs, "InferenceService")[0]["spec"]["predictor"].get("annotations") or {})


def test_knative_progress_deadline_outlasts_the_startup_budget(tmp_path):
    text = (EXAMPLES / "05-llama-70b-vllm-endpoint.yaml").read_text().replace("deploymentMode: Standard", KNATIVE_70B)
    text = text.replace("autoscaling: {metric: queued-requests, target: 4, prometheus: \"http://prometheus-operated.monitoring:9090\"}", "autoscaling: {metric: concurrency, target: 5}")
    rc, docs, err = render(text, tmp_path)
    assert rc == 0, err
    predictor = by_kind(docs, "InferenceService")[0]["spec"]["predictor"]
    startup = predictor_container(by_kind(docs, "InferenceService")[0])["startupProbe"]
    deadline = predictor["annotations"]["serving.knative.dev/progress-deadline"]
    assert int(deadline.rstrip("s")) > startup["periodSeconds"] * startup["failureThreshold"]


def strip_runtime(isvc: dict) -> dict:
    out = copy.deepcopy(isvc)
    c = predictor_container(out)
    for key in ("args", "image"):
        c.pop(key)
    out["spec"]["predictor"].pop("autoScaling")  # each server's own queue metric
    return out


def test_vllm_and_tgi_from_the_same_spec_differ_only_in_runtime_parts():
    _, vllm_docs, _ = render(EXAMPLES / "05-llama-70b-vllm-endpoint.yaml")
    _, tgi_docs, _ = render(EXAMPLES / "06-llama-70b-tgi-endpoint.yaml")
    vllm = by_kind(vllm_docs, "InferenceService")[0]
    tgi = by_kind(tgi_docs, "InferenceService")[0]
    a, b = strip_runtime(vllm), strip_runtime(tgi)
    # the examples differ only in `runtime` and the endpoint name
    def rename(node):
        if isinstance(node, dict):
            return {k: rename(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rename(v) for v in node]
        return node.replace("llama-70b-chat-tgi", "llama-70b-chat") if isinstance(node, str) else node

    assert rename(b) == a
    targs = predictor_container(tgi)["args"]
    pairs = dict(zip(targs[::2], targs[1::2]))
    assert pairs["--model-id"] == "meta-llama/Llama-3.1-70B-Instruct"
    assert pairs["--num-shard"] == "4"
    assert pairs["--max-total-tokens"] == "8192" and pairs["--max-input-tokens"] == "8191"
    assert pairs["--max-batch-size"] == "128"  # the batch; TGI's admission cap stays at its default 128
    assert "--max-concurrent-requests" not in pairs
    assert pairs["--cuda-memory-fraction"] == "0.9"
    assert "text-generation-inference" in predictor_container(tgi)["image"]
    assert "vllm" in predictor_container(vllm)["image"] and not predictor_container(vllm)["image"].endswith(":latest")


ENDPOINT = HEAD + """kind: InferenceEndpoint
metadata: {name: ep, namespace: serving}
spec:
  model: meta-llama/Llama-3.1-8B-Instruct
  gpu: h100-80gb
"""


def test_scaling_on_queued_requests_uses_keda_and_prometheus(tmp_path):
    text = ENDPOINT + "  deploymentMode: RawDeployment\n  autoscaling: {metric: queued-requests, target: 4, prometheus: 'http://prometheus.monitoring:9090'}\n"
    rc, docs, err = render(text, tmp_path)
    assert rc == 0, err
    (isvc,) = by_kind(docs, "InferenceService")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "keda"
    (metric,) = isvc["spec"]["predictor"]["autoScaling"]["metrics"]
    assert metric["external"]["metric"]["query"] == 'sum(vllm:num_requests_waiting{namespace="serving",model_name="llama-3.1-8b-instruct"})'
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "4"}


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("  autoscaling: {metric: concurrency, target: 5}\n  deploymentMode: RawDeployment\n", "Serverless"),
        ("  autoscaling: {metric: queued-requests, target: 5}\n  deploymentMode: Knative\n", "RawDeployment"),
        ("  target: deployment\n  canary: {trafficPercent: 10}\n", "KServe"),
        ("  tensorParallel: 16\n", "inside one node"),
        ("  migProfile: 3g.40gb\n  tensorParallel: 2\n", "MIG"),
        ("  migProfile: 3g.71gb\n", "no MIG profile"),
        ("  runtime: tgi\n  dtype: float32\n", "TGI"),
        ("  pool: somewhere\n", "exclusive"),
        ("  autoscaling: {metric: concurrency, target: 0.5}\n", "whole number"),
        ("  maxConcurrentRequests: 64\n", "no admission cap"),
        ("  runtime: tgi\n  maxNumSeqs: 64\n  maxConcurrentRequests: 32\n", "refuses (429)"),
        ("  maxNumSeqs: 256\n  maxBatchTokens: 128\n", "below max-num-seqs"),
        ("  maxModelLen: 8192\n  chunkedPrefill: false\n  maxBatchTokens: 4096\n", "without chunked prefill"),
        ("  runtime: tgi\n  task: embed\n", "text-embeddings-inference"),
        ("  image: vllm/vllm-openai:v0.13.0\n  extraArgs: [--task, embed]\n", "removed in vLLM 0.13"),
        ("  startup: {source: pvc}\n", "`cache` claim"),
        ("  image: vllm/vllm-openai:v0.11.0\n  startup: {source: image, downloadThroughputGBps: 1}\n", "no effect"),
        ("  runtime: tgi\n  pipelineParallel: 2\n", "TGI has no pipeline parallelism"),
        ("  runtime: tgi\n  enforceEager: true\n", "enforceEager is a vLLM setting"),
        ("  tensorParallel: 4\n  pipelineParallel: 4\n", "16 GPUs exceeds the 8 GPUs"),
    ],
)
def test_endpoint_mistakes_exit_2(tmp_path, extra, words):
    rc, _, err = render(ENDPOINT + extra, tmp_path)
    assert rc == 2, err
    assert words in err and "Traceback" not in err


def test_a_deployment_target_outlives_the_model_load(tmp_path):
    rc, docs, err = render(ENDPOINT + "  target: deployment\n  tensorParallel: 2\n", tmp_path)
    assert rc == 0, err
    (deploy,) = by_kind(docs, "Deployment")
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    budget = container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"]
    assert deploy["spec"]["progressDeadlineSeconds"] > budget
    (service,) = by_kind(docs, "Service")
    assert service["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    assert not by_kind(docs, "PodDisruptionBudget")  # one replica: no HA objects


# ---- MIG ------------------------------------------------------------------------------


def test_mig_pool_renders_the_real_gpu_operator_mechanism():
    rc, docs, err = render(EXAMPLES / "07-h100-mig-pool-with-8b-endpoint.yaml")
    assert rc == 0, err
    (cm,) = by_kind(docs, "ConfigMap")
    config = YAML(typ="safe").load(cm["data"]["config.yaml"])
    upstream = YAML(typ="safe").load((NVIDIA / "mig-parted_examples_config.yaml").read_text())
    assert config["version"] == upstream["version"] == "v1"
    entry = config["mig-configs"]["llmkube-h100-mig"][0]
    assert set(entry) == set(upstream["mig-configs"]["all-balanced"][0]) - {"device-filter"} | {"devices", "mig-enabled", "mig-devices"}
    assert entry == {"devices": "all", "mig-enabled": True, "mig-devices": {"2g.20gb": 2, "3g.40gb": 1}}
    assert config["mig-configs"]["all-disabled"] == upstream["mig-configs"]["all-disabled"]
    # the operator's stock configs for the pool's H100s survive the custom ConfigMap
    assert config["mig-configs"]["all-1g.10gb"] == [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 7}}]
    assert {"all-enabled", "all-balanced", "all-7g.80gb", "all-1g.10gb.me"} <= set(config["mig-configs"])
    (policy,) = by_kind(docs, "ClusterPolicy")
    assert policy["spec"]["mig"] == {"strategy": "mixed"}
    assert policy["spec"]["migManager"]["config"]["name"] == cm["metadata"]["name"]
    (flavor,) = by_kind(docs, "ResourceFlavor")
    assert flavor["spec"]["nodeLabels"]["nvidia.com/mig.config"] == "llmkube-h100-mig"
    # not gated on mig-manager's state label: it flips to pending/rebooting on every change (see spec-reference)
    assert "nvidia.com/mig.config.state" not in flavor["spec"]["nodeLabels"]
    assert "kubectl label nodes -l cloud.google.com/gke-nodepool=h100-mig nvidia.com/mig.config=llmkube-h100-mig --overwrite" in err
    assert "apply it server-side" in err  # a client-side apply would wipe the operator's ClusterPolicy
    (deploy,) = by_kind(docs, "Deployment")
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"memory": "32Gi", "nvidia.com/mig-3g.40gb": 1}
    assert deploy["spec"]["template"]["spec"]["nodeSelector"]["nvidia.com/mig.config"] == "llmkube-h100-mig"


FLEET = HEAD + """kind: Fleet
metadata: {name: f}
spec:
  pools:
    - name: gpus
      gpu: GPU
      nodeLabels: {pool: gpus}
"""


def fleet(gpu: str) -> str:
    return FLEET.replace("GPU", gpu)


def test_impossible_mig_layout_names_the_pool_and_a_valid_alternative(tmp_path):
    text = fleet("h100-80gb") + "      mig: {layout: {4g.40gb: 1, 2g.20gb: 2}}\n"
    rc, _, err = render(text, tmp_path)
    assert rc == 2
    assert "pool 'gpus'" in err
    assert "4g.40gb + 2g.20gb + 1g.20gb" in err  # the closest valid layout
    assert "spec.pools[0].mig.layout" in err


def test_mig_profile_of_another_gpu_gets_a_cross_gpu_hint(tmp_path):
    text = fleet("h200-141gb") + "      mig: {layout: {3g.40gb: 2}}\n"
    rc, _, err = render(text, tmp_path)
    assert rc == 2 and "3g.71gb" in err


def test_single_strategy_uses_nvidia_gpu_and_the_mig_product_label(tmp_path):
    fleet_text = fleet("a100-80gb") + "      mig: {strategy: single, layout: {1g.10gb: 7}}\n"
    endpoint = "---\n" + HEAD + """kind: InferenceEndpoint
metadata: {name: small, namespace: serving}
spec:
  model: meta-llama/Llama-3.2-1B-Instruct
  pool: gpus
  migProfile: 1g.10gb
  target: deployment
"""
    rc, docs, err = render(fleet_text + endpoint, tmp_path)
    assert rc == 0, err
    (flavor,) = by_kind(docs, "ResourceFlavor")
    assert flavor["spec"]["nodeLabels"]["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb"
    assert flavor["metadata"]["annotations"]["llmkube.dev/gpu-resources"] == "nvidia.com/gpu=56"
    (deploy,) = by_kind(docs, "Deployment")
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 1}


def test_single_strategy_with_two_profiles_is_refused(tmp_path):
    rc, _, err = render(fleet("h100-80gb") + "      mig: {strategy: single, layout: {3g.40gb: 1, 2g.20gb: 2}}\n", tmp_path)
    assert rc == 2 and "mixed" in err


def test_quota_on_a_mixed_mig_pool_asks_for_slice_resources(tmp_path):
    fleet_text = fleet("h100-80gb") + "      mig: {layout: {3g.40gb: 2}}\n"
    quota = "---\n" + HEAD + "kind: Quota\nmetadata: {name: q}\nspec:\n  resources:\n    - {pool: gpus, gpu: 8}\n"
    rc, _, err = render(fleet_text + quota, tmp_path)
    assert rc == 2 and "nvidia.com/mig-3g.40gb" in err
    quota_ok = quota.replace("gpu: 8", "extra: {nvidia.com/mig-3g.40gb: 16}")
    rc, docs, err = render(fleet_text + quota_ok, tmp_path)
    assert rc == 0, err
    (cq,) = by_kind(docs, "ClusterQueue")
    assert cq["spec"]["resourceGroups"][0]["coveredResources"] == ["nvidia.com/mig-3g.40gb"]



TWO_FLEETS = {
    "a.yaml": HEAD + """kind: Fleet
metadata: {name: fleet-a}
spec:
  pools:
    - {name: h100-mig, gpu: h100-80gb, nodeLabels: {pool: a}, mig: {layout: {3g.40gb: 1, 2g.20gb: 2}}}
""",
    "b.yaml": HEAD + """kind: Fleet
metadata: {name: fleet-b}
spec:
  pools:
    - {name: a100-mig, gpu: a100-80gb, nodeLabels: {pool: b}, mig: {layout: {1g.10gb: 7}}}
    - {name: l4-shared, gpu: l4, nodeLabels: {pool: c}, sharing: {timeSlicing: {replicas: 4}}}
""",
}

OPERATOR_KINDS = ("ConfigMap", "ClusterPolicy")


def _render_files(tmp_path, files: dict[str, str], order=None):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    out = llmkube("render", *(str(tmp_path / n) for n in (order or files)), "--crds", str(UPSTREAM_CRDS))
    return out.returncode, load_all(out.stdout) if out.returncode == 0 else [], out.stderr


def test_fleets_rendered_together_share_the_gpu_operators_configmaps(tmp_path):
    """The operator reads one mig-parted and one device-plugin ConfigMap: two Fleets' pools land in
    the same objects, exactly as if one Fleet held all the pools, whichever file comes first."""
    rc, docs, err = _render_files(tmp_path, TWO_FLEETS)
    assert rc == 0, err
    shared = [d for d in docs if d["kind"] in OPERATOR_KINDS]
    assert [d["kind"] for d in shared] == ["ConfigMap", "ConfigMap", "ClusterPolicy"]
    mig_cm = next(d for d in shared if "config.yaml" in d.get("data", {}))
    configs = YAML(typ="safe").load(mig_cm["data"]["config.yaml"])["mig-configs"]
    assert configs["llmkube-h100-mig"][0]["mig-devices"] == {"2g.20gb": 2, "3g.40gb": 1}
    assert configs["llmkube-a100-mig"][0]["mig-devices"] == {"1g.10gb": 7}
    assert "device-filter" in configs["all-balanced"][0]  # stock configs for both GPU types
    assert "llmkube-l4-shared" in next(d for d in shared if d is not mig_cm and d["kind"] == "ConfigMap")["data"]
    assert len(by_kind(docs, "ResourceFlavor")) == 3

    pools = "\n".join(t.split("pools:\n", 1)[1].rstrip() for t in TWO_FLEETS.values())
    rc, one, err = render(HEAD + "kind: Fleet\nmetadata: {name: one}\nspec:\n  pools:\n" + pools + "\n", tmp_path)
    assert rc == 0, err
    assert [d for d in one if d["kind"] in OPERATOR_KINDS] == shared
    rc, swapped, err = _render_files(tmp_path, TWO_FLEETS, order=["b.yaml", "a.yaml"])
    assert rc == 0, err
    assert [d for d in swapped if d["kind"] in OPERATOR_KINDS] == shared


@pytest.mark.parametrize(
    "change, where, message",
    [
        (("name: a100-mig", "name: h100-mig"), "b.yaml:6:", "pool 'h100-mig' is also a pool of Fleet 'fleet-a'"),
        (("spec:\n", "spec:\n  gpuOperator: {namespace: nvidia}\n"), "b.yaml:5:", "gpuOperator differs from that of Fleet 'fleet-a'"),
        (("layout: {1g.10gb: 7}", "strategy: single, layout: {1g.10gb: 7}"), "b.yaml:6:", "MIG strategy 'single' differs from Fleet 'fleet-a'"),
    ],
)
def test_fleets_that_cannot_share_the_gpu_operator_are_refused_at_the_later_one(tmp_path, change, where, message):
    files = dict(TWO_FLEETS, **{"b.yaml": TWO_FLEETS["b.yaml"].replace(*change, 1)})
    rc, _, err = _render_files(tmp_path, files)
    assert rc == 2 and message in err, err
    assert f"{tmp_path / where}" in err and "Traceback" not in err


# ---- sharing ----------------------------------------------------------------------------


def test_time_slicing_config_matches_the_device_plugin_format():
    rc, docs, err = render(EXAMPLES / "08-l4-time-slicing-embeddings.yaml")
    assert rc == 0, err
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == "llmkube-device-plugin-config"]
    config = YAML(typ="safe").load(cm["data"]["llmkube-l4-shared"])
    upstream = YAML(typ="safe").load((NVIDIA / "k8s-device-plugin_readme_time-slicing.yaml").read_text())
    assert set(config) == set(upstream) == {"version", "sharing"}
    assert config["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/gpu", "replicas": 4}]
    (policy,) = by_kind(docs, "ClusterPolicy")
    assert policy["spec"]["devicePlugin"]["config"] == {"name": "llmkube-device-plugin-config", "default": "default"}
    (flavor,) = by_kind(docs, "ResourceFlavor")
    assert flavor["spec"]["nodeLabels"]["nvidia.com/gpu.product"] == "NVIDIA-L4-SHARED"
    assert flavor["spec"]["nodeLabels"]["nvidia.com/device-plugin.config"] == "llmkube-l4-shared"
    assert "nvidia.com/device-plugin.config=llmkube-l4-shared" in err


def test_mps_with_rename_matches_the_upstream_shape(tmp_path):
    rc, docs, err = render(fleet("l4") + "      sharing: {mps: {replicas: 10, renameByDefault: true}}\n", tmp_path)
    assert rc == 0, err
    (cm,) = [d for d in by_kind(docs, "ConfigMap")]
    config = YAML(typ="safe").load(cm["data"]["llmkube-gpus"])
    upstream = YAML(typ="safe").load((NVIDIA / "k8s-device-plugin_readme_mps-rename.yaml").read_text())
    assert config == upstream
    (flavor,) = by_kind(docs, "ResourceFlavor")
    assert flavor["metadata"]["annotations"]["llmkube.dev/gpu-resources"] == "nvidia.com/gpu.shared=80"


@pytest.mark.parametrize(
    ("pool_extra", "words"),
    [
        ("      sharing: {timeSlicing: {replicas: 4}, mps: {replicas: 4}}\n", "exclude each other"),
        ("      sharing: {mps: {replicas: 1}}\n", "at least 2 replicas"),
        ("      mig: {layout: {3g.40gb: 2}}\n      sharing: {mps: {replicas: 2}}\n", "not available on MIG"),
    ],
)
def test_conflicting_sharing_settings_are_refused_naming_the_pool(tmp_path, pool_extra, words):
    rc, _, err = render(fleet("h100-80gb") + pool_extra, tmp_path)
    assert rc == 2
    assert "pool 'gpus'" in err and words in err


def test_mig_or_sharing_pools_need_node_labels(tmp_path):
    text = fleet("l4").replace("      nodeLabels: {pool: gpus}\n", "") + "      sharing: {timeSlicing: {replicas: 2}}\n"
    rc, _, err = render(text, tmp_path)
    assert rc == 2 and "nodeLabels" in err


def test_startup_budget_rounds_up_with_a_margin():
    budget = startup_budget(402)
    assert budget.seconds >= 402 * 1.25 and budget.period_seconds == 10
    assert startup_budget(1).failure_threshold == 3


def test_endpoint_node_selector_is_merged_over_the_derived_one(tmp_path):
    rc, docs, err = render(ENDPOINT + "  nodeSelector: {cloud.google.com/gke-nodepool: serving}\n", tmp_path)
    assert rc == 0, err
    (isvc,) = by_kind(docs, "InferenceService")
    assert isvc["spec"]["predictor"]["nodeSelector"] == {
        "cloud.google.com/gke-nodepool": "serving",
        "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
    }


def test_tensor_parallel_is_bounded_by_the_pools_node_size(tmp_path):
    text = fleet("h100-80gb").replace("      nodeLabels:", "      gpusPerNode: 2\n      nodeLabels:") + "---\n" + HEAD + """kind: InferenceEndpoint
metadata: {name: big, namespace: serving}
spec:
  model: meta-llama/Llama-3.1-70B-Instruct
  pool: gpus
  tensorParallel: 4
"""
    rc, _, err = render(text, tmp_path)
    assert rc == 2 and "exceeds the 2 GPUs of one pool 'gpus' node" in err


def test_memory_limit_is_the_request_plus_dev_shm_as_the_reference_says():
    rc, docs, err = render(EXAMPLES / "05-llama-70b-vllm-endpoint.yaml")
    assert rc == 0, err
    c = predictor_container(by_kind(docs, "InferenceService")[0])
    assert c["resources"]["requests"]["memory"] == "128Gi"
    assert c["resources"]["limits"]["memory"] == "130Gi"  # + the 2Gi /dev/shm of a tensor-parallel replica
    reference = (EXAMPLES.parent / "spec-reference.md").read_text()
    assert "`128Gi` with a `2Gi` `/dev/shm` → limit `130Gi`" in reference


def test_deprecated_task_flag_is_noted_and_embedding_uses_the_runner():
    rc, docs, err = render(EXAMPLES / "08-l4-time-slicing-embeddings.yaml")
    assert rc == 0, err
    (deploy,) = by_kind(docs, "Deployment")
    args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--runner") + 1] == "pooling" and "--task" not in args
    assert "--convert" not in args  # bge is a native embedding model (no ModelProfile)


def test_task_in_extra_args_on_a_runner_era_vllm_is_a_note(tmp_path):
    rc, _, err = render(ENDPOINT + "  extraArgs: [--task, embed]\n", tmp_path)
    assert rc == 0, err
    assert "deprecated since vLLM 0.10.1" in err


def _startup_seconds(docs: list[dict]) -> int:
    (deploy,) = by_kind(docs, "Deployment")
    probe = deploy["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    return probe["periodSeconds"] * probe["failureThreshold"]


@pytest.mark.parametrize(
    ("extra", "download_gbps"),
    [
        ("", 0.1),  # no cache: every start pulls from the hub
        ("  cache: {claim: hf-cache}\n", None),  # a cache claim: read, not pulled
        ("  startup: {source: object-store}\n", 0.5),
        ("  startup: {source: hub, downloadThroughputGBps: 1}\n", 1.0),
        ("  cache: {claim: hf-cache}\n  startup: {source: hub}\n", 0.1),  # a first pull into an empty claim
        ("  startup: {source: image}\n", None),
    ],
)
def test_the_weights_source_is_part_of_the_startup_budget(tmp_path, extra, download_gbps):
    rc, docs, err = render(ENDPOINT + "  target: deployment\n" + extra, tmp_path)
    assert rc == 0, err
    weights = weight_bytes(ProfileStore.load().model("meta-llama/Llama-3.1-8B-Instruct"))
    estimate = load_seconds(weights, 0.5, 120, download_gbps)
    assert _startup_seconds(docs) == startup_budget(estimate).seconds
    if download_gbps:
        assert estimate > load_seconds(weights, 0.5, 120)


def test_validate_reads_the_source_as_the_planner_budgets_it(tmp_path):
    # what llmkube renders for a hub-sourced endpoint passes its own start-up rules, spec or not
    spec = ENDPOINT + "  target: deployment\n"
    rc, docs, err = render(spec, tmp_path)
    assert rc == 0, err
    out = tmp_path / "rendered.yaml"
    from ruamel.yaml import YAML as _Y
    import io
    buf = io.StringIO()
    _Y().dump_all(docs, buf)
    out.write_text(buf.getvalue())
    result = llmkube("validate", str(out), "--crds", str(UPSTREAM_CRDS))
    assert not any(code in result.stdout + result.stderr for code in ("LK305", "LK306", "LK307")), result.stdout


def test_pipeline_parallel_requests_tp_times_pp_gpus_and_plan_reads_it_back(tmp_path):
    # pipelineParallel → --pipeline-parallel-size and a TP × PP GPU request; `llmkube plan` reads the
    # rendered flags back (fp8 KV, eager mode) and sizes each stage
    text = ENDPOINT + "  tensorParallel: 2\n  pipelineParallel: 2\n  kvCacheDtype: fp8\n  enforceEager: true\n"
    rc, docs, err = render(text, tmp_path)
    assert rc == 0, err
    (isvc,) = by_kind(docs, "InferenceService")
    c = predictor_container(isvc)
    pairs = dict(zip(c["args"][::2], c["args"][1::2]))
    assert pairs["--pipeline-parallel-size"] == "2" and pairs["--kv-cache-dtype"] == "fp8"
    assert "--enforce-eager" in c["args"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 4
    spec = tmp_path / "spec.yaml"
    out = llmkube("plan", str(spec), "-o", "json")
    (row,) = json.loads(out.stdout)["items"]
    assert (row["tensor_parallel"], row["pipeline_parallel"]) == (2, 2)
    assert row["cuda_graph_gib"] == 0 and row["binding_stage"] == 1


def test_only_the_first_fleet_of_a_cluster_policy_carries_the_shared_objects():
    """The merged ConfigMaps are built once, by the group's first Fleet: every Fleet building them
    for the whole group cost the square of the Fleets (10,000 specs held 1,668)."""
    from llmkube.plan.context import PlanContext
    from llmkube.plan.fleet import plan_fleet, register_fleet
    from llmkube.profiles import ProfileStore
    from llmkube.specs.fleet import Fleet

    def fleet_spec(i: int) -> Fleet:
        pool = {"name": f"mig-{i}", "gpu": "h100-80gb", "nodeLabels": {"pool": str(i)}, "mig": {"layout": {"1g.10gb": 7}}}
        return Fleet.model_validate({"apiVersion": "llmkube.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": f"f{i}"}, "spec": {"pools": [pool]}})

    ctx = PlanContext(profiles=ProfileStore.load())
    fleets = [fleet_spec(i) for i in range(3)]
    for f in fleets:
        register_fleet(f, ctx)
    plans = [plan_fleet(f, ctx) for f in fleets]
    assert [p.gpu_operator is not None for p in plans] == [True, False, False]
    configs = YAML(typ="safe").load(plans[0].gpu_operator.mig_config)["mig-configs"]
    assert {"llmkube-mig-0", "llmkube-mig-1", "llmkube-mig-2"} <= set(configs)
