"""A Hugging Face `config.json` read into a ModelProfile: any model, not a list.

Reads the keys the transformers config classes define (transformers 4.5x: LlamaConfig,
Qwen2/Qwen3(Moe)Config, MistralConfig, MixtralConfig, Gemma2/Gemma3(Text)Config, Phi3Config,
GraniteConfig, DeepseekV2/V3Config, GptOssConfig, Llama4(Text)Config, PhiConfig), falling back to a family's
documented defaults where published configs leave keys out (google/gemma-3-*-it name only a few),
and `quantization_config` the way vLLM's `get_quant_config` and each quantization config's
`from_config` read it (vLLM 0.10–0.11: `AWQConfig`, `GPTQConfig`, `Fp8Config`,
`CompressedTensorsConfig`, `Mxfp4Config`, `BitsAndBytesConfig`, `FBGEMMFp8Config`,
`ModelOptFp8Config`/`ModelOptNvFp4Config`). Bad or unknown configs are InputErrors naming the
file and the key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmkube.errors import InputError, SourceMark
from llmkube.modelshape import parameter_counts
from llmkube.profiles import ModelProfile

# model_type -> the architecture name llmkube profiles use (text part of multimodal models).
ARCHITECTURES = {
    "llama": "llama", "mistral": "mistral", "mixtral": "mixtral", "qwen2": "qwen2", "qwen2_moe": "qwen2_moe",
    "qwen3": "qwen3", "qwen3_moe": "qwen3_moe", "gemma": "gemma", "gemma2": "gemma2", "gemma3": "gemma3",
    "gemma3_text": "gemma3", "phi3": "phi3", "granite": "granite", "granitemoe": "granitemoe",
    "deepseek_v2": "deepseek_v2", "deepseek_v3": "deepseek_v3", "gpt_oss": "gpt_oss",
    "llama4": "llama4", "llama4_text": "llama4", "olmo2": "olmo2", "olmoe": "olmoe",
    "phi": "phi",
    # Qwen2-VL / Qwen2.5-VL: a Qwen2 decoder (M-RoPE changes positions, not shapes) beside a vision
    # tower; their text keys sit at the top level (transformers < 4.52) or under `text_config`.
    "qwen2_vl": "qwen2", "qwen2_5_vl": "qwen2", "qwen2_vl_text": "qwen2", "qwen2_5_vl_text": "qwen2",
    # Qwen3-VL: the Qwen3 / Qwen3-MoE decoder (q/k norms, no biases; transformers modeling_qwen3_vl.py
    # Qwen3VLTextAttention, modeling_qwen3_vl_moe.py Qwen3VLMoeTextSparseMoeBlock) under `text_config`
    # (whose model_type is qwen3_vl_text / qwen3_vl_moe_text, or the top-level one in early uploads).
    "qwen3_vl": "qwen3", "qwen3_vl_text": "qwen3", "qwen3_vl_moe": "qwen3_moe", "qwen3_vl_moe_text": "qwen3_moe",
    # GLM-4.5 / 4.6 (transformers Glm4MoeConfig; vLLM models/glm4_moe.py): GQA with q/k/v biases
    # (`attention_bias`) but none on o_proj, q/k norms only with `use_qk_norm`, DeepSeek-style MoE
    # (first_k_dense_replace dense layers of intermediate_size, n_routed_experts + n_shared_experts
    # of moe_intermediate_size, a sigmoid router with e_score_correction_bias); its MTP layer
    # (num_nextn_predict_layers) is skipped on load (`skip_spec_layers`).
    "glm4_moe": "glm4_moe",
    # GLM-4-9B / ChatGLM2-3 (THUDM's remote-code ChatGLMConfig; vLLM models/chatglm.py): the
    # decoder of a Llama with GQA, q/k/v biases (add_qkv_bias), RMSNorm, gated MLP, under its own
    # key names (`_CHATGLM_KEYS`)
    "chatglm": "chatglm",
    # EXAONE 3.0 / 3.5 (LG's remote-code ExaoneConfig, `num_layers`; vLLM models/exaone.py): a
    # Llama decoder under other module names (wte, h.N.attn.attention.{q,k,v,out}_proj, mlp.c_fc_0/1,
    # c_proj, ln_1/ln_2 RMSNorm), no biases
    "exaone": "exaone",
}
# ChatGLMConfig's keys -> the transformers names the reader uses. vLLM chatglm.py builds the
# embedding and output layer of padded_vocab_size rows, multi_query_group_num KV heads when
# multi_query_attention is set, head size kv_channels, the MLP of ffn_hidden_size and reads the
# context from seq_length.
_CHATGLM_KEYS = {"num_layers": "num_hidden_layers", "padded_vocab_size": "vocab_size",
                 "ffn_hidden_size": "intermediate_size", "kv_channels": "head_dim"}
# Qwen families that keep `sliding_window` in the config but use it only with `use_sliding_window`.
_QWEN_WINDOW_FLAG = ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "qwen2_vl", "qwen2_5_vl", "qwen2_vl_text",
                     "qwen2_5_vl_text", "qwen3_vl", "qwen3_vl_text", "qwen3_vl_moe", "qwen3_vl_moe_text")
# Families whose q/k/v projections carry biases (transformers Qwen2Attention, Qwen2_5_VLAttention).
_QKV_BIAS = ("qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl", "qwen2_vl_text", "qwen2_5_vl_text")
# Families whose published configs omit keys that their transformers config class defaults.
_DEFAULTS: dict[str, dict[str, Any]] = {
    # Gemma3TextConfig.__init__ defaults (transformers 4.50+)
    "gemma3_text": {"vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
                    "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                    "max_position_embeddings": 131072, "sliding_window": 4096, "sliding_window_pattern": 6,
                    "tie_word_embeddings": True},
    # LlamaConfig.__init__ defaults, for a `text_config` that names only what differs (LLaVA-1.5's
    # lists vocab_size and max_position_embeddings; LlavaConfig builds the rest from LlamaConfig)
    "llama_nested": {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                     "num_attention_heads": 32, "max_position_embeddings": 2048, "tie_word_embeddings": False},
    # Gemma2Config.__init__ defaults
    "gemma2": {"vocab_size": 256000, "head_dim": 256, "max_position_embeddings": 8192, "sliding_window": 4096,
               "tie_word_embeddings": True},
    "gemma": {"vocab_size": 256000, "head_dim": 256, "max_position_embeddings": 8192, "tie_word_embeddings": True},
}
# Recurrent-state layers (Mamba / SSM, Gated DeltaNet and lightning linear attention, short
# convolutions): vLLM keeps a fixed-size state per request for each of them (vllm/v1/kv_cache_interface.py
# `MambaSpec`) and sizes the attention layers' blocks to the same page ("Ensure that page size of
# attention layers is greater than or equal to the mamba layers. If not, automatically set the
# attention block size", vllm/model_executor/models/config.py
# `HybridAttentionMambaModelConfig.verify_and_update_config`, v0.10.2 – v0.11; later
# `Platform.update_block_size_for_backend`). llmkube's KV model has no such layer: refused.
_RECURRENT = ("its linear-attention / state-space layers keep a fixed-size state per request, which vLLM "
              "allocates beside the attention KV blocks and pads to one page size (MambaSpec); llmkube's KV "
              "model has no such layer")
_UNMODELLED: dict[str, str] = {
    **dict.fromkeys(("qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text", "kimi_linear",
                     "minimax", "minimax_text_01", "minimax_m1", "jamba", "nemotron_h", "falcon_h1", "bamba",
                     "granitemoehybrid", "zamba", "zamba2", "mamba", "mamba2", "plamo2", "lfm2", "lfm2_moe",
                     "rwkv", "rwkv7"), _RECURRENT),
    # transformers MllamaTextConfig.cross_attention_layers; vLLM mllama.py caches the image tokens' keys
    # and values in those layers (encoder-decoder cross-attention), not the prompt's.
    **dict.fromkeys(("mllama", "mllama_text_model"),
                    "its cross_attention_layers cache the image's keys and values, not the prompt's; llmkube's "
                    "KV model has no cross-attention layer"),
    # transformers Gemma4TextConfig: full-attention layers take global_head_dim (default 512) and
    # num_global_key_value_heads, the small variants reuse earlier layers' KV (num_kv_shared_layers)
    # and add per-layer embeddings (hidden_size_per_layer_input); Gemma3nTextConfig likewise.
    **dict.fromkeys(("gemma4", "gemma4_text", "gemma3n", "gemma3n_text"),
                    "its layers differ in head size and KV heads, and may share KV across layers or add per-layer "
                    "embeddings; a profile holds one head shape per model"),
}
# Keys that name the same layer kinds in a config whose model_type llmkube does not know.
_UNMODELLED_KEYS: dict[str, str] = {
    **dict.fromkeys(("linear_num_value_heads", "linear_num_key_heads", "full_attention_interval",
                     "hybrid_override_pattern", "attn_layer_period", "layers_block_type", "mamba_d_state",
                     "ssm_state_size", "mamba_n_heads", "attn_type_list", "mamba_expand"), _RECURRENT),
    "cross_attention_layers": _UNMODELLED["mllama"],
    **dict.fromkeys(("global_head_dim", "num_global_key_value_heads", "hidden_size_per_layer_input"),
                    _UNMODELLED["gemma4"]),
}
# Mixture-of-experts keys of families llmkube does not read (transformers Ernie4_5_MoeConfig
# `moe_num_experts`/`moe_k`, DbrxConfig `ffn_config`, ...).
_UNREAD_MOE_KEYS = ("moe_num_experts", "moe_k", "num_moe_experts", "ffn_config", "moe_num_shared_experts")
_BY_HAND = ("write its ModelProfile by hand (docs/profiles.md) with the shapes of the layers vLLM allocates KV for, "
            "or size a model llmkube reads")
_QK_NORM = {"qwen3", "qwen3_moe", "gemma3_text", "olmo2", "qwen3_vl", "qwen3_vl_text", "qwen3_vl_moe",
            "qwen3_vl_moe_text"}
# vLLM `_get_and_verify_max_len`: the keys that may bound the context, smallest wins.
_MAX_LEN_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length",
                 "max_sequence_length", "max_seq_length", "seq_len")
_DTYPES = {"bfloat16": "bfloat16", "float16": "float16", "half": "float16", "float32": "float32", "float": "float32"}


class ConfigReader:
    """Typed access to one config dict, with errors that name the file and the key."""

    def __init__(self, data: dict[str, Any], path: str, prefix: str = "") -> None:
        self.data = data
        self.path = path
        self.prefix = prefix
        self.defaults: dict[str, Any] = {}

    def error(self, key: str, message: str, hint: str | None = None) -> InputError:
        return InputError(message, mark=SourceMark(self.path), field=self.prefix + key, hint=hint)

    def raw(self, key: str) -> Any:
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        return self.defaults.get(key)

    def integer(self, key: str, default: int | None = None, *, required: bool = True, positive: bool = True) -> int:
        value = self.raw(key)
        if value is None:
            if default is not None or not required:
                return default  # type: ignore[return-value]
            raise self.error(key, f"config.json has no {key!r}",
                             "is this a Hugging Face transformers config.json of a causal language model?")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise self.error(key, f"{key!r} must be an integer, not {value!r}")
        if positive and int(value) <= 0:
            raise self.error(key, f"{key!r} must be positive, not {value!r}")
        return int(value)

    def opt_int(self, key: str) -> int | None:
        return self.integer(key, required=False) if self.raw(key) is not None else None

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"{key!r} must be true or false, not {value!r}")
        return value


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A config.json (or a directory holding one) as a dict; unreadable or not JSON is an InputError."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read model config: {exc.strerror or exc}", mark=SourceMark(str(p)),
                         hint="give a Hugging Face config.json file, or a model directory that holds one") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", mark=SourceMark(str(p), exc.lineno, exc.colno)) from None
    if not isinstance(data, dict):
        raise InputError("a config.json holds one JSON object", mark=SourceMark(str(p)))
    return data


def _text_config(data: dict[str, Any], path: str) -> tuple[ConfigReader, ConfigReader]:
    """(top-level reader, reader of the language model's keys): multimodal configs (Gemma 3,
    Llama 4, ...) nest the language model under `text_config`, InternVL's remote-code
    InternVLChatConfig under `llm_config` (vLLM models/internvl.py builds the language model
    from `config.llm_config`)."""
    top = ConfigReader(data, path)
    key = "text_config" if data.get("text_config") is not None else "llm_config"
    text = data.get(key)
    if text is None:
        return top, top
    if not isinstance(text, dict):
        raise top.error(key, f"{key} must be an object")
    return top, ConfigReader(text, path, f"{key}.")


def _model_type(top: ConfigReader, text: ConfigReader) -> str:
    mt = text.raw("model_type") if text is not top else None
    if mt is None:
        mt = top.raw("model_type")
    if mt == "gemma3":  # a Gemma 3 text_config may omit its own model_type
        mt = "gemma3_text"
    if mt == "llama4":
        mt = "llama4_text"
    if not isinstance(mt, str):
        raise top.error("model_type", "config.json has no model_type",
                        "is this a Hugging Face transformers config.json?")
    reason = _UNMODELLED.get(mt)
    if reason is None and mt not in ARCHITECTURES:
        reason = next((why for key, why in _UNMODELLED_KEYS.items() if text.raw(key) not in (None, 0, [], "")), None)
    if reason is not None:
        raise text.error("model_type", f"cannot size model_type {mt!r}: {reason}", _BY_HAND)
    unread = [k for k in _UNREAD_MOE_KEYS if text.raw(k) is not None] if mt not in ARCHITECTURES else []
    if unread:  # e.g. ERNIE 4.5 MoE: counted as a dense decoder its parameters would be a fraction
        raise text.error(unread[0], f"cannot size model_type {mt!r}: its mixture-of-experts keys ({', '.join(unread)}) "
                         "are not ones llmkube reads (num_experts / num_local_experts / n_routed_experts with "
                         "num_experts_per_tok)", _BY_HAND)
    if mt not in ARCHITECTURES and not _looks_like_decoder(text):
        raise text.error("model_type", f"unsupported model_type {mt!r}",
                         "llmkube reads decoder-only transformers (" + ", ".join(sorted(ARCHITECTURES))
                         + ") and decoders with their keys (hidden_size, num_hidden_layers, num_attention_heads, "
                         "intermediate_size, vocab_size); otherwise " + _BY_HAND)
    return mt


def _chatglm_keys(text: ConfigReader) -> None:
    """Read a ChatGLMConfig under the transformers key names (its own names win where both exist:
    vLLM sizes the embedding by padded_vocab_size). LayerNorm instead of RMSNorm, or biases on
    every linear layer (add_bias_linear), are not modelled: refused."""
    data = dict(text.data)
    for theirs, ours in _CHATGLM_KEYS.items():
        if data.get(theirs) is not None:
            data[ours] = data[theirs]
    kv = data.get("multi_query_group_num") if data.get("multi_query_attention") else None
    data["num_key_value_heads"] = kv if kv is not None else data.get("num_attention_heads")
    text.data = data
    if not text.flag("rmsnorm", True) or text.flag("add_bias_linear", False):
        raise text.error("rmsnorm" if not text.flag("rmsnorm", True) else "add_bias_linear",
                         "cannot size this ChatGLM: LayerNorm or biases on every linear layer are not modelled", _BY_HAND)


def _looks_like_decoder(r: ConfigReader) -> bool:
    return all(r.raw(k) is not None for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                               "vocab_size", "intermediate_size"))


def _dtype(top: ConfigReader, text: ConfigReader) -> tuple[str, str | None]:
    """The checkpoint dtype (`torch_dtype`, or `dtype` from transformers 4.56); vLLM's `auto`
    serves a float32 or missing dtype in bfloat16/float16."""
    for r in (text, top):
        for key in ("torch_dtype", "dtype"):
            value = r.raw(key)
            if isinstance(value, str):
                name = _DTYPES.get(value.removeprefix("torch."))
                if name is None:
                    raise r.error(key, f"unknown {key} {value!r}", "expected bfloat16, float16 or float32")
                return name, None
    return "bfloat16", "config.json names no torch_dtype; bfloat16 assumed"


def _max_context(text: ConfigReader, model_type: str) -> int:
    """vLLM `_get_and_verify_max_len` (vllm/config/model.py): the smallest length key, scaled by
    rope_scaling's factor except for llama3/longrope/su types and Gemma 3 (already scaled); yarn
    scales original_max_position_embeddings."""
    lengths = [text.integer(k) for k in _MAX_LEN_KEYS if text.raw(k) is not None]
    if not lengths:
        raise text.error("max_position_embeddings", "config.json has no max_position_embeddings")
    derived = min(lengths)
    rope = text.raw("rope_scaling")
    if isinstance(rope, dict) and "gemma3" not in model_type:
        kind = rope.get("rope_type", rope.get("type"))
        if kind not in ("su", "longrope", "llama3", "default", "mrope", None) and isinstance(rope.get("factor"), (int, float)):
            if kind == "yarn" and isinstance(rope.get("original_max_position_embeddings"), int):
                derived = rope["original_max_position_embeddings"]
            derived = int(derived * rope["factor"])
    return derived


# vLLM's multimodal RoPE builds its cos/sin table over 4 × max_position_embeddings positions:
# vllm/model_executor/layers/rotary_embedding/mrope.py `MRotaryEmbedding.__init__` ("In Qwen2.5-VL,
# the maximum index value is related to the duration of the input video. We enlarge
# max_position_embeddings to 4 times to get a larger the cos and sin cache": cache_max_position_num =
# max_position_embeddings * 4; v0.11.0, v0.19.0; rotary_embedding.py, v0.9.0.1). `get_rope` builds it
# for any rope_scaling with "mrope_section" (Qwen2-VL, Qwen2.5-VL, Qwen3-VL; rotary_embedding/__init__.py).
MROPE_TABLE_FACTOR = 4


def _rope_table_positions(text: ConfigReader, model_type: str) -> int | None:
    """Positions of vLLM's RoPE cos/sin table when the context does not count them: Gemma 3's
    global layers scale linearly (vllm/model_executor/layers/rotary_embedding/linear_scaling_rope.py:
    max_position_embeddings × factor) while its context is max_position_embeddings itself; a
    multimodal RoPE ("mrope_section") spans `MROPE_TABLE_FACTOR` × max_position_embeddings. Fit rows
    gh-openshiftaibootstrap-qwen25vl7b-l4-v0901 and gh-raydata-qwen25vl3b-l4-v0110 (Qwen2.5-VL-7B and
    -3B, 128,000 positions × 128 × 2 B): "Model loading took" 0.0956 and 0.0953 GiB above the
    one-table figure; the three further copies' worth is 0.0916 GiB."""
    rope = text.raw("rope_scaling") or text.raw("rope_parameters")
    if isinstance(rope, dict) and "mrope_section" in rope:
        return MROPE_TABLE_FACTOR * text.integer("max_position_embeddings")
    if "gemma3" not in model_type or not isinstance(rope, dict):
        return None
    factor = rope.get("factor")
    if rope.get("rope_type", rope.get("type")) != "linear" or not isinstance(factor, (int, float)) or factor <= 1:
        return None
    return int(text.integer("max_position_embeddings") * factor)


