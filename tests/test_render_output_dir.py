"""`render -d` is all or nothing: on any failure the directory is exactly as before (issue 10)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from llmkube.commands.render import file_name, write_output_dir
from llmkube.errors import InputError
from llmkube.pipeline import Rendered


def _objs(n: int = 3) -> list[Rendered]:
    return [Rendered(obj={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}"}, "data": {"k": str(i)}}) for i in range(n)]


def _snapshot(d: Path) -> dict[str, object]:
    if not d.exists():
        return {}
    return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() else "dir") for p in sorted(d.rglob("*"))}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    for r in _objs():
        (d / file_name(r.obj, "yaml")).write_text("old\n")
    (d / "keep.txt").write_text("mine\n")
    return d


def test_writes_every_file(out: Path) -> None:
    write_output_dir(_objs(), out, "yaml")
    assert (out / "configmap_cm2.yaml").read_text().startswith("apiVersion: v1")
    assert sorted(p.name for p in out.iterdir()) == ["configmap_cm0.yaml", "configmap_cm1.yaml", "configmap_cm2.yaml", "keep.txt"]


def test_a_target_that_is_a_directory(out: Path) -> None:
    (out / "configmap_cm2.yaml").unlink()
    (out / "configmap_cm2.yaml").mkdir()
    (out / "configmap_cm2.yaml" / "inside").write_text("x")
    before = _snapshot(out)
    with pytest.raises(InputError, match="is a directory.*nothing was written"):
        write_output_dir(_objs(), out, "yaml")
    assert _snapshot(out) == before


def test_full_disk_while_staging(out: Path, monkeypatch) -> None:
    before = _snapshot(out)
    real = Path.write_text
    calls = []

    def full(self, *a, **kw):
        calls.append(self)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *a, **kw)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(InputError, match="No space left on device; nothing was written"):
        write_output_dir(_objs(), out, "yaml")
    assert _snapshot(out) == before


def test_immutable_file_fails_midway_and_is_rolled_back(out: Path, monkeypatch) -> None:
    before = _snapshot(out)
    real = os.replace

    def immutable(src, dst):
        if str(src).endswith("configmap_cm2.yaml") and Path(src).parent == out:
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", immutable)
    with pytest.raises(InputError, match="cannot replace it"):
        write_output_dir(_objs(), out, "yaml")
    assert _snapshot(out) == before


def test_unwritable_directory(out: Path, monkeypatch) -> None:
    before = _snapshot(out)
    import tempfile

    def denied(*a, **kw):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    with pytest.raises(InputError, match="cannot write in it"):
        write_output_dir(_objs(), out, "yaml")
    assert _snapshot(out) == before


def test_a_new_directory_is_removed_on_failure(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "a" / "b"

    def full(self, *a, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(InputError):
        write_output_dir(_objs(), target, "yaml")
    assert not (tmp_path / "a").exists()


def test_output_dir_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match=f"cannot create output directory: {f} exists and is not a directory"):
        write_output_dir(_objs(), f, "yaml")
    assert f.read_text() == "x"
    with pytest.raises(InputError, match=f"{f} exists and is not a directory"):  # a file on the way there too
        write_output_dir(_objs(), f / "out", "yaml")


def test_cli_exit_2_on_directory_conflict(tmp_path: Path, capsys, upstream_crds: Path) -> None:
    from llmkube.cli import main

    repo = Path(__file__).resolve().parents[1]
    example = next((repo / "docs" / "examples").glob("08-*.yaml"))
    out = tmp_path / "out"
    write_output_dir([], out, "yaml")
    with pytest.raises(SystemExit) as exit_:
        main(["render", str(example), "--crds", str(upstream_crds), "-d", str(out)])
    assert exit_.value.code == 0
    first = sorted(out.iterdir())[0]
    first.unlink()
    first.mkdir()
    before = _snapshot(out)
    with pytest.raises(SystemExit) as exit_:
        main(["render", str(example), "--crds", str(upstream_crds), "-d", str(out)])
    assert exit_.value.code == 2
    assert "is a directory" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_kinds_of_one_name_from_two_api_groups_get_two_files(tmp_path: Path) -> None:
    # batch/v1 Job and Volcano's Job share a kind name: the plain names collide, so both carry their group.
    jobs = [
        Rendered(obj={"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "train", "namespace": "ml"}}),
        Rendered(obj={"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": "train", "namespace": "ml"}}),
        Rendered(obj={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "train", "namespace": "ml"}}),
    ]
    write_output_dir(jobs, tmp_path, "yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "configmap_ml_train.yaml", "job.batch.volcano.sh_ml_train.yaml", "job.batch_ml_train.yaml",
    ]
    assert "volcano" in (tmp_path / "job.batch.volcano.sh_ml_train.yaml").read_text()


def test_the_same_object_twice_is_refused_and_nothing_is_written(out: Path) -> None:
    twice = _objs(2) + _objs(1)
    before = _snapshot(out)
    with pytest.raises(InputError, match="'configmap_cm0.yaml'.*rendered twice"):
        write_output_dir(twice, out, "yaml")
    assert _snapshot(out) == before
