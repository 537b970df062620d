"""`llmkube rollout` end to end: a real Prometheus scraping vLLM-shaped metrics of a baseline and a
canary revision (tests/support/prometheus.py), the CLI as a subprocess, and the traffic split
patched on the real test API server (tests/support/kubeserver.py) and read back after each step.

Nothing reconciles on the test server, so the test writes the InferenceService's status the way
KServe v0.20.0 would during a canary (`PropagateStatus`: the latest revision and the rolled-out
one in `status.components.predictor.traffic`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support import prometheus as promsupport
from tests.support.kubeserver import KubeServer
from tests.support.paths import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(promsupport.binary() is None, reason="no prometheus binary (apt-get install prometheus)"),
]

OBSERVE = 6  # seconds a stage is observed; also the query window (scrape interval 1 s)
MIN_REQUESTS = 30
CANARY, BASELINE = "chat-predictor-00002", "chat-predictor-00001"
#: scenario → how the canary serves (the baseline serves the default Behaviour, plus `both`)
SCENARIOS: dict[str, dict] = {
    "healthy": {},
    "slow-ttft": {"ttft_scale": 1.15},
    "errors": {"error_ratio": 0.05},
    "errors-engine": {"error_ratio": 0.05, "both": {"http_metrics": False}},
    "thin": {"rps": 2.0},
    "unreachable": {},
    "by-hand": {},
}


class Stack:
    def __init__(self, server: KubeServer, prom: promsupport.PrometheusServer, namespaces: dict[str, str]) -> None:
        self.server, self.prom, self.namespaces = server, prom, namespaces


@pytest.fixture(scope="module")
def stack(kube_server: KubeServer, tmp_path_factory: pytest.TempPathFactory):
    namespaces = {name: kube_server.namespace("ro") for name in SCENARIOS}
    exporters = {}
    prom = None
    try:
        targets = {}
        for name, canary in SCENARIOS.items():
            exporter = promsupport.Exporter()
            both = canary.get("both", {})
            exporter.set("baseline", **both)
            exporter.set("canary", **{k: v for k, v in canary.items() if k != "both"}, **both)
            exporters[name] = exporter
            ns = namespaces[name]
            targets[f"{name}-baseline"] = (exporter.port("baseline"), {"namespace": ns, "pod": f"{BASELINE}-deployment-7d9f8-abcde"})
            targets[f"{name}-canary"] = (exporter.port("canary"), {"namespace": ns, "pod": f"{CANARY}-deployment-5c8b7-fghij"})
        prom = promsupport.PrometheusServer(tmp_path_factory.mktemp("prometheus"), targets)
        _wait_for_data(prom.url, len(targets))
        yield Stack(kube_server, prom, namespaces)
    finally:
        if prom is not None:
            prom.close()
        for exporter in exporters.values():
            exporter.close()


def _wait_for_data(url: str, targets: int, timeout: float = 40.0) -> None:
    """Until every target has been scraped for a full window (Prometheus starts scraping static
    targets a few seconds after start-up)."""
    query = f'count(count_over_time(up[{OBSERVE}s]) >= {OBSERVE})'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}", timeout=5) as r:
            result = json.loads(r.read())["data"]["result"]
        if result and float(result[0]["value"][1]) >= targets:
            return
        time.sleep(0.5)
    raise RuntimeError("Prometheus has no full window of data from the exporters")


def _endpoint(tmp_path: Path, ns: str, prometheus: str) -> Path:
    path = tmp_path / "chat.yaml"
    path.write_text(
        f"""apiVersion: llmkube.dev/v1alpha1
kind: InferenceEndpoint
metadata: {{name: chat, namespace: {ns}}}
spec:
  model: meta-llama/Llama-3.1-8B-Instruct
  gpu: h100-80gb
  deploymentMode: Knative
  knativeFeatures: [kubernetes.podspec-nodeselector]
  rollout:
    stages: [10, 25, 50, 100]
    observe: {OBSERVE}s
    minRequests: {MIN_REQUESTS}
    prometheus: {prometheus}
