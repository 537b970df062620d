"""The multimodal profiling batch vLLM V1 keeps allocated through its profile run.

vllm/v1/worker/gpu_model_runner.py `GPUModelRunner.profile_run` (read at v0.11.0, v0.12.0, v0.13.0,
v0.14.0, v0.15.0, v0.18.1, v0.19.0) runs the vision encoder on a dummy batch before the language
model's forward pass, keeps its outputs in `encoder_cache` until after `_dummy_sampler_run` and keeps
the batch of pixel values referenced in the same frame; up to v0.12 each output is first copied
into a zero-padded [encoder budget, hidden] tensor. The image shapes come from the checkpoints'
own config.json (tests/data/hf-configs), read here rather than restated.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import GIB, ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

H100 = 79.19
CONFIGS = Path(__file__).parent / "data" / "hf-configs"


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


def config(name: str) -> dict:
    return json.loads((CONFIGS / name).read_text())


def test_vision_items_follow_the_checkpoint_configs(store):
    gemma = config("gemma-3-4b-it.json")
    item = em.vision_item(store.model("google/gemma-3-4b-it").spec)
    assert item == em.VisionItem(gemma["vision_config"]["image_size"], gemma["mm_tokens_per_image"])
    mistral = config("mistral-small-3.1-24b-instruct-2503.json")
    vc = mistral["vision_config"]
    side = vc["image_size"] // (vc["patch_size"] * mistral["spatial_merge_size"])  # merged patches per side
    item = em.vision_item(store.model("mistralai/Mistral-Small-3.1-24B-Instruct-2503").spec)
    assert item == em.VisionItem(vc["image_size"], side * side)


def test_text_only_and_unknown_towers_hold_nothing(store):
    # Mistral 7B shares Mistral Small's architecture name but loads no vision tower
    assert em.vision_item(store.model("mistralai/Mistral-7B-Instruct-v0.3").spec) is None
    # Llama 4's tiled images were not read: not modelled rather than guessed
    assert em.vision_item(store.model("meta-llama/Llama-4-Scout-17B-16E-Instruct").spec) is None
    batch = em.ProfilingBatch(8192, 1024, True)
    assert em.mm_profile_bytes(store.model("meta-llama/Llama-3.1-8B-Instruct").spec, batch, 8192, 2) == 0.0


def test_items_fill_the_encoder_budget_and_outputs_keep_their_size_from_0_13(store):
    spec = store.model("google/gemma-3-4b-it").spec
    batch = em.ProfilingBatch(8192, 1024, True)
    # encoder_budget.py `_get_max_items`: 8192 // 256 = 32 images; each 3 × 896² pixels (bf16, the
    # processor output cast to the model dtype) and 256 rows of the 2560-wide text hidden state
    items = 8192 // 256
    expected = items * (3 * 896 * 896 + 256 * spec.hidden_size) * 2
    for version in ((0, 13, 0), (0, 19, 0), None):
        assert em.mm_profile_bytes(spec, batch, 8192, 2, version) == expected
    # up to v0.12 every output is padded to the [encoder budget, hidden] buffer (`expanded_outputs`)
    padded = items * (3 * 896 * 896 + 8192 * spec.hidden_size) * 2
    assert em.mm_profile_bytes(spec, batch, 8192, 2, (0, 12, 0)) == padded
    assert em.mm_profile_bytes(spec, batch, 8192, 2, (0, 11)) == padded
    # ... and only from v0.11.0: v0.8.0 - v0.10.2 cache the outputs as they are (`encoder_cache["tmp"]`)
    for version in ((0, 8, 5), (0, 9, 0, 1), (0, 10, 0), (0, 10, 2)):
        assert em.mm_profile_bytes(spec, batch, 8192, 2, version) == expected


def test_how_many_items_v1_profiles_changed_in_0_10():
    """gpu_model_runner.py `profile_run`: up to 0.9.2 cdiv(budget, rows) items (Mistral 3's 3,025-row
    image fills an 8,192-token budget three times), from 0.10.0 budget // rows (twice); from 0.10.1
    a prompt holds at most max_model_len // rows items (v1/worker/utils.py `get_max_items`)."""
    mistral = em.VisionItem(1540, 3025)
    batch = em.ProfilingBatch(8192, 1024, True)
    assert [em.mm_profiled_items(mistral, batch, 32768, None, v) for v in ((0, 9, 2), (0, 10, 0), (0, 11, 0), None)] == [3, 2, 2, 2]
    one_seq = em.ProfilingBatch(8192, 1, True)
    # a 4,096-token context holds one such image per prompt: one sequence profiles one from 0.10.1 on
    assert [em.mm_profiled_items(mistral, one_seq, 4096, None, v) for v in ((0, 10, 0), (0, 10, 1), (0, 19, 0))] == [2, 1, 1]


