"""The CRD file index (check/crdstore.py `_indexed_files`): a warm run takes each CRD file's `kind:`/`group:`
entries and content hash from the previous run and reads no file whose parse is cached; any change to the
set of files, a size or an mtime reads them all again; a broken index entry is a miss; --no-cache reads all."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from llmkube.check import crdstore
from llmkube.check.crdstore import CRDStore
from llmkube.check.schemas import SchemaValidator

QUEUE = {
    "apiVersion": "kueue.x-k8s.io/v1beta2",
    "kind": "ClusterQueue",
    "metadata": {"name": "cq"},
    "spec": {"bogus": 1},
}


@pytest.fixture
def crd_dir(upstream_crds: Path, tmp_path: Path) -> Path:
    out = tmp_path / "crds"
    out.mkdir()
    for name in ("kueue.x-k8s.io_clusterqueues.yaml", "kueue.x-k8s.io_localqueues.yaml"):
        shutil.copy(upstream_crds / "kueue" / name, out / name)
    return out


def _check(crd_dir: Path, cache: Path, **load: object) -> list:
    return SchemaValidator(CRDStore.load([crd_dir], cache_dir=cache, **load), kube_version="1.32").validate(QUEUE)  # type: ignore[arg-type]


def _no_reading(monkeypatch) -> None:
    def fail(path: Path) -> str:
        raise AssertionError(f"read {path}: the index and the parsed cache should have answered")

    monkeypatch.setattr(crdstore, "_read_text", fail)


def test_a_warm_run_reads_no_crd_file(crd_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = _check(crd_dir, cache)
    assert any("bogus" in p.message for p in first)
    _no_reading(monkeypatch)
    assert _check(crd_dir, cache) == first


def test_an_edited_file_is_read_again(crd_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    _check(crd_dir, cache)
    target = crd_dir / "kueue.x-k8s.io_clusterqueues.yaml"
    # the CRD no longer serves v1beta2: a stale index (or parse) would still find it
    target.write_text(target.read_text().replace("name: v1beta2", "name: v1beta9"))
    os.utime(target, ns=(1, 1))
    found = _check(crd_dir, cache)
    assert [p.source for p in found] == ["no-schema"], found


@pytest.mark.parametrize("change", ["added", "removed"])
def test_adding_or_removing_a_file_reads_the_files_again(crd_dir, tmp_path, upstream_crds, change):
    cache = tmp_path / "cache"
    _check(crd_dir, cache)
    if change == "added":
        shutil.copy(upstream_crds / "kueue" / "kueue.x-k8s.io_resourceflavors.yaml", crd_dir / "extra.yaml")
    else:
        (crd_dir / "kueue.x-k8s.io_localqueues.yaml").unlink()
    store = CRDStore.load([crd_dir], cache_dir=cache)
    assert ("kueue.x-k8s.io", "ResourceFlavor") in store.kinds() if change == "added" else ("kueue.x-k8s.io", "LocalQueue") not in store.kinds()


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'[["x", 1, 2], ["y", [], []]]', b'{"a": 1}', b'[["%s", "ab", "cd"], ["%s", [], []]]' % (b"0" * 64, b"0" * 64)],
)
def test_a_broken_index_entry_is_ignored(crd_dir, tmp_path, content):
    cache = tmp_path / "cache"
    first = _check(crd_dir, cache)
    (entry,) = (cache / ".files").glob("*.json")
    entry.write_bytes(content)
    assert _check(crd_dir, cache) == first


def test_no_cache_reads_every_file_and_writes_no_index(crd_dir, tmp_path):
    cache = tmp_path / "cache"
    _check(crd_dir, cache, include_cache=False)
    assert not cache.exists()
