"""`llmkube plan`: size every model server and training job in the inputs.

Specs are rendered through the pipeline first, so an InferenceEndpoint is sized
exactly as it will run (its vLLM/TGI flags, GPU and probes); plain manifests
running vLLM, TGI or torchrun are read the same way the LK1xx/LK3xx rules read
them. One row per server container or training job: memory per GPU against
what the engine may use, the headroom, how many full-length sequences the KV
cache holds, load time against the startup budget, and a recommendation.

Exit code: 0, or 1 when a server or a job does not fit its GPUs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from llmkube.check.findings import object_label
from llmkube.check.rules import RuleContext
from llmkube.check.rules._workloads import command_line, gpu_request, pod_groups
from llmkube.check.rules.sizing import ServerSetup, TrainingSetup, gpu_target, server_setups, training_setups
from llmkube.commands.common import load_and_render, note, rendered_targets
from llmkube.errors import InputError
from llmkube.pipeline import Options
from llmkube.plan.sizing import CUDA_CONTEXT_GIB
from llmkube.report import use_color


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def _startup_budget_seconds(container: Any) -> int | None:
    from llmkube.check.rules.serving import _probe_budget

    probe = container.get("startupProbe") or container.get("livenessProbe")
    return _probe_budget(probe) if probe is not None else None


def server_row(s: ServerSetup) -> dict[str, Any]:
    fit = s.fit()
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
        "tensor_parallel": s.tensor_parallel,
        "pipeline_parallel": s.pipeline_parallel,
        "gpu_memory_utilization": s.utilization,
        "max_model_len": (fit.max_model_len if fit and s.length_known else s.max_model_len),
        "max_num_seqs": s.max_num_seqs,
        "weights_gib": None, "runtime_gib": None, "kv_sequence_gib": None,
        "need_gib": None, "budget_gib": None, "headroom_gib": None,
        "kv_cache_gib": None, "kv_tokens": None, "max_sequences": None, "max_concurrency": None,
        "fits": None,
        "load_seconds": _round(estimate, 0),
        "startup_budget_seconds": _startup_budget_seconds(s.container),
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
        row["recommendation"] = "GPU unknown: select nodes by nvidia.com/gpu.product"
    return row


def training_row(t: TrainingSetup | None, target: Any, *, method: str | None = None, gpus: int | None = None, gpu: Any = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": "training",
        "object": object_label(target.obj),
        "method": t.method if t else method,
        "model": (t.model.name if t.model else t.model_id) if t else None,
        "model_known": bool(t and t.model),
        "gpu": (t.gpu.name if t.gpu else None) if t else (gpu.name if gpu else None),
        "gpus": t.gpus if t else gpus,
        "gpu_memory_gib": None, "need_gib": None, "need_high_gib": None, "headroom_gib": None, "fits": None,
        "recommendation": None,
    }
    fit = t.fit() if t else None
    if fit is not None:
        row.update(gpu_memory_gib=_round(fit.memory_gib), need_gib=_round(fit.low_gib), need_high_gib=_round(fit.high_gib),
                   headroom_gib=_round(fit.headroom_gib), fits=fit.fits)
        if fit.fits:
            row["recommendation"] = f"{fit.gpus} GPUs sharded (FSDP/ZeRO-3); states {fit.low_gib:.1f}–{fit.high_gib:.1f} GiB/GPU before activations"
        else:
            states = (fit.low_gib - CUDA_CONTEXT_GIB) * fit.gpus
            import math

            row["recommendation"] = f"does not fit: needs ≥ {math.ceil(states / (fit.memory_gib - CUDA_CONTEXT_GIB))} GPUs"
    elif t is None:
        row["recommendation"] = "method unknown (no training.method or LoRA flag): memory not sized"
    elif t.model is None:
        row["recommendation"] = "no model profile: add one with --profiles"
    return row


def _torchrun_only(ctx: RuleContext, covered: set[int]) -> list[dict[str, Any]]:
    """Rows for plain torchrun jobs whose method the command line does not say."""
    rows = []
    for target in ctx.targets:
        if id(target) in covered:
            continue
        groups = pod_groups(target)
        lines = [command_line(c) for g in groups for _, c in g.containers()]
        if not any("torchrun" in " ".join(line) or "torch.distributed" in " ".join(line) for line in lines):
            continue
        gpus, gpu = 0, None
        for g in groups:
            for _, c in g.containers():
                req = gpu_request(c)
                if req:
                    gpus += req[1] * g.replicas
                    gpu = gpu or gpu_target(ctx.profiles, g, req[0])
        rows.append(training_row(None, target, method=None, gpus=gpus, gpu=gpu))
    return rows


def plan_rows(targets: Sequence[Any], profiles: Any) -> list[dict[str, Any]]:
    ctx = RuleContext(targets=targets, profiles=profiles)
    rows = [server_row(s) for s in server_setups(ctx)]
    jobs = training_setups(ctx)
    rows += [training_row(t, t.target) for t in jobs]
    covered = {id(t.target) for t in jobs} | {id(s.target) for s in server_setups(ctx)}
    rows += _torchrun_only(ctx, covered)
    return rows


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.1f}{unit}"
    return f"{x}{unit}"


def render_table(rows: Sequence[dict[str, Any]], *, color: bool, stream: Any) -> None:
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


def run_plan(
    paths: Sequence[str],
    *,
    report: str = "text",
    profile_dirs: Sequence[str] = (),
    template_dirs: Sequence[str] = (),
    kueue_api: str = "v1beta2",
    color: str = "auto",
) -> int:
    from llmkube.profiles import ProfileStore

    options = Options(profile_dirs=profile_dirs, template_dirs=template_dirs, kueue_api=kueue_api)  # type: ignore[arg-type]
    rendering, manifests = load_and_render(paths, options)
    targets = rendered_targets(rendering.objects) + manifests
    if not targets:
        raise InputError("no Kubernetes objects or llmkube specs found in the given paths")
    for message in rendering.notes:
        note(message)
    rows = plan_rows(targets, ProfileStore.load(profile_dirs))
    if report == "json":
        sys.stdout.write(json.dumps({"items": rows}, indent=2, ensure_ascii=False) + "\n")
    else:
        render_table(rows, color=use_color(sys.stdout, color), stream=sys.stdout)
    return 1 if any(r.get("fits") is False for r in rows) else 0
