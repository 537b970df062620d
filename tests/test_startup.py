"""Start-up stays lean: what a cold `render` and `--help` import, and the pieces that keep them so.

The timings live in benchmarks/perf.py and docs/performance.md (no timed assertions here); these
tests fail when a heavy import creeps back onto the render or --help path, or a start-up shortcut
changes behaviour.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmkube import gcpause
from llmkube.kinds import KINDS

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "05-llama-70b-vllm-endpoint.yaml"

# Runs llmkube's main() in a fresh interpreter, then reports what was imported and the collector's state.
_PROBE = """
import gc, json, sys
import importlib.metadata
asked = []  # the entry point groups looked up (pydantic's plugin search asks for "pydantic")
_entry_points = importlib.metadata.entry_points
importlib.metadata.entry_points = lambda **kw: asked.append(kw.get("group")) or _entry_points(**kw)
# pydantic before 2.12 scans every distribution's entry points instead: "*"
_distributions = importlib.metadata.distributions
importlib.metadata.distributions = lambda **kw: asked.append("*") or _distributions(**kw)
from llmkube.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
modules = sorted(sys.modules)
kinds = sys.modules.get("llmkube.kinds")
import dataclasses
generated = sorted(  # llmkube's dataclasses whose methods dataclasses generated (compiled), not llmkube.records'
    f"{name}.{c.__qualname__}" for name in modules if name.startswith("llmkube")
    for c in list(vars(sys.modules[name]).values())
    if isinstance(c, type) and c.__module__ == name and dataclasses.is_dataclass(c) and c.__eq__.__module__ != "llmkube.records")
state = {"modules": modules, "gc_enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
         "kinds_loaded": kinds.KINDS.loaded() if kinds else [], "entry_point_groups": asked,
         "generated": generated}
sys.stderr.write("\\nPROBE " + json.dumps(state) + "\\n")
"""


def _probe(tmp_path: Path, *args: str) -> dict:
    env = {**os.environ, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "kube"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("LLMKUBE_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    line = next(line for line in proc.stderr.splitlines() if line.startswith("PROBE "))
    return json.loads(line[len("PROBE "):])


def _loaded(modules: list[str], *prefixes: str) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


# Modules a render of one InferenceEndpoint must not import: the other kinds' models and planners, the
# MIG planner (the endpoint uses whole GPUs), the config.json reader (its model is a profile), the
# engine-memory and training-memory models and the checkpoint's tensor shapes (an endpoint's planner asks
# sizing for load time and probe budgets only; its memory fit is LK3xx's, in validate), the
# readers and rules `validate` runs (render runs LK501 alone), the CEL engine and the Python jsonschema
# stack (kubernetes-validate's own import), rich, the network clients, ruamel.yaml, and the heavier
# standard-library modules of other paths.
NOT_ON_RENDER = (
    "llmkube.specs.fleet", "llmkube.specs.quota", "llmkube.specs.trainingjob",
    "llmkube.plan.fleet", "llmkube.plan.quota", "llmkube.plan.training", "llmkube.plan.multinode", "llmkube.plan.llmisvc",
    "llmkube.plan.mig", "llmkube.modelconfig",
    "llmkube.plan.engine_memory", "llmkube.plan.training_memory", "llmkube.modelshape",
    "llmkube.check.read.servers", "llmkube.check.read.gpu_operator", "llmkube.check.read.kueue", "llmkube.check.read.training",
    "llmkube.check.rules.sizing", "llmkube.check.rules.serving", "llmkube.check.rules.scheduling", "llmkube.check.rules.admission",
    "llmkube.sizing_report", "llmkube.explain", "llmkube.specschema", "llmkube.kubectl", "llmkube.rollout",
    "cel", "kubernetes_validate", "jsonschema", "referencing", "rich", "urllib.request", "http.client",
    "ruamel",  # the reference YAML loader: the spec is read by libyaml (fastyaml, yamlresolve)
    # standard-library modules only some paths need (fork workers, JUnit reports, pyproject settings):
    # the render's standard library is the floor's (typer, pydantic, jinja2) plus glob and pkgutil (check)
    "multiprocessing", "concurrent", "asyncio", "xml", "tomllib", "tarfile", "ssl", "shlex",
)

# --help builds the command tree only: no spec models, templates, YAML or schema libraries.
NOT_ON_HELP = (
    "pydantic", "pydantic_core", "jinja2", "yaml", "ruamel", "jsonschema_rs", "rich",
    "llmkube.pipeline", "llmkube.kinds", "llmkube.specs", "llmkube.plan", "llmkube.check", "llmkube.render",
    "llmkube.profiles", "llmkube.yamlio",
)


def test_render_of_one_endpoint_loads_only_what_it_needs(tmp_path):
    state = _probe(tmp_path, "render", str(EXAMPLE))
    assert "llmkube.plan.inference" in state["modules"]  # the probe did render
    assert _loaded(state["modules"], *NOT_ON_RENDER) == []
    assert state["kinds_loaded"] == ["InferenceEndpoint"]


def test_sizing_gib_is_engine_memorys():
    # sizing defines GIB itself so that importing it does not import engine_memory
    from llmkube.plan import engine_memory, sizing

    assert sizing.GIB == engine_memory.GIB


# A validate of plain manifests of core kinds (no llmkube spec, no model server, training job or GPU
# config) needs no spec model, planner, profile, template engine, nor pydantic: typer's option
# conversion (llmkube.cliconvert), the specs (llmkube.runs), the profiles (DeferredProfiles) and the
# planners the readers use are loaded only when an input needs them.
NOT_ON_CORE_VALIDATE = (
    "pydantic", "pydantic_core", "annotated_types", "typer._adapters", "jinja2", "ruamel",
    "llmkube.pipeline", "llmkube.plan", "llmkube.profiles", "llmkube.specs", "llmkube.render", "llmkube.modelshape",
    "llmkube.check.rules.serving_multinode", "llmkube.check.read.lws", "llmkube.check.read.sizing_cache",
    # the run's Service is a core one, not a Knative Service: the KServe/Knative rules and reader stay out
    "llmkube.check.rules.admission_kserve", "llmkube.check.read.kserve",
    "pkgutil",  # the rule modules' listing (load_rules): a dispatching run imports its modules by name
)

CORE_MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:latest
          resources: {limits: {cpu: "1", memory: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web, namespace: default}
data: {greeting: hello}
"""


