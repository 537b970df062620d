"""LK4xx: GPU sharing rules — MIG strategy and layouts, time-slicing, MPS.

The GPU Operator takes MIG layouts from a mig-parted config (`version: v1`,
`mig-configs:`) and sharing from a device-plugin config (`version: v1`,
`sharing:`), both usually held as text inside a ConfigMap's `data`. These
rules parse those texts, and also accept the config documents themselves
(a mig-parted `config.yaml` checked in as a file). A finding inside a
ConfigMap's block text points at the line inside the block.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from llmkube.check.findings import Severity
from llmkube.check.rules import Hit, RuleContext, rule
from llmkube.check.rules._workloads import GPU_PRODUCT_LABEL, GPU_RESOURCE, MIG_RESOURCE, gpu_request, pod_groups
from llmkube.check.run import Target
from llmkube.errors import InputError, SourceMark
from llmkube.plan.mig import check_layout, mig_resource_name
from llmkube.yamlio import mark_of, parse_documents

MIG_CONFIG_LABEL = "nvidia.com/mig.config"
PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
MIG_STRATEGY_LABEL = "nvidia.com/mig.strategy"
_MIG_PRODUCT = re.compile(r"^(?P<gpu>.+)-MIG-(?P<profile>[0-9]+g\.[0-9]+gb[.a-z-]*?)(?:-SHARED)?$")
Path = tuple[str | int, ...]


# ---- where config texts live -------------------------------------------------


@dataclass
class InBlock(Target):
    """A target whose marks are shifted into a ConfigMap's block text.

    The rule engine asks `hit.target.mark(hit.path)`; for a path inside an
    embedded config we answer with the line inside the `|` block (the text is
    re-read with line marks, so the position is exact).
    """

    base: Path = ()
    inner: Any = None  # the block text parsed with line marks, or None

    def mark(self, path: tuple[str | int, ...] = ()) -> SourceMark | None:
        outer = Target.mark(self, self.base)
        if self.document is None or self.inner is None or outer is None or outer.line is None:
            return outer
        if tuple(path[: len(self.base)]) != self.base or len(path) == len(self.base):
            return outer
        m = mark_of(self.inner, tuple(path[len(self.base) :]), outer.file)
        return SourceMark(outer.file, outer.line + (m.line or 1), (outer.column or 1) + 1 + (m.column or 1))


@dataclass(frozen=True)
class Embedded:
    """One config document: where it is, and what it says."""

    target: Target  # an InBlock for ConfigMap data, the document itself otherwise
    base: Path  # path of the config inside the object ("data", key) or ()
    config: Mapping[str, Any]
    where: str  # "ConfigMap gpu-operator/x key config.yaml" or the object label


def _embedded(ctx: RuleContext) -> Iterator[Embedded]:
    for t in ctx.targets:
        obj = t.obj
        if obj.get("kind") == "ConfigMap" and isinstance(obj.get("data"), Mapping):
            meta = obj.get("metadata") or {}
            for key, text in obj["data"].items():
                if not isinstance(text, str) or "version" not in text:
                    continue
                try:
                    config = yaml.safe_load(text)
                except yaml.YAMLError:
                    continue
                if not isinstance(config, Mapping) or str(config.get("version")) != "v1":
                    continue
                inner = None
                if t.document is not None and _is_block(t, ("data", key)):
                    try:
                        docs = parse_documents(text, t.document.file)
                        inner = docs[0].data if docs else None
                    except InputError:
                        inner = None
                target = InBlock(obj=obj, document=t.document, spec=t.spec, base=("data", key), inner=inner)
                yield Embedded(target, ("data", key), config, f"ConfigMap {meta.get('name')} key {key}")
        elif "kind" not in obj and str(obj.get("version")) == "v1" and ("mig-configs" in obj or "sharing" in obj or "flags" in obj):
            yield Embedded(t, (), obj, "config")


def _raw(t: Target, path: Path) -> Any:
    cur: Any = t.document.data if t.document is not None else None
    for p in path:
        if isinstance(cur, Mapping) and p in cur:
            cur = cur[p]
        else:
            return None
    return cur


def _is_block(t: Target, path: Path) -> bool:
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    return isinstance(_raw(t, path), LiteralScalarString | FoldedScalarString)


def mig_parted_configs(ctx: RuleContext) -> list[Embedded]:
    return [e for e in _embedded(ctx) if isinstance(e.config.get("mig-configs"), Mapping)]


def plugin_configs(ctx: RuleContext) -> list[Embedded]:
    return [
        e for e in _embedded(ctx)
        if "mig-configs" not in e.config and (isinstance(e.config.get("sharing"), Mapping) or isinstance(e.config.get("flags"), Mapping))
    ]


def _entries(config: Mapping[str, Any]) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    for name, entries in (config.get("mig-configs") or {}).items():
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, Mapping):
                yield str(name), i, entry


def _layout(entry: Mapping[str, Any]) -> dict[str, int] | None:
    devices = entry.get("mig-devices")
    if entry.get("mig-enabled") is not True or not isinstance(devices, Mapping):
        return None
    out = {}
    for k, v in devices.items():
        if isinstance(v, bool) or not isinstance(v, int):
            return None
        out[str(k)] = v
    return out


def layouts_by_name(ctx: RuleContext) -> dict[str, list[dict[str, int]]]:
    """mig-parted config name → the per-GPU layouts of its entries (MIG on only)."""
    out: dict[str, list[dict[str, int]]] = {}
    disabled: set[str] = set()
    for e in mig_parted_configs(ctx):
        for name, _, entry in _entries(e.config):
            layout = _layout(entry)
            if layout is not None:
                out.setdefault(name, []).append(layout)
            elif entry.get("mig-enabled") is False:
                disabled.add(name)
    for name in disabled - set(out):
        out[name] = []
    return out


# ---- node selection evidence ---------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Node labels an object selects by: a ResourceFlavor's nodeLabels or a pod's nodeSelector."""

    target: Target
    path: Path
    labels: Mapping[str, str]


