"""What `llmkube plan` shows: one row per model server or training job, and the tables.

Servers and jobs are read from manifests by `llmkube.check.read` — exactly as
the LK1xx/LK3xx rules read them — and sized by `llmkube.plan.sizing`. A row
holds memory per GPU against what the engine may use, the headroom, how many
full-length sequences the KV cache holds, load time against the startup
budget, and a recommendation; JSON reports print the rows as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from llmkube.check.findings import object_label
from llmkube.check.read.context import ReadContext
from llmkube.check.read.deadlines import startup_probe_budget
from llmkube.check.read.servers import ServerSetup
from llmkube.check.read.training import TrainingSetup
from llmkube.check.run import Target
from llmkube.names import GPU_PRODUCT_LABEL
from llmkube.profiles import ProfileStore


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def server_row(s: ServerSetup) -> dict[str, Any]:
    """One model server: memory per GPU against what the engine may use, load time, advice."""
    fit = s.fit()
    c = s.config
    estimate = s.load_estimate()
    row: dict[str, Any] = {
        "kind": "server",
        "object": object_label(s.target.obj),
        "container": s.container.get("name"),
        "runtime": s.runtime,
        "model": s.model.name if s.model else s.model_id,
        "model_known": s.model is not None,
        "gpu": s.gpu.name if s.gpu else None,
        "gpu_memory_gib": _round(s.gpu.memory_gib) if s.gpu else None,
        "tensor_parallel": c.tensor_parallel,
        "pipeline_parallel": c.pipeline_parallel,
        "gpu_memory_utilization": c.utilization,
        "max_model_len": (fit.max_model_len if fit and s.length_known else c.max_model_len),
        "max_num_seqs": c.max_num_seqs,
        "weights_gib": None, "runtime_gib": None, "kv_sequence_gib": None,
        "need_gib": None, "budget_gib": None, "headroom_gib": None,
        "kv_cache_gib": None, "kv_tokens": None, "max_sequences": None, "max_concurrency": None,
        "fits": None,
        "load_seconds": _round(estimate, 0),
        "startup_budget_seconds": startup_probe_budget(s.container),
        "recommendation": None,
    }
    if fit is not None:
        exact = fit.kv_exact and s.length_known
        need = fit.need_gib if exact else fit.weights_gib + fit.overhead_gib
        row.update(
            weights_gib=_round(fit.weights_gib), runtime_gib=_round(fit.overhead_gib),
            kv_sequence_gib=_round(fit.kv_sequence_gib) if exact else None,
            need_gib=_round(need), budget_gib=_round(fit.budget_gib), headroom_gib=_round(fit.budget_gib - need),
            kv_cache_gib=_round(fit.kv_budget_gib),
            kv_tokens=fit.kv_tokens if exact else None,
            max_sequences=fit.max_sequences if exact else None,
            max_concurrency=_round(fit.max_concurrency) if exact else None,
            fits=need <= fit.budget_gib,
            recommendation=s.recommendation(),
        )
        if not fit.kv_exact:
            row["note"] = "sliding-window model: KV cache not sized"
    elif s.model is None:
        row["recommendation"] = "no model profile: add one with --profiles" if s.model_id else "model not found in the command line"
    else:
        row["recommendation"] = f"GPU unknown: select nodes by {GPU_PRODUCT_LABEL}"
    return row


def training_row(t: TrainingSetup) -> dict[str, Any]:
    """One training job: its model states per GPU (sharded) against the GPU's memory."""
    row: dict[str, Any] = {
        "kind": "training",
        "object": object_label(t.target.obj),
        "method": t.method,
        "model": t.model.name if t.model else t.model_id,
        "model_known": t.model is not None,
        "gpu": t.gpu.name if t.gpu else None,
        "gpus": t.gpus,
        "gpu_memory_gib": None, "need_gib": None, "need_high_gib": None, "headroom_gib": None, "fits": None, "distribution": None, "assumes": None,
        "recommendation": None,
    }
    fit = t.fit()
    if fit is not None:
        row.update(gpu_memory_gib=_round(fit.memory_gib), need_gib=_round(fit.low_gib), need_high_gib=_round(fit.high_gib),
                   headroom_gib=_round(fit.headroom_gib), fits=fit.fits, distribution=fit.distribution,
                   assumes=fit.assumption)
        if fit.fits:
            row["recommendation"] = f"{fit.gpus} GPUs, {fit.distribution}; states {fit.low_gib:.1f}–{fit.high_gib:.1f} GiB/GPU before activations"
        else:
            row["recommendation"] = f"does not fit: needs ≥ {fit.gpus_needed} GPUs"
    elif t.method is None:
        row["recommendation"] = "method unknown (no training.method or LoRA flag): memory not sized"
    elif t.model is None:
        row["recommendation"] = "no model profile: add one with --profiles"
    return row


