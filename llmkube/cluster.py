"""What `diff` and `apply` decide about a cluster, as pure functions of what it told us.

`llmkube.kubectl` asks the cluster; these functions take its answers (served
resource types, namespaces, nodes, objects of an apply set) and return values:
the lines that refuse a run, the objects to send, the node labels to change,
the objects to prune. `commands/kubeapply.py` prints them and picks the exit code.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from llmkube.apimachinery import api_group
from llmkube.check.crdstore import CRDStore
from llmkube.check.findings import Finding, object_label
from llmkube.errors import InputError
from llmkube.kubectl import DEFAULT_FIELD_MANAGER, APIResource
from llmkube.names import APP_COMPONENT_LABEL, GPU_CONFIG_COMPONENT, POOL_CONFIG_PREFIX
from llmkube.options import APPLY_SET_ENV, DEFAULT_APPLY_SET
from llmkube.pipeline import KIND_ORDER, NodeLabelStep
from llmkube.plan.context import MANAGED_BY
from llmkube.records import record

#: Label on every object llmkube applies; `apply --prune` deletes objects of the set that left the specs.
APPLY_SET_LABEL = "llmkube.dev/apply-set"
FIELD_MANAGER = DEFAULT_FIELD_MANAGER
CRD_RESOURCE = "customresourcedefinitions.apiextensions.k8s.io"

# Apply order for an empty cluster: what others refer to first, workloads last.
_FIRST = ["Namespace", "CustomResourceDefinition", "PriorityClass", "StorageClass", "ServiceAccount",
          "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "PersistentVolume", "PersistentVolumeClaim"]
APPLY_ORDER = _FIRST + [k for k in KIND_ORDER if k not in _FIRST]

# Kinds `apply --prune` looks for (besides the kinds of the current inputs): what llmkube renders.
RENDERED_KINDS = {
    ("kueue.x-k8s.io", k)
    for k in ("ResourceFlavor", "Topology", "Cohort", "WorkloadPriorityClass", "ClusterQueue", "LocalQueue")
} | {
    ("", "ConfigMap"),
    ("", "Service"),
    ("apps", "Deployment"),
    ("policy", "PodDisruptionBudget"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("nvidia.com", "ClusterPolicy"),
    ("kubeflow.org", "PyTorchJob"),
    ("trainer.kubeflow.org", "TrainJob"),
    ("batch.volcano.sh", "Job"),
    ("serving.kserve.io", "InferenceService"),
}
# Never pruned: deleting them deletes everything in them / of their kind.
NEVER_PRUNED = {("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")}

# Who ships the CRDs of a group (for the "install the CRD" line).
_PROJECTS = {
    "kueue.x-k8s.io": "Kueue",
    "batch.volcano.sh": "Volcano",
    "scheduling.volcano.sh": "Volcano",
    "kubeflow.org": "the Kubeflow Training Operator",
    "trainer.kubeflow.org": "Kubeflow Trainer",
    "serving.kserve.io": "KServe",
    "nvidia.com": "the NVIDIA GPU Operator",
    "jobset.x-k8s.io": "JobSet",
    "leaderworkerset.x-k8s.io": "LeaderWorkerSet",
}
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --------------------------------------------------------------------------- the run's parameters


def apply_set_name(given: str | None, environ: Mapping[str, str]) -> str:
    """--apply-set, else $LLMKUBE_APPLY_SET, else the default; it must be a label value."""
    name = given or environ.get(APPLY_SET_ENV) or DEFAULT_APPLY_SET
    if not _LABEL_VALUE.fullmatch(name):
        raise InputError(f"invalid apply set name {name!r}", hint="use at most 63 characters [A-Za-z0-9-_.]")
    return name


def check_namespace_name(namespace: str | None) -> None:
    if namespace is not None and not _NAMESPACE.fullmatch(namespace):
        raise InputError(f"invalid --namespace {namespace!r}", hint="a namespace name is a DNS label: [a-z0-9-]")


# --------------------------------------------------------------------------- what the cluster serves


class Served:
    """What the cluster serves: resource types by group and kind (`kubectl api-resources`);
    every served group/version (`api_versions`, asked only when an object names a
    version other than the one discovery prefers)."""

    def __init__(self, resources: Sequence[APIResource], api_versions: Callable[[], Iterable[str]]) -> None:
        self.resources = list(resources)
        self._api_versions = api_versions
        self._by_kind = {(r.group, r.kind): r for r in self.resources}
        self._versions: set[str] | None = None

    @property
    def versions(self) -> set[str]:
        if self._versions is None:
            self._versions = set(self._api_versions())
        return self._versions

    def by_kind(self) -> dict[tuple[str, str], APIResource]:
        return dict(self._by_kind)

    def group_versions(self, group: str) -> list[str]:
        return sorted(gv.rpartition("/")[2] for gv in self.versions if gv.rpartition("/")[0] == group)

    def resource(self, obj: Mapping[str, Any]) -> APIResource | None:
        """The served resource type of obj's group and kind (None if the cluster lacks it)."""
        return self._by_kind.get((api_group(obj), str(obj.get("kind"))))

    def serves(self, obj: Mapping[str, Any]) -> bool:
        res = self.resource(obj)
        if res is None:
            return False
        api_version = str(obj.get("apiVersion"))
        preferred = f"{res.group}/{res.version}" if res.group else res.version
        return api_version == preferred or api_version in self.versions


    def with_new_crds(self, defined: Sequence[DefinedKind]) -> Served:
        """What the cluster will serve once the run's new CRDs are Established: their kinds and
        versions added (a CRD that adds a version to a served kind replaces its entry)."""
        resources = {**self._by_kind, **{(d.resource.group, d.resource.kind): d.resource for d in defined}}
        if not defined:
            return self  # nothing new: and `versions` would ask the cluster
        versions = self.versions | {v for d in defined for v in d.group_versions}
        return Served(list(resources.values()), lambda: versions)


