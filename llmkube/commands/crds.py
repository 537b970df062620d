"""`llmkube crds pull|list`: fill and show the CRD schema cache."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from llmkube.errors import InputError
from llmkube.options import Options


def run_pull(
    sources: Sequence[str],
    *,
    from_cluster: bool,
    context: str | None,
    kubeconfig: str | None,
    cache_dir: Path | None,
) -> int:
    from llmkube.check.crdstore import default_cache_dir, pull_from_source, save_crds

    if not sources and not from_cluster:
        raise InputError(
            "nothing to pull from",
            hint="give a CRD file, directory or URL, or --from-cluster for the current kubectl context",
        )
    target = cache_dir or default_cache_dir()
    stored: list[Path] = []
    for source in sources:
        stored.extend(pull_from_source(source, target))
    if from_cluster:
        from llmkube.kubectl import Kubectl

        stored.extend(save_crds(Kubectl(context=context, kubeconfig=kubeconfig).get_crds(), target))
    if not stored:
        raise InputError("no CustomResourceDefinitions found in the given sources")
    sys.stdout.write(f"stored {len(stored)} CRD{'s' * (len(stored) != 1)} in {target}\n")
    return 0


def run_list(options: Options) -> int:
    from llmkube.check.crdstore import CRDStore

    store = CRDStore.load(list(options.crd_dirs), include_cache=options.use_cache)
    rows = sorted(store.kinds())
    for group, kind in rows:
        versions = ", ".join(store.known_versions(group, kind))
        sys.stdout.write(f"{kind}\t{group}\t{versions}\n")
    if not rows:
        sys.stdout.write("no CRDs found (pass --crds DIR or run `llmkube crds pull`)\n")
    return 0
