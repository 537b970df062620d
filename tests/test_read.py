"""The manifest readers of llmkube.check.read, on small hand-written objects."""

from __future__ import annotations

from llmkube.check.read.context import ReadContext
from llmkube.check.read.kueue import KueueIndex
from llmkube.check.read.torchrun import launcher_nproc, tokens
from llmkube.check.run import Target
from llmkube.plan.sizing import ServerConfig


def _lq(name: str, ns: str | None, cq: str) -> Target:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return Target({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "LocalQueue", "metadata": meta, "spec": {"clusterQueue": cq}})


def _cq(name: object) -> Target:
    return Target({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ClusterQueue", "metadata": {"name": name}, "spec": {}})


def _job(queue: str, ns: str = "ml") -> Target:
    return Target({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "j", "namespace": ns, "labels": {"kueue.x-k8s.io/queue-name": queue}},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
    })


def test_kueue_chain_takes_the_first_of_each_name() -> None:
    first, second = _cq("team-a"), _cq("team-a")
    index = KueueIndex.of([_cq(["odd"]), _lq("q", "other", "nope"), _lq("q", "ml", "team-a"), first, second])
    job = _job("q")
    assert index.local_queue("q", "ml") is index.local_queues[1]
    assert index.cluster_queue_of(job) == (first, ("metadata", "labels", "kueue.x-k8s.io/queue-name"))
    assert index.cluster_queues.get(["odd"]) is not None  # a schema-invalid name still resolves as a scan would
    assert index.cluster_queue_of(_job("missing")) is None
    assert index.flavor_labels("h100") is None


def test_tgi_settings_from_flags_and_environment(store) -> None:
    pod = Target({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tgi"}, "spec": {
        "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        "containers": [{
            "name": "tgi", "image": "ghcr.io/huggingface/text-generation-inference:3.3.6",
            "args": ["--max-total-tokens", "8k", "--quantize", "AWQ"],
            "env": [{"name": "MODEL_ID", "value": "meta-llama/Llama-3.1-8B-Instruct"}],
            "resources": {"limits": {"nvidia.com/gpu": 2}},
        }],
    }})
    (server,) = ReadContext(targets=[pod], profiles=store).servers
    assert server.model_id == "meta-llama/Llama-3.1-8B-Instruct" and server.model is not None
    assert server.config == ServerConfig(tensor_parallel=2, utilization=1.0, max_model_len=8000, quantization="awq", runtime="tgi")
    assert server.gpu is not None and server.gpu.name == "h100-80gb"
    assert server.tp_path == ("spec", "containers", 0)  # TP from the GPU count, not a flag


def test_torchrun_inside_a_shell_line() -> None:
    container = {"command": ["bash", "-c", "torchrun --nnodes=2 --nproc_per_node 4 train.py --nproc_per_node 9"]}
    assert launcher_nproc(tokens(container, ("c",))) == (("c", "command", 2), "4")
    assert launcher_nproc(tokens({"args": ["python", "train.py", "--nproc_per_node=4"]}, ())) is None


def _group_with(volumes: list, mounts: list, env: list | None = None):
    from llmkube.check.read.workloads import PodGroup

    container = {"name": "s", "volumeMounts": mounts, "env": env or []}
    return PodGroup(None, "pod", ("spec",), {"volumes": volumes, "containers": [container]}, 1, {}, {}), container  # type: ignore[arg-type]


def test_weights_source_is_read_off_the_manifest():
    from llmkube.check.read.servers import manifest_weights_source as source

    claim = [{"name": "c", "persistentVolumeClaim": {"claimName": "x"}}]
    group, c = _group_with([], [])
    assert source(group, c, "meta-llama/Llama-3.1-8B-Instruct", "vllm") == "hub"
    assert source(group, c, "s3://bucket/llama", "vllm") == "object-store"
    assert source(group, c, "/mnt/models", "vllm") == "image"
    group, c = _group_with(claim, [{"name": "c", "mountPath": "/mnt/models"}])
    assert source(group, c, "/mnt/models/llama", "vllm") == "pvc"
    group, c = _group_with(claim, [{"name": "c", "mountPath": "/data"}])
    assert source(group, c, "meta-llama/Llama-3.1-8B-Instruct", "tgi") == "pvc"  # TGI's default cache is /data
    assert source(group, c, "meta-llama/Llama-3.1-8B-Instruct", "vllm") == "hub"
    group, c = _group_with(claim, [{"name": "c", "mountPath": "/models"}], [{"name": "HF_HOME", "value": "/models/hf"}])
    assert source(group, c, "meta-llama/Llama-3.1-8B-Instruct", "vllm") == "pvc"


