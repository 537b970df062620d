"""Cache entries that are code (the pickled profiles, Jinja's compiled templates) are loaded only when
this user alone can have written them: a shared or group-writable cache directory must not run
another user's pickle in every llmkube run."""

from __future__ import annotations

import os
import pickle

import pytest

from llmkube import diskcache

pytestmark = pytest.mark.skipif(not hasattr(os, "getuid"), reason="user ids are POSIX-only")


def _entry(tmp_path, mode=0o600, dir_mode=0o700):
    directory = tmp_path / "cache"
    assert diskcache.write_bytes(directory, "e.bin", b"payload", private=True)
    os.chmod(directory / "e.bin", mode)
    os.chmod(directory, dir_mode)
    return directory


def test_an_entry_written_private_is_read_back(tmp_path):
    directory = _entry(tmp_path)
    assert diskcache.read_private_bytes(directory, "e.bin") == b"payload"


@pytest.mark.parametrize(
    ("mode", "dir_mode"),
    [(0o620, 0o700), (0o602, 0o700), (0o600, 0o770), (0o600, 0o777), (0o600, 0o1777)],
    ids=["entry group-writable", "entry world-writable", "dir group-writable", "dir world-writable", "dir like /tmp"],
)
def test_an_entry_others_could_have_written_is_not_read(tmp_path, mode, dir_mode):
    directory = _entry(tmp_path, mode, dir_mode)
    assert diskcache.read_bytes(directory, "e.bin") == b"payload"  # plain data may still be read
    assert diskcache.read_private_bytes(directory, "e.bin") is None


def test_an_entry_of_another_user_is_not_read(tmp_path, monkeypatch):
    directory = _entry(tmp_path)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(directory).st_uid + 1)
    assert diskcache.read_private_bytes(directory, "e.bin") is None


def test_a_link_in_place_of_an_entry_is_not_followed(tmp_path):
    directory = _entry(tmp_path)
    (directory / "link.bin").symlink_to(directory / "e.bin")
    assert diskcache.read_private_bytes(directory, "link.bin") is None
    assert diskcache.read_private_bytes(directory, "missing.bin") is None


def test_a_private_write_makes_its_directory_the_users_alone(tmp_path):
    old = os.umask(0o002)  # a distribution's user-private-group umask
    try:
        assert diskcache.write_bytes(tmp_path / "new", "e.bin", b"x", private=True)
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "new").st_mode & 0o777 == 0o700
    assert os.stat(tmp_path / "new" / "e.bin").st_mode & 0o077 == 0
    assert diskcache.read_private_bytes(tmp_path / "new", "e.bin") == b"x"


@pytest.mark.parametrize("writable_by_others", [False, True])
def test_the_profile_store_unpickles_only_a_private_entry(tmp_path, monkeypatch, writable_by_others):
    from llmkube import profile_snapshot
    from llmkube.profiles import ProfileStore

    monkeypatch.setattr(profile_snapshot, "SNAPSHOT", tmp_path / "none.json")  # the side cache, not the shipped snapshot

    cache = tmp_path / ".profiles"
    full = ProfileStore.load(parsed_cache=cache)
    (entry,) = cache.glob("*.pickle")
    entry.write_bytes(pickle.dumps(ProfileStore()))  # an entry someone else planted: an empty store
    if writable_by_others:
        os.chmod(cache, 0o777)
    loaded = ProfileStore.load(parsed_cache=cache)
    if writable_by_others:
        assert loaded.gpus == full.gpus  # not unpickled: built from the files
    else:
        assert loaded.gpus == {}  # the same entry, private, is trusted (so the check above could fail)


@pytest.mark.parametrize("writable_by_others", [False, True])
def test_compiled_templates_are_loaded_only_from_a_private_entry(tmp_path, writable_by_others):
    import jinja2

    from llmkube.render import _BytecodeCache

    cache = tmp_path / ".jinja"
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "x.j2").write_text("real {{ 1 + 1 }}")

    def env():
        return jinja2.Environment(loader=jinja2.FileSystemLoader(templates), bytecode_cache=_BytecodeCache(cache))

    assert env().get_template("x.j2").render() == "real 2"
    (entry,) = cache.glob("*.jinja")
    planted = jinja2.Environment(loader=jinja2.DictLoader({"x.j2": "planted"}))
    code = planted.compile(planted.loader.get_source(planted, "x.j2")[0], "x.j2", str(templates / "x.j2"))
    bucket = jinja2.bccache.Bucket(planted, "k", jinja2.bccache.BytecodeCache().get_source_checksum("real {{ 1 + 1 }}"))
    bucket.code = code
    entry.write_bytes(bucket.bytecode_to_string())
    if writable_by_others:
        os.chmod(cache, 0o777)
    assert env().get_template("x.j2").render() == ("real 2" if writable_by_others else "planted")
