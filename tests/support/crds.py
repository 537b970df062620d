"""Where the upstream CRDs are: the test oracle, read in place and never copied here.

Looked up once: ``$LLMKUBE_TEST_CRDS`` when set, else ``../shared/crds`` beside the
repository. A fresh clone without them still runs every test that needs no CRD;
the others skip with one reason (the `upstream_crds` fixture). CI sets
``LLMKUBE_REQUIRE_TEST_CRDS=1``, which turns their absence into one error at start.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.paths import REPO

ENV_DIR = "LLMKUBE_TEST_CRDS"
ENV_REQUIRE = "LLMKUBE_REQUIRE_TEST_CRDS"


def upstream_crd_dir() -> Path:
    """The directory the upstream CRDs should be in (it may not exist)."""
    return Path(os.environ.get(ENV_DIR) or REPO.parent / "shared" / "crds").resolve()


#: The upstream CRD directory; use it only in tests that take the `upstream_crds` fixture.
UPSTREAM_CRDS = upstream_crd_dir()


def found() -> bool:
    return (UPSTREAM_CRDS / "SOURCES.md").is_file()


def missing_reason() -> str:
    return (
        f"upstream CRDs not found at {UPSTREAM_CRDS}: set ${ENV_DIR} to a copy of shared/crds "
        "(these tests read them as their oracle)"
    )


def required() -> bool:
    return os.environ.get(ENV_REQUIRE, "") not in ("", "0")


def source_rows() -> list[dict[str, str]]:
    """The Files table of SOURCES.md: local file, upstream repo, path, tag, bytes, sha256 per row."""
    rows = []
    keys = ("file", "repo", "path", "tag", "bytes", "sha256")
    for line in (UPSTREAM_CRDS / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].count("/") == 1 and cells[5] and len(cells[5]) == 64:
            rows.append(dict(zip(keys, cells)))
    return rows
