"""LK33x (and LK630/LK631, admission): KServe LLMInferenceService (llm-d) rules — prefill/decode
disaggregation and its KV transfer, multi-pod (data-parallel) workers, autoscaling.

The pools of an LLMInferenceService are also read as model servers (check/read/servers.py), so the
sizing and serving rules judge each pool too: LK101 (the model fits the pool's GPUs), LK302 (TP
divides the attention heads), LK304 (GPUs = parallelism), LK305 (the startup probe in effect —
the preset's 60 × 10 s when the template has none — outlasts the load).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from llmkube.check.findings import Severity
from llmkube.check.read.args import flag_path, split_words
from llmkube.check.read.context import ReadContext
from llmkube.check.read.llmisvc import ADDITIONAL_ARGS_ENV, MAIN_CONTAINER, KVTransfer, Pool
from llmkube.check.read.shape import as_int, as_list, as_mapping, as_str, dig
from llmkube.check.read.workloads import Path, gpu_request
from llmkube.check.rules import Hit, rule
from llmkube.engines import arg_value

NIXL = "NixlConnector"
JSON_OBJECT = re.compile(r"\{.*\}")
# vLLM flags that must be equal on both sides of a KV transfer: the KV blocks a prefill pod sends
# are laid out by the model, its dtype/quantization, the KV-cache dtype and the block size
# (vllm/distributed/kv_transfer/kv_connector/v1/nixl_connector.py checks the remote agent's block
# size, KV-cache layout and dtype in its handshake); the served name and context length must match
# for the router to send a request to both pools.
AGREEING_FLAGS = (
    ("--served-model-name",), ("--dtype",), ("--quantization", "-q"), ("--kv-cache-dtype",), ("--block-size",),
    ("--max-model-len",), ("--tokenizer",), ("--revision",),
)
# Which side of the transfer each pool may be (vllm/config/kv_transfer.py `KVRole`).
POOL_ROLES = {"prefill": ("kv_producer", "kv_both"), "decode": ("kv_consumer", "kv_both")}


def _flag_line(pool: Pool, flags: tuple[str, ...]) -> Path:
    """Where a pool sets one of `flags`: its args item, or the container (set in VLLM_ADDITIONAL_ARGS)."""
    found = pool.main_container()
    if found is None:
        return pool.template_path
    return flag_path(found[0], found[1], *flags)


def _pairs(ctx: ReadContext) -> Iterator[tuple[Pool, Pool]]:
    """(prefill, decode) of every disaggregated LLMInferenceService."""
    by_target: dict[int, dict[str, Pool]] = {}
    for p in ctx.llm_pools:
        by_target.setdefault(id(p.target), {})[p.role] = p
    for roles in by_target.values():
        if "prefill" in roles and "decode" in roles:
            yield roles["prefill"], roles["decode"]


#: KServe's own presets (config/llmisvcconfig/*.yaml, `kserve-config-llm-…`): none sets a P/D connector.
KSERVE_PRESET_PREFIX = "kserve-config-llm-"


def _base_refs(pool: Pool) -> list[str]:
    spec = as_mapping(pool.target.obj.get("spec"))
    return [n for n in (as_str(as_mapping(r).get("name")) for r in as_list(spec.get("baseRefs"))) if n]


def _unknown_base_ref(pool: Pool, configs: Mapping[str | None, Any]) -> bool:
    """Whether the service merges an LLMInferenceServiceConfig that is neither in the run nor KServe's."""
    return any(n not in configs and not n.startswith(KSERVE_PRESET_PREFIX) for n in _base_refs(pool))


