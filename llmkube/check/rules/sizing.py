"""LK1xx: sizing rules — does the model fit the GPU, the MIG slice, the TP group, the gang?

These rules read manifests: the model from vLLM's `--model` (or `vllm serve
MODEL`) / TGI's `--model-id`, matched to a model profile by Hugging Face id;
the GPU from a `nvidia.com/gpu.product` node selector or required node
affinity (`-MIG-<profile>` = a MIG slice under the single strategy,
`-SHARED` = a time-sliced or MPS GPU) or from a `nvidia.com/mig-<profile>`
resource; GPUs from the container's resources. What cannot be read is not
guessed: the rule skips, or says so as an info finding.

Reading the servers and jobs lives in `llmkube.check.read` and the arithmetic
in `llmkube.plan.sizing` (both shared with `llmkube plan`).
"""

from __future__ import annotations

from collections.abc import Iterator

from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext
from llmkube.check.read.servers import SERVER_KINDS
from llmkube.check.read.training import TRAINING_KINDS
from llmkube.check.rules import Hit, rule
from llmkube.engines import flag


def _gib(x: float) -> str:
    return f"{x:.1f}"


# --------------------------------------------------------------------------- rules


@rule("LK101", "model-does-not-fit", Severity.ERROR, "a vLLM/TGI server's model does not fit its GPUs", kinds=SERVER_KINDS)
def model_does_not_fit(ctx: ReadContext) -> Iterator[Hit]:
    """A model server needs, on each GPU, its share of the weights (÷ tensor × pipeline
    parallel size; the first stage also holds the embeddings, the last the LM head; an
    MoE's routed experts are spread over tensor × data-parallel GPUs, with or without
    `--enable-expert-parallel`),
    the engine's runtime memory and the KV cache for at least one full
    `--max-model-len` sequence (vLLM defaults it to the model's whole context). The
    runtime memory is modelled as vLLM's start-up profiling measures it: the activation
    peak of its profiling batch (`--max-num-batched-tokens` tokens, `--max-num-seqs`
    sequences through the sampler — defaults that depend on the GPU), memory outside
    torch (NCCL, cuBLAS) and, from vLLM 0.21, the CUDA-graph estimate; `llmkube plan
    -o json` shows each term. Sliding-window layers (Gemma 2/3, Mistral) need only their
    window. vLLM may use `--gpu-memory-utilization` × the GPU's memory as CUDA reports it
    (79.19 GiB on an "80 GB" H100, the slice's memory on MIG); if the need is larger,
    the server exits at start-up ("No available memory for the cache blocks", or too
    little KV cache for one max-model-len request) and the pod crash-loops. The message
    gives the numbers; the hint the settings that would fit (a higher
    gpuMemoryUtilization, a shorter context, an fp8 KV cache, a quantized checkpoint)
    and the smallest tensor-parallel size or MIG profile that does.

    Fails:

    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: llama-70b}
    spec:
      selector: {matchLabels: {app: llama-70b}}
      template:
        metadata: {labels: {app: llama-70b}}
        spec:
          nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.11.0
              args: [--model, meta-llama/Llama-3.1-70B-Instruct, --max-model-len, "8192"]
              resources: {limits: {nvidia.com/gpu: 1}}
    ```

    Passes:

    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: llama-70b}
    spec:
      selector: {matchLabels: {app: llama-70b}}
      template:
        metadata: {labels: {app: llama-70b}}
        spec:
          nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.11.0
              args: [--model, meta-llama/Llama-3.1-70B-Instruct, --max-model-len, "8192",
                     --tensor-parallel-size, "4"]
              resources: {limits: {nvidia.com/gpu: 4}}
    ```
    """
    for s in ctx.servers:
        fit = ctx.sizing.fit(s)
        if fit is None or s.model is None or s.gpu is None:
            continue
        where = f"{fit.utilization:g} × {fit.memory_gib:g} GiB {s.gpu.name}"
        par = f"TP {fit.tensor_parallel}" + (f" × PP {fit.pipeline_parallel}" if fit.pipeline_parallel > 1 else "")
        if s.length_known:
            if fit.fits:
                continue
            message = (
                f"{s.model.spec.display_name} needs {_gib(fit.need_gib)} GiB per GPU at {par} "
                f"({_gib(fit.weights_gib)} weights + {_gib(fit.kv_sequence_gib)} KV for one {fit.max_model_len}-token "
                f"sequence + {_gib(fit.overhead_gib)} runtime) but may use {_gib(fit.budget_gib)} GiB ({where}; "
                f"{fit.accounting.label} accounting)"
            )
        else:
            base = fit.weights_gib + fit.overhead_gib
            if base <= fit.budget_gib:
                continue
            message = (
                f"{s.model.spec.display_name} needs {_gib(base)} GiB per GPU at {par} before any KV cache "
                f"({_gib(fit.weights_gib)} weights + {_gib(fit.overhead_gib)} runtime) but may use "
                f"{_gib(fit.budget_gib)} GiB ({where})"
            )
        options = ctx.sizing.fit_options(s)
        advice = ctx.sizing.recommendation(s)
        if advice and s.gpu.gpu:
            options.append(f"{advice} ({s.gpu.gpu.name})")
        hint = ("fits with " + "; or ".join(options)) if options else \
            "raise the tensor-parallel size, shorten --max-model-len, quantize, or use a larger GPU"
        yield Hit(s.target, s.model_path, message, hint)


