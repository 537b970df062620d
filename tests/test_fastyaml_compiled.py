"""The compiled marked reader (llmkube/_marked.c) against the Python loop it replaces (`load_marked_python`).

For every input both must give the same outcome: the same documents with the same values *and* types at
every node and key (MarkedMap/MarkedList, ruamel's block-scalar strings, int/float/bool/None), the same
`.start` and `.marks`, the same start lines, the same plain twins (or None for a document that is not
clean), or the same exception (NeedsReference in every refusal; what the Python loop lets through, such
as the UnicodeEncodeError of a lone surrogate, alike). Inputs: the repository's corpora, the examples'
renderings, the benchmarks' corpora, hostile text and hypothesis-made YAML.

The build is checked too: `$LLMKUBE_REQUIRE_CEXT` (CI) makes a missing extension a failure, and the
sha256 compiled into it must be the source's (a stale build: `pip install -e .` again).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmkube import fastyaml
from llmkube.options import MAX_NESTING
from tests.support.paths import EXAMPLES, REPO
from tests.test_fastyaml_marked import EDGE_CASES, corpus_files
from tests.test_fastyaml_plain_twin import CLEAN, UNCLEAN

try:
    from llmkube import _marked
except ImportError:  # no compiler or libyaml headers at install: fastyaml runs its Python loop
    _marked = None  # type: ignore[assignment]

REQUIRED = os.environ.get("LLMKUBE_REQUIRE_CEXT") == "1"


def test_the_extension_is_built_when_required():
    """CI builds it (.ci/run installs libyaml-dev): a fallback there would measure the wrong reader."""
    if not REQUIRED:
        pytest.skip("the compiled reader is optional here: set LLMKUBE_REQUIRE_CEXT=1 (as .ci/run does) to require it")
    assert _marked is not None, "llmkube._marked does not import: install libyaml-dev and a C compiler, then `pip install -e .`"
    assert fastyaml.compiled_reader() is _marked.load


pytestmark_compiled = pytest.mark.skipif(_marked is None, reason="llmkube._marked is not built (optional): install gcc and libyaml-dev, then `pip install -e .`")


@pytestmark_compiled
def test_the_build_is_of_the_current_source():
    """A build older than the source would answer for old code: rebuild with `pip install -e .`."""
    source = Path(fastyaml.__file__).with_name("_marked.c")
    assert _marked.SOURCE_SHA256 == hashlib.sha256(source.read_bytes()).hexdigest(), (
        "llmkube/_marked.c changed since the extension was built: run `pip install -e .` again"
    )
    assert _marked.API == fastyaml._MARKED_API
    assert _marked.LIBYAML_VERSION in fastyaml._SYSTEM_LIBYAML, "a libyaml the compiled reader was not checked against"
    assert fastyaml.compiled_reader() is _marked.load


def shape(node: Any) -> list[Any]:
    """Everything the reader decides about a node, as a flat list: types, marks, values, in document
    order (iterative: the deepest inputs are thousands of levels deep)."""
    out: list[Any] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.append((type(item).__name__, getattr(item, "start", None), getattr(item, "marks", None), len(item)))
            for k, v in reversed(list(item.items())):
                stack += [v, k]
        elif isinstance(item, list):
            out.append((type(item).__name__, getattr(item, "start", None), getattr(item, "marks", None), len(item)))
            stack += reversed(item)
        else:
            out.append((type(item).__name__, repr(item)))
    return out


def outcome(load: Any, text: Any) -> Any:
    try:
        docs = load(text)
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
        return ("raised", type(exc).__name__, str(exc))
    return [(shape(doc), line, shape(plain)) for doc, line, plain in docs]


def compiled_load(text: Any) -> Any:
    """`load_marked` as a run calls it (its YAML 1.1 line-break check, then the compiled reader)."""
    assert fastyaml.compiled_reader() is _marked.load
    return fastyaml.load_marked(text)


def assert_same(text: Any) -> Any:
    """Both readers, each with a cold and a warm scalar cache, the Python one first (it fills the cache)."""
    results = []
    for cold in (True, False):
        for load in (fastyaml.load_marked_python, compiled_load):
            if cold:
                fastyaml._RT_SCALARS.clear()
            results.append(outcome(load, text))
    python, compiled = results[0], results[1]
    assert compiled == python
    assert results[3] == results[2]
    return python


@pytestmark_compiled
def test_every_corpus_file_reads_alike():
    files = corpus_files()
    taken = 0
    for path in files:
        if isinstance(assert_same(path.read_text(encoding="utf-8")), list):
            taken += 1
    assert taken > 200  # most are read (the others: refused alike)


@pytestmark_compiled
@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_read_alike(name):
    assert_same(EDGE_CASES[name])


@pytestmark_compiled
@pytest.mark.parametrize("name", sorted(UNCLEAN) + sorted(CLEAN))
def test_clean_flags_alike(name):
    text = {**UNCLEAN, **CLEAN}[name]
    out = assert_same(text)
    if isinstance(out, list):  # (libyaml refuses a surrogate escape: both raise NeedsReference)
        assert (out[0][2] == [("NoneType", "None")]) == (name in UNCLEAN)


#: Hostile or unusual input; `refused` lists those both must refuse (the rest both must read).
HOSTILE = {
    "nul-raw": "a: b\x00c\n",
    "nul-escape": 'a: "b\\0c"\n',
    "lone-surrogate-in-str": "a: \ud800\n",
    "lone-surrogate-escape": 'a: "\\udfff"\n',
    "surrogate-pair-escape": 'a: "\\ud83d\\ude00"\n',
    "bom": "\ufeffa: 1\nb: [x, y]\n",
    "bom-after-document": "a: 1\n---\n\ufeffb: 2\n",
    "crlf": "a: 1\r\nb:\r\n  - c\r\n  - {d: e}\r\n",
    "cr-only": "a: 1\rb: 2\r",
    "tabs-in-values": "a:\tb\nc: 'd\te'\nf: [g,\th]\n",
    "tab-indent": "a:\n\t- 1\n",
    "non-ascii-keys": "é: 1\n日本語: {ключ: [x, y, {z: ü}]}\n\U0001F680: [a, b]\nkey: {é: 1, ü: 2}\n",
    "non-ascii-flow-columns": "{é: 1, ü: 2, 日本: [3, 4], x: {ы: y}}\n",
    "astral-before-key": "- \U0001F680\U0001F680: 1\n  next: 2\n",
    "duplicate-key": "a: 1\nb: 2\na: 3\n",
    "duplicate-key-by-value": "1: a\n1.0: b\n",
    "duplicate-key-true-one": "true: a\n1: b\n",
    "duplicate-nested": "a:\n  b: 1\n  b: 2\n",
    "complex-key-map": "? {a: 1}\n: x\n",
    "complex-key-flow": "{[a]: 1}\n",
    "anchor-on-map": "a: &x\n  b: 1\n",
    "anchor-on-scalar": "a: &x 1\n",
    "alias": "a: &x 1\nb: *x\n",
    "tag-on-seq": "a: !!seq [1]\n",
    "tag-bang": "a: ! 12\n",
    "tag-directive": "%TAG !e! tag:example.com,2000:\n---\na: 1\n",
    "yaml-directive": "%YAML 1.1\n---\na: 1\n",
    "scalar-document": "42\n",
    "quoted-scalar-document": "'a'\n",
    "null-document": "~\n---\na: 1\n",
    "empty": "",
    "only-comments": "# nothing\n",
    "explicit-empty-documents": "---\n...\n---\n---\n",
    "document-after-scalar-null": "---\n---\n- a\n",
    "unclosed-flow": "a: [1, 2\n",
    "bad-indent": "a:\n  b: 1\n c: 2\n",
    "nel": "a: b\x85c\n",
    "line-separator": "a: b\u2028c\n",
    "paragraph-separator": "a: b\u2029c\n",
    "control-char": "a: b\x07c\n",
    "del-char": "a: b\x7fc\n",
    "long-int": "n: " + "9" * 5000 + "\n",
    "big-int": "a: 99999999999999999999\n",
    "inf-nan": "a: [.inf, -.Inf, .NAN]\n",
    "timestamp": "a: 2020-01-01\n",
    "merge-key": "<<: {a: 1}\n",
    "block-scalars": "a: |+\n  x\n\nb: >-\n  y\n  z\nc: |2\n   indented\n",
    "block-scalar-key": "? |\n  k\n: v\n",
    "quoted-keys": "'a': 1\n\"b\": 2\n\"\\u00e9\": 3\n",
    "deep-valid": "[" * 300 + "]" * 300 + "\n",
    "deep-maps": "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "leaf: 1\n",
    "deep-invalid": "[" * 5000 + "\n",
    "many-documents": "---\na: 1\n" * 2000,
    "wide-flow": "{" + ", ".join(f"k{i}: {i}" for i in range(5000)) + "}\n",
    "huge-scalar": "a: " + "x" * 1_000_000 + "\nb: 1\n",
    "huge-quoted-unicode": 'a: "' + "é" * 200_000 + '"\nb: 1\n',
    "keys-after-long-line": "{a: " + "y" * 70_000 + ", b: 1}\n",
}


@pytestmark_compiled
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_reads_alike(name):
    assert_same(HOSTILE[name])


@pytestmark_compiled
def test_a_column_past_the_packing_width_packs_alike():
    """Columns past 2**24 run into the line's bits in both (the marks are the same integers)."""
    assert_same("{a: " + "z" * (2**24 + 5) + ", b: 1}\n")


