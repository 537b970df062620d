"""Test support code (not part of the llmkube package).

`apiserver` is a small Kubernetes API server that the real `kubectl` can talk to.
Test modules import it as `from support.apiserver import ApiServer` (pytest puts
`tests/` on `sys.path` because `tests/` is not a package).
"""
