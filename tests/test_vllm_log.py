"""benchmarks/vllm_log.py reads real vLLM start-up logs into the start-up table's columns.

Every log under tests/data/vllm-logs/ is a short excerpt of a public log (its header cites the
source, pinned to a commit or a thread). Each expected value below was read off the excerpt's
lines by hand, and the comment next to it quotes the line; none was copied from the parser.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / "tests" / "data" / "vllm-logs"
SCRIPT = REPO / "benchmarks" / "vllm_log.py"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


vllm_log = _load("vllm_log_under_test", SCRIPT)


def parse(name: str) -> list[dict[str, str]]:
    return list(vllm_log.parse_log((LOGS / name).read_text(encoding="utf-8")))


def one(name: str) -> dict[str, str]:
    rows = parse(name)
    assert len(rows) == 1, [r["notes"] for r in rows]
    return rows[0]


def check(row: dict[str, str], expected: dict[str, str]) -> None:
    got = {k: row[k] for k in expected}
    assert got == expected


def test_v0_api_server_0_6_6() -> None:
    """V0 engine behind the OpenAI API server, 0.6.6.post1, one L40S."""
    check(one("v0.6.6-l40s-api-server.log"), {
        "vllm_version": "0.6.6.post1",  # "vLLM API server version 0.6.6.post1"
        "model": "Qwen/Qwen2.5-1.5B-Instruct",  # config line model='Qwen/Qwen2.5-1.5B-Instruct'
        "tp": "1", "pp": "1",  # tensor_parallel_size=1, pipeline_parallel_size=1
        "dtype": "float16",  # dtype=torch.float16
        "max_model_len": "4096",  # Namespace max_model_len=4096
        "gpu_memory_utilization": "0.9",  # Namespace gpu_memory_utilization=0.9
        "enforce_eager": "false",  # enforce_eager=False
        "gpu_total_gib": "44.52",  # "total_gpu_memory (44.52GiB)"
        "weights_gib": "2.8875",  # "Loading model weights took 2.8875 GB"
        "non_torch_gib": "0.23",  # "non_torch_memory takes 0.23GiB"
        "activation_gib": "1.4",  # "PyTorch activation peak memory takes 1.40GiB"
        "kv_cache_gib": "35.55",  # "the rest of the memory reserved for KV Cache is 35.55GiB"
        "gpu_blocks": "83208",  # "# GPU blocks: 83208, # CPU blocks: 9362"
        "kv_tokens": "1331328",  # 83208 blocks x 16 tokens (V0 default block size; derived)
        "max_concurrency": "325.03",  # "Maximum concurrency for 4096 tokens per request: 325.03x"
        "cuda_graph_gib": "",  # "Graph capturing finished in 8 secs, took 0.21 GiB" comes after sizing
    })


def test_one_line_profile_peak_includes_weights() -> None:
    """The one-line "Memory profiling results: ... peak_torch_memory=..." of 0.6.4 (a 0.5.2 dev
    build prints the same): its torch peak includes the weights, so activation = peak - weights."""
    check(one("v0.5.2dev-one-line-profile.log"), {
        "vllm_version": "0.5.2.dev1210+g6f078ea3c",
        "weights_gib": "24.284",  # "Loading model weights took 24.2840 GB"
        "activation_gib": "0.1",  # peak_torch_memory=24.38GiB - 24.284 = 0.096 -> 0.10
        "non_torch_gib": "0.1",  # non_torch_memory=0.10GiB
        "kv_cache_gib": "32.61",  # kv_cache_size=32.61GiB
        "gpu_total_gib": "63.43",  # total_gpu_memory=63.43GiB
        "max_num_seqs": "1",  # Namespace max_num_seqs=1
        "block_size": "16",  # Namespace block_size=16
        "gpu_blocks": "2671", "kv_tokens": "42736",  # "# GPU blocks: 2671" x 16
        "max_concurrency": "10.43",
    })
    check(one("v0.6.4-rtx3090-issue-comment.log"), {
        "weights_gib": "14.9888",  # "Loading model weights took 14.9888 GB"
        "activation_gib": "2.07",  # peak_torch_memory=17.06GiB - 14.9888 = 2.0712
        "non_torch_gib": "0.35", "kv_cache_gib": "3.81", "gpu_total_gib": "23.58",
        "gpu_memory_utilization": "0.9",  # gpu_memory_utilization=0.90
        "gpu_blocks": "1952",  # "GPU blocks: 1952, # CPU blocks: 2048" (the paste lost its "#")
        "kv_tokens": "31232",  # 1952 x 16
        "max_concurrency": "1.56",
    })


def test_tabular_profile_of_a_0_6_5_dev_build() -> None:
    check(one("v0.6.5dev-tabular-profile.log"), {
        "gpu_total_gib": "79.22",  # "total_gpu_memory\t79.22GiB"
        "gpu_memory_utilization": "0.9",  # "gpu_memory_utilization\t0.90"
        "weights_gib": "14.96",  # "model weights take\t14.96GiB"
        "non_torch_gib": "1.79",  # "non_torch_memory\t1.79GiB"
        "activation_gib": "1.26",  # "PyTorch activation peak memory\t1.26GiB"
        "kv_cache_gib": "53.29",  # "available_kv_cache_memory\t53.29GiB"
    })


def test_cuda_blocks_line_of_0_7() -> None:
    check(one("v0.7dev-cuda-blocks.log"), {
        "weights_gib": "19.86", "non_torch_gib": "0.16", "activation_gib": "36.63", "kv_cache_gib": "14.65",
        "gpu_blocks": "6001",  # "# CUDA blocks: 6001, # CPU blocks: 1638"
        "kv_tokens": "96016",  # 6001 x 16
    })


# excerpt -> the table row it was transcribed into: every figure the excerpt prints reads back the same
EXCERPT_ROWS = {
    "v0.7-48gb-tp2-issue.log": "vllm-i12663-qwen2.5-32b-2x48gb-v07",  # vllm-project/vllm#12663
    "v0.6.4-a6000-one-line-profile.log": "vllm-i10360-qwen2.5-32b-awq-a6000-v064",  # vllm-project/vllm#10360
    "v0.6.6-l40s-tp8-internvl3.log": "gh-vlmdistillation-internvl3-78b-8xl40s-v066",  # gnosia93/vlm-distillation
}


@pytest.mark.parametrize("name", sorted(EXCERPT_ROWS))
def test_an_issue_excerpt_gives_the_figures_of_its_table_row(name: str) -> None:
    row = one(name)
    with (REPO / "benchmarks" / "data" / "vllm_startups.csv").open(encoding="utf-8", newline="") as f:
        table = next(r for r in csv.DictReader(f) if r["id"] == EXCERPT_ROWS[name])
    printed = [c for c in ("weights_gib", "non_torch_gib", "activation_gib", "kv_cache_gib", "kv_tokens", "gpu_blocks",
                           "max_concurrency", "gpu_total_gib", "gpu_memory_utilization") if row[c]]
    assert {"kv_cache_gib", "gpu_total_gib"} <= set(printed)
    for column in printed:
        assert float(row[column]) == float(table[column]), column
    for column in ("weights_gib", "activation_gib", "kv_tokens", "gpu_blocks", "max_concurrency"):
        if not row[column]:  # a figure the excerpt does not print stays empty in the table too
            assert not table[column], column


# V1 excerpts of repository log files (session 28): most print no CUDA total, so only the figures they
# print are compared, and those left out of the excerpt stay empty in the row
V1_EXCERPT_ROWS = {
    "v0.16.0-2xl40s-tp2-awq-lab.log": "gh-kagaho-llama3-70b-awq-2xl40s-tp2-v0160",
    "v0.25.1-2x4090-tp2-mrv2.log": "gh-vllmexperience-qwen2-7b-2x4090-tp2-v0251",
    "v0.29.0-rtx5090-mrv2-warm.log": "gh-vllmservebench-qwen2.5-7b-rtx5090-v0290",
}


@pytest.mark.parametrize("name", sorted(V1_EXCERPT_ROWS))
def test_a_v1_excerpt_gives_the_figures_of_its_table_row(name: str) -> None:
    row = one(name)
    with (REPO / "benchmarks" / "data" / "vllm_startups.csv").open(encoding="utf-8", newline="") as f:
        table = next(r for r in csv.DictReader(f) if r["id"] == V1_EXCERPT_ROWS[name])
    printed = [c for c in ("weights_gib", "non_torch_gib", "activation_gib", "kv_cache_gib", "kv_tokens",
                           "max_concurrency", "gpu_total_gib", "gpu_memory_utilization", "max_model_len",
                           "max_num_batched_tokens", "tp") if row[c]]
    assert {"weights_gib", "kv_cache_gib", "kv_tokens", "max_concurrency", "tp"} <= set(printed)
    for column in printed:
        assert float(row[column]) == float(table[column]), column
    for column in ("non_torch_gib", "activation_gib", "gpu_total_gib", "gpu_memory_utilization"):
        if not row[column]:  # a figure or setting the log does not print stays empty in the table too
            assert not table[column], column
    assert (row["vllm_version"], row["dtype"], row["topk_topp_sampler"]) == (
        table["vllm_version"], table["dtype"], table["topk_topp_sampler"])


def test_v0_tp2_excerpt_derives_tokens_from_blocks() -> None:
    row = one("v0.7-48gb-tp2-issue.log")
    assert row["gpu_blocks"] == "5225"  # "# CUDA blocks: 5225, # CPU blocks: 2048"
    assert row["kv_tokens"] == "83600"  # 5225 x 16


def test_a_file_with_two_startups_gives_two_rows() -> None:
    """A script that started the V0 engine twice (0.7.3, one A100 40GB): one row per start-up."""
    rows = parse("v0.7.3-a100-40gb-two-startups.log")
    assert len(rows) == 2
    for row in rows:
        check(row, {
            "vllm_version": "0.7.3",  # "Initializing a V0 LLM engine (v0.7.3)"
            "model": "Qwen/Qwen2.5-14B-Instruct",
            "gpu_memory_utilization": "0.8",  # "x gpu_memory_utilization (0.80)"
            "gpu_total_gib": "39.38",  # "total_gpu_memory (39.38GiB)"
            "weights_gib": "27.5681",  # "Loading model weights took 27.5681 GB"
            "kv_cache_gib": "2.33",
            "gpu_blocks": "796",  # "# cuda blocks: 796, # CPU blocks: 1365"
            "kv_tokens": "12736",  # 796 x 16
            "max_concurrency": "1.55",
        })


def test_ray_tp4_across_nodes() -> None:
    """V1 0.10.1.1, gpt-oss-120b at TP 4 on four A100 80GB pods through Ray: every worker line
    carries "(EngineCore_0 pid=…) (RayWorkerWrapper pid=…, ip=…)"."""
    check(one("v0.10.1.1-gpt-oss-120b-ray-tp4.log"), {
        "vllm_version": "0.10.1.1",
        "model": "gpt-oss-120b",  # the log names a local directory, not an HF id
        "tp": "4",  # tensor_parallel_size=4
        "quantization": "mxfp4",  # quantization=mxfp4 in the engine config (from the checkpoint)
        "quantization_flag": "",  # not among the non-default args
        "max_model_len": "16384",
        "max_num_batched_tokens": "2048",  # "Chunked prefill is enabled with max_num_batched_tokens=2048."
        "gpu_memory_utilization": "0.8",  # non-default args 'gpu_memory_utilization': 0.8
        "topk_topp_sampler": "flashinfer",  # "Using FlashInfer for top-p & top-k sampling."
        "tp_spans_nodes": "true",  # "Custom allreduce is disabled because this process group spans across nodes."
        "mxfp4_backend": "marlin",  # "Weight-only FP4 compression will be used leveraging the Marlin kernel"
        "weights_gib": "17.2217",  # "Model loading took 17.2217 GiB" (every worker)
        "kv_cache_gib": "45.32",  # "Available KV cache memory: 45.32 GiB"
        "kv_tokens": "2640144",  # "GPU KV cache size: 2,640,144 tokens"
        "gpu_blocks": "330018",  # "... num_gpu_blocks is: 330018"
        "max_concurrency": "284.25",
    })


def test_tp8_takes_the_binding_rank() -> None:
    """V1 0.10.0 at TP 8 ("(VllmWorker rank=N pid=…)"): the ranks print different KV memory and the
    engine prints one KV size per worker; the pool is the smallest (227,801 blocks x 16 =
    3,644,816 tokens), so the row takes the smallest KV figures, not rank 0's."""
    row = one("v0.10.0-qwen3-32b-tp8-ranks.log")
    check(row, {
        "tp": "8",  # tensor_parallel_size=8
        "kv_cache_dtype": "fp8",  # kv_cache_dtype=fp8
        "max_model_len": "32768",
        "max_num_batched_tokens": "8192",  # "Chunked prefill is enabled with max_num_batched_tokens=8192."
        "topk_topp_sampler": "torch",  # "FlashInfer is not available. Falling back to the PyTorch-native ..."
        "weights_gib": "7.6871",  # "Model loading took 7.6871 GiB" on every rank
        "kv_cache_gib": "55.62",  # ranks 1-6 print 55.62, rank 0 55.71, rank 7 56.08
        "kv_tokens": "3644816",  # the smallest "GPU KV cache size" (3,650,960 and 3,675,536 are others)
        "gpu_blocks": "227801",
        "max_concurrency": "111.23",  # the smallest of 111.42 / 111.23 / 112.17
    })
    assert "rank 5" in row["notes"]  # the first of the ranks at 55.62 to print


