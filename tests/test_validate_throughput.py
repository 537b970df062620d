"""What makes `validate` fast must not change what it finds: the sizing cache, configs parsed once."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from llmkube import pipeline
from llmkube.check.read.context import ReadContext
from llmkube.check.run import Target
from llmkube.options import Options
from llmkube.plan.sizing import serving_fit
from llmkube.profiles import ProfileStore
from llmkube.yamlio import parse_documents, to_plain
from tests.support.paths import EXAMPLES, RULE_CASES


@functools.cache
def every_case() -> list[Target]:
    """Every rule case and rendered example, in one run (so copies of one server meet in the cache)."""
    run, errors = pipeline.run_partial([str(RULE_CASES), str(EXAMPLES)], Options())
    return list(run.targets)


def test_the_sizing_cache_answers_what_each_server_computes():
    ctx = ReadContext(targets=every_case(), profiles=ProfileStore.load())
    servers = ctx.servers
    assert len(servers) > 50
    for _ in range(2):  # the second pass answers from the cache
        for s in servers:
            assert ctx.sizing.fit(s) == s.fit()
            assert ctx.sizing.fit_options(s) == s.fit_options()
            assert ctx.sizing.recommendation(s) == s.recommendation()
            assert ctx.sizing.load_estimate(s) == s.load_estimate()
            if s.model is not None and s.gpu is not None:
                for tp in (1, 2, 8):
                    config = dataclasses.replace(s.sizing_config, tensor_parallel=tp, pipeline_parallel=1)
                    assert ctx.sizing.fit_at(s, config) == serving_fit(s.model, s.gpu.memory_gib, config, gpu_name=s.gpu_name)


def test_plan_rows_from_the_run_cache_are_those_of_each_server_alone():
    """`llmkube plan` sizes through the run's SizingCache (as LK101/LK103/LK305 do); every row is
    what the server sized alone (a fresh cache) gives, the run read twice so each server has a copy."""
    from llmkube.check.read.sizing_cache import SizingCache
    from llmkube.sizing_report import plan_rows, server_row

    store = ProfileStore.load()
    targets = [*every_case(), *pipeline.run_partial([str(RULE_CASES), str(EXAMPLES)], Options())[0].targets]
    rows = [r for r in plan_rows(targets, store) if r["kind"] == "server"]
    alone = [server_row(s, SizingCache()) for s in ReadContext(targets=targets, profiles=store).servers]
    assert len(rows) > 100 and rows == alone
    assert sum(1 for r in rows if r["fits"] is False) > 5 and sum(1 for r in rows if r["fit_options"]) > 5


def test_servers_that_differ_in_one_flag_get_their_own_answer():
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: llama-8b}
spec:
  nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
  containers:
    - name: vllm
      image: vllm/vllm-openai:v0.11.0
      args: [--model, meta-llama/Llama-3.1-8B-Instruct, --max-model-len, "LEN", --max-num-seqs, "64"]
      resources: {limits: {nvidia.com/gpu: 1}}
"""
    targets = [
        Target(obj=to_plain(d.data), document=d)
        for n in ("8192", "32768", "8192")
        for d in parse_documents(text.replace("LEN", n), f"{n}.yaml")
    ]
    ctx = ReadContext(targets=targets, profiles=ProfileStore.load())
    fits = [ctx.sizing.fit(s) for s in ctx.servers]
    assert [f.max_model_len for f in fits if f] == [8192, 32768, 8192]
    assert fits[0] is fits[2] and fits[0] != fits[1]


def test_copies_of_one_gpu_operator_configmap_are_each_read_and_placed():
    one = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: NAME, namespace: gpu-operator}
data:
  config.yaml: |
    version: v1
    mig-configs:
      all-3g:
        - devices: all
          mig-enabled: true
          mig-devices: {"3g.40gb": 2}
