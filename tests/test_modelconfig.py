"""Hugging Face config.json → ModelProfile (llmkube.modelconfig), derivative profiles and the
`llmkube profiles` command. Every config here is a published copy (tests/data/hf-configs/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkube.cli import main
from llmkube.errors import InputError
from llmkube.modelconfig import import_profile, profile_from_config
from llmkube.modelshape import checkpoint_weight_bytes, parameter_counts
from llmkube.profiles import ProfileStore, layer_types_of

CONFIGS = Path(__file__).parent / "data" / "hf-configs"
STORE = ProfileStore.load()

# config file -> built-in profile whose shapes it must reproduce
BUILTIN = {
    "llama-3.1-8b.json": "llama-3.1-8b",
    "qwen2.5-7b.json": "qwen2.5-7b",
    "qwen3-8b.json": "qwen3-8b",
    "qwen3-32b.json": "qwen3-32b",
    "qwen3-30b-a3b.json": "qwen3-30b-a3b",
    "qwen3-235b-a22b.json": "qwen3-235b-a22b",
    "gemma-3-4b-it.json": "gemma-3-4b",
    "gemma-3-12b-it.json": "gemma-3-12b",
    "gemma-3-27b-it.json": "gemma-3-27b",
    "gpt-oss-20b.json": "gpt-oss-20b",
    "phi-4.json": "phi-4",
    "granite-3.x-8b-instruct.json": "granite-3.3-8b",
    "deepseek-v3.json": "deepseek-v3",
    "deepseek-v2-lite-chat.json": "deepseek-v2-lite",
    "llama-4-scout-17b-16e.json": "llama-4-scout",
    "mistral-small-3.1-24b-instruct-2503.json": "mistral-small-3.1-24b",
    "qwen2.5-72b-instruct-awq.json": "qwen2.5-72b-instruct-awq",
    "mixtral-8x7b-instruct-v0.1-awq.json": "mixtral-8x7b-instruct-awq",
    "qwen3-14b.json": "qwen3-14b",
    "qwen3-4b.json": "qwen3-4b",
    "qwen3-0.6b.json": "qwen3-0.6b",
    "qwen2.5-14b.json": "qwen2.5-14b",
    "qwen2.5-32b.json": "qwen2.5-32b",
    "qwen2.5-3b.json": "qwen2.5-3b",
    "qwen1.5-moe-a2.7b-chat.json": "qwen1.5-moe-a2.7b",
    # derivatives (spec.baseProfile): the resolved profile must match the checkpoint's own config
    "qwen3-30b-a3b-instruct-2507.json": "qwen3-30b-a3b-instruct-2507",
    "qwen3-coder-30b-a3b-instruct.json": "qwen3-coder-30b-a3b-instruct",
    "codellama-7b-hf.json": "codellama-7b",
    "deepseek-coder-6.7b-instruct.json": "deepseek-coder-6.7b",
    "gemma-2-2b-it.json": "gemma-2-2b",
    "gemma-2b.json": "gemma-2b",
    "granite-3.1-2b-instruct.json": "granite-3.1-2b",
    "qwen2.5-coder-7b-instruct.json": "qwen2.5-coder-7b",
    "qwen2.5-14b-instruct.json": "qwen2.5-14b-instruct",
    "qwen2.5-32b-instruct.json": "qwen2.5-32b-instruct",
    # full built-ins, imported from the checkpoint's config.json
    "llama-2-70b-hf.json": "llama-2-70b",
    "gemma-7b.json": "gemma-7b",
    "qwen2.5-0.5b.json": "qwen2.5-0.5b",
    "qwen2.5-1.5b-instruct.json": "qwen2.5-1.5b-instruct",
}
# Built-ins imported from a stored config whose Hub safetensors metadata gives the exact total.
BUILTIN_PUBLISHED = {"qwen2.5-0.5b": 494_032_768, "qwen2.5-1.5b-instruct": 1_543_714_304}
# Stored configs of checkpoints that have no built-in profile: sized only through the import,
# as a user would (benchmarks/sizing_accuracy.py CONFIGS), with their published parameter totals.
# (Hugging Face id, published parameter total, relative tolerance): an exact total where the Hub's
# safetensors metadata gives one, else the model card's rounded figure.
CONFIG_ONLY = {
    "phi-2.json": ("microsoft/phi-2", 2_779_683_840, 0),  # safetensors total
    "qwen2.5-math-1.5b.json": ("Qwen/Qwen2.5-Math-1.5B", 1.54e9, 0.005),  # card: 1.54B (the shapes of Qwen2.5-1.5B)
    "deepseek-r1-distill-qwen-1.5b.json": ("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", 1.78e9, 0.005),  # card: 1.78B
    "deepseek-r1-distill-qwen-7b.json": ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", 7.62e9, 0.005),  # card: 7.62B
    "deepseek-r1-distill-qwen-32b.json": ("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", 32.8e9, 0.005),  # card: 32.8B
    "deepseek-r1-distill-llama-8b.json": ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", 8.03e9, 0.005),  # card: 8.03B
    # quantized re-uploads: the count is of the unquantized shapes; the import reads quantization_config
    "deepseek-r1-distill-llama-8b-awq.json": ("casperhansen/deepseek-r1-distill-llama-8b-awq", 8.03e9, 0.005),
    "llama-3.1-70b-instruct-awq-int4.json": ("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", 70.6e9, 0.005),
    # card: 14.7B (Qwen2.5-14B-Instruct; the model card truncates 14.77B)
    "qwen2.5-14b-instruct-awq.json": ("Qwen/Qwen2.5-14B-Instruct-AWQ", 14.7e9, 0.01),
    # card: 8.29B (language model and vision tower; test_qwen2_5_vl_counts_its_vision_tower_module_by_module)
    "qwen2.5-vl-7b-instruct.json": ("Qwen/Qwen2.5-VL-7B-Instruct", 8.29e9, 0.001),
    # summed from the torchinfo table printed beside the config in its source (whaler404/Hf-Learn
    # qwen2.5_vl.md, a trimmed model built from it): Conv3d 1,505,280 + 32 vision blocks x 19,702,200 +
    # merger 1,280 + 36,707,328 + 36 decoder layers x 77,076,992 + norm 2,048 + Embedding(151936, 2048)
    # (tied LM head): 3,754,622,976, the Hub's "3.75B params"
    "qwen2.5-vl-3b-instruct.json": (
        "Qwen/Qwen2.5-VL-3B-Instruct",
        1_505_280 + 32 * 19_702_200 + 1_280 + 36_707_328 + 36 * 77_076_992 + 2_048 + 151_936 * 2_048, 0),
    # the safetensors totals printed beside each config in its source (tests/data/hf-configs/README.md)
    "qwen3-vl-8b-instruct.json": ("Qwen/Qwen3-VL-8B-Instruct", 8_767_123_696, 0),
    "qwen3-vl-30b-a3b-instruct.json": ("Qwen/Qwen3-VL-30B-A3B-Instruct", 31_070_754_032, 0),
    # transformers docs/source/en/model_doc/glm4_moe.md: "GLM-4.5-Air ... 106 billion total parameters"
    # (the MTP layer vLLM skips is not counted: 106.85B)
    "glm-4.5-air.json": ("zai-org/GLM-4.5-Air", 106e9, 0.01),
    # 7,063,427,072 (tests/data/hf-configs/README.md) less what vLLM does not build: the CLIP tower's
    # last layer (vision_feature_layer -2) and its post-layernorm (test_model_architectures.py)
    "llava-1.5-7b-hf.json": ("llava-hf/llava-1.5-7b-hf", 7_063_427_072 - 12_596_224 - 2 * 1024, 0),
    # GLM-4's demo banner: "You are served by GLM-4, with 9399951360 (9.4B) parameters."
    "glm-4-9b-chat.json": ("THUDM/glm-4-9b-chat", 9_399_951_360, 0),
    # the module tree printed beside the config (no biases, untied head); EXAONE-3.5-7.8B has the same
    # shapes and a run of it counts "exact model parameters: 7,818,448,896" (README)
    "exaone-3.0-7.8b-instruct.json": ("LGAI-EXAONE/EXAONE-3.0-7.8B-Instruct", 7_818_448_896, 0),
}
# Stored configs of architectures llmkube refuses to size (tests/test_model_architectures.py).
REFUSED = {"qwen3-next-80b-a3b-instruct.json"}
# Stored configs imported with a caveat (their vision tower is not counted), so no published total applies.
CAVEATED = {"internvl3-1b.json"}
SHAPE_FIELDS = ("architecture", "layers", "hidden_size", "attention_heads", "kv_heads", "head_dim", "intermediate_size",
                "vocab_size", "tie_embeddings", "experts", "mla", "sliding_window", "qkv_bias", "qk_norm",
                "attention_chunk_size", "quantization", "rope_table_positions")


def test_every_stored_config_has_a_builtin_or_is_config_only():
    assert set(BUILTIN) | set(CONFIG_ONLY) | REFUSED | CAVEATED == {p.name for p in CONFIGS.glob("*.json")}
    assert not set(BUILTIN) & set(CONFIG_ONLY)
    for hf_id, _, _ in CONFIG_ONLY.values():
        assert STORE.model(hf_id) is None, f"{hf_id} has a built-in profile: move its config to BUILTIN"


@pytest.mark.parametrize("name", sorted(BUILTIN_PUBLISHED))
def test_builtins_from_stored_configs_count_their_published_size(name):
    assert parameter_counts(STORE.models[name].spec).total == BUILTIN_PUBLISHED[name]


@pytest.mark.parametrize("config", sorted(CONFIG_ONLY))
def test_config_only_checkpoints_import_to_their_published_size(config):
    _, published, rel = CONFIG_ONLY[config]
    total = parameter_counts(import_profile(str(CONFIGS / config)).spec).total
    assert total == published if rel == 0 else total == pytest.approx(published, rel=rel)


def test_awq_re_uploads_are_sized_as_vllm_loads_them():
    """AWQConfig.from_config: 4-bit weights in groups of 128 with zero points; embeddings and the LM
    head stay in the checkpoint dtype. Llama-3.1-70B AWQ-INT4 is about 37 GiB (its two safetensors
    shards total 39.8 GB = 37.1 GiB); its BF16 parent is 131 GiB."""
    awq = import_profile(str(CONFIGS / "llama-3.1-70b-instruct-awq-int4.json")).spec
    assert awq.quantization is not None and awq.quantization.method == "awq"
    assert (awq.quantization.weight_bits, awq.quantization.group_size, awq.quantization.symmetric) == (4, 128, False)
    assert checkpoint_weight_bytes(awq) / 2**30 == pytest.approx(37.0, abs=0.3)
    r1 = import_profile(str(CONFIGS / "deepseek-r1-distill-llama-8b-awq.json")).spec
    plain = import_profile(str(CONFIGS / "deepseek-r1-distill-llama-8b.json")).spec
    assert parameter_counts(r1).total == parameter_counts(plain).total
    assert checkpoint_weight_bytes(r1) < 0.4 * checkpoint_weight_bytes(plain)
    # Qwen2.5-14B-Instruct-AWQ: its Hub tree lists three safetensors shards of 3.99 + 3.97 + 2.02 GB
    # = 9.98 GB = 9.29 GiB (each rounded to 10 MB); the import reads the same 4-bit/128/zero-point scheme.
    q14 = import_profile(str(CONFIGS / "qwen2.5-14b-instruct-awq.json")).spec
    assert q14.quantization is not None and q14.quantization.method == "awq"
    assert checkpoint_weight_bytes(q14) / 2**30 == pytest.approx(9.98e9 / 2**30, abs=0.03)


def test_phi_2_is_a_parallel_block_with_a_plain_gelu_mlp_and_biases():
    """transformers PhiForCausalLM / vLLM phi.py: q/k/v/dense, fc1/fc2, LayerNorms and the LM head
    all carry biases, and the MLP is not gated (two matrices, not three)."""
    from llmkube.modelshape import tensors

    spec = import_profile(str(CONFIGS / "phi-2.json")).spec
    assert (spec.architecture, spec.qkv_bias, spec.attention_output_bias, spec.dtype) == ("phi", True, True, "float16")
    names = {t.name for t in tensors(spec) if t.layer in (0, None)}
    assert {"model.layers.0.mlp.fc1", "model.layers.0.mlp.fc2", "model.layers.0.mlp.fc1.bias", "lm_head.bias"} <= names
    assert not any("gate_proj" in n or "up_proj" in n for n in names)
    mlp = sum(t.numel for t in tensors(spec) if t.group == "dense_mlp" and t.layer == 0)
    assert mlp == 2 * 2560 * 10240 + 10240 + 2560


@pytest.mark.parametrize("config", sorted(BUILTIN))
def test_import_reproduces_the_builtin_shapes(config):
    imported = import_profile(str(CONFIGS / config)).spec
    builtin = STORE.models[BUILTIN[config]].spec
    for name in SHAPE_FIELDS:
        if name == "quantization" and builtin.quantization is None and builtin.dtype == "float8":
            continue  # the old deepseek-v3 profile says "fp8" with its dtype
        if name == "intermediate_size" and builtin.architecture == "mixtral":
            continue
        got, want = getattr(imported, name), getattr(builtin, name)
        if name == "experts" and got is not None and want is not None:
            got = got.model_copy(update={"intermediate_size": got.intermediate_size or imported.intermediate_size})
            want = want.model_copy(update={"intermediate_size": want.intermediate_size or builtin.intermediate_size})
        if name == "quantization" and got is not None and want is not None:
            got, want = got.model_dump(exclude={"ignore"}), want.model_dump(exclude={"ignore"})
        assert got == want, f"{config}: {name}"
    assert layer_types_of(imported) == layer_types_of(builtin)
    # a stored config without its vision_config (Llama 4 Scout's copy is text-only) imports without the
    # vision tower the built-in counts: compare the language models
    text = builtin.parameters_b - (builtin.vision_parameters_b or 0) + (imported.vision_parameters_b or 0)
    assert imported.parameters_b == pytest.approx(text, rel=0.002)


# Published totals (model cards / safetensors metadata), billions, and the share they allow.
PUBLISHED = {
    "qwen3-8b.json": 8.19, "qwen3-32b.json": 32.76, "qwen3-30b-a3b.json": 30.53, "qwen3-235b-a22b.json": 235.09,
    "gemma-3-4b-it.json": 4.30, "gemma-3-12b-it.json": 12.19, "gemma-3-27b-it.json": 27.43,
    "gpt-oss-20b.json": 20.91, "phi-4.json": 14.66, "deepseek-v3.json": 671.0, "deepseek-v2-lite-chat.json": 15.71,
    "qwen3-14b.json": 14.77, "qwen3-0.6b.json": 0.596, "qwen1.5-moe-a2.7b-chat.json": 14.32,
}


@pytest.mark.parametrize("config", sorted(PUBLISHED))
def test_parameter_total_matches_published_size(config):
    total = parameter_counts(import_profile(str(CONFIGS / config)).spec).total / 1e9
    assert total == pytest.approx(PUBLISHED[config], rel=0.003)


def test_exact_counts_where_published_to_the_parameter():
    granite = parameter_counts(import_profile(str(CONFIGS / "granite-3.x-8b-instruct.json")).spec)
    assert granite.total == 8_170_864_640  # ibm-granite/granite-3.3-8b-instruct safetensors
    mistral = parameter_counts(import_profile(str(CONFIGS / "mistral-small-3.1-24b-instruct-2503.json")).spec)
    assert mistral.language_model == 23_572_403_200
    assert mistral.vision == 438_958_080  # Pixtral tower + Mistral 3 projector


def _linear(inputs: int, outputs: int, bias: bool = True) -> int:
    return inputs * outputs + (outputs if bias else 0)


def test_qwen2_5_vl_counts_its_vision_tower_module_by_module():
    """Qwen2.5-VL-7B-Instruct: the language model is Qwen2.5-7B's (q/k/v biases, the inert
    sliding_window dropped as use_sliding_window is false), and the vision tower is counted from the
    config. The expected tower is summed from a printed module tree of the real model
    (acproject/duorou docs/qwen2.5vl_graph.md: `Qwen2_5_VisionTransformerPretrainedModel`), not from
    the config: Conv3d(3, 1280, (2, 14, 14), bias=False); 32 blocks of two RMSNorm(1280),
    qkv Linear(1280, 3840), proj Linear(1280, 1280), gate/up Linear(1280, 3420), down
    Linear(3420, 1280), all with biases; merger RMSNorm(1280), Linear(5120, 5120), Linear(5120, 3584)."""
    profile = import_profile(str(CONFIGS / "qwen2.5-vl-7b-instruct.json"))
    s = profile.spec
    block = 2 * 1280 + _linear(1280, 3840) + _linear(1280, 1280) + 2 * _linear(1280, 3420) + _linear(3420, 1280)
    tower = 3 * 1280 * 2 * 14 * 14 + 32 * block + 1280 + _linear(5120, 5120) + _linear(5120, 3584)
    counts = parameter_counts(s)
    assert counts.vision == tower
    qwen25_7b = parameter_counts(import_profile(str(CONFIGS / "qwen2.5-7b.json")).spec)
    assert counts.language_model == qwen25_7b.language_model  # the same decoder, biases included
    assert counts.total / 1e9 == pytest.approx(8.29, abs=0.005)  # the Hub's "8.29B params" (BF16 safetensors)
    assert s.sliding_window is None and s.qkv_bias and s.architecture == "qwen2"
    assert "not counted" not in (s.notes or "")


def test_qwen2_vl_tower_uses_its_own_modules():
    """Qwen2-VL-7B-Instruct has the same decoder as Qwen2.5-VL-7B (both printed trees show
    Embedding(152064, 3584), 28 layers, k_proj 3584 → 512, MLP 18944) and an older tower
    (zhenhua32/Qwen2-VL READ.md, `Qwen2VisionTransformerPretrainedModel`): LayerNorm(1280) with bias,
    fc1 Linear(1280, 5120) / fc2 Linear(5120, 1280), merger LayerNorm(1280), Linear(5120, 5120),
    Linear(5120, 3584). Its vision_config takes transformers' Qwen2VLVisionConfig keys (depth,
    embed_dim, mlp_ratio, hidden_size = the output width); the Hub lists the model at 8.29B."""
    data = json.loads((CONFIGS / "qwen2.5-vl-7b-instruct.json").read_text())
    data["model_type"] = "qwen2_vl"
    data["vision_config"] = {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                             "hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
                             "temporal_patch_size": 2}
    counts = parameter_counts(profile_from_config(data, "config.json", "qwen2-vl-7b").spec)
    block = 2 * 2 * 1280 + _linear(1280, 3840) + _linear(1280, 1280) + _linear(1280, 5120) + _linear(5120, 1280)
    assert counts.vision == 3 * 1280 * 2 * 14 * 14 + 32 * block + 2 * 1280 + _linear(5120, 5120) + _linear(5120, 3584)
    assert counts.total / 1e9 == pytest.approx(8.29, abs=0.005)


def test_a_vision_tower_llmkube_does_not_know_is_named_in_the_notes():
    data = json.loads((CONFIGS / "qwen2.5-7b.json").read_text())
    data["vision_config"] = {"model_type": "some_new_vit", "depth": 4}
    s = profile_from_config(data, "config.json", "vl").spec
    assert "Vision tower (some_new_vit) not counted" in (s.notes or "")
    assert not s.vision_parameters_b


def test_gemma3_minimal_config_takes_transformers_defaults():
    s = import_profile(str(CONFIGS / "gemma-3-4b-it.json")).spec
    assert (s.attention_heads, s.kv_heads, s.head_dim, s.vocab_size, s.max_context) == (8, 4, 256, 262208, 131072)
    assert s.tie_embeddings and s.qk_norm
    types = layer_types_of(s)
    assert types.count("full_attention") == 34 // 6 and types[5] == "full_attention"


def test_max_context_follows_vllm_rope_scaling():
    assert import_profile(str(CONFIGS / "gpt-oss-20b.json")).spec.max_context == 4096 * 32  # yarn
    assert import_profile(str(CONFIGS / "deepseek-v3.json")).spec.max_context == 4096 * 40
    assert import_profile(str(CONFIGS / "gemma-3-27b-it.json")).spec.max_context == 131072  # not scaled again
    assert import_profile(str(CONFIGS / "llama-3.1-8b.json")).spec.max_context == 131072  # llama3 type: no scaling
    # ... but vLLM's cos/sin table for Gemma 3's linearly scaled global layers spans 131072 × 8 positions
    assert import_profile(str(CONFIGS / "gemma-3-27b-it.json")).spec.rope_table_positions == 131072 * 8
    assert import_profile(str(CONFIGS / "gemma-3-4b-it.json")).spec.rope_table_positions == 131072 * 8  # defaults
    assert import_profile(str(CONFIGS / "llama-3.1-8b.json")).spec.rope_table_positions is None


def test_a_multimodal_rope_table_spans_four_times_the_positions():
    """vLLM's `MRotaryEmbedding` (rope_scaling with "mrope_section") builds cos/sin over
    4 × max_position_embeddings ("We enlarge max_position_embeddings to 4 times", mrope.py v0.11.0,
    v0.19.0), counted in "Model loading took"; the context stays max_position_embeddings. Fit rows:
    Qwen2.5-VL-7B (vLLM 0.9.0.1) and -3B (0.11.0) on an L4 load 0.0956 / 0.0953 GiB more than one
    128,000-position table; three more copies are 0.0916 GiB."""
    from llmkube.plan.engine_memory import rope_cache_bytes
    for name in ("qwen2.5-vl-7b-instruct.json", "qwen2.5-vl-3b-instruct.json"):
        spec = import_profile(str(CONFIGS / name)).spec
        assert spec.max_context == 128000 and spec.rope_table_positions == 4 * 128000
        assert rope_cache_bytes(spec, 2) == 4 * 128000 * 128 * 2
    data = json.loads((CONFIGS / "qwen2.5-vl-7b-instruct.json").read_text())
    plain = dict(data, rope_scaling={"rope_type": "default", "type": "default"})  # no mrope_section
    assert profile_from_config(plain, "config.json", "plain").spec.rope_table_positions is None
    # the text-only Qwen2.5 (use_mrope false, no mrope_section) keeps one table of its context
    assert import_profile(str(CONFIGS / "qwen2.5-7b.json")).spec.rope_table_positions is None


def test_quantization_as_vllm_reads_it():
    gpt = import_profile(str(CONFIGS / "gpt-oss-20b.json")).spec.quantization
    assert gpt is not None and (gpt.method, gpt.weight_bits, gpt.targets) == ("mxfp4", 4, "experts")
    ds = import_profile(str(CONFIGS / "deepseek-v3.json")).spec.quantization
    assert ds is not None and (ds.method, ds.strategy, ds.block_size) == ("fp8", "block", [128, 128])
    awq = import_profile(str(CONFIGS / "qwen2.5-72b-instruct-awq.json")).spec.quantization
    assert awq is not None and (awq.method, awq.weight_bits, awq.group_size, awq.symmetric) == ("awq", 4, 128, False)


def test_checkpoint_bytes_of_quantized_configs():
    # gpt-oss-20b: MXFP4 experts + BF16 rest; a GGUF export keeping MXFP4 holds 13.8 GB (llama.cpp log)
    assert checkpoint_weight_bytes(import_profile(str(CONFIGS / "gpt-oss-20b.json")).spec) / 1e9 == pytest.approx(13.8, abs=0.1)
    # DeepSeek-V3 FP8 with 128x128 block scales, 16-bit embeddings/head, no MTP layer
    ds = import_profile(str(CONFIGS / "deepseek-v3.json")).spec
    c = parameter_counts(ds)
    assert c.total < checkpoint_weight_bytes(ds) < c.total * 1.01


def _write(tmp_path: Path, data: dict, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


BASE = json.loads((CONFIGS / "llama-3.1-8b.json").read_text())


def test_compressed_tensors_w4a16_group_scheme(tmp_path):
    cfg = dict(BASE, quantization_config={
        "quant_method": "compressed-tensors", "format": "pack-quantized", "ignore": ["lm_head"],
        "config_groups": {"group_0": {"targets": ["Linear"], "input_activations": None,
                                      "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128,
                                                  "symmetric": True, "dynamic": False}}}})
    s = import_profile(str(_write(tmp_path, cfg))).spec
    q = s.quantization
    assert q is not None and (q.method, q.weight_bits, q.group_size, q.format, q.activation_bits) == \
        ("compressed-tensors", 4, 128, "pack-quantized", None)
    c = parameter_counts(s)
    linear = c.attention + c.dense_mlp
    # packed int4 + one bf16 scale per 128 weights (+ weight_shape per layer), 16-bit embeddings/head/norms
    expected = linear * 0.5 + linear / 128 * 2 + 32 * 7 * 16 + (c.embedding + c.lm_head + c.norms) * 2
    assert checkpoint_weight_bytes(s) == pytest.approx(expected, rel=1e-9)


def test_compressed_tensors_fp8_dynamic(tmp_path):
    cfg = dict(BASE, quantization_config={
        "quant_method": "compressed-tensors", "format": "float-quantized", "ignore": ["lm_head"],
        "config_groups": {"group_0": {"targets": ["Linear"],
                                      "input_activations": {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True},
                                      "weights": {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True}}}})
    q = import_profile(str(_write(tmp_path, cfg))).spec.quantization
    assert q is not None and (q.weight_type, q.strategy, q.activation_bits) == ("float", "channel", 8)


def test_bitsandbytes_nf4(tmp_path):
    cfg = dict(BASE, quantization_config={"quant_method": "bitsandbytes", "load_in_4bit": True,
                                          "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True})
    q = import_profile(str(_write(tmp_path, cfg))).spec.quantization
    assert q is not None and (q.method, q.weight_bits, q.format) == ("bitsandbytes", 4, "nf4-double-quant")


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"quantization_config": {"quant_method": "hqq"}}, "quantization_config.quant_method", "unsupported quantization method"),
    ({"num_hidden_layers": "32"}, "num_hidden_layers", "must be an integer"),
    ({"hidden_size": None}, "hidden_size", "has no 'hidden_size'"),
    ({"model_type": "whisper", "intermediate_size": None}, "model_type", "unsupported model_type"),
    ({"quantization_config": {"quant_method": "fp8", "weight_block_size": [128]}}, "quantization_config.weight_block_size", "two positive"),
])
def test_bad_configs_name_file_and_key(tmp_path, change, field, message):
    path = _write(tmp_path, {**BASE, **change})
    with pytest.raises(InputError) as exc:
        import_profile(str(path))
    assert exc.value.field == field and message in exc.value.message
    assert str(path) in str(exc.value)


def test_not_json_points_at_the_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "hidden_size": 4096,\n  oops\n}')
    with pytest.raises(InputError) as exc:
        import_profile(str(path))
    assert exc.value.mark is not None and exc.value.mark.line == 3


def test_a_directory_holding_config_json(tmp_path):
    model_dir = tmp_path / "Qwen3-8B"
    model_dir.mkdir()
    (model_dir / "config.json").write_text((CONFIGS / "qwen3-8b.json").read_text())
    assert import_profile(str(model_dir)).name == "qwen3-8b"


def test_spec_may_name_a_local_config(tmp_path):
    path = _write(tmp_path, json.loads((CONFIGS / "phi-4.json").read_text()))
    store = ProfileStore.load()
    model = store.model(str(path))
    assert model is not None and model.spec.layers == 40
    assert store.model(str(path)) is model  # read once


def test_a_config_json_is_named_after_its_directory_even_when_given_relatively(tmp_path, monkeypatch):
    """`./config.json` inside a model's download is that model, not a profile called "config"."""
    model_dir = tmp_path / "Qwen2.5-VL-7B-Instruct"
    model_dir.mkdir()
    (model_dir / "config.json").write_text((CONFIGS / "qwen2.5-vl-7b-instruct.json").read_text())
    monkeypatch.chdir(model_dir)
    assert import_profile("./config.json").name == "qwen2.5-vl-7b-instruct"
    assert import_profile("config.json").name == "qwen2.5-vl-7b-instruct"
    monkeypatch.chdir(tmp_path)
    assert import_profile("Qwen2.5-VL-7B-Instruct").name == "qwen2.5-vl-7b-instruct"  # the directory
    assert import_profile("Qwen2.5-VL-7B-Instruct/config.json").name == "qwen2.5-vl-7b-instruct"
    renamed = tmp_path / "vl.json"
    renamed.write_text((model_dir / "config.json").read_text())
    assert import_profile("vl.json").name == "vl"  # any other file: its stem


