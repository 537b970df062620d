"""LK6xx admission: rules shared by several controllers (object names).

The other admission rules live in one module per upstream project:
admission_kserve (KServe, Knative), admission_kubeflow (training-operator),
admission_kueue and admission_volcano.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext
from llmkube.check.read.shape import meta
from llmkube.check.read.workloads import KUBEFLOW_JOB_KINDS
from llmkube.check.rules import Hit, rule

# kserve v0.20.0 pkg/apis/serving/v1beta1/inference_service_validation.go IsvcNameFmt (matched whole);
# the same pattern is apimachinery's DNS-1035 label, which also caps the length at 63.
LABEL_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# training-operator v1.9.4 webhooks (pytorch, tensorflow, xgboost, paddlepaddle, jax) call
# NameIsDNS1035Label; MPIJob has no webhook there.
DNS1035_KINDS = tuple(k for k in KUBEFLOW_JOB_KINDS if k != "MPIJob")


def _suggest(name: str) -> str:
    fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    fixed = re.sub(r"^[^a-z]+", "", fixed)
    return fixed[:63].rstrip("-") or "my-name"


@rule("LK601", "name-refused", Severity.ERROR, "an object name its controller's admission webhook refuses", kinds=("InferenceService", *DNS1035_KINDS))
def name_refused(ctx: ReadContext) -> Iterator[Hit]:
    """KServe and the Kubeflow training operator accept narrower names than
    Kubernetes does: an InferenceService name must match
    `[a-z]([-a-z0-9]*[a-z0-9])?` (a letter first, no dots), and a PyTorchJob,
    TFJob, XGBoostJob, PaddleJob or JAXJob name must be a DNS-1035 label (the
    same pattern, at most 63 characters). `8b-chat` or `llama.v3` pass the
    API server's own name check and are refused by the webhook. (TrainJob's
    name rule is a CEL rule of its CRD, reported by the schema check.)
    Source: kserve v0.20.0 `inference_service_validation.go`
    `validateInferenceServiceName` (`IsvcNameFmt`); kubeflow/trainer v1.9.4
    `pkg/webhooks/pytorch/pytorchjob_webhook.go` `validatePyTorchJob` (and
    the tensorflow, xgboost, paddlepaddle and jax webhooks) calling
    `NameIsDNS1035Label`. Upstream tests refuse `1abcde`, `abc.de` and `0-test`.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {name: 8b-chat}
    spec:
      predictor:
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {name: llama-8b-chat}
    spec:
      predictor:
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```
    """
    for target in ctx.of_kind("InferenceService", *DNS1035_KINDS):
        name = meta(target.obj).get("name")
        if not isinstance(name, str) or not name:
            continue
        kind = target.obj.get("kind")
        isvc = kind == "InferenceService"
        if kind in DNS1035_KINDS and not str(target.obj.get("apiVersion", "")).startswith("kubeflow.org/"):
            continue
        if LABEL_1035.fullmatch(name) and (isvc or len(name) <= 63):
            continue
        who = "KServe" if isvc else "the training operator"
        rule_text = "[a-z]([-a-z0-9]*[a-z0-9])?" if isvc else "a DNS-1035 label ([a-z]([-a-z0-9]*[a-z0-9])?, at most 63 characters)"
        yield Hit(
            target,
            ("metadata", "name"),
            f"{kind} name {name!r} is refused by {who}'s admission webhook: it must match {rule_text} "
            "(lowercase letters, digits and '-', starting with a letter)",
            f"rename it, e.g. {_suggest(name)!r}",
        )
