"""Starter specs for `llmkube init`: one commented YAML file per kind of work.

Each starter renders clean and validates against the upstream CRDs
(tests/test_init.py runs both through the CLI), so a new user edits a spec
that works rather than one copied from a page.
"""

from __future__ import annotations

from importlib import resources

from llmkube.errors import InputError

#: starter name → what it holds, in the order `llmkube init --help` lists them.
STARTERS = {
    "training": "a TrainingJob: distributed fine-tuning as a Kubeflow PyTorchJob",
    "serving": "an InferenceEndpoint: a vLLM server on KServe",
    "fleet": "a Fleet: one GPU node pool as a Kueue ResourceFlavor",
    "quota": "a Quota: a team's GPU share as Kueue queues",
}


def starter(name: str) -> str:
    """The text of the starter `name`."""
    if name not in STARTERS:
        raise InputError(f"unknown starter {name!r}", hint="one of: " + ", ".join(STARTERS))
    return resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
