"""A model's real module shapes: parameter counts and checkpoint bytes from its profile.

The counts follow the modules the Hugging Face / vLLM model classes build (transformers
`modeling_llama`, `modeling_qwen2`, `modeling_mixtral`, `modeling_qwen3_moe`, `modeling_gemma2/3`,
`modeling_deepseek_v3`, `modeling_gpt_oss`, `modeling_llama4`, `modeling_phi3`, 4.5x), so a
profile's parameter total is computed, not copied, and the checkpoint's bytes follow from how
its `quantization_config` stores each linear layer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from llmkube.profiles import ModelSpec, Quantization
from llmkube.records import record

DTYPE_BYTES = {"bfloat16": 2.0, "float16": 2.0, "float32": 4.0, "float8": 1.0, "auto": 2.0}

GROUPS = ("embedding", "lm_head", "attention", "dense_mlp", "experts", "shared_experts", "router", "norms", "vision")


@record(frozen=True)
class Tensor:
    """One weight (or a stack of `copies` identical ones, e.g. the experts of a layer).

    `fan_in`/`fan_out` are a linear layer's in/out features; `linear` False marks norms,
    biases, embeddings and other tensors that no weight quantization touches.
    """

    name: str
    group: str
    layer: int | None  # decoder layer index; None for embeddings, LM head, final norm, vision
    fan_in: int
    fan_out: int = 1
    copies: int = 1
    linear: bool = False

    @property
    def numel(self) -> int:
        return self.fan_in * self.fan_out * self.copies


@record(frozen=True)
class ParamCounts:
    """Parameters by module group. `experts` is every routed expert; `active` what one token uses."""

    embedding: int
    lm_head: int  # 0 when tied to the embedding
    attention: int
    dense_mlp: int
    experts: int
    shared_experts: int
    router: int
    norms: int
    vision: int
    active: int

    @property
    def total(self) -> int:
        return (self.embedding + self.lm_head + self.attention + self.dense_mlp + self.experts
                + self.shared_experts + self.router + self.norms + self.vision)

    @property
    def language_model(self) -> int:
        return self.total - self.vision


def _mlp_prefix(spec: ModelSpec) -> str:
    return {"mixtral": "block_sparse_moe", "llama4": "feed_forward", "llama4_text": "feed_forward"}.get(spec.architecture, "mlp")


def _is_moe_layer(spec: ModelSpec, i: int) -> bool:
    e = spec.experts
    if e is None or i < e.dense_layers:
        return False
    return (i + 1) % e.layer_step == 0


def _attention(spec: ModelSpec, i: int) -> Iterator[Tensor]:
    p = f"model.layers.{i}.self_attn"
    h, heads, kv, hd = spec.hidden_size, spec.attention_heads, spec.kv_heads, spec.head_dim
    if spec.mla is not None:
        m = spec.mla
        nope = m.qk_nope_head_dim or hd
        v = m.v_head_dim or hd
        qk = nope + m.qk_rope_head_dim
        if m.q_lora_rank is None:
            yield Tensor(f"{p}.q_proj", "attention", i, h, heads * qk, linear=True)
        else:
            yield Tensor(f"{p}.q_a_proj", "attention", i, h, m.q_lora_rank, linear=True)
            yield Tensor(f"{p}.q_a_layernorm", "norms", i, m.q_lora_rank)
            yield Tensor(f"{p}.q_b_proj", "attention", i, m.q_lora_rank, heads * qk, linear=True)
        yield Tensor(f"{p}.kv_a_proj_with_mqa", "attention", i, h, m.kv_lora_rank + m.qk_rope_head_dim, linear=True)
        yield Tensor(f"{p}.kv_a_layernorm", "norms", i, m.kv_lora_rank)
        yield Tensor(f"{p}.kv_b_proj", "attention", i, m.kv_lora_rank, heads * (nope + v), linear=True)
        yield Tensor(f"{p}.o_proj", "attention", i, heads * v, h, linear=True)
        return
    if spec.architecture == "phi3":
        yield Tensor(f"{p}.qkv_proj", "attention", i, h, (heads + 2 * kv) * hd, linear=True)
    else:
        yield Tensor(f"{p}.q_proj", "attention", i, h, heads * hd, linear=True)
        yield Tensor(f"{p}.k_proj", "attention", i, h, kv * hd, linear=True)
        yield Tensor(f"{p}.v_proj", "attention", i, h, kv * hd, linear=True)
    if spec.qkv_bias:
        yield Tensor(f"{p}.qkv_bias", "attention", i, (heads + 2 * kv) * hd)
    yield Tensor(f"{p}.o_proj", "attention", i, heads * hd, h, linear=True)
    if spec.attention_output_bias:
        yield Tensor(f"{p}.o_proj.bias", "attention", i, h)
    if spec.architecture == "gpt_oss":
        yield Tensor(f"{p}.sinks", "attention", i, heads)  # one learned attention sink per head
    if spec.qk_norm:
        yield Tensor(f"{p}.q_norm", "norms", i, hd)
        yield Tensor(f"{p}.k_norm", "norms", i, hd)


def _gated_mlp(name: str, group: str, i: int, h: int, inter: int, copies: int, fused: bool = False) -> Iterator[Tensor]:
    if fused:
        yield Tensor(f"{name}.gate_up_proj", group, i, h, 2 * inter, copies, linear=True)
    else:
        yield Tensor(f"{name}.gate_proj", group, i, h, inter, copies, linear=True)
        yield Tensor(f"{name}.up_proj", group, i, h, inter, copies, linear=True)
    yield Tensor(f"{name}.down_proj", group, i, inter, h, copies, linear=True)


def _mlp(spec: ModelSpec, i: int) -> Iterator[Tensor]:
    p = f"model.layers.{i}.{_mlp_prefix(spec)}"
    h = spec.hidden_size
    e = spec.experts
    if e is None or not _is_moe_layer(spec, i):
        if spec.intermediate_size is None:
            raise ValueError("intermediateSize is not set")
        if spec.architecture == "phi":
            # transformers PhiMLP / vLLM phi.py PhiMLP: fc1 -> GELU -> fc2, both with biases (not gated)
            fc = spec.intermediate_size
            yield Tensor(f"{p}.fc1", "dense_mlp", i, h, fc, linear=True)
            yield Tensor(f"{p}.fc1.bias", "dense_mlp", i, fc)
            yield Tensor(f"{p}.fc2", "dense_mlp", i, fc, h, linear=True)
            yield Tensor(f"{p}.fc2.bias", "dense_mlp", i, h)
            return
        yield from _gated_mlp(p, "dense_mlp", i, h, spec.intermediate_size, 1, fused=spec.architecture == "phi3")
        return
    inter = e.intermediate_size or spec.intermediate_size
    if inter is None:
        raise ValueError("experts.intermediateSize is not set")
    router = f"{p}.router" if spec.architecture in ("gpt_oss", "llama4", "llama4_text") else f"{p}.gate"
    yield Tensor(router, "router", i, h, e.total, linear=True)
    if e.bias:
        yield Tensor(f"{router}.bias", "router", i, e.total)
    if spec.architecture in ("deepseek_v3", "glm4_moe"):  # noaux_tc routing (vLLM glm4_moe.py `Glm4MoE.gate`)
        yield Tensor(f"{router}.e_score_correction_bias", "router", i, e.total)
    if spec.architecture == "gpt_oss":
        # fused per-layer expert tensors with biases (GptOssExperts)
        yield Tensor(f"{p}.experts.gate_up_proj", "experts", i, h, 2 * inter, e.total, linear=True)
        yield Tensor(f"{p}.experts.gate_up_proj_bias", "experts", i, 2 * inter, 1, e.total)
        yield Tensor(f"{p}.experts.down_proj", "experts", i, inter, h, e.total, linear=True)
        yield Tensor(f"{p}.experts.down_proj_bias", "experts", i, h, 1, e.total)
    elif spec.architecture == "mixtral":
        yield Tensor(f"{p}.experts.0.w1", "experts", i, h, inter, e.total, linear=True)
        yield Tensor(f"{p}.experts.0.w3", "experts", i, h, inter, e.total, linear=True)
        yield Tensor(f"{p}.experts.0.w2", "experts", i, inter, h, e.total, linear=True)
    else:
        yield from _gated_mlp(f"{p}.experts.0", "experts", i, h, inter, e.total)
    if e.shared:
        shared_inter = e.shared_intermediate_size or inter
        name = f"{p}.shared_expert" if spec.architecture in ("qwen2_moe", "llama4", "llama4_text") else f"{p}.shared_experts"
        yield from _gated_mlp(name, "shared_experts", i, h, shared_inter * e.shared, 1)
        if spec.architecture == "qwen2_moe":
            yield Tensor(f"{p}.shared_expert_gate", "router", i, h, 1, linear=True)


def tensors(spec: ModelSpec) -> Iterator[Tensor]:
    """Every weight of the model as its checkpoint holds it (MTP / draft layers excluded: vLLM
    does not load them for the main model)."""
    h, vocab = spec.hidden_size, spec.vocab_size
    yield Tensor("model.embed_tokens", "embedding", None, vocab, h)
    norms_per_layer = 4 if spec.architecture in ("gemma2", "gemma3", "gemma3_text") else 2
    for i in range(spec.layers):
        yield from _attention(spec, i)
        yield from _mlp(spec, i)
        yield Tensor(f"model.layers.{i}.layernorms", "norms", i, norms_per_layer * h)
    # phi: one LayerNorm (weight and bias, 2·h) per layer, as the two RMSNorm weights of the others;
    # its final LayerNorm and LM head carry biases too (transformers PhiModel.final_layernorm, PhiForCausalLM)
    yield Tensor("model.norm", "norms", None, 2 * h if spec.architecture == "phi" else h)
    if not spec.tie_embeddings:
        yield Tensor("lm_head", "lm_head", None, h, vocab, linear=True)
        if spec.architecture == "phi":
            yield Tensor("lm_head.bias", "lm_head", None, vocab)
    if spec.vision_parameters_b:
        yield Tensor("vision_tower", "vision", None, round(spec.vision_parameters_b * 1e9))


def _active_share(spec: ModelSpec, t: Tensor) -> float:
    if t.group == "experts" and spec.experts is not None:
        return spec.experts.active / spec.experts.total
    return 1.0


def parameter_counts(spec: ModelSpec) -> ParamCounts:
    """Parameters per module group, from the shapes (not from parametersB)."""
    by = dict.fromkeys(GROUPS, 0)
    active = 0.0
    for t in tensors(spec):
        by[t.group] += t.numel
        if t.group != "vision":
            active += t.numel * _active_share(spec, t)
    return ParamCounts(**by, active=round(active))


# ----------------------------------------------------------------------------- checkpoint bytes


def _matches(pattern: str, name: str) -> bool:
    """vLLM's ignore matching: "re:" patterns are regular expressions matched from the start of
    the module name (compressed-tensors `_is_equal_or_regex_match`); `*` globs match from the start
    too (transformers' `modules_to_not_convert` for gpt-oss, `model.layers.*.self_attn`); other
    names match the whole name or, as AWQ's `modules_to_not_convert` does, any part of it."""
    if pattern.startswith("re:"):
        return re.match(pattern[3:], name) is not None
    if "*" in pattern:
        return re.match(re.escape(pattern).replace(r"\*", ".*"), name) is not None
    return pattern == name or pattern in name


def is_quantized(spec: ModelSpec, t: Tensor) -> bool:
    """Whether the checkpoint's quantization covers this tensor.

    Only linear layers; never the embeddings, the LM head or an MoE router (vLLM builds those
    without the quantization method: `ParallelLMHead`, DeepSeek/Qwen MoE `gate` with
    quant_config=None), nor the vision tower.
    """
    q = spec.quantization
    if q is None or not t.linear or t.group in ("embedding", "lm_head", "router", "vision"):
        return False
    if q.targets == "experts" and t.group != "experts":
        return False
    return not any(_matches(p, t.name) for p in q.ignore)


def _scale_bytes(q: Quantization) -> float:
    # fp8 checkpoints (HF fine-grained fp8 `weight_scale_inv`, fbgemm, modelopt) keep float32
    # scales; compressed-tensors, AWQ and GPTQ keep them in the 16-bit model dtype.
    return 4.0 if q.method in ("fp8", "fbgemm_fp8", "modelopt") else 2.0


def quantized_linear_bytes(q: Quantization, fan_in: int, fan_out: int) -> float:
    """Bytes of one quantized linear layer's weight with its scales, zero points and indices."""
    n = fan_in * fan_out
    if q.method == "mxfp4":  # OCP MX: 2 fp4 values per byte + one e8m0 scale byte per 32
        return n * 0.5 + n / 32
    if q.method == "nvfp4" or (q.method == "modelopt" and q.weight_bits == 4):
        return n * 0.5 + n / 16 + 8  # fp8 scale per 16 values + global scales
    if q.method == "bitsandbytes":
        if q.weight_bits == 4:  # NF4/FP4, absmax per 64 values (uint8 with double quantization)
            block = q.group_size if q.group_size and q.group_size > 0 else 64
            absmax = 1.0 + 4 / 256 if q.format and "double" in q.format else 4.0
            return n * 0.5 + n / block * absmax
        return n + fan_out * 4.0  # LLM.int8: int8 weight + fp32 row scale (SCB)
    weight = n * q.weight_bits / 8
    sb = _scale_bytes(q)
    strategy = q.strategy
    if strategy is None:
        strategy = "group" if q.group_size and q.group_size > 0 else ("tensor" if q.weight_type == "float" else "channel")
    if strategy == "tensor":
        scales = 1.0
    elif strategy == "block":
        bo, bi = q.block_size or [128, 128]
        scales = math.ceil(fan_out / bo) * math.ceil(fan_in / bi)
    elif strategy == "group" and q.group_size and q.group_size > 0:
        scales = fan_out * math.ceil(fan_in / q.group_size)
    else:
        scales = fan_out
    total = weight + scales * sb
    # AWQ and GPTQ always store packed zero points (GPTQ even when symmetric); other schemes
    # only for asymmetric weights.
    if q.method in ("awq", "gptq") or not q.symmetric:
        total += scales * q.weight_bits / 8
    if q.method == "gptq":
        total += fan_in * 4  # g_idx, one int32 per input channel
    if q.format == "pack-quantized":
        total += 16  # weight_shape, two int64
    if q.activation_bits and q.weight_type == "float" and strategy == "tensor":
        total += 4  # static per-tensor input_scale (float32)
    return total


def tensor_bytes(spec: ModelSpec, t: Tensor) -> float:
    """Bytes of one tensor as the checkpoint stores it."""
    if is_quantized(spec, t):
        assert spec.quantization is not None
        return quantized_linear_bytes(spec.quantization, t.fan_in, t.fan_out) * t.copies
    return t.numel * unquantized_bytes(spec)


def unquantized_bytes(spec: ModelSpec) -> float:
    """Bytes per parameter of what the quantization leaves alone: the checkpoint's 16/32-bit dtype
    (an fp8 checkpoint's dtype names its quantized linears; the rest stays 16-bit)."""
    b = DTYPE_BYTES.get(spec.dtype, 2.0)
    return 2.0 if b < 2.0 else b


def stored_spec(spec: ModelSpec) -> ModelSpec:
    """The spec with the quantization its checkpoint is stored with: without a `quantization` block a
    float8 dtype (the old profiles' way of saying "fp8 checkpoint") is fp8 with per-tensor scales."""
    if spec.quantization is None and spec.dtype == "float8":
        return spec.model_copy(update={"quantization": Quantization(method="fp8", weight_bits=8, weight_type="float", strategy="tensor")})
    return spec


def checkpoint_weight_bytes(spec: ModelSpec) -> float:
    """Bytes of the weights as the checkpoint stores them and vLLM loads them (no MTP layers).

    Without a `quantization` block a float8 dtype counts every linear at one byte (the old
    profiles' way of saying "fp8 checkpoint") with per-tensor scales.
    """
    spec = stored_spec(spec)
    return sum(tensor_bytes(spec, t) for t in tensors(spec))


@record(frozen=True)
class WeightBytes:
    """Checkpoint bytes split the way pipeline stages split them."""

    embedding: float
    lm_head: float
    layers: tuple[float, ...]  # per decoder layer
    other: float  # final norm, vision tower

    @property
    def total(self) -> float:
        return self.embedding + self.lm_head + sum(self.layers) + self.other


#: Answers remembered per model spec, keyed by its `repr` (a frozen pydantic model, but one holding
#: lists, so not hashable): a planner asks once per server, and a run of many specs serves a few
#: models (`weight_bytes_by_layer`: 2,000 calls, 12 s of CPU for 3,000 specs before;
#: `expert_bytes_by_layer`: 4.5 s). Bounded: a table is cleared when full. The repr names every
#: field with its value's repr (nested models alike; no field of the profile models is
#: `repr=False`), so equal keys are equal specs, as with `model_dump_json`, which keyed it before
#: but built ModelSpec's serializer on a run's first call (~12 ms of a validate's start-up; the
#: models are built lazily, `defer_build`). tests/test_startup.py holds the key to the spec's JSON.
_WEIGHT_BYTES: dict[str, WeightBytes] = {}
_EXPERT_BYTES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
_PER_SPEC_MAX = 512


def spec_key(spec: ModelSpec) -> str:
    """What `_per_spec` remembers a spec's answers under: equal for equal specs only."""
    return repr(spec)


def _per_spec(table: dict[str, Any], spec: ModelSpec, compute: Callable[[ModelSpec], Any]) -> Any:
    key = spec_key(spec)
    value = table.get(key)
    if value is None:
        if len(table) >= _PER_SPEC_MAX:
            table.clear()
        value = table[key] = compute(spec)
    return value


def weight_bytes_by_layer(spec: ModelSpec) -> WeightBytes:
    """Checkpoint bytes of the embeddings, the LM head and each decoder layer (remembered per spec)."""
    result: WeightBytes = _per_spec(_WEIGHT_BYTES, spec, weight_bytes_by_layer_uncached)
    return result


def expert_bytes_by_layer(spec: ModelSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per decoder layer, (the routed experts' checkpoint bytes, all the layer's bytes), remembered per
    spec; `expert_bytes_by_layer_uncached` computes it."""
    result: tuple[tuple[float, ...], tuple[float, ...]] = _per_spec(_EXPERT_BYTES, spec, expert_bytes_by_layer_uncached)
    return result


def expert_bytes_by_layer_uncached(spec: ModelSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """`expert_bytes_by_layer`, computed: a walk of every tensor of the checkpoint."""
    experts, whole = [0.0] * spec.layers, [0.0] * spec.layers
    for t in tensors(spec):
        if t.layer is not None:
            b = tensor_bytes(spec, t)
            whole[t.layer] += b
            if t.group == "experts":
                experts[t.layer] += b
    return tuple(experts), tuple(whole)


def weight_bytes_by_layer_uncached(spec: ModelSpec) -> WeightBytes:
    """`weight_bytes_by_layer`, computed (the reference; tests/test_modelshape.py)."""
    spec = stored_spec(spec)
    layers = [0.0] * spec.layers
    embedding = lm_head = other = 0.0
    for t in tensors(spec):
        b = tensor_bytes(spec, t)
        if t.layer is not None:
            layers[t.layer] += b
        elif t.group == "embedding":
            embedding += b
        elif t.group == "lm_head":
            lm_head += b
        else:
            other += b
    return WeightBytes(embedding, lm_head, tuple(layers), other)
