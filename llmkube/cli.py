"""The `llmkube` command line: parse options, call the pipeline, pick the exit code.

Exit codes: 0 ok · 1 findings · 2 bad input or usage · 3 internal error · 4 (apply) outcome unknown · 130 interrupted.
"""

# No `from __future__ import annotations` here: the commands' annotations (typer.Option(...) in
# Annotated) are built when each `def` runs, and `with_options` reads them as objects. As strings,
# `inspect.signature(..., eval_str=True)` compiled each one again on every start-up (~2 ms).
import errno
import functools
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from llmkube import __version__
from llmkube.errors import InputError
from llmkube.options import APPLY_SET_ENV, DEFAULT_APPLY_SET, InputLimits, Options

EXIT_OK, EXIT_INPUT, EXIT_INTERNAL = 0, 2, 3

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
profiles_app = typer.Typer(help="Import model profiles from Hugging Face configs; list and show profiles.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")
rules_app = typer.Typer(help="List the LLM-aware rules and show their documentation.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
rollout_app = typer.Typer(help="Move a KServe canary through its stages by its TTFT, TPOT, latency and error gates.", no_args_is_help=True)
app.add_typer(rollout_app, name="rollout")


class State:
    debug = False
    color = "auto"
    config_file: Optional[Path] = None  # --config
    no_config = False  # --no-config
    config: Any = None  # the project's Config, read on first use (`project_config`)


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notes on stderr: only errors, warnings and the output.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also say what was read: every object validate checks, with its file and line.")] = False,
    config_file: Annotated[
        Optional[Path],
        typer.Option("--config", metavar="FILE", help="Settings file to use instead of the nearest .llmkube.yaml or pyproject.toml [tool.llmkube]."),
    ] = None,
    no_config: Annotated[bool, typer.Option("--no-config", help="Read no settings file: only flags and defaults.")] = False,
) -> None:
    """Global options: given before the command or anywhere after it (see `hoist_global_options`)."""
    from llmkube import progress
    from llmkube.commands.common import set_verbosity

    if quiet and verbose:
        raise typer.BadParameter("give --quiet or --verbose, not both", param_hint="'--quiet' / '--verbose'")
    if config_file is not None and no_config:
        raise typer.BadParameter("give --config or --no-config, not both", param_hint="'--config' / '--no-config'")
    State.debug = debug
    State.color = color.value
    State.config_file, State.no_config, State.config = config_file, no_config, None
    set_verbosity(-1 if quiet else 1 if verbose else 0)
    progress.allow(not quiet)
    progress.set_color(color.value)


