"""LK34x: one vLLM server over several nodes, as a hand-written LeaderWorkerSet runs it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from llmkube.check.findings import Severity
from llmkube.check.read.args import flag_path
from llmkube.check.read.context import ReadContext
from llmkube.check.read.lws import GroupPod, LeaderWorkers
from llmkube.check.rules import Hit, rule
from llmkube.engines import SETTING

# Settings that must be the same on every node of vLLM's own multi-node mode: each node builds the
# same engine config and joins the same process group (vLLM PR #23691; docs/serving/
# parallelism_scaling.md "Running vLLM with MultiProcessing" gives both nodes the same flags).
SHARED_SETTINGS = ("model", "tensor_parallel", "pipeline_parallel", "nnodes", "max_model_len", "dtype", "quantization",
                   "kv_cache_dtype", "master_addr")


def _flag_line(pod: GroupPod, setting: str) -> tuple[str | int, ...]:
    return flag_path(pod.path, pod.container, *SETTING[setting].vllm)


def _parallel(pod: GroupPod) -> tuple[int, int]:
    return pod.int_value("tensor_parallel") or 1, pod.int_value("pipeline_parallel") or 1


@rule("LK340", "lws-parallelism-vs-group", Severity.ERROR, "vLLM's tensor × pipeline parallel size is not the GPUs of the LeaderWorkerSet group", kinds=("LeaderWorkerSet",))
def lws_parallelism_vs_group(ctx: ReadContext) -> Iterator[Hit]:
    """A vLLM server over a LeaderWorkerSet group runs one rank per GPU of the whole group: its
    tensor × pipeline parallel size must be the leader's GPUs plus `size - 1` workers' GPUs. With
    fewer ranks the extra pods' GPUs sit idle (Ray's placement group, or `--nnodes`, still waits
    for them); with more, vLLM waits for GPUs that never join. The usual layout is tensor parallel
    = the GPUs of a node and pipeline parallel = `size` (vLLM `docs/serving/parallelism_scaling.md`;
    kubernetes-sigs/lws v0.10.0 `docs/examples/vllm/GPU/lws.yaml`: size 2, 8 GPUs, TP 8 × PP 2).

    Fails:

    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata: {name: llama-405b}
    spec:
      leaderWorkerTemplate:
        size: 2
        leaderTemplate:
          spec:
            containers:
              - name: vllm-leader
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8",
                       --nnodes, "2", --node-rank, "0", --master-addr, $(LWS_LEADER_ADDRESS)]
                resources: {limits: {nvidia.com/gpu: 8}}
        workerTemplate:
          spec:
            containers:
              - name: vllm-worker
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8",
                       --nnodes, "2", --node-rank, $(LWS_WORKER_INDEX), --master-addr, $(LWS_LEADER_ADDRESS), --headless]
                resources: {limits: {nvidia.com/gpu: 8}}
    ```

    Passes:

    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata: {name: llama-405b}
    spec:
      leaderWorkerTemplate:
        size: 2
        leaderTemplate:
          spec:
            containers:
              - name: vllm-leader
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --nnodes, "2", --node-rank, "0", --master-addr, $(LWS_LEADER_ADDRESS)]
                resources: {limits: {nvidia.com/gpu: 8}}
        workerTemplate:
          spec:
            containers:
              - name: vllm-worker
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --nnodes, "2", --node-rank, $(LWS_WORKER_INDEX), --master-addr, $(LWS_LEADER_ADDRESS), --headless]
                resources: {limits: {nvidia.com/gpu: 8}}
    ```
    """
    for lws in ctx.leader_worker_sets:
        leader, gpus = lws.leader, lws.group_gpus
        if leader is None or not leader.vllm or gpus is None or gpus == 0:
            continue
        tp, pp = _parallel(leader)
        if tp * pp == gpus:
            continue
        per_pod = leader.gpus or 0
        layout = f"--tensor-parallel-size {per_pod} --pipeline-parallel-size {lws.size}" if per_pod and gpus == per_pod * lws.size else \
            f"tensor × pipeline parallel = {gpus}"
        yield Hit(
            lws.target, _flag_line(leader, "tensor_parallel" if leader.value("tensor_parallel") else "pipeline_parallel"),
            f"vLLM runs tensor × pipeline parallel = {tp} × {pp} = {tp * pp} ranks, but the group has {gpus} GPUs "
            f"({lws.size} pods): " + ("the others sit idle" if tp * pp < gpus else "it waits for GPUs that never join"),
            f"use {layout} (TP = the GPUs of a node, PP = the nodes)",
        )


def _mismatches(lws: LeaderWorkers) -> Iterator[Hit]:
    leader, worker = lws.leader, lws.worker
    if leader is None or worker is None or not (leader.vllm or worker.vllm):
        return
    if leader.image and worker.image and leader.image != worker.image:
        yield Hit(lws.target, (*worker.path, "image"),
                  f"the leader runs {leader.image} and the workers {worker.image}: the nodes of one server must run the same vLLM "
                  "(its workers exchange pickled state and NCCL collectives that change between versions)",
                  f"use {leader.image} in both templates")
    if not lws.native:
        return
    for setting in SHARED_SETTINGS:
        ours, theirs = leader.value(setting), worker.value(setting)
        if ours != theirs:
            flag = SETTING[setting].vllm[0]
            yield Hit(lws.target, _flag_line(worker, setting) if theirs is not None else worker.path,
                      f"{flag} is {theirs or 'unset'} on the workers but {ours or 'unset'} on the leader: every node of vLLM's "
                      "multi-node mode must build the same engine",
                      f"give both templates the same {flag}")
    nnodes = leader.int_value("nnodes")
    if nnodes is not None and nnodes != lws.size:
        yield Hit(lws.target, _flag_line(leader, "nnodes"),
                  f"--nnodes {nnodes} but the group has {lws.size} pods", f"set --nnodes {lws.size} (or $(LWS_GROUP_SIZE))")
    if "--headless" not in worker.line:
        yield Hit(lws.target, worker.path,
                  "a worker of vLLM's multi-node mode without --headless starts an API server of its own instead of joining "
                  "the leader's engine", "add --headless to the workers' args")
    if (worker.value("node_rank") or "").isdigit():
        yield Hit(lws.target, _flag_line(worker, "node_rank"),
                  f"every worker takes --node-rank {worker.value('node_rank')}: the ranks collide",
                  "use --node-rank $(LWS_WORKER_INDEX), the index LWS sets in each pod")


@rule("LK341", "lws-leader-worker-mismatch", Severity.ERROR, "the leader and workers of a multi-node vLLM disagree", kinds=("LeaderWorkerSet",))
def lws_leader_worker_mismatch(ctx: ReadContext) -> Iterator[Hit]:
    """The pods of a LeaderWorkerSet group are one server. The leader and worker templates must run
    the same image; in vLLM's own multi-node mode (vLLM 0.12 on: `--nnodes`, `--node-rank`,
    `--master-addr`, PR #23691) every node must also pass the same model and engine settings
    (parallel sizes, `--nnodes`, `--max-model-len`, dtype, quantization, KV-cache dtype, the
    leader's address), `--nnodes` must be the group's size, the workers run `--headless` (no API
    server of their own) and each takes its own rank — `$(LWS_WORKER_INDEX)`, which the LWS pod
    webhook sets (lws v0.10.0 `pkg/utils/pod/pod_utils.go` `AddLWSVariables`).

    Fails:

    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata: {name: llama-405b}
    spec:
      leaderWorkerTemplate:
        size: 2
        leaderTemplate:
          spec:
            containers:
              - name: vllm-leader
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --max-model-len, "32768", --nnodes, "2", --node-rank, "0", --master-addr, $(LWS_LEADER_ADDRESS)]
                resources: {limits: {nvidia.com/gpu: 8}}
        workerTemplate:
          spec:
            containers:
              - name: vllm-worker
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --nnodes, "2", --node-rank, $(LWS_WORKER_INDEX), --master-addr, $(LWS_LEADER_ADDRESS), --headless]
                resources: {limits: {nvidia.com/gpu: 8}}
    ```

    Passes:

    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata: {name: llama-405b}
    spec:
      leaderWorkerTemplate:
        size: 2
        leaderTemplate:
          spec:
            containers:
              - name: vllm-leader
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --max-model-len, "32768", --nnodes, "2", --node-rank, "0", --master-addr, $(LWS_LEADER_ADDRESS)]
                resources: {limits: {nvidia.com/gpu: 8}}
        workerTemplate:
          spec:
            containers:
              - name: vllm-worker
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --max-model-len, "32768", --nnodes, "2", --node-rank, $(LWS_WORKER_INDEX), --master-addr, $(LWS_LEADER_ADDRESS), --headless]
                resources: {limits: {nvidia.com/gpu: 8}}
    ```
    """
    for lws in ctx.leader_worker_sets:
        yield from _mismatches(lws)


@rule("LK342", "lws-group-larger-than-model", Severity.WARNING, "the model fits one pod of the group: the other nodes only add latency", kinds=("LeaderWorkerSet",))
def lws_group_larger_than_model(ctx: ReadContext) -> Iterator[Hit]:
    """Spreading a server over nodes costs every decode step a hop over the network (a pipeline
    stage boundary, or worse, tensor parallelism across nodes) and leaves pipeline bubbles. When the
    model — weights, activations and one full-length request's KV cache, as vLLM accounts them
    (`plan.sizing.serving_fit`) — fits the GPUs of one pod with tensor parallelism alone, the group
    should be one node, and more replicas serve more traffic. (A model that does not fit the group
    is LK101's finding.) Llama-3.1-405B at BF16 needs two 8 × H100 nodes; a 70B model does not.

    Fails:

    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata: {name: llama-70b}
    spec:
      leaderWorkerTemplate:
        size: 2
        leaderTemplate:
          spec:
            nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
            containers:
              - name: vllm-leader
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --max-model-len, "8192", --nnodes, "2", --node-rank, $(LWS_WORKER_INDEX), --master-addr, $(LWS_LEADER_ADDRESS)]
                resources: {limits: {nvidia.com/gpu: 8}}
        workerTemplate:
          spec:
            nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
            containers:
              - name: vllm-worker
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-70B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --max-model-len, "8192", --nnodes, "2", --node-rank, $(LWS_WORKER_INDEX), --master-addr, $(LWS_LEADER_ADDRESS),
                       --headless]
                resources: {limits: {nvidia.com/gpu: 8}}
    ```

    Passes:

    ```yaml
    apiVersion: leaderworkerset.x-k8s.io/v1
    kind: LeaderWorkerSet
    metadata: {name: llama-405b}
    spec:
      leaderWorkerTemplate:
        size: 2
        leaderTemplate:
          spec:
            nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
            containers:
              - name: vllm-leader
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --max-model-len, "8192", --nnodes, "2", --node-rank, $(LWS_WORKER_INDEX), --master-addr, $(LWS_LEADER_ADDRESS)]
                resources: {limits: {nvidia.com/gpu: 8}}
        workerTemplate:
          spec:
            nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
            containers:
              - name: vllm-worker
                image: vllm/vllm-openai:v0.12.0
                args: [--model, meta-llama/Llama-3.1-405B-Instruct, --tensor-parallel-size, "8", --pipeline-parallel-size, "2",
                       --max-model-len, "8192", --nnodes, "2", --node-rank, $(LWS_WORKER_INDEX), --master-addr, $(LWS_LEADER_ADDRESS),
                       --headless]
                resources: {limits: {nvidia.com/gpu: 8}}
    ```
    """
    servers = {(id(s.target), s.path): s for s in ctx.servers}
    for lws in ctx.leader_worker_sets:
        from llmkube.plan.sizing import tp_problems  # the sizing model: loaded once a run has a server

        leader = lws.leader
        if lws.size < 2 or leader is None or not leader.gpus:
            continue
        s = servers.get((id(lws.target), leader.path))
        if s is None or s.model is None or s.gpu is None or tp_problems(s.model, leader.gpus):
            continue
        one_node = replace(s.sizing_config, tensor_parallel=leader.gpus, pipeline_parallel=1)
        fit = ctx.sizing.fit_at(s, one_node)
        if not fit.fits:
            continue
        yield Hit(
            lws.target, ("spec", "leaderWorkerTemplate", "size"),
            f"{s.model.spec.display_name} fits one pod's {leader.gpus} × {s.gpu.name} with tensor parallel {leader.gpus} "
            f"({fit.need_gib:.1f} of {fit.budget_gib:.1f} GiB per GPU): {lws.size} nodes per server add a network hop per step",
            f"use size 1 with --tensor-parallel-size {leader.gpus} (and no pipeline parallelism), and more replicas for throughput",
        )
