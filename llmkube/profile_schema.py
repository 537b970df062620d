"""The pydantic models a profile file is validated against (`ProfileStore` on a cache miss,
`--profiles` files, `profiles import`); the profiles themselves are the plain frozen dataclasses of
`llmkube.profiles`, into which `plain` copies a validated model.

Kept apart from `llmkube.profiles` so that a run whose profiles come from the side cache (every
run after the first with the same files) imports neither pydantic nor these models: a
`validate` that sizes a model server spent ~0.1 s of CPU on that before. The classes carry the
same names, fields and defaults as their plain twins (tests/test_profiles_store.py holds them
equal, field by field), so pydantic's messages name the same types.
"""

from __future__ import annotations

from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, Field, model_validator

from llmkube import profiles
from llmkube.profiles import LayerType, QuantMethod
from llmkube.specs.base import DNSSubdomain, PositiveInt, SpecModel, empty_list

P = TypeVar("P")


class ProfileMeta(SpecModel):
    name: DNSSubdomain


class MigProfile(SpecModel):
    name: str = Field(pattern=r"^[0-9]+g\.[0-9]+gb(\+[a-z.]+|-me)?$")
    memory_slots: PositiveInt
    compute_slices: PositiveInt
    memory_gi_b: float = Field(alias="memoryGiB", gt=0)
    sms: PositiveInt | None = None
    max_count: PositiveInt
    placements: list[int] = Field(min_length=1)


class MigSpec(SpecModel):
    compute_slices: PositiveInt
    memory_slots: PositiveInt
    profiles: list[MigProfile] = Field(min_length=1)


class GPUSpec(SpecModel):
    display_name: str
    product: str
    memory_gi_b: float = Field(alias="memoryGiB", gt=0)
    memory_mi_b: PositiveInt | None = Field(default=None, alias="memoryMiB")
    sms: PositiveInt | None = None
    memory_bandwidth_g_bps: float | None = Field(default=None, alias="memoryBandwidthGBps")
    bf16_tflops: float | None = Field(default=None, alias="bf16TFLOPS")
    interconnect: Literal["nvlink", "pcie"]
    gpus_per_node: PositiveInt
    compute_capability: str | None = None
    pci_device_ids: list[str] = Field(default_factory=empty_list)
    notes: str | None = None
    mig: MigSpec | None = None