def selections(ctx: RuleContext) -> Iterator[Selection]:
    for t in ctx.targets:
        if t.obj.get("kind") == "ResourceFlavor":
            labels = (t.obj.get("spec") or {}).get("nodeLabels")
            if isinstance(labels, Mapping):
                yield Selection(t, ("spec", "nodeLabels"), labels)
        for g in pod_groups(t):
            if g.node_selector:
                yield Selection(t, (*g.spec_path, "nodeSelector"), g.node_selector)


def base_product(product: str) -> str:
    product = product.removesuffix("-SHARED")
    m = _MIG_PRODUCT.match(product)
    return m["gpu"] if m else product


def gpus_for_filter(ctx: RuleContext, device_filter: Any) -> list[Any]:
    ids = device_filter if isinstance(device_filter, list) else [device_filter]
    want = {str(i).lower().removeprefix("0x") for i in ids}
    return [
        g for g in ctx.profiles.gpus.values()
        if any(p.lower().removeprefix("0x") in want for p in g.spec.pci_device_ids)
    ]


def cluster_policy_strategy(ctx: RuleContext) -> tuple[Target, str] | None:
    policies = [t for t in ctx.targets if t.obj.get("kind") == "ClusterPolicy" and str(t.obj.get("apiVersion", "")).startswith("nvidia.com/")]
    if len(policies) != 1:
        return None
    strategy = ((policies[0].obj.get("spec") or {}).get("mig") or {}).get("strategy")
    return (policies[0], str(strategy)) if strategy else None


# ---- LK401 ---------------------------------------------------------------------


