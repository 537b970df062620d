"""The engines table: what the planner writes, the reader reads and provenance maps."""

from __future__ import annotations

from llmkube.check.provenance import FLAG_KEYS
from llmkube.engines import SETTINGS, command_line, engine_of, flag, written_flags
from llmkube.plan.inference import runtime_args
from llmkube.specs.inferenceendpoint import InferenceEndpointSpec


def _spec(**kw: object) -> InferenceEndpointSpec:
    return InferenceEndpointSpec.model_validate({"model": "meta-llama/Llama-3.1-8B-Instruct", "gpu": "h100-80gb", **kw})


def test_vllm_flags_in_table_order() -> None:
    spec = _spec(maxModelLen=8192, maxNumSeqs=64, chunkedPrefill=False, dtype="auto", quantization="fp8", extraArgs=["--x"])
    assert runtime_args(spec, "llama") == [
        "--model", "meta-llama/Llama-3.1-8B-Instruct", "--served-model-name", "llama", "--port", "8080",
        "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.9", "--max-model-len", "8192",
        "--max-num-seqs", "64", "--no-enable-chunked-prefill", "--dtype", "auto", "--quantization", "fp8", "--x",
    ]


def test_tgi_spells_the_same_limits_its_own_way() -> None:
    spec = _spec(runtime="tgi", tensorParallel=2, maxModelLen=4096, maxNumSeqs=8, chunkedPrefill=True, dtype="auto",
                 quantization="awq")
    assert runtime_args(spec, "llama") == [
        "--model-id", "meta-llama/Llama-3.1-8B-Instruct", "--port", "8080", "--num-shard", "2",
        "--cuda-memory-fraction", "0.9", "--max-total-tokens", "4096", "--max-input-tokens", "4095",
        "--max-batch-size", "8", "--quantize", "awq",
    ]


def test_batch_size_step_tokens_and_admission_cap_map_to_their_own_flags() -> None:
    vllm = runtime_args(_spec(maxNumSeqs=64, maxBatchTokens=8192), "m")
    assert vllm[vllm.index("--max-num-seqs") + 1] == "64"
    assert vllm[vllm.index("--max-num-batched-tokens") + 1] == "8192"
    tgi = runtime_args(_spec(runtime="tgi", maxNumSeqs=64, maxBatchTokens=8192, maxConcurrentRequests=512), "m")
    pairs = dict(zip(tgi[::2], tgi[1::2]))
    assert pairs["--max-batch-size"] == "64" and pairs["--max-batch-prefill-tokens"] == "8192"
    assert pairs["--max-concurrent-requests"] == "512"
    # a batch larger than TGI's default admission cap (128) raises the cap, else 429s would keep it from filling
    big = runtime_args(_spec(runtime="tgi", maxNumSeqs=256), "m")
    assert big[big.index("--max-concurrent-requests") + 1] == "256"
    assert "--max-concurrent-requests" not in runtime_args(_spec(runtime="tgi", maxNumSeqs=128), "m")


def test_embedding_flags_follow_the_vllm_version() -> None:
    assert "--runner" in runtime_args(_spec(task="embed"), "m")  # the default image, v0.11.0
    current = runtime_args(_spec(task="embed", image="vllm/vllm-openai:v0.13.0"), "m", generative_model=True)
    assert current[current.index("--runner") + 1] == "pooling" and current[current.index("--convert") + 1] == "embed"
    assert "--convert" not in runtime_args(_spec(task="embed"), "m", generative_model=False)
    old = runtime_args(_spec(task="embed", image="vllm/vllm-openai:v0.10.0"), "m")
    assert old[old.index("--task") + 1] == "embed" and "--runner" not in old
    assert "--runner" in runtime_args(_spec(task="embed", image="vllm/vllm-openai:latest"), "m")


def test_lookups() -> None:
    assert flag("tgi", "tensor_parallel") == "--num-shard"
    assert flag("vllm", "tensor_parallel") == "--tensor-parallel-size"
    assert command_line("vllm", {"chunked_prefill": True, "pipeline_parallel": 2}) == [
        "--enable-chunked-prefill", "--pipeline-parallel-size", "2"]
    assert engine_of("ghcr.io/huggingface/text-generation-inference:3.3.6", "") == "tgi"
    assert engine_of("python:3.12", "vllm serve m") == "vllm"
    assert engine_of("python:3.12", "python train.py") is None


def test_provenance_maps_every_written_flag_to_its_spec_field() -> None:
    written = written_flags()
    assert {f for s in SETTINGS if s.field for f in s.written("vllm") + s.written("tgi")} == set(written)
    assert "-tp" not in written  # read-only spellings are not llmkube's output
    assert all(FLAG_KEYS[f] == field for f, field in written.items())
    assert FLAG_KEYS["--max-input-tokens"] == "maxModelLen" and FLAG_KEYS["--nproc_per_node"] == "gpusPerNode"
