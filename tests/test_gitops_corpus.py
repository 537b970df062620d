"""benchmarks/gitops_corpus.py: the plain web-service corpus perf.py's `gitops` scenario validates."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter

import yaml

from llmkube.cli import app
from tests.support.paths import REPO

spec = importlib.util.spec_from_file_location("gitops_corpus", REPO / "benchmarks" / "gitops_corpus.py")
assert spec and spec.loader
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)


def test_the_corpus_is_deterministic_and_has_the_count_asked(tmp_path):
    a = corpus.gitops(95, tmp_path / "a")
    b = corpus.gitops(95, tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    docs = [d for p in a for d in yaml.safe_load_all(p.read_text())]
    assert len(docs) == 95 and len(a) == 10
    kinds = Counter(d["kind"] for d in docs)
    assert {"Service", "ConfigMap", "Role", "RoleBinding", "HorizontalPodAutoscaler", "PodDisruptionBudget", "CronJob"} <= set(kinds)
    assert kinds["Deployment"] + kinds["StatefulSet"] == 10


def test_every_document_is_valid_and_no_rule_fires(tmp_path):
    """perf.py compares the tools on a corpus both find clean; a schema error here would time error paths."""
    from typer.testing import CliRunner

    corpus.gitops(200, tmp_path / "g")
    result = CliRunner().invoke(app, ["validate", "--no-cache", "-o", "json", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == {"checked": 200, "errors": 0, "findings": []}
