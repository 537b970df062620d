"""GPU and model profiles: the facts that sizing and rendering stand on.

Built-in profiles live in the top-level `profiles/` directory; users add or
override them with `--profiles DIR` (searched first). A model is found by
profile name or by any Hugging Face id it lists.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from llmkube.errors import InputError, SourceMark
from llmkube.options import require_profile_dirs
from llmkube.fastyaml import load_plain
from llmkube.records import record
from llmkube.resources import builtin_profiles
from llmkube.suggest import nearest
from llmkube.yamlio import expand_paths

BUILTIN_PROFILES = builtin_profiles()


def _alias(name: str) -> str:
    """A field's key in a profile file when it has no explicit alias: camelCase (pydantic's
    `to_camel`, which `specs.base.SpecModel` generates aliases with)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class _Profile:
    """What the plain profile types share: pydantic's `model_copy`, `model_dump` and `model_validate`
    calls, so that code and tests that derive a variant, write a profile back out or validate a
    fragment read as they did when the profiles were pydantic models (`llmkube.profile_schema`).

    `ALIASES` lists the keys that are not the camelCase of the field's name."""

    ALIASES: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        """`data` validated by the profile's pydantic model (imported only now); ValidationError if not."""
        from llmkube.profile_schema import validated

        return validated(cls, data)

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        """A copy with `update`'s fields replaced (not validated, as with pydantic)."""
        return dataclasses.replace(self, **(update or {}))  # type: ignore[type-var]

    def model_dump(self, *, by_alias: bool = False, exclude_none: bool = False, exclude_defaults: bool = False,
                   exclude: Iterable[str] = ()) -> dict[str, Any]:
        """The fields as plain data, nested profiles and lists of them alike, in field order;
        what pydantic's `model_dump` returns with the same arguments (tests/test_profiles_store.py);
        `exclude` names top-level fields to leave out."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name in exclude:
                continue
            value = getattr(self, f.name)
            if exclude_none and value is None:
                continue
            if exclude_defaults and f.default is not dataclasses.MISSING and value == f.default:
                continue
            if exclude_defaults and f.default_factory is not dataclasses.MISSING and value == f.default_factory():
                continue
            key = (self.ALIASES.get(f.name) or _alias(f.name)) if by_alias else f.name
            out[key] = _dumped(value, by_alias, exclude_none, exclude_defaults)
        return out


def _dumped(value: Any, by_alias: bool, exclude_none: bool, exclude_defaults: bool) -> Any:
    if isinstance(value, _Profile):
        return value.model_dump(by_alias=by_alias, exclude_none=exclude_none, exclude_defaults=exclude_defaults)
    if isinstance(value, list):
        return [_dumped(v, by_alias, exclude_none, exclude_defaults) for v in value]
    return value


class _Document(_Profile):
    """A profile file's document (GPUProfile, ModelProfile): named by its metadata."""

    metadata: ProfileMeta

    @property
    def name(self) -> str:
        return self.metadata.name


# The profile types: plain frozen dataclasses, validated on the way in by the pydantic models of the
# same names in llmkube.profile_schema (where each field's constraints are), so that a store read
# back from the side cache needs neither pydantic nor those models. Keyword-only, as pydantic's are.


@record(frozen=True, kw_only=True)
class ProfileMeta(_Profile):
    """A profile's `metadata`: its name."""

    name: str


@record(frozen=True, kw_only=True)
class MigProfile(_Profile):
    """One MIG profile a GPU offers (`1g.10gb`): its slots, memory and placements."""

    ALIASES: ClassVar[Mapping[str, str]] = {"memory_gi_b": "memoryGiB"}

    name: str
    memory_slots: int
    compute_slices: int
    memory_gi_b: float
    sms: int | None = None
    max_count: int
    placements: list[int]


@record(frozen=True, kw_only=True)
class MigSpec(_Profile):
    """A GPU's MIG geometry: its compute and memory slots and the profiles that divide them."""

    compute_slices: int
    memory_slots: int
    profiles: list[MigProfile]


@record(frozen=True, kw_only=True)
class GPUSpec(_Profile):
    """A GPU's facts: memory, SMs, bandwidth, interconnect, node size, MIG; see profile_schema.GPUSpec."""

    ALIASES: ClassVar[Mapping[str, str]] = {
        "memory_gi_b": "memoryGiB", "memory_mi_b": "memoryMiB", "memory_bandwidth_g_bps": "memoryBandwidthGBps",
        "bf16_tflops": "bf16TFLOPS",
    }

    display_name: str
    product: str
    memory_gi_b: float
    memory_mi_b: int | None = None
    sms: int | None = None
    memory_bandwidth_g_bps: float | None = None
    bf16_tflops: float | None = None
    interconnect: Literal["nvlink", "pcie"]
    gpus_per_node: int
    compute_capability: str | None = None
    pci_device_ids: list[str] = field(default_factory=list)
    notes: str | None = None
    mig: MigSpec | None = None


