"""Architectures beyond the first list: Qwen3-VL (dense and MoE) imported module by module, and
the layer kinds llmkube cannot size (recurrent-state hybrids, cross-attention, per-layer head
shapes) refused by name instead of being sized as something else. Configs: tests/data/hf-configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkube.cli import main
from llmkube.errors import InputError
from llmkube.modelconfig import import_profile, profile_from_config
from llmkube.modelshape import checkpoint_weight_bytes, parameter_counts

CONFIGS = Path(__file__).parent / "data" / "hf-configs"


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _config(name: str) -> dict:
    return json.loads((CONFIGS / name).read_text())


# ---- Qwen3-VL --------------------------------------------------------------------------------

# The tower of both checkpoints, summed from the `model.visual.*` rows of their safetensors listing
# (the source's "详细权重列表"): patch_embed 1152 x 3 x 2 x 16 x 16 + 1152, pos_embed 2304 x 1152,
# 27 blocks of norm1/norm2 (2 x 2 x 1152), qkv 3456 x 1152 + 3456, proj 1152 x 1152 + 1152,
# linear_fc1 4304 x 1152 + 4304, linear_fc2 1152 x 4304 + 1152; the merger's norm 2 x 1152 and
# the three DeepStack mergers' norms 2 x 4608, each with linear_fc1 4608 x 4608 + 4608 and
# linear_fc2 out x 4608 + out (out: the language model's width).
def _tower(out: int) -> int:
    block = 4 * 1152 + (3456 * 1152 + 3456) + (1152 * 1152 + 1152) + (4304 * 1152 + 4304) + (1152 * 4304 + 1152)
    mlp = 4608 * 4608 + 4608 + out * 4608 + out
    return (1152 * 3 * 2 * 16 * 16 + 1152) + 2304 * 1152 + 27 * block + (2 * 1152 + mlp) + 3 * (2 * 4608 + mlp)


def test_qwen3_vl_8b_is_a_qwen3_decoder_with_its_tower_counted():
    cav: list[str] = []
    s = import_profile(str(CONFIGS / "qwen3-vl-8b-instruct.json"), caveats=cav).spec
    assert (s.architecture, s.layers, s.hidden_size, s.attention_heads, s.kv_heads, s.head_dim) == ("qwen3", 36, 4096, 32, 8, 128)
    assert (s.intermediate_size, s.vocab_size, s.tie_embeddings, s.qk_norm, s.qkv_bias) == (12288, 151936, False, True, False)
    assert s.experts is None and s.sliding_window is None and s.dtype == "bfloat16"
    # M-RoPE (rope_scaling.mrope_section): vLLM's table spans 4 x max_position_embeddings
    assert (s.max_context, s.rope_table_positions) == (262144, 4 * 262144)
    c = parameter_counts(s)
    assert c.vision == _tower(4096) == 576_388_336
    assert c.total == 8_767_123_696  # the listing's 参数总量 (parameter total)
    # its four shards: "文件总大小 16.33 GB" in binary units (lm_head [151936, 4096] bf16 is listed as 1.16 GB)
    assert checkpoint_weight_bytes(s) / 2**30 == pytest.approx(16.33, abs=0.005)
    assert any("activation peak" in c for c in cav)


def test_qwen3_vl_30b_a3b_is_a_qwen3_moe_decoder_with_its_tower_counted():
    s = import_profile(str(CONFIGS / "qwen3-vl-30b-a3b-instruct.json")).spec
    assert (s.architecture, s.layers, s.hidden_size, s.attention_heads, s.kv_heads, s.head_dim) == ("qwen3_moe", 48, 2048, 32, 4, 128)
    assert s.experts is not None
    assert (s.experts.total, s.experts.active, s.experts.intermediate_size, s.experts.shared) == (128, 8, 768, 0)
    assert s.qk_norm and not s.tie_embeddings
    c = parameter_counts(s)
    assert c.vision == _tower(2048)
    assert c.total == 31_070_754_032  # the listing's total; experts.gate_up_proj [128, 2048, 1536] per layer
    assert checkpoint_weight_bytes(s) / 2**30 == pytest.approx(57.87, abs=0.005)  # "文件总大小 57.87 GB"


def test_qwen3_vl_sizes_on_one_gpu():
    from llmkube.plan.sizing import ServerConfig, serving_fit

    for name, length in (("qwen3-vl-8b-instruct.json", 32768), ("qwen3-vl-30b-a3b-instruct.json", 8192)):
        fit = serving_fit(import_profile(str(CONFIGS / name)), 79.19, ServerConfig(tensor_parallel=1, max_model_len=length))
        assert fit.weights_gib > 0 and fit.kv_tokens >= length, (name, fit.weights_gib, fit.kv_tokens)


# ---- GLM-4.5 (glm4_moe) ----------------------------------------------------------------------

def test_glm_4_5_air_counts_the_modules_vllm_builds():
    """vLLM models/glm4_moe.py: q/k/v with biases and o_proj without, one dense layer of
    intermediate_size (first_k_dense_replace), then 45 MoE layers of 128 routed experts and one
    shared expert of moe_intermediate_size under an fp32 gate with an e_score_correction_bias;
    the MTP layer (num_nextn_predict_layers) is skipped on load."""
    s = import_profile(str(CONFIGS / "glm-4.5-air.json")).spec
    assert (s.architecture, s.layers, s.hidden_size, s.attention_heads, s.kv_heads, s.head_dim) == ("glm4_moe", 46, 4096, 96, 8, 128)
    assert s.qkv_bias and not s.attention_output_bias and not s.qk_norm
    assert s.experts is not None
    assert (s.experts.total, s.experts.active, s.experts.shared, s.experts.dense_layers) == (128, 8, 1, 1)
    c = parameter_counts(s)
    q, kv = 96 * 128, 8 * 128
    assert c.attention == 46 * (4096 * q + 2 * 4096 * kv + (q + 2 * kv) + q * 4096)
    assert c.dense_mlp == 3 * 4096 * 10944
    assert c.experts == 45 * 128 * 3 * 4096 * 1408 and c.shared_experts == 45 * 3 * 4096 * 1408
    assert c.router == 45 * (4096 * 128 + 128)
    assert "MTP" in (s.notes or "")


# ---- refused layer kinds ---------------------------------------------------------------------

def test_main_no_longer_sizes_qwen3_next_as_48_attention_layers():
    """Qwen3-Next-80B-A3B: 36 of its 48 layers are Gated DeltaNet (full_attention_interval 4). Its
    keys look like a decoder's, so llmkube used to size it as 48 full-attention layers."""
    with pytest.raises(InputError) as exc:
        import_profile(str(CONFIGS / "qwen3-next-80b-a3b-instruct.json"))
    e = exc.value
    assert "qwen3_next" in e.message and "fixed-size state per request" in e.message
    assert e.hint is not None and "by hand" in e.hint


