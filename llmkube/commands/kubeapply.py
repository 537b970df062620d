"""`llmkube diff` and `llmkube apply`: render, check, then kubectl server-side diff/apply.

Both commands take the same path:

1. load and render the specs; plain manifests given beside them come along;
2. check everything offline -- the schemas at hand, CEL rules, the LLM-aware
   rules (as `llmkube validate` does) -- an error stops here, before kubectl runs
   at all; warnings are shown and do not stop;
3. ask the cluster (through `llmkube.kubectl`, the only module that runs kubectl)
   which kinds it serves: a kind it does not serve is refused with one line naming
   the CRD to install, before anything is sent; custom resources that had no schema
   offline are checked against the CRDs fetched from the cluster;
4. give namespaced objects without a namespace `--namespace` (else the context's
   namespace), refuse when a target namespace does not exist, label every object
   with its apply set (`llmkube.dev/apply-set`), and order the objects so that an
   empty cluster accepts them (namespaces, CRDs, Kueue flavors and cluster queues
   before local queues, ConfigMaps before what reads them, workloads last);
5. `kubectl diff|apply --server-side --field-manager=llmkube -f -`, then the node
   labels MIG and GPU sharing need (`diff` lists them, `apply` sets them), then --
   for `apply --prune` -- delete what llmkube applied earlier to the same apply set
   that left the specs.

Exit codes. diff: 0 no changes · 1 changes (objects or node labels) · 2 check
errors, missing CRDs/namespaces, no kubectl, unknown context, unreachable cluster
(kubectl's own exit code above 1 is passed on). apply: 0 applied · 1 refused by
the checks or rejected by the API server · 2 as for diff.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkube.check.findings import Finding, Severity, object_label
from llmkube.check.run import Target
from llmkube.commands.common import InputOptions, build_validator, check_targets, load_and_render, note, rendered_targets, split_missing_schemas
from llmkube.errors import InputError
from llmkube.kubectl import APIResource, Kubectl
from llmkube.pipeline import KIND_ORDER, NodeLabelStep
from llmkube.report import write_report
from llmkube.yamlio import dump_yaml_documents

#: Label on every object llmkube applies; `apply --prune` deletes objects of the set that left the specs.
APPLY_SET_LABEL = "llmkube.dev/apply-set"
DEFAULT_APPLY_SET = "default"
APPLY_SET_ENV = "LLMKUBE_APPLY_SET"
FIELD_MANAGER = "llmkube"
CRD_RESOURCE = "customresourcedefinitions.apiextensions.k8s.io"

# Apply order for an empty cluster: what others refer to first, workloads last.
_FIRST = ["Namespace", "CustomResourceDefinition", "PriorityClass", "StorageClass", "ServiceAccount",
          "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "PersistentVolume", "PersistentVolumeClaim"]
APPLY_ORDER = _FIRST + [k for k in KIND_ORDER if k not in _FIRST]

# Kinds `apply --prune` looks for (besides the kinds of the current inputs): what llmkube renders.
RENDERED_KINDS = {
    ("kueue.x-k8s.io", k)
    for k in ("ResourceFlavor", "Topology", "Cohort", "WorkloadPriorityClass", "ClusterQueue", "LocalQueue")
} | {
    ("", "ConfigMap"),
    ("", "Service"),
    ("apps", "Deployment"),
    ("policy", "PodDisruptionBudget"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("nvidia.com", "ClusterPolicy"),
    ("kubeflow.org", "PyTorchJob"),
    ("trainer.kubeflow.org", "TrainJob"),
    ("batch.volcano.sh", "Job"),
    ("serving.kserve.io", "InferenceService"),
}
# Never pruned: deleting them deletes everything in them / of their kind.
NEVER_PRUNED = {("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")}

# Who ships the CRDs of a group (for the "install the CRD" line).
_PROJECTS = {
    "kueue.x-k8s.io": "Kueue",
    "batch.volcano.sh": "Volcano",
    "scheduling.volcano.sh": "Volcano",
    "kubeflow.org": "the Kubeflow Training Operator",
    "trainer.kubeflow.org": "Kubeflow Trainer",
    "serving.kserve.io": "KServe",
    "nvidia.com": "the NVIDIA GPU Operator",
    "jobset.x-k8s.io": "JobSet",
    "leaderworkerset.x-k8s.io": "LeaderWorkerSet",
}
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


# --------------------------------------------------------------------------- entry points


def run_diff(
    paths: Sequence[str],
    opts: InputOptions,
    *,
    context: str | None,
    kubeconfig: str | None,
    namespace: str | None,
    apply_set: str | None = None,
    kubectl: Kubectl | None = None,
) -> int:
    kc = kubectl or Kubectl(context=context, kubeconfig=kubeconfig)
    plan = _prepare(paths, opts, kc, namespace, apply_set, for_apply=False)
    if isinstance(plan, int):
        return 2  # a failed check is an error for diff: 1 means "changes"

    code = 0
    if plan.objects:
        result = kc.diff(plan.manifest, field_manager=FIELD_MANAGER)
        sys.stdout.write(result.stdout)
        if result.returncode > 1:
            sys.stderr.write(f"llmkube: error: kubectl diff failed: {result.message() or f'exit code {result.returncode}'}\n")
            return result.returncode
        code = result.returncode
    label_changes = _node_label_changes(kc, plan.node_labels)
    if label_changes:
        sys.stdout.write(_format_label_changes(label_changes))
        code = 1
    return code


def run_apply(
    paths: Sequence[str],
    opts: InputOptions,
    *,
    context: str | None,
    kubeconfig: str | None,
    namespace: str | None,
    dry_run_server: bool,
    force_conflicts: bool,
    prune: bool,
    apply_set: str | None = None,
    kubectl: Kubectl | None = None,
) -> int:
    kc = kubectl or Kubectl(context=context, kubeconfig=kubeconfig)
    plan = _prepare(paths, opts, kc, namespace, apply_set, for_apply=True)
    if isinstance(plan, int):
        return plan

    if plan.objects:
        result = kc.apply(
            plan.manifest, dry_run_server=dry_run_server, force_conflicts=force_conflicts, field_manager=FIELD_MANAGER
        )
        sys.stdout.write(result.stdout)
        if not result.ok:
            sys.stderr.write(f"llmkube: error: kubectl apply failed: {result.message() or f'exit code {result.returncode}'}\n")
            if "conflict" in result.stderr.lower() and not force_conflicts:
                sys.stderr.write("  hint: another field manager owns these fields; --force-conflicts takes them over\n")
            sys.stderr.write("llmkube: node labels were not set and nothing was pruned\n")
            return 1

    for step in plan.node_labels:
        result = kc.label_nodes(step.selector, step.labels, dry_run=dry_run_server)
        out = result.stdout.strip()
        if result.ok and (not out or "no resources found" in (out + result.stderr).lower()):
            note(f"pool {step.pool!r}: no node matches {_selector_text(step.selector)}; no node was labelled")
            continue
        sys.stdout.write(result.stdout)
        if not result.ok:
            sys.stderr.write(f"llmkube: error: kubectl label nodes failed: {result.message() or f'exit code {result.returncode}'}\n")
            return 1

    if prune:
        return _prune(kc, plan, dry_run_server)
    return 0


# --------------------------------------------------------------------------- preparation


@dataclass
class _Plan:
    objects: list[dict[str, Any]]
    node_labels: list[NodeLabelStep]
    apply_set: str
    resources: dict[tuple[str, str], APIResource] = field(default_factory=dict)

    @property
    def manifest(self) -> str:
        return dump_yaml_documents(self.objects)


def _prepare(
    paths: Sequence[str],
    opts: InputOptions,
    kc: Kubectl,
    namespace: str | None,
    apply_set: str | None,
    *,
    for_apply: bool,
) -> _Plan | int:
    """Everything up to the kubectl diff/apply run; an int is the exit code to stop with."""
    set_name = apply_set or os.environ.get(APPLY_SET_ENV) or DEFAULT_APPLY_SET
    if not _LABEL_VALUE.match(set_name):
        raise InputError(f"invalid apply set name {set_name!r}", hint="use at most 63 characters [A-Za-z0-9-_.]")
    if namespace is not None and not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", namespace):
        raise InputError(f"invalid --namespace {namespace!r}", hint="a namespace name is a DNS label: [a-z0-9-]")

    rendering, manifests = load_and_render(paths, opts.pipeline())
    targets = rendered_targets(rendering.objects) + manifests
    if not targets and not rendering.node_labels:
        raise InputError("no Kubernetes objects or llmkube specs found in the given paths")

    # 1. offline checks: an error stops before kubectl runs
    missing, problems = split_missing_schemas(check_targets(targets, opts))
    if _has_errors(problems):
        return _refuse(problems, len(targets), opts.color, for_apply, offline=True)
    warnings = list(problems)

    # 2. the cluster: context, served kinds
    kc.check_context()
    served = _Served(kc)
    unserved = _unserved_lines(targets, served, build_validator(opts.crd_dirs, opts.kube_version, opts.use_cache))
    if unserved:
        for line in unserved:
            sys.stderr.write(f"llmkube: error: {line}\n")
        sys.stderr.write("llmkube: nothing was " + ("applied" if for_apply else "compared") + "\n")
        return 2

    # 3. namespaces and the apply-set label, on copies
    objects = [copy.deepcopy(t.obj) for t in targets]
    default_ns = namespace
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        res = served.resource(obj)
        if res is not None and res.namespaced and not meta.get("namespace"):
            if default_ns is None:
                default_ns = kc.default_namespace()
            meta["namespace"] = default_ns
        elif res is not None and not res.namespaced:
            meta.pop("namespace", None)
        labels = meta.get("labels") or {}
        labels[APPLY_SET_LABEL] = set_name
        meta["labels"] = labels
    objects = order_for_apply(objects)

    # 4. one read for what the checks still need: the target namespaces, and the CRDs
    #    of custom resources that had no schema offline
    wanted = {o["metadata"]["namespace"]: object_label(o) for o in reversed(objects) if o["metadata"].get("namespace")}
    for o in objects:
        if o.get("kind") == "Namespace" and "/" not in str(o.get("apiVersion")):
            wanted.pop(o["metadata"].get("name"), None)
    labels_missing = {f.object for f in missing}
    crd_names = sorted(
        {
            res.qualified_name
            for t in targets
            if object_label(t.obj) in labels_missing and (res := served.resource(t.obj)) is not None and res.group
        }
    )
    refs = [f"namespaces/{ns}" for ns in sorted(wanted)] + [f"{CRD_RESOURCE}/{n}" for n in crd_names]
    try:
        found = kc.get_objects(refs)
    except InputError as exc:  # e.g. no permission to read namespaces: fetch the CRDs alone
        note(f"could not check that the target namespaces exist ({exc.message})")
        found = [*kc.get_crds(crd_names)] if crd_names else []
        found += [{"kind": "Namespace", "metadata": {"name": ns}} for ns in wanted]
    existing = {o["metadata"]["name"] for o in found if o.get("kind") == "Namespace"}
    crds = [o for o in found if o.get("kind") == "CustomResourceDefinition"]

    if missing:
        problems, still_missing = _check_with_crds(crds, targets, missing, opts)
        if _has_errors(problems):
            return _refuse(problems, len(targets), opts.color, for_apply, offline=False)
        warnings += problems
        if still_missing:
            kinds = sorted({f.object.split("/")[0] for f in still_missing})
            note(f"not checked, no schema for {', '.join(kinds)} (the API server checks them)")

    absent = sorted(set(wanted) - existing)
    if absent:
        for ns in absent:
            sys.stderr.write(
                f"llmkube: error: namespace {ns!r} does not exist (needed by {wanted[ns]}): "
                f"create it (kubectl create namespace {ns}) or pass a Namespace manifest with the specs\n"
            )
        sys.stderr.write("llmkube: nothing was " + ("applied" if for_apply else "compared") + "\n")
        return 2
    if warnings:
        write_report(warnings, "text", checked=len(targets), stream=sys.stderr, color=opts.color)
    resources = {(r.group, r.kind): r for r in served.resources}
    return _Plan(objects=objects, node_labels=list(rendering.node_labels), apply_set=set_name, resources=resources)


def order_for_apply(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable sort by kind so that an empty cluster accepts the objects in one pass."""
    rank = {kind: i for i, kind in enumerate(APPLY_ORDER)}
    return sorted(objects, key=lambda o: rank.get(str(o.get("kind")), len(APPLY_ORDER)))


