"""`llmkube plan` sizes a vLLM server written from its start-up log to the benchmark's figures.

benchmarks/sizing_accuracy.py sizes each row of benchmarks/data/vllm_startups.csv by building a
`ServerConfig` from the row's columns and calling `serving_fit`. A user (and issue 11's evaluator)
instead writes what the log shows as a manifest — a Deployment whose vLLM container has the image
tag of the version, the flags as args, the VLLM_* variables as env, the GPU by its node selector —
or as an InferenceEndpoint spec, and runs `llmkube plan -o json`. Both paths must give the same KV
cache, KV tokens, concurrency and weights for every sizable row (fit and held-out alike: llmkube
is compared with llmkube here, never with the observed figures). How each column is written is
docs/spec-reference.md, "Sizing a server as its start-up log shows it".

A row whose settings a spec cannot express is listed (`SPEC_CANNOT`), never skipped: a test fails
when the list and the rows disagree. Every row has a manifest. Each sweep runs the real CLI in
process once, over one file holding every row's object (2-3 s), so both stay in the quick suite.
The rows the benchmark cannot size (no model profile or config.json) are not compared.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmkube.names import GPU_PRODUCT_LABEL, GPU_RESOURCE
from llmkube.profiles import ModelProfile, ProfileStore

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "sizing_accuracy.py"
METRICS = ("weights_gib", "kv_cache_gib", "kv_tokens", "max_concurrency")
MEMORY_METRICS = ("kv_cache_gib", "kv_tokens", "max_concurrency")  # need the GPU's memory


def _load_benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("sizing_accuracy_parity", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sa = _load_benchmark()


@dataclass(frozen=True)
class Case:
    """One sizable row: what the benchmark sizes and what it predicts."""

    row: dict[str, str]
    profile: ModelProfile
    how: str  # "builtin" or "config" (imported from a config.json copy)
    memory: float | None  # the GPU memory the benchmark sizes with (None: the log shows none)
    install: str  # the benchmark's install: "pip", "image" or ""
    predicted: dict[str, float | int | None]

    @property
    def id(self) -> str:
        return self.row["id"]


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 2)


def benchmark_cases(store: ProfileStore) -> list[Case]:
    """The rows the benchmark sizes, with its predictions rounded as `plan -o json` prints them."""
    cases = []
    for row in sa.load_rows():
        if not row["model"]:
            continue
        profile, how = sa.find_model(store, row["model"], row.get("model_config", ""))
        if profile is None:
            continue
        memory, _ = sa.gpu_memory(store, row)
        install, _ = sa.install_for(row)
        config = sa.server_config({**row, "install": install})
        try:
            fit = sa.fit_row(profile, memory or 0.0, config, sa.gpu_name(store, row))
        except Exception:  # the benchmark reports these as not sizable
            continue
        predicted = {
            "weights_gib": _round(fit.weights_gib),
            "kv_cache_gib": _round(fit.kv_budget_gib) if memory else None,
            "kv_tokens": fit.kv_tokens if memory else None,
            "max_concurrency": _round(fit.max_concurrency) if memory else None,
        }
        cases.append(Case(row, profile, how, memory, install, predicted))
    return cases


# ----------------------------------------------------------------------------- the user's files

def gpu_profile_name(store: ProfileStore, case: Case) -> str:
    """The GPU profile the user names: llmkube's own, else one they write for the card (below)."""
    gpu = case.row["gpu"]
    if store.gpu(gpu) is not None:
        return gpu
    total = case.row["gpu_total_gib"] or "none"
    return re.sub(r"[^a-z0-9-]", "-", f"{gpu}-{total}".lower()).strip("-")


def custom_gpu_profiles(store: ProfileStore, cases: list[Case]) -> list[dict[str, Any]]:
    """A GPUProfile for each card llmkube has no profile of: memoryGiB the CUDA total the log
    prints (a log without one is compared on weights only: any memory does), displayName the
    device name as the benchmark passes it (vLLM and llmkube read some defaults by name)."""
    docs: dict[str, dict[str, Any]] = {}
    for case in cases:
        name = gpu_profile_name(store, case)
        if store.gpu(name) is not None or name in docs:
            continue
        docs[name] = {
            "apiVersion": "llmkube.dev/v1alpha1", "kind": "GPUProfile", "metadata": {"name": name},
            "spec": {"displayName": case.row["gpu"], "product": f"CUSTOM-{name.upper()}",
                     "memoryGiB": case.memory or 80.0, "interconnect": "pcie", "gpusPerNode": 8},
        }
    return list(docs.values())


