"""The settings file: found upward, checked like a spec, overridden by flags, shown by `llmkube config`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmkube.config import Config, Setting, effective, find_config, parse_pyproject, parse_yaml
from llmkube.errors import InputError, InputErrors
from tests.support.cli import llmkube
from tests.support.paths import RULE_CASES

# A PyTorchJob with an on-disk /dev/shm: LK207 (a warning) and no CRD schema at hand (an error).
SHM_ON_DISK = RULE_CASES / "LK207" / "fail" / "shm-on-disk.yaml"


def errors_of(exc: InputError) -> list[InputError]:
    return list(exc.errors) if isinstance(exc, InputErrors) else [exc]


# --------------------------------------------------------------------------- finding the file


def test_the_nearest_file_wins_and_its_own_file_before_pyproject(tmp_path):
    (tmp_path / ".git").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (tmp_path / ".llmkube.yaml").write_text("kube-version: '1.31'\n")
    assert find_config(deep) == tmp_path / ".llmkube.yaml"
    (tmp_path / "a" / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no [tool.llmkube]: passed over
    assert find_config(deep) == tmp_path / ".llmkube.yaml"
    (tmp_path / "a" / "pyproject.toml").write_text('[tool.llmkube]\nkube-version = "1.30"\n')
    assert find_config(deep) == tmp_path / "a" / "pyproject.toml"
    (tmp_path / "a" / ".llmkube.yaml").write_text("{}\n")
    assert find_config(deep) == tmp_path / "a" / ".llmkube.yaml"


def test_the_search_stops_at_the_repository_root(tmp_path):
    (tmp_path / ".llmkube.yaml").write_text("kube-version: '1.31'\n")  # above the repository: not read
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "sub").mkdir()
    assert find_config(repo / "sub") is None
    (repo / ".llmkube.yaml").write_text("{}\n")
    assert find_config(repo / "sub") == repo / ".llmkube.yaml"


# --------------------------------------------------------------------------- checking the file


def test_pyproject_values_are_normalised_and_marked(tmp_path):
    text = '[project]\nname = "x"\n\n[tool.llmkube]\nkube-version = "1.31"\ncrds = ["crds", "/abs"]\n\n[tool.llmkube.severity]\nLK207 = "error"\n'
    config = parse_pyproject(text, tmp_path / "pyproject.toml")
    assert config.values == {"kube-version": "1.31", "crds": (str(tmp_path / "crds"), "/abs"), "severity": {"LK207": "error"}}
    assert (config.marks["kube-version"].line, config.marks["crds"].line, config.marks["severity"].line) == (5, 6, 8)


def test_pyproject_errors_name_line_key_expected_and_the_nearest_key(tmp_path):
    text = '[tool.llmkube]\nkube_version = "1.31"\nstrict = "yes"\ncrds = "crds"\n\n[tool.llmkube.severity]\nLK207 = "fatal"\n'
    with pytest.raises(InputError) as caught:
        parse_pyproject(text, tmp_path / "pyproject.toml")
    unknown, strict, crds, severity = errors_of(caught.value)
    assert (unknown.mark.line, unknown.mark.column) == (2, 1)
    assert unknown.field == "tool.llmkube.kube_version" and "'kube-version'" in unknown.hint
    assert strict.mark.line == 3 and "true or false" in strict.message and "'yes'" in strict.message
    assert crds.mark.line == 4 and "a list of strings" in crds.message and 'crds = ["crds"]' in crds.hint
    assert severity.mark.line == 7 and severity.field == "tool.llmkube.severity.LK207" and "error, warning, info" in severity.hint


def test_inline_table_errors_point_at_their_key(tmp_path):
    text = '[tool.llmkube]\nstrict = true\nseverity = {LK207 = "loud"}\n'
    with pytest.raises(InputError) as caught:
        parse_pyproject(text, tmp_path / "pyproject.toml")
    assert caught.value.mark.line == 3 and caught.value.field == "tool.llmkube.severity.LK207"


def test_toml_syntax_error_has_its_position(tmp_path):
    with pytest.raises(InputError) as caught:
        parse_pyproject("[tool.llmkube]\nstrict = \n", tmp_path / "pyproject.toml")
    assert caught.value.mark.line == 2 and "TOML syntax error" in caught.value.message


def test_yaml_errors_point_at_the_key(tmp_path):
    with pytest.raises(InputError) as caught:
        parse_yaml("strict: true\nkube-version: 1.30\nprofile: [a]\n", tmp_path / ".llmkube.yaml")
    version, unknown = errors_of(caught.value)
    assert (version.mark.line, version.mark.column) == (2, 1) and '"1.30"' in version.hint
    assert unknown.mark.line == 3 and unknown.field == "profile" and "'profiles'" in unknown.hint
    with pytest.raises(InputError, match="mapping of settings"):
        parse_yaml("- a\n", tmp_path / ".llmkube.yaml")


def test_a_flag_wins_and_repeatable_settings_join():
    config = Config(Path("/p/.llmkube.yaml"), {"kube-version": "1.31", "ignore": ("LK207",), "strict": True}, {})
    got = effective(config, {"kube-version": "1.30", "ignore": ("LK103",)})
    assert got["kube-version"] == Setting("1.30", "flag")
    assert got["ignore"].value == ("LK103", "LK207") and got["ignore"].source.startswith("flag + ")
    assert got["strict"].value is True and got["strict"].source == "/p/.llmkube.yaml"
    assert got["kueue-api"] == Setting("v1beta2", "default")


def test_the_environment_beats_the_file_and_a_flag_beats_both():
    config = Config(Path("/p/.llmkube.yaml"), {"apply-set": "from-file"}, {})
    env = {"LLMKUBE_APPLY_SET": "from-env"}
    assert effective(config, {}, env)["apply-set"] == Setting("from-env", "$LLMKUBE_APPLY_SET")
    assert effective(config, {"apply-set": "from-flag"}, env)["apply-set"] == Setting("from-flag", "flag")
    assert effective(config, {}, {})["apply-set"] == Setting("from-file", "/p/.llmkube.yaml")


# --------------------------------------------------------------------------- the commands read it


@pytest.fixture
def project(tmp_path):
    """A repository with the LK207 case under manifests/ and a settings file at its root."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "manifests").mkdir()
    shutil.copy(SHM_ON_DISK, tmp_path / "manifests" / "job.yaml")
    return tmp_path


