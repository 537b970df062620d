"""The one path every command takes: load → specs → plan → render → check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmkube.errors import InputError, InputErrors
from llmkube.plan.base import Plan
from llmkube.plan.context import KueueAPI, PlanContext, PlanError
from llmkube.plan.fleet import plan_fleet, pool_infos
from llmkube.plan.inference import plan_inference_endpoint
from llmkube.plan.quota import plan_quota
from llmkube.plan.training import plan_training_job
from llmkube.profiles import ProfileStore
from llmkube.render import Renderer
from llmkube.specs.parse import LoadedSpec, is_spec_document, parse_specs
from llmkube.yamlio import Document, dotted, load_paths

TRAINING_TEMPLATES = {
    "pytorchjob": "pytorchjob.yaml.j2",
    "trainjob": "trainjob.yaml.j2",
    "volcano": "volcano-job.yaml.j2",
}

# Apply order that works on an empty cluster: what others refer to comes first.
KIND_ORDER = [
    "Namespace",
    "Topology",
    "ResourceFlavor",
    "Cohort",
    "WorkloadPriorityClass",
    "ClusterQueue",
    "LocalQueue",
    "ConfigMap",
    "Secret",
    "ClusterPolicy",
    "Service",
    "PodDisruptionBudget",
]


@dataclass(frozen=True)
class Options:
    profile_dirs: Sequence[str] = ()
    template_dirs: Sequence[str] = ()
    kueue_api: KueueAPI = "v1beta2"


@dataclass
class Rendered:
    """One output object and the spec it came from."""

    obj: dict[str, Any]
    source: LoadedSpec | None = None


@dataclass(frozen=True)
class NodeLabelStep:
    """Labels to put on the nodes a selector matches (MIG or sharing config)."""

    pool: str
    selector: dict[str, str]
    labels: dict[str, str]
    source: LoadedSpec | None = None

    def kubectl_command(self) -> str:
        sel = ",".join(f"{k}={v}" for k, v in self.selector.items())
        labels = " ".join(f"{k}={v}" for k, v in self.labels.items())
        return f"kubectl label nodes -l {sel} {labels} --overwrite"


@dataclass
class Rendering:
    """Everything the specs produce: objects to apply, and node labels to set."""

    objects: list[Rendered] = field(default_factory=list)
    node_labels: list[NodeLabelStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Inputs:
    specs: list[LoadedSpec] = field(default_factory=list)
    manifests: list[Document] = field(default_factory=list)


def load_inputs(paths: Sequence[str]) -> Inputs:
    """Split the documents in `paths` into llmkube specs and plain manifests."""
    docs = load_paths(paths)
    spec_docs = [d for d in docs if is_spec_document(d)]
    manifests = [d for d in docs if not is_spec_document(d)]
    return Inputs(specs=parse_specs(spec_docs), manifests=manifests)


Planner = Callable[[Any, PlanContext], Plan]


def _template_for(spec: Any) -> tuple[str, Planner]:
    kind = spec.kind
    if kind == "Fleet":
        return "fleet.yaml.j2", plan_fleet
    if kind == "Quota":
        return "quota.yaml.j2", plan_quota
    if kind == "TrainingJob":
        return TRAINING_TEMPLATES[spec.spec.framework], plan_training_job
    if kind == "InferenceEndpoint":
        template = "inferenceservice.yaml.j2" if spec.spec.target == "kserve" else "deployment.yaml.j2"
        return template, plan_inference_endpoint
    raise AssertionError(f"no planner for {kind}")


def render_specs(specs: Sequence[LoadedSpec], options: Options) -> Rendering:
    """Plan and render every spec; output is deterministic and in apply order."""
    profiles = ProfileStore.load(options.profile_dirs)
    renderer = Renderer(options.template_dirs)
    ctx = PlanContext(profiles=profiles, kueue_api=options.kueue_api)
    errors: list[InputError] = []

    for loaded in specs:
        if loaded.kind == "Fleet":
            try:
                ctx.pools.update(pool_infos(loaded.spec, ctx))
            except PlanError as exc:
                errors.append(_plan_error(loaded, exc))

    out: list[Rendered] = []
    steps: list[NodeLabelStep] = []
    notes: list[str] = []
    for loaded in specs:
        template, planner = _template_for(loaded.spec)
        try:
            plan = planner(loaded.spec, ctx)
        except PlanError as exc:
            errors.append(_plan_error(loaded, exc))
            continue
        for obj in renderer.render(template, plan.template_context()):
            out.append(Rendered(obj, loaded))
        steps.extend(NodeLabelStep(s.pool, s.selector, s.labels, source=loaded) for s in plan.node_label_steps)
        notes.extend(plan.notes)
    if errors:
        unique = list({str(e): e for e in errors}.values())
        raise unique[0] if len(unique) == 1 else InputErrors(unique)
    return Rendering(order_objects(dedupe(out)), steps, notes)


def _plan_error(loaded: LoadedSpec, exc: PlanError) -> InputError:
    return InputError(exc.message, mark=loaded.document.mark(exc.path), field=dotted(exc.path), hint=exc.hint)


def object_key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("apiVersion")), str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def dedupe(items: list[Rendered]) -> list[Rendered]:
    """Two specs may both emit the same object (a shared Cohort): keep one.

    If they emit it differently, that is a conflict the user must resolve.
    """
    seen: dict[tuple[str, str, str, str], Rendered] = {}
    out = []
    for item in items:
        key = object_key(item.obj)
        if key in seen and key[1] in MERGEABLE_KINDS:
            merged = merge_disjoint(seen[key].obj, item.obj)
            if merged is not None:
                seen[key].obj = merged
                continue
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


# Cluster-wide singletons that several specs may each set some fields of (as
# server-side apply would merge them): the GPU Operator's ClusterPolicy.
MERGEABLE_KINDS = {"ClusterPolicy"}


def merge_disjoint(a: Any, b: Any) -> Any:
    """Deep-merge two objects; None if they set the same leaf differently."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            if k in out:
                merged = merge_disjoint(out[k], v)
                if merged is None:
                    return None
                out[k] = merged
            else:
                out[k] = v
        return out
    return a if a == b else None


def order_objects(items: list[Rendered]) -> list[Rendered]:
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(items, key=lambda r: rank.get(str(r.obj.get("kind")), len(KIND_ORDER)))