def _has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def _refuse(problems: list[Finding], checked: int, color: str, for_apply: bool, *, offline: bool) -> int:
    what = "nothing was applied" if for_apply else "nothing was compared"
    how = " (kubectl was not run)" if offline else " (only read from the cluster)"
    sys.stderr.write(f"llmkube: the manifests fail their checks; {what}{how}\n")
    write_report(problems, "text", checked=checked, stream=sys.stderr, color=color)
    return 1


# --------------------------------------------------------------------------- what the cluster serves


class _Served:
    """What the cluster serves: resource types by group and kind (`kubectl api-resources`);
    every served group/version (`kubectl api-versions`) only when an object asks for a
    version other than the one discovery prefers."""

    def __init__(self, kc: Kubectl) -> None:
        self._kc = kc
        self.resources = kc.api_resources()
        self._by_kind = {(r.group, r.kind): r for r in self.resources}
        self._versions: set[str] | None = None

    @property
    def versions(self) -> set[str]:
        if self._versions is None:
            self._versions = set(self._kc.api_versions())
        return self._versions

    def group_versions(self, group: str) -> list[str]:
        return sorted(gv.rpartition("/")[2] for gv in self.versions if gv.rpartition("/")[0] == group)

    def resource(self, obj: dict) -> APIResource | None:
        """The served resource type of obj's group and kind (None if the cluster lacks it)."""
        group, _, _ = str(obj.get("apiVersion", "")).rpartition("/")
        return self._by_kind.get((group, str(obj.get("kind"))))

    def serves(self, obj: dict) -> bool:
        res = self.resource(obj)
        if res is None:
            return False
        api_version = str(obj.get("apiVersion"))
        preferred = f"{res.group}/{res.version}" if res.group else res.version
        return api_version == preferred or api_version in self.versions


