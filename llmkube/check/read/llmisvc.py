"""KServe's LLMInferenceService as rules see it: its pools, their parallelism and KV transfer.

An LLMInferenceService (serving.kserve.io v1alpha1/v1alpha2, KServe v0.20.0) holds a main workload
(`spec.template`, `spec.worker`, `spec.parallelism`, `spec.replicas`) and, when prefill and decode
are disaggregated, a prefill workload of the same shape under `spec.prefill`; the main one is then
the decode pool. The vLLM command line comes from KServe's presets (config/llmisvcconfig/*.yaml):
`vllm serve /mnt/models --served-model-name <model.name> --tensor-parallel-size <parallelism.tensor>
… ${VLLM_ADDITIONAL_ARGS} $@`, run through bash `eval`, where `$@` are the `main` container's
args. This module reads those words back as vLLM will get them.
"""

from __future__ import annotations

import json
from llmkube.check.read.args import split_words
from collections.abc import Mapping
from typing import Any

from llmkube.check.read.shape import as_int, as_list, as_mapping, as_str, count, dig
from llmkube.check.read.workloads import Path, llmisvc_pods_per_replica
from llmkube.check.run import Target
from llmkube.records import record

KIND = "LLMInferenceService"
MAIN_CONTAINER = "main"  # the presets' vLLM container, merged with the user's by this name
ADDITIONAL_ARGS_ENV = "VLLM_ADDITIONAL_ARGS"
KV_TRANSFER_FLAGS = ("--kv-transfer-config", "--kv_transfer_config")
# The presets' startup probe when the user's template has none: config-llm-template.yaml (and the
# prefill/decode templates) `startupProbe: {httpGet: /health, failureThreshold: 60, periodSeconds: 10}`.
PRESET_STARTUP_PROBE = {"periodSeconds": 10, "failureThreshold": 60}
# RDMA devices: the RDMA device plugins' `rdma/…` resources (RoCE or InfiniBand) and AWS EFA.
RDMA_PREFIXES = ("rdma/",)
EFA_RESOURCE = "vpc.amazonaws.com/efa"


@record(frozen=True)
class KVTransfer:
    """A pool's `--kv-transfer-config`: connector and role, and where it was written."""

    connector: str | None
    role: str | None
    path: Path


