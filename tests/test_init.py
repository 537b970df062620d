"""`llmkube init`: commented starter specs that render clean and validate against the upstream CRDs."""

from __future__ import annotations

import re

import pytest

from llmkube.starters import STARTERS
from tests.support.cli import load_all, llmkube
from tests.support.paths import REPO

#: What a starter renders with: a Quota names a Fleet's pool, so the two render together.
WITH = {"quota": ["fleet"]}


@pytest.mark.parametrize("kind", list(STARTERS))
def test_starter_renders_and_validates_clean(kind, upstream_crds, tmp_path):
    files = []
    for name in [*WITH.get(kind, []), kind]:
        out = llmkube("init", name, "-o", str(tmp_path / f"{name}.yaml"))
        assert out.returncode == 0, out.stderr
        files.append(str(tmp_path / f"{name}.yaml"))
    crds = ["--crds", str(upstream_crds), "--no-cache"]
    rendered = llmkube("render", *files, *crds)
    assert rendered.returncode == 0, rendered.stderr
    assert "warning" not in rendered.stderr and "error" not in rendered.stderr
    assert load_all(rendered.stdout)
    checked = llmkube("validate", *files, *crds)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"\d+ objects? checked: 0 errors, 0 warnings", checked.stdout + checked.stderr)


@pytest.mark.parametrize("kind", list(STARTERS))
def test_starter_comments_point_at_the_reference_of_its_kind(kind):
    """The link names an existing section of docs/spec-reference.md, and every field set under
    spec: carries a comment or sits under one that does."""
    out = llmkube("init", kind)
    assert out.returncode == 0
    text = out.stdout
    (doc,) = load_all(text)
    anchor = re.search(r"docs/spec-reference\.md#(\S+)", text)
    assert anchor and anchor[1] == doc["kind"].lower()
    assert f"\n## {doc['kind']}\n" in (REPO / "docs" / "spec-reference.md").read_text()
    reference = (REPO / "docs" / "spec-reference.md").read_text()
    for key in doc["spec"]:
        assert f"`spec.{key}`" in reference, key
    uncommented = [line for line in text.splitlines() if re.match(r"^  \w+:", line) and "#" not in line and not line.endswith(":")]
    assert uncommented == []


def test_init_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "job.yaml"
    target.write_text("mine\n")
    out = llmkube("init", "training", "-o", str(target))
    assert out.returncode == 2
    assert "exists" in out.stderr and "--force" in out.stderr
    assert target.read_text() == "mine\n"
    forced = llmkube("init", "training", "-o", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert target.read_text() == llmkube("init", "training").stdout


def test_init_unknown_kind_is_a_usage_error():
    out = llmkube("init", "trainingjob")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
