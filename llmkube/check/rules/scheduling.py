"""LK2xx: scheduling rules — process shape, gangs, Kueue admission, /dev/shm.

Each rule reads manifests only (hand-written or rendered) and stays quiet
when the manifests do not carry the evidence it needs: a queue that is not
in the run, a quantity it cannot parse, a launcher flag set from an
environment variable.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from llmkube.apimachinery import api_group
from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext
from llmkube.check.read.kueue import cohort_of, is_kueue, queue_label
from llmkube.check.read.torchrun import launcher_nproc, tokens
from llmkube.check.read.shape import as_int, as_list, as_mapping, as_str, dig, meta
from llmkube.check.read.workloads import (
    KUBEFLOW_JOB_KINDS,
    POD_KINDS,
    WORKLOAD_KINDS,
    Path,
    gang_gpus,
    gpu_request,
    is_volcano,
    is_workload,
    job_pods,
    memory_backed,
    pod_gpus,
    pod_groups,
    shm_mount,
    volume,
)
from llmkube.check.rules import Hit, rule
from llmkube.check.run import Target
from llmkube.federation import cluster_of
from llmkube.names import is_gpu_resource
from llmkube.quantity import human_bytes, quantity_value


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _nproc_hit(target: Target, path: Path, what: str, value: Any, gpus: dict[str, int], role: str) -> Hit | None:
    n = as_int(value)
    total = sum(gpus.values())
    if n is None or total == 0 or n == total:
        return None
    res = ", ".join(f"{v}× {k}" for k, v in sorted(gpus.items()))
    effect = (
        f"{total - n} GPU{'s' * (total - n != 1)} per pod sit idle"
        if n < total
        else "ranks beyond the GPU count fail with 'invalid device ordinal' or share a GPU"
    )
    return Hit(
        target,
        path,
        f"{what} is {n} but each {role} pod gets {_plural(total, 'GPU')} ({res}): {effect}",
        f"start one process per GPU: {what} {total}" + (" (or 'auto'/'gpu')" if "nprocPerNode" in what else ""),
    )


# ---- LK201 ---------------------------------------------------------------------


@rule("LK201", "nproc-per-node", Severity.ERROR, "torchrun --nproc_per_node differs from the GPUs per pod", kinds=(*POD_KINDS, "TrainJob"))
def nproc_per_node(ctx: ReadContext) -> Iterator[Hit]:
    """Distributed PyTorch starts `--nproc_per_node` processes per pod, one per
    GPU. Fewer processes leave GPUs idle (and still paid for); more processes
    than GPUs make ranks fail with "invalid device ordinal" or fight over one
    GPU. The rule compares the GPUs a pod requests (`nvidia.com/gpu` or a MIG
    resource, summed over its containers) with: `torchrun` /
    `python -m torch.distributed.run` on the container command line (also
    inside `bash -c "…"`), a PyTorchJob's `spec.nprocPerNode` and
    `spec.elasticPolicy.nProcPerNode`, and a TrainJob's
    `spec.trainer.numProcPerNode`. `auto`, `gpu` and values from environment
    variables are not checked; pods without GPUs are skipped.

    Fails:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: llama-ft, namespace: ml}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
              - name: pytorch
                image: nvcr.io/nvidia/pytorch:24.07-py3
                command: [torchrun, --nproc_per_node=4, train.py]
                resources:
                  limits: {nvidia.com/gpu: 8}
    ```

    Passes:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: llama-ft, namespace: ml}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
              - name: pytorch
                image: nvcr.io/nvidia/pytorch:24.07-py3
                command: [torchrun, --nproc_per_node=8, train.py]
                resources:
                  limits: {nvidia.com/gpu: 8}
    ```
    """
    for target in ctx.subjects:
        obj = target.obj
        spec = obj.get("spec")
        if not isinstance(spec, Mapping):
            continue
        if obj.get("kind") == "TrainJob":
            trainer = as_mapping(spec.get("trainer"))
            (pods,) = job_pods(target) or (None,)
            if pods is None:
                continue
            if "numProcPerNode" in trainer:
                hit = _nproc_hit(target, ("spec", "trainer", "numProcPerNode"), "numProcPerNode", trainer["numProcPerNode"], pods.gpus, "node")
                if hit:
                    yield hit
            found = launcher_nproc(tokens(trainer, ("spec", "trainer")))
            if found:
                hit = _nproc_hit(target, found[0], "--nproc_per_node", found[1], pods.gpus, "node")
                if hit:
                    yield hit
            continue
        for group in pod_groups(target):
            gpus = pod_gpus(group.spec)
            if not gpus:
                continue
            for path, c in group.containers():
                found = launcher_nproc(tokens(c, path))
                if found:
                    hit = _nproc_hit(target, found[0], "--nproc_per_node", found[1], gpus, group.role)
                    if hit:
                        yield hit
            if obj.get("kind") == "PyTorchJob":
                for path, what in ((("spec", "nprocPerNode"), "nprocPerNode"), (("spec", "elasticPolicy", "nProcPerNode"), "elasticPolicy.nProcPerNode")):
                    cur: Any = obj
                    for p in path:
                        cur = cur.get(p) if isinstance(cur, Mapping) else None
                    if cur is not None:
                        hit = _nproc_hit(target, path, what, cur, gpus, group.role)
                        if hit:
                            yield hit


# ---- LK202 ---------------------------------------------------------------------


@rule("LK202", "gang-min-available", Severity.ERROR, "a gang's minAvailable exceeds its replicas", kinds=("Job", *KUBEFLOW_JOB_KINDS))
def gang_min_available(ctx: ReadContext) -> Iterator[Hit]:
    """A gang starts only when `minAvailable` pods can run together. More than
    the job has pods can never be met: Volcano's admission webhook rejects a
    Job whose `spec.minAvailable` exceeds the sum of its tasks' replicas, or a
    task whose `minAvailable` exceeds its `replicas`; a Kubeflow job's
    `runPolicy.schedulingPolicy.minAvailable` above its replicas leaves the
    PodGroup pending forever.

    Fails:

    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata: {name: llama-70b, namespace: ml}
    spec:
      schedulerName: volcano
      minAvailable: 16
      tasks:
      - name: worker
        replicas: 8
        template:
          spec:
            containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
    ```

    Passes:

    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata: {name: llama-70b, namespace: ml}
    spec:
      schedulerName: volcano
      minAvailable: 8
      tasks:
      - name: worker
        replicas: 8
        template:
          spec:
            containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
    ```
    """
    for target in ctx.subjects:
        obj = target.obj
        spec = obj.get("spec")
        if not isinstance(spec, Mapping):
            continue
        if obj.get("kind") == "Job" and is_volcano(obj):
            tasks = [t for t in as_list(spec.get("tasks")) if isinstance(t, Mapping)]
            total = 0
            for i, task in enumerate(as_list(spec.get("tasks"))):
                if not isinstance(task, Mapping):
                    continue
                replicas = as_int(task.get("replicas"))
                replicas = 1 if replicas is None else replicas
                total += replicas
                tmin = as_int(task.get("minAvailable"))
                if tmin is not None and tmin > replicas:
                    yield Hit(
                        target,
                        ("spec", "tasks", i, "minAvailable"),
                        f"task {task.get('name', i)!r} has minAvailable {tmin} but only {replicas} replicas: "
                        "Volcano rejects the Job",
                        f"set minAvailable ≤ {replicas}, or raise replicas to {tmin}",
                    )
            jmin = as_int(spec.get("minAvailable"))
            if tasks and jmin is not None and jmin > total:
                yield Hit(
                    target,
                    ("spec", "minAvailable"),
                    f"minAvailable {jmin} exceeds the job's {_plural(total, 'pod')} (sum of task replicas): "
                    "Volcano rejects the Job, and the gang could never start",
                    f"set spec.minAvailable to at most {total} (all pods: {total})",
                )
        elif obj.get("kind") in KUBEFLOW_JOB_KINDS:
            jmin = as_int(dig(spec, "runPolicy", "schedulingPolicy", "minAvailable"))
            total = sum(g.replicas for g in pod_groups(target))
            if jmin is not None and total and jmin > total:
                yield Hit(
                    target,
                    ("spec", "runPolicy", "schedulingPolicy", "minAvailable"),
                    f"minAvailable {jmin} exceeds the job's {_plural(total, 'pod')}: the PodGroup never becomes ready",
                    f"set minAvailable to at most {total}",
                )


# ---- Kueue: queues and quotas -------------------------------------------------


def _compatible(flavor_labels: Mapping[str, str] | None, selectors: Sequence[Mapping[str, str]]) -> bool:
    """Kueue skips a flavor whose nodeLabels contradict the pods' nodeSelector."""
    if flavor_labels is None:
        return True
    for sel in selectors:
        for k, v in sel.items():
            if isinstance(k, str) and k in flavor_labels and str(flavor_labels[k]) != str(v):
                return False
    return True


