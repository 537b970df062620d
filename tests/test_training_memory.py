"""Training memory per GPU (llmkube.plan.training_memory): full fine-tuning, LoRA and QLoRA under
DDP, ZeRO-2 and FSDP/ZeRO-3 (facts §7.2). Expected figures are derived here from bytes per
parameter, with the derivation next to them."""

from __future__ import annotations

import pytest

from llmkube.modelshape import parameter_counts
from llmkube.plan.training_memory import GIB, qlora_base_bytes, training_fit
from llmkube.profiles import ProfileStore
from llmkube.specs.trainingjob import Training

H100 = 79.19
STORE = ProfileStore.load()


def m(name: str):
    return STORE.models[name]


def test_full_finetune_8b_needs_two_80gb_gpus_sharded():
    # facts: 8 × 16–18 ≈ 128–144 GB before activations → needs ≥ 2× 80 GB with ZeRO/FSDP
    one = training_fit(m("llama-3.1-8b"), "full", 1, H100)
    assert one.low_gib == pytest.approx(8.03e9 * 16 / GIB + 0.5) and not one.fits
    assert one.high_gib == pytest.approx(8.03e9 * 18 / GIB + 0.5)
    assert training_fit(m("llama-3.1-8b"), "full", 2, H100).fits
    assert one.gpus_needed == 2


def test_full_finetune_70b_sharded():
    # 70.55e9 × 16 B = 1.13 TB (facts: "70B ≈ 1.1–1.3 TB"); over 8 GPUs 131.4 GiB each; over 64, 16.4
    assert training_fit(m("llama-3.1-70b"), "full", 8, H100).low_gib == pytest.approx(131.9, abs=0.1)
    assert not training_fit(m("llama-3.1-70b"), "full", 8, H100).fits
    assert training_fit(m("llama-3.1-70b"), "full", 64, H100).fits


def test_ddp_keeps_all_states_on_every_gpu():
    # DDP: 8.03e9 × 16 B on each GPU whatever the count: more GPUs never help
    for gpus in (1, 2, 8):
        fit = training_fit(m("llama-3.1-8b"), "full", gpus, H100, "ddp")
        assert fit.low_gib == pytest.approx(8.03e9 * 16 / GIB + 0.5) and not fit.fits
    assert "DDP" in fit.assumption and "8 GPUs" in fit.assumption
    assert fit.gpus_needed == 2  # what sharding would need


def test_zero2_shards_gradients_and_optimizer_only():
    # ZeRO-2 over 8 GPUs: bf16 weights 2 B on every GPU + (16 − 2) B / 8 sharded
    fit = training_fit(m("llama-3.1-8b"), "full", 8, H100, "zero2")
    assert fit.low_gib == pytest.approx(8.03e9 * (2 + 14 / 8) / GIB + 0.5)
    # HF accounting: fp32 + bf16 weights 6 B replicated + 12 B / 8
    assert fit.high_gib == pytest.approx(8.03e9 * (6 + 12 / 8) / GIB + 0.5)
    fsdp = training_fit(m("llama-3.1-8b"), "full", 8, H100, "fsdp")
    ddp = training_fit(m("llama-3.1-8b"), "full", 8, H100, "ddp")
    assert fsdp.low_gib < fit.low_gib < ddp.low_gib


def test_lora_base_is_replicated_unless_fully_sharded():
    # LoRA on 8B ≈ 16 GB base + small (facts); adapters 0.1 % × 16 B
    lora = training_fit(m("llama-3.1-8b"), "lora", 1, H100)
    assert lora.low_gib == pytest.approx(8.03e9 * (2 + 0.001 * 16) / GIB + 0.5)
    ddp = training_fit(m("llama-3.1-8b"), "lora", 4, H100, "ddp")
    assert ddp.low_gib == lora.low_gib
    zero2 = training_fit(m("llama-3.1-8b"), "lora", 4, H100, "zero2")
    # frozen base and adapter weights whole on every GPU; adapter gradients/optimizer sharded
    assert zero2.low_gib == pytest.approx(8.03e9 * (2 + 0.001 * 2 + 0.001 * 14 / 4) / GIB + 0.5)
    # LoRA on 405B: 812 GB frozen base does not fit 8 × 79.19 GiB even sharded; 16 GPUs do
    assert not training_fit(m("llama-3.1-405b"), "lora", 8, H100).fits
    assert training_fit(m("llama-3.1-405b"), "lora", 16, H100).fits
    assert not training_fit(m("llama-3.1-405b"), "lora", 16, H100, "ddp").fits


