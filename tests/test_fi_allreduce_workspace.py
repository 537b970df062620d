"""FlashInfer's all-reduce + RMSNorm fusion workspace (vLLM 0.17+, issue 11).

vLLM's `AllReduceFusionPass` (on by default at O2 from 0.17 on NVSwitch Hopper/Blackwell at TP 2/4/8)
creates FlashInfer's TensorRT-LLM workspace: three symmetric buffers, each rounded up to the 512 MiB
multicast granularity, during the profiling run — 1.5 GiB of non-torch memory per GPU
(`engine_memory.fi_allreduce_fusion_workspace_bytes`). The expected sizes below are worked out from
the buffer formulas of flashinfer/comm/trtllm_ar.py, not read off llmkube's output.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

MIB = 2**20
H100 = "NVIDIA H100 80GB HBM3"
V19 = (0, 19, 0)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


def _ws(version=V19, gpu=H100, tp=2, hidden=4096, dtype_bytes=2.0, tokens=8192, **kw) -> float:
    return em.fi_allreduce_fusion_workspace_bytes(version, gpu, tp, hidden, dtype_bytes, tokens, **kw)


def test_every_buffer_rounds_to_the_multicast_granularity() -> None:
    # H100, TP 2, hidden 4,096, bf16, 8,192 batched tokens: the 64 MiB limit allows 8,192 tokens, so
    # the buffers are 2 × 8,192 × 4,096 × 2 B = 128 MiB, 2 KiB of flags and 3 × 128 = 384 MiB of
    # Lamport buffers — each under 512 MiB, so each takes one multicast granule
    assert 2 * 8192 * 4096 * 2 == 128 * MIB and 3 * 128 * MIB + 2048 < 512 * MIB
    assert _ws() == 3 * 512 * MIB
    # the same 1.5 GiB whatever the width (the limit caps tokens × hidden) and at TP 4 / 8, whose
    # limits are 2 and 0.5 MiB on SM 9.0
    for hidden in (2880, 3584, 5120, 8192):
        assert _ws(hidden=hidden) == 3 * 512 * MIB
    assert _ws(tp=4) == _ws(tp=8) == 3 * 512 * MIB
    # a small batch makes smaller buffers, which still round to one granule each
    assert _ws(tokens=256) == 3 * 512 * MIB


def test_a_larger_limit_takes_more_granules() -> None:
    # B300 (SM 10.3) at TP 4, 0.19: 64 MiB limit → tokens = 64 MiB ÷ (4,096 × 2) = 8,192; Lamport
    # buffers 3 × 4 × 8,192 × 4,096 × 2 B = 768 MiB → two granules; 256 MiB and the flags one each
    assert 3 * 4 * 8192 * 4096 * 2 == 768 * MIB
    assert _ws(gpu="NVIDIA B300", tp=4) == (1 + 1 + 2) * 512 * MIB
    # B200 (SM 10.0) at TP 4: a 32 MiB limit, 384 MiB of Lamport buffers, one granule
    assert _ws(gpu="NVIDIA B200", tp=4) == 3 * 512 * MIB
    # 0.17 and 0.18 enable the pass on capability 9.0 and 10.0 only, not 10.3
    assert _ws(version=(0, 18, 0), gpu="NVIDIA B300", tp=4) == 0.0


def test_where_the_pass_is_off_nothing_is_allocated() -> None:
    # before 0.17 every optimization level had fuse_allreduce_rms False
    assert _ws(version=(0, 16, 0)) == _ws(version=(0, 14, 0)) == 0.0
    assert _ws(version=(0, 17, 0)) == 3 * 512 * MIB
    assert _ws(tp=1) == 0.0
    # world sizes without a limit (3, 6) have no pass
    assert _ws(tp=3) == _ws(tp=6) == 0.0
    # --enforce-eager: no torch.compile, no Inductor pass; PP > 1 and DP > 1 turn it off up to 0.20
    # (#35426, #34458), not from 0.21
    assert _ws(eager=True) == _ws(pipeline_parallel=2) == _ws(data_parallel=2) == 0.0
    assert _ws(version=(0, 20, 0), pipeline_parallel=2) == 0.0
    assert _ws(version=(0, 21, 0), pipeline_parallel=2) == _ws(version=(0, 21, 0), data_parallel=2) == 3 * 512 * MIB
    # no multicast without NVSwitch (PCIe and NVL cards): the workspace fails and vLLM runs unfused
    assert _ws(gpu="NVIDIA H100 PCIe") == _ws(gpu="NVIDIA H100 NVL") == 0.0
    # not Hopper/Blackwell: the pass needs capability 9.0 / 10.x
    for gpu in ("NVIDIA A100-SXM4-80GB", "NVIDIA L40S", "NVIDIA GeForce RTX 4090"):
        assert _ws(gpu=gpu) == 0.0
    assert _ws(tp_spans_nodes=True) == 0.0
    # an unnamed GPU is sized as the H100
    assert _ws(gpu="") == 3 * 512 * MIB


def test_serving_fit_adds_the_workspace_to_non_torch_memory(store: ProfileStore) -> None:
    model = store.model("llama-3.1-8b")

    def non_torch(version, gpu=H100, **kw) -> float:
        cfg = ServerConfig(tensor_parallel=2, max_model_len=8192, utilization=0.95, engine_version=version, **kw)
        return serving_fit(model, 79.19, cfg, gpu_name=gpu).non_torch_gib

    base19 = em.NON_TORCH_TP_NVSWITCH_GIB
    assert non_torch(V19) == pytest.approx(base19 + 1.5)
    assert non_torch(V19, enforce_eager=True) == pytest.approx(base19)  # no compile, no workspace
    assert non_torch((0, 17, 0)) == pytest.approx(0.55 + 1.5)  # the 0.11-0.17 TP figure + workspace
    assert non_torch((0, 16, 0)) == pytest.approx(0.55)
    assert non_torch(V19, gpu="NVIDIA H100 PCIe") == pytest.approx(0.55)


def test_the_v019_h100_tp_rows_read_the_workspace_over_the_014_figure() -> None:
    """The 0.19.0 H100 TP >= 2 fit rows read 1.5 GiB more non-torch memory than the 0.14.0 TP 2 rows
    (0.55 GiB, the figure before the pass was on): within 0.17 GiB each, whatever the model's width."""
    with (REPO / "benchmarks" / "data" / "vllm_startups.csv").open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f)
                if r["split"] == "fit" and r["gpu"] == "h100-80gb" and r["vllm_version"] == "0.19.0"
                and int(r["tp"]) >= 2 and r["non_torch_gib"]]
    assert len(rows) >= 10
    spec = importlib.util.spec_from_file_location("sizing_accuracy", REPO / "benchmarks" / "sizing_accuracy.py")
    assert spec is not None and spec.loader is not None
    accuracy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(accuracy)
    store = ProfileStore.load()
    workspace = 3 * 512 * MIB / em.GIB
    sized = 0
    for r in rows:
        read = float(r["non_torch_gib"])
        assert abs(read - (0.55 + workspace)) <= 0.17, r["id"]
        result = accuracy.evaluate_row(store, r)
        if not result["sizable"]:
            continue  # no profile or config.json for the model (Kimi-VL)
        sized += 1
        assert result["predicted"]["non_torch_gib"] == pytest.approx(em.NON_TORCH_TP_NVSWITCH_GIB + workspace), r["id"]
    assert sized >= 10


