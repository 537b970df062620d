"""Throughput of schema validation over the upstream example manifests.

Prints the cold time to the first validation (imports, CRD store load, core and
CRD schema compile, first CEL run) and the warm docs/second over N passes.
Usage: python benchmarks/validate_speed.py [N] [CRD_DIR]
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from llmkube.check.crdstore import CRDStore, parse_documents  # noqa: E402
from llmkube.check.schemas import SchemaValidator  # noqa: E402

DEFAULT_CRDS = Path(__file__).resolve().parents[1] / ".." / "shared" / "crds"


def main() -> None:
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    crd_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_CRDS.resolve()
    t_import = time.perf_counter()
    store = CRDStore.load([crd_dir], include_cache=False)
    validator = SchemaValidator(store, kube_version="1.32")
    first = next(iter(sorted((crd_dir / "examples").rglob("*.yaml"))))
    first_doc = parse_documents(first.read_text(), str(first))[0]
    validator.validate(first_doc)
    t_first = time.perf_counter()

    docs = []
    for path in sorted((crd_dir / "examples").rglob("*.yaml")):
        if path.parts[-2] == "training-operator":
            continue  # its v1 MPIJob needs the other mpijobs CRD first; see SOURCES.md
        docs.extend(parse_documents(path.read_text(), str(path)))
    t = time.perf_counter()
    for doc in docs:
        validator.validate(doc)  # first pass compiles every CRD schema used
    t_compile = time.perf_counter() - t

    t = time.perf_counter()
    problems = 0
    for _ in range(passes):
        for doc in docs:
            problems += len(validator.validate(doc))
    warm = time.perf_counter() - t

    print(f"imports:                 {t_import - T0:7.3f} s")
    print(f"cold first validation:   {t_first - T0:7.3f} s  ({first.name}, incl. imports)")
    print(f"first pass, {len(docs)} docs:     {t_compile:7.3f} s  (parses + compiles each CRD used)")
    print(f"warm: {passes} x {len(docs)} docs:   {warm:7.3f} s  = {passes * len(docs) / warm:,.0f} docs/s")
    print(f"problems per pass:       {problems // passes}")


if __name__ == "__main__":
    main()