@record(frozen=True)
class DefinedKind:
    """A kind one of the run's CustomResourceDefinitions defines, as discovery lists it once the
    CRD is Established: the resource type (its first served version) and every served group/version."""

    crd: str  # the CRD's metadata.name, `<plural>.<group>`
    resource: APIResource
    group_versions: tuple[str, ...]


def defined_kinds(objects: Iterable[Mapping[str, Any]]) -> list[DefinedKind]:
    """The kinds the CustomResourceDefinitions among `objects` define (apiextensions.k8s.io/v1:
    spec.group, spec.names.kind/plural, spec.scope, spec.versions[].served). A CRD too broken to
    read defines nothing here; the offline checks have reported it."""
    out = []
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition" or api_group(obj) != "apiextensions.k8s.io":
            continue
        spec = obj.get("spec")
        names = spec.get("names") if isinstance(spec, Mapping) else None
        if not isinstance(spec, Mapping) or not isinstance(names, Mapping):
            continue
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        versions = [str(v["name"]) for v in spec.get("versions") or ()
                    if isinstance(v, Mapping) and v.get("served") is True and isinstance(v.get("name"), str) and v["name"]]
        if not (isinstance(group, str) and isinstance(kind, str) and isinstance(plural, str) and versions):
            continue
        resource = APIResource(name=plural, group=group, version=versions[0], kind=kind,
                               namespaced=spec.get("scope") != "Cluster")
        name = str((obj.get("metadata") or {}).get("name") or f"{plural}.{group}")
        out.append(DefinedKind(name, resource, tuple(f"{group}/{v}" for v in versions)))
    return out


def waiting_for_crds(
    objects: Sequence[dict[str, Any]], served: Served, defined: Sequence[DefinedKind]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Split the objects to send at the run's new CRDs: (what the cluster accepts now, the custom
    resources whose kind or version only a CRD of the run makes served, the names of those CRDs).
    kubectl applies a stream in one pass and refuses a resource whose CRD it has just created
    ("no matches for kind", the CRD not yet Established), so these go after the CRDs, as Helm
    installs a chart's crds/ first."""
    after = served.with_new_crds(defined)
    crd_of = {(d.resource.group, d.resource.kind): d.crd for d in defined}
    now, later, crds = [], [], []
    for obj in objects:
        if served.serves(obj) or not after.serves(obj):
            now.append(obj)
            continue
        later.append(obj)
        name = crd_of[(api_group(obj), str(obj.get("kind")))]
        if name not in crds:
            crds.append(name)
    return now, later, crds


def unserved_lines(objects: Iterable[Mapping[str, Any]], served: Served, crds: CRDStore | None) -> list[str]:
    """One line per apiVersion/kind the cluster does not serve, naming the CRD to install."""
    seen: dict[tuple[str, str], None] = {}
    for obj in objects:
        if not served.serves(obj):
            seen.setdefault((str(obj.get("apiVersion")), str(obj.get("kind"))), None)
    return [_unserved_line(api_version, kind, served, crds) for api_version, kind in seen]


