"""LK1xx sizing and LK302–LK307 serving rules, and `llmkube plan`.

Driven by the case corpus in tests/cases/rules/: `<CODE>/fail/*.yaml` names the
findings of <CODE> it expects in header comments (`# expect: LK101 line 17`) and
the rule must report exactly those lines; `<CODE>/pass/*.yaml` must give no
finding of <CODE>. Cases may be plain manifests or llmkube specs (rendered
through the pipeline; their findings point at the spec). Adding a case is
adding a file. One failing case per rule also runs through `llmkube validate`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from llmkube.check.findings import Finding, Severity
from llmkube.check.rules import load_rules
from llmkube.plan.sizing import GIB, ServerConfig, serving_fit
from llmkube.profiles import ProfileStore
from tests.support.cli import llmkube
from tests.support.paths import EXAMPLES, RULE_CASES
from tests.support.rules import expected_of, findings_for

CASES = Path(__file__).parent / "cases" / "rules"
MINE = re.compile(r"^LK(1\d\d|30[2-9])$")
EXPECT = re.compile(r"^#\s*expect:\s*(LK\d{3})\s+line\s+(\d+)\s*$", re.M)
FENCE = re.compile(r"(Fails|Passes):\s*```yaml\n(.*?)```", re.S)


def corpus(kind: str) -> list[Path]:
    return sorted(p for p in CASES.glob(f"*/{kind}/*.yaml") if MINE.match(p.parent.parent.name))


def _first_fail_per_rule() -> list[Path]:
    seen: dict[str, Path] = {}
    for p in corpus("fail"):
        seen.setdefault(p.parent.parent.name, p)
    return list(seen.values())


@pytest.mark.parametrize("path", _first_fail_per_rule(), ids=lambda p: p.parent.parent.name)
def test_validate_cli_reports_the_case(upstream_crds, path: Path):
    code = path.parent.parent.name
    proc = llmkube("validate", str(path), "--crds", str(upstream_crds), "-o", "json")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    got = sorted((f["code"], f["line"]) for f in report["findings"] if f["code"] == code)
    assert got == expected_of(path), proc.stdout
    severity = load_rules()[code].severity
    if severity is Severity.ERROR:
        assert proc.returncode == 1
    # the real upstream CRDs accept every case: the finding is the rule's, not a schema's
    assert not [f for f in report["findings"] if f["code"] in ("schema", "no-schema", "cel")], proc.stdout


# ---- the rule docs carry working examples ------------------------------------------


@pytest.mark.parametrize("code", sorted(c for c in load_rules() if MINE.match(c)))
def test_docstring_examples_fail_and_pass(code: str, store: ProfileStore, tmp_path: Path):
    doc = load_rules()[code].doc
    blocks = FENCE.findall(doc)
    assert [k for k, _ in blocks] == ["Fails", "Passes"], f"{code} documents one failing and one passing example"
    for kind, body in blocks:
        path = tmp_path / f"{kind}.yaml"
        path.write_text(re.sub(r"^    ", "", body, flags=re.M), encoding="utf-8")
        codes = {f.code for f in findings_for(path, store)}
        assert (code in codes) == (kind == "Fails"), f"{code} {kind} example: got {sorted(codes)}"


# ---- the examples are meant to be right --------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_have_no_sizing_or_serving_errors(path: Path, store: ProfileStore):
    found = [f for f in findings_for(path, store) if MINE.match(f.code) and f.severity is Severity.ERROR]
    assert found == [], "\n".join(f"{f.mark}: {f.code} {f.message}" for f in found)


# ---- messages that matter -----------------------------------------------------------


def _only(path: Path, code: str, store: ProfileStore) -> Finding:
    found = [f for f in findings_for(path, store) if f.code == code]
    assert len(found) == 1
    return found[0]


def test_lk101_message_has_the_numbers_and_the_fix(store: ProfileStore):
    f = _only(CASES / "LK101" / "fail" / "llama-70b-one-h100.yaml", "LK101", store)
    assert f.severity is Severity.ERROR
    # v0.11 image: 131.4 weights + 2.5 KV (8192 × 320 KiB) + runtime (activation of the H100's
    # 8192-token / 1024-sequence profiling batch + 0.13 non-torch) > 0.9 × 79.19
    fit = serving_fit(store.model("llama-3.1-70b"), 79.19, ServerConfig(max_model_len=8192, engine_version=(0, 11, 0)))
    assert f"{fit.need_gib:.1f} GiB per GPU at TP 1" in f.message and "131.4 weights" in f.message
    assert f"+ {fit.overhead_gib:.1f} runtime" in f.message and fit.overhead_gib == pytest.approx(fit.activation_gib + 0.13)
    assert "71.3 GiB (0.9 × 79.19 GiB h100-80gb; vLLM 0.10-0.16 accounting)" in f.message
    # TP 2 is enough: 65.7 weights + 1.25 KV + the v0.11.0 image's sort-free sampler run (~1.9 GiB)
    # + 0.55 non-torch < 71.3 (the sort's 4.8 GiB would have asked for TP 4)
    assert "TP 2" in f.hint


def test_lk101_hint_lists_the_settings_that_fit(store: ProfileStore, tmp_path: Path):
    # Llama-3.1-8B on one L4 at its whole 131072-token context: a shorter context fits
    path = tmp_path / "l4.yaml"
    path.write_text(L4_POD.replace(', "--max-model-len", "8192"]', "]"))
    f = _only(path, "LK101", store)
    assert f.hint.startswith("fits with maxModelLen ≤ ") and "TP 1 on whole GPUs" not in f.hint


L4_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: llama-8b-l4}
spec:
  nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}
  containers:
    - name: vllm
      image: vllm/vllm-openai:v0.11.0
      args: ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192"]
      resources: {limits: {nvidia.com/gpu: 1}}
"""


