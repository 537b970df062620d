"""Checks of kube-apiserver's validation code for built-in kinds that their OpenAPI schemas do not carry.

Each is a refusal seen in public repositories that the schemas pass, probed on kube-apiserver v1.34.4
(`scripts/kube-test-server`; tests/check/test_realworld_verdicts.py asks the server about every case),
with the message in the server's words (`Required value`, `Not found`, `Unsupported value`, `Invalid
value`) followed by what to do. Functions return `(path, message)` pairs; `schemas.SchemaValidator`
turns them into findings. Sources, kubernetes v1.34 `pkg/apis/core/validation/validation.go` unless
named otherwise:

- a ClusterRoleBinding's ServiceAccount subject needs a namespace (`pkg/apis/rbac/validation`
  `ValidateRoleBindingSubject`: only a RoleBinding's defaults to its own), and a ServiceAccount
  subject's name is a service account name (the same function, `ValidateServiceAccountName`);
- a Service needs ports unless it is headless (clusterIP None) or an ExternalName (`ValidateService`);
- a pod's containers are required: a workload whose template has no `spec` has none (`ValidatePodSpec`
  → `validateContainers`; the schema's `required` sits on the PodSpec that is missing);
- `serviceAccountName` is a DNS-1123 subdomain (`ValidatePodSpec`, `ValidateServiceAccountName`): a
  kustomize `$(var)` left in it is refused;
- a container port's and a Service port's `protocol` is TCP, UDP or SCTP, case and all
  (`validateContainerPorts`, `validateServicePort`; the 1.32 schemas carry no enum);
- a volumeMount (and volumeDevice) names a volume of the pod (`ValidateVolumeMounts`,
  `ValidateVolumeDevices`);
- a Secret's `data` and a ConfigMap's `binaryData` are base64 (standard alphabet, padded; line breaks
  ignored): the server's JSON decoder refuses anything else before validation ("illegal base64 data";
  Go `encoding/json` decodes `[]byte` with `base64.StdEncoding`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from typing import Any

from llmkube.apimachinery import dns1123_subdomain_errors
from llmkube.check.read.shape import dig

Path_ = tuple[str | int, ...]
Problem = tuple[Path_, str]

PROTOCOLS = ("SCTP", "TCP", "UDP")
_PROTOCOL_LIST = ", ".join(f'"{p}"' for p in PROTOCOLS)
# Where each built-in kind keeps its pod template (the pod's own spec for a Pod).
_TEMPLATE_AT: dict[tuple[str, str], Path_] = {
    ("apps/v1", "Deployment"): ("spec", "template"),
    ("apps/v1", "StatefulSet"): ("spec", "template"),
    ("apps/v1", "DaemonSet"): ("spec", "template"),
    ("apps/v1", "ReplicaSet"): ("spec", "template"),
    ("batch/v1", "Job"): ("spec", "template"),
    ("batch/v1", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
    ("v1", "ReplicationController"): ("spec", "template"),
    ("v1", "PodTemplate"): ("template",),
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def problems(data: Mapping[str, Any]) -> list[Problem]:
    """What the API server's validation code refuses in `data` beyond its schema (see the module)."""
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return []
    template_at = _TEMPLATE_AT.get((api_version, kind))
    if template_at is not None:
        return list(_template_problems(data, template_at))
    if api_version == "v1":
        if kind == "Pod":
            return list(_pod_spec_problems(data.get("spec"), ("spec",)))
        if kind == "Service":
            return _service_problems(data)
        if kind == "Secret":
            return _base64_problems(data, "data", "a Secret's data values are base64 (stringData takes plain text)")
        if kind == "ConfigMap":
            return _base64_problems(data, "binaryData", "a ConfigMap's binaryData values are base64 (data takes plain text)")
    elif api_version == "rbac.authorization.k8s.io/v1" and kind in ("ClusterRoleBinding", "RoleBinding"):
        return _subject_problems(data, cluster_wide=kind == "ClusterRoleBinding")
    return []


def _template_problems(data: Mapping[str, Any], template_at: Path_) -> Iterator[Problem]:
    template = dig(data, *(str(k) for k in template_at))
    if isinstance(template, Mapping):  # no template at all is the schema's `required` (or RC's, below)
        yield from _pod_spec_problems(template.get("spec"), (*template_at, "spec"))
    elif template is None and template_at == ("spec", "template") and data.get("kind") == "ReplicationController":
        # ValidateReplicationControllerSpec: a nil Template is "Required value" (its schema makes it optional)
        yield ("spec",), 'missing required field "template": Required value (a ReplicationController\'s pod template)'


