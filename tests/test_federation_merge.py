"""`federation.ClusterMerge` (a run's clusters by name) against `merge_clusters` (the list it replaced, kept
here as the reference).

The run merges each plan's clusters in turn; `merge_clusters` copied and scanned the growing list per
plan (quadratic in federating specs). Both must give the same list, in the same order, and fail on the
same plan with the same message, the failed plan adding nothing.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from llmkube.federation import ClusterMerge
from llmkube.plan.base import ClusterTarget


def merge_clusters(known: list[ClusterTarget], more: Sequence[ClusterTarget]) -> list[ClusterTarget]:
    """The merge llmkube used before `ClusterMerge`, kept as its reference: one list, manager first;
    a name given two contexts, or two managers, is a conflict (ValueError)."""
    out = list(known)
    for c in more:
        same = next((k for k in out if k.name == c.name), None)
        if same is None:
            if c.manager and any(k.manager for k in out):
                manager = next(k.name for k in out if k.manager)
                raise ValueError(f"manager cluster {c.name!r} differs from {manager!r}, named by another Quota")
            if c.manager:
                out.insert(0, c)
            else:
                out.append(c)
        elif same != c:
            raise ValueError(f"cluster {c.name!r} is given differently by two Quotas (context or role)")
    return out


def _reference(plans: list[list[ClusterTarget]]) -> tuple[list[ClusterTarget], list[tuple[int, str]]]:
    known: list[ClusterTarget] = []
    errors = []
    for i, more in enumerate(plans):
        try:
            known = merge_clusters(known, more)
        except ValueError as exc:
            errors.append((i, str(exc)))
    return known, errors


def _indexed(plans: list[list[ClusterTarget]]) -> tuple[list[ClusterTarget], list[tuple[int, str]]]:
    merged = ClusterMerge()
    errors = []
    for i, more in enumerate(plans):
        try:
            merged.add(more)
        except ValueError as exc:
            errors.append((i, str(exc)))
    return merged.clusters, errors


def _random_plans(rng: random.Random) -> list[list[ClusterTarget]]:
    names = [f"c{i}" for i in range(rng.randint(1, 6))]
    contexts = [None, "ctx-a", "ctx-b"]
    return [
        [ClusterTarget(rng.choice(names), rng.choice(contexts), rng.random() < 0.2) for _ in range(rng.randint(0, 4))]
        for _ in range(rng.randint(0, 8))
    ]


def test_same_clusters_and_errors_as_merge_clusters() -> None:
    for seed in range(400):
        plans = _random_plans(random.Random(seed))
        assert _indexed(plans) == _reference(plans), seed


def test_the_random_plans_reach_every_branch() -> None:
    """The seeds above hold conflicts of both kinds, managers named late, and plans that merge cleanly."""
    seen = set()
    for seed in range(400):
        plans = _random_plans(random.Random(seed))
        clusters, errors = _reference(plans)
        seen |= {msg.split(" ")[0] + (" differs" if "differs" in msg else "") for _, msg in errors}
        if clusters and clusters[0].manager and len(clusters) > 1:
            seen.add("manager first")
        if not errors and len(clusters) > 2:
            seen.add("clean")
    assert seen >= {"manager differs", "cluster", "manager first", "clean"}


def test_a_federation_of_many_quotas_is_one_pass() -> None:
    """10,000 plans naming their own workers and one shared manager: the same list as the reference
    (computed on a prefix, where it is still quick) and every cluster once."""
    plans = [[ClusterTarget("hub", "hub-ctx", True), ClusterTarget(f"w{i}", f"ctx{i}")] for i in range(10_000)]
    merged = ClusterMerge()
    for more in plans:
        merged.add(more)
    assert merged.clusters[:300] == _reference(plans[:299])[0]
    assert len(merged.clusters) == 10_001
