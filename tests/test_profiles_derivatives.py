"""Built-in derivative profiles (spec.baseProfile) for checkpoints people serve: each resolves by its
Hugging Face id and carries the facts of the checkpoint's own config.json. The config copies are in
tests/data/hf-configs (README there cites each source); importing one (the `llmkube profiles import`
code path) must give the shapes the derivative resolves to, so a wrong or missing override fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkube.modelconfig import profile_from_config
from llmkube.modelshape import parameter_counts
from llmkube.profiles import ProfileStore, layer_types_of

CONFIGS = Path(__file__).parent / "data" / "hf-configs"

# (HF id, built-in name, base profile, config.json copy)
DERIVED = [
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen3-30b-a3b-instruct-2507", "qwen3-30b-a3b", "qwen3-30b-a3b-instruct-2507.json"),
    ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3-coder-30b-a3b-instruct", "qwen3-30b-a3b", "qwen3-coder-30b-a3b-instruct.json"),
]

SHAPE_FIELDS = (
    "architecture", "layers", "hidden_size", "attention_heads", "kv_heads", "head_dim", "intermediate_size",
    "vocab_size", "max_context", "tie_embeddings", "dtype", "experts", "qk_norm", "sliding_window", "quantization",
)


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


@pytest.mark.parametrize(("hf_id", "name", "base", "config"), DERIVED)
def test_derivative_resolves_by_hf_id_to_its_config_shapes(store, hf_id, name, base, config):
    model = store.model(hf_id)
    assert model is not None and model.name == name
    path = CONFIGS / config
    imported = profile_from_config(json.loads(path.read_text()), str(path), name, [hf_id])
    for field in SHAPE_FIELDS:
        assert getattr(model.spec, field) == getattr(imported.spec, field), field
    # the base's own context is 40960; these releases read 262144 with no rope scaling
    assert model.spec.max_context == 262144 != store.model(base).spec.max_context


@pytest.mark.parametrize(("hf_id", "name", "base", "config"), DERIVED)
def test_derivative_keeps_the_base_parameter_count(store, hf_id, name, base, config):
    """Only the context (and for Coder the unused dense intermediate_size) differ: every layer is
    MoE (decoder_sparse_step 1, no mlp_only_layers), so the weights are the base's."""
    model, base_model = store.model(hf_id), store.model(base)
    assert model is not None and base_model is not None
    assert parameter_counts(model.spec) == parameter_counts(base_model.spec)
    assert model.spec.vocab_size == base_model.spec.vocab_size == 151936


def test_coder_dense_intermediate_size_is_its_own(store):
    model = store.model("Qwen/Qwen3-Coder-30B-A3B-Instruct")
    assert model is not None and model.spec.intermediate_size == 5472
    assert model.spec.experts is not None and model.spec.experts.intermediate_size == 768


def test_unsloth_llama_3_2_3b_instruct_is_the_meta_profile(store):
    """unsloth/Llama-3.2-3B-Instruct re-uploads Meta's weights (same 6.43 GB of safetensors, same
    shapes): an id on llama-3.2-3b, not a profile of its own."""
    unsloth, meta = store.model("unsloth/Llama-3.2-3B-Instruct"), store.model("meta-llama/Llama-3.2-3B-Instruct")
    assert unsloth is not None and unsloth is meta and unsloth.name == "llama-3.2-3b"
    s = unsloth.spec
    assert (s.layers, s.hidden_size, s.attention_heads, s.kv_heads, s.head_dim) == (28, 3072, 24, 8, 128)
    assert (s.intermediate_size, s.vocab_size, s.max_context, s.tie_embeddings) == (8192, 128256, 131072, True)