def _kv_with_base_refs(pool: Pool, configs: Mapping[str | None, Any]) -> KVTransfer | None:
    """The pool's KV transfer as KServe runs it: the service's `main` container merged over its
    `baseRefs` in order (pkg/controller/v1alpha2/llmisvc/config_merge.go `combineBaseRefsConfig`, a
    strategic merge: env entries by name, `args` replaced whole), so a connector set in
    VLLM_ADDITIONAL_ARGS by an LLMInferenceServiceConfig of the run counts (KServe's
    docs/samples/llmisvc/e2e-gpt-oss keeps it there). Reported at the service's own container."""
    own = pool.kv_transfer()
    if own is not None or not _base_refs(pool):
        return own
    env: dict[str, Any] = {}
    args: list[Any] | None = None
    layers = [configs[n] for n in _base_refs(pool) if n in configs] + [pool.target.obj]
    for layer in layers:
        workload = as_mapping(dig(layer, *(str(k) for k in pool.path)))
        template = as_mapping(workload.get("template"))
        for c in as_list(template.get("containers")):
            if isinstance(c, Mapping) and c.get("name") == MAIN_CONTAINER:
                env.update({e["name"]: e for e in as_list(c.get("env")) if isinstance(e, Mapping) and isinstance(e.get("name"), str)})
                if "args" in c:
                    args = as_list(c.get("args"))
    merged = {"name": MAIN_CONTAINER, "env": list(env.values()), **({"args": args} if args is not None else {})}
    found = Pool(pool.target, pool.role, pool.path, {"template": {"containers": [merged]}}, pool.replicas,
                 pool.tensor, pool.data, pool.data_local, pool.pipeline, pool.worker).kv_transfer()
    if found is None:
        return None
    where = pool.main_container()
    return KVTransfer(found.connector, found.role, where[0] if where else pool.template_path)


@rule("LK330", "prefill-decode-disagree", Severity.ERROR, "the prefill and decode pools disagree on the KV transfer or the model", kinds=("LLMInferenceService",))
def prefill_decode_disagree(ctx: ReadContext) -> Iterator[Hit]:
    """A disaggregated LLMInferenceService (`spec.prefill` beside the main, decode, workload) runs
    the prompt on a prefill pod and sends its KV cache to a decode pod through vLLM's KV
    connector (`--kv-transfer-config`, in the `main` container's args or in `VLLM_ADDITIONAL_ARGS`,
    as KServe v0.20.0's P/D sample does). Both pools must name the same connector, each in a role
    that fits its side (prefill `kv_producer` or `kv_both`, decode `kv_consumer` or `kv_both`),
    and serve the same model the same way: a different dtype, quantization, KV-cache dtype or
    block size makes the transferred blocks unreadable (NIXL's handshake refuses the remote agent),
    a different served name or context length breaks routing. Without a connector on a pool
    nothing is transferred and decode recomputes every prompt. A pool's `main` container is read
    merged over the LLMInferenceServiceConfigs its `baseRefs` name, when the run holds them (env
    entries by name, args whole, the service's last); a baseRef the run does not hold (other than
    KServe's own `kserve-config-llm-…` presets) may set the connector, so a pool without one is then
    not judged.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen-pd}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct, name: Qwen/Qwen2.5-7B-Instruct}
      router: {route: {}, gateway: {}, scheduler: {}}
      template:
        containers:
          - name: main
            args: [--kv-transfer-config, '''{"kv_connector":"NixlConnector","kv_role":"kv_consumer"}''']
      prefill:
        template:
          containers:
            - name: main
              args: [--kv-transfer-config, '''{"kv_connector":"P2pNcclConnector","kv_role":"kv_producer"}''']
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen-pd}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct, name: Qwen/Qwen2.5-7B-Instruct}
      router: {route: {}, gateway: {}, scheduler: {}}
      template:
        containers:
          - name: main
            args: [--kv-transfer-config, '''{"kv_connector":"NixlConnector","kv_role":"kv_consumer"}''']
      prefill:
        template:
          containers:
            - name: main
              args: [--kv-transfer-config, '''{"kv_connector":"NixlConnector","kv_role":"kv_producer"}''']
    ```
    """
    configs = {as_str(as_mapping(t.obj.get("metadata")).get("name")): t.obj for t in ctx.of_kind(CONFIG_KIND)}
    for prefill, decode in _pairs(ctx):
        kv = {p.role: _kv_with_base_refs(p, configs) for p in (prefill, decode)}
        for p in (prefill, decode):
            t = kv[p.role]
            found = p.main_container()
            where = found[0] if found else p.template_path
            if t is None and _unknown_base_ref(p, configs):
                continue  # a baseRef the run does not hold may set the connector: nothing to judge
            if t is None:
                yield Hit(p.target, where, f"the {p.role} pool has no --kv-transfer-config: no KV cache moves between "
                          "prefill and decode, so decode recomputes every prompt",
                          f"add --kv-transfer-config '{{\"kv_connector\":\"{NIXL}\",\"kv_role\":\"{POOL_ROLES[p.role][0]}\"}}' "
                          "to the main container's args")
            elif t.role is not None and t.role not in POOL_ROLES[p.role]:
                yield Hit(p.target, t.path, f"the {p.role} pool's kv_role is {t.role!r}: a {p.role} pod "
                          f"{'sends' if p.role == 'prefill' else 'receives'} the KV cache",
                          f"set kv_role to {' or '.join(POOL_ROLES[p.role])}")
        pt, dt = kv["prefill"], kv["decode"]
        if pt is not None and dt is not None and pt.connector != dt.connector:
            yield Hit(prefill.target, pt.path, f"prefill sends the KV cache with {pt.connector} but decode expects {dt.connector}",
                      "use the same kv_connector in both pools (KServe's decode preset runs the llm-d sidecar for NIXL)")
        pw, dw = prefill.words(), decode.words()
        for flags in AGREEING_FLAGS:
            a, b = arg_value(pw, *flags), arg_value(dw, *flags)
            if a != b:
                yield Hit(prefill.target, _flag_line(prefill if a is not None else decode, flags),
                          f"{flags[0]} is {a or 'unset'} on the prefill pool but {b or 'unset'} on the decode pool",
                          f"set the same {flags[0]} on both pools")


