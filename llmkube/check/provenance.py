"""Which spec field an output field came from, so findings point at the user's line.

A finding on a rendered object names a path in that object (say
`spec.predictor.containers[0].args[5]`, the value of
`--tensor-parallel-size`). The user wrote `tensorParallel:` in a spec; that
is the line to show. A server flag is mapped by the engines table
(`llmkube.engines`), which knows the spec field behind every flag llmkube
writes; other output fields by the tables below. Unknown paths fall back to
the spec document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmkube.engines import written_flags
from llmkube.names import GPU_RESOURCE, KUEUE_PRIORITY_LABEL, KUEUE_QUEUE_LABEL

# Flags llmkube writes → the spec key that sets them: every vLLM/TGI flag of the
# engines table, and the torchrun flags of a TrainingJob.
TORCHRUN_FLAG_KEYS = {"--nproc_per_node": "gpusPerNode", "--nnodes": "nodes"}
FLAG_KEYS = {**written_flags(), **TORCHRUN_FLAG_KEYS}

# The last key of an output path (or the key under a known parent) → spec key.
FIELD_KEYS = {
    "image": "image",
    "env": "env",
    "startupProbe": "startup",
    "livenessProbe": "startup",
    "readinessProbe": "startup",
    "minAvailable": "gang",
    "minReplicas": "replicas",
    "maxReplicas": "replicas",
    "replicas": "nodes",
    "canaryTrafficPercent": "canary",
    "scaleMetric": "autoscaling",
    "scaleTarget": "autoscaling",
    "autoScaling": "autoscaling",
    "nodeSelector": "gpu",
    "tolerations": "tolerations",
    "affinity": "topology",
    "volumes": "volumes",
    "volumeMounts": "volumes",
    "nprocPerNode": "gpusPerNode",
    "nProcPerNode": "gpusPerNode",
    "numProcPerNode": "gpusPerNode",
    "numNodes": "nodes",
    "elasticPolicy": "nodes",
    "queue": "queue",
    "suspend": "queue",  # a Kueue job is created suspended
    "backoffLimit": "maxRestarts",
    "maxRetry": "maxRestarts",
    "maxRestarts": "maxRestarts",
    "policies": "onEviction",
    "priorityClassName": "priorityClass",
    "securityContext": "network",  # IPC_LOCK for an RDMA device
    KUEUE_QUEUE_LABEL: "queue",
    KUEUE_PRIORITY_LABEL: "priorityClass",
    GPU_RESOURCE: "gpusPerNode",
    "memory": "resources",
    "cpu": "resources",
    "borrowingLimit": "resources",
    "lendingLimit": "resources",
    "nominalQuota": "resources",
    "cohort": "cohort",
    "cohortName": "cohort",
    "preemption": "preemption",
    "nodeLabels": "pools",
}

# For endpoints the GPU count is the tensor-parallel size.
ENDPOINT_OVERRIDES = {"gpusPerNode": "tensorParallel", "nodes": "replicas", "gpu": "gpu"}


def _value(obj: Any, path: Sequence[str | int]) -> Any:
    cur = obj
    for elem in path:
        try:
            cur = cur[elem]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _flag_key(obj: Mapping[str, Any], path: Sequence[str | int]) -> str | None:
    """For a path into args/command, the spec key of the flag there (or just before)."""
    for i in range(len(path) - 1, 0, -1):
        index = path[i]
        if path[i - 1] in ("args", "command") and isinstance(index, int):
            line = _value(obj, path[:i])
            if not isinstance(line, list):
                return None
            for j in (index, index - 1):
                if 0 <= j < len(line):
                    flag = str(line[j]).split("=", 1)[0]
                    if flag in FLAG_KEYS:
                        return FLAG_KEYS[flag]
            return None
    return None


def spec_path(kind: str, obj: Mapping[str, Any], path: Sequence[str | int], spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The spec path (("spec", key)) an output path came from; () when unknown."""
    key = _flag_key(obj, path)
    if key is None:
        for elem in reversed(path):
            if isinstance(elem, str) and elem in FIELD_KEYS:
                key = FIELD_KEYS[elem]
                break
    if key is None:
        return ()
    if kind == "InferenceEndpoint":
        key = ENDPOINT_OVERRIDES.get(key, key)
        if key == "gpu" and "pool" in spec:
            key = "pool"
    if key == "gpusPerNode" and "gpusPerNode" not in spec:
        key = "gpu"
    return ("spec", key) if key in spec else ()