def test_vllm_engine_flags_that_size_memory_are_read_back(store) -> None:
    # what the engine reads at start-up — batch, chunked prefill, eager mode, KV dtype, PP, the
    # CUDA-graph switch in the environment — read from a hand-written manifest as the planner writes it
    pod = Target({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vllm"}, "spec": {
        "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-L4"},
        "containers": [{
            "name": "vllm", "image": "vllm/vllm-openai:v0.21.1",
            "args": ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-num-batched-tokens", "4k",
                     "--no-enable-chunked-prefill", "--enforce-eager", "--kv-cache-dtype", "fp8", "-pp", "2",
                     "--dtype", "float16"],
            "env": [{"name": "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS", "value": "0"},
                    {"name": "VLLM_USE_FLASHINFER_SAMPLER", "value": "1"}],
            "resources": {"limits": {"nvidia.com/gpu": 2}},
        }],
    }})
    (server,) = ReadContext(targets=[pod], profiles=store).servers
    c = server.config
    assert (c.max_num_batched_tokens, c.chunked_prefill, c.enforce_eager) == (4000, False, True)
    assert (c.kv_cache_dtype, c.pipeline_parallel, c.dtype, c.cuda_graph_estimate) == ("fp8", 2, "float16", False)
    assert c.flashinfer_sampler is True
    assert c.mxfp4_backend is None  # VLLM_MXFP4_USE_MARLIN unset: the device's kernel
    assert c.engine_version == (0, 21, 1)
    assert c.model_runner_v2 is None  # VLLM_USE_V2_MODEL_RUNNER unset: the version's choice
    fit = server.fit()
    assert fit is not None and fit.batch.tokens == 4000 and fit.cuda_graph_gib == 0
    assert fit.accounting.key == "vllm-0.21" and server.gpu_name == "NVIDIA L4 24GB"


def _vllm_pod(name: str, product: str, image: str, args: list[str], env: list[dict[str, str]]) -> Target:
    """A one-GPU Pod running vLLM with `args` and `env`, on the GPU `product` labels."""
    return Target({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "nodeSelector": {"nvidia.com/gpu.product": product},
        "containers": [{"name": "vllm", "image": image, "args": args, "env": env,
                        "resources": {"limits": {"nvidia.com/gpu": 1}}}]}})


def test_vllm_mxfp4_marlin_switch_is_read_from_the_environment(store) -> None:
    # VLLM_MXFP4_USE_MARLIN=1 forces Marlin's MXFP4 experts (quantization/mxfp4.py get_mxfp4_backend)
    def pod(value: str) -> Target:
        return _vllm_pod("oss", "NVIDIA-H100-80GB-HBM3", "vllm/vllm-openai:v0.11.0",
                         ["--model", "openai/gpt-oss-120b", "--max-model-len", "16000"],
                         [{"name": "VLLM_MXFP4_USE_MARLIN", "value": value}])
    (on,) = ReadContext(targets=[pod("1")], profiles=store).servers
    (off,) = ReadContext(targets=[pod("0")], profiles=store).servers
    assert (on.config.mxfp4_backend, off.config.mxfp4_backend) == ("marlin", None)
    assert not on.config.mla_disabled  # VLLM_MLA_DISABLE unset
    fit_on, fit_off = on.fit(), off.fit()
    assert fit_on is not None and fit_off is not None
    assert fit_on.weights_gib > fit_off.weights_gib + 1.0  # Marlin's padded experts on Hopper


