"""LK33x (and LK630, admission): KServe LLMInferenceService (llm-d) rules — prefill/decode disaggregation and its KV transfer.

The pools of an LLMInferenceService are also read as model servers (check/read/servers.py), so the
sizing and serving rules judge each pool too: LK101 (the model fits the pool's GPUs), LK302 (TP
divides the attention heads), LK304 (GPUs = parallelism), LK305 (the startup probe in effect —
the preset's 60 × 10 s when the template has none — outlasts the load).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from typing import Any

from llmkube.check.findings import Severity
from llmkube.check.read.args import flag_path
from llmkube.check.read.context import ReadContext
from llmkube.check.read.llmisvc import ADDITIONAL_ARGS_ENV, Pool
from llmkube.check.read.shape import as_int, as_list, as_mapping, dig
from llmkube.check.read.workloads import Path
from llmkube.check.rules import Hit, rule

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


def _value(words: list[str], flags: tuple[str, ...]) -> str | None:
    for i, w in enumerate(words):
        for f in flags:
            if w == f and i + 1 < len(words):
                return words[i + 1]
            if w.startswith(f + "="):
                return w[len(f) + 1:]
    return None


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


@rule("LK330", "prefill-decode-disagree", Severity.ERROR, "the prefill and decode pools disagree on the KV transfer or the model")
def prefill_decode_disagree(ctx: ReadContext) -> Iterator[Hit]:
    """A disaggregated LLMInferenceService (`spec.prefill` beside the main, decode, workload) runs
    the prompt on a prefill pod and sends its KV cache to a decode pod through vLLM's KV
    connector (`--kv-transfer-config`, in the `main` container's args or in `VLLM_ADDITIONAL_ARGS`,
    as KServe v0.20.0's P/D sample does). Both pools must name the same connector, each in a role
    that fits its side (prefill `kv_producer` or `kv_both`, decode `kv_consumer` or `kv_both`),
    and serve the same model the same way: a different dtype, quantization, KV-cache dtype or
    block size makes the transferred blocks unreadable (NIXL's handshake refuses the remote agent),
    a different served name or context length breaks routing. Without a connector on a pool
    nothing is transferred and decode recomputes every prompt.

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
    for prefill, decode in _pairs(ctx):
        kv = {p.role: p.kv_transfer() for p in (prefill, decode)}
        for p in (prefill, decode):
            t = kv[p.role]
            found = p.main_container()
            where = found[0] if found else p.template_path
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
            a, b = _value(pw, flags), _value(dw, flags)
            if a != b:
                yield Hit(prefill.target, _flag_line(prefill if a is not None else decode, flags),
                          f"{flags[0]} is {a or 'unset'} on the prefill pool but {b or 'unset'} on the decode pool",
                          f"set the same {flags[0]} on both pools")


@rule("LK331", "nixl-without-rdma", Severity.WARNING, "a NIXL KV transfer with no RDMA device on the pod")
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


@rule("LK332", "kv-config-mangled-by-preset", Severity.ERROR, "a JSON value in the main container's args loses its quotes in the preset's eval")
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
                words = shlex.split(text)
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



@rule("LK333", "prefill-without-scheduler", Severity.WARNING, "a prefill pool with no llm-d scheduler to send it prompts")
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


@rule("LK630", "llmisvc-webhook-refuses", Severity.ERROR, "KServe's LLMInferenceService webhook refuses the parallelism or router")
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
