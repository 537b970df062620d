"""Expert parallelism (vLLM --enable-expert-parallel) as vLLM lays out an MoE with it.

vllm/model_executor/layers/fused_moe/config.py `FusedMoEParallelConfig.make` (v0.10 … v0.19): with
EP and more than one TP × DP rank the fused-MoE layer has tp_size 1 and ep_size = TP × DP, "each
device owns a set of experts fully"; fused_moe/layer.py `determine_expert_map` gives each rank
experts // ranks and one more to the first experts % ranks ranks. Every figure below is derived
from the profiles' shapes, not read off llmkube.
"""

from __future__ import annotations

import dataclasses

import pytest

from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import GIB, ServerConfig, routed_expert_share, serving_fit, stage_routed_expert_bytes
from llmkube.profiles import ProfileStore

H100 = 79.19
H100_NAME = "NVIDIA H100 80GB HBM3"


@pytest.fixture(scope="module")
def m():
    store = ProfileStore.load()

    def get(name: str):
        profile = store.model(name)
        assert profile is not None, name
        return profile

    return get


def test_local_experts_and_moe_width_follow_vllm():
    # 128 experts over 8 ranks: 16 each; 60 over 8: 7 or 8, the busiest rank (8) binds
    assert em.local_experts(128, 8) == 16 and em.local_experts(60, 8) == 8 and em.local_experts(60, 1) == 60
    # the MoE's own tp_size: TP flattened across DP without EP, 1 with EP on more than one rank
    assert em.moe_width_parallel(8) == 8 and em.moe_width_parallel(4, 2) == 8
    assert em.moe_width_parallel(8, 1, True) == 1 and em.moe_width_parallel(2, 2, True) == 1
    assert em.moe_width_parallel(1, 1, True) == 1  # one rank: nothing to split either way


def test_whole_experts_per_rank_when_the_count_does_not_divide(m):
    """Qwen1.5-MoE-A2.7B has 60 routed experts: at TP 8 with EP the busiest rank holds 8 whole ones
    (8/60 of the routed bytes) where TP alone gives every rank 1/8 of each expert's width."""
    qwen = m("qwen1.5-moe-a2.7b")
    assert qwen.spec.experts is not None and qwen.spec.experts.total == 60
    config = ServerConfig(tensor_parallel=8, max_model_len=8192, engine_version=(0, 19, 0))
    ep = dataclasses.replace(config, expert_parallel=True)
    assert routed_expert_share(qwen, config) == 1 / 8 and routed_expert_share(qwen, ep) == 8 / 60
    routed = stage_routed_expert_bytes(qwen, config, 1)[0]
    tp_fit = serving_fit(qwen, H100, config, gpu_name=H100_NAME)
    ep_fit = serving_fit(qwen, H100, ep, gpu_name=H100_NAME)
    assert (ep_fit.weights_gib - tp_fit.weights_gib) * GIB == pytest.approx(routed * (8 / 60 - 1 / 8), rel=1e-9)
    # 128 experts divide by 8: the same bytes either way
    big = m("qwen3-30b-a3b")
    cfg = ServerConfig(tensor_parallel=8, max_model_len=8192, engine_version=(0, 19, 0))
    assert serving_fit(big, H100, dataclasses.replace(cfg, expert_parallel=True), gpu_name=H100_NAME).weights_gib == (
        pytest.approx(serving_fit(big, H100, cfg, gpu_name=H100_NAME).weights_gib, rel=1e-12))


