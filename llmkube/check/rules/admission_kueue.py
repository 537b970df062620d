"""LK6xx admission: Kueue (v0.19.2) — what its webhooks and flavor assigner refuse beyond CEL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext
from llmkube.check.read.kueue import queue_label
from llmkube.check.read.shape import as_int, as_list, as_mapping, dig, meta
from llmkube.check.read.workloads import POD_KINDS, WORKLOAD_KINDS, PodGroup, is_workload, pod_groups
from llmkube.check.rules import Hit, rule
from llmkube.names import (
    KUEUE_GROUP,
    KUEUE_PODSET_GROUP,
    KUEUE_PREFERRED_TOPOLOGY,
    KUEUE_REQUIRED_TOPOLOGY,
    KUEUE_SLICE_REQUIRED_TOPOLOGY,
    KUEUE_SLICE_SIZE,
)

if TYPE_CHECKING:  # the placement reader is loaded for a workload that has a ClusterQueue in the run
    from llmkube.check.read import placement

# Integrations whose webhooks call ValidatePodSetGroupingTopology (v0.19.2: jobset, leaderworkerset,
# mpijob, raycluster/rayjob webhooks); the others check each PodSet's annotations only.
GROUPING_KINDS = ("JobSet", "LeaderWorkerSet", "MPIJob", "RayCluster", "RayJob")


def _count(group: PodGroup) -> int:
    """A PodSet's count as Kueue makes it (an LWS workload is one group: leader 1, workers size-1)."""
    if group.target.obj.get("kind") == "LeaderWorkerSet":
        lwt = as_mapping(dig(group.target.obj, "spec", "leaderWorkerTemplate"))
        size = as_int(lwt.get("size")) or 1
        return 1 if group.role == "leader" else (size - 1 if lwt.get("leaderTemplate") else size)
    return group.replicas


def _topology(group: PodGroup) -> tuple[str, str] | None:
    for key in (KUEUE_REQUIRED_TOPOLOGY, KUEUE_PREFERRED_TOPOLOGY):
        if group.annotations.get(key):
            return key, str(group.annotations[key])
    return None


def _ann_path(group: PodGroup) -> tuple[str | int, ...]:
    base = group.spec_path[:-1] if group.spec_path and group.spec_path[-1] == "spec" else group.spec_path
    return (*base, "metadata", "annotations", KUEUE_PODSET_GROUP)


