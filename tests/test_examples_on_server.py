"""A second, independent oracle: every rendered example is accepted by a real kube-apiserver
(`kubectl apply --server-side --dry-run=server`: its OpenAPI schema, CEL rules, defaulting and
admission, with the upstream CRDs installed). llmkube's own checks are the first oracle
(tests/test_render.py); the two must agree on what is valid.

Not here: `--kueue-api v1beta1`. The Kueue CRDs store v1beta2 and convert v1beta1 objects with
Kueue's conversion webhook, which does not run here (the CRDs as published name no webhook: the
server converts with strategy None and refuses v1beta1's `spec.cohort` as undeclared in v1beta2).
"""

from __future__ import annotations

import pytest
import yaml
from tests.support.cli import llmkube, load_all
from tests.support.paths import EXAMPLE_FILES, EXAMPLES

pytestmark = pytest.mark.slow  # needs the real server


@pytest.fixture(scope="module")
def server(kube_server):
    """The session's server with the namespaces the examples render into."""
    rendered = llmkube("render", str(EXAMPLES))
    assert rendered.returncode == 0, rendered.stderr
    for ns in sorted({d.get("metadata", {}).get("namespace") for d in load_all(rendered.stdout)} - {None}):
        kube_server.add_namespace(ns)
    return kube_server


def dry_run(server, manifest: str):
    return server.kubectl("apply", "--server-side", "--field-manager=llmkube", "--dry-run=server", "-f", "-", input=manifest)


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_rendered_example_is_accepted_by_the_real_server(server, upstream_crds, example):
    rendered = llmkube("render", str(example), "--crds", str(upstream_crds))
    assert rendered.returncode == 0, rendered.stderr
    docs = load_all(rendered.stdout)
    out = dry_run(server, rendered.stdout)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("(server dry run)") == len(docs), out.stdout
    assert "Warning" not in out.stderr, out.stderr


def test_the_server_refuses_what_llmkube_refuses(server, upstream_crds, tmp_path):
    """The same broken ClusterQueue fails both oracles (a list-map key given twice)."""
    rendered = llmkube("render", str(EXAMPLES / "01-h100-fleet-and-team-quota.yaml"))
    (cq,) = [d for d in load_all(rendered.stdout) if d["kind"] == "ClusterQueue"]
    flavors = cq["spec"]["resourceGroups"][0]["flavors"]
    flavors.append({**flavors[0]})  # the same flavor twice: refused by the CRD's rules
    manifest = yaml.safe_dump(cq)
    ours = llmkube("validate", "-", "--crds", str(upstream_crds), stdin=manifest)
    theirs = dry_run(server, manifest)
    assert ours.returncode == 1, ours.stdout
    assert theirs.returncode == 1 and 'duplicate entries for key [name="h100-pool"]' in theirs.stderr, theirs.stderr