#: The root's options, which `hoist_global_options` moves before the command.
GLOBAL_FLAGS = frozenset({"--debug", "--quiet", "-q", "--verbose", "-v", "--no-config"})
GLOBAL_VALUED = frozenset({"--color", "--config"})


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """`llmkube validate x --debug` as `llmkube --debug validate x`: global options found after the
    command move before it (click reads a group's options only there). Nothing after `--` moves,
    so a file really named `-v` is still reachable as `-- -v` or `./-v`."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg in GLOBAL_FLAGS or arg.split("=", 1)[0] in GLOBAL_VALUED and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_VALUED and i + 1 < len(argv):
            front += [arg, argv[i + 1]]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


PathsArg = Annotated[list[str], typer.Argument(metavar="PATH", help="Spec or manifest files, directories, or - for stdin.", show_default=False)]

# --------------------------------------------------------------------------- the shared options, declared once

ProfilesOpt = Annotated[list[Path], typer.Option("--profiles", metavar="DIR", help="Extra GPU/model profile directory (repeatable; searched first).")]
TemplatesOpt = Annotated[list[Path], typer.Option("--templates", metavar="DIR", help="Template directory searched before the built-ins (repeatable).")]
CrdsOpt = Annotated[list[Path], typer.Option("--crds", metavar="DIR", help="Directory of CRD YAML files (repeatable).")]
KubeVersionOpt = Annotated[str, typer.Option("--kube-version", metavar="X.Y", help="Kubernetes version of the core schemas, X.Y.")]
KueueOpt = Annotated[KueueAPIChoice, typer.Option("--kueue-api", help="Kueue API version to emit: v1beta2 (Kueue ≥ 0.16) or v1beta1.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read CRDs from the user cache (`llmkube crds pull`).")]
MaxInputOpt = Annotated[int, typer.Option("--max-input-mb", metavar="MIB", min=1, help="Largest input file (or stdin) read, in MiB.")]
MaxDocsOpt = Annotated[int, typer.Option("--max-documents", metavar="N", min=1, help="Most YAML documents read over all inputs.")]
IgnoreOpt = Annotated[list[str], typer.Option("--ignore", metavar="CODE", help="Rule code to silence for this run (repeatable), e.g. LK301.")]
MaxAliasOpt = Annotated[int, typer.Option("--max-alias-nodes", metavar="N", min=0, help="Most nodes YAML aliases may bring into one document.")]

_DEFAULTS = Options()

#: Parameter name → (its typer declaration, its default), in the order --help lists them.
_SHARED: dict[str, tuple[Any, Any]] = {
    "profiles": (ProfilesOpt, []),
    "templates": (TemplatesOpt, []),
    "crds": (CrdsOpt, []),
    "kube_version": (KubeVersionOpt, _DEFAULTS.kube_version),
    "kueue_api": (KueueOpt, KueueAPIChoice(_DEFAULTS.kueue_api)),
    "no_cache": (NoCacheOpt, not _DEFAULTS.use_cache),
    "max_input_mb": (MaxInputOpt, _DEFAULTS.limits.max_input_mb),
    "max_documents": (MaxDocsOpt, _DEFAULTS.limits.max_documents),
    "max_alias_nodes": (MaxAliasOpt, _DEFAULTS.limits.max_alias_nodes),
    "ignore": (IgnoreOpt, []),
}
SPEC_OPTIONS = tuple(name for name in _SHARED if name != "ignore")
LIMIT_OPTIONS = ("max_input_mb", "max_documents", "max_alias_nodes")
PLAN_OPTIONS = ("profiles", "templates", "kueue_api", *LIMIT_OPTIONS)
CRD_OPTIONS = ("crds", "no_cache")


def project_config() -> Any:
    """The settings file of this run (`--config`, else the nearest one; none with --no-config), read once."""
    if State.config is None:
        from llmkube.config import Config, find_config, load_config, unknown_code_problems

        path = None if State.no_config else State.config_file or find_config(Path.cwd())
        if State.config_file is not None and not State.config_file.is_file():
            raise InputError(f"--config {State.config_file}: no such file")
        config = load_config(path) if path is not None else Config()
        if any(str(c).startswith("LK") for name in ("ignore", "severity") for c in config.values.get(name, ())):
            from llmkube.check.rules import unknown_codes
            from llmkube.errors import combined

            problems = unknown_code_problems(config, unknown_codes)
            if problems:
                raise combined(problems)
        State.config = config
    return State.config


def _flag_value(key: Any, value: Any) -> Any:
    """A flag's value in the settings' terms (what the file would hold)."""
    if key.kind == "dirs":
        return tuple(str(p) for p in value)
    if key.kind == "codes":
        return tuple(c.strip() for item in value for c in str(item).split(",") if c.strip())
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


def _given(ctx: Any, name: str) -> bool:
    """Was parameter `name` given on the command line (click's ParameterSource), not defaulted?"""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def command_settings(ctx: typer.Context, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every setting of this run, with its source: the flags given on the command line,
    then the settings file, then the defaults."""
    from llmkube.config import BY_PARAM, effective

    flags = {}
    for name, value in kwargs.items():
        key = BY_PARAM.get(name)
        if key is not None and _given(ctx, name):
            flags[key.name] = _flag_value(key, value)
    if _given(ctx.find_root(), "color"):
        flags["color"] = State.color
    return effective(project_config(), flags, os.environ)


def _options(settings: dict[str, Any]) -> Options:
    """The run's `Options` from its settings."""
    s = {name: setting.value for name, setting in settings.items()}
    return Options(
        profile_dirs=tuple(s["profiles"]),
        template_dirs=tuple(s["templates"]),
        crd_dirs=tuple(Path(d) for d in s["crds"]),
        kube_version=s["kube-version"],
        kueue_api=s["kueue-api"],
        use_cache=not s["no-cache"],
        ignore=tuple(s["ignore"]),
        severity=tuple(sorted(s["severity"].items())),
        limits=InputLimits(s["max-input-mb"], s["max-documents"], s["max-alias-nodes"]),
    )


_CTX = "llmkube_context"  # the click context typer passes to `with_options` commands


def with_options(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the shared options `names`, collected into its `options: Options` parameter.

    typer sees the shared options where `options` stands in the command's signature (so
    --help lists them there); the command receives them as one `Options` value, with the
    settings file filled in where no flag was given (`command_settings`). The command's own
    parameters that are settings too (`--strict`, `--apply-set`, ...) get the file's value
    the same way; a `settings` parameter, if the command has one, receives every setting
    with its source (`llmkube config`).
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        from llmkube.config import BY_PARAM

        signature = inspect.signature(command, eval_str=True)
        params: list[inspect.Parameter] = []
        for param in signature.parameters.values():
            if param.name == "settings":
                continue
            if param.name != "options":
                params.append(param)
                continue
            params += [
                inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=_SHARED[name][0], default=_SHARED[name][1])
                for name in names
            ]
        params.append(inspect.Parameter(_CTX, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))
        wants_settings = "settings" in signature.parameters

        @functools.wraps(command)
        def with_shared(**kwargs: Any) -> None:
            settings = command_settings(kwargs.pop(_CTX), kwargs)
            for name in names:
                kwargs.pop(name)
            for name in list(kwargs):
                key = BY_PARAM.get(name)
                if key is not None and settings[key.name].source != "flag":
                    value = settings[key.name].value
                    kwargs[name] = Path(value) if key.kind == "dir" and value is not None else value
            State.color = settings["color"].value
            from llmkube import progress

            progress.set_color(State.color)
            if wants_settings:
                kwargs["settings"] = settings
            command(options=_options(settings), **kwargs)

        del with_shared.__wrapped__  # typer reads the signature below, not the command's
        setattr(with_shared, "__signature__", signature.replace(parameters=params))
        with_shared.__annotations__ = {p.name: p.annotation for p in params}
        return with_shared

    return decorate