def test_v0_driver_and_worker_processes() -> None:
    """V0 at TP 4 (0.8.3): the driver logs without a prefix and prints the smallest KV cache
    (0.04 GiB; the workers 0.13 and 0.09), and the row takes that rank's figures throughout:
    its non-torch memory is 0.43 GiB, not a worker's 0.34 or 0.38."""
    row = one("v0.8.3-v0-tp4-driver-and-workers.log")
    check(row, {
        "kv_cache_gib": "0.04",  # driver: "the rest of the memory reserved for KV Cache is 0.04GiB."
        "non_torch_gib": "0.43",  # driver: "non_torch_memory takes 0.43GiB"
        "activation_gib": "2.51", "weights_gib": "34.43",  # the same on every rank
        "gpu_total_gib": "39.38", "gpu_memory_utilization": "0.95",
    })
    assert "'main'" in row["notes"]


def test_v0_4_distributed_executor_blocks() -> None:
    check(one("v0.4.3-distributed-executor-blocks.log"), {
        "gpu_blocks": "507",  # "distributed_gpu_executor.py:45] # GPU blocks: 507, # CPU blocks: 1024"
        "kv_tokens": "8112",  # 507 x 16 (the default block size)
        "model": "",  # the command line above the log is not a log line
    })


def test_worker_tp_prefix_of_0_18() -> None:
    """0.18.1 at TP 4 on four RTX 3090s: worker lines carry "(Worker_TP0 pid=...)" (only rank 0
    prints them here)."""
    check(one("v0.18.1-worker-tp-prefix.log"), {
        "tp": "4",  # tensor_parallel_size=4
        "enforce_eager": "true",  # non-default args 'enforce_eager': True
        "max_num_seqs": "1", "gpu_memory_utilization": "0.88",  # non-default args
        "max_num_batched_tokens": "2048",  # "Chunked prefill is enabled with max_num_batched_tokens=2048."
        "weights_gib": "15.39",  # "(Worker_TP0 ...) Model loading took 15.39 GiB memory"
        "kv_cache_gib": "5.24", "kv_tokens": "85760", "max_concurrency": "2.62",
    })


def test_wrapped_lines_are_joined() -> None:
    """A log collector wrapped this log's long lines; the continuation lines have no header."""
    check(one("v0.10.1.1-wrapped-lines.log"), {
        "model": "Qwen2-7B-Instruct",  # "'model': 'Qwe" + "n2-7B-Instruct'"
        "gpu_memory_utilization": "0.25",  # on the wrapped part of the non-default args
        "tp": "1", "pp": "1",  # "tensor_parallel_si" + "ze=1, pipeline_parallel_size=1"
        "dtype": "bfloat16",  # on the third line of the wrapped config
        "enforce_eager": "false",
        "max_num_batched_tokens": "2048",
        "topk_topp_sampler": "flashinfer",
        "weights_gib": "14.2488", "kv_cache_gib": "5.01", "kv_tokens": "93872", "max_concurrency": "5.73",
        "gpu_blocks": "5867",  # "... num_gpu_blocks is" + ": 5867"
    })


def test_estimate_not_subtracted_before_0_21() -> None:
    """0.18.0 prints a CUDA-graph estimate but says profiling "will be enabled by default" later:
    the KV cache was sized without it, so cuda_graph_gib stays empty (README)."""
    row = one("v0.18.0-h100-cudagraph-estimate.log")
    check(row, {
        "vllm_version": "0.18.0",  # the banner "... version 0.18.0"
        "max_model_len": "8128", "max_num_seqs": "64", "gpu_memory_utilization": "0.95",
        "max_num_batched_tokens": "8192",
        "weights_gib": "15.27",  # "Model loading took 15.27 GiB memory and 3.727885 seconds"
        "kv_cache_gib": "58.93", "kv_tokens": "429136", "max_concurrency": "52.8",
        "cuda_graph_gib": "",  # "Estimated CUDA graph memory: 0.15 GiB total", not subtracted
        "gpu_blocks": "",  # "Overriding num_gpu_blocks=0 with ...=128" is a dummy configuration
    })
    assert "0.15" in row["notes"]


