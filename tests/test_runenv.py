"""What llmkube sets in its own environment stays out of the programs it starts (kubectl)."""

from __future__ import annotations

import os
import stat
import sys

from llmkube import runenv
from llmkube.cli import PYDANTIC_PLUGINS_ENV
from llmkube.kubectl import Kubectl


def _env_printing_kubectl(tmp_path) -> Kubectl:
    script = tmp_path / "kubectl"
    script.write_text(f"#!{sys.executable}\nimport os\nprint(os.environ.get({PYDANTIC_PLUGINS_ENV!r}, '<unset>'))\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return Kubectl(binary=str(script))


def test_kubectl_does_not_inherit_what_a_run_set_for_itself(tmp_path, monkeypatch):
    monkeypatch.delenv(PYDANTIC_PLUGINS_ENV, raising=False)
    kubectl = _env_printing_kubectl(tmp_path)
    assert runenv.set_default(PYDANTIC_PLUGINS_ENV, "__all__")
    try:
        assert os.environ[PYDANTIC_PLUGINS_ENV] == "__all__"  # this process has it
        assert kubectl.run(["version"]).stdout.strip() == "<unset>"  # its child does not
    finally:
        runenv.unset(PYDANTIC_PLUGINS_ENV)
    assert PYDANTIC_PLUGINS_ENV not in os.environ


def test_the_users_own_setting_reaches_kubectl(tmp_path, monkeypatch):
    monkeypatch.setenv(PYDANTIC_PLUGINS_ENV, "__all__")  # the user's, equal to llmkube's value
    kubectl = _env_printing_kubectl(tmp_path)
    assert not runenv.set_default(PYDANTIC_PLUGINS_ENV, "__all__")
    runenv.unset(PYDANTIC_PLUGINS_ENV)  # a no-op: not set here
    assert os.environ[PYDANTIC_PLUGINS_ENV] == "__all__"
    assert kubectl.run(["version"]).stdout.strip() == "__all__"