def test_items_are_capped_by_what_the_scheduled_prompts_can_hold(store):
    spec = store.model("google/gemma-3-4b-it").spec
    # a 300-token context holds one image per prompt; 4 sequences hold 4 (`max_decoder_items_per_batch`)
    batch = em.ProfilingBatch(8192, 4, False)
    assert em.mm_profile_bytes(spec, batch, 300, 2, (0, 19, 0)) == 4 * (3 * 896 * 896 + 256 * spec.hidden_size) * 2
    # an item larger than the token budget still profiles one (budget = max(tokens, item rows))
    mistral = store.model("mistralai/Mistral-Small-3.1-24B-Instruct-2503").spec
    small = em.ProfilingBatch(2048, 256, False)
    assert em.mm_profile_bytes(mistral, small, 32768, 2, (0, 19, 0)) == (3 * 1540 * 1540 + 3025 * mistral.hidden_size) * 2


def test_the_batch_is_held_at_both_peaks_on_every_tp_rank(store):
    """`serving_fit` adds the same bytes to the forward-bound and the sampler-bound peak, whole on
    every GPU (each TP rank runs the encoder on the whole batch), and only for vLLM's V1 engine."""
    model = store.model("google/gemma-3-4b-it")
    text_only = model.model_copy(update={"spec": model.spec.model_copy(update={"vision_parameters_b": None})})
    held = em.mm_profile_bytes(model.spec, em.ProfilingBatch(8192, 1024, True), 8192, 2, (0, 19, 0)) / GIB
    assert held > 0.15  # 0.18 GiB: the size of the gap the v0.19.0 H100 Gemma 3 fit rows show
    for tp in (1, 2):
        c = ServerConfig(tensor_parallel=tp, max_model_len=8192, engine_version=(0, 19, 0), runtime="vllm")
        with_mm = serving_fit(model, H100, c, gpu_name="NVIDIA H100 80GB HBM3")
        without = serving_fit(text_only, H100, c, gpu_name="NVIDIA H100 80GB HBM3")
        assert with_mm.activation_gib - without.activation_gib == pytest.approx(held)
    # a forward-bound batch (few sequences: a small sampler run) carries it too
    c = ServerConfig(max_model_len=8192, max_num_seqs=8, engine_version=(0, 19, 0), runtime="vllm")
    forward = serving_fit(model, H100, c, gpu_name="NVIDIA H100 80GB HBM3")
    plain = serving_fit(text_only, H100, c, gpu_name="NVIDIA H100 80GB HBM3")
    mm_fwd = em.mm_profile_bytes(model.spec, forward.batch, 8192, 2, (0, 19, 0)) / GIB
    assert forward.activation_gib - plain.activation_gib == pytest.approx(mm_fwd)
    # the V0 engine's profile run is not this code: nothing added
    v0 = ServerConfig(max_model_len=8192, engine_version=(0, 6, 5), runtime="vllm")
    assert serving_fit(model, H100, v0).activation_gib == serving_fit(text_only, H100, v0).activation_gib
