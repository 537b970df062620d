"""The pre-commit hooks in .pre-commit-hooks.yaml, run by the real `pre-commit` in a temporary git repo.

`llmkube-validate-system` (language: system) runs the llmkube on the PATH —
here the project's own, so the test is quick. `llmkube-validate`
(language: python) makes pre-commit build a virtualenv and pip-install this
repository from PyPI dependencies: about a minute on this machine, so that
test is marked slow and runs with `pytest --slow` (as `.ci/run` does).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.crds import UPSTREAM_CRDS
from tests.support.paths import REPO, RULE_CASES

CASES = RULE_CASES
GOOD = CASES / "LK202" / "pass" / "volcano-all-pods.yaml"
BAD = CASES / "LK202" / "fail" / "volcano-job-and-task.yaml"
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")

pytestmark = pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed (pip install -e '.[test]')")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=test@example.invalid", "-c", "user.name=test", "-c", "commit.gpgsign=false", *args],
        cwd=cwd, check=True, capture_output=True,
    )


def head(cwd: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def hooks_repo(tmp: Path, files: list[str]) -> Path:
    """A git repo holding `files` of this project (as they are in the work tree), committed."""
    repo = tmp / "hooks-repo"
    for name in files:
        dest = repo / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "snapshot")
    return repo


def project_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split("\n")
    return [f for f in out if f and not f.startswith(".venv/") and (REPO / f).is_file()]


def user_repo(tmp: Path, hook_repo: Path, hook_id: str) -> Path:
    work = tmp / "user-repo"
    work.mkdir()
    shutil.copy(GOOD, work / "good.yaml")
    shutil.copy(BAD, work / "bad.yaml")
    config = {
        "repos": [
            {"repo": str(hook_repo), "rev": head(hook_repo), "hooks": [{"id": hook_id, "args": ["--crds", str(UPSTREAM_CRDS)]}]}
        ]
    }
    (work / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    git(work, "init", "-q")
    git(work, "add", "-A")
    return work


def pre_commit(work: Path, home: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(home / "pre-commit-cache")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PRE_COMMIT", None)
    return subprocess.run(
        [PRE_COMMIT, "run", "--color", "never", "--files", *files],
        cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )


def test_the_hooks_file_declares_both_hooks():
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert set(hooks) == {"llmkube-validate", "llmkube-validate-system"}
    for h in hooks.values():
        assert h["entry"] == "llmkube validate --skip-non-manifests"  # in entry: a user's `args` replace the hook's
        assert h["require_serial"] is True  # rules connect objects across files
        assert h["files"] == r"\.(ya?ml|json)$"
    assert hooks["llmkube-validate"]["language"] == "python"
    assert hooks["llmkube-validate-system"]["language"] == "system"


def test_system_hook_passes_a_good_file_and_fails_a_bad_one_with_the_finding(tmp_path, isolated_home, upstream_crds):
    repo = hooks_repo(tmp_path, [".pre-commit-hooks.yaml"])
    work = user_repo(tmp_path, repo, "llmkube-validate-system")
    good = pre_commit(work, isolated_home, "good.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
    bad = pre_commit(work, isolated_home, "good.yaml", "bad.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    assert "bad.yaml:8:3: error [LK202] Job/ml/llama-70b spec.minAvailable" in bad.stdout
    assert "bad.yaml:17:5: error [LK202]" in bad.stdout


@pytest.mark.slow  # builds a virtualenv from PyPI
def test_python_hook_installs_llmkube_and_checks(tmp_path, isolated_home, upstream_crds):
    repo = hooks_repo(tmp_path, project_files())
    work = user_repo(tmp_path, repo, "llmkube-validate")
    started = time.monotonic()
    good = pre_commit(work, isolated_home, "good.yaml")
    took = time.monotonic() - started
    assert good.returncode == 0, good.stdout + good.stderr
    bad = pre_commit(work, isolated_home, "bad.yaml")
    assert bad.returncode == 1 and "[LK202]" in bad.stdout, bad.stdout + bad.stderr
    print(f"first run with environment build: {took:.0f} s")
    check_mixed_repo(mixed_user_repo(tmp_path, repo, "llmkube-validate"), isolated_home)  # the environment is built


MIXED = REPO / "tests" / "cases" / "mixed-repo"


def mixed_user_repo(tmp: Path, hook_repo: Path, hook_id: str) -> Path:
    """A fresh repository of mixed YAML (tests/cases/mixed-repo: a Helm chart, a kustomization, a
    Compose file, a CI workflow, tool configs, and two manifests), the hook configured, all staged."""
    work = tmp / "mixed-repo"
    shutil.copytree(MIXED, work)
    config = {
        "repos": [
            {"repo": str(hook_repo), "rev": head(hook_repo), "hooks": [{"id": hook_id, "args": ["--crds", str(UPSTREAM_CRDS)]}]}
        ]
    }
    (work / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    git(work, "init", "-q")
    git(work, "add", "-A")
    return work


def run_all(work: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(home / "pre-commit-cache")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PRE_COMMIT", None)
    return subprocess.run(
        [PRE_COMMIT, "run", "--color", "never", "--all-files", "--verbose"],
        cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )


def check_mixed_repo(work: Path, home: Path) -> None:
    clean = run_all(work, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout and "2 objects checked: 0 errors" in clean.stdout
    shutil.copy(BAD, work / "deploy" / "bad.yaml")
    git(work, "add", "-A")
    bad = run_all(work, home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "deploy/bad.yaml:8:3: error [LK202]" in bad.stdout
    # only the manifest is reported: no chart, compose, kustomization or tool config
    for name in ("Chart.yaml", "values.yaml", "templates/deployment.yaml", "kustomization", "compose", "package.json", "mkdocs"):
        assert name not in bad.stdout, name


@pytest.mark.slow  # several pre-commit runs
def test_system_hook_in_a_repository_of_mixed_yaml_checks_only_manifests(tmp_path, isolated_home, upstream_crds):
    repo = hooks_repo(tmp_path, [".pre-commit-hooks.yaml"])
    check_mixed_repo(mixed_user_repo(tmp_path, repo, "llmkube-validate-system"), isolated_home)


def test_the_snippets_pin_the_current_release_tag():
    """README and docs/cli.md pin `rev: v<version>`, the tag of this release (CHANGELOG.md has its entry)."""
    import tomllib

    from llmkube import __version__

    assert tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"] == __version__
    for doc in ("README.md", "docs/cli.md"):
        text = (REPO / doc).read_text(encoding="utf-8")
        assert f"rev: v{__version__}\n" in text, doc
        assert all(rev == f"v{__version__}" for rev in re.findall(r"rev: (\S+)", text)), doc
    assert f"\n## {__version__}\n" in (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
