"""The fast parse path (libyaml, `fastyaml.load_marked`) against the reference path (ruamel round-trip).

For every input both must give the same documents (values *and* their Python types: numbers of the same
builtin kind, as ruamel's ScalarInt/ScalarFloat only remember a number's spelling), the same start
lines, the same mark for every path inside them, and the same error (message and position) for broken
input; and a whole `validate` must report the same findings either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmkube import yamlio
from llmkube.errors import InputError
from llmkube.fastyaml import NeedsReference, load_marked
from llmkube.options import InputLimits
from tests.support.crds import UPSTREAM_CRDS
from tests.support.paths import EXAMPLES, REPO


def corpus_files() -> list[Path]:
    files = sorted((REPO / "tests" / "cases").rglob("*.yaml")) + sorted(EXAMPLES.glob("*.yaml"))
    if (UPSTREAM_CRDS / "examples").is_dir():
        files += sorted((UPSTREAM_CRDS / "examples").rglob("*.yaml"))
    return files


#: Tricky and broken inputs; each goes through both paths (most are left to the reference path).
EDGE_CASES = {
    "scalars-1.2": "a: 0o12\nb: 012\nc: 1_000\nd: 0x1F\ne: 1e3\nf: .5\ng: yes\nh: ~\ni: +12\nj: 0.90\nk: .inf\nl: -0\nm: 0b101\nn: 1:30\no: True\np: NULL\nq: 1.\nr: 00\ns: .NaN\nt: ''\nu:\n",
    "keys": "2: a\ntrue: b\nnull: c\n3.5: d\n'x': e\n",
    "block-scalars": "a: |\n  one\n  two\nb: >\n  folded\n  text\nc: |-\n  keep\nd: >+\n  x\n\n",
    "flow": "a: {b: [1, 2, {c: d}], e: 'f'}\ng: [\n  h,\n  i\n]\n",
    "comments": "# head\n\napiVersion: v1  # trailing\nkind: ConfigMap\n# middle\ndata:\n  - x # c\n",
    "empty-docs": "---\n---\na: 1\n---\n...\n---\nb: 2\n",
    "crlf": "a: 1\r\nb:\r\n  - c\r\n  - d\r\n",
    "bom": "\ufeffa: 1\n",
    "nested-seq": "- - - a\n    - b\n  - c\n- d: e\n  f: g\n",
    "multiline-plain": "a: one\n  two\n  three\nb: 'q\n\n  r'\n",
    "unicode": "a: h\u00e9llo \U0001F680\nb: \"\\u00e9\\U0001F680\"\n",
    "surrogate-pair": "a: \"\\ud83d\\ude80\"\n",
    "json": '{"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1", "b": [1, 2.5, true, null]}}',
    # anchored mappings and sequences and their aliases: the Python loop reads them (the compiled reader hands them to it)
    "anchors": "a: &x {b: 1}\nc: *x\n",
    "anchors-block": "metadata:\n  labels: &labels\n    app: x\n    tier: web\nspec:\n  selector:\n    matchLabels: *labels\n  template:\n    metadata:\n      labels: *labels\n",
    "anchors-in-lists": "a: &l [1, 2]\nb:\n- *l\n- *l\n- x\nc: [*l, *l]\nd: &m\n- 1\ne: *m\n",
    "anchored-items": "items:\n- &d\n  name: a\n  v: 1\n- *d\n- {b: *d}\n",
    "anchored-document": "--- &top\na: &x {b: 1}\nc: *x\n---\na: &x {b: 2}\nc: *x\n",
    "aliases-nested": "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nd: [*c, *c, *c]\n",
    # left to the reference path
    "alias-to-other-document": "a: &x {b: 1}\n---\nc: *x\n",
    "alias-recursive": "a: &x\n  b: *x\n",
    "anchor-defined-twice": "a: &x {b: 1}\nc: &x {d: 2}\ne: *x\n",
    "anchor-nested-twice": "a: &x {b: &x {c: 1}}\n",
    "alias-as-key": "a: &x {b: 1}\n*x : 2\n",
    "anchored-scalar": "a: &x 1\nb: *x\nc: &y text\nd: *y\n",
    "alias-document": "a: &x {b: 1}\n---\n*x\n",
    "anchors-and-a-timestamp": "a: &x {b: 1}\nc: *x\nd: \"x && y\"\ne: 2020-01-01\n",
    "merge": "a: &x {b: 1}\nc:\n  <<: *x\n  d: 2\n",
    "tags": "a: !!str 12\nb: !custom x\n",
    "timestamp": "a: 2020-01-01\n",
    "directive": "%YAML 1.1\n---\na: yes\n",
    "scalar-document": "a: 1\n---\n42\n",
    "list-document": "- a\n- b\n",
    "nel": "a: b\x85c\n",
    "line-separator": "a: b\u2028c\n",
    "lone-surrogate": 'a: "\\ud83d"\n',
    "complex-key": "? [a]\n: x\n",
    # broken
    "unclosed-flow": "a: 1\nb: [1, 2\n",
    "duplicate-key": "a: 1\na: 2\n",
    "tab-indent": "a:\n\t- 1\n",
    "bad-indent": "a:\n  b: 1\n c: 2\n",
    "colon-in-value": "a: b: c\n",
    "unclosed-quote": 'a: "abc\nb: 1\n',
    "deep": "[" * 500 + "\n",
    "long-int": "n: " + "9" * 5000 + "\n",
    "bad-date": "a: 2020-02-30\n",
    "bad-int-tag": 'a: !!int "x"\n',
    "nul": "a: b\x00\n",
    "stray-document-end": "a: 1\n...\nb: [\n",
}


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Any:
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def kind(value: Any) -> type:
    """A scalar's type, ruamel's number subclasses (ScalarInt, HexInt, ScalarFloat ...) taken as int and float."""
    for number in (bool, int, float):
        if isinstance(value, number):
            return number
    return type(value)


def same(a: Any, b: Any) -> bool:
    """Equal values of the same scalar types (containers: dict vs CommentedMap, list vs CommentedSeq;
    numbers: of the same builtin kind; strings: of the same type, block scalars as ruamel types them)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(kind(k1) is kind(k2) for k1, k2 in zip(a, b)) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return kind(a) is kind(b) and (a == b or (a != a and b != b) or repr(a) == repr(b))


