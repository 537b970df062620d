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
from llmkube.profiles import ProfileStore

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
