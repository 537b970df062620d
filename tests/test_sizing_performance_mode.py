"""vLLM's `--performance-mode` (0.17+, vllm-project/vllm#34936) as it changes the profiling batch.

vllm/engine/arg_utils.py `_set_default_max_num_seqs_and_batched_tokens_args`: with "throughput" the
defaults it fills in (max_num_batched_tokens, max_num_seqs) are doubled, each only when the user left
it unset; then, as always, an unchunked server batches at least max_model_len tokens, never more than
max_num_seqs × max_model_len, and never more sequences than tokens. The default "balanced" changes
nothing. The expected figures below are the OpenAI server's defaults (2,048 / 256 on an L4, 8,192 /
1,024 on an H100) worked through those steps by hand.
"""

from __future__ import annotations

import pytest

from llmkube.plan.engine_memory import profiling_batch
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

L4 = (22.05, "NVIDIA L4")
H100 = (79.19, "NVIDIA H100 80GB HBM3")


def test_throughput_mode_doubles_the_unset_defaults():
    assert (profiling_batch("vllm", *L4, 8192, version=(0, 27, 1)).tokens,
            profiling_batch("vllm", *L4, 8192, version=(0, 27, 1)).seqs) == (2048, 256)
    b = profiling_batch("vllm", *L4, 8192, version=(0, 27, 1), performance_mode="throughput")
    assert (b.tokens, b.seqs) == (4096, 512)
    b = profiling_batch("vllm", *H100, 32768, version=(0, 27, 1), performance_mode="throughput")
    assert (b.tokens, b.seqs) == (16384, 2048)
    # an unpinned image is the newest release, which has the flag
    b = profiling_batch("vllm", *H100, 32768, performance_mode="throughput")
    assert (b.tokens, b.seqs) == (16384, 2048)


def test_throughput_mode_leaves_what_the_user_set_and_the_later_caps():
    b = profiling_batch("vllm", *L4, 8192, max_num_seqs=64, version=(0, 27, 1), performance_mode="throughput")
    assert (b.tokens, b.seqs) == (4096, 64)  # tokens doubled, sequences as given
    b = profiling_batch("vllm", *L4, 8192, max_num_batched_tokens=1024, version=(0, 27, 1), performance_mode="throughput")
    assert (b.tokens, b.seqs) == (1024, 512)
    # without chunking the floor is still max_model_len: max(8,192, 2 × 2,048)
    b = profiling_batch("vllm", *L4, 8192, chunked_prefill=False, version=(0, 27, 1), performance_mode="throughput")
    assert b.tokens == 8192
    # a short context caps the doubled tokens at seqs × max_model_len: 2 × 4 sequences of 1,000
    b = profiling_batch("vllm", *L4, 1000, max_num_seqs=2, version=(0, 27, 1), performance_mode="throughput")
    assert b.tokens == 2000


@pytest.mark.parametrize("mode,version", [("balanced", (0, 27, 1)), ("interactivity", (0, 27, 1)),
                                          ("throughput", (0, 16, 0)), (None, (0, 27, 1))])
def test_other_modes_and_older_versions_keep_the_defaults(mode, version):
    b = profiling_batch("vllm", *L4, 8192, version=version, performance_mode=mode)
    assert (b.tokens, b.seqs) == (2048, 256)


def test_the_doubled_batch_reaches_the_activation_and_the_kv_cache():
    model = ProfileStore.load().model("meta-llama/Llama-3.1-8B-Instruct")
    assert model is not None
    base = ServerConfig(max_model_len=8192, engine_version=(0, 27, 1))
    balanced = serving_fit(model, L4[0], base, gpu_name=L4[1])
    throughput = serving_fit(model, L4[0], ServerConfig(max_model_len=8192, engine_version=(0, 27, 1),
                                                         performance_mode="throughput"), gpu_name=L4[1])
    assert throughput.activation_gib > balanced.activation_gib
    assert throughput.kv_budget_gib < balanced.kv_budget_gib


def test_performance_mode_is_read_from_a_vllm_command_line():
    from llmkube.check.read.servers import _read_vllm

    line = ["vllm", "serve", "Qwen/Qwen3-8B", "--performance-mode", "throughput"]
    assert _read_vllm(line, {})[3].performance_mode == "throughput"
    assert _read_vllm(["vllm", "serve", "Qwen/Qwen3-8B", "--performance-mode=throughput"], {})[3].performance_mode == "throughput"
    assert _read_vllm(line[:3], {})[3].performance_mode is None
