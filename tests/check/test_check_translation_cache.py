"""The on-disk cache of translated CRD schemas and CEL rule trees (check/schemas.py, llmkube.diskcache):
reused across runs, ignored and rewritten when broken, safe when runs write it at once, off with --no-cache."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmkube import diskcache
from llmkube.check import cel
from llmkube.check import schemas as schemas_mod
from llmkube.check.crdstore import CRDStore
from llmkube.check.schemas import SchemaValidator

# One schema problem (an unknown field) and one CEL problem (Kueue: a borrowing limit needs a cohort).
CLUSTER_QUEUE = {
    "apiVersion": "kueue.x-k8s.io/v1beta2",
    "kind": "ClusterQueue",
    "metadata": {"name": "cq"},
    "spec": {
        "bogus": 1,
        "resourceGroups": [
            {"coveredResources": ["cpu"], "flavors": [{"name": "default", "resources": [{"name": "cpu", "nominalQuota": 4, "borrowingLimit": 2}]}]}
        ],
    },
}


@pytest.fixture
def crd_file(upstream_crds: Path) -> Path:
    return upstream_crds / "kueue" / "kueue.x-k8s.io_clusterqueues.yaml"


def _validate(crd_file: Path, cache: Path, **load: object) -> list:
    return SchemaValidator(CRDStore.load([crd_file], cache_dir=cache, **load), kube_version="1.32").validate(CLUSTER_QUEUE)  # type: ignore[arg-type]


def _entries(cache: Path) -> list[Path]:
    """The translated-schema entries (the directory also keeps core definitions: `_defs_entries`)."""
    return sorted(p for p in (cache / ".translated").glob("*.json") if "schema" in json.loads(p.read_text()))


def _defs_entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / ".translated").glob("*.json") if "$defs" in json.loads(p.read_text()))


def _forbid_translation(monkeypatch) -> None:
    def fail(*_a, **_k):
        raise AssertionError("translated again: the cache entry was not used")

    monkeypatch.setattr(schemas_mod, "_translate", fail)
    monkeypatch.setattr(cel, "rule_tree", fail)


def test_a_translated_schema_is_reused_by_the_next_run(crd_file, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = _validate(crd_file, cache)
    assert {p.source for p in first} == {"schema", "cel"}
    (entry,) = _entries(cache)
    assert set(json.loads(entry.read_text())) == {"schema", "rules"}
    _forbid_translation(monkeypatch)
    assert _validate(crd_file, cache) == first


def test_rule_trees_survive_json_for_every_upstream_crd(crd_store):
    for group, kind in crd_store.kinds():
        for crd in crd_store.definitions(group, kind):
            tree = cel.rule_tree(crd.schema)
            assert cel.tree_from_json(json.loads(json.dumps(cel.tree_to_json(tree)))) == tree, kind
            translated = schemas_mod._translate(crd.schema, root=True)
            assert json.loads(json.dumps(translated)) == translated, kind


GARBAGE = {
    "binary": b"\x00\xff\xfe garbage",
    "empty": b"",
    "not json": b"{not json",
    "a list": b"[1, 2, 3]",
    "no schema": b'{"rules": null}',
    "bad rules": b'{"schema": {"type": "object"}, "rules": {"rules": [[1, 2]]}}',
    "rules of the wrong shape": b'{"schema": {"type": "object"}, "rules": {"rules": [], "properties": {"spec": null}}}',
    "a schema jsonschema-rs refuses": b'{"schema": {"type": 12}, "rules": null}',
}


@pytest.mark.parametrize("content", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_broken_entry_is_ignored_and_rewritten(crd_file, tmp_path, content):
    cache = tmp_path / "cache"
    expected = _validate(crd_file, cache)
    (entry,) = _entries(cache)
    good = entry.read_bytes()
    entry.write_bytes(content)
    assert _validate(crd_file, cache) == expected  # never a crash, never a different answer
    assert entry.read_bytes() == good  # and the entry is whole again


def test_a_truncated_entry_is_ignored_and_rewritten(crd_file, tmp_path):
    cache = tmp_path / "cache"
    expected = _validate(crd_file, cache)
    (entry,) = _entries(cache)
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 2])
    assert _validate(crd_file, cache) == expected
    assert entry.read_bytes() == good


def test_no_cache_neither_reads_nor_writes_translations(crd_file, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    expected = _validate(crd_file, cache, include_cache=False)
    assert not (cache / ".translated").exists()
    _validate(crd_file, cache)  # writes the entry
    calls = []
    real = schemas_mod._translate
    monkeypatch.setattr(schemas_mod, "_translate", lambda *a, **k: calls.append(k.get("root")) or real(*a, **k))
    assert _validate(crd_file, cache, include_cache=False) == expected
    assert calls.count(True) == 1  # translated (one root call), the entry not read


def test_the_key_covers_the_crd_file_and_the_translating_code(crd_file, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    _validate(crd_file, cache)
    monkeypatch.setattr(schemas_mod, "_code_key", lambda: "edited translation code")
    _validate(crd_file, cache)
    assert len(_entries(cache)) == 2  # an edit of schemas.py or cel.py is a new key
    edited = tmp_path / "edited.yaml"
    edited.write_text(crd_file.read_text().replace("borrowingLimit must be nil", "borrowingLimit must be absent"))
    assert any("must be absent" in p.message for p in _validate(edited, cache))
    assert len(_entries(cache)) == 3


# Several processes validate at once, each time after removing the entry, so they write it
# concurrently; each prints its findings. A reader must never see half an entry.
_WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from llmkube.check.crdstore import CRDStore
    from llmkube.check.schemas import SchemaValidator
    crd_file, cache, obj = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    seen = set()
    for _ in range(int(sys.argv[4])):
        for entry in (cache / ".translated").glob("*.json"):  # translations and definitions
            entry.unlink(missing_ok=True)
        found = SchemaValidator(CRDStore.load([crd_file], cache_dir=cache), kube_version="1.32").validate(obj)
        seen.add(json.dumps([[list(p.path), p.message, p.source] for p in found]))
    print(json.dumps(sorted(seen)))
    """
)


