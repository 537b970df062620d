"""Parameter counts and checkpoint bytes from a profile's shapes (llmkube.modelshape)."""

from __future__ import annotations

import pytest

from llmkube.modelshape import checkpoint_weight_bytes, parameter_counts, quantized_linear_bytes, weight_bytes_by_layer
from llmkube.profiles import ModelSpec, ProfileStore, Quantization, layer_types_of

STORE = ProfileStore.load()


def spec(name: str) -> ModelSpec:
    return STORE.models[name].spec


# Published sizes (model cards / facts §6): the count from shapes must land on them.
PUBLISHED_B = {
    "llama-3.1-8b": 8.03,
    "llama-3.1-70b": 70.55,
    "qwen2.5-7b": 7.62,
    "deepseek-v3": 671.0,
    "mixtral-8x7b": 46.70,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_B))
def test_total_matches_published_size(name):
    total = parameter_counts(spec(name)).total / 1e9
    assert total == pytest.approx(PUBLISHED_B[name], abs=0.006 * PUBLISHED_B[name] if name == "deepseek-v3" else 0.005)


def test_active_parameters_of_moe():
    assert parameter_counts(spec("mixtral-8x7b")).active / 1e9 == pytest.approx(12.88, abs=0.01)
    assert parameter_counts(spec("deepseek-v3")).active / 1e9 == pytest.approx(37.0, rel=0.02)


@pytest.mark.parametrize("name", sorted(STORE.models))
def test_every_profile_states_the_count_its_shapes_give(name):
    s = spec(name)
    counts = parameter_counts(s)
    assert counts.total / 1e9 == pytest.approx(s.parameters_b, rel=0.01)
    if s.active_parameters_b is not None:
        assert counts.active / 1e9 == pytest.approx(s.active_parameters_b, rel=0.02)


def test_llama_groups_follow_module_shapes():
    c = parameter_counts(spec("llama-3.1-8b"))
    assert c.embedding == c.lm_head == 128256 * 4096
    assert c.attention == 32 * (4096 * 4096 * 2 + 2 * 4096 * 1024)  # q, o + k, v (GQA 8 heads)
    assert c.dense_mlp == 32 * 3 * 4096 * 14336
    assert c.norms == 32 * 2 * 4096 + 4096
    assert c.experts == c.router == 0


def test_tied_embeddings_have_no_lm_head():
    c = parameter_counts(spec("llama-3.2-1b"))
    assert c.lm_head == 0 and c.embedding == 128256 * 2048


def test_qkv_bias_counts():
    s = spec("qwen2.5-7b")
    with_bias = parameter_counts(s).attention
    without = parameter_counts(s.model_copy(update={"qkv_bias": False})).attention
    assert with_bias - without == 28 * (28 + 2 * 4) * 128


def test_deepseek_mla_projections():
    c = parameter_counts(spec("deepseek-v3"))
    per_layer = (7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * 256 + 128 * 128 * 7168)
    assert c.attention == 61 * per_layer
    assert c.dense_mlp == 3 * 3 * 7168 * 18432  # first_k_dense_replace = 3
    assert c.experts == 58 * 256 * 3 * 7168 * 2048
    assert c.shared_experts == 58 * 3 * 7168 * 2048
    assert c.router == 58 * (256 * 7168 + 256)  # gate + e_score_correction_bias


def test_bf16_checkpoint_is_two_bytes_per_parameter():
    s = spec("llama-3.1-8b")
    assert checkpoint_weight_bytes(s) == 2 * parameter_counts(s).total


def test_awq_linear_matches_autoawq_buffers():
    # AutoAWQ WQLinear_GEMM, 4096 -> 4096, w_bit 4, group 128: qweight int32 [in, out/8],
    # qzeros int32 [in/128, out/8], scales fp16 [in/128, out].
    q = Quantization(method="awq", weight_bits=4, group_size=128, symmetric=False)
    expected = 4096 * 4096 // 8 * 4 + 32 * 512 * 4 + 32 * 4096 * 2
    assert quantized_linear_bytes(q, 4096, 4096) == expected


