"""The `llmkube` command line: parse options, call the pipeline, pick the exit code.

Exit codes: 0 ok · 1 findings · 2 bad input or usage · 3 internal error.
"""

from __future__ import annotations

import os
import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from llmkube import __version__
from llmkube.errors import InputError

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

app = typer.Typer(
    name="llmkube",
    help="Typed specs for LLM training and serving → validated Kubernetes manifests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
crds_app = typer.Typer(help="Fetch and list the CRD schemas used to check custom resources.", no_args_is_help=True)
app.add_typer(crds_app, name="crds")


class State:
    debug = False
    color = "auto"


class OutputFormat(str, Enum):
    yaml = "yaml"
    json = "json"


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    junit = "junit"
    sarif = "sarif"
    github = "github"


class KueueAPIChoice(str, Enum):
    v1beta2 = "v1beta2"
    v1beta1 = "v1beta1"


class ColorChoice(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmkube {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for internal errors.")] = False,
    color: Annotated[ColorChoice, typer.Option("--color", help="Colour in text output.")] = ColorChoice.auto,
) -> None:
    State.debug = debug
    State.color = color.value


PathsArg = Annotated[list[str], typer.Argument(help="Spec or manifest files, directories, or - for stdin.", show_default=False)]
ProfilesOpt = Annotated[list[Path], typer.Option("--profiles", help="Extra GPU/model profile directory (repeatable; searched first).")]
TemplatesOpt = Annotated[list[Path], typer.Option("--templates", help="Template directory searched before the built-ins (repeatable).")]
CrdsOpt = Annotated[list[Path], typer.Option("--crds", help="Directory of CRD YAML files (repeatable).")]
KubeVersionOpt = Annotated[str, typer.Option("--kube-version", help="Kubernetes version of the core schemas, X.Y.")]
KueueOpt = Annotated[KueueAPIChoice, typer.Option("--kueue-api", help="Kueue API version to emit: v1beta2 (Kueue ≥ 0.16) or v1beta1.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read CRDs from the user cache (`llmkube crds pull`).")]


def _inputs(profiles, templates, crds, kube_version: str, kueue_api: KueueAPIChoice, no_cache: bool):
    """The options every spec-reading command shares, as one value."""
    from llmkube.commands.common import InputOptions

    return InputOptions(
        profile_dirs=[str(p) for p in profiles],
        template_dirs=[str(p) for p in templates],
        crd_dirs=list(crds),
        kube_version=kube_version,
        kueue_api=kueue_api.value,
        use_cache=not no_cache,
        color=State.color,
    )


@app.command()
def render(
    paths: PathsArg,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-d", help="Write one file per object here (all or nothing).")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.yaml,
    profiles: ProfilesOpt = [],
    templates: TemplatesOpt = [],
    crds: CrdsOpt = [],
    kube_version: KubeVersionOpt = "1.32",
    kueue_api: KueueOpt = KueueAPIChoice.v1beta2,
    no_cache: NoCacheOpt = False,
) -> None:
    """Render llmkube specs into Kubernetes manifests, checked against the schemas at hand."""
    from llmkube.commands.render import run_render

    opts = _inputs(profiles, templates, crds, kube_version, kueue_api, no_cache)
    raise typer.Exit(run_render(paths, opts, output_dir=output_dir, fmt=fmt.value))


@app.command()
def validate(
    paths: PathsArg,
    output: Annotated[ReportFormat, typer.Option("--output", "-o", help="Report format.")] = ReportFormat.text,
    profiles: ProfilesOpt = [],
    templates: TemplatesOpt = [],
    crds: CrdsOpt = [],
    kube_version: KubeVersionOpt = "1.32",
    kueue_api: KueueOpt = KueueAPIChoice.v1beta2,
    no_cache: NoCacheOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the run too (exit 1).")] = False,
    ignore: Annotated[list[str], typer.Option("--ignore", help="Rule code to silence for this run (repeatable), e.g. LK301.")] = [],
    output_file: Annotated[Optional[Path], typer.Option("--output-file", help="Also write the report here (.json, .sarif, .xml pick the format).")] = None,
) -> None:
    """Check llmkube specs and plain Kubernetes manifests: API schemas, CEL rules and LLM-aware rules."""
    from llmkube.commands.validate import run_validate

    code = run_validate(
        paths,
        _inputs(profiles, templates, crds, kube_version, kueue_api, no_cache),
        report=output.value,
        strict=strict,
        ignore=[c.strip() for item in ignore for c in item.split(",") if c.strip()],
        output_file=output_file,
    )
    raise typer.Exit(code)


class PlanFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
def plan(
    paths: PathsArg,
    output: Annotated[PlanFormat, typer.Option("--output", "-o", help="Table for people, or json.")] = PlanFormat.text,
    profiles: ProfilesOpt = [],
    templates: TemplatesOpt = [],
    kueue_api: KueueOpt = KueueAPIChoice.v1beta2,
) -> None:
    """Size every endpoint and job: memory per GPU, headroom, concurrency, load time, a recommendation."""
    from llmkube.commands.plan import run_plan

    raise typer.Exit(
        run_plan(
            paths,
            report=output.value,
            profile_dirs=[str(p) for p in profiles],
            template_dirs=[str(p) for p in templates],
            kueue_api=kueue_api.value,
            color=State.color,
        )
    )


KubeContextOpt = Annotated[Optional[str], typer.Option("--context", help="kubectl context to use (must exist in the kubeconfig).")]
KubeconfigOpt = Annotated[Optional[str], typer.Option("--kubeconfig", help="Path to the kubeconfig file.")]
NamespaceOpt = Annotated[Optional[str], typer.Option("--namespace", "-n", help="Namespace for namespaced objects that name none.")]
ApplySetOpt = Annotated[
    Optional[str],
    typer.Option("--apply-set", help="Name of the set of objects llmkube manages (label llmkube.dev/apply-set; default $LLMKUBE_APPLY_SET or 'default'); pruning only touches this set."),
]


@app.command()
def diff(
    paths: PathsArg,
    context: KubeContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = None,
    apply_set: ApplySetOpt = None,
    profiles: ProfilesOpt = [],
    templates: TemplatesOpt = [],
    crds: CrdsOpt = [],
    kube_version: KubeVersionOpt = "1.32",
    kueue_api: KueueOpt = KueueAPIChoice.v1beta2,
    no_cache: NoCacheOpt = False,
) -> None:
    """Show what `apply` would change (kubectl diff --server-side); exit 1 when something would."""
    from llmkube.commands.kubeapply import run_diff

    raise typer.Exit(
        run_diff(
            paths,
            _inputs(profiles, templates, crds, kube_version, kueue_api, no_cache),
            context=context,
            kubeconfig=kubeconfig,
            namespace=namespace,
            apply_set=apply_set,
        )
    )


class DryRunChoice(str, Enum):
    none = "none"
    server = "server"


@app.command()
def apply(
    paths: PathsArg,
    context: KubeContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = None,
    dry_run: Annotated[DryRunChoice, typer.Option("--dry-run", help="server: send everything with dryRun, persist nothing.")] = DryRunChoice.none,
    force_conflicts: Annotated[bool, typer.Option("--force-conflicts", help="Take over fields another field manager owns.")] = False,
    prune: Annotated[bool, typer.Option("--prune/--no-prune", help="Delete objects llmkube applied earlier that left the specs.")] = False,
    apply_set: ApplySetOpt = None,
    profiles: ProfilesOpt = [],
    templates: TemplatesOpt = [],
    crds: CrdsOpt = [],
    kube_version: KubeVersionOpt = "1.32",
    kueue_api: KueueOpt = KueueAPIChoice.v1beta2,
    no_cache: NoCacheOpt = False,
) -> None:
    """Render, check, and apply with kubectl server-side apply (refuses on any check error)."""
    from llmkube.commands.kubeapply import run_apply

    raise typer.Exit(
        run_apply(
            paths,
            _inputs(profiles, templates, crds, kube_version, kueue_api, no_cache),
            context=context,
            kubeconfig=kubeconfig,
            namespace=namespace,
            dry_run_server=dry_run is DryRunChoice.server,
            force_conflicts=force_conflicts,
            apply_set=apply_set,
            prune=prune,
        )
    )


@crds_app.command("pull")
def crds_pull(
    sources: Annotated[list[str], typer.Argument(help="CRD file, directory or http(s) URL of a YAML file.", show_default=False)] = [],
    from_cluster: Annotated[bool, typer.Option("--from-cluster", help="Fetch every CRD from the current kubectl context.")] = False,
    context: Annotated[Optional[str], typer.Option("--context", help="kubectl context (with --from-cluster).")] = None,
    kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", help="kubeconfig file (with --from-cluster).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="Cache directory (default: $LLMKUBE_CACHE_DIR or ~/.cache/llmkube/crds).")] = None,
) -> None:
    """Store CRD schemas in the user cache that `validate` and `render` read."""
    from llmkube.commands.crds import run_pull

    raise typer.Exit(run_pull(sources, from_cluster=from_cluster, context=context, kubeconfig=kubeconfig, cache_dir=cache_dir))


