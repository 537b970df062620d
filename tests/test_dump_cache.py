"""The cached quoting check dumps byte for byte what the uncached one does, over every example's output."""

from __future__ import annotations

import pytest
import yaml

from llmkube import yamlio
from tests.support.cli import llmkube
from tests.support.paths import example_params


# 05 (an InferenceService: quoted flags, env), 10 (a federation: the per-cluster headers); --slow runs all
@pytest.mark.parametrize("example", example_params("05-llama-70b-vllm-endpoint.yaml", "10-two-cluster-multikueue.yaml"))
def test_cached_quoting_changes_no_byte(example, monkeypatch):
    result = llmkube("render", str(example))
    assert result.returncode == 0, result.stderr
    objects = [d for d in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if d is not None]
    yamlio._needs_quotes.cache_clear()
    cached = yamlio.dump_yaml_documents(objects)
    again = yamlio.dump_yaml_documents(objects)  # every answer from the cache now
    monkeypatch.setattr(yamlio, "_needs_quotes", yamlio._needs_quotes.__wrapped__)
    # a MultiKueue federation's render puts a comment header before each cluster's set
    rendered = "".join(line for line in result.stdout.splitlines(keepends=True) if not line.startswith("# ==== cluster: "))
    assert cached == again == yamlio.dump_yaml_documents(objects) == rendered
