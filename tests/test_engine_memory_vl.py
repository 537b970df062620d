"""Qwen2-VL / Qwen2.5-VL's multimodal profiling memory (issue 11, i11-vl).

Each test pins one mechanism read in vLLM's source at the version named (see the docstrings of
`engine_memory.qwen_vl_item`, `mm_profiled_items`, `mm_profile_bytes`, `encoder_peak_bytes`); the
expected figures are derived from the checkpoint's shapes and the rule, not read off llmkube's output.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from llmkube.modelconfig import profile_from_config
from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import GIB, ServerConfig, serving_fit

CONFIG = Path(__file__).parent / "data" / "hf-configs" / "qwen2.5-vl-7b-instruct.json"
L4 = 22.06  # CUDA total of an L4 (small batch defaults: 2,048 tokens, 256 sequences)


@pytest.fixture(scope="module")
def qwen_vl():
    return profile_from_config(json.loads(CONFIG.read_text()), str(CONFIG), "qwen2-5-vl-7b",
                               ["Qwen/Qwen2.5-VL-7B-Instruct"])


@pytest.fixture(scope="module")
def text_only(qwen_vl):
    """The same decoder without its tower (what llmkube sized a Qwen-VL profile as before)."""
    return qwen_vl.model_copy(update={"spec": qwen_vl.spec.model_copy(update={"vision_parameters_b": None})})


def test_the_default_dummy_image_is_the_checkpoints_max_pixels():
    # max_pixels 12,845,056 = 16,384 × 28²: a 3,584-pixel square, 256 × 256 patches of 14, merged 2 × 2
    for version in ((0, 11, 0), (0, 19, 0), None):
        item = em.qwen_vl_item(version=version)
        assert (item.side, item.tokens, item.patches) == (3584, 128 * 128, 256 * 256)
        assert item.pixel_values == item.patches * 3 * 2 * 14 * 14  # [patches, C × T × P²]


def test_max_pixels_shapes_the_dummy_image_as_the_version_builds_it():
    # 1,003,520 = 1,280 × 28². Up to v0.12 a square of floor(√1,003,520 ÷ 28) = 35 units per side;
    # from v0.13 (vllm-project/vllm#29692) 1,280 units as 32 × 40, the factor pair closest to square
    old = em.qwen_vl_item(1_003_520, (0, 12, 0))
    new = em.qwen_vl_item(1_003_520, (0, 13, 0))
    assert (old.tokens, old.side) == (35 * 35, 35 * 28)
    assert new.tokens == 1280 and new.area == 32 * 40 * 28 * 28
    # a prime count of units has only 1 × n, whose aspect exceeds 200: the next lower count is used
    odd = em.qwen_vl_item(211 * 784, (0, 19, 0))
    assert odd.tokens == 210


def test_a_qwen_vl_profile_has_a_profiling_image(qwen_vl, text_only):
    assert qwen_vl.spec.architecture == "qwen2" and qwen_vl.spec.vision_parameters_b
    assert em.vision_item(qwen_vl.spec) == em.qwen_vl_item()
    assert em.vision_item(text_only.spec) is None


def test_the_kept_batch_is_one_image_of_pixel_values_and_rows(qwen_vl):
    # 16,384 rows exceed the 8,192-token budget: the budget becomes 16,384 and holds one image
    batch = em.ProfilingBatch(8192, 1024, True)
    expected = (256 * 256 * 1176 + 16384 * qwen_vl.spec.hidden_size) * 2
    assert em.mm_profile_bytes(qwen_vl.spec, batch, 16384, 2.0, (0, 19, 0)) == expected
    assert em.mm_profile_bytes(qwen_vl.spec, batch, 16384, 2.0, (0, 19, 0), limit_per_prompt=0,
                               video_limit=0) == 0.0


def test_the_encoder_peak_is_the_towers_mlp_over_every_patch(qwen_vl):
    batch = em.ProfilingBatch(2048, 256, True)
    per_patch = 2 * 1280 + (2 * 3420 + 3420) + 1176  # residual + normed + gate_up + act + pixels
    assert em.encoder_peak_bytes(qwen_vl.spec, batch, 16384, 2.0) == 65536 * per_patch * 2
    # TP splits the MLP columns (ColumnParallelLinear), not the residual stream or the pixels
    tp2 = em.encoder_peak_bytes(qwen_vl.spec, batch, 16384, 2.0, tensor_parallel=2)
    assert tp2 == 65536 * (2 * 1280 + 10260 // 2 + 1176) * 2


def test_on_a_small_gpu_the_encoder_binds_the_activation_peak(qwen_vl, text_only):
    config = ServerConfig(max_model_len=16384, engine_version=(0, 19, 0))
    vl = serving_fit(qwen_vl, L4, config, gpu_name="l4")
    text = serving_fit(text_only, L4, config, gpu_name="l4")
    peak = em.encoder_peak_bytes(qwen_vl.spec, vl.batch, 16384, 2.0) / GIB
    assert vl.activation_gib == pytest.approx(max(peak, text.activation_gib + em.mm_profile_bytes(
        qwen_vl.spec, vl.batch, 16384, 2.0, (0, 19, 0)) / GIB))
    assert vl.activation_gib > text.activation_gib + 1.0  # ~1.7 GiB against ~0.55
    assert vl.kv_budget_gib < text.kv_budget_gib - 1.0


def test_settings_shrink_the_profiling_memory(qwen_vl, text_only):
    base = ServerConfig(max_model_len=2048, engine_version=(0, 19, 0))
    default = serving_fit(qwen_vl, L4, base, gpu_name="l4")
    small = serving_fit(qwen_vl, L4, dataclasses.replace(base, mm_max_pixels=1_003_520), gpu_name="l4")
    none = serving_fit(qwen_vl, L4, dataclasses.replace(base, mm_limit_per_prompt=0, mm_video_limit_per_prompt=0),
                       gpu_name="l4")
    text = serving_fit(text_only, L4, base, gpu_name="l4")
    assert small.activation_gib < default.activation_gib - 1.0
    assert none.activation_gib == pytest.approx(text.activation_gib)
    assert text.activation_gib < small.activation_gib < default.activation_gib


def test_gemma_and_mistral_items_are_unchanged():
    # the default limit (999) is above what a prompt holds, so their batches stay as before
    batch = em.ProfilingBatch(8192, 1024, True)
    gemma = em.VisionItem(896, 256)  # Gemma 3's SigLIP image
    mistral = em.VisionItem(1540, 55 * 55)  # Mistral 3's Pixtral image
    assert em.mm_profiled_items(gemma, batch, 131072) == 8192 // 256
    assert em.mm_profiled_items(mistral, batch, 131072) == 2
    assert em.mm_profiled_items(gemma, batch, 131072, limit_per_prompt=1) == 32  # 1,024 prompts of one
    assert em.mm_profiled_items(gemma, em.ProfilingBatch(8192, 4, True), 131072, limit_per_prompt=1) == 4
    assert gemma.pixel_values == 3 * 896 * 896  # one frame, square


def test_before_v0_11_the_attentions_fp32_rotary_copies_bind(qwen_vl):
    # contiguous q/k/v beside qkv, q copied to fp32 and rotated into a second fp32 tensor, then cast
    batch = em.ProfilingBatch(2048, 256, True)
    attention = 2 * 1280 + 3 * 1280 + 3 * 1280 + 2 * 2560 + 1280
    assert attention > 2 * 1280 + 10260  # more than the MLP's
    before = em.encoder_peak_bytes(qwen_vl.spec, batch, 2048, 2.0, version=(0, 10, 2))
    assert before == 65536 * (attention + 1176) * 2
    after = em.encoder_peak_bytes(qwen_vl.spec, batch, 2048, 2.0, version=(0, 11, 1))
    assert after == 65536 * (2 * 1280 + 10260 + 1176) * 2


def test_in_v0_11_0_q_and_k_are_rotated_together_beside_their_contiguous_copies(qwen_vl):
    # qkv, contiguous q/k/v, their concatenation qk_concat, its fp32 copy and fp32 rotated output,
    # and the cast back: q and k in flight at once (vllm-project/vllm#24511, before #27106)
    batch = em.ProfilingBatch(2048, 256, True)
    qk = 2 * 1280
    attention = 2 * 1280 + 3 * 1280 + 3 * 1280 + qk + 2 * (2 * qk) + qk
    assert attention == 25600
    v0110 = em.encoder_peak_bytes(qwen_vl.spec, batch, 2048, 2.0, version=(0, 11, 0))
    assert v0110 == 65536 * (attention + 1176) * 2
    assert v0110 > em.encoder_peak_bytes(qwen_vl.spec, batch, 2048, 2.0, version=(0, 10, 2)) + GIB
    # TP splits the attention's columns the same way as the MLP's
    tp2 = em.encoder_peak_bytes(qwen_vl.spec, batch, 2048, 2.0, tensor_parallel=2, version=(0, 11, 0))
    assert tp2 == 65536 * (2 * 1280 + (attention - 2 * 1280) // 2 + 1176) * 2
    # ... and on an L4 it binds the activation peak: the KV cache shrinks by the difference
    config = ServerConfig(max_model_len=2048, engine_version=(0, 11, 0))
    fit = serving_fit(qwen_vl, L4, config, gpu_name="l4")
    later = serving_fit(qwen_vl, L4, dataclasses.replace(config, engine_version=(0, 11, 1)), gpu_name="l4")
    assert fit.activation_gib == pytest.approx(v0110 / GIB)
    assert later.kv_budget_gib - fit.kv_budget_gib == pytest.approx(
        (v0110 - em.encoder_peak_bytes(qwen_vl.spec, batch, 2048, 2.0, version=(0, 11, 1))) / GIB, rel=1e-6)


def test_from_twice_the_image_rows_vllm_profiles_a_dummy_video(qwen_vl):
    # one video per prompt of max_model_len tokens: 128,000 holds 7 frame pairs of 16,384 rows
    # (14 frames, the profiling cap), 32,767 only one pair, which ties the image: the image is kept
    video = em.vision_item(qwen_vl.spec, max_model_len=128_000)
    assert video is not None and video.modality == "video"
    assert (video.tokens, video.frames, video.patches) == (7 * 16384, 14, 7 * 65536)
    assert video.pixel_values == 14 * 3 * 3584 * 3584
    assert em.vision_item(qwen_vl.spec, max_model_len=65_536).tokens == 4 * 16384
    assert em.vision_item(qwen_vl.spec, max_model_len=32_767).modality == "image"
    # --limit-mm-per-prompt drops a modality; the other is profiled alone
    assert em.vision_item(qwen_vl.spec, max_model_len=128_000, video_limit=0).modality == "image"
    only_video = em.vision_item(qwen_vl.spec, max_model_len=2048, image_limit=0)
    assert only_video.modality == "video" and only_video.tokens == 16384
    assert em.vision_item(qwen_vl.spec, max_model_len=2048, image_limit=0, video_limit=0) is None


def test_a_long_context_profiles_gigabytes_of_video(qwen_vl):
    # 458,752 patches through the tower: ~12 GiB on an A100 at the model's 128,000 tokens (v0.19)
    config = ServerConfig(max_model_len=128_000, engine_version=(0, 19, 0))
    fit = serving_fit(qwen_vl, 79.15, config, gpu_name="a100-80gb")
    expected = 7 * 65536 * (2 * 1280 + 10260) * 2 + 14 * 3 * 3584 * 3584 * 2
    assert fit.activation_gib == pytest.approx(expected / GIB)
    no_video = serving_fit(qwen_vl, 79.15, dataclasses.replace(config, mm_video_limit_per_prompt=0),
                           gpu_name="a100-80gb")
    assert no_video.kv_budget_gib > fit.kv_budget_gib + 9.0


def test_max_pixels_also_shrinks_the_video_but_lets_more_frames_fit(qwen_vl):
    # at 16,384 tokens a 1,280-row image leaves room for 7 frame pairs (8,960 rows, 35,840 patches)
    item = em.vision_item(qwen_vl.spec, max_pixels=1_003_520, version=(0, 19, 0), max_model_len=16384)
    assert (item.modality, item.tokens, item.patches) == ("video", 7 * 1280, 7 * 5120)


@pytest.mark.parametrize(("args", "expected"), [
    ([], (None, None, None)),
    (["--limit-mm-per-prompt", '{"image": 2, "video": 0}'], (2, 0, None)),
    (["--limit-mm-per-prompt=image=1,video=0"], (1, 0, None)),
    (["--limit-mm-per-prompt.video", "0"], (None, 0, None)),
    (["--limit-mm-per-prompt", '{"image": {"count": 3, "width": 512}}'], (3, None, None)),
    (["--mm-processor-kwargs", '{"max_pixels": 1003520, "min_pixels": 3136}'], (None, None, 1003520)),
    (["--mm-processor-kwargs.max_pixels", "802816"], (None, None, 802816)),
    # hostile values read as unset, not as a crash: nesting past the recursion limit, a negative
    # count, more digits than int() reads, a budget beyond what a float holds exactly, infinity
    (["--limit-mm-per-prompt", "[" * 100_000], (None, None, None)),
    (["--limit-mm-per-prompt", '{"image": -5, "video": 1}'], (None, 1, None)),
    (["--mm-processor-kwargs", '{"max_pixels": ' + "9" * 5000 + "}"], (None, None, None)),
    (["--mm-processor-kwargs", '{"max_pixels": ' + str(2 ** 53 + 1) + "}"], (None, None, None)),
    (["--limit-mm-per-prompt", '{"image": 1e400}'], (None, None, None)),
])
def test_the_profiling_settings_are_read_from_a_vllm_command_line(args, expected):
    from llmkube.engines import mm_profiling_settings

    assert mm_profiling_settings(["vllm", "serve", "Qwen/Qwen2.5-VL-7B-Instruct", *args]) == expected
