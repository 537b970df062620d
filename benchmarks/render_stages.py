"""Where one cold `llmkube render` spends its CPU time, stage by stage.

Each run is a new process that runs `llmkube render SPEC` in itself (as `python -m llmkube
render SPEC` does) with clocks around the stages below; every module imported inside a stage is
counted apart, as that stage's imports. The first run (untimed) compiles bytecode into a private
PYTHONPYCACHEPREFIX and fills the side caches of an empty user cache (HOME), as `perf.py` does;
the table gives medians and minima of CPU time (`time.process_time`) over the timed runs.
`--imports` prints instead what `python -X importtime -m llmkube render SPEC` reports, per package
(the sum of each module's self time, the minimum over the runs), beside the same for a one-option
typer CLI that also imports jinja2 (`perf.TYPER_FLOOR`): what llmkube imports beyond that floor.
`--baseline DIR` measures another checkout beside this one (PYTHONPATH=DIR), the runs interleaved.
Asserts nothing.

    .venv/bin/python benchmarks/render_stages.py [--runs N] [--no-cache] [--imports] [--baseline DIR] [SPEC]
"""

from __future__ import annotations

import os
import sys

# Only `os` and `sys` (already loaded by the interpreter) before a measured run: anything this
# script imported first would be missing from llmkube's imports.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(REPO, "docs", "examples", "05-llama-70b-vllm-endpoint.yaml")

#: (module, function or attribute path in it, stage); wrapped once the module is imported (a class's
#: methods before the class itself is wrapped), where it is defined: `RUN` names the modules that
#: define the run's stages in either checkout (`llmkube.runs` since the run left `llmkube.pipeline`),
#: and a function another module imports is wrapped in its own module before the importer binds it.
#: A stage's own time excludes the stages nested in it and its imports. The run fails when one is
#: missing or the render fails.
RUN = ("llmkube.runs", "llmkube.pipeline")
STAGES = [
    (RUN, "load_inputs", "load_inputs (the rest)"),
    (("llmkube.yamlio",), "read_documents", "read the spec (YAML with marks)"),
    (("llmkube.specs.parse",), "parse_specs", "spec validation (pydantic model build + validate)"),
    (("llmkube.pipeline",), "render_specs", "plan (planner, sizing)"),
    (RUN, "load_profiles", "profiles (read cache + validate)"),
    (("llmkube.render",), "Renderer.render", "template render + re-read"),
    (("llmkube.render",), "Renderer", "jinja2 Environment"),
    (RUN, "Run.findings", "schema check (+ CRD store)"),
    (("llmkube.commands.render",), "_stdout_text", "dump YAML"),
    (RUN, "token_findings", "LK501 (token rule)"),
]


