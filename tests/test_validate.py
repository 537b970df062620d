"""`llmkube validate` on plain manifests and specs, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path


from tests.support.cli import llmkube
from tests.support.paths import EXAMPLES

CASES = Path(__file__).parent / "cases" / "validate"
# SOURCES.md names the upstream examples that only pass after a webhook fills a field in.
NEEDS_WEBHOOK = {"jobset/restartjobset-action.yaml"}


def upstream_examples(crds: Path) -> list[Path]:
    root = crds / "examples"
    return sorted(p for p in root.rglob("*.yaml") if str(p.relative_to(root)) not in NEEDS_WEBHOOK)


def test_upstream_examples_are_accepted(upstream_crds):
    files = upstream_examples(upstream_crds)
    indexed = (upstream_crds / "examples" / "INDEX.tsv").read_text().splitlines()[1:]
    assert len(files) == len(indexed) - len(NEEDS_WEBHOOK) > 50
    # MPIJob comes from two CRDs (kubeflow.org/v1 and v2beta1): both are served.
    out = llmkube("validate", *map(str, files), "--crds", str(upstream_crds), "-o", "json")
    report = json.loads(out.stdout)
    schema = [f for f in report["findings"] if f["code"] in ("schema", "cel", "no-schema")]
    # One warning: the GPU Operator sample's `spec.validator.plugin: null`, which create prunes and
    # server-side apply refuses (tests/check/test_check_schemas.py says why).
    assert [(f["severity"], f["path"]) for f in schema] == [("warning", "spec.validator.plugin")], schema
    assert report["checked"] >= 70
    # The LLM-aware rules only warn on upstream examples (untagged images, LK502, and the like).
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert errors == [] and out.returncode == 0, errors


def test_the_webhook_filled_example_is_rejected_with_its_line(upstream_crds):
    path = upstream_crds / "examples" / "jobset" / "restartjobset-action.yaml"
    out = llmkube("validate", str(path), "--crds", str(upstream_crds), "-o", "json", "--ignore", "LK502")
    assert out.returncode == 1
    (finding,) = json.loads(out.stdout)["findings"]
    assert finding["path"] == "spec.failurePolicy.rules[0]"
    assert "name" in finding["message"]
    assert finding["file"] == str(path) and finding["line"] > 1


def test_textbook_clusterqueue_without_cohort_is_rejected_by_the_cel_rule(upstream_crds):
    path = CASES / "textbook-clusterqueue.yaml"
    out = llmkube("validate", str(path), "--crds", str(upstream_crds))
    assert out.returncode == 1
    assert f"{path}:7:1: error [cel] ClusterQueue/gpu-training-queue spec:" in out.stdout
    # LK204 explains both limits at their own lines; the CRD's CEL rule covers only borrowingLimit
    assert f"{path}:16:9: error [LK204]" in out.stdout and f"{path}:17:9: error [LK204]" in out.stdout
    assert "1 object checked: 3 errors" in out.stdout


def test_typo_in_a_pytorchjob_points_at_the_line_with_a_suggestion(upstream_crds):
    path = CASES / "pytorchjob-typo.yaml"
    out = llmkube("validate", str(path), "--crds", str(upstream_crds), "-o", "json")
    assert out.returncode == 1
    (finding,) = json.loads(out.stdout)["findings"]
    assert (finding["line"], finding["column"]) == (15, 13)
    assert "resorces" in finding["message"] and "resources" in finding["message"]


def test_core_kinds_use_the_bundled_schemas():
    path = CASES / "deployment-bad-type.yaml"
    out = llmkube("validate", str(path), "-o", "json")
    assert out.returncode == 1
    (finding,) = json.loads(out.stdout)["findings"]
    assert finding["path"] == "spec.replicas" and finding["line"] == 6


def test_a_custom_resource_without_a_schema_is_an_error_that_says_how_to_fix_it(upstream_crds):
    out = llmkube("validate", str(CASES / "unknown-crd.yaml"), "--crds", str(upstream_crds))
    assert out.returncode == 1
    assert "[no-schema] Widget/w" in out.stdout
    assert "llmkube crds pull" in out.stdout


def test_specs_are_rendered_and_checked_too(upstream_crds):
    out = llmkube("validate", str(EXAMPLES), "--crds", str(upstream_crds), "-o", "json")
    errors = [f for f in json.loads(out.stdout)["findings"] if f["severity"] == "error"]
    assert errors == [], errors
    assert out.returncode in (0, 1), out.stderr


def test_bad_input_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [\n")
    assert llmkube("validate", str(bad)).returncode == 2
    assert llmkube("validate", str(CASES / "unknown-crd.yaml"), "--kube-version", "0.9").returncode == 2
    assert llmkube("validate", str(CASES), "-o", "xml").returncode == 2


def test_validate_reads_the_cache_that_crds_pull_fills(upstream_crds, tmp_path):
    cache = tmp_path / "cache"
    pulled = llmkube("crds", "pull", str(upstream_crds / "kueue"), "--cache-dir", str(cache))
    assert pulled.returncode == 0, pulled.stderr
    kueue_files = sorted((upstream_crds / "kueue").glob("*.yaml"))
    assert f"stored {len(kueue_files)} CRDs" in pulled.stdout
    env_out = llmkube("validate", str(CASES / "textbook-clusterqueue.yaml"), env={"LLMKUBE_CACHE_DIR": str(cache)})
    assert env_out.returncode == 1 and "[cel]" in env_out.stdout
    listed = llmkube("crds", "list", env={"LLMKUBE_CACHE_DIR": str(cache)})
    assert "ClusterQueue\tkueue.x-k8s.io\tv1beta1, v1beta2" in listed.stdout


def test_the_textbook_migconfig_kind_is_called_out(upstream_crds):
    out = llmkube("validate", str(CASES / "textbook-migconfig.yaml"), "--crds", str(upstream_crds))
    assert out.returncode == 1
    assert "[LK406]" in out.stdout and "MIGConfig is not a real kind" in out.stdout
    assert "mig-parted ConfigMap" in out.stdout
    assert "no-schema" not in out.stdout  # LK406 says it better


def test_findings_on_rendered_specs_point_at_the_spec_field_that_caused_them(upstream_crds, tmp_path):
    spec = tmp_path / "endpoint.yaml"
    spec.write_text(
        "apiVersion: llmkube.dev/v1alpha1\n"
        "kind: InferenceEndpoint\n"
        "metadata: {name: ep, namespace: serving}\n"
        "spec:\n"
        "  model: meta-llama/Llama-3.1-70B-Instruct\n"
        "  gpu: h100-80gb\n"
        "  tensorParallel: 3\n"
        "  maxModelLen: 8192\n"
    )
    out = llmkube("validate", str(spec), "--crds", str(upstream_crds), "-o", "json")
    findings = {f["code"]: f for f in json.loads(out.stdout)["findings"]}
    # TP 3 does not divide Llama-70B's 64 attention heads: the line is `tensorParallel: 3`
    assert (findings["LK302"]["file"], findings["LK302"]["line"]) == (str(spec), 7)