def test_a_validate_of_core_kinds_loads_no_spec_planner_profile_or_pydantic(tmp_path):
    manifests = tmp_path / "core.yaml"
    manifests.write_text(CORE_MANIFESTS)
    out = tmp_path / "report.json"
    state = _probe(tmp_path, "validate", "--no-cache", "-o", "json", "--output-file", str(out), str(manifests))
    assert "llmkube.check.rules.security" in state["modules"]  # the rules ran ...
    assert [f["code"] for f in json.loads(out.read_text())["findings"]] == ["LK502"]  # ... and found the :latest image
    assert _loaded(state["modules"], *NOT_ON_CORE_VALIDATE) == []


def test_a_validate_that_writes_no_file_loads_no_tempfile(tmp_path):
    """tempfile (and the `random` it imports) is for writing a file safely: an output file, a side
    cache's entry, a pulled CRD. A report on standard output with the caches off writes none."""
    manifests = tmp_path / "core.yaml"
    manifests.write_text(CORE_MANIFESTS)
    probe = ("import sys\nfrom llmkube.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')")  # (_probe imports importlib.metadata: tempfile)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", probe, "validate", "--no-cache", "-o", "json", str(manifests)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    modules = next(line for line in proc.stderr.splitlines() if line.startswith("MODULES ")).split()[1:]
    assert json.loads(proc.stdout)["checked"] == 3 and "llmkube.check.rules.security" in modules  # it checked, ran the rules
    assert "tempfile" not in modules


@pytest.mark.parametrize("command", ["validate", "render"])
def test_a_missing_profiles_directory_is_refused_though_no_profile_is_read(tmp_path, command, capsys):
    """The profiles are read only when a rule asks, but a --profiles that names nothing is still a
    usage error (exit 2), reported before anything is checked or written."""
    from llmkube.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
        out, err = capsys.readouterr()
        return int(exc.value.code or 0), out, err

    manifests = tmp_path / "core.yaml"
    manifests.write_text(CORE_MANIFESTS)
    if command == "render":  # render takes specs; its profiles are read before anything is written
        manifests = EXAMPLE
    missing = tmp_path / "my-profles"
    code, out, err = run(command, "--no-cache", "--profiles", str(missing), str(manifests))
    assert code == 2 and out == "", (code, out, err)
    assert f"{missing}: profile directory not found" in err and "--profiles takes a directory" in err
    (tmp_path / "my-profiles").mkdir()  # the same run with a directory that exists
    code, out, err = run(command, "--no-cache", "--profiles", str(tmp_path / "my-profiles"), str(manifests))
    assert code in (0, 1) and "profile directory" not in err


def test_a_broken_profile_in_a_named_directory_fails_a_run_of_plain_manifests(tmp_path, capsys):
    """The built-in profiles are read only when a rule asks, but profile directories the user named are
    read on every run: a broken profile of theirs is an input error (exit 2) with its file and line,
    as before the profiles were deferred, not something only a model server's run reports."""
    from llmkube.cli import main

    manifests = tmp_path / "core.yaml"
    manifests.write_text(CORE_MANIFESTS)
    mine = tmp_path / "profiles"
    mine.mkdir()
    (mine / "gpu.yaml").write_text("apiVersion: llmkube.dev/v1alpha1\nkind: GPUProfile\nmetadata: {name: my-gpu}\nspec:\n  memoryGiB: lots\n")
    with pytest.raises(SystemExit) as exc:
        main(["validate", "--no-cache", "--profiles", str(mine), str(manifests)])
    out, err = capsys.readouterr()
    assert exc.value.code == 2 and out == ""
    assert f"{mine / 'gpu.yaml'}:5:3: expected a number, got string 'lots'" in err


def test_a_validate_of_a_model_server_still_loads_what_sizing_it_needs(tmp_path):
    server = tmp_path / "server.yaml"
    server.write_text(CORE_MANIFESTS.replace("image: nginx:latest", "image: vllm/vllm-openai:v0.11.0\n"
                                             "          args: [--model, meta-llama/Llama-3.1-8B-Instruct, --tensor-parallel-size, '3']"))
    out = tmp_path / "report.json"
    state = _probe(tmp_path, "validate", "--no-cache", "-o", "json", "--output-file", str(out), str(server))
    assert {"llmkube.plan.sizing", "llmkube.profiles", "llmkube.profile_snapshot"} <= set(state["modules"])
    assert "LK302" in [f["code"] for f in json.loads(out.read_text())["findings"]]  # 3 does not divide the heads


def test_a_run_creates_no_dataclass_whose_methods_are_compiled(tmp_path):
    """Python 3.11 compiles each generated dataclass method apart (~0.1 ms each, six for a frozen
    class): llmkube's classes are `llmkube.records.record`s, whose equality, hash and repr are shared
    functions (docs/performance.md, "validate, thirteenth round"). A render, a validate of core kinds
    and one of a model server (the sizing model's classes) create no other dataclass of llmkube's."""
    manifests = tmp_path / "in"
    manifests.mkdir()
    (manifests / "core.yaml").write_text(CORE_MANIFESTS)
    shutil.copytree(REPO / "tests" / "cases" / "rules" / "LK101", manifests / "LK101")  # model servers, sized
    out = tmp_path / "report.json"
    for args in (["render", str(EXAMPLE)], ["validate", "--no-cache", "-o", "json", "--output-file", str(out), str(manifests)]):
        state = _probe(tmp_path, *args)
        assert {"llmkube.plan.inference", "llmkube.plan.sizing", "llmkube.check.rules.security"} & set(state["modules"])
        assert state["generated"] == []
    assert {"llmkube.plan.engine_memory", "llmkube.check.read.servers"} <= set(state["modules"])  # the server was sized


def test_a_run_does_not_search_for_pydantic_plugins(tmp_path, monkeypatch):
    state = _probe(tmp_path, "render", str(EXAMPLE))
    assert "llmkube.plan.inference" in state["modules"]  # models were built and validated
    assert not {"pydantic", "*"} & set(state["entry_point_groups"])
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "some-plugin")  # the user's own setting is kept
    assert {"pydantic", "*"} & set(_probe(tmp_path, "render", str(EXAMPLE))["entry_point_groups"])


def test_main_leaves_an_in_process_callers_environment_as_it_was(capsys, monkeypatch):
    from llmkube.cli import PYDANTIC_PLUGINS_ENV, main

    monkeypatch.delenv(PYDANTIC_PLUGINS_ENV, raising=False)
    with pytest.raises(SystemExit):
        main(["rules", "--help"])
    assert PYDANTIC_PLUGINS_ENV not in os.environ
    monkeypatch.setenv(PYDANTIC_PLUGINS_ENV, "1")
    with pytest.raises(SystemExit):
        main(["rules", "--help"])
    assert os.environ[PYDANTIC_PLUGINS_ENV] == "1"