@record(frozen=True, kw_only=True)
class GPUProfile(_Document):
    """A GPUProfile document."""

    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["GPUProfile"]
    metadata: ProfileMeta
    spec: GPUSpec


@record(frozen=True, kw_only=True)
class Experts(_Profile):
    """Mixture-of-experts shapes (HF `num_local_experts`/`n_routed_experts`, `num_experts_per_tok`,
    `moe_intermediate_size`, `n_shared_experts`, `first_k_dense_replace`); see profile_schema.Experts."""

    total: int
    active: int
    intermediate_size: int | None = None
    shared: int = 0
    shared_intermediate_size: int | None = None
    dense_layers: int = 0
    layer_step: int = 1
    bias: bool = False


@record(frozen=True, kw_only=True)
class MLA(_Profile):
    """Multi-head latent attention (DeepSeek V2/V3); see profile_schema.MLA."""

    kv_lora_rank: int
    qk_rope_head_dim: int
    q_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    v_head_dim: int | None = None


QuantMethod = Literal["fp8", "compressed-tensors", "awq", "gptq", "mxfp4", "bitsandbytes",
                      "fbgemm_fp8", "modelopt", "nvfp4", "gguf", "other"]


@record(frozen=True, kw_only=True)
class Quantization(_Profile):
    """How the checkpoint stores its weights (HF `quantization_config`, as vLLM detects it); see
    profile_schema.Quantization for what each field means."""

    method: QuantMethod
    weight_bits: int
    group_size: int | None = None
    activation_bits: int | None = None
    strategy: Literal["tensor", "channel", "group", "block"] | None = None
    block_size: list[int] | None = None
    symmetric: bool = True
    weight_type: Literal["int", "float"] = "int"
    ignore: list[str] = field(default_factory=list)
    format: str | None = None
    targets: Literal["linear", "experts"] = "linear"


LayerType = Literal["full_attention", "sliding_attention", "chunked_attention"]


@record(frozen=True, kw_only=True)
class ModelSpec(_Profile):
    """A model's shapes; see profile_schema.ModelSpec for what each field means."""

    ALIASES: ClassVar[Mapping[str, str]] = {
        "parameters_b": "parametersB", "active_parameters_b": "activeParametersB", "vision_parameters_b": "visionParametersB",
    }

    display_name: str
    hugging_face_ids: list[str]
    architecture: str
    parameters_b: float
    active_parameters_b: float | None = None
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    intermediate_size: int | None = None
    vocab_size: int
    max_context: int
    tie_embeddings: bool = False
    dtype: str = "bfloat16"
    experts: Experts | None = None
    sliding_window: int | None = None
    layer_types: list[LayerType] | None = None
    attention_chunk_size: int | None = None
    rope_table_positions: int | None = None
    mla: MLA | None = None
    quantization: Quantization | None = None
    qkv_bias: bool = False
    attention_output_bias: bool = False
    qk_norm: bool = False
    vision_parameters_b: float | None = None
    base_profile: str | None = None
    notes: str | None = None


@record(frozen=True, kw_only=True)
class ModelProfile(_Document):
    """A ModelProfile document."""

    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["ModelProfile"]
    metadata: ProfileMeta
    spec: ModelSpec


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


def _pydantic_version_file() -> str | None:
    """pydantic's `version.py` (its version and the pydantic-core it requires), found without importing
    pydantic: a cache hit must not pay for that import."""
    from importlib.util import find_spec

    spec = find_spec("pydantic")
    locations = spec.submodule_search_locations if spec is not None else None
    return str(Path(next(iter(locations)), "version.py")) if locations else None


def _cache_key(files: list[tuple[str, str]]) -> str | None:
    """The profile files' paths and texts, and what the built store's objects depend on besides:
    the code that validates and defines them (this module's source, `profile_schema.py`'s and
    `specs/base.py`'s, whose types and validators the fields use), llmkube's, pydantic's
    (`version.py`) and Python's versions. Changed code is a new key; no key (no caching) where the
    sources cannot be read (a frozen or zipped install). Imports neither pydantic nor the schema."""
    import hashlib
    import sys

    from llmkube import __version__

    here = Path(__file__)
    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0".encode())
    for source in (here, here.with_name("profile_schema.py"), here.parent / "specs" / "base.py", _pydantic_version_file()):
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


