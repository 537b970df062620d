"""NCCL's init-time buffers, which vLLM 0.6.4 – 0.10 counts as non-torch memory at TP >= 2 (issue 11).

Every expected figure below is worked out from NCCL's and vLLM's source constants (cited in
llmkube/plan/engine_memory.py next to `nccl_init_buffer_bytes`), not read off llmkube's output:
the per-protocol FIFOs (LL 8 × 512 × 8 × 16 B, LL128 120 × 640 × 8 × 8 B, SIMPLE 4 MiB), the 4 KiB
connection header, the 2 MiB CUDA_IPC_MIN rounding, 24 coll channels on an HGX H100, 32 point-to-point
channels per peer, NVLS's 16/24 channels of 128 KiB × 8 FIFOs, and the 512 MiB multicast granularity.
"""

from __future__ import annotations

import pytest

from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

MIB = 2**20
H100, H200 = "NVIDIA H100 80GB HBM3", "NVIDIA H200"
H100_PCIE, H100_NVL, H800, A100 = "NVIDIA H100 PCIe", "NVIDIA H100 NVL", "NVIDIA H800", "NVIDIA A100-SXM4-80GB"
RTX4090 = "NVIDIA GeForce RTX 4090"


def test_one_connection_is_2_mib_sent_and_10_received_without_p2p_read() -> None:
    ll, ll128, simple = 524_288, 4_915_200, 4 * MIB
    assert (em.NCCL_LL_BUFFSIZE, em.NCCL_LL128_BUFFSIZE, em.NCCL_SIMPLE_BUFFSIZE) == (ll, ll128, simple)
    # the receiver holds all three FIFOs: 4 KiB + 9.19 MiB rounds to 10 MiB; the sender only its header
    assert em.nccl_connection_bytes(read=False) == (2 * MIB, 10 * MIB)
    # P2P read (A100 over NVLink) moves the SIMPLE FIFO to the sender: 4 KiB + 4 MiB and 4 KiB + 5.19 MiB
    assert em.nccl_connection_bytes(read=True) == (6 * MIB, 6 * MIB)
    # what the NCCL issue #1685 allocation log shows on 8 × H100 (cuMem): 10485760 and 2097152 B
    assert em.nccl_connection_bytes(read=False) == (2_097_152, 10_485_760)


@pytest.mark.parametrize("name", [H100, H200, "h100-80gb", "NVIDIA H20"])
def test_hgx_hopper_has_24_coll_channels(name: str) -> None:
    assert em.nccl_channels(name) == 24


@pytest.mark.parametrize("name", [H100_PCIE, H100_NVL, H800, "NVIDIA GH200 480GB", A100, RTX4090, "", "unknown-48gb"])
def test_channel_count_unknown_off_the_hgx_hopper_board(name: str) -> None:
    assert em.nccl_channels(name) is None


def test_nvls_buffers_by_nccl_release() -> None:
    # 2.21.5: 24 channels × 2 FIFOs × (1 MiB + 2 MiB) per head, rounded up to 512 MiB
    assert em.nccl_nvls_bytes((2, 21, 5), 8, 24) == 1536 * MIB  # 1152 MiB → 3 × 512
    assert em.nccl_nvls_bytes((2, 21, 5), 4, 24) == 1024 * MIB  # 576 MiB → 2 × 512
    # 2.26.2: 16 NVLS channels × 2 × 1 MiB per head, plus 24 × 2 × 64 B × heads of credits (one 2 MiB granule)
    assert em.nccl_nvls_bytes((2, 26, 2), 8, 24) == (256 + 2) * MIB
    assert em.nccl_nvls_bytes((2, 26, 2), 4, 24) == (128 + 2) * MIB
    # none at two GPUs (ncclNvlsInit: "gpuCount <= 2")
    assert em.nccl_nvls_bytes((2, 21, 5), 2, 24) == em.nccl_nvls_bytes((2, 26, 2), 2, 24) == 0


