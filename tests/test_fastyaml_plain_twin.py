"""The marked reader's plain twin (`fastyaml.load_marked`'s third item) against what it replaced.

A run took every manifest through `yamlio.to_plain` and `document_problems` through the clean check
(`yamlio._plainly_clean`), two more walks per document after the reader's. The reader now builds the
plain data beside the marked one and tells a clean document; it must be exactly `to_plain(data)`
(the same types at every leaf and key, the same key order), given only for documents
`_plainly_clean` passes, and for (nearly) all of an ordinary corpus, or nothing is saved.
"""

from __future__ import annotations

from typing import Any

import pytest

from llmkube import yamlio
from llmkube.fastyaml import NeedsReference, load_marked
from llmkube.options import MAX_NESTING
from tests.test_fastyaml_marked import EDGE_CASES, corpus_files


def identical(a: Any, b: Any) -> bool:
    """Equal, with exactly the same types at every node and key, and keys in the same order."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(type(k) is type(j) for k, j in zip(a, b)) and all(identical(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)


#: Documents the clean check refuses (each must get no twin), and clean ones beside them.
UNCLEAN = {
    "inf": "a: .inf\n",
    "nan": "a: [1, .NaN]\n",
    "inf-twice": "a: -.inf\nb: -.inf\n",  # the second is not answered from the scalar cache
    "int-above-64-bits": "a: 9223372036854775808\n",
    "int-below-64-bits": "a: -9223372036854775809\n",
    "hex-above-64-bits": "a: 0x8000000000000000\n",
    "int-key": "1: a\n",
    "bool-key": "metadata:\n  true: a\n",
    "null-key": "a: {null: b}\n",
    "float-key": "a:\n  - {1.5: b}\n",
    "surrogate-value": 'a: "\\ud800"\n',
    "surrogate-key": '"\\udc00": 1\n',
    "too-deep": "a: " + "[" * MAX_NESTING + "]" * MAX_NESTING + "\n",
}
CLEAN = {
    "largest-int": "a: 9223372036854775807\nb: -9223372036854775808\n",
    "finite": "a: 1.5e300\nb: -0.0\n",
    "deep-enough": "a: " + "[" * (MAX_NESTING - 1) + "]" * (MAX_NESTING - 1) + "\n",
    "block-and-quoted": "a: |\n  x\nb: >\n  y\nc: 'z'\nd: \"\\u00e9\"\ne: [1, 2.5, true, null, ~]\n",
}


def loaded(text: str) -> list[tuple[Any, int, Any]]:
    try:
        return load_marked(text)
    except NeedsReference:
        return []


def check(text: str) -> tuple[int, int]:
    """(documents with a twin, documents without); each twin held to to_plain and the clean check."""
    twins = without = 0
    for data, _line, plain in loaded(text):
        if data is None:
            assert plain is None
            continue
        if plain is None:
            without += 1
            continue
        twins += 1
        assert identical(plain, yamlio.to_plain(data))
        assert yamlio._plainly_clean(data)
        assert plain is not data and all(a is not b for a, b in zip(containers(plain), containers(data)))
    return twins, without


def containers(node: Any) -> list[Any]:
    """Every dict and list of a tree, depth first (the twin shares the scalars, never a container)."""
    if not isinstance(node, (dict, list)):
        return []
    out = [node]
    for child in node.values() if isinstance(node, dict) else node:
        out += containers(child)
    return out


def test_every_corpus_document_gets_the_twin_to_plain_makes():
    twins = without = 0
    for path in corpus_files():
        a, b = check(path.read_text(encoding="utf-8"))
        twins, without = twins + a, without + b
    assert twins > 400 and without <= twins // 100  # an ordinary corpus is clean: the walks are saved


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases(name):
    check(EDGE_CASES[name])


@pytest.mark.parametrize("name", sorted(UNCLEAN))
def test_a_document_the_clean_check_refuses_gets_no_twin(name):
    for _ in range(2):  # the second time with the scalar cache filled
        docs = loaded(UNCLEAN[name] + "---\nkind: Clean\n")
        if name.startswith("surrogate") and not docs:
            continue  # libyaml refuses a lone surrogate: the whole text goes to the reference path
        assert [plain is None for _, _, plain in docs] == [True, False]
        assert not yamlio._plainly_clean(docs[0][0])


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_documents_at_the_edges_get_their_twin(name):
    for _ in range(2):
        assert check(CLEAN[name]) == (1, 0)


@pytest.mark.parametrize("name", sorted(UNCLEAN))
def test_document_problems_still_walks_what_has_no_twin(name):
    """The problems found with the twin (none) and without (the walker's) are those of the reference path."""
    text = UNCLEAN[name]
    fast, ref = yamlio.parse_documents(text, "f.yaml"), yamlio.parse_documents(text, "f.yaml", reference=True)
    assert [str(e) for d in fast for e in yamlio.document_problems(d)] == [str(e) for d in ref for e in yamlio.document_problems(d)]
    assert any(yamlio.document_problems(d) for d in fast) or name == "surrogate-key"


def test_the_run_takes_the_twin():
    (doc,) = yamlio.parse_documents("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  k: |\n    v\n", "f.yaml")
    assert doc.plain is not None and yamlio.plain_data(doc) is doc.plain
    assert identical(doc.plain, yamlio.to_plain(doc.data))
