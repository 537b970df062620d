"""LK3xx: serving rules (KServe, vLLM, TGI, Deployments of model servers)."""

from __future__ import annotations

from collections.abc import Iterator

from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext
from llmkube.check.read.deadlines import DEPLOYMENT_DEFAULT_DEADLINE, knative_deadline, probe_budget
from llmkube.check.read.servers import SERVER_KINDS
from llmkube.check.read.shape import as_mapping, dig
from llmkube.check.rules import Hit, rule
from llmkube.engines import flag
from llmkube.names import KNATIVE_PROGRESS_DEADLINE_ANNOTATION, KSERVE_CANARY_ANNOTATION


@rule("LK301", "canary-annotation", Severity.ERROR, "canary traffic set by an annotation KServe does not read", kinds=("InferenceService",))
def canary_annotation(ctx: ReadContext) -> Iterator[Hit]:
    """KServe splits traffic between the previous and the latest revision by the
    field `spec.predictor.canaryTrafficPercent`. The annotation
    `serving.kserve.io/canaryTrafficPercent` is not a KServe setting: with it,
    every request goes to the new revision at once.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations:
        serving.kserve.io/canaryTrafficPercent: "10"
    spec:
      predictor:
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {name: llama}
    spec:
      predictor:
        canaryTrafficPercent: 10
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```
    """
    for target in ctx.of_kind("InferenceService"):
        annotations = as_mapping(dig(target.obj, "metadata", "annotations"))
        if KSERVE_CANARY_ANNOTATION in annotations:
            yield Hit(
                target,
                ("metadata", "annotations", KSERVE_CANARY_ANNOTATION),
                f"the {KSERVE_CANARY_ANNOTATION} annotation is not read by KServe: use the field",
                f"set spec.predictor.canaryTrafficPercent: {annotations[KSERVE_CANARY_ANNOTATION]} and remove the annotation",
            )


# --------------------------------------------------------------------------- shape and startup of model servers
# (LK302–LK307 read vLLM/TGI containers as llmkube.check.read.servers reads them: ctx.servers)

FIXED_DELAY_THRESHOLD = 60  # seconds of initialDelaySeconds that stand in for a startup probe


@rule("LK302", "tensor-parallel-heads", Severity.ERROR, "the tensor-parallel size does not divide the model's attention heads or its fp8 weight blocks", kinds=SERVER_KINDS)
def tensor_parallel_heads(ctx: ReadContext) -> Iterator[Hit]:
    """Tensor parallelism splits the attention heads evenly over the GPUs: vLLM and TGI
    refuse to start when `--tensor-parallel-size` / `--num-shard` does not divide the
    model's attention heads, or its KV heads (when it has more KV heads than GPUs; with
    fewer, the size must be a multiple of them, and each is replicated). A block-quantized fp8
    checkpoint (`weight_block_size` in its `quantization_config`, 128 × 128 for Qwen3 and
    DeepSeek-V3 FP8) must also give every GPU whole weight blocks: vLLM refuses to load it when an
    MLP's or a routed expert's width ÷ TP is not a multiple of the block (vllm/model_executor/layers/
    quantization/fp8.py `Fp8MoEMethod.create_weights`: "The output_size of gate's and up's weight
    … is not divisible by weight quantization block_n"). Qwen3-235B-A22B-FP8's 1,536-wide experts
    allow TP 2 and 4 but not 8, unless `--enable-expert-parallel` gives each GPU whole experts.

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-70b}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "3"]
          resources: {limits: {nvidia.com/gpu: 3}}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-70b}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "4"]
          resources: {limits: {nvidia.com/gpu: 4}}
    ```
    """
    for s in ctx.servers:
        from llmkube.plan.sizing import quantization_tp_problems, tp_problems, valid_tensor_parallel  # the sizing model: loaded once a run has a server

        if s.model is None or s.config.tensor_parallel <= 1:
            continue
        c = s.config
        heads = tp_problems(s.model, c.tensor_parallel)
        blocks = quantization_tp_problems(s.model, c.tensor_parallel, c.data_parallel, c.expert_parallel)
        if heads or blocks:
            valid = ", ".join(str(t) for t in valid_tensor_parallel(s.model, 8, c.data_parallel, c.expert_parallel))
            hint = f"valid sizes up to 8: {valid}"
            if blocks and not heads and s.runtime == "vllm" and not c.expert_parallel \
                    and not quantization_tp_problems(s.model, c.tensor_parallel, c.data_parallel, True):
                hint += f"; or keep {c.tensor_parallel} with {flag('vllm', 'expert_parallel')} (whole experts per GPU)"
            yield Hit(
                s.target, s.tp_path,
                f"{flag(s.runtime, 'tensor_parallel')} {c.tensor_parallel} does not fit {s.model.spec.display_name}: {'; '.join(heads + blocks)}",
                hint,
            )


