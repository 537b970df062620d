"""TrainingJob → the plan a PyTorchJob, TrainJob or Volcano Job template renders.

Every number here (GPUs per pod, torchrun arguments, gang size, /dev/shm
size) is decided in Python and reaches the templates as a plain value.
"""

from __future__ import annotations

from typing import Any

from llmkube.names import (
    DEFAULT_RDMA_RESOURCE,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    KUEUE_PODSET_GROUP,
    KUEUE_PREFERRED_TOPOLOGY,
    KUEUE_PRIORITY_LABEL,
    KUEUE_QUEUE_LABEL,
    KUEUE_REQUIRED_TOPOLOGY,
    TRAINING_JOB_LABEL,
)
from llmkube.plan.base import Plan
from llmkube.plan.context import PlanContext
from llmkube.plan.pods import (
    K8sObject,
    claim_volume,
    container_resources,
    merge_env,
    secret_env,
    shm_volume,
    standard_labels,
    tolerations,
)
from llmkube.records import record
from llmkube.specs.base import Quantity
from llmkube.specs.trainingjob import NetworkSpec, NodeRange, RdmaSpec, TrainingJob, effective_rdma, effective_scheduler

RDZV_PORT = 29500

# Volcano policy actions for what happens when a pod is evicted.
EVICTION_ACTIONS = {"restart-job": "RestartJob", "restart-task": "RestartTask", "fail": "AbortJob"}

# The value that groups a fixed PyTorchJob's Master and Worker PodSets for Kueue's
# topology-aware scheduling; Kueue refuses a numeric one (see `podset_group`).
PODSET_GROUP = "pytorch"


@record(frozen=True)
class Rendezvous:
    """torchrun's explicit rendezvous, where no operator injects PET_* variables."""

    nnodes: int
    endpoint: str
    id: str


@record(frozen=True)
class TrainingPod:
    """The pod every node of the job runs (the same for master and workers)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[K8sObject, ...]
    resources: dict[str, dict[str, Any]]
    volume_mounts: tuple[K8sObject, ...]
    volumes: tuple[K8sObject, ...]
    node_selector: dict[str, str]
    tolerations: tuple[dict[str, str], ...]
    affinity: K8sObject | None
    service_account: str | None
    priority_class_name: str | None
    security_context: K8sObject | None


@record(frozen=True)
class RuntimeRef:
    """The TrainingRuntime a TrainJob runs on."""

    name: str
    kind: str


@record(frozen=True, kw_only=True)
class TrainingPlan(Plan):
    """One TrainingJob, decided: what every framework's template needs."""

    name: str
    namespace: str | None
    annotations: dict[str, str]
    labels: dict[str, str]
    framework: str
    scheduler: str
    gpus_per_pod: int
    min_nodes: int
    max_nodes: int
    max_restarts: int
    pod: TrainingPod
    # Kueue: create the job suspended (PyTorchJob `runPolicy.suspend`, TrainJob `spec.suspend`)
    suspend: bool
    # Volcano
    queue: str
    min_available: int
    eviction_action: str
    policies: tuple[dict[str, str], ...]
    max_retry: int
    priority_class_name: str | None
    # TrainJob
    runtime_ref: RuntimeRef
    model: str | None

    @property
    def elastic(self) -> bool:
        return self.min_nodes != self.max_nodes

    @property
    def worker_replicas(self) -> int:
        """Workers besides the master of a fixed-size PyTorchJob."""
        return self.max_nodes - 1

    def template_context(self) -> dict[str, Any]:
        """The plan's fields, and the derived values the training templates have always seen."""
        values = super().template_context()
        values.update(elastic=self.elastic, worker_replicas=self.worker_replicas, nproc_per_node=self.gpus_per_pod)
        return values


def shm_size(gpus_per_pod: int, explicit: Quantity | None) -> str | None:
    """In-memory /dev/shm for multi-GPU pods: NCCL and dataloader workers use it.

    Docker's 64 MiB default breaks NCCL's shared-memory transport between
    local ranks; 8 GiB per GPU (capped at 64 GiB) is a common sizing.
    """
    if explicit is not None:
        return str(explicit)
    if gpus_per_pod <= 1:
        return None
    return f"{min(8 * gpus_per_pod, 64)}Gi"


