"""The CUDA-graph estimate as vLLM computes it before sizing the KV cache, from vLLM source.

- Capture sizes (vllm/config/vllm.py `VllmConfig._set_cudagraph_sizes`): 1, 2, 4, every 8 up to 248,
  every 16 from 256, up to min(2 × max_num_seqs, 512) and never above max_num_batched_tokens.
- FULL_AND_PIECEWISE, V1's default from 0.11, adds one FULL decode graph per capture size up to
  max_num_seqs (vllm/v1/cudagraph_dispatcher.py `CudagraphDispatcher.initialize_cudagraph_keys`).
- `GPUModelRunner.profile_cudagraph_memory` takes the first capture of each mode as shared and the
  second as the cost of every further one: first + (piecewise − 1) + (FULL − 1) captures.
"""

from __future__ import annotations

import pytest

from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

GIB = 2**30
H100 = 79.19
L4 = 22.05


@pytest.fixture(scope="module")
def llama():
    model = ProfileStore.load().model("llama-3.1-8b")
    assert model is not None
    return model


def test_capture_sizes_follow_max_num_seqs_and_the_batch():
    assert em.capture_size_list(1024)[:5] == [1, 2, 4, 8, 16] and em.capture_size_list(1024)[-2:] == [496, 512]
    assert em.capture_sizes(1024) == 3 + 31 + 17 == 51  # 1, 2, 4 + 8…248 + 256…512
    assert em.capture_sizes(128) == 3 + 31 + 1 == 35  # up to 2 × 128 = 256
    # no graph larger than the batch: --max-num-batched-tokens 128 stops the list at 128
    assert em.capture_size_list(1024, 128)[-1] == 128 and em.capture_sizes(1024, 128) == 3 + 16


def test_full_decode_graphs_stop_at_max_num_seqs():
    assert em.full_decode_sizes(1024) == 51  # every capture size is a decode batch of ≤ 1,024 requests
    assert em.full_decode_sizes(256) == 3 + 31 + 1 == 35  # 1 … 256 of the 51 piecewise sizes
    assert em.full_decode_sizes(64) == 3 + 8 == 11


def test_estimate_counts_the_first_capture_once_and_every_other_capture_of_both_modes():
    piece = em.CUDA_GRAPH_PIECE_BYTES
    # 256 sequences: 51 piecewise sizes, 35 FULL ones → 1 + 50 + 34 captures of 33 pieces
    assert em.cuda_graph_bytes(256, 32) == pytest.approx((1 + 50 + 34) * 33 * piece)
    assert em.cuda_graph_bytes(256, 32, full_decode=False) == pytest.approx(51 * 33 * piece)
    assert em.cuda_graph_bytes(256, 32, first_capture_bytes=GIB) == pytest.approx(GIB + (1 + 50 + 34) * 33 * piece)
    # the calibration: Llama-3.1-8B at 1,024 sequences, 101 captures and a 512-token pool, is the 0.84 GiB
    # the v0.19.0 H100 logs print
    pool = 512 * (2 * 4096 + 4 * 14336) * 2
    assert em.cuda_graph_bytes(1024, 32, first_capture_bytes=pool) == pytest.approx(0.84 * GIB)


def test_serving_fit_sizes_the_graphs_by_mode_version_and_batch(llama):
    def graphs(version, memory=H100, name="NVIDIA H100 80GB HBM3", **kw):
        cfg = ServerConfig(engine_version=version, max_model_len=8192, **kw)
        return serving_fit(llama, memory, cfg, gpu_name=name).cuda_graph_gib * GIB

    h100 = graphs((0, 21, 0))
    assert h100 == pytest.approx(0.84 * GIB)
    # an L4 gets 256 sequences and 2,048 tokens: 35 FULL graphs beside 51 piecewise ones, a 512-token pool
    l4 = graphs((0, 21, 0), L4, "NVIDIA L4")
    pool = em.forward_peak_bytes(llama.spec, 512, 1, 2.0)
    assert l4 == pytest.approx(pool + (1 + 50 + 34) * 33 * em.CUDA_GRAPH_PIECE_BYTES)
    assert l4 < h100
    # before 0.11 the default mode was piecewise only
    assert graphs((0, 10, 1)) == pytest.approx(pool + 51 * 33 * em.CUDA_GRAPH_PIECE_BYTES)
    # a 256-token batch caps the capture sizes and the pool
    small = graphs((0, 21, 0), max_num_batched_tokens=256)
    pool256 = em.forward_peak_bytes(llama.spec, 256, 1, 2.0)
    assert small == pytest.approx(pool256 + (1 + 34 + 34) * 33 * em.CUDA_GRAPH_PIECE_BYTES)
    assert graphs((0, 21, 0), enforce_eager=True) == 0
