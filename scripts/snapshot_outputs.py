#!/usr/bin/env python3
"""Write every command's output on the examples and the rule corpus into one directory.

Refactors promise byte-identical behaviour; this is how that promise is checked:

    python scripts/snapshot_outputs.py /tmp/before      # on the old commit
    python scripts/snapshot_outputs.py /tmp/after       # on the new one
    diff -r /tmp/before /tmp/after                      # must print nothing

Each file holds one command's exit code, stdout and stderr. The commands run
with the upstream CRDs ($LLMKUBE_TEST_CRDS, else ../shared/crds) so that schema
and CEL findings are part of the comparison, and with an empty user cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"
RULE_CASES = REPO / "tests" / "cases" / "rules"
VALIDATE_CASES = REPO / "tests" / "cases" / "validate"


def crd_dir() -> Path:
    return Path(os.environ.get("LLMKUBE_TEST_CRDS") or REPO.parent / "shared" / "crds").resolve()


def commands(crds: Path) -> dict[str, list[str]]:
    """Snapshot name → llmkube arguments."""
    out: dict[str, list[str]] = {}
    for ex in sorted(EXAMPLES.glob("*.yaml")):
        out[f"render-{ex.stem}"] = ["render", str(ex)]
        out[f"render-json-{ex.stem}"] = ["render", str(ex), "-f", "json", "--crds", str(crds)]
        out[f"validate-{ex.stem}"] = ["validate", str(ex), "--crds", str(crds), "-o", "json"]
        out[f"plan-{ex.stem}"] = ["plan", str(ex), "-o", "json"]
    out["render-v1beta1-all"] = ["render", str(EXAMPLES), "--kueue-api", "v1beta1", "--crds", str(crds)]
    out["plan-text-all"] = ["plan", str(EXAMPLES)]
    for case in sorted(p for p in RULE_CASES.rglob("*.yaml")):
        rel = case.relative_to(RULE_CASES).with_suffix("")
        name = "rules-" + "-".join(rel.parts)
        out[name] = ["validate", str(case), "--crds", str(crds), "-o", "json"]
        out[name + "-text"] = ["validate", str(case), "--crds", str(crds)]
    for case in sorted(VALIDATE_CASES.glob("*.yaml")):
        out[f"validate-case-{case.stem}"] = ["validate", str(case), "--crds", str(crds), "-o", "sarif"]
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write(__doc__ or "")
        return 2
    dest = Path(argv[0])
    dest.mkdir(parents=True, exist_ok=True)
    crds = crd_dir()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HOME": home, "LLMKUBE_CACHE_DIR": f"{home}/cache", "NO_COLOR": "1"}

        def snapshot(item: tuple[str, list[str]]) -> None:
            name, args = item
            proc = subprocess.run([sys.executable, "-m", "llmkube", *args], capture_output=True, text=True, env=env, cwd=REPO)
            text = f"exit {proc.returncode}\n--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
            (dest / f"{name}.txt").write_text(text.replace(str(REPO), "<repo>").replace(str(crds), "<crds>"))

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(snapshot, commands(crds).items()))
    print(f"wrote {len(list(dest.glob('*.txt')))} snapshots to {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