def _layer_types(text: ConfigReader, model_type: str, layers: int, window: int | None) -> list[str] | None:
    lt = text.raw("layer_types")
    if lt is not None:
        if not isinstance(lt, list) or len(lt) != layers:
            raise text.error("layer_types", f"layer_types must list one entry per layer ({layers})")
        known = {"full_attention", "sliding_attention", "chunked_attention"}
        bad = sorted({str(t) for t in lt} - known)
        if bad:
            raise text.error("layer_types", f"cannot size model_type {model_type!r}: unsupported layer types {bad}",
                             "llmkube sizes full, sliding-window and chunked attention layers; " + _BY_HAND)
        return list(lt)
    if model_type == "llama4_text":
        chunk = text.raw("attention_chunk_size")
        if chunk is None:
            return None
        nrl = text.raw("no_rope_layers") or []
        if not nrl:  # Llama4TextConfig: every no_rope_layer_interval-th layer has no RoPE
            interval = text.integer("no_rope_layer_interval", 4)
            nrl = [int((i + 1) % interval != 0) for i in range(layers)]
        # vLLM Llama4Attention: layers with RoPE use chunked local attention, NoPE layers are global
        return ["chunked_attention" if nrl[i] else "full_attention" for i in range(layers)]
    if window is None:
        return None
    if model_type == "gemma3_text":
        pattern = text.integer("sliding_window_pattern", 6)
        return ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(layers)]
    if model_type == "gemma2":
        return ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(layers)]
    if text.raw("sliding_window_pattern") is not None:
        # transformers' convention wherever the key exists (Gemma3TextConfig, Cohere2Config: "the
        # last layer of every sliding_window_pattern is global"); without it every layer would be
        # taken as windowed and the KV cache of the global layers left out.
        pattern = text.integer("sliding_window_pattern")
        return ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(layers)]
    return None