@rule("LK331", "nixl-without-rdma", Severity.WARNING, "a NIXL KV transfer with no RDMA device on the pod", kinds=("LLMInferenceService",))
def nixl_without_rdma(ctx: ReadContext) -> Iterator[Hit]:
    """NIXL moves the KV cache between prefill and decode GPUs with RDMA (UCX's `rc` transport,
    GPUDirect where the NIC allows it). A pool whose `--kv-transfer-config` names
    `NixlConnector` needs an RDMA device in its `main` container — a `rdma/…` resource of an RDMA
    device plugin (KServe v0.20.0's P/D sample asks for `rdma/roce_gdr: 1`, with the Multus
    network in the `k8s.v1.cni.cncf.io/networks` annotation) or AWS EFA
    (`vpc.amazonaws.com/efa`). Without one the transfer falls back to TCP — tens of times slower
    than the prompt it saves — or, with `UCX_TLS` limited to RDMA transports as in the sample,
    does not connect.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen-pd}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct}
      template:
        containers:
          - name: main
            args: [--kv-transfer-config, '''{"kv_connector":"NixlConnector","kv_role":"kv_both"}''']
            resources: {limits: {nvidia.com/gpu: 1}}
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen-pd}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct}
      template:
        containers:
          - name: main
            args: [--kv-transfer-config, '''{"kv_connector":"NixlConnector","kv_role":"kv_both"}''']
            resources: {limits: {nvidia.com/gpu: 1, rdma/roce_gdr: 1}}
    ```
    """
    for p in ctx.llm_pools:
        t = p.kv_transfer()
        if t is None or t.connector != NIXL:
            continue
        if any(n > 0 for n in p.rdma_resources().values()):
            continue
        found = p.main_container()
        yield Hit(p.target, (*found[0], "resources") if found else t.path,
                  f"the {p.role} pool moves its KV cache with {NIXL} but its pods request no RDMA device: "
                  "the transfer falls back to TCP, or fails",
                  "request the RDMA device (e.g. rdma/roce_gdr: 1, or vpc.amazonaws.com/efa) in limits and requests, "
                  "and add the k8s.v1.cni.cncf.io/networks annotation for its network")


