"""The CRD catalog and `llmkube crds pull|list|catalog`, downloading for real from a local mirror.

The mirror is an HTTP server on 127.0.0.1 laid out as GitHub's raw-file host
(`/{owner}/{repo}/{tag}/{path}`), built from the upstream CRDs' SOURCES.md: each
row's file appears at its upstream repository, tag and path. So these tests also
prove the catalog names the exact upstream files the test oracle was copied from.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from llmkube.check import crdcatalog
from llmkube.check.crdstore import CRDStore, pull_from_source, pull_project, read_index
from llmkube.errors import InputError
from tests.support import crdmirror, crds
from tests.support.cli import llmkube


@pytest.fixture()
def mirror(upstream_crds: Path, tmp_path: Path):
    """(base URL, mirror root): the upstream files at their repository/tag/path, served over HTTP."""
    with crdmirror.mirror(upstream_crds, tmp_path / "mirror") as served:
        yield served


def _rows_by_project() -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for row in crds.source_rows():
        out.setdefault(row["file"].split("/")[0], []).append(row)
    return out


def test_the_catalog_names_the_upstream_files_of_the_targeted_releases(upstream_crds):
    rows = _rows_by_project()
    assert set(crdcatalog.PROJECTS) == set(rows) - {"nvidia-examples"}
    for name, project in crdcatalog.PROJECTS.items():
        expected = sorted(f"https://raw.githubusercontent.com/{r['repo']}/{r['tag']}/{r['path']}" for r in rows[name])
        assert sorted(project.urls(base=crdcatalog.DEFAULT_BASE_URL)) == expected, name


def test_parse_wanted():
    assert crdcatalog.parse_wanted("kueue").version == "v0.19.2"
    w = crdcatalog.parse_wanted("kueue@v0.18.1")
    assert (w.project.name, w.version, w.targeted, w.label) == ("kueue", "v0.18.1", False, "kueue@v0.18.1")
    assert crdcatalog.parse_wanted("kueue@0.18.1").version == "v0.18.1"
    assert crdcatalog.parse_wanted("./kueue") is None and crdcatalog.parse_wanted("https://x/y.yaml") is None
    with pytest.raises(ValueError):
        crdcatalog.parse_wanted("kueue@../../etc")
    with pytest.raises(ValueError):
        crdcatalog.parse_wanted("kueue@v1/../x")


def test_pull_a_project_over_http_records_the_upstream_sha256(mirror, tmp_path, monkeypatch):
    base, _ = mirror
    monkeypatch.setenv(crdcatalog.BASE_URL_ENV, base)
    cache = tmp_path / "cache"
    project = crdcatalog.PROJECTS["kueue"]
    pulled = pull_project("kueue@v0.19.2", project.urls(), cache, allow_absent=False)
    assert pulled.directory == cache / "kueue@v0.19.2" and pulled.absent == []
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in _rows_by_project()["kueue"]}
    assert sorted(p.name for p in pulled.files) == sorted(rows)
    index = read_index(cache)
    for path in pulled.files:
        entry = index[f"kueue@v0.19.2/{path.name}"]
        assert entry["sha256"] == rows[path.name]["sha256"]  # byte for byte what upstream released
        assert entry["bytes"] == int(rows[path.name]["bytes"])
        assert entry["source"] == f"{base}/kubernetes-sigs/kueue/v0.19.2/{rows[path.name]['path']}"
        assert entry["from"] == "kueue@v0.19.2"
    store = CRDStore.load([], cache_dir=cache)
    assert store.known_versions("kueue.x-k8s.io", "ClusterQueue") == ["v1beta1", "v1beta2"]


def test_another_release_replaces_the_first_and_says_which_files_it_lacks(mirror, tmp_path, monkeypatch):
    base, root = mirror
    monkeypatch.setenv(crdcatalog.BASE_URL_ENV, base)
    cache = tmp_path / "cache"
    older = root / "kubernetes-sigs/kueue/v0.18.9/config/components/crd/bases"
    older.mkdir(parents=True)
    for name in ("kueue.x-k8s.io_clusterqueues.yaml", "kueue.x-k8s.io_localqueues.yaml"):
        (older / name).symlink_to(root / "kubernetes-sigs/kueue/v0.19.2/config/components/crd/bases" / name)
    pull_project("kueue@v0.19.2", crdcatalog.PROJECTS["kueue"].urls(), cache, allow_absent=False)
    w = crdcatalog.parse_wanted("kueue@v0.18.9")
    pulled = pull_project(w.label, w.project.urls(w.version), cache, allow_absent=True)
    assert len(pulled.files) == 2 and len(pulled.absent) == 7
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == ["kueue@v0.18.9"]
    assert all(k.startswith("kueue@v0.18.9/") for k in read_index(cache))
    # The targeted release may not lack a file: a 404 there is an error, and nothing changes.
    monkeypatch.setenv(crdcatalog.BASE_URL_ENV, base + "/nowhere")
    with pytest.raises(InputError, match="HTTP 404"):
        pull_project("kueue@v0.19.2", crdcatalog.PROJECTS["kueue"].urls(), cache, allow_absent=False)
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == ["kueue@v0.18.9"]
    with pytest.raises(InputError, match="none of the catalog's CRD files"):
        pull_project("kueue@v9.9.9", crdcatalog.PROJECTS["kueue"].urls("v9.9.9"), cache, allow_absent=True)


def test_a_file_with_two_releases_of_one_crd_keeps_both(upstream_crds, tmp_path):
    both = tmp_path / "mpijobs-both.yaml"
    v1 = (upstream_crds / "training-operator" / "kubeflow.org_mpijobs.yaml").read_text()
    v2 = (upstream_crds / "mpi-operator" / "kubeflow.org_mpijobs.yaml").read_text()
    both.write_text(v1 + ("" if v1.endswith("\n") else "\n") + "---\n" + v2)
    # Read in place (--crds): one file, two documents, both releases' versions.
    assert CRDStore.load([both], include_cache=False).known_versions("kubeflow.org", "MPIJob") == ["v1", "v2beta1"]
    # Pulled (here by file:// URL) into the cache: two files, both kept.
    cache = tmp_path / "cache"
    paths = pull_from_source(both.as_uri(), cache)
    assert [p.name for p in paths] == ["mpijobs.kubeflow.org.yaml", "mpijobs.kubeflow.org~2.yaml"]
    assert CRDStore.load([], cache_dir=cache).known_versions("kubeflow.org", "MPIJob") == ["v1", "v2beta1"]
    # A later pull of one release replaces both files: nothing stale is left to shadow it.
    pull_from_source(str(upstream_crds / "mpi-operator"), cache)
    assert CRDStore.load([], cache_dir=cache).known_versions("kubeflow.org", "MPIJob") == ["v2beta1"]


def test_file_urls_of_files_and_directories(upstream_crds, tmp_path):
    cache = tmp_path / "cache"
    assert [p.name for p in pull_from_source((upstream_crds / "jobset").as_uri(), cache)] == ["jobsets.jobset.x-k8s.io.yaml"]
    assert read_index(cache)["jobsets.jobset.x-k8s.io.yaml"]["from"] == (upstream_crds / "jobset").as_uri()
    with pytest.raises(InputError, match="not found"):
        pull_from_source((tmp_path / "absent").as_uri(), cache)
    with pytest.raises(InputError, match="local path"):
        pull_from_source("file://elsewhere/x.yaml", cache)


def test_cli_pull_project_then_list(mirror, tmp_path):
    base, _ = mirror
    cache = tmp_path / "cache"
    env = {crdcatalog.BASE_URL_ENV: base, "LLMKUBE_CACHE_DIR": str(cache)}
    out = llmkube("crds", "pull", "kueue@v0.19.2", "jobset", env=env)
    assert out.returncode == 0, out.stderr
    assert f"kueue@v0.19.2: stored 9 CRD files in {cache / 'kueue@v0.19.2'}" in out.stdout
    assert "jobset@v0.12.0: stored 1 CRD file in" in out.stdout
    listed = llmkube("crds", "list", env=env)
    assert "ClusterQueue\tkueue.x-k8s.io\tv1beta1, v1beta2\tkueue@v0.19.2" in listed.stdout
    assert "JobSet\tjobset.x-k8s.io\tv1alpha2\tjobset@v0.12.0" in listed.stdout
    # Integrity: an edited cache file is flagged against the sha256 recorded at pull time.
    edited = cache / "jobset@v0.12.0" / "jobset.x-k8s.io_jobsets.yaml"
    edited.write_text(edited.read_text() + "\n# local edit\n")
    listed = llmkube("crds", "list", env=env)
    assert "jobset@v0.12.0 (changed since pulled)" in listed.stdout
    bad = llmkube("crds", "pull", "nosuch@v1", env=env)
    assert bad.returncode == 2 and "not a project in the CRD catalog" in bad.stderr


@pytest.mark.slow
def test_cli_pull_with_no_argument_pulls_every_catalog_project(mirror, tmp_path):
    base, _ = mirror
    cache = tmp_path / "cache"
    out = llmkube("crds", "pull", env={crdcatalog.BASE_URL_ENV: base, "LLMKUBE_CACHE_DIR": str(cache)})
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == sorted(
        f"{p.name}@{p.version}" for p in crdcatalog.PROJECTS.values()
    )
    index = json.loads((cache / ".index.json").read_text())["files"]
    by_name = {(r["file"].split("/")[0], r["path"].rsplit("/", 1)[-1]): r["sha256"] for r in crds.source_rows()}
    assert len(index) == sum(len(p.paths) for p in crdcatalog.PROJECTS.values())
    for rel, entry in index.items():
        label, name = rel.split("/")
        assert entry["sha256"] == by_name[(label.split("@")[0], name)] == hashlib.sha256((cache / rel).read_bytes()).hexdigest()
    # Both MPIJob releases are cached; the store serves both versions.
    store = CRDStore.load([], cache_dir=cache)
    assert store.known_versions("kubeflow.org", "MPIJob") == ["v2beta1", "v1"]


def test_the_options_of_these_commands_are_documented():
    import typer

    from llmkube.cli import app
    from tests.support.paths import REPO

    doc = (REPO / "docs" / "cli.md").read_text()
    root = typer.main.get_command(app)
    commands = {"render": root.commands["render"], "validate": root.commands["validate"]}
    commands.update({f"crds {n}": c for n, c in root.commands["crds"].commands.items()})
    assert {"crds pull", "crds list", "crds catalog"} <= set(commands)
    for name, command in commands.items():
        assert f"## `llmkube {name}`" in doc, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}" in doc, (name, opt)