def child(spec: str, no_cache: bool) -> None:
    """One measured run in this process: prints {stage: CPU seconds} as JSON."""
    import importlib.abc
    import json
    import time

    clock = time.process_time
    spent: dict[str, float] = {"python start-up (interpreter, site)": clock()}
    frames: list[list[float]] = [[0.0, 0.0]]  # per open stage: [nested stages' time, imports' time]
    loading = [0]

    def add(name: str, t: float) -> None:
        spent[name] = spent.get(name, 0.0) + t

    class Timed(importlib.abc.MetaPathFinder):
        """Times each outermost module execution and charges it to the open stage."""

        def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
            for finder in sys.meta_path:
                if finder is self:
                    continue
                found = getattr(finder, "find_spec", None)
                spec_ = found(name, path, target) if found else None
                if spec_ is not None:
                    break
            else:
                return None
            loader = spec_.loader
            if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
                return spec_
            real_exec = loader.exec_module

            def exec_module(module):  # type: ignore[no-untyped-def]
                if loading[0]:
                    real_exec(module)
                else:
                    loading[0] += 1
                    t = clock()
                    try:
                        real_exec(module)
                    finally:
                        loading[0] -= 1
                        frames[-1][1] += clock() - t
                install(name)

            try:
                loader.exec_module = exec_module
            except AttributeError:
                pass
            return spec_

    def run_stage(stage, fn, *a, **k):  # type: ignore[no-untyped-def]
        frames.append([0.0, 0.0])
        t = clock()
        try:
            return fn(*a, **k)
        finally:
            dt = clock() - t
            nested, imported = frames.pop()
            add(stage, dt - nested - imported)
            if imported:
                add(f"  imports during: {stage}", imported)
            frames[-1][0] += dt

    def wrap(owner: object, attr: str, stage: str) -> None:
        fn = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        if hasattr(fn, "func") and hasattr(fn, "attrname"):  # a cached_property
            inner = fn.func
            prop = type(fn)(lambda self: run_stage(stage, inner, self))
            prop.__set_name__(owner, attr)
            setattr(owner, attr, prop)
        else:
            setattr(owner, attr, lambda *a, **k: run_stage(stage, fn, *a, **k))

    def install(module: str) -> None:
        """Wrap the stages defined in `module`, once it has run (nested imports too: pipeline loads
        `llmkube.render` only when it renders)."""
        for owners, path, stage in STAGES:
            if module in owners:
                owner: object = sys.modules[module]
                *parts, attr = path.split(".")
                for part in parts:
                    owner = getattr(owner, part, None)
                target = getattr(owner, attr, None)
                home = owner if parts else target
                if target is not None and getattr(home, "__module__", None) == module:
                    wrap(owner, attr, stage)

    sys.meta_path.insert(0, Timed())
    t = clock()
    import llmkube.cli as cli

    add("import llmkube.cli (typer, its click, llmkube.cli)", clock() - t)
    frames[-1][1] = 0.0  # counted in the line above
    real_command = cli.cli_command

    def cli_command(argv):  # type: ignore[no-untyped-def]
        command = run_stage("build the render command (typer → click)", real_command, argv)
        real_parse = command.parse_args
        command.parse_args = lambda ctx, args: run_stage("click parse (typer converts the options: cliconvert, or a TypeAdapter each)", real_parse, ctx, args)
        real_invoke = command.invoke
        command.invoke = lambda ctx: run_stage("the command: main(), settings, the rest", real_invoke, ctx)
        return command

    cli.cli_command = cli_command  # type: ignore[assignment]
    saved = sys.stdout
    sys.stdout = open(os.devnull, "w")
    code: object = 0
    try:
        cli.main(["render", *(["--no-cache"] if no_cache else []), spec])
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.stdout.close()
        sys.stdout = saved
    missing = [stage for *_, stage in STAGES if stage not in spent]
    if code not in (0, None) or missing:
        sys.exit(f"render_stages: the render exited {code}; stages never reached: {missing}")
    if frames[0][1]:
        add("imports outside the stages", frames[0][1])
    spent["total CPU"] = clock()
    print(json.dumps(spent))


#: Third-party packages by their top-level modules; every other module outside llmkube is the standard library.
PACKAGES = {
    "typer (with its vendored click), annotated_doc": ("typer", "annotated_doc"),
    "pydantic, pydantic_core, annotated_types, typing_inspection, typing_extensions": (
        "pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions"),
    "jinja2, markupsafe": ("jinja2", "markupsafe"),
    "PyYAML (libyaml)": ("yaml", "_yaml"),
    "ruamel.yaml": ("ruamel", "_ruamel_yaml"),
    "jsonschema-rs": ("jsonschema_rs",),
}


#: llmkube's modules, in the groups the table shows.
LLMKUBE_GROUPS = {
    "llmkube.specs": "llmkube.specs (the InferenceEndpoint's models)",
    "llmkube.plan": "llmkube.plan (the endpoint planner, sizing)",
    "llmkube.check": "llmkube.check (schemas, CRD store, findings, LK501)",
    "llmkube.profiles": "llmkube.profiles, profile_schema (the profile types; the models on a cache miss)",
    "llmkube.profile_schema": "llmkube.profiles, profile_schema (the profile types; the models on a cache miss)",
    "llmkube.cli": "llmkube.cli, commands, config, options",
    "llmkube.commands": "llmkube.cli, commands, config, options",
    "llmkube.config": "llmkube.cli, commands, config, options",
    "llmkube.options": "llmkube.cli, commands, config, options",
}


def _package(module: str) -> str:
    top = module.split(".")[0]
    if top == "llmkube":
        return LLMKUBE_GROUPS.get(".".join(module.split(".")[:2]), "llmkube: pipeline, yamlio, render, kinds, the rest")
    if top.startswith("__editable__"):
        return "the editable install's finder (site)"
    return next((name for name, tops in PACKAGES.items() if top in tops), "the standard library")


def _interleaved(commands: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, list[str]]:
    """Each command's stdout and stderr texts: one untimed run each (bytecode, side caches), then
    `runs` rounds A B A B ..., so that a busy machine slows every checkout alike."""
    import subprocess

    out: dict[str, list[str]] = {label: [] for label in commands}
    for cmd, env in commands.values():  # cwd: the empty HOME, or `python -m llmkube` would import the checkout it runs in
        subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=env["HOME"])
    for _ in range(runs):
        for label, (cmd, env) in commands.items():
            proc = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=env["HOME"])
            out[label].append(proc.stdout + "\0" + proc.stderr)
    return out


