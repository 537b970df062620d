"""Time and peak memory of reading large inputs, the budget docs/cli.md states.

Each case runs in its own process (`python -m llmkube validate`, so the measure is
what a user meets: read, parse with line marks, shape checks, schema checks) and
reports wall time and peak resident memory. Cases: one 50 MB file of ConfigMaps,
100k small documents, and the 300-byte alias bomb (which must fail fast).
Usage: python benchmarks/hostile_input.py [MB] [DOCS]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: bench\ndata:\n{data}"


def big_file(path: Path, megabytes: int) -> None:
    """~`megabytes` MB: ConfigMaps of 64 keys × 1 KiB each (about 70 KB per document)."""
    data = "".join(f"  key-{k}: {'x' * 1024}\n" for k in range(64))
    doc = CONFIGMAP.format(i="{i}", data=data)
    with path.open("w") as fh:
        written, i = 0, 0
        while written < megabytes * 1_000_000:
            text = doc.replace("{i}", str(i)) + "---\n"
            fh.write(text)
            written += len(text)
            i += 1


def many_documents(path: Path, count: int) -> None:
    with path.open("w") as fh:
        for i in range(count):
            fh.write(CONFIGMAP.format(i=i, data="  a: b\n") + "---\n")


def bomb(path: Path) -> None:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: x}", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path.write_text("\n".join(lines) + "\n")


def measure(label: str, *args: str) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "llmkube", "validate", "--no-cache", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    last = (result.stdout.strip().splitlines() or result.stderr.strip().splitlines() or [""])[-1]
    print(f"{label:<28} {elapsed:8.1f} s  {max(peak, before) / 1024:8.0f} MiB peak  exit {result.returncode}  {last[:70]}")


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bomb(root / "bomb.yaml")
        measure("alias bomb (9 levels)", str(root / "bomb.yaml"))
        big_file(root / "big.yaml", megabytes)
        measure(f"{megabytes} MB file", str(root / "big.yaml"))
        (root / "big.yaml").unlink()
        many_documents(root / "many.yaml", count)
        measure(f"{count:,} small documents", str(root / "many.yaml"))


if __name__ == "__main__":
    main()
