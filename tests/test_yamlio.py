from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from llmkube.errors import InputError
from llmkube.yamlio import dump_yaml, dump_yaml_documents, parse_documents


def test_marks_point_at_keys_and_items():
    text = "a: 1\nb:\n  - x: 1\n    y: [1, 2]\n"
    (doc,) = parse_documents(text, "f.yaml")
    assert str(doc.mark(("b", 0, "y"))) == "f.yaml:4:5"
    assert str(doc.mark(("b", 0))) == "f.yaml:3:5"
    # a path that does not exist stops at the deepest existing node
    assert str(doc.mark(("b", 0, "nope"))) == "f.yaml:3:5"


def test_documents_keep_their_start_lines_and_empty_ones_are_dropped():
    docs = parse_documents("---\n---\na: 1\n---\nb: 2\n", "f.yaml")
    assert [d.line for d in docs] == [3, 5]


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("a: 1\nb: [1, 2\n", "f.yaml:3:1", "syntax"),
        ("a: 1\na: 2\n", "f.yaml:2:1", "duplicate key"),
        ("a:\n\t- 1\n", "f.yaml:2:1", "syntax"),
    ],
)
def test_syntax_errors_carry_file_line_col(text, where, words):
    with pytest.raises(InputError) as exc:
        parse_documents(text, "f.yaml")
    assert str(exc.value.mark) == where
    assert words in str(exc.value)


@pytest.mark.parametrize("value", ["on", "yes", "No", "y", "012", "0x1F", "1:30", "true", "null", "~", "1e3", "", "1.0", "2001-12-14"])
def test_strings_a_yaml11_reader_would_misread_are_quoted(value):
    out = dump_yaml({"k": value})
    assert out.startswith('k: "'), out
    # and they read back as the same string (YAML 1.2 and 1.1 readers)
    assert YAML(typ="safe").load(out) == {"k": value}
    yaml11 = YAML(typ="safe", pure=True)
    yaml11.version = (1, 1)
    assert yaml11.load(out) == {"k": value}


def test_plain_strings_stay_plain_and_key_order_is_kept():
    out = dump_yaml({"zeta": "hello", "alpha": ["a", {"b": 1}]})
    assert out == "zeta: hello\nalpha:\n- a\n- b: 1\n"


def test_multiline_strings_use_block_style():
    out = dump_yaml({"script": "line1\nline2\n"})
    assert out == "script: |\n  line1\n  line2\n"


def test_document_stream_separators():
    assert dump_yaml_documents([{"a": 1}, {"b": 2}]) == "---\na: 1\n---\nb: 2\n"
    assert dump_yaml_documents([]) == ""
