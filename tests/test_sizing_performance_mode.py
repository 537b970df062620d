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


def test_interactivity_mode_captures_every_batch_size_up_to_32():
    from llmkube.plan.engine_memory import capture_size_list, cuda_graph_bytes, full_decode_sizes

    # balanced: 1, 2, 4, then 8 … 248 every 8 (31), then 256 … 512 every 16 (17): 51 sizes at 1,024 sequences
    assert len(capture_size_list(1024, 8192)) == 51
    fine = capture_size_list(1024, 8192, fine_grained=True)
    # interactivity: 1 … 32 (32 sizes, 8, 16, 24 and 32 among them) + 40 … 248 (27) + 256 … 512 (17)
    assert fine[:33] == [*range(1, 33), 40] and len(fine) == 32 + 27 + 17
    # a small batch caps both lists: max capture size min(2 × 8, 512) = 16
    assert capture_size_list(8, 8192) == [1, 2, 4, 8, 16]
    assert capture_size_list(8, 8192, fine_grained=True) == list(range(1, 17))
    # FULL decode graphs keep the sizes up to max_num_seqs: 1 … 32, then 40 … 248 (27), 256 … 256 (1)
    assert full_decode_sizes(256, 8192, fine_grained=True) == 32 + 27 + 1
    # 25 more piecewise and 25 more FULL captures, each of (layers + 1) pieces, on the same first capture
    layers, piece = 32, cuda_graph_bytes(1024, 32, 8192, first_capture_bytes=0.0) / ((1 + 50 + 50) * 33)
    more = cuda_graph_bytes(1024, layers, 8192, fine_grained=True) - cuda_graph_bytes(1024, layers, 8192)
    assert more == pytest.approx(50 * (layers + 1) * piece)


def test_interactivity_mode_reaches_the_counted_cuda_graphs():
    model = ProfileStore.load().model("meta-llama/Llama-3.1-8B-Instruct")
    assert model is not None
    h100 = H100[0]
    # the V1 runner (VLLM_USE_V2_MODEL_RUNNER=0): 0.27.1 runs Llama under Model Runner V2 by default,
    # which counts no graphs before 0.29 (tests/test_sizing.py)
    v1 = dict(max_model_len=8192, engine_version=(0, 27, 1), model_runner_v2=False)
    balanced = serving_fit(model, h100, ServerConfig(**v1), gpu_name=H100[1])
    fine = serving_fit(model, h100, ServerConfig(**v1, performance_mode="interactivity"), gpu_name=H100[1])
    assert fine.cuda_graph_counted and fine.cuda_graph_gib > balanced.cuda_graph_gib
    assert balanced.kv_budget_gib - fine.kv_budget_gib == pytest.approx(fine.cuda_graph_gib - balanced.cuda_graph_gib)
    # before 0.17 the flag does not exist: nothing changes
    old = dict(max_model_len=8192, engine_version=(0, 16, 0))
    assert (serving_fit(model, h100, ServerConfig(**old, performance_mode="interactivity"), gpu_name=H100[1]).cuda_graph_gib
            == serving_fit(model, h100, ServerConfig(**old), gpu_name=H100[1]).cuda_graph_gib)