def test_lk101_issue_example_llama_8b_on_one_l4_passes(store: ProfileStore, tmp_path: Path):
    # issue 11: vLLM starts this server (its L4 batch profiles ~1.2 GiB of activations), so no LK101
    path = tmp_path / "l4.yaml"
    path.write_text(L4_POD)
    assert not [f for f in findings_for(path, store) if f.code == "LK101"]
    # the engine flags the rules read move the numbers as they move vLLM's
    path.write_text(L4_POD.replace('"8192"]', '"8192", "--max-num-batched-tokens", "8192", "--max-num-seqs", "1024", '
                                             '"--dtype", "float32"]'))
    assert [f for f in findings_for(path, store) if f.code == "LK101"]


def test_lk101_reads_a_mig_slice(store: ProfileStore):
    f = _only(CASES / "LK101" / "fail" / "llama-8b-mig-1g.yaml", "LK101", store)
    assert "h100-80gb MIG 1g.10gb" in f.message and "9.75 GiB" in f.message


def test_lk101_points_at_the_spec(store: ProfileStore):
    f = _only(CASES / "LK101" / "fail" / "endpoint-spec-full-context.yaml", "LK101", store)
    assert "131072-token sequence" in f.message
    assert f.spec_mark is not None


def test_lk102_is_a_note_not_a_guess(store: ProfileStore):
    found = findings_for(CASES / "LK102" / "fail" / "private-model.yaml", store)
    assert [f.severity for f in found if f.code == "LK102"] == [Severity.INFO]
    assert not [f for f in found if f.code in ("LK101", "LK103", "LK302", "LK305")]


def test_lk103_counts_sequences(store: ProfileStore):
    f = _only(CASES / "LK103" / "fail" / "llama-8b-32k-64-seqs.yaml", "LK103", store)
    # v0.11 on an H100 with 64 sequences: 71.27 − 14.96 − activation − 0.13 ≈ 55 GiB ÷ 128 KiB → 13 × 32768
    fit = serving_fit(store.model("llama-3.1-8b"), 79.19,
                      ServerConfig(max_model_len=32768, max_num_seqs=64, engine_version=(0, 11, 0)))
    assert fit.batch.seqs == 64 and fit.max_sequences == 13
    assert f"holds 13 full 32768-token sequences ({fit.kv_tokens} tokens" in f.message
    assert f.severity is Severity.WARNING


