"""GPU Operator configuration in a run: mig-parted layouts, device-plugin sharing, node selection.

The GPU Operator takes MIG layouts from a mig-parted config (`version: v1`,
`mig-configs:`) and sharing from a device-plugin config (`version: v1`,
`sharing:`), both usually held as text inside a ConfigMap's `data`. This
module parses those texts, and also accepts the config documents themselves
(a mig-parted `config.yaml` checked in as a file). A finding inside a
ConfigMap's block text points at the line inside the block (`InBlock`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import yaml

from llmkube.check.read.index import index_of
from llmkube.check.read.shape import as_mapping, dig, meta
from llmkube.check.read.workloads import Path, pod_groups
from llmkube.check.run import Target
from llmkube.errors import InputError, SourceMark
from llmkube.names import GPU_PRODUCT_LABEL, MIG_CONFIG_LABEL, NVIDIA_GROUP
from llmkube.records import record
from llmkube.yamlio import mark_of, parse_documents

if TYPE_CHECKING:  # the profiles are only named here: a run with no GPU never loads them
    from llmkube.profiles import GPUProfile, ProfileStore

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# the product label of a single-strategy MIG node: NVIDIA-H100-80GB-HBM3-MIG-3g.40gb
MIG_PRODUCT = re.compile(r"^(?P<gpu>.+)-MIG-(?P<profile>[0-9]+g\.[0-9]+gb[.a-z-]*?)(?:-SHARED)?$")


@record
class InBlock(Target):
    """A target whose marks are shifted into a ConfigMap's block text.

    The rule engine asks `hit.target.mark(hit.path)`; for a path inside an
    embedded config we answer with the line inside the `|` block (the text is
    re-read with line marks, so the position is exact). The re-read happens on
    the first such question: most configs never have a finding.
    """

    base: Path = ()
    text: str | None = None  # the block text (a `|` or `>` scalar), None for a quoted or plain one

    def mark(self, path: tuple[str | int, ...] = ()) -> SourceMark | None:
        outer = Target.mark(self, self.base)
        if self.document is None or self.text is None or outer is None or outer.line is None:
            return outer
        if tuple(path[: len(self.base)]) != self.base or len(path) == len(self.base):
            return outer
        inner = self.inner
        if inner is None:
            return outer
        m = mark_of(inner, tuple(path[len(self.base) :]), outer.file)
        return SourceMark(outer.file, outer.line + (m.line or 1), (outer.column or 1) + 1 + (m.column or 1))

    @cached_property
    def inner(self) -> Any:
        """The block text parsed with line marks, or None when it does not parse."""
        assert self.document is not None and self.text is not None
        try:
            docs = parse_documents(self.text, self.document.file)
        except InputError:
            return None
        return docs[0].data if docs else None


@record(frozen=True)
class Embedded:
    """One config document: where it is, and what it says."""

    target: Target  # an InBlock for ConfigMap data, the document itself otherwise
    base: Path  # path of the config inside the object ("data", key) or ()
    config: Mapping[str, Any]
    where: str  # "ConfigMap gpu-operator/x key config.yaml" or the object label

    @property
    def sharing(self) -> Mapping[str, Any]:
        """A device-plugin config's `sharing:` ({} when absent)."""
        s = self.config.get("sharing")
        return s if isinstance(s, Mapping) else {}


def _raw(t: Target, path: Path) -> Any:
    cur: Any = t.document.data if t.document is not None else None
    for p in path:
        if isinstance(cur, Mapping) and p in cur:
            cur = cur[p]
        else:
            return None
    return cur


def _is_block(t: Target, path: Path) -> bool:
    """Whether the value was written as a `|` or `>` block. The readers type such a scalar with
    ruamel's `LiteralScalarString`/`FoldedScalarString` (fastyaml `_block_scalar`, or ruamel's own
    loader), importing that module when they meet one: while it is not imported, no value of the run
    can be one, and the run need not import ruamel.yaml (~10 ms) to tell."""
    scalarstring = sys.modules.get("ruamel.yaml.scalarstring")
    if scalarstring is None:
        return False
    return isinstance(_raw(t, path), scalarstring.LiteralScalarString | scalarstring.FoldedScalarString)


def embedded_configs(targets: Iterable[Target]) -> Iterator[Embedded]:
    """Every `version: v1` GPU Operator config: ConfigMap keys, and bare config documents.

    Each distinct text is parsed once (by libyaml when present: PyYAML's C loader builds the
    same values with the same safe constructor), so a run with many copies of one ConfigMap
    pays for one; the configs are read, never changed.
    """
    parsed: dict[str, Any] = {}
    for t in targets:
        obj = t.obj
        if obj.get("kind") == "ConfigMap" and isinstance(obj.get("data"), Mapping):
            name = meta(obj).get("name")
            for key, text in obj["data"].items():
                if not isinstance(text, str) or "version" not in text:
                    continue
                if text not in parsed:
                    parsed[text] = _load_config(text)
                config = parsed[text]
                if not isinstance(config, Mapping) or str(config.get("version")) != "v1":
                    continue
                block = text if t.document is not None and _is_block(t, ("data", key)) else None
                target = InBlock(obj=obj, document=t.document, spec=t.spec, base=("data", key), text=block)
                yield Embedded(target, ("data", key), config, f"ConfigMap {name} key {key}")
        elif "kind" not in obj and str(obj.get("version")) == "v1" and ("mig-configs" in obj or "sharing" in obj or "flags" in obj):
            yield Embedded(t, (), obj, "config")


