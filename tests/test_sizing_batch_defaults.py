"""The profiling batch's defaults that depend on the model and the entry point, from vLLM source.

- V0 (0.6.2 – 0.7) never turns chunked prefill on by itself for a multimodal model
  (vllm-project/vllm#8425; arg_utils.py `create_engine_config`: `if use_long_context and not
  model_config.is_multimodal_model`), so such a model above 32K profiles a whole prompt.
- V0 (0.6.0 – 0.7) raises an unset max_num_batched_tokens to 5,120 for a multimodal model, chunked
  or not (vllm-project/vllm#8028; config.py `SchedulerConfig`, `_MULTIMODAL_MODEL_MAX_NUM_BATCHED_TOKENS`).
- V1's defaults depend on the usage context (arg_utils.py `get_batch_defaults`): the offline `LLM`
  class gets 16,384 tokens on a large GPU and 8,192 on others, the OpenAI server 8,192 / 2,048; both
  1,024 / 256 sequences.
"""

from __future__ import annotations

import dataclasses

import pytest

from llmkube.plan.engine_memory import accounting_for, profiling_batch, v0_chunked_by_default
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

H100 = 79.19


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


def test_v0_does_not_chunk_a_multimodal_model_by_itself_from_0_6_2(store):
    long = 65536
    assert v0_chunked_by_default(long, (0, 6, 5)) and not v0_chunked_by_default(long, (0, 6, 5), multimodal=True)
    assert v0_chunked_by_default(long, (0, 6, 1), multimodal=True)  # before the hotfix
    v065 = accounting_for("vllm", (0, 6, 5))
    assert profiling_batch("vllm", H100, "H100", long, accounting=v065, version=(0, 6, 5), multimodal=True).tokens == long
    assert profiling_batch("vllm", H100, "H100", long, accounting=v065, version=(0, 6, 5)).tokens == 2048
    # an explicit --enable-chunked-prefill still chunks: 2048 tokens from 0.6.5 (vllm#10544) for a text
    # model, raised to the multimodal floor of 5120 (vllm#8028) for a multimodal one
    assert profiling_batch("vllm", H100, "H100", long, chunked_prefill=True, accounting=v065,
                           version=(0, 6, 5)).tokens == 2048
    assert profiling_batch("vllm", H100, "H100", long, chunked_prefill=True, accounting=v065, version=(0, 6, 5),
                           multimodal=True).tokens == 5120
    # serving_fit reads "multimodal" off the profile: a vision tower that loads with the model
    gemma = store.model("gemma-3-27b")
    assert gemma is not None and gemma.spec.vision_parameters_b
    text_only = gemma.model_copy(update={"spec": gemma.spec.model_copy(update={"vision_parameters_b": None,
                                                                                "sliding_window": None})})
    vision = gemma.model_copy(update={"spec": gemma.spec.model_copy(update={"sliding_window": None})})
    config = ServerConfig(max_model_len=long, engine_version=(0, 6, 5))
    assert serving_fit(text_only, H100, config, gpu_name="H100").batch.tokens == 2048
    assert serving_fit(vision, H100, config, gpu_name="H100").batch.tokens == long
    # V1 chunks every generative model: 8,192 tokens on an H100 either way
    v1 = dataclasses.replace(config, engine_version=(0, 11, 0))
    assert serving_fit(vision, H100, v1, gpu_name="H100").batch.tokens == 8192


