"""LK210–LK212: a MultiKueue federation — worker queues, the admission check's wiring,
and the job kinds MultiKueue can dispatch (Kueue v0.19.2).

The manager's objects carry no `llmkube.dev/cluster` annotation, a worker's carry
its name (see `llmkube.check.read.multikueue`). The rules speak only about what the
run holds: a worker whose objects are not in the run is not judged.
"""

from __future__ import annotations

from collections.abc import Iterator

from llmkube.apimachinery import api_group
from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext
from llmkube.check.read.kueue import queue_label
from llmkube.check.read.multikueue import check_refs, config_clusters, config_ref
from llmkube.check.read.shape import dig, meta
from llmkube.check.read.workloads import WORKLOAD_KINDS, is_workload
from llmkube.check.rules import Hit, rule

# (API group, kind) of every job MultiKueue dispatches in Kueue v0.19.2: the integrations
# with a `*_multikueue_adapter.go` under pkg/controller/jobs (job, jobset, kubeflow
# jaxjob/paddlejob/pytorchjob/tfjob/xgboostjob, mpijob, rayjob/raycluster/rayservice,
# appwrapper, trainjob, leaderworkerset, statefulset, pod), and Deployment, whose pods
# the pod adapter dispatches (site/content/en/docs/concepts/multikueue.md "Supported Job
# Types"). SparkApplication is a Kueue integration without one.
MULTIKUEUE_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("batch", "Job"),
        ("jobset.x-k8s.io", "JobSet"),
        ("kubeflow.org", "PyTorchJob"),
        ("kubeflow.org", "TFJob"),
        ("kubeflow.org", "XGBoostJob"),
        ("kubeflow.org", "PaddleJob"),
        ("kubeflow.org", "JAXJob"),
        ("kubeflow.org", "MPIJob"),
        ("ray.io", "RayJob"),
        ("ray.io", "RayCluster"),
        ("ray.io", "RayService"),
        ("workload.codeflare.dev", "AppWrapper"),
        ("trainer.kubeflow.org", "TrainJob"),
        ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"),
        ("apps", "StatefulSet"),
        ("apps", "Deployment"),
        ("", "Pod"),
    }
)


