"""Side caches on disk: JSON values under a content key, safe to share between concurrent runs.

Parsed CRD files (`check/crdstore.py`), translated CRD schemas with their CEL rule trees
(`check/schemas.py`) and the loaded profiles (`profiles.py`, pickled: the one entry of Python
objects, keyed on the code that defines them too) are kept here, each in its own directory inside the CRD cache, so that a
pre-commit hook does not redo on every run what only changes when a file does. The rules:

- the key is a content hash (of the input, and of the code that computes the value where that
  code may change): an edited input is a new key, and its old entry ages out (`prune`);
- a write goes to a temporary file in the same directory, then `os.replace`s the entry: a reader
  sees the old entry, the new one, or none, never half of one, however many runs write at once;
- anything wrong with an entry (unreadable, truncated, not JSON, not the shape asked for) is a
  miss: the value is computed again and the entry rewritten. Cache trouble (a read-only home, a
  full disk) never fails a run; `None` as the directory (`--no-cache`) neither reads nor writes;
- an entry that is code to the process reading it (the pickled profiles, Jinja's compiled
  templates) is read only if this user alone can have written it (`read_private_bytes`): a cache
  directory another user can write to would otherwise run their code in every llmkube run.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

#: Each side cache keeps its most recently used entries, and none unused this long.
KEEP = 64
MAX_AGE_S = 30 * 24 * 3600
_STALE_TMP_S = 3600


def read(directory: Path | None, key: str) -> Any | None:
    """The value stored under `key`, or None (no cache, no entry, or an entry that is not JSON)."""
    if directory is None:
        return None
    entry = directory / f"{key}.json"
    try:
        value = json.loads(entry.read_text(encoding="utf-8"))
        os.utime(entry)  # recently used: pruning keeps it
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    return value


def read_bytes(directory: Path, name: str) -> bytes | None:
    """The bytes of entry `directory/name` (marked recently used), or None if it cannot be read."""
    entry = directory / name
    try:
        data = entry.read_bytes()
        os.utime(entry)
    except OSError:
        return None
    return data


def read_private_bytes(directory: Path, name: str) -> bytes | None:
    """Like `read_bytes`, for entries that are loaded as code (pickle, marshal): None unless the entry
    is a regular file (not a link) and it and its directory belong to this user and no one else can
    write to them. Jinja's own default cache directory makes the same check (`jinja2.bccache`,
    `FileSystemBytecodeCache._get_default_cache_dir`). Where there are no user ids (Windows) the
    entry is read as `read_bytes` reads it."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return read_bytes(directory, name)
    entry = directory / name
    try:
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            if not (_private(os.fstat(fh.fileno()), getuid()) and _private(os.stat(directory), getuid())):
                return None
            data = fh.read()
        os.utime(entry)
    except OSError:
        return None
    return data


def _private(st: os.stat_result, uid: int) -> bool:
    """Owned by `uid`, writable by no group or other user, and a file or directory (not a FIFO, a device)."""
    return st.st_uid == uid and not st.st_mode & 0o022 and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))


def write(directory: Path | None, key: str, value: Any, *, keep: int = KEEP, max_age_s: float = MAX_AGE_S) -> None:
    """Store `value` under `key` atomically (best effort), then prune the directory."""
    if directory is None:
        return
    try:
        data = json.dumps(value, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError):
        return
    write_bytes(directory, f"{key}.json", data)
    prune(directory, keep=keep, max_age_s=max_age_s)


def write_bytes(directory: Path, name: str, data: bytes, *, private: bool = False) -> bool:
    """Write `directory/name` atomically: a temporary file beside it, then `os.replace`; False on trouble.

    `private` is for entries `read_private_bytes` reads: the directory is made the user's alone
    (0700), as a umask of 002 would otherwise leave it group-writable and every entry a miss."""
    import tempfile  # only a run that writes an entry pays for it

    try:
        directory.mkdir(parents=True, exist_ok=True)
        if private:
            os.chmod(directory, 0o700)
        fd, tmp = tempfile.mkstemp(prefix=".entry.", suffix=".tmp", dir=directory)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, directory / name)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False
    return True


def prune(directory: Path, *, keep: int = KEEP, max_age_s: float = MAX_AGE_S, pattern: str = "*.json") -> list[Path]:
    """Drop entries (files matching `pattern`) unused for `max_age_s`, and all but the `keep` most recently used."""
    try:
        entries = [(p.stat().st_mtime, p) for p in directory.glob(pattern)]
    except OSError:
        return []
    entries.sort(reverse=True)
    now = time.time()
    doomed = [p for i, (mtime, p) in enumerate(entries) if i >= keep or now - mtime > max_age_s]
    try:  # the temporary file of a write that was killed midway
        doomed += [p for p in directory.glob(".entry.*.tmp") if now - p.stat().st_mtime > _STALE_TMP_S]
    except OSError:
        pass
    for p in doomed:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass
    return doomed
