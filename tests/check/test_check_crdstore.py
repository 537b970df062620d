"""CRDStore loading, lookup order, the fast YAML reader, and the pull/cache functions."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest
import yaml

from llmkube import fastyaml
from llmkube.check.crdstore import (
    CRDStore,
    default_cache_dir,
    parse_documents,
    pull_from_source,
    save_crds,
)
from llmkube.errors import InputError

TINY_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {plural}.example.com}}
spec:
  group: example.com
  scope: {scope}
  names: {{kind: {kind}, plural: {plural}}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {{type: object, description: {desc}}}
  - name: v0
    served: false
    storage: false
    deprecated: true
    schema:
      openAPIV3Schema: {{type: object}}
"""


def _tiny(kind: str = "Gadget", desc: str = "first", scope: str = "Namespaced") -> str:
    return TINY_CRD.format(kind=kind, plural=kind.lower() + "s", desc=desc, scope=scope)


def test_lookup_returns_the_served_version(crd_store: CRDStore, upstream_crds: Path) -> None:
    v = crd_store.lookup("kueue.x-k8s.io/v1beta2", "ClusterQueue")
    assert v is not None
    assert (v.group, v.version, v.kind, v.plural, v.scope) == (
        "kueue.x-k8s.io", "v1beta2", "ClusterQueue", "clusterqueues", "Cluster"
    )
    assert v.storage and v.served and not v.deprecated
    assert v.source == str(upstream_crds / "kueue" / "kueue.x-k8s.io_clusterqueues.yaml")
    assert v.schema["type"] == "object" and "spec" in v.schema["properties"]
    old = crd_store.lookup("kueue.x-k8s.io/v1beta1", "ClusterQueue")
    assert old.deprecated and not old.storage
    assert crd_store.lookup("kueue.x-k8s.io/v1beta3", "ClusterQueue") is None
    assert crd_store.lookup("kueue.x-k8s.io/v1beta2", "Nope") is None
    assert crd_store.known_versions("kueue.x-k8s.io", "ClusterQueue") == ["v1beta1", "v1beta2"]
    assert crd_store.known_versions("example.com", "Nope") == []


def _crd_names(directory: Path) -> list[tuple[str, str, str]]:
    """(group, kind, plural) of every CRD file under `directory`, read with PyYAML."""
    out = []
    for path in sorted(directory.rglob("*.yaml")):
        if "examples" in path.parts or "nvidia-examples" in path.parts:
            continue
        for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):  # libyaml: 17 MB of CRDs
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                names = doc["spec"]["names"]
                out.append((doc["spec"]["group"], names["kind"], names["plural"]))
    return out


@pytest.mark.slow  # parses all 17 MB of upstream CRDs with PyYAML as the oracle: ~10-25 s
def test_store_counts_every_kind_once(crd_store: CRDStore, upstream_crds: Path) -> None:
    # The two mpijobs.kubeflow.org files (training-operator, mpi-operator) define one (group, kind).
    files = _crd_names(upstream_crds)
    assert len(files) > len(set(files)) and ("kubeflow.org", "MPIJob", "mpijobs") in files
    assert len(crd_store) == len({(g, k) for g, k, _ in files})
    assert ("serving.kserve.io", "LLMInferenceService") in crd_store.kinds()


def test_first_definition_wins(tmp_path: Path) -> None:
    a, b, cache = tmp_path / "a", tmp_path / "b", tmp_path / "cache"
    for d, desc in ((a, "from-a"), (b, "from-b"), (cache, "from-cache")):
        d.mkdir()
        (d / "gadget.yaml").write_text(_tiny(desc=desc))
    (cache / "other.yaml").write_text(_tiny(kind="Gizmo", desc="cached"))
    store = CRDStore.load([b, a], cache_dir=cache)
    assert store.lookup("example.com/v1", "Gadget").schema["description"] == "from-b"
    assert store.lookup("example.com/v1", "Gizmo").schema["description"] == "cached"
    assert CRDStore.load([a], cache_dir=cache).lookup("example.com/v1", "Gadget").source.startswith(str(a))
    assert CRDStore.load([], cache_dir=cache).lookup("example.com/v1", "Gadget").schema["description"] == "from-cache"
    assert CRDStore.load([a], include_cache=False, cache_dir=cache).lookup("example.com/v1", "Gizmo") is None


