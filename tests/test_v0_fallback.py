"""vLLM 0.8 - 0.10 serve on V0 when V1's support oracle refuses the settings (a GPU before Ampere, an
fp8 KV cache the device's FlashAttention cannot hold): engine_memory.falls_back_to_v0, read in
vllm/engine/arg_utils.py `_is_v1_supported_oracle` of 0.8.0 - 0.10.2 (docs/sizing.md)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from llmkube.check.read.servers import server_setups
from llmkube.check.run import Target
from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

T4, A100, H100, B200, L40S = "NVIDIA T4 16GB", "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3", "NVIDIA B200", "NVIDIA L40S"


@pytest.mark.parametrize(("version", "gpu", "kv", "mla", "v0"), [
    # a GPU before Ampere: V0 from 0.8.0 to 0.10.1.x; 0.10.2 dropped the check
    ((0, 8, 0), T4, None, False, True),
    ((0, 9, 2), "Tesla V100-SXM2-32GB", None, False, True),
    ((0, 10, 1, 1), "Quadro RTX 8000", None, False, True),
    ((0, 10, 2), T4, None, False, False),
    ((0, 7, 3), T4, None, False, False),  # V0 by version: not a fallback
    ((0, 9, 2), A100, None, False, False),
    ((0, 9, 2), "NVIDIA GeForce RTX 4090", None, False, False),
    ((0, 9, 2), "NVIDIA RTX A4000", None, False, False),
    # fp8 KV: always V0 in 0.8.0 - 0.8.1; then V1 only where FA3 holds it (Hopper) ...
    ((0, 8, 1), H100, "fp8", False, True),
    ((0, 8, 2), H100, "fp8", False, False),
    ((0, 8, 2), A100, "fp8", False, True),
    ((0, 9, 2), L40S, "fp8_e4m3", False, True),
    # ... from 0.10.0 also SM 10.0, from 0.10.2 also MLA models
    ((0, 9, 2), B200, "fp8", False, True),
    ((0, 10, 0), B200, "fp8", False, False),
    ((0, 10, 1), A100, "fp8", True, True),
    ((0, 10, 2), A100, "fp8", True, False),
    ((0, 10, 2), A100, "fp8", False, True),
    # 0.11.0's oracle checks neither
    ((0, 11, 0), A100, "fp8", False, False),
    ((0, 11, 0), T4, None, False, False),
    ((0, 9, 2), "", "auto", False, False),
])
def test_falls_back_to_v0(version, gpu, kv, mla, v0):
    assert em.falls_back_to_v0(version, gpu, kv, mla) is v0
    acc = em.accounting_for("vllm", version, gpu_name=gpu, kv_cache_dtype=kv, mla=mla)
    assert (acc.label == em.V0_FALLBACK_LABEL) is v0
    if v0:
        assert acc.engine == "v0"


def test_a_t4_on_0_9_is_sized_as_v0_and_as_v1_from_0_10_2():
    """The V0 fallback changes the profiling batch (V0: max(max_model_len, 2,048) tokens over 256
    sequences, the OpenAI server's V1 default on a small GPU 2,048) and so the KV cache."""
    store = ProfileStore.load()
    model, gpu = store.model("llama-3.1-8b"), store.gpu("t4")
    assert model is not None and gpu is not None
    name = gpu.spec.display_name
    config = ServerConfig(max_model_len=4096, dtype="float16", quantization="awq")
    old = serving_fit(model, gpu.spec.memory_gi_b, replace(config, engine_version=(0, 9, 2)), gpu_name=name)
    new = serving_fit(model, gpu.spec.memory_gi_b, replace(config, engine_version=(0, 10, 2)), gpu_name=name)
    assert old.accounting.label == em.V0_FALLBACK_LABEL
    assert new.accounting.engine == "v1"
    assert old.batch.tokens == 4096 and new.batch.tokens == 2048
    assert old.kv_budget_gib != pytest.approx(new.kv_budget_gib)


def _deployment(image: str, product: str, args: list[str]) -> dict[str, Any]:
    container = {"name": "server", "image": image, "command": ["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct", *args],
                 "resources": {"limits": {"nvidia.com/gpu": 1}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "qwen", "namespace": "serving"},
            "spec": {"selector": {"matchLabels": {"app": "qwen"}},
                     "template": {"metadata": {"labels": {"app": "qwen"}},
                                  "spec": {"nodeSelector": {"nvidia.com/gpu.product": product},
                                           "containers": [container]}}}}


@pytest.mark.parametrize(("image", "product", "args", "label"), [
    ("vllm/vllm-openai:v0.9.2", "Tesla-T4", ["--dtype", "half", "--max-model-len", "4096"], em.V0_FALLBACK_LABEL),
    ("vllm/vllm-openai:v0.10.2", "Tesla-T4", ["--dtype", "half", "--max-model-len", "4096"], None),
    ("vllm/vllm-openai:v0.9.2", "NVIDIA-L40S", ["--kv-cache-dtype", "fp8"], em.V0_FALLBACK_LABEL),
    ("vllm/vllm-openai:v0.9.2", "NVIDIA-H100-80GB-HBM3", ["--kv-cache-dtype", "fp8"], None),
])
def test_a_manifest_is_sized_with_the_engine_vllm_falls_back_to(image, product, args, label):
    store = ProfileStore.load()
    (server,) = server_setups([Target(obj=copy.deepcopy(_deployment(image, product, args)))], store)
    fit = server.fit()
    assert fit is not None
    assert (fit.accounting.label == em.V0_FALLBACK_LABEL) is (label is not None)


@pytest.mark.parametrize(("env", "product", "args", "v0"), [
    ("0", "NVIDIA-A100-SXM4-80GB", [], True),  # V0 by choice
    ("1", "Tesla-T4", ["--dtype", "half", "--max-model-len", "4096"], False),  # V1 insisted on: no fallback
    ("true", "NVIDIA-L40S", ["--kv-cache-dtype", "fp8"], False),
    (None, "NVIDIA-A100-SXM4-80GB", [], False),
])
def test_vllm_use_v1_in_the_container_picks_the_engine(env, product, args, v0):
    deployment = _deployment("vllm/vllm-openai:v0.9.2", product, args)
    if env is not None:
        deployment["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "VLLM_USE_V1", "value": env}]
    (server,) = server_setups([Target(obj=deployment)], ProfileStore.load())
    fit = server.fit()
    assert fit is not None
    assert (fit.accounting.label == em.V0_FALLBACK_LABEL) is v0


def test_vllm_use_v1_means_nothing_outside_0_8_to_0_10():
    assert em.accounting_for("vllm", (0, 11, 0), use_v1=False).engine == "v1"
    assert em.accounting_for("vllm", (0, 7, 3), use_v1=True).engine == "v0"
    assert em.accounting_for("vllm", None, use_v1=False).engine == "v1"  # unpinned: the newest release
