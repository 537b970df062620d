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
from llmkube.check.read.sizing_cache import SizingCache
from llmkube.check.read.training import TrainingSetup
from llmkube.check.run import Target
from llmkube.names import GPU_PRODUCT_LABEL
from llmkube.profiles import ProfileStore


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def server_row(s: ServerSetup, sizing: SizingCache | None = None) -> dict[str, Any]:
    """One model server: memory per GPU as its engine accounts it, against what it may use; load
    time; advice. Activation, non-torch and CUDA-graph memory stay apart (`runtime_gib` is their
    sum as counted before the KV cache is sized). `sizing`: the run's answers (`ctx.sizing`, as
    LK101/LK103/LK305 ask them), so copies of one server are sized once."""
    sizing = sizing if sizing is not None else SizingCache()
    fit = sizing.fit(s)
    c = s.config
    estimate = sizing.load_estimate(s)
    row: dict[str, Any] = {
        "kind": "server",
        "object": object_label(s.target.obj),
        "container": s.container.get("name"),
        "pool": s.pool,  # an LLMInferenceService's pool (main/decode/prefill), else None
        "pool_pods": s.pool_pods,
        "runtime": s.runtime,
        "model": s.model.name if s.model else s.model_id,
        "model_known": s.model is not None,
        "gpu": s.gpu.name if s.gpu else None,
        "gpu_memory_gib": _round(s.gpu.memory_gib) if s.gpu else None,
        "tensor_parallel": c.tensor_parallel,
        "pipeline_parallel": c.pipeline_parallel,
        "data_parallel": c.data_parallel,
        "expert_parallel": c.expert_parallel,
        "gpu_memory_utilization": c.utilization,
        "max_model_len": (fit.max_model_len if fit and s.length_known else c.max_model_len),
        "max_num_seqs": c.max_num_seqs,
        "engine_accounting": None, "profiling_batch_tokens": None, "profiling_batch_seqs": None,
        "weights_gib": None, "activation_gib": None, "non_torch_gib": None,
        "cuda_graph_gib": None, "cuda_graph_counted": None, "runtime_gib": None, "kv_sequence_gib": None,
        "need_gib": None, "budget_gib": None, "headroom_gib": None,
        "kv_cache_gib": None, "kv_tokens": None, "max_sequences": None, "max_concurrency": None,
        "binding_stage": None, "fits": None,
        "load_seconds": _round(estimate, 0),
        "startup_budget_seconds": startup_probe_budget(s.container),
        "recommendation": None, "fit_options": [],
    }
    if fit is not None:
        exact = s.length_known
        need = fit.need_gib if exact else fit.weights_gib + fit.overhead_gib
        row.update(
            engine_accounting=fit.accounting.label,
            profiling_batch_tokens=fit.batch.tokens, profiling_batch_seqs=fit.batch.seqs,
            weights_gib=_round(fit.weights_gib), activation_gib=_round(fit.activation_gib),
            non_torch_gib=_round(fit.non_torch_gib), cuda_graph_gib=_round(fit.cuda_graph_gib),
            cuda_graph_counted=fit.cuda_graph_counted, runtime_gib=_round(fit.overhead_gib),
            kv_sequence_gib=_round(fit.kv_sequence_gib) if exact else None,
            need_gib=_round(need), budget_gib=_round(fit.budget_gib), headroom_gib=_round(fit.budget_gib - need),
            kv_cache_gib=_round(fit.kv_budget_gib),
            kv_tokens=fit.kv_tokens,
            max_sequences=fit.max_sequences if exact else None,
            max_concurrency=_round(fit.max_concurrency) if exact else None,
            binding_stage=fit.stage if fit.pipeline_parallel > 1 else None,
            fits=need <= fit.budget_gib,
            recommendation=sizing.recommendation(s),
            fit_options=sizing.fit_options(s),
        )
        if not exact:
            row["note"] = "TGI without --max-total-tokens: the length is decided at start-up; KV per sequence not sized"
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
    rows = [server_row(s, ctx.sizing) for s in ctx.servers]
    rows += [training_row(t) for t in ctx.training_jobs]
    rows += [training_row(t) for t in ctx.torchrun_jobs]
    return rows


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.1f}{unit}"
    return f"{x}{unit}"


TABLE_WIDTH = 100  # the text report fits a 100-column terminal


def _tokens(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n / 1e6:.1f}M" if n >= 10**6 else f"{n / 1e3:.0f}k" if n >= 10**4 else str(n)


def _short(label: str | None) -> str:
    return "—" if label is None else label.replace("vLLM ", "v")


def _model(row: dict[str, Any]) -> str:
    """The model column: a profile's name, or an unknown checkpoint's id; a local path (often long:
    a cache volume's) is shortened to its last part, the whole path staying in `-o json`."""
    model = row["model"]
    if not row.get("model_known") and isinstance(model, str) and model.startswith("/") and model.rstrip("/").count("/") > 1:
        return "…/" + model.rstrip("/").rsplit("/", 1)[-1]
    return _fmt(model)