"""
    text = one.replace("NAME", "a") + "---\n" + one.replace("NAME", "b")
    targets = [Target(obj=to_plain(d.data), document=d) for d in parse_documents(text, "cm.yaml")]
    ctx = ReadContext(targets=targets, profiles=ProfileStore.load())
    configs = ctx.gpu_configs
    assert [c.where for c in configs] == ["ConfigMap a key config.yaml", "ConfigMap b key config.yaml"]
    assert configs[0].config == configs[1].config
    # a path inside the block points at the line inside it, in each copy
    where = ("data", "config.yaml", "mig-configs", "all-3g", 0, "mig-devices")
    assert [c.target.mark(where).line for c in configs] == [11, 23]


TOKENS = ["hf_ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210", "AKIAIOSFODNN7EXAMPLE",
          "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYa"]


def test_lk501_skips_only_objects_that_hold_nothing_token_shaped():
    """LK501 first asks whether an object can hold a token at all (all its strings searched at once):
    a token at the start or end of any value, or a token variable set to a plain word, is still found."""
    from llmkube.check.rules import load_rules

    check = load_rules()["LK501"].check
    placed = []
    for token in TOKENS:
        for value in (token, f"x {token}", f"{token} x", f"--token={token}"):
            placed += [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "a", "z": value}},
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {"a": value}},
                 "spec": {"containers": [{"name": "c", "image": "i:1", "args": ["a", value]}]}},
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                 "spec": {"containers": [{"name": "c", "image": "i:1", "env": [{"name": "X", "value": value}]}]}},
            ]
    placed.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "c", "image": "i:1", "env": [{"name": "hf_token", "value": "plain"}]}]}})
    for obj in placed:
        ctx = ReadContext(targets=[Target(obj=obj)], profiles=ProfileStore.load())
        assert list(check(ctx)), obj
    clean = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
             "data": {"a": "hf_", "b": "ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210"}}
    assert not list(check(ReadContext(targets=[Target(obj=clean)], profiles=ProfileStore.load())))


CACHED = ("LK101", "LK103", "LK305", "LK306", "LK307", "LK342", "LK401", "LK402", "LK403", "LK501")


def test_a_copy_of_a_case_in_another_file_is_reported_again_at_its_own_place(tmp_path):
    """The caches (sizing, GPU Operator configs, MIG verdicts) answer a copy from what the first one
    computed; the copy's findings still name its own file and line."""
    from llmkube.check.rules import run_rules

    store = ProfileStore.load()
    checked = 0
    for code in CACHED:
        for case in sorted((RULE_CASES / code / "fail").glob("*.yaml")):
            copies = []
            for where in ("a", "b"):
                (tmp_path / code / where).mkdir(parents=True, exist_ok=True)
                copies.append(tmp_path / code / where / case.name)
                copies[-1].write_text(case.read_text())
            one, errors = pipeline.run_partial([str(copies[0])], Options())
            two, errors2 = pipeline.run_partial([str(c) for c in copies], Options())
            if errors or errors2 or one.rendering.objects or any(t.obj.get("kind") == "ClusterPolicy" for t in one.targets):
                continue  # specs: two copies of one spec are refused; the ClusterPolicy is one per cluster
            once = [f for f in run_rules(one.targets, store) if f.code == code]
            twice = [f for f in run_rules(two.targets, store) if f.code == code]
            assert once, case
            assert sorted((f.mark.file.replace("/b/", "/a/"), f.mark.line, f.message) for f in twice) == sorted(
                (f.mark.file, f.mark.line, f.message) for f in once * 2
            ), case
            assert {f.mark.file for f in twice} == {str(c) for c in copies}
            checked += 1
    assert checked >= len(CACHED)


HOSTILE = [
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {1: x}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {? [a]\n : x}\n",
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {"\\ud83d": x}\n',
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: "\\ud83d\\ude80", b: "\\udc00"}\n',
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: .inf, b: -.inf, c: .nan}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: 18446744073709551616, b: -9223372036854775809, c: 9223372036854775807}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: " + "[" * 101 + "]" * 101 + "\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: " + "[" * 99 + "]" * 99 + "\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: a}\ndata: {x: *m, y: *m}\n",
    "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d]\n",
    "apiVersion: 1\nkind: [Pod]\nmetadata: x\n",
    "apiVersion: v1\nkind: Pod\nmetadata: {name: é, namespace: 3}\nspec: {a: true, b: 1.5, c: ünïcode}\n",
]


