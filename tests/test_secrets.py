"""Secrets stay secret: no message prints a token in full; LK501 and render see args, extraArgs, annotations (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from llmkube.check.findings import Finding, Severity
from llmkube.cli import main
from llmkube.commands.common import input_error_lines
from llmkube.errors import InputError
from llmkube.report import FORMATS, render_github, render_json, render_junit, render_sarif, render_text
from llmkube.secrets import find_tokens, mask

REPO = Path(__file__).resolve().parents[1]
TOKENS = [
    "hf_ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210",
    "ghp_" + "a1B2" * 9,
    "github_pat_" + "x9" * 30,
    "AKIAIOSFODNN7EXAMPLE",
    "sk-proj-" + "Q" * 40,
    "glpat-" + "z" * 20,
]


@pytest.mark.parametrize("token", TOKENS)
def test_every_shape_is_found_and_masked(token: str) -> None:
    assert find_tokens(f"x {token} y") == [token]
    assert token not in mask(f"value '{token}' is not one of ['a']")
    assert token[:5] in mask(token)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(TOKENS), st.text(max_size=20), st.text(max_size=20))
def test_no_report_format_prints_a_token(token: str, before: str, after: str) -> None:
    f = Finding("schema", Severity.ERROR, f"{before} {token} {after}", f"ConfigMap/{token}", "data.x", hint=f"h {token}")
    for render in (render_text, render_json, render_junit, render_sarif, render_github):
        assert token not in render([f])
    err = InputError(f"bad {token}", field=token, hint=token)
    assert all(token not in line for line in input_error_lines(err))
    assert len(FORMATS) == 5


def _spec(tmp_path: Path, body: str) -> str:
    p = tmp_path / "s.yaml"
    p.write_text(body)
    return str(p)


ENDPOINT = """\
apiVersion: llmkube.dev/v1alpha1
kind: Fleet
metadata: {{name: f}}
spec:
  pools:
    - name: l4
      gpu: l4
      gpusPerNode: 4
      nodeLabels: {{cloud.google.com/gke-nodepool: l4}}
---
apiVersion: llmkube.dev/v1alpha1
kind: InferenceEndpoint
metadata:
  name: e
  namespace: llm
spec:
  model: BAAI/bge-large-en-v1.5
  runtime: {runtime}
  target: deployment
  pool: l4
  maxModelLen: 512
  extraArgs: [--api-key, {token}]
  resources: {{cpu: 2, memory: 8Gi}}
