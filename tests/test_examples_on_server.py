"""A second, independent oracle: every rendered example is accepted by a real kube-apiserver
(`kubectl apply --server-side --dry-run=server`: its OpenAPI schema, CEL rules, defaulting and
admission, with the upstream CRDs installed). llmkube's own checks are the first oracle
(tests/test_render.py); the two must agree on what is valid."""

from __future__ import annotations

import pytest
from tests.support.cli import llmkube, load_all
from tests.support.paths import EXAMPLE_FILES, EXAMPLES

pytestmark = pytest.mark.slow  # needs the real server


@pytest.fixture(scope="module")
def server(kube_server):
    for example in EXAMPLE_FILES:
        for ns in {d.get("metadata", {}).get("namespace") for d in load_all(llmkube("render", str(example)).stdout)} - {None}:
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


def test_kueue_v1beta1_rendering_is_accepted_too(server, upstream_crds):
    rendered = llmkube("render", str(EXAMPLES / "01-h100-fleet-and-team-quota.yaml"), "--kueue-api", "v1beta1")
    assert rendered.returncode == 0, rendered.stderr
    out = dry_run(server, rendered.stdout)
    assert out.returncode == 0, out.stderr


def test_the_server_refuses_what_llmkube_refuses(server, upstream_crds, tmp_path):
    """The same broken ClusterQueue fails both oracles (a CEL rule of the Kueue CRD)."""
    rendered = llmkube("render", str(EXAMPLES / "01-h100-fleet-and-team-quota.yaml"))
    (cq,) = [d for d in load_all(rendered.stdout) if d["kind"] == "ClusterQueue"]
    flavors = cq["spec"]["resourceGroups"][0]["flavors"]
    flavors.append({**flavors[0]})  # the same flavor twice: refused by the CRD's rules
    import yaml

    manifest = yaml.safe_dump(cq)
    ours = llmkube("validate", "-", "--crds", str(upstream_crds), stdin=manifest)
    theirs = dry_run(server, manifest)
    assert ours.returncode == 1, ours.stdout
    assert theirs.returncode == 1 and "Invalid value" in theirs.stderr, theirs.stderr