@rule("LK210", "multikueue-worker-queue-missing", Severity.ERROR, "a MultiKueue worker lacks the manager's LocalQueue or its ClusterQueue")
def worker_queue_missing(ctx: ReadContext) -> Iterator[Hit]:
    """MultiKueue creates a dispatched workload on the worker in the job's
    namespace and LocalQueue, which must exist there: Kueue's setup guide asks
    that each worker "mirrors the one of the manager cluster in terms of
    namespaces and LocalQueues" (kueue v0.19.2
    site/content/en/docs/tasks/manage/setup_multikueue.md). A worker without
    the LocalQueue, or whose LocalQueue points at a ClusterQueue it does not
    have, never admits the copy, and the manager waits on the other workers.
    The rule follows each manager ClusterQueue with a MultiKueue admission check
    to the workers its MultiKueueConfig lists, and judges the workers whose
    objects (annotation `llmkube.dev/cluster: <worker>`) are in the run. A
    ClusterQueue of another name on the worker is reported too: llmkube
    renders the same names on every cluster, and the queues then read alike
    everywhere.

    Fails:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: ClusterQueue
    metadata: {name: team-a}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [cpu]
        flavors: [{name: default, resources: [{name: cpu, nominalQuota: 8}]}]
      admissionChecksStrategy:
        admissionChecks: [{name: team-a-multikueue}]
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: LocalQueue
    metadata: {name: team-a, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: AdmissionCheck
    metadata: {name: team-a-multikueue}
    spec:
      controllerName: kueue.x-k8s.io/multikueue
      parameters: {apiGroup: kueue.x-k8s.io, kind: MultiKueueConfig, name: team-a}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: MultiKueueConfig
    metadata: {name: team-a}
    spec: {clusters: [east]}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: ClusterQueue
    metadata:
      name: team-a
      annotations: {llmkube.dev/cluster: east}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [cpu]
        flavors: [{name: default, resources: [{name: cpu, nominalQuota: 8}]}]
    ```

    Passes:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: ClusterQueue
    metadata: {name: team-a}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [cpu]
        flavors: [{name: default, resources: [{name: cpu, nominalQuota: 8}]}]
      admissionChecksStrategy:
        admissionChecks: [{name: team-a-multikueue}]
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: LocalQueue
    metadata: {name: team-a, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: AdmissionCheck
    metadata: {name: team-a-multikueue}
    spec:
      controllerName: kueue.x-k8s.io/multikueue
      parameters: {apiGroup: kueue.x-k8s.io, kind: MultiKueueConfig, name: team-a}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: MultiKueueConfig
    metadata: {name: team-a}
    spec: {clusters: [east]}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: ClusterQueue
    metadata:
      name: team-a
      annotations: {llmkube.dev/cluster: east}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [cpu]
        flavors: [{name: default, resources: [{name: cpu, nominalQuota: 8}]}]
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: LocalQueue
    metadata:
      name: team-a
      namespace: ml
      annotations: {llmkube.dev/cluster: east}
    spec: {clusterQueue: team-a}
    ```
    """
    fed = ctx.federation
    workers = set(fed.workers())
    for cq, _ref, ac in fed.multikueue_queues():
        cq_name = str(meta(cq.obj).get("name"))
        for worker in fed.dispatch_clusters(ac) or []:
            if worker not in workers:
                continue  # its objects are not in this run
            objs = fed.by_cluster[worker]
            for lq in fed.manager.local_queues_of(cq_name):
                ns, name = str(meta(lq.obj).get("namespace") or ""), str(meta(lq.obj).get("name"))
                mirror = objs.local_queues.get((ns, name))
                where = f"LocalQueue {name}" + (f" in namespace {ns}" if ns else "")
                if mirror is None:
                    yield Hit(
                        lq,
                        ("metadata", "name"),
                        f"worker cluster {worker} has no {where}: MultiKueue creates the job there in this queue, "
                        "so that worker never admits it",
                        f"add the LocalQueue to {worker}'s manifests (annotation llmkube.dev/cluster: {worker}), "
                        "or render the Quota with multiKueue, which mirrors it",
                    )
                    continue
                target_cq = dig(mirror.obj, "spec", "clusterQueue")
                if not isinstance(target_cq, str):
                    continue  # the schema check reports it
                if target_cq not in objs.cluster_queues:
                    yield Hit(
                        mirror,
                        ("spec", "clusterQueue"),
                        f"on worker cluster {worker}, {where} points at ClusterQueue {target_cq}, which that "
                        "cluster's manifests do not define: the dispatched workload stays pending there",
                        f"define ClusterQueue {target_cq} for {worker}, with the worker's quota",
                    )
                elif target_cq != cq_name:
                    yield Hit(
                        mirror,
                        ("spec", "clusterQueue"),
                        f"on worker cluster {worker}, {where} points at ClusterQueue {target_cq}, not {cq_name} "
                        "as on the manager",
                        f"name the worker's ClusterQueue {cq_name}, as on the manager",
                        severity=Severity.WARNING,
                    )