def test_estimate_subtracted_from_0_21() -> None:
    check(one("v0.22.1-h100-cudagraph-subtracted.log"), {
        "vllm_version": "0.22.1",
        "gpu": "h100-80gb",  # fused-MoE config file name "device_name=NVIDIA_H100_80GB_HBM3"
        "quantization": "fp8", "quantization_flag": "fp8",  # config quantization=fp8; args 'quantization': 'fp8'
        "max_num_seqs": "64", "max_num_batched_tokens": "8192",
        "gpu_memory_utilization": "0.92",  # "The current --gpu-memory-utilization=0.9200 is equivalent to ..."
        "cuda_graph_gib": "0.14",  # "Estimated CUDA graph memory: 0.14 GiB total" + "profiling is enabled"
        "weights_gib": "29.08", "kv_cache_gib": "42.54", "kv_tokens": "464656", "max_concurrency": "56.72",
    })


def test_free_memory_line_of_0_26() -> None:
    row = one("v0.26.1-a100-free-memory-line.log")
    check(row, {
        "vllm_version": "0.26.1rc1.dev156+g0eec856cc.d20260731",
        "gpu": "a100-80gb",  # "device_name=NVIDIA_A100-SXM4-80GB"
        "gpu_total_gib": "79.25",  # "Free memory on device (78.84/79.25 GiB) on startup"
        "activation_gib": "0.23",  # "0.23 GiB for peak activation"
        "non_torch_gib": "",  # printed only summed with the weights ("consumed memory (weights + non-torch)")
        "max_num_seqs": "16", "max_model_len": "131072", "gpu_memory_utilization": "0.9",
        "cuda_graph_gib": "0.15", "weights_gib": "56.93", "kv_cache_gib": "13.84", "kv_tokens": "151216",
        "max_concurrency": "1.15",
    })
    assert row["model"] == "/projects/jiangyank/models/Qwen3-Coder-30B-A3B-Instruct"


def test_debug_setting_lines() -> None:
    """A DEBUG log of 0.9.0.1 ("Setting max_num_batched_tokens to 16384 for LLM_CLASS usage
    context."); "Defaulting to use mp for distributed inference" is not a batch default. The
    engine failed, so the start-up has settings only (parse_log drops it)."""
    lines = vllm_log.split_lines((LOGS / "v0.9.0.1-debug-defaulting-lines.log").read_text(encoding="utf-8"))
    row = vllm_log.parse_startup(lines)
    assert row["max_num_batched_tokens"] == "16384"
    assert "Setting max_num_batched_tokens to 16384" in row["defaults"]
    assert row["max_num_seqs"] == ""
    assert vllm_log.parse_log((LOGS / "v0.9.0.1-debug-defaulting-lines.log").read_text(encoding="utf-8")) == []


def test_defaulting_lines_of_later_versions() -> None:
    """From 0.10 the message reads "Defaulting max_num_seqs to %d for %s usage context." (logger.debug
    in vllm/engine/arg_utils.py `_set_default_max_num_seqs_and_batched_tokens_args`); an explicit
    flag wins over it."""
    lines = vllm_log.split_lines(
        "DEBUG 10-04 12:00:00 [arg_utils.py:2797] Defaulting max_num_batched_tokens to 8192 for "
        "openai-api-server usage context.\n"
        "DEBUG 10-04 12:00:00 [arg_utils.py:2806] Defaulting max_num_seqs to 1024 for openai-api-server usage context.\n")
    row = vllm_log.parse_startup(lines)
    assert (row["max_num_batched_tokens"], row["max_num_seqs"]) == ("8192", "1024")


@pytest.mark.parametrize("name", sorted(p.name for p in LOGS.glob("*.log")))
def test_every_excerpt_cites_its_source(name: str) -> None:
    head = (LOGS / name).read_text(encoding="utf-8").splitlines()[:4]
    assert any("https://github.com/" in line for line in head if line.startswith("#"))


def test_main_prints_csv_rows_with_the_given_source() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--csv", "--source", "https://example.org/a.log",
                          str(LOGS / "v0.22.1-h100-cudagraph-subtracted.log")],
                         capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["source"] for r in rows] == ["https://example.org/a.log"]
    assert rows[0]["kv_cache_gib"] == "42.54"
    assert list(rows[0]) == list(vllm_log.COLUMNS)


def test_main_rejects_a_missing_file(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "nope.log")], capture_output=True, text=True)
    assert done.returncode == 2 and "no such file" in done.stderr and "Traceback" not in done.stderr


def test_columns_match_the_table() -> None:
    table = REPO / "benchmarks" / "data" / "vllm_startups.csv"
    with table.open(encoding="utf-8") as f:
        assert tuple(next(csv.reader(f))) == vllm_log.COLUMNS


# ----------------------------------------------------------------------------- sizing_accuracy.py --logs

