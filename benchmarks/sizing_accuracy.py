"""How well llmkube's vLLM serving model predicts real vLLM start-ups it was not fitted to.

Reads benchmarks/data/vllm_startups.csv (real start-up observations from public logs; columns and
sources in benchmarks/data/README.md), sizes every row with `llmkube.plan.sizing.serving_fit`
under the settings the log shows, and prints the mean absolute percentage error per metric for
the `fit` rows and the `heldout` rows apart, per GPU and per vLLM version family, the share of
rows llmkube can size without a hand-written profile, and the worst held-out rows.

A measurement, not a test: it exits 0 whatever the errors are (non-zero only if it crashes).
With `--logs LOG|DIR...` it sizes vLLM start-up logs directly instead of the table: each log (a
folder is read every level down; `.gz` and `.ipynb` too) is read by benchmarks/vllm_log.py into the
table's columns (the settings the log shows, the figures it prints) and reported the same way, with
what was read in the JSON's `read`. Every log row counts as `heldout` (nothing was fitted to it).
The GPU is the one the log names, or `--gpu NAME` (a llmkube GPU profile) for every log, or
`--gpu 'GLOB=NAME'` for the logs whose path matches; a log that names none is sized on the CUDA
total it prints. The model is the one the log names (a local path is matched to a profile by its
directory name, `/models/Qwen3-8B` -> `Qwen/Qwen3-8B`, or imported from its config.json when the
directory exists here), or `--model [GLOB=]HF_ID|CONFIG.json|MODEL_DIR`. A file that cannot be
read is reported and the exit status is 1; no start-up at all, a missing path or a bad `--gpu` /
`--model` is status 2.

Run from the repository root:

    .venv/bin/python benchmarks/sizing_accuracy.py [--data CSV] [--json] [--worst N]
    .venv/bin/python benchmarks/sizing_accuracy.py --logs LOG|DIR... [--gpu [GLOB=]NAME]... [--model [GLOB=]MODEL]... [--json]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import fnmatch
import hashlib
import importlib
import inspect
import json
import math
import re
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import vllm_log  # noqa: E402
from llmkube.plan import sizing  # noqa: E402
from llmkube.profiles import ModelProfile, ProfileStore  # noqa: E402

DATA = REPO / "benchmarks" / "data" / "vllm_startups.csv"
HF_CONFIGS = REPO / "tests" / "data" / "hf-configs"

COLUMNS = (
    "id", "split", "source", "source_group", "vllm_version", "gpu", "gpu_total_gib", "model", "tp", "pp",
    "dtype", "quantization", "quantization_flag", "kv_cache_dtype", "max_model_len", "max_num_seqs",
    "max_num_batched_tokens", "gpu_memory_utilization", "enforce_eager", "block_size", "topk_topp_sampler",
    "tp_spans_nodes", "mxfp4_backend", "expert_parallel", "install", "engine", "weights_gib", "non_torch_gib", "activation_gib", "cuda_graph_gib", "kv_cache_gib", "kv_tokens", "gpu_blocks",
    "max_concurrency", "defaults", "notes",
)
NUMERIC = ("gpu_total_gib", "tp", "pp", "max_model_len", "max_num_seqs", "max_num_batched_tokens",
           "gpu_memory_utilization", "block_size", "weights_gib", "non_torch_gib", "activation_gib",
           "cuda_graph_gib", "kv_cache_gib", "kv_tokens", "gpu_blocks", "max_concurrency")
SPLITS = ("fit", "heldout")

# Observed column -> how to read the prediction off a ServingFit. getattr keeps the script
# working while the engine's ServingFit gains or renames fields (a missing one is "not predicted").
METRICS: dict[str, Callable[[Any], float | None]] = {
    "weights_gib": lambda f: getattr(f, "weights_gib", None),
    "kv_cache_gib": lambda f: getattr(f, "kv_budget_gib", None),
    "kv_tokens": lambda f: getattr(f, "kv_tokens", None),
    "max_concurrency": lambda f: getattr(f, "max_concurrency", None),
    "activation_gib": lambda f: getattr(f, "activation_gib", None),
    "non_torch_gib": lambda f: getattr(f, "non_torch_gib", None),
    "cuda_graph_gib": lambda f: getattr(f, "cuda_graph_gib", None),
}
HEADLINE = ("weights_gib", "kv_cache_gib", "max_concurrency")
DEFAULT_UTILIZATION = 0.90  # vLLM's --gpu-memory-utilization default before 0.21.0 (`default_utilization`), and for a row without a version


def split_for(source_group: str, source: str) -> str:
    """The split rule (README): llm-d-planner rows are `fit` (today's constants were fitted to
    them); any other row goes by a stable hash of its thread (the source without its #fragment),
    so every row of one thread lands on the same side."""
    if source_group == "llm-d-planner":
        return "fit"
    thread = source.split("#", 1)[0]
    return "fit" if hashlib.sha256(thread.encode()).digest()[0] % 2 == 0 else "heldout"


def load_rows(path: Path = DATA) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def num(row: dict[str, str], key: str) -> float | None:
    value = (row.get(key) or "").strip()
    return float(value) if value else None


def version_tuple(text: str) -> tuple[int, ...] | None:
    """(0, 26, 1) for "0.26.1rc1.dev156+g…": each part's leading digits (not every digit of "1rc1")."""
    parts = []
    for piece in text.split(".")[:3]:
        m = re.match(r"\d+", piece)
        if m is None:
            break
        parts.append(int(m.group()))
    return tuple(parts) or None


def default_utilization(row: dict[str, str]) -> float:
    """vLLM's --gpu-memory-utilization for a row that leaves it empty: what `plan` assumes for the
    same version (`engines.vllm_default_utilization`: 0.92 from 0.21.0, 0.90 before)."""
    version = version_tuple(row.get("vllm_version") or "")
    if version is None:
        return DEFAULT_UTILIZATION
    from llmkube import engines

    return engines.vllm_default_utilization(version)


def version_family(text: str) -> str:
    v = version_tuple(text)
    return f"{v[0]}.{v[1]}" if v and len(v) >= 2 else "unknown"


# ----------------------------------------------------------------------------- model profiles

# The config.json a user would import for a row's checkpoint, among the copies in
# tests/data/hf-configs (README there cites each). Only the same checkpoint family: a base
# model's config stands for its -Instruct sibling (same shapes), never a quantized re-upload,
# whose own config carries a quantization_config.
CONFIGS = {
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b.json",
    "Qwen/Qwen2.5-7B-Instruct": "qwen2.5-7b.json",
    "Qwen/Qwen3-8B": "qwen3-8b.json",
    "Qwen/Qwen3-32B": "qwen3-32b.json",
    "Qwen/Qwen3-30B-A3B": "qwen3-30b-a3b.json",
    "google/gemma-3-4b-it": "gemma-3-4b-it.json",
    "google/gemma-3-12b-it": "gemma-3-12b-it.json",
    "google/gemma-3-27b-it": "gemma-3-27b-it.json",
    "openai/gpt-oss-20b": "gpt-oss-20b.json",
    "microsoft/phi-4": "phi-4.json",
    "ibm-granite/granite-3.1-8b-instruct": "granite-3.x-8b-instruct.json",
    "ibm-granite/granite-3.3-8b-instruct": "granite-3.x-8b-instruct.json",
    "deepseek-ai/DeepSeek-V2-Lite-Chat": "deepseek-v2-lite-chat.json",
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": "llama-4-scout-17b-16e.json",
    # no built-in profile: sized only from the config.json, as a user would (`llmkube profiles import`)
    "microsoft/phi-2": "phi-2.json",
    "Qwen/Qwen2.5-0.5B": "qwen2.5-0.5b.json",
    "Qwen/Qwen2.5-1.5B-Instruct": "qwen2.5-1.5b-instruct.json",
    "Qwen/Qwen2.5-Math-1.5B": "qwen2.5-math-1.5b.json",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": "deepseek-r1-distill-qwen-1.5b.json",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": "deepseek-r1-distill-qwen-7b.json",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": "deepseek-r1-distill-qwen-32b.json",
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": "deepseek-r1-distill-llama-8b.json",
    "casperhansen/deepseek-r1-distill-llama-8b-awq": "deepseek-r1-distill-llama-8b-awq.json",
    "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4": "llama-3.1-70b-instruct-awq-int4.json",
    "Qwen/Qwen2.5-14B-Instruct-AWQ": "qwen2.5-14b-instruct-awq.json",
    "Qwen/Qwen2.5-VL-7B-Instruct": "qwen2.5-vl-7b-instruct.json",
    "Qwen/Qwen2.5-VL-3B-Instruct": "qwen2.5-vl-3b-instruct.json",
}


def config_path(hf_id: str) -> Path | None:
    name = CONFIGS.get(hf_id)
    path = HF_CONFIGS / name if name else None
    return path if path is not None and path.is_file() else None


def from_config(hf_id: str) -> tuple[ModelProfile | None, str]:
    """A profile llmkube builds itself from the checkpoint's config.json, when both exist
    (llmkube.modelconfig, the `llmkube profiles import` code path)."""
    path = config_path(hf_id)
    if path is None:
        return None, "no config.json"
    try:
        modelconfig = importlib.import_module("llmkube.modelconfig")
    except ImportError:
        return None, "llmkube.modelconfig missing"
    importer = getattr(modelconfig, "import_profile", None)
    if not callable(importer):
        return None, "llmkube.modelconfig has no import_profile"
    try:
        made = importer(str(path))
    except Exception as exc:  # an import llmkube refuses is a finding about llmkube, recorded per row
        return None, f"import failed: {type(exc).__name__}: {exc}"
    return (made, "config") if isinstance(made, ModelProfile) else (None, "import gave no profile")


def find_model(store: ProfileStore, hf_id: str, config: str = "") -> tuple[ModelProfile | None, str]:
    """(profile, how): one imported from a local config.json or model directory when `config`
    names one (`--model PATH`, or the log's own model path when it exists here), else a built-in
    profile by HF id, else one imported from a config.json copy."""
    if config:
        try:
            return importlib.import_module("llmkube.modelconfig").import_profile(config), "config"
        except Exception as exc:  # a config llmkube refuses is a finding, recorded per row
            return None, f"none (import of {config} failed: {type(exc).__name__}: {exc})"
    profile = store.model(hf_id)
    if profile is not None:
        return profile, "builtin"
    # a path on the machine that ran the log (`/models/org/name`, `/mnt/Name`): the checkpoint its
    # last parts name, as `validate` reads a server's model path (ProfileStore.model_at_path)
    at_path = getattr(store, "model_at_path", None)
    if at_path is not None and (profile := at_path(hf_id)) is not None:
        return profile, "builtin"
    made, how = from_config(hf_id)
    return made, (how if made is not None else f"none (no built-in profile; {how})")


# ----------------------------------------------------------------------------- one row

# How vLLM was installed, for a row whose log and source show neither the install nor the sampler
# (docs/sizing.md, "The install when nothing says"). It matters from 0.8.0 (V1's sampler: FlashInfer
# in the vllm-openai image, the sort for the PyPI wheel, to 0.11.0) to 0.11.x (the MXFP4 kernel on
# Hopper: the wheel has no triton_kernels before 0.12). Decided from the fit rows only, before any
# held-out row was measured with it: of the 19 fit rows of 0.8.0 - 0.11.0 on V1 whose source shows
# the install or whose log names the sampler, 13 ran without FlashInfer (a pip/uv/conda install, or
# the sort named) and 6 with it (the vllm-openai image, or FlashInfer's sampler named), so a row that
# shows nothing is sized as the majority: a pip install. The benchmark's assumption only; llmkube
# itself sizes a server as the image it renders (`ServerConfig.pip_install` False) unless a
# container's script pip-installs vLLM.
INSTALL_PRIOR = "pip"
INSTALL_PRIOR_SINCE = (0, 8, 0)
INSTALL_PRIOR_BEFORE = (0, 12, 0)


def install_for(row: dict[str, str]) -> tuple[str, bool]:
    """(install, assumed): the row's `install` as its source shows it (`pip`, `image`), else
    `INSTALL_PRIOR` with assumed True for a V1 row of 0.8.0 - 0.11.x whose log names no sampler
    either (a named sampler already settles the default the install would decide); else ""."""
    install = (row.get("install") or "").strip().lower()
    if install:
        return install, False
    version = version_tuple(row.get("vllm_version") or "")
    if (version is None or not INSTALL_PRIOR_SINCE <= version < INSTALL_PRIOR_BEFORE
            or (row.get("topk_topp_sampler") or "").strip() or (row.get("engine") or "").lower() == "v0"):
        return "", False
    return INSTALL_PRIOR, True


def server_config(row: dict[str, str]) -> Any:
    """The row's settings as a ServerConfig; fields the current ServerConfig lacks are skipped."""
    wanted: dict[str, Any] = {
        "tensor_parallel": int(num(row, "tp") or 1),
        "pipeline_parallel": int(num(row, "pp") or 1),
        "utilization": num(row, "gpu_memory_utilization") or default_utilization(row),
        "max_model_len": int(v) if (v := num(row, "max_model_len")) else None,
        "max_num_seqs": int(v) if (v := num(row, "max_num_seqs")) else None,
        "max_num_batched_tokens": int(v) if (v := num(row, "max_num_batched_tokens")) else None,
        "dtype": row.get("dtype") or None,
        # Only an explicit --quantization flag: a checkpoint's own quantization_config is the
        # profile's business (issue 11: a user never has to say a checkpoint is quantized).
        "quantization": row.get("quantization_flag") or None,
        "kv_cache_dtype": row.get("kv_cache_dtype") or None,
        "enforce_eager": (row.get("enforce_eager") or "").lower() == "true",
        "block_size": int(v) if (v := num(row, "block_size")) else None,
        # the sampler the log names: FlashInfer's ("Using FlashInfer for top-p & top-k sampling") or torch's
        "flashinfer_sampler": {"flashinfer": True, "torch": False}.get((row.get("topk_topp_sampler") or "").lower()),
        # the log's "Custom allreduce is disabled because this process group spans across nodes"
        "tp_spans_nodes": (row.get("tp_spans_nodes") or "").lower() == "true",
        # the MXFP4 MoE kernel the log names ("Using Marlin backend"): a pip install without triton_kernels
        "mxfp4_backend": (row.get("mxfp4_backend") or "").lower() or None,
        # the log's non-default args show 'enable_expert_parallel': True (whole experts per rank)
        "expert_parallel": (row.get("expert_parallel") or "").lower() == "true",
        # vLLM from its PyPI wheel rather than the vllm-openai image: no FlashInfer up to 0.11.0 (the
        # sampler sorts) and no triton_kernels before 0.12 (`em.flashinfer_sampler_by_default`,
        # `em.mxfp4_moe_backend`); `image` or empty: the image. `evaluate_row` fills an empty cell
        # with the benchmark's prior first (`install_for`)
        "pip_install": (row.get("install") or "").strip().lower() == "pip",
        # the log shows vLLM 0.8 - 0.10 on the V0 engine ("Initializing a V0 LLM engine", "Falling back to V0")
        "use_v1": False if (row.get("engine") or "").lower() == "v0" else None,
        "engine_version": version_tuple(row.get("vllm_version") or ""),
        "runtime": "vllm",
    }
    fields = {f.name for f in dataclasses.fields(sizing.ServerConfig)}
    return sizing.ServerConfig(**{k: v for k, v in wanted.items() if k in fields and v is not None})


def gpu_name(store: ProfileStore, row: dict[str, str]) -> str:
    """The device name the engine sees (vLLM picks some defaults by it): the GPU profile's
    display name, else the row's own GPU label."""
    gpu = store.gpu(row.get("gpu") or "")
    return gpu.spec.display_name if gpu is not None else (row.get("gpu") or "")


def fit_row(profile: ModelProfile, memory: float, config: Any, name: str) -> Any:
    """serving_fit, passing the device name when this llmkube's serving_fit takes one."""
    fit: Any = sizing.serving_fit  # its keyword arguments differ between llmkube versions
    if "gpu_name" in inspect.signature(fit).parameters:
        return fit(profile, memory, config, gpu_name=name)
    return fit(profile, memory, config)


def gpu_memory(store: ProfileStore, row: dict[str, str]) -> tuple[float | None, str]:
    """The GPU memory llmkube would use: its GPU profile's, else the CUDA total the log shows."""
    gpu = store.gpu(row.get("gpu") or "")
    total = num(row, "gpu_total_gib")
    if gpu is not None and total and row.get("gpu_from_total"):
        return total, "log"  # the card was recognised by this very total
    if gpu is not None:
        return gpu.spec.memory_gi_b, "profile"
    return (total, "log") if total else (None, "none")


def evaluate_row(store: ProfileStore, row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"], "split": row["split"], "gpu": row["gpu"], "model": row["model"],
        "vllm_version": row["vllm_version"], "family": version_family(row["vllm_version"]),
        "tp": row["tp"], "pp": row["pp"], "source": row["source"], "errors": {},
        "observed": {}, "predicted": {},
    }
    if row.get("source_group") == "log":  # what was read off the log, to check against its lines
        out["read"] = {k: row[k] for k in (*COLUMNS[4:], "served_model_name", "tokenizer", "architecture", "device_name")
                       if row.get(k) and k not in ("defaults", "notes")}
        out["defaults"], out["notes"] = row.get("defaults", ""), row.get("notes", "")
    if row.get("platform") not in (None, "", "cuda"):  # a log's "Automatically detected platform rocm."
        out["sizable"] = False
        out["profile"] = f"not sized: platform {row['platform']} (llmkube sizes vLLM on NVIDIA GPUs)"
        return out
    if not row["model"] and not row.get("model_config"):
        out["sizable"], out["profile"] = False, "none (the log names no model: pass --model [GLOB=]HF_ID|CONFIG.json|MODEL_DIR)"
        return out
    profile, how = find_model(store, row["model"], row.get("model_config", ""))
    out["profile"] = how
    out["sizable"] = profile is not None
    if profile is None:
        if row.get("source_group") == "log" and how.startswith("none (no built-in"):
            out["profile"] = model_needs(row)
        return out
    memory, memory_from = gpu_memory(store, row)
    out["gpu_memory_from"] = memory_from
    if memory is None and row.get("source_group") == "log":
        out["needs"] = gpu_needs(row)
    install, assumed = install_for(row)
    out["install"] = install
    out["install_assumed"] = assumed  # the benchmark's prior, not the log (`INSTALL_PRIOR`)
    try:
        fit = fit_row(profile, memory or 0.0, server_config({**row, "install": install}), gpu_name(store, row))
    except Exception as exc:  # a row llmkube cannot size is a finding, not a crash of the measurement
        out["sizable"] = False
        out["profile"] = f"error: {type(exc).__name__}: {exc}"
        return out
    for metric, read in METRICS.items():
        observed = num(row, metric)
        if observed is None:
            continue
        if memory is None and metric not in ("weights_gib", "activation_gib", "non_torch_gib"):
            continue  # memory-dependent figures need the GPU's memory
        predicted = read(fit)
        if predicted is None:
            continue
        predicted = float(predicted)
        out["observed"][metric] = observed
        out["predicted"][metric] = predicted
        if observed != 0:
            out["errors"][metric] = abs(predicted - observed) / abs(observed) * 100
    return out


# ----------------------------------------------------------------------------- summaries

def mape(results: Iterable[dict[str, Any]], metric: str) -> tuple[float | None, int]:
    errs = [r["errors"][metric] for r in results if metric in r["errors"]]
    return (statistics.fmean(errs) if errs else None), len(errs)


def summarise(results: list[dict[str, Any]], rows: list[dict[str, str]]) -> dict[str, Any]:
    by_split: dict[str, Any] = {}
    for split in SPLITS:
        chosen = [r for r in results if r["split"] == split]
        by_split[split] = {
            "rows": len(chosen),
            "sizable": sum(r["sizable"] for r in chosen),
            "by_profile": {how: sum(r["profile"] == how for r in chosen) for how in ("builtin", "config")},
            "mape": {m: dict(zip(("mape", "n"), mape(chosen, m), strict=True)) for m in METRICS},
        }
    groups: dict[str, dict[str, Any]] = {}
    for key in ("gpu", "family"):
        table: dict[str, Any] = {}
        for value in sorted({r[key] for r in results}):
            table[value] = {}
            for split in SPLITS:
                chosen = [r for r in results if r[key] == value and r["split"] == split]
                if chosen:
                    table[value][split] = {"rows": len(chosen), "sizable": sum(r["sizable"] for r in chosen),
                                           **{m: mape(chosen, m)[0] for m in HEADLINE}}
        groups[key] = table
    heldout = [r for r in results if r["split"] == "heldout" and r["errors"]]
    worst = sorted(heldout, key=lambda r: -max(r["errors"].get(m, 0.0) for m in HEADLINE))
    unsized = [{"id": r["id"], "model": r["model"], "why": r["profile"]} for r in results if not r["sizable"]]
    assumed = [r["id"] for r in results if r.get("install_assumed")]
    n = len(results)
    return {
        "rows": n,
        "by_split": by_split,
        # Issue 11: sizable "without a hand-written profile" = without the user writing one: a
        # built-in profile or one llmkube imports from the model's config.json.
        "sizable_share": sum(r["sizable"] for r in results) / n if n else 0.0,
        "sizable_by_profile": {how: sum(r["profile"] == how for r in results) for how in ("builtin", "config")},
        "by_gpu": groups["gpu"],
        "by_version_family": groups["family"],
        "worst_heldout": worst,
        "not_sizable": unsized,
        # rows sized with the install the benchmark assumes (`INSTALL_PRIOR`), not one their log shows
        "install_assumed": {"install": INSTALL_PRIOR, "rows": assumed},
        "sources": sorted({row["source"].split("#", 1)[0] for row in rows}),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:6.1f}%"


def render(summary: dict[str, Any], worst_n: int) -> str:
    how = summary["sizable_by_profile"]
    lines = [f"{summary['rows']} start-ups; sizable without a hand-written profile: {summary['sizable_share']:.0%} "
             f"({how['builtin']} by a built-in profile, {how['config']} from a config.json)", ""]
    lines.append(f"{'metric':<18}" + "".join(f"{s + ' MAPE':>16}{'n':>5}" for s in SPLITS))
    for metric in METRICS:
        cells = ""
        for split in SPLITS:
            m = summary["by_split"][split]["mape"][metric]
            cells += f"{_pct(m['mape']):>16}{m['n']:>5}"
        lines.append(f"{metric:<18}{cells}")
    for split in SPLITS:
        s = summary["by_split"][split]
        lines.append(f"{split}: {s['rows']} rows, {s['sizable']} sizable "
                     f"({s['by_profile']['builtin']} built-in, {s['by_profile']['config']} from config.json)")
    for title, key in (("GPU", "by_gpu"), ("vLLM", "by_version_family")):
        lines += ["", f"{title:<16}{'split':<9}{'rows':>5}{'sized':>6}" + "".join(f"{m:>17}" for m in HEADLINE)]
        for value, per in summary[key].items():
            for split, g in per.items():
                lines.append(f"{value:<16}{split:<9}{g['rows']:>5}{g['sizable']:>6}"
                             + "".join(f"{_pct(g[m]):>17}" for m in HEADLINE))
    lines += ["", f"worst held-out rows (of {len(summary['worst_heldout'])} with errors):"]
    for r in summary["worst_heldout"][:worst_n]:
        errs = ", ".join(f"{m} {r['errors'][m]:.1f}% ({r['predicted'][m]:g} vs {r['observed'][m]:g})"
                         for m in HEADLINE if m in r["errors"])
        mark = f", install {r['install']} (assumed)" if r.get("install_assumed") else ""
        lines.append(f"  {r['id']} [{r['gpu']}, vLLM {r['vllm_version']}, TP {r['tp']}{mark}]: {errs}")
    prior = summary["install_assumed"]
    lines += ["", f"install assumed {prior['install']} (the log shows neither install nor sampler; V1, vLLM "
              f"0.8.0 - 0.11.x): {len(prior['rows'])} rows" + (":" if prior["rows"] else "")]
    lines += [f"  {i}" for i in prior["rows"]]
    lines += ["", f"not sizable: {len(summary['not_sizable'])} rows"]
    if "skipped_files" not in summary:  # the table
        models = sorted({u["model"] for u in summary["not_sizable"]})
        lines.append("  " + ", ".join(models))
        return "\n".join(lines)
    for u in summary["not_sizable"]:  # logs: which log, which model, why
        lines.append(f"  {u['id']}: model {repr(u['model']) if u['model'] else '(not in the log)'}: {u['why']}")
    for path, why in summary["skipped_files"].items():
        lines.append(f"  {path}: {why}")
    no_gpu = [r for r in summary.get("results", []) if r.get("needs")]
    if no_gpu:
        lines += ["", f"sized without the GPU's memory: {len(no_gpu)} logs (KV cache, KV tokens and concurrency "
                  "need it: pass --gpu [GLOB=]NAME, a llmkube GPU profile)"]
        lines += [f"  {r['id']}: {r['needs']}" for r in no_gpu]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- rows from logs

def known_model(store: ProfileStore, model: str) -> str:
    """The Hugging Face id a log's model names: as printed when llmkube knows it, else the one
    known id (a profile's or a config.json copy's) whose name is the path's last directory
    (`/models/Qwen3-8B/` → `Qwen/Qwen3-8B`); unchanged when none or several match."""
    if not model or store.model(model) is not None or model in CONFIGS:
        return model
    base = model.rstrip("/").rsplit("/", 1)[-1].lower().replace("___", ".")  # ModelScope's cache: dots as ___
    ids = {hf for p in store.models.values() for hf in p.spec.hugging_face_ids} | set(CONFIGS)
    found = sorted({hf for hf in ids if hf.rsplit("/", 1)[-1].lower() == base})
    return found[0] if len(found) == 1 else model


def resolved_model(store: ProfileStore, name: str) -> str:
    """The name as `find_model` will find it (a built-in profile, a checkpoint a model path names, or a
    config.json copy), or '' when llmkube knows no such checkpoint."""
    if not name.strip():
        return ""
    name = known_model(store, name.strip())
    at_path = getattr(store, "model_at_path", None)
    if store.model(name) is not None or config_path(name) is not None or (at_path is not None and at_path(name)):
        return name
    return ""


# What a log offers for its checkpoint, in the order tried (vllm_log.parse_startup reads them): the
# model it loads, then the name it serves it under (`--served-model-name`, often the Hub id when the
# model is a local copy) and its tokenizer (`--tokenizer`, a Hub id beside a local checkpoint).
MODEL_SOURCES = (("model", "the model"), ("served_model_name", "served_model_name"), ("tokenizer", "tokenizer"))


def model_candidates(row: dict[str, str]) -> list[tuple[str, str]]:
    """(name, where) for each distinct name the log gives its checkpoint (`MODEL_SOURCES`)."""
    out: list[tuple[str, str]] = []
    for key, where in MODEL_SOURCES:
        value = (row.get(key) or "").strip()
        if value and value not in (v for v, _ in out):
            out.append((value, where))
    return out


def choose_model(store: ProfileStore, row: dict[str, str]) -> tuple[str, str]:
    """(model, note): the first of the log's names for its checkpoint that llmkube knows, and a note when
    it is not the model the log loads; the model as printed when none is known."""
    candidates = model_candidates(row)
    for name, where in candidates:
        if found := resolved_model(store, name):
            note = "" if where == "the model" else f"model {found!r} from the log's {where} (the model {row['model']!r} names no checkpoint llmkube knows)"
            return found, note
    return known_model(store, row.get("model") or ""), ""


# vLLM's architecture class (the log's "Resolved architecture: X") -> whether llmkube reads that
# family's config.json (llmkube.modelconfig.ARCHITECTURES, keyed by model_type): the class name less
# its head (`ForCausalLM`, `ForConditionalGeneration`, ...) and underscores against the model_type
# less its underscores (`Qwen2_5_VLForConditionalGeneration` ~ `qwen2_5_vl`, `GptOssForCausalLM` ~ `gpt_oss`).
def architecture_modelled(architecture: str) -> bool | None:
    """True when llmkube imports the architecture a log names, False when it does not, None when the
    log names none (or llmkube.modelconfig is missing)."""
    if not architecture:
        return None
    try:
        known = importlib.import_module("llmkube.modelconfig").ARCHITECTURES
    except (ImportError, AttributeError):
        return None
    stem = re.sub(r"(?:For(?:CausalLM|ConditionalGeneration)|Model|LMHeadModel)$", "", architecture)
    return stem.replace("_", "").lower() in {k.replace("_", "").lower() for k in known}


def model_needs(row: dict[str, str]) -> str:
    """What `--logs` needs to size a log whose model it could not find, in one sentence."""
    others = [f"{where} {name!r}" for name, where in model_candidates(row)[1:]]
    tried = f", nor for its {' or '.join(others)}" if others else ""
    arch = row.get("architecture") or ""
    modelled = architecture_modelled(arch)
    if modelled is False:
        return f"none (architecture {arch}, which llmkube does not model{tried})"
    tail = f"; architecture {arch}, which llmkube imports" if modelled else ""
    return (f"none (no built-in profile{tried}{tail}: pass --model [GLOB=]CONFIG.json|MODEL_DIR, or "
            "--model [GLOB=]HF_ID of a checkpoint llmkube knows)")


def gpu_needs(row: dict[str, str]) -> str:
    """Why a sized log was compared without its GPU's memory (weights, activation and non-torch only: the
    KV cache, its tokens and the concurrency depend on the memory), and what to pass."""
    named = (row.get("device_name") or "").strip()
    gpu = f"the log names the GPU {named!r}, which no llmkube GPU profile describes," if named else "the log names no GPU"
    return f"{gpu} and prints no CUDA total"


# CUDA totals (GiB, as vLLM prints them) that only one card prints, so a log that names no GPU is
# sized with that card's device name. Only the HBM cards whose figure no other card comes near: the
# 16, 24, 32 and 48 GB classes hold several cards each (T4 / A2 / A16, A10 / A10G / L4, RTX 3090 /
# 4090 / A30 / A5000, A40 / L40 / L40S / RTX 6000 Ada / RTX A6000 / Quadro RTX 8000), and 79.1-79.3 GiB
# is A100 80GB and H100 alike, so those are never guessed; nor is H200's 139.80 (the H200 NVL, on NVLink
# bridges, prints the same and sizes differently at TP >= 2). Sources: the A100 40GB profile's CUDA
# totals (profiles/gpus/a100-40gb.yaml: 39.38 from vllm-project/vllm#16570, 39.50 in an OOM report;
# the table's A100 40GB rows print 39.38) and the B200 profile's (178.35, vLLM's "Free memory on device
# cuda:0 (x/178.35 GiB)"); the A100 PCIe 40GB shares the profile.
TOTAL_BANDS = (((39.2, 39.7), "a100-40gb"), ((178.0, 178.7), "b200-180gb"))


def gpu_for_total(total: float | None) -> str:
    """The GPU profile whose card alone prints this CUDA total (`TOTAL_BANDS`), else ''."""
    if total is None:
        return ""
    return next((name for (low, high), name in TOTAL_BANDS if low <= total <= high), "")


def choice_for(path: str, choices: list[str]) -> str | None:
    """The `--gpu` / `--model` a log gets: the first `GLOB=VALUE` whose glob matches its path (a
    folder per card: `'*/h100/*=h100-80gb'`), else a bare `VALUE` given for every log."""
    for choice in choices:
        pattern, sep, value = choice.partition("=")
        if sep and fnmatch.fnmatch(path, pattern):
            return value
    bare = [c for c in choices if "=" not in c]
    return bare[0] if bare else None


gpu_for = choice_for


def local_config(path: str) -> str:
    """`path` when it is a config.json file or a model directory holding one on this machine."""
    if not path.strip():
        return ""
    p = Path(path).expanduser()
    return str(p) if (p.is_file() and p.suffix == ".json") or (p / "config.json").is_file() else ""


def rows_from_logs(store: ProfileStore, paths: list[Path], gpus: list[str] | None = None,
                   models: list[str] | str | None = None,
                   problems: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Table rows read from start-up logs (benchmarks/vllm_log.py), ready for `evaluate_row`.
    `models`: `[GLOB=]HF_ID` or `[GLOB=]PATH` (a local config.json or model directory)."""
    read = vllm_log.rows_from_files(paths, problems=problems)
    # a start-up that ended before printing any memory figure (a launch refused for free memory,
    # then retried) has nothing to measure: noted, not counted
    rows = [r for r in read if any(r[c] for c in vllm_log.OBSERVED)]
    for r in read:
        if r not in rows and problems is not None:
            problems[r["source"]] = "start-up printed no memory figure (it ended, or the log was cut, before the weights were loaded)"
    choices = [models] if isinstance(models, str) else list(models or [])
    for row in rows:
        row["split"] = "heldout"
        path = row["source"].split("#", 1)[0]
        model = choice_for(path, choices)
        if model and local_config(model):
            row["model_config"] = local_config(model)
        elif model:
            row["model"] = known_model(store, model)
        elif local_config(row["model"]):  # the log's checkpoint directory exists on this machine
            row["model_config"] = local_config(row["model"])
        else:  # the model it loads, else its served name or tokenizer (`choose_model`)
            row["model"], note = choose_model(store, row)
            if note:
                row["notes"] = "; ".join(x for x in (row.get("notes", ""), note) if x)
        gpu = choice_for(path, gpus or [])
        if gpu:
            row["gpu"] = gpu
        elif not row["gpu"] and (named := gpu_for_total(num(row, "gpu_total_gib"))):
            row["gpu"], row["gpu_from_total"] = named, "true"
            row["notes"] = "; ".join(x for x in (row.get("notes", ""), f"GPU {named} from the CUDA total "
                                                 f"{row['gpu_total_gib']} GiB (no other card prints it)") if x)
        elif not row["gpu"] and row.get("device_name"):
            # a card the log names but no profile describes ("NVIDIA GeForce RTX 5090"): its name reaches
            # the sizing as the device name (GeForce P2P, pre-Ampere fallbacks), its memory is the total
            row["gpu"] = row["device_name"]
        elif not row["gpu"]:
            row["gpu"] = "unknown"
        for key in ("tp", "pp"):
            row[key] = row[key] or "1"  # vLLM's default when the log shows no parallel sizes
    return rows


def run(path: Path = DATA, rows: list[dict[str, str]] | None = None,
        store: ProfileStore | None = None) -> dict[str, Any]:
    rows = load_rows(path) if rows is None else rows
    store = store or ProfileStore.load()
    results = [evaluate_row(store, row) for row in rows]
    summary = summarise(results, rows)
    summary["results"] = results
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="start-up table (CSV)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--worst", type=int, default=None,
                        help="held-out rows to list (default: 10; with --logs every log with an error)")
    parser.add_argument("--logs", type=Path, nargs="+", metavar="LOG",
                        help="size vLLM start-up logs (text, .gz or .ipynb files, or directories of them) "
                             "instead of the table")
    parser.add_argument("--gpu", action="append", default=[], metavar="[GLOB=]NAME",
                        help="with --logs: the llmkube GPU profile of every log, or of the logs whose path matches "
                             "GLOB (repeatable; default: the card the log names)")
    parser.add_argument("--model", action="append", default=[], metavar="[GLOB=]MODEL",
                        help="with --logs: the checkpoint of every log, or of the logs whose path matches GLOB "
                             "(repeatable): a Hugging Face id llmkube knows, or a local config.json / model "
                             "directory to import (default: the model the log names)")
    args = parser.parse_args(argv)
    status = 0
    if args.logs:
        files, missing = vllm_log.log_files(args.logs)
        if missing:
            print(f"error: no such log file or directory: {', '.join(map(str, missing))}", file=sys.stderr)
            return 2
        store = ProfileStore.load()
        for choice in args.gpu:
            name = choice.partition("=")[2] if "=" in choice else choice
            if store.gpu(name) is None:
                print(f"error: --gpu {choice}: no such GPU profile {name!r} ({store.suggest_gpu(name)})", file=sys.stderr)
                return 2
        for choice in args.model:
            value = choice.partition("=")[2] if "=" in choice else choice
            if value.endswith(".json") or value.startswith(("/", "./", "../", "~")):
                if not local_config(value):
                    print(f"error: --model {choice}: {value} is neither a config.json nor a directory holding one",
                          file=sys.stderr)
                    return 2
        problems: dict[str, str] = {}
        rows = rows_from_logs(store, files, args.gpu, args.model, problems)
        for path, why in problems.items():
            print(f"{'warning' if why.startswith('cannot') else 'note'}: {path}: {why}", file=sys.stderr)
        if not rows:
            print("error: no vLLM start-up found in the logs", file=sys.stderr)
            return 2
        summary = run(rows=rows, store=store)
        summary["skipped_files"] = problems
        # 1: some file could not be read (the others are measured and printed)
        status = 1 if any(why.startswith("cannot read") for why in problems.values()) else 0
    else:
        summary = run(args.data)
    if args.json:
        json.dump(summary, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(render(summary, args.worst if args.worst is not None else (len(summary["results"]) if args.logs else 10)))
    return status


if __name__ == "__main__":
    sys.exit(main())
