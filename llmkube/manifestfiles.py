"""`validate --skip-non-manifests`: leave out the files that are neither Kubernetes manifests nor llmkube specs.

A pre-commit hook sees every staged YAML and JSON file of a repository: CI workflows,
Helm charts, kustomizations, Compose files, tool configs. Those are not objects to
check, and failing a commit on them would make users narrow the hook's `files`
pattern by hand. A file is skipped when it is
- a kustomization (`kustomization.yaml`, `kustomization.yml`, `Kustomization`: the
  names kustomize reads, sigs.k8s.io/kustomize api/konfig/general.go,
  `RecognizedKustomizationFileNames`);
- a Compose file (`compose.yaml`, `compose.yml`, `docker-compose.yaml`,
  `docker-compose.yml`: the default names of the Compose application model, docs.docker.com
  compose/intro/compose-application-model; and their variants such as
  `compose.override.yaml` or `docker-compose.prod.yml`);
- a Helm template: it holds `{{` and lies in a chart (a `templates/` directory, or
  under a directory with a `Chart.yaml`), so it is not YAML until Helm renders it;
- or none of its documents is a mapping with both `apiVersion` and `kind`.
A file that cannot be read or parsed is not skipped: `validate` reports it as ever.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from llmkube.errors import InputError
from llmkube.options import InputLimits
from llmkube.yamlio import expand_paths, parse_documents, read_text

KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
COMPOSE_NAME = re.compile(r"^(docker-)?compose(\.[^/]+)?\.ya?ml$", re.IGNORECASE)


def _in_chart(path: Path) -> bool:
    parents = path.resolve().parents
    return any(p.name == "templates" for p in parents) or any((p / "Chart.yaml").is_file() for p in parents)


def skip_reason(path: str, text: str, limits: InputLimits | None = None) -> str | None:
    """Why `path` (holding `text`) is not a manifest or spec; None when it should be checked."""
    name = Path(path).name
    if name in KUSTOMIZATION_NAMES:
        return "a kustomization, not a Kubernetes object"
    if COMPOSE_NAME.match(name):
        return "a Compose file"
    if "{{" in text and _in_chart(Path(path)):
        return "a Helm template (render the chart with `helm template` and check its output)"
    try:
        docs = parse_documents(text, path, limits)
    except InputError:
        return None  # broken YAML is reported, not skipped
    if not any(isinstance(d.data, dict) and "apiVersion" in d.data and "kind" in d.data for d in docs):
        return "no document with apiVersion and kind"
    return None


def split(paths: Iterable[str], limits: InputLimits | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """(files to check, [(skipped file, why)]); directories are expanded, stdin is always checked."""
    kept: list[str] = []
    skipped: list[tuple[str, str]] = []
    for path in expand_paths(paths):
        if path == "-":
            kept.append(path)
            continue
        try:
            _name, text = read_text(path, limits)
        except InputError:
            kept.append(path)  # unreadable: validate says why
            continue
        reason = skip_reason(path, text, limits)
        if reason is None:
            kept.append(path)
        else:
            skipped.append((path, reason))
    return kept, skipped