def test_help_loads_no_spec_template_or_yaml_library(tmp_path):
    state = _probe(tmp_path, "--help")
    assert "typer" in state["modules"]
    assert _loaded(state["modules"], *NOT_ON_HELP) == []


def test_a_run_resumes_the_collector_with_start_up_frozen(tmp_path):
    state = _probe(tmp_path, "render", str(EXAMPLE))
    assert state["gc_enabled"] is True
    assert state["frozen"] > 10_000  # the pipeline froze what the run keeps (modules, models, inputs)


def test_the_collector_is_paused_before_the_cli_is_imported(tmp_path):
    """`python -m llmkube` (and the script, `llmkube.__main__:run`) pauses the collector before
    typer, click and pydantic are imported: no collection from then on in a `--version` run."""
    code = (
        "import gc, runpy, sys\n"
        "seen = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and 'llmkube.cli' in sys.modules and seen.append(info))\n"
        "sys.argv = ['llmkube', '--version']\n"
        "try:\n"
        "    runpy.run_module('llmkube', run_name='__main__', alter_sys=True)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('COLLECTIONS', len(seen))\n"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120).stdout
    assert "llmkube " in out  # the version line: the CLI ran
    assert "COLLECTIONS 0" in out


def test_main_leaves_an_in_process_callers_collector_as_it_was(capsys):
    from llmkube.cli import main

    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            with pytest.raises(SystemExit):
                main(["rules", "--help"])
            assert gc.isenabled() is enabled
        finally:
            gc.enable()


def test_gcpause_resume_only_undoes_its_own_pause():
    was = gc.isenabled()
    try:
        gc.disable()
        assert gcpause.pause() is False  # already off: not ours to turn back on
        gcpause.resume()
        assert not gc.isenabled()
        gc.enable()
        assert gcpause.pause() is True
        assert not gc.isenabled()
        gcpause.resume()
        assert gc.isenabled()
    finally:
        gcpause.restore(was)
        gc.unfreeze()


# --------------------------------------------------------------------------- lazy kinds


