"""The cluster decisions of `diff`/`apply` (llmkube.cluster), without an API server."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkube import cluster
from llmkube.check.crdstore import CRDStore
from llmkube.check.findings import Finding, Severity
from llmkube.errors import InputError
from llmkube.kubectl import APIResource
from llmkube.pipeline import NodeLabelStep

CM = APIResource("configmaps", "", "v1", "ConfigMap", True, ("get", "list", "create", "delete"))
NS = APIResource("namespaces", "", "v1", "Namespace", False, ("get", "list"))
CQ = APIResource("clusterqueues", "kueue.x-k8s.io", "v1beta2", "ClusterQueue", False, ("get", "list"))
LQ = APIResource("localqueues", "kueue.x-k8s.io", "v1beta2", "LocalQueue", True, ("get", "list"))
DEPLOY = APIResource("deployments", "apps", "v1", "Deployment", True, ("get",))  # not listable
RESOURCES = [CM, NS, CQ, LQ, DEPLOY]


def served(versions: tuple[str, ...] = ("v1", "apps/v1", "kueue.x-k8s.io/v1beta2", "kueue.x-k8s.io/v1beta1")) -> cluster.Served:
    return cluster.Served(RESOURCES, lambda: versions)


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **meta) -> dict:
    md = {"name": name, **meta}
    if namespace:
        md["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": md}


# ---------------------------------------------------------------------------- the run's parameters


def test_apply_set_name_comes_from_the_flag_then_the_environment_then_the_default():
    assert cluster.apply_set_name("team-a", {"LLMKUBE_APPLY_SET": "env"}) == "team-a"
    assert cluster.apply_set_name(None, {"LLMKUBE_APPLY_SET": "env"}) == "env"
    assert cluster.apply_set_name(None, {}) == "default"
    with pytest.raises(InputError, match="invalid apply set name"):
        cluster.apply_set_name("not a label!", {})


def test_namespace_flag_must_be_a_dns_label():
    cluster.check_namespace_name(None)
    cluster.check_namespace_name("llm-serving")
    with pytest.raises(InputError, match="invalid --namespace"):
        cluster.check_namespace_name("Bad_NS")


# ---------------------------------------------------------------------------- what the cluster serves


def test_served_asks_for_every_version_only_when_an_object_names_a_non_preferred_one():
    asked = []

    def versions():
        asked.append(1)
        return ["kueue.x-k8s.io/v1beta2", "kueue.x-k8s.io/v1beta1"]

    s = cluster.Served(RESOURCES, versions)
    assert s.serves(obj("kueue.x-k8s.io/v1beta2", "ClusterQueue", "q"))
    assert s.serves(obj("v1", "ConfigMap", "c"))
    assert asked == []
    assert s.serves(obj("kueue.x-k8s.io/v1beta1", "ClusterQueue", "q"))
    assert not s.serves(obj("kueue.x-k8s.io/v1alpha1", "ClusterQueue", "q"))
    assert asked == [1]
    assert not s.serves(obj("batch.volcano.sh/v1alpha1", "Job", "j"))


def test_unserved_lines_name_the_crd_to_install_or_upgrade():
    objects = [
        obj("batch.volcano.sh/v1alpha1", "Job", "a"),
        obj("batch.volcano.sh/v1alpha1", "Job", "b"),  # one line per apiVersion/kind
        obj("kueue.x-k8s.io/v1alpha9", "ClusterQueue", "q"),
        obj("v1", "Secret", "s"),
        obj("v1", "ConfigMap", "c"),
    ]
    assert cluster.unserved_lines(objects, served(), None) == [
        "the cluster does not serve Job (batch.volcano.sh/v1alpha1): install the CRD jobs.batch.volcano.sh (from Volcano)",
        "the cluster serves ClusterQueue (kueue.x-k8s.io) at v1beta1, v1beta2, not v1alpha9: "
        "upgrade the CRD clusterqueues.kueue.x-k8s.io (or render with --kueue-api v1beta1)",
        "the cluster does not serve Secret (v1)",
    ]


def crd(group: str, kind: str, plural: str, *versions: tuple[str, bool], scope: str = "Namespaced") -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": scope, "names": {"kind": kind, "plural": plural},
                 "versions": [{"name": v, "served": on, "storage": i == 0} for i, (v, on) in enumerate(versions)]},
    }


def test_defined_kinds_reads_group_kind_scope_and_served_versions():
    widgets = crd("example.com", "Widget", "widgets", ("v1", True), ("v1beta1", True), ("v1alpha1", False))
    gadgets = crd("example.com", "Gadget", "gadgets", ("v2", True), scope="Cluster")
    broken = {**crd("example.com", "Broken", "brokens", ("v1", True)), "spec": {"group": "example.com"}}
    none_served = crd("example.com", "Off", "offs", ("v1", False))
    not_a_crd = obj("v1", "ConfigMap", "c")
    (w, g) = cluster.defined_kinds([widgets, not_a_crd, gadgets, broken, none_served])
    assert (w.crd, w.resource.kind, w.resource.name, w.resource.namespaced) == ("widgets.example.com", "Widget", "widgets", True)
    assert w.group_versions == ("example.com/v1", "example.com/v1beta1")  # v1alpha1 is not served
    assert (g.crd, g.resource.namespaced, g.group_versions) == ("gadgets.example.com", False, ("example.com/v2",))


def test_custom_resources_of_a_new_crd_wait_for_it_and_others_do_not():
    widgets = crd("example.com", "Widget", "widgets", ("v1", True))
    # the cluster serves ClusterQueue at v1beta1/v1beta2; this CRD of the run adds v1
    queues = crd("kueue.x-k8s.io", "ClusterQueue", "clusterqueues", ("v1", True), ("v1beta2", True), scope="Cluster")
    objects = [
        widgets, queues, obj("v1", "ConfigMap", "c"),
        obj("example.com/v1", "Widget", "w", "ns"),
        obj("kueue.x-k8s.io/v1beta2", "ClusterQueue", "served-now"),
        obj("kueue.x-k8s.io/v1", "ClusterQueue", "new-version"),
        obj("example.com/v9", "Widget", "no-such-version", "ns"),  # the CRD does not serve it: left to the unserved check
    ]
    defined = cluster.defined_kinds(objects)
    now, later, crds = cluster.waiting_for_crds(objects, served(), defined)
    assert [o["metadata"]["name"] for o in later] == ["w", "new-version"]
    assert crds == ["widgets.example.com", "clusterqueues.kueue.x-k8s.io"]
    assert [o["metadata"]["name"] for o in now] == [
        "widgets.example.com", "clusterqueues.kueue.x-k8s.io", "c", "served-now", "no-such-version"]
    after = served().with_new_crds(defined)
    assert cluster.unserved_lines(objects[2:], after, None) == [
        "the cluster serves Widget (example.com) at v1, not v9: upgrade the CRD widgets.example.com"]
    assert not after.resource(obj("kueue.x-k8s.io/v1", "ClusterQueue", "q")).namespaced  # the CRD's scope
    assert after.serves(obj("kueue.x-k8s.io/v1beta1", "ClusterQueue", "q"))  # still served: the cluster's versions stay
    assert cluster.waiting_for_crds(objects, served(), []) == (objects, [], [])


def test_crd_plural_prefers_a_local_crd_then_english(tmp_path: Path):
    crd = tmp_path / "crd.yaml"
    crd.write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: octopi.example.com}\n"
        "spec:\n  group: example.com\n  scope: Namespaced\n"
        "  names: {kind: Octopus, plural: octopi, singular: octopus, listKind: OctopusList}\n"
        "  versions:\n  - name: v1\n    served: true\n    storage: true\n"
        "    schema: {openAPIV3Schema: {type: object}}\n"
    )
    store = CRDStore.load([tmp_path], include_cache=False)
    assert store.plural("example.com", "Octopus") == "octopi"
    assert store.plural("example.com", "Squid") is None
    assert cluster.crd_plural("example.com", "Octopus", store) == "octopi"
    assert cluster.crd_plural("example.com", "Policy", store) == "policies"
    assert cluster.crd_plural("example.com", "Gateway", None) == "gateways"
    assert cluster.crd_plural("example.com", "Mesh", None) == "meshes"
    assert cluster.crd_plural("example.com", "Box", None) == "boxes"


# ---------------------------------------------------------------------------- the objects to send


def test_objects_to_send_get_namespaces_and_the_apply_set_label_on_copies_in_apply_order():
    given = [
        obj("v1", "ConfigMap", "no-ns"),
        obj("kueue.x-k8s.io/v1beta2", "ClusterQueue", "q", namespace="stray"),
        obj("v1", "ConfigMap", "has-ns", namespace="mine", labels={"a": "b"}),
        obj("v1", "Namespace", "mine"),
    ]
    asked = []

    def default_namespace() -> str:
        asked.append(1)
        return "ctx-ns"

    out = cluster.objects_to_send(given, served(), "set-1", None, default_namespace)
    assert [o["kind"] for o in out] == ["Namespace", "ClusterQueue", "ConfigMap", "ConfigMap"]
    by_name = {o["metadata"]["name"]: o["metadata"] for o in out}
    assert by_name["no-ns"]["namespace"] == "ctx-ns" and asked == [1]
    assert "namespace" not in by_name["q"]  # cluster-scoped
    assert by_name["has-ns"]["labels"] == {"a": "b", cluster.APPLY_SET_LABEL: "set-1"}
    assert "namespace" not in given[0]["metadata"] and "labels" not in given[0]["metadata"]

    out = cluster.objects_to_send(given[:1], served(), "s", "flag-ns", default_namespace)
    assert out[0]["metadata"]["namespace"] == "flag-ns" and asked == [1]


def test_namespaces_needed_skips_namespaces_sent_along_and_names_the_first_user():
    objects = [
        obj("v1", "Namespace", "new"),
        obj("v1", "ConfigMap", "a", namespace="old"),
        obj("v1", "ConfigMap", "b", namespace="old"),
        obj("v1", "ConfigMap", "c", namespace="new"),
    ]
    wanted = cluster.namespaces_needed(objects)
    assert wanted == {"old": "ConfigMap/old/a"}
    assert cluster.cluster_reads(wanted, ["x.example.com"]) == [
        "namespaces/old",
        "customresourcedefinitions.apiextensions.k8s.io/x.example.com",
    ]
    found = [{"kind": "Namespace", "metadata": {"name": "other"}}]
    assert cluster.absent_namespace_lines(wanted, found) == [
        "namespace 'old' does not exist (needed by ConfigMap/old/a): "
        "create it (apply --create-namespace, kubectl create namespace old) or pass a Namespace manifest with the specs"
    ]
    assert cluster.absent_namespace_lines(wanted, [{"kind": "Namespace", "metadata": {"name": "old"}}]) == []


def test_crds_to_read_are_the_served_crds_of_objects_without_a_schema():
    objects = [obj("kueue.x-k8s.io/v1beta2", "LocalQueue", "lq", namespace="n"), obj("v1", "ConfigMap", "c", namespace="n")]
    missing = [
        Finding(code="no-schema", severity=Severity.ERROR, message="m", object="LocalQueue/n/lq"),
        Finding(code="no-schema", severity=Severity.ERROR, message="m", object="ConfigMap/n/c"),  # core: no CRD
    ]
    assert cluster.crds_to_read(objects, missing, served()) == ["localqueues.kueue.x-k8s.io"]


# ---------------------------------------------------------------------------- node labels


def test_node_label_changes_list_only_what_differs_by_node():
    step = NodeLabelStep(pool="h100", selector={"pool": "h100"}, labels={"nvidia.com/mig.config": "all-1g.10gb", "x": "1"})
    nodes = [
        {"metadata": {"name": "n2", "labels": {"nvidia.com/mig.config": "all-1g.10gb", "x": "1"}}},  # nothing to do
        {"metadata": {"name": "n1", "labels": {"x": "1"}}},
    ]
    changes = cluster.node_label_changes(step, nodes)
    assert changes == [cluster.LabelChange(step, "n1", (("nvidia.com/mig.config", None, "all-1g.10gb"),))]
    assert cluster.format_label_changes(changes) == (
        "node labels for pool 'h100' (nodes matching pool=h100):\n"
        "  node/n1: nvidia.com/mig.config: (unset) -> all-1g.10gb\n"
    )
    assert cluster.selector_text({"b": "2", "a": "1"}) == "a=1,b=2"


# ---------------------------------------------------------------------------- pruning


def test_prune_resources_are_listable_rendered_or_sent_kinds_never_namespaces():
    resources = {(r.group, r.kind): r for r in RESOURCES}
    sent = [obj("v1", "Namespace", "n"), obj("apps/v1", "Deployment", "d", namespace="n")]
    assert cluster.prune_resources(sent, resources) == ["configmaps", "clusterqueues.kueue.x-k8s.io", "localqueues.kueue.x-k8s.io"]


def test_prune_candidates_are_llmkube_applied_objects_that_left_the_specs():
    llmkube_apply = {"manager": "llmkube", "operation": "Apply", "fieldsV1": {"f:data": {}}}
    status_writer = {"manager": "kueue", "operation": "Update", "subresource": "status", "fieldsV1": {"f:status": {}}}
    other_apply = {"manager": "gitops", "operation": "Apply", "fieldsV1": {"f:data": {}}}
    other_edit = {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {}}}
    found = [
        obj("v1", "ConfigMap", "kept", namespace="n", managedFields=[llmkube_apply]),
        obj("v1", "ConfigMap", "gone", namespace="n", managedFields=[llmkube_apply, status_writer]),
        obj("kueue.x-k8s.io/v1beta2", "ClusterQueue", "gone-q", managedFields=[llmkube_apply]),
        obj("v1", "ConfigMap", "not-ours", namespace="n", managedFields=[other_apply]),
        obj("v1", "ConfigMap", "co-applied", namespace="n", managedFields=[llmkube_apply, other_apply]),
        obj("v1", "ConfigMap", "edited", namespace="n", managedFields=[llmkube_apply, other_edit]),
    ]
    current = [obj("v1", "ConfigMap", "kept", namespace="n")]
    candidates = cluster.prune_candidates(found, current)
    # reverse apply order: the ConfigMap goes before the ClusterQueue
    assert [o["metadata"]["name"] for o in candidates.doomed] == ["gone", "gone-q"]
    assert [o["metadata"]["name"] for o in candidates.shared] == ["co-applied", "edited"]


def test_hold_back_for_dry_run_and_the_new_object_diff():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "fresh"}}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "old"}}
    objects = [ns, deploy, other]
    assert cluster.namespaces_sent_along(objects) == {"fresh": "Namespace/fresh"}  # "old" is not among the inputs
    sent, held = cluster.hold_back_for_dry_run(objects, ["fresh"])
    assert (sent, held) == ([ns, other], [deploy])
    assert cluster.count_by_namespace([deploy, deploy, other]) == {"fresh": 2, "old": 1}
    text = cluster.new_object_diff(deploy, "kind: Deployment\nmetadata: {}\n")
    assert text.splitlines() == [
        "diff -u -N LIVE/apps.v1.Deployment.fresh.d MERGED/apps.v1.Deployment.fresh.d",
        "--- LIVE/apps.v1.Deployment.fresh.d",
        "+++ MERGED/apps.v1.Deployment.fresh.d",
        "@@ -0,0 +1,2 @@",
        "+kind: Deployment",
        "+metadata: {}",
    ]


# ---------------------------------------------------------------------------- the GPU Operator's shared ConfigMaps

FLEET_A = """apiVersion: llmkube.dev/v1alpha1
kind: Fleet
metadata: {name: fleet-a}
spec:
  pools:
    - {name: h100-mig, gpu: h100-80gb, nodeLabels: {pool: a}, mig: {layout: {3g.40gb: 1, 2g.20gb: 2}}}
