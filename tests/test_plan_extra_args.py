"""Settings a spec passes through `extraArgs` that the multi-node and LLMInferenceService planners size
with (they size from the spec; a single-node server is sized from its rendered command line by
check/read/servers.py). Today: vLLM's `--performance-mode` (0.17+), whose "throughput" doubles the
unset batch defaults, so the profiling run takes more and the KV pool per GPU is smaller."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from llmkube.engines import extra_value

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"
MULTINODE = EXAMPLES / "11-llama-405b-multinode-lws.yaml"
DISAGGREGATED = EXAMPLES / "09-llama-70b-disaggregated-llmisvc.yaml"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--performance-mode", "throughput"], "throughput"),
        (["--max-log-len", "9", "--performance-mode=interactivity"], "interactivity"),
        (["--performance_mode", "throughput"], "throughput"),  # vLLM's parser takes underscores too
        (["--performance_mode=throughput"], "throughput"),
        (["--performance-mode"], None),  # no value
        (["--performance-modes", "x", "throughput"], None),
        ([], None),
    ],
)
def test_extra_value_reads_a_setting_as_vllm_spells_it(args, expected):
    assert extra_value("vllm", args, "performance_mode") == expected


def test_a_setting_the_engine_does_not_have_is_never_read():
    assert extra_value("tgi", ["--performance-mode", "throughput"], "performance_mode") is None


def _plan_notes(tmp_path: Path, example: Path, image: str, extra: str | None) -> str:
    text = example.read_text()
    spec = re.sub(r"(?m)^  image: .*\n", "", text)
    head, _, rest = spec.partition("\nspec:\n")
    lines = f"  image: {image}\n" + (f"  extraArgs: {extra}\n" if extra else "")
    path = tmp_path / f"{example.stem}-{abs(hash((image, extra)))}.yaml"
    path.write_text(head + "\nspec:\n" + lines + rest)
    out = subprocess.run([sys.executable, "-m", "llmkube", "plan", str(path)], capture_output=True, text=True,
                         env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, cwd=tmp_path, timeout=120)
    assert out.returncode in (0, 1), out.stderr
    return out.stderr


def _kv_gib(notes: str, pattern: str) -> list[float]:
    return [float(x) for x in re.findall(pattern, notes)]


def test_the_multi_node_planner_sizes_with_the_performance_mode_from_extra_args(tmp_path):
    kv = r"binds with a ([0-9.]+) GiB KV pool per GPU"
    plain = _kv_gib(_plan_notes(tmp_path, MULTINODE, "vllm/vllm-openai:v0.17.0", None), kv)
    throughput = _kv_gib(_plan_notes(tmp_path, MULTINODE, "vllm/vllm-openai:v0.17.0", "[--performance-mode, throughput]"), kv)
    assert len(plain) == len(throughput) == 1
    assert throughput[0] < plain[0]  # twice the profiling batch: a larger activation peak
    # before 0.17 the flag did not exist: nothing changes
    old = _kv_gib(_plan_notes(tmp_path, MULTINODE, "vllm/vllm-openai:v0.12.0", "[--performance-mode, throughput]"), kv)
    assert old == _kv_gib(_plan_notes(tmp_path, MULTINODE, "vllm/vllm-openai:v0.12.0", None), kv)


def test_the_llm_inference_service_planner_sizes_with_the_performance_mode_from_extra_args(tmp_path):
    kv = r"KV cache ([0-9.]+) GiB per GPU"
    plain = _kv_gib(_plan_notes(tmp_path, DISAGGREGATED, "vllm/vllm-openai:v0.17.0", None), kv)
    throughput = _kv_gib(_plan_notes(tmp_path, DISAGGREGATED, "vllm/vllm-openai:v0.17.0", "[--performance-mode, throughput]"), kv)
    assert len(plain) == len(throughput) == 2  # the prefill and the decode pool
    assert all(t < p for t, p in zip(throughput, plain))