@rule("LK608", "kueue-podset-group", Severity.ERROR, "a kueue.x-k8s.io/podset-group-name annotation Kueue's webhook refuses", kinds=POD_KINDS)
def kueue_podset_group(ctx: ReadContext) -> Iterator[Hit]:
    """`kueue.x-k8s.io/podset-group-name` on a pod template asks Kueue's
    topology-aware scheduling to place PodSets with the same value in one
    flavor and one topology domain. Kueue's webhook refuses the workload
    when the value is a number; when the template has neither
    `podset-required-topology` nor `podset-preferred-topology`; when it is
    combined with `podset-slice-size` or `podset-slice-required-topology`;
    and — for JobSet, LeaderWorkerSet, MPIJob and Ray, whose webhooks check
    grouping — when a group does not have exactly 2 PodSets, neither of the
    two has a single pod, or the two ask for different topology levels.
    Checked on jobs with a `kueue.x-k8s.io/queue-name` label (the jobs Kueue
    manages by default).
    Source: kubernetes-sigs/kueue v0.19.2
    `pkg/controller/jobframework/tas_validation.go`
    `ValidateTASPodSetRequest`, `validatePodSetGroupNameAnnotation`,
    `ValidatePodSetGroupingTopology`; cases after its webhook tests
    (`jobset_webhook_test.go`, `leaderworkerset_webhook_test.go`).

    Fails:

    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata:
      name: vllm
      labels: {kueue.x-k8s.io/queue-name: serving}
    spec:
      leaderWorkerTemplate:
        size: 2
        leaderTemplate:
          metadata:
            annotations: {kueue.x-k8s.io/podset-group-name: "1234"}
          spec:
            containers: [{name: vllm, image: vllm/vllm-openai:v0.11.0}]
        workerTemplate:
          metadata:
            annotations: {kueue.x-k8s.io/podset-group-name: "1234"}
          spec:
            containers: [{name: vllm, image: vllm/vllm-openai:v0.11.0}]
    ```

    Passes:

    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata:
      name: vllm
      labels: {kueue.x-k8s.io/queue-name: serving}
    spec:
      leaderWorkerTemplate:
        size: 2
        leaderTemplate:
          metadata:
            annotations:
              kueue.x-k8s.io/podset-group-name: replica
              kueue.x-k8s.io/podset-required-topology: cloud.provider.com/topology-rack
          spec:
            containers: [{name: vllm, image: vllm/vllm-openai:v0.11.0}]
        workerTemplate:
          metadata:
            annotations:
              kueue.x-k8s.io/podset-group-name: replica
              kueue.x-k8s.io/podset-required-topology: cloud.provider.com/topology-rack
          spec:
            containers: [{name: vllm, image: vllm/vllm-openai:v0.11.0}]
    ```
    """
    for target in ctx.subjects:
        if str(target.obj.get("apiVersion", "")).startswith(KUEUE_GROUP + "/") or queue_label(target) is None:
            continue  # Kueue's own objects; a job without a queue-name is not Kueue's to admit
        groups: dict[str, list[PodGroup]] = {}
        for group in pod_groups(target):
            value = group.annotations.get(KUEUE_PODSET_GROUP) if isinstance(group.annotations, Mapping) else None
            if value is None:
                continue
            value = str(value)
            path = _ann_path(group)
            if value.isdigit():
                yield Hit(target, path, f"{group.role}: podset-group-name {value!r} must not be a number", "use a name such as 'replica' or 'leader-workers'")
            for other in (KUEUE_SLICE_SIZE, KUEUE_SLICE_REQUIRED_TOPOLOGY):
                if other in group.annotations:
                    yield Hit(target, path, f"{group.role}: podset-group-name may not be combined with {other}", f"drop {other} or the group name")
            if _topology(group) is None:
                yield Hit(
                    target,
                    path,
                    f"{group.role}: podset-group-name is refused without {KUEUE_REQUIRED_TOPOLOGY} or {KUEUE_PREFERRED_TOPOLOGY}",
                    "add a required or preferred topology level (the same on every PodSet of the group)",
                )
            groups.setdefault(value, []).append(group)
        if target.obj.get("kind") not in GROUPING_KINDS:
            continue
        for value, members in groups.items():
            if len(members) != 2:
                for g in members:
                    yield Hit(
                        target,
                        _ann_path(g),
                        f"{g.role}: podset-group-name {value!r} groups {len(members)} PodSet(s); Kueue accepts groups of exactly 2",
                        "group exactly two PodSets (e.g. a leader and its workers)",
                    )
                continue
            a, b = members
            if _count(a) != 1 and _count(b) != 1:
                yield Hit(
                    target,
                    _ann_path(a),
                    f"group {value!r}: neither PodSet has a single pod ({_count(a)} and {_count(b)}); Kueue refuses the group",
                    "group a single-pod PodSet (leader, launcher) with the PodSet it leads",
                )
            ta, tb = _topology(a), _topology(b)
            if ta and tb and ta != tb:
                yield Hit(
                    target,
                    _ann_path(b),
                    f"group {value!r}: the two PodSets ask for different topologies ({ta[1]} and {tb[1]})",
                    "use the same required (or preferred) topology level on both",
                )


def _flavors(ctx: ReadContext, cq: Any) -> list[tuple[list[str], list[str]]]:
    """(covered resources, flavor names) of each resource group of a ClusterQueue."""
    out = []
    for group in as_list(dig(cq.obj, "spec", "resourceGroups")):
        if isinstance(group, Mapping):
            covered = [str(r) for r in as_list(group.get("coveredResources"))]
            names = [str(f.get("name")) for f in as_list(group.get("flavors")) if isinstance(f, Mapping)]
            out.append((covered, names))
    return out


def _describe(ps: placement.PodSet) -> str:
    parts = [f"{k}={v}" for k, v in sorted(ps.node_selector.items())]
    for term in ps.terms:
        parts += [f"{e.get('key')} {e.get('operator')} {as_list(e.get('values'))}" for e in term]
    return ", ".join(parts) or "no node selection"


