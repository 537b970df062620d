"""Rebuild the llm-d-planner rows of vllm_startups.csv from that project's published results.

The rows tagged `llm-d-planner` come from llm-d-incubation/llm-d-planner, accuracy/results/ at
commit d3121e059da88662db39a926a3ead964be97359b: `v0.19.0/results_raw.csv` (vLLM 0.19.0, H100
80GB, one row per start-up, parsed by that project from vLLM's own log) and
`version-sweep/runs/*.json` (Qwen3-14B on vLLM 0.15-0.18). Only start-ups that succeeded are
kept. Usage: python import_llmd_planner.py RESULTS_DIR > rows.csv (RESULTS_DIR holds the two).
Not part of the measurement: it documents how those rows were made.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

COMMIT = "d3121e059da88662db39a926a3ead964be97359b"
BASE = f"https://github.com/llm-d-incubation/llm-d-planner/blob/{COMMIT}/accuracy/results/"
DEFAULTS_019 = ("v0.19 log: 'Defaulting max_num_batched_tokens to 8192 / max_num_seqs to 1024 for "
                "OPENAI_API_SERVER usage context' (H100); block size 16 default")


# Pipeline-parallel runs: results_raw.csv mixes workers (weights from one stage, KV from PP0).
# vLLM keeps the smallest block count of all workers, which is the last stage's (it holds the LM
# head and its logits peak), so these rows carry the last stage's figures, read from that
# worker's lines of the same log ("Actual usage is ... for weight, ... peak activation, ...
# non-torch", "Total non KV cache memory"); its KV GiB = 0.95 x 79.19 GiB - that total, since
# only PP0 prints "Available KV cache memory" (CUDA graphs are not subtracted in these runs). The GPU KV cache size (tokens) is the engine's.
PP_LAST_STAGE = {
    "meta-llama-llama-3-1-8b---h100-80gb--tp1pp2dp1--8192.log":
        {"weights_gib": "7.51", "activation_gib": "2.01", "non_torch_gib": "0.07",
         "kv_cache_gib": "65.63", "notes": "worker PP1 (last stage, binds the block count): total non-KV 9.6 GiB, "
         "KV 75.23 - 9.6 = 65.63 GiB (derived); PP0 printed 7.51 / 1.1 / 0.07 GiB and KV 66.54 GiB"},
    "meta-llama-llama-3-1-8b---h100-80gb--tp1pp4dp1--8192.log":
        {"weights_gib": "4.26", "activation_gib": "2.01", "non_torch_gib": "0.07",
         "kv_cache_gib": "68.89", "notes": "worker PP3 (last stage, binds the block count): total non-KV 6.34 GiB, "
         "KV 75.23 - 6.34 = 68.89 GiB (derived); PP0 printed 4.26 / 1.1 GiB and KV 69.8 GiB, middle stages 3.28 / 1.05 GiB"},
}


def _num(value: str | float | None) -> str:
    if value in (None, "", "None"):
        return ""
    return str(value)


def raw_rows(path: Path) -> list[dict[str, str]]:
    out = []
    with path.open() as f:
        for r in csv.DictReader(f):
            if r["status"] != "ok":
                continue
            quant = r["quantization"] if r["quantization"] not in ("", "None") else ""
            out.append({
                "source": BASE + "v0.19.0/results_raw.csv#" + r["log_file"],
                "source_group": "llm-d-planner",
                "vllm_version": "0.19.0",
                "gpu": "h100-80gb",
                "gpu_total_gib": _num(r["init_total_memory_gib"]),
                "model": r["model"],
                "tp": r["tp"], "pp": r["pp"],
                "dtype": r["dtype"].replace("torch.", ""),
                "quantization": quant,
                "kv_cache_dtype": r["kv_cache_dtype"] or "auto",
                "max_model_len": r["max_model_len"],
                "max_num_seqs": "1024", "max_num_batched_tokens": "8192",
                "gpu_memory_utilization": r["gpu_memory_utilization"],
                "enforce_eager": "false", "block_size": "16",
                "weights_gib": _num(r["weights_memory_gib"] or r["weight_memory_gib"]),
                "non_torch_gib": _num(r["non_torch_forward_gib"]),
                "activation_gib": _num(r["activation_memory_gib"]),
                # Every 0.19 log here runs with VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=False: the
                # engine logs its graph estimate but does not subtract it (KV = util x total -
                # weights - activation - non-torch), so it goes to the notes, not cuda_graph_gib.
                "cuda_graph_gib": "",
                "kv_cache_gib": _num(r["kv_cache_memory_gib"]),
                "kv_tokens": _num(r["kv_cache_tokens"]),
                "gpu_blocks": _num(r["kv_cache_blocks"]),
                "max_concurrency": _num(r["max_concurrency"]),
                "defaults": DEFAULTS_019,
                "notes": (f"CUDA graphs: estimated {r['cuda_graph_estimated_gib']} GiB, captured "
                          f"{r['cuda_graph_actual_gib']} GiB, neither subtracted before sizing the KV cache "
                          "(VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=False); prefix caching off"),
            })
            last = PP_LAST_STAGE.get(r["log_file"])
            if last:
                out[-1].update(last)
                out[-1]["notes"] += "; CUDA graph estimate not subtracted (as every 0.19 row); prefix caching off"
    return out


def sweep_rows(runs: Path) -> list[dict[str, str]]:
    out = []
    for path in sorted(runs.glob("*.json")):
        d = json.loads(path.read_text())
        version = path.name.split("-vllm-v")[1].split("--")[0].replace("-", ".")
        a = d["vllm_args"]
        out.append({
            "source": BASE + "version-sweep/runs/" + path.name,
            "source_group": "llm-d-planner",
            "vllm_version": version,
            "gpu": "h100-80gb", "gpu_total_gib": "",
            "model": d["model"], "tp": str(a["tensor_parallel_size"]), "pp": str(a["pipeline_parallel_size"]),
            "dtype": "bfloat16", "quantization": "", "kv_cache_dtype": "auto",
            "max_model_len": str(a["max_model_len"]),
            "max_num_seqs": "", "max_num_batched_tokens": "",
            "gpu_memory_utilization": str(a["gpu_memory_utilization"]),
            "enforce_eager": "false", "block_size": "16",
            "weights_gib": _num(d.get("weight_memory_gib")),
            "non_torch_gib": _num(d.get("non_torch_forward_memory_gib")),
            "activation_gib": _num(d.get("activation_memory_gib")),
            "cuda_graph_gib": "",
            "kv_cache_gib": _num(d.get("kv_cache_memory_gib")),
            "kv_tokens": _num(d.get("kv_cache_tokens")),
            "gpu_blocks": _num(d.get("kv_cache_blocks")),
            "max_concurrency": _num(d.get("max_concurrency")),
            "defaults": "max_num_seqs/max_num_batched_tokens not in the JSON: engine defaults of that version",
            "notes": "dtype auto (Qwen3-14B config: bfloat16)" + (
                f"; CUDA graphs captured after the KV cache was sized took {d['cuda_graph_memory_gib']} GiB"
                if d.get("cuda_graph_memory_gib") is not None else ""),
        })
    return out


if __name__ == "__main__":
    base = Path(sys.argv[1])
    rows = raw_rows(base / "v0.19.0" / "results_raw.csv") + sweep_rows(base / "version-sweep" / "runs")
    w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