@rule("LK203", "gang-exceeds-quota", Severity.ERROR, "a gang needs more GPUs than its ClusterQueue can ever admit", kinds=WORKLOAD_KINDS)
def gang_exceeds_quota(ctx: ReadContext) -> Iterator[Hit]:
    """Kueue admits a workload whole. If all its pods together need more GPUs
    than its ClusterQueue's `nominalQuota` plus `borrowingLimit` for the
    flavors the pods can use, the workload stays pending forever. The rule
    follows the job's `kueue.x-k8s.io/queue-name` label to the LocalQueue of
    that name in the job's namespace and on to its ClusterQueue — when both
    are in the same run. A Volcano gang counts its `minAvailable` pods.
    Flavors whose `nodeLabels` contradict the pods' `nodeSelector` do not
    count; when none is left, the job can never be admitted at all and
    LK609 says so. Skipped when borrowing is unbounded (a cohort without a
    `borrowingLimit`), since the cohort's size is not known offline.

    Fails:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: team-a}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [nvidia.com/gpu]
        flavors:
        - name: h100
          resources:
          - {name: nvidia.com/gpu, nominalQuota: 16}
    ---
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: LocalQueue
    metadata: {name: training, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-70b
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: training}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
              - name: pytorch
                image: nvcr.io/nvidia/pytorch:24.07-py3
                resources:
                  limits: {nvidia.com/gpu: 8}
    ```

    Passes:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: team-a}
    spec:
      namespaceSelector: {}
      cohort: org
      resourceGroups:
      - coveredResources: [nvidia.com/gpu]
        flavors:
        - name: h100
          resources:
          - {name: nvidia.com/gpu, nominalQuota: 16, borrowingLimit: 16}
    ---
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: LocalQueue
    metadata: {name: training, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-70b
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: training}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
              - name: pytorch
                image: nvcr.io/nvidia/pytorch:24.07-py3
                resources:
                  limits: {nvidia.com/gpu: 8}
    ```
    """
    for target in filter(is_workload, ctx.subjects):
        found = ctx.kueue.cluster_queue_of(target)
        if not found:
            continue
        cq, _ = found
        pods = job_pods(target)
        need = gang_gpus(target, pods)
        if not need:
            continue
        cohort = cohort_of(cq.obj)
        selectors = [p.node_selector for p in pods if p.gpus]
        cq_name = meta(cq.obj).get("name")
        for res, n in sorted(need.items()):
            cap = Decimal(0)
            flavors: list[str] = []
            skipped: list[str] = []
            covered = False
            unbounded = False
            for group in as_list(dig(cq.obj, "spec", "resourceGroups")):
                if not isinstance(group, Mapping) or res not in as_list(group.get("coveredResources")):
                    continue
                covered = True
                for flavor in as_list(group.get("flavors")):
                    if not isinstance(flavor, Mapping):
                        continue
                    fname = str(flavor.get("name"))
                    if not _compatible(ctx.kueue.flavor_labels(fname), selectors):
                        skipped.append(fname)
                        continue
                    for r in as_list(flavor.get("resources")):
                        if not isinstance(r, Mapping) or r.get("name") != res:
                            continue
                        nominal = quantity_value(r.get("nominalQuota")) or Decimal(0)
                        if cohort and r.get("borrowingLimit") is None:
                            unbounded = True
                        borrow = quantity_value(r.get("borrowingLimit")) if cohort else Decimal(0)
                        cap += nominal + (borrow or 0)
                        flavors.append(fname)
            if not covered or unbounded or cap >= n or (skipped and not flavors):
                continue  # not covered: LK205's finding; no flavor fits the pods: LK609's
            pod = next((p for p in pods if res in p.gpus and p.gpu_path), None)
            path = pod.gpu_path if pod and pod.gpu_path else ("metadata",)
            limit = "nominal quota" + (" + borrowing limit" if cohort else "")
            msg = (
                f"the gang needs {n} {res} at once but ClusterQueue {cq_name} can admit at most "
                f"{int(cap)} ({limit} over flavor{'s' * (len(flavors) != 1)} {', '.join(flavors)}): "
                "the workload stays pending forever"
            )
            hint = f"raise nominalQuota (or borrowingLimit, in a cohort) to {n} or more, or shrink the job"
            yield Hit(target, path, msg, hint)