def outcome(text: str, reference: bool, limits: InputLimits | None = None) -> Any:
    try:
        return yamlio.parse_documents(text, "f.yaml", limits, reference=reference)
    except InputError as exc:
        return ("error", str(exc), str(exc.mark), exc.hint)


def assert_same(text: str, limits: InputLimits | None = None) -> None:
    fast, ref = outcome(text, False, limits), outcome(text, True, limits)
    if isinstance(ref, tuple) or isinstance(fast, tuple):
        assert fast == ref
        return
    assert [(d.index, d.line) for d in fast] == [(d.index, d.line) for d in ref]
    for a, b in zip(fast, ref):
        assert same(a.data, b.data)
        for path in paths(b.data):
            assert a.mark(path) == b.mark(path), path
        assert yamlio.document_problems(a) == yamlio.document_problems(b) or [str(e) for e in yamlio.document_problems(a)] == [
            str(e) for e in yamlio.document_problems(b)
        ]


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(p.parents[2])))
def test_both_paths_read_every_corpus_file_alike(path):
    assert_same(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_both_paths_read_edge_cases_and_broken_input_alike(name):
    assert_same(EDGE_CASES[name])


def test_the_fast_path_takes_the_common_input_and_leaves_the_rest():
    """Otherwise the test above would compare the reference path with itself."""
    for name in ("scalars-1.2", "keys", "block-scalars", "flow", "comments", "empty-docs", "crlf", "json", "unicode",
                 "anchors", "anchors-block", "anchors-in-lists", "anchored-items", "anchored-document", "aliases-nested"):
        load_marked(EDGE_CASES[name])
    for name in ("alias-to-other-document", "alias-recursive", "anchor-defined-twice", "anchor-nested-twice", "alias-as-key",
                 "anchored-scalar", "alias-document", "anchors-and-a-timestamp", "merge", "tags", "timestamp", "directive", "scalar-document", "nel", "complex-key", "duplicate-key", "unclosed-flow"):
        with pytest.raises(NeedsReference):
            load_marked(EDGE_CASES[name])


def test_aliases_share_the_anchored_node_and_its_marks_as_on_the_reference_path():
    """An alias is the anchored container itself (one object, as ruamel builds it), so the plain data
    expands it and the document's walker counts what it brings in; the document has no plain twin."""
    (doc,) = yamlio.parse_documents(EDGE_CASES["anchors-block"], "f.yaml")
    labels = doc.data["metadata"]["labels"]
    assert doc.data["spec"]["selector"]["matchLabels"] is labels
    assert doc.data["spec"]["template"]["metadata"]["labels"] is labels
    assert doc.plain is None
    plain = yamlio.plain_data(doc)
    assert plain["spec"]["selector"]["matchLabels"] == {"app": "x", "tier": "web"}
    assert plain["spec"]["selector"]["matchLabels"] is not plain["metadata"]["labels"]
    assert doc.mark(("spec", "selector", "matchLabels", "app")).line == 3  # the anchored node's key


@pytest.mark.parametrize("budget", [5, 12, 40, 1000])
def test_the_alias_budget_is_counted_alike(budget):
    """A "billion laughs" read on the fast path is refused by the same walker, at the same place."""
    text = "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n"
    limits = InputLimits(max_alias_nodes=budget)
    load_marked(text)  # taken by the fast path
    assert_same(text, limits)
    (fast,), (ref,) = yamlio.parse_documents(text, "f.yaml", limits), yamlio.parse_documents(text, "f.yaml", limits, reference=True)
    words = [str(e) for e in yamlio.document_problems(fast, limits)]
    assert words == [str(e) for e in yamlio.document_problems(ref, limits)]
    assert bool(words) == (budget < 100)


#: Streams whose whole text the fast reader leaves to the reference (a timestamp, a merge key, a tag):
#: read a document at a time, each edge case in one of their documents must read as the reference
#: reads the whole stream.
STREAMS = {
    "timestamp-before": "a: 1\n---\nb: 2020-01-01\n---\n{case}\n---\nc: [1, 2]\n",
    "merge-before": "x: &a {{y: 1}}\nz:\n  <<: *a\n---\n{case}",
    "tag-after": "{case}\n---\nb: !!str 5\n---\n- d\n- {{e: f}}\n",
    "crlf": "a: 1\r\n---\r\nb: 2020-01-01\r\n---\r\n{case}",
}


@pytest.mark.parametrize("stream", sorted(STREAMS))
@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_a_stream_read_a_document_at_a_time_reads_as_the_whole(name, stream):
    assert_same(STREAMS[stream].format(case=EDGE_CASES[name]))


def test_only_the_documents_the_fast_reader_leaves_go_to_the_reference(monkeypatch):
    """One merge key in a 300-document stream: the reference loader reads that document, not the stream."""
    read: list[str] = []
    reference = yamlio._reference_documents
    monkeypatch.setattr(yamlio, "_reference_documents", lambda text, *a: read.append(text) or reference(text, *a))
    docs = [f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  k: v\n" for i in range(300)]
    docs[150] = "x: &a {y: 1}\nz:\n  <<: *a\n  w: 2\n"
    text = "---\n" + "---\n".join(docs)
    fast = yamlio.parse_documents(text, "f.yaml")
    assert read == ["---\n" + docs[150]]
    starts = [n + 2 for n, line in enumerate(text.splitlines()) if line == "---"]  # each document's first line
    assert [(d.index, d.line) for d in fast] == list(enumerate(starts))
    assert fast[150].mark(("z", "w")).line == 2 + 7 * 150 + 3
    assert_same(text)
    read.clear()
    for whole in (text.replace("  k: v", '  k: "a\tb"', 1), "\ufeff" + text.replace("name: c7", "\ufeffname: c7")):
        yamlio.parse_documents(whole, "f.yaml")  # a tab, a byte-order mark after the start: read whole
        assert read == [whole]
        read.clear()


def test_the_document_limit_is_worded_alike():
    assert_same("a: 1\n---\nb: 2\n---\nc: 3\n", InputLimits(max_documents=2))


@pytest.mark.slow  # 13 s: the whole check twice over every case and example
@pytest.mark.usefixtures("upstream_crds")
def test_validate_reports_the_same_findings_on_either_path(monkeypatch):
    """The whole check (schemas, CEL, rules, marks in every finding) over examples, cases and upstream examples."""
    from llmkube import pipeline
    from llmkube.options import Options

    groups = [[str(p) for p in (REPO / "tests" / "cases" / "rules").rglob("*.yaml")], [str(EXAMPLES)], [str(UPSTREAM_CRDS / "examples")]]

    def findings() -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for group in groups:
            run, errors = pipeline.run_partial(sorted(group), Options(crd_dirs=(UPSTREAM_CRDS,), use_cache=False))
            out += [(f.code, f.message, str(f.mark), f.path, str(f.spec_mark)) for f in run.findings]
            out += [("input", str(e), str(e.mark)) for e in errors]
        return out

    fast = findings()

    def refuse(text: str) -> Any:
        raise NeedsReference

    monkeypatch.setattr(yamlio, "load_marked", refuse)
    assert findings() == fast
    assert len(fast) > 100