@rule("LK211", "multikueue-check-unwired", Severity.ERROR, "a MultiKueue admission check whose config, clusters or queue use Kueue refuses")
def check_unwired(ctx: ReadContext) -> Iterator[Hit]:
    """A MultiKueue AdmissionCheck is active only when its `spec.parameters`
    name a MultiKueueConfig (apiGroup `kueue.x-k8s.io`, kind
    `MultiKueueConfig`) that exists and lists MultiKueueClusters that exist
    (kueue v0.19.2 pkg/controller/admissionchecks/multikueue/admissioncheck.go:
    reasons `BadConfig`, `NoUsableClusters`); and a ClusterQueue that uses it
    stays inactive when it names more than one MultiKueue check, or restricts
    one to some flavors with `onFlavors` (pkg/cache/scheduler/clusterqueue.go:
    `MultipleMultiKueueAdmissionChecks`, `MultiKueueAdmissionCheckAppliedPerFlavor`).
    A ClusterQueue naming a check the run does not define is reported when the
    run defines other AdmissionChecks (likely a typo); a config or cluster is
    reported missing when the run defines others of its kind. Only the
    manager's objects (no `llmkube.dev/cluster` annotation) are judged.

    Fails:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: AdmissionCheck
    metadata: {name: team-a-multikueue}
    spec:
      controllerName: kueue.x-k8s.io/multikueue
      parameters: {apiGroup: kueue.x-k8s.io, kind: MultiKueueConfig, name: team-a}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: MultiKueueConfig
    metadata: {name: team-a}
    spec: {clusters: [east, west]}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: MultiKueueCluster
    metadata: {name: east}
    spec:
      clusterSource:
        kubeConfig: {locationType: Secret, location: east-kubeconfig}
    ```

    Passes:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: AdmissionCheck
    metadata: {name: team-a-multikueue}
    spec:
      controllerName: kueue.x-k8s.io/multikueue
      parameters: {apiGroup: kueue.x-k8s.io, kind: MultiKueueConfig, name: team-a}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: MultiKueueConfig
    metadata: {name: team-a}
    spec: {clusters: [east]}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: MultiKueueCluster
    metadata: {name: east}
    spec:
      clusterSource:
        kubeConfig: {locationType: Secret, location: east-kubeconfig}
    ```
    """
    mgr = ctx.federation.manager
    for ac in mgr.admission_checks.values():
        if mgr.multikueue_check(str(meta(ac.obj).get("name"))) is not ac:
            continue
        ac_name = meta(ac.obj).get("name")
        config_name, why = config_ref(ac)
        if config_name is None:
            yield Hit(
                ac,
                ("spec", "parameters"),
                f"MultiKueue AdmissionCheck {ac_name} cannot load its config: {why}; Kueue marks it inactive (BadConfig)",
                "set parameters: {apiGroup: kueue.x-k8s.io, kind: MultiKueueConfig, name: <config>}",
            )
            continue
        config = mgr.configs.get(config_name)
        if config is None:
            if mgr.configs:
                yield Hit(
                    ac,
                    ("spec", "parameters", "name"),
                    f"MultiKueue AdmissionCheck {ac_name} names MultiKueueConfig {config_name}, which the manifests do "
                    f"not define (they define {', '.join(sorted(mgr.configs))}): Kueue marks the check inactive",
                    "name one of the defined MultiKueueConfigs",
                )
            continue
        for cluster, path in config_clusters(config):
            if mgr.clusters and cluster not in mgr.clusters:
                yield Hit(
                    config,
                    path,
                    f"MultiKueueConfig {config_name} lists cluster {cluster}, but no MultiKueueCluster of that name is "
                    f"defined (defined: {', '.join(sorted(mgr.clusters))}): Kueue reports it missing and never dispatches there",
                    f"add a MultiKueueCluster {cluster} with its kubeconfig Secret, or remove it from the list",
                )
    yield from _queue_checks(ctx)


def _queue_checks(ctx: ReadContext) -> Iterator[Hit]:
    """A ClusterQueue's references: unknown checks, several MultiKueue checks, per-flavor MultiKueue."""
    mgr = ctx.federation.manager
    for cq in mgr.cluster_queues.values():
        refs = check_refs(cq)
        mk = [r for r in refs if mgr.multikueue_check(r.name) is not None]
        for ref in refs:
            if ref.name not in mgr.admission_checks and mgr.admission_checks:
                yield Hit(
                    cq,
                    ref.path,
                    f"ClusterQueue {meta(cq.obj).get('name')} names AdmissionCheck {ref.name}, which the manifests do not "
                    f"define (they define {', '.join(sorted(mgr.admission_checks))}): its workloads wait for a check that never runs",
                    "name one of the defined AdmissionChecks",
                )
        for ref in mk:
            if ref.on_flavors:
                yield Hit(
                    cq,
                    ref.path,
                    f"MultiKueue AdmissionCheck {ref.name} is restricted with onFlavors: Kueue keeps the ClusterQueue "
                    "inactive (MultiKueueAdmissionCheckAppliedPerFlavor)",
                    "drop onFlavors: a MultiKueue check applies to the whole ClusterQueue",
                )
        for ref in mk[1:]:
            yield Hit(
                cq,
                ref.path,
                f"ClusterQueue {meta(cq.obj).get('name')} names a second MultiKueue AdmissionCheck ({ref.name} after "
                f"{mk[0].name}): Kueue keeps it inactive (MultipleMultiKueueAdmissionChecks)",
                "keep one MultiKueue check; list every worker in its MultiKueueConfig",
            )


