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
