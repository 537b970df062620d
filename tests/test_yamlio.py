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


# --- values arrive exactly ------------------------------------------------------------

import io  # noqa: E402
import json  # noqa: E402

import yaml as pyyaml  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from llmkube.options import Options  # noqa: E402
from llmkube.pipeline import render_specs  # noqa: E402
from llmkube.specs.parse import parse_specs  # noqa: E402
from llmkube.yamlio import document_problems, dump_json_documents  # noqa: E402

#: Every character YAML 1.1 or 1.2 reads as a line break, and the ones it forbids raw.
BREAKS = "\n\r\x85\u2028\u2029"
HOSTILE = st.text(alphabet=st.one_of(st.sampled_from(BREAKS + "\t\x00\x07\x7f\x9f\ufeff\ufffe \"'\\:#&*!|>%@`{}[],-?"), st.characters(exclude_categories=("Cs",))))


def readers(text: str) -> list:
    """The same YAML stream read by libyaml (PyYAML) and by ruamel in YAML 1.1 and 1.2 modes."""
    out = [list(pyyaml.load_all(text, Loader=getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)))]
    for version in ((1, 1), (1, 2)):
        reader = YAML(typ="safe", pure=True)
        reader.version = version
        out.append(list(reader.load_all(io.StringIO(text))))
    return out


@pytest.mark.parametrize("value", ["a\u2028b", "a\u2029b", "a\x85b", "a\rb", "a\r\nb", "\u2028", "x\n\u2028y\n", "\ufeffbom"])
def test_line_break_characters_round_trip(value):
    text = dump_yaml({"v": value, value: "k"})
    for docs in readers(text):
        assert docs == [{"v": value, value: "k"}]


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_any_text_round_trips_through_the_emitter(value):
    text = dump_yaml({"v": value, "l": [value], value: 1})
    for docs in readers(text):
        assert docs == [{"v": value, "l": [value], value: 1}]


SPEC = """\
apiVersion: llmkube.dev/v1alpha1
kind: InferenceEndpoint
metadata:
  name: ep
  annotations: {note: %(v)s}
spec:
  model: meta-llama/Llama-3.1-8B-Instruct
  gpu: h100-80gb
  env: {USER_VALUE: %(v)s}
"""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE)
def test_spec_values_arrive_exactly_in_yaml_and_json_output(value):
    docs = parse_documents(SPEC % {"v": json.dumps(value)}, "ep.yaml")
    assert [p for d in docs for p in document_problems(d)] == []
    rendering = render_specs(parse_specs(docs), Options())
    objects = [r.obj for r in rendering.objects]
    streams = readers(dump_yaml_documents(objects)) + [json.loads(dump_json_documents(objects))["items"]]
    for out in streams:
        (isvc,) = [o for o in out if o and o["kind"] == "InferenceService"]
        assert isvc["metadata"]["annotations"]["note"] == value
        env = {e["name"]: e.get("value") for e in isvc["spec"]["predictor"]["containers"][0]["env"]}
        assert env["USER_VALUE"] == value


# --- directories walked: the same files, in the same order, as pathlib's rglob found them ---------

import os  # noqa: E402
from pathlib import Path  # noqa: E402

from llmkube.yamlio import YAML_SUFFIXES, expand_paths  # noqa: E402


def _rglob_reference(root: str) -> list[str]:
    """What expand_paths found for a directory before session 29 (pathlib's rglob, a stat per file)."""
    path = Path(root)
    return sorted(
        str(f)
        for f in path.rglob("*")
        if f.is_file() and f.suffix in YAML_SUFFIXES and not any(part.startswith(".") for part in f.relative_to(path).parts)
    )


def _tricky_tree(root: Path) -> None:
    for rel in ("a.yaml", "b.yml", "c.json", "d.txt", "yaml", ".yaml", "e.yaml.", "f.YAML", "x.y.yaml",
                "sub/g.yaml", "sub/deeper/h.yml", "sub/deeper/i.json", ".hidden/j.yaml", "sub/.k.yaml",
                "sub/.git/l.yaml", "dir.yaml/m.yaml", "z/n.yaml", "A/o.yaml", "0/p.yaml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("a: 1\n")
    (root / "linked-dir").symlink_to(root / "sub", target_is_directory=True)
    (root / "linked.yaml").symlink_to(root / "a.yaml")
    (root / "broken.yaml").symlink_to(root / "missing.yaml")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    os.mkfifo(root / "fifo.yaml")


def test_directories_are_walked_as_rglob_walked_them(tmp_path, monkeypatch):
    _tricky_tree(tmp_path / "t")
    monkeypatch.chdir(tmp_path)
    for root in (str(tmp_path / "t"), str(tmp_path / "t") + "/", "t", "./t", "t/sub", "t/dir.yaml"):
        found = expand_paths([root])
        assert found == _rglob_reference(root), root
    monkeypatch.chdir(tmp_path / "t")
    assert expand_paths(["."]) == _rglob_reference(".")
    assert "a.yaml" in expand_paths(["."]) and "linked.yaml" in expand_paths(["."])
    assert not any("linked-dir" in p or ".hidden" in p or "broken" in p or "fifo" in p for p in expand_paths(["."]))
