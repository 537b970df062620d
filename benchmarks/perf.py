"""llmkube's speed beside its peers, measured in the same run, interleaved (A B A B ...).

Scenarios (each prints CPU-time medians — user + system of the child process, steadier than wall time
on a shared machine —, wall medians, the ratio to the peer, and peak RSS):

- `help`:     `llmkube --help`                              vs `python -c pass` (the same interpreter)
- `render`:   cold `llmkube render` of one spec              vs `kubectl kustomize` on that spec's output; also
              with `--no-cache` (no side caches: a first run) and the import floor (typer, pydantic, jinja2;
              and as a program: a one-option typer CLI that also imports jinja2)
- `core N`:   `llmkube validate` of N core-kind documents     vs kubeconform (same schemas) and the
              `kubernetes-validate` CLI; cold (`--no-cache`) and warm (the side caches in use)
- `mixed N`:  `llmkube validate --crds` of N mixed documents (upstream CRD examples + rendered examples):
              schemas, CEL and every rule, cold and warm     vs kubeconform (schemas only)
- `gitops N`: `llmkube validate` of N documents of plain web services (benchmarks/gitops_corpus.py: full
              pod templates, RBAC, HPAs, PDBs, Ingresses, CronJobs; no model server, nothing taken from
              the repository's examples), cold and warm   vs kubeconform and the `kubernetes-validate` CLI
- `specs N`:  `llmkube validate` of N llmkube specs (plan, render, check)
- `shape NAME N`: `llmkube validate` of N documents in one of benchmarks/shapes_corpus.py's shapes (one
              document per file, one file, Helm or kustomize output, `kind: List`, JSON, MiB-sized
              ConfigMaps, anchors, CRLF, a BOM, many CRD kinds, ...), cold and warm   vs kubeconform;
              `shape all N` runs every shape in turn
- `render-each`: `llmkube render` of each spec of docs/examples alone, and of all of them with `--crds`,
              vs `kubectl kustomize` on the same output
- `linear`:   `mixed` at 100, 1,000 and 10,000 documents and `specs` at 10, 100 and 1,000 (add
              `--large` for 100,000 documents and 10,000 specs): time per document, the time per document
              beyond the previous size (`marginal_ms`: flat when linear), and peak RSS.

`--baseline DIR` adds another llmkube checkout (run with PYTHONPATH=DIR) as a column, to measure a change.
Corpora are built by benchmarks/perf_corpus.py into a temporary directory; the user cache (HOME) is an
empty temporary directory; bytecode is compiled once into a private PYTHONPYCACHEPREFIX (as an installed
package has it) even when PYTHONDONTWRITEBYTECODE is set. Asserts nothing.

Usage: .venv/bin/python benchmarks/perf.py [--runs N] [--baseline DIR] [--large] [SCENARIO [NAME] [N]]...
       (no scenario: help, render, core 2000, mixed 2000, specs 200)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gitops_corpus  # noqa: E402
import perf_corpus  # noqa: E402
import shapes_corpus  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CRDS = perf_corpus.CRDS
KUBECONFORM = Path.home() / ".cache" / "llmkube-test" / "kubeconform-v0.7.0" / "kubeconform"
#: The imports a render cannot do without, and typer's argument parsing (a pydantic TypeAdapter per option).
FLOOR = "import typer, pydantic, jinja2; from pydantic import TypeAdapter; TypeAdapter(int)"
#: The same floor as a program: a typer CLI parsing one argument and one option (typer builds a TypeAdapter
#: for each, through its own pydantic modules, with pydantic's plugin search off), and jinja2.
TYPER_FLOOR = """
import jinja2, typer
app = typer.Typer()
@app.command()
def render(path: str, n: int = 1) -> None:
    pass
app(["spec.yaml", "--n", "2"], standalone_mode=False)
"""


@dataclass
class Sample:
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    rc: int = 0


def measure(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float, float, int]:
    """One run: CPU seconds (user + sys), wall seconds, peak RSS in MB, exit code."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd or tempfile.gettempdir())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, proc.returncode