def _pod_spec_problems(spec: Any, at: Path_) -> Iterator[Problem]:
    if spec is None:
        yield at, 'missing required field "containers": Required value (no pod spec, so no containers)'
        return
    if not isinstance(spec, Mapping):
        return  # a type error the schema reports
    account = spec.get("serviceAccountName")
    if isinstance(account, str) and account:
        for msg in dns1123_subdomain_errors(account):
            yield (*at, "serviceAccountName"), f'Invalid value: "{account}": a service account name {msg}'
    volumes = spec.get("volumes")
    names = {v.get("name") for v in volumes if isinstance(v, Mapping)} if isinstance(volumes, list) else set()
    for list_name in _CONTAINER_LISTS:
        containers = spec.get(list_name)
        if not isinstance(containers, list):
            continue
        for i, container in enumerate(containers):
            if isinstance(container, Mapping):
                yield from _container_problems(container, (*at, list_name, i), names)


def _container_problems(container: Mapping[str, Any], at: Path_, volumes: set[Any]) -> Iterator[Problem]:
    ports = container.get("ports")
    for j, port in enumerate(ports if isinstance(ports, list) else ()):
        if isinstance(port, Mapping):
            yield from _protocol_problems(port, (*at, "ports", j))
    for field in ("volumeMounts", "volumeDevices"):
        mounts = container.get(field)
        for j, mount in enumerate(mounts if isinstance(mounts, list) else ()):
            name = mount.get("name") if isinstance(mount, Mapping) else None
            if isinstance(name, str) and name and name not in volumes:
                yield (*at, field, j, "name"), f'Not found: "{name}": no volume of the pod has this name (spec.volumes)'


def _protocol_problems(port: Mapping[str, Any], at: Path_) -> Iterator[Problem]:
    protocol = port.get("protocol")
    if isinstance(protocol, str) and protocol not in PROTOCOLS:
        hint = f" (did you mean {protocol.upper()!r}?)" if protocol.upper() in PROTOCOLS else ""
        yield (*at, "protocol"), f'Unsupported value: "{protocol}": supported values: {_PROTOCOL_LIST}{hint}'


def _service_problems(data: Mapping[str, Any]) -> list[Problem]:
    spec = data.get("spec") or {}  # no spec at all: a ClusterIP Service without ports
    if not isinstance(spec, Mapping):
        return []
    ports = spec.get("ports")
    if not ports and spec.get("clusterIP") != "None" and spec.get("type") != "ExternalName":
        return [(("spec",), 'missing required field "ports": only a headless (clusterIP: None) or ExternalName Service may have none')]
    out: list[Problem] = []
    for i, port in enumerate(ports if isinstance(ports, list) else ()):
        if isinstance(port, Mapping):
            out.extend(_protocol_problems(port, ("spec", "ports", i)))
    return out


def _subject_problems(data: Mapping[str, Any], *, cluster_wide: bool) -> list[Problem]:
    subjects = data.get("subjects")
    out: list[Problem] = []
    for i, subject in enumerate(subjects if isinstance(subjects, list) else ()):
        if not isinstance(subject, Mapping) or subject.get("kind") != "ServiceAccount":
            continue
        if cluster_wide and not subject.get("namespace"):
            out.append((("subjects", i), 'missing required field "namespace": a ClusterRoleBinding\'s ServiceAccount subject names its namespace'))
        name = subject.get("name")
        if isinstance(name, str) and name:
            out.extend((("subjects", i, "name"), f'Invalid value: "{name}": a service account name {msg}')
                       for msg in dns1123_subdomain_errors(name))
    return out


def _base64_problems(data: Mapping[str, Any], field: str, what: str) -> list[Problem]:
    values = data.get(field)
    if not isinstance(values, Mapping):
        return []
    out: list[Problem] = []
    for key, value in values.items():
        if isinstance(value, str) and not is_base64(value):
            out.append(((field, key), f"illegal base64 data: {what}"))
    return out


def is_base64(text: str) -> bool:
    """Go's `base64.StdEncoding` would decode it: the standard alphabet, padded, CR and LF ignored."""
    try:
        base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):  # ValueError: a character outside ASCII
        return False
    return True
