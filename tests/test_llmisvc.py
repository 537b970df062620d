"""InferenceEndpoint `target: llm-inference-service` (issue 17): KServe's LLMInferenceService, with
prefill/decode disaggregation, against the v0.20.0 CRD and KServe's own samples."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from llmkube.check.read.llmisvc import pools
from llmkube.check.run import Target
from llmkube.plan.context import PlanContext
from llmkube.plan.llmisvc import plan_llm_inference_service, preset_safe
from llmkube.plan.sizing import ServerConfig, load_seconds, serving_fit, weight_bytes
from llmkube.specs.inferenceendpoint import InferenceEndpoint, semantic_problems
from tests.support.cli import llmkube, load_all
from tests.support.crds import UPSTREAM_CRDS
from tests.support.paths import EXAMPLES

EXAMPLE = EXAMPLES / "09-llama-70b-disaggregated-llmisvc.yaml"
SAMPLES = UPSTREAM_CRDS / "examples" / "kserve"
PD_SAMPLE = SAMPLES / "llm-inference-service-pd-qwen2-7b-gpu.yaml"
GPU_SAMPLE = SAMPLES / "llm-inference-service-qwen2-7b-gpu.yaml"


def spec_of(text: str) -> InferenceEndpoint:
    return InferenceEndpoint.model_validate(YAML(typ="safe").load(text))


BASE = """
apiVersion: llmkube.dev/v1alpha1
kind: InferenceEndpoint
metadata: {name: llama-70b, namespace: serving}
spec:
  model: meta-llama/Llama-3.1-70B-Instruct
  target: llm-inference-service
  gpu: h100-80gb
  tensorParallel: 4
  maxModelLen: 8192
  resources: {cpu: 8, memory: 64Gi}
