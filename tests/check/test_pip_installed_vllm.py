"""A container that pip-installs vLLM before serving runs the PyPI wheel, not the image's vLLM: its
pin gives the version, and before 0.12 the wheel carries no triton_kernels, so gpt-oss's MXFP4
experts load through Marlin on Hopper (engine_memory.mxfp4_moe_backend; docs/sizing.md, "A pip wheel
before 0.12 runs MXFP4 experts through Marlin on Hopper")."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from llmkube.check.read.servers import server_setups
from llmkube.check.run import Target
from llmkube.engines import pip_installed_vllm
from llmkube.profiles import ProfileStore


@pytest.mark.parametrize(("script", "expected"), [
    ("pip install vllm==0.10.2 && vllm serve x", (True, (0, 10, 2))),
    ('pip3 install -U "vllm==0.11.0" transformers; vllm serve x', (True, (0, 11, 0))),
    ("python -m pip install vllm[audio]==0.9.2 && vllm serve x", (True, (0, 9, 2))),
    ("pip install vllm==0.10.2.post1 && vllm serve x", (True, (0, 10, 2))),
    ("uv pip install --system vllm && vllm serve x", (True, None)),  # unpinned: the newest
    ("pip install 'vllm>=0.10' && vllm serve x", (True, None)),  # a range: the newest
    # not a vLLM install
    ("pip install vllm-flash-attn==2.6 && vllm serve x", (False, None)),
    ("pip install transformers && vllm serve x", (False, None)),
    ("vllm serve x --pip install vllm==1.2", (False, None)),  # an argument, not a command
    ("vllm serve x", (False, None)),
    # hostile: more digits than a version has, a million-character requirement list
    ("pip install vllm==" + "9" * 100_000 + " && vllm serve x", (True, None)),
    ("pip install " + "a " * 500_000 + "&& vllm serve x", (False, None)),
])
def test_a_pip_install_of_vllm_is_read_from_the_script(script: str, expected: tuple[bool, Any]):
    assert pip_installed_vllm(script.split()) == expected


def _deployment(name: str, image: str, script: str) -> dict[str, Any]:
    container = {"name": "server", "image": image, "command": ["bash", "-c", script],
                 "resources": {"limits": {"nvidia.com/gpu": 1}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "serving"},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                                           "containers": [container]}}}}


SERVE = "vllm serve openai/gpt-oss-120b --gpu-memory-utilization 0.95 --max-model-len 32768"


def _server(store: ProfileStore, image: str, script: str):
    (server,) = server_setups([Target(obj=copy.deepcopy(_deployment("gpt-oss", image, script)))], store)
    return server


def test_a_pip_installed_wheel_before_0_12_sizes_gpt_oss_with_marlin():
    store = ProfileStore.load()
    image = _server(store, "vllm/vllm-openai:v0.11.0", SERVE)
    wheel = _server(store, "python:3.12", f"pip install vllm==0.11.0 && {SERVE}")
    assert (image.config.pip_install, image.config.engine_version) == (False, (0, 11, 0))
    assert (wheel.config.pip_install, wheel.config.engine_version) == (True, (0, 11, 0))
    # Marlin pads the experts: more weights, less KV cache than the image's Triton layout
    wheel_fit, image_fit = wheel.fit(), image.fit()
    assert wheel_fit is not None and image_fit is not None
    assert wheel_fit.weights_gib > image_fit.weights_gib
    assert wheel_fit.kv_budget_gib < image_fit.kv_budget_gib
    # from 0.12 the wheel vendors triton_kernels: the same as the image of that release
    wheel12 = _server(store, "python:3.12", f"pip install vllm==0.12.0 && {SERVE}")
    image12 = _server(store, "vllm/vllm-openai:v0.12.0", SERVE)
    wheel12_fit, image12_fit = wheel12.fit(), image12.fit()
    assert wheel12_fit is not None and image12_fit is not None
    assert wheel12_fit.kv_budget_gib == pytest.approx(image12_fit.kv_budget_gib)


def test_the_pin_wins_over_the_image_tag():
    store = ProfileStore.load()
    server = _server(store, "vllm/vllm-openai:v0.10.0", f"pip install -U vllm==0.11.0 && {SERVE}")
    assert server.config.engine_version == (0, 11, 0)
    unpinned = _server(store, "vllm/vllm-openai:v0.10.0", f"pip install -U vllm && {SERVE}")
    assert unpinned.config.engine_version is None  # the newest release: sized as the newest


def test_only_an_image_named_for_vllm_pins_the_version():
    """llm-d's image tag is llm-d's release (v0.3.0 ships a 0.11-era vLLM): reading it as vLLM 0.3
    sized the server with V0's accounting. Such an image pins nothing, like an unpinned tag."""
    store = ProfileStore.load()
    llmd = _server(store, "ghcr.io/llm-d/llm-d-cuda:v0.3.0", SERVE)
    unpinned = _server(store, "vllm/vllm-openai:latest", SERVE)
    v03 = _server(store, "vllm/vllm-openai:v0.3.0", SERVE)
    assert llmd.config.engine_version is None
    assert v03.config.engine_version == (0, 3, 0)
    llmd_fit, unpinned_fit, v03_fit = llmd.fit(), unpinned.fit(), v03.fit()
    assert llmd_fit is not None and unpinned_fit is not None and v03_fit is not None
    assert llmd_fit.kv_budget_gib == pytest.approx(unpinned_fit.kv_budget_gib)
    assert llmd_fit.kv_budget_gib != pytest.approx(v03_fit.kv_budget_gib)