@rule("LK204", "limits-without-cohort", Severity.ERROR, "borrowingLimit or lendingLimit on a ClusterQueue without a cohort", kinds=("ClusterQueue",))
def limits_without_cohort(ctx: ReadContext) -> Iterator[Hit]:
    """Borrowing and lending happen inside a cohort. A ClusterQueue with no
    cohort (`spec.cohort` in v1beta1, `spec.cohortName` in v1beta2) that sets
    `borrowingLimit` is rejected by the ClusterQueue CRD's validation rule;
    one that sets `lendingLimit` passes the CRD's schema but is rejected by
    Kueue's admission webhook — so offline schema checks alone miss it. This
    is the textbook mistake llmkube was started from.

    Fails:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: gpu-training-queue}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [nvidia.com/gpu]
        flavors:
        - name: h100-80gb
          resources:
          - name: nvidia.com/gpu
            nominalQuota: 128
            lendingLimit: 64
    ```

    Passes:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: gpu-training-queue}
    spec:
      namespaceSelector: {}
      cohort: llm-org
      resourceGroups:
      - coveredResources: [nvidia.com/gpu]
        flavors:
        - name: h100-80gb
          resources:
          - name: nvidia.com/gpu
            nominalQuota: 128
            borrowingLimit: 32
            lendingLimit: 64
    ```
    """
    for cq in ctx.subjects:
        if not is_kueue(cq, "ClusterQueue") or cohort_of(cq.obj):
            continue
        field = "cohortName" if str(cq.obj.get("apiVersion", "")).endswith("v1beta2") else "cohort"
        for g, group in enumerate(as_list(as_mapping(cq.obj.get("spec")).get("resourceGroups"))):
            for f, flavor in enumerate(as_list(as_mapping(group).get("flavors"))):
                for r, res in enumerate(as_list(as_mapping(flavor).get("resources"))):
                    res = as_mapping(res)
                    for key in ("borrowingLimit", "lendingLimit"):
                        if res.get(key) is None:
                            continue
                        why = (
                            "there is no cohort to borrow from; the ClusterQueue CRD's validation rule rejects it"
                            if key == "borrowingLimit"
                            else "there is no cohort to lend to; Kueue's admission webhook rejects it "
                            "(the CRD's schema does not, so a schema check alone passes it)"
                        )
                        yield Hit(
                            cq,
                            ("spec", "resourceGroups", g, "flavors", f, "resources", r, key),
                            f"{key} for {res.get('name')} on flavor {flavor.get('name')} without a cohort: {why}",
                            f"put the ClusterQueue in a cohort (spec.{field}: <name>) shared with the queues "
                            f"it borrows from and lends to, or remove {key}",
                        )