"""


def test_render_warns_on_a_token_in_extra_args(upstream_crds, tmp_path: Path, capsys) -> None:
    token = TOKENS[1]
    with pytest.raises(SystemExit) as exit_:
        main(["render", _spec(tmp_path, ENDPOINT.format(runtime="vllm", token=token)), "--crds", str(upstream_crds)])
    out, err = capsys.readouterr()
    assert exit_.value.code == 0
    assert "warning [LK501]" in err and "container argument" in err
    assert token not in err and token in out  # the manifest is the user's; the log is not


def test_validate_errors_on_a_token_in_an_annotation(tmp_path: Path, capsys) -> None:
    token = TOKENS[3]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "annotations": {"x": f"key={token}"}}, "data": {}}
    path = tmp_path / "cm.yaml"
    path.write_text(yaml.safe_dump(cm))
    with pytest.raises(SystemExit) as exit_:
        main(["validate", str(path)])
    err_out = capsys.readouterr()
    text = err_out.out + err_out.err
    assert exit_.value.code == 1
    assert "[LK501]" in text and "annotation x" in text and token not in text


def test_schema_enum_error_masks_the_token(upstream_crds, tmp_path: Path, capsys) -> None:
    token = TOKENS[0]
    with pytest.raises(SystemExit):
        main(["render", _spec(tmp_path, ENDPOINT.format(runtime=token, token="x")), "--crds", str(upstream_crds)])
    err = capsys.readouterr().err
    assert "runtime" in err and token not in err


def test_an_internal_error_line_masks_a_token_and_stays_one_line(monkeypatch, capsys) -> None:
    """Exit 3 is for our bugs, but the exception may quote a value from the input: it is masked there too."""
    import llmkube.commands.validate as validate_cmd
    from llmkube.cli import State, main

    token = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345"

    def boom(*args, **kwargs):
        raise RuntimeError(f"cannot handle {token!r}\n::add-mask::x")

    monkeypatch.setattr(validate_cmd, "run_validate", boom)
    monkeypatch.setattr(State, "debug", False)
    for debug in (False, True):
        with pytest.raises(SystemExit) as exc:
            main([*(["--debug"] if debug else []), "validate", "x.yaml"])
        assert exc.value.code == 3
        err = capsys.readouterr().err
        assert token not in err and "hf_Ab…" in err
        (line,) = [line for line in err.splitlines() if line.startswith("llmkube: internal error:")]
        assert "RuntimeError: cannot handle 'hf_Ab…'\\n::add-mask::x" in line
        assert ("Traceback" in err) is debug


def _holds_token_reference(text: str) -> bool:
    from llmkube.secrets import AWS_SECRET, TOKEN

    return bool(TOKEN().search(text) or AWS_SECRET().search(text))


#: Pieces that make and break the patterns: each alternative's literal start, a word of token
#: characters, separators, the AWS key name in several cases, and non-ASCII letters that match ASCII
#: ones when case is ignored (ſ and s, K and the Kelvin sign K, ı and i).
_PIECES = [
    "hf_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "gh_", "github_pat_", "glpat-", "AKIA", "ASIA", "sk-", "sk-proj-",
    "sk-ant-", "xoxb-", "xox", "AIza", "nvapi-", "aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "aws_ſecret_access_key",
    "aws_secret_access_Key", "Aws_Secret_Access_Key", "=", ": ", " ", "\n", "'", '"', "/", "+", "-", "_", "ı", "é",
    "a1B2c3D4e5F6g7H8i9J0", "ZYXWVUTSRQPONMLKJIHG", "0123456789", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
]


@pytest.mark.parametrize("text", [*TOKENS, "", "hf_", "plain text", "aws_secret_access_key: " + "a" * 40,
                                  "AWS_SECRET_ACCESS_KEY='" + "B/" * 20 + "'", "aws_ſecret_access_key=" + "c" * 40,
                                  "x hf_ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210 y", "é " + TOKENS[0]])
def test_holds_token_answers_what_the_searches_do(text):
    """`holds_token` rules texts out by the literal starts the patterns need: the same answer as
    searching with both patterns (LK501's quick check asks it of every object's strings)."""
    from llmkube.secrets import holds_token

    assert holds_token(text) == _holds_token_reference(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12))
def test_holds_token_answers_what_the_searches_do_for_any_text(pieces):
    from llmkube.secrets import holds_token

    text = "".join(pieces)
    assert holds_token(text) == _holds_token_reference(text)


#: One token of each of TOKEN's alternatives, in its order.
_ONE_OF_EACH = ["hf_" + "a" * 20, "ghs_" + "b" * 30, "github_pat_" + "c" * 40, "glpat-" + "d" * 20, "ASIA" + "E" * 16,
                "sk-ant-" + "f" * 20, "xoxr-" + "g" * 10, "AIza" + "h" * 35, "nvapi-" + "i" * 20]


def test_every_token_pattern_starts_with_a_literal_holds_token_looks_for():
    """Each alternative of TOKEN needs one of `_TOKEN_STARTS` (a new pattern must add its start, and
    a token here): each sample is a match of its own alternative, and `holds_token` finds it."""
    import re

    from llmkube.secrets import _TOKEN_STARTS, TOKEN, holds_token

    body, depth, alternatives, current = TOKEN().pattern[len(r"\b(") : -1], 0, [], ""
    for ch in body:  # split at the top level's `|` only
        depth += ch == "(" and 1 or ch == ")" and -1 or 0
        if ch == "|" and depth == 0:
            alternatives.append(current)
            current = ""
        else:
            current += ch
    alternatives.append(current)
    assert len(alternatives) == len(_ONE_OF_EACH)
    for alt, sample in zip(alternatives, _ONE_OF_EACH):
        assert re.fullmatch(alt, sample), (alt, sample)
        assert holds_token(sample) and any(start in sample for start in _TOKEN_STARTS)
