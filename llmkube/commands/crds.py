"""`llmkube crds pull|list|catalog`: fill and show the CRD schema cache."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llmkube.commands.common import note
from llmkube.errors import InputError
from llmkube.options import Options

if TYPE_CHECKING:
    from llmkube.check.crdcatalog import Wanted


def run_pull(
    sources: Sequence[str],
    *,
    pull_all: bool = False,
    from_cluster: bool,
    context: str | None,
    kubeconfig: str | None,
    cache_dir: Path | None,
) -> int:
    """Pull catalog projects (`kueue`, `kueue@v0.19.2`), files, directories, URLs or a cluster's CRDs.

    With nothing named (no source, no --from-cluster), or with --all, every catalog
    project at the release llmkube targets is pulled.
    """
    from llmkube.check import crdcatalog
    from llmkube.check.crdstore import default_cache_dir, pull_from_source, pull_project, save_crds

    target = cache_dir or default_cache_dir()
    wanted = _wanted(sources)
    projects = [w for w in wanted if w is not None]
    if pull_all or (not sources and not from_cluster):
        named = {w.project.name for w in projects}
        projects = [crdcatalog.Wanted(p, p.version) for p in crdcatalog.PROJECTS.values() if p.name not in named] + projects
    for w in dict.fromkeys(projects):
        pulled = pull_project(w.label, w.project.urls(w.version), target, allow_absent=not w.targeted)
        sys.stdout.write(f"{w.label}: stored {len(pulled.files)} CRD file{'s' * (len(pulled.files) != 1)} in {pulled.directory}\n")
        if pulled.absent:
            note(
                f"{w.label}: {len(pulled.absent)} of the catalog's files for {w.project.version} do not exist at "
                f"{w.version} (HTTP 404), so their kinds are not cached: " + ", ".join(u.rsplit("/", 1)[-1] for u in pulled.absent)
            )
    others = [s for s, w in zip(sources, wanted) if w is None]
    paths: list[Path] = []
    for source in others:
        paths.extend(pull_from_source(source, target))
    if from_cluster:
        from llmkube.kubectl import Kubectl

        paths.extend(save_crds(Kubectl(context=context, kubeconfig=kubeconfig).get_crds(), target, origin="cluster"))
        if not paths:
            raise InputError("no CustomResourceDefinitions found in the cluster")
    if others or from_cluster:
        sys.stdout.write(f"stored {len(paths)} CRD{'s' * (len(paths) != 1)} in {target}\n")
    return 0


def _wanted(sources: Sequence[str]) -> list[Wanted | None]:
    """Each source as a catalog Wanted, or None when it is a path or URL."""
    from llmkube.check import crdcatalog

    out: list[Wanted | None] = []
    for source in sources:
        try:
            w = crdcatalog.parse_wanted(source)
        except ValueError as exc:
            raise InputError(f"cannot pull {source!r}: {exc}", hint="name a release tag, e.g. kueue@v0.19.2") from None
        if w is None and "@" in source and "/" not in source and ":" not in source:
            raise InputError(
                f"{source.split('@')[0]!r} is not a project in the CRD catalog",
                hint="catalog projects: " + ", ".join(crdcatalog.PROJECTS) + " (see `llmkube crds catalog`)",
            )
        out.append(w)
    return out


def run_list(options: Options, cache_dir: Path | None = None) -> int:
    """Every kind with CRD schemas at hand: versions, and where each came from (project@tag or path)."""
    from llmkube.check.crdstore import CRDStore, default_cache_dir

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    store = CRDStore.load(list(options.crd_dirs), include_cache=options.use_cache, cache_dir=cache)
    origins = _origins(cache) if options.use_cache else {}
    rows = sorted(store.kinds())
    for group, kind in rows:
        versions = ", ".join(store.known_versions(group, kind))
        sources = dict.fromkeys(origins.get(v.source, v.source) for v in store.definitions(group, kind))
        sys.stdout.write(f"{kind}\t{group}\t{versions}\t{', '.join(sources)}\n")
    if not rows:
        sys.stdout.write("no CRDs found (pass --crds DIR or run `llmkube crds pull`)\n")
    return 0


def _origins(cache: Path) -> dict[str, str]:
    """Cached file path → where it was pulled from (`kueue@v0.19.2`, a URL or a path), flagged if edited since."""
    import hashlib

    from llmkube.check.crdstore import read_index

    out: dict[str, str] = {}
    for rel, entry in read_index(cache).items():
        path = cache / rel
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue
        label = str(entry.get("from") or entry.get("source") or rel)
        if digest != entry.get("sha256"):
            label += " (changed since pulled)"
        out[str(path)] = label
    return out


def run_catalog() -> int:
    """The catalog: each project, the release llmkube targets, its repository and what it defines."""
    from llmkube.check import crdcatalog

    for p in crdcatalog.PROJECTS.values():
        sys.stdout.write(f"{p.name}\t{p.version}\t{p.repo}\t{p.about}\n")
    return 0