@rule("LK303", "tensor-parallel-beyond-node", Severity.ERROR, "the tensor-parallel size exceeds the GPUs of one node", kinds=SERVER_KINDS)
def tensor_parallel_beyond_node(ctx: ReadContext) -> Iterator[Hit]:
    """Tensor parallelism exchanges activations at every layer and belongs inside one
    node (NVLink). A size larger than the GPU's nodes hold (its profile's
    `gpusPerNode`, 8 on HGX H100) cannot be scheduled as one pod; across pods it runs
    over the network at a fraction of the speed. Use pipeline parallelism across nodes.

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-405b}
    spec:
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "16"]
          resources: {limits: {nvidia.com/gpu: 16}}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-405b}
    spec:
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8",
                 --quantization, fp8]
          resources: {limits: {nvidia.com/gpu: 8}}
    ```
    """
    for s in ctx.servers:
        per_node = s.gpu.gpus_per_node if s.gpu else None
        if s.gpu is None or per_node is None or s.config.tensor_parallel <= per_node:
            continue
        yield Hit(
            s.target, s.tp_path,
            f"tensor-parallel size {s.config.tensor_parallel} exceeds the {per_node} GPUs of one {s.gpu.name} node",
            f"keep tensor parallelism within a node (≤ {per_node}); add --pipeline-parallel-size across nodes",
        )


@rule("LK304", "gpus-match-parallelism", Severity.ERROR, "the GPU request is not tensor × pipeline parallel size", kinds=SERVER_KINDS)
def gpus_match_parallelism(ctx: ReadContext) -> Iterator[Hit]:
    """A vLLM server starts one worker per GPU of its tensor × pipeline parallel group and
    needs exactly that many GPUs in its pod — times its data-parallel engines with
    `--data-parallel-size` (all of them in the pod unless `--data-parallel-size-local` says
    how many are, or `--data-parallel-rank` makes the pod one engine). Fewer and it fails to start (or waits for
    GPUs forever); more and the extra GPUs sit idle (a warning). TGI without
    `--num-shard` shards over every GPU it sees, so it always matches. Multi-node
    servers of KServe's `workerSpec` are compared per pod with the tensor-parallel size; a
    LeaderWorkerSet group is LK340's (a pod may hold several pipeline stages).

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-70b}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "4"]
          resources: {limits: {nvidia.com/gpu: 2}}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-70b}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "4"]
          resources: {limits: {nvidia.com/gpu: 4}}
    ```
    """
    for s in ctx.servers:
        if s.gpu_count is None or s.gpu_resource is None:
            continue
        if s.target.obj.get("kind") == "LeaderWorkerSet":
            continue  # a pod may hold several stages (TP 4 × PP 4 on 2 × 8 GPUs): LK340 counts the whole group
        multi_node = bool(s.group.spec.get("workerSpec"))
        expected = s.config.tensor_parallel if multi_node else s.config.tensor_parallel * s.config.pipeline_parallel
        if s.gpus_needed is not None:  # data parallel (a vLLM pod, an LLMInferenceService pool): tensor × local data ranks (× pipeline on one node)
            expected = s.gpus_needed * s.config.pipeline_parallel
        if s.gpu_count == expected:
            continue
        section = "limits" if dig(s.container, "resources", "limits", s.gpu_resource) is not None else "requests"
        path = (*s.path, "resources", section, s.gpu_resource)
        par = f"tensor-parallel {s.config.tensor_parallel}" + (f" × pipeline-parallel {s.config.pipeline_parallel}" if s.config.pipeline_parallel > 1 and not multi_node else "")
        if s.gpus_needed is not None and s.gpus_needed != s.config.tensor_parallel:
            par += f" × {s.gpus_needed // max(1, s.config.tensor_parallel)} data-parallel engines"
        if s.gpu_count < expected:
            yield Hit(s.target, path, f"{s.gpu_resource}: {s.gpu_count} but {par} needs {expected} GPUs",
                      f"request {expected} GPUs, or lower the parallel size to {s.gpu_count}")
        else:
            yield Hit(s.target, path, f"{s.gpu_resource}: {s.gpu_count} but {par} uses {expected}: {s.gpu_count - expected} GPUs idle",
                      f"request {expected} GPUs, or set the parallel size to use all {s.gpu_count}", Severity.WARNING)