@rule("LK205", "resource-not-covered", Severity.ERROR, "a job requests a GPU resource its ClusterQueue does not cover", kinds=WORKLOAD_KINDS)
def resource_not_covered(ctx: ReadContext) -> Iterator[Hit]:
    """Kueue admits a workload only if its ClusterQueue covers every resource
    the pods request. A job asking for `nvidia.com/mig-3g.40gb` through a
    queue that covers only `nvidia.com/gpu` (or the other way round) is never
    admitted. The rule checks GPU resources (`nvidia.com/gpu…` and MIG
    resources) along the queue-name label → LocalQueue → ClusterQueue chain
    when those objects are in the run.

    Fails:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: serving}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [nvidia.com/gpu]
        flavors:
        - name: h100
          resources:
          - {name: nvidia.com/gpu, nominalQuota: 8}
    ---
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: LocalQueue
    metadata: {name: serving, namespace: llm}
    spec: {clusterQueue: serving}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: eval
      namespace: llm
      labels: {kueue.x-k8s.io/queue-name: serving}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: eval
            image: vllm/vllm-openai:v0.11.0
            resources:
              limits: {nvidia.com/mig-3g.40gb: 1}
    ```

    Passes:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: serving}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [nvidia.com/mig-3g.40gb]
        flavors:
        - name: h100-mig
          resources:
          - {name: nvidia.com/mig-3g.40gb, nominalQuota: 8}
    ---
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: LocalQueue
    metadata: {name: serving, namespace: llm}
    spec: {clusterQueue: serving}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: eval
      namespace: llm
      labels: {kueue.x-k8s.io/queue-name: serving}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: eval
            image: vllm/vllm-openai:v0.11.0
            resources:
              limits: {nvidia.com/mig-3g.40gb: 1}
    ```
    """
    for target in filter(is_workload, ctx.subjects):
        found = ctx.kueue.cluster_queue_of(target)
        if not found:
            continue
        cq, _ = found
        covered = {
            str(r)
            for group in as_list(dig(cq.obj, "spec", "resourceGroups"))
            for r in as_list(dig(group, "coveredResources"))
        }
        seen: set[str] = set()
        for pods in job_pods(target):
            for res in sorted(pods.gpus):
                if res in covered or res in seen:
                    continue
                seen.add(res)
                gpu_like = sorted(c for c in covered if is_gpu_resource(c))
                yield Hit(
                    target,
                    pods.gpu_path or ("metadata",),
                    f"requests {res} but ClusterQueue {meta(cq.obj).get('name')} does not cover it "
                    f"(covers {', '.join(sorted(covered)) or 'nothing'}): Kueue never admits the workload",
                    (f"request one of {', '.join(gpu_like)}, or " if gpu_like else "")
                    + f"add {res} to the ClusterQueue's coveredResources with a quota",
                )