@rule("LK401", "mig-strategy-resource", Severity.ERROR, "MIG resource name does not match the pool's MIG strategy or layout")
def mig_strategy_resource(ctx: RuleContext) -> Iterator[Hit]:
    """The device plugin advertises MIG devices differently per strategy:
    `single` → `nvidia.com/gpu` (and GFD labels the node
    `nvidia.com/gpu.product=<GPU>-MIG-<profile>`), `mixed` →
    `nvidia.com/mig-<profile>` (the product label stays the plain GPU name),
    `none` → full GPUs only. A pod asking for the other name never
    schedules. The rule acts only on evidence in the manifests: the pod's
    `nodeSelector` (a `-MIG-<profile>` product label means single; a
    `nvidia.com/mig.strategy` label), the one ClusterPolicy's
    `spec.mig.strategy` (unless the pod selects a strategy label itself), and
    the mig-parted layout named by the pod's
    `nvidia.com/mig.config` selector (a MIG resource whose profile that
    layout does not create).

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-8b}
    spec:
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3-MIG-3g.40gb
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.11.0
        resources:
          limits: {nvidia.com/mig-3g.40gb: 1}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: llama-8b}
    spec:
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3-MIG-3g.40gb
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.11.0
        resources:
          limits: {nvidia.com/gpu: 1}
    ```
    """
    policy = cluster_policy_strategy(ctx)
    layouts = layouts_by_name(ctx)
    for t in ctx.targets:
        for g in pod_groups(t):
            sel = g.node_selector
            product = str(sel.get(GPU_PRODUCT_LABEL, ""))
            single_product = _MIG_PRODUCT.match(product.removesuffix("-SHARED"))
            label_strategy = sel.get(MIG_STRATEGY_LABEL)
            for path, c in g.containers():
                req = gpu_request(c)
                if not req or req[1] <= 0:
                    continue
                name = req[0]
                resources = c.get("resources") or {}
                line = (*path, "resources", "limits" if name in (resources.get("limits") or {}) else "requests", name)
                mig = MIG_RESOURCE.match(name)
                if mig:
                    profile = mig["profile"]
                    why = None
                    if single_product:
                        why = f"its nodeSelector {GPU_PRODUCT_LABEL}={product} is the label of a single-strategy node"
                    elif label_strategy in ("single", "none"):
                        why = f"its nodeSelector picks {MIG_STRATEGY_LABEL}={label_strategy} nodes"
                    elif policy and policy[1] in ("single", "none") and label_strategy is None:
                        why = f"the ClusterPolicy sets mig.strategy: {policy[1]}"
                    if why:
                        yield Hit(
                            t,
                            line,
                            f"{name} is advertised only under the mixed MIG strategy, but {why}: the pod never schedules",
                            f"request {GPU_RESOURCE}: {req[1]} (single strategy), or set mig.strategy: mixed"
                            + (f" and select {GPU_PRODUCT_LABEL}: {single_product['gpu']}" if single_product else ""),
                        )
                        continue
                    cfg = sel.get(MIG_CONFIG_LABEL)
                    if cfg in layouts:
                        made = {p for layout in layouts[str(cfg)] for p, n in layout.items() if n}
                        offered = sorted(mig_resource_name(p) for p in made)
                        if all(mig_resource_name(p) != name for p in made):
                            yield Hit(
                                t,
                                line,
                                f"{name} is not created by mig-parted config {cfg!r} that the pod's nodes use "
                                f"(it makes {', '.join(offered) or 'no MIG devices'}): the pod never schedules",
                                f"request one of {', '.join(offered)}" if offered else f"pick a {MIG_CONFIG_LABEL} that creates {profile}",
                            )
                elif name == GPU_RESOURCE and single_product:
                    profile = single_product["profile"]
                    why = None
                    if label_strategy == "mixed":
                        why = f"its nodeSelector picks {MIG_STRATEGY_LABEL}=mixed nodes"
                    elif policy and policy[1] == "mixed" and label_strategy is None:
                        why = "the ClusterPolicy sets mig.strategy: mixed"
                    if why:
                        yield Hit(
                            t,
                            line,
                            f"nodeSelector {GPU_PRODUCT_LABEL}={product} is a single-strategy label, but {why}: "
                            "under mixed the product label has no -MIG- suffix and no node matches",
                            f"request {mig_resource_name(profile)}: {req[1]} and select "
                            f"{GPU_PRODUCT_LABEL}: {single_product['gpu']}",
                        )
                        continue
                    cfg = sel.get(MIG_CONFIG_LABEL)
                    if cfg in layouts and layouts[str(cfg)]:
                        kinds = sorted({p for layout in layouts[str(cfg)] for p, n in layout.items() if n})
                        if kinds != [profile] and kinds != [profile.replace(".me", "+me")]:
                            yield Hit(
                                t,
                                line,
                                f"nodes with mig-parted config {cfg!r} ({', '.join(kinds)}) never carry "
                                f"{GPU_PRODUCT_LABEL}={product}: under the single strategy that label needs every "
                                f"GPU to hold only {profile} instances",
                                f"select a config of {profile} only (e.g. all-{profile}), or use the mixed strategy "
                                f"and request {', '.join(mig_resource_name(k) for k in kinds)}",
                            )