def _sliding_window(text: ConfigReader, model_type: str, max_context: int) -> int | None:
    window = text.raw("sliding_window")
    if window is None:
        return None
    if model_type in _QWEN_WINDOW_FLAG and not text.flag("use_sliding_window", False):
        return None  # Qwen keeps sliding_window in the config but only uses it with use_sliding_window
    w = text.integer("sliding_window")
    if w >= max_context and model_type not in ("gemma2", "gemma3_text", "gpt_oss"):
        return None  # a window no shorter than the context slides nothing (Phi-4-mini's 262144)
    return w


def _experts(text: ConfigReader, model_type: str) -> dict[str, Any] | None:
    total = next((text.integer(k) for k in ("num_local_experts", "num_experts", "n_routed_experts") if text.raw(k) is not None), None)
    if total is None or total <= 1:
        return None
    active_key = next((k for k in ("num_experts_per_tok", "experts_per_token", "moe_topk") if text.raw(k) is not None), None)
    if active_key is None:
        raise text.error("num_experts_per_tok", "a mixture-of-experts config needs num_experts_per_tok")
    e: dict[str, Any] = {"total": total, "active": text.integer(active_key)}
    moe_inter = text.opt_int("moe_intermediate_size")
    if moe_inter is not None:
        e["intermediateSize"] = moe_inter
    elif model_type == "llama4_text":
        e["intermediateSize"] = text.integer("intermediate_size")
    shared = text.integer("n_shared_experts", 0, positive=False)
    if model_type == "qwen2_moe" and text.raw("shared_expert_intermediate_size"):
        shared = 1
        e["sharedIntermediateSize"] = text.integer("shared_expert_intermediate_size")
    if model_type == "llama4_text":
        shared = 1  # Llama4TextMoe: one shared expert of intermediate_size
    if shared:
        e["shared"] = shared
    dense = text.integer("first_k_dense_replace", 0, positive=False)
    if dense:
        e["denseLayers"] = dense
    step = text.integer("interleave_moe_layer_step", 0, positive=False) or text.integer("decoder_sparse_step", 0, positive=False) \
        or text.integer("moe_layer_freq", 0, positive=False)
    if step > 1:
        e["layerStep"] = step
    mlp_only = text.raw("mlp_only_layers")
    if mlp_only:
        raise text.error("mlp_only_layers", "dense layers listed in mlp_only_layers are not supported",
                         "write the profile by hand (experts.denseLayers counts leading dense layers)")
    if model_type == "gpt_oss":
        e["bias"] = True
    return e


