"""Corpora for the performance benchmarks, built from inputs the repository already has.

- `mixed(n_docs, out)`: the upstream example manifests of CRD_DIR/examples (Kueue, Volcano, Kubeflow,
  KServe, LWS, JobSet, GPU Operator) and llmkube's rendering of docs/examples (core kinds and custom
  resources), copied until there are `n_docs` documents; each copy's names get a numeric suffix (so
  the run holds `n_docs` distinct objects, as a large GitOps tree does), ten documents to a file.
- `core(n_docs, out)`: only the core kinds of that mix (what kubeconform and kubernetes-validate check
  without CRDs).
- `specs(n_specs, out)`: copies of docs/examples (llmkube specs), renamed, one spec set to a file.

Everything is deterministic: the same arguments write the same bytes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CRDS = (REPO / ".." / "shared" / "crds").resolve()
CORE_GROUPS = ("", "apps", "batch", "policy", "scheduling.k8s.io", "rbac.authorization.k8s.io", "networking.k8s.io")
PER_FILE = 10


def _load_all(text: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def seed_documents(crd_dir: Path = CRDS) -> list[dict]:
    """Upstream examples (without training-operator's v1 MPIJob, see SOURCES.md) and rendered examples."""
    docs: list[dict] = []
    for path in sorted((crd_dir / "examples").rglob("*.yaml")):
        if path.parts[-2] != "training-operator":
            docs.extend(_load_all(path.read_text()))
    rendered = subprocess.run(
        [sys.executable, "-m", "llmkube", "render", str(REPO / "docs" / "examples")],
        capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout
    docs.extend(_load_all(rendered))
    return docs


def _group(doc: dict) -> str:
    api = str(doc.get("apiVersion", ""))
    return api.rpartition("/")[0]


def _renamed(doc: dict, i: int) -> dict:
    """A copy named `<name>-<i>` (generateName kept), so no two copies collide."""
    out = yaml.safe_load(yaml.safe_dump(doc))
    meta = out.setdefault("metadata", {})
    if i and isinstance(meta.get("name"), str):
        meta["name"] = f"{meta['name'][:50]}-{i}"
    return out


def _write(docs: list[dict], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, len(docs), PER_FILE):
        f = out / f"m{start // PER_FILE:06d}.yaml"
        f.write_text(yaml.safe_dump_all(docs[start : start + PER_FILE], sort_keys=False))
        files.append(f)
    return files


def _cycle(seed: list[dict], n: int) -> list[dict]:
    return [_renamed(seed[k % len(seed)], k // len(seed)) for k in range(n)]


def mixed(n_docs: int, out: Path, seed: list[dict] | None = None) -> list[Path]:
    return _write(_cycle(seed or seed_documents(), n_docs), out)


def core(n_docs: int, out: Path, seed: list[dict] | None = None) -> list[Path]:
    only = [d for d in (seed or seed_documents()) if _group(d) in CORE_GROUPS]
    return _write(_cycle(only, n_docs), out)


def specs(n_specs: int, out: Path) -> list[Path]:
    """`n_specs` llmkube specs: docs/examples' documents, renamed per copy, one copy set to a file.

    The GPU-sharing examples (MIG, time-slicing) are in the first copy only: the GPU Operator reads one
    ConfigMap per cluster, so copies of them would be conflicting objects, not more work.
    """
    paths = sorted((REPO / "docs" / "examples").glob("*.yaml"))
    first = [d for p in paths for d in _load_all(p.read_text())]
    rest = [d for p in paths if not _shares_gpus(p) for d in _load_all(p.read_text())]
    names = _names(first)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    copy = written = 0
    while written < n_specs:
        batch = [_renamed_spec(d, copy, names) for d in (first if copy == 0 else rest)][: n_specs - written]
        written += len(batch)
        f = out / f"s{copy:06d}.yaml"
        f.write_text(yaml.safe_dump_all(batch, sort_keys=False))
        files.append(f)
        copy += 1
    return files


def _shares_gpus(path: Path) -> bool:
    text = path.read_text()
    return "migProfile" in text or "sharing:" in text


#: Spec keys whose values name something another spec or object refers to.
NAME_KEYS = ("name", "cohort", "localQueueName", "pool", "priorityClass", "queue", "claim")


def _names(node: Any, key: str | None = None, out: set[str] | None = None) -> set[str]:
    out = set() if out is None else out
    if isinstance(node, dict):
        for k, v in node.items():
            _names(v, k, out)
    elif isinstance(node, list):
        for v in node:
            _names(v, key, out)
    elif isinstance(node, str) and key in NAME_KEYS:
        out.add(node)
    return out


def _suffixed(node: Any, names: set[str], i: int) -> Any:
    if isinstance(node, dict):
        return {k: _suffixed(v, names, i) for k, v in node.items()}
    if isinstance(node, list):
        return [_suffixed(v, names, i) for v in node]
    return f"{node}-{i}" if isinstance(node, str) and node in names else node


def _renamed_spec(doc: dict, i: int, names: set[str] | None = None) -> dict:
    """Copy `i` of a spec: every name it defines or refers to carries the suffix `-<i>`."""
    return _suffixed(doc, names if names is not None else _names(doc), i) if i else doc


if __name__ == "__main__":
    kind, n, where = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    made = {"mixed": mixed, "core": core, "specs": specs}[kind](n, where)
    print(f"{len(made)} files in {where}")