def test_document_problems_fast_check_agrees_with_the_walker(monkeypatch):
    """`document_problems` skips the walker for clean documents; the answer is the walker's."""
    from llmkube import yamlio

    texts = list(HOSTILE) + [p.read_text() for p in sorted(RULE_CASES.rglob("*.yaml"))[:400]]
    texts += [p.read_text() for p in sorted((RULE_CASES.parent / "validate").glob("*.yaml"))]
    compared = 0
    for text in texts:
        try:
            docs = parse_documents(text, "x.yaml")
        except Exception:
            continue
        for doc in docs:
            fast = [str(e) for e in yamlio.document_problems(doc)]
            with monkeypatch.context() as m:
                m.setattr(yamlio, "_plainly_clean", lambda data: False)
                reference = [str(e) for e in yamlio.document_problems(doc)]
            assert fast == reference, text
            compared += 1
    assert compared > 300


def _recursive_metadata_walk(node, path):
    """The metadata pass as it was written before it walked with a stack: the reference."""
    from llmkube.check import metadata as md

    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _recursive_metadata_walk(item, (*path, i))
        return
    if not hasattr(node, "items"):
        return
    for key, value in node.items():
        if not isinstance(key, str):
            continue
        here = (*path, key)
        if key == "metadata" and hasattr(value, "items") and (not path or path[-1] == "template"):
            yield from md._object_meta(value, here)
            continue
        if key in ("nodeSelector", "matchLabels") and hasattr(value, "items"):
            yield from md._labels(value, here, key)
            continue
        if key == "nodeLabels" and path == ("spec",) and hasattr(value, "items"):
            yield from md._labels(value, here, "nodeLabels")
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            yield from md._range(key, value, here)
            continue
        yield from _recursive_metadata_walk(value, here)


def yaml_dump_all(docs: list) -> str:
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False)


def test_the_metadata_walk_finds_what_the_recursive_one_found_in_its_order():
    from llmkube.check import metadata as md

    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a/b/c": "v", "ok": "-bad-"}},
           "spec": {"replicas": -1, "selector": {"matchLabels": {"k": "v" * 70}}, "template": {
               "metadata": {"labels": {"_x": "y"}, "annotations": {"Bad Key": "1"}},
               "spec": {"nodeSelector": {"@": "1"}, "containers": [{"name": "c", "ports": [{"containerPort": 70000}, {"hostPort": 0}]}],
                        "x": [[{"metadata": {"name": "deep"}, "parallelism": 2**40}]]}}}}
    objects = [bad, {"spec": {"nodeLabels": {"a b": "c"}}, 3: {"replicas": -5}}] + [t.obj for t in every_case()]
    # and as parsed, before `to_plain`: marked mappings and lists, ScalarInt, ruamel's own types
    objects += [t.document.data for t in every_case() if t.document is not None]
    objects += [d.data for d in parse_documents(yaml_dump_all([bad]), "bad.yaml")]
    found = 0
    for obj in objects:
        fast = list(md._walk(obj, ()))
        assert fast == list(_recursive_metadata_walk(obj, ())), obj
        found += len(fast)
    assert found >= 8


def test_each_objects_pod_groups_are_read_once_and_are_what_a_fresh_read_gives(monkeypatch):
    from llmkube.check.read import workloads
    from llmkube.check.rules import run_rules

    targets = [Target(obj=t.obj, document=t.document, spec=t.spec) for t in every_case()]
    reads: list[int] = []
    fresh = workloads._pod_groups
    monkeypatch.setattr(workloads, "_pod_groups", lambda t: reads.append(id(t)) or fresh(t))
    run_rules(targets, ProfileStore.load())
    assert reads and len(reads) == len(set(reads))  # once per object
    for t in targets:
        if "pod_groups" in t.reads:
            assert t.reads["pod_groups"] == tuple(fresh(t))


def _floated(node):
    """A copy with every image unpinned (`:latest`, or no tag) and every env value a literal token."""
    if isinstance(node, dict):
        out = {k: _floated(v) for k, v in node.items()}
        if isinstance(out.get("image"), str):
            out["image"] = out["image"].split("@")[0].rsplit(":", 1)[0] + (":latest" if len(out["image"]) % 2 else "")
        if "name" in out and "valueFrom" in out:
            out["value"] = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" if len(str(out["name"])) % 2 else "$(HF_TOKEN)"
        return out
    if isinstance(node, list):
        return [_floated(v) for v in node]
    return node


