"""Canary rollouts: `llmkube rollout` (policy in specs/rollout.py, docs/rollouts.md)."""