# --------------------------------------------------------------------------- commands


IgnoreMissingOpt = Annotated[
    bool,
    typer.Option(
        "--ignore-missing-schemas",
        help="Skip custom resources whose CRD schema is not at hand instead of failing (validate) or noting it (render).",
    ),
]


@app.command()
@with_options(*SPEC_OPTIONS)
def render(
    paths: PathsArg,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-d", metavar="DIR", help="Write one file per object here (all or nothing).")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.yaml,
    options: Options = _DEFAULTS,
    ignore_missing_schemas: IgnoreMissingOpt = False,
) -> None:
    """Render llmkube specs into Kubernetes manifests, checked against the schemas at hand."""
    from llmkube.commands.render import run_render

    raise typer.Exit(
        run_render(paths, options, output_dir=output_dir, fmt=fmt.value, color=State.color, ignore_missing_schemas=ignore_missing_schemas)
    )


@app.command()
@with_options(*SPEC_OPTIONS, "ignore")
def validate(
    paths: PathsArg,
    output: Annotated[ReportFormat, typer.Option("--output", "-o", help="Report format.")] = ReportFormat.text,
    options: Options = _DEFAULTS,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the run too (exit 1).")] = False,
    output_file: Annotated[
        Optional[Path], typer.Option("--output-file", metavar="FILE", help="Also write the report here (.json, .sarif, .xml pick the format); missing directories are created.")
    ] = None,
    ignore_missing_schemas: IgnoreMissingOpt = False,
    sarif_base: Annotated[
        Optional[Path], typer.Option("--sarif-base", metavar="DIR", help="Directory SARIF file URIs are relative to (uriBaseId %SRCROOT%); default: the working directory.")
    ] = None,
    skip_non_manifests: Annotated[
        bool,
        typer.Option(
            "--skip-non-manifests",
            help="Skip files that are not Kubernetes manifests or llmkube specs (no apiVersion and kind, Helm templates,"
            " kustomizations, Compose files) instead of failing on them; for pre-commit.",
        ),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", "-j", metavar="N", min=0,
            help="Processes for the schema and CEL checks (the rules run beside them on the whole run);"
            " 0: as many as there are free cores for a large run, else 1. The report is the same for every N.",
        ),
    ] = 0,
) -> None:
    """Check llmkube specs and plain Kubernetes manifests: API schemas, CEL rules and LLM-aware rules."""
    import dataclasses

    from llmkube.commands.validate import run_validate

    raise typer.Exit(
        run_validate(
            paths,
            dataclasses.replace(options, jobs=jobs),
            report=output.value,
            strict=strict,
            output_file=output_file,
            color=State.color,
            ignore_missing_schemas=ignore_missing_schemas,
            sarif_base=sarif_base,
            skip_non_manifests=skip_non_manifests,
        )
    )


class PlanFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
@with_options(*PLAN_OPTIONS)
def plan(
    paths: PathsArg,
    output: Annotated[PlanFormat, typer.Option("--output", "-o", help="Table for people, or json.")] = PlanFormat.text,
    options: Options = _DEFAULTS,
) -> None:
    """Size every endpoint and job: memory per GPU, headroom, concurrency, load time, a recommendation."""
    from llmkube.commands.plan import run_plan

    raise typer.Exit(run_plan(paths, options, report=output.value, color=State.color))