@rule("LK212", "multikueue-unsupported-kind", Severity.ERROR, "a job of a kind MultiKueue cannot dispatch is queued to a MultiKueue ClusterQueue", kinds=WORKLOAD_KINDS)
def unsupported_kind(ctx: ReadContext) -> Iterator[Hit]:
    """MultiKueue dispatches only the job kinds it has an adapter for. In Kueue
    v0.19.2 those are batch/v1 Job, JobSet, the Kubeflow v1 jobs (PyTorchJob,
    TFJob, XGBoostJob, PaddleJob, JAXJob), MPIJob, RayJob, RayCluster,
    RayService, AppWrapper, TrainJob, LeaderWorkerSet, StatefulSet, Pod, and
    Deployment through its pods (pkg/controller/jobs/*/*_multikueue_adapter.go;
    site/content/en/docs/concepts/multikueue.md). Any other kind queued to a
    ClusterQueue whose admission check is MultiKueue's never runs: a Volcano Job
    or a SparkApplication, say. External frameworks configured in Kueue's
    `multiKueue.externalFrameworks` (feature gate
    `MultiKueueAdaptersForCustomJobs`, beta, on by default) are not visible in
    manifests: silence the rule on such a job with the
    `llmkube.dev/ignore: LK212` annotation. A batch/v1 Job also needs
    `spec.managedBy` on the manager's Kubernetes (on by default since 1.32,
    GA in 1.35), which Kueue sets.

    Fails:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: ClusterQueue
    metadata: {name: team-a}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [cpu]
        flavors: [{name: default, resources: [{name: cpu, nominalQuota: 8}]}]
      admissionChecksStrategy:
        admissionChecks: [{name: team-a-multikueue}]
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: LocalQueue
    metadata: {name: team-a, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: AdmissionCheck
    metadata: {name: team-a-multikueue}
    spec:
      controllerName: kueue.x-k8s.io/multikueue
      parameters: {apiGroup: kueue.x-k8s.io, kind: MultiKueueConfig, name: team-a}
    ---
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata:
      name: pretrain
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: team-a}
    spec:
      tasks:
      - name: worker
        replicas: 1
        template:
          spec:
            containers: [{name: trainer, image: "nvcr.io/nvidia/pytorch:24.07-py3"}]
    ```

    Passes:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: ClusterQueue
    metadata: {name: team-a}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [cpu]
        flavors: [{name: default, resources: [{name: cpu, nominalQuota: 8}]}]
      admissionChecksStrategy:
        admissionChecks: [{name: team-a-multikueue}]
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: LocalQueue
    metadata: {name: team-a, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: kueue.x-k8s.io/v1beta2
    kind: AdmissionCheck
    metadata: {name: team-a-multikueue}
    spec:
      controllerName: kueue.x-k8s.io/multikueue
      parameters: {apiGroup: kueue.x-k8s.io, kind: MultiKueueConfig, name: team-a}
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: pretrain
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: team-a}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 1
          template:
            spec:
              containers: [{name: pytorch, image: "nvcr.io/nvidia/pytorch:24.07-py3"}]
    ```
    """
    kueue = ctx.kueue
    mgr = ctx.federation.manager
    for target in filter(is_workload, ctx.subjects):
        found = kueue.cluster_queue_of(target)
        if found is None:
            continue
        cq, label_path = found
        checks = [r.name for r in check_refs(cq) if mgr.multikueue_check(r.name) is not None]
        if not checks:
            continue
        key = (api_group(target.obj), str(target.obj.get("kind")))
        if key in MULTIKUEUE_KINDS:
            continue
        queue = queue_label(target)
        yield Hit(
            target,
            label_path,
            f"{key[1]} ({key[0] or 'core'}) is queued to {queue[0] if queue else 'a queue'} → ClusterQueue "
            f"{meta(cq.obj).get('name')}, whose admission check {checks[0]} is MultiKueue's, but MultiKueue "
            "(Kueue v0.19.2) has no adapter for this kind: it is never dispatched to a worker",
            "queue it to a ClusterQueue without MultiKueue, or run it as a kind MultiKueue dispatches "
            "(batch/v1 Job, JobSet, PyTorchJob, MPIJob, TrainJob, RayJob, LeaderWorkerSet, …)",
        )
