"""VLLM_ATTENTION_BACKEND (issue 11): on vLLM 0.8 - 0.10 a backend V1's support oracle does not list sends
the server to the V0 engine (vllm/engine/arg_utils.py `_is_v1_supported_oracle`, `V1_BACKENDS`, read in
0.8.0 - 0.8.5, 0.9.0.1, 0.9.2, 0.10.0, 0.10.1.1, 0.10.2), and V0's FlashInfer backend holds a 256 MiB
workspace through the profile run (vllm/attention/backends/flashinfer.py `FlashInferState`)."""

from __future__ import annotations

from typing import Any

import pytest

from llmkube.check.read.servers import server_setups
from llmkube.check.run import Target
from llmkube.plan import engine_memory as em
from llmkube.plan.sizing import ServerConfig, serving_fit
from llmkube.profiles import ProfileStore

A100, T4 = "NVIDIA A100-SXM4-80GB", "NVIDIA T4 16GB"


@pytest.mark.parametrize(("version", "backend", "v1"), [
    # FlashInfer joined V1's list in 0.8.5
    ((0, 8, 0), "FLASHINFER", False),
    ((0, 8, 4), "FLASHINFER", False),
    ((0, 8, 5), "FLASHINFER", True),
    ((0, 10, 2), "FLASHINFER", True),
    # Triton's V1 backend from 0.8.2
    ((0, 8, 1), "TRITON_ATTN_VLLM_V1", False),
    ((0, 8, 2), "TRITON_ATTN_VLLM_V1", True),
    # XFormers: never under its V0 name; "XFORMERS_VLLM_V1" from 0.10.1
    ((0, 8, 0), "XFORMERS", False),
    ((0, 10, 2), "XFORMERS", False),
    ((0, 10, 0), "XFORMERS_VLLM_V1", False),
    ((0, 10, 1, 1), "XFORMERS_VLLM_V1", True),
    # FlashAttention always; vLLM compares the value as given
    ((0, 8, 0), "FLASH_ATTN", True),
    ((0, 9, 2), "flash_attn", False),
    # FlexAttention and Torch SDPA from 0.9.2 (0.9.0.1 does not list them)
    ((0, 9, 0, 1), "FLEX_ATTENTION", False),
    ((0, 9, 2), "FLEX_ATTENTION", True),
])
def test_v1_oracle_backend_lists(version, backend, v1):
    assert em.v1_attention_backend(version, backend) is v1
    assert em.falls_back_to_v0(version, A100, None, attention_backend=backend) is (not v1)


def test_the_backend_matters_only_where_vllm_can_fall_back():
    # V0 by version before 0.8, V1 only from 0.11 (no V0 left to fall back to)
    assert em.falls_back_to_v0((0, 7, 3), A100, None, attention_backend="XFORMERS") is False
    assert em.falls_back_to_v0((0, 11, 0), A100, None, attention_backend="XFORMERS") is False
    assert em.accounting_for("vllm", (0, 11, 0), gpu_name=A100, attention_backend="XFORMERS").engine == "v1"
    # unset or empty: no check
    assert em.falls_back_to_v0((0, 9, 2), A100, None, attention_backend=None) is False
    assert em.falls_back_to_v0((0, 9, 2), A100, None, attention_backend="") is False
    # VLLM_USE_V1=1 keeps V1 (vLLM refuses to start instead of falling back)
    assert em.accounting_for("vllm", (0, 9, 2), gpu_name=A100, use_v1=True, attention_backend="XFORMERS").engine == "v1"
    fallback = em.accounting_for("vllm", (0, 9, 2), gpu_name=A100, attention_backend="XFORMERS")
    assert fallback.engine == "v0" and fallback.label == em.V0_FALLBACK_LABEL


def test_v0_flashinfer_holds_its_workspace_through_the_profile_run():
    v0 = em.accounting_for("vllm", (0, 8, 4), gpu_name=A100, attention_backend="FLASHINFER")
    assert v0.engine == "v0"
    assert em.attention_workspace_bytes(v0, (0, 8, 4), "FLASHINFER") == 256 * 2**20
    assert em.attention_workspace_bytes(v0, (0, 8, 4), "XFORMERS") == 0.0
    v1 = em.accounting_for("vllm", (0, 8, 5), gpu_name=A100, attention_backend="FLASHINFER")
    assert v1.engine == "v1"
    assert em.attention_workspace_bytes(v1, (0, 8, 5), "FLASHINFER") == 0.0  # V1: not in the profile run
    # V0 releases before 0.8 were not read for it
    assert em.attention_workspace_bytes(em.accounting_for("vllm", (0, 7, 3)), (0, 7, 3), "FLASHINFER") == 0.0


def test_serving_fit_follows_the_backend():
    model = ProfileStore.load().model("llama-3.1-8b")

    def fit(backend, version=(0, 8, 4)):
        cfg = ServerConfig(max_model_len=8192, engine_version=version, attention_backend=backend)
        return serving_fit(model, 79.15, cfg, gpu_name=A100)

    v1, flash, xformers, flashinfer = fit(None), fit("FLASH_ATTN"), fit("XFORMERS"), fit("FLASHINFER")
    assert v1.accounting.engine == flash.accounting.engine == "v1"
    assert flash.activation_gib == pytest.approx(v1.activation_gib)
    assert xformers.accounting.engine == flashinfer.accounting.engine == "v0"
    # the same V0 batch; FlashInfer adds its 256 MiB workspace
    assert flashinfer.activation_gib - xformers.activation_gib == pytest.approx(0.25)
    assert flashinfer.kv_budget_gib == pytest.approx(xformers.kv_budget_gib - 0.25)
    # 0.8.5 runs FlashInfer on V1: sized as without the variable
    assert fit("FLASHINFER", (0, 8, 5)).kv_budget_gib == pytest.approx(fit(None, (0, 8, 5)).kv_budget_gib)


def _deployment(image: str, env: list[dict[str, str]]) -> dict[str, Any]:
    container = {"name": "server", "image": image, "command": ["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct"],
                 "env": env, "resources": {"limits": {"nvidia.com/gpu": 1}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "qwen", "namespace": "serving"},
            "spec": {"selector": {"matchLabels": {"app": "qwen"}},
                     "template": {"metadata": {"labels": {"app": "qwen"}},
                                  "spec": {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
                                           "containers": [container]}}}}


@pytest.mark.parametrize(("image", "env", "v0"), [
    ("vllm/vllm-openai:v0.9.2", [{"name": "VLLM_ATTENTION_BACKEND", "value": "XFORMERS"}], True),
    ("vllm/vllm-openai:v0.9.2", [{"name": "VLLM_ATTENTION_BACKEND", "value": "FLASHINFER"}], False),
    ("vllm/vllm-openai:v0.8.4", [{"name": "VLLM_ATTENTION_BACKEND", "value": " FLASHINFER "}], True),
    ("vllm/vllm-openai:v0.9.2", [{"name": "VLLM_ATTENTION_BACKEND", "value": "XFORMERS"},
                                 {"name": "VLLM_USE_V1", "value": "1"}], False),
    ("vllm/vllm-openai:v0.11.0", [{"name": "VLLM_ATTENTION_BACKEND", "value": "XFORMERS"}], False),
])
def test_a_containers_attention_backend_is_read(image, env, v0):
    (server,) = server_setups([Target(obj=_deployment(image, env))], ProfileStore.load())
    assert server.config.attention_backend == env[0]["value"].strip()
    fit = server.fit()
    assert fit is not None
    assert (fit.accounting.label == em.V0_FALLBACK_LABEL) is v0