@rule("LK206", "unknown-local-queue", Severity.WARNING, "a job names a LocalQueue that is not among the manifests", kinds=WORKLOAD_KINDS)
def unknown_local_queue(ctx: ReadContext) -> Iterator[Hit]:
    """A workload whose `kueue.x-k8s.io/queue-name` names a LocalQueue that
    does not exist in its namespace stays suspended ("LocalQueue … doesn't
    exist"). The rule speaks only with evidence from the same run: other
    LocalQueues in the job's namespace (then the name is most likely a typo)
    or a LocalQueue of that name in another namespace (the wrong namespace).

    Fails:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: LocalQueue
    metadata: {name: training-queue, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: eval
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: trainig-queue}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: eval, image: "python:3.12-slim"}]
    ```

    Passes:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: LocalQueue
    metadata: {name: training-queue, namespace: ml}
    spec: {clusterQueue: team-a}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: eval
      namespace: ml
      labels: {kueue.x-k8s.io/queue-name: training-queue}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: eval, image: "python:3.12-slim"}]
    ```
    """
    queues = ctx.kueue.local_queues
    if not queues:
        return
    for target in filter(is_workload, ctx.subjects):
        found = queue_label(target)
        if not found:
            continue
        name, path = found
        ns = as_str(meta(target.obj).get("namespace"))
        if ctx.kueue.local_queue(name, ns) is not None:
            continue
        here = sorted({str(meta(q.obj).get("name")) for q in queues if meta(q.obj).get("namespace") == ns})
        elsewhere = sorted({str(meta(q.obj).get("namespace")) for q in queues if meta(q.obj).get("name") == name})
        if elsewhere and ns is not None:
            hint = f"LocalQueue {name} exists in namespace {', '.join(elsewhere)}: run the job there, or create the queue in {ns}"
        elif here:
            close = difflib.get_close_matches(name, here, n=1, cutoff=0.6)
            hint = (f"did you mean {close[0]!r}? " if close else "") + f"LocalQueues in {ns or 'the manifests'}: {', '.join(here)}"
        else:
            continue  # no LocalQueue of this namespace in the run: no evidence either way
        yield Hit(
            target,
            path,
            f"queue-name {name!r} matches no LocalQueue{' in namespace ' + ns if ns else ''} among the manifests: "
            "Kueue keeps the workload suspended",
            hint,
        )


# ---- /dev/shm --------------------------------------------------------------------


