"""LLM-aware rules: a registry of small checks that read manifests.

Rules read **manifests**, not llmkube specs, so hand-written YAML gets the
same findings as llmkube's own output. Each rule has a stable code
(`LK1xx` sizing, `LK2xx` scheduling, `LK3xx` serving, `LK4xx` GPU sharing,
`LK5xx` security, `LK6xx` admission: what the controllers' webhooks and
defaulters refuse or rewrite after the schema has passed), a severity, a one-line summary and a docstring that
becomes its entry in docs/rules.md (with a failing and a passing example).

A finding is silenced for one object by the annotation
`llmkube.dev/ignore: "LK101,LK302"`, and for a whole run by `--ignore`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any

from llmkube.check.findings import Finding, Severity, dotted, object_label
from llmkube.check.read.context import ReadContext
from llmkube.check.read.index import qualified_kinds
from llmkube.check.read.shape import dig
from llmkube.check.run import Target
from llmkube.names import IGNORE_ANNOTATION, KNATIVE_SERVING_GROUP, VOLCANO_BATCH_GROUP
from llmkube.records import record

if TYPE_CHECKING:
    from llmkube.profiles import ProfileStore

FAMILIES = {"1": "sizing", "2": "scheduling", "3": "serving", "4": "GPU sharing", "5": "security", "6": "admission"}


@record(frozen=True)
class Hit:
    """What a rule reports: the object, the field path, a message and a hint."""

    target: Target
    path: tuple[str | int, ...]
    message: str
    hint: str | None = None
    severity: Severity | None = None  # overrides the rule's default when set


# A rule reads the run through a ReadContext (llmkube.check.read) and yields what it finds.
Check = Callable[[ReadContext], Iterable[Hit]]


@record(frozen=True)
class Rule:
    """A registered rule: its code, name, default severity, summary, check and the kinds it judges."""

    code: str
    name: str
    severity: Severity
    summary: str
    check: Check = field(compare=False)
    kinds: tuple[str, ...] | None = None  # the kinds it judges (ctx.subjects); None: every object


    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()


REGISTRY: dict[str, Rule] = {}


def rule(code: str, name: str, severity: Severity, summary: str, *, kinds: Iterable[str] | None = None) -> Callable[[Check], Check]:
    """Register a rule; codes are unique and of the form LKnnn.

    `kinds`: the object kinds the rule judges. The runner hands it those objects, from the run's
    index in run order, as `ctx.subjects`, and does not call it when the run has none; a rule
    that declares no kinds judges every object (`ctx.subjects` is `ctx.targets`). What a rule
    looks up (queues, runtimes, ConfigMaps) it still finds through `ctx.index` over the whole run.
    """
    declared = tuple(dict.fromkeys(kinds)) if kinds is not None else None

    def register(fn: Check) -> Check:
        if not (len(code) == 5 and code.startswith("LK") and code[2:].isdigit() and code[2] in FAMILIES):
            raise ValueError(f"rule code {code!r} is not LK1nn..LK{max(FAMILIES)}nn")
        if code in REGISTRY:
            raise ValueError(f"rule code {code} is registered twice")
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"rule {code} has no docstring (it is the rule's documentation)")
        REGISTRY[code] = Rule(code, name, severity, summary, fn, declared)
        return fn

    return register


def load_rules() -> dict[str, Rule]:
    """Every registered rule by code (importing the rule modules on first use)."""
    _import_rule_modules()
    return dict(sorted(REGISTRY.items()))


@functools.cache
def _import_rule_modules() -> None:
    """Registering happens on import; the modules are imported once, in name order."""
    import pkgutil  # here: a dispatching run imports its modules by name (`rules_for_kinds`)

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


# The kinds each rule module's rules judge, known without importing it: the union of its rules'
# `kinds`, or None when one of them judges every object. The dispatching runner imports only the
# modules that judge a kind the run holds (`rules_for_kinds`), so a run of Services and ConfigMaps
# does not load the KServe, Kubeflow, LeaderWorkerSet and LLMInferenceService readers. A kind of one
# API group is named with it (`Service.serving.knative.dev`, `index.qualified_kinds`): core Services
# and batch Jobs do not load the Knative and Volcano rules.
# tests/test_rule_dispatch.py holds this table to what the modules register.
_WORKLOADS = frozenset({
    "Pod", "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "PyTorchJob", "MPIJob", "TFJob",
    "XGBoostJob", "PaddleJob", "JAXJob", "InferenceService", "LeaderWorkerSet", "LLMInferenceService", "JobSet",
    "TrainJob",
})
MODULE_KINDS: dict[str, frozenset[str] | None] = {
    "admission": frozenset({"InferenceService", "PyTorchJob", "TFJob", "XGBoostJob", "PaddleJob", "JAXJob"}),
    "admission_kserve": frozenset({"InferenceService", f"Service.{KNATIVE_SERVING_GROUP}"}),
    "admission_kubeflow": frozenset({"PyTorchJob", "TrainJob"}),
    "admission_kueue": _WORKLOADS,
    "admission_volcano": frozenset({f"Job.{VOLCANO_BATCH_GROUP}"}),
    "llmisvc": frozenset({"LLMInferenceService"}),
    "multikueue": None,
    "scheduling": None,
    "security": None,
    "serving": _WORKLOADS - {"TrainJob"},
    "serving_multinode": frozenset({"LeaderWorkerSet"}),
    "sharing": None,
    "sizing": _WORKLOADS,
}


def rules_for_kinds(kinds: Iterable[str]) -> dict[str, Rule]:
    """The rules that may judge a run holding objects of these kinds, by code: every rule that
    judges every object or a kind among them. Only the modules that declare such a rule are
    imported. A rule left out would be skipped by `run_rules` anyway (none of its kinds is held),
    so the findings are the same. `kinds` names each object's kind both ways
    (`index.qualified_kinds`): `Service` and `Service.serving.knative.dev` for a Knative Service."""
    held = set(kinds)
    wanted = {m for m, judged in MODULE_KINDS.items() if judged is None or not held.isdisjoint(judged)}
    for name in sorted(wanted):
        importlib.import_module(f"{__name__}.{name}")
    return {
        code: r
        for code, r in sorted(REGISTRY.items())
        if r.check.__module__.rpartition(".")[2] in wanted and (r.kinds is None or not held.isdisjoint(r.kinds))
    }


def unknown_codes(codes: Iterable[str]) -> list[str]:
    known = load_rules()
    return sorted(c for c in codes if c not in known)


def _ignored_by_annotation(obj: dict[str, Any]) -> set[str]:
    value = dig(obj, "metadata", "annotations", IGNORE_ANNOTATION) or ""
    return {c.strip() for c in str(value).split(",") if c.strip()}


def run_rules(
    targets: Sequence[Target],
    profiles: ProfileStore | Callable[[], ProfileStore],
    ignore: Iterable[str] = (),
    *,
    rules: dict[str, Rule] | None = None,
    dispatch: bool = True,
) -> list[Finding]:
    """Every registered rule (or only `rules`) over the objects it judges; silenced codes dropped.

    With `dispatch` (the fast path) a rule that declares its kinds is handed only the objects of
    those kinds and is skipped when there are none; without it (the reference path) every rule is
    handed every object. Both report the same findings (tests/test_rule_dispatch.py). Without
    `rules`, the dispatching runner imports only the rule modules that may judge a kind the run
    holds (`rules_for_kinds`). `profiles` may be a function that reads them: it is called when a
    reader first asks for them (`DeferredProfiles`).
    """
    if rules is None:
        rules = rules_for_kinds(k for t in targets for k in qualified_kinds(t.obj)) if dispatch else load_rules()
    ignored = set(ignore)
    ctx = ReadContext(targets=targets, profiles=profiles)  # type: ignore[arg-type]  # a loader: DeferredProfiles
    findings: list[Finding] = []
    of_kinds: dict[tuple[str, ...], Sequence[Target]] = {}  # rules that declare the same kinds share one lookup
    for code, r in rules.items():
        if code in ignored:
            continue
        if dispatch and r.kinds is not None:
            subjects = of_kinds.get(r.kinds)
            if subjects is None:
                subjects = of_kinds[r.kinds] = tuple(ctx.index.of_kind(*r.kinds))
        else:
            subjects = ctx.targets
        if dispatch and not subjects:
            continue
        ctx.judge(subjects)
        for hit in r.check(ctx):
            if code in _ignored_by_annotation(hit.target.obj):
                continue
            findings.append(
                Finding(
                    code=code,
                    severity=hit.severity or r.severity,
                    message=hit.message,
                    object=object_label(hit.target.obj),
                    path=dotted(hit.path),
                    mark=hit.target.mark(hit.path),
                    hint=hit.hint,
                    spec_mark=hit.target.spec.document.mark() if hit.target.spec else None,
                )
            )
    ctx.judge(None)
    return sorted(findings, key=Finding.sort_key)
