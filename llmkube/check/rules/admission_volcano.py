"""LK6xx admission: Volcano Jobs (batch.volcano.sh, v1.15.1).

`minAvailable` against replicas is LK202's; these rules add what the vcjob
validating webhook still checks itself and two ways a Job is admitted yet
does not do what it says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext
from llmkube.check.read.shape import as_int, meta
from llmkube.check.read.workloads import Path, is_volcano
from llmkube.check.rules import Hit, rule
from llmkube.check.run import Target
from llmkube.names import VOLCANO_BATCH_GROUP

# pkg/webhooks/admission/jobs/validate/util.go policyEventMap / policyActionMap (v1.15.1): the
# values users may write (OutOfSync, CommandIssued, PodRunning and the internal actions are refused).
EVENTS = ("*", "PodFailed", "PodEvicted", "PodPending", "Unknown", "TaskCompleted", "TaskFailed", "JobUpdated")
ACTIONS = ("AbortJob", "RestartJob", "RestartTask", "RestartPod", "RestartPartition", "TerminateJob", "CompleteJob", "ResumeJob")
# pkg/controllers/job/plugins/factory.go (v1.15.1) RegisterPluginBuilder calls.
PLUGINS = ("ssh", "env", "svc", "tensorflow", "mpi", "pytorch", "hcclrank", "ray")
# apimachinery IsQualifiedName (no prefix): at most 63 characters of this shape.
QUALIFIED = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def _vcjobs(ctx: ReadContext) -> Iterator[Target]:
    for t in ctx.of_kind("Job"):
        if is_volcano(t.obj) and isinstance(t.obj.get("spec"), Mapping):
            yield t


def _list(value: Any) -> list[Any]:
    """A list as written, else [] (schema-invalid input is the schema check's to report)."""
    return value if isinstance(value, list) else []


def _tasks(spec: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    return [(i, t) for i, t in enumerate(_list(spec.get("tasks"))) if isinstance(t, Mapping)]


def _events(policy: Mapping[str, Any]) -> list[str]:
    out = [str(policy["event"])] if policy.get("event") else []
    return out + [str(e) for e in _list(policy.get("events"))]


def _policy_problems(policies: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """validatePolicies (util.go, v1.15.1): the first problem of a policy list, as the webhook stops there."""
    seen_events: set[str] = set()
    seen_codes: set[int] = set()
    for i, policy in enumerate(policies if isinstance(policies, list) else []):
        if not isinstance(policy, Mapping):
            continue
        p = (*path, i)
        events = _events(policy)
        code = policy.get("exitCode")
        if events and code is not None:
            yield p, "sets both an event and an exitCode"
            return
        if not events and code is None:
            yield p, "sets neither an event nor an exitCode"
            return
        if events:
            for e in events:
                if e not in EVENTS:
                    yield p, f"event {e!r} is not allowed (allowed: {', '.join(EVENTS)})"
                    return
                if policy.get("action") not in ACTIONS:
                    yield (*p, "action"), f"action {policy.get('action')!r} is not allowed (allowed: {', '.join(ACTIONS)})"
                    return
                if e in seen_events:
                    yield p, f"event {e} appears in two policies"
                    return
                seen_events.add(e)
        else:
            n = as_int(code)
            if n == 0:
                yield (*p, "exitCode"), "exitCode 0 is not a failure code"
                return
            if n is not None and n in seen_codes:
                yield (*p, "exitCode"), f"exitCode {n} appears in two policies"
                return
            if n is not None:
                seen_codes.add(n)
    if "*" in seen_events and len(seen_events) > 1:
        yield path, "the event '*' leaves no room for other event policies"


@rule("LK610", "volcano-job-webhook", Severity.ERROR, "a Volcano Job its admission webhook refuses", kinds=(f"Job.{VOLCANO_BATCH_GROUP}",))
def volcano_job_webhook(ctx: ReadContext) -> Iterator[Hit]:
    """Volcano's vcjob webhook refuses a Job when: two tasks share a name; a
    lifecycle policy (job- or task-level) sets both or neither of
    `event`/`exitCode`, uses an event or action users may not write
    (`PodRunning`, `OutOfSync`, `CommandIssued`, `SyncJob` …, which the CRD's
    enum partly allows), repeats an event or exit code, uses exit code 0, or
    combines `*` with other events; a pod name `<job>-<task>-<index>` (or the
    job name) is not a qualified name of at most 63 characters — long model
    names hit this; a plugin is not one Volcano has; or the `mpi` plugin's
    master task does not exist. Source: volcano-sh/volcano v1.15.1
    `pkg/webhooks/admission/jobs/validate/admit_job.go` `validateJobCreate`,
    `validateK8sPodNameLength`, `validateJobName`;
    `pkg/webhooks/admission/jobs/validate/util.go` `validatePolicies`;
    `pkg/controllers/job/plugins/factory.go`. Cases after
    `admit_job_test.go` (two policies on PodFailed, PodFailed with an exit
    code, a policy with only an action).

    Fails:

    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata: {name: llama-70b}
    spec:
      schedulerName: volcano
      policies:
      - {event: PodFailed, action: RestartJob}
      - {event: PodFailed, action: AbortJob}
      tasks:
      - name: worker
        replicas: 2
        template:
          spec:
            restartPolicy: Never
            containers: [{name: trainer, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```

    Passes:

    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata: {name: llama-70b}
    spec:
      schedulerName: volcano
      policies:
      - {event: PodFailed, action: RestartJob}
      - {event: PodEvicted, action: RestartJob}
      tasks:
      - name: worker
        replicas: 2
        template:
          spec:
            restartPolicy: Never
            containers: [{name: trainer, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```
    """
    for target in _vcjobs(ctx):
        spec = target.obj["spec"]
        job = meta(target.obj).get("name")
        tasks = _tasks(spec)
        names: dict[str, int] = {}
        for i, task in tasks:
            name = str(task.get("name") or f"default{i}")  # mutate_job.go names unnamed tasks default<index>
            if name in names:
                yield Hit(target, ("spec", "tasks", i, "name"), f"task name {name!r} is used twice: Volcano refuses the Job", "give every task its own name")
            names.setdefault(name, i)
            for where, problem in _policy_problems(task.get("policies"), ("spec", "tasks", i, "policies")):
                yield Hit(target, where, f"task {name!r} policy {problem}: Volcano refuses the Job", "see the allowed events and actions; one policy per event or exit code")
            replicas = as_int(task.get("replicas"))
            if isinstance(job, str) and replicas:
                pod = f"{job}-{name}-{replicas - 1}"
                if len(pod) > 63 or not QUALIFIED.fullmatch(pod):
                    yield Hit(
                        target,
                        ("spec", "tasks", i, "name"),
                        f"pod name {pod!r} ({len(pod)} characters) is not a valid name of at most 63 characters: Volcano refuses the Job",
                        "shorten the job or task name",
                    )
        for where, problem in _policy_problems(spec.get("policies"), ("spec", "policies")):
            yield Hit(target, where, f"job policy {problem}: Volcano refuses the Job", "see the allowed events and actions; one policy per event or exit code")
        if isinstance(job, str) and (len(job) > 63 or not QUALIFIED.fullmatch(job)):
            yield Hit(target, ("metadata", "name"), f"job name {job!r} is not a valid name of at most 63 characters: Volcano refuses the Job", "shorten the name")
        plugins = spec.get("plugins")
        if isinstance(plugins, Mapping):
            for pname, args in plugins.items():
                if pname not in PLUGINS:
                    yield Hit(target, ("spec", "plugins", pname), f"Volcano has no job plugin {pname!r}: it refuses the Job", f"use one of {', '.join(PLUGINS)}")
                elif pname == "mpi":
                    master = next((str(a).split("=", 1)[1] for a in _list(args) if str(a).startswith("--master=")), "master")
                    if tasks and master not in names:
                        yield Hit(target, ("spec", "plugins", "mpi"), f"the mpi plugin's master task {master!r} is not among the tasks: Volcano refuses the Job", f"name the launcher task {master!r} or pass --master=<task>")


@rule("LK611", "volcano-policy-never-fires", Severity.WARNING, "a Volcano failure policy that pods restarted in place never trigger", kinds=(f"Job.{VOLCANO_BATCH_GROUP}",))
def volcano_policy_never_fires(ctx: ReadContext) -> Iterator[Hit]:
    """Volcano sees `PodFailed` (and exit-code policies) only when a pod's
    phase turns Failed. With the pod template's `restartPolicy` `OnFailure`
    or `Always` (the default when unset) the kubelet restarts the container
    in place, the pod never fails, and a `PodFailed → RestartJob` policy —
    and `maxRetry`, which counts those restarts — never comes into play: a
    rank that crashes just loops while the others hang in NCCL. A
    `PodPending` policy without `timeout` is ignored too. Source:
    volcano-sh/volcano v1.15.1 `pkg/controllers/job/job_controller_handler.go`
    `updatePod` (events from pod phases), `job_controller_util.go`
    `applyPolicies`.

    Fails:

    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata: {name: llama-70b}
    spec:
      schedulerName: volcano
      policies:
      - {event: PodFailed, action: RestartJob}
      tasks:
      - name: worker
        replicas: 2
        template:
          spec:
            restartPolicy: OnFailure
            containers: [{name: trainer, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```

    Passes:

    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata: {name: llama-70b}
    spec:
      schedulerName: volcano
      policies:
      - {event: PodFailed, action: RestartJob}
      tasks:
      - name: worker
        replicas: 2
        template:
          spec:
            restartPolicy: Never
            containers: [{name: trainer, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```
    """
    for target in _vcjobs(ctx):
        spec = target.obj["spec"]
        job_policies = [p for p in _list(spec.get("policies")) if isinstance(p, Mapping)]
        for i, task in _tasks(spec):
            policies = [p for p in _list(task.get("policies")) if isinstance(p, Mapping)] + job_policies
            failing = [p for p in policies if "PodFailed" in _events(p) or "*" in _events(p) or p.get("exitCode") is not None]
            pod = ((task.get("template") or {}).get("spec") or {}) if isinstance(task.get("template"), Mapping) else {}
            restart = pod.get("restartPolicy") if isinstance(pod, Mapping) else None
            if failing and restart != "Never":
                what = "PodFailed" if any("PodFailed" in _events(p) for p in failing) else "exit-code"
                yield Hit(
                    target,
                    ("spec", "tasks", i, "template", "spec", "restartPolicy") if restart else ("spec", "tasks", i, "template", "spec"),
                    f"task {task.get('name', i)!r}: restartPolicy {restart or 'Always (unset)'} restarts failed containers in place, "
                    f"so the pod never fails and the {what} policy (and maxRetry) never fires",
                    "set restartPolicy: Never on the task's pod template",
                )
        lists: list[tuple[Path, Any]] = [(("spec", "policies"), spec.get("policies"))]
        lists += [(("spec", "tasks", i, "policies"), t.get("policies")) for i, t in _tasks(spec)]
        for where, listed in lists:
            for k, p in enumerate(listed if isinstance(listed, list) else []):
                if isinstance(p, Mapping) and "PodPending" in _events(p) and not p.get("timeout"):
                    yield Hit(target, (*where, k), "a PodPending policy without timeout is ignored by Volcano", "add timeout (e.g. 10m) to the policy")


@rule("LK612", "volcano-priority-on-pods-only", Severity.WARNING, "a Volcano Job whose priority class is set on pods but not on the Job", kinds=(f"Job.{VOLCANO_BATCH_GROUP}",))
def volcano_priority_on_pods_only(ctx: ReadContext) -> Iterator[Hit]:
    """Volcano orders and preempts whole jobs by their PodGroup's priority,
    which comes from the Job's `spec.priorityClassName`; a
    `priorityClassName` on the task pod templates only orders pods inside
    the job. A Job that sets it on its pods alone queues at the default
    priority. Source: volcano-sh/volcano v1.15.1
    `pkg/controllers/job/job_controller_actions.go` (PodGroup created with
    `job.Spec.PriorityClassName`), `pkg/scheduler/cache/cache.go` (job
    priority from the PodGroup's class), `pkg/scheduler/api/job_info.go`
    (task priority from the pod).

    Fails:

    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata: {name: llama-70b}
    spec:
      schedulerName: volcano
      tasks:
      - name: worker
        replicas: 2
        template:
          spec:
            priorityClassName: training-high
            containers: [{name: trainer, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```

    Passes:

    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata: {name: llama-70b}
    spec:
      schedulerName: volcano
      priorityClassName: training-high
      tasks:
      - name: worker
        replicas: 2
        template:
          spec:
            priorityClassName: training-high
            containers: [{name: trainer, image: nvcr.io/nvidia/pytorch:24.07-py3}]
    ```
    """
    for target in _vcjobs(ctx):
        spec = target.obj["spec"]
        if spec.get("priorityClassName"):
            continue
        for i, task in _tasks(spec):
            pod = ((task.get("template") or {}).get("spec") or {}) if isinstance(task.get("template"), Mapping) else {}
            pc = pod.get("priorityClassName") if isinstance(pod, Mapping) else None
            if pc:
                yield Hit(
                    target,
                    ("spec", "tasks", i, "template", "spec", "priorityClassName"),
                    f"priorityClassName {pc!r} is set on task {task.get('name', i)!r}'s pods but not on the Job: "
                    "the PodGroup, which Volcano queues and preempts by, keeps the default priority",
                    f"set spec.priorityClassName: {pc} on the Job",
                )
                break