@pytestmark_compiled
def test_nesting_past_the_limit_reads_alike_and_is_not_clean():
    for depth in (MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1, 20_000):
        out = assert_same("a: " + "[" * depth + "]" * depth + "\n")
        assert not isinstance(out, list) or out[0][2] == [("NoneType", "None")] or depth < MAX_NESTING


def nested(kind: str, depth: int) -> str:
    """`depth` levels of one way of nesting (around libyaml's limit of 1000 in PyYAML's wheels)."""
    if kind == "flow-seq":
        return "[" * depth + "]" * depth + "\n"
    if kind == "flow-map":
        return "{a: " * depth + "1" + "}" * depth + "\n"
    if kind == "flow-pairs":  # a single-pair mapping in a flow sequence spends no flow level
        return "[a: " * depth + "1" + "]" * depth + "\n"
    if kind == "block-seq":
        return "- " * depth + "x\n"
    if kind == "block-map":
        return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v: 1\n"
    if kind == "indentless":  # a sequence at its mapping's indentation opens no indentation level
        return "".join("  " * i + f"- k{i}:\n" for i in range(depth // 2)) + "  " * (depth // 2) + "- x\n"
    if kind == "block-then-flow":
        half = depth // 2
        return "".join("  " * i + f"k{i}:\n" for i in range(half)) + "  " * half + "[" * (depth - half) + "]" * (depth - half) + "\n"
    raise AssertionError(kind)


@pytestmark_compiled
@pytest.mark.parametrize("kind", ["flow-seq", "flow-map", "flow-pairs", "block-seq", "block-map", "indentless", "block-then-flow"])
def test_libyamls_nesting_limit_is_kept_alike(kind):
    """PyYAML's bundled libyaml refuses nesting past 1000 levels, counted its own way (llmkube/_marked.c,
    LEVEL_*); the compiled reader on the system's libyaml must refuse exactly the same documents."""
    outcomes = {depth: assert_same(nested(kind, depth)) for depth in (997, 998, 999, 1000, 1001, 1002, 1999, 2000, 2001, 2002)}
    if fastyaml._libyaml_nest_limit():
        assert not isinstance(outcomes[2002], list) or kind in ("flow-pairs", "indentless")
        assert isinstance(outcomes[997], list)


@pytestmark_compiled
def test_non_str_input_is_refused_alike():
    for value in (b"a: 1\n", None, 3):
        with pytest.raises(TypeError):
            fastyaml.load_marked(value)  # type: ignore[arg-type]
        assert outcome(compiled_load, value)[:2] == outcome(fastyaml.load_marked_python, value)[:2]


def rendered_texts() -> list[str]:
    """Every example's rendering, as `llmkube render` writes it."""
    from llmkube import pipeline
    from llmkube.options import Options
    from llmkube.yamlio import dump_json_documents, dump_yaml_documents

    out = []
    for spec in sorted(EXAMPLES.glob("*.yaml")):
        run = pipeline.run([str(spec)], Options())
        objs = [r.obj for r in run.rendering.objects]
        out += [dump_yaml_documents(objs), dump_json_documents(objs)]
    return out


@pytestmark_compiled
def test_every_rendering_reads_alike():
    texts = rendered_texts()
    assert len(texts) == 2 * len(list(EXAMPLES.glob("*.yaml")))
    for text in texts:
        assert isinstance(assert_same(text), list)


@pytestmark_compiled
def test_the_benchmark_corpora_read_alike(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gitops_corpus
        import perf_corpus
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    files = gitops_corpus.gitops(120, tmp_path / "gitops")
    seed = perf_corpus.seed_documents()
    files += perf_corpus.core(100, tmp_path / "core", seed) + perf_corpus.mixed(100, tmp_path / "mixed", seed)
    for path in files:
        assert isinstance(assert_same(path.read_text(encoding="utf-8")), list)


# --- hypothesis: YAML made from data in every style, and text made from YAML's own punctuation ---------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["yes", "No", "~", "null", "0o17", "0x1F", "1_000", ".5", "1e3", "+12", "-0", "2020-01-01", "<<", "=", "!x", "&a", "*a", "%x", "@", "`"]),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none()), inner, max_size=4)),
    max_leaves=25,
)


@pytestmark_compiled
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(DATA, min_size=1, max_size=3), flow=st.sampled_from([None, True, False]), style=st.sampled_from([None, "'", '"', "|", ">"]), width=st.sampled_from([8, 80, 1000]), unicode=st.booleans(), crlf=st.booleans())
def test_generated_yaml_reads_alike(docs, flow, style, width, unicode, crlf):
    import yaml

    try:
        text = yaml.safe_dump_all(docs, default_flow_style=flow, default_style=style, width=width, allow_unicode=unicode, explicit_start=len(docs) > 1)
    except yaml.YAMLError:
        return
    if crlf:
        text = text.replace("\n", "\r\n")
    assert_same(text)


YAML_BITS = st.sampled_from(
    ["a", "b", "é", "日", "\U0001F680", "1", "0x1F", ".5", "~", "true", " ", "  ", "\t", "\n", "\r\n", "\r", "-", "- ", ":", ": ", "?", "? ",
     ",", "[", "]", "{", "}", "'", '"', "\\", "\\u00e9", "\\ud800", "|", ">", "#", "&x ", "*x", "!", "!!str ", "%YAML 1.1\n", "---\n", "...\n",
     "\ufeff", "\x85", "\u2028", "\x00", "\x07", "\ud800", "<<: "]
)


@pytestmark_compiled
@settings(max_examples=1000, deadline=None)
@given(st.lists(YAML_BITS, max_size=40).map("".join))
def test_generated_text_reads_alike(text):
    assert_same(text)


# --- the plain reader: `load_plain`'s documents (fastyaml._fast_documents) -----------------------------


def plain_outcome(text: str, public_too: bool = True) -> Any:
    """The compiled plain reader against `_fast_documents`: the same documents (exact types at every node
    and key), or it hands the text back (`_NeedsFullLoader`) and the Python loop reads it; and
    `load_plain` (which falls back to PyYAML's loader and words errors) gives the same either way."""
    compiled = fastyaml.compiled_reader() and fastyaml._compiled_plain
    assert compiled is _marked.load_plain
    try:
        docs = compiled(text)
    except fastyaml._NeedsFullLoader:
        docs = None
    except UnicodeEncodeError:  # a lone surrogate in the str: the Python loop raises it too
        with pytest.raises(UnicodeEncodeError):
            fastyaml._fast_documents(text)
        docs = None
    if docs is not None:
        assert [shape(d) for d in docs] == [shape(d) for d in fastyaml._fast_documents(text)]
    if not public_too:
        return docs

    def public() -> Any:
        try:
            return [shape(d) for d in fastyaml.load_plain(text, "f.yaml")]
        except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
            return ("raised", type(exc).__name__, str(exc))

    with_c = public()
    try:
        fastyaml._compiled_plain = None
        without = public()
    finally:
        fastyaml._compiled_plain = compiled
    assert with_c == without
    return docs


@pytestmark_compiled
def test_the_plain_reader_reads_every_crd_and_corpus_file_alike():
    import yaml

    from tests.support.crds import UPSTREAM_CRDS

    files = sorted(UPSTREAM_CRDS.rglob("*.yaml")) + corpus_files()
    for path in files:
        text = path.read_text(encoding="utf-8")
        if plain_outcome(text, public_too=False) is None:  # handed back only what the Python loop does not read either
            with pytest.raises((fastyaml._NeedsFullLoader, yaml.YAMLError)):
                fastyaml._fast_documents(text)


@pytestmark_compiled
@pytest.mark.parametrize("name", sorted(HOSTILE) + [f"edge:{k}" for k in sorted(EDGE_CASES)])
def test_the_plain_reader_reads_hostile_input_alike(name):
    plain_outcome(EDGE_CASES[name[5:]] if name.startswith("edge:") else HOSTILE[name])


@pytestmark_compiled
def test_the_plain_reader_keeps_yaml_1_1_and_its_own_refusals():
    """What the plain reader differs from the marked one in: YAML 1.1 scalars, directives and "!" tags
    read, duplicate keys (the last wins) and scalar documents kept; anchors, merge keys and tags handed back."""
    assert plain_outcome("a: yes\nb: 0o12\nc: 012\nd: 2020-01-01\n") == [{"a": True, "b": "0o12", "c": 10, "d": "2020-01-01"}]
    assert plain_outcome("%YAML 1.1\n---\na: ! 12\nb: 1\nb: 2\n---\n42\n") == [{"a": 12, "b": 2}, 42]
    for text in ("a: &x 1\nb: *x\n", "<<: {a: 1}\n", "a: !!str 1\n", "a: [1\n", "? [a]\n: 1\n", "n: " + "9" * 5000 + "\n"):
        assert plain_outcome(text) is None


@pytestmark_compiled
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(DATA, min_size=1, max_size=3), flow=st.sampled_from([None, True, False]), style=st.sampled_from([None, "'", '"', "|", ">"]))
def test_the_plain_reader_reads_generated_yaml_alike(docs, flow, style):
    import yaml

    try:
        text = yaml.safe_dump_all(docs, default_flow_style=flow, default_style=style, explicit_start=len(docs) > 1)
    except yaml.YAMLError:
        return
    plain_outcome(text)


@pytestmark_compiled
@settings(max_examples=600, deadline=None)
@given(st.lists(YAML_BITS, max_size=40).map("".join))
def test_the_plain_reader_reads_generated_text_alike(text):
    plain_outcome(text)
