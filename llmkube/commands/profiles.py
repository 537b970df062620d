"""`llmkube profiles import|list|show`: write a ModelProfile from a config.json, browse profiles."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmkube.errors import InputError
from llmkube.options import Options
from llmkube.profiles import GPUProfile, ModelProfile, ProfileStore

#: A Hugging Face repo id, as the Hub spells them: ORG/NAME of letters, digits, '.', '_' and '-'.
HF_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


def profile_document(profile: ModelProfile | GPUProfile) -> dict[str, Any]:
    """A profile as the YAML document a profile file holds (camelCase keys, unset keys left out)."""
    return profile.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False)


def _compact(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is the field default that says nothing (empty lists, false flags)."""
    spec = doc["spec"]
    if "layerTypes" in spec:
        from llmkube.profiles import ModelSpec, layer_types_of

        bare = ModelSpec.model_validate({k: v for k, v in spec.items() if k != "layerTypes"})
        if layer_types_of(bare) == spec["layerTypes"]:
            spec.pop("layerTypes")  # the architecture's own pattern: derived on load
    for key in ("qkvBias", "attentionOutputBias", "qkNorm"):
        if spec.get(key) is False:
            spec.pop(key)
    q = spec.get("quantization")
    if isinstance(q, dict):
        q_defaults: tuple[tuple[str, object], ...] = (("ignore", []), ("targets", "linear"), ("symmetric", True))
        for key, default in q_defaults:
            if q.get(key) == default:
                q.pop(key)
    e = spec.get("experts")
    if isinstance(e, dict):
        e_defaults: tuple[tuple[str, object], ...] = (("shared", 0), ("denseLayers", 0), ("layerStep", 1), ("bias", False))
        for key, default in e_defaults:
            if e.get(key) == default:
                e.pop(key)
    return doc


def run_import(
    source: str, *, name: str | None, output: Path | None, output_dir: Path | None, hf_ids: Sequence[str] = ()
) -> int:
    """Write the ModelProfile of a local config.json / model directory, or of a Hugging Face id
    (fetched through huggingface_hub). `hf_ids`: the checkpoint's Hugging Face ids, by which a
    spec's `model` finds the profile (a local file otherwise gets only `local/<name>`)."""
    from llmkube.modelconfig import import_hub_profile, import_profile, is_hub_id
    from llmkube.profiles import looks_like_config_path
    from llmkube.yamlio import dump_yaml

    if output is not None and output_dir is not None:
        raise InputError("give either --output or --output-dir, not both")
    for hf_id in hf_ids:
        if not HF_ID.fullmatch(hf_id):
            raise InputError(f"--hf-id {hf_id!r} is not a Hugging Face id", hint="an id is ORG/NAME, e.g. my-org/my-llama-8b")
    ids = list(dict.fromkeys(hf_ids))
    caveats: list[str] = []
    if looks_like_config_path(source) or Path(source).exists():
        profile = import_profile(source, name, caveats, ids)
    elif is_hub_id(source):
        profile = import_hub_profile(source, name, caveats, ids)
    else:
        raise InputError(f"{source!r} is neither a config.json file, a model directory nor a Hugging Face id",
                         hint="e.g. llmkube profiles import ./Qwen3-8B/config.json, or Qwen/Qwen3-8B (online)")
    for caveat in caveats:  # what the profile leaves out: said on stderr too, not only in its notes
        sys.stderr.write(f"warning: {profile.name}: {caveat}\n")
    text = dump_yaml(_compact(profile_document(profile)))
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        output = output_dir / f"{profile.name}.yaml"
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    sys.stdout.write(f"wrote ModelProfile {profile.name} to {output}\n")
    return 0


def _model_row(p: ModelProfile) -> dict[str, Any]:
    s = p.spec
    q = s.quantization
    return {
        "name": p.name, "kind": "ModelProfile", "architecture": s.architecture, "parametersB": s.parameters_b,
        "activeParametersB": s.active_parameters_b, "layers": s.layers, "maxContext": s.max_context,
        "quantization": q.method if q else None, "baseProfile": s.base_profile,
        "huggingFaceIds": list(s.hugging_face_ids),
    }


def _gpu_row(p: GPUProfile) -> dict[str, Any]:
    s = p.spec
    return {"name": p.name, "kind": "GPUProfile", "product": s.product, "memoryGiB": s.memory_gi_b,
            "interconnect": s.interconnect, "mig": bool(s.mig)}


def run_list(options: Options, *, report: str) -> int:
    store = ProfileStore.load(options.profile_dirs)
    models = [_model_row(p) for _, p in sorted(store.models.items())]
    gpus = [_gpu_row(p) for _, p in sorted(store.gpus.items())]
    if report == "json":
        sys.stdout.write(json.dumps({"gpus": gpus, "models": models}, indent=2) + "\n")
        return 0
    sys.stdout.write(_table(["GPU", "PRODUCT LABEL", "MEMORY GiB", "LINK", "MIG"],
                            [[g["name"], g["product"], f"{g['memoryGiB']:.2f}", g["interconnect"], "yes" if g["mig"] else "-"]
                             for g in gpus]))
    sys.stdout.write("\n")
    sys.stdout.write(_table(["MODEL", "ARCH", "PARAMS B", "LAYERS", "CONTEXT", "QUANT", "BASE"],
                            [[m["name"], m["architecture"], _params(m), str(m["layers"]), str(m["maxContext"]),
                              m["quantization"] or "-", m["baseProfile"] or "-"] for m in models]))
    return 0


def _params(m: dict[str, Any]) -> str:
    total = f"{m['parametersB']:g}"
    return f"{total}/{m['activeParametersB']:g}" if m["activeParametersB"] else total


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in [header, *rows])


def run_show(name: str, options: Options, *, report: str) -> int:
    """One profile (model by name, Hugging Face id or config.json path; or a GPU) with what its
    shapes give: parameters per module group and the checkpoint's bytes."""
    from llmkube.modelshape import checkpoint_weight_bytes, parameter_counts
    from llmkube.profiles import layer_types_of
    from llmkube.yamlio import dump_yaml

    store = ProfileStore.load(options.profile_dirs)
    gpu = store.gpu(name)
    if gpu is not None:
        doc = profile_document(gpu)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n" if report == "json" else dump_yaml(doc))
        return 0
    model = store.model(name)
    if model is None:
        raise InputError(f"unknown profile {name!r}", hint=store.suggest_model(name))
    counts = parameter_counts(model.spec)
    ckpt = checkpoint_weight_bytes(model.spec)
    derived = {
        "parameters": {"total": counts.total, "active": counts.active, "embedding": counts.embedding,
                       "lmHead": counts.lm_head, "attention": counts.attention, "denseMlp": counts.dense_mlp,
                       "experts": counts.experts, "sharedExperts": counts.shared_experts, "router": counts.router,
                       "norms": counts.norms, "vision": counts.vision},
        "checkpointBytes": round(ckpt),
        "layerTypes": sorted(set(layer_types_of(model.spec))),
    }
    doc = _compact(profile_document(model))
    if report == "json":
        sys.stdout.write(json.dumps({**doc, "derived": derived}, indent=2) + "\n")
        return 0
    sys.stdout.write(dump_yaml(doc))
    sys.stdout.write(f"# parameters from shapes: {counts.total / 1e9:.3f} B"
                     + (f" ({counts.active / 1e9:.3f} B active)" if model.spec.experts else "")
                     + f"; checkpoint {ckpt / 2**30:.2f} GiB\n")
    return 0
