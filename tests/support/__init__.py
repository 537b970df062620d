"""Test support code, shared by every test module (not part of the llmkube package).

- `paths`: where the repository, the examples and the case corpora are;
- `crds`: where the upstream CRDs are (``$LLMKUBE_TEST_CRDS``, then ``../shared/crds``);
- `cli`: the llmkube CLI run as a subprocess, as a user runs it;
- `fixtures`: the pytest fixtures, registered by ``tests/conftest.py``;
- `kubeserver`: a real kube-apiserver + etcd (scripts/kube-test-server) for the kubectl tests.

Import them as ``from tests.support.cli import llmkube`` (pyproject's pytest
``pythonpath`` puts the repository root on ``sys.path``).
"""