# --------------------------------------------------------------------------- vLLM 0.22+ (flashinfer 0.6.11.post2+)
# The expected sizes are worked out from flashinfer's buffer formulas and the allocators' rounding
# (torch symmetric memory / SymmDeviceMemory: size + 2 KiB signal pad, rounded to 2 MiB; 512 MiB
# when SymmDeviceMemory binds multicast), not read off llmkube's output.

def _blk(size: int) -> int:
    """A symmetric block: size + the 2,048 B signal pad, rounded up to 2 MiB."""
    return -(-(size + 2048) // (2 * MIB)) * 2 * MIB


def test_022_to_024_allocate_the_trtllm_buffers_at_2_mib() -> None:
    # H100 TP 2, hidden 4,096, bf16, 8,192 tokens: buffers 128 MiB, 2 KiB of flags, 3 × 128 MiB
    expected = _blk(128 * MIB) + _blk(2 * 256 * 4) + _blk(384 * MIB)
    assert expected == (130 + 2 + 386) * MIB
    for version in ((0, 22, 0), (0, 23, 0), (0, 24, 0)):
        assert _ws(version=version) == expected
    # the limit's share of the workspace now shows: TP 4 on SM 9.0 is a 2 MiB limit, 256 tokens
    assert _ws(version=(0, 22, 0), tp=4) == _blk(4 * 256 * 4096 * 2) + _blk(4 * 256 * 4) + _blk(3 * 4 * 256 * 4096 * 2)
    assert _ws(version=(0, 22, 0), tp=4) == (10 + 2 + 26) * MIB
    # torch's allocator binds multicast only where it exists: PCIe and NVL Hopper keep the fusion
    assert _ws(version=(0, 22, 0), gpu="NVIDIA H100 PCIe") == expected
    assert _ws(version=(0, 22, 0), gpu="NVIDIA H100 NVL") == expected
    # still none under --enforce-eager, at TP 1 / 3, on Ampere/Ada or across nodes
    assert _ws(version=(0, 22, 0), eager=True) == _ws(version=(0, 22, 0), tp=3) == 0.0
    assert _ws(version=(0, 22, 0), gpu="NVIDIA A100-SXM4-80GB") == _ws(version=(0, 22, 0), tp_spans_nodes=True) == 0.0
    # a smaller batch makes a smaller workspace now (512 tokens: 8 MiB buffers)
    assert _ws(version=(0, 22, 0), tokens=512) == _blk(8 * MIB) + _blk(2048) + _blk(24 * MIB)


def test_025_adds_the_mnnvl_workspace_and_026_shares_it() -> None:
    # mnnvl at TP 2, 8,192 tokens, hidden 4,096, bf16: one-shot need 1 MiB (its threshold), two-shot
    # 2 × 8,192 × 4,096 × 2 = 128 MiB; three slots of the larger
    mnnvl = em.mnnvl_workspace_bytes(2, 8192, 4096, 2)
    assert mnnvl == 3 * 128 * MIB
    trtllm = (130 + 2 + 386) * MIB
    # 0.25: the mnnvl workspace plus the trtllm one the quantized patterns ask for
    assert _ws(version=(0, 25, 0)) == _blk(mnnvl) + trtllm
    # 0.26: the quantized patterns reuse the mnnvl workspace
    assert _ws(version=(0, 26, 0)) == _blk(mnnvl) == 386 * MIB
    # mnnvl's one-shot slot dominates a small batch: 64 tokens at TP 4 (16 tokens a rank, two stages)
    assert em.mnnvl_workspace_bytes(4, 64, 4096, 2) == 3 * max(min(MIB // (4 * 2 * 4096), 64) * 4096 * 4 * 2,
                                                             2 * 16 * 4 * 4096 * 2)


def test_027_on_rounds_the_mnnvl_workspace_to_the_multicast_granularity() -> None:
    # McastGPUBuffer → SymmDeviceMemory with multicast: one 386 MiB block rounds to one 512 MiB granule
    for version in ((0, 27, 0), (0, 28, 0), (0, 29, 0), None):
        assert _ws(version=version) == 512 * MIB
        assert _ws(version=version, tp=4) == _ws(version=version, tp=8) == 512 * MIB
    # without multicast the mnnvl workspace fails and the trtllm fallback allocates at 2 MiB
    assert _ws(version=(0, 27, 0), gpu="NVIDIA H100 PCIe") == (130 + 2 + 386) * MIB
    # the 0.17 - 0.21 figure for comparison: three granules
    assert _ws(version=(0, 21, 0)) == 3 * 512 * MIB


def test_029_builds_it_under_enforce_eager_when_the_batch_fits_the_limit() -> None:
    # VLLM_ALLREDUCE_USE_FLASHINFER defaults to 1 from 0.29: the standalone all-reduce creates the
    # workspace for an all-reduce within its limit, eager or not
    assert _ws(version=(0, 28, 0), eager=True) == 0.0
    # TP 2 on SM 9.0: 8,192 × 4,096 × 2 B = 64 MiB, at the limit
    assert _ws(version=(0, 29, 0), eager=True) == 512 * MIB
    # a wider model's batch exceeds the 64 MiB: the standalone path declines, nothing is built
    assert _ws(version=(0, 29, 0), eager=True, hidden=8192) == 0.0
    # TP 4 on SM 9.0 (a 2 MiB limit) never fits an 8,192-token batch; a 256-token batch does, and the
    # workspace is sized by the limit (256 tokens), without multicast at 2 MiB rounding
    assert _ws(version=(0, 29, 0), eager=True, tp=4) == 0.0
    assert _ws(version=(0, 29, 0), eager=True, tp=4, tokens=256, gpu="NVIDIA H100 PCIe") == (10 + 2 + 26) * MIB


def test_029_b300_takes_the_tuned_standalone_size() -> None:
    # SM 10.3 at TP 4: the pass's 64 MiB limit gives 8,192 tokens at hidden 4,096, the standalone
    # tuned 80 MiB raises it to (80 MiB - 1) // 8 KiB = 10,239; mnnvl two-shot 2 × 2,560 × 4 × 4,096 × 2
    tokens = (80 * MIB - 1) // (4096 * 2)
    assert tokens == 10239
    size = em.mnnvl_workspace_bytes(4, tokens, 4096, 2)
    assert size == 3 * 2 * 2560 * 4 * 4096 * 2
    assert size == 480 * MIB  # one multicast granule
    assert _ws(version=(0, 29, 0), gpu="NVIDIA B300", tp=4, tokens=16384) == 512 * MIB
    # 0.28 has no tuned size: 8,192 tokens → 3 × 2 × 2,048 × 4 × 4,096 × 2 = 384 MiB, one granule too
    assert em.mnnvl_workspace_bytes(4, 8192, 4096, 2) == 384 * MIB
    assert _ws(version=(0, 28, 0), gpu="NVIDIA B300", tp=4, tokens=16384) == 512 * MIB
    # the tuned size shows where the granule is not the bound: without multicast (trtllm fallback,
    # 2 MiB rounding) the buffers follow the raised token count — not a real B300 set-up, a check of
    # the order (tuned size first, then the fallback), as `get_fi_ar_workspace` does it
    trt = em.trtllm_workspace_buffers(4, tokens, 4096, 2)
    assert trt[0] == 4 * tokens * 4096 * 2


def test_serving_fit_sizes_the_newer_workspaces(store: ProfileStore) -> None:
    model = store.model("llama-3.1-8b")

    def non_torch(version, gpu=H100, **kw) -> float:
        cfg = ServerConfig(tensor_parallel=2, max_model_len=8192, utilization=0.95, engine_version=version, **kw)
        return serving_fit(model, 79.19, cfg, gpu_name=gpu).non_torch_gib

    base = em.NON_TORCH_TP_NVSWITCH_GIB
    # H100's batch is 8,192 tokens (≥ 70 GiB, not an A100): the buffers of the first test above
    assert non_torch((0, 22, 0)) == pytest.approx(base + (130 + 2 + 386) / 1024)
    assert non_torch((0, 26, 0)) == pytest.approx(base + 386 / 1024)
    assert non_torch((0, 28, 0)) == pytest.approx(base + 0.5)
    # 0.29 --enforce-eager: the standalone all-reduce's workspace
    assert non_torch((0, 29, 0), enforce_eager=True) == pytest.approx(base + 0.5)
    # an H100 PCIe pair keeps the fusion from 0.22 (torch symmetric memory needs no multicast)
    assert non_torch((0, 22, 0), gpu="NVIDIA H100 PCIe") == pytest.approx(0.55 + (130 + 2 + 386) / 1024)
