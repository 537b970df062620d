"""LK4xx: GPU sharing rules — MIG strategy and layouts, time-slicing, MPS.

The GPU Operator takes MIG layouts from a mig-parted config (`version: v1`,
`mig-configs:`) and sharing from a device-plugin config (`version: v1`,
`sharing:`), both usually held as text inside a ConfigMap's `data`.
`llmkube.check.read.gpu_operator` reads those texts (and config documents
checked in as files); a finding inside a ConfigMap's block text points at the
line inside the block.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext
from llmkube.check.read.gpu_operator import (
    MIG_PRODUCT,
    cluster_policy_strategy,
    config_products,
    gpus_for_filter,
    mig_entries,
    mig_layout,
    mps_configs,
)
from llmkube.check.read.shape import as_list, dig
from llmkube.check.read.workloads import POD_KINDS, gpu_request, pod_groups, resource_line
from llmkube.check.rules import Hit, rule
from llmkube.names import (
    DEVICE_PLUGIN_CONFIG_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    MIG_CONFIG_LABEL,
    MIG_RESOURCE,
    MIG_STRATEGY_LABEL,
    NVIDIA_GROUP,
)

if TYPE_CHECKING:  # the MIG planner and the profiles are loaded by the rules that size a MIG layout
    from llmkube.plan.mig import LayoutProblem
    from llmkube.profiles import GPUProfile

    #: LK402's reading of one mig-parted config: (config name, entry index, basis, each GPU's problems)
    #: of the entries to report on
    JudgedEntries = list[tuple[str, int, str, list[tuple[GPUProfile, list[LayoutProblem]]]]]


# ---- LK401 ---------------------------------------------------------------------


@rule("LK401", "mig-strategy-resource", Severity.ERROR, "MIG resource name does not match the pool's MIG strategy or layout", kinds=POD_KINDS)
def mig_strategy_resource(ctx: ReadContext) -> Iterator[Hit]:
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
    policy = cluster_policy_strategy(ctx.targets)
    layouts = ctx.mig_layouts
    made_by: dict[str, set[str]] = {}  # config name → the profiles its layouts make; a run's pods share few configs

    def made_of(cfg: str) -> set[str]:
        if cfg not in made_by:
            made_by[cfg] = {p for layout in layouts[cfg] for p, n in layout.items() if n}
        return made_by[cfg]

    for t in ctx.subjects:
        for g in pod_groups(t):
            sel = g.node_selector
            product = str(sel.get(GPU_PRODUCT_LABEL, ""))
            single_product = MIG_PRODUCT.match(product.removesuffix("-SHARED"))
            label_strategy = sel.get(MIG_STRATEGY_LABEL)
            for path, c in g.containers():
                req = gpu_request(c)
                if not req or req[1] <= 0:
                    continue
                name = req[0]
                line = resource_line(c, path, name)
                mig = MIG_RESOURCE.fullmatch(name)
                if mig:
                    from llmkube.plan.mig import mig_resource_name  # the MIG planner: only for a MIG or single-strategy request

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
                    if isinstance(cfg, str) and cfg in layouts:
                        made = made_of(cfg)
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
                    from llmkube.plan.mig import mig_resource_name  # the MIG planner: only for a MIG or single-strategy request

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
                        kinds = sorted(made_of(str(cfg)))
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


@rule("LK402", "mig-layout-unplaceable", Severity.ERROR, "a mig-parted layout cannot be created on its GPU")
def mig_layout_unplaceable(ctx: ReadContext) -> Iterator[Hit]:
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
    if not ctx.mig_parted_configs:
        return  # nothing to place: the profiles (and their models) stay unread
    products = config_products(ctx.selections)
    all_gpus = list(ctx.profiles.gpus.values())
    # each MIG GPU with the names of its profiles, gathered once (not once per entry of every config)
    mig_gpus = [(g, {p.name for p in g.spec.mig.profiles}) for g in all_gpus if g.spec.mig is not None]
    # copies of one config (a ConfigMap per cluster or region) ask the same question: one answer per
    # (GPU profiles, layout in its order); the profiles live as long as the run
    verdicts_of: dict[tuple[tuple[int, ...], tuple[tuple[str, int], ...]], list[tuple[GPUProfile, list[LayoutProblem]]]] = {}

    def verdicts(gpus: list[GPUProfile], layout: dict[str, int]) -> list[tuple[GPUProfile, list[LayoutProblem]]]:
        """Each GPU, by name, with what it finds wrong in the layout."""
        ordered = sorted(gpus, key=lambda g: g.name)
        key = (tuple(id(g) for g in ordered), tuple(layout.items()))
        if key not in verdicts_of:
            from llmkube.plan.mig import check_layout

            verdicts_of[key] = [(g, check_layout(g, layout, known_gpus=all_gpus)) for g in ordered]
        return verdicts_of[key]

    def judge(config: Mapping[str, Any]) -> JudgedEntries:
        """(config name, entry index, basis, each GPU's problems) of the entries of one config to report on."""
        out: JudgedEntries = []
        for name, i, entry in mig_entries(config):
            layout = mig_layout(entry)
            if not layout or not any(layout.values()):
                continue
            if "device-filter" in entry:
                gpus = gpus_for_filter(ctx.profiles, entry["device-filter"])
                basis = "its device-filter"
            elif name in products:
                gpus = [g for p in sorted(products[name]) for g in all_gpus if g.spec.product == p]
                basis = f"the nodes selecting {MIG_CONFIG_LABEL}={name}"
            else:
                names = {n for n, c in layout.items() if c}
                gpus = [g for g, profiles in mig_gpus if names <= profiles]
                basis = "its profile names"
            if not gpus:
                continue
            found = verdicts(gpus, layout)
            if basis == "its profile names" and not all(problems for _, problems in found):
                continue  # ambiguous: some GPU with these profile names accepts it
            out.append((name, i, basis, found))
        return out

    # copies of one config text share one parsed config (`embedded_configs`), which the run holds:
    # each is judged once, and each copy reports at its own place
    judged: dict[int, JudgedEntries] = {}
    for e in ctx.mig_parted_configs:
        if id(e.config) not in judged:
            judged[id(e.config)] = judge(e.config)
        for name, i, basis, found in judged[id(e.config)]:
            path = (*e.base, "mig-configs", name, i, "mig-devices")
            for gpu, problems in found:
                for problem in problems:
                    if problem.code == "empty-layout":
                        continue
                    others = [g.name for g, _ in found if g is not gpu]
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


@rule("LK403", "time-slicing-and-mps", Severity.ERROR, "a device-plugin config sets both timeSlicing and mps")
def time_slicing_and_mps(ctx: ReadContext) -> Iterator[Hit]:
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
    for e in ctx.plugin_configs:
        s = e.sharing
        if s.get("timeSlicing") and s.get("mps"):
            yield Hit(
                e.target,
                (*e.base, "sharing", "mps"),
                f"{e.where}: sharing has both timeSlicing and mps; a node shares its GPUs one way only "
                "(the plugin uses mps and ignores timeSlicing)",
                "keep one of them; put the other in a second config key and select it per node with "
                f"the {DEVICE_PLUGIN_CONFIG_LABEL} label",
            )


@rule("LK404", "mps-with-mig", Severity.ERROR, "MPS sharing on MIG devices")
def mps_with_mig(ctx: ReadContext) -> Iterator[Hit]:
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
    for e in ctx.plugin_configs:
        mps = e.sharing.get("mps")
        if not isinstance(mps, Mapping):
            continue
        strategy = dig(e.config, "flags", "migStrategy")
        if strategy in ("single", "mixed"):
            yield Hit(
                e.target,
                (*e.base, "flags", "migStrategy"),
                f"{e.where}: MPS sharing with migStrategy {strategy}: MPS is not supported on MIG devices",
                "share full GPUs with MPS (migStrategy: none), or share MIG devices with timeSlicing",
            )
        for i, r in enumerate(as_list(mps.get("resources"))):
            if isinstance(r, Mapping) and MIG_RESOURCE.fullmatch(str(r.get("name", ""))):
                yield Hit(
                    e.target,
                    (*e.base, "sharing", "mps", "resources", i, "name"),
                    f"{e.where}: MPS cannot share {r.get('name')}: MPS works on full GPUs only",
                    "use timeSlicing for MIG resources, or MPS on nvidia.com/gpu of a non-MIG pool",
                )
    mps_keys = mps_configs(ctx.plugin_configs)
    for s in ctx.selections:
        key, mig = s.labels.get(DEVICE_PLUGIN_CONFIG_LABEL), s.labels.get(MIG_CONFIG_LABEL)
        if isinstance(key, str) and key in mps_keys and mig and mig != "all-disabled":
            yield Hit(
                s.target,
                (*s.path, DEVICE_PLUGIN_CONFIG_LABEL),
                f"nodes with {MIG_CONFIG_LABEL}={mig} use device-plugin config {key!r}, which shares with MPS: "
                "MPS is not supported on MIG-enabled GPUs",
                "use a timeSlicing config for MIG pools, or MPS on a pool with MIG disabled",
            )


@rule("LK405", "mps-replicas", Severity.ERROR, "MPS sharing with fewer than 2 replicas")
def mps_replicas(ctx: ReadContext) -> Iterator[Hit]:
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
    for e in ctx.plugin_configs:
        mps = e.sharing.get("mps")
        if not isinstance(mps, Mapping):
            continue
        for i, r in enumerate(as_list(mps.get("resources"))):
            n = r.get("replicas") if isinstance(r, Mapping) else None
            if isinstance(n, int) and not isinstance(n, bool) and n < 2:
                yield Hit(
                    e.target,
                    (*e.base, "sharing", "mps", "resources", i, "replicas"),
                    f"{e.where}: MPS replicas {n} for {r.get('name')}: "
                    + ("nothing is shared and no MPS daemon starts" if n == 1 else "the device plugin rejects the config"),
                    "set replicas to 2 or more (each client then gets 1/replicas of the GPU's memory and compute)",
                )


@rule("LK406", "migconfig-kind", Severity.ERROR, "nvidia.com MIGConfig is not a real kind", kinds=("MIGConfig",))
def migconfig_kind(ctx: ReadContext) -> Iterator[Hit]:
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
    for t in ctx.subjects:
        if t.obj.get("kind") == "MIGConfig" and str(t.obj.get("apiVersion", "")).startswith(NVIDIA_GROUP + "/"):
            yield Hit(
                t,
                ("kind",),
                "MIGConfig is not a real kind: the GPU Operator has no MIGConfig CRD; use the mig-parted ConfigMap",
                "declare the layout in a ConfigMap (key config.yaml: version: v1, mig-configs: {<name>: "
                "[{devices: all, mig-enabled: true, mig-devices: {...}}]}), name it in ClusterPolicy "
                "spec.migManager.config.name and label the nodes nvidia.com/mig.config=<name>; "
                "a Fleet pool with `mig:` renders all three",
            )