def _mla(text: ConfigReader) -> dict[str, Any] | None:
    if text.raw("kv_lora_rank") is None:
        return None
    m: dict[str, Any] = {"kvLoraRank": text.integer("kv_lora_rank"), "qkRopeHeadDim": text.integer("qk_rope_head_dim")}
    if text.raw("q_lora_rank") is not None:
        m["qLoraRank"] = text.integer("q_lora_rank")
    m["qkNopeHeadDim"] = text.integer("qk_nope_head_dim")
    m["vHeadDim"] = text.integer("v_head_dim")
    return m


def _strings(r: ConfigReader, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise r.error(key, f"{key} must be a list of module names")
    return list(value)


def _glob_to_re(patterns: list[str]) -> list[str]:
    """`model.layers.*.self_attn` (transformers' modules_to_not_convert globs) as llmkube `re:` patterns."""
    return ["re:" + re.escape(p).replace(r"\*", ".*") if "*" in p else p for p in patterns]


def quantization(top: ConfigReader) -> dict[str, Any] | None:
    """The checkpoint's quantization as a profile's `quantization` block, read the way vLLM's
    `get_quant_config` reads `quantization_config` (or compressed-tensors' older
    `compression_config`)."""
    key = "quantization_config" if top.raw("quantization_config") is not None else "compression_config"
    qc = top.raw(key)
    if qc is None:
        return None
    r = ConfigReader(qc, top.path, key + ".") if isinstance(qc, dict) else None
    if r is None:
        raise top.error(key, f"{key} must be an object")
    method = r.raw("quant_method")
    if method is None and key == "compression_config":
        method = "compressed-tensors"
    if not isinstance(method, str):
        raise r.error("quant_method", "quantization_config has no quant_method")
    method = method.lower()
    if method == "awq":
        # AWQConfig.from_config: w_bit|bits, q_group_size|group_size, zero_point, modules_to_not_convert
        bits = r.integer("w_bit") if r.raw("w_bit") is not None else r.integer("bits")
        group = r.integer("q_group_size") if r.raw("q_group_size") is not None else r.integer("group_size", positive=False)
        q: dict[str, Any] = {"method": "awq", "weightBits": bits, "groupSize": group,
                             "symmetric": not r.flag("zero_point", True)}
        ignore = _strings(r, "modules_to_not_convert", r.raw("modules_to_not_convert"))
    elif method == "gptq":
        # GPTQConfig.from_config: bits, group_size, desc_act, sym, lm_head
        q = {"method": "gptq", "weightBits": r.integer("bits"), "groupSize": r.integer("group_size", positive=False),
             "symmetric": r.flag("sym", True)}
        ignore = []
    elif method == "fp8":
        # Fp8Config.from_config: activation_scheme, ignored_layers, weight_block_size
        block = r.raw("weight_block_size")
        q = {"method": "fp8", "weightBits": 8, "weightType": "float", "activationBits": 8}
        if block is not None:
            if not (isinstance(block, list) and len(block) == 2 and all(isinstance(b, int) and b > 0 for b in block)):
                raise r.error("weight_block_size", "weight_block_size must be two positive integers")
            q.update(strategy="block", blockSize=block)
        else:
            q["strategy"] = "tensor"
        ignore = _strings(r, "ignored_layers", r.raw("ignored_layers")) + \
            _strings(r, "modules_to_not_convert", r.raw("modules_to_not_convert"))
    elif method in ("compressed-tensors", "compressed_tensors"):
        q, ignore = _compressed_tensors(r)
    elif method == "mxfp4":
        # vLLM Mxfp4Config quantizes FusedMoE experts only; linear layers stay unquantized
        q = {"method": "mxfp4", "weightBits": 4, "weightType": "float", "groupSize": 32, "targets": "experts"}
        ignore = _strings(r, "modules_to_not_convert", r.raw("modules_to_not_convert"))
    elif method == "bitsandbytes":
        four = r.flag("load_in_4bit", False)
        q = {"method": "bitsandbytes", "weightBits": 4 if four else 8}
        if four:
            kind = r.raw("bnb_4bit_quant_type") or "fp4"
            q["format"] = f"{kind}-double-quant" if r.flag("bnb_4bit_use_double_quant", False) else str(kind)
        ignore = _strings(r, "llm_int8_skip_modules", r.raw("llm_int8_skip_modules"))
    elif method == "fbgemm_fp8":
        q = {"method": "fbgemm_fp8", "weightBits": 8, "weightType": "float", "strategy": "channel", "activationBits": 8}
        ignore = _strings(r, "modules_to_not_convert", r.raw("modules_to_not_convert"))
    elif method == "modelopt":
        algo = str(r.raw("quant_algo") or "").upper()
        if algo == "FP8":
            q = {"method": "modelopt", "weightBits": 8, "weightType": "float", "strategy": "tensor", "activationBits": 8}
        elif algo == "NVFP4":
            q = {"method": "nvfp4", "weightBits": 4, "weightType": "float", "groupSize": 16, "activationBits": 4}
        else:
            raise r.error("quant_algo", f"unsupported modelopt quant_algo {algo!r}", "supported: FP8, NVFP4")
        ignore = _strings(r, "exclude_modules", r.raw("exclude_modules"))
    else:
        raise r.error("quant_method", f"unsupported quantization method {method!r}",
                      "supported: awq, gptq, fp8, compressed-tensors, mxfp4, bitsandbytes, fbgemm_fp8, modelopt")
    if ignore:
        q["ignore"] = _glob_to_re(ignore)
    return q


def _compressed_tensors(r: ConfigReader) -> tuple[dict[str, Any], list[str]]:
    """CompressedTensorsConfig.from_config: the scheme of the config group that targets Linear
    (else the first group), its weights' num_bits/type/strategy/group_size/symmetric/block_structure,
    input_activations' num_bits, the top-level (or group) `format` and `ignore`."""
    groups = r.raw("config_groups")
    if not isinstance(groups, dict) or not groups:
        raise r.error("config_groups", "compressed-tensors config has no config_groups")
    name, group = next(((n, g) for n, g in groups.items() if isinstance(g, dict) and "Linear" in (g.get("targets") or [])),
                       next(iter(groups.items())))
    g = ConfigReader(group if isinstance(group, dict) else {}, r.path, f"{r.prefix}config_groups.{name}.")
    weights = g.raw("weights")
    if not isinstance(weights, dict):
        raise g.error("weights", "a config group needs a weights scheme")
    w = ConfigReader(weights, r.path, g.prefix + "weights.")
    wtype = w.raw("type") or "int"
    if wtype not in ("int", "float"):
        raise w.error("type", f"unknown weight type {wtype!r}", "expected int or float")
    q: dict[str, Any] = {"method": "compressed-tensors", "weightBits": w.integer("num_bits"), "weightType": wtype}
    strategy = w.raw("strategy")
    if strategy is not None:
        if strategy not in ("tensor", "channel", "group", "block", "tensor_group"):
            raise w.error("strategy", f"unknown strategy {strategy!r}")
        q["strategy"] = "group" if strategy == "tensor_group" else strategy
    if w.raw("group_size") is not None:
        q["groupSize"] = w.integer("group_size", positive=False)
    if strategy == "block" and w.raw("block_structure") is not None:
        q["blockSize"] = list(w.raw("block_structure"))
    q["symmetric"] = w.flag("symmetric", True)
    acts = g.raw("input_activations")
    if isinstance(acts, dict) and acts.get("num_bits"):
        q["activationBits"] = ConfigReader(acts, r.path, g.prefix + "input_activations.").integer("num_bits")
    fmt = g.raw("format") or r.raw("format")
    if isinstance(fmt, str):
        q["format"] = fmt
        if "nvfp4" in fmt:
            q["method"] = "nvfp4"
    return q, _strings(r, "ignore", r.raw("ignore"))


def vision_parameters(top: ConfigReader, text_hidden: int) -> tuple[float | None, str | None]:
    """Parameters of the vision tower and its projector, billions, for the towers whose modules
    llmkube knows: SigLIP with Gemma 3's projector (transformers SiglipVisionModel,
    Gemma3MultiModalProjector), Pixtral with Mistral 3's (PixtralVisionModel,
    Mistral3MultiModalProjector) and the Qwen2-VL / Qwen2.5-VL towers with their patch mergers.
    Other towers are not counted, and the notes say so."""
    vc = top.raw("vision_config")
    if vc is None:
        return None, None
    if not isinstance(vc, dict):
        raise top.error("vision_config", "vision_config must be an object")
    v = ConfigReader(vc, top.path, "vision_config.")
    family = top.raw("model_type")
    if family in ("qwen2_vl", "qwen2_5_vl"):
        return _qwen_vl_tower(v, family) / 1e9, None
    if family in ("qwen3_vl", "qwen3_vl_moe"):
        return _qwen3_vl_tower(v) / 1e9, None
    kind = v.raw("model_type")
    # the projector below is Gemma 3's: a SigLIP tower under another family (LLaVA-NeXT's Granite
    # Vision, whose vLLM tower stops at its deepest vision_feature_layer and whose projector is a
    # two-layer MLP) is not counted rather than counted with the wrong modules
    if kind == "siglip_vision_model" and family == "gemma3":
        h, inter, layers = v.integer("hidden_size"), v.integer("intermediate_size"), v.integer("num_hidden_layers")
        patch, channels = v.integer("patch_size"), v.integer("num_channels", 3)
        image = v.integer("image_size")
        embed = channels * patch * patch * h + h + (image // patch) ** 2 * h
        layer = 4 * (h * h + h) + 2 * 2 * h + (h * inter + inter) + (inter * h + h)
        head = _siglip_head(h, inter) if v.flag("vision_use_head", True) else 0  # attention-pooling head
        projector = h * text_hidden + h  # mm_input_projection_weight + mm_soft_emb_norm
        return (embed + layers * layer + 2 * h + head + projector) / 1e9, None
    if family in ("llava", "llava_next") and kind in ("clip_vision_model", "siglip_vision_model"):
        return _llava_tower(top, v, kind, family, text_hidden) / 1e9, None
    if kind == "pixtral" and family == "mistral3":
        h, inter, layers = v.integer("hidden_size"), v.integer("intermediate_size"), v.integer("num_hidden_layers")
        patch, channels = v.integer("patch_size"), v.integer("num_channels", 3)
        merge = top.integer("spatial_merge_size", 2)
        bias = top.flag("multimodal_projector_bias", False)
        tower = channels * patch * patch * h + h + layers * (4 * h * h + 3 * h * inter + 2 * h)
        projector = h + h * merge * merge * h + h * text_hidden + text_hidden * text_hidden + (2 * text_hidden if bias else 0)
        return (tower + projector) / 1e9, None
    return None, f"vision tower ({kind or family}) not counted in the weights"


def _qwen_vl_tower(v: ConfigReader, family: str) -> int:
    """Qwen2-VL / Qwen2.5-VL vision tower and patch merger (transformers
    Qwen2VisionTransformerPretrainedModel / Qwen2_5_VisionTransformerPretrainedModel; vLLM
    models/qwen2_vl.py, qwen2_5_vl.py load the same modules): a bias-free Conv3d patch embedding
    over temporal_patch_size × patch_size² pixels, `depth` blocks of attention (qkv and proj with
    biases) and MLP, then a merger that normalises, concatenates spatial_merge_size² patches and
    projects them through two biased Linear layers to the language model's width.
    Qwen2-VL: LayerNorm (weight + bias), MLP fc1/fc2 of width embed_dim × mlp_ratio, output width
    `hidden_size`. Qwen2.5-VL: RMSNorm (weight only), gated MLP gate/up/down of width
    `intermediate_size` with biases, tower width `hidden_size`, output width `out_hidden_size`."""
    channels = v.integer("in_channels", v.integer("in_chans", 3))
    patch, temporal = v.integer("patch_size", 14), v.integer("temporal_patch_size", 2)
    depth, merge = v.integer("depth"), v.integer("spatial_merge_size", 2)
    if family == "qwen2_vl":
        width, out = v.integer("embed_dim"), v.integer("hidden_size")
        mlp = width * v.integer("mlp_ratio", 4)
        norm = 2 * width  # LayerNorm weight + bias
        block_mlp = (width * mlp + mlp) + (mlp * width + width)
    else:
        width, out = v.integer("hidden_size"), v.integer("out_hidden_size")
        mlp = v.integer("intermediate_size")
        norm = width  # RMSNorm weight
        block_mlp = 2 * (width * mlp + mlp) + (mlp * width + width)
    attention = (width * 3 * width + 3 * width) + (width * width + width)
    merged = width * merge * merge
    merger = norm + (merged * merged + merged) + (merged * out + out)
    return channels * temporal * patch * patch * width + depth * (2 * norm + attention + block_mlp) + merger


def _llava_tower(top: ConfigReader, v: ConfigReader, kind: str, family: str, text_hidden: int) -> int:
    """A LLaVA / LLaVA-NeXT tower and projector as vLLM builds them (models/llava.py
    `init_vision_tower_for_llava`, `_get_num_hidden_layers`; models/clip.py, siglip.py): the CLIP
    or SigLIP encoder up to its deepest `vision_feature_layer` (-2, LlavaConfig's default, keeps
    num_hidden_layers - 1 layers; a negative index i keeps num_hidden_layers + i + 1), the
    post-layernorm only when every layer is kept ("If possible, skip post_layernorm to conserve
    memory"), SigLIP's attention-pooling head unless `vision_use_head` is false; then
    `LlavaMultiModalProjector` (linear_1 over the feature layers' concatenated width to the text
    width, GELU, linear_2, biases unless multimodal_projector_bias is false) and LLaVA-NeXT's
    `image_newline` (one text-width vector). CLIP (transformers CLIPVisionEmbeddings): a class
    embedding, a bias-free patch Conv2d, (image/patch)² + 1 positions and a pre-layernorm; SigLIP:
    a patch Conv2d with bias, (image/patch)² positions, no pre-layernorm."""
    h, inter, n = v.integer("hidden_size"), v.integer("intermediate_size"), v.integer("num_hidden_layers")
    patch, image, channels = v.integer("patch_size"), v.integer("image_size"), v.integer("num_channels", 3)
    feature = top.raw("vision_feature_layer")
    feature = -2 if feature is None else feature
    layers = feature if isinstance(feature, list) else [feature]
    if not layers or not all(isinstance(i, int) and not isinstance(i, bool) and -n <= i <= n for i in layers):
        raise top.error("vision_feature_layer", f"vision_feature_layer must be a layer index or a list of them, not {feature!r}")
    kept = max(n + i + 1 if i < 0 else i for i in layers)
    block = 4 * (h * h + h) + 2 * 2 * h + (h * inter + inter) + (inter * h + h)
    grid = (image // patch) ** 2
    if kind == "clip_vision_model":
        tower = h + channels * patch * patch * h + (grid + 1) * h + 2 * h
    else:
        tower = channels * patch * patch * h + h + grid * h
        if v.flag("vision_use_head", True):
            tower += _siglip_head(h, inter)
    tower += kept * block + (2 * h if kept == n else 0)
    width = h * len(layers) if isinstance(feature, list) else h
    bias = top.flag("multimodal_projector_bias", True)
    projector = width * text_hidden + text_hidden * text_hidden + (2 * text_hidden if bias else 0)
    return tower + projector + (text_hidden if family == "llava_next" else 0)


def _siglip_head(h: int, inter: int) -> int:
    """SigLIP's attention-pooling head: probe, in-projection (3h x h + 3h), out-projection,
    LayerNorm and MLP (transformers SiglipMultiheadAttentionPoolingHead; vLLM siglip.py)."""
    return h + 3 * h * h + 3 * h + h * h + h + 2 * h + h * inter + inter + inter * h + h


def _qwen3_vl_tower(v: ConfigReader) -> int:
    """Qwen3-VL vision tower (transformers modeling_qwen3_vl.py `Qwen3VLVisionModel`, 4.57; the
    `model.visual.*` tensors of the Qwen3-VL-8B / 30B-A3B checkpoints): a Conv3d patch embedding with bias, a learned
    position table of num_position_embeddings rows, `depth` blocks of two LayerNorms (weight + bias),
    attention qkv/proj and MLP linear_fc1/linear_fc2 (all with biases), then the merger and one
    DeepStack merger per deepstack_visual_indexes entry: each a LayerNorm (over the tower width in the
    merger, over the merged width in the DeepStack ones), linear_fc1 (merged → merged) and linear_fc2
    (merged → out_hidden_size), with biases."""
    h, inter, depth = v.integer("hidden_size"), v.integer("intermediate_size"), v.integer("depth")
    channels, patch = v.integer("in_channels", 3), v.integer("patch_size", 16)
    temporal, merge = v.integer("temporal_patch_size", 2), v.integer("spatial_merge_size", 2)
    out, positions = v.integer("out_hidden_size"), v.integer("num_position_embeddings")
    deepstack = v.raw("deepstack_visual_indexes") or []
    if not isinstance(deepstack, list):
        raise v.error("deepstack_visual_indexes", "deepstack_visual_indexes must be a list of block indexes")
    embed = channels * temporal * patch * patch * h + h + positions * h
    block = 2 * 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * inter + inter) + (inter * h + h)
    merged = h * merge * merge
    mlp = (merged * merged + merged) + (merged * out + out)
    return embed + depth * block + (2 * h + mlp) + len(deepstack) * (2 * merged + mlp)


def profile_from_config(data: dict[str, Any], path: str, name: str, hf_ids: list[str] | None = None,
                        caveats: list[str] | None = None) -> ModelProfile:
    """A ModelProfile from a parsed config.json (`path` is where it came from, for errors).
    What the profile leaves out or only approximates is in its notes and, when `caveats` is given,
    appended to it (the `profiles import` command prints them as warnings)."""
    top, text = _text_config(data, path)
    model_type = _model_type(top, text)
    text.defaults = _DEFAULTS.get(model_type, {})
    if text is not top and model_type == "llama":
        text.defaults = _DEFAULTS["llama_nested"]
    if model_type == "chatglm":
        _chatglm_keys(text)
    if model_type == "exaone" and text.raw("num_hidden_layers") is None and text.raw("num_layers") is not None:
        text.data = {**text.data, "num_hidden_layers": text.raw("num_layers")}  # ExaoneConfig.attribute_map
    arch = ARCHITECTURES.get(model_type, model_type)
    hidden = text.integer("hidden_size")
    layers = text.integer("num_hidden_layers")
    heads = text.integer("num_attention_heads")
    kv_heads = text.integer("num_key_value_heads", heads)
    head_dim = text.integer("head_dim", hidden // heads)
    if text.raw("kv_lora_rank") is not None:  # MLA: q/k heads are nope + rope, V v_head_dim
        head_dim = text.integer("v_head_dim")
    vocab = text.integer("vocab_size")
    max_context = _max_context(text, model_type)
    dtype, dtype_note = _dtype(top, text)
    family_tie = bool(_DEFAULTS.get(model_type, {}).get("tie_word_embeddings", False))
    if text is not top and top.raw("tie_word_embeddings") is not None:
        tie = top.flag("tie_word_embeddings", family_tie)  # the multimodal model's own setting wins
    else:
        tie = text.flag("tie_word_embeddings", family_tie)
    window = _sliding_window(text, model_type, max_context)
    rope_positions = _rope_table_positions(text, model_type)
    spec: dict[str, Any] = {
        "displayName": name, "huggingFaceIds": hf_ids or [f"local/{name}"], "architecture": arch,
        "parametersB": 1.0, "layers": layers, "hiddenSize": hidden, "attentionHeads": heads, "kvHeads": kv_heads,
        "headDim": head_dim, "vocabSize": vocab, "maxContext": max_context, "tieEmbeddings": tie, "dtype": dtype,
    }
    if rope_positions is not None:
        spec["ropeTablePositions"] = rope_positions
    dense_inter = text.opt_int("intermediate_size_mlp") if model_type == "llama4_text" else text.opt_int("intermediate_size")
    if dense_inter is not None:
        spec["intermediateSize"] = dense_inter
    experts = _experts(text, model_type)
    if experts is not None:
        spec["experts"] = experts
    if window is not None:
        spec["slidingWindow"] = window
    layer_types = _layer_types(text, model_type, layers, window)
    if layer_types is not None:
        spec["layerTypes"] = layer_types
        if "chunked_attention" in layer_types:
            spec["attentionChunkSize"] = text.integer("attention_chunk_size")
    mla = _mla(text)
    if mla is not None:
        spec["mla"] = mla
    q = quantization(top)
    if q is not None:
        spec["quantization"] = q
    groups = (top.raw("quantization_config") or {}).get("config_groups") if isinstance(top.raw("quantization_config"), dict) else None
    mixed_note = None
    if isinstance(groups, dict) and len(groups) > 1:
        mixed_note = (f"quantization_config has {len(groups)} config_groups; the scheme of the one targeting Linear "
                      "stands for every linear layer here.")
    if model_type in _QKV_BIAS:
        spec["qkvBias"] = True
    elif model_type == "phi":
        # transformers PhiAttention / vLLM phi.py PhiAttention: q/k/v and `dense` all carry biases
        spec["qkvBias"] = True
        spec["attentionOutputBias"] = True
    elif model_type == "chatglm":
        if text.flag("add_qkv_bias", False):  # vLLM GLMAttention: QKVParallelLinear(bias=add_bias_linear or add_qkv_bias)
            spec["qkvBias"] = True
    elif model_type == "glm4_moe":
        # vLLM Glm4MoeAttention: QKVParallelLinear(bias=config.attention_bias), o_proj bias=False
        if text.flag("attention_bias", False):
            spec["qkvBias"] = True
    elif text.flag("attention_bias", False):
        spec["qkvBias"] = True
        spec["attentionOutputBias"] = True
    if model_type in _QK_NORM or (model_type == "glm4_moe" and text.flag("use_qk_norm", False)):
        spec["qkNorm"] = True
    notes = [f"Imported from {Path(path).name} (model_type {model_type})."]
    warned: list[str] = []
    if model_type not in ARCHITECTURES:
        warned.append(f"model_type {model_type!r} is not one whose modules llmkube has read: counted as a Llama-style "
                      "decoder (gated MLP, RMSNorm, no biases unless attention_bias); check parametersB against the "
                      "checkpoint's size")
    if text is not top or top.raw("vision_config") is not None:
        vision_b, vision_note = vision_parameters(top, hidden)
        if vision_b:
            spec["visionParametersB"] = round(vision_b, 9)
        if vision_note:
            warned.append(vision_note)
        # plan/engine_memory.py `vision_item` knows the profiling item of these families' towers only
        if vision_b and top.raw("model_type") not in ("gemma3", "mistral3", "qwen2_vl", "qwen2_5_vl"):
            warned.append("the vision encoder's activation peak in vLLM's profiling run is not modelled (the KV "
                          "cache is overestimated by it)")
    notes.extend(w[0].upper() + w[1:] + "." for w in warned)
    if caveats is not None:
        caveats.extend(warned)
    if dtype_note:
        notes.append(dtype_note + ".")
    if mixed_note:
        notes.append(mixed_note)
    if model_type == "phi" and text.raw("partial_rotary_factor") is not None:
        notes.append(f"RoPE on {text.raw('partial_rotary_factor')} of each head's dimensions (partial_rotary_factor); "
                     "the MLP is fc1/GELU/fc2 with biases, LayerNorm with biases, the LM head has a bias.")
    if text.raw("num_nextn_predict_layers"):
        notes.append(f"{text.raw('num_nextn_predict_layers')} MTP layer(s) in the checkpoint are not loaded for serving and not counted.")
    profile = _validate(spec, name, path)
    counts = parameter_counts(profile.spec)
    spec["parametersB"] = round(counts.total / 1e9, 3)
    if experts is not None:
        spec["activeParametersB"] = round(counts.active / 1e9, 3)
    spec["notes"] = " ".join(notes)
    return _validate(spec, name, path)


def _validate(spec: dict[str, Any], name: str, path: str) -> ModelProfile:
    doc = {"apiVersion": "llmkube.dev/v1alpha1", "kind": "ModelProfile", "metadata": {"name": name}, "spec": spec}
    try:
        return ModelProfile.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"config gives an invalid profile: {first['msg']}", mark=SourceMark(path), field=where) from None


def profile_name(text: str) -> str:
    """A DNS-1123 profile name from a Hugging Face id or file name (`Qwen/Qwen3-8B` → `qwen3-8b`)."""
    base = text.rstrip("/").split("/")[-1]
    base = re.sub(r"[^a-z0-9.-]+", "-", base.lower()).strip("-.")
    return base[:253] or "model"


def import_profile(ref: str, name: str | None = None, caveats: list[str] | None = None,
                   hf_ids: list[str] | None = None) -> ModelProfile:
    """A ModelProfile from a local config.json / model directory; `hf_ids` are the checkpoint's Hugging
    Face ids (a spec's `model` finds the profile by them), else it gets `local/<name>`."""
    data = read_config_file(ref)
    p = Path(ref)
    where = str(p / "config.json") if p.is_dir() else ref
    # a model directory, or the directory a config.json sits in (`./config.json` too: resolved), names it
    parent = p.resolve().parent.name if p.name == "config.json" else ""
    default_name = profile_name(p.resolve().name if p.is_dir() else (parent or p.stem))
    return profile_from_config(data, where, name or default_name, hf_ids or None, caveats=caveats)


def fetch_hub_config(hf_id: str) -> tuple[dict[str, Any], str]:
    """config.json of a Hugging Face repo through `huggingface_hub` (the `hub` extra)."""
    try:
        from huggingface_hub import hf_hub_download  # type: ignore[import-not-found]
    except ImportError:
        raise InputError(f"cannot fetch {hf_id!r}: huggingface_hub is not installed",
                         hint="pip install 'llmkube[hub]', or download the model's config.json and import that file") from None
    try:
        path = hf_hub_download(hf_id, "config.json")
    except Exception as exc:  # network, auth, missing repo: all end the command the same way
        raise InputError(f"cannot fetch config.json of {hf_id!r}: {type(exc).__name__}: {exc}",
                         hint="offline? download config.json where you are online (huggingface-cli download "
                              f"{hf_id} config.json) and import the file; gated models need HF_TOKEN") from None
    return read_config_file(path), path


def import_hub_profile(hf_id: str, name: str | None = None, caveats: list[str] | None = None,
                       hf_ids: list[str] | None = None) -> ModelProfile:
    """A ModelProfile from a Hugging Face repo's config.json; its id comes first among `hf_ids`."""
    data, path = fetch_hub_config(hf_id)
    ids = [hf_id, *(i for i in hf_ids or () if i != hf_id)]
    return profile_from_config(data, path, name or profile_name(hf_id), ids, caveats)


def is_hub_id(ref: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*", ref)) and not Path(ref).exists()

