"""Shared fixtures: the upstream CRDs (read in place, never copied) and an isolated home."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CRDS = (REPO.parent / "shared" / "crds").resolve()
EXAMPLES = REPO / "docs" / "examples"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real user cache, kubeconfig or discovery cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LLMKUBE_CACHE_DIR", str(home / "llmkube-cache"))
    monkeypatch.setenv("KUBECACHEDIR", str(home / "kube-cache"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture(scope="session")
def shared_crds() -> Path:
    assert SHARED_CRDS.is_dir(), f"upstream CRDs expected at {SHARED_CRDS}"
    return SHARED_CRDS


@pytest.fixture(scope="session")
def store():
    """The built-in GPU and model profiles, loaded once."""
    from llmkube.profiles import ProfileStore

    return ProfileStore.load()