# ---- LK402 ---------------------------------------------------------------------


def _config_products(ctx: RuleContext) -> dict[str, set[str]]:
    """mig-parted config name → GPU products of the nodes that select it."""
    out: dict[str, set[str]] = {}
    for s in selections(ctx):
        cfg, product = s.labels.get(MIG_CONFIG_LABEL), s.labels.get(GPU_PRODUCT_LABEL)
        if cfg and product:
            out.setdefault(str(cfg), set()).add(base_product(str(product)))
    return out


@rule("LK402", "mig-layout-unplaceable", Severity.ERROR, "a mig-parted layout cannot be created on its GPU")
def mig_layout_unplaceable(ctx: RuleContext) -> Iterator[Hit]:
    """mig-parted takes profile names and counts; the driver must find a
    geometry for them, and fails the whole node's reconfiguration
    (`nvidia.com/mig.config.state=failed`) when it cannot. The rule checks
    every `mig-enabled: true` entry of a mig-parted config (in a ConfigMap or
    as a file) against the GPU's placement table: on the GPU named by its
    `device-filter`; else on the GPU whose product label sits beside
    `nvidia.com/mig.config=<name>` in a ResourceFlavor or pod nodeSelector;
    else on the GPUs whose profiles carry those names (reported only when all
    of them reject it). The hint gives the closest valid layout.

    Fails:

    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: custom-mig-config, namespace: gpu-operator}
    data:
      config.yaml: |
        version: v1
        mig-configs:
          h100-mixed:
            - devices: all
              mig-enabled: true
              mig-devices:
                4g.40gb: 1
                2g.20gb: 2
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: custom-mig-config, namespace: gpu-operator}
    data:
      config.yaml: |
        version: v1
        mig-configs:
          h100-mixed:
            - devices: all
              mig-enabled: true
              mig-devices:
                3g.40gb: 1
                2g.20gb: 2
    ```
    """
    products = _config_products(ctx)
    all_gpus = list(ctx.profiles.gpus.values())
    mig_gpus = [g for g in all_gpus if g.spec.mig is not None]
    for e in mig_parted_configs(ctx):
        for name, i, entry in _entries(e.config):
            layout = _layout(entry)
            if not layout or not any(layout.values()):
                continue
            if "device-filter" in entry:
                gpus = gpus_for_filter(ctx, entry["device-filter"])
                basis = "its device-filter"
            elif name in products:
                gpus = [g for p in sorted(products[name]) for g in all_gpus if g.spec.product == p]
                basis = f"the nodes selecting {MIG_CONFIG_LABEL}={name}"
            else:
                names = {n for n, c in layout.items() if c}
                gpus = [g for g in mig_gpus if names <= {p.name for p in g.spec.mig.profiles}]
                basis = "its profile names"
            if not gpus:
                continue
            verdicts = [(g, check_layout(g, layout, known_gpus=all_gpus)) for g in sorted(gpus, key=lambda g: g.name)]
            if basis == "its profile names" and not all(problems for _, problems in verdicts):
                continue  # ambiguous: some GPU with these profile names accepts it
            path = (*e.base, "mig-configs", name, i, "mig-devices")
            for gpu, problems in verdicts:
                for problem in problems:
                    if problem.code == "empty-layout":
                        continue
                    others = [g.name for g, _ in verdicts if g is not gpu]
                    which = f"GPU {gpu.name}" + (
                        f"; {', '.join(others)} {'has' if len(others) == 1 else 'have'} the same profile names"
                        if basis == "its profile names" and others else ""
                    )
                    yield Hit(
                        e.target,
                        path,
                        f"mig-parted config {name!r} ({which}; from {basis}): {problem.message}",
                        problem.hint,
                    )
                if basis == "its profile names" and problems:
                    break  # one GPU speaks for all: they all reject it


# ---- device-plugin sharing -----------------------------------------------------