def test_kind_names_are_known_without_importing_any_kind():
    code = (
        "import sys\nfrom llmkube.kinds import KINDS\n"
        "names = list(KINDS); assert 'Fleet' in KINDS and 'Nope' not in KINDS and len(KINDS) == len(names)\n"
        "assert KINDS.get('Nope') is None\n"
        "print(names, KINDS.loaded(), [m for m in sys.modules if m.startswith(('llmkube.specs.', 'llmkube.plan.', 'pydantic'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['Fleet', 'Quota', 'TrainingJob', 'InferenceEndpoint'] [] []"


def test_every_kind_loads_its_own_model():
    for name in KINDS:
        kind = KINDS[name]
        assert kind.model.__name__ == name
        assert KINDS[name] is kind  # loaded once


def test_an_unknown_kind_still_lists_the_kinds(tmp_path):
    from llmkube.errors import InputError
    from llmkube.specs.parse import parse_spec
    from llmkube.yamlio import parse_documents

    doc = parse_documents("apiVersion: llmkube.dev/v1alpha1\nkind: InferenceEndpiont\nmetadata: {name: x}\n", "x.yaml")[0]
    with pytest.raises(InputError) as err:
        parse_spec(doc)
    assert err.value.hint == "did you mean 'InferenceEndpoint'?"


# --------------------------------------------------------------------------- regexes


def test_unsafe_character_classes_equal_their_yaml_definitions():
    """yamlio spells two character classes as the complement of YAML's c-printable (faster to compile):
    every code point must be classified as the definitions do."""
    from llmkube import yamlio

    every = "".join(map(chr, range(0x110000)))  # surrogates included: Python strings may hold them
    not_yaml = re.compile("[^\\x09\\x0a\\x0d\\x20-\\x7e\\x85\\xa0-\\ud7ff\\ue000-\\ufffd\\U00010000-\\U0010ffff]")
    unsafe = re.compile("[^\\x09\\x0a\\x20-\\x7e\\xa0-\\u2027\\u202a-\\ud7ff\\ue000-\\ufefe\\uff00-\\ufffd\\U00010000-\\U0010ffff]")
    for spelled, definition in ((yamlio._NOT_YAML(), not_yaml), (yamlio.UNSAFE_RAW(), unsafe)):
        assert [m.start() for m in spelled.finditer(every)] == [m.start() for m in definition.finditer(every)]



def test_the_printable_ascii_shortcut_answers_as_the_not_yaml_search():
    """`parse_documents` skips the `_NOT_YAML` search for a text `_printable_ascii` clears: it must
    clear exactly the ASCII texts the search finds nothing in, and no text holding another character."""
    from llmkube import yamlio

    for code in range(0x80):
        for text in (chr(code), f"kind: a{chr(code)}b\n", f"{chr(code)}\t\r\n"):
            assert yamlio._printable_ascii(text) == (yamlio._NOT_YAML().search(text) is None), hex(code)
    assert not any(yamlio._printable_ascii(f"kind: a{chr(code)}b\n") for code in range(0x80, 0x110000))
    assert yamlio._printable_ascii("apiVersion: v1\nkind: Service\r\n\tmetadata: {name: a}\n") and yamlio._printable_ascii("")

# --------------------------------------------------------------------------- the loaded profiles, kept


@pytest.fixture
def no_snapshot(tmp_path, monkeypatch):
    """The built-in profiles without their shipped snapshot (llmkube.profile_snapshot): read and
    validated, and kept in the side cache, as a stale snapshot (or an edited install) has them."""
    from llmkube import profile_snapshot

    monkeypatch.setattr(profile_snapshot, "SNAPSHOT", tmp_path / "no-snapshot.json")


def _store_contents(store) -> tuple:
    return dict(store.gpus), dict(store.models)


def test_a_kept_profile_store_is_reused_and_an_edit_is_seen(tmp_path, monkeypatch):
    from llmkube import profiles as profiles_mod
    from llmkube.profiles import ProfileStore

    cache = tmp_path / ".profiles"
    user = tmp_path / "user"
    user.mkdir()
    h100 = (profiles_mod.BUILTIN_PROFILES / "gpus" / "h100-80gb.yaml").read_text()
    (user / "mine.yaml").write_text(h100.replace("name: h100-80gb", "name: my-gpu"))
    first = ProfileStore.load([user], parsed_cache=cache)
    assert ProfileStore.load([user]).gpus["my-gpu"] == first.gpus["my-gpu"]
    assert len(list(cache.glob("*.pickle"))) == 1

    def no_parsing(*_a, **_k):
        raise AssertionError("parsed again: the cache entry was not used")

    with monkeypatch.context() as m:
        m.setattr(profiles_mod, "load_plain", no_parsing)
        kept = ProfileStore.load([user], parsed_cache=cache)
        assert _store_contents(kept) == _store_contents(first)
        assert kept.model("meta-llama/Llama-3.1-70B-Instruct") == first.model("meta-llama/Llama-3.1-70B-Instruct")  # by HF id
    (user / "mine.yaml").write_text(h100.replace("name: h100-80gb", "name: my-other-gpu"))
    again = ProfileStore.load([user], parsed_cache=cache)
    assert "my-other-gpu" in again.gpus and "my-gpu" not in again.gpus


def test_the_kept_store_is_keyed_on_the_code_that_defines_the_models(tmp_path, monkeypatch, no_snapshot):
    from llmkube import profiles as profiles_mod
    from llmkube.profiles import ProfileStore

    cache = tmp_path / ".profiles"
    ProfileStore.load(parsed_cache=cache)
    version = profiles_mod._pydantic_version_file()
    assert version is not None and "VERSION" in Path(version).read_text()  # pydantic's, found without importing it
    other = tmp_path / "version.py"
    other.write_text(Path(version).read_text().replace("VERSION = ", "VERSION = '0.0.0' or "))
    monkeypatch.setattr(profiles_mod, "_pydantic_version_file", lambda: str(other))  # as another pydantic would
    ProfileStore.load(parsed_cache=cache)
    assert len(list(cache.glob("*.pickle"))) == 2


def test_the_earlier_parsed_profiles_entries_are_dropped(tmp_path, no_snapshot):
    from llmkube.profiles import ProfileStore

    cache = tmp_path / ".profiles"
    cache.mkdir()
    (cache / ("0" * 64 + ".json")).write_text("[]")  # a parsed-files entry of an earlier llmkube
    ProfileStore.load(parsed_cache=cache)
    assert [p.suffix for p in cache.iterdir()] == [".pickle"]


def test_without_the_models_source_the_store_is_not_kept(tmp_path, monkeypatch):
    from llmkube import profiles as profiles_mod
    from llmkube.profiles import ProfileStore

    monkeypatch.setattr(profiles_mod, "__file__", str(tmp_path / "zipped" / "profiles.py"))  # a zipped install
    assert ProfileStore.load(parsed_cache=tmp_path / ".profiles").gpus
    assert not (tmp_path / ".profiles").exists()


@pytest.mark.parametrize("content", [b"", b"\x00garbage", b"\x80\x05K\x01.", "pickled dict", "truncated"])
def test_a_broken_profiles_entry_is_ignored_and_rewritten(tmp_path, content, no_snapshot):
    import pickle

    from llmkube.profiles import ProfileStore

    cache = tmp_path / ".profiles"
    expected = _store_contents(ProfileStore.load(parsed_cache=cache))
    (entry,) = cache.glob("*.pickle")
    good = entry.read_bytes()
    bad = {"pickled dict": pickle.dumps({"gpus": {}}), "truncated": good[: len(good) // 2]}.get(content, content)
    entry.write_bytes(bad)  # type: ignore[arg-type]
    assert _store_contents(ProfileStore.load(parsed_cache=cache)) == expected
    assert pickle.loads(entry.read_bytes()).gpus == pickle.loads(good).gpus


def test_a_warm_render_builds_no_profile_model(tmp_path):
    """A render sized against the built-in profiles builds its store from their shipped snapshot, and
    the second render with a user's profile directory unpickles what the first validated: neither
    builds a GPU or model profile validator (pydantic's `__pydantic_complete__`, with `defer_build`)
    nor imports their module (llmkube.profile_schema); the first with the user's directory does."""
    code = _PROBE.replace('sys.stderr.write("\\nPROBE "', 'state["schema"] = "llmkube.profile_schema" in sys.modules\n'
                          'from llmkube.profile_schema import GPUProfile, ModelProfile\n'
                          'state["built"] = [GPUProfile.__pydantic_complete__, ModelProfile.__pydantic_complete__]\n'
                          'sys.stderr.write("\\nPROBE "')
    env = {**os.environ, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "kube"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("LLMKUBE_CACHE_DIR", None)
    mine = tmp_path / "mine"
    mine.mkdir()
    from llmkube.profiles import BUILTIN_PROFILES

    (mine / "gpu.yaml").write_text((BUILTIN_PROFILES / "gpus" / "h100-80gb.yaml").read_text().replace("name: h100-80gb", "name: my-gpu"))
    states = []
    for args in (["--no-cache"], [], ["--profiles", str(mine)], ["--profiles", str(mine)]):
        proc = subprocess.run([sys.executable, "-c", code, "render", *args, str(EXAMPLE)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        line = next(line for line in proc.stderr.splitlines() if line.startswith("PROBE "))
        states.append(json.loads(line[len("PROBE "):]))
    assert [(s["built"], s["schema"]) for s in states] == [
        ([False, False], False), ([False, False], False),  # the snapshot, with or without the cache
        ([True, True], True),  # a user's profile: validated, and kept
        ([False, False], False),  # and read back
    ]
    assert all("llmkube.plan.inference" in s["modules"] for s in states)  # and did render


def test_no_cache_leaves_the_profiles_cache_alone(tmp_path, monkeypatch, no_snapshot):
    from llmkube import pipeline
    from llmkube.options import Options

    monkeypatch.setenv("LLMKUBE_CACHE_DIR", str(tmp_path / "cache"))
    pipeline.run([str(EXAMPLE)], Options(use_cache=False))
    assert not (tmp_path / "cache").exists()
    pipeline.run([str(EXAMPLE)], Options())
    assert len(list((tmp_path / "cache" / ".profiles").glob("*.pickle"))) == 1


# --------------------------------------------------------------------------- compiled templates


@pytest.fixture
def probe_template(tmp_path):
    (tmp_path / "templates").mkdir()
    path = tmp_path / "templates" / "probe.yaml.j2"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name }}\n")
    return path


def _render_probe(template: Path, cache: Path | None) -> list:
    from llmkube.render import Renderer

    return Renderer([template.parent], bytecode_cache=cache).render(template.name, {"name": "x"})


def test_compiled_templates_are_reused_and_an_edit_is_seen(tmp_path, probe_template, monkeypatch):
    import jinja2

    cache = tmp_path / ".jinja"
    expected = _render_probe(probe_template, cache)
    (entry,) = cache.glob("*.jinja")
    with monkeypatch.context() as m:
        m.setattr(jinja2.Environment, "compile", lambda *_a, **_k: pytest.fail("compiled again: the cache entry was not used"))
        assert _render_probe(probe_template, cache) == expected
    probe_template.write_text(probe_template.read_text().replace("ConfigMap", "Secret"))
    assert _render_probe(probe_template, cache)[0]["kind"] == "Secret"  # Jinja checks the source's hash


@pytest.mark.parametrize("cut", [0, 3, 12, -5])
def test_a_broken_compiled_template_is_compiled_again_and_rewritten(tmp_path, probe_template, cut):
    cache = tmp_path / ".jinja"
    expected = _render_probe(probe_template, cache)
    (entry,) = cache.glob("*.jinja")
    good = entry.read_bytes()
    entry.write_bytes(good[:cut] + b"\x00garbage" if cut else b"\xff" * 40)
    assert _render_probe(probe_template, cache) == expected
    assert entry.read_bytes() == good


def test_no_cache_compiles_templates_in_memory_only(tmp_path, monkeypatch):
    from llmkube import pipeline
    from llmkube.options import Options

    monkeypatch.setenv("LLMKUBE_CACHE_DIR", str(tmp_path / "cache"))
    first = pipeline.run([str(EXAMPLE)], Options(use_cache=False)).rendering.objects
    assert not (tmp_path / "cache").exists()
    again = pipeline.run([str(EXAMPLE)], Options()).rendering.objects
    assert [r.obj for r in again] == [r.obj for r in first]
    assert list((tmp_path / "cache" / ".jinja").glob("*.jinja"))


# --------------------------------------------------------------------------- the command tree


def _outcome(command, args: list[str], capsys) -> tuple:
    with pytest.raises(SystemExit) as exit_:
        command(args=args, prog_name="llmkube")
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def test_building_only_the_invoked_command_changes_no_help_and_no_usage_error(capsys):
    """main() builds only the command a run names (cli_command(args)): every help text and the
    usage errors must read as with the whole tree."""
    from llmkube.cli import cli_command

    from tests.test_cli_completion_help import every_command

    paths = every_command(cli_command())
    assert len(paths) > 20
    cases = [[*path, "--help"] for path in paths] + [
        ["render"], ["render", "--bogus"], ["crds"], ["crds", "nope"], ["--debug", "rules", "--help"], ["--color", "never", "rules"],
    ]
    for args in cases:
        assert _outcome(cli_command(args), args, capsys) == _outcome(cli_command(), args, capsys), args
    assert sorted(cli_command(["--debug", "render", "x.yaml"]).commands) == ["render"]
    assert sorted(cli_command(["--color", "never", "crds", "list"]).commands) == ["crds"]
    assert len(cli_command(["rendr"]).commands) == len(cli_command().commands)  # the error lists them all


# --------------------------------------------------------------------------- spec models


def test_no_model_field_has_a_default_factory_whose_signature_is_parsed_from_text():
    """pydantic asks each default factory for its signature; a builtin's (`list`) is parsed from its
    text by the tokenizer, whose regex compiles in ~5-7 ms on first use: `specs.base.empty_list`."""
    import importlib
    import pkgutil

    import pydantic

    import llmkube.specs

    modules = [importlib.import_module("llmkube.profile_schema")] + [
        importlib.import_module(f"llmkube.specs.{m.name}") for m in pkgutil.iter_modules(llmkube.specs.__path__)
    ]
    models = [v for mod in modules for v in vars(mod).values() if isinstance(v, type) and issubclass(v, pydantic.BaseModel)]
    assert len(models) > 50
    parsed = [
        f"{model.__name__}.{name}"
        for model in models
        for name, info in model.model_fields.items()
        if getattr(info.default_factory, "__text_signature__", None) is not None
    ]
    assert parsed == []


# --------------------------------------------------------------------------- typer's conversion


def _params(command, path=()):
    for param in getattr(command, "params", []):
        yield path, param
    for name, sub in getattr(command, "commands", {}).items():
        yield from _params(sub, (*path, name))


def test_every_option_is_converted_without_pydantic():
    """Each parameter of every command has a shape `cliconvert` converts (a new option of another
    shape would bring pydantic back onto every run of its command)."""
    from llmkube import cliconvert
    from llmkube.cli import cli_command

    params = list(_params(cli_command()))
    assert len(params) > 100
    if cliconvert.RuntimeParam is None:
        # typer before 0.29 converts values itself, without pydantic: cliconvert leaves every
        # parameter as typer made it (the plain validate above still loads no pydantic)
        assert not any(cliconvert.plain(param) for _, param in params)
        assert not any(getattr(param, "converts_plainly", False) for _, param in params)
        return
    for path, param in params:
        assert isinstance(param.get_runtime_param(), cliconvert.PlainParam), (path, param.name)


def _conversion(runtime, value, param, ctx):
    from typer import BadParameter

    try:
        converted = runtime.coerce(value, param=param, ctx=ctx)
        return "ok", converted, type(converted), [type(v) for v in converted] if isinstance(converted, (list, tuple)) else None
    except BadParameter as exc:
        return "error", exc.format_message()


def test_the_plain_conversion_is_typers_for_every_option_and_value():
    """PlainParam returns what typer's own (pydantic) conversion returns, value for value, and its
    errors word what typer's do: over every parameter of every command, for its default and for
    plain and odd spellings of numbers, choices, paths and lists."""
    import enum
    from pathlib import Path

    import typer

    from llmkube import cliconvert
    from llmkube.cli import cli_command

    if cliconvert.RuntimeParam is None:  # typer before 0.29 has no pydantic conversion to match
        assert not hasattr(typer.core.TyperOption, "get_runtime_param")
        return
    from typer._coercion import build_runtime_param

    samples = ["", " ", "0", "1", "7", "-3", "+4", "08", " 5", "5 ", "1_000", "\u0663", "1.5", "2.0", "-0.5", "1e3", ".5",
               "nan", "inf", "abc", "-", "x.yaml", "a/b/", "~/x", "true", "False", "yes", "0x10", "\u00e9", 3, 0, 2.5, True, None,
               Path("p"), ["a", "b"], ("1", "2"), []]
    checked = 0
    command = cli_command()
    for path, param in _params(command):
        ctx = typer.Context(command)
        values = [*samples, param.default]
        annotation = param.type_descriptor.annotation
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            values += [m for m in annotation] + [m.value for m in annotation] + [str(m.value).upper() for m in annotation]
        reference = build_runtime_param(param.type_descriptor)
        for value in values:
            assert _conversion(param.get_runtime_param(), value, param, ctx) == _conversion(reference, value, param, ctx), (path, param.name, value)
            checked += 1
    assert checked > 4000


# ---- the fixed cost of a run that holds a model server or a MIG config (session 25) ----------------

VLLM_SERVER = CORE_MANIFESTS.replace(
    "image: nginx:latest\n          resources: {limits: {cpu: \"1\", memory: 1Gi}}",
    "image: vllm/vllm-openai:v0.11.0\n"
    "          args: [--model, meta-llama/Llama-3.1-8B-Instruct]\n"
    "          resources: {limits: {nvidia.com/gpu: 1}}",
)


def test_a_validate_of_a_plain_model_server_loads_no_spec_model_multinode_planner_or_ruamel(tmp_path):
    """A hand-written vLLM Deployment is sized (LK101, LK305: the profiles, the sizing model) without
    the InferenceEndpoint models (its `startup` defaults are engines.DEFAULT_*), the multi-node
    planner (a server on one pod), a pydantic validator (none is built: no plugin search) or
    ruamel.yaml (LK401's block-scalar check asks only once a reader has typed a block)."""
    server = tmp_path / "server.yaml"
    server.write_text(VLLM_SERVER)
    out = tmp_path / "report.json"
    _probe(tmp_path, "validate", "-o", "json", "--output-file", str(out), str(server))  # keeps the profiles
    state = _probe(tmp_path, "validate", "-o", "json", "--output-file", str(out), str(server))
    assert {"llmkube.plan.sizing", "llmkube.profiles", "llmkube.check.rules.serving"} <= set(state["modules"])
    assert _loaded(state["modules"], "llmkube.specs.inferenceendpoint", "llmkube.plan.multinode", "ruamel",
                   "pydantic.plugin._loader") == []
    report = json.loads(out.read_text())
    assert report["checked"] == 3, report


def test_a_validate_of_a_model_server_imports_no_pydantic_for_its_profiles(tmp_path):
    """Sizing a hand-written vLLM Deployment reads the profiles. The built-in ones come from their
    shipped snapshot (llmkube.profile_snapshot), on every run, cache or not; with a user's profile
    directory the first run (and a --no-cache one) validates the files, importing pydantic and the
    profile models (llmkube.profile_schema), and the next ones read the store back from the side
    cache as plain dataclasses: no pydantic, profile model or spec model. Every run reports the same."""
    server = tmp_path / "server.yaml"
    server.write_text(VLLM_SERVER)
    mine = tmp_path / "mine"
    mine.mkdir()
    from llmkube.profiles import BUILTIN_PROFILES

    (mine / "gpu.yaml").write_text((BUILTIN_PROFILES / "gpus" / "h100-80gb.yaml").read_text().replace("name: h100-80gb", "name: my-gpu"))
    runs = [["--no-cache"], [], [], ["--no-cache", "--profiles", str(mine)], ["--profiles", str(mine)], ["--profiles", str(mine)]]
    outs, states = [], []
    for flags in runs:
        out = tmp_path / f"report{len(outs)}.json"
        states.append(_probe(tmp_path, "validate", *flags, "-o", "json", "--output-file", str(out), str(server)))
        outs.append(out.read_text())
    pydantic_free = [not _loaded(s["modules"], "pydantic", "pydantic_core", "annotated_types", "llmkube.profile_schema", "llmkube.specs")
                     for s in states]
    assert pydantic_free == [True, True, True, False, False, True]
    assert all({"llmkube.plan.sizing", "llmkube.profiles", "llmkube.check.rules.serving"} <= set(s["modules"]) for s in states)
    assert len(set(outs)) == 1 and json.loads(outs[0])["checked"] == 3


def test_a_plain_servers_load_time_uses_the_startup_defaults(store):
    """`ServerSetup.load_estimate` of a manifest with no spec: the same seconds as with the spec
    model's own `Startup()` defaults, which it no longer imports to get them."""
    from llmkube.check.read.context import ReadContext
    from llmkube.check.run import Target
    from llmkube.plan.sizing import download_gbps, load_seconds, weight_bytes
    from llmkube.specs.inferenceendpoint import Startup

    for source_env in ([], [{"name": "HF_HOME", "value": "/cache"}]):
        pod = Target({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vllm"}, "spec": {
            "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "env": source_env,
                            "args": ["--model", "meta-llama/Llama-3.1-8B-Instruct"],
                            "resources": {"limits": {"nvidia.com/gpu": 1}}}],
        }})
        (server,) = ReadContext(targets=[pod], profiles=store).servers
        assert server.model is not None
        c, startup = server.config, Startup()
        expected = load_seconds(weight_bytes(server.model, c.dtype, c.quantization), startup.load_throughput_g_bps,
                                startup.overhead_seconds, download_gbps(server.weights_source, startup.download_throughput_g_bps))
        assert server.load_estimate() == expected


def test_the_block_scalar_check_needs_ruamel_only_once_a_block_was_read(monkeypatch):
    """gpu_operator._is_block: a value typed as a ruamel block scalar is one; while the readers have
    not imported ruamel's scalar strings, no value can be, and the answer is False without them."""
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    from llmkube.check.read import gpu_operator
    from llmkube.check.run import Target
    from llmkube.yamlio import Document

    def target(value: object) -> Target:
        data = {"kind": "ConfigMap", "data": {"config.yaml": value}}
        return Target(data, document=Document(data=data, file="x.yaml", index=0, line=1))

    path = ("data", "config.yaml")
    assert gpu_operator._is_block(target(LiteralScalarString("version: v1\n")), path)
    assert gpu_operator._is_block(target(FoldedScalarString("version: v1\n")), path)
    assert not gpu_operator._is_block(target("version: v1\n"), path)
    monkeypatch.delitem(sys.modules, "ruamel.yaml.scalarstring")
    assert not gpu_operator._is_block(target("version: v1\n"), path)


def test_the_model_spec_key_tells_specs_apart_as_their_json_does(store):
    """modelshape remembers per-layer bytes under `spec_key` (the repr): two specs share a key exactly
    when their JSON is equal (the key before), over every built-in model and copies that differ in
    one value, and the remembered answer is the computed one."""
    from llmkube import modelshape
    from llmkube.profiles import Quantization

    specs = [p.spec for p in store.models.values()]
    base = specs[0]
    specs += [
        base.model_copy(update={"dtype": "float8"}),
        base.model_copy(update={"layers": base.layers + 1}),
        base.model_copy(update={"parameters_b": base.parameters_b + 1e-9}),
        base.model_copy(update={"quantization": Quantization(method="fp8", weight_bits=8, weight_type="float", strategy="tensor")}),
        base.model_copy(update={"quantization": Quantization(method="fp8", weight_bits=8, weight_type="float", strategy="block")}),
        base.model_copy(),
    ]
    keys = [modelshape.spec_key(s) for s in specs]
    dumps = [json.dumps(s.model_dump()) for s in specs]
    for i in range(len(specs)):
        for j in range(len(specs)):
            assert (keys[i] == keys[j]) == (dumps[i] == dumps[j]), (specs[i].display_name, specs[j].display_name)
    for s in specs:
        assert modelshape.weight_bytes_by_layer(s) == modelshape.weight_bytes_by_layer_uncached(s)


def test_the_remembered_mig_placement_is_the_search_and_valid_layouts_are_unchanged(store):
    """plan.mig remembers `_place` per geometry and layout: for every MIG GPU and every layout of up to
    each profile's max count (placeable or not), `place_layout` answers what the uncached search
    does; `valid_layouts` (which no longer builds a MigSpec to search with) lists the placeable ones."""
    import itertools

    from llmkube.plan import mig

    gpus = [g for g in store.gpus.values() if g.spec.mig is not None]
    assert gpus
    for gpu in gpus:
        spec = gpu.spec.mig
        assert spec is not None
        names = sorted(p.name for p in spec.profiles)
        small = names[:4]  # every combination of four profiles, one more than allowed of each
        limits = {p.name: p.max_count for p in spec.profiles}
        placeable = set()
        for counts in itertools.product(*(range(limits[n] + 2) for n in small)):
            layout = {n: c for n, c in zip(small, counts, strict=True) if c}
            got = mig.place_layout(spec, layout)
            assert got == mig._place.__wrapped__(mig._geometry(spec), tuple(layout.items()))
            assert got is mig.place_layout(spec, dict(layout))  # remembered
            if got is not None and layout:
                placeable.add(tuple(sorted(layout.items())))
        listed = {tuple(sorted(layout.items())) for layout in mig.valid_layouts(spec)}
        assert placeable == {t for t in listed if {n for n, _ in t} <= set(small)}
    with pytest.raises(ValueError, match="unknown MIG profile 'nope'"):
        mig.place_layout(gpus[0].spec.mig, {"nope": 1})  # type: ignore[arg-type]



MIG_CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: custom-mig-config, namespace: gpu-operator}
data:
  config.yaml: "version: v1\\nmig-configs:\\n  bad:\\n    - devices: all\\n      mig-enabled: true\\n      mig-devices: {\\"3g.20gb\\": 3}\\n"
