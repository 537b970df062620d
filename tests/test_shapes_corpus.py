"""benchmarks/shapes_corpus.py: the corpora perf.py's `shape` scenario validates beside kubeconform."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from llmkube.cli import app
from tests.support.paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
spec = importlib.util.spec_from_file_location("shapes_corpus", REPO / "benchmarks" / "shapes_corpus.py")
assert spec and spec.loader
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)

#: Shapes llmkube does not find clean, and why: objects of kinds no CRD defines have no schema.
NOT_CLEAN = {"unknown"}


@pytest.mark.parametrize("shape", sorted(corpus.SHAPES))
def test_each_shape_is_deterministic_and_valid(shape, tmp_path):
    """perf.py times the tools on corpora both find clean: a finding here would time error paths."""
    from typer.testing import CliRunner

    n = 40
    a = corpus.SHAPES[shape](n, tmp_path / "a")
    b = corpus.SHAPES[shape](n, tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    args = ["validate", "--no-cache", "-o", "json"]
    crds = tmp_path / "a-crds"
    if crds.is_dir():
        args += ["--crds", str(crds)]
    result = CliRunner().invoke(app, [*args, str(tmp_path / "a")])
    report = json.loads(result.stdout)
    if shape in NOT_CLEAN:
        assert result.exit_code == 1 and report["errors"] > 0
        return
    assert result.exit_code == 0, result.output
    assert report == {"checked": n, "errors": 0, "findings": []}


def test_the_shapes_have_what_they_say(tmp_path):
    text = lambda shape: "".join(p.read_bytes().decode("utf-8") for p in corpus.SHAPES[shape](30, tmp_path / shape))  # noqa: E731
    assert "&id" in text("anchors") and "*id" in text("anchors")
    assert "<<: *labels" in text("merge") and "<<: *labels" in text("single-merge")
    assert "# Source: " in text("helm") and "\r\n" in text("crlf") and text("bom").startswith("\ufeff")
    assert len(corpus.perdoc(30, tmp_path / "p")) == 30 and len(corpus.single(30, tmp_path / "s")) == 1
