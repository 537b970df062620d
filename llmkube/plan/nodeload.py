"""How long a server spread over nodes takes to load its weights.

The multi-node planner sizes an endpoint's startup probe with it (`plan.multinode`), and the
readers judge a hand-written LeaderWorkerSet's probe with the same arithmetic (LK305-LK307,
`check/read/servers.py`). It lives apart from the planner so that a validate of manifests, which
has no spec, does not import the planner, the spec models and the other planners they pull in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmkube.plan.sizing import ServerConfig, download_gbps, load_seconds, stage_weight_bytes, weight_bytes

if TYPE_CHECKING:
    from llmkube.profiles import ModelProfile


def node_weight_bytes(model: ModelProfile, dtype: str | None, quantization: str | None, tp: int, pp: int, gpus_per_node: int) -> float:
    """Checkpoint bytes the busiest node loads: its pipeline stages' layers (the first also the
    embedding, the last the LM head: `plan.sizing.stage_weight_bytes`), scaled to the checkpoint."""
    config = ServerConfig(tensor_parallel=tp, pipeline_parallel=pp, dtype=dtype, quantization=quantization)
    stages = stage_weight_bytes(model, config, pp)
    per_node = max(1, gpus_per_node // tp)  # stages a node holds
    nodes = [sum(stages[i:i + per_node]) for i in range(0, len(stages), per_node)]
    total = sum(stages) or 1.0
    return weight_bytes(model, dtype, quantization) * max(nodes) / total


def node_load_seconds(model: ModelProfile, dtype: str | None, quantization: str | None, tp: int, pp: int,
                      gpus_per_node: int, source: str, *, load_gbps: float, overhead_seconds: int,
                      download_throughput_gbps: float | None) -> float:
    """Seconds until a multi-node server serves: every node loads its share of the weights in
    parallel, but a download from the hub or an object store pulls the checkpoint's files whole onto
    every node (vLLM downloads the repository's weight files before it loads its layers). The
    throughputs and overhead are an InferenceEndpoint's `startup` settings (or their defaults)."""
    share = node_weight_bytes(model, dtype, quantization, tp, pp, gpus_per_node)
    download = download_gbps(source, download_throughput_gbps)
    pull = weight_bytes(model, dtype, quantization) / (download * 1e9) if download else 0.0
    return pull + load_seconds(share, load_gbps, overhead_seconds)
