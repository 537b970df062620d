"""Checks on the built-in GPU and model profiles (profiles/gpus, profiles/models).

These test the *data* against the facts file
(/work/shared/reference/gpu-and-model-facts.md, "facts" below) and against
internal consistency rules; they do not use the loader.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
GPU_DIR = ROOT / "profiles" / "gpus"
MODEL_DIR = ROOT / "profiles" / "models"

API_VERSION = "llmkube.dev/v1alpha1"

EXPECTED_GPUS = {
    "h100-80gb", "h100-pcie-80gb", "h100-nvl-94gb", "h200-141gb", "a100-80gb",
    "a100-40gb", "a30-24gb", "l40s", "l4", "b200-180gb", "a10g",
    # issue 11: the cards people serve on
    "l40", "a10", "t4", "rtx-4090", "rtx-3090", "rtx-6000-ada", "rtx-a6000",
    # session 29: the A40 of the start-up table, memory from cited CUDA totals
    "a40",
}
EXPECTED_MODELS = {
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.2-1b", "llama-3.2-3b", "llama-2-7b",
    "mistral-7b", "mixtral-8x7b", "qwen2.5-7b", "qwen2.5-72b", "gemma-2-9b",
    "gemma-2-27b", "phi-3-mini", "phi-3-mini-128k", "deepseek-v3",
    # issue 11: shapes imported from published config.json copies (tests/data/hf-configs)
    "qwen3-8b", "qwen3-32b", "qwen3-30b-a3b", "qwen3-235b-a22b", "gemma-3-4b", "gemma-3-12b", "gemma-3-27b",
    "gpt-oss-20b", "gpt-oss-120b", "phi-4", "granite-3.3-8b", "deepseek-v2-lite", "llama-4-scout",
    "mistral-small-3.1-24b", "qwen2.5-72b-instruct-awq", "mixtral-8x7b-instruct-awq",
    "qwen3-14b", "qwen3-4b", "qwen3-0.6b", "qwen2.5-14b", "qwen2.5-32b", "qwen2.5-3b", "qwen1.5-moe-a2.7b",
    # derivatives (spec.baseProfile): fine-tunes and quantized re-uploads
    "llama-3-8b", "llama-3.3-70b", "deepseek-r1-distill-qwen-14b", "qwen3-235b-a22b-fp8", "granite-3.1-8b",
    "kimi-dev-72b", "llama-3.1-8b-w8a8", "llama-3.1-8b-w4a16", "llama-3.1-70b-w8a8", "llama-3.3-70b-fp8-dynamic",
    "llama-3.3-70b-w8a8", "qwen2.5-7b-fp8-dynamic", "qwen2.5-7b-w8a8", "mistral-small-3.1-24b-w8a8", "qwen3-32b-awq", "qwen2-7b",
    "llama-4-scout-instruct", "qwen3-30b-a3b-instruct-2507", "qwen3-coder-30b-a3b-instruct",
    "codellama-7b", "deepseek-coder-6.7b", "gemma-2-2b", "gemma-2b", "granite-3.1-2b", "qwen2.5-coder-7b",
    "qwen2.5-14b-instruct", "qwen2.5-32b-instruct", "qwen2.5-coder-14b",
    # issue 11: checkpoints of the start-up table (benchmarks/data), shapes from config.json copies
    "llama-2-70b", "gemma-7b", "qwen2.5-0.5b", "qwen2.5-1.5b-instruct", "rho-1b",
    # session 29: quantized re-uploads of the start-up table (derivatives, cited Hub configs and listings)
    "llama-3-70b-instruct-awq", "qwen2.5-32b-instruct-awq",
}

# ---- allowed keys -----------------------------------------------------------

TOP_KEYS = {"apiVersion", "kind", "metadata", "spec"}
METADATA_KEYS = {"name"}

GPU_REQUIRED = {"displayName", "product", "memoryGiB", "interconnect", "gpusPerNode"}
GPU_OPTIONAL = {
    "memoryMiB", "sms", "memoryBandwidthGBps", "bf16TFLOPS", "computeCapability",
    "pciDeviceIds", "notes", "mig",
}
MIG_REQUIRED = {"computeSlices", "memorySlots", "profiles"}
MIG_PROFILE_REQUIRED = {"name", "memorySlots", "computeSlices", "memoryGiB", "maxCount", "placements"}
MIG_PROFILE_OPTIONAL = {"sms"}  # omitted where the facts file has no figure

MODEL_REQUIRED = {
    "displayName", "huggingFaceIds", "architecture", "parametersB", "layers",
    "hiddenSize", "attentionHeads", "kvHeads", "headDim", "intermediateSize",
    "vocabSize", "maxContext", "tieEmbeddings", "dtype",
}
MODEL_OPTIONAL = {
    "activeParametersB", "experts", "slidingWindow", "mla", "notes", "layerTypes", "attentionChunkSize", "ropeTablePositions",
    "quantization", "qkvBias", "attentionOutputBias", "qkNorm", "visionParametersB",
}
EXPERTS_REQUIRED = {"total", "active"}
EXPERTS_KEYS = EXPERTS_REQUIRED | {"intermediateSize", "shared", "sharedIntermediateSize", "denseLayers", "layerStep", "bias"}
MLA_REQUIRED = {"kvLoraRank", "qkRopeHeadDim"}
MLA_KEYS = MLA_REQUIRED | {"qLoraRank", "qkNopeHeadDim", "vHeadDim"}
ARCHITECTURES = {"llama", "mistral", "mixtral", "qwen2", "gemma2", "phi3", "deepseek_v3",
                 "qwen3", "qwen3_moe", "gemma3", "gpt_oss", "granite", "deepseek_v2", "llama4", "qwen2_moe",
                 "gemma"}
MOE_ARCHITECTURES = {"mixtral", "deepseek_v3", "qwen3_moe", "gpt_oss", "deepseek_v2", "llama4", "qwen2_moe"}
MLA_ARCHITECTURES = {"deepseek_v2", "deepseek_v3"}

# ---- expectations taken from the facts file -----------------------------------

# facts §4, "gpu.product values" table.
EXPECTED_PRODUCT = {
    "h100-80gb": "NVIDIA-H100-80GB-HBM3",
    "h100-pcie-80gb": "NVIDIA-H100-PCIe",
    "h100-nvl-94gb": "NVIDIA-H100-NVL",
    "h200-141gb": "NVIDIA-H200",
    "a100-80gb": "NVIDIA-A100-SXM4-80GB",
    "a100-40gb": "NVIDIA-A100-SXM4-40GB",
    "a30-24gb": "NVIDIA-A30",
    "b200-180gb": "NVIDIA-B200",
    "l40s": "NVIDIA-L40S",
    "l4": "NVIDIA-L4",
    "a10g": "NVIDIA-A10G",
    # nvidia-smi names sanitised by the facts §4 rule (spaces -> '-'); T4 [V]
    "l40": "NVIDIA-L40",
    "a10": "NVIDIA-A10",
    "t4": "Tesla-T4",
    "rtx-4090": "NVIDIA-GeForce-RTX-4090",
    "rtx-3090": "NVIDIA-GeForce-RTX-3090",
    "rtx-6000-ada": "NVIDIA-RTX-6000-Ada-Generation",
    "rtx-a6000": "NVIDIA-RTX-A6000",
    "a40": "NVIDIA-A40",
}

# facts §1.2/§1.3: the MIG profile names listed for each GPU (L4, L40S, A10G: no MIG, §5).
EXPECTED_MIG_PROFILES = {
    "a100-40gb": {"1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"},
    "a100-80gb": {"1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"},
    "h100-80gb": {"1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"},
    "h100-pcie-80gb": {"1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"},
    "h100-nvl-94gb": {"1g.12gb", "1g.12gb+me", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"},
    # 1g.35gb+me deliberately absent: facts §1.5 attributes all-1g.35gb.me to both
    # H200 and GB300, but the H200 lgip table (§1.3) has no such profile.
    "h200-141gb": {"1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"},
    "b200-180gb": {"1g.23gb", "1g.23gb+me", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"},
    "a30-24gb": {"1g.6gb", "1g.6gb+me", "2g.12gb", "2g.12gb+me", "4g.24gb"},
    "l40s": None,
    "l4": None,
    "a10g": None,
    **{n: None for n in ("l40", "a10", "t4", "rtx-4090", "rtx-3090", "rtx-6000-ada", "rtx-a6000", "a40")},
}

# facts §1.1: 7-slice GPUs have 7 compute slices / 8 memory slots; A30 4 / 4.
EXPECTED_MIG_GEOMETRY = {name: (7, 8) for name, p in EXPECTED_MIG_PROFILES.items() if p}
EXPECTED_MIG_GEOMETRY["a30-24gb"] = (4, 4)

# Known, documented exceptions to "MIG profile memory <= memoryGiB":
# memoryGiB is the CUDA-reported total in non-MIG mode (facts §7.1b, 79.19 GiB),
# while `nvidia-smi mig -lgip` prints 79.25 GiB for 7g.80gb (facts §1.3). Both
# are below the physical total (81559 MiB = 79.65 GiB). H100 PCIe reuses the
# SXM figures (marked [D] in its notes). For these, allow 0.1 GiB of slack and
# check against memoryMiB where it is known.
# The H200 measured the same way (../shared/reference/measured-h200.md): CUDA total 139.80 GiB,
# `nvidia-smi mig -lgip` 140.00 GiB for 7g.141gb.
MIG_MEMORY_EXCEPTIONS = {("h100-80gb", "7g.80gb"), ("h100-pcie-80gb", "7g.80gb"), ("h200-141gb", "7g.141gb"),
                         ("a100-40gb", "7g.40gb")}  # A100-40GB: CUDA 39.38 GiB (vllm#16570), lgip 39.50
MIG_MEMORY_SLACK_GIB = 0.25

# facts §6, "Derived KV-cache and weight sizes" table, column "KV / token" (KiB, BF16).
EXPECTED_KV_KIB_PER_TOKEN = {
    "llama-3.1-8b": 128,
    "llama-3.1-70b": 320,
    "llama-3.1-405b": 504,
    "llama-3.2-1b": 32,
    "llama-3.2-3b": 112,
    "mistral-7b": 128,
    "mixtral-8x7b": 128,
    "qwen2.5-7b": 56,
    "qwen2.5-72b": 320,
    "gemma-2-9b": 336,
    "gemma-2-27b": 368,
    "phi-3-mini": 384,
    "phi-3-mini-128k": 384,  # same shapes; the table's "Phi-3-mini" row covers both variants
}
# facts §6: DeepSeek-V3 (MLA) "68.6 KiB (61 × 576 elems × 2 B)".
DEEPSEEK_V3_MLA_KV_KIB = 68.6

MIG_NAME = re.compile(r"^(?P<g>\d)g\.(?P<gb>\d+)gb(?P<me>\+me)?$")
HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def _load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


def _profiles(directory: Path) -> dict[str, dict]:
    return {p.stem: _load(p) for p in sorted(directory.glob("*.yaml"))}


GPUS = _profiles(GPU_DIR)
ALL_MODELS = _profiles(MODEL_DIR)
# Derivatives (spec.baseProfile) hold only what differs from their base: checked on their own.
MODELS = {n: d for n, d in ALL_MODELS.items() if "baseProfile" not in d["spec"]}
DERIVATIVES = {n: d for n, d in ALL_MODELS.items() if "baseProfile" in d["spec"]}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_pos_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


# ---- file set, envelope -------------------------------------------------------


def test_expected_files_present():
    assert set(GPUS) == EXPECTED_GPUS
    assert set(ALL_MODELS) == EXPECTED_MODELS
    assert not list(GPU_DIR.glob("*.yml")) and not list(MODEL_DIR.glob("*.yml"))


@pytest.mark.parametrize(
    ("stem", "doc", "kind"),
    [(s, d, "GPUProfile") for s, d in GPUS.items()] + [(s, d, "ModelProfile") for s, d in ALL_MODELS.items()],
)
def test_envelope(stem, doc, kind):
    assert isinstance(doc, dict)
    assert set(doc) == TOP_KEYS
    assert doc["apiVersion"] == API_VERSION
    assert doc["kind"] == kind
    assert set(doc["metadata"]) == METADATA_KEYS
    assert doc["metadata"]["name"] == stem, "metadata.name must equal the file name"
    assert NAME.match(stem)
    assert isinstance(doc["spec"], dict)


# ---- GPU profiles -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GPUS))
def test_gpu_keys_and_types(name):
    spec = GPUS[name]["spec"]
    assert GPU_REQUIRED <= set(spec), GPU_REQUIRED - set(spec)
    assert set(spec) <= GPU_REQUIRED | GPU_OPTIONAL, set(spec) - GPU_REQUIRED - GPU_OPTIONAL
    assert isinstance(spec["displayName"], str) and spec["displayName"]
    assert _is_number(spec["memoryGiB"]) and spec["memoryGiB"] > 0
    assert spec["interconnect"] in {"nvlink", "pcie"}
    assert _is_pos_int(spec["gpusPerNode"])
    for key in ("memoryMiB", "sms"):
        if key in spec:
            assert _is_pos_int(spec[key]), key
    for key in ("memoryBandwidthGBps", "bf16TFLOPS"):
        if key in spec:
            assert _is_number(spec[key]) and spec[key] > 0, key
    if "computeCapability" in spec:
        assert isinstance(spec["computeCapability"], str)
        assert re.fullmatch(r"\d+\.\d", spec["computeCapability"])
    if "pciDeviceIds" in spec:
        ids = spec["pciDeviceIds"]
        assert isinstance(ids, list) and ids
        for dev in ids:
            # mig-parted device-filter form: 0x<device><vendor 10DE>
            assert isinstance(dev, str) and re.fullmatch(r"0x[0-9A-F]{4}10DE", dev), dev
    if "notes" in spec:
        assert isinstance(spec["notes"], str) and spec["notes"]
    if "memoryMiB" in spec:
        # usable (CUDA) memory can be below the nvidia-smi total, never above it
        assert spec["memoryGiB"] <= spec["memoryMiB"] / 1024 + 0.01


@pytest.mark.parametrize("name", sorted(GPUS))
def test_gpu_product_label_matches_facts(name):
    assert GPUS[name]["spec"]["product"] == EXPECTED_PRODUCT[name]


def test_pci_device_ids_unique():
    seen: dict[str, str] = {}
    for name, doc in GPUS.items():
        for dev in doc["spec"].get("pciDeviceIds", []):
            assert dev not in seen, f"{dev} in both {seen.get(dev)} and {name}"
            seen[dev] = name


@pytest.mark.parametrize("name", sorted(GPUS))
def test_mig_presence(name):
    spec = GPUS[name]["spec"]
    expected = EXPECTED_MIG_PROFILES[name]
    if expected is None:
        assert "mig" not in spec, f"{name} has no MIG (facts §5)"
        return
    mig = spec["mig"]
    assert set(mig) == MIG_REQUIRED
    assert (mig["computeSlices"], mig["memorySlots"]) == EXPECTED_MIG_GEOMETRY[name]
    names = [p["name"] for p in mig["profiles"]]
    assert len(names) == len(set(names)), "duplicate MIG profile"
    assert set(names) == expected


def _max_non_overlapping(placements: list[int], size: int) -> int:
    """Greedy interval scheduling (optimal for equal-size intervals, sorted starts)."""
    count, free_from = 0, -1
    for start in sorted(placements):
        if start >= free_from:
            count += 1
            free_from = start + size
    return count


MIG_GPUS = sorted(n for n, p in EXPECTED_MIG_PROFILES.items() if p)


@pytest.mark.parametrize("name", MIG_GPUS)
def test_mig_profiles(name):
    spec = GPUS[name]["spec"]
    mig = spec["mig"]
    gpu_slots, gpu_compute = mig["memorySlots"], mig["computeSlices"]
    by_name = {p["name"]: p for p in mig["profiles"]}
    full = []
    for p in mig["profiles"]:
        pname = p["name"]
        assert MIG_PROFILE_REQUIRED <= set(p), (pname, MIG_PROFILE_REQUIRED - set(p))
        assert set(p) <= MIG_PROFILE_REQUIRED | MIG_PROFILE_OPTIONAL, (pname, set(p))
        m = MIG_NAME.match(pname)
        assert m, pname
        slots, compute = p["memorySlots"], p["computeSlices"]
        assert _is_pos_int(slots) and _is_pos_int(compute) and _is_pos_int(p["maxCount"])
        assert int(m["g"]) == compute, f"{pname}: name says {m['g']}g"
        assert compute <= gpu_compute and slots <= gpu_slots

        placements = p["placements"]
        assert isinstance(placements, list) and placements, pname
        assert all(isinstance(s, int) and not isinstance(s, bool) for s in placements)
        assert placements == sorted(set(placements)), f"{pname}: placements must be sorted, unique"
        for start in placements:
            assert 0 <= start and start + slots <= gpu_slots, f"{pname}@{start} overflows {gpu_slots} slots"

        # maxCount = how many instances fit without overlapping on the slot axis,
        # capped by the compute slices. Exception: +me variants own the media
        # engines, so only one per GPU (facts §1.1).
        fit = min(_max_non_overlapping(placements, slots), gpu_compute // compute)
        if m["me"]:
            assert p["maxCount"] == 1, pname
            base = by_name.get(pname.removesuffix("+me"))
            assert base is not None, f"{pname} without its base profile"
            for key in ("memorySlots", "computeSlices", "placements", "memoryGiB", "sms"):
                assert p.get(key) == base.get(key), f"{pname}.{key} differs from base"
        else:
            assert p["maxCount"] == fit, f"{pname}: maxCount {p['maxCount']} but {fit} fit"

        gib = p["memoryGiB"]
        assert _is_number(gib) and gib > 0
        if (name, pname) in MIG_MEMORY_EXCEPTIONS:
            assert gib > spec["memoryGiB"], "exception no longer needed: remove it"
            assert gib <= spec["memoryGiB"] + MIG_MEMORY_SLACK_GIB
            if "memoryMiB" in spec:
                assert gib <= spec["memoryMiB"] / 1024
        else:
            assert gib <= spec["memoryGiB"], f"{pname}: {gib} GiB > GPU {spec['memoryGiB']} GiB"
        # the marketing GB in the name is a rounded-up figure: never below the real size
        assert gib <= int(m["gb"]), f"{pname}: {gib} GiB vs name {m['gb']}gb"
        if "sms" in p:
            assert _is_pos_int(p["sms"])
            if "sms" in spec:
                assert p["sms"] <= spec["sms"]

        if compute == gpu_compute:
            full.append(p)

    # the full-GPU profile (7g, or 4g on A30) occupies every slot, once
    assert len(full) == 1, [p["name"] for p in full]
    assert full[0]["memorySlots"] == gpu_slots
    assert full[0]["placements"] == [0]
    assert full[0]["maxCount"] == 1
    assert full[0]["name"].startswith(f"{gpu_compute}g.")


@pytest.mark.parametrize("name", MIG_GPUS)
def test_mig_memory_grows_with_slots(name):
    """An instance with more memory slots has more memory; equal slots, about equal memory."""
    profiles = GPUS[name]["spec"]["mig"]["profiles"]
    for a in profiles:
        for b in profiles:
            if a["memorySlots"] < b["memorySlots"]:
                assert a["memoryGiB"] < b["memoryGiB"], (a["name"], b["name"])
            if a["memorySlots"] == b["memorySlots"]:
                assert abs(a["memoryGiB"] - b["memoryGiB"]) < 0.5, (a["name"], b["name"])


# ---- model profiles -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_keys_and_types(name):
    spec = MODELS[name]["spec"]
    assert MODEL_REQUIRED <= set(spec), MODEL_REQUIRED - set(spec)
    assert set(spec) <= MODEL_REQUIRED | MODEL_OPTIONAL, set(spec) - MODEL_REQUIRED - MODEL_OPTIONAL
    assert spec["architecture"] in ARCHITECTURES
    for key in ("layers", "hiddenSize", "attentionHeads", "kvHeads", "headDim",
                "intermediateSize", "vocabSize", "maxContext"):
        assert _is_pos_int(spec[key]), key
    assert _is_number(spec["parametersB"]) and spec["parametersB"] > 0
    assert isinstance(spec["tieEmbeddings"], bool)
    assert spec["dtype"] in {"bfloat16", "float16", "float32", "float8"}
    assert spec["attentionHeads"] % spec["kvHeads"] == 0
    ids = spec["huggingFaceIds"]
    assert isinstance(ids, list) and ids
    for hf in ids:
        assert isinstance(hf, str) and HF_ID.match(hf), hf

    moe = spec["architecture"] in MOE_ARCHITECTURES
    assert ("experts" in spec) == moe
    assert ("activeParametersB" in spec) == moe
    if moe:
        assert EXPERTS_REQUIRED <= set(spec["experts"]) <= EXPERTS_KEYS
        assert 0 < spec["experts"]["active"] < spec["experts"]["total"]
        assert 0 < spec["activeParametersB"] < spec["parametersB"]
    assert ("mla" in spec) == (spec["architecture"] in MLA_ARCHITECTURES)
    if "mla" in spec:
        assert MLA_REQUIRED <= set(spec["mla"]) <= MLA_KEYS
        assert all(_is_pos_int(v) for v in spec["mla"].values())
    if "slidingWindow" in spec:
        assert _is_pos_int(spec["slidingWindow"])
        assert spec["slidingWindow"] < spec["maxContext"]
    if "notes" in spec:
        assert isinstance(spec["notes"], str) and spec["notes"]


def test_hf_ids_unique_across_profiles():
    seen: dict[str, str] = {}
    for name, doc in MODELS.items():
        for hf in doc["spec"]["huggingFaceIds"]:
            key = hf.lower()  # the Hub treats repo ids case-insensitively
            assert key not in seen, f"{hf} in both {seen.get(key)} and {name}"
            seen[key] = name


def _param_count(spec: dict) -> tuple[int, int]:
    """(total, active) parameters for a Llama-style decoder (dense or Mixtral MoE)."""
    h, heads, kv, hd = spec["hiddenSize"], spec["attentionHeads"], spec["kvHeads"], spec["headDim"]
    inter, vocab, layers = spec["intermediateSize"], spec["vocabSize"], spec["layers"]
    arch = spec["architecture"]

    embed = vocab * h * (1 if spec["tieEmbeddings"] else 2)
    attn = h * heads * hd + 2 * h * kv * hd + heads * hd * h
    if arch == "qwen2":
        attn += heads * hd + 2 * kv * hd  # q/k/v biases
    mlp = 3 * h * inter
    norms = (4 if arch == "gemma2" else 2) * h
    if "experts" in spec:
        e = spec["experts"]
        router = h * e["total"]
        per_layer = attn + mlp * e["total"] + router + norms
        per_layer_active = attn + mlp * e["active"] + router + norms
    else:
        per_layer = per_layer_active = attn + mlp + norms
    final_norm = h
    return (embed + layers * per_layer + final_norm, embed + layers * per_layer_active + final_norm)


# The Llama-style count above covers the original profiles; llmkube/modelshape.py counts every
# architecture (tests/test_modelshape.py checks each profile against it).
FORMULA_MODELS = sorted(EXPECTED_KV_KIB_PER_TOKEN)


@pytest.mark.parametrize("name", FORMULA_MODELS)
def test_parameter_count_matches_shapes(name):
    spec = MODELS[name]["spec"]
    total, active = _param_count(spec)
    assert abs(total / 1e9 - spec["parametersB"]) / spec["parametersB"] <= 0.015, (
        f"{name}: shapes give {total / 1e9:.3f} B, profile says {spec['parametersB']}"
    )
    if "activeParametersB" in spec:
        assert abs(active / 1e9 - spec["activeParametersB"]) / spec["activeParametersB"] <= 0.015, (
            f"{name}: shapes give {active / 1e9:.3f} B active, profile says {spec['activeParametersB']}"
        )


def test_kv_table_models_exist():
    assert set(EXPECTED_KV_KIB_PER_TOKEN) <= set(MODELS)


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_derivative_keys(name):
    spec = DERIVATIVES[name]["spec"]
    assert spec["baseProfile"] in ALL_MODELS, spec["baseProfile"]
    assert set(spec) <= MODEL_REQUIRED | MODEL_OPTIONAL | {"baseProfile"}
    assert spec.get("notes") and spec.get("huggingFaceIds")


@pytest.mark.parametrize("name", sorted(EXPECTED_KV_KIB_PER_TOKEN))
def test_kv_bytes_per_token_matches_facts_table(name):
    spec = MODELS[name]["spec"]
    kv_bytes = 2 * spec["layers"] * spec["kvHeads"] * spec["headDim"] * 2  # K and V, BF16
    assert kv_bytes == EXPECTED_KV_KIB_PER_TOKEN[name] * 1024


def test_deepseek_v3_shapes():
    # MLA + MoE: the Llama formula does not apply; check the facts §6 shapes instead.
    spec = MODELS["deepseek-v3"]["spec"]
    assert spec["architecture"] == "deepseek_v3"
    assert (spec["layers"], spec["hiddenSize"], spec["attentionHeads"], spec["kvHeads"]) == (61, 7168, 128, 128)
    assert spec["vocabSize"] == 129280 and spec["maxContext"] == 163840
    assert spec["experts"] == {"total": 256, "active": 8, "intermediateSize": 2048, "shared": 1, "denseLayers": 3}
    assert spec["mla"] == {"kvLoraRank": 512, "qkRopeHeadDim": 64, "qLoraRank": 1536, "qkNopeHeadDim": 128, "vHeadDim": 128}
    assert spec["dtype"] == "float8"
    # MLA latent cache: 61 layers × (512 + 64) elements × 2 bytes = 68.6 KiB/token (facts §6)
    latent = spec["layers"] * (spec["mla"]["kvLoraRank"] + spec["mla"]["qkRopeHeadDim"]) * 2
    assert round(latent / 1024, 1) == DEEPSEEK_V3_MLA_KV_KIB
    assert spec["attentionHeads"] % 8 == 0  # TP 8 on one node must divide heads
