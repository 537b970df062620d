"""The profile store without pydantic: the plain profile types (`llmkube.profiles`) against the
pydantic models that validate them (`llmkube.profile_schema`), and a store read back from the side
cache, which must give the sizing the very numbers a validated one does."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmkube import profile_schema, profiles
from llmkube.profiles import GPUProfile, ModelProfile, ProfileStore

PLAIN = ["ProfileMeta", "MigProfile", "MigSpec", "GPUSpec", "GPUProfile", "Experts", "MLA", "Quantization", "ModelSpec", "ModelProfile"]


@pytest.mark.parametrize("name", PLAIN)
def test_each_plain_type_has_its_models_fields_defaults_and_keys(name):
    """Field by field, in order: the same names, the same required fields and defaults, and the same
    key in a profile file (the model's alias)."""
    plain, schema = getattr(profiles, name), getattr(profile_schema, name)
    fields = dataclasses.fields(plain)
    assert [f.name for f in fields] == list(schema.model_fields)
    # the keys as the model reads them, in field order: its JSON schema's properties. (`FieldInfo.alias`
    # of a generated alias is still None in pydantic 2.11 until the model is first built.)
    keys = list(schema.model_json_schema(by_alias=True)["properties"])
    assert [plain.ALIASES.get(f.name) or profiles._alias(f.name) for f in fields] == keys
    for f in fields:
        info = schema.model_fields[f.name]
        assert (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING) == info.is_required(), f.name
        if not info.is_required():
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            assert default == info.get_default(call_default_factory=True), f.name
    assert not hasattr(plain, "model_fields")  # a plain dataclass, not a pydantic model


def _validated(store: ProfileStore) -> list[tuple[object, object]]:
    """Each profile of `store` beside the pydantic model its own dump validates into."""
    return [(p, profile_schema.schema_of(type(p)).model_validate(p.model_dump(by_alias=True, exclude_none=True)))
            for p in [*store.gpus.values(), *store.models.values()]]


@pytest.mark.parametrize("kwargs", [{}, {"by_alias": True}, {"by_alias": True, "exclude_none": True},
                                    {"by_alias": True, "exclude_none": True, "exclude_defaults": True}, {"exclude_defaults": True}])
def test_a_plain_profile_dumps_as_its_model_does(kwargs):
    """`model_dump` of every built-in profile (what `profiles show` prints and a derivative merges
    into) equals pydantic's, key order included."""
    for plain, model in _validated(ProfileStore.load()):
        assert json.dumps(plain.model_dump(**kwargs)) == json.dumps(model.model_dump(**kwargs)), plain.name


def test_a_plain_profile_is_its_validated_model_copied():
    """Every built-in profile, validated by its model (derivatives merged with their base) and copied
    into the plain types: the copy holds each value of the model, nested ones too."""
    store = ProfileStore.load()
    assert len(store.gpus) > 10 and len(store.models) > 50
    for plain, model in _validated(store):
        assert profile_schema.plain(model) == plain
        assert type(plain.spec).__module__ == "llmkube.profiles"
        if isinstance(plain, ModelProfile) and plain.spec.quantization is not None:
            assert type(plain.spec.quantization).__module__ == "llmkube.profiles"


def test_model_validate_and_model_copy_keep_the_pydantic_calls():
    from pydantic import ValidationError

    spec = ProfileStore.load().models["llama-3.1-8b"].spec
    assert profiles.ModelSpec.model_validate(spec.model_dump(by_alias=True)) == spec
    assert spec.model_copy(update={"layers": 1}).layers == 1 and spec.layers == 32
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.layers = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        profiles.ModelSpec.model_validate({**spec.model_dump(by_alias=True), "layers": "32"})  # strict, as before


_READ_BACK = textwrap.dedent("""
    import json, pickle, sys
    from pathlib import Path
    from llmkube.profiles import ProfileStore
    store = ProfileStore.load(sys.argv[2:], parsed_cache=Path(sys.argv[1]))
    loaded = sorted(m for m in sys.modules if m.startswith(("pydantic", "llmkube.specs", "llmkube.profile_schema")))
    sys.stdout.buffer.write(pickle.dumps((loaded, store.gpus, store.models)))
""")


def _read_back(cache: Path, *dirs: Path) -> tuple[list[str], dict, dict]:
    out = subprocess.run([sys.executable, "-c", _READ_BACK, str(cache), *map(str, dirs)], capture_output=True,
                         check=True, timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}).stdout
    return pickle.loads(out)


