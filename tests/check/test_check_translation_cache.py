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
    return sorted((cache / ".translated").glob("*.json"))


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
        for entry in (cache / ".translated").glob("*.json"):
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
        subprocess.Popen([sys.executable, "-c", _WRITER, str(crd_file), str(cache), json.dumps(CLUSTER_QUEUE), "15"], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs == [[json.dumps(expected)]] * 3
    assert not list((cache / ".translated").glob("*.tmp"))
    for entry in _entries(cache):
        assert set(json.loads(entry.read_text())) == {"schema", "rules"}


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
    assert list((tmp_path / "side").iterdir()) == []
    assert diskcache.read(None, "key") is None
