"""`validate -j N`: the schema and CEL checks in forked workers, the rules on the whole run beside
them. The report, its order and the exit code are the same for every N, in every format, with
files that do not parse and with findings that need objects from other files."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from llmkube import parallel, pipeline
from llmkube.options import Options
from tests.support.cli import llmkube
from tests.support.paths import EXAMPLES, RULE_CASES, VALIDATE_CASES

QUEUES = """\
apiVersion: kueue.x-k8s.io/v1beta1
kind: ClusterQueue
metadata: {name: gpus}
spec:
  namespaceSelector: {}
  resourceGroups:
    - coveredResources: [nvidia.com/gpu]
      flavors:
        - name: h100
          resources: [{name: nvidia.com/gpu, nominalQuota: 8}]
---
apiVersion: kueue.x-k8s.io/v1beta1
kind: LocalQueue
metadata: {name: team, namespace: ml}
spec: {clusterQueue: gpus}
"""

JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: NAME
  namespace: ml
  labels: {kueue.x-k8s.io/queue-name: QUEUE}
spec:
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: train
          image: nvcr.io/nvidia/pytorch:24.07-py3
          resources: {limits: {nvidia.com/gpu: 8}}
"""


def corpus(root: Path) -> Path:
    """Rule cases and validate cases (each its own file), the examples, a job whose queues are in
    another file (over quota: LK203), one naming a queue no file has (LK206), files that do not
    parse, and a spec that is invalid."""
    out = root / "tree"
    for code in ("LK101", "LK203", "LK205", "LK206", "LK209", "LK401", "LK501", "LK601", "LK605"):
        for kind in ("fail", "pass"):
            for f in sorted((RULE_CASES / code / kind).glob("*.yaml")):
                dest = out / code / kind / f.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, dest)
    shutil.copytree(VALIDATE_CASES, out / "validate")
    for f in sorted(EXAMPLES.glob("0[1-5]*.yaml")):
        shutil.copy(f, out / f.name)
    (out / "queues").mkdir()
    (out / "queues" / "queues.yaml").write_text(QUEUES)
    (out / "jobs").mkdir()
    (out / "jobs" / "over-quota.yaml").write_text(JOB.replace("NAME", "big").replace("QUEUE", "team"))
    (out / "jobs" / "no-queue.yaml").write_text(JOB.replace("NAME", "lost").replace("QUEUE", "teem"))
    (out / "broken").mkdir()
    (out / "broken" / "syntax.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n")
    (out / "broken" / "tab.yaml").write_text("apiVersion: v1\nkind: Pod\n\tmetadata: {}\n")
    (out / "broken" / "bad-spec.yaml").write_text(
        "apiVersion: llmkube.dev/v1alpha1\nkind: InferenceEndpoint\nmetadata: {name: x}\nspec: {model: nope, gpus: lots}\n"
    )
    return out


@pytest.mark.parametrize("fmt", ["json", *(pytest.param(f, marks=pytest.mark.slow) for f in ("text", "sarif", "junit", "github"))])
def test_the_report_is_the_same_for_one_and_two_processes(tmp_path: Path, fmt: str, upstream_crds: Path):
    tree = corpus(tmp_path)
    runs = {}
    for jobs in ("1", "2"):
        report = tmp_path / f"report-{jobs}.json"
        runs[jobs] = llmkube("validate", "--crds", str(upstream_crds), "--no-cache", "-o", fmt, "-j", jobs,
                             "--output-file", str(report), str(tree), env={"HOME": str(tmp_path)})
        runs[jobs + "file"] = report.read_text()
    one, two = runs["1"], runs["2"]
    assert one.returncode == 2  # the files that do not parse
    assert (two.returncode, two.stdout, two.stderr) == (one.returncode, one.stdout, one.stderr)
    assert runs["2file"] == runs["1file"]
    for code in ("LK203", "LK206", "LK209", "LK501"):
        assert code in one.stdout
    assert "syntax.yaml" in one.stderr and "bad-spec.yaml" in one.stderr


@pytest.mark.slow  # ~7 s; the quick suite keeps the -j1/-j2 json comparison
def test_any_number_of_workers_finds_what_one_process_finds(upstream_crds: Path):
    options = dataclasses.replace(Options(), crd_dirs=(upstream_crds,), use_cache=False)
    run, _ = pipeline.run_partial([str(upstream_crds / "examples"), str(EXAMPLES), str(RULE_CASES / "LK401")], options)
    targets = run.targets
    one = pipeline.check(targets, options, crds=run.crds)
    for jobs in (2, 3, len(targets) + 5):
        assert pipeline.check(targets, dataclasses.replace(options, jobs=jobs), crds=run.crds) == one
    assert any(f.code.startswith("LK") for f in one) and any(not f.code.startswith("LK") for f in one)


def test_chunks_cover_the_run_in_order():
    for n in (0, 1, 5, 10, 11):
        for parts in (1, 2, 3, 8):
            bounds = parallel.chunks(n, parts)
            assert [i for a, b in bounds for i in range(a, b)] == list(range(n))
            sizes = [b - a for a, b in bounds]
            assert max(sizes) - min(sizes) <= 1


def test_auto_stays_in_one_process_for_a_small_run():
    assert parallel.auto_jobs(10) == 1
    assert 1 <= parallel.auto_jobs(100_000) <= parallel.AUTO_MAX_JOBS
