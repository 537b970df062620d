"""Test configuration: the shared fixtures, the `slow` marker and the `--slow` option.

A plain `pytest` is the quick suite (a few minutes at most); `pytest --slow`
adds the tests marked slow (the pre-commit environment build, the end-to-end
kubectl runs), as `.ci/run` does.
"""

from __future__ import annotations

import compileall

import pytest

from tests.support import crds, kubeserver, skips
from tests.support.fixtures import (
    crd_store,
    examples_turn,
    isolated_home,
    kube_namespace,
    kube_server,
    store,
    training_operator_validator,
    upstream_crds,
    validator,
)

__all__ = [
    "crd_store",
    "examples_turn",
    "isolated_home",
    "kube_namespace",
    "kube_server",
    "store",
    "training_operator_validator",
    "upstream_crds",
    "validator",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow (as .ci/run does)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes long (end-to-end kubectl, pre-commit env build); run with --slow")
    if not hasattr(config, "workerinput"):  # once, in the controller, before any worker starts
        _compile_the_package()
    if crds.required() and not crds.found():
        raise pytest.UsageError(crds.missing_reason())
    if kubeserver.required() and kubeserver.missing_reason():
        raise pytest.UsageError(f"{kubeserver.ENV_REQUIRE} is set and there is {kubeserver.missing_reason()}")


def _compile_the_package() -> None:
    """Byte-compile llmkube once, so the hundreds of `python -m llmkube` runs the tests start do
    not each compile it again: with $PYTHONDONTWRITEBYTECODE set (as on CI's machine image) an
    editable install never gets .pyc files, and each cold start paid ~0.35 s for them. Only
    stale or missing files are compiled; the writes are atomic (py_compile)."""
    from tests.support.paths import REPO

    compileall.compile_dir(REPO / "llmkube", quiet=1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --slow, slow tests are deselected: counted as such, never as passed or skipped."""
    if config.getoption("--slow"):
        return
    dropped = [item for item in items if item.get_closest_marker("slow")]
    if dropped:
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]
        config.hook.pytest_deselected(items=dropped)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Tests skipped for want of the upstream CRDs (or of a built kube-apiserver) are summed up as
    one line, not one per test; with $LLMKUBE_FORBID_SKIPS (CI) any skip is a failure."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple):
        for module, reason in ((crds, crds.missing_reason()), (kubeserver, kubeserver.missing_reason())):
            if reason and report.longrepr[2].endswith(reason):
                report.longrepr = (module.__file__, 1, report.longrepr[2])
    skips.fail_if_forbidden(report)
    return report