def test_lk501_and_lk502_quick_checks_skip_only_objects_they_would_find_nothing_in():
    """LK501 and LK502 first ask, without building paths, whether an object can hold what they look
    for; with the question always answered yes (the full walk for every object) they find the same."""
    from llmkube.check.rules import load_rules

    base = every_case() + [Target(obj=_floated(t.obj)) for t in every_case()]
    rules = load_rules()

    def hits(answers: tuple[bool, bool] | None = None) -> list[tuple[int, tuple, str]]:
        targets = [dataclasses.replace(t) for t in base]  # new targets: the quick answers are kept on them
        if answers is not None:
            for t in targets:
                t.reads["security.quick"] = answers  # the rules take the kept answer: no quick walk
        position = {id(t): i for i, t in enumerate(targets)}
        ctx = ReadContext(targets=targets, profiles=ProfileStore.load())
        return [(position[id(h.target)], h.path, h.message) for code in ("LK501", "LK502") for h in rules[code].check(ctx)]

    quick = hits()
    assert hits((True, True)) == quick
    assert hits((False, False)) == [h for h in quick if base[h[0]].obj.get("kind") == "Secret"]  # LK501 asks no Secret
    assert sum(1 for _, _, m in quick if "latest" in m or "no tag" in m) > 50
    assert sum(1 for _, _, m in quick if "token" in m) > 20


def test_checking_plain_manifests_loads_no_template_engine(tmp_path):
    """jinja2 (~40 ms of imports) is for rendering specs, and the InferenceEndpoint models and
    planners (~50 ms) for specs and model servers: a run of plain manifests, rules and all, does
    without them."""
    import os
    import subprocess
    import sys

    manifest = tmp_path / "m.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    code = (
        "import sys\nfrom llmkube import pipeline\nfrom llmkube.options import Options\n"
        f"run, errors = pipeline.run_partial([{str(manifest)!r}], Options())\n"
        "assert not errors and run.findings == [], (errors, run.findings)\n"
        "heavy = ('llmkube.render', 'llmkube.plan.multinode', 'llmkube.plan.inference', 'llmkube.specs.inferenceendpoint')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'jinja2' or m in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "HOME": str(tmp_path)})
    assert out.stdout.strip() == "[]", out.stdout