def _unserved_lines(targets: Sequence[Target], served: _Served, validator: Any) -> list[str]:
    """One line per apiVersion/kind the cluster does not serve, naming the CRD to install."""
    seen: dict[tuple[str, str], None] = {}
    for t in targets:
        if not served.serves(t.obj):
            seen.setdefault((str(t.obj.get("apiVersion")), str(t.obj.get("kind"))), None)
    lines = []
    for api_version, kind in seen:
        group, _, version = api_version.rpartition("/")
        if not group:
            lines.append(f"the cluster does not serve {kind} ({api_version})")
            continue
        res = served.resource({"apiVersion": api_version, "kind": kind})
        if res is not None:  # the kind exists, this version does not
            other = ", ".join(served.group_versions(group)) or res.version
            hint = " (or render with --kueue-api v1beta1)" if group == "kueue.x-k8s.io" and "v1beta1" in other else ""
            lines.append(
                f"the cluster serves {kind} ({group}) at {other}, not {version}: "
                f"upgrade the CRD {res.qualified_name}{hint}"
            )
            continue
        crd = f"{_plural(group, kind, validator)}.{group}"
        project = _PROJECTS.get(group)
        by = f" (from {project})" if project else ""
        lines.append(f"the cluster does not serve {kind} ({api_version}): install the CRD {crd}{by}")
    return lines