"""


def test_a_validate_of_a_mig_config_builds_no_pydantic_validator_and_loads_no_ruamel(tmp_path):
    """LK402 on a layout no A100 takes, with its nearest valid layout (`valid_layouts`): the MIG
    search runs on the profile's geometry, not on a MigSpec rebuilt (and validated) for it, so a warm
    run builds no pydantic validator (pydantic's plugin loader, with importlib.metadata, ~15 ms);
    the config is a quoted string, no block, so ruamel.yaml stays out too."""
    config = tmp_path / "mig.yaml"
    config.write_text(MIG_CONFIG)
    out = tmp_path / "report.json"
    _probe(tmp_path, "validate", "-o", "json", "--output-file", str(out), str(config))  # keeps the profiles
    state = _probe(tmp_path, "validate", "-o", "json", "--output-file", str(out), str(config))
    assert [f["code"] for f in json.loads(out.read_text())["findings"]] == ["LK402"]
    assert "llmkube.plan.mig" in state["modules"]
    assert _loaded(state["modules"], "pydantic.plugin._loader", "ruamel", "llmkube.specs.inferenceendpoint") == []

def test_the_runs_leader_worker_sets_are_read_once_as_each_rule_read_them(store):
    """ReadContext.leader_worker_sets (LK340-LK342 share it) equals what the rules read from their
    subjects before, over the LeaderWorkerSet rule cases and the rendered multi-node example."""
    from llmkube import pipeline
    from llmkube.check.read.context import ReadContext
    from llmkube.check.read.lws import leader_worker_sets
    from llmkube.options import Options
    from tests.support.paths import RULE_CASES

    paths = [p for code in ("LK340", "LK341", "LK342") for p in sorted((RULE_CASES / code).glob("*/*.yaml"))]
    paths.append(REPO / "docs" / "examples" / "11-llama-405b-multinode-lws.yaml")
    seen = 0
    for path in paths:
        ctx = ReadContext(targets=pipeline.run([str(path)], Options()).targets, profiles=store)
        lws = ctx.of_kind("LeaderWorkerSet")
        assert ctx.leader_worker_sets == leader_worker_sets(lws) == leader_worker_sets(ctx.targets), path
        assert ctx.leader_worker_sets is ctx.leader_worker_sets
        seen += len(lws)
    assert seen >= len(paths)


def test_a_validate_of_a_rendered_multi_node_server_loads_no_planner_or_spec_model(tmp_path):
    """The LeaderWorkerSet of example 11 (pipeline parallel over nodes), validated as a manifest: its
    load time (LK305) comes from plan.nodeload, not the multi-node planner with the spec models and
    the other planners it imports."""
    rendered = subprocess.run([sys.executable, "-m", "llmkube", "render", str(REPO / "docs" / "examples" / "11-llama-405b-multinode-lws.yaml")],
                              capture_output=True, text=True, check=True, cwd=REPO,
                              env={**os.environ, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "kube")}).stdout
    assert "kind: LeaderWorkerSet" in rendered and "--pipeline-parallel-size" in rendered
    manifests = tmp_path / "lws.yaml"
    manifests.write_text(rendered)
    out = tmp_path / "report.json"
    state = _probe(tmp_path, "validate", "-o", "json", "--output-file", str(out), str(manifests))
    assert json.loads(out.read_text())["checked"] > 1
    assert "llmkube.plan.nodeload" in state["modules"]
    assert _loaded(state["modules"], "llmkube.plan.multinode", "llmkube.plan.inference", "llmkube.specs.inferenceendpoint") == []


def test_a_manifests_multi_node_load_time_is_the_planners_with_the_startup_defaults(store):
    """plan.nodeload with engines' start-up defaults answers what plan.multinode answers with `Startup()`."""
    from llmkube.engines import DEFAULT_LOAD_THROUGHPUT_GBPS, DEFAULT_STARTUP_OVERHEAD_SECONDS
    from llmkube.plan import multinode, nodeload
    from llmkube.specs.inferenceendpoint import Startup

    model = store.model("meta-llama/Llama-3.1-405B-Instruct")
    assert model is not None
    for source in ("hub", "pvc", "object-store"):
        for tp, pp, per_node in ((8, 2, 8), (4, 4, 8), (8, 4, 8)):
            assert nodeload.node_load_seconds(model, None, None, tp, pp, per_node, source, load_gbps=DEFAULT_LOAD_THROUGHPUT_GBPS,
                                              overhead_seconds=DEFAULT_STARTUP_OVERHEAD_SECONDS, download_throughput_gbps=None) \
                == multinode.node_load_seconds(model, None, None, tp, pp, per_node, Startup(), source)


def test_the_shape_readers_fast_dict_path_answers_as_the_mapping_check():
    """check/read/shape: `as_mapping`, `dig` and `meta` test `type(v) is dict` before the ABC check;
    over plain dicts, dict subclasses (ruamel's maps), other mappings and non-mappings they answer as
    the definitions with `isinstance(v, Mapping)` alone do."""
    import types
    from collections import OrderedDict
    from collections.abc import Mapping

    from ruamel.yaml.comments import CommentedMap

    from llmkube.check.read import shape

    def ref_as_mapping(v):
        return v if isinstance(v, Mapping) else {}

    def ref_dig(v, *keys):
        for k in keys:
            if not isinstance(v, Mapping):
                return None
            v = v.get(k)
        return v

    inner = {"name": "a"}
    cm = CommentedMap()
    cm["metadata"] = CommentedMap(name="b")
    values = [inner, {"metadata": inner}, {"metadata": "x"}, {"metadata": None}, {}, cm, OrderedDict(metadata=inner),
              types.MappingProxyType({"metadata": inner}), [inner], "metadata", None, 3, {"metadata": ["x"]}]
    for v in values:
        assert shape.as_mapping(v) == ref_as_mapping(v) and (shape.as_mapping(v) is v) == (ref_as_mapping(v) is v)
        assert shape.dig(v, "metadata") is ref_dig(v, "metadata") or shape.dig(v, "metadata") == ref_dig(v, "metadata")
        assert shape.dig(v, "metadata", "name") == ref_dig(v, "metadata", "name")
        assert shape.meta(v) == ref_as_mapping(ref_dig(v, "metadata"))
        got, want = shape.meta(v), ref_as_mapping(ref_dig(v, "metadata"))
        assert (got is want) or (got == {} and want == {})


# --------------------------------------------------------------------------- plain manifests: what start-up skips

# Readers a run of plain manifests never calls (a GPU, an LLMInferenceService, a Kueue placement) and
# the CEL rules (CRDs only): their modules stay unimported.
NOT_ON_PLAIN_VALIDATE = (
    "llmkube.check.cel", "llmkube.check.read.llmisvc", "llmkube.check.read.gpus", "llmkube.check.read.placement",
)

# Patterns defined with `lazyre.lazy` for text a run of plain manifests does not hold (tokens,
# JUnit-unsafe or escaped characters, a config file, quantities, floats, CRD file names).
LAZY_ON_PLAIN_VALIDATE = {
    "llmkube.secrets": ("TOKEN", "AWS_SECRET"),
    "llmkube.check.rules.security": ("HF_TOKEN", "_REFERENCE"),
    "llmkube.report": ("_XML_FORBIDDEN",),
    "llmkube.quantity": ("_QUANTITY",),
    "llmkube.yamlio": ("UNSAFE_RAW", "_SURROGATE", "_NOT_YAML"),
    "llmkube.fastyaml": ("_DECIMAL_FLOAT", "_SURROGATE"),
    "llmkube.oneline": ("_ESCAPED",),
    "llmkube.cliconvert": ("_INT", "_FLOAT"),
    "llmkube.config": ("_HEADER", "_ASSIGN"),
    "llmkube.check.crdstore": ("_ENTRY", "_SAFE_NAME"),
    "llmkube.engines": ("_PIP_INSTALL", "_VLLM_REQUIREMENT"),
}

_PATTERN_PROBE = """
import json, re, sys
from llmkube.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
state = {}
for module, names in json.loads(sys.argv[1]).items():
    for name in names:
        value = getattr(sys.modules[module], name)
        state[module + "." + name] = "compiled at import" if isinstance(value, re.Pattern) else (
            "compiled" if value.cache_info().currsize else "not compiled")
sys.stderr.write("\\nPROBE " + json.dumps({"patterns": state, "modules": sorted(sys.modules)}) + "\\n")
"""


def _pattern_probe(tmp_path: Path, *args: str) -> dict:
    env = {**os.environ, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "kube"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("LLMKUBE_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-c", _PATTERN_PROBE, json.dumps(LAZY_ON_PLAIN_VALIDATE), *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    line = next(line for line in proc.stderr.splitlines() if line.startswith("PROBE "))
    return json.loads(line[len("PROBE "):])


@pytest.mark.parametrize("output", ["json", "text"])
def test_a_validate_of_plain_manifests_compiles_no_pattern_it_does_not_use(tmp_path, output):
    """A clean Deployment, Service and ConfigMap (a pre-commit hook's run): none of the lazy patterns
    is compiled, and the CEL rules and the GPU, LLMInferenceService and placement readers are not
    loaded. (A finding's message is masked: one that is not ASCII is searched for an AWS secret.)"""
    manifests = tmp_path / "core.yaml"
    manifests.write_text(CORE_MANIFESTS.replace("nginx:latest", "nginx:1.27.2"))
    out = tmp_path / "report.json"
    state = _pattern_probe(tmp_path, "validate", "-o", output, "--output-file", str(out), str(manifests))
    assert "llmkube.check.rules.security" in state["modules"]  # the rules ran ...
    report = json.loads(out.read_text())
    assert (report["checked"], report["findings"]) == (3, [])  # ... over the three objects and found nothing
    assert {name for name, how in state["patterns"].items() if how != "not compiled"} == set()
    assert _loaded(state["modules"], *NOT_ON_PLAIN_VALIDATE) == []


def test_a_lazy_pattern_is_compiled_once_as_re_compiles_it():
    import re as stdlib_re

    from llmkube.lazyre import lazy

    get = lazy(r"(?P<word>[a-z]+)-\d", stdlib_re.IGNORECASE)
    assert get.cache_info().currsize == 0
    first = get()
    assert first is get() and get.cache_info().currsize == 1
    assert first.pattern == r"(?P<word>[a-z]+)-\d" and first.flags == stdlib_re.compile(r"x", stdlib_re.IGNORECASE).flags
    assert first.fullmatch("AbC-7").group("word") == "AbC"


def test_the_commands_annotations_are_objects_not_text_to_compile_at_start_up():
    """cli.py builds its commands' annotations when each `def` runs: as strings, reading every command's
    signature (`with_options`, typer) compiled each of them again on every start-up."""
    from llmkube import cli

    def callbacks(app):
        yield from (c.callback for c in app.registered_commands if c.callback)
        for group in app.registered_groups:
            yield from callbacks(group.typer_instance)

    found = list(callbacks(cli.app))
    assert len(found) > 20
    assert [(f.__name__, name) for f in found for name, a in f.__annotations__.items() if isinstance(a, str)] == []
