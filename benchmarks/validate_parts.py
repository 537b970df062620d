"""Where a `llmkube validate` of plain manifests spends its CPU time, part by part.

Each timed run is a new process that first imports, group by group and timed, what a validate of
core kinds imports (typer, llmkube's CLI, PyYAML, jsonschema-rs, validate's own modules, the rule
modules (timed inside the run, where it asks for them), the sizing model), then runs `llmkube validate ARGS` in itself with
clocks around its parts: reading (and of it the compiled reader), the schema checks with the
metadata pass (and of it that pass), the profiles, each rule. The dataclasses created while importing
are timed too (`dataclasses._process_class`: part of the import groups, not beside them), and of
that the generated methods' compiling (`dataclasses._create_fn`, on Pythons that have it). The
interpreter's own start-up is `python -c pass` in the same environment. The first run (untimed)
compiles bytecode into a private PYTHONPYCACHEPREFIX and fills the side caches of an empty user
cache (HOME): the runs are warm, as a pre-commit hook from its second run on. Medians of CPU time
(`time.process_time`) over the timed runs; `--baseline DIR` measures another checkout beside this
one (PYTHONPATH=DIR), the runs interleaved. Asserts nothing.

    .venv/bin/python benchmarks/validate_parts.py [--runs N] [--baseline DIR] ARGS...
    (e.g. ARGS = -o json DIR: build DIR with perf_corpus.core, see docs/performance.md)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMPORTS = [
    ("import typer", ["typer"]),
    ("import llmkube.cli (its own modules)", ["llmkube.cli"]),
    ("import PyYAML (the compiled reader's set-up)", ["yaml"]),
    ("import jsonschema_rs", ["jsonschema_rs"]),
    ("validate's other llmkube imports", ["llmkube.commands.validate"]),
    ("sizing imports (plan.sizing, profiles, engine_memory, mig, modelshape)",
     ["llmkube.plan.sizing", "llmkube.profiles", "llmkube.profile_snapshot", "llmkube.plan.engine_memory",
      "llmkube.plan.mig", "llmkube.modelshape", "llmkube.check.read.sizing_cache"]),
]
PARTS = [  # (module, function, part): wrapped where the caller looks it up
    ("llmkube.runs", "read_documents", "read: files, parse, shape checks"),
    ("llmkube.yamlio", "load_marked", "  of it, the compiled reader (libyaml)"),
    ("llmkube.runs", "schema_findings", "schema checks + metadata pass"),
    ("llmkube.check.run", "metadata_findings", "  of it, the metadata pass"),
    ("llmkube.runs", "load_profiles", "profiles (the built-in snapshot's store)"),
]


METHODS = "    of it, compiling their generated methods (dataclasses._create_fn)"


def child(args: list[str]) -> None:
    """One measured run in this process: prints {part: CPU seconds} as JSON on stderr."""
    import contextlib
    import dataclasses
    import importlib
    import io
    import time

    clock = time.process_time
    start = clock()
    spent: dict[str, float] = {}
    make_class = dataclasses._process_class  # type: ignore[attr-defined]

    def timed_class(*a, **k):
        t = clock()
        try:
            return make_class(*a, **k)
        finally:
            spent["  (dataclass creation, inside the imports)"] = spent.get("  (dataclass creation, inside the imports)", 0.0) + clock() - t

    dataclasses._process_class = timed_class  # type: ignore[attr-defined]
    make_fn = getattr(dataclasses, "_create_fn", None)  # Python 3.11/3.12: one exec of generated text per method
    if make_fn is not None:
        def timed_fn(*a, **k):
            t = clock()
            try:
                return make_fn(*a, **k)
            finally:
                spent[METHODS] = spent.get(METHODS, 0.0) + clock() - t

        dataclasses._create_fn = timed_fn  # type: ignore[attr-defined]
    try:  # `llmkube.records.record`'s shared methods are part of creating a class too
        from llmkube import records
    except ImportError:  # a checkout from before it
        records = None
    if records is not None:
        shared = records._shared_methods

        def timed_shared(*a, **k):
            t = clock()
            try:
                return shared(*a, **k)
            finally:
                spent["  (dataclass creation, inside the imports)"] += clock() - t

        records._shared_methods = timed_shared
    for label, modules in IMPORTS:
        t = clock()
        for name in modules:
            importlib.import_module(name)
        spent[label] = clock() - t
    from llmkube.check import rules as registry

    for module, name, label in PARTS:
        mod = importlib.import_module(module)
        fn = getattr(mod, name)

        def wrapped(*a, _fn=fn, _label=label, **k):
            t = clock()
            try:
                return _fn(*a, **k)
            finally:
                spent[_label] = spent.get(_label, 0.0) + clock() - t

        setattr(mod, name, wrapped)
    for_kinds = registry.rules_for_kinds

    def timed_rules(kinds):
        t = clock()
        found = for_kinds(kinds)  # imports the rule modules the run's kinds need
        spent["rule modules' imports (for the kinds held)"] = clock() - t
        for code, rule in found.items():
            def check(ctx, _fn=rule.check, _code=code):
                t = clock()
                hits = list(_fn(ctx))
                spent[f"rule {_code}"] = spent.get(f"rule {_code}", 0.0) + clock() - t
                return hits

            object.__setattr__(rule, "check", check)
        return found

    registry.rules_for_kinds = timed_rules
    from llmkube.cli import main

    t = clock()
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["validate", *args])
        except SystemExit:
            pass
    spent["main(): the validate itself (with the rule modules' imports)"] = clock() - t
    spent["TOTAL in the process (after start-up)"] = clock() - start
    sys.stderr.write("PARTS " + json.dumps(spent) + "\n")


def measure(tree: str, args: list[str], home: str, prefix: str) -> tuple[dict[str, float], float]:
    env = {**os.environ, "PYTHONPATH": tree, "HOME": home, "PYTHONPYCACHEPREFIX": prefix}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    line = next((x for x in proc.stderr.splitlines() if x.startswith("PARTS ")), None)
    if line is None:
        raise SystemExit(f"the run failed:\n{proc.stderr}")
    bare = subprocess.Popen([sys.executable, "-c", "pass"], env=env)
    _, _, usage = os.wait4(bare.pid, 0)
    return json.loads(line[len("PARTS "):]), usage.ru_utime + usage.ru_stime


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        child(argv[1:])
        return
    runs, baseline = 7, None
    while argv and argv[0] in ("--runs", "--baseline"):
        if argv[0] == "--runs":
            runs = int(argv[1])
        else:
            baseline = os.path.abspath(argv[1])
        argv = argv[2:]
    args = [os.path.abspath(a) if os.path.exists(a) else a for a in argv]
    trees = {"this checkout": REPO} | ({"baseline": baseline} if baseline else {})
    work = tempfile.mkdtemp(prefix="llmkube-parts-")
    try:
        dirs = {name: (os.path.join(work, f"home{i}"), os.path.join(work, f"pyc{i}")) for i, name in enumerate(trees)}
        for name, (home, _) in dirs.items():
            os.makedirs(home)
        for name, tree in trees.items():
            measure(tree, args, *dirs[name])  # untimed: bytecode and side caches
        found: dict[str, list[tuple[dict[str, float], float]]] = {name: [] for name in trees}
        for _ in range(runs):
            for name, tree in trees.items():
                found[name].append(measure(tree, args, *dirs[name]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"validate {' '.join(argv)}: CPU ms, medians of {runs} runs (load {os.getloadavg()[0]:.1f})")
    print(f"{'part':75s}" + "".join(f"{name:>16s}" for name in trees))
    print(f"{'interpreter start-up (python -c pass)':75s}" + "".join(f"{statistics.median(p for _, p in found[n]) * 1000:16.1f}" for n in trees))
    order = [label for label, _ in IMPORTS] + ["  (dataclass creation, inside the imports)", METHODS, "rule modules' imports (for the kinds held)"]
    order += [label for _, _, label in PARTS]
    names = sorted(dict.fromkeys(k for n in trees for parts, _ in found[n] for k in parts),
                   key=lambda k: (order.index(k) if k in order else len(order) + (not k.startswith("rule ")), k))
    for key in names:
        print(f"{key:75s}" + "".join(f"{statistics.median(parts.get(key, 0.0) for parts, _ in found[n]) * 1000:16.1f}" for n in trees))


if __name__ == "__main__":
    main()