def imported_model_profiles(cases: list[Case]) -> list[dict[str, Any]]:
    """`llmkube profiles import CONFIG.json` for each checkpoint llmkube has no profile of, with
    the checkpoint's Hugging Face id listed under `huggingFaceIds` (the import of a local file
    names it `local/<name>`), so the server's `--model <id>` finds it."""
    from llmkube.commands.profiles import _compact, profile_document

    docs: dict[str, dict[str, Any]] = {}
    for case in cases:
        if case.how != "config" or case.row["model"] in docs:
            continue
        doc = _compact(profile_document(case.profile))
        doc["spec"]["huggingFaceIds"] = [case.row["model"]]
        docs[case.row["model"]] = doc
    return list(docs.values())


def vllm_flags(row: dict[str, str]) -> list[str]:
    """The flags the log shows, as vLLM spells them (an empty cell: the flag was not given)."""
    out = ["--model", row["model"]]

    def add(flag: str, column: str) -> None:
        if row[column]:
            out.extend([flag, row[column]])

    add("--tensor-parallel-size", "tp")
    add("--pipeline-parallel-size", "pp")
    add("--gpu-memory-utilization", "gpu_memory_utilization")
    add("--max-model-len", "max_model_len")
    add("--max-num-seqs", "max_num_seqs")
    add("--max-num-batched-tokens", "max_num_batched_tokens")
    add("--dtype", "dtype")
    add("--quantization", "quantization_flag")
    add("--kv-cache-dtype", "kv_cache_dtype")
    add("--block-size", "block_size")
    if row["enforce_eager"].lower() == "true":
        out.append("--enforce-eager")
    if row["expert_parallel"].lower() == "true":
        out.append("--enable-expert-parallel")
    return out


def vllm_env(row: dict[str, str]) -> dict[str, str]:
    """The VLLM_* variables that state what the log shows: the sampler it names, the MXFP4 kernel
    it names, the V0 engine it runs."""
    env = {}
    sampler = row["topk_topp_sampler"].lower()
    if sampler:
        env["VLLM_USE_FLASHINFER_SAMPLER"] = "1" if sampler == "flashinfer" else "0"
    if row["mxfp4_backend"].lower() == "marlin":
        env["VLLM_MXFP4_USE_MARLIN"] = "1"
    if row["engine"].lower() == "v0":
        env["VLLM_USE_V1"] = "0"
    return env


def _name(case: Case) -> str:
    """A Deployment name per row (row ids are longer than a name may be; the hash keeps them apart)."""
    digest = hashlib.sha256(case.id.encode()).hexdigest()[:8]
    return f"r{digest}-" + re.sub(r"[^a-z0-9-]", "-", case.id.lower())[:40].strip("-")


def deployment(store: ProfileStore, case: Case) -> dict[str, Any]:
    """The Deployment a user writes from the log: the vllm-openai image of the version (a pip
    install: a Python image whose script pip-installs that version), the flags, the env, the
    GPUs and the GPU by its product label."""
    row = case.row
    flags = vllm_flags(row)
    version = row["vllm_version"]
    gpus = int(row["tp"] or 1) * int(row["pp"] or 1)
    container: dict[str, Any] = {"name": "vllm"}
    if case.install == "pip":
        script = f"pip install vllm=={version} && python3 -m vllm.entrypoints.openai.api_server " + " ".join(flags)
        container.update(image="python:3.12", command=["sh", "-c", script])
    else:
        container.update(image=f"vllm/vllm-openai:v{version}", args=flags)
    env = vllm_env(row)
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    container["resources"] = {"limits": {GPU_RESOURCE: gpus}}
    gpu = store.gpu(gpu_profile_name(store, case))
    product = gpu.spec.product if gpu is not None else f"CUSTOM-{gpu_profile_name(store, case).upper()}"
    name = _name(case)
    if row["tp_spans_nodes"].lower() == "true":
        return leader_worker_set(name, container, product, gpus)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"nodeSelector": {GPU_PRODUCT_LABEL: product}, "containers": [container]}}},
    }