def test_runs_writing_the_cache_at_once_agree(crd_file, tmp_path):
    cache = tmp_path / "cache"
    expected = [[list(p.path), p.message, p.source] for p in _validate(crd_file, tmp_path / "reference")]
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(crd_file), str(cache), json.dumps(CLUSTER_QUEUE), "40"], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs == [[json.dumps(expected)]] * 3
    assert not list((cache / ".translated").glob("*.tmp"))
    assert len(_entries(cache)) == 1  # (the definitions are written once per process, then removed)


_SAME_KEY_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from llmkube import diskcache
    value = {"payload": "x" * 200_000, "writer": 0}
    for i in range(int(sys.argv[2])):
        diskcache.write(Path(sys.argv[1]), "key", value)
    """
)


def test_diskcache_readers_see_a_whole_entry_or_none_while_others_write(tmp_path):
    directory = tmp_path / "side"
    writers = [subprocess.Popen([sys.executable, "-c", _SAME_KEY_WRITER, str(directory), "150"]) for _ in range(2)]
    whole = {"payload": "x" * 200_000, "writer": 0}
    seen = set()
    while any(w.poll() is None for w in writers):
        try:  # the file itself, not diskcache.read (which would take half an entry for a miss)
            text = (directory / "key.json").read_text()
        except FileNotFoundError:
            seen.add("none")
            continue
        try:
            seen.add("whole" if json.loads(text) == whole else "broken")
        except ValueError:
            seen.add("broken")
    assert all(w.wait() == 0 for w in writers)
    assert "broken" not in seen
    assert "whole" in seen and diskcache.read(directory, "key") == whole
    assert [p.name for p in directory.iterdir()] == ["key.json"]


def test_diskcache_never_fails_a_run(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    diskcache.write(blocker / "side", "key", {"a": 1})  # cannot create the directory: nothing happens
    assert diskcache.read(blocker / "side", "key") is None
    diskcache.write(tmp_path / "side", "key", {"not json": object()})  # cannot serialise: no entry, no temp file
    assert not (tmp_path / "side").exists() or list((tmp_path / "side").iterdir()) == []
    assert diskcache.read(None, "key") is None


# --------------------------------------------------------------------------- core definitions


PDB = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "x", "namespace": "y", "labels": {"a": 1}},
    "spec": {"maxUnavailable": [], "selector": {"matchLabels": {"a": "b"}, "bogus": True}},
}


def _core(cache: Path, **load: object) -> list:
    return SchemaValidator(CRDStore.load([], cache_dir=cache, **load), kube_version="1.32").validate(PDB)  # type: ignore[arg-type]


def _fresh_processes_caches() -> None:
    schemas_mod._defs_for.cache_clear()
    schemas_mod._core_validator.cache_clear()


def test_a_core_kind_is_checked_against_the_definitions_it_reaches_kept_on_disk(tmp_path, monkeypatch):
    _fresh_processes_caches()
    expected = _core(tmp_path / "no", include_cache=False)
    assert {p.path for p in expected} >= {("metadata", "labels", "a"), ("spec", "maxUnavailable"), ("spec", "selector", "bogus")}
    _fresh_processes_caches()
    assert _core(tmp_path / "cache") == expected
    (entry,) = _defs_entries(tmp_path / "cache")
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in json.loads(entry.read_text())["$defs"]
    _fresh_processes_caches()
    monkeypatch.setattr(schemas_mod, "_definitions", lambda *_a: pytest.fail("read the 1.3 MB definitions: the entry was not used"))
    assert _core(tmp_path / "cache") == expected


@pytest.mark.parametrize("content", [b"{", b"[]", b'{"$defs": []}', b'{"$defs": {}}', b'{"$defs": {"io.k8s.api.policy.v1.PodDisruptionBudgetSpec": {"$ref": "#/$defs/gone"}}}'])
def test_a_broken_definitions_entry_is_ignored_and_rewritten(tmp_path, content):
    _fresh_processes_caches()
    expected = _core(tmp_path / "cache")
    (entry,) = _defs_entries(tmp_path / "cache")
    good = entry.read_bytes()
    entry.write_bytes(content)
    _fresh_processes_caches()
    assert _core(tmp_path / "cache") == expected
    assert entry.read_bytes() == good


def test_every_core_kind_compiles_against_the_definitions_it_reaches(tmp_path):
    """jsonschema-rs resolves every reference when it compiles: a closure that missed a definition
    would fail here, for any kind of the bundled Kubernetes version."""
    import jsonschema_rs

    version_dir = schemas_mod._version_dir("1.32")
    kinds = [p for p in sorted(version_dir.glob("*-*.json")) if not p.name.startswith("_")]  # kind-[group-]version.json
    assert len(kinds) > 100
    for path in kinds:
        schema = json.loads(path.read_text())
        defs, registry = schemas_mod._defs_for(version_dir, frozenset(schemas_mod._def_refs(schema)), None)
        jsonschema_rs.validator_for(schema, registry=registry, validate_formats=False)


def test_translated_crd_schemas_refer_only_to_object_meta(crd_store):
    for group, kind in crd_store.kinds():
        for crd in crd_store.definitions(group, kind):
            assert schemas_mod._def_refs(schemas_mod._translate(crd.schema, root=True)) <= schemas_mod._OBJECT_META_ROOT, kind
