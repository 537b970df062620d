"""Where a workload's pods may run, as Kueue's flavor assigner reads it.

Kueue (v0.19.2) assigns each PodSet a ResourceFlavor per resource group. It
skips a flavor whose `nodeTaints` the pods do not tolerate, and one whose
`nodeLabels` contradict the pods' nodeSelector or required node affinity —
but it judges only the keys that flavor defines
(`pkg/scheduler/flavorassigner/flavorassigner.go` `checkFlavorForPodSets`,
`flavorSelector`). This module gives rules each PodSet's selection and the
matching, so they do not walk pod specs themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llmkube.check.read.shape import as_list, as_mapping, dig
from llmkube.check.read.workloads import Path, pod_groups
from llmkube.check.run import Target
from llmkube.records import record


@record(frozen=True)
class PodSet:
    """One PodSet's node selection and requested resource names."""

    role: str
    path: Path  # the pod spec (or the TrainJob field) to point at
    node_selector: Mapping[str, Any]
    terms: Sequence[Sequence[Mapping[str, Any]]]  # required node affinity: ORed terms of ANDed expressions
    tolerations: Sequence[Mapping[str, Any]]
    resources: frozenset[str]

    @property
    def keys(self) -> set[str]:
        """Every label key the selection names."""
        out = {str(k) for k in self.node_selector}
        for term in self.terms:
            out |= {str(e.get("key")) for e in term if e.get("key") is not None}
        return out


def _resource_names(spec: Mapping[str, Any]) -> frozenset[str]:
    names: set[str] = set()
    for c in as_list(spec.get("containers")):
        res = as_mapping(dig(c, "resources"))
        for section in ("requests", "limits"):
            names |= {str(k) for k in as_mapping(res.get(section))}
    return frozenset(names)


def _terms(spec: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    terms = dig(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    out = []
    for term in as_list(terms):
        if isinstance(term, Mapping):
            out.append([e for e in as_list(term.get("matchExpressions")) if isinstance(e, Mapping)])
    return out


def _podset(role: str, path: Path, spec: Mapping[str, Any], resources: frozenset[str] | None = None) -> PodSet:
    sel = spec.get("nodeSelector")
    tol = spec.get("tolerations")
    return PodSet(
        role,
        path,
        sel if isinstance(sel, Mapping) else {},
        _terms(spec),
        [t for t in tol or [] if isinstance(t, Mapping)] if isinstance(tol, list) else [],
        _resource_names(spec) if resources is None else resources,
    )


def _trainjob_pod_specs(spec: Mapping[str, Any]) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Pod specs a TrainJob patches into its runtime (v2.3 runtimePatches; older podTemplateOverrides)."""
    for i, patch in enumerate(as_list(spec.get("runtimePatches"))):
        for j, rj in enumerate(as_list(dig(patch, "trainingRuntimeSpec", "template", "spec", "replicatedJobs"))):
            pod = dig(rj, "template", "spec", "template", "spec")
            if isinstance(pod, Mapping):
                yield (
                    ("spec", "runtimePatches", i, "trainingRuntimeSpec", "template", "spec", "replicatedJobs", j, "template", "spec", "template", "spec"),
                    pod,
                )
    for i, override in enumerate(as_list(spec.get("podTemplateOverrides"))):
        if isinstance(override, Mapping) and isinstance(override.get("spec"), Mapping):
            yield ("spec", "podTemplateOverrides", i, "spec"), override["spec"]


def podsets(target: Target) -> list[PodSet]:
    """The PodSets of one workload (a TrainJob's trainer nodes merged with its patches' selection)."""
    obj = target.obj
    spec = obj.get("spec")
    if obj.get("kind") == "TrainJob" and isinstance(spec, Mapping):
        res = as_mapping(dig(spec, "trainer", "resourcesPerNode"))
        names = frozenset(str(k) for s in ("requests", "limits") for k in as_mapping(res.get(s)))
        found = [_podset("node", path, pod, names) for path, pod in _trainjob_pod_specs(spec)]
        return found or [PodSet("node", ("spec", "trainer"), {}, [], [], names)]
    return [_podset(g.role, g.spec_path, g.spec) for g in pod_groups(target)]


# ---- matching ------------------------------------------------------------------


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    key, op = str(expr.get("key")), expr.get("operator")
    values = [str(v) for v in as_list(expr.get("values"))]
    present = key in labels
    value = str(labels.get(key)) if present else None
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            a, b = int(str(value)), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def selection_fits(podset: PodSet, flavor_labels: Mapping[str, Any]) -> bool:
    """Kueue's flavorSelector: only keys the flavor defines count; an emptied term matches."""
    for k, v in podset.node_selector.items():
        if str(k) in flavor_labels and str(flavor_labels[str(k)]) != str(v):
            return False
    if not podset.terms:
        return True
    for term in podset.terms:
        kept = [e for e in term if str(e.get("key")) in flavor_labels]
        if all(_expression_matches(e, flavor_labels) for e in kept):
            return True
    return False


def _tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") not in (None, "", taint.get("effect")):
            continue
        op = t.get("operator") or "Equal"
        if op == "Exists" and t.get("key") in (None, "", taint.get("key")):
            return True
        if op == "Equal" and t.get("key") == taint.get("key") and str(t.get("value") or "") == str(taint.get("value") or ""):
            return True
    return False


def untolerated_taint(podset: PodSet, flavor_spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first NoSchedule/NoExecute nodeTaint of the flavor the PodSet does not tolerate.

    The flavor's own `tolerations` (added to the pods it admits) count too, as in
    `checkFlavorForPodSets`.
    """
    extra = flavor_spec.get("tolerations")
    tolerations = [*podset.tolerations, *(t for t in extra if isinstance(t, Mapping))] if isinstance(extra, list) else podset.tolerations
    for taint in as_list(flavor_spec.get("nodeTaints")):
        if isinstance(taint, Mapping) and taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
            return taint
    return None