def test_qlora_base_follows_the_module_shapes():
    # QLoRA on 70B ≈ 35–40 GB base (facts): NF4 linears 0.5 B + absmax (uint8 per 64, fp32 per
    # 64 × 256 with double quantization), embeddings, LM head and norms 16-bit
    c = parameter_counts(m("llama-3.1-70b").spec)
    linear = c.attention + c.dense_mlp
    expected = linear * (0.5 + 1 / 64 + 4 / (64 * 256)) + (c.embedding + c.lm_head + c.norms) * 2
    assert qlora_base_bytes(m("llama-3.1-70b")) == pytest.approx(expected, rel=1e-9)
    assert 35e9 < expected < 40e9
    qlora = training_fit(m("llama-3.1-70b"), "qlora", 1, H100)
    assert qlora.fits and qlora.low_gib == pytest.approx((expected + 70.55e9 * 0.001 * 16) / GIB + 0.5)
    # QLoRA of a 70B on one 48 GB-class GPU (the paper fine-tunes a 65B on one 48 GB GPU)
    assert training_fit(m("llama-3.1-70b"), "qlora", 1, 47.54, "ddp").fits


def test_unknown_distribution_is_refused():
    with pytest.raises(ValueError):
        training_fit(m("llama-3.1-8b"), "full", 1, H100, "pipeline")


def test_spec_field_defaults_to_fsdp():
    assert Training().distribution == "fsdp"
    assert Training.model_validate({"distribution": "ddp"}).distribution == "ddp"
    with pytest.raises(ValueError):
        Training.model_validate({"distribution": "zero3"})


JOB = """\
apiVersion: llmkube.dev/v1alpha1
kind: TrainingJob
metadata: {{name: llama-8b-sft}}
spec:
  model: meta-llama/Llama-3.1-8B-Instruct
  image: nvcr.io/nvidia/pytorch:24.07-py3
  script: train.py
  gpu: h100-80gb
  gpusPerNode: 8
  training: {{method: full, distribution: {distribution}}}
"""


@pytest.mark.parametrize(("distribution", "fails"), [("fsdp", False), ("zero2", False), ("ddp", True)])
def test_lk104_follows_the_spec_distribution(tmp_path, distribution, fails):
    from tests.support.rules import findings_for

    path = tmp_path / "job.yaml"
    path.write_text(JOB.format(distribution=distribution))
    found = [f for f in findings_for(path, STORE) if f.code == "LK104"]
    # full fine-tune of 8.03 B on 8 H100s: 15.5 GiB/GPU sharded, 41.0 with ZeRO-2, 120 with DDP
    assert bool(found) is fails
    if fails:
        assert "on every one of its 8 GPUs" in found[0].message
        assert "at least 2 GPUs with FSDP/ZeRO-3 (training.distribution: fsdp)" in (found[0].hint or "")


def test_plan_says_what_the_training_numbers_assume(tmp_path):
    import json

    from tests.support.cli import llmkube

    path = tmp_path / "job.yaml"
    path.write_text(JOB.format(distribution="zero2"))
    proc = llmkube("plan", str(path), "-o", "json")
    assert proc.returncode in (0, 1), proc.stderr
    rows = [r for r in json.loads(proc.stdout)["items"] if r["kind"] == "training"]
    assert rows and rows[0]["distribution"] == "zero2" and "ZeRO-2" in rows[0]["assumes"]
