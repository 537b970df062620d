"""The one path every spec takes: load → specs → plan → render (→ check: `llmkube.runs`).

`render_specs` plans and renders llmkube specs in apply order. The run around it (reading the
inputs, the objects to check, the findings) is `llmkube.runs`, re-exported here; a run of plain
manifests imports that module only, not this one (nor the spec models, planners or jinja2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmkube.check.crdstore import TEMPLATES_DIR, side_cache_dir
from llmkube.errors import InputError, combined
from llmkube.federation import ClusterMerge, cluster_of
from llmkube.kinds import KINDS
from llmkube.options import Options
from llmkube.plan.context import PlanContext, PlanError
from llmkube.records import record
from llmkube.runs import (  # noqa: F401 - the run, read through here by the commands and tests
    NO_SCHEMA,
    Inputs,
    NodeLabelStep,
    Rendered,
    Rendering,
    Run,
    check,
    check_ignore_codes,
    load_crds,
    load_inputs,
    load_profiles,
    run,
    run_partial,
    split_missing_schemas,
    token_findings,
)
from llmkube.specs.parse import LoadedSpec
from llmkube.yamlio import dotted

# Apply order that works on an empty cluster: what others refer to comes first.
KIND_ORDER = [
    "Namespace",
    "Topology",
    "ResourceFlavor",
    "Cohort",
    "WorkloadPriorityClass",
    "MultiKueueCluster",
    "MultiKueueConfig",
    "AdmissionCheck",
    "ClusterQueue",
    "LocalQueue",
    "ConfigMap",
    "Secret",
    "ClusterPolicy",
    "Service",
    "PodDisruptionBudget",
]

@record(frozen=True)
class RuleEntry:
    """A rule as `llmkube rules` shows it: its code, name, severity, family, summary and
    documentation (the rule's docstring, dedented: what docs/rules.md holds)."""

    code: str
    name: str
    severity: str
    family: str
    summary: str
    doc: str


def rule_entries() -> list[RuleEntry]:
    """Every registered rule, by code: the commands read the registry through here."""
    import inspect

    from llmkube.check.rules import FAMILIES, load_rules

    return [
        RuleEntry(code, r.name, r.severity.value, FAMILIES[code[2]], r.summary, inspect.cleandoc(r.doc))
        for code, r in load_rules().items()
    ]


def render_specs(specs: Sequence[LoadedSpec], options: Options) -> Rendering:
    """Plan and render every spec; output is deterministic and in apply order."""
    from llmkube.render import Renderer  # jinja2: not loaded by a run of plain manifests

    profiles = load_profiles(options)
    renderer = Renderer(options.template_dirs, bytecode_cache=side_cache_dir(TEMPLATES_DIR) if options.use_cache else None)
    ctx = PlanContext(profiles=profiles, kueue_api=options.kueue_api)
    errors: list[InputError] = []

    for loaded in specs:
        prepare = KINDS[loaded.kind].prepare
        if prepare is not None:
            try:
                prepare(loaded.spec, ctx)
            except PlanError as exc:
                errors.append(_plan_error(loaded, exc))

    out: list[Rendered] = []
    steps: list[NodeLabelStep] = []
    notes: list[str] = []
    clusters = ClusterMerge()
    for loaded in specs:
        kind = KINDS[loaded.kind]
        template = kind.template(loaded.spec)
        try:
            plan = kind.planner(loaded.spec, ctx)
        except PlanError as exc:
            errors.append(_plan_error(loaded, exc))
            continue
        for obj in renderer.render(template, plan.template_context()):
            out.append(Rendered(obj, loaded))
        steps.extend(NodeLabelStep(s.pool, s.selector, s.labels, source=loaded) for s in plan.node_label_steps)
        notes.extend(plan.notes)
        try:
            clusters.add(plan.clusters)
        except ValueError as exc:
            errors.append(InputError(str(exc), mark=loaded.document.mark(("spec",)), hint="give every Quota of one federation the same cluster names and contexts"))
    if errors:
        unique = list({str(e): e for e in errors}.values())
        raise combined(unique)
    return Rendering(order_objects(dedupe(out)), steps, notes, clusters.clusters, profiles)


def _plan_error(loaded: LoadedSpec, exc: PlanError) -> InputError:
    return InputError(exc.message, mark=loaded.document.mark(exc.path), field=dotted(exc.path), hint=exc.hint)


def object_key(obj: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """apiVersion, kind, namespace, name, and the federation cluster it goes to ("" for the run's own)."""
    meta = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(meta.get("namespace") or ""),
        str(meta.get("name")),
        cluster_of(obj) or "",
    )


def dedupe(items: list[Rendered]) -> list[Rendered]:
    """Two specs may both emit the same object (a shared Cohort): keep one.

    If they emit it differently, that is a conflict the user must resolve. (The GPU Operator's
    ClusterPolicy and ConfigMaps, which several Fleets share, are merged when planned:
    `plan.fleet.cluster_gpu_operator`.)
    """
    seen: dict[tuple[str, str, str, str, str], Rendered] = {}
    out = []
    for item in items:
        key = object_key(item.obj)
        if key in seen:
            if seen[key].obj != item.obj:
                first = seen[key].source
                raise InputError(
                    f"{key[1]} {key[3]!r} is produced twice, differently",
                    mark=item.source.document.mark() if item.source else None,
                    hint=f"it is also produced by {first.document.file} ({first.kind} {first.name})" if first else None,
                )
            continue
        seen[key] = item
        out.append(item)
    return out


def order_objects(items: list[Rendered]) -> list[Rendered]:
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(items, key=lambda r: rank.get(str(r.obj.get("kind")), len(KIND_ORDER)))