def test_a_store_read_back_from_the_cache_imports_no_pydantic_and_equals_a_validated_one(tmp_path):
    """Through both paths, every built-in profile and a user's: validated (the first run) and read
    back from the side cache in a new process, which imports neither pydantic nor the spec models."""
    user = tmp_path / "user"
    user.mkdir()
    h100 = (profiles.BUILTIN_PROFILES / "gpus" / "h100-80gb.yaml").read_text()
    (user / "mine.yaml").write_text(h100.replace("name: h100-80gb", "name: my-gpu"))
    cache = tmp_path / ".profiles"
    validated = ProfileStore.load([user], parsed_cache=cache)
    assert len(list(cache.glob("*.pickle"))) == 1
    loaded, gpus, models = _read_back(cache, user)
    assert loaded == []
    assert gpus == validated.gpus and models == validated.models
    assert "my-gpu" in gpus and isinstance(gpus["my-gpu"], GPUProfile)


def _builtin_files() -> list[tuple[str, str]]:
    from llmkube.yamlio import expand_paths

    return [(p, Path(p).read_text(encoding="utf-8")) for p in expand_paths([str(profiles.BUILTIN_PROFILES)])]


def test_the_shipped_snapshot_is_current():
    """llmkube/profiles_snapshot.json is what validating the built-in profiles gives now; after
    editing a profile (or the profile code) regenerate it: `python -m llmkube.profile_snapshot`.
    (A stale one is not used, only slower: see below.)"""
    from llmkube import profile_snapshot

    assert profile_snapshot.SNAPSHOT.read_text(encoding="utf-8") == profile_snapshot.current(), \
        "stale: run `.venv/bin/python -m llmkube.profile_snapshot`"


def test_the_snapshot_store_is_the_validated_store_without_pydantic(tmp_path):
    """Built from the snapshot (the built-in files alone, in a new process: no pydantic, no profile
    or spec model imported), the store holds every profile the validation gives, value for value
    (repr too: 80 stays 80, 80.0 stays 80.0) and finds each model by every Hugging Face id as before."""
    validated = ProfileStore.validated(_builtin_files())
    loaded, gpus, models = _read_back(tmp_path / "unused")
    assert loaded == []
    assert gpus == validated.gpus and models == validated.models
    assert repr(list(gpus.values())) == repr(list(validated.gpus.values()))
    assert repr(list(models.values())) == repr(list(validated.models.values()))
    shipped = ProfileStore.load()
    for name, model in validated.models.items():
        for hf_id in model.spec.hugging_face_ids:
            assert shipped.model(hf_id) == validated.model(hf_id), (name, hf_id)
    assert not (tmp_path / "unused").exists()  # nothing written to the side cache either