def _load_config(text: str) -> Any:
    """A ConfigMap value as YAML (safe constructors); None when it is not YAML we can read (a bad
    date, a 5,000-digit number, deep nesting): no finding."""
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - the safe loader
    except (yaml.YAMLError, ValueError, RecursionError):
        return None


def is_mig_parted(e: Embedded) -> bool:
    return isinstance(e.config.get("mig-configs"), Mapping)


def is_device_plugin(e: Embedded) -> bool:
    return "mig-configs" not in e.config and (
        isinstance(e.config.get("sharing"), Mapping) or isinstance(e.config.get("flags"), Mapping)
    )


def mig_entries(config: Mapping[str, Any]) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    """(config name, index, entry) of every entry of a mig-parted config."""
    for name, entries in as_mapping(config.get("mig-configs")).items():
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) or isinstance(entry, Mapping):  # a dict first: a Mapping check is an ABC's
                yield str(name), i, entry


def mig_layout(entry: Mapping[str, Any]) -> dict[str, int] | None:
    """profile → count per GPU of a `mig-enabled: true` entry; None when MIG is off or unreadable."""
    devices = entry.get("mig-devices")
    if entry.get("mig-enabled") is not True or not (isinstance(devices, dict) or isinstance(devices, Mapping)):
        return None
    out = {}
    for k, v in devices.items():
        if isinstance(v, bool) or not isinstance(v, int):
            return None
        out[str(k)] = v
    return out


def layouts_by_name(mig_parted: Iterable[Embedded]) -> dict[str, list[dict[str, int]]]:
    """mig-parted config name → the per-GPU layouts of its entries (MIG on only). Copies of one
    config text share one parsed config (`embedded_configs`), read once here."""
    out: dict[str, list[dict[str, int]]] = {}
    disabled: set[str] = set()
    read: dict[int, Any] = {}  # by identity; holding each config keeps its id from being reused
    for e in mig_parted:
        if id(e.config) in read:
            continue
        read[id(e.config)] = e.config
        for name, _, entry in mig_entries(e.config):
            layout = mig_layout(entry)
            if layout is not None:
                out.setdefault(name, []).append(layout)
            elif entry.get("mig-enabled") is False:
                disabled.add(name)
    for name in disabled - set(out):
        out[name] = []
    return out


def mps_configs(plugin_configs: Iterable[Embedded]) -> dict[str, Embedded]:
    """ConfigMap key → device-plugin config that shares with MPS (the key names it on nodes)."""
    out = {}
    for e in plugin_configs:
        if e.sharing.get("mps") and e.base:
            out[str(e.base[-1])] = e
    return out


# ---- node selection -------------------------------------------------------------


@record(frozen=True)
class Selection:
    """Node labels an object selects by: a ResourceFlavor's nodeLabels or a pod's nodeSelector."""

    target: Target
    path: Path
    labels: Mapping[str, str]


def selections(targets: Iterable[Target]) -> Iterator[Selection]:
    for t in targets:
        if t.obj.get("kind") == "ResourceFlavor":
            labels = dig(t.obj, "spec", "nodeLabels")
            if isinstance(labels, Mapping):
                yield Selection(t, ("spec", "nodeLabels"), labels)
        for g in pod_groups(t):
            if g.node_selector:
                yield Selection(t, (*g.spec_path, "nodeSelector"), g.node_selector)


def base_product(product: str) -> str:
    """The GPU's own product label, without -MIG-<profile> and -SHARED."""
    product = product.removesuffix("-SHARED")
    m = MIG_PRODUCT.match(product)
    return m["gpu"] if m else product


def config_products(selected: Iterable[Selection]) -> dict[str, set[str]]:
    """mig-parted config name → GPU products of the nodes that select it."""
    out: dict[str, set[str]] = {}
    for s in selected:
        cfg, product = s.labels.get(MIG_CONFIG_LABEL), s.labels.get(GPU_PRODUCT_LABEL)
        if cfg and product:
            out.setdefault(str(cfg), set()).add(base_product(str(product)))
    return out


def gpus_for_filter(profiles: ProfileStore, device_filter: Any) -> list[GPUProfile]:
    """GPU profiles a mig-parted `device-filter` (PCI device ids) names."""
    ids = device_filter if isinstance(device_filter, list) else [device_filter]
    want = {str(i).lower().removeprefix("0x") for i in ids}
    return [
        g for g in profiles.gpus.values()
        if any(p.lower().removeprefix("0x") in want for p in g.spec.pci_device_ids)
    ]


def cluster_policy_strategy(targets: Sequence[Target]) -> tuple[Target, str] | None:
    """The MIG strategy of the run's one ClusterPolicy (None with none, several, or no strategy)."""
    policies = [t for t in index_of(targets).of_kind("ClusterPolicy") if str(t.obj.get("apiVersion", "")).startswith(NVIDIA_GROUP + "/")]
    if len(policies) != 1:
        return None
    strategy = dig(policies[0].obj, "spec", "mig", "strategy")
    return (policies[0], str(strategy)) if strategy else None