@rule("LK102", "unknown-model", Severity.INFO, "no model profile: sizing checks skipped",
      kinds=(*SERVER_KINDS, *sorted(TRAINING_KINDS)))
def unknown_model(ctx: ReadContext) -> Iterator[Hit]:
    """Sizing needs the model's shapes (parameters, layers, KV heads, head size). When the
    served or trained model matches no model profile by name or Hugging Face id, the
    sizing rules (LK101, LK103, LK104, LK302, LK305, LK307) skip it rather than guess,
    and this note says so. Add a ModelProfile with `--profiles DIR` to size it.

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: my-model}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, my-org/my-private-13b]
          resources: {limits: {nvidia.com/gpu: 1}}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-8b}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-8B-Instruct]
          resources: {limits: {nvidia.com/gpu: 1}}
    ```
    """
    for s in ctx.servers:
        if s.model_id and s.model is None:
            yield Hit(s.target, s.model_path, f"no model profile for {s.model_id!r}: sizing not checked",
                      "add a ModelProfile (layers, heads, KV heads, head size, parameters) with --profiles DIR")
    for t in ctx.training_jobs:
        if t.model_id and t.model is None:
            yield Hit(t.target, t.path, f"no model profile for {t.model_id!r}: training memory not checked",
                      "add a ModelProfile with --profiles DIR")


@rule("LK103", "concurrency-exceeds-kv-cache", Severity.WARNING, "the KV cache holds fewer full sequences than --max-num-seqs", kinds=SERVER_KINDS)
def concurrency_exceeds_kv(ctx: ReadContext) -> Iterator[Hit]:
    """vLLM sizes its KV cache from what is left after weights and runtime memory
    (`--gpu-memory-utilization` × physical memory − weights − runtime), in blocks of 16
    tokens. When that pool holds fewer full `--max-model-len` sequences than
    `--max-num-seqs` asks for, long requests are preempted and recomputed under load:
    the requested concurrency is not there. Fix it with a larger tensor-parallel size,
    a shorter `--max-model-len`, an fp8 KV cache (`--kv-cache-dtype fp8` doubles the
    tokens) or a lower `--max-num-seqs`.

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-8b}
    spec:
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-8B-Instruct, --max-model-len, "32768", --max-num-seqs, "64"]
          resources: {limits: {nvidia.com/gpu: 1}}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-8b}
    spec:
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-8B-Instruct, --max-model-len, "8192", --max-num-seqs, "32"]
          resources: {limits: {nvidia.com/gpu: 1}}
    ```
    """
    for s in ctx.servers:
        fit = ctx.sizing.fit(s)
        if fit is None or fit.max_num_seqs is None or not fit.fits:
            continue
        if fit.fits_requested:
            continue
        yield Hit(
            s.target,
            s.setting_path("max_num_seqs"),
            f"the KV cache holds {fit.max_sequences} full {fit.max_model_len}-token sequences "
            f"({fit.kv_tokens} tokens, {_gib(fit.kv_budget_gib)} GiB per GPU) but {flag(s.runtime, 'max_num_seqs')} is {fit.max_num_seqs}",
            (ctx.sizing.recommendation(s) or "raise the tensor-parallel size") +
            f"; or shorten {flag(s.runtime, 'max_model_len')}, use --kv-cache-dtype fp8, or lower {flag(s.runtime, 'max_num_seqs')}",
        )


