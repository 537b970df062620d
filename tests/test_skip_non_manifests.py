"""`validate --skip-non-manifests` (what the pre-commit hooks pass): files that are not Kubernetes
manifests or llmkube specs are skipped, not errors; manifests are checked as ever. The repository of
mixed YAML is tests/cases/mixed-repo; test_precommit.py runs the real pre-commit over it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmkube.manifestfiles import skip_reason, split
from tests.support.cli import llmkube
from tests.support.paths import REPO

MIXED = REPO / "tests" / "cases" / "mixed-repo"
MANIFESTS = ["deploy/finetune.yaml", "deploy/job.yaml"]
NOT_MANIFESTS = {
    "base/kustomization.yaml": "kustomization",
    "docker-compose.yml": "Compose",
    "charts/web/templates/deployment.yaml": "Helm template",
    "charts/web/Chart.yaml": "no document with apiVersion and kind",
    "charts/web/values.yaml": "no document with apiVersion and kind",
    "package.json": "no document with apiVersion and kind",
    "mkdocs.yml": "no document with apiVersion and kind",
    ".github/workflows/ci.yaml": "no document with apiVersion and kind",
}


def test_every_file_of_the_mixed_repo_is_sorted_as_expected():
    for name in MANIFESTS:
        assert skip_reason(str(MIXED / name), (MIXED / name).read_text(encoding="utf-8")) is None, name
    for name, why in NOT_MANIFESTS.items():
        reason = skip_reason(str(MIXED / name), (MIXED / name).read_text(encoding="utf-8"))
        assert reason is not None and why in reason, name


@pytest.mark.parametrize("name", ["compose.yaml", "compose.override.yml", "docker-compose.prod.yaml", "Kustomization"])
def test_names_alone_decide_for_compose_and_kustomize(tmp_path, name):
    f = tmp_path / name
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", encoding="utf-8")
    assert skip_reason(str(f), f.read_text(encoding="utf-8")) is not None


def test_what_is_not_skipped(tmp_path):
    # a manifest with a template-like value outside a chart is still a manifest
    cm = tmp_path / "cm.yaml"
    cm.write_text('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {t: "{{ not helm }}"}\n', encoding="utf-8")
    assert skip_reason(str(cm), cm.read_text(encoding="utf-8")) is None
    # broken YAML is reported, not skipped; one document with apiVersion and kind makes a manifest file
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n", encoding="utf-8")
    assert skip_reason(str(broken), broken.read_text(encoding="utf-8")) is None
    both = tmp_path / "both.yaml"
    both.write_text("name: x\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n", encoding="utf-8")
    assert skip_reason(str(both), both.read_text(encoding="utf-8")) is None


def test_split_expands_directories():
    kept, skipped = split([str(MIXED)])
    assert sorted(Path(k).relative_to(MIXED).as_posix() for k in kept) == MANIFESTS
    assert len(skipped) == len(NOT_MANIFESTS) - 1  # .github is hidden in a directory walk


def test_validate_skips_and_checks_the_rest(tmp_path, upstream_crds):
    files = [*MANIFESTS, *NOT_MANIFESTS]
    out = llmkube("-v", "validate", "--skip-non-manifests", "--crds", str(upstream_crds), *files, cwd=MIXED)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 objects checked: 0 errors" in out.stdout
    for name in NOT_MANIFESTS:
        assert f"skipped {name}:" in out.stderr
    # without the option the same files are errors
    plain = llmkube("validate", "--crds", str(upstream_crds), *files, cwd=MIXED)
    assert plain.returncode == 2
    # a bad manifest among them still fails
    work = tmp_path / "repo"
    shutil.copytree(MIXED, work)
    bad = work / "deploy" / "bad.yaml"
    bad.write_text((REPO / "tests/cases/rules/LK202/fail/volcano-job-and-task.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    failed = llmkube("validate", "--skip-non-manifests", "--crds", str(upstream_crds), ".", cwd=work)
    assert failed.returncode == 1 and "[LK202]" in failed.stdout


def test_only_non_manifests_is_a_clean_run():
    out = llmkube("validate", "--skip-non-manifests", "docker-compose.yml", "package.json", "-o", "junit", cwd=MIXED)
    assert out.returncode == 0, out.stderr
    assert 'failures="0" errors="0"' in out.stdout and "0 objects checked" in out.stdout
    assert llmkube("validate", "docker-compose.yml", cwd=MIXED).returncode == 1  # without it: errors