@rule("LK207", "missing-dev-shm", Severity.WARNING, "a multi-GPU pod without an in-memory /dev/shm", kinds=POD_KINDS)
def missing_dev_shm(ctx: ReadContext) -> Iterator[Hit]:
    """Containers get a 64 MiB `/dev/shm` by default. NCCL, PyTorch
    DataLoader workers and vLLM's tensor-parallel workers exchange data
    through shared memory, so a pod with two or more GPUs needs a bigger one:
    an `emptyDir` with `medium: Memory` mounted at `/dev/shm` in the GPU
    containers (a `hostPath` of `/dev/shm`, or `hostIPC: true`, also does).
    Without it, jobs die with "No space left on device" or NCCL "unhandled
    system error" — usually only at scale.

    Fails:

    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: llama-70b, namespace: llm}
    spec:
      selector: {matchLabels: {app: llama-70b}}
      template:
        metadata: {labels: {app: llama-70b}}
        spec:
          containers:
          - name: vllm
            image: vllm/vllm-openai:v0.11.0
            args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "4"]
            resources:
              limits: {nvidia.com/gpu: 4}
    ```

    Passes:

    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: llama-70b, namespace: llm}
    spec:
      selector: {matchLabels: {app: llama-70b}}
      template:
        metadata: {labels: {app: llama-70b}}
        spec:
          containers:
          - name: vllm
            image: vllm/vllm-openai:v0.11.0
            args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "4"]
            resources:
              limits: {nvidia.com/gpu: 4, memory: 96Gi}
              requests: {memory: 64Gi}
            volumeMounts: [{name: dshm, mountPath: /dev/shm}]
          volumes:
          - name: dshm
            emptyDir: {medium: Memory, sizeLimit: 32Gi}
    ```
    """
    for target in ctx.subjects:
        for group in pod_groups(target):
            if sum(pod_gpus(group.spec).values()) < 2 or group.spec.get("hostIPC") is True:
                continue
            for path, c in group.containers():
                req = gpu_request(c)
                if not req or req[1] <= 0:
                    continue
                mount = shm_mount(c)
                vol = volume(group.spec, mount[1]) if mount else None
                if vol is not None:
                    v = vol[1]
                    host = v.get("hostPath")
                    if memory_backed(v) or (isinstance(host, Mapping) and str(host.get("path", "")).rstrip("/") == "/dev/shm"):
                        continue
                total = sum(pod_gpus(group.spec).values())
                yield Hit(
                    target,
                    (*path, "volumeMounts", mount[0]) if mount else path,
                    f"container {c.get('name')!r} runs on {total} GPUs with "
                    + ("a /dev/shm that is not memory-backed" if mount else "the default 64 MiB /dev/shm")
                    + ": NCCL and DataLoader workers run out of shared memory",
                    "add a volume {name: dshm, emptyDir: {medium: Memory, sizeLimit: 16Gi}} and mount it at "
                    "/dev/shm (and count its size in the memory limit)",
                )


