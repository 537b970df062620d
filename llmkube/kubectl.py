"""The only place in llmkube that runs kubectl.

Arguments are always built as lists (never a shell string) and manifests go to
kubectl on stdin. kubectl's own output is returned to the caller to show;
conditions the user has to fix before anything can work -- no kubectl binary, a
`--context` that is not in the kubeconfig, a cluster that cannot be reached --
raise `InputError` (exit code 2) with one clear line and a hint.

    kc = Kubectl(context="prod")
    result = kc.diff(manifest_yaml)        # exit 0 no change, 1 changes, >1 error
    result = kc.apply(manifest_yaml, dry_run_server=True)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence

from llmkube import apimachinery, runenv
from llmkube.errors import InputError
from llmkube.records import record

DEFAULT_FIELD_MANAGER = "llmkube"
DEFAULT_TIMEOUT = 300.0  # seconds for one kubectl run (`--timeout`): a large apply takes minutes, not hours

# kubectl's messages when the API server cannot be reached at all
_UNREACHABLE = re.compile(
    r"connection refused|was refused|no such host|i/o timeout|network is unreachable|no route to host|"
    r"Unable to connect to the server|TLS handshake timeout|connection reset by peer|"
    r"dial tcp|server misbehaving",
    re.IGNORECASE,
)
# klog lines (E1127 19:32:47.105912    8292 file.go:166] ...) are noise for users
_KLOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\]")



@record(frozen=True)
class KubectlResult:
    """What one kubectl run produced (like `subprocess.CompletedProcess`)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    # A change kubectl was making may or may not have reached the cluster:
    # it ran out of time or was killed by a signal midway.
    unknown: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.unknown

    def message(self) -> str:
        """kubectl's stderr without klog noise, for showing to the user."""
        return _clean_stderr(self.stderr)


def _clean_stderr(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not _KLOG.match(line)]
    return "\n".join(lines)


def _check_label_key(key: str) -> None:
    if not isinstance(key, str) or apimachinery.qualified_name_errors(key):
        raise InputError(
            f"invalid label key {key!r}",
            hint="a label key is an optional DNS-subdomain prefix and '/', then a name of at most 63 "
            "characters [A-Za-z0-9-_.] starting and ending alphanumeric",
        )


def _check_label_value(key: str, value: str) -> None:
    if not isinstance(value, str) or apimachinery.label_value_errors(value):
        raise InputError(
            f"invalid value {value!r} for label {key!r}",
            hint="a label value is at most 63 characters [A-Za-z0-9-_.], starting and ending alphanumeric",
        )


@record(frozen=True)
class APIResource:
    """One resource type the API server serves (a row of `kubectl api-resources`)."""

    name: str  # plural, e.g. "clusterqueues"
    group: str  # "" for the core group
    version: str  # the version discovery prefers
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ()

    @property
    def qualified_name(self) -> str:
        """`configmaps` or `clusterqueues.kueue.x-k8s.io`: the name kubectl get takes (and a CRD's name)."""
        return f"{self.name}.{self.group}" if self.group else self.name


