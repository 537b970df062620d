"""Cold start and throughput of `llmkube render` and `llmkube validate`.

Prints figures; asserts nothing. Run from the repository root:

    .venv/bin/python benchmarks/render_speed.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CRDS = REPO.parent / "shared" / "crds"


def timed(args: list[str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "llmkube", *args], cwd=REPO, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    cases = {
        "--version (import + CLI)": ["--version"],
        "render docs/examples (no CRDs)": ["render", "docs/examples", "--no-cache"],
        "render docs/examples --crds shared": ["render", "docs/examples", "--crds", str(CRDS)],
        "validate one manifest --crds shared": ["validate", "tests/cases/validate/textbook-clusterqueue.yaml", "--crds", str(CRDS)],
    }
    print(f"{'command':44} {'median s':>9} {'min s':>7}   ({runs} runs, cold processes)")
    for label, args in cases.items():
        median, best = timed(args, runs)
        print(f"{label:44} {median:9.3f} {best:7.3f}")


if __name__ == "__main__":
    main()
