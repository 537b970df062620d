"""llmkube: typed specs for LLM workloads → validated Kubernetes manifests."""

__version__ = "0.2.0"