# Excerpts of published configs (the keys that decide), as other projects' tests quote them:
# Gemma 4 26B-A4B's text_config, Qwen3.5's hybrid layer_types, Llama 3.2 Vision's text_config.
GEMMA4_TEXT = {"model_type": "gemma4_text", "hidden_size": 2816, "intermediate_size": 2112, "num_attention_heads": 16,
               "num_hidden_layers": 30, "num_key_value_heads": 8, "num_global_key_value_heads": 2, "head_dim": 256,
               "global_head_dim": 512, "vocab_size": 262144, "max_position_embeddings": 262144,
               "sliding_window": 1024, "enable_moe_block": True, "num_experts": 128, "top_k_experts": 8,
               "moe_intermediate_size": 704, "attention_k_eq_v": True}
MLLAMA_TEXT = {"model_type": "mllama_text_model", "hidden_size": 4096, "intermediate_size": 14336,
               "num_attention_heads": 32, "num_key_value_heads": 8, "num_hidden_layers": 40, "vocab_size": 128256,
               "max_position_embeddings": 131072, "cross_attention_layers": [3, 8, 13, 18, 23, 28, 33, 38]}


@pytest.mark.parametrize(("data", "model_type", "words"), [
    ({"model_type": "gemma4", "text_config": GEMMA4_TEXT}, "gemma4_text", "head size"),
    ({"model_type": "mllama", "text_config": MLLAMA_TEXT}, "mllama_text_model", "cross_attention_layers"),
    ({**_config("llama-3.1-8b.json"), "model_type": "qwen3_5_text",
      "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"] * 8},
     "qwen3_5_text", "fixed-size state"),
    # a model_type llmkube has never heard of, with a key that names a layer kind it cannot size
    ({**_config("llama-3.1-8b.json"), "model_type": "new_hybrid", "hybrid_override_pattern": "M-M-M*-"},
     "new_hybrid", "fixed-size state"),
    ({**_config("llama-3.1-8b.json"), "model_type": "new_vlm", "cross_attention_layers": [3, 8]}, "new_vlm",
     "cross_attention_layers"),
    ({**_config("llama-3.1-8b.json"), "model_type": "new_mixed", "global_head_dim": 256}, "new_mixed", "head size"),
])
def test_layer_kinds_llmkube_cannot_size_are_refused_by_name(data, model_type, words):
    with pytest.raises(InputError) as exc:
        profile_from_config(data, "x/config.json", "x")
    assert repr(model_type) in exc.value.message and words in exc.value.message