def test_lk104_names_the_gpus_needed(store: ProfileStore):
    f = _only(CASES / "LK104" / "fail" / "lora-405b-one-node.yaml", "LK104", store)
    assert "LoRA of Llama 3.1 405B" in f.message and "over 8 GPUs" in f.message
    assert "at least 10 GPUs" in f.hint


def test_lk304_extra_gpus_is_a_warning(store: ProfileStore, tmp_path: Path):
    text = (CASES / "LK304" / "pass" / "tp4-four-gpus.yaml").read_text().replace("nvidia.com/gpu: 4", "nvidia.com/gpu: 8")
    path = tmp_path / "idle.yaml"
    path.write_text(text)
    f = _only(path, "LK304", store)
    assert f.severity is Severity.WARNING and "4 GPUs idle" in f.message


def test_ignore_annotation_silences_a_sizing_rule(store: ProfileStore, tmp_path: Path):
    text = (CASES / "LK101" / "fail" / "llama-70b-one-h100.yaml").read_text().replace(
        "metadata: {name: llama-70b, namespace: serving}",
        "metadata: {name: llama-70b, namespace: serving, annotations: {llmkube.dev/ignore: LK101}}",
    )
    path = tmp_path / "ignored.yaml"
    path.write_text(text)
    assert not [f for f in findings_for(path, store) if f.code == "LK101"]


# ---- llmkube plan -------------------------------------------------------------------

ENDPOINT_70B = """\
apiVersion: llmkube.dev/v1alpha1
kind: InferenceEndpoint
metadata: {name: llama-70b-chat, namespace: serving}
spec:
  model: llama-3.1-70b
  gpu: h100-80gb
  tensorParallel: 4
  maxModelLen: 8192
  maxNumSeqs: 128
"""


