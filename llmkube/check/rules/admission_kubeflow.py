"""LK6xx admission: Kubeflow training-operator v1 PyTorchJob (kubeflow/trainer v1.9.4).

The training operator's v1.9.4 webhook is validating only; its defaults
(`pytorch_defaults.go`) are applied later by the controller, so what the
webhook sees is the manifest as written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext

from llmkube.check.read.shape import as_int, dig
from llmkube.check.rules import Hit, rule
from llmkube.check.run import Target

ROLES = ("Master", "Worker")
CONTAINER = "pytorch"  # trainingoperator.PyTorchJobDefaultContainerName
MANAGED_BY = ("kubeflow.org/training-operator", "kueue.x-k8s.io/multikueue")


def _pytorchjobs(ctx: ReadContext) -> Iterator[Target]:
    for t in ctx.of_kind("PyTorchJob"):
        if str(t.obj.get("apiVersion", "")).startswith("kubeflow.org/") and isinstance(t.obj.get("spec"), Mapping):
            yield t


@rule("LK606", "pytorchjob-webhook", Severity.ERROR, "a PyTorchJob the training operator's webhook refuses", kinds=("PyTorchJob",))
def pytorchjob_webhook(ctx: ReadContext) -> Iterator[Hit]:
    """The training operator (v1.9.4) refuses a PyTorchJob when:
    `spec.nprocPerNode` and the deprecated `spec.elasticPolicy.nProcPerNode`
    are both set; an `elasticPolicy` has no `Worker` replica spec; a
    replica key is not exactly `Master` or `Worker` (case-sensitive — the
    controller's lower-case fix-up runs only after admission); a replica has
    no containers, a container has no image, or none is named `pytorch`;
    `Master.replicas` is not 1 (unset is refused too, since the webhook runs
    before defaulting); `Worker.replicas` is below 1; or
    `runPolicy.managedBy` names another controller. The deprecated
    `elasticPolicy.nProcPerNode` alone is accepted with a warning, reported
    here as a warning. Source: kubeflow/trainer v1.9.4
    `pkg/webhooks/pytorch/pytorchjob_webhook.go` `validatePyTorchJob`,
    `validateSpec`, `validatePyTorchReplicaSpecs`, and
    `pkg/common/util/webhooks.go` `ValidateRunPolicy`; the cases follow its
    test table (`pytorchjob_webhook_test.go`). The name is LK601's.

    Fails:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: llama-8b-finetune}
    spec:
      nprocPerNode: "8"
      elasticPolicy: {minReplicas: 2, maxReplicas: 4, nProcPerNode: 8}
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers: [{name: pytorch, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```

    Passes:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: llama-8b-finetune}
    spec:
      nprocPerNode: "8"
      elasticPolicy: {minReplicas: 2, maxReplicas: 4}
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers: [{name: pytorch, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```
    """
    for target in _pytorchjobs(ctx):
        spec = target.obj["spec"]
        elastic = spec.get("elasticPolicy")
        replicas = spec.get("pytorchReplicaSpecs")
        if isinstance(elastic, Mapping):
            if isinstance(replicas, Mapping) and "Worker" not in replicas:
                yield Hit(
                    target,
                    ("spec", "pytorchReplicaSpecs"),
                    "an elasticPolicy needs a Worker replica spec: the training operator refuses the job",
                    "add pytorchReplicaSpecs.Worker (elastic training scales the Workers)",
                )
            if elastic.get("nProcPerNode") is not None:
                if spec.get("nprocPerNode") is not None:
                    yield Hit(
                        target,
                        ("spec", "elasticPolicy", "nProcPerNode"),
                        "spec.elasticPolicy.nProcPerNode must not be used with spec.nprocPerNode: the training operator refuses the job",
                        "remove spec.elasticPolicy.nProcPerNode (deprecated) and keep spec.nprocPerNode",
                    )
                else:
                    yield Hit(
                        target,
                        ("spec", "elasticPolicy", "nProcPerNode"),
                        "spec.elasticPolicy.nProcPerNode is deprecated: the training operator admits the job with a warning",
                        f"use spec.nprocPerNode: \"{elastic.get('nProcPerNode')}\" instead",
                        Severity.WARNING,
                    )
        if replicas is None:
            yield Hit(target, ("spec",), "spec.pytorchReplicaSpecs is required by the training operator", "add pytorchReplicaSpecs with a Master and/or Worker")
        managed = (spec.get("runPolicy") or {}).get("managedBy") if isinstance(spec.get("runPolicy"), Mapping) else None
        if managed is not None and managed not in MANAGED_BY:
            yield Hit(
                target,
                ("spec", "runPolicy", "managedBy"),
                f"runPolicy.managedBy {managed!r} is not supported: the training operator refuses the job",
                f"use one of {', '.join(MANAGED_BY)}, or leave it out",
            )
        if not isinstance(replicas, Mapping):
            continue
        for role, rs in replicas.items():
            rpath = ("spec", "pytorchReplicaSpecs", role)
            if role not in ROLES:
                fix = next((r for r in ROLES if r.lower() == str(role).lower()), None)
                yield Hit(
                    target,
                    rpath,
                    f"replica type {role!r} is not supported: the webhook accepts only Master and Worker (case-sensitive)",
                    f"rename it to {fix}" if fix else "use Master (exactly one pod, rank 0) and Worker",
                )
            rs = rs if isinstance(rs, Mapping) else {}
            cpath = (*rpath, "template", "spec", "containers")
            containers = dig(rs, "template", "spec", "containers")
            if not isinstance(containers, list) or not containers:
                yield Hit(target, rpath, f"{role} has no containers: the training operator refuses the job", f"add a container named {CONTAINER} with an image")
            else:
                for i, c in enumerate(containers):
                    if isinstance(c, Mapping) and not c.get("image"):
                        yield Hit(target, (*cpath, i, "image") if "image" in c else (*cpath, i), f"{role} container {i} has no image: the training operator refuses the job", "set the container's image")
                if not any(isinstance(c, Mapping) and c.get("name") == CONTAINER for c in containers):
                    yield Hit(
                        target,
                        (*cpath, 0, "name"),
                        f"{role} has no container named {CONTAINER!r}: the training operator refuses the job (it also puts the rendezvous port and env on that container)",
                        f"name the training container {CONTAINER}",
                    )
            n = as_int(rs.get("replicas"))
            if role == "Master" and n != 1:
                yield Hit(
                    target,
                    (*rpath, "replicas") if rs.get("replicas") is not None else rpath,
                    "Master replicas must be 1" + (" (unset is refused: the webhook runs before the controller's default)" if rs.get("replicas") is None else f", not {rs.get('replicas')}"),
                    "set Master.replicas: 1 and put the other pods under Worker",
                )
            elif role != "Master" and n is not None and n < 1:
                yield Hit(target, (*rpath, "replicas"), f"{role} replicas must be at least 1, not {n}", "set Worker.replicas ≥ 1, or drop the Worker spec")


@rule("LK607", "elastic-min-above-max", Severity.ERROR, "an elastic PyTorchJob whose minReplicas exceeds maxReplicas", kinds=("PyTorchJob",))
def elastic_min_above_max(ctx: ReadContext) -> Iterator[Hit]:
    """The training operator does not check `elasticPolicy.minReplicas` against
    `maxReplicas` (no webhook rule, no CEL, no schema minimum): it passes them
    to torchrun as `PET_NNODES=<min>:<max>`, and torch elastic's rendezvous
    refuses a maximum below the minimum (`RendezvousParameters`), so every
    pod's launcher exits at start. This
    is llmkube's own check, filling that gap. Source: kubeflow/trainer v1.9.4
    `pkg/controller.v1/pytorch/elastic.go` `generateEnvNnodes`,
    `pkg/apis/kubeflow.org/v1/pytorch_defaults.go` `setElasticPolicy`.

    Fails:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: llama-8b-finetune}
    spec:
      elasticPolicy: {minReplicas: 4, maxReplicas: 2}
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers: [{name: pytorch, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```

    Passes:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: llama-8b-finetune}
    spec:
      elasticPolicy: {minReplicas: 2, maxReplicas: 4}
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers: [{name: pytorch, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```
    """
    for target in _pytorchjobs(ctx):
        elastic = target.obj["spec"].get("elasticPolicy")
        if not isinstance(elastic, Mapping):
            continue
        lo, hi = as_int(elastic.get("minReplicas")), as_int(elastic.get("maxReplicas"))
        if lo is not None and hi is not None and lo > hi:
            yield Hit(
                target,
                ("spec", "elasticPolicy", "minReplicas"),
                f"elasticPolicy.minReplicas {lo} exceeds maxReplicas {hi}: torchrun gets --nnodes={lo}:{hi}, which its rendezvous refuses, so every pod's launcher exits",
                f"set minReplicas ≤ maxReplicas (e.g. minReplicas: {hi})",
            )


# ---- Trainer v2 -------------------------------------------------------------------

# kubeflow/trainer v2.3.0 pkg/constants/constants.go TorchRunReservedEnvNames: the torch plugin sets them.
TORCH_RESERVED_ENV = ("PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT")


def _runtime_of(ctx: ReadContext, ref: Mapping[str, object]) -> Target | None:
    kind = ref.get("kind") or "ClusterTrainingRuntime"
    for t in ctx.index.named(str(kind), ref.get("name")):
        if str(t.obj.get("apiVersion", "")).startswith("trainer.kubeflow.org/"):
            return t
    return None


@rule("LK614", "trainjob-reserved-env", Severity.ERROR, "a TrainJob sets an environment variable its torch runtime reserves", kinds=("TrainJob",))
def trainjob_reserved_env(ctx: ReadContext) -> Iterator[Hit]:
    """With a runtime whose `mlPolicy` is `torch`, Kubeflow Trainer's webhook
    refuses a TrainJob whose `spec.trainer.env` sets any of the variables the
    torch plugin fills in itself (`PET_NNODES`, `PET_NPROC_PER_NODE`,
    `PET_NODE_RANK`, `PET_MASTER_ADDR`, `PET_MASTER_PORT`): set
    `numNodes` / `numProcPerNode` instead. Error when the runtime is in the
    run with a torch policy; a warning when the runtime is not in the run
    (its policy is unknown). The rest of the TrainJob's admission rules are
    CEL rules of its CRD, which the schema check reports. Source:
    kubeflow/trainer v2.3.0 `pkg/runtime/framework/plugins/torch/torch.go`
    `Torch.Validate`, `pkg/constants/constants.go`
    `TorchRunReservedEnvNames`, `pkg/webhooks/trainjob_webhook.go`.

    Fails:

    ```yaml
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: TrainJob
    metadata: {name: qwen-7b-sft}
    spec:
      runtimeRef: {name: torch-distributed}
      trainer:
        numNodes: 2
        env: [{name: PET_NPROC_PER_NODE, value: "4"}]
    ```

    Passes:

    ```yaml
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: TrainJob
    metadata: {name: qwen-7b-sft}
    spec:
      runtimeRef: {name: torch-distributed}
      trainer:
        numNodes: 2
        numProcPerNode: 4
    ```
    """
    for target in ctx.of_kind("TrainJob"):
        spec = target.obj.get("spec")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("trainer"), Mapping):
            continue
        raw_ref = spec.get("runtimeRef")
        ref: Mapping[str, object] = raw_ref if isinstance(raw_ref, Mapping) else {}
        runtime = _runtime_of(ctx, ref)
        if runtime is not None:
            policy = ((runtime.obj.get("spec") or {}).get("mlPolicy") or {}) if isinstance(runtime.obj.get("spec"), Mapping) else {}
            if not isinstance(policy, Mapping) or "torch" not in policy:
                continue
        env_list = spec["trainer"].get("env")
        for i, env in enumerate(env_list if isinstance(env_list, list) else []):
            if isinstance(env, Mapping) and env.get("name") in TORCH_RESERVED_ENV:
                yield Hit(
                    target,
                    ("spec", "trainer", "env", i, "name"),
                    f"{env['name']} is set by the torch runtime itself: Kubeflow Trainer refuses a TrainJob that sets it"
                    + ("" if runtime is not None else f" (runtime {ref.get('name')!r} is not in the run; assuming a torch policy)"),
                    "remove it; use spec.trainer.numNodes / numProcPerNode",
                    None if runtime is not None else Severity.WARNING,
                )