@rule("LK332", "kv-config-mangled-by-preset", Severity.ERROR, "a JSON value in the main container's args loses its quotes in the preset's eval", kinds=("LLMInferenceService",))
def kv_config_mangled(ctx: ReadContext) -> Iterator[Hit]:
    """KServe v0.20.0's presets start vLLM with `eval "exec vllm serve /mnt/models … ${VLLM_ADDITIONAL_ARGS} $@"`
    (config/llmisvcconfig/config-llm-template.yaml and the prefill/decode templates), where `$@`
    are the `main` container's args. `eval` parses the joined words again, so a JSON value such as
    `{"kv_connector":"NixlConnector"}` written as a plain list item reaches vLLM as
    `{kv_connector:NixlConnector}`, which it refuses at start-up. The value must carry its own
    single quotes, `'{"kv_connector":…}'` — the form KServe's sample writes in
    `VLLM_ADDITIONAL_ARGS`. Checked for `--kv-transfer-config` and any other flag whose value is a
    JSON object, when the container keeps the preset's command.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct}
      template:
        containers:
          - name: main
            args: [--kv-transfer-config, '{"kv_connector":"NixlConnector","kv_role":"kv_both"}']
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct}
      template:
        containers:
          - name: main
            args: [--kv-transfer-config, '''{"kv_connector":"NixlConnector","kv_role":"kv_both"}''']
    ```
    """
    for p in ctx.llm_pools:
        found = p.main_container()
        if found is None or found[1].get("command"):
            continue
        cpath, container = found
        sources = [((*cpath, "args", i), str(a)) for i, a in enumerate(as_list(container.get("args")))]
        for i, e in enumerate(as_list(container.get("env"))):
            if isinstance(e, dict) and e.get("name") == ADDITIONAL_ARGS_ENV and isinstance(e.get("value"), str):
                sources.append(((*cpath, "env", i, "value"), e["value"]))
        for path, text in sources:
            m = JSON_OBJECT.search(text)
            if m is None or not _json_object(m.group(0)):
                continue
            value = m.group(0)
            try:
                words = split_words(text)
            except ValueError:
                words = []
            if any(w == value or w.endswith("=" + value) for w in words):
                continue
            yield Hit(p.target, path, f"the preset runs vLLM through bash eval, which strips the quotes of {value}: "
                      "vLLM gets a value that is not JSON",
                      f"wrap the value in single quotes: '{value}' (as KServe's P/D sample does in {ADDITIONAL_ARGS_ENV})")


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False



@rule("LK333", "prefill-without-scheduler", Severity.WARNING, "a prefill pool with no llm-d scheduler to send it prompts", kinds=("LLMInferenceService",))
def prefill_without_scheduler(ctx: ReadContext) -> Iterator[Hit]:
    """The prefill pool only gets work from llm-d's scheduler: for an LLMInferenceService with
    `spec.prefill`, KServe v0.20.0 configures the endpoint picker with a prefill profile and a
    disaggregation decider (`pkg/controller/v1alpha2/llmisvc/scheduler.go`, the `Spec.Prefill != nil`
    case), which picks a prefill pod and tells the decode pod's routing sidecar where it is. Without
    `spec.router.scheduler` the route targets the workload Service directly, and every request is
    prefilled and decoded on a decode pod while the prefill pods sit idle. Not judged when
    `baseRefs` may add a scheduler.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen-pd}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct}
      router: {route: {}, gateway: {}}
      template: {containers: [{name: main}]}
      prefill:
        template: {containers: [{name: main}]}
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen-pd}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct}
      router: {route: {}, gateway: {}, scheduler: {}}
      template: {containers: [{name: main}]}
      prefill:
        template: {containers: [{name: main}]}
    ```
    """
    for prefill, _ in _pairs(ctx):
        spec = as_mapping(prefill.target.obj.get("spec"))
        if spec.get("baseRefs") or "scheduler" in as_mapping(spec.get("router")):
            continue
        yield Hit(prefill.target, ("spec", "router") if "router" in spec else ("spec", "prefill"),
                  "the prefill pool gets no requests without the llm-d scheduler: decode pods prefill every prompt themselves",
                  "add `scheduler: {}` under spec.router (KServe then configures the prefill/decode profiles)")


