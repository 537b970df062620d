"""Corpora of the shapes real repositories have and the other benchmarks did not (session 29).

perf.py's corpora are ten documents to a file, written by PyYAML's dumper: one layout, one style. The
same objects reach a validator in other shapes, and each shape can take a different path through a
reader (a per-file cost, a fallback to a slower parser, a search over a long line). Every shape here
is built from `gitops_corpus.service` (plain web services, valid against the Kubernetes 1.32 schemas,
so llmkube and kubeconform should both find nothing but where a shape says otherwise), reshaped:

- `perdoc`:     one document per file, in nested directories (namespace/service/kind.yaml)
- `single`:     every document in one file; `single-merge`: the same with a merge key (`<<: *labels`)
                in its first document
- `helm`:       `helm template` output: `---` and a `# Source:` comment before each document, empty
                documents (templates that rendered to nothing), trailing spaces, a closing `---`;
                one file per release of 100 documents
- `kustomize`:  `kubectl kustomize` output: keys sorted, sequences not indented, one file per overlay
                of 1,000 documents
- `list`:       `kind: List` documents of 1,000 items each (kubectl's and `kubectl get -o yaml`'s shape)
- `json`:       one JSON object per file, indented (what `kubectl get -o json` and many generators write)
- `bigdata`:    ConfigMaps and Secrets of 1 MiB each (a long block scalar, a long base64 line), among
                the services' documents: one 1 MiB object per 100 documents
- `lastapplied`: every object carries `kubectl.kubernetes.io/last-applied-configuration` (its own JSON
                on one line), as exported manifests do
- `labels`:     40 labels and 40 annotations on every object
- `anchors`:    YAML anchors and aliases inside each document (its labels one mapping shared by the
                selector and the pod template: PyYAML's dumper writes `&id001` / `*id001`)
- `merge`:      a merge key (`<<: *labels`) in one service file of ten
- `unicode`:    non-ASCII text in annotations and ConfigMap data (accents, CJK, emoji)
- `crlf`:       CRLF line ends; `bom`: a UTF-8 byte-order mark at the start of each file; `tabs`: tab
                characters inside ConfigMap data and after values
- `namespaces`: every service in a namespace of its own, with its Namespace object
- `unknown`:    half the documents are objects of kinds no schema knows (`example.com/v1 Widget<k>`, 50 kinds)
- `crdkinds`:   200 CustomResourceDefinitions (written to `<out>-crds/`, for `--crds`) and objects of
                each of their kinds, beside the services

Usage: .venv/bin/python benchmarks/shapes_corpus.py SHAPE N OUT
Deterministic: the same arguments write the same bytes.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gitops_corpus  # noqa: E402

SEED = 29


def documents(n: int, seed: int = SEED) -> Iterator[tuple[int, dict[str, Any]]]:
    """(service number, object) for `n` documents of plain web services."""
    rnd = random.Random(seed)
    i = written = 0
    while written < n:
        for doc in gitops_corpus.service(i, rnd):
            if written == n:
                return
            yield i, doc
            written += 1
        i += 1


def _dump(doc: Any, **kw: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, width=4096, allow_unicode=True, **kw)


def _dump_all(docs: list[Any], **kw: Any) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, width=4096, allow_unicode=True, **kw)


def _grouped(n: int, per_file: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    batch: list[dict[str, Any]] = []
    k = 0
    for _i, doc in documents(n):
        batch.append(doc)
        if len(batch) == per_file:
            yield k, batch
            batch, k = [], k + 1
    if batch:
        yield k, batch


def _by_service(docs: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    cur: list[dict[str, Any]] = []
    svc = -1
    for i, doc in docs:
        if i != svc and cur:
            yield svc, cur
            cur = []
        svc = i
        cur.append(doc)
    if cur:
        yield svc, cur


def perdoc(n: int, out: Path) -> list[Path]:
    files = []
    for i, doc in documents(n):
        d = out / doc["metadata"]["namespace"] / f"svc{i:05d}"
        d.mkdir(parents=True, exist_ok=True)
        f = d / f"{doc['kind'].lower()}-{doc['metadata']['name']}.yaml"
        f.write_text(_dump(doc))
        files.append(f)
    return files


def single(n: int, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    f = out / "all.yaml"
    f.write_text(_dump_all([d for _i, d in documents(n)]))
    return [f]


def single_merge(n: int, out: Path) -> list[Path]:
    """`single`, with one merge key in its first document (a hand-written object in a generated stream)."""
    out.mkdir(parents=True, exist_ok=True)
    f = out / "all.yaml"
    text = _dump_all([d for _i, d in documents(n)])
    first, sep, rest = text.partition("\n---\n")
    first = first.replace("\n  labels:\n", "\n  labels: &labels\n", 1).replace("\n      labels:\n", "\n      labels:\n        <<: *labels\n", 1)
    f.write_text(first + sep + rest)
    return [f]


def helm(n: int, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k, batch in _grouped(n, 100):
        parts = []
        for j, doc in enumerate(batch):
            if j % 10 == 3:  # a template that rendered to nothing (an `{{- if }}` that was false)
                parts.append("---\n# Source: shop/templates/optional.yaml\n")
            body = "".join(line + ("  " if m % 7 == 0 else "") + "\n" for m, line in enumerate(_dump(doc).splitlines()))
            parts.append(f"---\n# Source: shop/templates/{doc['kind'].lower()}.yaml\n{body}")
        f = out / f"release{k:04d}.yaml"
        f.write_text("".join(parts) + "---\n")
        files.append(f)
    return files


class _KustomizeDumper(yaml.SafeDumper):
    pass


def kustomize(n: int, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k, batch in _grouped(n, 1000):
        f = out / f"overlay{k:03d}.yaml"
        f.write_text("---\n".join(yaml.dump(d, Dumper=_KustomizeDumper, sort_keys=True, width=4096) for d in batch))
        files.append(f)
    return files


def as_list(n: int, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k, batch in _grouped(n, 1000):
        f = out / f"list{k:03d}.yaml"
        items = json.loads(json.dumps(batch))  # copies: no object shared, so no anchors (that is shape `anchors`)
        f.write_text(_dump({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}))
        files.append(f)
    return files


def as_json(n: int, out: Path) -> list[Path]:
    files = []
    for i, doc in documents(n):
        d = out / doc["metadata"]["namespace"]
        d.mkdir(parents=True, exist_ok=True)
        f = d / f"svc{i:05d}-{doc['kind'].lower()}-{doc['metadata']['name']}.json"
        f.write_text(json.dumps(doc, indent=2) + "\n")
        files.append(f)
    return files


def _blob(k: int, size: int) -> str:
    """`size` characters of config-like text, lines of ~80."""
    rnd = random.Random(k)
    lines, total = [], 0
    while total < size:
        line = f"key.{k}.{len(lines)} = " + "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(60))
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def bigdata(n: int, out: Path) -> list[Path]:
    import base64

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k, batch in _grouped(n, 100):
        meta = {"name": f"blob{k}", "namespace": "team0"}
        if k % 2:
            big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"dump.conf": _blob(k, 1 << 20)}}
        else:
            raw = _blob(k, 3 << 18).encode()
            big = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
                   "data": {"dump.bin": base64.b64encode(raw).decode()}}
        f = out / f"batch{k:04d}.yaml"
        f.write_text(_dump_all([*batch[:-1], big]))
        files.append(f)
    return files


def _batch_files(n: int, out: Path, text_of: Callable[[int, list[dict[str, Any]]], str]) -> list[Path]:
    """Ten documents to a file, `m00000.yaml` on: each file's text made from its number and batch."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k, batch in _grouped(n, 10):
        f = out / f"m{k:05d}.yaml"
        f.write_bytes(text_of(k, batch).encode("utf-8"))
        files.append(f)
    return files


