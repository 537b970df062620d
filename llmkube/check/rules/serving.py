"""LK3xx: serving rules (KServe, vLLM, TGI, Deployments of model servers)."""

from __future__ import annotations

from collections.abc import Iterator

from llmkube.check.findings import Severity
from llmkube.check.rules import Hit, RuleContext, rule

CANARY_ANNOTATION = "serving.kserve.io/canaryTrafficPercent"


@rule("LK301", "canary-annotation", Severity.ERROR, "canary traffic set by an annotation KServe does not read")
def canary_annotation(ctx: RuleContext) -> Iterator[Hit]:
    """KServe splits traffic between the previous and the latest revision by the
    field `spec.predictor.canaryTrafficPercent`. The annotation
    `serving.kserve.io/canaryTrafficPercent` is not a KServe setting: with it,
    every request goes to the new revision at once.

    Fails:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations:
        serving.kserve.io/canaryTrafficPercent: "10"
    spec:
      predictor:
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```

    Passes:

    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {name: llama}
    spec:
      predictor:
        canaryTrafficPercent: 10
        containers: [{name: kserve-container, image: vllm/vllm-openai:v0.11.0}]
    ```
    """
    for target in ctx.of_kind("InferenceService"):
        annotations = (target.obj.get("metadata") or {}).get("annotations") or {}
        if CANARY_ANNOTATION in annotations:
            yield Hit(
                target,
                ("metadata", "annotations", CANARY_ANNOTATION),
                f"the {CANARY_ANNOTATION} annotation is not read by KServe: use the field",
                f"set spec.predictor.canaryTrafficPercent: {annotations[CANARY_ANNOTATION]} and remove the annotation",
            )