def parse_api_resources(table: str) -> list[APIResource]:
    """Rows of `kubectl api-resources -o wide` (columns found by the header's offsets:
    the SHORTNAMES and CATEGORIES cells may be empty)."""
    lines = [line for line in table.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("NAME"):
        return []
    header = lines[0]
    starts = [(m.group(0), m.start()) for m in re.finditer(r"\S+", header)]
    out = []
    for line in lines[1:]:
        cells = {}
        for i, (col, start) in enumerate(starts):
            end = starts[i + 1][1] if i + 1 < len(starts) else None
            cells[col] = line[start:end].strip()
        group, _, version = cells.get("APIVERSION", "").rpartition("/")
        if not cells.get("NAME") or not cells.get("KIND"):
            continue
        out.append(
            APIResource(
                name=cells["NAME"],
                group=group,
                version=version,
                kind=cells["KIND"],
                namespaced=cells.get("NAMESPACED") == "true",
                verbs=tuple(v for v in cells.get("VERBS", "").split(",") if v),
            )
        )
    return out


def format_selector(selector: Mapping[str, str]) -> str:
    """`{"pool": "a", "gpu": "h100"}` → `gpu=h100,pool=a` (validated, so no value can add a requirement)."""
    parts = []
    for key, value in sorted(selector.items()):
        _check_label_key(key)
        _check_label_value(key, value)
        parts.append(f"{key}={value}")
    return ",".join(parts)


class Kubectl:
    """Runs kubectl with an optional `--context` and `--kubeconfig`.

    `env` (keyword-only) replaces the environment kubectl runs with (default: this
    process's); `timeout` bounds each run in seconds.
    """

    def __init__(
        self,
        context: str | None = None,
        kubeconfig: str | None = None,
        binary: str = "kubectl",
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self.context = context
        self.kubeconfig = kubeconfig
        self.binary = binary
        self.env = dict(env) if env is not None else None
        self.timeout = timeout
        self._resolved: str | None = None
        self._context_checked = False

    # ------------------------------------------------------------------ plumbing

    def _path(self) -> str | None:
        env = self.env if self.env is not None else os.environ
        return env.get("PATH")

    def resolve_binary(self) -> str:
        """The kubectl executable's path, or InputError if there is none."""
        if self._resolved is None:
            found = shutil.which(self.binary, path=self._path())
            if found is None:
                looked = "" if self.binary == "kubectl" else f" (looked for {self.binary!r})"
                raise InputError(
                    f"kubectl not found on PATH{looked}",
                    hint="install kubectl (https://kubernetes.io/docs/tasks/tools/) or put it on PATH",
                )
            self._resolved = found
        return self._resolved

    def _global_args(self) -> list[str]:
        args = []
        if self.kubeconfig:
            args.append(f"--kubeconfig={self.kubeconfig}")
        if self.context:
            args.append(f"--context={self.context}")
        return args

    def _exec(
        self,
        args: list[str],
        *,
        input: str | None,
        extra_env: Mapping[str, str] | None = None,
        changes: bool = False,
    ) -> KubectlResult:
        """Run kubectl. A read that times out is an InputError (nothing changed); a run that
        `changes` the cluster and times out or is killed returns a result marked `unknown`."""
        argv = [self.resolve_binary(), *args]
        env = runenv.for_children(self.env)
        if extra_env:
            env.update(extra_env)
        try:
            proc = subprocess.run(
                argv,
                input=input,
                capture_output=True,
                text=True,
                env=env,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise InputError(f"kubectl not found on PATH (looked for {self.binary!r})") from None
        except subprocess.TimeoutExpired as exc:
            if changes:
                return KubectlResult(argv, -1, _text(exc.stdout), _text(exc.stderr), unknown=True)
            raise InputError(
                f"kubectl did not finish within {self.timeout:g} s: {' '.join(args[:3])}",
                hint="check that the cluster is reachable, or raise --timeout",
            ) from None
        killed = proc.returncode < 0  # ended by a signal: it may have sent part of the change
        return KubectlResult(argv, proc.returncode, proc.stdout, proc.stderr, unknown=changes and killed)

    def contexts(self) -> list[str]:
        """Context names in the kubeconfig (a local read: nothing is sent to a cluster)."""
        args = ["config", "get-contexts", "-o", "name"]
        if self.kubeconfig:
            args.insert(0, f"--kubeconfig={self.kubeconfig}")
        result = self._exec(args, input=None)
        if not result.ok:
            raise InputError(
                f"cannot read the kubeconfig: {result.message() or 'kubectl config get-contexts failed'}",
                hint="check --kubeconfig / $KUBECONFIG",
            )
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def check_context(self) -> None:
        """InputError if `context` is not in the kubeconfig (checked once, before any request)."""
        if self._context_checked or self.context is None:
            return
        available = self.contexts()
        if self.context not in available:
            raise InputError(
                f"kubectl context {self.context!r} not found in the kubeconfig",
                hint=("available contexts: " + ", ".join(available)) if available else "the kubeconfig has no contexts",
            )
        self._context_checked = True

    def run(
        self,
        args: list[str],
        *,
        input: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        changes: bool = False,
    ) -> KubectlResult:
        """Run `kubectl [--kubeconfig] [--context] ARGS`. Unreachable cluster → InputError.

        `changes`: the run writes to the cluster, so a timeout or a kill leaves its
        outcome unknown (a result with `unknown`), not "nothing happened".
        """
        self.check_context()
        result = self._exec([*self._global_args(), *args], input=input, extra_env=extra_env, changes=changes)
        if not result.ok and not result.unknown and is_unreachable(result.stderr):
            raise InputError(
                f"cannot reach the Kubernetes API server: {_unreachable_line(result.stderr)}",
                hint="check the cluster address, --context and your network/VPN",
            )
        return result

    def _run_json(self, args: list[str], what: str) -> dict:
        result = self.run(args)
        if not result.ok:
            raise InputError(f"{what} failed: {result.message() or f'kubectl exit code {result.returncode}'}")
        if not result.stdout.strip():
            return {"items": []}
        try:
            return json.loads(result.stdout)
        except ValueError as e:
            raise InputError(f"{what}: kubectl printed something that is not JSON ({e})") from None

    # ------------------------------------------------------------------ commands

    def get_crds(self, names: list[str] | None = None) -> list[dict]:
        """CustomResourceDefinitions from the cluster: all, or those of `names` that exist."""
        args = ["get", "customresourcedefinitions.apiextensions.k8s.io"]
        if names:
            args += list(names)
            args.append("--ignore-not-found")
        doc = self._run_json([*args, "-o", "json"], "kubectl get crd")
        if doc.get("kind") == "CustomResourceDefinition":
            return [doc]
        return list(doc.get("items") or [])

    def api_resources(self) -> list[APIResource]:
        """The resource types the cluster serves (`kubectl api-resources -o wide`).

        A group whose discovery fails (e.g. an unavailable metrics API) makes kubectl
        exit 1 but still print the others: those are returned.
        """
        result = self.run(["api-resources", "-o", "wide"])
        resources = parse_api_resources(result.stdout)
        if not result.ok and not resources:
            raise InputError(
                f"kubectl api-resources failed: {result.message() or f'kubectl exit code {result.returncode}'}"
            )
        return resources

    def api_versions(self) -> list[str]:
        """Every group/version the cluster serves (`kubectl api-versions`), e.g. `kueue.x-k8s.io/v1beta2`."""
        result = self.run(["api-versions"])
        versions = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if not result.ok and not versions:
            raise InputError(
                f"kubectl api-versions failed: {result.message() or f'kubectl exit code {result.returncode}'}"
            )
        return versions

    def default_namespace(self) -> str:
        """The namespace of the (current or `--context`) context, else `default` (a local read)."""
        result = self.run(["config", "view", "--minify", "-o", "jsonpath={.contexts[0].context.namespace}"])
        return (result.stdout.strip() if result.ok else "") or "default"

    def get_objects(
        self,
        resources: Iterable[str],
        *,
        selector: Mapping[str, str] | None = None,
        all_namespaces: bool = False,
        managed_fields: bool = False,
    ) -> list[dict]:
        """Objects of several resource types in one kubectl run.

        `resources` are either resource types (`configmaps`,
        `clusterqueues.kueue.x-k8s.io`): all their objects, filtered by `selector`,
        across all namespaces with `all_namespaces`; or `type/name` references
        (`namespaces/team-a`, `customresourcedefinitions.apiextensions.k8s.io/x`):
        those objects, skipping the ones that do not exist. `managed_fields` keeps
        `metadata.managedFields` (kubectl drops it by default).
        """
        items = sorted(set(resources))
        if not items:
            return []
        refs = [r for r in items if "/" in r]
        if refs and len(refs) != len(items):
            raise ValueError("get_objects takes resource types or type/name references, not both")
        args = ["get", *refs, "--ignore-not-found"] if refs else ["get", ",".join(items)]
        if all_namespaces:
            args.append("--all-namespaces")
        if selector:
            args += ["-l", format_selector(selector)]
        if managed_fields:
            args.append("--show-managed-fields")
        doc = self._run_json([*args, "-o", "json"], "kubectl get")
        if "items" not in doc and doc.get("kind"):
            return [doc]
        return list(doc.get("items") or [])

    def get_object(self, resource: str, name: str, namespace: str) -> dict | None:
        """One namespaced object (`kubectl get RESOURCE NAME -n NS -o json`); None when it does not exist."""
        doc = self._run_json(
            ["get", resource, name, f"--namespace={namespace}", "--ignore-not-found", "-o", "json"], "kubectl get"
        )
        return doc if doc.get("kind") and "items" not in doc else None

    def patch(
        self,
        resource: str,
        name: str,
        namespace: str,
        patch: Mapping,
        *,
        field_manager: str = DEFAULT_FIELD_MANAGER,
        dry_run: bool = False,
    ) -> KubectlResult:
        """A JSON merge patch of one object (`kubectl patch --type=merge`); a None value removes a field."""
        args = [
            "patch", resource, name, f"--namespace={namespace}", "--type=merge",
            f"--field-manager={field_manager}", "-p", json.dumps(patch), "-o", "json",
        ]
        if dry_run:
            args.append("--dry-run=server")
        return self.run(args, changes=not dry_run)

    def diff(
        self,
        manifest_yaml: str,
        *,
        field_manager: str = DEFAULT_FIELD_MANAGER,
        force_conflicts: bool = False,
    ) -> KubectlResult:
        """`kubectl diff --server-side`: exit 0 no change, 1 changes (diff on stdout), >1 error.

        The field manager must be the one `apply` uses: otherwise any field llmkube
        owns whose value changes is a conflict with "llmkube" instead of a diff.
        """
        env = self.env if self.env is not None else os.environ
        external = env.get("KUBECTL_EXTERNAL_DIFF")
        program = (external.split() or ["diff"])[0] if external else "diff"
        if shutil.which(program, path=self._path()) is None:
            raise InputError(
                f"kubectl diff needs the {program!r} program, which is not on PATH",
                hint="install diffutils (Debian/Ubuntu: apt-get install diffutils) or set KUBECTL_EXTERNAL_DIFF",
            )
        args = ["diff", "--server-side", f"--field-manager={field_manager}"]
        if force_conflicts:
            args.append("--force-conflicts")
        return self.run([*args, "-f", "-"], input=manifest_yaml)

    def apply(
        self,
        manifest_yaml: str,
        *,
        dry_run_server: bool = False,
        force_conflicts: bool = False,
        field_manager: str = DEFAULT_FIELD_MANAGER,
        applyset: str | None = None,
        namespace: str | None = None,
    ) -> KubectlResult:
        """`kubectl apply --server-side`.

        `applyset` (e.g. `"llmkube-team-a"` for a Secret parent, or
        `"configmaps/NAME"`) turns on pruning through an ApplySet: objects applied
        earlier with the same applyset and missing from this manifest are deleted.
        The parent object lives in `namespace`. (Old-style `--prune -l` is refused by
        kubectl together with `--server-side`; ApplySet is alpha in kubectl 1.32 and
        needs KUBECTL_APPLYSET=true, which is set for that run only.)
        """
        args = ["apply", "--server-side", f"--field-manager={field_manager}"]
        if force_conflicts:
            args.append("--force-conflicts")
        if dry_run_server:
            args.append("--dry-run=server")
        extra_env = None
        if applyset:
            args += ["--prune", f"--applyset={applyset}"]
            extra_env = {"KUBECTL_APPLYSET": "true"}
        if namespace:
            args.append(f"--namespace={namespace}")
        return self.run([*args, "-f", "-"], input=manifest_yaml, extra_env=extra_env, changes=not dry_run_server)

    def wait_established(self, crd_names: Sequence[str]) -> KubectlResult:
        """`kubectl wait --for=condition=Established` on CustomResourceDefinitions: the API server
        serves a CRD's kinds only once its names are accepted and it is Established. kubectl's own
        --timeout is a little under the run's, so that it reports which CRD is still waiting
        (no run timeout: kubectl's "negative means wait for a week")."""
        wait_s = -1 if self.timeout is None else max(1, int(self.timeout) - 5)
        args = ["wait", "--for=condition=Established", f"--timeout={wait_s}s"]
        return self.run([*args, *(f"customresourcedefinitions.apiextensions.k8s.io/{n}" for n in crd_names)])

    def label_nodes(
        self,
        selector: Mapping[str, str],
        labels: Mapping[str, str | None],
        *,
        dry_run: bool = False,
    ) -> KubectlResult:
        """Set (or, for a None value, remove) labels on the nodes matching `selector`.

        An empty selector is refused: it would label every node of the cluster.
        """
        if not selector:
            raise InputError("refusing to label nodes without a node selector (it would label every node)")
        if not labels:
            raise InputError("no labels to set on the nodes")
        changes = []
        for key, value in sorted(labels.items()):
            _check_label_key(key)
            if value is None:
                changes.append(f"{key}-")
            else:
                _check_label_value(key, value)
                changes.append(f"{key}={value}")
        args = ["label", "nodes", "-l", format_selector(selector), *changes, "--overwrite"]
        if dry_run:
            args.append("--dry-run=server")
        return self.run(args, changes=not dry_run)

    def list_nodes(self, selector: Mapping[str, str] | None = None) -> list[dict]:
        """Nodes matching `selector` (all nodes when empty)."""
        args = ["get", "nodes"]
        if selector:
            args += ["-l", format_selector(selector)]
        return list(self._run_json([*args, "-o", "json"], "kubectl get nodes").get("items") or [])

    def delete(self, objects: Iterable[Mapping], *, wait: bool = False, dry_run: bool = False) -> KubectlResult:
        """Delete objects (dicts with apiVersion, kind, metadata.name[, metadata.namespace]).

        Objects that are already gone are not an error. `dry_run` asks the server
        to check the deletes and persist nothing.
        """
        items = []
        for obj in objects:
            md = obj.get("metadata") or {}
            if not obj.get("apiVersion") or not obj.get("kind") or not md.get("name"):
                raise InputError("cannot delete an object without apiVersion, kind and metadata.name")
            ref = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": {"name": md["name"]}}
            if md.get("namespace"):
                ref["metadata"]["namespace"] = md["namespace"]
            items.append(ref)
        if not items:
            return KubectlResult([], 0, "", "")
        doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        args = ["delete", "--ignore-not-found", f"--wait={'true' if wait else 'false'}"]
        if dry_run:
            args.append("--dry-run=server")
        args += ["-f", "-"]
        return self.run(args, input=doc, changes=not dry_run)


def _text(output: str | bytes | None) -> str:
    """What a timed-out run had printed (subprocess gives bytes or str, or None)."""
    if output is None:
        return ""
    return output.decode("utf-8", "replace") if isinstance(output, bytes) else output


def is_unreachable(stderr: str) -> bool:
    """Did kubectl fail because it could not talk to the API server at all?

    An answer from the server (e.g. a webhook the server could not call: "Error from
    server (InternalError): ... dial tcp 10.0.0.5:443: connect: connection refused")
    means the cluster is reachable.
    """
    return bool(_UNREACHABLE.search(stderr)) and "Error from server" not in stderr


def _unreachable_line(stderr: str) -> str:
    """The one line that says why: kubectl's own summary when there is one.

    kubectl prints e.g. "The connection to the server 127.0.0.1:9 was refused - did you
    specify the right host or port?" or "Unable to connect to the server: dial tcp:
    lookup x on ...: no such host", after several klog lines repeating the cause.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    plain = [line.removeprefix("error: ") for line in lines if not _KLOG.match(line)]
    for line in plain:
        if line.startswith(("The connection to the server", "Unable to connect to the server")):
            return line
    for line in lines:
        m = re.search(r"(dial tcp[^\"]*)", line)
        if m:
            return m.group(1).rstrip()
    for line in plain:
        if _UNREACHABLE.search(line):
            return line
    return (plain or lines or ["unknown error"])[-1]