@record(frozen=True)
class Pool:
    """One workload of an LLMInferenceService: main (or decode) or prefill."""

    target: Target
    role: str  # "main" (no prefill pool), "decode" or "prefill"
    path: Path  # of the workload: ("spec",) or ("spec", "prefill")
    workload: Mapping[str, Any]
    replicas: int
    tensor: int | None  # spec.parallelism.tensor
    data: int | None
    data_local: int | None
    pipeline: int | None
    worker: Mapping[str, Any] | None

    @property
    def template(self) -> Mapping[str, Any]:
        return as_mapping(self.workload.get("template"))

    @property
    def template_path(self) -> Path:
        return (*self.path, "template")

    def main_container(self) -> tuple[Path, Mapping[str, Any]] | None:
        for i, c in enumerate(as_list(self.template.get("containers"))):
            if isinstance(c, Mapping) and c.get("name") == MAIN_CONTAINER:
                return (*self.template_path, "containers", i), c
        return None

    @property
    def tensor_path(self) -> Path:
        return (*self.path, "parallelism", "tensor") if self.tensor is not None else (*self.path, "parallelism")

    @property
    def gpus_needed(self) -> int:
        """GPUs one pod of the pool runs on: tensor × local data ranks (the data-parallel preset starts
        `--data-parallel-size-local` engines per pod, each over `--tensor-parallel-size` GPUs)."""
        local = self.data_local if self.worker is not None and self.data_local else 1
        return (self.tensor or 1) * local

    @property
    def lws_size(self) -> int:
        """Pods per replica: one, or with a worker KServe's `ParallelismSpec.GetSize`."""
        return llmisvc_pods_per_replica(self.workload) if self.worker is not None else 1

    def words(self) -> list[str]:
        """The extra vLLM words the preset passes on: VLLM_ADDITIONAL_ARGS, then the container's args,
        split as bash's eval splits them (an unbalanced quote leaves them as written)."""
        found = self.main_container()
        if found is None:
            return []
        _, container = found
        words: list[str] = []
        for e in as_list(container.get("env")):
            if isinstance(e, Mapping) and e.get("name") == ADDITIONAL_ARGS_ENV and isinstance(e.get("value"), str):
                words += _split(e["value"])
        args = [str(a) for a in as_list(container.get("args"))]
        words += _split(" ".join(args)) if args else []
        return words

    def kv_transfer(self) -> KVTransfer | None:
        """The pool's KV transfer config, from VLLM_ADDITIONAL_ARGS or the args (None without one)."""
        found = self.main_container()
        if found is None:
            return None
        cpath, container = found
        path: Path = cpath
        for i, e in enumerate(as_list(container.get("env"))):
            if isinstance(e, Mapping) and e.get("name") == ADDITIONAL_ARGS_ENV and any(f in str(e.get("value", "")) for f in KV_TRANSFER_FLAGS):
                path = (*cpath, "env", i, "value")
        for i, a in enumerate(as_list(container.get("args"))):
            if any(str(a).startswith(f) for f in KV_TRANSFER_FLAGS):
                path = (*cpath, "args", i)
        words = self.words()
        value = None
        for i, w in enumerate(words):
            for f in KV_TRANSFER_FLAGS:
                if w == f and i + 1 < len(words):
                    value = words[i + 1]
                elif w.startswith(f + "="):
                    value = w[len(f) + 1:]
        if value is None:
            return None
        try:
            config = json.loads(value)
        except ValueError:
            return KVTransfer(None, None, path)
        if not isinstance(config, Mapping):
            return KVTransfer(None, None, path)
        return KVTransfer(as_str(config.get("kv_connector")), as_str(config.get("kv_role")), path)

    def rdma_resources(self) -> dict[str, int]:
        """RDMA devices the main container asks for (limits, else requests)."""
        found = self.main_container()
        if found is None:
            return {}
        resources = as_mapping(found[1].get("resources"))
        out: dict[str, int] = {}
        for section in ("requests", "limits"):
            for name, value in as_mapping(resources.get(section)).items():
                if isinstance(name, str) and (name.startswith(RDMA_PREFIXES) or name == EFA_RESOURCE):
                    out[name] = as_int(value) or 0
        return out

    def startup_probe(self, container: Mapping[str, Any]) -> Mapping[str, Any]:
        """The startup probe in effect: the user's fields merged over the preset's."""
        return {**PRESET_STARTUP_PROBE, **as_mapping(container.get("startupProbe"))}


def _split(text: str) -> list[str]:
    try:
        return split_words(text)
    except ValueError:
        return text.split()


def model_id(obj: Mapping[str, Any]) -> str | None:
    """The model of an LLMInferenceService as a profile id: `hf://org/name` → org/name, else model.name."""
    uri = as_str(dig(obj, "spec", "model", "uri")) or ""
    if uri.startswith("hf://"):
        return uri[len("hf://"):].strip("/") or None
    return as_str(dig(obj, "spec", "model", "name"))


def _pool(target: Target, role: str, path: Path, workload: Mapping[str, Any]) -> Pool:
    par = as_mapping(workload.get("parallelism"))
    worker = workload.get("worker")
    return Pool(
        target=target, role=role, path=path, workload=workload,
        replicas=count(workload.get("replicas")),
        tensor=as_int(par.get("tensor")), data=as_int(par.get("data")), data_local=as_int(par.get("dataLocal")),
        pipeline=as_int(par.get("pipeline")),
        worker=worker if isinstance(worker, Mapping) else None,
    )


def pools(target: Target) -> list[Pool]:
    """The pools of an LLMInferenceService (none for any other kind)."""
    obj = target.obj
    if obj.get("kind") != KIND:
        return []
    spec = as_mapping(obj.get("spec"))
    prefill = spec.get("prefill")
    out = [_pool(target, "decode" if isinstance(prefill, Mapping) else "main", ("spec",), spec)]
    if isinstance(prefill, Mapping):
        out.append(_pool(target, "prefill", ("spec", "prefill"), prefill))
    return out