def test_split_words_is_shlex_split_for_every_string():
    """`check.read.args.split_words` answers as POSIX `shlex.split` does (the same words, the same
    ValueError), for every string of the rule cases and examples and for random strings of the
    characters that matter: quotes, the escape, `#`, shlex's whitespace and the whitespace it keeps;
    asked again, from the splits it remembers."""
    import random
    import shlex

    from llmkube.check.read.args import split_words

    def strings(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from strings(v)
        elif isinstance(node, list):
            for v in node:
                yield from strings(v)
        elif isinstance(node, str):
            yield node

    def outcome(split, text):
        try:
            return split(text)
        except ValueError as exc:
            return ("ValueError", str(exc))

    texts = {s for t in every_case() for s in strings(t.obj)}
    rng = random.Random(16)
    alphabet = "ab=-' \"\\#\t\r\n\x0b\x0c\u00a0\u2003\x00$"
    texts |= {"".join(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(20000)}
    assert len(texts) > 15000 and sum(1 for t in texts if len(t.split()) > 1) > 1000
    for text in texts:
        assert outcome(split_words, text) == outcome(shlex.split, text), repr(text)
    for text in sorted(texts)[:3000]:  # twice in a row: the second from the remembered split
        want = outcome(shlex.split, text)
        assert outcome(split_words, text) == want and outcome(split_words, text) == want, repr(text)
        got = outcome(split_words, text)
        if isinstance(got, list):  # a caller's edit is its own
            got.append("changed")
            assert outcome(split_words, text) == want, repr(text)


def test_local_queues_by_cluster_queue_are_the_scan_s():
    """`ClusterObjects.local_queues_of` answers from an index built once (LK210 asked per
    ClusterQueue, scanning every LocalQueue: N² for N Quotas); the same queues, in the same order,
    as the scan, for every ClusterQueue name the cases, examples and a rendered federation use, on
    every cluster, and for LocalQueues whose `spec.clusterQueue` is not a string."""
    from llmkube.check.read.multikueue import ClusterObjects, Federation

    odd = [
        Target(obj={"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "LocalQueue",
                    "metadata": {"name": f"odd{i}", "namespace": "ml"}, "spec": {"clusterQueue": value}})
        for i, value in enumerate([None, 5, ["team-a"], {"a": 1}, "team-a", "", "team-a"])
    ]
    targets = [*every_case(), *odd]
    fed = Federation.of(targets)
    assert len(fed.by_cluster) > 1
    checked = 0
    for objs in [*fed.by_cluster.values(), ClusterObjects.of(odd)]:
        names = {str(n) for lq in objs.local_queues.values() for n in [(lq.obj.get("spec") or {}).get("clusterQueue")]}
        for name in names | set(objs.cluster_queues) | {"", "missing"}:
            assert objs.local_queues_of(name) == objs.local_queues_of_by_scan(name), name
            checked += bool(objs.local_queues_of(name))
    assert checked > 10


def test_one_pass_by_kind_and_name_is_a_scan_per_kind():
    """`ClusterObjects.of` groups a cluster's Kueue objects by kind and name in one pass; the same
    objects (the first of each name) as one `_by_name` scan per kind, over the cases and examples
    and objects with odd kinds, groups and names."""
    from llmkube.check.read import multikueue

    odd = [
        Target(obj={"apiVersion": api, "kind": kind, "metadata": {"name": name}})
        for api in ("kueue.x-k8s.io/v1beta2", "kueue.x-k8s.io/v1beta1", "example.com/v1", None, 3)
        for kind in ("ClusterQueue", "AdmissionCheck", ["ClusterQueue"], None, "LocalQueue")
        for name in ("a", "a", 7, None, ["a"])
    ]
    targets = [*every_case(), *odd]
    kinds = ("ClusterQueue", "AdmissionCheck", "MultiKueueConfig", "MultiKueueCluster")
    got = multikueue._by_kind_and_name(targets, kinds)
    for kind in kinds:
        want = multikueue._by_name(targets, kind)
        assert list(got[kind].items()) == list(want.items()), kind
    assert sum(map(len, got.values())) > 20


def _reference_to_plain(node):
    """`yamlio.to_plain` as it was, before exact builtin types went first: the reference."""
    from collections.abc import Mapping

    if isinstance(node, Mapping):
        return {str(k): _reference_to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_reference_to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def test_to_plain_gives_what_the_isinstance_ladder_gave():
    """The same plain data, with the same types at every leaf and key, from parsed documents (marked
    mappings and lists, ruamel's scalar types, int keys, timestamps) and hostile inputs."""
    from llmkube import yamlio

    def typed(node):
        if isinstance(node, dict):
            return [(type(k), k, typed(v)) for k, v in node.items()]
        if isinstance(node, list):
            return [typed(v) for v in node]
        return (type(node), node)

    texts = list(HOSTILE) + [p.read_text() for p in sorted((RULE_CASES.parent / "validate").glob("*.yaml"))]
    texts += ["a: {1: x, 2.5: y, true: z, null: n}\nb: 0x1F\nc: 1_000\nd: .inf\ne: 2001-12-14\nf: |\n  block\n"]
    data = [t.document.data for t in every_case() if t.document is not None]
    for text in texts:
        try:
            data += [d.data for d in parse_documents(text, "x.yaml")]
        except Exception:
            continue
    for node in data:
        assert typed(yamlio.to_plain(node)) == typed(_reference_to_plain(node)), node
    assert len(data) > 300


def _may_hold_token_before(obj: Any) -> bool:
    """security._may_hold_token as it was (session 24): every node pushed and popped."""
    from llmkube.check.rules.security import TOKEN_VARS, _literal
    from llmkube.secrets import AWS_SECRET, TOKEN

    strings: list[str] = []
    stack: list[Any] = [obj]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str or (kind is not dict and kind is not list and isinstance(node, str)):
            strings.append(node)
        elif kind is dict or (kind is not list and isinstance(node, Mapping)):
            if "name" in node and str(node.get("name", "")).upper() in TOKEN_VARS and _literal(node.get("value")):
                return True
            stack.extend(node.values())
        elif kind is list or isinstance(node, list):
            stack.extend(node)
    text = "\n".join(strings)
    return bool(TOKEN().search(text) or AWS_SECRET().search(text))


def _may_float_before(obj: Any) -> bool:
    """security._may_float as it was (session 24): three `get`s per mapping."""
    from llmkube.check.read.shape import dig
    from llmkube.check.rules.security import CONTAINER_LISTS, image_reference_problem

    stack: list[Any] = [obj]
    while stack:
        node = stack.pop()
        values = node.values() if type(node) is dict or isinstance(node, Mapping) else node
        if values is not node:
            for key in CONTAINER_LISTS:
                items = node.get(key)
                for item in items if isinstance(items, list) else ():
                    image = item.get("image") if isinstance(item, Mapping) else None
                    if isinstance(image, str) and image_reference_problem(image):
                        return True
        for v in values:
            kind = type(v)
            if kind is dict or kind is list or (kind is not str and isinstance(v, (Mapping, list))):
                stack.append(v)
    image = dig(obj, "spec", "trainer", "image") if obj.get("kind") == "TrainJob" else None
    return isinstance(image, str) and image_reference_problem(image) is not None


def test_lk501_and_lk502_quick_checks_answer_what_they_did_before():
    """The quick checks were made cheaper (strings taken without a push and pop; three `in` checks
    before the container lists are read): the same answer for every case and example, as parsed
    (ruamel's string and mapping types on the reference path) and plain, floated, and with tokens placed."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import LiteralScalarString

    from llmkube.check.rules import security

    objs = [t.obj for t in every_case()] + [_floated(t.obj) for t in every_case()]
    objs += [d.data for p in sorted(RULE_CASES.rglob("*.yaml")) for d in parse_documents(p.read_text(), str(p), reference=True)]
    for token in TOKENS:
        objs.append({"kind": "ConfigMap", "data": {"a": LiteralScalarString(token), "b": 1, "c": None, "d": 1.5, "e": True}})
        objs.append(CommentedMap({"kind": "Pod", "spec": CommentedMap({"containers": [{"image": "x", "args": ["a", token]}]})}))
        objs.append({"kind": "Pod", "spec": {"initContainers": [{"image": "x:latest"}], "env": [{"name": "HF_TOKEN", "value": "v"}]}})
    answers = [security._quick(o) for o in objs]
    assert answers == [(_may_hold_token_before(o), _may_float_before(o)) for o in objs]
    assert sum(a for a, _ in answers) > 20 and sum(b for _, b in answers) > 50 and sum(not a and not b for a, b in answers) > 50


def test_a_run_tells_each_document_spec_or_manifest_once_and_alike():
    """`run_partial` and `load_inputs` ask `is_spec_document` once per document: the manifests are
    every other document, in order, in both (specs and manifests mixed: the examples and the cases)."""
    from llmkube import runs
    from llmkube.kinds import is_spec_document
    from llmkube.yamlio import read_documents

    paths = [str(EXAMPLES), str(RULE_CASES / "LK501"), str(RULE_CASES / "LK101")]
    docs, _ = read_documents(paths)
    want = [(d.file, d.index) for d in docs if not is_spec_document(d)]
    assert len(want) > 5 and len(want) < len(docs)
    run, _ = runs.run_partial(paths, Options())
    assert [(t.document.file, t.document.index) for t in run.manifests] == want
    inputs = runs.load_inputs(paths)
    assert [(d.file, d.index) for d in inputs.manifests] == want
    assert [s.document.file for s in inputs.specs] == [d.file for d in docs if is_spec_document(d)]


def test_lk501_and_lk502_walk_each_object_once_between_them():
    """Both rules look at every object; the quick answers of one walk are kept on the target for the
    other: LK502, run after LK501, takes LK501's answers as they were left (here: overwritten)."""
    from llmkube.check.rules import load_rules
    from llmkube.check.rules.security import _quick

    rules = load_rules()
    targets = every_case() + [Target(obj=_floated(t.obj)) for t in every_case()]
    ctx = ReadContext(targets=targets, profiles=ProfileStore.load())
    list(rules["LK501"].check(ctx))
    asked = [t for t in targets if "security.quick" in t.reads]
    assert [t.reads["security.quick"] for t in asked] == [_quick(t.obj) for t in asked]
    assert len(asked) == sum(1 for t in targets if t.obj.get("kind") != "Secret")
    floating = sum(1 for t in asked if t.reads["security.quick"][1])
    assert floating > 20 and list(rules["LK502"].check(ctx))
    for t in asked:
        t.reads["security.quick"] = (False, False)
    assert not [h for h in rules["LK502"].check(ctx) if h.target in asked]