def test_a_missing_config_is_an_unknown_model_with_a_hint(tmp_path):
    store = ProfileStore.load()
    missing = str(tmp_path / "missing" / "config.json")
    assert store.model(missing) is None
    assert "no config.json at" in store.suggest_model(missing)


def test_a_broken_config_named_by_a_spec_is_an_input_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{}")
    with pytest.raises(InputError, match="has no model_type"):
        ProfileStore.load().model(str(path))


def test_profile_from_config_rejects_linear_attention_layers():
    cfg = dict(BASE, layer_types=["linear_attention"] * 32)
    with pytest.raises(InputError, match="unsupported layer types"):
        profile_from_config(cfg, "x/config.json", "x")


# ---- derivative profiles (baseProfile) --------------------------------------------------


def _profiles_dir(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "profiles"
    d.mkdir(exist_ok=True)
    (d / "derived.yaml").write_text(text)
    return d


DERIVED = """\
apiVersion: llmkube.dev/v1alpha1
kind: ModelProfile
metadata: {name: my-llama-awq}
spec:
  baseProfile: meta-llama/Llama-3.1-8B-Instruct
  displayName: My Llama AWQ
  huggingFaceIds: [me/llama-awq]
  quantization: {method: awq, weightBits: 4, groupSize: 128, symmetric: false}
---
apiVersion: llmkube.dev/v1alpha1
kind: ModelProfile
metadata: {name: my-llama-awq-long}
spec:
  baseProfile: my-llama-awq
  displayName: My Llama AWQ long
  huggingFaceIds: [me/llama-awq-long]
  maxContext: 262144
"""


def test_derivative_takes_its_base_and_overrides(tmp_path):
    store = ProfileStore.load([_profiles_dir(tmp_path, DERIVED)])
    awq = store.model("me/llama-awq")
    assert awq is not None and awq.spec.base_profile == "meta-llama/Llama-3.1-8B-Instruct"
    assert awq.spec.layers == 32 and awq.spec.quantization is not None and awq.spec.quantization.method == "awq"
    assert awq.spec.notes == "Derived from llama-3.1-8b."
    long = store.model("my-llama-awq-long")  # a derivative of a derivative
    assert long is not None and long.spec.max_context == 262144 and long.spec.quantization == awq.spec.quantization
    assert store.model("llama-3.1-8b").spec.quantization is None  # the base is untouched


def test_derivative_of_unknown_base(tmp_path):
    d = _profiles_dir(tmp_path, DERIVED.replace("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8c"))
    with pytest.raises(InputError) as exc:
        ProfileStore.load([d])
    assert exc.value.field == "spec.baseProfile" and "llama-3.1-8b" in (exc.value.hint or "")


def test_invalid_derivative_names_the_field(tmp_path):
    d = _profiles_dir(tmp_path, DERIVED.replace("maxContext: 262144", "maxContext: -1"))
    with pytest.raises(InputError) as exc:
        ProfileStore.load([d])
    assert exc.value.field == "spec.maxContext" and "my-llama-awq-long" in exc.value.message


def test_builtin_derivatives_resolve():
    oss = STORE.models["gpt-oss-120b"].spec
    assert (oss.layers, oss.experts.total if oss.experts else 0, oss.hidden_size) == (36, 128, 2880)
    counts = parameter_counts(oss)
    assert counts.total / 1e9 == pytest.approx(116.83, abs=0.01)  # OpenAI's published total
    assert (counts.active - counts.embedding) / 1e9 == pytest.approx(5.13, abs=0.01)


def test_quantized_re_upload_derivatives_store_what_their_checkpoints_hold():
    """The AWQ re-uploads of the start-up table resolve to their base's shapes with the checkpoint's
    quantization_config (4-bit, groups of 128, zero points, float16)."""
    # TechxGenus/Meta-Llama-3-70B-Instruct-AWQ: Llama 3 70B (8,192 positions) with the same AWQ scheme
    # as hugging-quants' Llama 3.1 70B re-upload, whose stored config.json has the same shapes: the two
    # must store the same bytes (only the context and the RoPE scaling differ)
    llama3 = STORE.model("TechxGenus/Meta-Llama-3-70B-Instruct-AWQ")
    assert llama3 is not None and llama3.name == "llama-3-70b-instruct-awq"
    spec = llama3.spec
    assert (spec.max_context, spec.dtype, spec.layers, spec.intermediate_size) == (8192, "float16", 80, 28672)
    assert spec.quantization is not None and spec.quantization.method == "awq"
    assert (spec.quantization.weight_bits, spec.quantization.group_size, spec.quantization.symmetric) == (4, 128, False)
    llama31 = import_profile(str(CONFIGS / "llama-3.1-70b-instruct-awq-int4.json")).spec
    assert checkpoint_weight_bytes(spec) == checkpoint_weight_bytes(llama31)
    # Qwen/Qwen2.5-32B-Instruct-AWQ: its Hub tree lists five safetensors shards of 3.94 + 3.98 + 3.95 +
    # 3.98 + 3.48 GB = 19.33 GB (each rounded to 10 MB): the unpadded 27,648-wide MLP in AWQ 4-bit/128
    qwen = STORE.model("Qwen/Qwen2.5-32B-Instruct-AWQ")
    assert qwen is not None and qwen.name == "qwen2.5-32b-instruct-awq"
    assert (qwen.spec.max_context, qwen.spec.dtype, qwen.spec.intermediate_size) == (32768, "float16", 27648)
    assert checkpoint_weight_bytes(qwen.spec) / 1e9 == pytest.approx(19.33, abs=0.025)
    base = STORE.models["qwen2.5-32b-instruct"].spec
    assert parameter_counts(qwen.spec).total == parameter_counts(base).total
    assert checkpoint_weight_bytes(qwen.spec) < 0.3 * checkpoint_weight_bytes(base)


# ---- the command -------------------------------------------------------------------------


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_import_writes_a_loadable_profile(tmp_path, capsys):
    code, out, _ = _run(["profiles", "import", str(CONFIGS / "qwen3-30b-a3b.json"), "--name", "my-moe", "-d", str(tmp_path)], capsys)
    assert code == 0 and "my-moe.yaml" in out
    store = ProfileStore.load([tmp_path])
    moe = store.models["my-moe"].spec
    assert moe.experts is not None and (moe.experts.total, moe.experts.intermediate_size) == (128, 768)


def test_import_to_stdout_and_file(tmp_path, capsys):
    code, out, _ = _run(["profiles", "import", str(CONFIGS / "gpt-oss-20b.json")], capsys)
    assert code == 0 and "kind: ModelProfile" in out and "method: mxfp4" in out and "layerTypes" not in out
    target = tmp_path / "p.yaml"
    code, _, _ = _run(["profiles", "import", str(CONFIGS / "phi-4.json"), "-o", str(target)], capsys)
    assert code == 0 and "architecture: phi3" in target.read_text()


def test_import_with_hf_ids_is_found_by_them(tmp_path, capsys):
    """--hf-id: a downloaded config.json's profile answers to the checkpoint's ids (a spec's
    `model`, a server's `--model`), not only to `local/<name>`."""
    argv = ["profiles", "import", str(CONFIGS / "phi-4.json"), "--name", "my-phi", "-d", str(tmp_path),
            "--hf-id", "my-org/phi-4-ft", "--hf-id", "my-org/phi-4-ft-awq", "--hf-id", "my-org/phi-4-ft"]
    code, _, _ = _run(argv, capsys)
    assert code == 0
    store = ProfileStore.load([tmp_path])
    assert store.models["my-phi"].spec.hugging_face_ids == ["my-org/phi-4-ft", "my-org/phi-4-ft-awq"]
    assert store.model("my-org/phi-4-ft-awq").name == "my-phi"
    code, _, err = _run(["profiles", "import", str(CONFIGS / "phi-4.json"), "--hf-id", "phi-4"], capsys)
    assert code == 2 and "--hf-id 'phi-4' is not a Hugging Face id" in err and "Traceback" not in err


def test_import_by_id_offline_says_what_to_do(capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_hub(name, *args, **kwargs):
        if name.startswith("huggingface_hub"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_hub)
    code, _, err = _run(["profiles", "import", "Qwen/Qwen3-8B"], capsys)
    assert code == 2 and "huggingface_hub" in err and "config.json" in err


def test_bad_config_exits_2(tmp_path, capsys):
    path = _write(tmp_path, {**BASE, "num_attention_heads": 0})
    code, _, err = _run(["profiles", "import", str(path)], capsys)
    assert code == 2 and "num_attention_heads" in err and "Traceback" not in err


def test_list_and_show(capsys):
    code, out, _ = _run(["profiles", "list"], capsys)
    assert code == 0 and "gpt-oss-120b" in out and "gpt-oss-20b" in out and "h200-141gb" in out
    code, out, _ = _run(["profiles", "list", "-o", "json"], capsys)
    data = json.loads(out)
    assert {m["name"] for m in data["models"]} == set(STORE.models)
    code, out, _ = _run(["profiles", "show", "Qwen/Qwen3-8B", "-o", "json"], capsys)
    shown = json.loads(out)
    assert shown["metadata"]["name"] == "qwen3-8b"
    assert shown["derived"]["parameters"]["total"] == parameter_counts(STORE.models["qwen3-8b"].spec).total
    code, out, _ = _run(["profiles", "show", str(CONFIGS / "deepseek-v3.json")], capsys)
    assert code == 0 and "671.026 B" in out
    code, _, err = _run(["profiles", "show", "no-such-model"], capsys)
    assert code == 2 and "unknown profile" in err


def test_several_compressed_tensors_groups_are_noted(tmp_path):
    weights = {"num_bits": 8, "type": "int", "strategy": "channel", "symmetric": True}
    cfg = dict(BASE, quantization_config={
        "quant_method": "compressed-tensors", "format": "int-quantized",
        "config_groups": {"experts": {"targets": ["re:.*experts.*"], "weights": {**weights, "num_bits": 4}},
                          "rest": {"targets": ["Linear"], "weights": weights}}})
    s = import_profile(str(_write(tmp_path, cfg))).spec
    assert s.quantization is not None and s.quantization.weight_bits == 8
    assert "2 config_groups" in (s.notes or "")


# Issue 11's model list: each family's stored config.json, imported as `llmkube profiles import` does,
# sizes on a fitting server (GPU memory per vLLM's CUDA total, TP, context): weights fit and the KV
# cache holds at least one request. DeepSeek-V3 (671B, block fp8) needs 8 x H200.
ISSUE_MODELS = {
    "qwen3-8b.json": (79.19, 1, 8192), "qwen3-30b-a3b.json": (79.19, 1, 8192),
    "qwen3-235b-a22b.json": (79.19, 8, 8192), "gemma-3-27b-it.json": (79.19, 1, 8192),
    "gpt-oss-20b.json": (79.19, 1, 8192), "granite-3.x-8b-instruct.json": (22.05, 1, 8192),
    "mistral-small-3.1-24b-instruct-2503.json": (79.19, 1, 8192), "llama-4-scout-17b-16e.json": (79.19, 4, 8192),
    "deepseek-v2-lite-chat.json": (79.19, 1, 8192), "deepseek-v3.json": (139.8, 8, 8192),
    "phi-4.json": (79.19, 1, 8192), "phi-2.json": (22.05, 1, 2048),
    "deepseek-r1-distill-qwen-7b.json": (22.05, 1, 8192),
    "llama-3.1-70b-instruct-awq-int4.json": (44.42, 2, 8192),
}


@pytest.mark.parametrize("config", sorted(ISSUE_MODELS))
def test_every_issue_model_config_imports_and_sizes(config):
    from llmkube.plan.sizing import ServerConfig, serving_fit

    memory, tp, length = ISSUE_MODELS[config]
    profile = import_profile(str(CONFIGS / config))
    fit = serving_fit(profile, memory, ServerConfig(tensor_parallel=tp, max_model_len=length))
    assert fit.weights_gib > 0 and fit.kv_tokens >= length, (config, fit.weights_gib, fit.kv_tokens)