KubeContextOpt = Annotated[Optional[str], typer.Option("--context", metavar="NAME", help="kubectl context to use (must exist in the kubeconfig).")]
KubeconfigOpt = Annotated[Optional[str], typer.Option("--kubeconfig", metavar="FILE", help="Path to the kubeconfig file.")]
TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", metavar="SECONDS", min=1, help="Seconds each kubectl run may take; an apply that runs out of time exits 4 (outcome unknown)."),
]
ClusterOpt = Annotated[
    Optional[list[str]], typer.Option("--cluster", metavar="NAME", help="Send only this cluster of a MultiKueue federation (repeatable; default: all).")
]
ClusterContextOpt = Annotated[
    Optional[list[str]],
    typer.Option("--cluster-context", metavar="NAME=CONTEXT", help="NAME=CONTEXT: the kubectl context of a federation's cluster (repeatable; overrides the spec)."),
]
NamespaceOpt = Annotated[Optional[str], typer.Option("--namespace", "-n", metavar="NAME", help="Namespace for namespaced objects that name none.")]
ApplySetOpt = Annotated[
    Optional[str],
    typer.Option(
        "--apply-set",
        metavar="NAME",
        help="Name of the set of objects llmkube manages (label llmkube.dev/apply-set;"
        f" default ${APPLY_SET_ENV} or {DEFAULT_APPLY_SET!r}); pruning only touches this set.",
    ),
]


@app.command()
@with_options(*SPEC_OPTIONS)
def diff(
    paths: PathsArg,
    context: KubeContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = None,
    apply_set: ApplySetOpt = None,
    timeout: TimeoutOpt = 300.0,
    prune: Annotated[
        bool, typer.Option("--prune", help="Also list the objects `apply --prune` would delete (they count as changes: exit 1).")
    ] = False,
    cluster: ClusterOpt = None,
    cluster_context: ClusterContextOpt = None,
    options: Options = _DEFAULTS,
    ignore_missing_schemas: Annotated[
        bool,
        typer.Option("--ignore-missing-schemas", help="Custom resources without an offline CRD schema are not checked against the cluster's CRDs either; no note."),
    ] = False,
) -> None:
    """Show what `apply` would change (kubectl diff --server-side); exit 1 when something would."""
    from llmkube.commands.kubeapply import run_diff

    raise typer.Exit(
        run_diff(
            paths,
            options,
            context=context,
            kubeconfig=kubeconfig,
            namespace=namespace,
            apply_set=apply_set,
            timeout=timeout,
            color=State.color,
            prune=prune,
            ignore_missing_schemas=ignore_missing_schemas,
            clusters=cluster or (),
            cluster_context=cluster_context or (),
        )
    )


class DryRunChoice(str, Enum):
    none = "none"
    server = "server"


@app.command()
@with_options(*SPEC_OPTIONS)
def apply(
    paths: PathsArg,
    context: KubeContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = None,
    dry_run: Annotated[DryRunChoice, typer.Option("--dry-run", help="server: send everything with dryRun, persist nothing.")] = DryRunChoice.none,
    force_conflicts: Annotated[bool, typer.Option("--force-conflicts", help="Take over fields another field manager owns.")] = False,
    prune: Annotated[bool, typer.Option("--prune/--no-prune", help="Delete objects llmkube applied earlier that left the specs.")] = False,
    apply_set: ApplySetOpt = None,
    timeout: TimeoutOpt = 300.0,
    create_namespace: Annotated[
        bool, typer.Option("--create-namespace", help="Create the target namespaces the cluster lacks (as helm does) instead of refusing.")
    ] = False,
    cluster: ClusterOpt = None,
    cluster_context: ClusterContextOpt = None,
    options: Options = _DEFAULTS,
    ignore_missing_schemas: Annotated[
        bool,
        typer.Option("--ignore-missing-schemas", help="Custom resources without an offline CRD schema are not checked against the cluster's CRDs either; no note."),
    ] = False,
) -> None:
    """Render, check, and apply with kubectl server-side apply (refuses on any check error)."""
    from llmkube.commands.kubeapply import run_apply

    raise typer.Exit(
        run_apply(
            paths,
            options,
            context=context,
            kubeconfig=kubeconfig,
            namespace=namespace,
            dry_run_server=dry_run is DryRunChoice.server,
            force_conflicts=force_conflicts,
            apply_set=apply_set,
            prune=prune,
            timeout=timeout,
            color=State.color,
            create_namespace=create_namespace,
            ignore_missing_schemas=ignore_missing_schemas,
            clusters=cluster or (),
            cluster_context=cluster_context or (),
        )
    )