class GPUProfile(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["GPUProfile"]
    metadata: ProfileMeta
    spec: GPUSpec


class Experts(SpecModel):
    """Mixture-of-experts shapes (HF `num_local_experts`/`n_routed_experts`, `num_experts_per_tok`,
    `moe_intermediate_size`, `n_shared_experts`, `first_k_dense_replace`)."""

    total: PositiveInt
    active: PositiveInt
    # Per-expert MLP width; falls back to the spec's intermediateSize (Mixtral's config has only that).
    intermediate_size: PositiveInt | None = None
    shared: int = Field(default=0, ge=0)  # shared experts every token passes through
    # Width of one shared expert when it differs from a routed one (Qwen2-MoE's shared_expert_intermediate_size).
    shared_intermediate_size: PositiveInt | None = None
    dense_layers: int = Field(default=0, ge=0)  # first layers with a dense MLP (first_k_dense_replace)
    layer_step: PositiveInt = 1  # every n-th layer is MoE, the others dense (Llama 4 interleave_moe_layer_step)
    bias: bool = False  # experts and router carry biases (gpt-oss)


class MLA(SpecModel):
    """Multi-head latent attention (DeepSeek V2/V3): KV is one latent of kvLoraRank + qkRopeHeadDim."""

    kv_lora_rank: PositiveInt
    qk_rope_head_dim: PositiveInt
    q_lora_rank: PositiveInt | None = None  # None: q is projected directly (DeepSeek-V2-Lite)
    qk_nope_head_dim: PositiveInt | None = None  # defaults to headDim
    v_head_dim: PositiveInt | None = None  # defaults to headDim


class Quantization(SpecModel):
    """How the checkpoint stores its weights (HF `quantization_config`, as vLLM detects it)."""

    method: QuantMethod
    weight_bits: PositiveInt
    group_size: int | None = Field(default=None, ge=-1)  # -1: one scale per output channel
    activation_bits: PositiveInt | None = None  # None: weight-only (activations stay 16-bit)
    # Weight scale granularity: tensor, channel, group or block (fp8 weight_block_size).
    strategy: Literal["tensor", "channel", "group", "block"] | None = None
    block_size: list[PositiveInt] | None = Field(default=None, min_length=2, max_length=2)
    symmetric: bool = True  # asymmetric schemes also store zero points
    weight_type: Literal["int", "float"] = "int"
    # Module name patterns kept unquantized (compressed-tensors `ignore`, AWQ `modules_to_not_convert`,
    # fp8 `ignored_layers`); "re:" prefixes a regular expression, otherwise a substring of the name.
    ignore: list[str] = Field(default_factory=empty_list)
    format: str | None = None  # compressed-tensors format: pack-quantized, float-quantized, ...
    # Which linear layers the scheme covers: all of them, or the MoE experts only (gpt-oss MXFP4).
    targets: Literal["linear", "experts"] = "linear"


class ModelSpec(SpecModel):
    display_name: str
    hugging_face_ids: list[str] = Field(min_length=1)
    architecture: str
    parameters_b: float = Field(alias="parametersB", gt=0)
    active_parameters_b: float | None = Field(default=None, alias="activeParametersB")
    layers: PositiveInt
    hidden_size: PositiveInt
    attention_heads: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt
    intermediate_size: PositiveInt | None = None
    vocab_size: PositiveInt
    max_context: PositiveInt
    tie_embeddings: bool = False
    dtype: str = "bfloat16"
    experts: Experts | None = None
    sliding_window: PositiveInt | None = None
    # Per layer (HF `layer_types`): full_attention, sliding_attention (window slidingWindow) or
    # chunked_attention (Llama 4, chunk attentionChunkSize). Derived when omitted: see layer_types_of.
    layer_types: list[LayerType] | None = None
    attention_chunk_size: PositiveInt | None = None
    # Positions of vLLM's RoPE cos/sin table for the global layers when it spans more than maxContext:
    # a linearly scaled rope the context does not already count (Gemma 3: max_position_embeddings × factor).
    rope_table_positions: PositiveInt | None = None
    mla: MLA | None = None
    quantization: Quantization | None = None
    qkv_bias: bool = False  # q/k/v projections carry biases (Qwen2, gpt-oss)
    attention_output_bias: bool = False  # o_proj carries a bias (gpt-oss attention_bias)
    qk_norm: bool = False  # per-head RMSNorm on q and k (Qwen3, Gemma 3)
    # Parameters outside the language model that load with it (vision tower, projector), billions.
    vision_parameters_b: float | None = Field(default=None, alias="visionParametersB", ge=0)
    # A derivative (fine-tune, quantized re-upload) names the profile whose spec it starts from;
    # its own keys replace the base's (see ProfileStore._resolve_derivatives).
    base_profile: str | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _layer_types_match(self) -> Self:
        if self.layer_types is not None and len(self.layer_types) != self.layers:
            raise ValueError(f"layerTypes lists {len(self.layer_types)} layers; layers is {self.layers}")
        if self.layer_types and "sliding_attention" in self.layer_types and self.sliding_window is None:
            raise ValueError("layerTypes has sliding_attention layers but slidingWindow is not set")
        return self


class ModelProfile(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["ModelProfile"]
    metadata: ProfileMeta
    spec: ModelSpec


_PROFILE_KINDS: dict[str, type[GPUProfile] | type[ModelProfile]] = {"GPUProfile": GPUProfile, "ModelProfile": ModelProfile}


PROFILE_KINDS: dict[str, type[GPUProfile] | type[ModelProfile]] = {"GPUProfile": GPUProfile, "ModelProfile": ModelProfile}


def plain(model: BaseModel) -> Any:
    """The plain twin (`llmkube.profiles`, same class name) of a validated profile model, nested
    models and lists of them copied alike; other values are shared (strings, numbers, bools)."""
    cls = getattr(profiles, type(model).__name__)
    return cls(**{name: _plain_value(getattr(model, name)) for name in type(model).model_fields})


def _plain_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return plain(value)
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    return value


def validated(cls: type[P], data: Any) -> P:
    """`data` validated by the model named like the plain class `cls`, as a `cls`
    (pydantic's ValidationError when it is not valid)."""
    schema: type[BaseModel] = globals()[cls.__name__]
    result: P = plain(schema.model_validate(data))
    return result


def schema_of(cls: type) -> type[BaseModel]:
    """The pydantic model of a plain profile class."""
    schema: type[BaseModel] = globals()[cls.__name__]
    return schema