@record
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

        When the files are the built-in ones alone, as shipped, the store is built from their
        snapshot (`llmkube.profile_snapshot`: validated ahead of time; no pydantic). Otherwise, with
        `parsed_cache` (a directory), the loaded store is kept there, pickled, under a key of the
        files' paths and texts and of the code that defines the profile models (`_cache_key`), and
        the next run with the same files unpickles it (~1 ms) instead of parsing the YAML files,
        importing pydantic, building the GPUProfile and ModelProfile validators and validating every
        profile (~0.08 s). An edited, added or removed file, or changed code, is a new key; a bad
        entry is a miss, rewritten (llmkube.diskcache); an entry another user could have written is
        not unpickled (`diskcache.read_private_bytes`)."""
        from llmkube import profile_snapshot

        dirs = [Path(d) for d in extra_dirs] + [BUILTIN_PROFILES]
        require_profile_dirs(dirs)
        files = [(path, Path(path).read_text(encoding="utf-8")) for path in expand_paths([str(d) for d in dirs])]
        shipped = profile_snapshot.load(BUILTIN_PROFILES, files)
        if shipped is not None:
            return shipped
        key = _cache_key(files) if parsed_cache is not None else None
        if parsed_cache is not None and key is not None:
            cached = _cached_store(parsed_cache, key)
            if cached is not None:
                return cached
        store = cls.validated(files)
        if parsed_cache is not None and key is not None:
            _keep_store(parsed_cache, key, store)
        return store

    @classmethod
    def validated(cls, files: Sequence[tuple[str, str]]) -> ProfileStore:
        """The store of profile files (path, text), each document validated (pydantic, through
        `llmkube.profile_schema`); the first of a name wins, derivatives after their bases."""
        store = cls()
        for path, text in files:
            for data in load_plain(text, path, what="profile"):
                store._add(path, data)
        store._resolve_derivatives()
        return store

    @classmethod
    def of(cls, gpus: Iterable[GPUProfile], models: Iterable[ModelProfile]) -> ProfileStore:
        """A store of profiles already validated (`profile_snapshot`), in the order they were
        registered: the Hugging Face ids index as `validated` built it (the first model to list an id)."""
        store = cls()
        for gpu in gpus:
            store.gpus[gpu.name] = gpu
        for model in models:
            store.models[model.name] = model
            for hf_id in model.spec.hugging_face_ids:
                store._by_hf_id.setdefault(hf_id.lower(), model)
        return store

    def _add(self, path: str, data: Any) -> None:
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind not in ("GPUProfile", "ModelProfile"):
            raise InputError(
                f"not a profile: kind {kind!r}",
                mark=SourceMark(path),
                hint="profile files hold kind GPUProfile or ModelProfile",
            )
        spec = data.get("spec")
        if kind == "ModelProfile" and isinstance(spec, dict) and spec.get("baseProfile") is not None:
            self._derivatives.append((path, data))  # validated once its base is known
            return
        self._register(path, data, kind, data)

    def _register(self, path: str, data: Any, kind: str, original: Any) -> None:
        """Validate one profile document (`profile_schema`'s model of its kind: pydantic is imported
        only on this, a cache miss's, path) and keep its plain twin."""
        from pydantic import ValidationError

        from llmkube.profile_schema import PROFILE_KINDS, plain

        model_cls = PROFILE_KINDS[kind]
        try:
            profile: GPUProfile | ModelProfile = plain(model_cls.model_validate(data))
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
                self._register(path, {**data, "spec": spec}, "ModelProfile", data)
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

    def model_at_path(self, path: str) -> ModelProfile | None:
        """The built-in checkpoint a server's model path names, when the path is not a Hugging Face
        id llmkube knows and no config.json there can be read (a path inside the container): the
        Hugging Face cache's `models--org--name` directory, or the path's last two parts as
        `org/name` (`/models/meta-llama/Llama-3.1-8B-Instruct`), or its last part alone when exactly
        one known id has that name (`/mnt/Llama-3.1-8B-Instruct`, a bare `Llama-3.1-8B-Instruct`). Case-insensitive; a name that
        differs in any character (a quantized `...-AWQ` copy) matches nothing. ModelScope's cache writes a
        name's dots as `___` (`Qwen/Qwen2___5-7B-Instruct`: modelscope/hub/file_download.py
        `create_temporary_directory_and_cache`), read back as dots. A directory named `org` + `-`, `_`
        or `--` + `name` (`/mnt/model/mistralai-Pixtral-12B-2409`, vLLM's engine line in
        mostlygeek/llama-swap#35) is that `org/name`."""
        text = path.split("@", 1)[0].strip().rstrip("/").lower().replace("___", ".")
        if m := re.search(r"models--([^/]+)--([^/]+)", text):
            return self._by_hf_id.get(f"{m.group(1)}/{m.group(2)}")
        parts = [p for p in text.split("/") if p]
        if not parts:
            return None
        if len(parts) >= 2 and (found := self._by_hf_id.get("/".join(parts[-2:]))) is not None:
            return found
        named = {id(m): m for key, m in self._by_hf_id.items() if key.rsplit("/", 1)[-1] == parts[-1]}
        if not named:  # org and name in one directory name
            named = {id(m): m for key, m in self._by_hf_id.items()
                     if any(parts[-1] == key.replace("/", sep, 1) for sep in ("-", "_", "--", "__"))}
        return next(iter(named.values())) if len(named) == 1 else None

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