CacheDirOpt = Annotated[
    Optional[Path], typer.Option("--cache-dir", metavar="DIR", help="CRD cache directory (default: $LLMKUBE_CACHE_DIR or ~/.cache/llmkube/crds).")
]


@crds_app.command("pull")
def crds_pull(
    sources: Annotated[
        list[str],
        typer.Argument(
            metavar="SOURCE",
            help="Catalog project (kueue, kueue@v0.19.2; see `llmkube crds catalog`), CRD file, directory,"
            " or http(s)/file:// URL of a YAML file. None: every catalog project (--all).",
            show_default=False,
        ),
    ] = [],
    pull_all: Annotated[bool, typer.Option("--all", help="Every catalog project at the release llmkube targets.")] = False,
    from_cluster: Annotated[bool, typer.Option("--from-cluster", help="Fetch every CRD from the current kubectl context.")] = False,
    context: Annotated[Optional[str], typer.Option("--context", metavar="NAME", help="kubectl context (with --from-cluster).")] = None,
    kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", metavar="FILE", help="kubeconfig file (with --from-cluster).")] = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Store CRD schemas in the user cache that `validate` and `render` read."""
    from llmkube.commands.crds import run_pull

    raise typer.Exit(
        run_pull(sources, pull_all=pull_all, from_cluster=from_cluster, context=context, kubeconfig=kubeconfig, cache_dir=cache_dir)
    )


@crds_app.command("list")
@with_options(*CRD_OPTIONS)
def crds_list(options: Options = _DEFAULTS, cache_dir: CacheDirOpt = None) -> None:
    """List the custom resource kinds whose schemas are available, and where each came from."""
    from llmkube.commands.crds import run_list

    raise typer.Exit(run_list(options, cache_dir=cache_dir))


@crds_app.command("catalog")
def crds_catalog() -> None:
    """List the upstream projects `crds pull` knows, with the release llmkube targets."""
    from llmkube.commands.crds import run_catalog

    raise typer.Exit(run_catalog())


PROFILE_OPTIONS = ("profiles",)


@profiles_app.command("import")
def profiles_import(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="A config.json, a model directory holding one, or a Hugging Face id (online, needs the hub extra).", show_default=False)],
    name: Annotated[Optional[str], typer.Option("--name", metavar="NAME", help="metadata.name of the profile (default: from the id or directory).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write the profile to this file (default: stdout).")] = None,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-d", metavar="DIR", help="Write <name>.yaml into this profile directory.")] = None,
    hf_id: Annotated[Optional[list[str]], typer.Option("--hf-id", metavar="ORG/NAME", help="The checkpoint's Hugging Face id, by which a spec's model finds the profile (repeatable; a local file otherwise gets local/<name>).")] = None,
) -> None:
    """Write a ModelProfile from a Hugging Face config.json: shapes, context, dtype, quantization."""
    from llmkube.commands.profiles import run_import

    raise typer.Exit(run_import(source, name=name, output=output, output_dir=output_dir, hf_ids=hf_id or ()))


@profiles_app.command("list")
@with_options(*PROFILE_OPTIONS)
def profiles_list(
    output: Annotated[PlanFormat, typer.Option("--output", "-o", help="Table for people, or json.")] = PlanFormat.text,
    options: Options = _DEFAULTS,
) -> None:
    """List the GPU and model profiles on the search path."""
    from llmkube.commands.profiles import run_list

    raise typer.Exit(run_list(options, report=output.value))


@profiles_app.command("show")
@with_options(*PROFILE_OPTIONS)
def profiles_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Profile name, Hugging Face id or config.json path.", show_default=False)],
    output: Annotated[PlanFormat, typer.Option("--output", "-o", help="YAML for people, or json with derived figures.")] = PlanFormat.text,
    options: Options = _DEFAULTS,
) -> None:
    """Show one profile and what its shapes give (parameters per module group, checkpoint bytes)."""
    from llmkube.commands.profiles import run_show

    raise typer.Exit(run_show(name, options, report=output.value))


class StarterChoice(str, Enum):
    training = "training"
    serving = "serving"
    fleet = "fleet"
    quota = "quota"