def test_gptq_linear_adds_g_idx():
    # GPTQ (auto-gptq QuantLinear): qweight [in/8, out] int32, qzeros [in/g, out/8] int32,
    # scales [in/g, out] fp16, g_idx [in] int32.
    q = Quantization(method="gptq", weight_bits=4, group_size=128)
    assert quantized_linear_bytes(q, 4096, 1024) == 4096 * 1024 // 2 + 32 * 128 * 4 + 32 * 1024 * 2 + 4096 * 4


def test_fp8_block_scales():
    q = Quantization(method="fp8", weight_bits=8, weight_type="float", strategy="block", block_size=[128, 128])
    assert quantized_linear_bytes(q, 7168, 1536) == 7168 * 1536 + 56 * 12 * 4


def test_mxfp4_block_and_scale():
    q = Quantization(method="mxfp4", weight_bits=4, weight_type="float", targets="experts")
    assert quantized_linear_bytes(q, 2880, 5760) == 2880 * 5760 / 2 + 2880 * 5760 / 32


def test_awq_checkpoint_keeps_embeddings_16_bit():
    s = spec("llama-3.1-8b")
    q = Quantization(method="awq", weight_bits=4, group_size=128, symmetric=False)
    awq = s.model_copy(update={"quantization": q})
    c = parameter_counts(s)
    linear = c.attention + c.dense_mlp
    expected = linear * (0.5 + 2 / 128 + 0.5 / 128) + (c.embedding + c.lm_head + c.norms) * 2
    assert checkpoint_weight_bytes(awq) == pytest.approx(expected, rel=1e-6)
    # the published hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4 safetensors total 5.73 GB
    assert checkpoint_weight_bytes(awq) / 1e9 == pytest.approx(5.73, abs=0.02)


def test_ignore_patterns_keep_modules_16_bit():
    s = spec("llama-3.1-8b")
    q = Quantization(method="compressed-tensors", weight_bits=8, weight_type="float", strategy="channel", activation_bits=8)
    base = checkpoint_weight_bytes(s.model_copy(update={"quantization": q}))
    no_attn = checkpoint_weight_bytes(s.model_copy(update={"quantization": q.model_copy(update={"ignore": ["lm_head", "re:.*self_attn.*"]})}))
    attn = parameter_counts(s).attention
    assert no_attn - base == pytest.approx(attn * 1.0 - 32 * (4096 + 1024 + 1024 + 4096) * 2, rel=1e-9)


def test_experts_only_scheme_leaves_attention_alone():
    s = spec("mixtral-8x7b")
    q = Quantization(method="mxfp4", weight_bits=4, weight_type="float", targets="experts")
    c = parameter_counts(s)
    got = checkpoint_weight_bytes(s.model_copy(update={"quantization": q}))
    assert got == pytest.approx(c.experts * (0.5 + 1 / 32) + (c.total - c.experts) * 2)


def test_bytes_by_layer_sum_to_total():
    for name in ("llama-3.1-8b", "deepseek-v3", "gemma-2-9b"):
        s = spec(name)
        split = weight_bytes_by_layer(s)
        assert split.total == pytest.approx(checkpoint_weight_bytes(s))
        assert len(split.layers) == s.layers
    ds = weight_bytes_by_layer(spec("deepseek-v3"))
    assert ds.layers[0] < ds.layers[3]  # dense layers before the MoE ones


def test_layer_types_derived():
    g2 = layer_types_of(spec("gemma-2-9b"))
    assert g2[:3] == ["sliding_attention", "full_attention", "sliding_attention"] and len(g2) == 42
    assert set(layer_types_of(spec("llama-3.1-8b"))) == {"full_attention"}
    g3 = spec("gemma-2-9b").model_copy(update={"architecture": "gemma3_text"})
    types = layer_types_of(g3)
    assert [i for i, t in enumerate(types) if t == "full_attention"][:2] == [5, 11]


