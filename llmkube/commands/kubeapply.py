"""`llmkube diff` and `llmkube apply`: render, check, then kubectl server-side diff/apply.

Both commands take the same path:

1. load and render the specs; plain manifests given beside them come along;
2. check everything offline -- the schemas at hand, CEL rules, the LLM-aware
   rules (as `llmkube validate` does) -- an error stops here, before kubectl runs
   at all; warnings are shown and do not stop;
3. ask the cluster (through `llmkube.kubectl`, the only module that runs kubectl)
   which kinds it serves: a kind it does not serve is refused with one line naming
   the CRD to install, before anything is sent -- unless a CRD among the inputs
   defines it: `apply` then sends the custom resources of those new CRDs once the
   CRDs are Established, and a server dry run (`diff`, `apply --dry-run=server`),
   which creates no CRD, holds them back (checked offline only); custom resources
   that had no schema offline are checked against the CRDs fetched from the cluster;
4. give namespaced objects without a namespace `--namespace` (else the context's
   namespace), refuse when a target namespace does not exist, label every object
   with its apply set (`llmkube.dev/apply-set`) -- `apply --create-namespace` sends the
   missing namespaces first instead of refusing --, refuse to drop another Fleet's MIG or
   sharing configs from the GPU Operator's shared ConfigMaps (`apply --prune` drops them;
   `diff` says what it would drop), and order the objects so that an
   empty cluster accepts them (namespaces, CRDs, Kueue flavors and cluster queues
   before local queues, ConfigMaps before what reads them, workloads last);
5. `kubectl diff|apply --server-side --field-manager=llmkube -f -` (for `apply`, then
   `kubectl wait --for=condition=Established` on the new CRDs and a second apply of
   their custom resources), then the node
   labels MIG and GPU sharing need (`diff` lists them, `apply` sets them), then --
   for `apply --prune` -- delete what llmkube applied earlier to the same apply set
   that left the specs (`diff` says how many there are; `diff --prune` lists them).

Exit codes. diff: 0 no changes · 1 changes (objects or node labels) · 2 check
errors, missing CRDs/namespaces, no kubectl, unknown context, unreachable cluster
(kubectl's own exit code above 1 is passed on). apply: 0 applied · 1 refused by
the checks or rejected by the API server · 2 as for diff (nothing was applied) ·
4 a kubectl run that changes the cluster (apply, label, delete) timed out
(`--timeout`), was killed, or Ctrl-C came once it had started: its outcome is
unknown (Ctrl-C before that is an ordinary interrupt, 130).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from llmkube import cluster, pipeline
from llmkube.check.findings import Finding, Severity, object_label
from llmkube.check.run import Target
from llmkube.cluster import FIELD_MANAGER
from llmkube.commands.common import error, note
from llmkube.errors import InputError
from llmkube.federation import ClusterSet, by_cluster, cluster_contexts, parse_cluster_contexts
from llmkube.kubectl import DEFAULT_TIMEOUT, APIResource, Kubectl, KubectlResult
from llmkube.options import Options
from llmkube.pipeline import NodeLabelStep
from llmkube.records import record
from llmkube.report import write_report
from llmkube.yamlio import dump_yaml, dump_yaml_documents

# --------------------------------------------------------------------------- entry points

EXIT_UNKNOWN = 4  # a kubectl run that changes the cluster timed out or was killed: outcome unknown


def run_diff(
    paths: Sequence[str],
    options: Options,
    *,
    context: str | None,
    kubeconfig: str | None,
    namespace: str | None,
    color: str,
    apply_set: str | None = None,
    kubectl: Kubectl | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    prune: bool = False,
    ignore_missing_schemas: bool = False,
    clusters: Sequence[str] = (),
    cluster_context: Sequence[str] = (),
) -> int:
    run, sets = _federation(paths, options, context, clusters, cluster_context)
    if sets is not None:
        worst = 0
        for one, kc in _kubectls(sets, kubectl, kubeconfig, timeout):
            note(f"cluster {one.name} (kubectl context {kc.context or 'current'}):")
            code = _diff_one(paths, options, kc, namespace, apply_set, color, run, one, prune, ignore_missing_schemas)
            if code > 1:
                return code
            worst = max(worst, code)
        return worst
    kc = kubectl or Kubectl(context=context, kubeconfig=kubeconfig, timeout=timeout)
    return _diff_one(paths, options, kc, namespace, apply_set, color, run, None, prune, ignore_missing_schemas)


def _diff_one(
    paths: Sequence[str],
    options: Options,
    kc: Kubectl,
    namespace: str | None,
    apply_set: str | None,
    color: str,
    run: pipeline.Run,
    only: ClusterSet[Target] | None,
    prune: bool,
    ignore_missing_schemas: bool,
) -> int:
    """diff for one cluster (all of the run's objects, or one federation cluster's)."""
    try:
        plan = _prepare(
            paths, options, kc, namespace, apply_set, for_apply=False, color=color, dry_run_server=True,
            ignore_missing_schemas=ignore_missing_schemas, run=run, only=only,
        )
    except _Stopped:
        return 2  # a failed check is an error for diff: 1 means "changes"

    code = 0
    if plan.objects:
        result = kc.diff(plan.manifest, field_manager=FIELD_MANAGER)
        sys.stdout.write(result.stdout)
        if result.returncode > 1:
            error(f"kubectl diff failed: {_why(result)}")
            return result.returncode
        code = result.returncode
    for obj in plan.held_back:
        sys.stdout.write(cluster.new_object_diff(obj, dump_yaml(obj)))
        code = 1
    label_changes = []
    for step in plan.node_labels:
        nodes = kc.list_nodes(step.selector)
        if not nodes:
            note(f"pool {step.pool!r}: no node matches {cluster.selector_text(step.selector)}; apply would label none")
        label_changes += cluster.node_label_changes(step, nodes)
    if label_changes:
        sys.stdout.write(cluster.format_label_changes(label_changes))
        code = 1
    return max(code, _diff_prune(kc, plan, prune))


def _diff_prune(kc: Kubectl, plan: _Plan, prune: bool) -> int:
    """What `apply --prune` would delete: listed on stdout with --prune (a change: exit 1, as
    `kubectl diff --prune` counts it), else one note saying how many."""
    try:
        candidates = _prune_candidates(kc, plan, quiet=not prune)
    except InputError:
        if prune:
            raise
        return 0  # e.g. no permission to list across namespaces: the note is not worth failing a diff
    if not candidates.doomed:
        return 0
    if not prune:
        n = len(candidates.doomed)
        note(f"{n} object{'s' if n != 1 else ''} of apply set {plan.apply_set!r} left the specs: apply --prune would delete them (diff --prune lists them)")
        return 0
    sys.stdout.write(cluster.format_prune_list(candidates.doomed, plan.apply_set))
    return 1


def run_apply(
    paths: Sequence[str],
    options: Options,
    *,
    context: str | None,
    kubeconfig: str | None,
    namespace: str | None,
    color: str,
    dry_run_server: bool,
    force_conflicts: bool,
    prune: bool,
    apply_set: str | None = None,
    kubectl: Kubectl | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    create_namespace: bool = False,
    ignore_missing_schemas: bool = False,
    clusters: Sequence[str] = (),
    cluster_context: Sequence[str] = (),
) -> int:
    run, sets = _federation(paths, options, context, clusters, cluster_context)
    flags = {
        "dry_run_server": dry_run_server,
        "force_conflicts": force_conflicts,
        "prune": prune,
        "create_namespace": create_namespace,
        "ignore_missing_schemas": ignore_missing_schemas,
    }
    if sets is None:
        kc = kubectl or Kubectl(context=context, kubeconfig=kubeconfig, timeout=timeout)
        return _apply_one(paths, options, kc, namespace, apply_set, color, run, None, **flags)
    done: list[str] = []
    for one, kc in _kubectls(sets, kubectl, kubeconfig, timeout):
        note(f"cluster {one.name} (kubectl context {kc.context or 'current'}):")
        code = _apply_one(paths, options, kc, namespace, apply_set, color, run, one, **flags)
        if code:
            left = [s.name for s, _ in sets if s.name not in done and s.name != one.name]
            sys.stderr.write(
                f"llmkube: stopped at cluster {one.name}; applied before it: {', '.join(done) or 'none'}; "
                f"not attempted: {', '.join(left) or 'none'}\n"
            )
            return code
        done.append(one.name)
    return 0


def _apply_one(
    paths: Sequence[str],
    options: Options,
    kc: Kubectl,
    namespace: str | None,
    apply_set: str | None,
    color: str,
    run: pipeline.Run,
    only: ClusterSet[Target] | None,
    *,
    dry_run_server: bool,
    force_conflicts: bool,
    prune: bool,
    create_namespace: bool,
    ignore_missing_schemas: bool,
) -> int:
    """apply to one cluster (all of the run's objects, or one federation cluster's)."""
    try:
        plan = _prepare(
            paths,
            options,
            kc,
            namespace,
            apply_set,
            for_apply=True,
            color=color,
            create_namespace=create_namespace,
            dry_run_server=dry_run_server,
            ignore_missing_schemas=ignore_missing_schemas,
            run=run,
            only=only,
            prune=prune,
        )
    except _Stopped as stop:
        return stop.code

    progress = _Progress(dry_run_server)
    try:
        return _send(kc, plan, progress, dry_run_server=dry_run_server, force_conflicts=force_conflicts, prune=prune)
    except KeyboardInterrupt:
        if progress.step is None:
            raise  # nothing was sent yet: an ordinary interrupt (exit 130)
        error(f"interrupted during {progress.step}: its outcome is unknown, part or all of it may have been applied")
        sys.stderr.write(f"llmkube: {progress.before}; check the cluster (llmkube diff) before running apply again\n")
        return EXIT_UNKNOWN


def _federation(
    paths: Sequence[str], options: Options, context: str | None, selected: Sequence[str], cluster_context: Sequence[str]
) -> tuple[pipeline.Run, list[tuple[ClusterSet[Target], str | None]] | None]:
    """The run, and for a federation (Quota `multiKueue`, or manifests annotated
    `llmkube.dev/cluster`) each cluster's objects with the context to send them with:
    workers first (their queues exist before the manager dispatches), the manager last.
    None: one cluster, as always."""
    run = pipeline.run(paths, options)
    sets = by_cluster(run.targets, run.rendering.clusters)
    contexts = parse_cluster_contexts(cluster_context)
    if len(sets) == 1 and not sets[0].name:
        if selected or contexts:
            raise InputError(
                "--cluster and --cluster-context are for the clusters of a federation; these inputs are for one cluster",
                hint="use --context to pick the cluster",
            )
        return run, None
    return run, cluster_contexts(sets, selected, contexts, context)


def _kubectls(
    sets: list[tuple[ClusterSet[Target], str | None]], kubectl: Kubectl | None, kubeconfig: str | None, timeout: float
) -> list[tuple[ClusterSet[Target], Kubectl]]:
    """A kubectl per cluster, every context checked before the first cluster is touched."""
    out = [(one, kubectl or Kubectl(context=ctx, kubeconfig=kubeconfig, timeout=timeout)) for one, ctx in sets]
    for _, kc in out:
        kc.check_context()
    return out


@record
class _Progress:
    """The change being sent, for an interrupt: before the first one (or in a dry run) nothing was applied."""

    dry_run: bool
    step: str | None = None
    before: str = ""

    def start(self, step: str, before: str) -> None:
        if not self.dry_run:
            self.step, self.before = step, before


def _send(kc: Kubectl, plan: _Plan, progress: _Progress, *, dry_run_server: bool, force_conflicts: bool, prune: bool) -> int:
    """The kubectl runs that change the cluster: apply (the custom resources of the run's new
    CRDs once those are Established), node labels, prune."""
    rest = "node labels were not set and nothing was pruned"
    later = f"{_count(plan.after_crds, 'custom resource')} of the new CRDs {'were' if len(plan.after_crds) != 1 else 'was'} not applied"
    if plan.objects:
        pending = f"{later}, {rest}" if plan.after_crds else rest
        code = _apply(kc, plan.manifest, progress, "kubectl apply", pending, dry_run_server=dry_run_server, force_conflicts=force_conflicts)
        if code:
            return code
    if plan.after_crds:
        progress.start("waiting for the new CRDs to be Established", f"the other objects were applied; {later}, {rest}")
        waited = kc.wait_established(plan.new_crds)
        if not waited.ok:
            error(f"the new CustomResourceDefinitions were not Established: {_why(waited)}")
            sys.stderr.write(f"llmkube: the other objects were applied; {later}, {rest}\n")
            return 1
        code = _apply(kc, dump_yaml_documents(plan.after_crds), progress, "kubectl apply (custom resources of the new CRDs)",
                      f"the other objects were applied; {rest}", dry_run_server=dry_run_server, force_conflicts=force_conflicts)
        if code:
            return code

    for step in plan.node_labels:
        done = "the objects were applied" if plan.objects or plan.after_crds else "no objects to apply"
        progress.start(f"kubectl label nodes (pool {step.pool!r})", f"{done}; nothing was pruned")
        result = kc.label_nodes(step.selector, step.labels, dry_run=dry_run_server)
        out = result.stdout.strip()
        if result.ok and (not out or "no resources found" in (out + result.stderr).lower()):
            note(f"pool {step.pool!r}: no node matches {cluster.selector_text(step.selector)}; no node was labelled")
            continue
        sys.stdout.write(result.stdout)
        if result.unknown:
            return _unknown(f"kubectl label nodes (pool {step.pool!r})", result, kc, "the objects were applied; nothing was pruned")
        if not result.ok:
            error(f"kubectl label nodes failed: {_why(result)}")
            return 1

    if prune:
        progress.start("pruning", "the objects were applied and the nodes labelled")
        return _prune(kc, plan, dry_run_server)
    return 0


def _apply(
    kc: Kubectl, manifest: str, progress: _Progress, step: str, not_done: str, *, dry_run_server: bool, force_conflicts: bool
) -> int:
    """One `kubectl apply` of `manifest`: 0 applied, else the exit code after saying what failed
    and what was `not_done` because of it."""
    progress.start(step, not_done)
    result = kc.apply(manifest, dry_run_server=dry_run_server, force_conflicts=force_conflicts, field_manager=FIELD_MANAGER)
    sys.stdout.write(result.stdout)
    if result.unknown:
        return _unknown(step, result, kc, not_done)
    if not result.ok:
        error(f"{step} failed: {_why(result)}")
        if "conflict" in result.stderr.lower() and not force_conflicts:
            sys.stderr.write("  hint: another field manager owns these fields; --force-conflicts takes them over\n")
        sys.stderr.write(f"llmkube: {not_done}\n")
        return 1
    return 0


def _unknown(step: str, result: KubectlResult, kc: Kubectl, before: str) -> int:
    """A change that may or may not have reached the cluster: say so, never "nothing was applied"."""
    how = f"did not finish within {kc.timeout:g} s" if result.returncode == -1 else f"was killed (signal {-result.returncode})"
    error(f"{step} {how}: its outcome is unknown, part or all of it may have been applied")
    sys.stderr.write(f"llmkube: {before}; check the cluster (llmkube diff) before running apply again\n")
    return EXIT_UNKNOWN


def _why(result: KubectlResult) -> str:
    return result.message() or f"exit code {result.returncode}"


# --------------------------------------------------------------------------- preparation


@record(frozen=True)
class _Plan:
    objects: list[dict[str, Any]]
    node_labels: list[NodeLabelStep]
    apply_set: str
    resources: dict[tuple[str, str], APIResource]
    held_back: list[dict[str, Any]] = field(default_factory=list)  # in a namespace a dry run cannot create
    # custom resources of kinds only the run's new CRDs serve: applied once those are Established
    after_crds: list[dict[str, Any]] = field(default_factory=list)
    new_crds: list[str] = field(default_factory=list)  # the names of those CRDs

    @property
    def manifest(self) -> str:
        return dump_yaml_documents(self.objects)

    @property
    def everything(self) -> list[dict[str, Any]]:
        """Every object of the run, sent now, after the CRDs, or held back from a dry run."""
        return [*self.objects, *self.after_crds, *self.held_back]


class _Stopped(Exception):
    """Preparation refused the run and said why on stderr; `code` is the exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _prepare(
    paths: Sequence[str],
    options: Options,
    kc: Kubectl,
    namespace: str | None,
    apply_set: str | None,
    *,
    for_apply: bool,
    color: str,
    create_namespace: bool = False,
    dry_run_server: bool = False,
    ignore_missing_schemas: bool = False,
    run: pipeline.Run | None = None,
    only: ClusterSet[Target] | None = None,
    prune: bool = False,
) -> _Plan:
    """Everything up to the kubectl diff/apply run; raises _Stopped after saying why it stops.

    `create_namespace` (apply): target namespaces the cluster lacks are sent first, as helm's
    `--create-namespace` does, instead of refusing. `dry_run_server`: objects in a namespace that
    does not exist yet (created by `create_namespace` or by a Namespace among the manifests) are
    held back, since a dry run creates no namespace for them. `ignore_missing_schemas`: custom resources
    without an offline schema are not checked against the cluster's CRDs either (the API server
    still validates them), and the note about them is dropped. `only`: one cluster's objects of
    a federation (the checks still cover the whole run; node labels go with the manager's set,
    where the Fleet's objects are). `prune` (apply): pool configs of the shared GPU Operator
    ConfigMaps that the run no longer renders may go; without it apply stops before dropping them."""
    set_name = cluster.apply_set_name(apply_set, os.environ)
    cluster.check_namespace_name(namespace)
    what = "nothing was applied" if for_apply else "nothing was compared"

    run = run or pipeline.run(paths, options)
    targets = run.targets if only is None else only.objects
    node_labels = list(run.rendering.node_labels) if only is None or only.manager else []
    if not targets and not node_labels:
        raise InputError("no Kubernetes objects or llmkube specs found in the given paths")

    # 1. offline checks: an error stops before kubectl runs
    _refuse_errors(run.problems, len(targets), color, f"{what} (kubectl was not run)")
    warnings = list(run.problems)

    # 2. the cluster: context, served kinds (and those the run's new CRDs will serve)
    kc.check_context()
    served = cluster.Served(kc.api_resources(), kc.api_versions)
    defined = cluster.defined_kinds(t.obj for t in targets)
    served_after = served.with_new_crds(defined)
    _stop_on(cluster.unserved_lines([t.obj for t in targets], served_after, run.crds), what)

    # 3. namespaces and the apply-set label, on copies
    objects = cluster.objects_to_send([t.obj for t in targets], served_after, set_name, namespace, kc.default_namespace)

    # 4. one read for what the checks still need: the target namespaces, and the CRDs
    #    of custom resources that had no schema offline
    wanted = cluster.namespaces_needed(objects)
    sent_along = cluster.namespaces_sent_along(objects) if dry_run_server else {}
    missing = [] if ignore_missing_schemas else run.missing_schemas
    crd_names = cluster.crds_to_read([t.obj for t in targets], missing, served)
    found = _read_cluster(kc, {**wanted, **sent_along}, crd_names)

    if missing:
        crds = [o for o in found if o.get("kind") == "CustomResourceDefinition"]
        problems, still_missing = _check_with_crds(crds, targets, missing, options)
        _refuse_errors(problems, len(targets), color, f"{what} (only read from the cluster)")
        warnings += problems
        if still_missing:
            kinds = sorted({f.object.split("/")[0] for f in still_missing})
            note(f"not checked, no schema for {', '.join(kinds)} (the API server checks them)")

    objects, held_back = _target_namespaces(
        objects, wanted, sent_along, found, create_namespace=create_namespace, dry_run_server=dry_run_server, for_apply=for_apply
    )
    objects, held_back, after_crds, new_crds = _after_new_crds(
        objects, held_back, served, defined, dry_run_server=dry_run_server, for_apply=for_apply)
    _check_shared_gpu_configs(kc, [*objects, *after_crds], for_apply=for_apply, prune=prune, what=what)
    if warnings:
        write_report(warnings, "text", checked=len(targets), stream=sys.stderr, color=color)
    return _Plan(
        objects=objects, node_labels=node_labels, apply_set=set_name, resources=served.by_kind(), held_back=held_back,
        after_crds=after_crds, new_crds=new_crds,
    )


