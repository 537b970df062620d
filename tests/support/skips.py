"""CI's guard against a skipped test passing for a run that ran it.

Every skip in the suite is for want of something on the machine (the upstream CRDs, a built
kube-apiserver, node/npm, prometheus, pre-commit, bash, FIFOs). `.ci/run` installs all of them,
so a skip there means the test did not run, and a green run would claim more than it checked.
With ``$LLMKUBE_FORBID_SKIPS`` set, a skipped test is reported as failed, its reason kept.
"""

from __future__ import annotations

import os

import pytest

ENV_FORBID = "LLMKUBE_FORBID_SKIPS"


def forbidden() -> bool:
    return os.environ.get(ENV_FORBID, "") not in ("", "0")


def fail_if_forbidden(report: pytest.TestReport) -> None:
    """Turn a skip into a failure when skips are forbidden (an expected failure, xfail, stays as it is)."""
    if not (report.skipped and forbidden()) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"skipped, but ${ENV_FORBID} is set (CI runs every test): {reason}"
