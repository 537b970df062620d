"""Fixtures for the schema checks: the real upstream CRDs in ../shared/crds (never copied here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkube.check.crdstore import CRDStore
from llmkube.check.schemas import SchemaValidator

SHARED_CRDS = (Path(__file__).resolve().parents[2] / ".." / "shared" / "crds").resolve()


@pytest.fixture(scope="session")
def shared_crds() -> Path:
    """The upstream CRD directory (see its SOURCES.md); the examples live under examples/."""
    assert (SHARED_CRDS / "SOURCES.md").is_file(), f"missing shared CRDs at {SHARED_CRDS}"
    return SHARED_CRDS


@pytest.fixture(scope="session")
def crd_store(shared_crds: Path) -> CRDStore:
    """All shared CRDs; the MPI Operator's v2beta1 MPIJob wins (sorted file order)."""
    return CRDStore.load([shared_crds], include_cache=False)


@pytest.fixture(scope="session")
def validator(crd_store: CRDStore) -> SchemaValidator:
    return SchemaValidator(crd_store, kube_version="1.32")


@pytest.fixture(scope="session")
def training_operator_validator(shared_crds: Path) -> SchemaValidator:
    """Training Operator v1 CRDs first, so its kubeflow.org/v1 MPIJob wins."""
    store = CRDStore.load([shared_crds / "training-operator", shared_crds], include_cache=False)
    return SchemaValidator(store, kube_version="1.32")