@rule("LK104", "training-does-not-fit", Severity.ERROR, "a training job's per-GPU memory exceeds its GPU",
      kinds=sorted(TRAINING_KINDS))
def training_does_not_fit(ctx: ReadContext) -> Iterator[Hit]:
    """Training keeps model states on the GPUs before any activation: a full fine-tune
    with mixed precision and AdamW about 16–18 bytes per parameter, LoRA the frozen
    16-bit base (2 B/param) plus small adapters, QLoRA a 4-bit base (≈0.5 B/param).
    How they spread over the GPUs is the spec's `training.distribution`: `ddp` keeps
    all of them on every GPU, `zero2` shards gradients and optimizer states, `fsdp`
    (the default) shards everything over all of the job's GPUs. A plain manifest does
    not say, so it is sized as `fsdp` — the best case. The lower bound must fit one
    GPU, or the job dies with CUDA out-of-memory.

    The method comes from the TrainingJob spec's `training.method`; for plain
    manifests only from obvious flags (`--use_lora`, `--lora_r`, `--use_qlora`,
    `--load_in_4bit` with LoRA); otherwise the job is skipped. The GPU count is the
    job's minimum size (all workers × GPUs per pod).

    Fails:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: lora-405b}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 1
          template:
            spec:
              nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  command: [torchrun, --nproc_per_node=8, train.py,
                            --model_name_or_path=meta-llama/Llama-3.1-405B, --use_lora]
                  resources: {limits: {nvidia.com/gpu: 8}}
    ```

    Passes:

    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: lora-405b}
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
                  command: [torchrun, --nproc_per_node=8, train.py,
                            --model_name_or_path=meta-llama/Llama-3.1-405B, --use_lora]
                  resources: {limits: {nvidia.com/gpu: 8}}
    ```
    """
    for t in ctx.training_jobs:
        fit = t.fit()
        if fit is None or fit.fits or t.model is None or t.gpu is None:
            continue
        what = {"full": "a full fine-tune", "lora": "LoRA", "qlora": "QLoRA"}[fit.method]
        params = t.model.spec.parameters_b * 1e9
        spread = {"ddp": "on every one of its", "zero2": "with ZeRO-2 over", "fsdp": "sharded over"}[fit.distribution]
        hint = f"use at least {fit.gpus_needed} GPUs with FSDP/ZeRO-3"
        if fit.distribution != "fsdp":
            hint += " (training.distribution: fsdp)"
        yield Hit(
            t.target,
            t.path,
            f"{what} of {t.model.spec.display_name} ({params / 1e9:.0f}B parameters) needs at least "
            f"{_gib(fit.low_gib)} GiB per GPU {spread} {fit.gpus} GPUs, before activations, "
            f"but one {t.gpu.name} has {fit.memory_gib:g} GiB",
            hint + ("" if fit.method == "qlora" else ", or LoRA/QLoRA"),
        )