"""


def render_text(tmp_path, text: str, *extra: str) -> tuple[int, list[dict], str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    out = llmkube("render", str(spec), "--crds", str(UPSTREAM_CRDS), *extra)
    return out.returncode, load_all(out.stdout) if out.returncode == 0 else [], out.stderr


def target(obj: dict) -> Target:
    return Target(obj=obj)


@pytest.fixture(scope="module")
def example_out():
    out = llmkube("render", str(EXAMPLE), "--crds", str(UPSTREAM_CRDS))
    assert out.returncode == 0, out.stderr
    (obj,) = load_all(out.stdout)
    return obj, out.stderr


def sample(path) -> dict:
    return YAML(typ="safe").load(path.read_text())


def keys(d: dict) -> set[str]:
    return set(d)


@pytest.mark.usefixtures("upstream_crds")
def test_example_has_the_shape_of_kserves_pd_sample(example_out):
    ours, _ = example_out
    upstream = sample(PD_SAMPLE)
    assert (ours["apiVersion"], ours["kind"]) == (upstream["apiVersion"], upstream["kind"])
    # the same sections, and nothing the sample does not have but the parallelism of each pool
    assert keys(upstream["spec"]) <= keys(ours["spec"]) <= keys(upstream["spec"]) | {"parallelism"}
    assert keys(upstream["spec"]["router"]) == keys(ours["spec"]["router"])
    assert keys(upstream["spec"]["prefill"]) <= keys(ours["spec"]["prefill"]) <= keys(upstream["spec"]["prefill"]) | {"parallelism"}
    network = "k8s.v1.cni.cncf.io/networks"
    assert ours["metadata"]["annotations"][network] == upstream["metadata"]["annotations"][network] == "roce-p2"
    # pool by pool: the same container, KV roles, RDMA device and NIXL variables as the sample
    ours_pools, upstream_pools = pools(target(ours)), pools(target(upstream))
    assert [p.role for p in ours_pools] == [p.role for p in upstream_pools] == ["decode", "prefill"]
    for mine, theirs in zip(ours_pools, upstream_pools):
        (_, c), (_, u) = mine.main_container(), theirs.main_container()
        assert c["name"] == u["name"] == "main"
        kv, ukv = mine.kv_transfer(), theirs.kv_transfer()
        assert (kv.connector, kv.role) == (ukv.connector, ukv.role)
        assert mine.rdma_resources() == theirs.rdma_resources() == {"rdma/roce_gdr": 1}
        for section in ("requests", "limits"):
            assert c["resources"][section]["rdma/roce_gdr"] == u["resources"][section]["rdma/roce_gdr"]
        env, uenv = ({e["name"]: e for e in x["env"]} for x in (c, u))
        for name in ("VLLM_NIXL_SIDE_CHANNEL_HOST", "KSERVE_INFER_ROCE", "UCX_TLS"):
            assert env[name] == uenv[name], name


@pytest.mark.usefixtures("upstream_crds")
def test_example_pools_get_their_own_parallelism_gpus_and_probe_ports(example_out, store):
    ours, notes = example_out
    spec = ours["spec"]
    decode = spec["template"]["containers"][0]
    prefill = spec["prefill"]["template"]["containers"][0]
    assert (spec["replicas"], spec["parallelism"]["tensor"], decode["resources"]["limits"]["nvidia.com/gpu"]) == (1, 8, 8)
    assert (spec["prefill"]["replicas"], spec["prefill"]["parallelism"]["tensor"], prefill["resources"]["limits"]["nvidia.com/gpu"]) == (2, 4, 4)
    # vLLM listens on 8000; behind the decode preset's routing sidecar, on 8001 (KServe v0.20.0 presets)
    assert decode["startupProbe"]["httpGet"] == {"path": "/health", "port": 8001, "scheme": "HTTP"}
    assert prefill["startupProbe"]["httpGet"] == {"path": "/health", "port": 8000, "scheme": "HTTP"}
    # the probe covers the load from local disk (the storage initializer downloaded the weights before)
    model = store.model("meta-llama/Llama-3.1-70B-Instruct")
    load = load_seconds(weight_bytes(model), 0.5, 120)
    for c in (decode, prefill):
        probe = c["startupProbe"]
        assert load <= probe["periodSeconds"] * probe["failureThreshold"] < load * 1.5
        assert "--tensor-parallel-size" not in c["args"] and "--model" not in c["args"]
        assert c["resources"]["limits"]["cpu"] == c["resources"]["requests"]["cpu"] == 16
        assert c["resources"]["limits"]["memory"] == "130Gi"  # 128Gi + the 2Gi /dev/shm
        assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "HF_TOKEN"}}} in c["env"]
    # the plan sizes both pools: decode (TP 8) holds more KV cache than a prefill pod (TP 4)
    assert "prefill pool: 2 × 4 h100-80gb (TP 4)" in notes and "decode pool: 1 × 8 h100-80gb (TP 8)" in notes
    gpu = store.gpu("h100-80gb")
    tokens = {tp: serving_fit(model, gpu.spec.memory_gi_b, ServerConfig(tensor_parallel=tp, max_model_len=16384),
                              gpu_name=gpu.spec.display_name).kv_tokens for tp in (4, 8)}
    assert f"{tokens[8]:,} tokens" in notes and f"{tokens[4]:,} tokens" in notes and tokens[8] > tokens[4]


@pytest.mark.usefixtures("upstream_crds")
def test_single_pool_with_references_passes_the_crd_and_kserves_checks(tmp_path):
    text = BASE + """  extraArgs: ['--speculative-config={"method":"ngram","num_speculative_tokens":4}']
  replicas: {min: 2, max: 2}
  llmInferenceService:
    gateway: {name: llm-gateway, namespace: gateways}
    httpRoute: llama-route
    inferencePool: llama-pool
    tls: true
    baseRefs: [team-defaults]