def plan_rows(targets: Sequence[Target], profiles: ProfileStore) -> list[dict[str, Any]]:
    """Servers, then training jobs, then torchrun jobs of unknown method, in manifest order."""
    ctx = ReadContext(targets=targets, profiles=profiles)
    rows = [server_row(s) for s in ctx.servers]
    rows += [training_row(t) for t in ctx.training_jobs]
    rows += [training_row(t) for t in ctx.torchrun_jobs]
    return rows


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.1f}{unit}"
    return f"{x}{unit}"


def render_table(rows: Sequence[dict[str, Any]], *, color: bool, stream: TextIO) -> None:
    """The rows as two tables (servers, training jobs); colour marks what does not fit."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, color_system="standard" if color else None, force_terminal=color,
                      no_color=not color, highlight=False, width=None if color else 220, soft_wrap=False)
    servers = [r for r in rows if r["kind"] == "server"]
    jobs = [r for r in rows if r["kind"] == "training"]

    def status(r: dict[str, Any], text: str) -> str:
        if not color or r.get("fits") is None:
            return text
        return f"[{'green' if r['fits'] else 'bold red'}]{text}[/]"

    if servers:
        table = Table(title="Model servers", title_justify="left", show_lines=False)
        for col in ("object", "model", "GPU", "TP", "GiB/GPU need", "budget", "headroom", "max seqs @ len",
                    "load s", "startup s", "recommendation"):
            table.add_column(col, overflow="fold", no_wrap=col == "object")
        for r in servers:
            par = str(r["tensor_parallel"]) + (f"×PP{r['pipeline_parallel']}" if r["pipeline_parallel"] > 1 else "")
            seqs = "—" if r["max_sequences"] is None else f"{r['max_sequences']} @ {r['max_model_len']}"
            if r["max_num_seqs"] is not None and r["max_sequences"] is not None:
                seqs += f" (asks {r['max_num_seqs']})"
            load = r["load_seconds"]
            startup = r["startup_budget_seconds"]
            startup_txt = _fmt(startup)
            if color and load is not None and startup is not None and startup < load:
                startup_txt = f"[bold red]{startup}[/]"
            table.add_row(
                r["object"], _fmt(r["model"]), _fmt(r["gpu"]), par, status(r, _fmt(r["need_gib"])),
                _fmt(r["budget_gib"]), status(r, _fmt(r["headroom_gib"])), seqs,
                _fmt(None if load is None else int(load)), startup_txt, _fmt(r["recommendation"]),
            )
        console.print(table)
    if jobs:
        table = Table(title="Training jobs", title_justify="left")
        for col in ("object", "model", "method", "GPU", "GPUs", "GiB/GPU need", "GPU memory", "headroom", "recommendation"):
            table.add_column(col, overflow="fold", no_wrap=col == "object")
        for r in jobs:
            need = "—" if r["need_gib"] is None else f"{r['need_gib']:.1f}–{r['need_high_gib']:.1f}"
            table.add_row(r["object"], _fmt(r["model"]), _fmt(r["method"]), _fmt(r["gpu"]), _fmt(r["gpus"]),
                          status(r, need), _fmt(r["gpu_memory_gib"]), status(r, _fmt(r["headroom_gib"])),
                          _fmt(r["recommendation"]))
        console.print(table)
    if not rows:
        console.print("no model servers or training jobs found")
