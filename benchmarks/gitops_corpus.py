"""A GitOps repository of plain web services: core kinds only, no model server, none of it taken from
the repository's own examples.

perf.py's `core` corpus is made of the upstream examples and llmkube's renderings, so it holds vLLM
servers (the sizing rules load the profiles and the planners for them) and the kinds llmkube renders.
A platform team's repository mostly holds something else: per service a Deployment or StatefulSet with
a full pod template (probes, resources, env, volumes, affinity), a Service, a ConfigMap with an
embedded file, RBAC, an HPA, a PodDisruptionBudget, an Ingress or NetworkPolicy and a CronJob, spread
over namespaces. `gitops(n_docs, out)` writes such services, one file per service, until there are
`n_docs` documents. Every document is valid against the Kubernetes 1.32 schemas (perf.py's run checks
that both tools find nothing). Deterministic: the same arguments write the same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterator

import yaml

NAMESPACES = 17


def _labels(app: str, rnd: random.Random) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop", "tier": rnd.choice(["web", "api", "db"])}


def _pod(app: str, rnd: random.Random) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": f"VAR_{i}", "value": str(i)} for i in range(rnd.randint(2, 12))]
    env.append({"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    return {
        "metadata": {"labels": _labels(app, rnd), "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {
            "serviceAccountName": app,
            "securityContext": {"runAsNonRoot": True, "fsGroup": 2000},
            "containers": [{
                "name": app,
                "image": f"ghcr.io/acme/{app}:v1.{rnd.randint(0, 40)}.0",
                "args": ["--port=8080", f"--log-level={rnd.choice(['info', 'debug'])}"],
                "ports": [{"containerPort": 8080, "name": "http"}],
                "env": env,
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}],
            }],
            "volumes": [{"name": "cfg", "configMap": {"name": f"{app}-config"}}],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app}}},
            }]}},
        },
    }


def service(i: int, rnd: random.Random) -> Iterator[dict[str, Any]]:
    """The ten objects of service `i`."""
    app, ns = f"svc{i}", f"team{i % NAMESPACES}"
    labels = _labels(app, rnd)

    def meta(name: str = app) -> dict[str, Any]:
        return {"name": name, "namespace": ns, "labels": labels}

    selector = {"matchLabels": {"app.kubernetes.io/name": app}}
    kind = rnd.choice(["Deployment", "StatefulSet"])
    spec: dict[str, Any] = {"replicas": 2, "selector": selector, "template": _pod(app, rnd)}
    if kind == "StatefulSet":
        spec["serviceName"] = app
    yield {"apiVersion": "apps/v1", "kind": kind, "metadata": meta(), "spec": spec}
    yield {"apiVersion": "v1", "kind": "Service", "metadata": meta(),
           "spec": {"selector": selector["matchLabels"], "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    config = yaml.safe_dump({"db": {"host": "db", "pool": 10}, "features": [f"f{k}" for k in range(30)]})
    yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(f"{app}-config"), "data": {"app.yaml": config, "LOG": "info"}}
    yield {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta()}
    yield {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(),
           "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]}]}
    yield {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(),
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": app},
           "subjects": [{"kind": "ServiceAccount", "name": app, "namespace": ns}]}
    yield {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(),
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": app}, "minReplicas": 2, "maxReplicas": 10,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}}
    yield {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(), "spec": {"minAvailable": 1, "selector": selector}}
    if rnd.random() < 0.5:
        backend = {"service": {"name": app, "port": {"number": 80}}}
        yield {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(),
               "spec": {"ingressClassName": "nginx", "rules": [{"host": f"{app}.example.com", "http": {
                   "paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]}}
    else:
        yield {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(),
               "spec": {"podSelector": selector, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}}
    yield {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta(f"{app}-cleanup"),
           "spec": {"schedule": "*/15 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
               "restartPolicy": "OnFailure",
               "containers": [{"name": "cleanup", "image": "busybox:1.36", "command": ["sh", "-c", "echo cleanup; date"]}]}}}}}}


def gitops(n_docs: int, out: Path, seed: int = 7) -> list[Path]:
    """`n_docs` documents of plain web services, one file per service (ten documents each)."""
    rnd = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    written = i = 0
    while written < n_docs:
        docs = list(service(i, rnd))[: n_docs - written]
        path = out / f"svc{i:05d}.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        files.append(path)
        written += len(docs)
        i += 1
    return files