def _unserved_line(api_version: str, kind: str, served: Served, crds: CRDStore | None) -> str:
    group, _, version = api_version.rpartition("/")
    if not group:
        return f"the cluster does not serve {kind} ({api_version})"
    res = served.resource({"apiVersion": api_version, "kind": kind})
    if res is not None:  # the kind exists, this version does not
        other = ", ".join(served.group_versions(group)) or res.version
        hint = " (or render with --kueue-api v1beta1)" if group == "kueue.x-k8s.io" and "v1beta1" in other else ""
        return f"the cluster serves {kind} ({group}) at {other}, not {version}: upgrade the CRD {res.qualified_name}{hint}"
    project = _PROJECTS.get(group)
    by = f" (from {project})" if project else ""
    return f"the cluster does not serve {kind} ({api_version}): install the CRD {crd_plural(group, kind, crds)}.{group}{by}"


def crd_plural(group: str, kind: str, crds: CRDStore | None) -> str:
    """The CRD's plural from a local CRD when there is one, else the usual English plural."""
    plural = crds.plural(group, kind) if crds is not None else None
    if plural:
        return plural
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    return low + "s"


# --------------------------------------------------------------------------- the objects to send


def objects_to_send(
    objects: Iterable[dict[str, Any]],
    served: Served,
    apply_set: str,
    namespace: str | None,
    default_namespace: Callable[[], str],
) -> list[dict[str, Any]]:
    """Copies in apply order, labelled with the apply set; namespaced objects that name no
    namespace get `namespace` (else `default_namespace()`, asked once, only if needed),
    cluster-scoped ones lose theirs."""
    out = [copy.deepcopy(obj) for obj in objects]
    for obj in out:
        meta = obj.setdefault("metadata", {})
        res = served.resource(obj)
        if res is not None and res.namespaced and not meta.get("namespace"):
            if namespace is None:
                namespace = default_namespace()
            meta["namespace"] = namespace
        elif res is not None and not res.namespaced:
            meta.pop("namespace", None)
        labels = meta.get("labels") or {}
        labels[APPLY_SET_LABEL] = apply_set
        meta["labels"] = labels
    return order_for_apply(out)