def test_vllm_mla_disable_is_read_from_the_environment(store) -> None:
    # VLLM_MLA_DISABLE=1: DeepSeek runs without its latent KV cache (full K and V per head)
    def pod(env: list[dict[str, str]]) -> Target:
        return _vllm_pod("ds", "NVIDIA-H100-80GB-HBM3", "vllm/vllm-openai:v0.11.0",
                         ["--model", "deepseek-ai/DeepSeek-V2-Lite-Chat", "--max-model-len", "8192"], env)
    (off,) = ReadContext(targets=[pod([{"name": "VLLM_MLA_DISABLE", "value": "1"}])], profiles=store).servers
    (on,) = ReadContext(targets=[pod([])], profiles=store).servers
    assert (off.config.mla_disabled, on.config.mla_disabled) == (True, False)
    fit_off, fit_on = off.fit(), on.fit()
    assert fit_off is not None and fit_on is not None
    assert fit_off.kv_token_bytes > 5 * fit_on.kv_token_bytes


def test_vllm_model_runner_switch_is_read_from_the_environment(store) -> None:
    # VLLM_USE_V2_MODEL_RUNNER=0 keeps a 0.25 Qwen2 server on the V1 runner, whose CUDA-graph
    # estimate comes out of the KV budget; unset, 0.25 picks Model Runner V2, which has none
    def pod(env: list[dict[str, str]]) -> Target:
        return _vllm_pod("qwen", "NVIDIA-GeForce-RTX-4090", "vllm/vllm-openai:v0.25.1",
                         ["--model", "Qwen/Qwen2-7B-Instruct", "--max-model-len", "16384"], env)
    (v1,) = ReadContext(targets=[pod([{"name": "VLLM_USE_V2_MODEL_RUNNER", "value": "0"}])], profiles=store).servers
    (default,) = ReadContext(targets=[pod([])], profiles=store).servers
    assert (v1.config.model_runner_v2, default.config.model_runner_v2) == (False, None)
    fit_v1, fit_default = v1.fit(), default.fit()
    assert fit_v1 is not None and fit_default is not None
    assert fit_v1.cuda_graph_counted and not fit_v1.model_runner_v2
    assert fit_default.model_runner_v2 and not fit_default.cuda_graph_counted
    assert fit_default.kv_budget_gib > fit_v1.kv_budget_gib


def test_a_volcano_gang_with_a_huge_replica_count_is_counted_not_enumerated() -> None:
    """minAvailable takes the pods with the fewest GPUs first; a replica count of 10**12 must not build 10**12 entries."""
    from llmkube.check.read.workloads import JobPods, gang_gpus

    job = Target(obj={"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "spec": {"minAvailable": 3}})
    pods = [JobPods("big", 10**12, {"nvidia.com/gpu": 8}, {}, None), JobPods("small", 2, {"nvidia.com/gpu": 1}, {}, None)]
    assert gang_gpus(job, pods) == {"nvidia.com/gpu": 1 + 1 + 8}
    job.obj["spec"]["minAvailable"] = 10**12 + 5  # more than there are pods: all of them
    assert gang_gpus(job, pods) == {"nvidia.com/gpu": 8 * 10**12 + 2}


def test_readers_outside_the_rule_cases_take_any_shape() -> None:
    """Readers no rule case reaches with a wrong shape: a Knative Service's spec, KServe's JSON config."""
    import json

    from llmkube.check.read.deadlines import knative_deadline
    from llmkube.check.read.kserve import default_resources

    for spec in (True, [], {"template": "x"}, {"template": {"metadata": []}}, {"template": {"metadata": {"annotations": 3}}}):
        svc = Target(obj={"apiVersion": "serving.knative.dev/v1", "kind": "Service", "spec": spec})
        assert knative_deadline(svc) is not None  # the default deadline: no annotation could be read
    for resource in ([], "x", 3, None):
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "inferenceservice-config"},
              "data": {"inferenceService": json.dumps({"resource": resource})}}
        assert default_resources([Target(obj=cm)]) == {"requests": {}, "limits": {}}