@app.command()
def init(
    kind: Annotated[StarterChoice, typer.Argument(metavar="KIND", help="What the spec is for: training, serving, fleet or quota.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write the spec to this file (default: stdout).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --output file if it exists.")] = False,
) -> None:
    """Write a commented starter spec (training, serving, fleet, quota) that renders clean."""
    from llmkube.commands.init import run_init

    raise typer.Exit(run_init(kind.value, output=output, force=force))


@rules_app.command("list")
def rules_list(
    output: Annotated[PlanFormat, typer.Option("--output", "-o", help="Table for people, or json.")] = PlanFormat.text,
) -> None:
    """List the LLM-aware rules: code, name, severity, summary."""
    from llmkube.commands.rules import run_list

    raise typer.Exit(run_list(report=output.value))


@rules_app.command("show")
def rules_show(
    code: Annotated[str, typer.Argument(metavar="CODE", help="Rule code (LK201) or name (nproc-per-node).", show_default=False)],
) -> None:
    """Show a rule's documentation: what it checks, why, and a failing and a passing example."""
    from llmkube.commands.rules import run_show

    raise typer.Exit(run_show(code))


@app.command()
def explain(
    field: Annotated[str, typer.Argument(metavar="KIND[.FIELD]", help="KIND or KIND.field.path, e.g. TrainingJob.spec.gang or Fleet.spec.pools.gpu.", show_default=False)],
    output: Annotated[PlanFormat, typer.Option("--output", "-o", help="Text for people, or json.")] = PlanFormat.text,
) -> None:
    """Describe a spec field: type, default, allowed values, meaning, and the fields below it."""
    from llmkube.commands.explain import run_explain

    raise typer.Exit(run_explain(field, report=output.value))