def in_child(build, *args) -> None:
    """Run `build(*args)` (a corpus writer) in a forked child, so this process stays small.

    A child's peak RSS (`ru_maxrss`) starts from the high-water mark of the address space it
    replaced at exec — this process's, when it spawns the child (fork or vfork alike) — so a
    benchmark that had built a 100,000-document corpus in itself reported every later child as at
    least that large (578 MB for a 10-spec run).
    """
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            build(*args)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"building the corpus failed: {build.__name__}{args}")


def compare(commands: dict[str, tuple[list[str], dict[str, str] | None]], runs: int) -> dict[str, Sample]:
    """Run each command `runs` times, interleaved, after one untimed warm-up each (file cache)."""
    out = {name: Sample() for name in commands}
    for name, (cmd, env) in commands.items():
        measure(cmd, env)
    for _ in range(runs):
        for name, (cmd, env) in commands.items():
            cpu, wall, rss, rc = measure(cmd, env)
            s = out[name]
            s.cpu.append(cpu)
            s.wall.append(wall)
            s.rss_mb.append(rss)
            s.rc = rc
    return out


def report(title: str, samples: dict[str, Sample], peer: str, docs: int = 0) -> dict[str, dict[str, float]]:
    print(f"\n## {title}")
    head = f"{'':34}{'CPU s':>9}{'wall s':>9}{'× ' + peer:>14}{'peak MB':>9}"
    if docs:
        head += f"{'docs/s':>10}"
    print(head)
    base = statistics.median(samples[peer].cpu)
    rows = {}
    for name, s in samples.items():
        cpu, wall = statistics.median(s.cpu), statistics.median(s.wall)
        row = f"{name:34}{cpu:9.3f}{wall:9.3f}{cpu / base:14.2f}{max(s.rss_mb):9.0f}"
        if docs:
            row += f"{docs / cpu:10,.0f}"
        print(row + (f"   (exit {s.rc})" if s.rc not in (0, 1) else ""))
        rows[name] = {"cpu": cpu, "wall": wall, "ratio": cpu / base, "rss_mb": max(s.rss_mb)}
    return rows


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.home = tmp / "home"  # an empty user cache: no pulled CRDs, no kubectl cache
        self.home.mkdir()
        # Bytecode is written (as an installed package has it), into a private prefix so that no checkout
        # is touched; the untimed warm-up run of each command fills it.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env = {**env, "HOME": str(self.home), "KUBECACHEDIR": str(self.home / "kube"), "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
        self._seed: list[dict] | None = None

    def llmkube(self, *args: str) -> dict[str, tuple[list[str], dict[str, str] | None]]:
        cmds: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "llmkube": ([sys.executable, "-m", "llmkube", *args], {**self.env, "PYTHONPATH": str(REPO)})
        }
        if self.args.baseline:
            base = str(Path(self.args.baseline).resolve())
            cmds["llmkube (baseline)"] = ([sys.executable, "-m", "llmkube", *args], {**self.env, "PYTHONPATH": base})
        return cmds

    def warm(self, *args: str) -> dict[str, tuple[list[str], dict[str, str] | None]]:
        """This checkout with its side caches in use (a pre-commit hook's second run on): the untimed
        first run fills them in the benchmark's own empty HOME. With `--baseline`, that checkout too: the
        translated-schema entries are keyed by the translating code, so the two do not read each other's."""
        cmds = {"llmkube (warm cache)": ([sys.executable, "-m", "llmkube", *args], {**self.env, "PYTHONPATH": str(REPO)})}
        if self.args.baseline:
            base = str(Path(self.args.baseline).resolve())
            cmds["llmkube (warm cache, baseline)"] = ([sys.executable, "-m", "llmkube", *args], {**self.env, "PYTHONPATH": base})
        return cmds

    def seed(self) -> list[dict]:
        if self._seed is None:
            self._seed = perf_corpus.seed_documents()
        return self._seed

    def help(self) -> dict:
        cmds = {**self.llmkube("--help"), "python -c pass": ([sys.executable, "-c", "pass"], self.env)}
        return report("--help", compare(cmds, self.args.runs), "python -c pass")

    def render(self) -> dict:
        spec = REPO / "docs" / "examples" / "05-llama-70b-vllm-endpoint.yaml"
        kdir = self.tmp / "kustomize"
        kdir.mkdir(exist_ok=True)
        out = subprocess.run([sys.executable, "-m", "llmkube", "render", str(spec)], capture_output=True, text=True, check=True, env=self.env)
        (kdir / "all.yaml").write_text(out.stdout)
        (kdir / "kustomization.yaml").write_text("resources: [all.yaml]\n")
        cmds = {
            **self.llmkube("render", str(spec)),
            # the same without the side caches (parsed profiles, compiled templates, core definitions): a first run
            "llmkube --no-cache": ([sys.executable, "-m", "llmkube", "render", "--no-cache", str(spec)], {**self.env, "PYTHONPATH": str(REPO)}),
            # what no render can avoid: the interpreter and the imports of typer (with the pydantic it parses
            # arguments with) and jinja2
            "floor: typer+pydantic+jinja2": ([sys.executable, "-c", FLOOR], self.env),
            "floor: a typer CLI + jinja2": ([sys.executable, "-c", TYPER_FLOOR], self.env),
            "kubectl kustomize": (["kubectl", "kustomize", str(kdir)], self.env),
        }
        return report(f"cold render of one spec ({spec.name})", compare(cmds, self.args.runs), "kubectl kustomize")

    def core(self, n: int) -> dict:
        where = self.tmp / f"core{n}"
        files = perf_corpus.core(n, where, self.seed())
        cmds = self.llmkube("validate", "--no-cache", str(where))
        cmds |= self.warm("validate", str(where))
        cmds |= self.kubeconform(where, files)
        kv = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or shutil.which("kubernetes-validate")
        if kv:
            cmds["kubernetes-validate CLI"] = ([kv, "--strict", "--quiet", "-k", "1.32.0", *map(str, files)], self.env)
        peer = "kubeconform" if "kubeconform" in cmds else "llmkube"
        return report(f"validate {n:,} core-kind documents", compare(cmds, self.args.runs), peer, n)

    def gitops(self, n: int) -> dict:
        where = self.tmp / f"gitops{n}"
        files = gitops_corpus.gitops(n, where)
        cmds = self.llmkube("validate", "--no-cache", str(where))
        cmds |= self.warm("validate", str(where))
        cmds |= self.kubeconform(where, files)
        kv = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or shutil.which("kubernetes-validate")
        if kv and n <= 2000:  # ~75 documents/s: larger corpora would take minutes
            cmds["kubernetes-validate CLI"] = ([kv, "--strict", "--quiet", "-k", "1.32.0", *map(str, files)], self.env)
        peer = "kubeconform" if "kubeconform" in cmds else "llmkube"
        return report(f"validate {n:,} documents of plain web services", compare(cmds, self.args.runs), peer, n)

    def mixed(self, n: int) -> dict:
        where = self.tmp / f"mixed{n}"
        files = perf_corpus.mixed(n, where, self.seed())
        cmds = self.llmkube("validate", "--no-cache", "--crds", str(CRDS), str(where))
        cmds |= self.warm("validate", "--crds", str(CRDS), str(where))
        cmds |= self.kubeconform(where, files, with_crds=True)
        peer = "kubeconform" if "kubeconform" in cmds else "llmkube"
        return report(f"validate {n:,} mixed documents with CRDs (llmkube: + CEL + rules)", compare(cmds, self.args.runs), peer, n)

    def specs(self, n: int) -> dict:
        where = self.tmp / f"specs{n}"
        perf_corpus.specs(n, where)
        cmds = self.llmkube("validate", "--no-cache", "--crds", str(CRDS), str(where))
        return report(f"validate {n:,} llmkube specs (plan, render, check)", compare(cmds, self.args.runs), "llmkube", n)

    def shape(self, name: str, n: int) -> dict:
        if name == "all":
            return {s: self.shape(s, n) for s in shapes_corpus.SHAPES}
        where = self.tmp / f"shape-{name}{n}"
        in_child(shapes_corpus.SHAPES[name], n, where)
        files = sorted(p for p in where.rglob("*") if p.is_file())
        crds = where.with_name(where.name + "-crds")
        extra = ["--crds", str(crds)] if crds.is_dir() else []
        cmds = self.llmkube("validate", "--no-cache", *extra, str(where))
        cmds |= self.warm("validate", *extra, str(where))
        cmds |= self.kubeconform(where, files, crd_dir=crds if crds.is_dir() else None)
        peer = "kubeconform" if "kubeconform" in cmds else "llmkube"
        rows = report(f"validate {n:,} documents, shape {name!r} ({len(files):,} files)", compare(cmds, self.args.runs), peer, n)
        shutil.rmtree(where)
        return rows

    def render_each(self) -> dict:
        out = {}
        examples = sorted((REPO / "docs" / "examples").glob("*.yaml"))
        for spec in [*examples, None]:
            args = ["render", str(spec)] if spec else ["render", "--crds", str(CRDS), str(REPO / "docs" / "examples")]
            label = spec.name if spec else "all examples --crds"
            kdir = self.tmp / f"kustomize-{label.replace(' ', '_')}"
            kdir.mkdir(exist_ok=True)
            done = subprocess.run([sys.executable, "-m", "llmkube", *args], capture_output=True, text=True, env={**self.env, "PYTHONPATH": str(REPO)})
            (kdir / "all.yaml").write_text(done.stdout)
            (kdir / "kustomization.yaml").write_text("resources: [all.yaml]\n")
            cmds = {**self.llmkube(*args), "kubectl kustomize": (["kubectl", "kustomize", str(kdir)], self.env)}
            out[label] = report(f"render {label}", compare(cmds, self.args.runs), "kubectl kustomize")
        return out

    def kubeconform(self, where: Path, files: list[Path], with_crds: bool = False, crd_dir: Path | None = None) -> dict:
        if not os.access(KUBECONFORM, os.X_OK):
            print(f"(kubeconform not found at {KUBECONFORM}: build it with scripts/kube-test-server kubeconform)")
            return {}
        import kubeconform_peer

        from llmkube.check.crdstore import CRDStore

        root = where.with_name(where.name + "-schemas")

        def write() -> None:  # in a child: the corpus read here would raise every later child's peak RSS
            docs = [(f, d) for f in files for d in perf_corpus._load_all(f.read_text(encoding="utf-8-sig"))]
            docs += [(f, item) for f, d in list(docs) if d.get("kind") == "List" for item in d.get("items") or []]
            store = CRDStore.load([crd_dir or CRDS], include_cache=False)
            (root / "locations.json").parent.mkdir(parents=True, exist_ok=True)
            (root / "locations.json").write_text(json.dumps(kubeconform_peer.write_schemas(root, docs, store)))

        in_child(write)
        locations = json.loads((root / "locations.json").read_text())
        cmd = [str(KUBECONFORM), "-strict", "-summary", "-n", str(os.cpu_count() or 1)]
        for loc in locations:
            cmd += ["-schema-location", loc]
        return {"kubeconform": ([*cmd, str(where)], self.env)}

    def linear(self) -> dict:
        out = {}
        sizes = (100, 1_000, 10_000, 100_000) if self.args.large else (100, 1_000, 10_000)
        print("\n## linearity: validate --crds of mixed documents")
        print(f"{'docs':>8}{'CPU s':>9}{'ms/doc':>9}{'beyond':>9}{'peak MB':>9}")
        prev: tuple[int, float] | None = None
        for n in sizes:
            where = self.tmp / f"lin-mixed{n}"
            in_child(perf_corpus.mixed, n, where, self.seed())
            s = compare(self.llmkube("validate", "--no-cache", "--crds", str(CRDS), str(where)), max(1, self.args.runs // 2))["llmkube"]
            cpu = statistics.median(s.cpu)
            extra = marginal_ms(prev, (n, cpu))
            print(f"{n:>8,}{cpu:9.2f}{1000 * cpu / n:9.3f}{'' if extra is None else f'{extra:.3f}':>9}{max(s.rss_mb):9.0f}")
            out[f"mixed {n}"] = {"cpu": cpu, "rss_mb": max(s.rss_mb), "ms_beyond_previous": extra}
            prev = (n, cpu)
            shutil.rmtree(where)
        print("\n## linearity: validate of llmkube specs")
        print(f"{'specs':>8}{'CPU s':>9}{'ms/spec':>9}{'beyond':>9}{'peak MB':>9}")
        prev = None
        for n in (10, 100, 1_000, 10_000) if self.args.large else (10, 100, 1_000):
            where = self.tmp / f"lin-specs{n}"
            in_child(perf_corpus.specs, n, where)
            s = compare(self.llmkube("validate", "--no-cache", "--crds", str(CRDS), str(where)), max(1, self.args.runs // 2))["llmkube"]
            cpu = statistics.median(s.cpu)
            extra = marginal_ms(prev, (n, cpu))
            print(f"{n:>8,}{cpu:9.2f}{1000 * cpu / n:9.3f}{'' if extra is None else f'{extra:.3f}':>9}{max(s.rss_mb):9.0f}")
            out[f"specs {n}"] = {"cpu": cpu, "rss_mb": max(s.rss_mb), "ms_beyond_previous": extra}
            prev = (n, cpu)
            shutil.rmtree(where)
        return out


def marginal_ms(prev: tuple[int, float] | None, cur: tuple[int, float]) -> float | None:
    """Milliseconds of CPU per item beyond the previous size: (cpu - cpu_prev) / (n - n_prev).

    The figure that says whether a run is linear: ms/item falls with size while start-up is
    amortised, but a linear run's cost per *added* item stays put (a quadratic one's grows with n).
    None for the first size."""
    if prev is None or cur[0] <= prev[0]:
        return None
    return 1000 * (cur[1] - prev[1]) / (cur[0] - prev[0])


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    load = Path("/proc/loadavg").read_text().split()[:3]
    return f"{os.cpu_count()} cores ({cpu}), load {' '.join(load)}, Python {sys.version.split()[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="another llmkube checkout to compare with")
    parser.add_argument("--large", action="store_true", help="linear: add 100,000 documents and 10,000 specs")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("scenario", nargs="*")
    args = parser.parse_args()
    plan: list[tuple[str, int, str]] = []
    words = args.scenario or ["help", "render", "core", "2000", "mixed", "2000", "specs", "200"]
    for w in words:
        if w.isdigit() and plan:
            plan[-1] = (plan[-1][0], int(w), plan[-1][2])
        elif plan and plan[-1][0] == "shape" and not plan[-1][2]:
            plan[-1] = ("shape", plan[-1][1], w)
        else:
            plan.append((w.replace("-", "_"), {"core": 2000, "gitops": 5000, "mixed": 2000, "specs": 200, "shape": 5000}.get(w, 0), ""))
    print(f"machine: {machine()}")
    figures = {}
    with tempfile.TemporaryDirectory(prefix="llmkube-perf-") as tmp:
        bench = Bench(args, Path(tmp))
        for name, n, what in plan:
            method = getattr(bench, name)
            if what:
                figures[f"{name} {what} {n}"] = method(what, n)
            else:
                figures[f"{name} {n}" if n else name] = method(n) if n else method()
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