def leader_worker_set(name: str, leader: dict[str, Any], product: str, gpus: int) -> dict[str, Any]:
    """A TP group over several nodes, one GPU per pod (the log's "Custom allreduce is disabled
    because this process group spans across nodes"): a LeaderWorkerSet of `gpus` pods joined by
    Ray, the leader serving with `--distributed-executor-backend ray`."""
    if "command" in leader:  # a pip install: `pip install vllm==X && python3 -m ... <flags>`
        install, _, serve = leader["command"][-1].rpartition(" && ")
        setup = f"{install} && "
    else:  # the image's entrypoint: start Ray first, then the server
        setup, serve = "", "python3 -m vllm.entrypoints.openai.api_server " + " ".join(leader["args"])
    limits = {"limits": {GPU_RESOURCE: 1}}
    head = {"name": "vllm", "image": leader["image"], "env": leader.get("env", []), "resources": limits,
            "command": ["sh", "-c", f"{setup}ray start --head --port=6379 && {serve} --distributed-executor-backend ray"]}
    worker = {"name": "worker", "image": leader["image"], "resources": limits,
              "command": ["sh", "-c", f"{setup}ray start --address=$(LWS_LEADER_ADDRESS):6379 --block"]}

    def pod(container: dict[str, Any]) -> dict[str, Any]:
        return {"spec": {"nodeSelector": {GPU_PRODUCT_LABEL: product}, "containers": [container]}}

    return {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "metadata": {"name": name},
            "spec": {"replicas": 1, "leaderWorkerTemplate": {"size": gpus, "leaderTemplate": pod(head),
                                                             "workerTemplate": pod(worker)}}}


def endpoint(store: ProfileStore, case: Case) -> dict[str, Any] | None:
    """The InferenceEndpoint a user writes from the log (the default `target: kserve`): the fields
    for the settings the spec has, `env` for the VLLM_* variables, `extraArgs` for the flags it has
    no field for, the install as the `llmkube.dev/vllm-install` annotation. None where the spec
    cannot say it (`spec_cannot`)."""
    row = case.row
    if spec_cannot(row):
        return None
    spec: dict[str, Any] = {
        "model": row["model"], "image": f"vllm/vllm-openai:v{row['vllm_version']}",
        "gpu": gpu_profile_name(store, case), "tensorParallel": int(row["tp"] or 1),
        "pipelineParallel": int(row["pp"] or 1),
    }
    fields = (("gpuMemoryUtilization", "gpu_memory_utilization", float), ("maxModelLen", "max_model_len", int),
              ("maxNumSeqs", "max_num_seqs", int), ("maxBatchTokens", "max_num_batched_tokens", int),
              ("dtype", "dtype", str), ("quantization", "quantization_flag", str),
              ("kvCacheDtype", "kv_cache_dtype", str))
    for key, column, kind in fields:
        if row[column]:
            spec[key] = kind(row[column])
    if row["enforce_eager"].lower() == "true":
        spec["enforceEager"] = True
    extra = []
    if row["block_size"]:
        extra += ["--block-size", row["block_size"]]
    if row["expert_parallel"].lower() == "true":
        extra.append("--enable-expert-parallel")
    if extra:
        spec["extraArgs"] = extra
    if env := vllm_env(row):
        spec["env"] = env
    metadata: dict[str, Any] = {"name": _name(case)}
    if case.install == "pip":
        metadata["annotations"] = {"llmkube.dev/vllm-install": "pip"}
    return {"apiVersion": "llmkube.dev/v1alpha1", "kind": "InferenceEndpoint", "metadata": metadata, "spec": spec}


def spec_cannot(row: dict[str, str]) -> str | None:
    """Why an InferenceEndpoint cannot express a row's settings, or None."""
    if row["tp_spans_nodes"].lower() == "true":
        # by design: the multi-node planner refuses "tensorParallel N spans nodes" (plan/multinode.py)
        return "a TP group over several nodes: the spec keeps tensor parallelism inside a node"
    return None