def _webhook_problems(obj: Mapping[str, Any]) -> Iterator[tuple[Path, str, str]]:
    """(path, message, hint) for what KServe v0.20.0's LLMInferenceService webhook refuses
    (pkg/apis/serving/v1alpha1/llm_inference_service_validation.go)."""
    spec = as_mapping(obj.get("spec"))
    workloads: list[tuple[Path, Mapping[str, Any]]] = [(("spec",), spec)]
    if isinstance(spec.get("prefill"), Mapping):
        workloads.append((("spec", "prefill"), spec["prefill"]))
    for base, w in workloads:  # validateWorkloadParallelism
        par = w.get("parallelism")
        p = as_mapping(par)
        data, local, pipeline = as_int(p.get("data")), as_int(p.get("dataLocal")), as_int(p.get("pipeline"))
        is_dp, is_pp = bool(data or local), bool(pipeline)
        if "worker" in w and w.get("worker") is not None and not (is_dp or is_pp):
            yield ((*base, "worker"), "a worker (multi-node) needs data or pipeline parallelism, and none is set",
                   "set parallelism.data and dataLocal (the data-parallel preset), or parallelism.pipeline")
        if is_dp and is_pp:
            yield ((*base, "parallelism"), "pipeline and data parallelism cannot both be set", "keep one of them")
        if (data is None) != (local is None) and ("data" in p or "dataLocal" in p):
            missing = "dataLocal" if local is None else "data"
            yield ((*base, "parallelism"), f"{missing} must be set with {'data' if missing == 'dataLocal' else 'dataLocal'}",
                   f"set parallelism.{missing} (data = all ranks, dataLocal = ranks per pod)")
    router = as_mapping(spec.get("router"))
    http = as_mapping(dig(router, "route", "http"))
    refs, route_spec = as_list(http.get("refs")), http.get("spec")
    gateway = router.get("gateway")
    gateway_refs = as_list(as_mapping(gateway).get("refs"))
    if "route" in router:  # validateRouterCrossFieldConstraints
        if refs and route_spec is not None:
            yield (("spec", "router", "route", "http"), "an HTTPRoute can be referenced or specified inline, not both",
                   "remove `refs` or `spec`")
        if refs and gateway is not None and not gateway_refs:
            yield (("spec", "router", "route", "http", "refs"), "KServe refuses a user HTTPRoute behind its managed gateway (`gateway: {}`)",
                   "name the route's Gateway under spec.router.gateway.refs, or remove the route refs")
        if isinstance(route_spec, Mapping) and as_list(route_spec.get("parentRefs")) and gateway_refs:
            yield (("spec", "router", "route", "http", "spec"), "an inline route's parentRefs cannot be combined with gateway refs",
                   "remove spec.router.gateway.refs or the route's parentRefs")
    config = dig(router, "scheduler", "config")
    if isinstance(config, Mapping):  # validateSchedulerConfig
        inline, ref = config.get("inline"), config.get("ref")
        if inline is None and ref is None:
            yield (("spec", "router", "scheduler", "config"), "the scheduler config needs `inline` or `ref`", "set one, or remove `config`")
        elif inline is not None and ref is not None:
            yield (("spec", "router", "scheduler", "config"), "the scheduler config has both `inline` and `ref`", "keep one")


@rule("LK630", "llmisvc-webhook-refuses", Severity.ERROR, "KServe's LLMInferenceService webhook refuses the parallelism or router", kinds=("LLMInferenceService",))
def llmisvc_webhook_refuses(ctx: ReadContext) -> Iterator[Hit]:
    """Beyond its CRD schema, KServe v0.20.0 validates an LLMInferenceService in a webhook
    (`pkg/apis/serving/v1alpha1/llm_inference_service_validation.go`), and `kubectl apply` fails:
    `validateWorkloadParallelism` (per pool) wants data or pipeline parallelism when a `worker`
    is set, not both, and `data` together with `dataLocal`; `validateRouterCrossFieldConstraints`
    refuses an HTTPRoute both referenced and inline, route refs behind the managed gateway
    (`gateway: {}`), and an inline route's `parentRefs` with gateway refs; `validateSchedulerConfig`
    wants exactly one of `inline` and `ref`.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: llama-405b}
    spec:
      model: {uri: hf://meta-llama/Llama-3.1-405B-Instruct}
      parallelism: {tensor: 8}
      template: {containers: [{name: main}]}
      worker: {containers: [{name: main}]}
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: llama-405b}
    spec:
      model: {uri: hf://meta-llama/Llama-3.1-405B-Instruct}
      parallelism: {tensor: 8, data: 2, dataLocal: 1}
      template: {containers: [{name: main}]}
      worker: {containers: [{name: main}]}
    ```
    """
    for t in ctx.of_kind("LLMInferenceService"):
        for path, message, hint in _webhook_problems(t.obj):
            yield Hit(t, path, message, hint)


# KServe v0.20.0 `pkg/controller/v1alpha2/llmisvc/config_merge.go`: the presets a workload with a
# `worker` and pipeline parallelism merges, by pool. They are named there but not shipped in
# config/llmisvcconfig/ ("FIXME move those presets to well-known when they're finally known").
PIPELINE_PRESETS = {
    "main": "kserve-config-llm-worker-pipeline-parallel",
    "decode": "kserve-config-llm-decode-worker-pipeline-parallel",
    "prefill": "kserve-config-llm-prefill-worker-pipeline-parallel",
}
CONFIG_KIND = "LLMInferenceServiceConfig"