@rule("LK208", "dev-shm-not-in-memory-limit", Severity.WARNING, "a memory-backed /dev/shm is not counted in the memory limit", kinds=POD_KINDS)
def shm_not_in_limit(ctx: ReadContext) -> Iterator[Hit]:
    """Pages written to a memory-backed `emptyDir` (`medium: Memory`) are
    charged to the container's memory cgroup. A container whose memory limit
    leaves no room for its `/dev/shm` on top of what the process itself uses
    (its memory request) is OOM-killed when shared memory fills up — a crash
    that looks like a training bug. The rule wants
    `limits.memory ≥ requests.memory + sizeLimit`, and a memory limit at all
    (without one, a full `/dev/shm` takes node memory the scheduler did not
    reserve).

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: trainer}
    spec:
      containers:
      - name: trainer
        image: nvcr.io/nvidia/pytorch:24.07-py3
        resources:
          requests: {memory: 64Gi}
          limits: {memory: 64Gi, nvidia.com/gpu: 8}
        volumeMounts: [{name: dshm, mountPath: /dev/shm}]
      volumes:
      - name: dshm
        emptyDir: {medium: Memory, sizeLimit: 16Gi}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: trainer}
    spec:
      containers:
      - name: trainer
        image: nvcr.io/nvidia/pytorch:24.07-py3
        resources:
          requests: {memory: 64Gi}
          limits: {memory: 80Gi, nvidia.com/gpu: 8}
        volumeMounts: [{name: dshm, mountPath: /dev/shm}]
      volumes:
      - name: dshm
        emptyDir: {medium: Memory, sizeLimit: 16Gi}
    ```
    """
    for target in ctx.subjects:
        for group in pod_groups(target):
            for path, c in group.containers():
                mount = shm_mount(c)
                vol = volume(group.spec, mount[1]) if mount else None
                if vol is None or not memory_backed(vol[1]):
                    continue
                size = quantity_value(dig(vol[1], "emptyDir", "sizeLimit"))
                if not size:
                    continue
                limit = quantity_value(dig(c, "resources", "limits", "memory"))
                request = quantity_value(dig(c, "resources", "requests", "memory"))
                name = c.get("name")
                if limit is None:
                    yield Hit(
                        target,
                        (*path, "resources") if "resources" in c else path,
                        f"container {name!r} mounts a {human_bytes(size)} in-memory /dev/shm but has no memory limit: "
                        "shared memory takes node memory the scheduler never reserved",
                        f"set resources.limits.memory to at least requests.memory + {human_bytes(size)}",
                    )
                    continue
                base = request if request is not None else limit
                if limit < base + size:
                    yield Hit(
                        target,
                        (*path, "resources", "limits", "memory"),
                        f"container {name!r}: memory limit {human_bytes(limit)} < request {human_bytes(base)} + "
                        f"/dev/shm {human_bytes(size)}: a full /dev/shm is charged to the container and OOM-kills it",
                        f"set limits.memory to {human_bytes(base + size)} or more, or lower the /dev/shm sizeLimit",
                    )


@rule("LK209", "object-defined-twice", Severity.WARNING, "a manifest object is defined twice in the run, differently")
def object_defined_twice(ctx: ReadContext) -> Iterator[Hit]:
    """Two manifests in one run that define the same object (API group, kind,
    namespace, name) with different content: `kubectl apply` applies both and
    the cluster keeps whichever came last, so the result depends on the order
    of the files. Rules that follow a reference to such an object (a
    LocalQueue's ClusterQueue, a flavor's node labels) do not judge it, since
    either definition could be the one that counts. Often two alternative
    setups were passed together: check them one run at a time. Objects for
    different clusters of a MultiKueue federation (their
    `llmkube.dev/cluster` annotations differ) are different objects.

    Fails:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: tas-cluster-queue}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [cpu]
        flavors:
        - name: tas-flavor
          resources: [{name: cpu, nominalQuota: 100}]
    ---
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: tas-cluster-queue}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [nvidia.com/gpu]
        flavors:
        - name: tas-gpu-flavor
          resources: [{name: nvidia.com/gpu, nominalQuota: 8}]
    ```

    Passes:

    ```yaml
    apiVersion: kueue.x-k8s.io/v1beta1
    kind: ClusterQueue
    metadata: {name: tas-cluster-queue}
    spec:
      namespaceSelector: {}
      resourceGroups:
      - coveredResources: [nvidia.com/gpu]
        flavors:
        - name: tas-gpu-flavor
          resources: [{name: nvidia.com/gpu, nominalQuota: 8}]
    ```
    """
    first: dict[tuple[str, str, str, str, str], Target] = {}
    for target in ctx.targets:
        if target.document is None:
            continue  # rendered objects: the pipeline refuses a spec set that produces one twice
        name = meta(target.obj).get("name")
        if not isinstance(name, str):
            continue
        group = api_group(target.obj)
        # a federation's clusters each hold their own object of a name (llmkube.dev/cluster)
        key = (group, str(target.obj.get("kind")), str(meta(target.obj).get("namespace") or ""), name, cluster_of(target.obj) or "")
        earlier = first.setdefault(key, target)
        if earlier is target or earlier.obj == target.obj:
            continue
        where = earlier.mark()
        yield Hit(
            target,
            ("metadata", "name"),
            f"{key[1]} {name} is also defined at {where or 'an earlier manifest'}, differently: kubectl apply keeps "
            "whichever comes last, so the result depends on the order of the files",
            "keep one definition, or check alternative setups one run at a time",
        )