def test_an_unknown_layer_type_names_the_model_type():
    data = {**_config("llama-3.1-8b.json"), "layer_types": ["mamba"] * 32}
    with pytest.raises(InputError, match=r"'llama'.*unsupported layer types \['mamba'\]"):
        profile_from_config(data, "x/config.json", "x")


def test_refusal_exits_2_naming_architecture_and_remedy(tmp_path, capsys):
    code, out, err = _run(["profiles", "import", str(CONFIGS / "qwen3-next-80b-a3b-instruct.json")], capsys)
    assert code == 2 and not out
    assert "qwen3_next" in err and "ModelProfile by hand" in err and "Traceback" not in err


def test_unsupported_model_type_exits_2_with_what_to_do(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "whisper", "d_model": 1280, "encoder_layers": 32}))
    code, _, err = _run(["profiles", "import", str(path)], capsys)
    assert code == 2 and "unsupported model_type 'whisper'" in err and "by hand" in err and "Traceback" not in err


# ---- what an import only approximates is said on stderr ---------------------------------------

def test_a_decoder_of_unknown_model_type_is_imported_with_a_warning(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**_config("llama-3.1-8b.json"), "model_type": "internlm3"}))
    code, out, err = _run(["profiles", "import", str(path)], capsys)
    assert code == 0 and "architecture: internlm3" in out
    assert "warning:" in err and "'internlm3' is not one whose modules llmkube has read" in err
    assert "Llama-style decoder" in out  # and in the profile's notes