@app.command()
def schema(
    # None, not []: click before 8.2 refuses a default on a variadic argument.
    kinds: Annotated[Optional[list[str]], typer.Argument(metavar="KIND", help="Spec kinds to include (default: all of them).", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write the schema to this file (default: stdout).")] = None,
) -> None:
    """Write a JSON Schema (draft-07) of the spec kinds, for editors such as yaml-language-server."""
    from llmkube.commands.explain import run_schema

    raise typer.Exit(run_schema(kinds or [], output=output))


class ShellChoice(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


COMPLETE_VAR = "_LLMKUBE_COMPLETE"


@app.command()
def completion(shell: Annotated[ShellChoice, typer.Argument(metavar="SHELL", help="bash, zsh or fish.", show_default=False)]) -> None:
    """Print the shell completion script (as `kubectl completion` and `helm completion` do); see docs/cli.md to install it."""
    from typer.completion import get_completion_script

    typer.echo(get_completion_script(prog_name="llmkube", complete_var=COMPLETE_VAR, shell=shell.value))


@app.command("config")
@with_options(*SPEC_OPTIONS, "ignore")
def config_command(
    output: Annotated[PlanFormat, typer.Option("--output", "-o", help="Table for people, or json.")] = PlanFormat.text,
    options: Options = _DEFAULTS,
    settings: Any = None,
) -> None:
    """Show the effective settings and where each came from: a flag, the settings file (path:line), or the default."""
    from llmkube.commands.config import run_config

    raise typer.Exit(run_config(project_config().path, settings, report=output.value))


def _readable_arguments(command: Any) -> None:
    """Show arguments by their metavar, click's way (`PATH...`, `[SOURCE]...`), in every command.

    typer 0.29 writes an argument as `{paths}...` in the usage line and `paths... <list[str]>`
    in the help (typer/core.py, TyperArgument._usage_display_name and display_type): Python
    types where a reader wants a word. The arguments are given a subclass that overrides the
    public click methods behind both.
    """
    from typer.core import TyperArgument

    class ReadableArgument(TyperArgument):
        def display_type_rich(self, ctx: Any) -> str | None:
            return None

        def get_usage_pieces(self, ctx: Any) -> list[str]:
            name = self.metavar or (self.name or "").upper()
            name = name if self.nargs == 1 or name.endswith("...") else f"{name}..."
            return [name if self.required else f"[{name}]"]

        def get_help_record(self, ctx: Any) -> tuple[str, str] | None:
            record = super().get_help_record(ctx)
            if record is None or self.nargs == 1 or record[0].endswith("..."):
                return record
            return f"{record[0]}...", record[1]

    for param in getattr(command, "params", []):
        if type(param) is TyperArgument:
            param.__class__ = ReadableArgument
    for sub in getattr(command, "commands", {}).values():
        _readable_arguments(sub)


def cli_command(argv: Sequence[str] | None = None) -> Any:
    """The click command tree of `app`, with readable arguments.

    Given a run's arguments (global options hoisted), only the command they name is built: typer
    reads the signature and evaluates the type hints of every command it builds, ~15 ms for all of
    them on every run. Root help, `--version`, completion and an unknown or mistyped command (whose
    error lists the others) get the whole tree, as does `argv=None`. Option values are converted
    without pydantic where typer's conversion is plain (`cliconvert`).
    """
    from llmkube.cliconvert import plain_everywhere

    command = typer.main.get_command(_narrowed(app, argv) if argv is not None else app)
    _readable_arguments(command)
    plain_everywhere(command)  # typer's conversion without pydantic for plain values
    return command


def _invoked(argv: Sequence[str]) -> str | None:
    """The command word of hoisted arguments (after the global options), or None if none comes first."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in GLOBAL_FLAGS or arg.split("=", 1)[0] in GLOBAL_VALUED and "=" in arg:
            i += 1
        elif arg in GLOBAL_VALUED:
            i += 2
        else:
            return None if arg.startswith("-") else arg
    return None


def _narrowed(root: typer.Typer, argv: Sequence[str]) -> typer.Typer:
    """`root` with only the command or command group `argv` invokes (root itself when it names none)."""
    import copy

    name = _invoked(argv)
    commands = [c for c in root.registered_commands if c.callback and (c.name or typer.main.get_command_name(c.callback.__name__)) == name]
    groups = [g for g in root.registered_groups if g.name == name]
    if name is None or not (commands or groups):
        return root
    narrowed = copy.copy(root)
    narrowed.registered_commands, narrowed.registered_groups = commands, groups
    return narrowed


RolloutSpecArg = Annotated[list[str], typer.Argument(metavar="SPEC", help="The InferenceEndpoint spec file (or a directory, or - for stdin).", show_default=False)]
PrometheusOpt = Annotated[Optional[str], typer.Option("--prometheus", metavar="URL", help="Prometheus URL (default: spec.rollout.prometheus).")]
RolloutNameOpt = Annotated[Optional[str], typer.Option("--name", metavar="NAME", help="The InferenceEndpoint to roll out, when the inputs hold several.")]
RolloutDryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Decide and print, change nothing.")]
RolloutOutputOpt = Annotated[PlanFormat, typer.Option("--output", "-o", help="text: the evidence table; json: decision and evidence.")]


def _rollout(command: str, paths: list[str], options: Options, **kwargs: Any) -> None:
    from llmkube.commands.rollout import run_rollout

    output = kwargs.pop("output")
    raise typer.Exit(run_rollout(command, paths, options, output=output.value, **kwargs))


@rollout_app.command("status")
@with_options(*LIMIT_OPTIONS)
def rollout_status(
    paths: RolloutSpecArg, prometheus: PrometheusOpt = None, name: RolloutNameOpt = None,
    output: RolloutOutputOpt = PlanFormat.text, context: KubeContextOpt = None, kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = None, timeout: TimeoutOpt = 300.0, options: Options = _DEFAULTS,
) -> None:
    """Show the canary's stage, its gates against the baseline, and what `step` would do; changes nothing (exit 0)."""
    _rollout("status", paths, options, prometheus=prometheus, name=name, output=output, context=context,
             kubeconfig=kubeconfig, namespace=namespace, timeout=timeout)


@rollout_app.command("step")
@with_options(*LIMIT_OPTIONS)
def rollout_step(
    paths: RolloutSpecArg, prometheus: PrometheusOpt = None, name: RolloutNameOpt = None, dry_run: RolloutDryRunOpt = False,
    output: RolloutOutputOpt = PlanFormat.text, context: KubeContextOpt = None, kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = None, timeout: TimeoutOpt = 300.0, options: Options = _DEFAULTS,
) -> None:
    """Advance one stage when every gate passes, roll back when one fails, else wait. Exit 0 advanced/promoted, 5 waiting, 6 rolled back, 2 error."""
    _rollout("step", paths, options, prometheus=prometheus, name=name, dry_run=dry_run, output=output,
             context=context, kubeconfig=kubeconfig, namespace=namespace, timeout=timeout)


@rollout_app.command("promote")
@with_options(*LIMIT_OPTIONS)
def rollout_promote(
    paths: RolloutSpecArg, prometheus: PrometheusOpt = None, name: RolloutNameOpt = None, dry_run: RolloutDryRunOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Promote without reading Prometheus or the gates.")] = False,
    output: RolloutOutputOpt = PlanFormat.text, context: KubeContextOpt = None, kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = None, timeout: TimeoutOpt = 300.0, options: Options = _DEFAULTS,
) -> None:
    """Skip the remaining stages: 100 % to the canary if every gate passes now. Exit 0 promoted, 1 refused, 5 traffic too thin."""
    _rollout("promote", paths, options, prometheus=prometheus, name=name, dry_run=dry_run, force=force, output=output,
             context=context, kubeconfig=kubeconfig, namespace=namespace, timeout=timeout)


@rollout_app.command("rollback")
@with_options(*LIMIT_OPTIONS)
def rollout_rollback(
    paths: RolloutSpecArg, name: RolloutNameOpt = None, dry_run: RolloutDryRunOpt = False,
    prometheus: Annotated[Optional[str], typer.Option("--prometheus", metavar="URL", help="Accepted like the other rollout commands; rollback reads no metrics.")] = None,
    output: RolloutOutputOpt = PlanFormat.text, context: KubeContextOpt = None, kubeconfig: KubeconfigOpt = None,
    namespace: NamespaceOpt = None, timeout: TimeoutOpt = 300.0, options: Options = _DEFAULTS,
) -> None:
    """All traffic back to the baseline revision (canaryTrafficPercent 0), no metrics read. Exit 6 rolled back."""
    _rollout("rollback", paths, options, name=name, dry_run=dry_run, output=output, context=context,
             kubeconfig=kubeconfig, namespace=namespace, timeout=timeout)


#: pydantic's documented switch for its plugins. Looking for them scans the entry points of every
#: installed distribution (6–12 ms for 61 of them on a busy machine), the first time a model builds its
#: validator; llmkube's spec models are its own and take no plugin, so a run turns the search off
#: unless the user set the switch.
PYDANTIC_PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure ends in one of the documented exit codes."""
    from llmkube import gcpause, runenv

    collecting = gcpause.pause()  # start-up builds objects that live until exit: see gcpause
    no_plugins = runenv.set_default(PYDANTIC_PLUGINS_ENV, "__all__")  # kubectl does not inherit it
    try:
        try:
            if COMPLETE_VAR in os.environ:  # a shell asks for completions: register typer's shells only then
                from typer.completion import completion_init

                completion_init()
            args = hoist_global_options(sys.argv[1:] if argv is None else argv)
            cli_command(args)(args=args, prog_name="llmkube")
        finally:
            gcpause.restore(collecting)
            if no_plugins:  # an in-process caller keeps its environment
                runenv.unset(PYDANTIC_PLUGINS_ENV)
            sys.stdout.flush()  # here, not at exit: a full disk or a closed pipe is seen and reported
    except InputError as exc:
        _print_input_error(exc)
        sys.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        sys.stderr.write("llmkube: interrupted\n")
        sys.exit(130)
    except SystemExit as exc:
        if exc.code == 130:  # typer turns Ctrl-C inside a command into exit 130, silently
            sys.stderr.write("llmkube: interrupted\n")
        raise
    except BrokenPipeError:
        _drop_stdout()
        sys.exit(EXIT_OK)
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            _print_internal_error(exc)
            sys.exit(EXIT_INTERNAL)
        _drop_stdout()
        sys.stderr.write(f"llmkube: error: cannot write the output: {exc.strerror}\n")
        sys.exit(EXIT_INPUT)
    except Exception as exc:  # noqa: BLE001 - last line of defence
        _print_internal_error(exc)
        sys.exit(EXIT_INTERNAL)


#: Errors of the device written to (a full disk, a failing one, a quota): the user's to fix, never our bug.
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG})


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (a test's capture)
        pass


def _print_internal_error(exc: Exception) -> None:
    """Our own bug, on one line: a value in the exception (a token pasted into a spec) is masked like everywhere else."""
    from llmkube.oneline import one_line
    from llmkube.secrets import mask

    if State.debug or os.environ.get("LLMKUBE_DEBUG"):
        sys.stderr.write(mask(traceback.format_exc()))
    sys.stderr.write(
        f"llmkube: internal error: {one_line(mask(f'{type(exc).__name__}: {exc}'))}\n"
        f"This is a bug in llmkube {__version__}: please report it to the llmkube maintainers"
        " with the output of the same command run with --debug.\n"
    )


def _print_input_error(exc: InputError) -> None:
    from llmkube.errors import InputErrors

    from llmkube.commands.common import input_error_lines

    errors = exc.errors if isinstance(exc, InputErrors) else [exc]
    for err in errors:
        sys.stderr.write("".join(line + "\n" for line in input_error_lines(err)))
    if len(errors) > 1:
        sys.stderr.write(f"llmkube: {len(errors)} errors\n")