# Checkpoints of architectures llmkube models, given built-in profiles for the start-ups of
# benchmarks/data (issue 11): (HF id, built-in name, config.json copy, published size in billions).
# The published sizes are the model cards' / safetensors totals, which the shapes must reproduce.
CHECKPOINTS = [
    ("codellama/CodeLlama-7b-hf", "codellama-7b", "codellama-7b-hf.json", 6.74),
    ("deepseek-ai/deepseek-coder-6.7b-instruct", "deepseek-coder-6.7b", "deepseek-coder-6.7b-instruct.json", 6.74),
    ("meta-llama/Llama-2-70b-hf", "llama-2-70b", "llama-2-70b-hf.json", 68.98),
    ("google/gemma-7b", "gemma-7b", "gemma-7b.json", 8.54),
    ("google/gemma-2-2b-it", "gemma-2-2b", "gemma-2-2b-it.json", 2.61),
    ("google/gemma-2b", "gemma-2b", "gemma-2b.json", 2.51),
    ("ibm-granite/granite-3.1-2b-instruct", "granite-3.1-2b", "granite-3.1-2b-instruct.json", 2.53),
    ("Qwen/Qwen2.5-Coder-7B-Instruct", "qwen2.5-coder-7b", "qwen2.5-coder-7b-instruct.json", 7.62),
    ("Qwen/Qwen2.5-14B-Instruct", "qwen2.5-14b-instruct", "qwen2.5-14b-instruct.json", 14.77),
    ("Qwen/Qwen2.5-32B-Instruct", "qwen2.5-32b-instruct", "qwen2.5-32b-instruct.json", 32.76),
]


@pytest.mark.parametrize(("hf_id", "name", "config", "published"), CHECKPOINTS)
def test_checkpoint_resolves_to_what_its_config_imports(store, hf_id, name, config, published):
    """The built-in a spec gets for the id and the profile `llmkube profiles import` writes from
    the checkpoint's config.json agree on every shape, the context and the weights."""
    model = store.model(hf_id)
    assert model is not None and model.name == name
    path = CONFIGS / config
    imported = profile_from_config(json.loads(path.read_text()), str(path), name, [hf_id])
    for field in (*SHAPE_FIELDS, "qkv_bias", "rope_table_positions"):
        assert getattr(model.spec, field) == getattr(imported.spec, field), field
    assert layer_types_of(model.spec) == layer_types_of(imported.spec)
    total = parameter_counts(model.spec).total
    assert total == parameter_counts(imported.spec).total
    assert total / 1e9 == pytest.approx(published, rel=0.002)
    assert model.spec.parameters_b == pytest.approx(total / 1e9, abs=0.0005)


def test_deepseek_coder_context_is_scaled_by_its_linear_rope_factor(store):
    """max_position_embeddings 16384 with rope_scaling linear x4: vLLM's _get_and_verify_max_len
    derives 65536 (a base Llama 2 profile would say 4096)."""
    model = store.model("deepseek-ai/deepseek-coder-6.7b-instruct")
    assert model is not None and model.spec.max_context == 16384 * 4
    assert store.model("meta-llama/Llama-2-7b-hf").spec.max_context == 4096


def test_small_derivatives_replace_every_shape_their_base_differs_in(store):
    """gemma-2-2b, gemma-2b and granite-3.1-2b derive from 9B / 7B / 8B profiles: a forgotten
    override would size them as the larger model."""
    for small, base in (("google/gemma-2-2b-it", "gemma-2-9b"), ("google/gemma-2b", "gemma-7b"),
                        ("ibm-granite/granite-3.1-2b-instruct", "granite-3.3-8b")):
        s, b = store.model(small).spec, store.models[base].spec
        assert parameter_counts(s).total < parameter_counts(b).total / 3
        assert s.architecture == b.architecture and s.max_context == b.max_context


def test_qwen2_5_instruct_checkpoints_keep_their_own_32k_context(store):
    """Qwen2.5-14B/32B base configs say 131072 positions, their -Instruct configs 32768 (the 128K
    needs YaRN, off by default), and vLLM serves the Instruct checkpoints at 32768 unless told
    otherwise: the base's context must not leak into the Instruct id."""
    for size in ("14", "32"):
        base, instruct = store.model(f"Qwen/Qwen2.5-{size}B"), store.model(f"Qwen/Qwen2.5-{size}B-Instruct")
        assert base is not None and instruct is not None and base is not instruct
        assert (base.spec.max_context, instruct.spec.max_context) == (131072, 32768)
        assert parameter_counts(base.spec).total == parameter_counts(instruct.spec).total