@pytest.mark.parametrize(("version", "nccl"), [
    ((0, 6, 3), None), ((0, 6, 4), (2, 21, 5)), ((0, 7), (2, 21, 5)), ((0, 8, 5), (2, 21, 5)),
    ((0, 9, 0), (2, 26, 2)), ((0, 10, 1, 1), (2, 26, 2)), ((0, 11, 0), None), ((0, 19, 0), None), (None, None),
])
def test_nccl_release_whose_init_buffers_the_engine_counts(version: tuple[int, ...] | None,
                                                           nccl: tuple[int, int, int] | None) -> None:
    # torch 2.5.1 (vLLM 0.6.4 - 0.7) and 2.6.0 (0.8) pin nvidia-nccl-cu12 2.21.5, torch 2.7.x (0.9 - 0.10) 2.26.2;
    # from 0.11 the baseline follows the distributed init and NCCL connects lazily
    assert em.nccl_version_counted(version) == nccl


def test_init_buffers_per_rank_hgx_h100() -> None:
    ring = 24 * (2 + 10) * MIB  # one connection to the next rank and one from the previous, per channel
    # V1 0.10 at TP 8: two communicators, each ring + tree pair + NVLS (2.26.2)
    assert em.nccl_init_buffer_bytes((0, 10, 0), "v1", H100, 8) == 2 * (2 * ring + 258 * MIB)
    # V1 0.9 at TP 2: the tree reuses the ring's connections, no NVLS
    assert em.nccl_init_buffer_bytes((0, 9, 2), "v1", H100, 2) == 2 * ring
    # V0 0.7 at TP 2: rank 0 also receives the logits gather on 32 channels
    assert em.nccl_init_buffer_bytes((0, 7, 2), "v0", H100, 2) == 2 * ring + 32 * 10 * MIB
    # V0 0.8 at TP 4 (2.21.5): 3 peers to gather from, 1 GiB of NVLS per communicator
    assert em.nccl_init_buffer_bytes((0, 8, 0), "v0", H100, 4) == 2 * (2 * ring + 1024 * MIB) + 3 * 32 * 10 * MIB


def test_init_buffers_not_modelled_where_the_source_does_not_say() -> None:
    assert em.nccl_init_buffer_bytes((0, 11, 0), "v1", H100, 2) is None  # counted lazily: the 0.55 GiB figure
    assert em.nccl_init_buffer_bytes((0, 10, 0), "v1", H100_PCIE, 2) is None  # PCIe: channels unknown
    assert em.nccl_init_buffer_bytes((0, 10, 0), "v1", "", 2) is None
    assert em.nccl_init_buffer_bytes((0, 10, 0), "v1", H100, 1) is None
    assert em.nccl_init_buffer_bytes(None, "v1", H100, 8) is None


def test_non_torch_at_tp8_before_0_11() -> None:
    acc = em.accounting_for("vllm", (0, 10, 0))
    got = em.non_torch_bytes(acc, 8, 1, H100, version=(0, 10, 0))
    # the TP 1 figure + the custom all-reduce's two cudaMalloc'd IPC buffers (10 + 8 MiB) + NCCL's
    assert em.CUSTOM_AR_DEVICE_BYTES == 18 * MIB
    assert got == acc.non_torch_tp1_gib * em.GIB + 18 * MIB + 2 * (2 * 24 * 12 + 258) * MIB
    # without the version, from 0.11, on a PCIe card or across nodes: as before
    assert em.non_torch_bytes(acc, 8, 1, H100) == acc.non_torch_tp_gib * em.GIB
    acc11 = em.accounting_for("vllm", (0, 11, 0))
    assert em.non_torch_bytes(acc11, 8, 1, H100, version=(0, 11, 0)) == acc11.non_torch_tp_gib * em.GIB
    assert em.non_torch_bytes(acc, 2, 1, H100_PCIE, version=(0, 10, 0)) == acc.non_torch_tp_gib * em.GIB
    assert em.non_torch_bytes(acc, 8, 1, H100, tp_spans_nodes=True, version=(0, 10, 0)) == \
        acc.non_torch_tp1_gib * em.GIB


def test_serving_fit_passes_the_version() -> None:
    llama = ProfileStore.load().model("llama-3.1-8b")
    assert llama is not None

    def fit(version: tuple[int, ...]) -> float:
        config = ServerConfig(max_model_len=8192, tensor_parallel=2, engine_version=version)
        return serving_fit(llama, 79.19, config, gpu_name=H100).non_torch_gib

    # 0.9.2 (V1) at TP 2: TP 1 figure + custom all-reduce + two rings of 24 channels
    assert fit((0, 9, 2)) == pytest.approx(0.13 + (18 + 576) / 1024)
    assert fit((0, 11, 0)) == pytest.approx(0.55)