"""
FLEET_B = """apiVersion: llmkube.dev/v1alpha1
kind: Fleet
metadata: {name: fleet-b}
spec:
  pools:
    - {name: a100-mig, gpu: a100-80gb, nodeLabels: {pool: b}, mig: {layout: {1g.10gb: 7}}}
    - {name: l4-shared, gpu: l4, nodeLabels: {pool: c}, sharing: {timeSlicing: {replicas: 4}}}
"""


def _rendered_gpu_maps(tmp_path: Path, *fleets: str) -> list[dict]:
    """The gpu-config ConfigMaps a real render of these Fleets emits (one run)."""
    from llmkube import pipeline
    from llmkube.options import Options

    paths = []
    for i, text in enumerate(fleets):
        paths.append(tmp_path / f"fleet-{i}-{len(fleets)}.yaml")
        paths[-1].write_text(text)
    run = pipeline.run([str(p) for p in paths], Options())
    return [dict(cm) for cm in cluster.gpu_config_maps(t.obj for t in run.targets)]


def test_a_run_without_another_fleet_would_drop_its_pool_configs(tmp_path: Path):
    """Fleets A and B applied together, then A alone: its mig-parted ConfigMap lacks B's MIG pool
    and its run has no device-plugin ConfigMap at all (nothing of A shares)."""
    both = _rendered_gpu_maps(tmp_path, FLEET_A, FLEET_B)
    alone = _rendered_gpu_maps(tmp_path, FLEET_A)
    assert [cm["metadata"]["name"] for cm in both] == ["llmkube-mig-parted-config", "llmkube-device-plugin-config"]
    assert [cluster.pool_config_names(cm) for cm in both] == [{"llmkube-h100-mig", "llmkube-a100-mig"}, {"llmkube-l4-shared"}]
    assert [cluster.pool_config_names(cm) for cm in alone] == [{"llmkube-h100-mig"}]

    (line,) = cluster.dropped_pool_config_lines(alone, both, for_apply=True)
    assert line.startswith(
        "ConfigMap gpu-operator/llmkube-mig-parted-config on the cluster holds MIG configs this run does not render: "
        "llmkube-a100-mig; applying it would remove them"
    )
    assert "render them together, or pass --prune if those pools are gone" in line
    (diff_line,) = cluster.dropped_pool_config_lines(alone, both, for_apply=False)
    assert "the diff removes them" in diff_line and "--prune" not in diff_line
    # the same Fleets again, or in one run with more pools: nothing dropped
    assert cluster.dropped_pool_config_lines(both, both, for_apply=True) == []
    assert cluster.dropped_pool_config_lines(both, alone, for_apply=True) == []


def test_device_plugin_configs_are_the_config_maps_keys(tmp_path: Path):
    both = _rendered_gpu_maps(tmp_path, FLEET_A, FLEET_B)
    device_plugin = both[1]
    b_without_l4 = FLEET_B.replace("    - {name: l4-shared, gpu: l4, nodeLabels: {pool: c}, sharing: {timeSlicing: {replicas: 4}}}\n", "")
    fewer = _rendered_gpu_maps(tmp_path, FLEET_A, b_without_l4)
    assert cluster.dropped_pool_config_lines(fewer, [device_plugin], for_apply=True) == []  # no device-plugin map sent
    smaller = dict(device_plugin, data={k: v for k, v in device_plugin["data"].items() if k != "llmkube-l4-shared"})
    (line,) = cluster.dropped_pool_config_lines([smaller], [device_plugin], for_apply=True)
    assert "holds device-plugin configs this run does not render: llmkube-l4-shared" in line


@pytest.mark.parametrize(
    "live_data",
    [
        {"config.yaml": "version: v1\nmig-configs: [not, a, mapping]\n"},
        {"config.yaml": "mig-configs: {llmkube-x: [}\n"},  # not YAML
        {"config.yaml": "a: 1\n---\nb: 2\n"},
        {"config.yaml": "version: v1\nmig-configs:\n  custom-layout: []\n  all-disabled: []\n"},  # not llmkube's
        None,
    ],
    ids=["list", "bad-yaml", "two-documents", "foreign-configs", "no-data"],
)
def test_a_live_config_map_that_holds_no_pool_config_of_llmkube_loses_nothing(tmp_path: Path, live_data):
    (mig,) = _rendered_gpu_maps(tmp_path, FLEET_A)
    live = {**mig, "data": live_data}
    assert cluster.dropped_pool_config_lines([mig], [live], for_apply=True) == []


def test_only_the_same_config_map_is_compared():
    sent = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "gpu-operator"}, "data": {}}
    other_ns = {**sent, "metadata": {"name": "cfg", "namespace": "elsewhere"}, "data": {"llmkube-x": "v"}}
    assert cluster.dropped_pool_config_lines([sent], [other_ns], for_apply=True) == []
    same = {**sent, "data": {"llmkube-x": "v", "user-config": "v"}}
    (line,) = cluster.dropped_pool_config_lines([sent], [same], for_apply=True)
    assert ": llmkube-x;" in line and "user-config" not in line


def test_gpu_config_maps_are_llmkubes_gpu_config_config_maps_only():
    labels = {"app.kubernetes.io/managed-by": "llmkube", "app.kubernetes.io/component": "gpu-config"}
    ours = obj("v1", "ConfigMap", "a", "gpu-operator", labels=labels)
    assert cluster.gpu_config_maps([ours]) == [ours]
    assert cluster.gpu_config_maps([obj("v1", "ConfigMap", "b", "gpu-operator", labels={**labels, "app.kubernetes.io/managed-by": "helm"})]) == []
    assert cluster.gpu_config_maps([obj("nvidia.com/v1", "ClusterPolicy", "cluster-policy", labels=labels)]) == []
    assert cluster.gpu_config_maps([obj("v1", "ConfigMap", "c", "gpu-operator")]) == []