@rule("LK609", "kueue-no-flavor-fits", Severity.ERROR, "a job's node selection or tolerations rule out every flavor of its ClusterQueue", kinds=WORKLOAD_KINDS)
def kueue_no_flavor_fits(ctx: ReadContext) -> Iterator[Hit]:
    """Kueue gives each PodSet a ResourceFlavor from every resource group that
    covers its resources. It skips a flavor whose `nodeTaints`
    (NoSchedule/NoExecute) neither the pods nor the flavor's own
    `tolerations` tolerate, and one whose
    `nodeLabels` contradict the pods' nodeSelector or required node affinity
    — judging only the label keys that flavor defines. When every flavor of
    a group is skipped the Workload is never admitted (error): the TrainJob
    pinned to L40S nodes in a queue of H100 flavors. A selector key that no
    flavor of the ClusterQueue defines does not rule a flavor out: Kueue
    admits the job and only kube-scheduler enforces the key, so the pods may
    stay Pending on the admitted flavor's nodes (warning). Follows the
    queue-name label → LocalQueue → ClusterQueue → ResourceFlavor chain when
    all are in the run; a TrainJob's selection is read from its
    runtimePatches / podTemplateOverrides. (LK203 counts quota only over
    flavors that fit and leaves this case to LK609.) Source:
    kubernetes-sigs/kueue v0.19.2
    `pkg/scheduler/flavorassigner/flavorassigner.go`
    `checkFlavorForPodSets`, `flavorSelector`; cases after its
    `flavorassigner_test.go` (flavors `type=one`/`type=two`).

    Fails:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ResourceFlavor
    metadata: {name: h100}
    spec:
      nodeLabels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
    ---
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: team-a}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [nvidia.com/gpu]
        flavors:
        - name: h100
          resources: [{name: nvidia.com/gpu, nominalQuota: 64}]
    ---
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: LocalQueue
    metadata: {name: training, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-8b
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: training}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              nodeSelector: {nvidia.com/gpu.product: NVIDIA-L40S}
              containers:
              - name: pytorch
                image: nvcr.io/nvidia/pytorch:24.07-py3
                resources: {limits: {nvidia.com/gpu: 4}}
    ```

    Passes:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ResourceFlavor
    metadata: {name: h100}
    spec:
      nodeLabels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
    ---
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: team-a}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [nvidia.com/gpu]
        flavors:
        - name: h100
          resources: [{name: nvidia.com/gpu, nominalQuota: 64}]
    ---
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: LocalQueue
    metadata: {name: training, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-8b
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: training}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
              containers:
              - name: pytorch
                image: nvcr.io/nvidia/pytorch:24.07-py3
                resources: {limits: {nvidia.com/gpu: 4}}
    ```
    """
    for target in filter(is_workload, ctx.subjects):
        found = ctx.kueue.cluster_queue_of(target)
        if not found:
            continue
        from llmkube.check.read import placement

        cq, _ = found
        cq_name = meta(cq.obj).get("name")
        groups = _flavors(ctx, cq)
        all_flavors = [f for _, names in groups for f in names]
        specs = {f: ctx.kueue.flavors.get(f) for f in all_flavors}
        for ps in placement.podsets(target):
            reported = False
            for covered, names in groups:
                if not names or not (set(covered) & ps.resources):
                    continue
                reasons = []
                for f in names:
                    rf = specs.get(f)
                    if rf is None:
                        break  # a flavor outside the run: it may fit
                    rspec = as_mapping(rf.obj.get("spec"))
                    labels = as_mapping(rspec.get("nodeLabels"))
                    taint = placement.untolerated_taint(ps, rspec)
                    if taint is not None:
                        reasons.append(f"{f}: untolerated taint {taint.get('key')}={taint.get('value', '')}:{taint.get('effect')}")
                    elif not placement.selection_fits(ps, labels):
                        shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k in ps.keys)
                        reasons.append(f"{f}: nodeLabels {shown or '{}'} do not match")
                    else:
                        break
                else:
                    reported = True
                    yield Hit(
                        target,
                        ps.path,
                        f"{ps.role}: no flavor of ClusterQueue {cq_name} for {', '.join(sorted(set(covered) & ps.resources))} "
                        f"fits the pods ({_describe(ps)}): {'; '.join(reasons)} — Kueue never admits the workload",
                        "make the pods' nodeSelector / node affinity agree with a flavor's nodeLabels (and tolerate its "
                        "nodeTaints), or send the job to a queue with a matching flavor",
                    )
                    break
            if reported or any(specs.get(f) is None for f in all_flavors) or not all_flavors:
                continue
            defined = {str(k) for f in all_flavors for k in as_mapping(dig(specs[f].obj, "spec", "nodeLabels"))}  # type: ignore[union-attr]
            unknown = sorted(ps.keys - defined)
            if unknown:
                yield Hit(
                    target,
                    ps.path,
                    f"{ps.role}: node selection on {', '.join(unknown)}, which no flavor of ClusterQueue {cq_name} defines: "
                    "Kueue ignores it when assigning a flavor, so the job is admitted and only kube-scheduler enforces it "
                    "(pods may stay Pending on the admitted flavor's nodes)",
                    "add the label to the ResourceFlavor's nodeLabels (so Kueue picks a flavor that has it), or drop the selector",
                    Severity.WARNING,
                )