# ----------------------------------------------------------------------------- running plan

def run_plan(tmp: Path, documents: list[dict[str, Any]], profiles: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`llmkube plan -o json --profiles DIR FILE` in process: the rows by object name."""
    from llmkube.cli import main

    manifest = tmp / "servers.yaml"
    manifest.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    args = ["plan", "-o", "json"]
    if profiles:
        pdir = tmp / "profiles"
        pdir.mkdir(exist_ok=True)
        (pdir / "parity.yaml").write_text(yaml.safe_dump_all(profiles, sort_keys=False))
        args += ["--profiles", str(pdir)]
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main([*args, str(manifest)])
    assert exit_.value.code in (0, 1, None), out.getvalue()
    items = json.loads(out.getvalue())["items"]
    return {item["object"].rsplit("/", 1)[-1]: item for item in items if item["kind"] == "server"}


def mismatches(case: Case, item: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """metric → (benchmark, plan) where they differ."""
    if item is None:
        return {"row": (case.id, None)}
    return {m: (case.predicted[m], item.get(m)) for m in METRICS
            if case.predicted[m] is not None and case.predicted[m] != item.get(m)}


@pytest.fixture(scope="module")
def cases(store: ProfileStore) -> list[Case]:
    return benchmark_cases(store)


def test_most_rows_are_sizable(cases):
    """The sweep below covers the rows the benchmark sizes (a guard against comparing nothing)."""
    assert len(cases) >= 150


# Rows an InferenceEndpoint cannot express (`spec_cannot`), listed so that none is dropped silently.
SPEC_CANNOT = {
    "gh-dennislee22-gpt-oss-120b-4xa100-80",
    "gh-dennislee22-qwen2-7b-2xa100-40-tp2",
}


def test_the_rows_a_spec_cannot_express_are_the_listed_ones(cases):
    assert {c.id for c in cases if spec_cannot(c.row)} == SPEC_CANNOT


# Both sweeps run the whole CLI once over a file of every row (about 2-3 s each), so they stay in the
# quick suite.
def test_every_row_written_as_a_manifest_plans_to_the_benchmark_figures(tmp_path, store, cases):
    rows = run_plan(tmp_path, [deployment(store, c) for c in cases],
                    custom_gpu_profiles(store, cases) + imported_model_profiles(cases))
    bad = {c.id: d for c in cases if (d := mismatches(c, rows.get(_name(c))))}
    assert not bad, "\n".join(f"{k}: {v}" for k, v in bad.items())


def test_every_row_written_as_an_endpoint_plans_to_the_benchmark_figures(tmp_path, store, cases):
    specs = {c.id: endpoint(store, c) for c in cases}
    rows = run_plan(tmp_path, [d for d in specs.values() if d is not None],
                    custom_gpu_profiles(store, cases) + imported_model_profiles(cases))
    assert sum(d is not None for d in specs.values()) == len(cases) - len(SPEC_CANNOT)
    bad = {c.id: d for c in cases if specs[c.id] is not None and (d := mismatches(c, rows.get(_name(c))))}
    assert not bad, "\n".join(f"{k}: {v}" for k, v in bad.items())


# ----------------------------------------------------------------------------- the reader's settings

def _server(obj: dict[str, Any]) -> Any:
    from llmkube.check.read.servers import server_setups
    from llmkube.check.run import Target

    (server,) = server_setups([Target(obj=obj)], ProfileStore.load())
    return server


def _pod_object(container: dict[str, Any], *, kind: str = "Deployment", annotations: dict[str, str] | None = None,
                pod_annotations: dict[str, str] | None = None) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "x"}, "annotations": pod_annotations or {}},
                "spec": {"nodeSelector": {GPU_PRODUCT_LABEL: "NVIDIA-H100-80GB-HBM3"}, "containers": [container]}}
    meta = {"name": "x", "annotations": annotations or {}}
    if kind == "LeaderWorkerSet":
        worker = {"spec": {"containers": [{"name": "w", "image": container["image"],
                                           "command": ["sh", "-c", "ray start --address=$(LWS_LEADER_ADDRESS):6379 --block"],
                                           "resources": container["resources"]}]}}
        return {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": kind, "metadata": meta,
                "spec": {"leaderWorkerTemplate": {"size": 2, "leaderTemplate": template, "workerTemplate": worker}}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta,
            "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template}}


def _vllm(args: list[str], image: str = "vllm/vllm-openai:v0.11.0", gpus: int = 1,
          command: list[str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "vllm", "image": image, "resources": {"limits": {GPU_RESOURCE: gpus}}}
    if command is not None:
        container["command"] = command
    return {**container, "args": ["--model", "Qwen/Qwen3-8B", *args]}


def test_a_pip_pin_with_four_parts_gives_its_release():
    """PyPI's vllm 0.10.1.1 is the 0.10.1 release (a fourth part is a patch of the third); it read
    as unpinned, so the newest vLLM, before."""
    from llmkube.engines import pip_installed_vllm

    assert pip_installed_vllm("pip install vllm==0.10.1.1 && vllm serve x".split()) == (True, (0, 10, 1))
    assert pip_installed_vllm("pip install vllm==0.10.1.1.1 && vllm serve x".split()) == (True, None)


@pytest.mark.parametrize(("annotations", "pod_annotations", "expected"), [
    ({"llmkube.dev/vllm-install": "pip"}, None, True),
    (None, {"llmkube.dev/vllm-install": "PIP"}, True),
    ({"llmkube.dev/vllm-install": "pip"}, {"llmkube.dev/vllm-install": "image"}, False),  # the pod's first
    ({"llmkube.dev/vllm-install": "conda"}, None, False),  # not a value it takes: the image, as unset
    (None, None, False),
])
def test_the_install_annotation_says_how_the_images_vllm_was_installed(annotations, pod_annotations, expected):
    server = _server(_pod_object(_vllm([]), annotations=annotations, pod_annotations=pod_annotations))
    assert server.config.pip_install is expected


def test_the_install_annotation_changes_the_sizing_where_the_install_does():
    """gpt-oss on Hopper before 0.12: the wheel has no triton_kernels, so Marlin's padded experts."""
    def fit(annotations: dict[str, str] | None) -> Any:
        container = {**_vllm([]), "args": ["--model", "openai/gpt-oss-120b", "--max-model-len", "32768"]}
        result = _server(_pod_object(container, annotations=annotations)).fit()
        assert result is not None
        return result

    pip, image = fit({"llmkube.dev/vllm-install": "pip"}), fit(None)
    assert pip.weights_gib > image.weights_gib


@pytest.mark.parametrize(("kind", "args", "gpus", "spans"), [
    ("LeaderWorkerSet", ["--tensor-parallel-size", "2", "--distributed-executor-backend", "ray"], 1, True),
    ("LeaderWorkerSet", ["--tensor-parallel-size", "2", "--pipeline-parallel-size", "2"], 2, False),  # PP over nodes
    ("Deployment", ["-tp", "2", "--distributed-executor-backend", "ray"], 1, True),  # a Ray cluster's head pod
    ("Deployment", ["-tp", "2", "--nnodes", "2", "--node-rank", "0"], 1, True),  # vLLM's own multi-node mode
    ("Deployment", ["-tp", "2"], 1, False),  # one pod asking too few GPUs: a mistake, not a multi-node server
    ("Deployment", ["-tp", "2"], 2, False),
])
def test_a_tp_group_wider_than_its_pod_spans_nodes(kind, args, gpus, spans):
    server = _server(_pod_object(_vllm(args, gpus=gpus), kind=kind))
    assert server.config.tp_spans_nodes is spans


@pytest.mark.parametrize(("image", "args", "utilization"), [
    ("vllm/vllm-openai:v0.20.1", [], 0.90),
    ("vllm/vllm-openai:v0.21.0", [], 0.92),
    ("vllm/vllm-openai:latest", [], 0.92),  # an unpinned tag is the newest vLLM
    ("vllm/vllm-openai:v0.21.0", ["--gpu-memory-utilization", "0.9"], 0.90),
    ("vllm/vllm-openai:v0.11.0", ["--gpu-memory-utilization=0.8"], 0.80),
])
def test_an_unset_gpu_memory_utilization_is_the_versions_default(image, args, utilization):
    assert _server(_pod_object(_vllm(args, image=image))).config.utilization == utilization