def node_counts(job: TrainingJob) -> tuple[int, int]:
    """(min, max) nodes; equal for a fixed-size job."""
    nodes = job.spec.nodes
    if isinstance(nodes, NodeRange):
        return nodes.min, nodes.max
    return nodes, nodes


def torchrun_command(script: str, args: list[str], nproc: int, rendezvous: Rendezvous | None) -> list[str]:
    """torchrun with --nproc_per_node = GPUs per pod.

    Under the Kubeflow operators the node count and rendezvous come from the
    PET_* variables they inject; on Volcano they are given explicitly.
    """
    cmd = ["torchrun", f"--nproc_per_node={nproc}"]
    if rendezvous:
        cmd += [
            f"--nnodes={rendezvous.nnodes}",
            "--rdzv_backend=c10d",
            f"--rdzv_endpoint={rendezvous.endpoint}",
            f"--rdzv_id={rendezvous.id}",
        ]
    return [*cmd, script, *args]


def volcano_policies(eviction_action: str) -> list[dict[str, str]]:
    """The Volcano Job's lifecycle policies: what a lost pod, a failed pod and a finished task do.

    volcano v1.15.1: `PodFailed` fires when a pod's phase turns Failed
    (`pkg/controllers/job/job_controller_handler.go` `updatePod`), which needs
    `restartPolicy: Never` in the template (with OnFailure the kubelet restarts the
    container in place and the event never comes); torchrun's ranks share one
    rendezvous, so a failed rank restarts the whole job. Each event appears once, as
    `pkg/webhooks/admission/jobs/validate/util.go` `validatePolicies` requires.
    """
    return [
        {"event": "PodEvicted", "action": eviction_action},
        {"event": "PodFailed", "action": "RestartJob"},
        {"event": "TaskCompleted", "action": "CompleteJob"},
    ]


def volcano_max_retry(max_restarts: int) -> int:
    """Volcano `maxRetry` that allows exactly `max_restarts` restarts.

    volcano v1.15.1 counts restart actions, not pod restarts: each RestartJob/RestartTask
    raises `status.retryCount` (`pkg/controllers/job/state/running.go`, `pending.go`),
    and the job fails in Restarting once `retryCount >= maxRetry`
    (`state/restarting.go` `restartingUpdateStatus`): the maxRetry-th restart is
    never carried out. A maxRetry of 0 is also replaced by 3
    (`pkg/webhooks/admission/jobs/mutate/mutate_job.go`), so 0 restarts is maxRetry 1.
    """
    return max_restarts + 1


def podset_group(framework: str, elastic: bool, worker_replicas: int) -> bool:
    """Whether the pod templates carry `kueue.x-k8s.io/podset-group-name`.

    kueue v0.19.2: the annotation reaches the Workload only beside a required or preferred
    topology annotation (`pkg/controller/jobframework/tas.go` `Build`, which the
    Kubeflow v1 integration calls in `kubeflowjob_controller.go`). Its webhook rules
    (`tas_validation.go` `ValidatePodSetGroupingTopology`, run for JobSet, LWS, MPIJob and
    Ray, not for Kubeflow v1 jobs) are kept anyway: exactly 2 PodSets, one of count 1,
    the same topology level, a non-numeric value. Only a fixed PyTorchJob with a Master
    (1) and Workers has that shape; grouping keeps the Master in the Workers' domain.
    Called only for a Kueue job with a topology.
    """
    return framework == "pytorchjob" and not elastic and worker_replicas >= 1