def lastapplied(n: int, out: Path) -> list[Path]:
    def text(_k: int, batch: list[dict[str, Any]]) -> str:
        for doc in batch:
            ann = doc["metadata"].setdefault("annotations", {})
            ann["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(doc, separators=(",", ":")) + "\n"
        return _dump_all(batch)

    return _batch_files(n, out, text)


def labels(n: int, out: Path) -> list[Path]:
    def text(k: int, batch: list[dict[str, Any]]) -> str:
        for j, doc in enumerate(batch):
            meta = doc["metadata"]
            meta["labels"] = {**meta.get("labels", {}), **{f"acme.io/label-{m}": f"v{(k + j + m) % 13}" for m in range(40)}}
            meta["annotations"] = {f"acme.io/note-{m}": f"owner team {m}; ticket ACME-{k * 10 + j}" for m in range(40)}
        return _dump_all(batch)

    return _batch_files(n, out, text)


def anchors(n: int, out: Path) -> list[Path]:
    """Anchors and aliases inside each document: every object's labels are one mapping, shared by
    its pod template and its selector, which PyYAML's dumper writes as `&id001` and `*id001` (what
    a generator in Python writes unless it copies; hand-written manifests do the same with names)."""
    def text(_k: int, batch: list[dict[str, Any]]) -> str:
        for doc in batch:
            labels = doc["metadata"].get("labels")
            spec = doc.get("spec")
            if isinstance(labels, dict) and isinstance(spec, dict):
                if isinstance(spec.get("template"), dict):
                    spec["template"]["metadata"]["labels"] = labels
                if isinstance(spec.get("selector"), dict) and "matchLabels" in spec["selector"]:
                    spec["selector"]["matchLabels"] = labels
        return _dump_all(batch)

    return _batch_files(n, out, text)


def merge(n: int, out: Path) -> list[Path]:
    """Merge keys: in one service file of ten, the pod template's labels merge the object's anchored
    labels (`<<: *labels`), as hand-written manifests do; the other files have none."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for svc, docs in _by_service(documents(n)):
        text = _dump_all(docs)
        if svc % 10 == 0:
            first, sep, rest = text.partition("\n---\n")  # the service's first object: its Deployment or StatefulSet
            first = first.replace("\n  labels:\n", "\n  labels: &labels\n", 1).replace("\n      labels:\n", "\n      labels:\n        <<: *labels\n", 1)
            text = first + sep + rest
        f = out / f"svc{svc:05d}.yaml"
        f.write_text(text)
        files.append(f)
    return files


_UNICODE = ("Überprüfung der Zahlungsströme", "配置服务 — 日本語のテキスト", "équipe plateforme 🚀✨", "Ωμέγα · Привет")


def unicode(n: int, out: Path) -> list[Path]:
    def text(k: int, batch: list[dict[str, Any]]) -> str:
        for j, doc in enumerate(batch):
            doc["metadata"]["annotations"] = {"description": _UNICODE[(k + j) % 4], "owner": "Zoë Ødegård"}
            if doc["kind"] == "ConfigMap":
                doc["data"]["messages.txt"] = "\n".join(_UNICODE) * 20 + "\n"
        return _dump_all(batch)

    return _batch_files(n, out, text)


def crlf(n: int, out: Path) -> list[Path]:
    return _batch_files(n, out, lambda _k, batch: _dump_all(batch).replace("\n", "\r\n"))


def bom(n: int, out: Path) -> list[Path]:
    return _batch_files(n, out, lambda _k, batch: "\ufeff" + _dump_all(batch))


def tabs(n: int, out: Path) -> list[Path]:
    """Tabs inside ConfigMap data (a TSV table) and inside double-quoted annotations, raw and escaped."""
    def text(_k: int, batch: list[dict[str, Any]]) -> str:
        for doc in batch:
            if doc["kind"] == "ConfigMap":
                doc["data"]["table.tsv"] = "".join(f"row{r}\t{r * 3}\tok\n" for r in range(30))
        return re.sub(r"\n( +)prometheus.io/scrape: 'true'\n", lambda m: f"\n{m[1]}prometheus.io/scrape: 'true'\n{m[1]}note: \"a\\tb\tc\"\n", _dump_all(batch))

    return _batch_files(n, out, text)


def namespaces(n: int, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for svc, docs in _by_service(documents(n)):
        ns = f"app{svc:05d}"
        for doc in docs:
            doc["metadata"]["namespace"] = ns
            for s in doc.get("spec", {}).get("subjects", []) if isinstance(doc.get("spec"), dict) else []:
                s["namespace"] = ns
            for s in doc.get("subjects", []):
                s["namespace"] = ns
        f = out / f"{ns}.yaml"
        f.write_text(_dump_all([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, *docs[:-1]]))
        files.append(f)
    return files


def unknown(n: int, out: Path) -> list[Path]:
    def text(k: int, batch: list[dict[str, Any]]) -> str:
        docs = []
        for j, doc in enumerate(batch):
            if j % 2:
                w = (k * 10 + j) % 50
                doc = {"apiVersion": "example.com/v1", "kind": f"Widget{w}",
                       "metadata": {"name": f"w{k}-{j}", "namespace": doc["metadata"]["namespace"]},
                       "spec": {"size": j, "color": "blue", "parts": [{"name": f"p{m}", "count": m} for m in range(5)]}}
            docs.append(doc)
        return _dump_all(docs)

    return _batch_files(n, out, text)


CRD_KINDS = 200


def _crd(k: int) -> dict[str, Any]:
    props = {
        "size": {"type": "integer", "minimum": 0, "maximum": 1000},
        "color": {"type": "string", "enum": ["red", "green", "blue"]},
        "parts": {"type": "array", "maxItems": 20, "items": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 63}, "count": {"type": "integer"}}}},
        "selector": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadget{k}s.g{k % 20}.example.com"},
        "spec": {
            "group": f"g{k % 20}.example.com", "scope": "Namespaced",
            "names": {"kind": f"Gadget{k}", "plural": f"gadget{k}s", "singular": f"gadget{k}", "listKind": f"Gadget{k}List"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                               "spec": {"type": "object", "required": ["size"], "properties": props,
                                        "x-kubernetes-validations": [{"rule": "self.size % 2 == 0 || self.color != 'red'",
                                                                      "message": "odd sizes are not red"}]}},
            }}}],
        },
    }


def crdkinds(n: int, out: Path) -> list[Path]:
    """Services, with every other document an object of one of CRD_KINDS custom kinds; the CRDs are
    written to `<out>-crds/` (one file each)."""
    crds = out.with_name(out.name + "-crds")
    crds.mkdir(parents=True, exist_ok=True)
    for k in range(CRD_KINDS):
        (crds / f"gadget{k}.yaml").write_text(_dump(_crd(k)))
    def text(k: int, batch: list[dict[str, Any]]) -> str:
        docs = []
        for j, doc in enumerate(batch):
            if j % 2:
                g = (k * 10 + j) % CRD_KINDS
                doc = {"apiVersion": f"g{g % 20}.example.com/v1", "kind": f"Gadget{g}",
                       "metadata": {"name": f"g{k}-{j}", "namespace": doc["metadata"]["namespace"]},
                       "spec": {"size": 2 * j, "color": "blue", "parts": [{"name": f"p{m}", "count": m} for m in range(5)],
                                "selector": {"app": "x"}}}
            docs.append(doc)
        return _dump_all(docs)

    return _batch_files(n, out, text)


SHAPES: dict[str, Callable[[int, Path], list[Path]]] = {
    "perdoc": perdoc, "single": single, "single-merge": single_merge, "helm": helm, "kustomize": kustomize, "list": as_list, "json": as_json,
    "bigdata": bigdata, "lastapplied": lastapplied, "labels": labels, "anchors": anchors, "merge": merge, "unicode": unicode,
    "crlf": crlf, "bom": bom, "tabs": tabs, "namespaces": namespaces, "unknown": unknown, "crdkinds": crdkinds,
}


if __name__ == "__main__":
    shape, count, where = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    made = SHAPES[shape](count, where)
    print(f"{len(made)} files in {where}")