@rule("LK305", "startup-budget-below-load-time", Severity.WARNING, "the startup probe gives up before the model has loaded", kinds=SERVER_KINDS)
def startup_budget_below_load(ctx: ReadContext) -> Iterator[Hit]:
    """Loading a model reads its weights (≈141 GB for a 70B model in bf16) before the
    server answers `/health`. The kubelet restarts the container when the startup probe
    has failed `failureThreshold` times `periodSeconds` apart (after
    `initialDelaySeconds`) — or, without a startup probe, when the liveness probe does —
    so a budget shorter than the load time is a restart loop that never serves.

    The load time is estimated as weights ÷ 0.5 GB/s + 120 s engine start-up, plus the
    download when the weights are pulled at every start: from the Hugging Face hub at
    0.1 GB/s, from an object store (`s3://…`) at 0.5 GB/s. Weights on a
    PersistentVolumeClaim (the model path, or the Hugging Face cache — `HF_HOME`,
    `HF_HUB_CACHE`, TGI's `/data` — on a claim) or in the image (a local path) are not
    downloaded. A manifest rendered from an InferenceEndpoint uses its `startup`
    settings (`source`, throughputs) instead. Faster storage or networks may load
    sooner, hence a warning.

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-70b}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "4"]
          resources: {limits: {nvidia.com/gpu: 4}}
          startupProbe: {httpGet: {path: /health, port: 8000}, periodSeconds: 10, failureThreshold: 60}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-70b}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "4"]
          env: [{name: HF_HOME, value: /models}]
          resources: {limits: {nvidia.com/gpu: 4}}
          volumeMounts: [{name: model-cache, mountPath: /models}]
          startupProbe: {httpGet: {path: /health, port: 8000}, periodSeconds: 10, failureThreshold: 60}
      volumes: [{name: model-cache, persistentVolumeClaim: {claimName: hf-model-cache}}]
    ```
    """
    for s in ctx.servers:
        from llmkube.plan.sizing import startup_budget  # the sizing model: loaded once a run has a server

        estimate = ctx.sizing.load_estimate(s)
        if estimate is None or s.model is None:
            continue
        startup = s.container.get("startupProbe")
        if startup is not None:
            probe_name, probe = "startupProbe", startup
        elif s.container.get("livenessProbe") is not None:
            probe_name, probe = "livenessProbe", s.container.get("livenessProbe")
        else:
            continue
        budget = probe_budget(probe)
        if budget is None or budget >= estimate:
            continue
        advice = startup_budget(estimate)
        what = "the startup probe" if startup is not None else "with no startup probe, the liveness probe"
        yield Hit(
            s.target, (*s.path, probe_name),
            f"{what} allows {budget} s but loading {s.model.spec.display_name} takes about {estimate:.0f} s: "
            "the container is restarted before it serves",
            f"add/size a startupProbe: periodSeconds: {advice.period_seconds}, failureThreshold: {advice.failure_threshold} "
            f"({advice.seconds} s)",
        )


