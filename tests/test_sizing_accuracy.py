"""benchmarks/sizing_accuracy.py runs over the start-up table, and the table is well-formed."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from llmkube.profiles import layer_types_of

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "sizing_accuracy.py"
DATA = REPO / "benchmarks" / "data" / "vllm_startups.csv"


@pytest.fixture(scope="module")
def accuracy():
    spec = importlib.util.spec_from_file_location("sizing_accuracy", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows():
    with DATA.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        return header, list(reader)


def test_the_table_has_the_documented_columns(accuracy, rows):
    header, _ = rows
    assert tuple(header) == accuracy.COLUMNS
    readme = (DATA.parent / "README.md").read_text(encoding="utf-8")
    for column in accuracy.COLUMNS:
        assert f"`{column}`" in readme, f"column {column} is not explained in benchmarks/data/README.md"


def test_every_row_has_a_source_a_split_and_numbers(accuracy, rows):
    _, data = rows
    assert len(data) >= 60
    ids = [r["id"] for r in data]
    assert len(ids) == len(set(ids)), "row ids are unique"
    for r in data:
        assert r["source"].startswith("https://"), r["id"]
        assert r["model"] and r["gpu"] and r["vllm_version"], r["id"]
        for key in accuracy.NUMERIC:
            if r[key].strip():
                assert math.isfinite(float(r[key])), (r["id"], key)
        # a row observes at least one figure the script compares
        assert any(r[m].strip() for m in accuracy.METRICS), r["id"]


def test_the_split_column_follows_the_readme_rule(accuracy, rows):
    _, data = rows
    for r in data:
        assert r["split"] == accuracy.split_for(r["source_group"], r["source"]), r["id"]
    assert {r["split"] for r in data} == set(accuracy.SPLITS)


def test_a_repository_file_is_cited_at_one_commit(accuracy, rows):
    """The split hashes the source, commit included: one log file cited at two commits would be
    two threads, and could put the same start-up on both sides (it once did)."""
    _, data = rows
    commits: dict[str, set[str]] = {}
    for r in data:
        m = re.match(r"https://github\.com/([^/]+/[^/]+)/blob/([^/]+)/([^#]+)", r["source"])
        if m:
            commits.setdefault(f"{m[1]}:{m[3]}", set()).add(m[2])
    assert {f: c for f, c in commits.items() if len(c) > 1} == {}


def test_each_start_up_is_cited_once(accuracy, rows):
    """One row per cited start-up: a source (with its #fragment) names one start-up, so two rows
    with the same source are the same observation counted twice (session 29 nearly added two such
    twins, a log file already in the table read again under a new id)."""
    _, data = rows
    seen: dict[str, str] = {}
    for r in data:
        assert r["source"] not in seen, (r["id"], seen.get(r["source"]))
        seen[r["source"]] = r["id"]


def test_tp_spans_nodes_is_true_or_empty_and_only_with_tp(accuracy, rows):
    _, data = rows
    for r in data:
        assert r["tp_spans_nodes"] in ("", "true"), r["id"]
        if r["tp_spans_nodes"]:
            assert int(r["tp"]) >= 2, r["id"]
    assert accuracy.server_config({**data[0], "tp": "2", "tp_spans_nodes": "true"}).tp_spans_nodes is True


def test_mxfp4_backend_is_a_kernel_the_log_names_and_reaches_the_server_config(accuracy, rows):
    _, data = rows
    for r in data:
        assert r["mxfp4_backend"] in ("", "marlin"), r["id"]
        if r["mxfp4_backend"]:
            assert r["quantization"] == "mxfp4", r["id"]
    marlin_rows = [r for r in data if r["mxfp4_backend"]]
    for r in marlin_rows:
        assert accuracy.server_config(r).mxfp4_backend == "marlin", r["id"]
        assert accuracy.server_config({**r, "mxfp4_backend": ""}).mxfp4_backend is None, r["id"]
    # On Hopper the kernel changes the sizing: Marlin pads the experts (plan/sizing.py
    # loaded_expert_extra_bytes), where the vllm-openai image's default is Triton's kernels; on an
    # A100 Marlin is the default already, so naming it changes nothing. A pip install before 0.12
    # (shown, or the benchmark's prior when nothing says) has no triton_kernels: Marlin by default.
    store = accuracy.ProfileStore.load()
    by_gpu = {}
    for r in marlin_rows:
        marlin = accuracy.evaluate_row(store, r)["predicted"]
        image = accuracy.evaluate_row(store, {**r, "mxfp4_backend": "", "install": "image"})["predicted"]
        pip = accuracy.evaluate_row(store, {**r, "mxfp4_backend": "", "install": "pip"})["predicted"]
        by_gpu[r["gpu"]] = (marlin, image, pip)
    marlin, image, pip = by_gpu["h100-80gb"]
    assert marlin["weights_gib"] > image["weights_gib"] and marlin["kv_cache_gib"] < image["kv_cache_gib"]
    assert pip == marlin
    marlin, image, pip = by_gpu["a100-80gb"]
    assert marlin == image == pip


def test_expert_parallel_is_true_or_empty_and_reaches_the_server_config(accuracy, rows):
    """Only a log whose non-default args show 'enable_expert_parallel': True sets the column (the
    Qwen3-235B-FP8 TP 8 row; Qwen1.5-MoE at TP 2 on two RTX 4090s); it reaches
    ServerConfig.expert_parallel, which sizes whole experts."""
    _, data = rows
    for r in data:
        assert r["expert_parallel"] in ("", "true"), r["id"]
    ep = [r for r in data if r["expert_parallel"]]
    assert "gh-evaldataset-qwen3-235b-fp8-8xh100-ep-v0100" in [r["id"] for r in ep]
    for r in ep:
        # the row names the flag it read from the log
        said = r["defaults"] + " " + r["notes"]
        assert "enable_expert_parallel': True" in said or "--enable-expert-parallel" in said, r["id"]
        assert accuracy.server_config(r).expert_parallel is True
        assert accuracy.server_config({**r, "expert_parallel": ""}).expert_parallel is False


def test_install_is_pip_image_or_empty_and_picks_the_sampler_of_0_8_to_0_11_0(accuracy, rows):
    """`install` = pip (vLLM from its PyPI wheel, no FlashInfer up to 0.11.0) reaches
    ServerConfig.pip_install; `image` (the vllm-openai image) does not. On a 0.8 - 0.11.0 row whose log
    does not name the sampler, pip turns the image's FlashInfer sampler into the sort
    (`em.flashinfer_sampler_by_default`), so its activation grows."""
    _, data = rows
    store = accuracy.ProfileStore.load()
    for r in data:
        assert r["install"] in ("", "pip", "image"), r["id"]
    pip = {r["id"]: r for r in data if r["install"] == "pip"}
    assert "vllm-i27508-gpt-oss-120b-h100-util095" in pip and "gh-tokenkaki-qwen3-8b-a100-40-v092" in pip
    assert {r["id"] for r in data if r["install"] == "image"} >= {"llmd-v0.11-mistral-small-3.2-24b"}
    for r in pip.values():
        assert accuracy.server_config(r).pip_install is True
        assert accuracy.server_config({**r, "install": "image"}).pip_install is False
    lmcache = pip["lmcache-i1739-qwen3-14b-a100-40"]  # 0.10.2, the sampler not shown in its excerpt
    assert lmcache["topk_topp_sampler"] == ""
    as_pip = accuracy.evaluate_row(store, lmcache)["predicted"]
    as_image = accuracy.evaluate_row(store, {**lmcache, "install": "image"})["predicted"]
    assert as_image["kv_cache_gib"] > as_pip["kv_cache_gib"] + 0.5  # 256 rows x 151,936 logits x 23.5 B


def test_the_install_prior_applies_only_where_nothing_says(accuracy, rows):
    """A V1 row of 0.8.0 - 0.11.x whose log shows neither its install nor its sampler is sized as the
    benchmark's prior (pip, decided on fit rows: docs/sizing.md "How vLLM was installed") and marked
    assumed; an install or a sampler the row shows, the V0 engine, and releases outside that range
    keep what they show."""
    _, data = rows
    lmcache = next(r for r in data if r["id"] == "lmcache-i1739-qwen3-14b-a100-40")  # 0.10.2, V1, no sampler
    assert accuracy.INSTALL_PRIOR == "pip"
    assert accuracy.install_for(lmcache) == ("pip", False)
    assert accuracy.install_for({**lmcache, "install": ""}) == ("pip", True)
    assert accuracy.install_for({**lmcache, "install": "image"}) == ("image", False)
    assert accuracy.install_for({**lmcache, "install": "", "topk_topp_sampler": "flashinfer"}) == ("", False)
    assert accuracy.install_for({**lmcache, "install": "", "engine": "v0"}) == ("", False)
    for version, assumed in (("0.7.3", False), ("0.8.0", True), ("0.11.2", True), ("0.12.0", False), ("", False)):
        assert accuracy.install_for({**lmcache, "install": "", "vllm_version": version})[1] is assumed, version
    # the prior sizes the row as the pip row it is, and says so
    store = accuracy.ProfileStore.load()
    shown = accuracy.evaluate_row(store, lmcache)
    assumed = accuracy.evaluate_row(store, {**lmcache, "install": ""})
    assert assumed["predicted"] == shown["predicted"]
    assert (shown["install"], shown["install_assumed"], assumed["install"], assumed["install_assumed"]) == (
        "pip", False, "pip", True)


def test_the_output_lists_the_rows_sized_with_the_assumed_install(accuracy):
    """The JSON's `install_assumed` and the text output name every row the prior was used for."""
    out = io.StringIO()
    with redirect_stdout(out):
        assert accuracy.main(["--json"]) == 0
    summary = json.loads(out.getvalue())
    marked = [r["id"] for r in summary["results"] if r.get("install_assumed")]
    assert marked and summary["install_assumed"] == {"install": "pip", "rows": marked}
    for r in summary["results"]:
        if r["id"] in marked:
            assert r["install"] == "pip"
    text = io.StringIO()
    with redirect_stdout(text):
        assert accuracy.main([]) == 0
    listed = text.getvalue().split("install assumed pip", 1)[1]
    assert f"{len(marked)} rows" in listed.splitlines()[0]
    for rid in marked:
        assert f"  {rid}" in listed


def test_rows_from_0_22_record_the_utilization_their_log_prints(accuracy, rows):
    """From 0.22 vLLM's --gpu-memory-utilization defaults to 0.92 (the 0.22.1 and 0.23.0 logs print
    'The current --gpu-memory-utilization=0.9200' without the flag); an empty cell would be sized
    at the script's 0.90. One 0.22.1 row was first recorded that way."""
    _, data = rows
    for r in data:
        version = accuracy.version_tuple(r["vllm_version"]) or ()
        if version >= (0, 22) and r["kv_cache_gib"].strip():
            assert r["gpu_memory_utilization"].strip(), r["id"]


def test_rows_from_0_21_record_the_cuda_graph_estimate_subtracted_before_sizing(accuracy, rows):
    """From 0.21 vLLM profiles CUDA-graph memory by default and subtracts its estimate before it
    sizes the KV cache (the log: 'CUDA graph memory profiling is enabled (default since v0.21.0)');
    a graph-capturing row with a KV figure records that 'Estimated CUDA graph memory'. Two rows
    first left it out. The one exception is Model Runner V2 before it had an estimator: its
    0.25.1 logs print neither line and capture the graphs after sizing the KV cache, so nothing
    was subtracted and the row says so in its notes (and stays empty: the column holds printed
    figures only)."""
    _, data = rows
    mrv2_without_estimate = "Model Runner V2 without a CUDA-graph estimate"
    exempt = 0
    for r in data:
        version = accuracy.version_tuple(r["vllm_version"]) or ()
        if version >= (0, 21) and r["kv_cache_gib"].strip() and r["enforce_eager"] != "true":
            if mrv2_without_estimate in r["notes"]:
                assert "Using V2 Model Runner" in r["notes"] and not r["cuda_graph_gib"].strip(), r["id"]
                exempt += 1
                continue
            assert r["cuda_graph_gib"].strip(), r["id"]
    # the exception is narrow: rows that say it, and only a few
    assert exempt <= 3


def test_fit_rows_are_sized_under_the_runner_their_log_names(accuracy, rows):
    """The runner decides whether CUDA graphs are taken from the KV budget (plan/engine_memory.py
    `uses_model_runner_v2`): a fit row whose log says 'Using V2 Model Runner' before 0.29 is sized
    under Model Runner V2 with nothing subtracted for graphs; one whose log prints V1's 'Estimated
    CUDA graph memory' line is sized under the V1 runner, estimate subtracted. Checked from each
    row's own settings (model, version), not from its figures."""
    _, data = rows
    store = accuracy.ProfileStore.load()
    seen = {"v2": 0, "v1": 0}
    for r in data:
        version = accuracy.version_tuple(r["vllm_version"]) or ()
        if r["split"] != "fit" or version < (0, 21) or r["enforce_eager"] == "true":
            continue
        v2_log = "Using V2 Model Runner" in r["notes"]
        v1_log = "Estimated CUDA graph memory" in r["notes"]
        if not (v2_log or v1_log) or version >= (0, 29):
            continue
        profile, _ = accuracy.find_model(store, r["model"])
        memory, _ = accuracy.gpu_memory(store, r)
        fit = accuracy.fit_row(profile, memory or 0.0, accuracy.server_config(r), accuracy.gpu_name(store, r))
        assert fit.model_runner_v2 is v2_log, r["id"]
        assert fit.cuda_graph_counted is (not v2_log), r["id"]
        seen["v2" if v2_log else "v1"] += 1
    assert seen["v2"] >= 2 and seen["v1"] >= 1


def test_a_config_only_checkpoint_in_the_table_takes_the_config_route(accuracy, rows):
    """Qwen2.5-Math-1.5B has no built-in profile; its rows are sized from the stored config.json,
    as `llmkube profiles import` would size them."""
    _, data = rows
    store = accuracy.ProfileStore.load()
    math_rows = [r for r in data if r["model"] == "Qwen/Qwen2.5-Math-1.5B"]
    assert math_rows
    for r in math_rows:
        result = accuracy.evaluate_row(store, r)
        assert result["profile"] == "config" and result["sizable"], r["id"]


def test_the_script_runs_on_the_table_and_reports_both_splits(accuracy):
    out = io.StringIO()
    with redirect_stdout(out):
        assert accuracy.main(["--json"]) == 0
    summary = json.loads(out.getvalue())
    assert summary["rows"] == len(summary["results"]) >= 60
    assert set(summary["by_split"]) == {"fit", "heldout"}
    sized = [r for r in summary["results"] if r["sizable"]]
    assert sized, "some rows are sized"
    # errors are computed from the prediction, not copied: recompute one
    r = next(r for r in sized if "weights_gib" in r["errors"])
    o, p = r["observed"]["weights_gib"], r["predicted"]["weights_gib"]
    assert r["errors"]["weights_gib"] == pytest.approx(abs(p - o) / o * 100, rel=1e-3)
    text = io.StringIO()
    with redirect_stdout(text):
        assert accuracy.main([]) == 0
    assert "heldout MAPE" in text.getvalue()


def test_a_model_without_a_builtin_profile_is_sized_from_its_config_json(accuracy):
    """The benchmark's second route: llmkube imports the checkpoint's config.json itself."""
    for hf_id, name in accuracy.CONFIGS.items():
        path = accuracy.HF_CONFIGS / name
        assert path.is_file(), f"{hf_id}: {path} is missing"
    profile, how = accuracy.from_config("Qwen/Qwen3-8B")
    assert how == "config"
    config = json.loads((accuracy.HF_CONFIGS / "qwen3-8b.json").read_text(encoding="utf-8"))
    assert profile.spec.layers == config["num_hidden_layers"]
    assert profile.spec.kv_heads == config["num_key_value_heads"]
    assert accuracy.from_config("no/such-model") == (None, "no config.json")


def test_every_config_only_checkpoint_takes_the_config_route(accuracy):
    """A CONFIGS entry whose id has no built-in profile is sized from its config.json (`config`)."""
    from llmkube.profiles import ProfileStore

    store = ProfileStore.load()
    config_only = [hf_id for hf_id in accuracy.CONFIGS if store.model(hf_id) is None]
    assert len(config_only) >= 9
    for hf_id in config_only:
        profile, how = accuracy.find_model(store, hf_id)
        assert how == "config" and profile is not None, hf_id


def test_a_checkpoint_without_a_builtin_profile_is_sized_from_its_config(accuracy):
    """microsoft/phi-2 has no built-in profile; its cited config.json copy sizes it, through the
    same import `llmkube profiles import` runs, and the row counts as sized "from a config.json"."""
    from llmkube.profiles import ProfileStore

    store = ProfileStore.load()
    assert store.model("microsoft/phi-2") is None
    profile, how = accuracy.find_model(store, "microsoft/phi-2")
    assert how == "config" and profile is not None and profile.spec.architecture == "phi"
    row = next(r for r in accuracy.load_rows() if r["model"] == "microsoft/phi-2")
    result = accuracy.evaluate_row(store, row)
    assert result["sizable"] and result["profile"] == "config"
    assert result["predicted"]["weights_gib"] > 0


def test_derived_kv_token_counts_are_the_products_they_state(rows):
    """A row whose log prints only a block count records kv_tokens = blocks x block size and says
    so in its notes ('# GPU blocks: 3688' (x 16 = 59,008 tokens, derived)): the stated product is
    right and is the row's kv_tokens (a transcription check: two rows once carried typos)."""
    _, data = rows
    pattern = re.compile(r"([\d,]+)\)?'?\s*(?:x|×)\s*(\d+)\s*=\s*([\d,]+)\s*tokens")
    checked = 0
    for r in data:
        for m in pattern.finditer(r["notes"] + " " + r["defaults"]):
            blocks, size, tokens = (int(g.replace(",", "")) for g in m.groups())
            assert blocks * size == tokens, (r["id"], m[0])
            if r["kv_tokens"].strip():
                assert int(float(r["kv_tokens"])) == tokens, (r["id"], m[0])
            checked += 1
    assert checked >= 10


def test_rows_without_a_max_model_len_are_sized_at_the_context_vllm_used(accuracy, rows):
    """An empty max_model_len means the checkpoint's own context, which the profile llmkube
    resolves for the id must carry: for a full-attention model the log's 'Maximum concurrency for
    N tokens' is kv_tokens / N, so kv_tokens / max_concurrency recovers the context vLLM used.
    (Qwen2.5-14B/32B-Instruct inherited their base checkpoints' 131072 until their own 32768
    profiles; the A40 rows of step 10 print max_seq_len=32768.)"""
    _, data = rows
    store = accuracy.ProfileStore.load()
    checked = 0
    for r in data:
        if r["max_model_len"].strip() or not (r["kv_tokens"].strip() and r["max_concurrency"].strip()):
            continue
        profile, _ = accuracy.find_model(store, r["model"])
        if profile is None or set(layer_types_of(profile.spec)) != {"full_attention"}:
            continue
        used = float(r["kv_tokens"]) / float(r["max_concurrency"])
        assert profile.spec.max_context == pytest.approx(used, rel=0.02), (r["id"], profile.name, used)
        checked += 1
    assert checked >= 15


def test_engine_is_v0_or_empty_and_reaches_use_v1(accuracy, rows):
    """`engine` = v0: the log shows vLLM 0.8 - 0.10 on its V0 engine (VLLM_USE_V1=0 or the V1
    oracle's "Falling back to V0"); the script passes it as ServerConfig.use_v1 = False."""
    _, data = rows
    for r in data:
        assert r["engine"] in ("", "v0"), r["id"]
        if r["engine"] == "v0":
            assert (0, 8) <= accuracy.version_tuple(r["vllm_version"])[:2] < (0, 11), r["id"]
            assert "V0" in r["notes"] + r["defaults"], r["id"]
            assert accuracy.server_config(r).use_v1 is False
        else:
            assert accuracy.server_config(r).use_v1 is None
    assert any(r["engine"] == "v0" for r in data)


# --- session 30 (i11-logs): --logs on unseen logs: the names a log gives its checkpoint, the GPU a CUDA
# total names, and what it says when it cannot size a log

def test_a_model_path_is_tried_before_the_served_name_and_the_tokenizer(accuracy):
    """vllm-project/vllm's engine line of rust-lang/www.rust-lang.org#2107 (vLLM 0.6.6): the model is a
    Hub cache directory (`models--Qwen--Qwen2-0.5B`) served as 'llama3-405b-instruct'. The model comes
    first; a served name is taken only when it is a checkpoint llmkube knows, never a near name."""
    from llmkube.profiles import ProfileStore

    store = ProfileStore.load()
    row = {"model": "Qwen/Qwen2-0.5B", "served_model_name": "llama3-405b-instruct",
           "tokenizer": "Qwen/Qwen2-0.5B"}  # vllm_log.hf_model of '/workspace/models/models--Qwen--Qwen2-0.5B'
    assert accuracy.model_candidates(row) == [("Qwen/Qwen2-0.5B", "the model"),
                                              ("llama3-405b-instruct", "served_model_name")]
    assert accuracy.choose_model(store, row) == ("Qwen/Qwen2-0.5B", "")  # nothing known: the model as printed
    # the form of a KServe / fine-tune server: an opaque directory served under the Hub id (names substituted)
    row = {"model": "/mnt/models", "served_model_name": "meta-llama/Llama-3.1-8B-Instruct", "tokenizer": "/mnt/models"}
    model, note = accuracy.choose_model(store, row)
    assert model == "meta-llama/Llama-3.1-8B-Instruct" and "served_model_name" in note and "/mnt/models" in note
    row = {"model": "/data/ckpt-500", "served_model_name": "", "tokenizer": "Qwen/Qwen3-8B"}
    assert accuracy.choose_model(store, row)[0] == "Qwen/Qwen3-8B"


def test_a_modelscope_cache_path_names_its_checkpoint(accuracy):
    """ModelScope's cache writes a name's dots as '___' (modelscope/hub/file_download.py
    `create_temporary_directory_and_cache`: `name = name.replace('.', '___')`)."""
    from llmkube.profiles import ProfileStore

    store = ProfileStore.load()
    path = "/root/.cache/modelscope/hub/Qwen/Qwen2___5-7B-Instruct"
    assert store.model_at_path(path) is not None and store.model_at_path(path).name == "qwen2.5-7b"
    assert accuracy.resolved_model(store, "/mnt/Qwen2___5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"
    assert accuracy.resolved_model(store, "/mnt/Qwen2___5-7B-Instruct-AWQ-x") == ""


@pytest.mark.parametrize(("path", "profile"), [
    # vLLM's engine line in mostlygeek/llama-swap#35: model='/mnt/model/mistralai-Pixtral-12B-2409' (org-name
    # in one directory name; no Pixtral profile), and the same form for checkpoints llmkube knows
    ("/mnt/model/mistralai-Pixtral-12B-2409", None),
    ("/mnt/model/meta-llama-Llama-3.1-8B-Instruct", "llama-3.1-8b"),
    ("/models/Qwen_Qwen3-8B", "qwen3-8b"),
    ("/models/Qwen--Qwen3-8B", "qwen3-8b"),
    ("/models/foo-Qwen3-8B", None),  # not the checkpoint's organisation
])
def test_a_directory_named_org_and_name_is_that_checkpoint(path, profile):
    from llmkube.profiles import ProfileStore

    found = ProfileStore.load().model_at_path(path)
    assert (found.name if found is not None else None) == profile


@pytest.mark.parametrize(("architecture", "modelled"), [
    ("Qwen3ForCausalLM", True), ("LlamaForCausalLM", True), ("GptOssForCausalLM", True),
    ("Qwen2_5_VLForConditionalGeneration", True), ("DeepseekV2ForCausalLM", True),
    ("OPTForCausalLM", False), ("DeciLMForCausalLM", False), ("Qwen3_5ForConditionalGeneration", False),
    ("", None),
])
def test_the_architecture_a_log_names_says_whether_a_config_json_can_help(accuracy, architecture, modelled):
    """vLLM's "Resolved architecture: X" (ModelConfig.__post_init__) against llmkube.modelconfig.ARCHITECTURES."""
    assert accuracy.architecture_modelled(architecture) is modelled


@pytest.mark.parametrize(("total", "gpu"), [
    (39.38, "a100-40gb"), (39.5, "a100-40gb"), (178.35, "b200-180gb"),
    # several cards print these: never guessed
    (14.56, ""), (22.05, ""), (23.58, ""), (44.42, ""), (47.54, ""), (79.19, ""), (79.25, ""), (139.8, ""),
    (None, ""),
])
def test_only_a_cuda_total_one_card_prints_names_the_gpu(accuracy, total, gpu):
    assert accuracy.gpu_for_total(total) == gpu


def test_logs_say_what_they_need(accuracy, tmp_path):
    """--logs on three real excerpts: a log of a model llmkube imports but has no profile for (its
    architecture named), one of an architecture llmkube does not model, one sized but naming no GPU;
    and a log whose CUDA total only the A100 40GB prints is sized as that card, on the total it prints."""
    import json

    logs = REPO / "tests" / "data" / "vllm-logs"
    # Srichakra-D/ContextMatch1 vllm_log.txt at 6d3d4e0 (tests/test_vllm_log.py SERVED_023; flags shortened)
    (tmp_path / "awq.log").write_text(
        "(APIServer pid=3407862) INFO 06-22 01:25:41 [api_utils.py:273] non-default args: {'model': "
        "'Qwen/Qwen3-14B-AWQ', 'max_model_len': 24576, 'served_model_name': ['qwen3-14b-awq'], "
        "'gpu_memory_utilization': 0.4}\n"
        "(APIServer pid=3407862) INFO 06-22 01:25:43 [model.py:611] Resolved architecture: Qwen3ForCausalLM\n"
        "(EngineCore pid=3408798) INFO 06-22 01:26:04 [gpu_model_runner.py:5187] Model loading took 9.44 GiB "
        "memory and 7.446122 seconds\n", encoding="utf-8")
    # liujonathan24/vllm_benchmark log.txt at e696ad281058116f790b554165802d1a2bfff814 (vLLM 0.11.0), lines 47,
    # 48, 52 (its config line shortened after load_format) and 66
    (tmp_path / "opt.log").write_text(
        "INFO 11-02 00:11:14 [utils.py:233] non-default args: {'disable_log_stats': True, 'model': 'facebook/opt-125m'}\n"
        "INFO 11-02 00:11:15 [model.py:547] Resolved architecture: OPTForCausalLM\n"
        "(EngineCore_DP0 pid=1539649) INFO 11-02 00:11:15 [core.py:77] Initializing a V1 LLM engine (v0.11.0) with "
        "config: model='facebook/opt-125m', speculative_config=None, tokenizer='facebook/opt-125m', "
        "skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, tokenizer_revision=None, "
        "trust_remote_code=False, dtype=torch.float16, max_seq_len=2048, download_dir=None, load_format=auto\n"
        "(EngineCore_DP0 pid=1539649) INFO 11-02 00:11:22 [gpu_model_runner.py:2653] Model loading took 0.2389 GiB "
        "and 1.413025 seconds\n", encoding="utf-8")
    (tmp_path / "a100.log").write_bytes((logs / "v0.7.3-a100-40gb-two-startups.log").read_bytes())
    (tmp_path / "nogpu.log").write_bytes((logs / "v0.18.0-h100-cudagraph-estimate.log").read_bytes())
    out = io.StringIO()
    with redirect_stdout(out):
        assert accuracy.main(["--logs", str(tmp_path), "--json"]) == 0
    results = {r["id"]: r for r in json.loads(out.getvalue())["results"]}
    awq = results["awq"]["profile"]
    assert "served_model_name 'qwen3-14b-awq'" in awq and "architecture Qwen3ForCausalLM, which llmkube imports" in awq
    assert "--model [GLOB=]CONFIG.json|MODEL_DIR" in awq
    assert results["opt"]["profile"] == "none (architecture OPTForCausalLM, which llmkube does not model)"
    assert results["nogpu"]["sizable"] and "names no GPU and prints no CUDA total" in results["nogpu"]["needs"]
    for key in ("a100-1", "a100-2"):  # 39.38 GiB printed, no card named
        assert (results[key]["gpu"], results[key]["gpu_memory_from"]) == ("a100-40gb", "log")
        assert "from the CUDA total 39.38 GiB" in results[key]["notes"] and "needs" not in results[key]
    text = io.StringIO()
    with redirect_stdout(text):
        accuracy.main(["--logs", str(tmp_path)])
    assert "sized without the GPU's memory: 1 logs" in text.getvalue()
    assert "nogpu: the log names no GPU and prints no CUDA total" in text.getvalue()


def test_a_modelscope_notebook_on_an_unprofiled_card(accuracy, tmp_path):
    """lujiaju6555/Chinese-LLM-Tuning vllm.ipynb at 05657b5e9748dc31894f948ca3c6fc90dd35b33b (vLLM 0.16.0): the
    model is ModelScope's cache copy of Qwen2.5-1.5B-Instruct (`qwen/Qwen2___5-1___5B-Instruct`, lowercase
    organisation), and a later cell's nvidia-smi names an RTX 5090, a card without a llmkube profile: it
    reaches both start-ups of the file as the device name, and `--logs` asks for `--gpu`. Lines of cells
    2 and 9 (the flags shortened)."""
    import json

    log = tmp_path / "modelscope.log"
    log.write_text(
        "INFO 03-03 11:47:24 [utils.py:223] non-default args: {'tokenizer': '/root/.cache/modelscope/hub/models/qwen/"
        "Qwen2___5-1___5B-Instruct', 'dtype': 'bfloat16', 'model': '/root/.cache/modelscope/hub/models/qwen/"
        "Qwen2___5-1___5B-Instruct'}\n"
        "INFO 03-03 11:47:30 [model.py:529] Resolved architecture: Qwen2ForCausalLM\n"
        "(EngineCore_DP0 pid=1964) INFO 03-03 11:47:46 [gpu_model_runner.py:4221] Model loading took 2.89 GiB memory "
        "and 14.222162 seconds\n"
        "(EngineCore_DP0 pid=1964) INFO 03-03 11:47:57 [gpu_worker.py:373] Available KV cache memory: 23.84 GiB\n"
        "|   0  NVIDIA GeForce RTX 5090        On  |   00000000:63:00.0 Off |                  N/A |\n",
        encoding="utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        assert accuracy.main(["--logs", str(log), "--json"]) == 0
    (result,) = json.loads(out.getvalue())["results"]
    assert result["sizable"] and result["profile"] == "builtin"
    assert result["gpu"] == "NVIDIA GeForce RTX 5090" and result["read"]["device_name"] == "NVIDIA GeForce RTX 5090"
    assert result["observed"] == {"weights_gib": 2.89}  # the KV cache needs the card's memory
    assert "'NVIDIA GeForce RTX 5090', which no llmkube GPU profile describes" in result["needs"]
    named = io.StringIO()
    with redirect_stdout(named):  # a card named with --gpu: the KV cache is compared
        assert accuracy.main(["--logs", str(log), "--gpu", "rtx-4090", "--json"]) == 0
    (result,) = json.loads(named.getvalue())["results"]
    assert result["gpu"] == "rtx-4090" and "kv_cache_gib" in result["predicted"] and "needs" not in result


def test_versions_and_default_utilization_read_as_plan_reads_them(accuracy):
    """A dev build's parts are their leading digits, and an empty utilization is vLLM's default for
    that version, as `plan` assumes it for a command line (llmkube.engines.vllm_default_utilization)."""
    assert accuracy.version_tuple("0.26.1rc1.dev156+g0123abc") == (0, 26, 1)
    assert accuracy.version_tuple("0.10.1.1") == (0, 10, 1)
    assert accuracy.version_tuple("main") is None
    assert accuracy.default_utilization({"vllm_version": "0.20.2"}) == 0.90
    assert accuracy.default_utilization({"vllm_version": "0.21.0"}) == 0.92
    assert accuracy.default_utilization({"vllm_version": ""}) == 0.90