def test_validate_reads_the_settings_file_from_a_subdirectory(project):
    run = lambda *args: llmkube("validate", "job.yaml", *args, cwd=project / "manifests")  # noqa: E731
    assert run().returncode == 1  # no CRD schema for the PyTorchJob: an error
    (project / "pyproject.toml").write_text("[tool.llmkube]\nignore-missing-schemas = true\n")
    quiet = run()
    assert quiet.returncode == 0 and "warning [LK207]" in quiet.stdout, quiet.stdout + quiet.stderr
    (project / "pyproject.toml").write_text("[tool.llmkube]\nignore-missing-schemas = true\nstrict = true\n")
    assert run().returncode == 1  # strict from the file: the warning fails the run
    (project / "pyproject.toml").write_text('[tool.llmkube]\nignore-missing-schemas = true\nseverity = {LK207 = "error"}\n')
    raised = run()
    assert raised.returncode == 1 and "error [LK207]" in raised.stdout
    silenced = run("--ignore", "LK207")  # the flag joins the file's (empty) ignore list
    assert silenced.returncode == 0 and "LK207" not in silenced.stdout
    assert run("--no-config").returncode == 1


def test_bad_settings_file_is_an_input_error(project):
    (project / ".llmkube.yaml").write_text("ignore: [LK999]\nkueue-api: v2\n")
    out = llmkube("validate", "manifests", cwd=project)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{project / '.llmkube.yaml'}:2:1: config key 'kueue-api' expects one of v1beta2, v1beta1" in out.stderr
    (project / ".llmkube.yaml").write_text("ignore: [LK999]\n")
    out = llmkube("validate", "manifests", cwd=project)
    assert out.returncode == 2 and ":1:1: config key 'ignore' names unknown rule codes: LK999" in out.stderr


def test_config_command_shows_values_and_sources(project):
    (project / "pyproject.toml").write_text('[tool.llmkube]\nkube-version = "1.31"\ncrds = ["crds"]\n')
    out = llmkube("config", "-o", "json", "--kueue-api", "v1beta1", "--crds", "/extra", cwd=project / "manifests")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["file"] == str(project / "pyproject.toml")
    s = got["settings"]
    assert s["kube-version"] == {"value": "1.31", "source": f"{project / 'pyproject.toml'}:2:1"}
    assert s["kueue-api"] == {"value": "v1beta1", "source": "flag"}
    assert s["crds"]["value"] == ["/extra", str(project / "crds")]
    assert s["max-documents"]["source"] == "default"
    text = llmkube("--no-config", "config", cwd=project)
    assert text.returncode == 0 and "none found" in text.stdout and "1.31" not in text.stdout