def test_unserved_version_is_not_looked_up(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(_tiny())
    store = CRDStore.load([tmp_path], include_cache=False)
    assert store.lookup("example.com/v0", "Gadget") is None
    assert store.known_versions("example.com", "Gadget") == ["v1"]


def test_list_documents_json_and_non_crds(tmp_path: Path) -> None:
    crd_a = yaml.safe_load(_tiny("Alpha"))
    crd_b = yaml.safe_load(_tiny("Beta", scope="Cluster"))
    listing = {"apiVersion": "v1", "kind": "List", "items": [crd_a, {"apiVersion": "v1", "kind": "ConfigMap"}]}
    (tmp_path / "list.yml").write_text(yaml.safe_dump(listing))
    import json

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text(json.dumps(crd_b))
    (tmp_path / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n---\n")
    (tmp_path / "README.md").write_text("kind: CustomResourceDefinition\n: : not yaml")
    v1beta1 = _tiny("Old").replace("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1")
    (tmp_path / "old.yaml").write_text(v1beta1)
    store = CRDStore.load([tmp_path], include_cache=False)
    assert sorted(store.kinds()) == [("example.com", "Alpha"), ("example.com", "Beta")]
    assert store.lookup("example.com/v1", "Beta").scope == "Cluster"


def test_unparsable_crd_file_points_at_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(_tiny() + "  - name: v2\n   broken: [\n")
    store = CRDStore.load([tmp_path], include_cache=False)
    with pytest.raises(InputError) as info:
        store.lookup("example.com/v1", "Gadget")
    err = info.value
    assert err.mark.file == str(bad) and err.mark.line is not None and err.mark.line >= 20
    assert "cannot parse CRD file" in err.message


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="CRD directory not found"):
        CRDStore.load([tmp_path / "missing"], include_cache=False)
    (tmp_path / "latin1.yaml").write_bytes(b"kind: \xff\xfe\n")
    with pytest.raises(InputError, match="not UTF-8"):
        CRDStore.load([tmp_path], include_cache=False)


def test_fast_reader_matches_pyyaml(upstream_crds: Path) -> None:
    text = (upstream_crds / "kueue" / "kueue.x-k8s.io_clusterqueues.yaml").read_text()
    assert fastyaml._fast_documents(text) == list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    tricky = (
        "a: yes\nb: off\nc: 0x1F\nd: 1_000\ne: 1.5e+3\nf: ~\ng: '007'\nh: 2024-01-02\n"
        "i: 12:30\nj: .inf\nk: !!str 12\n---\n---\n[1, {x: y}]\n"
    )
    docs = parse_documents(tricky, "t.yaml")
    assert docs[0] == {
        "a": True, "b": False, "c": 31, "d": 1000, "e": 1500.0, "f": None, "g": "007",
        "h": "2024-01-02", "i": 750, "j": float("inf"), "k": "12",
    }
    assert docs[1] == [1, {"x": "y"}]


def test_anchors_and_merge_keys_fall_back_to_pyyaml() -> None:
    text = "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\nwhen: 2024-01-02T03:04:05Z\n"
    (doc,) = parse_documents(text, "t.yaml")
    assert doc["other"] == {"x": 1, "y": 2}
    assert isinstance(doc["when"], str) and doc["when"].startswith("2024-01-02")


def test_default_cache_dir_precedence(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMKUBE_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("LLMKUBE_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "llmkube" / "crds"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "llmkube" / "crds"


def test_save_crds_writes_only_crds_atomically(tmp_path: Path) -> None:
    crd = yaml.safe_load(_tiny())
    crd["status"] = {"acceptedNames": {}}
    crd["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    paths = save_crds([{"apiVersion": "v1", "kind": "Service"}, crd, None], tmp_path / "c")
    assert paths == [tmp_path / "c" / "gadgets.example.com.yaml"]
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["gadgets.example.com.yaml"]
    (saved,) = parse_documents(paths[0].read_text(), str(paths[0]))
    assert "status" not in saved and "managedFields" not in saved["metadata"]
    assert saved["spec"] == crd["spec"]
    with pytest.raises(InputError, match="metadata.name"):
        save_crds([{**crd, "metadata": {"name": "../evil"}}], tmp_path / "c")


def test_pull_from_directory_and_file(upstream_crds: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    paths = pull_from_source(str(upstream_crds / "kueue"), cache)
    expected = sorted(f"{plural}.{group}.yaml" for group, _, plural in _crd_names(upstream_crds / "kueue"))
    assert "clusterqueues.kueue.x-k8s.io.yaml" in expected
    assert sorted(p.name for p in paths) == expected
    paths = pull_from_source(str(upstream_crds / "jobset" / "jobset.x-k8s.io_jobsets.yaml"), cache)
    assert [p.name for p in paths] == ["jobsets.jobset.x-k8s.io.yaml"]
    store = CRDStore.load([], cache_dir=cache)
    assert store.lookup("kueue.x-k8s.io/v1beta2", "ClusterQueue") is not None
    assert store.lookup("jobset.x-k8s.io/v1alpha2", "JobSet") is not None
    with pytest.raises(InputError, match="not found"):
        pull_from_source(str(tmp_path / "nowhere"), cache)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture()
def crd_server(upstream_crds: Path):
    handler = functools.partial(_QuietHandler, directory=str(upstream_crds))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_pull_from_url(crd_server: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = f"{crd_server}/volcano/batch.volcano.sh_jobs.yaml"
    assert [p.name for p in pull_from_source(url, cache)] == ["jobs.batch.volcano.sh.yaml"]
    url = f"{crd_server}/kueue/kueue.x-k8s.io_clusterqueues.yaml"
    assert [p.name for p in pull_from_source(url, cache)] == ["clusterqueues.kueue.x-k8s.io.yaml"]
    store = CRDStore.load([], cache_dir=cache)
    assert store.known_versions("batch.volcano.sh", "Job") == ["v1alpha1"]
    assert store.lookup("kueue.x-k8s.io/v1beta2", "ClusterQueue") is not None


def test_pull_from_url_404_names_the_url(crd_server: str, tmp_path: Path) -> None:
    url = f"{crd_server}/kueue/missing.yaml"
    with pytest.raises(InputError) as info:
        pull_from_source(url, tmp_path / "cache")
    assert url in info.value.message and "404" in info.value.message
    assert not (tmp_path / "cache").exists()


def test_pull_from_unreachable_url(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/crds.yaml"
    with pytest.raises(InputError) as info:
        pull_from_source(url, tmp_path / "cache")
    assert url in info.value.message


def test_parsed_crds_are_reused_and_a_corrupt_entry_is_reparsed(upstream_crds, tmp_path, monkeypatch):
    from llmkube.check import crdstore as store_mod

    cache = tmp_path / "named-cache"
    src = tmp_path / "src"
    src.mkdir()
    (src / "rf.yaml").write_text((upstream_crds / "kueue" / "kueue.x-k8s.io_resourceflavors.yaml").read_text())
    first = CRDStore.load([src], cache_dir=cache).lookup("kueue.x-k8s.io/v1beta2", "ResourceFlavor")
    # The side cache lives inside the cache directory named, and nowhere beside it.
    (entry,) = (cache / ".parsed").glob("*.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["named-cache", "src"]
    calls = []
    monkeypatch.setattr(store_mod, "parse_documents", lambda *a: calls.append(a) or [])
    again = CRDStore.load([src], cache_dir=cache).lookup("kueue.x-k8s.io/v1beta2", "ResourceFlavor")
    assert again is not None and again.schema == first.schema and calls == []
    # ... and is never read as a CRD file itself: the cache holds one definition per version.
    assert [v.source for v in CRDStore.load([], cache_dir=cache).definitions("kueue.x-k8s.io", "ResourceFlavor")] == []
    entry.write_text("{not json")
    monkeypatch.undo()
    third = CRDStore.load([src], cache_dir=cache).lookup("kueue.x-k8s.io/v1beta2", "ResourceFlavor")
    assert third is not None and third.schema == first.schema


def test_no_cache_neither_reads_nor_writes_the_parsed_side_cache(upstream_crds, tmp_path, monkeypatch):
    from llmkube.check import crdstore as store_mod

    cache = tmp_path / "cache"
    src = upstream_crds / "kueue" / "kueue.x-k8s.io_resourceflavors.yaml"
    CRDStore.load([src], cache_dir=cache).lookup("kueue.x-k8s.io/v1beta2", "ResourceFlavor")
    (entry,) = (cache / ".parsed").glob("*.json")
    calls = []
    real = store_mod.parse_documents
    monkeypatch.setattr(store_mod, "parse_documents", lambda *a: calls.append(a) or real(*a))
    found = CRDStore.load([src], include_cache=False, cache_dir=cache).lookup("kueue.x-k8s.io/v1beta2", "ResourceFlavor")
    assert found is not None and len(calls) == 1  # parsed again: the side cache was not read
    entry.unlink()
    CRDStore.load([src], include_cache=False, cache_dir=cache).lookup("kueue.x-k8s.io/v1beta2", "ResourceFlavor")
    assert list((cache / ".parsed").glob("*.json")) == []  # nor written


def test_the_parsed_side_cache_is_pruned(tmp_path):
    import os
    import time

    from llmkube.check.crdstore import parse_cached, prune_parsed

    parsed = tmp_path / ".parsed"
    for i in range(5):
        parse_cached(_tiny(kind=f"K{i}"), f"k{i}.yaml", parsed)
    assert len(list(parsed.glob("*.json"))) == 5
    entries = sorted(parsed.glob("*.json"))
    old = time.time() - 40 * 24 * 3600
    os.utime(entries[0], (old, old))
    assert prune_parsed(parsed) == [entries[0]]  # unused for 40 days
    for i, e in enumerate(sorted(parsed.glob("*.json"))):
        os.utime(e, (old + 3600 * 24 * 20 + i, old + 3600 * 24 * 20 + i))
    gone = prune_parsed(parsed, keep=2)
    assert len(gone) == 2 and len(list(parsed.glob("*.json"))) == 2
    survivors = set(parsed.glob("*.json"))
    assert not survivors & set(gone)
    # Writing a new entry prunes: the side cache never grows past its bound.
    for i in range(70):
        parse_cached(_tiny(kind=f"Many{i}"), f"m{i}.yaml", parsed)
    assert len(list(parsed.glob("*.json"))) <= 64
