"""The progress bar: drawn on a terminal's stderr for long runs; silent when piped, with -q, or on stdout."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys

import pytest

from llmkube import progress
from tests.support.cli import llmkube

BAR_TEXT = "checking schemas and CEL rules"


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """More files than progress.MIN_ITEMS: a run long enough for a bar."""
    root = tmp_path_factory.mktemp("many")
    for i in range(progress.MIN_ITEMS + 20):
        (root / f"cm{i:03}.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: default}}\ndata: {{k: v}}\n")
    return root


def run_on_pty(*args: str) -> tuple[int, str, str]:
    """Run llmkube with stderr on a pseudo-terminal and stdout on a pipe: (exit code, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "llmkube", *args], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    terminal = b""
    while True:  # drain the terminal while the run goes on (a full pty buffer would block it)
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        terminal += chunk
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    proc.wait(timeout=120)
    os.close(master)
    return proc.returncode, stdout, terminal.decode(errors="replace")


def test_bar_on_a_terminal_and_never_in_the_report(many):
    code, stdout, terminal = run_on_pty("validate", str(many), "-o", "json")
    assert code == 0
    assert BAR_TEXT in terminal and f"/{progress.MIN_ITEMS + 20}" in terminal  # drawn, with its count
    assert "\r" in terminal  # redrawn in place
    assert BAR_TEXT not in stdout and "\x1b[" not in stdout
    import json

    assert json.loads(stdout)["checked"] == progress.MIN_ITEMS + 20


COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|9[0-7]|38;[25])")  # an SGR foreground colour


def test_bar_follows_color(many):
    """A terminal gets a coloured bar by default; --color never (flag or settings file) a plain one."""
    _, _, coloured = run_on_pty("validate", str(many))
    assert BAR_TEXT in coloured and COLOUR.search(coloured)
    _, _, plain = run_on_pty("--color", "never", "validate", str(many))
    assert BAR_TEXT in plain and not COLOUR.search(plain)
    (many.parent / "settings").mkdir(exist_ok=True)
    settings = many.parent / "settings" / ".llmkube.yaml"
    settings.write_text("color: never\n")
    _, _, from_file = run_on_pty("--config", str(settings), "validate", str(many))
    assert BAR_TEXT in from_file and not COLOUR.search(from_file)


def test_no_bar_with_quiet_on_a_terminal(many):
    code, _, terminal = run_on_pty("-q", "validate", str(many))
    assert code == 0 and BAR_TEXT not in terminal and "reading files" not in terminal


def test_no_bar_for_a_short_run_on_a_terminal(many):
    code, _, terminal = run_on_pty("validate", str(many / "cm000.yaml"))
    assert code == 0 and BAR_TEXT not in terminal


def test_no_bar_when_piped(many):
    out = llmkube("validate", str(many))
    assert out.returncode == 0
    assert out.stderr == "" and BAR_TEXT not in out.stdout