def _plural(group: str, kind: str, validator: Any) -> str:
    """The CRD's plural from a local CRD when there is one, else the usual English plural."""
    store = getattr(validator, "crds", None)
    if store is not None:
        for v in store._versions(group, kind) or []:  # noqa: SLF001 - read-only lookup
            if v.plural:
                return v.plural
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    return low + "s"


def _check_with_crds(
    crds: Sequence[dict],
    targets: Sequence[Target],
    missing: Sequence[Finding],
    opts: InputOptions,
) -> tuple[list[Finding], list[Finding]]:
    """Check the objects that had no schema again, with the CRDs read from the cluster."""
    if not crds:
        return [], list(missing)
    labels = {f.object for f in missing}
    with tempfile.TemporaryDirectory(prefix="llmkube-cluster-crds-") as tmp:
        for crd in crds:  # JSON: much faster to write than YAML, and the store reads it alike
            name = str(crd.get("metadata", {}).get("name", ""))
            if re.match(r"^[a-z0-9][a-z0-9.-]*$", name):
                crd = {k: v for k, v in crd.items() if k != "status"}
                (Path(tmp) / f"{name}.json").write_text(json.dumps(crd), encoding="utf-8")
        again = [t for t in targets if object_label(t.obj) in labels]
        with_cluster_crds = dataclasses.replace(opts, crd_dirs=[*opts.crd_dirs, Path(tmp)])
        still_missing, problems = split_missing_schemas(check_targets(again, with_cluster_crds, rules=False))
    return problems, still_missing