def test_plan_json_for_the_70b_endpoint(tmp_path: Path):
    spec = tmp_path / "endpoint.yaml"
    spec.write_text(ENDPOINT_70B)
    proc = llmkube("plan", str(spec), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["items"]
    assert row["model"] == "llama-3.1-70b" and row["gpu"] == "h100-80gb" and row["tensor_parallel"] == 4
    # rendered with the pinned vLLM v0.11.0 image: 32.88 weights (32.85 + the 1/32 GiB RoPE table) + runtime + 0.625 KV, the runtime being
    # the activation of its profiling batch — the larger of the forward pass over 8192 tokens of
    # Llama-70B shapes at TP 4 and 128 sequences through FlashInfer's sort-free sampler (the v0.11.0
    # image's default: 12.9 + 2 B per logit) while the [8192, 8192] output is held — + 0.55 non-torch;
    # CUDA graphs are captured after
    forward = 8192 * (2 * 8192 + 4 * 28672 / 4) * 2
    activation = max(forward, 128 * 128256 * (12.9 + 2) + 8192 * 8192 * 2) / GIB
    assert row["engine_accounting"] == "vLLM 0.10-0.16"
    assert (row["profiling_batch_tokens"], row["profiling_batch_seqs"]) == (8192, 128)
    assert row["weights_gib"] == pytest.approx(32.88, abs=0.01)
    assert row["activation_gib"] == pytest.approx(activation, abs=0.01)
    assert row["non_torch_gib"] == 0.55 and row["cuda_graph_counted"] is False and row["cuda_graph_gib"] > 0
    assert row["runtime_gib"] == pytest.approx(activation + 0.55, abs=0.01)
    need = 32.88 + activation + 0.55 + 0.625
    assert row["need_gib"] == pytest.approx(need, abs=0.01)
    assert row["budget_gib"] == pytest.approx(71.27, abs=0.01)
    assert row["headroom_gib"] == pytest.approx(71.27 - need, abs=0.02)
    # the pool: 71.27 − 32.88 − runtime, in 80 KiB tokens; concurrency = tokens ÷ 8192
    kv = 71.27 - 32.88 - activation - 0.55
    assert row["kv_cache_gib"] == pytest.approx(kv, abs=0.01)
    assert row["kv_tokens"] == pytest.approx(kv * GIB / (80 * 1024), rel=0.001)
    assert row["max_concurrency"] == pytest.approx(row["kv_tokens"] / 8192, abs=0.01)
    assert row["max_sequences"] == int(row["max_concurrency"]) == 59
    assert row["max_model_len"] == 8192 and row["max_num_seqs"] == 128
    # no cache: 141.1 GB pulled from the hub at 0.1 GB/s, read at 0.5 GB/s, + 120 s; the startup probe allows 227 × 10 s
    assert row["load_seconds"] == 1813 and row["startup_budget_seconds"] == 2270
    # 128 sequences profile a small sampler run: TP 2 would start, TP 8 holds all 128
    assert row["fits"] is True and row["recommendation"] == "TP 2 on whole GPUs; TP 8 holds 128 full sequences"


def test_plan_reads_each_engines_own_batch_flag(tmp_path: Path):
    # TGI's batch is --max-batch-size; its admission cap (--max-concurrent-requests) does not size the KV cache
    spec = tmp_path / "endpoint.yaml"
    spec.write_text(ENDPOINT_70B + "  runtime: tgi\n  maxConcurrentRequests: 512\n  cache: {claim: hf-cache}\n")
    proc = llmkube("plan", str(spec), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["items"]
    assert row["max_num_seqs"] == 128
    assert row["load_seconds"] == 402 and row["startup_budget_seconds"] == 510  # read from the cache claim


def test_plan_text_table_without_colour(tmp_path: Path):
    spec = tmp_path / "endpoint.yaml"
    spec.write_text(ENDPOINT_70B)
    proc = llmkube("plan", str(spec))  # NO_COLOR=1 in every test
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout
    (row,) = json.loads(llmkube("plan", str(spec), "-o", "json").stdout)["items"]
    for text in ("Model servers", "vLLM 0.10-0.16 accounting", "llama-3.1-70b", "h100-80gb×4",
                 f"{row['weights_gib']:.1f}", f"{row['kv_cache_gib']:.1f}", f"{row['kv_tokens'] / 1e3:.0f}k",
                 f"{row['max_concurrency']:.1f} @ 8192", f"{row['headroom_gib']:.1f}",
                 f"holds {row['max_sequences']} full sequences, asks 128", "1813", "2270"):
        assert text in proc.stdout
    # a 100-column terminal
    assert max(len(line) for line in proc.stdout.splitlines()) <= 100


def _vllm_deployment(name: str, product: str, image: str, model: str, length: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: serving}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      nodeSelector: {{nvidia.com/gpu.product: {product}}}
      containers:
      - name: server
        image: {image}
        command: [vllm, serve, {model}, --dtype, half, --max-model-len, "{length}"]
        resources: {{limits: {{nvidia.com/gpu: 1}}}}
"""


def test_plan_table_with_an_engine_column_keeps_names_readable(tmp_path: Path):
    """Two engine versions add the engine column; the server and GPU names keep at least a short
    name's width (they folded to five characters beside a long engine label before)."""
    manifests = tmp_path / "servers.yaml"
    manifests.write_text(
        _vllm_deployment("qwen-t4-with-a-long-name", "Tesla-T4", "vllm/vllm-openai:v0.9.2",
                         "/models/meta-llama/Llama-3.2-3B-Instruct", 4096)
        + "---\n" + _vllm_deployment("llama-h100", "NVIDIA-H100-80GB-HBM3", "vllm/vllm-openai:v0.19.0",
                                     "meta-llama/Llama-3.1-8B-Instruct", 8192))
    proc = llmkube("plan", str(manifests))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert any(line.split()[:1] == ["engine"] or "engine" in line.split() for line in lines)
    assert any("h100-80gb×1" in line for line in lines)  # the GPU whole on one line
    assert any(line.lstrip().startswith("llama-h100 ") for line in lines)  # the server's name whole
    assert "V0" in proc.stdout  # the T4 on 0.9.2 runs V0 (engine_memory.falls_back_to_v0)


def test_plan_table_shortens_an_unknown_models_path(tmp_path: Path):
    """A server loading an unknown checkpoint from a long cache path shows the path's last part in
    the table; `-o json` keeps the whole path."""
    path = "/mnt/cache/volumes/team-a/checkpoints/My-Private-FineTune-v3"
    manifests = tmp_path / "server.yaml"
    manifests.write_text(_vllm_deployment("finetune", "NVIDIA-L4", "vllm/vllm-openai:v0.19.0", path, 4096))
    proc = llmkube("plan", str(manifests))
    assert proc.returncode == 0, proc.stderr
    assert "…/My-Private-FineTune-v3" in proc.stdout and path not in proc.stdout
    (row,) = json.loads(llmkube("plan", str(manifests), "-o", "json").stdout)["items"]
    assert row["model"] == path and row["model_known"] is False


def test_plan_colour_on_request(tmp_path: Path):
    spec = tmp_path / "endpoint.yaml"
    spec.write_text(ENDPOINT_70B)
    proc = llmkube("--color", "always", "plan", str(spec))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" in proc.stdout


def test_plan_reads_plain_manifests_and_training_jobs():
    proc = llmkube("plan", str(CASES / "LK101" / "fail" / "llama-70b-one-h100.yaml"),
                   str(CASES / "LK104" / "fail" / "lora-405b-one-node.yaml"),
                   str(CASES / "LK104" / "pass" / "full-method-not-stated.yaml"), "-o", "json")
    assert proc.returncode == 1, proc.stderr  # something does not fit
    rows = {r["object"]: r for r in json.loads(proc.stdout)["items"]}
    server = rows["Deployment/serving/llama-70b"]
    assert server["fits"] is False and "TP 2" in server["recommendation"]
    lora = rows["PyTorchJob/training/lora-405b"]
    assert lora["method"] == "lora" and lora["gpus"] == 8 and lora["fits"] is False
    unknown = rows["PyTorchJob/training/train-70b"]
    assert unknown["method"] is None and unknown["need_gib"] is None and unknown["gpus"] == 8


def test_plan_examples():
    proc = llmkube("plan", str(EXAMPLES), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["items"]
    assert {r["kind"] for r in rows} == {"server", "training"}
    assert all(r["fits"] in (True, None) for r in rows)


def test_lk302_fp8_blocks_hint_offers_expert_parallelism_and_the_sizes_valid_at_the_servers_settings(store: ProfileStore):
    """Qwen3-235B-A22B-FP8 at TP 8: the experts' 128-wide fp8 blocks, not the heads, refuse it. The
    hint lists TP 1, 2, 4 (8 splits an expert into 192 columns) and offers --enable-expert-parallel,
    which gives each GPU whole experts; with that flag the same size passes (the pass case)."""
    [hit] = [f for f in findings_for(RULE_CASES / "LK302/fail/tp8-qwen3-235b-fp8-blocks.yaml", store) if f.code == "LK302"]
    assert "128-wide weight blocks" in hit.message and "attention heads" not in hit.message
    assert hit.hint == "valid sizes up to 8: 1, 2, 4; or keep 8 with --enable-expert-parallel (whole experts per GPU)"
    # a heads problem is not offered expert parallelism (it would not help)
    [heads] = [f for f in findings_for(RULE_CASES / "LK302/fail/tp3-llama-70b.yaml", store) if f.code == "LK302"]
    assert "expert" not in heads.hint