@rule("LK306", "fixed-initial-delay", Severity.WARNING, "a fixed initialDelaySeconds on liveness/readiness does a startup probe's job", kinds=SERVER_KINDS)
def fixed_initial_delay(ctx: ReadContext) -> Iterator[Hit]:
    """A long `initialDelaySeconds` (≥ 60 s) on a model server's liveness or readiness
    probe guesses the load time: too short and a slow load is killed, too long and
    every restart waits the full delay before traffic — even when the weights are
    cached. A startup probe adapts: it succeeds as soon as the server is up, and
    liveness starts only then.

    Fails:

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
          livenessProbe: {httpGet: {path: /health, port: 8000}, initialDelaySeconds: 300}
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
          startupProbe: {httpGet: {path: /health, port: 8000}, periodSeconds: 10, failureThreshold: 30}
          livenessProbe: {httpGet: {path: /health, port: 8000}}
    ```
    """
    for s in ctx.servers:
        from llmkube.plan.sizing import startup_budget  # the sizing model: loaded once a run has a server

        for name in ("livenessProbe", "readinessProbe"):
            probe = s.container.get(name)
            delay = probe.get("initialDelaySeconds") if isinstance(probe, dict) else None
            if isinstance(delay, int) and delay >= FIXED_DELAY_THRESHOLD:
                estimate = ctx.sizing.load_estimate(s)
                advice = startup_budget(estimate) if estimate else None
                hint = "use a startupProbe on the same endpoint and drop initialDelaySeconds"
                if advice:
                    hint += f" (periodSeconds: {advice.period_seconds}, failureThreshold: {advice.failure_threshold})"
                yield Hit(s.target, (*s.path, name, "initialDelaySeconds"),
                          f"{name} waits a fixed {delay} s for the model to load", hint)


@rule("LK307", "progress-deadline-below-load-time", Severity.WARNING, "a progress deadline shorter than the model's load time", kinds=SERVER_KINDS)
def progress_deadline_below_load(ctx: ReadContext) -> Iterator[Hit]:
    """Knative (KServe's Serverless mode, the default unless the
    `serving.kserve.io/deploymentMode` annotation says RawDeployment/Standard) fails a
    revision whose pods are not ready within its progress deadline — the annotation
    `serving.knative.dev/progress-deadline` on the predictor, 600 s by default — and
    scales it away: a model that loads for longer never serves. A Deployment's
    `progressDeadlineSeconds` (default 600) does not kill pods, but marks the rollout
    failed, which stops GitOps tools and `kubectl rollout status`. The load time is
    estimated as for LK305.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {name: llama-405b}
    spec:
      predictor:
        nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
        containers:
          - name: kserve-container
            image: vllm/vllm-openai:v0.11.0
            args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8",
                   --quantization, fp8, --max-model-len, "8192"]
            resources: {limits: {nvidia.com/gpu: 8}}
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {name: llama-405b}
    spec:
      predictor:
        annotations: {serving.knative.dev/progress-deadline: 1800s}
        nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
        containers:
          - name: kserve-container
            image: vllm/vllm-openai:v0.11.0
            args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8",
                   --quantization, fp8, --max-model-len, "8192"]
            env: [{name: HF_HOME, value: /models}]
            resources: {limits: {nvidia.com/gpu: 8}}
            volumeMounts: [{name: model-cache, mountPath: /models}]
        volumes: [{name: model-cache, persistentVolumeClaim: {claimName: hf-model-cache}}]
    ```
    """
    for s in ctx.servers:
        from llmkube.plan.sizing import startup_budget  # the sizing model: loaded once a run has a server

        estimate = ctx.sizing.load_estimate(s)
        if estimate is None or s.model is None:
            continue
        obj = s.target.obj
        name = s.model.spec.display_name
        knative = knative_deadline(s.target)
        if knative is not None:
            seconds, path, source = knative
            if seconds is None or seconds >= estimate:
                continue
            where = f"the Knative progress deadline ({seconds} s{', the default' if source == 'default' else ''})"
            yield Hit(s.target, path,
                      f"{where} is shorter than loading {name} (about {estimate:.0f} s): Knative fails the revision mid-load",
                      f"set the predictor annotation {KNATIVE_PROGRESS_DEADLINE_ANNOTATION}: {int(startup_budget(estimate).seconds + 60)}s")
        elif obj.get("kind") == "Deployment":
            spec = as_mapping(obj.get("spec"))
            value = spec.get("progressDeadlineSeconds", DEPLOYMENT_DEFAULT_DEADLINE)
            if isinstance(value, bool) or not isinstance(value, int) or value >= estimate:
                continue
            path = ("spec", "progressDeadlineSeconds") if "progressDeadlineSeconds" in spec else ("spec",)
            yield Hit(s.target, path,
                      f"progressDeadlineSeconds {value} is shorter than loading {name} (about {estimate:.0f} s): "
                      "every rollout is reported failed",
                      f"set spec.progressDeadlineSeconds: {int(startup_budget(estimate).seconds + 120)}")