@rule("LK334", "llmisvc-pipeline-worker-no-preset", Severity.WARNING,
      "a pipeline-parallel worker needs a preset KServe v0.20.0 does not ship", kinds=("LLMInferenceService",))
def pipeline_worker_no_preset(ctx: ReadContext) -> Iterator[Hit]:
    """For a pool with a `worker` and `parallelism.pipeline`, KServe v0.20.0 merges the preset
    `kserve-config-llm-worker-pipeline-parallel` (`kserve-config-llm-decode-worker-pipeline-parallel`,
    `kserve-config-llm-prefill-worker-pipeline-parallel` for disaggregated pools:
    `pkg/controller/v1alpha2/llmisvc/config_merge.go` `combineBaseRefsConfig`) — but v0.20.0 ships
    only the data-parallel worker presets. Unless the cluster has an LLMInferenceServiceConfig of
    that name, the service stops at `PresetsCombined: False, ConfigNotFound` and no pod starts.
    Quiet when the run holds an LLMInferenceServiceConfig of that name.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: llama-405b}
    spec:
      model: {uri: hf://meta-llama/Llama-3.1-405B-Instruct}
      parallelism: {tensor: 8, pipeline: 2}
      template: {containers: [{name: main}]}
      worker: {containers: [{name: main}]}
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: deepseek}
    spec:
      model: {uri: hf://deepseek-ai/DeepSeek-V3}
      parallelism: {tensor: 1, data: 16, dataLocal: 8, expert: true}
      template: {containers: [{name: main}]}
      worker: {containers: [{name: main}]}
    ```
    """
    have = {as_str(as_mapping(t.obj.get("metadata")).get("name")) for t in ctx.of_kind(CONFIG_KIND)}
    for p in ctx.llm_pools:
        if p.worker is None or not p.pipeline or p.data or p.data_local:
            continue
        preset = PIPELINE_PRESETS[p.role]
        if preset in have:
            continue
        yield Hit(p.target, (*p.path, "parallelism", "pipeline"),
                  f"the {p.role} pool's pipeline-parallel worker merges the preset {preset}, which KServe v0.20.0 does not ship: "
                  "the service stops at ConfigNotFound",
                  f"use data parallelism (parallelism.data/dataLocal, with expert: true for an MoE model), or create the "
                  f"LLMInferenceServiceConfig {preset} in the service's or KServe's namespace")


def _flag_set(words: list[str], *flags: str) -> bool:
    return any(w == f or w.startswith(f + "=") for w in words for f in flags)


@rule("LK335", "llmisvc-parallelism-ignored", Severity.WARNING,
      "data, pipeline or expert parallelism set on a pool without a worker, where the preset ignores it", kinds=("LLMInferenceService",))
def parallelism_ignored(ctx: ReadContext) -> Iterator[Hit]:
    """Without a `worker`, KServe v0.20.0 runs a pool from its single-node preset
    (`config/llmisvcconfig/config-llm-template.yaml`, and the prefill/decode templates), whose vLLM
    command reads only `parallelism.tensor` (`--tensor-parallel-size`). `data`, `dataLocal`,
    `pipeline` and `expert` are read only by the data-parallel worker presets; on a single-node
    pool they change nothing — vLLM starts one engine without them, and the pod's GPUs beyond
    `tensor` sit idle. Quiet when the container passes the matching vLLM flag itself.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen}
    spec:
      model: {uri: hf://Qwen/Qwen3-30B-A3B}
      parallelism: {tensor: 2, data: 4, dataLocal: 4, expert: true}
      template: {containers: [{name: main}]}
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen}
    spec:
      model: {uri: hf://Qwen/Qwen3-30B-A3B}
      parallelism: {tensor: 2, data: 4, dataLocal: 4, expert: true}
      template: {containers: [{name: main}]}
      worker: {containers: [{name: main}]}
    ```
    """
    for p in ctx.llm_pools:
        if p.worker is not None:
            continue
        par = as_mapping(p.workload.get("parallelism"))
        words = p.words()
        ignored = []
        if ((p.data or 1) > 1 or (p.data_local or 1) > 1) and not _flag_set(words, "--data-parallel-size", "-dp"):
            ignored.append("data parallelism")
        if (p.pipeline or 1) > 1 and not _flag_set(words, "--pipeline-parallel-size", "-pp"):
            ignored.append("pipeline parallelism")
        if par.get("expert") is True and not _flag_set(words, "--enable-expert-parallel", "-ep"):
            ignored.append("expert parallelism")
        if ignored:
            yield Hit(p.target, (*p.path, "parallelism"),
                      f"the {p.role} pool has no worker, and the single-node preset passes only parallelism.tensor to vLLM: "
                      f"{' and '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} ignored",
                      "add a `worker` (KServe then runs its data-parallel preset, one LeaderWorkerSet of data ÷ dataLocal pods), "
                      "or pass the vLLM flags in the main container's args")