def test_ep_runs_whole_width_experts_in_the_profiling_forward(m):
    """Under EP the fused-MoE caches and the persistent workspace are as wide as a whole expert:
    Qwen3-30B-A3B (hidden 2048, expert width 768, top 8) at TP 4, v0.19 on an H100 (8,192 tokens).
    TritonExperts.workspace_shapes: N = 2 × 768 = 1536 whole, K = 2048 →
    8192 × 8 × (max(768, 2048) + max(1536, 2048)) × 2 B = 512 MiB; at TP 4 without EP N = 384."""
    qwen = m("qwen3-30b-a3b")
    s = qwen.spec
    config = ServerConfig(tensor_parallel=4, max_model_len=8192, engine_version=(0, 19, 0))
    tp_fit = serving_fit(qwen, H100, config, gpu_name=H100_NAME)
    ep_fit = serving_fit(qwen, H100, dataclasses.replace(config, expert_parallel=True), gpu_name=H100_NAME)
    whole = 8192 * 8 * (2048 + 2048) * 2
    sliced = 8192 * 8 * (max(192, 2048) + max(384, 2048)) * 2
    assert em.moe_workspace_bytes(s, 8192, 1, 2.0) == whole and em.moe_workspace_bytes(s, 8192, 4, 2.0) == sliced
    # the sampler run binds here and sits on top of the workspace: both are 512 MiB (K = 2048 dominates)
    assert ep_fit.activation_gib == pytest.approx(tp_fit.activation_gib + (whole - sliced) / GIB, abs=1e-9)
    # wider experts than the hidden size do grow it: Mixtral (hidden 4096, width 14336, top 2) whole
    mixtral = m("mixtral-8x7b").spec
    assert em.moe_workspace_bytes(mixtral, 8192, 1, 2.0) == 8192 * 2 * (14336 + 28672) * 2
    assert em.moe_workspace_bytes(mixtral, 8192, 4, 2.0) == 8192 * 2 * (4096 + 7168) * 2
    # the forward's MoE caches: top_k × (4 × width / MoE TP + hidden) per token
    eager_tp = em.forward_peak_bytes(s, 8192, 4, 2.0)
    eager_ep = em.forward_peak_bytes(s, 8192, 4, 2.0, moe_tensor_parallel=1)
    assert eager_ep - eager_tp == 8192 * 8 * (4 * 768 - 4 * 768 / 4) * 2


def test_mxfp4_experts_under_ep_are_padded_at_their_whole_width(m):
    """gpt-oss-120b (128 experts, width 2880) at TP 4 on an A100 (Marlin): without EP each rank pads
    its 720-wide slice of every expert to 768; with EP it holds 32 whole experts padded 2880 → 2944
    (Mxfp4MoEMethod.create_weights, round_up(width, 128)) — less padding, fewer bytes per GPU."""
    oss = m("gpt-oss-120b")
    s = oss.spec
    config = ServerConfig(tensor_parallel=4, max_model_len=8192, engine_version=(0, 19, 0))
    a100 = "NVIDIA A100-SXM4-80GB"
    tp_fit = serving_fit(oss, 79.15, config, gpu_name=a100)
    ep_fit = serving_fit(oss, 79.15, dataclasses.replace(config, expert_parallel=True), gpu_name=a100)
    moe_layers = s.layers  # every gpt-oss layer is MoE
    # the bytes, and the caching allocator's rounding of the tensors each GPU allocates
    per_layer_tp = em.mxfp4_expert_layer_bytes(s, 4, "marlin") + em.mxfp4_expert_rounding_bytes(s, 4, "marlin", 128)
    per_layer_ep = (em.mxfp4_expert_layer_bytes(s, 1, "marlin") / 4  # 32 of 128 whole experts
                    + em.mxfp4_expert_rounding_bytes(s, 1, "marlin", 32))
    assert per_layer_ep < per_layer_tp
    assert (tp_fit.weights_gib - ep_fit.weights_gib) * GIB == pytest.approx(moe_layers * (per_layer_tp - per_layer_ep), rel=1e-9)


def test_enable_expert_parallel_is_read_from_a_vllm_command_line():
    from llmkube.check.read.servers import _read_vllm

    line = ["vllm", "serve", "Qwen/Qwen3-30B-A3B", "--tensor-parallel-size", "4", "--enable-expert-parallel"]
    assert _read_vllm(line, {})[3].expert_parallel is True
    assert _read_vllm([*line[:-1], "-ep"], {})[3].expert_parallel is True
    assert _read_vllm(line[:-1], {})[3].expert_parallel is False


