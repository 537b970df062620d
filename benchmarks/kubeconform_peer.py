"""llmkube's schema validation beside kubeconform's, on the same corpus and the same schemas.

The corpus is validate_speed.py's, the upstream example manifests under CRD_DIR/examples (mostly
custom resources), plus llmkube's own rendering of docs/examples (core kinds: Deployments,
Services, ConfigMaps, PriorityClasses... and custom resources). The schemas are the same on both sides: the core schemas llmkube
bundles (kubernetes-validate's v1.32 "local-strict" JSON schemas, with their `$ref`s inlined into
kubeconform's "standalone" layout) and the CRDs of CRD_DIR (each served version's
openAPIV3Schema, converted as kubeconform's openapi2jsonschema does it: int-or-string as a oneOf,
nullable as a null type, strict objects), written to a local schema location; kubeconform never
reaches the network.

kubeconform (Go module github.com/yannh/kubeconform) is built by
`scripts/kube-test-server kubeconform` into the same cache as the test server.

Prints, for each tool: the cold wall time for one pass (schema load and compile; for kubeconform
the whole process), the throughput over N passes in one go (the first one cold, as a user's run of
either tool over a large tree), and its findings; then every document that either tool flags.
llmkube also runs the CRDs' CEL rules (x-kubernetes-validations), which kubeconform does not.

Usage: python benchmarks/kubeconform_peer.py [N] [CRD_DIR]
"""

from __future__ import annotations

import copy
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from llmkube.check.crdstore import CRDStore, parse_documents
from llmkube.check.schemas import SchemaValidator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CRDS = (REPO / ".." / "shared" / "crds").resolve()
KUBE_VERSION = "1.32"


