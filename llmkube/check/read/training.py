"""Training jobs as rules and `llmkube plan` see them: model, method, GPUs.

A job rendered from a TrainingJob spec is read from the spec (its
`training.method` is explicit). A plain manifest says its method only through
obvious flags (`--use_lora`, `--lora_r`, `--use_qlora`, `--load_in_4bit` with
LoRA); without them the job is not sized (full fine-tuning is not assumed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from llmkube.check.read.args import command_line, flag_on, flag_path
from llmkube.check.read.shape import dig
from llmkube.check.read.torchrun import runs_torchrun
from llmkube.check.read.workloads import Path, gpu_request, pod_groups
from llmkube.check.run import Target
from llmkube.engines import arg_value, engine_of
from llmkube.records import record

if TYPE_CHECKING:  # the sizing model, the profiles and the GPU reader are loaded when a job is sized
    from llmkube.check.read.gpus import GPUTarget
    from llmkube.plan.training_memory import TrainingFit
    from llmkube.profiles import ModelProfile, ProfileStore
    from llmkube.specs.parse import LoadedSpec

TRAINING_KINDS = {"PyTorchJob", "TrainJob", "MPIJob", "JobSet", "Job"}
MODEL_FLAGS = ("--model_name_or_path", "--model-name-or-path", "--model_id", "--model-id", "--base_model", "--pretrained_model_name_or_path", "--model")
QLORA_FLAGS = ("--use_qlora", "--qlora", "--use-qlora")
LORA_FLAGS = ("--use_lora", "--lora", "--use-lora", "--use_peft", "--use-peft")


def method_from_args(line: list[str]) -> str | None:
    """lora / qlora from obvious flags; None when the command line does not say (full is not assumed)."""
    peft = (arg_value(line, "--peft") or arg_value(line, "--peft_type") or "").lower()
    if flag_on(line, *QLORA_FLAGS) or peft == "qlora":
        return "qlora"
    if flag_on(line, *LORA_FLAGS) or peft == "lora" or arg_value(line, "--lora_r", "--lora-r") is not None:
        return "qlora" if flag_on(line, "--load_in_4bit", "--load-in-4bit") else "lora"
    return None


@record
class TrainingSetup:
    """One training job: what it trains, how, on how many of which GPU.

    `method` is None for a torchrun job whose command line does not say
    (`llmkube plan` lists it unsized; the rules skip it).
    """

    target: Target
    path: Path  # where the model is named (the flag), or () when read from a spec
    model_id: str | None
    model: ModelProfile | None
    method: str | None
    gpus: int
    gpu: GPUTarget | None
    # How model states spread over the GPUs: the spec's training.distribution; a plain manifest
    # does not say, so the most frugal (fsdp) is assumed and a miss is a certain one.
    distribution: str = "fsdp"

    def fit(self) -> TrainingFit | None:
        if self.model is None or self.gpu is None or self.method is None or self.gpus < 1:
            return None
        from llmkube.plan.training_memory import training_fit

        return training_fit(self.model, self.method, self.gpus, self.gpu.memory_gib, self.distribution)


def _from_spec(profiles: ProfileStore, target: Target, loaded: LoadedSpec) -> TrainingSetup | None:
    from llmkube.check.read.gpus import GPUTarget

    spec = loaded.spec.spec
    if not spec.model:
        return None
    gpu = profiles.gpu(spec.gpu)
    per_node = spec.gpus_per_node or (gpu.spec.gpus_per_node if gpu else 0)
    nodes = spec.nodes if isinstance(spec.nodes, int) else spec.nodes.min
    return TrainingSetup(
        target, (), spec.model, profiles.model(spec.model), spec.training.method, nodes * per_node,
        GPUTarget(gpu.name, gpu.spec.memory_gi_b, gpu) if gpu else None, spec.training.distribution,
    )


def _from_manifest(profiles: ProfileStore, target: Target) -> TrainingSetup | None:
    groups = pod_groups(target)
    method = model_id = None
    path: Path = ()
    gpu: GPUTarget | None = None
    gpus = 0
    for group in groups:
        per_pod = 0
        for cpath, container in group.containers():
            line = command_line(container)
            if engine_of(str(container.get("image", "")), " ".join(line)):
                return None
            m = method_from_args(line)
            if m and method is None:
                method, path = m, flag_path(cpath, container, *MODEL_FLAGS)
                model_id = arg_value(line, *MODEL_FLAGS)
            request = gpu_request(container)
            if request:
                from llmkube.check.read.gpus import gpu_target

                per_pod += request[1]
                gpu = gpu or gpu_target(profiles, group, request[0])
        replicas = group.replicas
        min_replicas = dig(target.obj, "spec", "elasticPolicy", "minReplicas")
        if isinstance(min_replicas, int) and not isinstance(min_replicas, bool) and group.role == "Worker":
            replicas = min_replicas
        gpus += per_pod * replicas
    if method is None:
        return None
    return TrainingSetup(target, path, model_id, profiles.model(model_id) if model_id else None, method, gpus, gpu)


def training_setups(targets: Iterable[Target], profiles: ProfileStore) -> list[TrainingSetup]:
    """Every training job of the run whose method is known, in manifest order."""
    out = []
    for target in targets:
        if not isinstance(target.obj.get("kind"), str) or target.obj.get("kind") not in TRAINING_KINDS:
            continue
        if target.spec is not None and target.spec.kind == "TrainingJob":
            setup = _from_spec(profiles, target, target.spec)
        else:
            setup = _from_manifest(profiles, target)
        if setup is not None:
            out.append(setup)
    return out


def torchrun_job(profiles: ProfileStore, target: Target) -> TrainingSetup | None:
    """A job that runs torchrun, its method unknown: all its pods' GPUs (no elastic minimum)."""
    groups = pod_groups(target)
    if not any(runs_torchrun(command_line(c)) for g in groups for _, c in g.containers()):
        return None
    from llmkube.check.read.gpus import gpu_target

    gpus, gpu = 0, None
    for g in groups:
        for _, c in g.containers():
            req = gpu_request(c)
            if req:
                gpus += req[1] * g.replicas
                gpu = gpu or gpu_target(profiles, g, req[0])
    return TrainingSetup(target, (), None, None, None, gpus, gpu)
