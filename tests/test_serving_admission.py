"""InferenceEndpoint output that KServe's and Knative's webhooks admit (issue 9, items 2-6).

Each case is a fact read from upstream at the versions we target (KServe v0.20.0, Knative
Serving knative-v1.21.1): the CPU limit KServe's defaulter fills in, Knative's port-name and
feature-flag checks, KServe's name rule, and where `canaryTrafficPercent` is honoured.
"""

from __future__ import annotations

import pytest

from llmkube.plan.inference import KSERVE_DEFAULT_LIMITS, kserve_defaulted
from llmkube.quantity import quantity_value
from tests.support.cli import llmkube, load_all
from tests.support.crds import UPSTREAM_CRDS
from tests.support.paths import EXAMPLES

pytestmark = pytest.mark.usefixtures("upstream_crds")

ENDPOINT = """apiVersion: llmkube.dev/v1alpha1
kind: InferenceEndpoint
metadata: {name: ep, namespace: serving}
spec:
  model: meta-llama/Llama-3.1-8B-Instruct
  gpu: h100-80gb
"""
KNATIVE = "  deploymentMode: Knative\n"
NODE_SELECTOR_FLAG = "  knativeFeatures: [kubernetes.podspec-nodeselector]\n"


def render(text: str, tmp_path) -> tuple[int, list[dict], str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    out = llmkube("render", str(spec), "--crds", str(UPSTREAM_CRDS))
    return out.returncode, load_all(out.stdout) if out.returncode == 0 else [], out.stderr


def only(docs: list[dict], kind: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def isvc_container(docs: list[dict]) -> dict:
    (container,) = only(docs, "InferenceService")["spec"]["predictor"]["containers"]
    return container


def deployment_container(docs: list[dict]) -> dict:
    (container,) = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


# ---- item 2: resources after KServe's defaulting ---------------------------------------


def no_request_above_its_limit(resources: dict) -> bool:
    after = kserve_defaulted(resources)
    return all(quantity_value(after["requests"][k]) <= quantity_value(after["limits"][k]) for k in ("cpu", "memory"))


def test_kserve_container_gets_a_cpu_limit_equal_to_its_request(tmp_path):
    rc, docs, err = render(ENDPOINT + "  resources: {cpu: 8, memory: 32Gi}\n", tmp_path)
    assert rc == 0, err
    resources = isvc_container(docs)["resources"]
    assert resources["limits"]["cpu"] == 8 and resources["limits"]["memory"] == "32Gi"
    # without the limit, KServe's defaulter would add its 1-CPU default under an 8-CPU request
    assert not no_request_above_its_limit({"requests": resources["requests"], "limits": {"memory": "32Gi"}})
    assert no_request_above_its_limit(resources)


def test_every_example_inferenceservice_keeps_requests_within_limits_after_defaulting():
    out = llmkube("render", *map(str, sorted(EXAMPLES.glob("*.yaml"))), "--crds", str(UPSTREAM_CRDS))  # one run: quick
    assert out.returncode == 0, out.stderr
    isvcs = [d for d in load_all(out.stdout) if d["kind"] == "InferenceService"]
    assert len(isvcs) >= 2  # examples 05 and 06
    for isvc in isvcs:
        if "containers" not in isvc["spec"]["predictor"]:
            continue  # KServe's multi-node shape (predictor.model), checked in test_multinode.py
        (container,) = isvc["spec"]["predictor"]["containers"]
        name = isvc["metadata"]["name"]
        assert "cpu" in container["resources"]["limits"], name
        assert no_request_above_its_limit(container["resources"]), name


def test_spec_sets_the_cpu_limit_on_both_targets(tmp_path):
    rc, docs, err = render(ENDPOINT + "  resources: {cpu: 4, cpuLimit: 12, memory: 32Gi}\n", tmp_path)
    assert rc == 0, err
    assert isvc_container(docs)["resources"]["limits"]["cpu"] == 12
    rc, docs, err = render(ENDPOINT + "  target: deployment\n  resources: {cpu: 4, cpuLimit: 12}\n", tmp_path)
    assert rc == 0, err
    resources = deployment_container(docs)["resources"]
    assert (resources["requests"]["cpu"], resources["limits"]["cpu"]) == (4, 12)


def test_a_deployment_gets_no_cpu_limit_unless_asked(tmp_path):
    rc, docs, err = render(ENDPOINT + "  target: deployment\n  resources: {cpu: 4}\n", tmp_path)
    assert rc == 0, err
    assert "cpu" not in deployment_container(docs)["resources"]["limits"]


def test_a_cpu_limit_alone_is_also_the_request(tmp_path):
    # KServe would otherwise fill a 1-CPU request above a 500m limit
    rc, docs, err = render(ENDPOINT + "  resources: {cpuLimit: 500m}\n", tmp_path)
    assert rc == 0, err
    resources = isvc_container(docs)["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "500m"
    assert no_request_above_its_limit(resources)
    assert KSERVE_DEFAULT_LIMITS["cpu"] == "1"


def test_a_cpu_limit_below_the_request_is_refused(tmp_path):
    rc, _, err = render(ENDPOINT + "  resources: {cpu: 8, cpuLimit: 4}\n", tmp_path)
    assert rc == 2
    assert "spec.resources.cpuLimit" in err and "below the CPU request" in err


# ---- item 3: the port name ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["", KNATIVE + NODE_SELECTOR_FLAG, "  deploymentMode: RawDeployment\n"])
def test_the_kserve_port_is_named_http1_in_every_mode(tmp_path, mode):
    rc, docs, err = render(ENDPOINT + mode, tmp_path)
    assert rc == 0, err
    assert isvc_container(docs)["ports"] == [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}]


def test_the_deployment_port_keeps_the_name_its_service_targets(tmp_path):
    rc, docs, err = render(ENDPOINT + "  target: deployment\n", tmp_path)
    assert rc == 0, err
    assert deployment_container(docs)["ports"][0]["name"] == "http"
    assert only(docs, "Service")["spec"]["ports"][0]["targetPort"] == "http"


def test_a_knative_reserved_port_is_refused(tmp_path):
    rc, _, err = render(ENDPOINT + KNATIVE + NODE_SELECTOR_FLAG + "  port: 8012\n", tmp_path)
    assert rc == 2
    assert "spec.port" in err and "reserves port 8012" in err
    rc, _, err = render(ENDPOINT + "  port: 8012\n", tmp_path)  # Standard mode has no queue-proxy
    assert rc == 0, err


# ---- item 4: deployment mode and Knative feature flags ---------------------------------------


def test_the_default_mode_is_standard_and_written_explicitly(tmp_path):
    rc, docs, err = render(ENDPOINT, tmp_path)
    assert rc == 0, err
    isvc = only(docs, "InferenceService")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert "serving.knative.dev/progress-deadline" not in (isvc["spec"]["predictor"].get("annotations") or {})


def test_knative_mode_names_the_flag_a_gpu_node_selector_needs(tmp_path):
    rc, _, err = render(ENDPOINT + KNATIVE, tmp_path)
    assert rc == 2
    assert "spec.knativeFeatures" in err
    assert "kubernetes.podspec-nodeselector" in err and "config-features" in err
    assert "deploymentMode: Standard" in err


def test_knative_mode_with_the_declared_flag_is_rendered(tmp_path):
    rc, docs, err = render(ENDPOINT + KNATIVE + NODE_SELECTOR_FLAG, tmp_path)
    assert rc == 0, err
    isvc = only(docs, "InferenceService")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert isvc["spec"]["predictor"]["nodeSelector"]


def test_knative_mode_with_a_writable_cache_claim_needs_both_claim_flags(tmp_path):
    text = ENDPOINT + KNATIVE + NODE_SELECTOR_FLAG + "  cache: {claim: hf-cache}\n"
    rc, _, err = render(text, tmp_path)
    assert rc == 2
    assert "kubernetes.podspec-persistent-volume-claim" in err and "kubernetes.podspec-persistent-volume-write" in err
    flags = "[kubernetes.podspec-nodeselector, kubernetes.podspec-persistent-volume-claim, kubernetes.podspec-persistent-volume-write]"
    rc, _, err = render(text.replace("[kubernetes.podspec-nodeselector]", flags), tmp_path)
    assert rc == 0, err


def test_knative_mode_with_pool_taints_needs_the_tolerations_flag(tmp_path):
    fleet = """apiVersion: llmkube.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  pools:
    - name: gpus
      gpu: h100-80gb
      nodeLabels: {pool: gpus}
      taints: [{key: nvidia.com/gpu}]
---
"""
    text = fleet + ENDPOINT.replace("  gpu: h100-80gb\n", "  pool: gpus\n") + KNATIVE + NODE_SELECTOR_FLAG
    rc, _, err = render(text, tmp_path)
    assert rc == 2 and "kubernetes.podspec-tolerations" in err


def test_knative_mode_without_the_affinity_flag_leaves_out_the_soft_anti_affinity(tmp_path):
    text = ENDPOINT + KNATIVE + NODE_SELECTOR_FLAG + "  replicas: {min: 2, max: 2}\n"
    rc, docs, err = render(text, tmp_path)
    assert rc == 0, err
    assert "affinity" not in only(docs, "InferenceService")["spec"]["predictor"]
    assert "kubernetes.podspec-affinity" in err  # the note says how to get it back
    rc, docs, err = render(text.replace("podspec-nodeselector]", "podspec-nodeselector, kubernetes.podspec-affinity]"), tmp_path)
    assert rc == 0, err
    assert "podAntiAffinity" in only(docs, "InferenceService")["spec"]["predictor"]["affinity"]


def test_an_unknown_feature_flag_name_is_refused_by_the_schema(tmp_path):
    rc, _, err = render(ENDPOINT + KNATIVE + "  knativeFeatures: [nodeselector]\n", tmp_path)
    assert rc == 2 and "spec.knativeFeatures" in err


# ---- item 5: names by the rule of the object they become --------------------------------------


@pytest.mark.parametrize("target", ["kserve", "deployment"])
def test_a_name_starting_with_a_digit_is_refused_with_a_fix(tmp_path, target):
    text = ENDPOINT.replace("name: ep,", "name: 8b-chat,") + f"  target: {target}\n"
    rc, _, err = render(text, tmp_path)
    assert rc == 2
    assert "metadata.name" in err and "'8b-chat'" in err and "'llama-8b-chat'" in err
    assert ("InferenceService" if target == "kserve" else "DNS-1035") in err


def test_a_name_too_long_for_the_predictor_service_is_refused(tmp_path):
    name = "a" * 54  # "-predictor" makes 64
    rc, _, err = render(ENDPOINT.replace("name: ep,", f"name: {name},"), tmp_path)
    assert rc == 2 and "-predictor" in err and "at most 53" in err
    rc, _, err = render(ENDPOINT.replace("name: ep,", f"name: {name[:53]},"), tmp_path)
    assert rc == 0, err


# ---- item 6: canary ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["", "  deploymentMode: RawDeployment\n"])
def test_canary_is_refused_where_kserve_ignores_it(tmp_path, mode):
    rc, _, err = render(ENDPOINT + mode + "  canary: {trafficPercent: 10}\n", tmp_path)
    assert rc == 2
    assert "spec.canary" in err and "ignores" in err and "deploymentMode: Knative" in err


def test_canary_in_knative_mode_is_the_predictor_field(tmp_path):
    rc, docs, err = render(ENDPOINT + KNATIVE + NODE_SELECTOR_FLAG + "  canary: {trafficPercent: 10}\n", tmp_path)
    assert rc == 0, err
    predictor = only(docs, "InferenceService")["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