"""
    )
    return path


def _rendered(spec: Path) -> dict:
    rendered = subprocess.run([sys.executable, "-m", "llmkube", "render", str(spec), "-f", "json"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    doc = json.loads(rendered.stdout)
    (isvc,) = [o for o in doc.get("items", [doc]) if o["kind"] == "InferenceService"]
    return isvc


def _apply_as_llmkube(server: KubeServer, isvc: dict, *extra: str) -> subprocess.CompletedProcess:
    """What `llmkube apply` runs (its field manager), without its offline checks."""
    return server.kubectl("apply", "--server-side", "--field-manager=llmkube", *extra, "-f", "-", input=json.dumps(isvc))


def _deploy(server: KubeServer, spec: Path, ns: str) -> None:
    """The InferenceService llmkube renders, with the status KServe writes during a canary."""
    isvc = _rendered(spec)
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10  # the first stage
    applied = _apply_as_llmkube(server, isvc)
    assert applied.returncode == 0, applied.stderr
    status = {
        "status": {
            "deploymentMode": "Knative",
            "components": {
                "predictor": {
                    "latestCreatedRevision": CANARY,
                    "latestReadyRevision": CANARY,
                    "latestRolledoutRevision": BASELINE,
                    "traffic": [
                        {"revisionName": CANARY, "latestRevision": True, "percent": 10},
                        {"revisionName": BASELINE, "latestRevision": False, "percent": 90, "tag": "prev"},
                    ],
                }
            },
        }
    }
    server.api(
        "PATCH",
        f"/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices/chat/status",
        status,
        content_type="application/merge-patch+json",
    )


def _percent(server: KubeServer, ns: str) -> int | None:
    isvc = server.get("inferenceservices.serving.kserve.io", "chat", ns)
    assert isvc is not None
    return isvc["spec"]["predictor"].get("canaryTrafficPercent")


def _rollout(server: KubeServer, *args: str) -> tuple[int, dict, str]:
    result = subprocess.run(
        [sys.executable, "-m", "llmkube", "rollout", *args, "-o", "json", "--kubeconfig", server.kubeconfig],
        capture_output=True, text=True, env=server.env, cwd=REPO, timeout=120,
    )
    doc = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, doc, result.stderr


def _scenario(stack: Stack, tmp_path: Path, name: str) -> tuple[str, Path]:
    ns = stack.namespaces[name]
    spec = _endpoint(tmp_path, ns, stack.prom.url)
    _deploy(stack.server, spec, ns)
    return ns, spec


def test_a_healthy_canary_promotes_stage_by_stage(stack: Stack, tmp_path: Path) -> None:
    ns, spec = _scenario(stack, tmp_path, "healthy")
    server = stack.server

    code, doc, err = _rollout(server, "step", str(spec))
    assert code == 5, err  # first seen: the stage's clock starts now
    assert doc["decision"]["action"] == "wait" and _percent(server, ns) == 10
    assert all(g["status"] == "pass" for g in doc["gates"] if g["gate"] != "errorRate")
    record = server.get("configmaps", "chat-llmkube-rollout", ns)
    assert record and record["data"]["percent"] == "10" and record["data"]["revision"] == CANARY

    for before, after in ((10, 25), (25, 50)):
        time.sleep(OBSERVE + 0.5)
        code, doc, err = _rollout(server, "step", str(spec), "--dry-run")
        assert code == 0 and doc["applied"] is False and _percent(server, ns) == before, err
        code, doc, err = _rollout(server, "step", str(spec))
        assert code == 0, err
        assert (doc["decision"]["action"], doc["decision"]["toPercent"]) == ("advance", after)
        assert _percent(server, ns) == after
        code, doc, _ = _rollout(server, "step", str(spec))  # the new stage is too young
        assert code == 5 and "has run" in doc["decision"]["reason"] and _percent(server, ns) == after

    time.sleep(OBSERVE + 0.5)
    code, doc, err = _rollout(server, "step", str(spec))
    assert code == 0 and doc["decision"]["action"] == "promote", err
    assert _percent(server, ns) is None  # KServe's promotion: the split removed, 100 % to the latest
    history = json.loads(server.get("configmaps", "chat-llmkube-rollout", ns)["data"]["history"])
    assert [(h["from"], h["to"]) for h in history] == [(10, 25), (25, 50), (50, None)]
    code, doc, _ = _rollout(server, "status", str(spec))
    assert code == 0 and doc["decision"]["action"] == "idle"


def test_a_canary_15_percent_slower_to_first_token_rolls_back(stack: Stack, tmp_path: Path) -> None:
    ns, spec = _scenario(stack, tmp_path, "slow-ttft")
    code, doc, err = _rollout(stack.server, "step", str(spec))
    assert code == 6, err
    failed = {g["gate"] for g in doc["gates"] if g["status"] == "fail"}
    assert "ttftP50" in failed and failed <= {"ttftP50", "ttftP99"}
    assert _percent(stack.server, ns) == 0  # KServe's rollback: all traffic to the rolled-out revision
    code, doc, _ = _rollout(stack.server, "step", str(spec))
    assert code == 6 and doc["decision"]["action"] == "rolled-back" and _percent(stack.server, ns) == 0


@pytest.mark.parametrize("scenario", ["errors", "errors-engine"])  # HTTP 5xx; aborted requests without HTTP metrics
def test_a_canary_with_more_errors_rolls_back(stack: Stack, tmp_path: Path, scenario: str) -> None:
    ns, spec = _scenario(stack, tmp_path, scenario)
    code, doc, err = _rollout(stack.server, "step", str(spec))
    assert code == 6, err
    assert [g["gate"] for g in doc["gates"] if g["status"] == "fail"] == ["errorRate"]
    (gate,) = [g for g in doc["gates"] if g["gate"] == "errorRate"]
    assert 0.03 < gate["canary"] < 0.07 and gate["baseline"] == 0
    assert _percent(stack.server, ns) == 0


def test_too_little_canary_traffic_waits(stack: Stack, tmp_path: Path) -> None:
    ns, spec = _scenario(stack, tmp_path, "thin")
    time.sleep(OBSERVE + 0.5)
    code, doc, err = _rollout(stack.server, "step", str(spec))
    assert code == 5, err
    assert "too little traffic" in doc["decision"]["reason"] and doc["canary"]["requests"] < MIN_REQUESTS
    assert _percent(stack.server, ns) == 10
    code, doc, _ = _rollout(stack.server, "promote", str(spec))  # nor is a promotion made on thin traffic
    assert code == 5 and _percent(stack.server, ns) == 10


def test_an_unreachable_prometheus_is_exit_2_and_changes_nothing(stack: Stack, tmp_path: Path) -> None:
    ns, spec = _scenario(stack, tmp_path, "unreachable")
    before = _percent(stack.server, ns)
    dead = f"http://127.0.0.1:{promsupport.free_port()}"
    for command in ("step", "promote", "status"):
        code, doc, err = _rollout(stack.server, command, str(spec), "--prometheus", dead)
        assert code == 2 and doc == {}, err
        assert "cannot reach Prometheus" in err and "Traceback" not in err
    assert _percent(stack.server, ns) == before


def test_rollback_by_hand_reads_no_metrics(stack: Stack, tmp_path: Path) -> None:
    ns, spec = _scenario(stack, tmp_path, "by-hand")
    code, doc, err = _rollout(stack.server, "rollback", str(spec), "--dry-run")
    assert code == 6 and doc["applied"] is False and _percent(stack.server, ns) == 10, err
    code, doc, err = _rollout(stack.server, "rollback", str(spec), "--prometheus", "http://127.0.0.1:9")
    assert code == 6 and doc["applied"] is True and _percent(stack.server, ns) == 0, err
    # the split now belongs to the rollout: re-applying the spec is a conflict naming it ...
    again = _apply_as_llmkube(stack.server, _rendered(spec))
    assert again.returncode != 0 and "llmkube-rollout" in again.stderr and _percent(stack.server, ns) == 0
    # ... until the next rollout is started on purpose
    forced = _apply_as_llmkube(stack.server, _rendered(spec), "--force-conflicts")
    assert forced.returncode == 0 and _percent(stack.server, ns) == 10, forced.stderr