def _name(label: str) -> str:
    """An object's name without kind and namespace (both are in the notes under the table)."""
    return label.rsplit("/", 1)[-1]


def _pool(r: dict[str, Any]) -> str:
    """The pool a row sizes, when its object has several (an LLMInferenceService's prefill and
    decode pools) or spreads one over several pods (a data-parallel worker): " decode",
    " prefill ×2 pods"; empty otherwise."""
    pool, pods = r.get("pool"), r.get("pool_pods") or 1
    if pool is None or (pool == "main" and pods == 1):
        return ""
    return (f" {pool}" if pool != "main" else "") + (f" ×{pods} pods" if pods > 1 else "")


def render_table(rows: Sequence[dict[str, Any]], *, color: bool, stream: TextIO) -> None:
    """The rows as two tables (servers, training jobs) no wider than 100 columns; colour marks
    what does not fit. Advice and the settings that would fit follow each table, one line a row."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, color_system="standard" if color else None, force_terminal=color,
                      no_color=not color, highlight=False, width=TABLE_WIDTH, soft_wrap=False)
    servers = [r for r in rows if r["kind"] == "server"]
    jobs = [r for r in rows if r["kind"] == "training"]

    def status(r: dict[str, Any], text: str) -> str:
        if not color or r.get("fits") is None:
            return text
        return f"[{'green' if r['fits'] else 'bold red'}]{text}[/]"

    def table(title: str, columns: Sequence[str]) -> Table:
        t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
                  collapse_padding=True)
        for i, col in enumerate(columns):
            # names fold (the server's and the GPU's never narrower than a short name: "h100-80gb×8"),
            # as does the engine's label; numbers and the model name stay whole
            t.add_column(col, overflow="fold", justify="left" if i < 3 else "right", no_wrap=i not in (0, 2, 8),
                         min_width={0: 10, 2: 11}.get(i))
        return t

    if servers:
        engines = sorted({r["engine_accounting"] for r in servers if r["engine_accounting"]})
        columns = ["server", "model", "GPU", "weights", "KV", "tokens", "conc @ len", "headroom"]
        title = "Model servers: GiB per GPU"
        if len(engines) == 1:
            title += f", {engines[0]} accounting"
        elif engines:
            columns.append("engine")
        t = table(title, columns)
        notes: list[str] = []
        for r in servers:
            gpus = (f"{_fmt(r['gpu'])}×{r['tensor_parallel']}" + (f"×{r['pipeline_parallel']}" if r["pipeline_parallel"] > 1 else "")
                    + (f"×{r['data_parallel']}" if r["data_parallel"] > 1 else ""))
            conc = "—" if r["max_concurrency"] is None else f"{r['max_concurrency']:.1f} @ {r['max_model_len']}"
            t.add_row(_name(r["object"]) + _pool(r), _model(r), gpus, _fmt(r["weights_gib"]),
                      status(r, _fmt(r["kv_cache_gib"])), _tokens(r["kv_tokens"]), conc,
                      status(r, _fmt(r["headroom_gib"])), *([_short(r["engine_accounting"])] if len(columns) > 8 else []))
            advice = list(r.get("fit_options") or [])
            if r["max_num_seqs"] is not None and r["max_sequences"] is not None and r["max_sequences"] < r["max_num_seqs"]:
                advice.insert(0, f"holds {r['max_sequences']} full sequences, asks {r['max_num_seqs']}")
            if r["recommendation"]:
                advice.append(r["recommendation"])
            load, startup = r["load_seconds"], r["startup_budget_seconds"]
            if load is not None:
                timing = f"loads in ~{int(load)} s" + (f", startup probe allows {startup} s" if startup is not None else "")
                if startup is not None and startup < load:
                    timing = f"[bold red]{timing}[/]" if color else timing + " (too short)"
                advice.append(timing)
            if advice:
                label = "does not fit; fits with" if r.get("fits") is False else "advice"
                notes.append(f"{r['object']}{_pool(r)}: {label}: " + "; ".join(advice))
        console.print(t)
        for line in notes:
            console.print(line, overflow="fold")
    if jobs:
        t = table("Training jobs", ("object", "model", "method", "GPU", "GPUs", "GiB/GPU need", "GPU GiB", "headroom"))
        notes = []
        for r in jobs:
            need = "—" if r["need_gib"] is None else f"{r['need_gib']:.1f}–{r['need_high_gib']:.1f}"
            t.add_row(r["object"], _model(r), _fmt(r["method"]), _fmt(r["gpu"]), _fmt(r["gpus"]),
                      status(r, need), _fmt(r["gpu_memory_gib"]), status(r, _fmt(r["headroom_gib"])))
            if r["recommendation"]:
                notes.append(f"{r['object']}: {r['recommendation']}")
        console.print(t)
        for line in notes:
            console.print(line, overflow="fold")
    if not rows:
        console.print("no model servers or training jobs found")
