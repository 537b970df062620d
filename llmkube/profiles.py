"""GPU and model profiles: the facts that sizing and rendering stand on.

Built-in profiles live in the top-level `profiles/` directory; users add or
override them with `--profiles DIR` (searched first). A model is found by
profile name or by any Hugging Face id it lists.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from llmkube.errors import InputError, SourceMark
from llmkube.specs.base import DNSSubdomain, PositiveInt, SpecModel
from llmkube.fastyaml import load_plain
from llmkube.resources import builtin_profiles
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
    pci_device_ids: list[str] = Field(default_factory=list)
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
    total: PositiveInt
    active: PositiveInt


class MLA(SpecModel):
    kv_lora_rank: PositiveInt
    qk_rope_head_dim: PositiveInt


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
    mla: MLA | None = None
    notes: str | None = None


class ModelProfile(SpecModel):
    api_version: Literal["llmkube.dev/v1alpha1"]
    kind: Literal["ModelProfile"]
    metadata: ProfileMeta
    spec: ModelSpec

    @property
    def name(self) -> str:
        return self.metadata.name


_PROFILE_KINDS: dict[str, type[GPUProfile] | type[ModelProfile]] = {"GPUProfile": GPUProfile, "ModelProfile": ModelProfile}


@dataclass
class ProfileStore:
    """All profiles found on the search path, by name (and models by HF id)."""

    gpus: dict[str, GPUProfile] = field(default_factory=dict)
    models: dict[str, ModelProfile] = field(default_factory=dict)
    _by_hf_id: dict[str, ModelProfile] = field(default_factory=dict)

    @classmethod
    def load(cls, extra_dirs: Sequence[str | Path] = ()) -> ProfileStore:
        """User dirs first (they override), then the built-ins."""
        store = cls()
        dirs = [Path(d) for d in extra_dirs] + [BUILTIN_PROFILES]
        for d in dirs:
            if not d.is_dir():
                raise InputError(
                    "profile directory not found", mark=SourceMark(str(d)),
                    hint="--profiles takes a directory of GPUProfile/ModelProfile YAML files",
                )
        for path in expand_paths([str(d) for d in dirs]):
            for data in load_plain(Path(path).read_text(encoding="utf-8"), path, what="profile"):
                store._add(path, data)
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
        try:
            profile = model_cls.model_validate(data)
        except ValidationError:
            # Re-read with line marks only now, to point at the bad line.
            from llmkube.specs.parse import validate_document
            from llmkube.yamlio import parse_documents

            name = (data.get("metadata") or {}).get("name")
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

    def gpu(self, name: str) -> GPUProfile | None:
        return self.gpus.get(name)

    def model(self, name_or_id: str) -> ModelProfile | None:
        """By profile name, or by Hugging Face id (case-insensitive, revision ignored)."""
        if name_or_id in self.models:
            return self.models[name_or_id]
        key = name_or_id.split("@", 1)[0].strip().rstrip("/").lower()
        return self._by_hf_id.get(key)

    def suggest_gpu(self, name: str) -> str:
        return _suggest(name, self.gpus)

    def suggest_model(self, name: str) -> str:
        return _suggest(name, list(self.models) + [m for p in self.models.values() for m in p.spec.hugging_face_ids])


def _suggest(name: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]!r}? (add your own with --profiles DIR)"
    return "known: " + ", ".join(choices[:20]) + " (add your own with --profiles DIR)"