def order_for_apply(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable sort by kind so that an empty cluster accepts the objects in one pass."""
    rank = {kind: i for i, kind in enumerate(APPLY_ORDER)}
    return sorted(objects, key=lambda o: rank.get(str(o.get("kind")), len(APPLY_ORDER)))


def namespaces_needed(objects: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Namespace → the first object (in apply order) that needs it; Namespaces sent along don't count."""
    wanted = {o["metadata"]["namespace"]: object_label(o) for o in reversed(objects) if o["metadata"].get("namespace")}
    for o in objects:
        if o.get("kind") == "Namespace" and "/" not in str(o.get("apiVersion")):
            wanted.pop(o["metadata"].get("name"), None)
    return wanted


def namespaces_sent_along(objects: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Namespace manifests sent with objects inside them: name → the Namespace's label."""
    used = {o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace")}
    return {
        name: object_label(o)
        for o in objects
        if o.get("kind") == "Namespace" and "/" not in str(o.get("apiVersion")) and (name := o["metadata"].get("name")) in used
    }


def hold_back_for_dry_run(objects: Sequence[dict[str, Any]], new: Iterable[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A server dry run persists nothing, so the Namespace it "creates" is not there for the objects
    after it: the API server would refuse each with `namespaces "x" not found`. Those objects are
    held back (they were checked offline): returns (what is sent, what is held back)."""
    new = set(new)
    sent = [o for o in objects if o["metadata"].get("namespace") not in new]
    held = [o for o in objects if o["metadata"].get("namespace") in new]
    return sent, held


def count_by_namespace(objects: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many of `objects` are in each namespace, sorted by namespace."""
    counts: dict[str, int] = {}
    for o in objects:
        ns = str(o["metadata"].get("namespace"))
        counts[ns] = counts.get(ns, 0) + 1
    return dict(sorted(counts.items()))


def new_object_diff(obj: Mapping[str, Any], manifest: str) -> str:
    """A unified diff from nothing to `manifest`, named as `kubectl diff` names its files
    (`<group>.<version>.<Kind>.<namespace>.<name>`), for an object the server cannot dry-run."""
    import difflib

    md = obj["metadata"]
    name = ".".join(p for p in (str(obj.get("apiVersion", "")).replace("/", "."), str(obj.get("kind")), md.get("namespace"), md.get("name")) if p)
    lines = difflib.unified_diff([], manifest.splitlines(keepends=True), f"LIVE/{name}", f"MERGED/{name}")
    return f"diff -u -N LIVE/{name} MERGED/{name}\n" + "".join(lines)


def crds_to_read(objects: Iterable[dict[str, Any]], missing: Sequence[Finding], served: Served) -> list[str]:
    """Names of the served CRDs of the custom resources that had no schema offline."""
    labels = {f.object for f in missing}
    return sorted(
        {
            res.qualified_name
            for obj in objects
            if object_label(obj) in labels and (res := served.resource(obj)) is not None and res.group
        }
    )


def cluster_reads(wanted: Mapping[str, str], crd_names: Sequence[str]) -> list[str]:
    """What to read in one `kubectl get`: the target namespaces and the CRDs."""
    return [f"namespaces/{ns}" for ns in sorted(wanted)] + [f"{CRD_RESOURCE}/{n}" for n in crd_names]


def absent_namespaces(wanted: Mapping[str, str], found: Iterable[Mapping[str, Any]]) -> list[str]:
    """The target namespaces the cluster does not have, sorted."""
    existing = {o["metadata"]["name"] for o in found if o.get("kind") == "Namespace"}
    return sorted(set(wanted) - existing)


def absent_namespace_lines(wanted: Mapping[str, str], found: Iterable[Mapping[str, Any]], *, for_apply: bool = True) -> list[str]:
    """One line per target namespace the cluster does not have."""
    also = "apply --create-namespace, " if for_apply else ""
    return [
        f"namespace {ns!r} does not exist (needed by {wanted[ns]}): "
        f"create it ({also}kubectl create namespace {ns}) or pass a Namespace manifest with the specs"
        for ns in absent_namespaces(wanted, found)
    ]


def namespace_objects(names: Iterable[str]) -> list[dict[str, Any]]:
    """Namespaces `apply --create-namespace` sends first. Like helm's, they belong to no apply set
    (and namespaces are never pruned): deleting the specs never deletes a namespace."""
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in names]


# --------------------------------------------------------------------------- node labels


@record(frozen=True)
class LabelChange:
    """Labels one node would get: (key, current value or None, new value)."""

    step: NodeLabelStep
    node: str
    changes: tuple[tuple[str, str | None, str], ...]


def node_label_changes(step: NodeLabelStep, nodes: Iterable[Mapping[str, Any]]) -> list[LabelChange]:
    """The label changes `step` makes on the nodes its selector matches, by node name."""
    out = []
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        current = node["metadata"].get("labels") or {}
        changes = tuple((k, current.get(k), v) for k, v in sorted(step.labels.items()) if current.get(k) != v)
        if changes:
            out.append(LabelChange(step, node["metadata"]["name"], changes))
    return out


def format_label_changes(changes: Sequence[LabelChange]) -> str:
    lines = []
    last = None
    for c in changes:
        if c.step is not last:
            lines.append(f"node labels for pool {c.step.pool!r} (nodes matching {selector_text(c.step.selector)}):")
            last = c.step
        for key, old, new in c.changes:
            before = "(unset)" if old is None else old
            lines.append(f"  node/{c.node}: {key}: {before} -> {new}")
    return "\n".join(lines) + "\n"


def selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


# --------------------------------------------------------------------------- pruning


def prune_resources(objects: Iterable[Mapping[str, Any]], resources: Mapping[tuple[str, str], APIResource]) -> list[str]:
    """The resource types to list for pruning: what llmkube renders and what is sent now, if listable."""
    kinds = set(RENDERED_KINDS)
    for obj in objects:
        kinds.add((api_group(obj), str(obj.get("kind"))))
    kinds -= NEVER_PRUNED
    return [resources[k].qualified_name for k in sorted(kinds) if k in resources and "list" in resources[k].verbs]


@record(frozen=True)
class PruneCandidates:
    doomed: list[dict[str, Any]]  # to delete, in reverse apply order
    shared: list[dict[str, Any]]  # left the specs, but other field managers own them too


def prune_candidates(found: Iterable[dict[str, Any]], objects: Iterable[Mapping[str, Any]]) -> PruneCandidates:
    """Objects of the apply set that llmkube applied earlier and that left the specs.

    An object is pruned only when llmkube (field manager "llmkube") applied it and
    no other manager applied or edited its spec -- a shared object (say the GPU
    Operator's ClusterPolicy, whose MIG fields llmkube sets) is left alone.
    """
    current = {object_key(o) for o in objects}
    doomed: list[dict[str, Any]] = []
    shared: list[dict[str, Any]] = []
    for obj in found:
        if object_key(obj) in current or not applied_by_llmkube(obj):
            continue
        (shared if has_other_managers(obj) else doomed).append(obj)
    return PruneCandidates(list(reversed(order_for_apply(doomed))), shared)


def format_prune_list(doomed: Sequence[Mapping[str, Any]], apply_set: str) -> str:
    """`diff --prune`'s listing of what `apply --prune` would delete, in deletion order."""
    lines = [f"apply --prune would delete (apply set {apply_set!r}, left the specs):"]
    lines += [f"  - {object_label(obj)}" for obj in doomed]
    return "\n".join(lines) + "\n"


def object_key(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (api_group(obj), str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def applied_by_llmkube(obj: Mapping[str, Any]) -> bool:
    return any(
        m.get("manager") == FIELD_MANAGER and m.get("operation") == "Apply"
        for m in (obj.get("metadata") or {}).get("managedFields") or []
    )


def has_other_managers(obj: Mapping[str, Any]) -> bool:
    """Another manager applied it, or edited its spec (controllers writing status or metadata don't count)."""
    for m in (obj.get("metadata") or {}).get("managedFields") or []:
        if m.get("manager") == FIELD_MANAGER or m.get("subresource"):
            continue
        fields = m.get("fieldsV1") or {}
        if m.get("operation") == "Apply" or any(k != "f:metadata" and k != "f:status" for k in fields):
            return True
    return False


# --- the GPU Operator's shared ConfigMaps: configs another Fleet put there ------------------------

_GPU_CONFIG_LABELS = {**MANAGED_BY, APP_COMPONENT_LABEL: GPU_CONFIG_COMPONENT}
#: mig-parted reads its configs from this one key (`config.yaml`: `version`, `mig-configs`).
MIG_PARTED_KEY = "config.yaml"


def gpu_config_maps(objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The run's mig-parted and device-plugin ConfigMaps (a Fleet's, shared by every Fleet of the cluster)."""
    out = []
    for obj in objects:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if obj.get("kind") == "ConfigMap" and obj.get("apiVersion") == "v1" and all(labels.get(k) == v for k, v in _GPU_CONFIG_LABELS.items()):
            out.append(obj)
    return out


def pool_config_names(config_map: Mapping[str, Any]) -> set[str]:
    """The pool configs (`llmkube-<pool>`) a mig-parted or device-plugin ConfigMap holds.

    mig-parted's are the keys of `mig-configs` inside the `config.yaml` text; the device plugin's
    are the ConfigMap's own keys. A live ConfigMap may hold anything: text that is not such a YAML
    mapping holds no pool configs (nothing to lose that llmkube could name)."""
    data = config_map.get("data")
    if not isinstance(data, Mapping):
        return set()
    if MIG_PARTED_KEY in data:
        from llmkube.fastyaml import load_plain

        try:
            docs = load_plain(str(data[MIG_PARTED_KEY]), "ConfigMap", "mig-parted config")
        except InputError:
            return set()
        configs = docs[0].get("mig-configs") if len(docs) == 1 and isinstance(docs[0], dict) else None
        names: Iterable[Any] = configs if isinstance(configs, dict) else ()
    else:
        names = data
    return {n for n in names if isinstance(n, str) and n.startswith(POOL_CONFIG_PREFIX)}


def dropped_pool_config_lines(sent: Iterable[Mapping[str, Any]], live: Iterable[Mapping[str, Any]], *, for_apply: bool) -> list[str]:
    """One line per shared GPU Operator ConfigMap whose live copy holds pool configs this run does not render.

    A cluster has one mig-parted and one device-plugin ConfigMap, shared by all its Fleets; a run
    renders the configs of the Fleets in it, and applying its ConfigMap replaces the live one's
    (mig-parted's one `config.yaml` text; the device plugin's keys that llmkube's field manager owns).
    So a run that leaves out a Fleet would drop that Fleet's configs, and the nodes labelled with them
    (`nvidia.com/mig.config`, `nvidia.com/device-plugin.config`) would lose their layout."""
    by_ref = {(o.get("metadata", {}).get("namespace"), o.get("metadata", {}).get("name")): o for o in live if o.get("kind") == "ConfigMap"}
    lines = []
    for cm in sent:
        meta = cm.get("metadata") or {}
        ns, name = meta.get("namespace"), meta.get("name")
        current = by_ref.get((ns, name))
        if current is None:
            continue
        dropped = sorted(pool_config_names(current) - pool_config_names(cm))
        if not dropped:
            continue
        what = "MIG configs" if MIG_PARTED_KEY in (cm.get("data") or {}) else "device-plugin configs"
        effect = "applying it would remove them" if for_apply else "the diff removes them"
        lines.append(
            f"ConfigMap {ns}/{name} on the cluster holds {what} this run does not render: {', '.join(dropped)}; "
            f"{effect} (a Fleet left out of the run? a cluster's Fleets share this ConfigMap: render them together"
            + (", or pass --prune if those pools are gone)" if for_apply else ")")
        )
    return lines

