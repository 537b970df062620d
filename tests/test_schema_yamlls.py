"""`llmkube schema` in a real editor backend: yaml-language-server (npm, pinned in tests/support/yamlls.py)
reads the schema through the `# yaml-language-server: $schema=` line docs/cli.md shows, flags a typo'd
field and completes field names and enum values of the document's own kind.

Slow: the first run installs the server from the npm registry into the test cache (about 15 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import yamlls
from tests.support.cli import llmkube
from tests.support.paths import REPO

pytestmark = pytest.mark.slow

SETTINGS = {"yaml": {"validate": True, "completion": True, "hover": True, "schemaStore": {"enable": False}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if reason := yamlls.missing_reason():
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("yamlls")
    out = llmkube("schema", "-o", str(work / ".llmkube" / "schema.json"))  # as docs/cli.md does it
    assert out.returncode == 0, out.stderr
    ls = yamlls.YamlLanguageServer(yamlls.install(), SETTINGS)
    ls.initialize(work)
    yield ls, work
    ls.close()


#: The first line docs/cli.md shows, in a spec under specs/ (yaml-language-server resolves the path
#: against the document's directory: yamlSchemaService.js, getSchemaForResource, 1.19.2).
MODELINE = "# yaml-language-server: $schema=../.llmkube/schema.json\n"


def modeline(work: Path) -> str:
    return MODELINE


def spec_file(work: Path, name: str) -> Path:
    return work / "specs" / name


def test_the_docs_show_this_modeline():
    assert MODELINE in (REPO / "docs" / "cli.md").read_text(encoding="utf-8")


JOB = """apiVersion: llmkube.dev/v1alpha1
kind: TrainingJob
metadata:
  name: llama
spec:
  image: nvcr.io/nvidia/pytorch:24.07-py3
  gpu: h100-80gb
  gpusPerNod: 8
  framework: volcano
"""


def labels(result) -> list[str]:
    items = result["items"] if isinstance(result, dict) else result
    return [item["label"] for item in items]


def test_a_typo_is_flagged_at_its_line(server):
    ls, work = server
    uri = ls.open(spec_file(work, "job.yaml"), modeline(work) + JOB)
    found = ls.diagnostics(uri)
    schema_errors = [d for d in found if d.get("source", "").startswith("yaml-schema")]
    assert [(d["range"]["start"]["line"], d["message"]) for d in schema_errors] == [(8, "Property gpusPerNod is not allowed.")]
    clean = ls.open(spec_file(work, "clean.yaml"), modeline(work) + JOB.replace("gpusPerNod", "gpusPerNode"))
    assert ls.diagnostics(clean) == []


def test_field_names_and_values_are_completed_for_the_documents_kind(server):
    ls, work = server
    text = modeline(work) + JOB.replace("  gpusPerNod: 8\n", "  gpusPerNode: 8\n  \n")
    uri = ls.open(spec_file(work, "complete.yaml"), text)
    ls.diagnostics(uri)
    line = text.splitlines().index("  ")
    fields = labels(ls.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": line, "character": 2}}))
    assert {"gang", "onEviction", "maxRestarts", "topology"} <= set(fields)
    assert "image" not in fields and "gpu" not in fields  # already written
    assert "runtime" not in fields and "pools" not in fields  # InferenceEndpoint's, Fleet's
    line = text.splitlines().index("  framework: volcano")
    values = labels(ls.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": line, "character": 13}}))
    assert {"pytorchjob", "trainjob", "volcano"} <= set(values)


def test_hover_shows_the_spec_reference_text(server):
    ls, work = server
    uri = ls.open(spec_file(work, "hover.yaml"), modeline(work) + JOB.replace("gpusPerNod", "gpusPerNode"))
    ls.diagnostics(uri)
    hover = ls.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 8, "character": 4}})
    assert hover and "nproc_per_node" in str(hover["contents"])