def test_the_offline_llm_class_has_its_own_v1_batch_defaults(store):
    for version in ((0, 9, 0), (0, 11, 0), (0, 19, 0)):
        api = profiling_batch("vllm", H100, "NVIDIA H100 80GB HBM3", 32768, version=version)
        llm = profiling_batch("vllm", H100, "NVIDIA H100 80GB HBM3", 32768, version=version, offline=True)
        assert (api.tokens, api.seqs) == (8192, 1024) and (llm.tokens, llm.seqs) == (16384, 1024)
        small = profiling_batch("vllm", 22.05, "NVIDIA L4", 32768, version=version, offline=True)
        assert (small.tokens, small.seqs) == (8192, 256)
    # capped at max_num_seqs × max_model_len as the server's are
    assert profiling_batch("vllm", H100, "NVIDIA H100 80GB HBM3", 8, max_num_seqs=4, offline=True).tokens == 32
    # V0 has no usage-context defaults
    v07 = accounting_for("vllm", (0, 7, 3))
    assert profiling_batch("vllm", H100, "H100", 8192, accounting=v07, version=(0, 7, 3), offline=True).tokens == 8192
    # the offline batch is twice the server's forward: a larger activation peak where the forward binds
    llama = store.model("llama-3.1-8b")
    assert llama is not None
    config = ServerConfig(max_model_len=8192, engine_version=(0, 19, 0), enforce_eager=True)
    server = serving_fit(llama, H100, config, gpu_name="NVIDIA H100 80GB HBM3")
    offline = serving_fit(llama, H100, dataclasses.replace(config, offline=True), gpu_name="NVIDIA H100 80GB HBM3")
    assert (server.batch.tokens, offline.batch.tokens) == (8192, 16384)
    assert offline.activation_gib >= server.activation_gib


# The V0 batch of a multimodal model by version and context, as vllm/config.py `SchedulerConfig` and
# vllm/engine/arg_utils.py `create_engine_config` give it (no flag set, a model without sliding window):
# before 0.5.4 never chunked: max(len, 2048); 0.5.4 – 0.6.1 chunked above 32K at 512 tokens; from
# 0.6.2 a multimodal model is not chunked by default; from 0.6.0 the result is at least 5120.
V0_MULTIMODAL_BATCH = {
    ((0, 5, 3), 4096): 4096, ((0, 5, 3), 65536): 65536,
    ((0, 5, 5), 4096): 4096, ((0, 5, 5), 65536): 512,
    ((0, 6, 0), 4096): 5120, ((0, 6, 0), 65536): 5120,
    ((0, 6, 1), 2048): 5120, ((0, 6, 1), 65536): 5120,
    ((0, 6, 2), 4096): 5120, ((0, 6, 2), 65536): 65536,
    ((0, 6, 5), 4096): 5120, ((0, 6, 5), 8192): 8192,
    ((0, 7, 3), 2048): 5120, ((0, 7, 3), 32768): 32768,
}


def test_v0_multimodal_batch_floor_by_version_and_context() -> None:
    for (version, length), tokens in V0_MULTIMODAL_BATCH.items():
        acc = accounting_for("vllm", version)
        assert acc.engine == "v0"
        batch = profiling_batch("vllm", H100, "H100", length, accounting=acc, version=version, multimodal=True)
        assert batch.tokens == tokens, (version, length)
        assert batch.seqs == min(256, tokens)
        # a text model of the same shape keeps the plain default: the floor is the vision tower's
        text = profiling_batch("vllm", H100, "H100", length, accounting=acc, version=version)
        assert text.tokens == (max(length, 2048) if length <= 32768 or version < (0, 5, 4)
                               else acc.v0_chunked_tokens)
    # the floor fills in an unset flag only: a batch the server sets is kept
    v073 = accounting_for("vllm", (0, 7, 3))
    assert profiling_batch("vllm", H100, "H100", 2048, max_num_batched_tokens=3000, accounting=v073,
                           version=(0, 7, 3), multimodal=True).tokens == 3000
    # llmkube applies it to V0 only: V1's OpenAI server sets its batch itself (vllm-project/vllm#16795)
    assert profiling_batch("vllm", 22.05, "NVIDIA L4", 4096, version=(0, 11, 0), multimodal=True).tokens == 2048


def test_v0_multimodal_floor_reaches_the_fit(store: ProfileStore) -> None:
    gemma = store.model("gemma-3-27b")
    assert gemma is not None and gemma.spec.vision_parameters_b
    text_only = gemma.model_copy(update={"spec": gemma.spec.model_copy(update={"vision_parameters_b": None,
                                                                                "sliding_window": None})})
    vision = gemma.model_copy(update={"spec": gemma.spec.model_copy(update={"sliding_window": None})})
    config = ServerConfig(max_model_len=4096, engine_version=(0, 6, 5))
    small, big = (serving_fit(m, H100, config, gpu_name="H100") for m in (text_only, vision))
    assert (small.batch.tokens, big.batch.tokens) == (4096, 5120)
    # the forward over 5120 tokens instead of 4096 is a larger peak (the 256-row sampler is the same)
    assert big.activation_gib > small.activation_gib