@crds_app.command("list")
def crds_list(
    crds: CrdsOpt = [],
    no_cache: NoCacheOpt = False,
) -> None:
    """List the custom resource kinds whose schemas are available."""
    from llmkube.commands.crds import run_list

    raise typer.Exit(run_list(crds, use_cache=not no_cache))


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure ends in one of the documented exit codes."""
    try:
        app(args=argv, prog_name="llmkube")
    except InputError as exc:
        _print_input_error(exc)
        sys.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        sys.stderr.write("llmkube: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except Exception as exc:  # noqa: BLE001 - last line of defence
        if State.debug or os.environ.get("LLMKUBE_DEBUG"):
            traceback.print_exc()
        sys.stderr.write(
            f"llmkube: internal error: {type(exc).__name__}: {exc}\n"
            f"This is a bug in llmkube {__version__}: please report it to the llmkube maintainers"
            " with the output of the same command run with --debug.\n"
        )
        sys.exit(EXIT_INTERNAL)


def _print_input_error(exc: InputError) -> None:
    from llmkube.errors import InputErrors

    errors = exc.errors if isinstance(exc, InputErrors) else [exc]
    for err in errors:
        sys.stderr.write(f"llmkube: error: {err}\n")
    if len(errors) > 1:
        sys.stderr.write(f"llmkube: {len(errors)} errors\n")
