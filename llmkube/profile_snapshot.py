"""The built-in profiles, validated ahead of time (`profiles_snapshot.json`, shipped in the package).

Every run sizes against the built-in profiles; validating them takes pydantic, the profile models
and ~85 YAML files (~0.08 s of CPU: most of a first or `--no-cache` validate of a few thousand
documents beyond the work itself). The snapshot holds what that validation produced, every
profile's fields as plain JSON (derivatives already merged with their base), under a key of the
built-in files (relative paths and texts) and of the code that validates and defines them
(`profiles.py`, `profile_schema.py`, `specs/base.py`, this module). A run whose profile files are
exactly the built-in ones, with the same key, builds its store from it without pydantic; any
edited, added or removed file, changed code or unreadable snapshot is a miss, and the files are
validated as before (`ProfileStore.load`). A stale snapshot is therefore slow, never wrong;
tests/test_profiles_store.py fails until it is regenerated:

    .venv/bin/python -m llmkube.profile_snapshot

pydantic's version is not in the key (unlike the side cache's, `profiles._cache_key`): the snapshot
is made once, where the tests run, and CI validates the same files at the lowest pydantic it
supports and compares (the test above).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmkube import profiles
from llmkube.profiles import (
    MLA, Experts, GPUProfile, GPUSpec, MigProfile, MigSpec, ModelProfile, ModelSpec, ProfileMeta, ProfileStore, Quantization,
)

SNAPSHOT = Path(__file__).with_name("profiles_snapshot.json")

#: The nested profile types of each type's fields (a list field holds a list of them).
NESTED: dict[type, dict[str, type]] = {
    GPUProfile: {"metadata": ProfileMeta, "spec": GPUSpec},
    GPUSpec: {"mig": MigSpec},
    MigSpec: {"profiles": MigProfile},
    ModelProfile: {"metadata": ProfileMeta, "spec": ModelSpec},
    ModelSpec: {"experts": Experts, "mla": MLA, "quantization": Quantization},
}


def snapshot_key(root: Path, files: Sequence[tuple[str, str]]) -> str | None:
    """The key of the built-in `files` (paths under `root`, texts) and the code that reads them; None
    when a file is not under `root` or a source cannot be read (a zipped install: no snapshot)."""
    import hashlib

    here = Path(profiles.__file__)
    digest = hashlib.sha256()
    for source in (here, here.with_name("profile_schema.py"), here.parent / "specs" / "base.py", Path(__file__)):
        try:
            digest.update(source.read_bytes() + b"\0")
        except OSError:
            return None
    for path, text in files:
        try:
            relative = Path(path).relative_to(root).as_posix()
        except ValueError:
            return None
        digest.update(f"{relative}\0{len(text)}\0".encode() + text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def load(root: Path, files: Sequence[tuple[str, str]]) -> ProfileStore | None:
    """The store the snapshot holds when its key is that of `files` (all of them built-in), else None."""
    key = snapshot_key(root, files)
    if key is None:
        return None
    try:
        data = json.loads(SNAPSHOT.read_bytes())
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        return ProfileStore.of(
            [_build(GPUProfile, d) for d in data["gpus"]], [_build(ModelProfile, d) for d in data["models"]],
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # unreadable or not a snapshot: a miss
        return None


def _build(cls: type, fields: dict[str, Any]) -> Any:
    """A profile type from its `model_dump()` (field names; nested profiles as dicts)."""
    nested = NESTED.get(cls, {})
    values = {}
    for name, value in fields.items():
        inner = nested.get(name)
        if inner is not None and isinstance(value, list):
            value = [_build(inner, v) for v in value]
        elif inner is not None and value is not None:
            value = _build(inner, value)
        values[name] = value
    return cls(**values)


def render(store: ProfileStore, key: str) -> str:
    """The snapshot's text: one profile per line, so a changed profile is a one-line diff."""
    lines = ['{"key": ' + json.dumps(key) + ',']
    for what, found in (("gpus", store.gpus), ("models", store.models)):
        body = ",\n".join(json.dumps(p.model_dump(), sort_keys=False) for p in found.values())
        lines.append(f'"{what}": [\n{body}\n]' + ("," if what == "gpus" else ""))
    return "\n".join(lines) + "\n}\n"


def current() -> str:
    """The snapshot of the built-in profiles as they are now, validated (pydantic)."""
    from llmkube.yamlio import expand_paths

    root = profiles.BUILTIN_PROFILES
    files = [(path, Path(path).read_text(encoding="utf-8")) for path in expand_paths([str(root)])]
    key = snapshot_key(root, files)
    if key is None:
        raise SystemExit(f"cannot key the built-in profiles under {root}")
    return render(ProfileStore.validated(files), key)


if __name__ == "__main__":
    SNAPSHOT.write_text(current(), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
