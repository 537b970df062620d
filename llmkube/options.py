"""What a run of llmkube may be told, and every default, in one place.

The pipeline takes one `Options` value; the command line builds it (and shows
these defaults in `--help`). Kept free of heavy imports so that `llmkube --help`
stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import Literal

from llmkube.records import record

KueueAPI = Literal["v1beta1", "v1beta2"]

#: Kubernetes version of the bundled core schemas checked against.
DEFAULT_KUBE_VERSION = "1.32"
#: Kueue API version llmkube writes (v1beta2 needs Kueue ≥ 0.16).
DEFAULT_KUEUE_API: KueueAPI = "v1beta2"
#: Apply set of `diff`/`apply` when neither --apply-set nor $LLMKUBE_APPLY_SET names one.
DEFAULT_APPLY_SET = "default"
APPLY_SET_ENV = "LLMKUBE_APPLY_SET"


@record(frozen=True)
class Options:
    """How to read, render and check: profiles, templates, schemas and which checks run."""

    profile_dirs: tuple[str, ...] = ()  # searched before the built-in profiles
    template_dirs: tuple[str, ...] = ()  # searched before the built-in templates
    crd_dirs: tuple[Path, ...] = ()  # CRD files beside the user cache
    kube_version: str = DEFAULT_KUBE_VERSION
    kueue_api: KueueAPI = DEFAULT_KUEUE_API
    use_cache: bool = True  # read CRDs from the user cache (`llmkube crds pull`)
    rules: bool = True  # the LLM-aware rules run beside the schema and CEL checks
    ignore: tuple[str, ...] = ()  # finding codes dropped from the results
    severity: tuple[tuple[str, str], ...] = ()  # (code, error|warning|info): a finding's severity changed
    limits: InputLimits = field(default_factory=lambda: InputLimits())
    jobs: int = 1  # processes for the schema and CEL checks (validate -j; 0: auto, see llmkube.parallel)


@record(frozen=True)
class InputLimits:
    """How much input one run reads before it refuses (each raised by a flag)."""

    max_input_mb: int = 100  # --max-input-mb: size of one file or of stdin, in MiB
    max_documents: int = 100_000  # --max-documents: YAML documents over all inputs
    max_alias_nodes: int = 10_000  # --max-alias-nodes: nodes YAML aliases may bring in, per document


#: Deepest nesting of mappings and lists a document may have (no real manifest comes close).
MAX_NESTING = 100


def require_profile_dirs(dirs: Sequence[str | Path]) -> None:
    """Refuse a `--profiles` directory that does not exist, before any profile is read: a run that
    never reads the profiles (plain manifests: `check.read.context.DeferredProfiles`) must still
    tell the user their flag names nothing."""
    from llmkube.errors import InputError, SourceMark

    for d in dirs:
        if not Path(d).is_dir():
            raise InputError(
                "profile directory not found", mark=SourceMark(str(d)),
                hint="--profiles takes a directory of GPUProfile/ModelProfile YAML files",
            )
