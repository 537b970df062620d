"""LK6xx admission: KServe InferenceServices and the Knative revisions they become.

Sources (read at KServe v0.20.0 and knative/serving knative-v1.21.1, the Knative
version KServe v0.20.0 pins); each rule names the file and function it encodes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from llmkube.check.findings import Severity
from llmkube.check.read import kserve
from llmkube.check.read.context import ReadContext

from llmkube.check.read.shape import as_int, as_list, as_mapping, dig
from llmkube.check.read.workloads import Path
from llmkube.check.rules import Hit, rule
from llmkube.names import (
    KNATIVE_AUTOSCALING_CLASS_ANNOTATION,
    KNATIVE_FEATURES_CONFIG_MAP,
    KNATIVE_SERVING_GROUP,
    KSERVE_AUTOSCALER_CLASS_ANNOTATION,
    KSERVE_DEPLOYMENT_MODE_ANNOTATION,
)
from llmkube.quantity import quantity_value


def _fmt(resource: str, value: str) -> str:
    return f"{value} CPU" if resource == "cpu" else value


# ---- LK602 -------------------------------------------------------------------


@rule("LK602", "kserve-request-above-limit", Severity.ERROR, "a KServe container's request exceeds the limit in effect after KServe fills in defaults", kinds=("InferenceService",))
def kserve_request_above_limit(ctx: ReadContext) -> Iterator[Hit]:
    """KServe fills a missing CPU or memory request and a missing limit
    independently, and never compares them: a container that asks for
    `requests.cpu: 16` and sets no CPU limit gets `limits.cpu: 1`, and the
    API server refuses the pod (a request may not exceed its limit). The
    same happens the other way round (a limit below the filled-in request).
    For custom `containers` the values come from the `inferenceservice-config`
    ConfigMap (1 CPU, 2Gi by default; the run's ConfigMap when present); for
    `predictor.model` the container is merged key by key onto its
    ServingRuntime's container, whose stock requests and limits are also
    1 CPU and 2Gi. Source: kserve v0.20.0
    `pkg/apis/serving/v1beta1/inference_service_defaults.go`
    `setResourceRequirementDefaults`, `predictor_custom.go`
    `CustomPredictor.Default`, `pkg/utils/container_merge.go`
    `MergeContainerWithPatch`, `config/configmap/inferenceservice.yaml`.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations: {serving.kserve.io/deploymentMode: Standard}
    spec:
      predictor:
        containers:
        - name: kserve-container
          image: vllm/vllm-openai:v0.11.0
          resources:
            requests: {cpu: 16, memory: 128Gi, nvidia.com/gpu: 4}
            limits: {memory: 128Gi, nvidia.com/gpu: 4}
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations: {serving.kserve.io/deploymentMode: Standard}
    spec:
      predictor:
        containers:
        - name: kserve-container
          image: vllm/vllm-openai:v0.11.0
          resources:
            requests: {cpu: 16, memory: 128Gi, nvidia.com/gpu: 4}
            limits: {cpu: 16, memory: 128Gi, nvidia.com/gpu: 4}
    ```
    """
    for target in ctx.of_kind("InferenceService"):
        for served in kserve.served_containers(target, ctx.targets):
            res = served.container.get("resources") or {}
            if not isinstance(res, Mapping):
                continue
            own = {s: as_mapping(res.get(s)) for s in ("requests", "limits")}
            for name in ("cpu", "memory"):
                req_own, lim_own = own["requests"].get(name), own["limits"].get(name)
                req = req_own if req_own is not None else served.base["requests"].get(name)
                lim = lim_own if lim_own is not None else served.base["limits"].get(name)
                rq, lm = quantity_value(req), quantity_value(lim)
                if rq is None or lm is None or rq <= lm:
                    continue
                path: Path = (*served.path, "resources")
                if req_own is not None and lim_own is None:
                    path = (*path, "requests", name)
                    why = f"no {name} limit is set, so it becomes {_fmt(name, str(lim))} from {served.source}"
                    hint = f"set resources.limits.{name} to at least {req} (for example equal to the request)"
                elif lim_own is not None and req_own is None:
                    path = (*path, "limits", name)
                    why = f"no {name} request is set, so it becomes {_fmt(name, str(req))} from {served.source}"
                    hint = f"set resources.requests.{name} to at most {lim}"
                else:
                    path = (*path, "requests", name)
                    why = "the request is above the limit"
                    hint = f"set resources.requests.{name} ≤ resources.limits.{name}"
                yield Hit(
                    target,
                    path,
                    f"{served.component}: {name} request {_fmt(name, str(req))} exceeds the limit "
                    f"{_fmt(name, str(lim))} in effect: {why}; the API server refuses the pod",
                    hint,
                )


# ---- LK603 -------------------------------------------------------------------


@rule("LK603", "kserve-canary-mode", Severity.WARNING, "a canary setting the InferenceService's deployment mode does not honour", kinds=("InferenceService",))
def kserve_canary_mode(ctx: ReadContext) -> Iterator[Hit]:
    """KServe has two canary mechanisms and each works in one deployment mode
    only. `spec.<component>.canaryTrafficPercent` is read by the Knative
    reconciler alone (`reconcilers/knative/ksvc_reconciler.go`); in
    `Standard` / `RawDeployment` mode it is accepted and ignored, so the new
    version takes 100 % of the traffic at once (warning). `spec.canary[]`
    (new in v0.20.0) is refused by the webhook unless the annotation
    `serving.kserve.io/deploymentMode` is `Standard`
    (`inference_service_validation.go` `validateCanarySpecs`), and also
    when canary names repeat or equal the predictor's, or the traffic adds
    up to more than 100 (error). Source: kserve v0.20.0.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations: {serving.kserve.io/deploymentMode: RawDeployment}
    spec:
      predictor:
        canaryTrafficPercent: 10
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations: {serving.kserve.io/deploymentMode: Serverless}
    spec:
      predictor:
        canaryTrafficPercent: 10
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```
    """
    for target in ctx.of_kind("InferenceService"):
        mode = kserve.mode_of(target, ctx.targets)
        for name, path, comp in kserve.components(target):
            if comp.get("canaryTrafficPercent") is not None and mode.name == kserve.STANDARD:
                yield Hit(
                    target,
                    (*path, "canaryTrafficPercent"),
                    f"{name}.canaryTrafficPercent is ignored in {mode.raw or mode.name} mode: only the Knative "
                    "reconciler splits traffic, so the new version takes all traffic at once",
                    "use the Knative (Serverless) deployment mode for a revision canary, or on KServe ≥ 0.20 "
                    "spec.canary[] with a named predictor in Standard mode",
                )
        spec = target.obj.get("spec") or {}
        canary = spec.get("canary") if isinstance(spec, Mapping) else None
        if not isinstance(canary, list) or not canary:
            continue
        if mode.raw != kserve.STANDARD:
            yield Hit(
                target,
                ("spec", "canary"),
                f"spec.canary is refused unless the annotation {KSERVE_DEPLOYMENT_MODE_ANNOTATION} is exactly "
                f"'Standard' (it is {mode.raw!r})",
                f"set {KSERVE_DEPLOYMENT_MODE_ANNOTATION}: Standard, or use canaryTrafficPercent in Knative mode",
                Severity.ERROR,
            )
        stable = ((spec.get("predictor") or {}).get("name")) if isinstance(spec.get("predictor"), Mapping) else None
        seen: set[str] = set()
        total = 0
        for i, item in enumerate(canary):
            if not isinstance(item, Mapping):
                continue
            cname = dig(item, "predictor", "name")
            cname = cname if isinstance(cname, str) else None
            if not cname or cname in seen or (stable and cname == stable):
                yield Hit(
                    target,
                    ("spec", "canary", i, "predictor", "name"),
                    f"canary {i}'s predictor name {cname!r} is "
                    + ("missing" if not cname else "repeated" if cname in seen else "the stable predictor's name")
                    + ": KServe refuses the InferenceService",
                    "give each canary predictor its own name, different from spec.predictor.name",
                    Severity.ERROR,
                )
            if cname:
                seen.add(str(cname))
            total += as_int(item.get("trafficPercent")) or 0
        if total > 100:
            yield Hit(
                target,
                ("spec", "canary"),
                f"the canaries' trafficPercent values add up to {total} (> 100): KServe refuses the InferenceService",
                "lower the canary traffic so the sum is at most 100",
                Severity.ERROR,
            )


# ---- LK604 -------------------------------------------------------------------

KNATIVE_PORT_NAMES = ("", "http1", "h2c")
# knative.dev/networking (BackendHTTPPort, BackendHTTP2Port, QueueAdminPort, the two metrics ports)
# and knative.dev/pkg profiling: the queue-proxy sidecar owns them.
KNATIVE_RESERVED_PORTS = (8012, 8013, 8022, 9090, 9091, 8008)


def _certainty(certain: bool) -> Severity | None:
    return None if certain else Severity.WARNING


def _mode_note(certain: bool) -> str:
    return "" if certain else " (no deploymentMode annotation: assuming KServe's stock default, Serverless)"


@rule("LK604", "knative-port", Severity.ERROR, "a Knative revision's container port that Knative refuses", kinds=("InferenceService", f"Service.{KNATIVE_SERVING_GROUP}"))
def knative_port(ctx: ReadContext) -> Iterator[Hit]:
    """Knative routes to one container port and uses its name only to pick
    the protocol: the name must be empty, `http1` or `h2c`, only one port may
    be set across all containers, and the queue-proxy's ports (8012, 8013,
    8022, 8008, 9090, 9091) are reserved. Applies to Knative Services and to
    InferenceServices in Knative (Serverless) mode, which KServe turns into
    Knative Services. Without a `serving.kserve.io/deploymentMode` annotation
    the stock install's default (Serverless) is assumed and the finding is a
    warning. Source: knative/serving knative-v1.21.1
    `pkg/apis/serving/k8s_validation.go` `validateContainerPorts`,
    `validateContainersPorts`, `validPortNames`, `reservedPorts`.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations: {serving.kserve.io/deploymentMode: Serverless}
    spec:
      predictor:
        containers:
        - name: kserve-container
          image: vllm/vllm-openai:v0.11.0
          ports: [{name: http, containerPort: 8080, protocol: TCP}]
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations: {serving.kserve.io/deploymentMode: Serverless}
    spec:
      predictor:
        containers:
        - name: kserve-container
          image: vllm/vllm-openai:v0.11.0
          ports: [{name: http1, containerPort: 8080, protocol: TCP}]
    ```
    """
    for pod in kserve.revision_pods(ctx.targets):
        spec = dict(pod.spec)
        containers = spec.get("containers")
        key = "containers"
        if not containers and isinstance(spec.get("model"), Mapping):
            containers, key = [spec["model"]], "model"
        ports: list[tuple[Path, Mapping[str, Any]]] = []
        for ci, c in enumerate(containers if isinstance(containers, list) else []):
            if not isinstance(c, Mapping):
                continue
            cpath: Path = (*pod.path, key) if key == "model" else (*pod.path, key, ci)
            for pi, p in enumerate(as_list(c.get("ports"))):
                if isinstance(p, Mapping):
                    ports.append(((*cpath, "ports", pi), p))
        note = _mode_note(pod.certain)
        if len(ports) > 1:
            yield Hit(
                pod.target,
                (*ports[1][0],),
                f"{pod.what}: {len(ports)} container ports are set; Knative allows a single port across all containers{note}",
                "keep only the serving port",
                _certainty(pod.certain),
            )
        for path, p in ports[:1]:
            name = str(p.get("name") or "")
            if name not in KNATIVE_PORT_NAMES:
                yield Hit(
                    pod.target,
                    (*path, "name"),
                    f"{pod.what}: port name {name!r} is not allowed by Knative (only '', 'http1' or 'h2c'){note}",
                    "name the port http1 (or h2c for gRPC / HTTP/2), or leave the name out",
                    _certainty(pod.certain),
                )
            number = as_int(p.get("containerPort"))
            if number in KNATIVE_RESERVED_PORTS:
                yield Hit(
                    pod.target,
                    (*path, "containerPort"),
                    f"{pod.what}: port {number} is reserved for Knative's queue-proxy{note}",
                    "serve on another port, such as 8080",
                    _certainty(pod.certain),
                )
            proto = p.get("protocol")
            if proto not in (None, "", "TCP"):
                yield Hit(
                    pod.target,
                    (*path, "protocol"),
                    f"{pod.what}: protocol {proto!r} is not allowed by Knative (TCP only){note}",
                    "use protocol: TCP",
                    _certainty(pod.certain),
                )


# ---- LK605 -------------------------------------------------------------------

# knative-v1.21.1 pkg/apis/config/features.go; pkg/apis/serving/fieldmask.go PodSpecMask copies these
# fields only when the flag is not Disabled (every one below defaults to Disabled).
GATED_FIELDS = {
    "nodeSelector": "kubernetes.podspec-nodeselector",
    "affinity": "kubernetes.podspec-affinity",
    "tolerations": "kubernetes.podspec-tolerations",
    "topologySpreadConstraints": "kubernetes.podspec-topologyspreadconstraints",
    "priorityClassName": "kubernetes.podspec-priorityclassname",
    "schedulerName": "kubernetes.podspec-schedulername",
    "runtimeClassName": "kubernetes.podspec-runtimeclassname",
    "initContainers": "kubernetes.podspec-init-containers",
    "hostIPC": "kubernetes.podspec-hostipc",
    "hostNetwork": "kubernetes.podspec-hostnetwork",
    "hostPID": "kubernetes.podspec-hostpid",
    "hostAliases": "kubernetes.podspec-hostaliases",
    "dnsPolicy": "kubernetes.podspec-dnspolicy",
    "dnsConfig": "kubernetes.podspec-dnsconfig",
    "shareProcessNamespace": "kubernetes.podspec-shareprocessnamespace",
}
GATED_VOLUMES = {"hostPath": "kubernetes.podspec-volumes-hostpath", "csi": "kubernetes.podspec-volumes-csi"}
PVC_FLAG = "kubernetes.podspec-persistent-volume-claim"
PVC_WRITE_FLAG = "kubernetes.podspec-persistent-volume-write"


def _flags_hint(flag: str, value: str = "enabled") -> str:
    return (
        f"set {flag}: \"{value}\" in the {KNATIVE_FEATURES_CONFIG_MAP} ConfigMap (namespace knative-serving), "
        "or use the Standard (RawDeployment) deployment mode, which has no such gate"
    )


@rule("LK605", "knative-feature-flag", Severity.ERROR, "a Knative revision sets a pod field that config-features disables", kinds=("InferenceService", f"Service.{KNATIVE_SERVING_GROUP}"))
def knative_feature_flag(ctx: ReadContext) -> Iterator[Hit]:
    """Knative Serving admits only a subset of the pod spec. `nodeSelector`,
    `affinity`, `tolerations`, `priorityClassName`, `schedulerName`,
    `runtimeClassName`, `topologySpreadConstraints`, `initContainers`,
    hostPath and CSI volumes and more are refused ("must not set the
    field(s)") unless their `kubernetes.podspec-*` flag in the
    `config-features` ConfigMap is `enabled` or `allowed`; all default to
    disabled. A PersistentVolumeClaim volume needs
    `kubernetes.podspec-persistent-volume-claim: enabled`, and, unless the
    volume is `readOnly`, also `kubernetes.podspec-persistent-volume-write:
    enabled`; a read-only claim must be mounted `readOnly`. Volumes other
    than emptyDir and PVC (ConfigMap, Secret, projected) must be mounted
    read-only. The rule reads the flags from a `config-features` ConfigMap in
    the run, else assumes the defaults. InferenceServices in Knative mode are
    checked too (KServe makes a Knative Service of each component); without a
    deploymentMode annotation the stock default (Serverless) is assumed and
    the finding is a warning. A `pvc://` storageUri is mounted by KServe's
    pod webhook and needs no flag. Source: knative/serving knative-v1.21.1
    `pkg/apis/config/features.go`, `pkg/apis/serving/fieldmask.go`
    `PodSpecMask`, `pkg/apis/serving/k8s_validation.go`
    `validatePersistentVolumeClaims`, `validateVolumeMounts`.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations: {serving.kserve.io/deploymentMode: Serverless}
    spec:
      predictor:
        nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations: {serving.kserve.io/deploymentMode: Standard}
    spec:
      predictor:
        nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```
    """
    flags = kserve.knative_features(ctx.targets)

    def on(flag: str, exact: bool = False) -> bool:
        value = flags.get(flag, "disabled")
        return value == "enabled" if exact else value in ("enabled", "allowed")

    for pod in kserve.revision_pods(ctx.targets):
        note = _mode_note(pod.certain)
        sev = _certainty(pod.certain)
        for field, flag in GATED_FIELDS.items():
            if pod.spec.get(field) not in (None, "", [], {}) and not on(flag):
                yield Hit(
                    pod.target,
                    (*pod.path, field),
                    f"{pod.what}: Knative refuses {field} while the {flag} feature flag is disabled (its default){note}",
                    _flags_hint(flag),
                    sev,
                )
        volumes = {}
        for vi, vol in enumerate(as_list(pod.spec.get("volumes"))):
            if not isinstance(vol, Mapping):
                continue
            if isinstance(vol.get("name"), str):
                volumes[vol["name"]] = (vi, vol)
            vpath = (*pod.path, "volumes", vi)
            for source, flag in GATED_VOLUMES.items():
                if vol.get(source) is not None and not on(flag):
                    yield Hit(pod.target, vpath, f"{pod.what}: Knative refuses {source} volume {vol.get('name')!r} while {flag} is disabled{note}", _flags_hint(flag), sev)
            pvc = vol.get("persistentVolumeClaim")
            if isinstance(pvc, Mapping):
                if not on(PVC_FLAG, exact=True):
                    yield Hit(
                        pod.target,
                        (*vpath, "persistentVolumeClaim"),
                        f"{pod.what}: Knative refuses persistent volume claim {pvc.get('claimName')!r}: {PVC_FLAG} is not enabled{note}",
                        _flags_hint(PVC_FLAG) + (f" (and {PVC_WRITE_FLAG}, or mount it readOnly)" if not pvc.get("readOnly") else ""),
                        sev,
                    )
                elif not pvc.get("readOnly") and not on(PVC_WRITE_FLAG, exact=True):
                    yield Hit(
                        pod.target,
                        (*vpath, "persistentVolumeClaim"),
                        f"{pod.what}: Knative refuses the writable claim {pvc.get('claimName')!r}: {PVC_WRITE_FLAG} is not enabled{note}",
                        _flags_hint(PVC_WRITE_FLAG) + ", or set readOnly: true on the claim and its mounts",
                        sev,
                    )
        containers = pod.spec.get("containers")
        if not containers and isinstance(pod.spec.get("model"), Mapping):
            containers = [pod.spec["model"]]
        for ci, c in enumerate(containers if isinstance(containers, list) else []):
            if not isinstance(c, Mapping):
                continue
            cpath: Path = (*pod.path, "model") if pod.spec.get("model") and not pod.spec.get("containers") else (*pod.path, "containers", ci)
            for mi, m in enumerate(as_list(c.get("volumeMounts"))):
                if not isinstance(m, Mapping) or not isinstance(m.get("name"), str) or m["name"] not in volumes or m.get("readOnly"):
                    continue
                _, vol = volumes[m.get("name")]
                pvc = vol.get("persistentVolumeClaim")
                if isinstance(pvc, Mapping) and pvc.get("readOnly"):
                    why = "its claim is readOnly but the mount is not"
                elif vol.get("emptyDir") is None and pvc is None and not any(vol.get(s) is not None for s in GATED_VOLUMES):
                    why = "Knative requires read-only mounts for this type of volume"
                else:
                    continue
                yield Hit(
                    pod.target,
                    (*cpath, "volumeMounts", mi),
                    f"{pod.what}: mount of volume {m.get('name')!r} at {m.get('mountPath')} is writable: {why}{note}",
                    "set readOnly: true on the volume mount",
                    sev,
                )


# ---- LK613 -------------------------------------------------------------------

# kserve v0.20.0 pkg/constants/constants.go: AutoscalerAllowedClassList, AutoscalerAllowedHPAMetricsList,
# AutoscalerAllowedKPAMetricsList; knative's class for HPA-based autoscaling.
AUTOSCALER_CLASSES = ("hpa", "external", "keda", "none")
HPA_METRICS = ("cpu", "memory")
KPA_METRICS = ("concurrency", "rps")
KNATIVE_HPA_CLASS = "hpa.autoscaling.knative.dev"


@rule("LK613", "kserve-mode-fields", Severity.ERROR, "an InferenceService field its deployment mode refuses or ignores", kinds=("InferenceService",))
def kserve_mode_fields(ctx: ReadContext) -> Iterator[Hit]:
    """KServe validates autoscaling fields by deployment mode. In Knative
    (Serverless) mode a component may not set `deploymentStrategy` (raw
    deployment only) and `scaleMetric` must be `concurrency` or `rps` (or
    `cpu`/`memory` under Knative's HPA class). In Standard (RawDeployment)
    mode with `serving.kserve.io/autoscalerClass: hpa` the metric must be
    `cpu` or `memory` and a CPU `scaleTarget` a percentage (1-100), and
    with `keda` no `scaleMetric` may be set (KEDA reads `autoScaling`); without
    an autoscalerClass KServe does not validate, but its HPA reconciler only
    knows cpu and memory, so a `concurrency` or `rps` metric is dropped and
    the HPA scales on CPU (warning). An autoscalerClass other than `hpa`,
    `external`, `keda` or `none` is refused in every mode. Without a
    deploymentMode annotation the stock default (Serverless) is assumed and
    the finding is a warning. Source: kserve v0.20.0
    `pkg/apis/serving/v1beta1/inference_service_validation.go`
    `validateInferenceServiceAutoscaler`, `validateAutoScalingCompExtension`,
    `validateScalingHPACompExtension`, `validateScalingKedaCompExtension`,
    `validateScalingKPACompExtension`;
    `reconcilers/hpa/hpa_reconciler.go` `getHPAMetrics`.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations:
        serving.kserve.io/deploymentMode: Standard
        serving.kserve.io/autoscalerClass: hpa
    spec:
      predictor:
        scaleMetric: concurrency
        scaleTarget: 5
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations: {serving.kserve.io/deploymentMode: Serverless}
    spec:
      predictor:
        scaleMetric: concurrency
        scaleTarget: 5
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```
    """
    for target in ctx.of_kind("InferenceService"):
        annotations = kserve.annotations_of(target.obj)
        mode = kserve.mode_of(target, ctx.targets)
        certain = mode.explicit
        cls = annotations.get(KSERVE_AUTOSCALER_CLASS_ANNOTATION)
        if cls is not None and str(cls) not in AUTOSCALER_CLASSES:
            yield Hit(
                target,
                ("metadata", "annotations", KSERVE_AUTOSCALER_CLASS_ANNOTATION),
                f"autoscalerClass {cls!r} is not supported: KServe refuses the InferenceService",
                f"use one of {', '.join(AUTOSCALER_CLASSES)} (Knative's KPA is the Serverless default and needs no class)",
            )
        for name, path, comp in kserve.components(target):
            metric = comp.get("scaleMetric")
            metric_path = (*path, "scaleMetric")
            if mode.name == kserve.KNATIVE:
                note = _mode_note(certain)
                if comp.get("deploymentStrategy") is not None:
                    yield Hit(
                        target,
                        (*path, "deploymentStrategy"),
                        f"{name}.deploymentStrategy is only supported in Standard (raw deployment) mode{note}",
                        "remove it, or set serving.kserve.io/deploymentMode: Standard",
                        _certainty(certain),
                    )
                allowed = HPA_METRICS if annotations.get(KNATIVE_AUTOSCALING_CLASS_ANNOTATION) == KNATIVE_HPA_CLASS else KPA_METRICS
                if metric is not None and str(metric) not in allowed:
                    yield Hit(
                        target,
                        metric_path,
                        f"{name}.scaleMetric {metric!r} is not supported in Knative mode (allowed: {', '.join(allowed)}){note}",
                        f"use scaleMetric: {allowed[0]}",
                        _certainty(certain),
                    )
            elif mode.name == kserve.STANDARD and metric is not None:
                if str(cls) == "hpa" and str(metric) not in HPA_METRICS:
                    yield Hit(
                        target,
                        metric_path,
                        f"{name}.scaleMetric {metric!r} is not an HPA metric (cpu, memory): KServe refuses the InferenceService",
                        "scale on cpu or memory, or use autoscalerClass keda for request-based metrics",
                    )
                elif str(cls) == "keda":
                    yield Hit(
                        target,
                        metric_path,
                        f"{name}.scaleMetric is not supported with autoscalerClass keda: KServe refuses the InferenceService",
                        "describe KEDA metrics under autoScaling.metrics instead",
                    )
                elif cls is None and str(metric) not in HPA_METRICS:
                    yield Hit(
                        target,
                        metric_path,
                        f"{name}.scaleMetric {metric!r} is ignored in Standard mode: KServe's default HPA knows only cpu "
                        "and memory, so the HPA scales on CPU instead",
                        "scale on cpu or memory, or use autoscalerClass keda with a request-based metric",
                        Severity.WARNING,
                    )
                target_value = as_int(comp.get("scaleTarget"))
                if str(cls) == "hpa" and str(metric) == "cpu" and target_value is not None and not 1 <= target_value <= 100:
                    yield Hit(
                        target,
                        (*path, "scaleTarget"),
                        f"{name}.scaleTarget {target_value} is not a CPU utilisation percentage (1-100): KServe refuses the InferenceService",
                        "set scaleTarget between 1 and 100",
                    )
