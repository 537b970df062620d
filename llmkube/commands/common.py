"""What every spec-reading command shares: options, loading and rendering, checking."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llmkube.check.findings import Finding
from llmkube.check.run import Target, schema_findings
from llmkube.pipeline import Options, Rendered, Rendering, load_inputs, render_specs
from llmkube.yamlio import to_plain


@dataclass(frozen=True)
class InputOptions:
    """The options every command that reads specs shares (profiles, templates, schemas)."""

    profile_dirs: Sequence[str] = ()
    template_dirs: Sequence[str] = ()
    crd_dirs: Sequence[Path] = ()
    kube_version: str = "1.32"
    kueue_api: str = "v1beta2"
    use_cache: bool = True
    color: str = "auto"

    def pipeline(self) -> Options:
        return Options(profile_dirs=self.profile_dirs, template_dirs=self.template_dirs, kueue_api=self.kueue_api)  # type: ignore[arg-type]


def check_targets(targets: Sequence[Target], opts: InputOptions, *, rules: bool = True, ignore: Sequence[str] = ()) -> list[Finding]:
    """Schema, CEL and (unless rules=False) LLM-aware findings, sorted; `ignore` drops codes."""
    findings = [f for f in schema_findings(targets, build_validator(opts.crd_dirs, opts.kube_version, opts.use_cache)) if f.code not in ignore]
    if rules:
        from llmkube.check.rules import run_rules
        from llmkube.profiles import ProfileStore

        findings += run_rules(targets, ProfileStore.load(opts.profile_dirs), ignore=ignore)
    return sorted(findings, key=Finding.sort_key)


def build_validator(crd_dirs: Sequence[Path], kube_version: str, use_cache: bool):
    """The schema validator for core kinds and every CRD we can find."""
    from llmkube.check.crdstore import CRDStore
    from llmkube.check.schemas import SchemaValidator

    store = CRDStore.load(list(crd_dirs), include_cache=use_cache)
    return SchemaValidator(store, kube_version=kube_version)


def rendered_targets(items: Sequence[Rendered]) -> list[Target]:
    return [Target(obj=r.obj, spec=r.source) for r in items]


def load_and_render(paths: Sequence[str], options: Options) -> tuple[Rendering, list[Target]]:
    """Specs rendered to objects, plus the plain manifests found beside them."""
    inputs = load_inputs(paths)
    rendering = render_specs(inputs.specs, options) if inputs.specs else Rendering()
    manifests = [Target(obj=to_plain(d.data), document=d) for d in inputs.manifests]
    return rendering, manifests


def note(message: str) -> None:
    sys.stderr.write(f"llmkube: note: {message}\n")


def split_missing_schemas(findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    missing = [f for f in findings if f.code == "no-schema"]
    rest = [f for f in findings if f.code != "no-schema"]
    return missing, rest