@rule("LK336", "llmisvc-data-ranks-unstarted", Severity.ERROR,
      "data parallelism that the worker's pods cannot start: data is not a multiple of dataLocal", kinds=("LLMInferenceService",))
def data_ranks_unstarted(ctx: ReadContext) -> Iterator[Hit]:
    """KServe v0.20.0 makes a data-parallel pool's LeaderWorkerSet of `ParallelismSpec.GetSize()` =
    data ÷ dataLocal pods (integer division, at least one), and its preset starts `dataLocal` vLLM
    ranks in each pod from rank `LWS_WORKER_INDEX × dataLocal`
    (`config/llmisvcconfig/config-llm-worker-data-parallel.yaml`). When `data` is not a multiple of
    `dataLocal` the pods start fewer ranks than `--data-parallel-size` says, and vLLM's
    data-parallel coordinator waits for the missing ones: the service never becomes ready. With
    `dataLocal` above `data`, vLLM refuses the flags at start-up.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: deepseek}
    spec:
      model: {uri: hf://deepseek-ai/DeepSeek-V3}
      parallelism: {tensor: 1, data: 12, dataLocal: 8, expert: true}
      template: {containers: [{name: main}]}
      worker: {containers: [{name: main}]}
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: deepseek}
    spec:
      model: {uri: hf://deepseek-ai/DeepSeek-V3}
      parallelism: {tensor: 1, data: 16, dataLocal: 8, expert: true}
      template: {containers: [{name: main}]}
      worker: {containers: [{name: main}]}
    ```
    """
    for p in ctx.llm_pools:
        if p.worker is None or not p.data or not p.data_local:
            continue
        started = p.lws_size * p.data_local
        if started == p.data:
            continue
        where = (*p.path, "parallelism", "data")
        if p.data_local > p.data:
            yield Hit(p.target, where, f"dataLocal {p.data_local} is above data {p.data}: vLLM refuses more local ranks than ranks",
                      f"set data to a multiple of dataLocal (e.g. {p.data_local}), or lower dataLocal")
        else:
            yield Hit(p.target, where, f"{p.lws_size} pods × dataLocal {p.data_local} start {started} ranks, but vLLM waits for "
                      f"data = {p.data}: the service never becomes ready",
                      f"set data to a multiple of dataLocal ({started} or {started + p.data_local})")


@rule("LK337", "llmisvc-worker-gpus-differ", Severity.ERROR,
      "the worker pods of a data-parallel pool ask for other GPUs than its ranks need", kinds=("LLMInferenceService",))
def worker_gpus_differ(ctx: ReadContext) -> Iterator[Hit]:
    """Every pod of a data-parallel pool — the leader from `template`, the others from `worker` —
    starts `dataLocal` vLLM engines of `tensor` GPUs each (KServe v0.20.0's data-parallel presets).
    LK304 judges the leader's GPUs; this rule the worker's `main` container: fewer GPUs than
    tensor × dataLocal and its engines fail to start (CUDA sees too few devices), more and they sit
    idle on every worker pod. Not judged when the worker's container asks for no GPU at all, which
    a base preset may still add.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: llama-70b}
    spec:
      model: {uri: hf://meta-llama/Llama-3.1-70B-Instruct}
      parallelism: {tensor: 4, data: 4, dataLocal: 2}
      template:
        containers: [{name: main, resources: {limits: {nvidia.com/gpu: 8}}}]
      worker:
        containers: [{name: main, resources: {limits: {nvidia.com/gpu: 4}}}]
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: llama-70b}
    spec:
      model: {uri: hf://meta-llama/Llama-3.1-70B-Instruct}
      parallelism: {tensor: 4, data: 4, dataLocal: 2}
      template:
        containers: [{name: main, resources: {limits: {nvidia.com/gpu: 8}}}]
      worker:
        containers: [{name: main, resources: {limits: {nvidia.com/gpu: 8}}}]
    ```
    """
    for p in ctx.llm_pools:
        if p.worker is None or p.lws_size < 2:
            continue
        for i, c in enumerate(as_list(p.worker.get("containers"))):
            if not isinstance(c, Mapping) or c.get("name") != MAIN_CONTAINER:
                continue
            request = gpu_request(c)
            if request is None or request[1] == p.gpus_needed:
                continue
            yield Hit(p.target, (*p.path, "worker", "containers", i, "resources"),
                      f"the {p.role} pool's worker pods ask for {request[1]} GPUs, but each runs dataLocal "
                      f"{p.data_local or 1} × tensor {p.tensor or 1} = {p.gpus_needed}",
                      f"set {request[0]}: {p.gpus_needed} in the worker's limits, as in the template")