@pytest.mark.parametrize("damage", ["edited profile", "other key", "not json", "not a snapshot", "missing field", "no file"])
def test_a_stale_or_broken_snapshot_is_not_used(tmp_path, monkeypatch, damage):
    """The snapshot is used only when its key is the files' and the code's: an edited built-in
    profile, another key, or a file that does not read as a snapshot are misses, and the files are
    validated as before."""
    import shutil

    from llmkube import profile_snapshot

    snapshot = tmp_path / "snapshot.json"
    text = profile_snapshot.SNAPSHOT.read_text()
    snapshot.write_text({
        "other key": text.replace('"key": "', '"key": "0', 1),
        "not json": text[: len(text) // 2],
        "not a snapshot": '{"key": ' + text.split("\n", 1)[0].split(": ", 1)[1].rstrip(",") + ', "gpus": 1, "models": []}',
        "missing field": text.replace('"display_name": ', '"displayName": ', 1),
    }.get(damage, text))
    if damage == "no file":
        snapshot.unlink()
    monkeypatch.setattr(profile_snapshot, "SNAPSHOT", snapshot)
    builtin = tmp_path / "builtin"
    shutil.copytree(profiles.BUILTIN_PROFILES, builtin)
    if damage == "edited profile":
        h100 = builtin / "gpus" / "h100-80gb.yaml"
        h100.write_text(h100.read_text().replace("gpusPerNode: 8", "gpusPerNode: 4"))
    monkeypatch.setattr(profiles, "BUILTIN_PROFILES", builtin)
    validated = []
    monkeypatch.setattr(ProfileStore, "_register", lambda self, *a, _r=ProfileStore._register: validated.append(a[0]) or _r(self, *a))
    store = ProfileStore.load()
    assert len(validated) == len(store.gpus) + len(store.models)  # every profile went through the models
    assert store.gpus["h100-80gb"].spec.gpus_per_node == (4 if damage == "edited profile" else 8)


def test_the_sizing_gets_the_same_numbers_from_every_source(tmp_path):
    """What the sizing computes from every built-in model on a few GPUs, with the validated store, the
    snapshot's and one read back from the side cache in another process (with a user's directory)."""
    from llmkube.plan import sizing

    user = tmp_path / "user"
    user.mkdir()
    (user / "mine.yaml").write_text((profiles.BUILTIN_PROFILES / "gpus" / "h100-80gb.yaml").read_text().replace("name: h100-80gb", "name: my-gpu"))
    cache = tmp_path / ".profiles"
    validated = ProfileStore.validated(_builtin_files())
    ProfileStore.load([user], parsed_cache=cache)
    _, gpus, models = _read_back(cache, user)
    shipped = ProfileStore.load()

    def figures(gpus, models):
        return [(name, sizing.weight_bytes(m), sizing.kv_bytes_per_token(m, 2.0, 2), sizing.embedding_params(m),
                 gpus["h100-80gb"].spec.memory_gi_b) for name, m in sorted(models.items())]

    assert figures(gpus, models) == figures(validated.gpus, validated.models) == figures(shipped.gpus, shipped.models)


def test_a_bad_user_profile_is_still_an_input_error_at_its_line(tmp_path, capsys, monkeypatch):
    """A profile file that does not validate is reported where it was before the plain types: its
    file, line and column, exit 2; with the cache on, and again on the next run (it is never kept)."""
    from llmkube.cli import main

    manifests = tmp_path / "svc.yaml"
    manifests.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    mine = tmp_path / "profiles"
    mine.mkdir()
    (mine / "model.yaml").write_text(
        "apiVersion: llmkube.dev/v1alpha1\nkind: ModelProfile\nmetadata: {name: my-model}\nspec:\n"
        "  displayName: Mine\n  huggingFaceIds: [me/mine]\n  architecture: llama\n  parametersB: 1.0\n"
        "  layers: 0\n  hiddenSize: 8\n  attentionHeads: 1\n  kvHeads: 1\n  headDim: 8\n  vocabSize: 8\n  maxContext: 8\n")
    monkeypatch.setenv("LLMKUBE_CACHE_DIR", str(tmp_path / "cache"))
    for _ in range(2):
        with pytest.raises(SystemExit) as exc:
            main(["validate", "--profiles", str(mine), str(manifests)])
        out, err = capsys.readouterr()
        assert exc.value.code == 2 and out == ""
        assert f"{mine / 'model.yaml'}:9:3: input should be greater than or equal to 1 (got 0)\n  field: spec.layers" in err
    assert not list((tmp_path / "cache").rglob("*.pickle"))