# --------------------------------------------------------------------------- node labels


@dataclass
class _LabelChange:
    step: NodeLabelStep
    node: str
    changes: list[tuple[str, str | None, str]]


def _node_label_changes(kc: Kubectl, steps: Sequence[NodeLabelStep]) -> list[_LabelChange]:
    out: list[_LabelChange] = []
    for step in steps:
        nodes = kc.list_nodes(step.selector)
        if not nodes:
            note(f"pool {step.pool!r}: no node matches {_selector_text(step.selector)}; apply would label none")
        for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
            current = node["metadata"].get("labels") or {}
            changes = [(k, current.get(k), v) for k, v in sorted(step.labels.items()) if current.get(k) != v]
            if changes:
                out.append(_LabelChange(step, node["metadata"]["name"], changes))
    return out


def _format_label_changes(changes: Sequence[_LabelChange]) -> str:
    lines = []
    last = None
    for c in changes:
        if c.step is not last:
            lines.append(f"node labels for pool {c.step.pool!r} (nodes matching {_selector_text(c.step.selector)}):")
            last = c.step
        for key, old, new in c.changes:
            before = "(unset)" if old is None else old
            lines.append(f"  node/{c.node}: {key}: {before} -> {new}")
    return "\n".join(lines) + "\n"


def _selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


# --------------------------------------------------------------------------- pruning


def _prune(kc: Kubectl, plan: _Plan, dry_run: bool) -> int:
    """Delete objects of this apply set that llmkube applied earlier and that left the specs.

    An object is pruned only when it carries `llmkube.dev/apply-set=<set>`, llmkube
    (field manager "llmkube") applied it, and no other manager applied or edited its
    spec -- a shared object (say the GPU Operator's ClusterPolicy, whose MIG fields
    llmkube sets) is left alone. Namespaces and CRDs are never pruned.
    """
    kinds = set(RENDERED_KINDS)
    for obj in plan.objects:
        group, _, _ = str(obj.get("apiVersion")).rpartition("/")
        kinds.add((group, str(obj.get("kind"))))
    kinds -= NEVER_PRUNED
    resources = [plan.resources[k].qualified_name for k in sorted(kinds) if k in plan.resources and "list" in plan.resources[k].verbs]
    found = kc.get_objects(
        resources, selector={APPLY_SET_LABEL: plan.apply_set}, all_namespaces=True, managed_fields=True
    )
    current = {_key(o) for o in plan.objects}
    doomed, shared = [], []
    for obj in found:
        if _key(obj) in current or not _applied_by_llmkube(obj):
            continue
        (shared if _shared(obj) else doomed).append(obj)
    for obj in shared:
        note(f"{object_label(obj)} left the specs but other field managers own it too; not pruned")
    if not doomed:
        return 0
    doomed = list(reversed(order_for_apply(doomed)))
    result = kc.delete(doomed, dry_run=dry_run)
    sys.stdout.write(result.stdout)
    if not result.ok:
        sys.stderr.write(f"llmkube: error: pruning failed: {result.message() or f'exit code {result.returncode}'}\n")
        return 1
    return 0


def _key(obj: dict) -> tuple[str, str, str, str]:
    group, _, _ = str(obj.get("apiVersion")).rpartition("/")
    meta = obj.get("metadata") or {}
    return (group, str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def _applied_by_llmkube(obj: dict) -> bool:
    return any(
        m.get("manager") == FIELD_MANAGER and m.get("operation") == "Apply"
        for m in (obj.get("metadata") or {}).get("managedFields") or []
    )


def _shared(obj: dict) -> bool:
    """Another manager applied it, or edited its spec (controllers writing status or metadata don't count)."""
    for m in (obj.get("metadata") or {}).get("managedFields") or []:
        if m.get("manager") == FIELD_MANAGER or m.get("subresource"):
            continue
        fields = m.get("fieldsV1") or {}
        if m.get("operation") == "Apply" or any(k != "f:metadata" and k != "f:status" for k in fields):
            return True
    return False
