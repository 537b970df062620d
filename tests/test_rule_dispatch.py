"""Rule dispatch by kind (the fast path) finds what handing every rule every object finds (the
reference path): the same findings in the same order, over each rule case alone, all of them in
one run, the upstream examples and the rendered docs/examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkube import pipeline
from llmkube.check.rules import load_rules, run_rules
from llmkube.check.read.workloads import POD_KINDS, WORKLOAD_KINDS, is_workload, pod_groups
from llmkube.options import Options
from llmkube.profiles import ProfileStore
from tests.support.paths import EXAMPLES, RULE_CASES
from tests.support.rules import corpus


def both(paths: list[Path]) -> tuple[list[str], list[str]]:
    run, _ = pipeline.run_partial([str(p) for p in paths], Options())
    store = ProfileStore.load()
    fast = run_rules(run.targets, store)
    reference = run_rules(run.targets, store, dispatch=False)
    return [repr(f) for f in fast], [repr(f) for f in reference]


def test_some_rules_declare_their_kinds():
    declared = [r for r in load_rules().values() if r.kinds is not None]
    assert len(declared) >= 10


@pytest.mark.parametrize("kind", ["fail", "pass"])
def test_each_rule_case_alone(kind: str):
    for path in corpus(kind):
        fast, reference = both([path])
        assert fast == reference, path


def test_every_rule_case_and_example_in_one_run():
    fast, reference = both([RULE_CASES, EXAMPLES])
    assert fast == reference and len(fast) > 100


def test_the_upstream_examples(upstream_crds: Path):
    fast, reference = both([upstream_crds / "examples"])
    assert fast == reference


def test_the_declared_kinds_cover_every_object_with_pods():
    """POD_KINDS/WORKLOAD_KINDS name every kind `pod_groups`/`is_workload` accept in the corpora."""
    run, _ = pipeline.run_partial([str(RULE_CASES), str(EXAMPLES)], Options())
    with_pods = {t.obj.get("kind") for t in run.targets if pod_groups(t)}
    workloads = {t.obj.get("kind") for t in run.targets if is_workload(t)}
    assert with_pods and with_pods <= set(POD_KINDS)
    assert workloads <= set(WORKLOAD_KINDS)


def test_rules_over_the_servers_and_training_jobs_declare_the_kinds_they_come_from():
    """A rule that reads `ctx.servers` (or `ctx.training_jobs`) declares every kind the reader reads
    them from, so it runs whenever one could be there and is skipped otherwise. LK342 judges
    LeaderWorkerSets only and looks up their servers."""
    import inspect

    from llmkube.check.read.servers import SERVER_KINDS
    from llmkube.check.read.training import TRAINING_KINDS

    readers = {"ctx.servers": set(SERVER_KINDS), "ctx.training_jobs": set(TRAINING_KINDS)}
    narrower = {"LK342"}
    seen = set()
    for code, r in load_rules().items():
        source = inspect.getsource(r.check)
        for reader, kinds in readers.items():
            if reader in source:
                seen.add(code)
                assert r.kinds is not None, f"{code} reads {reader} but declares no kinds"
                assert code in narrower or kinds <= set(r.kinds), f"{code} misses {sorted(kinds - set(r.kinds))}"
    assert {"LK101", "LK102", "LK103", "LK104", "LK302", "LK307"} <= seen


def test_servers_come_only_from_the_declared_kinds(upstream_crds: Path):
    """Every server the reader finds, over the rule cases, docs/examples and the upstream examples,
    is of a kind in SERVER_KINDS (and every training job of one in TRAINING_KINDS)."""
    from llmkube.check.read.context import ReadContext
    from llmkube.check.read.servers import SERVER_KINDS
    from llmkube.check.read.training import TRAINING_KINDS

    run, _ = pipeline.run_partial([str(RULE_CASES), str(EXAMPLES), str(upstream_crds / "examples")], Options())
    ctx = ReadContext(targets=run.targets, profiles=ProfileStore.load())
    server_kinds = {s.target.obj.get("kind") for s in ctx.servers}
    assert {"Pod", "Deployment", "InferenceService", "LeaderWorkerSet", "LLMInferenceService"} <= server_kinds
    assert server_kinds <= set(SERVER_KINDS)
    training_kinds = {t.target.obj.get("kind") for t in ctx.training_jobs}
    assert training_kinds and training_kinds <= set(TRAINING_KINDS)


def test_a_run_without_server_kinds_reads_no_servers(monkeypatch, tmp_path: Path):
    """The runner skips the server and training rules when no object could hold one: the readers
    are not called (the reference path calls them and finds nothing)."""
    from llmkube.check.read import servers, training

    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n"
    )
    run, _ = pipeline.run_partial([str(manifest)], Options())
    calls: list[str] = []
    real_servers, real_training = servers.server_setups, training.training_setups
    monkeypatch.setattr(servers, "server_setups", lambda *a: calls.append("servers") or real_servers(*a))
    monkeypatch.setattr(training, "training_setups", lambda *a: calls.append("training") or real_training(*a))
    store = ProfileStore.load()
    assert run_rules(run.targets, store) == []
    assert calls == []
    assert run_rules(run.targets, store, dispatch=False) == []
    assert set(calls) == {"servers", "training"}


def _kinds_compared(fn) -> set[str]:
    """Every kind a function tests its `kind` variable against (`kind == "Pod"`, `kind in (...)`,
    `kind in KUBEFLOW_JOB_KINDS`), read from its source."""
    import ast
    import inspect
    import textwrap

    module = inspect.getmodule(fn)
    found: set[str] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(fn)))):
        if not (isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "kind"):
            continue
        for right in node.comparators:
            if isinstance(right, ast.Constant):
                found.add(right.value)
            elif isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                found |= {e.value for e in right.elts if isinstance(e, ast.Constant)}
            elif isinstance(right, ast.Name):
                found |= set(getattr(module, right.id))
            else:
                raise AssertionError(f"{fn.__name__} compares kind with {ast.dump(right)}: teach this test to read it")
    return found


def test_every_kind_pod_groups_reads_is_a_pod_kind():
    """A kind added to `_pod_groups` must be added to POD_KINDS too, or the rules that declare
    POD_KINDS would never be handed its objects (no corpus needs to hold one for this to fail)."""
    from llmkube.check.read import workloads

    read = _kinds_compared(workloads._pod_groups)
    assert {"Pod", "Deployment", "LeaderWorkerSet", "JobSet", "PyTorchJob"} <= read
    assert read == set(POD_KINDS), (read ^ set(POD_KINDS))


def test_module_kinds_are_what_the_modules_register():
    """`MODULE_KINDS` (what lets a run import only the rule modules that judge its kinds) is each
    module's union of its rules' kinds, None when one of its rules judges every object."""
    import pkgutil

    from llmkube.check import rules as registry

    expected: dict[str, set[str] | None] = {}
    for r in load_rules().values():
        module = r.check.__module__.rpartition(".")[2]
        known = expected.setdefault(module, set())
        if known is not None:
            expected[module] = None if r.kinds is None else known | set(r.kinds)
    listed = {m.name for m in pkgutil.iter_modules(registry.__path__) if not m.name.startswith("_")}
    assert set(registry.MODULE_KINDS) == listed == set(expected)
    assert {m: (set(k) if k is not None else None) for m, k in registry.MODULE_KINDS.items()} == expected


def test_a_run_imports_the_rule_modules_of_its_kinds_only():
    """In a fresh interpreter: a run of Services and ConfigMaps does not import the modules whose
    rules all judge other kinds (LeaderWorkerSets' multi-node rules, the workload sizing rules)."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from llmkube.check.rules import rules_for_kinds\n"
        "codes = rules_for_kinds(['Service', 'ConfigMap'])\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('llmkube.check.rules.'))))\n"
        "print(' '.join(codes))\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('llmkube.check.read.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
    modules, codes = set(out[0].split()), out[1].split()
    assert "llmkube.check.rules.security" in modules and "LK502" in codes
    assert not modules & {"llmkube.check.rules.serving_multinode", "llmkube.check.rules.sizing", "llmkube.check.rules.admission_kueue"}
    assert "LK101" not in codes and "LK340" not in codes
    # core Services are not Knative ones: neither the KServe/Knative rules nor their reader load
    assert "llmkube.check.rules.admission_kserve" not in modules and "LK604" not in codes
    assert "llmkube.check.read.kserve" not in out[2].split()
    every = load_rules()
    assert all(every[c].kinds is None or {"Service", "ConfigMap"} & set(every[c].kinds) for c in codes)


def test_kinds_of_one_api_group_dispatch_by_group():
    """The Knative rules (LK604, LK605) judge Knative Services, not core ones, and the Volcano
    rules (LK610-LK612) Volcano Jobs, not batch Jobs; `rules_for_kinds` is handed each object's
    kind both ways (`qualified_kinds`)."""
    from llmkube.check.rules import rules_for_kinds

    assert {"LK604", "LK605"} <= set(rules_for_kinds(["Service", "Service.serving.knative.dev"]))
    assert not {"LK604", "LK605"} & set(rules_for_kinds(["Service", "Service.v1"]))
    assert {"LK610", "LK611", "LK612"} <= set(rules_for_kinds(["Job", "Job.batch.volcano.sh"]))
    assert not {"LK610", "LK611", "LK612"} & set(rules_for_kinds(["Job", "Job.batch"]))


def test_core_and_group_kinds_of_one_name_in_one_run(tmp_path: Path):
    """A core Service and a Knative Service, a batch Job and a Volcano Job in one run: dispatch
    finds what the reference finds, the group rules' findings among them."""
    core = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n---\n"
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec:\n  template:\n    spec:\n"
        "      restartPolicy: Never\n      containers: [{name: c, image: 'busybox:1.36'}]\n"
    )
    (tmp_path / "core.yaml").write_text(core)
    fast, reference = both([tmp_path, RULE_CASES / "LK604" / "fail", RULE_CASES / "LK610" / "fail"])
    assert fast == reference
    assert any("'LK604'" in f for f in fast) and any("'LK610'" in f for f in fast)
    alone, alone_reference = both([tmp_path])
    assert alone == alone_reference