def _sharing(e: Embedded) -> Mapping[str, Any]:
    s = e.config.get("sharing")
    return s if isinstance(s, Mapping) else {}


@rule("LK403", "time-slicing-and-mps", Severity.ERROR, "a device-plugin config sets both timeSlicing and mps")
def time_slicing_and_mps(ctx: RuleContext) -> Iterator[Hit]:
    """The device plugin shares a node's GPUs one way: time-slicing *or* MPS.
    A config with both under `sharing:` is ambiguous — the plugin takes MPS
    and silently drops the time-slicing replicas, so the node advertises a
    different count than the config suggests.

    Fails:

    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: device-plugin-config, namespace: gpu-operator}
    data:
      shared: |
        version: v1
        sharing:
          timeSlicing:
            resources:
            - {name: nvidia.com/gpu, replicas: 4}
          mps:
            resources:
            - {name: nvidia.com/gpu, replicas: 4}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: device-plugin-config, namespace: gpu-operator}
    data:
      shared: |
        version: v1
        sharing:
          timeSlicing:
            resources:
            - {name: nvidia.com/gpu, replicas: 4}
    ```
    """
    for e in plugin_configs(ctx):
        s = _sharing(e)
        if s.get("timeSlicing") and s.get("mps"):
            yield Hit(
                e.target,
                (*e.base, "sharing", "mps"),
                f"{e.where}: sharing has both timeSlicing and mps; a node shares its GPUs one way only "
                "(the plugin uses mps and ignores timeSlicing)",
                "keep one of them; put the other in a second config key and select it per node with "
                f"the {PLUGIN_CONFIG_LABEL} label",
            )


def _mps_configs(ctx: RuleContext) -> dict[str, Embedded]:
    out = {}
    for e in plugin_configs(ctx):
        if _sharing(e).get("mps") and e.base:
            out[str(e.base[-1])] = e
    return out


@rule("LK404", "mps-with-mig", Severity.ERROR, "MPS sharing on MIG devices")
def mps_with_mig(ctx: RuleContext) -> Iterator[Hit]:
    """The device plugin's MPS sharing works on full GPUs only; it is not
    supported on MIG-enabled devices. The rule flags a device-plugin config
    that enables `sharing.mps` together with `flags.migStrategy` single or
    mixed, or names a MIG resource under `mps.resources`, and a node
    selection (ResourceFlavor or pod nodeSelector) that combines an MPS
    config (`nvidia.com/device-plugin.config`) with a MIG layout
    (`nvidia.com/mig.config` other than all-disabled).

    Fails:

    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: device-plugin-config, namespace: gpu-operator}
    data:
      mps-on-mig: |
        version: v1
        flags:
          migStrategy: mixed
        sharing:
          mps:
            resources:
            - {name: nvidia.com/gpu, replicas: 4}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: device-plugin-config, namespace: gpu-operator}
    data:
      mps: |
        version: v1
        flags:
          migStrategy: none
        sharing:
          mps:
            resources:
            - {name: nvidia.com/gpu, replicas: 4}
    ```
    """
    for e in plugin_configs(ctx):
        mps = _sharing(e).get("mps")
        if not isinstance(mps, Mapping):
            continue
        strategy = (e.config.get("flags") or {}).get("migStrategy") if isinstance(e.config.get("flags"), Mapping) else None
        if strategy in ("single", "mixed"):
            yield Hit(
                e.target,
                (*e.base, "flags", "migStrategy"),
                f"{e.where}: MPS sharing with migStrategy {strategy}: MPS is not supported on MIG devices",
                "share full GPUs with MPS (migStrategy: none), or share MIG devices with timeSlicing",
            )
        for i, r in enumerate(mps.get("resources") or []):
            if isinstance(r, Mapping) and MIG_RESOURCE.match(str(r.get("name", ""))):
                yield Hit(
                    e.target,
                    (*e.base, "sharing", "mps", "resources", i, "name"),
                    f"{e.where}: MPS cannot share {r.get('name')}: MPS works on full GPUs only",
                    "use timeSlicing for MIG resources, or MPS on nvidia.com/gpu of a non-MIG pool",
                )
    mps_keys = _mps_configs(ctx)
    for s in selections(ctx):
        key, mig = s.labels.get(PLUGIN_CONFIG_LABEL), s.labels.get(MIG_CONFIG_LABEL)
        if key in mps_keys and mig and mig != "all-disabled":
            yield Hit(
                s.target,
                (*s.path, PLUGIN_CONFIG_LABEL),
                f"nodes with {MIG_CONFIG_LABEL}={mig} use device-plugin config {key!r}, which shares with MPS: "
                "MPS is not supported on MIG-enabled GPUs",
                "use a timeSlicing config for MIG pools, or MPS on a pool with MIG disabled",
            )