def test_sizing_accuracy_sizes_logs_directly(capsys: pytest.CaptureFixture[str]) -> None:
    """`--logs` reads the logs with vllm_log and reports them like table rows (held-out: nothing
    was fitted to them). The 0.26 log names its checkpoint by a local directory, matched to the
    profile by its name; the Ray log names neither a GPU nor a CUDA total: weights only."""
    import json

    accuracy = _load("sizing_accuracy_under_test", REPO / "benchmarks" / "sizing_accuracy.py")
    logs = [LOGS / "v0.22.1-h100-cudagraph-subtracted.log", LOGS / "v0.10.1.1-gpt-oss-120b-ray-tp4.log",
            LOGS / "v0.26.1-a100-free-memory-line.log", LOGS / "v0.6.6-l40s-api-server.log"]
    assert accuracy.main(["--logs", *map(str, logs), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    results = {r["id"]: r for r in summary["results"]}
    assert set(results) == {p.stem for p in logs}
    h100 = results["v0.22.1-h100-cudagraph-subtracted"]
    assert (h100["split"], h100["gpu"], h100["sizable"]) == ("heldout", "h100-80gb", True)
    assert h100["observed"]["kv_cache_gib"] == 42.54 and "kv_cache_gib" in h100["predicted"]
    ray = results["v0.10.1.1-gpt-oss-120b-ray-tp4"]
    assert ray["sizable"] and ray["tp"] == "4"
    assert set(ray["observed"]) == {"weights_gib"}
    local = results["v0.26.1-a100-free-memory-line"]  # model '/projects/jiangyank/models/Qwen3-Coder-30B-A3B-Instruct/'
    assert (local["model"], local["gpu"], local["sizable"]) == ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "a100-80gb", True)
    # no device name in the 0.6.6 log: sized on the CUDA total it prints (44.52 GiB), not a guessed card
    unnamed = results["v0.6.6-l40s-api-server"]
    assert (unnamed["gpu"], unnamed["gpu_memory_from"]) == ("unknown", "log") and "kv_cache_gib" in unnamed["predicted"]


def test_sizing_accuracy_logs_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    accuracy = _load("sizing_accuracy_under_test", REPO / "benchmarks" / "sizing_accuracy.py")
    assert accuracy.main(["--logs", str(tmp_path / "none.log")]) == 2
    empty = tmp_path / "empty.log"
    empty.write_text("nothing from vLLM here\n", encoding="utf-8")
    assert accuracy.main(["--logs", str(empty)]) == 2
    assert accuracy.main(["--logs", str(LOGS / "v0.7dev-cuda-blocks.log"), "--gpu", "h100"]) == 2
    err = capsys.readouterr().err
    assert "no such log file" in err and "no vLLM start-up" in err and "h100-80gb" in err


def test_sizing_accuracy_gpu_by_path(capsys: pytest.CaptureFixture[str]) -> None:
    """`--gpu GLOB=NAME` names the card of the logs whose path matches (a folder per card); a bare
    NAME covers the rest; a card the log names itself is overridden only by an explicit choice."""
    import json

    accuracy = _load("sizing_accuracy_under_test", REPO / "benchmarks" / "sizing_accuracy.py")
    assert accuracy.gpu_for("logs/h100/a.log", ["*/h100/*=h100-80gb", "l4"]) == "h100-80gb"
    assert accuracy.gpu_for("logs/other/a.log", ["*/h100/*=h100-80gb", "l4"]) == "l4"
    assert accuracy.gpu_for("logs/other/a.log", ["*/h100/*=h100-80gb"]) is None
    logs = [LOGS / "v0.18.0-h100-cudagraph-estimate.log", LOGS / "v0.10.1.1-wrapped-lines.log"]
    assert accuracy.main(["--logs", *map(str, logs), "--gpu", "*v0.18.0*=h100-80gb", "--json"]) == 0
    results = {r["id"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    # the 0.18 log names no card and prints no CUDA total: only with --gpu are its KV figures sized
    assert results["v0.18.0-h100-cudagraph-estimate"]["gpu"] == "h100-80gb"
    assert "kv_cache_gib" in results["v0.18.0-h100-cudagraph-estimate"]["predicted"]
    assert results["v0.10.1.1-wrapped-lines"]["gpu"] == "unknown"
    assert "kv_cache_gib" not in results["v0.10.1.1-wrapped-lines"]["predicted"]


def test_a_ray_data_vision_replica_gives_the_figures_of_its_table_row() -> None:
    """V1 0.11.0 under Ray Data LLM (Qwen2.5-VL-3B on an L4, one of four replicas): the lines carry
    "(MapWorker(MapBatches(vLLMEngineStageUDF)) pid=…, ip=…)" before the engine's own prefixes. The
    log prints no card and no CUDA total, so the row's `l4` comes from the example's
    accelerator_type, not from the log."""
    row = one("v0.11.0-l4-qwen2.5-vl-3b-ray-data.log")
    check(row, {
        "vllm_version": "0.11.0",  # "Initializing a V1 LLM engine (v0.11.0)"
        "model": "Qwen/Qwen2.5-VL-3B-Instruct",
        "tp": "1",  # tensor_parallel_size=1
        "dtype": "bfloat16",  # dtype=torch.bfloat16
        "max_model_len": "8192",  # max_seq_len=8192
        "max_num_batched_tokens": "2048",  # "Chunked prefill is enabled with max_num_batched_tokens=2048."
        "topk_topp_sampler": "torch",  # "FlashInfer is not available. Falling back to the PyTorch-native ..."
        "gpu": "", "gpu_total_gib": "",  # neither is printed
        "weights_gib": "7.155",  # "Model loading took 7.1550 GiB"
        "kv_cache_gib": "9.26",  # "Available KV cache memory: 9.26 GiB"
        "kv_tokens": "269568",  # "GPU KV cache size: 269,568 tokens"
        "max_concurrency": "32.91",  # "Maximum concurrency for 8,192 tokens per request: 32.91x"
    })
    with (REPO / "benchmarks" / "data" / "vllm_startups.csv").open(encoding="utf-8", newline="") as f:
        table = next(r for r in csv.DictReader(f) if r["id"] == "gh-raydata-qwen25vl3b-l4-v0110")
    for column in ("weights_gib", "kv_cache_gib", "kv_tokens", "max_concurrency", "max_model_len",
                   "max_num_batched_tokens"):
        assert float(row[column]) == float(table[column]), column
    for column in ("vllm_version", "model", "tp", "dtype", "topk_topp_sampler"):
        assert row[column] == table[column], column
    for column in ("non_torch_gib", "activation_gib", "gpu_blocks", "gpu_total_gib"):  # not printed, left empty
        assert not row[column] and not table[column], column


# ----------------------------------------------------------------------------- what collectors add

# What a log collector writes before each line (never vLLM's own text): `docker logs -t` /
# `kubectl logs --timestamps`, `kubectl logs --prefix`, both, `docker compose logs` (its service name
# coloured), journald, a log viewer's export ("2026-04-19 11:23:08.488 | ..."), and a wrapper's own
# Python-logging date.
COLLECTORS = {
    "docker -t": lambda line: "2025-03-01T10:11:12.123456789Z " + line,
    "kubectl --prefix": lambda line: "[pod/vllm-7d9f6c-x2x/vllm] " + line,
    "kubectl --prefix --timestamps": lambda line: "[pod/vllm-7d9f6c-x2x/vllm] 2025-03-01T10:11:12.123456789Z " + line,
    "docker compose": lambda line: "\x1b[36mvllm-server-1  |\x1b[0m " + line,
    "journald": lambda line: "Mar 01 10:11:12 gpu-node-3 vllm[4711]: " + line,
    "viewer export": lambda line: "2026-04-19 11:23:08.488 | " + line,
    "logging date": lambda line: "2025-03-01 10:11:12,345 " + line,
    "CI time stamp": lambda line: "[2026-08-21T19:42:37Z] " + line,
    "TorchServe": lambda line: "2024-10-07T22:54:54,595 [INFO ] W-9000-model_1.0-stdout MODEL_LOG - " + line,
}


def _body(name: str) -> list[str]:
    """The excerpt's log lines (its comment header left out)."""
    return [x for x in (LOGS / name).read_text(encoding="utf-8").splitlines() if not x.startswith("# ")]


@pytest.mark.parametrize("collector", sorted(COLLECTORS))
@pytest.mark.parametrize("name", ["v0.10.0-qwen3-32b-tp8-ranks.log", "v0.7.3-a100-40gb-two-startups.log",
                                  "v0.8.3-v0-tp4-driver-and-workers.log", "v0.10.1.1-wrapped-lines.log"])
def test_a_collectors_prefix_changes_nothing(name: str, collector: str) -> None:
    """Every line carrying a collector's prefix reads as the bare log does. Before the prefixes
    were stripped, the worker prefixes behind them went unseen: the TP 8 log lost its binding rank
    (3,650,960 KV tokens instead of 3,644,816), the V0 TP 4 log took a worker's KV cache for the
    driver's, and a wrapped config line or a second start-up was not found."""
    lines = _body(name)
    plain = vllm_log.parse_log("\n".join(lines))
    prefixed = vllm_log.parse_log("\n".join(COLLECTORS[collector](x) if x.strip() else x for x in lines))
    assert prefixed == plain
    if name.startswith("v0.10.0"):
        assert (prefixed[0]["kv_tokens"], prefixed[0]["tp"]) == ("3644816", "8")
    if name.startswith("v0.7.3"):
        assert len(prefixed) == 2


def test_windows_line_endings_and_cri_partial_lines() -> None:
    """CRLF line ends read as LF. A Kubernetes node's CRI log file splits a line longer than 16 KiB
    into partial records ("<time> stdout P <chunk>") finished by an "F" record; the chunks join."""
    lines = _body("v0.10.0-qwen3-32b-tp8-ranks.log")
    plain = vllm_log.parse_log("\n".join(lines))
    assert vllm_log.parse_log("\r\n".join(lines)) == plain
    cri: list[str] = []
    for x in lines:
        if "with config:" in x:  # the engine config line, cut in three records
            third = len(x) // 3
            cri += [f"2025-03-01T10:11:12.1Z stdout P {x[:third]}", f"2025-03-01T10:11:12.1Z stdout P {x[third:2 * third]}",
                    f"2025-03-01T10:11:12.1Z stdout F {x[2 * third:]}"]
        else:
            cri.append(f"2025-03-01T10:11:12.1Z stderr F {x}")
    assert vllm_log.parse_log("\n".join(cri)) == plain
    assert plain[0]["max_model_len"] == "32768"  # max_seq_len=32768, on the config line


def test_utilization_from_the_0_19_advice_line() -> None:
    """0.18-0.20 print "In v0.19, CUDA graph memory profiling will be enabled by default ... increase
    --gpu-memory-utilization from 0.9000 to 0.9616 ..." (`v1/worker/gpu_worker.py`, vllm#30515): the
    first figure is the setting the KV cache was sized with. This pod's flags do not show one."""
    row = one("v0.19.0-4xl40s-tp4-kubectl-util-from.log")
    check(row, {
        "vllm_version": "0.19.0",  # "version 0.19.0" and "Initializing a V1 LLM engine (v0.19.0)"
        "model": "Qwen/Qwen2.5-72B-Instruct",
        "tp": "4",  # 'tensor_parallel_size': 4
        "max_model_len": "8192",  # 'max_model_len': 8192
        "gpu_memory_utilization": "0.9",  # "increase --gpu-memory-utilization from 0.9000 to 0.9616"
        "weights_gib": "33.98",  # "Model loading took 33.98 GiB memory"
        "cuda_graph_gib": "",  # "Estimated CUDA graph memory: 2.73 GiB total", not subtracted before 0.21
        "kv_cache_gib": "5.11",  # "Available KV cache memory: 5.11 GiB"
        "kv_tokens": "67024",  # "GPU KV cache size: 67,024 tokens"
        "gpu_blocks": "",  # "Overriding num_gpu_blocks=0 with num_gpu_blocks_override=512": the dummy profiling cache
        "max_concurrency": "8.18",
    })
    assert "'gpu_memory_utilization'" not in (LOGS / "v0.19.0-4xl40s-tp4-kubectl-util-from.log").read_text()


def test_a_rocm_log_is_read_but_marked() -> None:
    """A ROCm start-up ("Using Rocm Attention backend.") is read, its platform noted; the model comes
    from "Starting to load model ibm-granite/granite-4.0-h-small..." when no flags line shows it."""
    row = one("v0.11.1rc6-rocm-strix-halo-granite.log")
    check(row, {
        "vllm_version": "0.11.1rc6.dev115+gbc926c122",  # "vLLM API server version 0.11.1rc6.dev115+gbc926c122"
        "model": "ibm-granite/granite-4.0-h-small",
        "block_size": "528",  # "Setting attention block size to 528 tokens"
        "max_model_len": "131072",  # "Using max model len 131072" (no flags or config line in the excerpt)
        "weights_gib": "78.4272",  # "Model loading took 78.4272 GiB"
        "platform": "rocm",
    })
    assert "platform rocm" in row["notes"]


# ----------------------------------------------------------------------------- files and folders

def test_a_folder_of_logs(tmp_path: Path) -> None:
    """A directory is read every level down (hidden files left out), a rotated `.gz` log is read,
    an empty file and a file without a start-up are noted, and one file name in two folders gives
    two ids."""
    import gzip

    (tmp_path / "h100").mkdir()
    (tmp_path / "l40s").mkdir()
    src = (LOGS / "v0.22.1-h100-cudagraph-subtracted.log").read_bytes()
    (tmp_path / "h100" / "run.log").write_bytes(src)
    (tmp_path / "l40s" / "run.log").write_bytes((LOGS / "v0.6.6-l40s-api-server.log").read_bytes())
    (tmp_path / "old.log.gz").write_bytes(gzip.compress(src))
    (tmp_path / ".hidden.log").write_bytes(src)
    (tmp_path / "empty.log").write_text("", encoding="utf-8")
    (tmp_path / "README.md").write_text("no vLLM here\n", encoding="utf-8")
    files, missing = vllm_log.log_files([tmp_path])
    assert missing == [] and ".hidden.log" not in {f.name for f in files}
    problems: dict[str, str] = {}
    rows = vllm_log.rows_from_files(files, problems=problems)
    assert sorted(r["id"] for r in rows) == ["l40s/run", "old.log", "run"]
    assert {r["kv_cache_gib"] for r in rows if r["id"] != "l40s/run"} == {"42.54"}
    assert problems == {str(tmp_path / "empty.log"): "empty file", str(tmp_path / "README.md"): "no vLLM start-up found"}


def test_main_exit_status(tmp_path: Path) -> None:
    """0 when every file is read; 1 when a file cannot be read (the others still printed); 2 when a
    path does not exist or nothing holds a start-up."""
    good = tmp_path / "a.log"
    good.write_bytes((LOGS / "v0.22.1-h100-cudagraph-subtracted.log").read_bytes())
    broken = tmp_path / "b.log.gz"
    broken.write_bytes(b"not gzip at all")
    ok = subprocess.run([sys.executable, str(SCRIPT), str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "42.54" in ok.stdout
    partial = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert partial.returncode == 1 and "42.54" in partial.stdout
    assert f"{broken}: cannot read" in partial.stderr and "Traceback" not in partial.stderr
    (tmp_path / "empty").mkdir()
    none = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "empty")], capture_output=True, text=True)
    assert none.returncode == 2 and "no vLLM start-up found" in none.stderr


def test_sizing_accuracy_names_a_local_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A log whose model llmkube has no profile for is listed with why and what to do; `--model`
    names a local config.json or model directory to import, per log by GLOB= as `--gpu` does; a
    log whose model path exists on this machine (a directory holding config.json) is imported
    without being named; a `--model` path that does not exist is refused."""
    import json

    accuracy = _load("sizing_accuracy_under_test", REPO / "benchmarks" / "sizing_accuracy.py")
    log = tmp_path / "logs" / "internvl.log"
    log.parent.mkdir()
    log.write_bytes((LOGS / "v0.6.6-l40s-tp8-internvl3.log").read_bytes())  # model='/models/internvl3-78b'
    assert accuracy.main(["--logs", str(log.parent)]) == 0
    out = capsys.readouterr().out
    assert "internvl: model '/models/internvl3-78b': none (no built-in profile: pass --model" in out
    assert "--model [GLOB=]CONFIG.json|MODEL_DIR" in out
    # the checkpoint directory of another log, present here: imported from its config.json
    model_dir = tmp_path / "Qwen2.5-14B-Instruct"
    model_dir.mkdir()
    (model_dir / "config.json").write_bytes((REPO / "tests" / "data" / "hf-configs" / "qwen2.5-14b-instruct.json").read_bytes())
    two = tmp_path / "logs" / "two.log"
    two.write_bytes((LOGS / "v0.7.3-a100-40gb-two-startups.log").read_bytes())
    assert accuracy.main(["--logs", str(two), "--model", f"*two*={model_dir}", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [(r["profile"], r["sizable"]) for r in results] == [("config", True), ("config", True)]
    assert all("kv_cache_gib" in r["predicted"] for r in results)  # sized on the log's CUDA total
    text = two.read_text(encoding="utf-8").replace("Qwen/Qwen2.5-14B-Instruct", str(model_dir))
    local = tmp_path / "logs" / "local.log"
    local.write_text(text, encoding="utf-8")
    assert accuracy.main(["--logs", str(local), "--json"]) == 0
    assert {r["profile"] for r in json.loads(capsys.readouterr().out)["results"]} == {"config"}
    assert accuracy.main(["--logs", str(two), "--model", str(tmp_path / "nope" / "config.json")]) == 2
    assert "neither a config.json nor a directory holding one" in capsys.readouterr().err


def test_sizing_accuracy_folder_and_platform(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--logs DIR` sizes every log under it, and the JSON shows what was read off each; a ROCm log
    is listed as not sized, with the reason; an unreadable file is reported and the run exits 1
    after measuring the others."""
    import json

    accuracy = _load("sizing_accuracy_under_test", REPO / "benchmarks" / "sizing_accuracy.py")
    for name in ("v0.22.1-h100-cudagraph-subtracted.log", "v0.11.1rc6-rocm-strix-halo-granite.log"):
        (tmp_path / name).write_bytes((LOGS / name).read_bytes())
    assert accuracy.main(["--logs", str(tmp_path), "--json"]) == 0
    results = {r["id"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert results["v0.22.1-h100-cudagraph-subtracted"]["sizable"]
    # what was read off each log is in the JSON, to check against its lines
    read = results["v0.22.1-h100-cudagraph-subtracted"]["read"]
    assert (read["vllm_version"], read["kv_cache_gib"], read["gpu"]) == ("0.22.1", "42.54", "h100-80gb")
    rocm = results["v0.11.1rc6-rocm-strix-halo-granite"]
    assert not rocm["sizable"] and "platform rocm" in rocm["profile"]
    (tmp_path / "broken.log.gz").write_bytes(b"not gzip")
    assert accuracy.main(["--logs", str(tmp_path), "--json"]) == 1
    done = capsys.readouterr()
    assert json.loads(done.out)["skipped_files"][str(tmp_path / "broken.log.gz")].startswith("cannot read")
    assert "warning:" in done.err and "broken.log.gz" in done.err


def test_a_source_build_under_docker_compose() -> None:
    """A source build prints "Initializing an LLM engine (vdev) with config: ..." (`vllm/version.py`
    falls back to "dev" without a version tag); the config line is read all the same (before, a
    version not starting with a digit dropped the whole start-up). `docker compose` prefixes every
    line with "runner-llm-1  | "."""
    row = one("vdev-compose-llama3.1-8b-tp2.log")
    check(row, {
        "vllm_version": "",  # "(vdev)": no version to size by
        "model": "meta-llama/Meta-Llama-3.1-8B-Instruct",  # the HF cache path's models--meta-llama--...
        "tp": "2",  # tensor_parallel_size=2
        "dtype": "bfloat16",  # dtype=torch.bfloat16
        "max_model_len": "8192",  # max_seq_len=8192
        "enforce_eager": "false",
    })
    assert "vdev" in row["notes"]


@pytest.mark.parametrize("name", ["v0.10.0-qwen3-32b-tp8-ranks.log", "v0.8.3-v0-tp4-driver-and-workers.log"])
def test_an_unknown_wrappers_prefix(name: str) -> None:
    """A prefix no rule knows, before vLLM's dated header ("INFO 08-05 12:00:01 [file.py:12] "), is
    dropped, and a process prefix inside it still names the worker (the binding rank is found)."""
    lines = _body(name)
    plain = vllm_log.parse_log("\n".join(lines))
    wrapped = vllm_log.parse_log("\n".join(f"<my-launcher job=7 [node-2]> {x}" if x.strip() else x for x in lines))
    assert wrapped == plain


def test_a_failed_launch_then_a_retry() -> None:
    """nohup.out of two launches (0.10.2, colour codes kept): the first stops on "Free memory on
    device (13.58/15.99 GiB) on startup is less than desired ..." before printing a figure, the
    second starts. Before, the second launch's markers, coming with no figure in between, were
    taken as the same start-up (had the retry changed a flag, the first launch's would have been
    read). Two rows; sizing_accuracy
    counts only the one with figures and notes the other."""
    rows = parse("v0.10.2-wsl-llava-awq-failed-then-retried.log")
    assert len(rows) == 2
    first, second = rows
    assert not any(first[c] for c in vllm_log.OBSERVED)
    assert (first["gpu_total_gib"], first["gpu_memory_utilization"]) == ("15.99", "0.85")  # from the refusal
    check(second, {
        "vllm_version": "0.10.2",  # "vLLM API server version 0.10.2"
        "model": "/home/stewa/ai-models/weights/ybelkada/llava-1.5-7b-hf-awq",
        "quantization": "awq_marlin",  # quantization=awq_marlin
        "dtype": "float16",
        "max_model_len": "4096",  # 'max_model_len': 4096
        "gpu_memory_utilization": "0.85",
        "gpu_total_gib": "15.99",  # "Free memory on device (14.66/15.99 GiB) on startup."
        "weights_gib": "4.253",  # "Model loading took 4.2530 GiB"
        "activation_gib": "0.34",  # "0.34 GiB for peak activation"
        "non_torch_gib": "0.02",  # "0.02 GiB for non-torch memory"
        "kv_cache_gib": "8.99",  # "Available KV cache memory: 8.99 GiB"
        "kv_tokens": "18400",  # "GPU KV cache size: 18,400 tokens"
        "gpu_blocks": "1150",  # "num_gpu_blocks is: 1150"
        "max_concurrency": "4.49",
    })
    accuracy = _load("sizing_accuracy_under_test", REPO / "benchmarks" / "sizing_accuracy.py")
    problems: dict[str, str] = {}
    store = accuracy.ProfileStore.load()
    sized = accuracy.rows_from_logs(store, [LOGS / "v0.10.2-wsl-llava-awq-failed-then-retried.log"], problems=problems)
    assert [r["id"] for r in sized] == ["v0.10.2-wsl-llava-awq-failed-then-retried-2"]
    assert list(problems.values()) == ["start-up printed no memory figure (it ended, or the log was cut, before the weights were loaded)"]


def test_replicas_side_by_side_are_two_startups() -> None:
    """An RL run's two vLLM replicas start at once, each server prefixing its engine's lines
    ("(vLLMHttpServer pid=542833) (EngineCore_DP0 pid=548418) ..."): one row per replica, each with
    its own server's settings and figures. Before, they were one start-up, its figures the
    smaller of the two replicas' whatever their settings."""
    rows = parse("v0.12.0-verl-two-replicas.log")
    assert len(rows) == 2
    for row in rows:
        check(row, {
            "vllm_version": "0.12.0",  # "Initializing a V1 LLM engine (v0.12.0)"
            "model": "/home2/ycj/Models/Qwen3-4B",
            "max_model_len": "40960",  # max_seq_len=40960
            "max_num_batched_tokens": "8192",  # each server's "Chunked prefill is enabled with max_num_batched_tokens=8192."
            "gpu_memory_utilization": "0.5",  # "Desired GPU memory utilization is (0.5, ...)"
            "gpu_total_gib": "94.97",  # "Free memory on device (93.47/94.97 GiB) on startup."
            "weights_gib": "7.5552",  # "Model loading took 7.5552 GiB memory"
            "kv_cache_gib": "39.28",  # "Available KV cache memory: 39.28 GiB"
            "kv_tokens": "285984",  # "GPU KV cache size: 285,984 tokens"
            "max_concurrency": "6.98",
        })
        assert "of 2" not in row["notes"]  # each row holds one replica's worker


def test_a_notebooks_doubled_lines_are_one_startup() -> None:
    """A Kaggle notebook's log prints every vLLM line twice, after the run's elapsed time and a line
    number ("331.5s 304 (EngineCore pid=163) INFO ..."): the doubled "Initializing a V1 LLM engine"
    line from the same process is one start-up, not a relaunch."""
    row = one("v0.22.0-kaggle-2xt4-tp2-doubled.log")
    check(row, {
        "vllm_version": "0.22.0",
        "gpu": "t4",  # the notebook's "GPU 0    : Tesla T4  (14.6 GB)"
        "tp": "2",  # 'tensor_parallel_size': 2
        "dtype": "float16",  # 'dtype': 'half'
        "max_model_len": "8192",
        "max_num_batched_tokens": "8192",  # "Chunked prefill is enabled with max_num_batched_tokens=8192."
        "gpu_memory_utilization": "0.85",
        "weights_gib": "7.71",  # "Model loading took 7.71 GiB"
        "kv_cache_gib": "3.92",  # "Available KV cache memory: 3.92 GiB"
        "kv_tokens": "57120",  # "GPU KV cache size: 57,120 tokens"
        "max_concurrency": "6.97",
    })


def test_replicas_inside_a_trainers_prefix() -> None:
    """The same two replicas when a trainer's own prefix wraps both servers' lines (three levels,
    as Ray prints a task's children): still one row per replica, split by the prefix that wraps
    each engine's processes, not by the trainer's."""
    lines = _body("v0.12.0-verl-two-replicas.log")
    rows = vllm_log.parse_log("\n".join(f"(TaskRunner pid=4242) {x}" if x.strip() else x for x in lines))
    assert rows == parse("v0.12.0-verl-two-replicas.log")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_a_log_written_by_windows_powershell(tmp_path: Path, encoding: str) -> None:
    """PowerShell's `>` writes UTF-16 (with a byte-order mark; some tools without one), and some
    editors a UTF-8 byte-order mark: the file reads as the same start-up, CRLF line ends and all."""
    text = "\r\n".join(_body("v0.22.1-h100-cudagraph-subtracted.log"))
    path = tmp_path / "vllm.log"
    path.write_bytes(text.encode(encoding))
    rows = vllm_log.rows_from_files([path])
    for row in rows:
        row.update(id="", source="", source_group="")  # the file's name, not what it read
    assert rows == vllm_log.parse_log(text)
    assert [r["kv_cache_gib"] for r in rows] == ["42.54"]  # "Available KV cache memory: 42.54 GiB"


def test_v0_engine_of_0_8_to_0_10_is_read() -> None:
    """vLLM 0.8.2 on a T4 falls back to V0 ("Compute Capability < 8.0 is not supported by the V1
    Engine. Falling back to V0", "Initializing a V0 LLM engine (v0.8.2)"): the row says so, and the
    script sizes it on V0 (ServerConfig.use_v1 = False). Before 0.8 V0 is the only engine and the
    column stays empty; a V1 start-up leaves it empty too."""
    row = one("v0.8.2-t4-v0-fallback.log")
    check(row, {"engine": "v0", "vllm_version": "0.8.2", "kv_cache_gib": "6.22", "gpu_blocks": "3637",
                "gpu_memory_utilization": "0.89", "max_model_len": "2048", "dtype": "float16"})
    assert one("v0.6.6-l40s-api-server.log")["engine"] == ""
    assert one("v0.10.1.1-gpt-oss-120b-ray-tp4.log")["engine"] == ""


# ----------------------------------------------------------------------------- how vLLM was installed

def _lines(name: str) -> list[str]:
    return [x for x in (LOGS / name).read_text(encoding="utf-8").splitlines() if not x.startswith("# ")]


def test_flashinfer_missing_is_not_the_image_and_a_conda_path_says_so_too() -> None:
    """The vllm-openai image of 0.8.0 - 0.11.0 always installs FlashInfer, so V1's "FlashInfer is not
    available" (topk_topp_sampler.py) is another install; this 0.10.0 log also prints a conda env's
    site-packages path ("/home/.../.conda/envs/llmbench/lib/python3.12/site-packages/transformers/..."),
    and either alone says pip; without both the log says nothing."""
    row = one("v0.10.0-qwen3-32b-tp8-ranks.log")
    assert (row["install"], row["topk_topp_sampler"]) == ("pip", "torch")
    assert "install pip: 'FlashInfer is not available'" in row["notes"]
    lines = _lines("v0.10.0-qwen3-32b-tp8-ranks.log")
    without_sampler = [x for x in lines if "FlashInfer is not available" not in x]
    (row,) = vllm_log.parse_log("\n".join(without_sampler))
    assert row["install"] == "pip" and row["topk_topp_sampler"] == ""
    assert "/home/Competition2025/P12/P12U017/.conda/envs/llmbench/lib/python3.12/site-packages" in row["notes"]
    bare = [x for x in without_sampler if "site-packages" not in x]
    (row,) = vllm_log.parse_log("\n".join(bare))
    assert row["install"] == "" and "install" not in row["notes"]


def test_the_image_python_path_reads_as_the_image() -> None:
    """0.22.1 log: "Config file not found at /usr/local/lib/python3.12/dist-packages/vllm/model_executor/
    layers/fused_moe/configs/..." is where the vllm-openai image keeps vLLM (docker/Dockerfile from
    0.8.2: deadsnakes' python3.12, `uv pip install --system`)."""
    row = one("v0.22.1-h100-cudagraph-subtracted.log")
    assert row["install"] == "image"
    assert "/usr/local/lib/python3.12/dist-packages (the vllm-openai image's)" in row["notes"]


def test_the_image_path_says_nothing_in_an_ngc_container() -> None:
    """NVIDIA's NGC vLLM container keeps the same /usr/local/lib/python3.12/dist-packages; its banner
    ("NVIDIA Release 25.11 (build 231063344)") or its build's version ("0.11.0+582e4e37.nv25.11", as
    the NGC 25.11 container prints it) leaves the install unread."""
    lines = _lines("v0.22.1-h100-cudagraph-subtracted.log")
    for extra in ("NVIDIA Release 25.11 (build 231063344)",
                  "(APIServer pid=1) INFO 01-23 15:48:29 [api_server.py:1842] vLLM API server version 0.11.0+582e4e37.nv25.11"):
        (row,) = vllm_log.parse_log("\n".join([extra, *lines]))
        assert row["install"] == "", extra
        assert "NGC" in row["notes"], extra


def test_a_compile_cache_in_a_users_home_is_not_the_image() -> None:
    """dennislee22's 0.10.1.1 log (a pip install in ~/.local, FlashInfer added by hand) prints no Python
    path in this excerpt, but "Using cache directory: /home/cdsw/.cache/vllm/torch_compile_cache/...":
    VLLM_CACHE_ROOT is ~/.cache/vllm and the image runs as root. The sampler it names stays as read."""
    row = one("v0.10.1.1-wrapped-lines.log")
    assert (row["install"], row["topk_topp_sampler"]) == ("pip", "flashinfer")
    assert "compile cache in a user's home" in row["notes"]


def test_a_root_cache_and_no_path_say_nothing() -> None:
    """vllm-kvcache's 0.9.0 log: run as root (/root/.cache/vllm), FlashInfer's sampler named, no Python
    path: neither pip nor the image is shown, and its table row leaves `install` empty too."""
    row = one("v0.9.0-root-cache-flashinfer.log")
    check(row, {
        "vllm_version": "0.9.0",  # "vLLM API server version 0.9.0"
        "topk_topp_sampler": "flashinfer",  # "Using FlashInfer for top-p & top-k sampling."
        "install": "",
        "weights_gib": "14.9889",  # "Model loading took 14.9889 GiB"
        "kv_tokens": "93056",  # "GPU KV cache size: 93,056 tokens"
        "max_concurrency": "5.68",  # "Maximum concurrency for 16,384 tokens per request: 5.68x"
    })
    with (REPO / "benchmarks" / "data" / "vllm_startups.csv").open(encoding="utf-8", newline="") as f:
        table = next(r for r in csv.DictReader(f) if r["id"] == "gh-vllmkvcache-llama31-8b-lmcache-v090")
    assert (table["install"], table["topk_topp_sampler"], table["kv_tokens"]) == ("", "flashinfer", "93056")


def test_a_colab_notebook_is_a_pip_install() -> None:
    """orca3's Colab notebook (metadata "colab", gpuType T4; vLLM 0.8.5.post1 on V0): its outputs in
    this excerpt print no path and no pip line, so only the notebook's metadata says where it ran;
    Colab runs no vLLM image."""
    path = LOGS / "v0.8.5-colab-t4-notebook.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert "https://github.com/orca3/llm-model-inference/blob/" in "".join(cells[0]["source"])
    assert vllm_log.notebook_host(path.read_text(encoding="utf-8")) == "colab"
    (parsed,) = vllm_log.parse_log(vllm_log.read_log(path))
    assert parsed["install"] == ""  # the outputs alone do not say it
    (row,) = vllm_log.rows_from_files([path])
    assert (row["vllm_version"], row["engine"], row["install"]) == ("0.8.5.post1", "v0", "pip")
    assert "a Colab notebook" in row["notes"]


# A traceback line of vllm-project/vllm#27508 (matheusfvesco, vLLM 0.11.0 on an H100): vLLM in a conda env.
I27508_TRACEBACK = ('(EngineCore_DP0 pid=223840) ERROR 10-25 13:08:43 [core.py:708]   File '
                    '"/opt/conda/envs/vllm_env/lib/python3.13/site-packages/vllm/v1/core/kv_cache_utils.py", '
                    'line 1243, in get_kv_cache_configs')


def test_vllms_own_path_decides_and_two_of_them_say_nothing() -> None:
    """vLLM's own package path decides over another package's (a client's or a tool's environment
    printed in the same log); two vLLM paths of different environments (two logs pasted together:
    the 0.22.1 excerpt's image path and #27508's conda env) read neither."""
    image = _lines("v0.22.1-h100-cudagraph-subtracted.log")
    conda_transformers = [x for x in _lines("v0.10.0-qwen3-32b-tp8-ranks.log") if "site-packages" in x]
    assert conda_transformers
    install, _ = vllm_log.install_evidence(vllm_log.split_lines("\n".join(image + conda_transformers)), "0.22.1")
    assert install == "image"
    install, why = vllm_log.install_evidence(vllm_log.split_lines("\n".join([*image, I27508_TRACEBACK])), "0.22.1")
    assert install == "" and "two environments" in why
    assert "/opt/conda/envs/vllm_env/lib/python3.13/site-packages" in why


def test_flashinfer_version_too_old_is_the_sort() -> None:
    """0.9 - 0.11's "FlashInfer version >= 0.2.3 required. Falling back to default sampling
    implementation." (topk_topp_sampler.py `TopKTopPSampler.__init__`) is the torch sampler."""
    lines = _lines("v0.9.0-root-cache-flashinfer.log")
    swapped = [x.replace("Using FlashInfer for top-p & top-k sampling.",
                         "FlashInfer version >= 0.2.3 required. Falling back to default sampling implementation.")
               for x in lines]
    (row,) = vllm_log.parse_log("\n".join(swapped))
    assert row["topk_topp_sampler"] == "torch"


def test_before_0_8_no_install_is_read() -> None:
    """Nothing before 0.8.0 depends on the install, so the same traceback path is read at 0.11.0 and
    not at 0.7.3."""
    lines = vllm_log.split_lines(I27508_TRACEBACK)
    assert vllm_log.install_evidence(lines, "0.7.3") == ("", "")
    install, why = vllm_log.install_evidence(lines, "0.11.0")
    assert install == "pip" and "not the vllm-openai image" in why


def test_sizing_accuracy_logs_assume_the_prior_only_where_the_log_says_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--logs` sizes a 0.8 - 0.11 V1 log that shows neither install nor sampler with the benchmark's
    prior (pip: the sort) and marks it; the same log as printed (conda path, "FlashInfer is not
    available") reads pip itself. Both are sized alike (Qwen3-32B at TP 8 on H100s, the sort)."""
    accuracy = _load("sizing_accuracy_under_test", REPO / "benchmarks" / "sizing_accuracy.py")
    name = "v0.10.0-qwen3-32b-tp8-ranks.log"
    (tmp_path / "printed.log").write_text("\n".join(_lines(name)), encoding="utf-8")
    (tmp_path / "cut.log").write_text("\n".join(x for x in _lines(name) if "FlashInfer" not in x
                                                and "site-packages" not in x), encoding="utf-8")
    args = ["--logs", str(tmp_path / "printed.log"), str(tmp_path / "cut.log"), "--gpu", "h100-80gb"]
    assert accuracy.main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    results = {r["id"]: r for r in summary["results"]}
    printed, cut = results["printed"], results["cut"]
    assert (printed["install"], printed["install_assumed"], printed["read"]["install"]) == ("pip", False, "pip")
    assert (cut["install"], cut["install_assumed"]) == ("pip", True) and "install" not in cut["read"]
    assert summary["install_assumed"] == {"install": "pip", "rows": ["cut"]}
    assert printed["predicted"] == cut["predicted"] and "kv_cache_gib" in cut["predicted"]
    assert accuracy.main(args) == 0
    text = capsys.readouterr().out
    assert "  cut [h100-80gb, vLLM 0.10.0, TP 8, install pip (assumed)]" in text
    assert "install assumed pip" in text and "\n  cut\n" in text


def test_red_hats_image_path_says_neither() -> None:
    """Red Hat's UBI images (OpenShift AI, RHAIIS) keep vLLM in /opt/app-root/lib64/python3.12/site-packages:
    neither the vllm-openai image nor the wheel (the OpenShift AI 0.9.0.1 fit row names FlashInfer's
    sampler), so the path alone reads neither. The line is #27508's traceback line with that layout
    (no log in the table prints it); the same line with #27508's own conda path reads pip."""
    red_hat = I27508_TRACEBACK.replace("/opt/conda/envs/vllm_env/lib/python3.13", "/opt/app-root/lib64/python3.12")
    install, why = vllm_log.install_evidence(vllm_log.split_lines(red_hat), "0.11.0")
    assert install == "" and "Red Hat" in why
    assert vllm_log.install_evidence(vllm_log.split_lines(I27508_TRACEBACK), "0.11.0")[0] == "pip"


# --- session 30 (i11-logs): what a log offers beyond its model path, a cut log, a device without a profile

SERVED_023 = """\
(APIServer pid=3407862) INFO 06-22 01:25:41 [api_utils.py:339]  ▄▄ ▄█ █     █     █ ▀▄▀ █  version 0.23.0
(APIServer pid=3407862) INFO 06-22 01:25:41 [api_utils.py:273] non-default args: {'model_tag': 'Qwen/Qwen3-14B-AWQ', 'host': '127.0.0.1', 'model': 'Qwen/Qwen3-14B-AWQ', 'max_model_len': 24576, 'served_model_name': ['qwen3-14b-awq'], 'reasoning_parser': 'qwen3', 'gpu_memory_utilization': 0.4, 'enable_prefix_caching': True, 'max_num_seqs': 32}
(APIServer pid=3407862) INFO 06-22 01:25:43 [model.py:611] Resolved architecture: Qwen3ForCausalLM
(EngineCore pid=3408798) INFO 06-22 01:26:04 [gpu_model_runner.py:5187] Model loading took 9.44 GiB memory and 7.446122 seconds
"""


def test_the_served_name_tokenizer_and_architecture_are_read() -> None:
    """Lines of Srichakra-D/ContextMatch1 vllm_log.txt at 6d3d4e09e4931aaa2d11af33f14e5e3fbaaa2c39 (vLLM 0.23.0,
    the structured-outputs flag left out): `--served-model-name` is a list in the flags, the architecture
    is ModelConfig's "Resolved architecture" line; none of them is a table column."""
    (row,) = vllm_log.parse_log(SERVED_023)
    assert (row["model"], row["served_model_name"], row["architecture"]) == (
        "Qwen/Qwen3-14B-AWQ", "qwen3-14b-awq", "Qwen3ForCausalLM")
    assert row["tokenizer"] == ""  # neither the flags nor a config line show it
    assert (row["vllm_version"], row["max_model_len"], row["gpu_memory_utilization"], row["weights_gib"]) == (
        "0.23.0", "24576", "0.4", "9.44")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=vllm_log.COLUMNS, extrasaction="ignore")
    writer.writerow(row)
    assert "qwen3-14b-awq" not in out.getvalue()  # not a table column


# xbill9/gemma4-tips-aws gpu-2B-inf-devops-agent/scratch/docker_logs_vllm_full.txt at
# 44645af9376913cfcaf4423eaf2bd73d5aa98096: the tail of a vLLM 0.16.0 start-up on AWS Neuron (its platform
# line and config line were cut), then the engine's crash dump; the dump line is shortened after its
# config's quantization.
NEURON_TAIL = """\
(EngineCore_DP0 pid=243) INFO 06-27 02:22:33 [kv_cache_utils.py:819] Overriding num_gpu_blocks=3 with num_gpu_blocks_override=129
(EngineCore_DP0 pid=243) INFO 06-27 02:22:33 [kv_cache_utils.py:1307] GPU KV cache size: 132,096 tokens
(EngineCore_DP0 pid=243) INFO 06-27 02:22:33 [kv_cache_utils.py:1312] Maximum concurrency for 1,024 tokens per request: 129.00x
(EngineCore_DP0 pid=243) WARNING 06-27 02:22:33 [scheduler.py:166] Using custom scheduler class vllm_neuron.core.scheduler.ContinuousBatchingNeuronScheduler. This scheduler interface is not public and compatibility may not be maintained.
(EngineCore_DP0 pid=243) ERROR 06-27 02:23:02 [dump_input.py:72] Dumping input data for V1 LLM engine (v0.16.0) with config: model='google/gemma-4-12B-it', speculative_config=None, tokenizer='google/gemma-4-12B-it', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, tokenizer_revision=None, trust_remote_code=False, dtype=torch.bfloat16, max_seq_len=1024, download_dir=None, load_format=auto, tensor_parallel_size=2, pipeline_parallel_size=1, data_parallel_size=1, disable_custom_all_reduce=True, quantization=neuron_quant,
"""


def test_a_cut_log_takes_its_settings_from_the_crash_dump_and_a_plugins_modules_name_the_platform() -> None:
    """The crash dump (`dump_input.py`) repeats the engine config: model, version, TP and length of a
    log whose start was cut; `vllm_neuron.` modules at work say the platform is Neuron, not CUDA."""
    (row,) = vllm_log.parse_log(NEURON_TAIL)
    assert (row["model"], row["vllm_version"], row["tp"], row["max_model_len"], row["dtype"]) == (
        "google/gemma-4-12B-it", "0.16.0", "2", "1024", "bfloat16")
    assert row["platform"] == "neuron" and "platform neuron (not CUDA)" in row["notes"]
    assert (row["kv_tokens"], row["gpu_blocks"], row["max_concurrency"]) == ("132096", "129", "129")


def test_a_device_without_a_profile_is_named_and_an_a40_is_known() -> None:
    """TW-10519/VLLM-ROUTER logs/vllm.log at 43179adf4b1f340d0bb9dad4628f9919bf97753d prints the DGX Spark's
    "NVIDIA GB10", a card without a llmkube profile: kept as printed, `gpu` empty. nvidia-smi's row of an
    A40 (0xayman/graduation-project-notebooks Deepseek/deepseek-coder-1.3b-FC-v1.ipynb at b106c6f5df02c5e1)
    names the a40 profile."""
    spark = ("✅ NVIDIA GPU: NVIDIA GB10\n"
             "(EngineCore_DP0 pid=165) INFO 02-05 00:06:12 [gpu_model_runner.py:3659] Model loading took 13.7193 GiB "
             "memory and 26.704744 seconds\n")  # lines 9 and 107 of that log
    (row,) = vllm_log.parse_log(spark)
    assert (row["gpu"], row["device_name"]) == ("", "NVIDIA GB10")
    smi = "|   0  NVIDIA A40                     On  |   00000000:D2:00.0 Off |                    0 |"
    assert vllm_log.device_gpu(smi) == "a40"
    assert vllm_log.device_gpu("GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-0)") == "a100-40gb"
    assert vllm_log.device_gpu("|   0  NVIDIA A4000  Off |") is None  # an A4000 is not an A40


def test_torchs_out_of_memory_text_gives_the_cuda_total() -> None:
    """Kelsidavis/rusteze vllm.log at 116ad7a50662d3623056b4eb7b62f7dd63fc4819 (vLLM 0.13.0; lines 21 and 111,
    the second cut after its first sentence on memory): the start-up ran out of memory while compiling, and
    torch's message names the card's total, 15.47 GiB; the older form "(GPU 0; 22.20 GiB total capacity;"
    (torch < 2.2, the A10G profile's source) too."""
    text = ("(EngineCore_DP0 pid=558551) INFO 01-19 23:55:08 [gpu_model_runner.py:3659] Model loading took 14.1931 GiB "
            "memory and 880.678751 seconds\n"
            "(EngineCore_DP0 pid=558551) ERROR 01-19 23:55:19 [core.py:866] torch._inductor.exc.InductorError: "
            "RuntimeError: Failed to run autotuning code block: CUDA out of memory. Tried to allocate 1.02 GiB. GPU 0 "
            "has a total capacity of 15.47 GiB of which 857.31 MiB is free.\n")
    (row,) = vllm_log.parse_log(text)
    assert (row["weights_gib"], row["gpu_total_gib"], row["kv_cache_gib"]) == ("14.1931", "15.47", "")
    old = text.replace("GPU 0 has a total capacity of 15.47 GiB of which 857.31 MiB is free",
                       "(GPU 0; 22.20 GiB total capacity;")  # the form as the A10G profile quotes it
    assert vllm_log.parse_log(old)[0]["gpu_total_gib"] == "22.2"


def test_nvidia_smi_cuts_a_long_name_and_it_is_still_one_card() -> None:
    """Ssunbell/skeleton-4 vllm.ipynb at 2d966109667ebeb14c5a261dda236a289de531a0: a script's "GPU: ..." line and
    nvidia-smi's row, which cuts the name with "...": one card, named in full."""
    lines = vllm_log.split_lines(
        "GPU: NVIDIA GeForce RTX 4050 Laptop GPU\n"
        "|   0  NVIDIA GeForce RTX 4050 ...    On  |   00000000:01:00.0 Off |                  N/A |\n")
    assert vllm_log.file_device(lines) == ("", "NVIDIA GeForce RTX 4050 Laptop GPU")
    two = vllm_log.split_lines("GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-0)\nGPU: NVIDIA GeForce RTX 4050 Laptop GPU\n")
    assert vllm_log.file_device(two) == ("", "")  # two cards: none taken
