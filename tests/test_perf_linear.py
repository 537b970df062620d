"""benchmarks/perf.py `linear`: the per-item cost beyond the previous size, which tells linear from not."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.support.paths import REPO

spec = importlib.util.spec_from_file_location("llmkube_bench_perf", REPO / "benchmarks" / "perf.py")
assert spec and spec.loader
perf = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = perf  # its dataclasses look their module up
try:
    spec.loader.exec_module(perf)  # puts benchmarks/ on sys.path for its sibling corpus modules
finally:
    sys.modules.pop(spec.name, None)


def test_a_linear_cost_has_a_flat_marginal_and_a_quadratic_one_a_growing_one():
    start = 1.5  # seconds of start-up every run pays
    sizes = (100, 1_000, 10_000, 100_000)
    linear = [(n, start + 0.0003 * n) for n in sizes]
    quadratic = [(n, start + 1e-9 * n * n) for n in sizes]
    flat = [perf.marginal_ms(a, b) for a, b in zip(linear, linear[1:])]
    assert flat == pytest.approx([0.3, 0.3, 0.3])
    growing = [perf.marginal_ms(a, b) for a, b in zip(quadratic, quadratic[1:])]
    assert growing == pytest.approx([1e-6 * (a + b) for a, b in zip(sizes, sizes[1:])])  # (b² - a²)/(b - a) = a + b
    assert growing == sorted(growing) and growing[-1] > 100 * growing[0]


def test_the_first_size_has_no_marginal():
    assert perf.marginal_ms(None, (100, 1.6)) is None
    assert perf.marginal_ms((100, 1.6), (100, 1.7)) is None