def plan_training_job(job: TrainingJob, ctx: PlanContext) -> TrainingPlan:
    spec = job.spec
    name = job.metadata.name
    gpu = ctx.gpu(spec.gpu, ("spec", "gpu"))
    # The model is not rendered (the script loads it); an unknown one only leaves its memory
    # unchecked, as an InferenceEndpoint's does, so it is a note, not an error.
    model = ctx.profiles.model(spec.model) if spec.model else None
    gpus = spec.gpus_per_node or gpu.spec.gpus_per_node
    min_nodes, max_nodes = node_counts(job)
    scheduler = effective_scheduler(spec)

    rendezvous = None
    if spec.framework == "volcano":
        rendezvous = Rendezvous(nnodes=max_nodes, endpoint=f"{name}-worker-0.{name}:{RDZV_PORT}", id=name)
    if spec.script:
        command = torchrun_command(spec.script, list(spec.args), gpus, rendezvous)
        args: list[str] = []
    else:
        command = list(spec.command or [])
        args = list(spec.args)

    labels = {**standard_labels(name, "training"), TRAINING_JOB_LABEL: name, **job.metadata.labels}
    job_labels = dict(labels)
    if scheduler == "kueue":
        if spec.queue:  # a Kueue job without one is a spec error, found before planning
            job_labels[KUEUE_QUEUE_LABEL] = spec.queue
        if spec.priority_class:
            job_labels[KUEUE_PRIORITY_LABEL] = spec.priority_class

    shm = shm_size(gpus, spec.shm_size)
    volumes, mounts = _volumes(job, shm)

    pod_annotations: dict[str, str] = {}
    affinity = None
    topology = spec.topology
    if topology and (key := topology.prefer or topology.require):
        if scheduler == "kueue":
            pod_annotations[KUEUE_PREFERRED_TOPOLOGY if topology.prefer else KUEUE_REQUIRED_TOPOLOGY] = key
            if podset_group(spec.framework, elastic=min_nodes != max_nodes, worker_replicas=max_nodes - 1):
                pod_annotations[KUEUE_PODSET_GROUP] = PODSET_GROUP
        else:
            affinity = _co_location(name, key, required=topology.require is not None)

    rdma = effective_rdma(spec.network)
    notes = _notes(job, scheduler, rdma)
    if spec.model and model is None:
        notes.append(
            f"TrainingJob {name}: no profile for model {spec.model!r}, so its training memory is not checked "
            f"(LK104); {ctx.profiles.suggest_model(spec.model)}; or make one with `llmkube profiles import CONFIG.json`"
        )

    node_selector = {GPU_PRODUCT_LABEL: gpu.spec.product, **spec.node_selector}
    pod = TrainingPod(
        labels=labels,
        annotations=pod_annotations,
        image=spec.image,
        command=tuple(command),
        args=tuple(args),
        env=tuple(_env(job)),
        resources=container_resources(
            spec.resources.cpu, spec.resources.memory, shm, GPU_RESOURCE, gpus, {rdma.resource: rdma.count} if rdma else None
        ),
        volume_mounts=tuple(mounts),
        volumes=tuple(volumes),
        node_selector=dict(sorted(node_selector.items())),
        tolerations=tuple(tolerations(spec.tolerations)),
        affinity=affinity,
        service_account=spec.service_account,
        priority_class_name=spec.priority_class if scheduler != "kueue" else None,
        security_context=rdma_security_context() if rdma and not rdma.efa else None,
    )
    return TrainingPlan(
        name=name,
        namespace=job.metadata.namespace,
        annotations=dict(job.metadata.annotations),
        labels=job_labels,
        framework=spec.framework,
        scheduler=scheduler,
        gpus_per_pod=gpus,
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        max_restarts=spec.max_restarts,
        pod=pod,
        suspend=scheduler == "kueue",
        queue=spec.queue or "default",
        min_available=max_nodes if spec.gang else 1,
        eviction_action=EVICTION_ACTIONS[spec.on_eviction],
        policies=tuple(volcano_policies(EVICTION_ACTIONS[spec.on_eviction])),
        max_retry=volcano_max_retry(spec.max_restarts),
        # volcano v1.15.1: the PodGroup takes the job's priorityClassName
        # (`pkg/controllers/job/job_controller_actions.go` `createOrUpdatePodGroup`) and the
        # scheduler orders and preempts gangs by it (`pkg/scheduler/cache/cache.go`); the
        # pods' own priorityClassName orders only tasks within the job.
        priority_class_name=spec.priority_class if spec.framework == "volcano" else None,
        runtime_ref=RuntimeRef(name=spec.runtime_ref.name, kind=spec.runtime_ref.kind),
        model=model.name if model else None,
        notes=tuple(notes),
    )