"""
    rc, docs, err = render_text(tmp_path, text)
    assert rc == 0, err
    (obj,) = docs
    spec = obj["spec"]
    assert spec["router"] == {
        "gateway": {"refs": [{"name": "llm-gateway", "namespace": "gateways"}]},
        "route": {"http": {"refs": [{"name": "llama-route"}]}},
        "scheduler": {"pool": {"ref": {"name": "llama-pool"}}},
    }
    assert spec["baseRefs"] == [{"name": "team-defaults"}] and "prefill" not in spec
    c = spec["template"]["containers"][0]
    assert c["startupProbe"]["httpGet"] == {"path": "/health", "port": 8000, "scheme": "HTTPS"}
    # quoted for the preset's eval: the words vLLM gets hold the JSON intact
    (pool,) = pools(target(obj))
    assert '--speculative-config={"method":"ngram","num_speculative_tokens":4}' in pool.words()
    assert spec["template"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0][
        "podAffinityTerm"]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "llminferenceservice-workload"
    check = llmkube("validate", "-", "--crds", str(UPSTREAM_CRDS), "-o", "json", stdin=json.dumps(obj))
    assert [f for f in json.loads(check.stdout)["findings"] if f["severity"] in ("error", "warning")] == []
    # same structure as KServe's single-GPU sample
    upstream = sample(GPU_SAMPLE)
    assert keys(upstream["spec"]) <= keys(spec) and keys(upstream["spec"]["router"]) == keys(spec["router"])


def test_preset_safe_quotes_only_what_eval_would_break():
    assert preset_safe(["--max-model-len", "8192", '{"a":"b"}']) == ("--max-model-len", "8192", """'{"a":"b"}'""")


@pytest.mark.parametrize(("extra", "path", "words"), [
    ("  runtime: tgi\n", ("spec", "runtime"), "vLLM"),
    ("  port: 9000\n", ("spec", "port"), "8000"),
    ("  replicas: {min: 1, max: 4}\n  autoscaling: {metric: concurrency, target: 8}\n", ("spec", "autoscaling"),
     "Workload Variant Autoscaler"),
    ("  nodes: 2\n  pipelineParallel: 2\n", ("spec", "pipelineParallel"), "no pipeline-parallel worker preset"),
    ("  nodes: 2\n  multiNode: {backend: kserve}\n", ("spec", "multiNode"), "data-parallel worker"),
    ("  llmInferenceService: {variantCost: cheap}\n", None, "variantCost"),
    ("  network: {ncclDebug: INFO}\n", ("spec", "network"), "every pool here is one pod"),
    ("  nodes: 2\n  network: {rdma: {resource: rdma/ib}}\n  disaggregation: {rdma: {resource: rdma/ib}}\n",
     ("spec", "network", "rdma"), "disaggregation.rdma"),
    ("  cache: {claim: models}\n", ("spec", "cache"), "/mnt/models"),
    ("  llmInferenceService: {httpRoute: r}\n", ("spec", "llmInferenceService", "httpRoute"), "managed gateway"),
    ("  llmInferenceService: {inferencePool: p, scheduler: false}\n", ("spec", "llmInferenceService", "inferencePool"), "scheduler"),
    ("  disaggregation: {prefill: {replicas: 2}}\n", ("spec", "disaggregation", "rdma"), "RDMA"),
    ("  llmInferenceService: {scheduler: false}\n  disaggregation: {rdma: {resource: rdma/ib}}\n",
     ("spec", "llmInferenceService", "scheduler"), "prefill pool"),
])
def test_spec_problems(extra, path, words):
    if path is None:  # refused by the spec's schema
        with pytest.raises(ValueError, match=words):
            spec_of(BASE + extra)
        return
    problems = semantic_problems(spec_of(BASE + extra))
    assert [p.path for p in problems] == [path], problems
    assert words in problems[0].message


def test_llm_fields_need_the_llm_target():
    text = BASE.replace("target: llm-inference-service", "target: kserve")
    problems = semantic_problems(spec_of(text + "  disaggregation: {rdma: {resource: rdma/ib}}\n  llmInferenceService: {tls: true}\n"))
    assert [p.path for p in problems] == [("spec", "disaggregation"), ("spec", "llmInferenceService")]


def test_pool_tensor_parallel_defaults_to_the_endpoints(store):
    ep = spec_of(BASE + "  replicas: {min: 3, max: 3}\n  disaggregation: {rdma: {resource: vpc.amazonaws.com/efa}}\n")
    plan = plan_llm_inference_service(ep, PlanContext(profiles=store))
    assert (plan.main.role, plan.main.replicas, plan.main.tensor_parallel) == ("decode", 3, 4)
    assert plan.prefill is not None and (plan.prefill.replicas, plan.prefill.tensor_parallel) == (1, 4)
    env = {e["name"] for e in plan.prefill.container.env}
    # EFA: no RoCE discovery, no UCX RDMA transports forced; the side channel still on the pod IP
    assert "VLLM_NIXL_SIDE_CHANNEL_HOST" in env and not env & {"KSERVE_INFER_ROCE", "UCX_TLS"}
    assert plan.prefill.container.resources["limits"]["vpc.amazonaws.com/efa"] == 1


@pytest.mark.usefixtures("upstream_crds")
def test_kserves_samples_pass_the_pool_rules():
    for path in (PD_SAMPLE, GPU_SAMPLE):
        out = llmkube("validate", str(path), "--crds", str(UPSTREAM_CRDS), "-o", "json")
        codes = {f["code"] for f in json.loads(out.stdout)["findings"]}
        assert not codes & {"LK330", "LK331", "LK332", "LK333", "LK101", "LK302", "LK304", "LK305"}, codes


def test_pod_groups_of_a_multi_node_data_parallel_service():
    from llmkube.check.read.workloads import pod_groups

    obj = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "LLMInferenceService", "metadata": {"name": "dp"}, "spec": {
        "replicas": 3, "parallelism": {"tensor": 4, "data": 8, "dataLocal": 2},
        "template": {"containers": [{"name": "main"}]}, "worker": {"containers": [{"name": "main"}]},
        "prefill": {"template": {"containers": [{"name": "main", "volumeMounts": [{"name": "big", "mountPath": "/dev/shm"}]}]}},
    }}
    groups = {g.role: g for g in pod_groups(target(obj))}
    # KServe's ParallelismSpec.GetSize: data ÷ dataLocal = 4 pods per replica, one of them the leader
    assert (groups["decode"].replicas, groups["decode-worker"].replicas, groups["prefill"].replicas) == (3, 9, 1)
    # the presets' /dev/shm is merged in unless the template mounts its own
    assert {"name": "dshm", "mountPath": "/dev/shm"} in groups["decode"].spec["containers"][0]["volumeMounts"]
    assert groups["prefill"].spec["containers"][0]["volumeMounts"] == [{"name": "big", "mountPath": "/dev/shm"}]
    (decode, prefill) = pools(target(obj))
    assert (decode.gpus_needed, decode.lws_size, prefill.gpus_needed) == (8, 4, 1)


# ---- several pods per replica (KServe's data-parallel worker) and autoscaling (the WVA) ----

DP = BASE.replace("tensorParallel: 4", "tensorParallel: 4\n  nodes: 2")


@pytest.mark.usefixtures("upstream_crds")
def test_nodes_render_a_data_parallel_worker_that_fills_each_node(tmp_path, store):
    rc, docs, err = render_text(tmp_path, DP + "  llmInferenceService: {expertParallel: true}\n  network: {ncclDebug: WARN}\n")
    assert rc == 0, err  # the v0.20.0 CRD's schema and CEL
    (obj,) = docs
    spec = obj["spec"]
    # an H100 node has 8 GPUs: 8 ÷ TP 4 = 2 ranks a pod, 2 nodes × 2 = DP 4 (the data-parallel preset's flags)
    assert spec["parallelism"] == {"tensor": 4, "data": 4, "dataLocal": 2, "expert": True}
    assert set(spec) >= {"template", "worker"} and "scaling" not in spec and spec["replicas"] == 1
    leader, worker = spec["template"]["containers"][0], spec["worker"]["containers"][0]
    for c in (leader, worker):
        assert c["resources"]["limits"]["nvidia.com/gpu"] == 8  # TP 4 × 2 local ranks
        # the preset adds --enable-expert-parallel from parallelism.expert, and the TP/DP flags itself
        assert not {"--enable-expert-parallel", "--tensor-parallel-size", "--data-parallel-size"} & set(c["args"])
    assert "startupProbe" in leader and "startupProbe" not in worker  # the presets' workers have no probes
    assert {"name": "NCCL_DEBUG", "value": "WARN"} in leader["env"] and leader["env"] == worker["env"]
    assert "affinity" not in spec["template"]  # a LeaderWorkerSet pod carries the leader/worker component label
    # read back as KServe builds it: one LeaderWorkerSet of data ÷ dataLocal = 2 pods, 8 GPUs each
    (pool,) = pools(target(obj))
    assert (pool.lws_size, pool.gpus_needed) == (2, 8)
    assert "DP 4 = 2 ranks per pod × 2 pods, TP 4 each" in err and "no experts (a dense model)" in err
    assert "has no experts (a dense model)" in err  # Llama-3.1-70B
    model = store.model("meta-llama/Llama-3.1-70B-Instruct")
    from llmkube.plan.engine_memory import rope_cache_bytes

    per_gpu = (weight_bytes(model) / 4 + rope_cache_bytes(model.spec, 2.0)) / 2**30  # TP 4, and vLLM's RoPE table on each GPU
    assert f"per node 2 ranks loading {8 * per_gpu:.1f} GiB of weights ({per_gpu:.1f} GiB per GPU)" in err
    check = llmkube("validate", "-", "--crds", str(UPSTREAM_CRDS), "-o", "json", stdin=json.dumps(obj))
    assert [f for f in json.loads(check.stdout)["findings"] if f["severity"] in ("error", "warning")] == []


def test_expert_parallel_without_a_worker_is_a_flag(store):
    """The single-node presets do not read parallelism.expert: the flag goes in the args."""
    plan = plan_llm_inference_service(spec_of(BASE + "  llmInferenceService: {expertParallel: true}\n"), PlanContext(profiles=store))
    assert plan.main.data_parallel is None and plan.main.worker is None
    assert "--enable-expert-parallel" in plan.main.container.args


def test_data_local_alone_is_data_parallel_on_one_node(store):
    plan = plan_llm_inference_service(spec_of(BASE.replace("tensorParallel: 4", "tensorParallel: 2")
                                              + "  llmInferenceService: {dataLocal: 4}\n"), PlanContext(profiles=store))
    dp = plan.main.data_parallel
    assert dp is not None and (dp.data, dp.local, dp.pods, plan.main.gpus) == (4, 4, 1, 8)


def test_data_local_beyond_a_node_is_an_error(tmp_path):
    rc, _, err = render_text(tmp_path, DP + "  llmInferenceService: {dataLocal: 4}\n")
    assert rc == 2 and "spec.llmInferenceService.dataLocal" in err and "16 GPUs per pod" in err and "Traceback" not in err


@pytest.mark.usefixtures("upstream_crds")
def test_disaggregated_pools_each_get_their_own_worker_and_scaling(tmp_path):
    text = BASE + """  replicas: {min: 1, max: 4}
  llmInferenceService: {autoscaler: keda, variantCost: "12.5"}
  disaggregation:
    rdma: {resource: rdma/roce_gdr}
    prefill: {replicas: 2, maxReplicas: 6, tensorParallel: 2}
    decode: {tensorParallel: 8, nodes: 2}