def test_a_data_parallel_llm_inference_service_with_expert_parallelism_is_read_so(m):
    """KServe's data-parallel preset adds --enable-expert-parallel from parallelism.expert
    (plan/llmisvc.py ENABLE_EXPERT_PARALLEL): the reader sizes such a pool with whole experts."""
    from llmkube.check.read.context import ReadContext
    from llmkube.check.run import Target

    def service(expert: bool) -> Target:
        main = {"name": "main", "image": "vllm/vllm-openai:v0.19.0", "resources": {"limits": {"nvidia.com/gpu": 4}}}
        return Target({"apiVersion": "serving.kserve.io/v1alpha1", "kind": "LLMInferenceService",
                       "metadata": {"name": "moe"},
                       "spec": {"model": {"uri": "hf://Qwen/Qwen3-30B-A3B", "name": "Qwen/Qwen3-30B-A3B"},
                                "parallelism": {"tensor": 4, "data": 2, "dataLocal": 1, "expert": expert},
                                "template": {"containers": [main]}, "worker": {"containers": [dict(main)]}}})

    store = ProfileStore.load()
    (on,) = ReadContext(targets=[service(True)], profiles=store).servers
    (off,) = ReadContext(targets=[service(False)], profiles=store).servers
    assert (on.config.expert_parallel, off.config.expert_parallel) == (True, False)
    assert (on.config.tensor_parallel, on.config.data_parallel) == (4, 2)


def test_plan_json_says_whether_a_server_runs_expert_parallel():
    from llmkube.check.run import Target
    from llmkube.sizing_report import plan_rows

    def pod(args: list[str]) -> Target:
        return Target({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "moe"}, "spec": {
            "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.19.0",
                            "args": ["--model", "mistralai/Mixtral-8x7B-Instruct-v0.1", "--tensor-parallel-size", "4",
                                     "--max-model-len", "8192", *args],
                            "resources": {"limits": {"nvidia.com/gpu": 4}}}]}})

    store = ProfileStore.load()
    (on,) = plan_rows([pod(["--enable-expert-parallel"])], store)
    (off,) = plan_rows([pod([])], store)
    assert (on["expert_parallel"], off["expert_parallel"]) == (True, False)
    # the row is sized with whole-width experts: as serving_fit with expert_parallel, not without
    mixtral = store.model("mistralai/Mixtral-8x7B-Instruct-v0.1")
    assert mixtral is not None
    config = ServerConfig(tensor_parallel=4, max_model_len=8192, engine_version=(0, 19, 0))
    ep = serving_fit(mixtral, H100, dataclasses.replace(config, expert_parallel=True), gpu_name=H100_NAME)
    tp = serving_fit(mixtral, H100, config, gpu_name=H100_NAME)
    assert on["activation_gib"] == pytest.approx(ep.activation_gib, abs=0.01)
    assert off["activation_gib"] == pytest.approx(tp.activation_gib, abs=0.01)
    assert ep.activation_gib > tp.activation_gib + 0.5  # Mixtral's 14,336-wide experts, whole


def test_a_block_fp8_checkpoint_needs_whole_weight_blocks_per_rank(m):
    """vLLM's Fp8MoEMethod.create_weights refuses "The output_size of gate's and up's weight = 192
    is not divisible by weight quantization block_n = 128": Qwen3-235B-A22B-FP8's 1,536-wide experts
    split over TP 8. Under expert parallelism each rank keeps whole experts, so TP 8 loads."""
    from llmkube.plan.sizing import quantization_tp_problems, recommend_serving, valid_tensor_parallel

    fp8 = m("qwen3-235b-a22b-fp8")
    q = fp8.spec.quantization
    assert q is not None and q.block_size == [128, 128] and fp8.spec.experts is not None
    assert 1536 // 8 % 128 and not 1536 // 4 % 128
    assert quantization_tp_problems(fp8, 8) and not quantization_tp_problems(fp8, 4)
    assert not quantization_tp_problems(fp8, 8, expert_parallel=True)
    assert quantization_tp_problems(fp8, 4, data_parallel=2)  # no EP: the width splits over TP × DP
    assert valid_tensor_parallel(fp8, 8) == [1, 2, 4]
    assert valid_tensor_parallel(fp8, 8, expert_parallel=True) == [1, 2, 4, 8]
    # the unquantized checkpoint has no blocks: TP 8 is fine by its heads
    assert valid_tensor_parallel(m("qwen3-235b-a22b"), 8) == [1, 2, 4, 8]
    # a recommendation on 8 x H100 offers TP 8 for 16 sequences of 32K only with EP
    store = ProfileStore.load()
    h100 = store.gpu("h100-80gb")
    assert h100 is not None
    config = ServerConfig(max_model_len=32768, max_num_seqs=16)
    plain = recommend_serving(fp8, h100, config)
    ep = recommend_serving(fp8, h100, dataclasses.replace(config, expert_parallel=True))
    assert "TP 8 holds 16 full sequences" in ep.text and "TP 8" not in plain.text
