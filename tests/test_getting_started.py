"""docs/getting-started.md is run as written: every command of its ```sh blocks, in order, in one bash
shell in an empty directory, as a new user on a fresh machine would.

What stands in for the outside world, and nothing else:
- `git clone https://github.com/llmkube/llmkube.git` copies this work tree's files (tracked and
  untracked, not ignored) instead: no GitHub here. `pip install ./llmkube` then installs them for real
  into the page's fresh virtualenv, dependencies from PyPI (pip's cache is the machine's, for speed);
  the test's own llmkube is not on the PATH.
- `crds pull --all` downloads from a local mirror of the upstream CRD files
  (`LLMKUBE_CRD_CATALOG_URL`, tests/support/crdmirror.py), laid out as GitHub's raw host.
- `kubectl`'s current context is the real test API server (tests/support/kubeserver.py), with every
  upstream CRD installed.

A command's exit code must be 0, or what its comment says (`# exit 1: ...`). Slow: a pip install and
a real cluster.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import crdmirror
from tests.support.paths import REPO

PAGE = REPO / "docs" / "getting-started.md"
CLONE = "git clone https://github.com/llmkube/llmkube.git"
PIP_CACHE = Path(os.environ.get("PIP_CACHE_DIR") or Path.home() / ".cache" / "pip")  # read before HOME is isolated


def commands(text: str) -> list[tuple[str, int]]:
    """(command, expected exit code) for every command line of the page's ```sh blocks, in order."""
    out: list[tuple[str, int]] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            command, _, comment = line.partition("  #")
            m = re.match(r"\s*exit (\d+)\b", comment)
            out.append((command.strip(), int(m.group(1)) if m else 0))
    return out


def test_the_page_is_read_as_expected():
    found = commands(PAGE.read_text(encoding="utf-8"))
    assert found[0] == (CLONE, 0)
    assert ("llmkube crds pull --all", 0) in found
    assert ("llmkube diff specs/", 1) in found and ("llmkube diff specs/", 0) in found
    assert any(c.startswith("llmkube apply") for c, _ in found)
    assert sum(1 for _, code in found if code == 2) == 1  # the typo


def test_the_readme_links_the_page():
    assert "](docs/getting-started.md)" in (REPO / "README.md").read_text(encoding="utf-8")


def work_tree_copy(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    for name in files:
        source = REPO / name
        if name.startswith(".venv/") or not source.is_file():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def script(steps: list[tuple[str, int]], clone_source: Path) -> str:
    lines = [
        "check() {",
        '  if [ "$2" != "$1" ]; then echo "getting-started: \\`$3\\` exited $2; the page says $1" >&2; exit 100; fi',
        "}",
    ]
    for command, code in steps:
        run = f"cp -a {shlex.quote(str(clone_source))} llmkube" if command == CLONE else command
        lines += [f"echo {shlex.quote('$ ' + command)}", run, f"check {code} $? {shlex.quote(command)}"]
    return "\n".join(lines) + "\n"


@pytest.mark.slow  # a real pip install into a fresh virtualenv, a real API server
def test_every_command_of_the_page_runs_as_it_says(tmp_path, isolated_home, upstream_crds, kube_server):
    steps = commands(PAGE.read_text(encoding="utf-8"))
    source = tmp_path / "source"
    work_tree_copy(source)
    work = tmp_path / "fresh"
    work.mkdir()
    test_bin = str(Path(sys.executable).parent)
    env = {
        **kube_server.env,  # KUBECONFIG: the server; its own HOME and discovery cache
        "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != test_bin),
        "PIP_CACHE_DIR": str(PIP_CACHE),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "NO_COLOR": "1",
    }
    env["HOME"] = str(isolated_home)  # the page's `~/.cache/llmkube/crds`; no LLMKUBE_CACHE_DIR
    with crdmirror.mirror(upstream_crds, tmp_path / "mirror") as (url, _root):
        env["LLMKUBE_CRD_CATALOG_URL"] = url
        done = subprocess.run(
            ["bash", "-c", script(steps, source)], cwd=work, env=env, capture_output=True, text=True, timeout=1200
        )
    log = done.stdout[-6000:] + "\n--- stderr ---\n" + done.stderr[-6000:]
    assert done.returncode == 0, log
    # what the page promises, checked where it lands
    assert (isolated_home / ".cache" / "llmkube" / "crds").is_dir(), log
    assert (work / ".venv" / "bin" / "llmkube").exists()
    assert kube_server.get("pytorchjobs", "my-finetune", "my-team") is not None, log
    assert kube_server.get("localqueues", "training-queue", "my-team") is not None, log
    assert kube_server.get("clusterqueues", "my-team-queue") is not None, log
    assert "unknown field 'gpusPerNod'" in done.stderr
