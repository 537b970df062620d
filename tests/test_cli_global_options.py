"""Global options (`--debug`, `--color`, `-q/--quiet`, `-v/--verbose`) work before or after the command."""

from __future__ import annotations

import pytest

from llmkube.cli import hoist_global_options, main
from tests.support.cli import llmkube

BAD_POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: 3}\n"


@pytest.fixture
def training(tmp_path):
    """A TrainingJob whose render prints a note (Kueue's PyTorchJob integration is off by default)."""
    path = tmp_path / "training.yaml"
    assert llmkube("init", "training", "-o", str(path)).returncode == 0
    return path


def test_hoist_moves_global_options_before_the_command_and_nothing_after_dashdash():
    assert hoist_global_options(["validate", "x", "--debug", "--color", "never", "-q"]) == ["--debug", "--color", "never", "-q", "validate", "x"]
    assert hoist_global_options(["render", "--color=always", "x"]) == ["--color=always", "render", "x"]
    assert hoist_global_options(["validate", "--", "-v"]) == ["validate", "--", "-v"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_prints_the_traceback_of_an_internal_error(where, monkeypatch, capsys, tmp_path):
    import llmkube.commands.validate as validate_command

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(validate_command, "run_validate", boom)
    argv = ["--debug", "validate", str(tmp_path)] if where == "before" else ["validate", str(tmp_path), "--debug"]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: kaboom" in err
    with pytest.raises(SystemExit):
        main(["validate", str(tmp_path)])  # the run without --debug: no traceback
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("where", ["before", "after"])
def test_color(where, tmp_path):
    (tmp_path / "pod.yaml").write_text(BAD_POD)
    args = ["validate", str(tmp_path / "pod.yaml")]
    for choice, escape in (("always", True), ("never", False)):
        out = llmkube(*(["--color", choice, *args] if where == "before" else [*args, "--color", choice]))
        assert out.returncode == 1, out.stderr
        assert ("\033[" in out.stdout) is escape, choice


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_drops_notes(flag, where, training):
    loud = llmkube("render", str(training))
    assert loud.returncode == 0 and "llmkube: note:" in loud.stderr
    args = [flag, "render", str(training)] if where == "before" else ["render", str(training), flag]
    quiet = llmkube(*args)
    assert quiet.returncode == 0
    assert "llmkube: note:" not in quiet.stderr
    assert quiet.stdout == loud.stdout


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_lists_the_objects_checked(flag, where, tmp_path):
    (tmp_path / "pod.yaml").write_text(BAD_POD)
    args = [flag, "validate", str(tmp_path / "pod.yaml")] if where == "before" else ["validate", str(tmp_path / "pod.yaml"), flag]
    out = llmkube(*args)
    assert out.returncode == 1
    assert f"llmkube: info: checked Pod/p at {tmp_path / 'pod.yaml'}:1:1" in out.stderr
    assert "llmkube: info:" not in llmkube("validate", str(tmp_path / "pod.yaml")).stderr


def test_quiet_and_verbose_together_is_a_usage_error(tmp_path):
    out = llmkube("validate", str(tmp_path), "-q", "-v")
    assert out.returncode == 2 and "not both" in out.stderr