def rdma_security_context() -> K8sObject:
    """IPC_LOCK lifts the locked-memory limit that RDMA memory registration runs into.

    The upstream RDMA examples add it beside the device request
    (Mellanox/k8s-rdma-shared-dev-plugin `example/test-hca-pod.yaml`; the NVIDIA Network
    Operator's RDMA pods). Not for EFA: AWS's EKS examples request only
    `vpc.amazonaws.com/efa`, and an added capability is refused by the Pod Security
    `baseline` level, so it is not added where it is not known to be needed.
    """
    return {"capabilities": {"add": ["IPC_LOCK"]}}


def _notes(job: TrainingJob, scheduler: str, rdma: RdmaSpec | None) -> list[str]:
    spec = job.spec
    name = job.metadata.name
    notes = []
    if spec.framework == "pytorchjob" and scheduler == "kueue":
        # kubernetes-sigs/kueue v0.19.0+: `config/components/manager/controller_manager_config.yaml`
        # and the Helm chart's `values.yaml` list `kubeflow.org/pytorchjob` commented out.
        notes.append(
            f"PyTorchJob {name} is created suspended for Kueue queue {spec.queue}: Kueue 0.19 and later ship with the "
            "`kubeflow.org/pytorchjob` integration disabled; add it to `integrations.frameworks` in the Kueue "
            "configuration, or the job is never admitted and stays suspended."
        )
    if rdma is not None and spec.network.rdma is None:
        notes.append(
            f"TrainingJob {name}: `network.infiniband: true` requests {DEFAULT_RDMA_RESOURCE} (the NVIDIA Network "
            "Operator's usual name); set `network.rdma.resource` to what your RDMA device plugin advertises."
        )
    return notes


def _env(job: TrainingJob) -> list[K8sObject]:
    """NCCL's settings, the Hugging Face cache and token, then the user's env."""
    spec = job.spec
    env = nccl_env(spec.network)
    if spec.volumes.hf_cache:
        env.append({"name": "HF_HOME", "value": spec.volumes.hf_cache.mount_path})
    if spec.hugging_face.token_secret:
        env.append(secret_env("HF_TOKEN", spec.hugging_face.token_secret))
    return merge_env(env, spec.env)


def nccl_env(network: NetworkSpec) -> list[K8sObject]:
    """NCCL's variables for the `network` settings (a TrainingJob's, a multi-node endpoint's)."""
    env: list[K8sObject] = []
    if network.infiniband is not None:
        # Only an explicit choice: NCCL probes IB/RoCE devices itself when unset, and "1" sends
        # NCCL's traffic over TCP sockets (NVIDIA/nccl `src/transport/net_ib/init.cc`, IB_DISABLE).
        env.append({"name": "NCCL_IB_DISABLE", "value": "0" if network.infiniband else "1"})
    if network.nccl_debug:
        env.append({"name": "NCCL_DEBUG", "value": network.nccl_debug})
    if network.socket_ifname:
        env.append({"name": "NCCL_SOCKET_IFNAME", "value": network.socket_ifname})
    return env


def _volumes(job: TrainingJob, shm: str | None) -> tuple[list[K8sObject], list[K8sObject]]:
    spec = job.spec
    pairs = [shm_volume(shm)] if shm else []
    for vol_name, claim in (("checkpoints", spec.volumes.checkpoints), ("hf-cache", spec.volumes.hf_cache)):
        if claim is not None:
            pairs.append(claim_volume(vol_name, claim.claim, claim.mount_path, read_only=claim.read_only))
    return [volume for volume, _ in pairs], [mount for _, mount in pairs]


def _co_location(name: str, key: str, *, required: bool) -> K8sObject:
    term = {"labelSelector": {"matchLabels": {TRAINING_JOB_LABEL: name}}, "topologyKey": key}
    if required:
        return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {
        "podAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]
        }
    }