"""
    rc, docs, err = render_text(tmp_path, text)
    assert rc == 0, err
    (obj,) = docs
    spec = obj["spec"]
    # decode: 2 nodes of one TP-8 rank each; prefill stays one pod a replica
    assert spec["parallelism"] == {"tensor": 8, "data": 2, "dataLocal": 1} and "worker" in spec
    assert spec["prefill"]["parallelism"] == {"tensor": 2} and "worker" not in spec["prefill"]
    # replicas and scaling are exclusive (CEL); both pools use the same actuator (the webhook's consistency check)
    wva = {"keda": {}, "variantCost": "12.5"}
    assert "replicas" not in spec and spec["scaling"] == {"minReplicas": 1, "maxReplicas": 4, "wva": wva}
    assert "replicas" not in spec["prefill"] and spec["prefill"]["scaling"] == {"minReplicas": 2, "maxReplicas": 6, "wva": wva}
    # the decode worker moves KV over NIXL too, with the RDMA device and the decode role
    worker = spec["worker"]["containers"][0]
    assert worker["resources"]["limits"]["rdma/roce_gdr"] == 1
    assert any("kv_consumer" in a for a in worker["args"])
    assert "decode 1–4, prefill 2–6" not in err and "prefill 2–6, decode 1–4" in err and "KEDA" in err
    (decode, prefill) = pools(target(obj))
    assert (decode.lws_size, decode.gpus_needed, prefill.lws_size) == (2, 8, 1)


def test_max_replicas_below_replicas_is_an_error(tmp_path):
    text = BASE + "  disaggregation: {rdma: {resource: rdma/ib}, prefill: {replicas: 3, maxReplicas: 2}}\n"
    rc, _, err = render_text(tmp_path, text)
    assert rc == 2 and "spec.disaggregation.prefill.maxReplicas" in err


def test_plan_table_names_each_pool_within_100_columns():
    out = llmkube("plan", str(EXAMPLE))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    rows = [line.split() for line in lines if "llama-3.1-70b" in line]
    assert [r[:2] for r in rows] == [["llama-70b-pd", "decode"], ["llama-70b-pd", "prefill"]]
    # the advice under the table names the pool too, and the JSON rows carry it
    assert any(line.startswith("LLMInferenceService/llm-serving/llama-70b-pd prefill: ") for line in lines)
    rows_json = json.loads(llmkube("plan", str(EXAMPLE), "-o", "json").stdout)["items"]
    assert [(r["pool"], r["pool_pods"], r["tensor_parallel"]) for r in rows_json] == [("decode", 1, 8), ("prefill", 1, 4)]


def test_plan_table_counts_a_data_parallel_pools_pods(tmp_path):
    spec = tmp_path / "dp.yaml"
    spec.write_text(DP)
    out = llmkube("plan", str(spec))
    assert out.returncode == 0, out.stderr
    assert any(line.split()[:3] == ["llama-70b", "×2", "pods"] for line in out.stdout.splitlines()), out.stdout


@pytest.mark.usefixtures("upstream_crds")
def test_example_12_wide_expert_parallel_over_two_nodes(store):
    example = EXAMPLES / "12-deepseek-v3-wide-ep-llmisvc.yaml"
    out = llmkube("render", str(example), "--crds", str(UPSTREAM_CRDS))
    assert out.returncode == 0, out.stderr
    (obj,) = load_all(out.stdout)
    spec = obj["spec"]
    # H200 nodes of 8 GPUs, TP 8: one rank a node, DP 2 over the 2 pods, experts over all 16 GPUs
    assert spec["parallelism"] == {"tensor": 8, "data": 2, "dataLocal": 1, "expert": True}
    assert spec["scaling"] == {"minReplicas": 1, "maxReplicas": 2, "wva": {"hpa": {}}} and "replicas" not in spec
    for pod in (spec["template"], spec["worker"]):
        limits = pod["containers"][0]["resources"]["limits"]
        assert (limits["nvidia.com/gpu"], limits["rdma/roce_gdr"]) == (8, 1)
    # each rank holds 1/16 of the routed experts (DP 2 × TP 8), so half of what DP 1 would hold
    model, gpu = store.model("deepseek-ai/DeepSeek-V3"), store.gpu("h200-141gb")
    # parallelism.expert: whole experts per rank, run at their whole width (--enable-expert-parallel)
    fit = serving_fit(model, gpu.spec.memory_gi_b, ServerConfig(tensor_parallel=8, data_parallel=2, expert_parallel=True,
                                                                 max_model_len=32768, quantization=None),
                      gpu_name=gpu.spec.display_name)
    alone = serving_fit(model, gpu.spec.memory_gi_b, ServerConfig(tensor_parallel=8, max_model_len=32768), gpu_name=gpu.spec.display_name)
    assert fit.weights_gib < alone.weights_gib - 30
    assert fit.fits and f"{fit.kv_tokens:,} tokens" in out.stderr and "no experts" not in out.stderr
    assert f"({fit.weights_gib:.1f} GiB per GPU), the routed experts spread over all 16 GPUs (whole experts per GPU" in out.stderr
    check = llmkube("validate", "-", "--crds", str(UPSTREAM_CRDS), "-o", "json", stdin=out.stdout)
    assert [f for f in json.loads(check.stdout)["findings"] if f["severity"] in ("error", "warning")] == []
