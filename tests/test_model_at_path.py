"""A server that loads its checkpoint from a path inside the container (a model cache volume)
is sized as the built-in checkpoint the path names (ProfileStore.model_at_path)."""

from __future__ import annotations

from typing import Any

import pytest

from llmkube.check.read.servers import server_setups
from llmkube.check.run import Target
from llmkube.profiles import ProfileStore


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


@pytest.mark.parametrize(("path", "profile"), [
    ("/models/meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),  # org/name as the last two parts
    ("/mnt/cache/meta-llama/llama-3.1-8b-instruct/", "llama-3.1-8b"),  # any case, a trailing slash
    ("/mnt/Llama-3.1-8B-Instruct", "llama-3.1-8b"),  # the name alone, one known id has it
    ("Llama-3.1-8B-Instruct", "llama-3.1-8b"),
    ("/root/.cache/huggingface/hub/models--Qwen--Qwen3-8B/snapshots/0123abcd", "qwen3-8b"),
    # nothing that differs in a character, nothing that names no checkpoint
    ("/models/Llama-3.1-8B-Instruct-AWQ", None),
    ("/models/my-finetune", None),
    ("/data/model", None),
    ("/", None),
    ("", None),
    ("/models/\nLlama-3.1-8B-Instruct\n", None),  # a line break is part of the name: no match
])
def test_a_path_names_the_checkpoint_it_ends_with(store, path, profile):
    found = store.model_at_path(path)
    assert (found.name if found is not None else None) == profile


def _deployment(model: str) -> dict[str, Any]:
    container = {"name": "server", "image": "vllm/vllm-openai:v0.11.0",
                 "command": ["vllm", "serve", model, "--max-model-len", "8192"],
                 "resources": {"limits": {"nvidia.com/gpu": 1}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llm", "namespace": "serving"},
            "spec": {"selector": {"matchLabels": {"app": "llm"}},
                     "template": {"metadata": {"labels": {"app": "llm"}},
                                  "spec": {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-L4"},
                                           "containers": [container]}}}}


def test_validate_sizes_a_server_that_loads_from_a_cache_volume(store):
    (by_path,) = server_setups([Target(obj=_deployment("/models/meta-llama/Llama-3.1-8B-Instruct"))], store)
    (by_id,) = server_setups([Target(obj=_deployment("meta-llama/Llama-3.1-8B-Instruct"))], store)
    assert by_path.model is not None and by_path.model.name == "llama-3.1-8b"
    assert by_path.model_id == "/models/meta-llama/Llama-3.1-8B-Instruct"  # findings still name the path
    fit_path, fit_id = by_path.fit(), by_id.fit()
    assert fit_path is not None and fit_id is not None
    assert fit_path.kv_budget_gib == pytest.approx(fit_id.kv_budget_gib)
