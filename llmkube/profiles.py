"""GPU and model profiles: the facts that sizing and rendering stand on.

Built-in profiles live in the top-level `profiles/` directory; users add or
override them with `--profiles DIR` (searched first). A model is found by
profile name or by any Hugging Face id it lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from llmkube.errors import InputError, SourceMark
from llmkube.options import require_profile_dirs
from llmkube.specs.base import DNSSubdomain, PositiveInt, SpecModel, empty_list
from llmkube.fastyaml import load_plain
from llmkube.resources import builtin_profiles
from llmkube.suggest import nearest
from llmkube.yamlio import expand_paths

BUILTIN_PROFILES = builtin_profiles()


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

    @property
    def name(self) -> str:
        return self.metadata.name


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


QuantMethod = Literal["fp8", "compressed-tensors", "awq", "gptq", "mxfp4", "bitsandbytes",
                      "fbgemm_fp8", "modelopt", "nvfp4", "gguf", "other"]


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


LayerType = Literal["full_attention", "sliding_attention", "chunked_attention"]


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


def layer_types_of(spec: ModelSpec) -> list[str]:
    """Each layer's attention type: the profile's layerTypes, else derived the way transformers
    derives `layer_types` (Gemma2Config / Gemma3Config / GptOssConfig / MistralConfig, transformers
    4.5x): Gemma 2 and gpt-oss alternate sliding (even layers) and full; Gemma 3 makes every 6th layer full;
    Llama 4 with attentionChunkSize makes every 4th layer full and chunks the others
    (sliding_window_pattern 6); any other model with a sliding window slides on every layer."""
    if spec.layer_types is not None:
        return list(spec.layer_types)
    if spec.architecture == "llama4" and spec.attention_chunk_size is not None:
        # Llama4TextConfig no_rope_layer_interval 4: every 4th layer is global (NoPE), the others
        # attend within chunks (vLLM Llama4Attention `use_chunked_local_attn`)
        return ["chunked_attention" if (i + 1) % 4 else "full_attention" for i in range(spec.layers)]
    if spec.sliding_window is None:
        return ["full_attention"] * spec.layers
    pattern = {"gemma2": 2, "gemma3": 6, "gemma3_text": 6, "gpt_oss": 2}.get(spec.architecture)
    if pattern is None:
        return ["sliding_attention"] * spec.layers
    return ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(spec.layers)]


class ModelProfile(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["ModelProfile"]
    metadata: ProfileMeta
    spec: ModelSpec

    @property
    def name(self) -> str:
        return self.metadata.name


_PROFILE_KINDS: dict[str, type[GPUProfile] | type[ModelProfile]] = {"GPUProfile": GPUProfile, "ModelProfile": ModelProfile}


def _cache_key(files: list[tuple[str, str]]) -> str | None:
    """The profile files' paths and texts, and what the built store's objects depend on besides:
    the model definitions (this module's source and `specs/base.py`'s, whose types and validators
    the fields use), llmkube's, pydantic's and Python's versions. Changed code is a new key; no
    key (no caching) where the sources cannot be read (a frozen or zipped install)."""
    import hashlib
    import sys

    import pydantic

    from llmkube import __version__
    from llmkube.specs import base

    digest = hashlib.sha256(f"{__version__}\0{pydantic.VERSION}\0{sys.version}\0".encode())
    for source in (__file__, getattr(base, "__file__", None)):
        try:
            digest.update(Path(source or "").read_bytes() + b"\0")
        except OSError:
            return None
    for path, text in files:
        digest.update(f"{path}\0{len(text)}\0".encode() + text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def _cached_store(directory: Path, key: str) -> ProfileStore | None:
    """The store pickled under `key`, or None (no entry, or one that does not unpickle into a store)."""
    import pickle

    from llmkube import diskcache

    data = diskcache.read_private_bytes(directory, f"{key}.pickle")
    if data is None:
        return None
    try:
        store = pickle.loads(data)
    except Exception:  # noqa: BLE001 - a truncated or foreign entry (any error unpickling) is a miss
        return None
    return store if isinstance(store, ProfileStore) and not store._from_configs else None


def _keep_store(directory: Path, key: str, store: ProfileStore) -> None:
    import pickle

    from llmkube import diskcache

    if diskcache.write_bytes(directory, f"{key}.pickle", pickle.dumps(store, protocol=pickle.HIGHEST_PROTOCOL), private=True):
        diskcache.prune(directory, keep=8, pattern="*.pickle")
        diskcache.prune(directory, keep=0, pattern="*.json")  # the parsed-files entries earlier versions kept


@dataclass
class ProfileStore:
    """All profiles found on the search path, by name (and models by HF id)."""

    gpus: dict[str, GPUProfile] = field(default_factory=dict)
    models: dict[str, ModelProfile] = field(default_factory=dict)
    _by_hf_id: dict[str, ModelProfile] = field(default_factory=dict)
    _derivatives: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _from_configs: dict[str, ModelProfile] = field(default_factory=dict)

    @classmethod
    def load(cls, extra_dirs: Sequence[str | Path] = (), *, parsed_cache: Path | None = None) -> ProfileStore:
        """User dirs first (they override), then the built-ins.

        With `parsed_cache` (a directory), the loaded store is kept there, pickled, under a key of the
        files' paths and texts and of the code that defines the profile models (`_cache_key`), and
        the next run with the same files unpickles it (~4 ms) instead of parsing ~75 YAML files,
        building the GPUProfile and ModelProfile validators and validating every profile (~15 ms and
        more). An edited, added or removed file, or changed code, is a new key; a bad entry is a
        miss, rewritten (llmkube.diskcache); an entry another user could have written is not
        unpickled (`diskcache.read_private_bytes`)."""
        dirs = [Path(d) for d in extra_dirs] + [BUILTIN_PROFILES]
        require_profile_dirs(dirs)
        files = [(path, Path(path).read_text(encoding="utf-8")) for path in expand_paths([str(d) for d in dirs])]
        key = _cache_key(files) if parsed_cache is not None else None
        if parsed_cache is not None and key is not None:
            cached = _cached_store(parsed_cache, key)
            if cached is not None:
                return cached
        store = cls()
        for path, text in files:
            for data in load_plain(text, path, what="profile"):
                store._add(path, data)
        store._resolve_derivatives()
        if parsed_cache is not None and key is not None:
            _keep_store(parsed_cache, key, store)
        return store

    def _add(self, path: str, data: Any) -> None:
        kind = data.get("kind") if isinstance(data, dict) else None
        model_cls = _PROFILE_KINDS.get(kind) if isinstance(kind, str) else None
        if model_cls is None:
            raise InputError(
                f"not a profile: kind {kind!r}",
                mark=SourceMark(path),
                hint="profile files hold kind GPUProfile or ModelProfile",
            )
        spec = data.get("spec")
        if model_cls is ModelProfile and isinstance(spec, dict) and spec.get("baseProfile") is not None:
            self._derivatives.append((path, data))  # validated once its base is known
            return
        self._register(path, data, model_cls, data)

    def _register(self, path: str, data: Any, model_cls: type[GPUProfile] | type[ModelProfile], original: Any) -> None:
        try:
            profile = model_cls.model_validate(data)
        except ValidationError as exc:
            name = (original.get("metadata") or {}).get("name")
            if data is not original:  # a derivative merged with its base: no line of its own
                first = exc.errors()[0]
                raise InputError(
                    f"profile {name!r} with its baseProfile is invalid: {first['msg']}", mark=SourceMark(path),
                    field=".".join(str(p) for p in first["loc"]),
                ) from None
            # Re-read with line marks only now, to point at the bad line.
            from llmkube.specs.parse import validate_document
            from llmkube.yamlio import parse_documents

            for doc in parse_documents(Path(path).read_text(encoding="utf-8"), path):
                if (doc.data.get("metadata") or {}).get("name") == name:
                    validate_document(doc, model_cls)
            raise
        if isinstance(profile, GPUProfile):
            self.gpus.setdefault(profile.name, profile)
        elif profile.name not in self.models:
            self.models[profile.name] = profile
            for hf_id in profile.spec.hugging_face_ids:
                self._by_hf_id.setdefault(hf_id.lower(), profile)

    def _resolve_derivatives(self) -> None:
        """Profiles with `baseProfile` start from their base's spec (by name or Hugging Face id,
        derivatives of derivatives too) and replace the keys they set."""
        pending = list(self._derivatives)
        while pending:
            waiting = []
            for path, data in pending:
                base_ref = data["spec"]["baseProfile"]
                base = self.model(str(base_ref))
                if base is None:
                    waiting.append((path, data))
                    continue
                spec = base.spec.model_dump(by_alias=True, exclude_none=True)
                spec.pop("notes", None)
                spec.update(data["spec"])
                spec.setdefault("notes", f"Derived from {base.name}.")
                self._register(path, {**data, "spec": spec}, ModelProfile, data)
            if len(waiting) == len(pending):
                path, data = waiting[0]
                ref = data["spec"]["baseProfile"]
                raise InputError(
                    f"baseProfile {ref!r} names no model profile", mark=SourceMark(path),
                    field="spec.baseProfile", hint=self.suggest_model(str(ref)),
                )
            pending = waiting

    def gpu(self, name: str) -> GPUProfile | None:
        return self.gpus.get(name)

    def model(self, name_or_id: str) -> ModelProfile | None:
        """By profile name, by Hugging Face id (case-insensitive, revision ignored), or from a
        local config.json (a path ending in config.json, or a directory holding one)."""
        if name_or_id in self.models:
            return self.models[name_or_id]
        key = name_or_id.split("@", 1)[0].strip().rstrip("/").lower()
        found = self._by_hf_id.get(key)
        if found is not None:
            return found
        if looks_like_config_path(name_or_id) and Path(name_or_id).exists():
            if name_or_id not in self._from_configs:
                from llmkube.modelconfig import import_profile  # only now: the config reader and its tensor shapes

                self._from_configs[name_or_id] = import_profile(name_or_id)
            return self._from_configs[name_or_id]
        return None

    def suggest_gpu(self, name: str) -> str:
        """The nearest GPU profiles to a mistyped name: `H100` → `h100-80gb`, and the product label or
        the display name (`NVIDIA-H100-80GB-HBM3`, `NVIDIA H100 80GB HBM3 (SXM5)`, with or
        without `NVIDIA`) points at its profile."""
        aliases: dict[str, str] = {}
        for key, p in self.gpus.items():
            for alias in (p.spec.product, p.spec.display_name):
                aliases[alias] = key
                aliases[alias.removeprefix("NVIDIA").strip(" -")] = key
        return _suggest(name, self.gpus, aliases)

    def suggest_model(self, name: str) -> str:
        if name.endswith(".json") or "/" in name and Path(name).is_absolute():
            return f"no config.json at {name} (a model may name a local Hugging Face config.json or a directory holding one)"
        return _suggest(name, self.models, {hf_id: key for key, p in self.models.items() for hf_id in p.spec.hugging_face_ids})


def looks_like_config_path(ref: str) -> bool:
    """Whether a spec's `model` names a local config.json (or a directory holding one)."""
    p = Path(ref)
    return (ref.endswith("config.json") or (ref.endswith(".json") and p.is_file())
            or (p.is_dir() and (p / "config.json").is_file()))


def _suggest(name: str, choices: Iterable[str], aliases: dict[str, str] | None = None) -> str:
    """"did you mean" the nearest profile (llmkube.suggest: case-insensitive, prefix, then difflib),
    listing the next nearest too; else the known names."""
    choices = sorted(choices)
    close = nearest(name, choices, aliases, n=3)
    tail = "`llmkube profiles list` lists them all; add your own with --profiles DIR"
    if close:
        others = f"nearest: {', '.join(close)}; " if len(close) > 1 else ""
        return f"did you mean {close[0]!r}? ({others}{tail})"
    return "known: " + ", ".join(choices[:20]) + f" ({tail})"