@rule("LK405", "mps-replicas", Severity.ERROR, "MPS sharing with fewer than 2 replicas")
def mps_replicas(ctx: RuleContext) -> Iterator[Hit]:
    """MPS splits each GPU among `replicas` clients. With `replicas: 1` the
    device plugin sees nothing to share and starts no MPS at all (the node
    advertises plain GPUs while the config says MPS); 0 or less is rejected
    when the plugin loads the config.

    Fails:

    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: device-plugin-config, namespace: gpu-operator}
    data:
      mps: |
        version: v1
        sharing:
          mps:
            resources:
            - {name: nvidia.com/gpu, replicas: 1}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: device-plugin-config, namespace: gpu-operator}
    data:
      mps: |
        version: v1
        sharing:
          mps:
            resources:
            - {name: nvidia.com/gpu, replicas: 2}
    ```
    """
    for e in plugin_configs(ctx):
        mps = _sharing(e).get("mps")
        if not isinstance(mps, Mapping):
            continue
        for i, r in enumerate(mps.get("resources") or []):
            n = r.get("replicas") if isinstance(r, Mapping) else None
            if isinstance(n, int) and not isinstance(n, bool) and n < 2:
                yield Hit(
                    e.target,
                    (*e.base, "sharing", "mps", "resources", i, "replicas"),
                    f"{e.where}: MPS replicas {n} for {r.get('name')}: "
                    + ("nothing is shared and no MPS daemon starts" if n == 1 else "the device plugin rejects the config"),
                    "set replicas to 2 or more (each client then gets 1/replicas of the GPU's memory and compute)",
                )


@rule("LK406", "migconfig-kind", Severity.ERROR, "nvidia.com MIGConfig is not a real kind")
def migconfig_kind(ctx: RuleContext) -> Iterator[Hit]:
    """There is no `MIGConfig` custom resource in the GPU Operator (its CRDs
    are ClusterPolicy, NVIDIADriver and the DRA kinds). MIG layouts are
    declared in a mig-parted ConfigMap (`version: v1`, `mig-configs:`), named
    in `ClusterPolicy.spec.migManager.config.name`, and chosen per node by
    the label `nvidia.com/mig.config=<name>`. Applying a MIGConfig fails
    ("no matches for kind"), and nothing gets partitioned.

    Fails:

    ```yaml
    apiVersion: nvidia.com/v1alpha1
    kind: MIGConfig
    metadata: {name: h100-mig-config}
    spec:
      devices: all
      migEnabled: true
      migDevices: {3g.40gb: 1, 2g.20gb: 2}
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: custom-mig-config, namespace: gpu-operator}
    data:
      config.yaml: |
        version: v1
        mig-configs:
          h100-balanced:
            - devices: all
              mig-enabled: true
              mig-devices: {3g.40gb: 1, 2g.20gb: 2}
    ```
    """
    for t in ctx.targets:
        if t.obj.get("kind") == "MIGConfig" and str(t.obj.get("apiVersion", "")).startswith("nvidia.com/"):
            yield Hit(
                t,
                ("kind",),
                "MIGConfig is not a real kind: the GPU Operator has no MIGConfig CRD; use the mig-parted ConfigMap",
                "declare the layout in a ConfigMap (key config.yaml: version: v1, mig-configs: {<name>: "
                "[{devices: all, mig-enabled: true, mig-devices: {...}}]}), name it in ClusterPolicy "
                "spec.migManager.config.name and label the nodes nvidia.com/mig.config=<name>; "
                "a Fleet pool with `mig:` renders all three",
            )
