"""Shell completion scripts and the completion protocol; readable metavars in every --help."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest

from llmkube.cli import cli_command
from tests.support.cli import llmkube


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script_for_each_shell(shell):
    out = llmkube("completion", shell)
    assert out.returncode == 0, out.stderr
    assert "_LLMKUBE_COMPLETE=complete_" + shell in out.stdout  # the script calls llmkube back with the protocol
    assert llmkube("completion", "tcsh").returncode == 2


def complete_bash(words: str) -> list[str]:
    """What llmkube answers when bash asks for completions of `words` (the last word being typed)."""
    parts = words.split(" ")
    env = {**os.environ, "_LLMKUBE_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
    out = subprocess.run([sys.executable, "-m", "llmkube"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_completion_protocol_completes_commands_subcommands_and_choices():
    assert complete_bash("llmkube val") == ["validate"]
    assert complete_bash("llmkube crds p") == ["pull"]
    assert complete_bash("llmkube validate --kueue-api v1") == ["v1beta2", "v1beta1"]
    assert "--ignore-missing-schemas" in complete_bash("llmkube validate --ignore-m")
    assert complete_bash("llmkube apply --create-n") == ["--create-namespace"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_sources_the_script_and_completes(tmp_path):
    """The real bash: source the script, call its completion function as bash's `complete -F` would."""
    shim = tmp_path / "llmkube"  # the script calls `llmkube` by name: this interpreter's
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m llmkube "$@"\n')
    shim.chmod(0o755)
    script = tmp_path / "llmkube.bash"
    script.write_text(llmkube("completion", "bash").stdout)
    probe = f'source {script}; COMP_WORDS=(llmkube rules sh); COMP_CWORD=2; _llmkube_completion llmkube; echo "${{COMPREPLY[@]}}"'
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["show"], out.stderr


# --------------------------------------------------------------------------- --help


def every_command(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, sub in getattr(command, "commands", {}).items():
        out += every_command(sub, (*path, name))
    return out


#: What a help text must not show: Python types (`<list[Path]>`, `<str>`, `<float range>`), typer's
#: braces around a required argument (`{paths}...`), or a lower-case parameter name as a metavar.
PLACEHOLDER = re.compile(r"<(?:list\[[^>]*|str|int(?: range)?|float(?: range)?|path|bool|text|file|filename|datetime)>|\{[\w.]+\}|\[[a-z_]+(?:\]\.\.\.|\.\.\.\])")


def test_every_help_has_readable_metavars(capsys):
    from llmkube.cli import main

    commands = every_command(cli_command())
    assert ("validate",) in commands and ("crds", "pull") in commands and ("config",) in commands
    bad = {}
    for path in commands:
        with pytest.raises(SystemExit):
            main([*path, "--help"])
        text = capsys.readouterr().out
        assert "Usage: llmkube" in text
        found = PLACEHOLDER.findall(text)
        if found:
            bad[" ".join(path) or "(root)"] = found
    assert bad == {}
    # the test can fail: what typer 0.29 writes by itself is caught
    assert PLACEHOLDER.findall("Usage: llmkube validate [OPTIONS] {paths}...\n  paths... <list[str]>  --crds <list[Path]>")


def test_usage_line_names_arguments_by_metavar(capsys):
    from llmkube.cli import main

    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    assert "Usage: llmkube validate [OPTIONS] PATH...\n" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["crds", "pull", "--help"])
    assert "Usage: llmkube crds pull [OPTIONS] [SOURCE...]\n" in capsys.readouterr().out
