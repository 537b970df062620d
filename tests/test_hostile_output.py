"""Values never build another language: PromQL, shell, stderr lines, CI reports (issue 10)."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from llmkube import promql
from llmkube.check.findings import Finding, Severity
from llmkube.commands.common import input_error_lines
from llmkube.engines import METRIC_QUERIES
from llmkube.errors import InputError, SourceMark
from llmkube.oneline import one_line
from llmkube.pipeline import NodeLabelStep
from llmkube.report import render_github, render_json, render_junit, render_text

INJECTION = '"} or vector(1e9) or x{a="'
hostile = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    [INJECTION, "a\nb", "\\", '\\"', "x\u2028llmkube: error: forged", "::error::x", "%0A::add-mask::s", "a\r\nb"]
)


# ---- PromQL --------------------------------------------------------------------


def _go_unquote(body: str) -> str:
    """PromQL's double-quoted string: Go escapes (the ones promql.label_value writes)."""
    out, i = [], 0
    table = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
    while i < len(body):
        c = body[i]
        assert c not in '"\n', "an unescaped quote or newline would end the string"
        if c == "\\":
            out.append(table[body[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


_MATCHER = re.compile(r'(\w+)(=~|=)"((?:[^"\\\n]|\\.)*)"')


def _matchers(query: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The query with matcher values blanked, and each label's (operator, unquoted value)."""
    found = {m.group(1): (m.group(2), _go_unquote(m.group(3))) for m in _MATCHER.finditer(query)}
    return _MATCHER.sub(lambda m: f'{m.group(1)}{m.group(2)}""', query), found


@settings(max_examples=300, deadline=None)
@given(ns=hostile, model=hostile, name=hostile)
def test_promql_values_stay_inside_their_matchers(ns: str, model: str, name: str) -> None:
    for template in METRIC_QUERIES.values():
        query = promql.fill(template, ns=ns, model=model, name=name)
        shape, found = _matchers(query)
        assert shape == _matchers(template.format(ns="", model="", name=""))[0]
        assert found["namespace"] == ("=", ns)
        if "model_name" in found:
            assert found["model_name"] == ("=", model)
        if "pod" in found:
            op, regex = found["pod"]
            assert op == "=~"
            assert re.fullmatch(regex, f"{name}-predictor-abc", re.DOTALL)
            assert not re.fullmatch(regex, f"x{name}-predictor-abc", re.DOTALL)


def test_promql_injection_is_data() -> None:
    query = promql.fill(METRIC_QUERIES[("vllm", "queued-requests")], ns="default", model=INJECTION, name="x")
    assert "vector(1e9)" in query and query.count('"') == 4 + INJECTION.count('"')
    assert query == 'sum(vllm:num_requests_waiting{namespace="default",model_name="\\"} or vector(1e9) or x{a=\\""})'


# ---- shell --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(hostile, hostile, min_size=1, max_size=3), st.dictionaries(hostile, hostile, min_size=1, max_size=2))
def test_node_label_command_is_one_argument_per_label(labels: dict[str, str], selector: dict[str, str]) -> None:
    cmd = NodeLabelStep(pool="p", selector=selector, labels=labels).kubectl_command()
    argv = shlex.split(cmd)
    sel = ",".join(f"{k}={v}" for k, v in selector.items())
    assert argv == ["kubectl", "label", "nodes", "-l", sel, *(f"{k}={v}" for k, v in labels.items()), "--overwrite"]


# ---- stderr lines ----------------------------------------------------------------


@given(hostile)
def test_one_line_is_one_line(text: str) -> None:
    out = one_line(text)
    assert len(out.splitlines()) <= 1 and "\n" not in out and "\r" not in out


@given(hostile, hostile, hostile)
def test_input_error_lines_cannot_forge_lines(message: str, field: str, hint: str) -> None:
    err = InputError(message, mark=SourceMark("f\nllmkube: error: x.yaml", 1, 2), field=field, hint=hint)
    lines = input_error_lines(err)
    assert "\n".join(lines).count("\n") == len(lines) - 1
    assert lines[0].startswith("llmkube: error: ")
    assert all(line.startswith(("  field: ", "  hint: ")) for line in lines[1:])


def test_note_is_one_line(capsys) -> None:
    from llmkube.commands.common import note

    note("pool 'a\nllmkube: error: forged'")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\\n" in err


# ---- reports ----------------------------------------------------------------------


def _finding(value: str) -> Finding:
    return Finding(
        code="LK201",
        severity=Severity.ERROR,
        message=f"bad {value}",
        object=f"Deployment/{value}",
        path=f"spec.{value}",
        mark=SourceMark(f"dir/{value}.yaml", 3, 4),
        hint=f"hint {value}",
    )


@settings(max_examples=200, deadline=None)
@given(hostile)
def test_text_and_github_reports_have_one_line_per_finding(value: str) -> None:
    f = _finding(value)
    text = render_text([f])
    assert len(text.splitlines()) == 3  # finding, hint, summary
    github = render_github([f])
    lines = github.splitlines()
    assert len(lines) == 2 and lines[0].startswith("::error file=")
    assert lines[1].startswith(("0 ", "1 "))  # the summary: no value starts a line of its own
    props = lines[0][len("::error ") : lines[0].index("::", 2)]
    assert [p.split("=", 1)[0] for p in props.split(",")] == ["file", "line", "col", "title"]


@settings(max_examples=200, deadline=None)
@given(hostile)
def test_machine_reports_parse(value: str) -> None:
    f = _finding(value)
    assert json.loads(render_json([f]))["findings"][0]["message"] == f"bad {value}"
    ET.fromstring(render_junit([f]).split("\n", 1)[1])  # XML 1.0 well-formed


@settings(max_examples=200, deadline=None)
@given(hostile)
def test_junit_failure_text_keeps_each_field_on_its_line(value: str) -> None:
    """A CI step that prints the JUnit failure text must not see a value start a line (`::error`, `::add-mask`)."""
    (failure,) = ET.fromstring(render_junit([_finding(value)]).split("\n", 1)[1]).iter("failure")
    lines = (failure.text or "").splitlines()
    assert len(lines) == 2 and lines[0].startswith("dir/") and lines[1].startswith("  hint: "), lines