def kube_test_server():
    loader = importlib.machinery.SourceFileLoader("kube_test_server", str(REPO / "scripts" / "kube-test-server"))
    spec = importlib.util.spec_from_loader("kube_test_server", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- the corpus


def corpus(crd_dir: Path, rendered: Path) -> list[tuple[Path, dict]]:
    """The upstream examples and `rendered` (llmkube's rendering of docs/examples, written by main)."""
    docs = [(rendered, d) for d in parse_documents(rendered.read_text(), str(rendered)) if isinstance(d, dict)]
    for path in sorted((crd_dir / "examples").rglob("*.yaml")):
        if path.parts[-2] == "training-operator":
            continue  # its v1 MPIJob needs the other mpijobs CRD first; see SOURCES.md
        docs.extend((path, d) for d in parse_documents(path.read_text(), str(path)) if isinstance(d, dict))
    return docs


def key(path: Path | str, doc: dict) -> tuple[str, str, str]:
    """(file, kind, name): how both tools' findings are matched up."""
    md = doc.get("metadata") or {}
    return (Path(path).name, str(doc.get("kind", "?")), str(md.get("name") or "?"))


# --------------------------------------------------------------------------- schemas for kubeconform


def inline_refs(node: Any, defs: dict, depth: int = 0) -> Any:
    """The schema with every `_definitions.json#/$defs/X` reference replaced by X (standalone)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref and depth < 40:
            target = defs[ref.rsplit("/", 1)[1]]
            merged = {k: v for k, v in node.items() if k != "$ref"}
            return {**inline_refs(target, defs, depth + 1), **merged}
        return {k: inline_refs(v, defs, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_refs(v, defs, depth) for v in node]
    return node


def openapi_to_jsonschema(node: Any) -> Any:
    """A CRD's structural schema as JSON Schema, as openapi2jsonschema does for kubeconform (strict)."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_to_jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if node.get("x-kubernetes-int-or-string"):
        out = {k: v for k, v in out.items() if k != "type"}
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        node.get("type") == "object"
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def core_schema_dir() -> Path:
    """The core schemas llmkube validates against: kubernetes-validate's bundled
    kubernetes-json-schema, v1.32 "local-strict" (as llmkube.check.schemas picks them)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    assert spec and spec.submodule_search_locations
    return Path(list(spec.submodule_search_locations)[0]) / "kubernetes-json-schema" / f"v{KUBE_VERSION}.0-local-strict"


def core_file_name(group: str, version: str, kind: str) -> str:
    """kubernetes-json-schema's (and kubeconform's) file name: kind-<first label of the group>-version."""
    return f"{kind.lower()}-{group.split('.')[0]}-{version}.json" if group else f"{kind.lower()}-{version}.json"


def write_schemas(root: Path, docs: list[tuple[Path, dict]], store: CRDStore) -> list[str]:
    """kubeconform's local schema location for the kinds in `docs`; returns the -schema-location templates."""
    version_dir = core_schema_dir()
    defs = json.loads((version_dir / "_definitions.json").read_text())["$defs"]
    for _, doc in docs:
        api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
        group, _, version = api_version.rpartition("/")
        crd = store.lookup(api_version, kind) if group else None
        if crd is not None:
            target = root / "crds" / group / f"{kind.lower()}_{version}.json"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                schema = openapi_to_jsonschema(copy.deepcopy(crd.schema))
                props = schema.setdefault("properties", {})
                props["metadata"] = {"type": "object"}
                # the root's apiVersion and kind, allowed whether the CRD declares them or not (the
                # API server never prunes them; llmkube's translation adds them the same way)
                props.setdefault("apiVersion", {"type": "string"})
                props.setdefault("kind", {"type": "string"})
                target.write_text(json.dumps(schema))
            continue
        name = core_file_name(group, version, kind)
        source = version_dir / name
        target = root / "core" / name
        if source.exists() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(inline_refs(json.loads(source.read_text()), defs)))
    return [
        str(root / "core" / "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
        str(root / "crds" / "{{ .Group }}" / "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"),
    ]


# --------------------------------------------------------------------------- the two runs


def run_llmkube(crd_dir: Path, docs: list[tuple[Path, dict]], passes: int) -> dict:
    t = time.perf_counter()
    validator = SchemaValidator(CRDStore.load([crd_dir], include_cache=False), kube_version=KUBE_VERSION)
    found = {key(f, d): [str(p) for p in validator.validate(d)] for f, d in docs}
    cold = time.perf_counter() - t
    for _ in range(passes - 1):
        for _, d in docs:
            validator.validate(d)
    whole = time.perf_counter() - t  # like kubeconform's: N passes, the first one cold
    return {"cold": cold, "docs_per_s": passes * len(docs) / whole, "findings": {k: v for k, v in found.items() if v}}


def run_kubeconform(binary: Path, locations: list[str], files: list[Path], n_docs: int, passes: int) -> dict:
    cmd = [str(binary), "-strict", "-summary", "-output", "json", "-n", "2"]
    for loc in locations:
        cmd += ["-schema-location", loc]
    t = time.perf_counter()
    one = subprocess.run(cmd + [str(f) for f in files], capture_output=True, text=True)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(cmd + [str(f) for f in files] * passes, capture_output=True, text=True)
    whole = time.perf_counter() - t  # one process, N passes: its schemas are compiled once
    report = json.loads(one.stdout)
    findings = {}
    for r in report.get("resources", []):
        if r["status"] != "statusValid":
            findings[(Path(r.get("filename", "?")).name, r.get("kind", "?"), r.get("name") or "?")] = [
                r["status"].removeprefix("status") + ": " + (r.get("msg") or "")
            ] + [f"{e.get('path', '')}: {e.get('msg', '')}" for e in r.get("validationErrors") or []]
    return {"cold": cold, "docs_per_s": passes * n_docs / whole, "findings": findings, "summary": report.get("summary", {})}


def main() -> None:
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    crd_dir = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else DEFAULT_CRDS
    kts = kube_test_server()
    binary = kts.build_kubeconform()
    with tempfile.TemporaryDirectory() as tmp:
        rendered = Path(tmp) / "rendered-examples.yaml"
        out = subprocess.run(
            [sys.executable, "-m", "llmkube", "render", str(REPO / "docs" / "examples")], capture_output=True, text=True, check=True
        )
        rendered.write_text(out.stdout)
        docs = corpus(crd_dir, rendered)
        files = sorted({p for p, _ in docs})
        t = time.perf_counter()
        locations = write_schemas(Path(tmp), docs, CRDStore.load([crd_dir], include_cache=False))
        t_schemas = time.perf_counter() - t
        theirs = run_kubeconform(binary, locations, files, len(docs), passes)
    ours = run_llmkube(crd_dir, docs, passes)

    print(f"corpus: {len(docs)} documents in {len(files)} files: {crd_dir / 'examples'} and llmkube render docs/examples")
    print(f"kubeconform schema location written in {t_schemas:.2f} s (same schemas as llmkube's)")
    print(f"{'':24}{'llmkube':>14}{'kubeconform':>14}")
    print(f"{'cold, one pass (s)':24}{ours['cold']:>14.2f}{theirs['cold']:>14.2f}")
    print(f"{f'{passes} passes: docs/s':24}{ours['docs_per_s']:>14,.0f}{theirs['docs_per_s']:>14,.0f}")
    print(f"{'documents with findings':24}{len(ours['findings']):>14}{len(theirs['findings']):>14}")
    print(f"kubeconform summary: {theirs['summary']}")
    for k in sorted(set(ours["findings"]) | set(theirs["findings"])):
        a, b = ours["findings"].get(k), theirs["findings"].get(k)
        if bool(a) != bool(b) or a:
            print(f"\n{k[0]}: {k[1]}/{k[2]}:")
            for line in a or ["(llmkube: valid)"]:
                print(f"  llmkube:     {line}")
            for line in b or ["(kubeconform: valid)"]:
                print(f"  kubeconform: {line}")


if __name__ == "__main__":
    main()