def _after_new_crds(
    objects: list[dict[str, Any]],
    held_back: list[dict[str, Any]],
    served: cluster.Served,
    defined: Sequence[cluster.DefinedKind],
    *,
    dry_run_server: bool,
    for_apply: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """The custom resources of the run's new CRDs, split off the objects sent first: applied once the
    CRDs are Established, or held back from a server dry run, which creates no CRD (with a note).
    Returns (objects, held back, after the CRDs, the CRDs to wait for)."""
    objects, after_crds, new_crds = cluster.waiting_for_crds(objects, served, defined)
    if not (after_crds and dry_run_server):
        return objects, held_back, after_crds, new_crds
    shown = "checked offline only, not by the API server" if for_apply else "shown as new, as sent (not defaulted by the server)"
    note(
        f"{_count(after_crds, 'custom resource')} of the run's new CustomResourceDefinitions ({', '.join(new_crds)}) "
        f"{'were' if len(after_crds) != 1 else 'was'} {shown}: a server dry run creates no CRD"
    )
    return objects, [*held_back, *after_crds], [], []


def _count(objects: Sequence[Any], what: str) -> str:
    return f"{len(objects)} {what}{'s' if len(objects) != 1 else ''}"


def _target_namespaces(
    objects: list[dict[str, Any]],
    wanted: dict[str, str],
    sent_along: dict[str, str],
    found: list[dict[str, Any]],
    *,
    create_namespace: bool,
    dry_run_server: bool,
    for_apply: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Namespaces the cluster lacks: created first (`--create-namespace`) or the run stops; in a
    server dry run, the objects inside a namespace that does not exist yet are held back.
    Returns (objects to send, objects held back)."""
    created: list[str] = []
    if create_namespace:
        created = cluster.absent_namespaces(wanted, found)
        for ns in created:
            note(f"namespace {ns!r} does not exist (needed by {wanted[ns]}): --create-namespace creates it")
        objects = cluster.namespace_objects(created) + objects
    else:
        what = "nothing was applied" if for_apply else "nothing was compared"
        _stop_on(cluster.absent_namespace_lines(wanted, found, for_apply=for_apply), what)
    if not dry_run_server:
        return objects, []
    new = [*created, *cluster.absent_namespaces(sent_along, found)]
    objects, held_back = cluster.hold_back_for_dry_run(objects, new)
    shown = "checked offline only, not by the API server" if for_apply else "shown as new, as sent (not defaulted by the server)"
    for ns, count in cluster.count_by_namespace(held_back).items():
        note(
            f"namespace {ns!r} does not exist yet and a server dry run creates nothing: "
            f"its {count} object{'s were' if count != 1 else ' was'} {shown}"
        )
    return objects, held_back


def _check_shared_gpu_configs(kc: Kubectl, objects: list[dict[str, Any]], *, for_apply: bool, prune: bool, what: str) -> None:
    """The GPU Operator's ConfigMaps are shared by a cluster's Fleets: one that the run renders
    without another Fleet's pool configs would drop them (cluster.dropped_pool_config_lines).
    apply stops (exit 2) unless `--prune` says the run is the whole desired state; diff says so."""
    maps = cluster.gpu_config_maps(objects)
    if not maps:
        return
    live = []
    for cm in maps:
        meta = cm["metadata"]
        try:
            found = kc.get_object("configmaps", meta["name"], meta["namespace"])
        except InputError as exc:  # e.g. no permission to read the operator's namespace
            note(f"could not read ConfigMap {meta['namespace']}/{meta['name']} to keep other Fleets' pool configs ({exc.message})")
            continue
        if found is not None:
            live.append(found)
    lines = cluster.dropped_pool_config_lines(maps, live, for_apply=for_apply)
    if for_apply and not prune:
        _stop_on(lines, what)
    for line in lines:
        note(line)


def _refuse_errors(problems: Sequence[Finding], checked: int, color: str, what: str) -> None:
    """Stop (exit 1) when a check found an error."""
    if not any(f.severity is Severity.ERROR for f in problems):
        return
    sys.stderr.write(f"llmkube: the manifests fail their checks; {what}\n")
    write_report(problems, "text", checked=checked, stream=sys.stderr, color=color)
    raise _Stopped(1)


def _stop_on(errors: Sequence[str], what: str) -> None:
    """Stop (exit 2) on what the cluster lacks."""
    if not errors:
        return
    for line in errors:
        error(line)
    sys.stderr.write(f"llmkube: {what}\n")
    raise _Stopped(2)


def _read_cluster(kc: Kubectl, wanted: dict[str, str], crd_names: list[str]) -> list[dict]:
    """The target namespaces that exist and the CRDs asked for, in one read."""
    try:
        return kc.get_objects(cluster.cluster_reads(wanted, crd_names))
    except InputError as exc:  # e.g. no permission to read namespaces: fetch the CRDs alone
        note(f"could not check that the target namespaces exist ({exc.message})")
        found = [*kc.get_crds(crd_names)] if crd_names else []
        return found + [{"kind": "Namespace", "metadata": {"name": ns}} for ns in wanted]


def _check_with_crds(
    crds: Sequence[dict],
    targets: Sequence[Target],
    missing: Sequence[Finding],
    options: Options,
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
        with_cluster_crds = dataclasses.replace(options, crd_dirs=(*options.crd_dirs, Path(tmp)), rules=False)
        still_missing, problems = pipeline.split_missing_schemas(pipeline.check(again, with_cluster_crds))
    return problems, still_missing


# --------------------------------------------------------------------------- pruning


def _prune_candidates(kc: Kubectl, plan: _Plan, *, quiet: bool = False) -> cluster.PruneCandidates:
    """The objects of this apply set that left the specs (`cluster.prune_candidates` decides)."""
    found = kc.get_objects(
        cluster.prune_resources(plan.everything, plan.resources),
        selector={cluster.APPLY_SET_LABEL: plan.apply_set},
        all_namespaces=True,
        managed_fields=True,
    )
    candidates = cluster.prune_candidates(found, plan.everything)
    for obj in [] if quiet else candidates.shared:
        note(f"{object_label(obj)} left the specs but other field managers own it too; not pruned")
    return candidates


def _prune(kc: Kubectl, plan: _Plan, dry_run: bool) -> int:
    """Delete objects of this apply set that llmkube applied earlier and that left the specs.

    An object is pruned only when it carries `llmkube.dev/apply-set=<set>`, llmkube
    (field manager "llmkube") applied it, and no other manager applied or edited its
    spec -- a shared object (say the GPU Operator's ClusterPolicy, whose MIG fields
    llmkube sets) is left alone. Namespaces and CRDs are never pruned.
    """
    candidates = _prune_candidates(kc, plan)
    if not candidates.doomed:
        return 0
    result = kc.delete(candidates.doomed, dry_run=dry_run)
    sys.stdout.write(result.stdout)
    if result.unknown:
        return _unknown("kubectl delete (pruning)", result, kc, "the objects were applied and the nodes labelled")
    if not result.ok:
        error(f"pruning failed: {_why(result)}")
        return 1
    return 0
