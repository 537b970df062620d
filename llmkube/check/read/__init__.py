"""Reading manifests: what the objects of a run say, in the terms rules and `llmkube plan` need.

Rules read manifests, not llmkube specs, so hand-written YAML and rendered
output are judged alike. Everything that knows *where* a fact lives in a
manifest — the pods of a PyTorchJob, the vLLM flags of a container, the queue
a job names, the MIG layouts inside a ConfigMap — is here, one module per
concern; the rules in `check.rules` keep only the judgement. `ReadContext`
(in `context`) reads each of these once per run.
"""
