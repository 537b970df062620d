"""$LLMKUBE_FORBID_SKIPS turns a skip into a failure (CI), and leaves xfail and passes alone.

Runs a real pytest on a small test file whose conftest uses the suite's own hook.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.support.paths import REPO

CONFTEST = """
import pytest
from tests.support import skips

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    skips.fail_if_forbidden(report)
    return report
"""

TESTS = """
import pytest

def test_passes():
    pass

def test_skips_inside():
    pytest.skip("no node on the PATH")

@pytest.mark.skipif(True, reason="no prometheus binary")
def test_skipped_by_mark():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
"""


def _run(tmp_path, forbid: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_probe.py").write_text(textwrap.dedent(TESTS))
    env = {k: v for k, v in os.environ.items() if k != "LLMKUBE_FORBID_SKIPS"}
    env["PYTHONPATH"] = str(REPO)
    if forbid is not None:
        env["LLMKUBE_FORBID_SKIPS"] = forbid
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "no:xdist", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


def test_skips_are_skips_when_not_forbidden(tmp_path) -> None:
    out = _run(tmp_path, "0")
    assert out.returncode == 0, out.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in out.stdout


def test_a_forbidden_skip_fails_with_its_reason(tmp_path) -> None:
    out = _run(tmp_path, "1")
    assert out.returncode == 1, out.stdout
    # a skip inside the test fails it; a skip mark fails its setup, which pytest counts as an error
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in out.stdout
    assert "LLMKUBE_FORBID_SKIPS is set (CI runs every test): no node on the PATH" in out.stdout
    assert "LLMKUBE_FORBID_SKIPS is set (CI runs every test): no prometheus binary" in out.stdout