def _scaling_problems(obj: Mapping[str, Any]) -> Iterator[tuple[Path, str, str]]:
    """(path, message, hint) for what the webhook's scaling checks refuse beyond the CRD's CEL
    (KServe v0.20.0 `pkg/apis/serving/v1alpha2/llm_inference_service_validation.go`
    `ValidateWorkloadScaling` and `ValidateActuatorConsistency`, reused by v1alpha1)."""
    spec = as_mapping(obj.get("spec"))
    workloads: list[tuple[Path, Mapping[str, Any]]] = [(("spec",), spec)]
    if isinstance(spec.get("prefill"), Mapping):
        workloads.append((("spec", "prefill"), spec["prefill"]))
    actuators: dict[Path, str] = {}
    for base, w in workloads:
        wva = as_mapping(as_mapping(w.get("scaling")).get("wva"))
        cost = wva.get("variantCost")
        if cost is not None and not (isinstance(cost, str) and VARIANT_COST.fullmatch(cost)):
            yield ((*base, "scaling", "wva", "variantCost"), f"variantCost {cost!r} is not a non-negative number written as a string",
                   'write it like "10", "10.0" or "0.5"')
        backends = [b for b in ("hpa", "keda") if b in wva]
        if len(backends) == 1:
            actuators[base] = backends[0]
    decode, prefill = actuators.get(("spec",)), actuators.get(("spec", "prefill"))
    if decode and prefill and decode != prefill:
        yield (("spec", "prefill", "scaling", "wva"),
               f"decode scales with {decode} but prefill with {prefill}: KServe wants one actuator for both pools",
               f"use wva.{decode} in both pools (one metrics pipeline, scaling decisions in step)")


# `variantCostPattern` of the same file
VARIANT_COST = re.compile(r"\d+(\.\d+)?")


@rule("LK631", "llmisvc-webhook-refuses-scaling", Severity.ERROR, "KServe's LLMInferenceService webhook refuses the autoscaling", kinds=("LLMInferenceService",))
def llmisvc_webhook_refuses_scaling(ctx: ReadContext) -> Iterator[Hit]:
    """An LLMInferenceService pool with `scaling` is scaled by the Workload Variant Autoscaler
    (KServe v0.20.0 `pkg/controller/v1alpha2/llmisvc/scaling.go`). The CRD's CEL rules already
    refuse `replicas` beside `scaling`, `minReplicas` above `maxReplicas`, and `wva` without exactly
    one of `hpa` and `keda`; KServe's webhook (`ValidateWorkloadScaling`,
    `ValidateActuatorConsistency`) also refuses a `variantCost` that is not a non-negative number
    written as a string, and decode and prefill pools that scale with different actuators (one
    with `hpa`, the other with `keda`): `kubectl apply` fails.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen-pd}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct}
      scaling: {maxReplicas: 4, wva: {hpa: {}}}
      template: {containers: [{name: main}]}
      prefill:
        scaling: {maxReplicas: 4, wva: {keda: {}, variantCost: "$10"}}
        template: {containers: [{name: main}]}
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {name: qwen-pd}
    spec:
      model: {uri: hf://Qwen/Qwen2.5-7B-Instruct}
      scaling: {maxReplicas: 4, wva: {hpa: {}}}
      template: {containers: [{name: main}]}
      prefill:
        scaling: {maxReplicas: 4, wva: {hpa: {}, variantCost: "10"}}
        template: {containers: [{name: main}]}
    ```
    """
    for t in ctx.of_kind("LLMInferenceService"):
        for path, message, hint in _scaling_problems(t.obj):
            yield Hit(t, path, message, hint)