def test_a_vlm_whose_tower_is_not_counted_says_so_on_stderr(tmp_path, capsys):
    data = {**_config("qwen2.5-7b.json"), "vision_config": {"model_type": "intern_vit_6b", "hidden_size": 3200}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    code, _, err = _run(["profiles", "import", str(path)], capsys)
    assert code == 0 and "warning:" in err and "vision tower (intern_vit_6b) not counted in the weights" in err


def test_a_counted_tower_gives_no_tower_warning(capsys):
    code, _, err = _run(["profiles", "import", str(CONFIGS / "qwen2.5-vl-7b-instruct.json")], capsys)
    assert code == 0 and "not counted" not in err


# ---- generic decoders: keys whose meaning transformers fixes -----------------------------------

def test_a_sliding_window_pattern_makes_every_nth_layer_global():
    """Cohere2Config / Gemma3TextConfig: with `sliding_window_pattern` N every N-th layer is global.
    Without reading it a Command R7B-style config (window 4096, pattern 4) had all 32 layers
    windowed and the KV cache of its 8 global layers left out."""
    data = {**_config("llama-3.1-8b.json"), "model_type": "cohere2", "sliding_window": 4096, "sliding_window_pattern": 4}
    s = profile_from_config(data, "x/config.json", "x").spec
    assert s.sliding_window == 4096 and s.layer_types is not None
    assert s.layer_types.count("full_attention") == 8
    assert [t == "full_attention" for t in s.layer_types[:4]] == [False, False, False, True]


def test_experts_under_keys_llmkube_does_not_read_are_refused():
    """ERNIE 4.5 MoE names its experts `moe_num_experts` / `moe_k`: counted as a dense decoder its
    parameters would be a fraction of the checkpoint's."""
    data = {**_config("llama-3.1-8b.json"), "model_type": "ernie4_5_moe", "moe_num_experts": 64, "moe_k": 8}
    with pytest.raises(InputError, match=r"'ernie4_5_moe'.*mixture-of-experts keys \(moe_num_experts, moe_k\)"):
        profile_from_config(data, "x/config.json", "x")


def test_a_tower_under_a_family_llmkube_has_no_projector_for_is_not_counted():
    """A SigLIP tower under a family whose projector llmkube does not know (Idefics 3 here) is
    left out with a warning; it used to be counted with Gemma 3's projector."""
    data = {"model_type": "idefics3", "text_config": {**_config("llama-3.1-8b.json")},
            "vision_config": {"model_type": "siglip_vision_model", "num_hidden_layers": 27, "hidden_size": 1152,
                              "intermediate_size": 4304, "num_attention_heads": 16, "patch_size": 14, "image_size": 384}}
    cav: list[str] = []
    s = profile_from_config(data, "x/config.json", "x", caveats=cav).spec
    assert not s.vision_parameters_b
    assert cav == ["vision tower (siglip_vision_model) not counted in the weights"]
    assert import_profile(str(CONFIGS / "gemma-3-4b-it.json")).spec.vision_parameters_b  # still counted under Gemma 3


# ---- LLaVA ------------------------------------------------------------------------------------

def test_llava_1_5_counts_the_clip_layers_vllm_builds():
    """llava-hf/llava-1.5-7b-hf: 7,063,427,072 parameters in the checkpoint. vLLM builds the CLIP
    tower only up to vision_feature_layer -2 (models/llava.py `_get_num_hidden_layers`: 23 of 24
    layers) and without its post-layernorm (models/clip.py: "If possible, skip post_layernorm"),
    so it loads one CLIP layer (4 x (1024² + 1024) + 4 x 1024 + 2 x 1024 x 4096 + 4096 + 1024 =
    12,596,224) and 2,048 norm parameters less. Its text_config names only vocab_size and the
    context; LlamaConfig's defaults give the rest (4096 wide, 32 layers, 11008 MLP)."""
    cav: list[str] = []
    s = import_profile(str(CONFIGS / "llava-1.5-7b-hf.json"), caveats=cav).spec
    assert (s.architecture, s.layers, s.hidden_size, s.attention_heads, s.kv_heads, s.intermediate_size) == ("llama", 32, 4096, 32, 32, 11008)
    assert (s.vocab_size, s.max_context, s.dtype, s.tie_embeddings) == (32064, 4096, "float16", False)
    c = parameter_counts(s)
    clip_layer = 4 * (1024 * 1024 + 1024) + 4 * 1024 + (1024 * 4096 + 4096) + (4096 * 1024 + 1024)
    assert clip_layer == 12_596_224
    assert c.total == 7_063_427_072 - clip_layer - 2 * 1024
    projector = 1024 * 4096 + 4096 + 4096 * 4096 + 4096
    assert c.vision == (1024 + 3 * 14 * 14 * 1024 + (24 * 24 + 1) * 1024 + 2 * 1024) + 23 * clip_layer + projector
    assert any("activation peak" in w for w in cav)


def test_llava_next_concatenates_its_feature_layers_and_keeps_the_newline_vector():
    """Granite Vision's feature layers [-24, -20, -12, -1]: every SigLIP layer is kept (so the
    post-layernorm too), linear_1 reads 4 x 1152 columns, and LLaVA-NeXT adds image_newline."""
    data = {"model_type": "llava_next", "vision_feature_layer": [-24, -20, -12, -1],
            "text_config": {**_config("granite-3.1-2b-instruct.json"), "model_type": "granite"},
            "vision_config": {"model_type": "siglip_vision_model", "num_hidden_layers": 27, "hidden_size": 1152,
                              "intermediate_size": 4304, "num_attention_heads": 16, "patch_size": 14,
                              "image_size": 384, "vision_use_head": False}}
    s = profile_from_config(data, "x/config.json", "x").spec
    h, inter, text = 1152, 4304, s.hidden_size
    block = 4 * (h * h + h) + 4 * h + (h * inter + inter) + (inter * h + h)
    tower = 3 * 14 * 14 * h + h + (384 // 14) ** 2 * h + 27 * block + 2 * h
    projector = 4 * h * text + text + text * text + text
    assert parameter_counts(s).vision == tower + projector + text


# ---- ChatGLM (GLM-4-9B) --------------------------------------------------------------------------

def test_glm_4_9b_chat_is_read_under_chatglms_key_names():
    """THUDM's ChatGLMConfig: num_layers, padded_vocab_size, ffn_hidden_size, kv_channels and
    multi_query_group_num (with multi_query_attention) are vLLM chatglm.py's layers, embedding rows,
    MLP width, head size and KV heads; seq_length the context; add_qkv_bias puts biases on q/k/v."""
    s = import_profile(str(CONFIGS / "glm-4-9b-chat.json")).spec
    assert (s.architecture, s.layers, s.hidden_size, s.attention_heads, s.kv_heads, s.head_dim) == ("chatglm", 40, 4096, 32, 2, 128)
    assert (s.intermediate_size, s.vocab_size, s.max_context, s.tie_embeddings) == (13696, 151552, 131072, False)
    assert s.qkv_bias and not s.attention_output_bias
    assert parameter_counts(s).total == 9_399_951_360


def test_a_chatglm_with_biases_everywhere_is_refused():
    data = {**_config("glm-4-9b-chat.json"), "add_bias_linear": True}
    with pytest.raises(InputError, match="ChatGLM"):
        profile_from_config(data, "x/config.json", "x")


# ---- InternVL ---------------------------------------------------------------------------------

def test_internvl_reads_its_llm_config_and_says_the_tower_is_not_counted(capsys):
    """InternVLChatConfig nests the language model under `llm_config` (vLLM internvl.py builds it
    from config.llm_config): InternVL3-1B's is Qwen2.5-0.5B's decoder. Its InternViT tower is not
    counted (vLLM pads its heads to a multiple of the TP size), which the import says."""
    code, out, err = _run(["profiles", "import", str(CONFIGS / "internvl3-1b.json")], capsys)
    assert code == 0 and "warning:" in err and "vision tower (intern_vit_6b) not counted" in err
    s = import_profile(str(CONFIGS / "internvl3-1b.json")).spec
    assert (s.architecture, s.layers, s.hidden_size, s.attention_heads, s.kv_heads, s.intermediate_size) == ("qwen2", 24, 896, 14, 2, 4864)
    assert (s.vocab_size, s.qkv_bias, s.tie_embeddings) == (151674, True, False)
    assert not s.vision_parameters_b