def _per_package(texts: list[str]) -> dict[str, float]:
    """Per package, the sum over its modules of each one's minimum self time (ms) over the runs."""
    import re

    best: dict[str, int] = {}
    for text in texts:
        for m in re.finditer(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", text):
            us, module = int(m.group(1)), m.group(2)
            best[module] = min(best.get(module, us), us)
    out: dict[str, float] = {}
    for module, us in best.items():
        out[_package(module)] = out.get(_package(module), 0.0) + us / 1000
    return out


def imports(spec: str, runs: int, envs: dict[str, dict[str, str]]) -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from perf import TYPER_FLOOR

    commands = {label: ([sys.executable, "-X", "importtime", "-m", "llmkube", "render", spec], env) for label, env in envs.items()}
    commands["floor"] = ([sys.executable, "-X", "importtime", "-c", TYPER_FLOOR], next(iter(envs.values())))
    tables = {label: _per_package(texts) for label, texts in _interleaved(commands, runs).items()}
    floor = tables.pop("floor")
    labels = list(tables)
    head = "".join(f"{label[:12]:>14}" for label in labels)
    print(f"{'package: import self time, ms (min of ' + str(runs) + ' runs per module)':80}{head}{'floor':>10}")
    names = sorted(set(floor).union(*tables.values()), key=lambda n: (n.startswith("llmkube"), -tables[labels[0]].get(n, 0.0)))
    for name in names:
        cells = "".join(f"{tables[label].get(name, 0.0):14.1f}" for label in labels)
        print(f"{name:80}{cells}{floor.get(name, 0.0):10.1f}")
    own = "".join(f"{sum(v for k, v in tables[label].items() if k.startswith('llmkube')):14.1f}" for label in labels)
    print(f"{'llmkube, all its modules':80}{own}")
    every = "".join(f"{sum(tables[label].values()):14.1f}" for label in labels)
    print(f"{'all imports':80}{every}{sum(floor.values()):10.1f}")


def stages(spec: str, runs: int, no_cache: bool, envs: dict[str, dict[str, str]]) -> None:
    import json
    import statistics

    cmd = [sys.executable, os.path.abspath(__file__), "--child", spec, *(["--no-cache"] if no_cache else [])]
    texts = _interleaved({label: (cmd, env) for label, env in envs.items()}, runs)
    results = {label: [json.loads(t.split("\0")[0]) for t in ts] for label, ts in texts.items()}
    labels = list(results)
    names: list[str] = []
    for label in labels:
        for r in results[label]:
            names += [n for n in r if n not in names and n != "total CPU"]
    head = "".join(f"{label[:12] + ' median':>20}{'min':>7}" for label in labels)
    print(f"{'stage: CPU ms (' + str(runs) + ' runs)':72}{head}")
    accounted = {label: 0.0 for label in labels}
    for name in names:
        cells = ""
        for label in labels:
            values = [r.get(name, 0.0) * 1000 for r in results[label]]
            accounted[label] += statistics.median(values)
            cells += f"{statistics.median(values):20.1f}{min(values):7.1f}"
        print(f"{name:72}{cells}")
    totals = {label: statistics.median(r["total CPU"] for r in results[label]) * 1000 for label in labels}
    print(f"{'the rest (total less the medians above)':72}" + "".join(f"{totals[label] - accounted[label]:20.1f}{'':7}" for label in labels))
    print(f"{'total CPU':72}" + "".join(f"{totals[label]:20.1f}{min(r['total CPU'] for r in results[label]) * 1000:7.1f}" for label in labels))


def main() -> None:
    import argparse
    import tempfile
    from pathlib import Path

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec", nargs="?", default=str(SPEC))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--imports", action="store_true", help="per-package import times instead of the stages")
    ap.add_argument("--baseline", metavar="DIR", help="another llmkube checkout, measured in the same run (interleaved)")
    args = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        base.update(HOME=tmp, KUBECACHEDIR=str(Path(tmp) / "kube"), PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        checkouts = {"this checkout": REPO, **({"baseline": args.baseline} if args.baseline else {})}
        envs = {
            label: {**base, "PYTHONPATH": os.pathsep.join(p for p in (str(Path(repo).resolve()), base.get("PYTHONPATH")) if p)}
            for label, repo in checkouts.items()
        }
        if args.imports:
            imports(args.spec, args.runs, envs)
        else:
            stages(args.spec, args.runs, args.no_cache, envs)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], "--no-cache" in sys.argv[3:])
    else:
        main()
