"""One run over the inputs: read them, render the specs, gather the objects, check them.

`run(paths, options)` reads the inputs, renders the specs in apply order (`pipeline.render_specs`)
and gathers the objects to check; its `findings` (schema, CEL and, unless `options.rules` is off,
the LLM-aware rules) are computed when first asked for, so a command can refuse its inputs before
paying for the checks.

This module imports no spec model, planner, profile model or template engine: a run of plain
manifests (`validate` over a GitOps repository) never loads pydantic, jinja2 or `llmkube.plan`.
The pipeline (`llmkube.pipeline`) is imported when an input is an llmkube spec, the profiles when
a rule or reader first asks them something (tests/test_startup.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from llmkube import gcpause, parallel, progress
from llmkube.check.crdstore import CRD_API_VERSION, CRD_KIND, PROFILES_DIR, CRDStore, side_cache_dir
from llmkube.check.findings import Finding, Severity
from llmkube.check.run import Target, schema_findings
from llmkube.check.schemas import SchemaValidator
from llmkube.errors import InputError, combined, each
from llmkube.kinds import is_spec_document
from llmkube.options import InputLimits, Options, require_profile_dirs
from llmkube.records import record
from llmkube.yamlio import Document, plain_data, read_documents

if TYPE_CHECKING:
    from llmkube.plan.base import ClusterTarget
    from llmkube.profiles import ProfileStore
    from llmkube.specs.parse import LoadedSpec

#: The code of the finding for an object no schema at hand describes.
NO_SCHEMA = "no-schema"


@record
class Rendered:
    """One output object and the spec it came from."""

    obj: dict[str, Any]
    source: LoadedSpec | None = None


@record(frozen=True)
class NodeLabelStep:
    """Labels to put on the nodes a selector matches (MIG or sharing config)."""

    pool: str
    selector: dict[str, str]
    labels: dict[str, str]
    source: LoadedSpec | None = None

    def kubectl_command(self) -> str:
        """The command, shell-quoted: a value is one argument of it, never shell text."""
        import shlex  # only for a MIG or sharing spec's output: not on every run's import path

        sel = ",".join(f"{k}={v}" for k, v in self.selector.items())
        labels = " ".join(shlex.quote(f"{k}={v}") for k, v in self.labels.items())
        return f"kubectl label nodes -l {shlex.quote(sel)} {labels} --overwrite"


@record
class Rendering:
    """Everything the specs produce: objects to apply, and node labels to set."""

    objects: list[Rendered] = field(default_factory=list)
    node_labels: list[NodeLabelStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    clusters: list[ClusterTarget] = field(default_factory=list)  # a federation's clusters, manager first
    profiles: ProfileStore | None = field(default=None, repr=False, compare=False)  # what the specs were planned with


@record(frozen=True)
class Run:
    """One pass of the pipeline over the inputs: what was rendered, what to check, what was found."""

    options: Options
    rendering: Rendering
    manifests: list[Target]  # plain manifests given beside the specs

    @cached_property
    def targets(self) -> list[Target]:
        """Every object to check or apply: the rendered ones, then the plain manifests."""
        return [Target(obj=r.obj, spec=r.source) for r in self.rendering.objects] + self.manifests

    @cached_property
    def profiles(self) -> ProfileStore:
        """The GPU and model profiles: the ones the specs were planned with (read once per run)."""
        return self.rendering.profiles or load_profiles(self.options)

    @cached_property
    def crds(self) -> CRDStore:
        """The CRD schemas at hand: the CRDs among the inputs, --crds directories, then the user cache."""
        return load_crds(self.options).with_inputs(input_crds(self.manifests))

    @cached_property
    def findings(self) -> list[Finding]:
        """Schema, CEL and (with options.rules) LLM-aware findings on the targets, sorted."""
        return check(self.targets, self.options, crds=self.crds, profiles=self._profiles_loader if self.options.rules else None)

    def _profiles_loader(self) -> ProfileStore:
        """`profiles`, for the rules: read when a rule first asks (a run of plain manifests with no
        model server, training job or GPU config never does)."""
        return self.profiles

    @property
    def missing_schemas(self) -> list[Finding]:
        """Objects that were not checked: no schema at hand describes them."""
        return split_missing_schemas(self.findings)[0]

    @property
    def problems(self) -> list[Finding]:
        """Every finding but the missing schemas."""
        return split_missing_schemas(self.findings)[1]


def run(paths: Sequence[str], options: Options) -> Run:
    """Load the inputs and render the specs; the findings follow on first use."""
    check_ignore_codes(options.ignore)
    require_profile_dirs(options.profile_dirs)
    inputs = load_inputs(paths, options.limits)
    rendering = _render_specs(inputs.specs, options) if inputs.specs else Rendering()
    manifests = [Target(obj=plain_data(d), document=d) for d in inputs.manifests]
    gcpause.resume()  # what the run keeps is built: collect the garbage of the checks that follow
    return _with_user_profiles(Run(options, rendering, manifests))


def run_partial(paths: Sequence[str], options: Options) -> tuple[Run, list[InputError]]:
    """Like `run`, but an input error only takes out what it is about; the rest is still checked.

    A file that does not parse, a spec document that is invalid, or a spec that cannot
    be planned is left out (with every spec of that file, when planning fails), and
    its errors are returned beside a Run over everything else: a report then carries
    the errors and the other files' findings together. Errors that name no file
    (a bad --kube-version) are raised as before.
    """
    check_ignore_codes(options.ignore)
    require_profile_dirs(options.profile_dirs)
    with progress.working("reading files", progress.count_files(paths)):
        docs, errors = read_documents(paths, options.limits)
    spec_docs = [d for d in docs if is_spec_document(d)]  # told once: the manifests are the rest
    specs: list[LoadedSpec] = []
    for doc in spec_docs:
        from llmkube.specs.parse import parse_specs  # pydantic and the spec models: only for specs

        try:
            specs += parse_specs([doc])
        except InputError as exc:
            errors.extend(each(exc))
    rendering = Rendering()
    try:
        rendering = _render_specs(specs, options) if specs else Rendering()
    except InputError as exc:
        failed = each(exc)
        errors.extend(failed)
        bad = {e.mark.file for e in failed if e.mark}
        rest = [s for s in specs if s.document.file not in bad]
        if rest and len(rest) < len(specs) and all(e.mark for e in failed):
            try:
                rendering = _render_specs(rest, options)
            except InputError:
                pass  # the others depend on a spec left out: its error is reported already
    is_spec = {id(d) for d in spec_docs}
    manifests = [Target(obj=plain_data(d), document=d) for d in docs if id(d) not in is_spec]
    gcpause.resume()
    return _with_user_profiles(Run(options, rendering, manifests)), errors


def _with_user_profiles(run: Run) -> Run:
    """Read the profiles now when the user named profile directories (`--profiles`, a settings
    file's `profiles`): a broken profile of theirs is an input error (exit 2) on every run, not only
    on runs whose objects make a rule read the profiles. The built-ins alone are read when first
    asked (`check.read.context.DeferredProfiles`), so a run of plain manifests never loads them."""
    if run.options.profile_dirs:
        run.profiles  # noqa: B018 - a cached property: reads and validates the profiles once
    return run


def _render_specs(specs: Sequence[LoadedSpec], options: Options) -> Rendering:
    """`pipeline.render_specs`: the planners, templates and jinja2 are imported for specs only."""
    from llmkube.pipeline import render_specs

    return render_specs(specs, options)


def token_findings(targets: Sequence[Target], options: Options, profiles: ProfileStore | None = None) -> list[Finding]:
    """LK501 alone, as warnings: what `render` (which runs no other rule) says about literal tokens."""
    import dataclasses

    from llmkube.check.findings import Severity
    from llmkube.check.rules import REGISTRY, run_rules
    from llmkube.check.rules import security  # noqa: F401 - registers LK501; the other rule modules stay unloaded

    found = run_rules(targets, profiles or functools.partial(load_profiles, options), rules={"LK501": REGISTRY["LK501"]})
    return [dataclasses.replace(f, severity=Severity.WARNING) for f in found]


def check_ignore_codes(codes: Sequence[str]) -> None:
    """A silenced LK code must name a rule: a typo would silence nothing."""
    if not any(c.startswith("LK") for c in codes):
        return
    from llmkube.check.rules import unknown_codes

    unknown = unknown_codes(c for c in codes if c.startswith("LK"))
    if unknown:
        raise InputError(f"--ignore names unknown rule codes: {', '.join(unknown)}", hint="see docs/rules.md for the codes")


def input_crds(manifests: Sequence[Target]) -> list[tuple[dict[str, Any], str]]:
    """The `apiextensions.k8s.io/v1` CustomResourceDefinitions among the manifests, each with its file."""
    return [
        (t.obj, t.document.file if t.document is not None else "")
        for t in manifests
        if t.obj.get("kind") == CRD_KIND and t.obj.get("apiVersion") == CRD_API_VERSION
    ]


def load_crds(options: Options) -> CRDStore:
    return CRDStore.load(list(options.crd_dirs), include_cache=options.use_cache)


def load_profiles(options: Options) -> ProfileStore:
    """The GPU and model profiles of options.profile_dirs and the built-ins; their parsed YAML is
    kept in the user cache unless --no-cache."""
    from llmkube.profiles import ProfileStore  # pydantic: only when a spec or a rule reads the profiles

    return ProfileStore.load(options.profile_dirs, parsed_cache=side_cache_dir(PROFILES_DIR) if options.use_cache else None)


def check(
    targets: Sequence[Target],
    options: Options,
    *,
    crds: CRDStore | None = None,
    profiles: ProfileStore | Callable[[], ProfileStore] | None = None,
) -> list[Finding]:
    """Schema, CEL and (with options.rules) LLM-aware findings, sorted; options.ignore drops codes.
    The rules read `profiles`, or what it returns when first asked (default: loaded from
    options.profile_dirs when a rule first reads them).

    With `options.jobs` > 1 (0: `parallel.auto_jobs`) the schema and CEL checks, which judge one
    object at a time, run in forked workers over contiguous chunks of the run while the rules,
    which look across objects, run here on the whole run; the findings are the same either way.
    """
    validator = SchemaValidator(crds if crds is not None else load_crds(options), kube_version=options.kube_version)
    jobs = options.jobs or parallel.auto_jobs(len(targets))
    if jobs > 1:
        _compile_schemas(targets, validator)  # once, here: the workers inherit what was compiled
        pending = parallel.start(functools.partial(schema_findings, validator=validator), targets, jobs)
    else:
        pending = parallel.Pending(None, [schema_findings(progress.track(targets, "checking schemas and CEL rules"), validator)], None)
    findings: list[Finding] = []
    if options.rules:
        from llmkube.check.rules import run_rules

        with progress.working("running the LLM-aware rules over the objects", len(targets)):
            findings += run_rules(targets, profiles or functools.partial(load_profiles, options), ignore=options.ignore)
    checked = sorted((f for chunk in pending.results() for f in chunk), key=Finding.sort_key)
    findings = [f for f in checked if f.code not in options.ignore] + findings
    if options.severity:  # the settings file's `severity` overrides
        levels = dict(options.severity)
        findings = [replace(f, severity=Severity(levels[f.code])) if f.code in levels else f for f in findings]
    return sorted(findings, key=Finding.sort_key)


def _compile_schemas(targets: Sequence[Target], validator: SchemaValidator) -> None:
    """Check one object of each apiVersion and kind, so their schemas and CEL programs are compiled
    (and a CRD that cannot be read fails here, as it would in one process)."""
    seen: set[tuple[str, str]] = set()
    for t in targets:
        key = (str(t.obj.get("apiVersion")), str(t.obj.get("kind")))
        if key not in seen:
            seen.add(key)
            validator.validate(t.obj)


def split_missing_schemas(findings: Sequence[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(objects no schema describes, every other finding)."""
    missing = [f for f in findings if f.code == NO_SCHEMA]
    rest = [f for f in findings if f.code != NO_SCHEMA]
    return missing, rest


@record
class Inputs:
    """A run's documents, split into llmkube specs and plain manifests."""

    specs: list[LoadedSpec] = field(default_factory=list)
    manifests: list[Document] = field(default_factory=list)


def load_inputs(paths: Sequence[str], limits: InputLimits | None = None) -> Inputs:
    """Split the documents in `paths` into llmkube specs and plain manifests.

    Every input error is reported, a broken file's beside the other files' spec errors.
    """
    with progress.working("reading files", progress.count_files(paths)):
        docs, errors = read_documents(paths, limits)
    spec_docs: list[Document] = []
    manifests: list[Document] = []
    for d in docs:  # each told once
        (spec_docs if is_spec_document(d) else manifests).append(d)
    specs: list[LoadedSpec] = []
    try:
        if spec_docs:
            from llmkube.specs.parse import parse_specs  # pydantic and the spec models: only for specs

            specs = parse_specs(spec_docs)
    except InputError as exc:
        errors.extend(each(exc))
    if errors:
        raise combined(errors)
    return Inputs(specs=specs, manifests=manifests)


