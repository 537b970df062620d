"""The profiling batch's defaults that depend on the model and the entry point, from vLLM source.

- V0 (0.6.2 – 0.7) never turns chunked prefill on by itself for a multimodal model
  (vllm-project/vllm#8425; arg_utils.py `create_engine_config`: `if use_long_context and not
  model_config.is_multimodal_model`), so such a model above 32K profiles a whole prompt.
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
    # an explicit --enable-chunked-prefill still chunks (2048 tokens from 0.6.5, vllm#10544)
    assert profiling_batch("vllm", H100, "H100", long, chunked_prefill=True, accounting=v065, version=(0, 6, 5),
                           multimodal=True).tokens == 2048
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