def test_layer_types_must_cover_every_layer():
    data = STORE.models["llama-3.2-1b"].spec.model_dump(by_alias=True, exclude_none=True)
    data["layerTypes"] = ["full_attention"] * 3
    with pytest.raises(ValueError, match="layerTypes lists 3 layers"):
        ModelSpec.model_validate(data)


def test_glob_ignore_patterns_match_from_the_start():
    from llmkube.modelshape import tensors, is_quantized

    s = spec("llama-3.1-8b")
    q = Quantization(method="fp8", weight_bits=8, weight_type="float", strategy="tensor",
                     ignore=["model.layers.*.self_attn"])
    qs = s.model_copy(update={"quantization": q})
    kinds = {t.group: is_quantized(qs, t) for t in tensors(qs) if t.linear}
    assert kinds == {"attention": False, "dense_mlp": True, "lm_head": False}


def test_bytes_by_layer_remembered_per_spec_are_the_computed_ones():
    """`weight_bytes_by_layer` remembers its answer per spec (its JSON): the same bytes as computing
    them, for every profile and variants of one (dtype, quantization, a changed shape), asked twice,
    each variant its own answer."""
    from llmkube import modelshape
    from llmkube.modelshape import weight_bytes_by_layer_uncached

    q = Quantization(method="mxfp4", weight_bits=4, weight_type="float", targets="experts")
    base = spec("mixtral-8x7b")
    variants = [m.spec for m in STORE.models.values()] + [
        base.model_copy(update={"quantization": q}),
        base.model_copy(update={"dtype": "float8"}),
        base.model_copy(update={"dtype": "float32"}),
        base.model_copy(update={"layers": base.layers - 1}),
    ]
    for _ in range(2):
        for s in variants:
            assert weight_bytes_by_layer(s) == weight_bytes_by_layer_uncached(s), s.architecture
    assert len({weight_bytes_by_layer(s) for s in variants[-4:]} | {weight_bytes_by_layer(base)}) == 5
    assert 0 < len(modelshape._WEIGHT_BYTES) <= modelshape._PER_SPEC_MAX


def test_expert_bytes_remembered_per_spec_are_the_computed_ones_and_size_the_stages_as_before():
    """`expert_bytes_by_layer` remembers the tensor walk per spec; `stage_routed_expert_bytes` built on it
    gives what the walk inside it gave (kept here as the reference) for every MoE profile, PP 1-4."""
    from llmkube import modelshape
    from llmkube.plan import engine_memory as em
    from llmkube.plan.sizing import ServerConfig, _served_weight_bytes, stage_count, stage_routed_expert_bytes

    def reference(model, config, pp):
        s = model.spec
        parts = em.pp_partition(s.layers, stage_count(s.layers, pp))
        experts, whole = [0.0] * s.layers, [0.0] * s.layers
        for t in modelshape.tensors(s):
            if t.layer is not None:
                b = modelshape.tensor_bytes(s, t)
                whole[t.layer] += b
                if t.group == "experts":
                    experts[t.layer] += b
        served = _served_weight_bytes(model, config).layers
        out, start = [], 0
        for n in parts:
            out.append(sum(served[i] * experts[i] / whole[i] for i in range(start, start + n) if whole[i]))
            start += n
        return out

    moe = [m for m in STORE.models.values() if m.spec.experts is not None]
    assert len(moe) >= 5
    for _ in range(2):  # the second pass reads the remembered walk
        for m in moe:
            assert modelshape.expert_bytes_by_layer(m.spec) == modelshape.expert_bytes_by_layer_uncached(m.spec)
            for pp in (1, 2, 3, 4):
                config = ServerConfig(pipeline_parallel=pp)
                assert stage_routed_expert_bytes(m, config, pp) == reference(m, config, pp), (m.metadata.name, pp)
    assert 0 < len(modelshape._EXPERT_BYTES) <= modelshape._PER_SPEC_MAX
