"""Read a vLLM start-up log into the columns of benchmarks/data/vllm_startups.csv.

The table's rows were transcribed by hand; this reads the same figures off the log itself, so a
folder of logs can be sized (`benchmarks/sizing_accuracy.py --logs`) and a row can be checked
against its log. Every column means what benchmarks/data/README.md says it means; a figure the
log does not print is left empty, never filled from a default.

The lines read, and the vLLM code that prints them (vllm-project/vllm; the file and the version
range are the ones the logs themselves name in their `[file.py:line]` headers):

Settings
- version: "Initializing an LLM engine (v0.6.6.post1) with config: ..." (V0 `llm_engine.py`),
  "Initializing a V0/V1 LLM engine (v0.10.1.1) with config: ..." (`llm_engine.py` / V1
  `v1/engine/core.py`), "vLLM API server version X" (`entrypoints/openai/api_server.py`, to
  0.10), the banner "... version X" (`entrypoints/utils.py`/`api_utils.py`, 0.11+).
- the model, when neither the config line nor the flags show it (a log whose start was cut): the
  0.11+ banner's "model   Qwen/Qwen3-8B" and "Starting to load model X..." (V0
  `worker/model_runner.py` `load_model`, V1 `v1/worker/gpu_model_runner.py` `load_model`).
- other names of the checkpoint (not table columns; `sizing_accuracy.py --logs` tries them when the
  model path names none llmkube knows): the config line's `served_model_name=` / `--served-model-name`
  and `tokenizer=` / `--tokenizer`; the architecture vLLM resolved, "Resolved architecture: X"
  (`ModelConfig.__post_init__`, `config.py` / `config/model.py`, 0.10+).
- a log whose start was cut: the engine's crash dump "Dumping input data for V1 LLM engine (vX) with
  config: ..." (`logging_utils/dump_input.py` `dump_engine_exception`, 0.9+) stands for the config line.
- max_model_len, when neither the flags nor the config line show it: "Using max model len N"
  (`ModelConfig.get_and_verify_max_len` in `config.py`, `config/__init__.py` or `config/model.py` by version).
- the engine config line (same call): `model=`, `dtype=torch.X`, `max_seq_len=`,
  `tensor_parallel_size=`, `pipeline_parallel_size=`, `data_parallel_size=` (V1),
  `quantization=`, `enforce_eager=`, `kv_cache_dtype=`.
- the flags: "args: Namespace(...)" (`api_server.py` `run_server`, 0.4-0.8: every argument,
  defaults included) and "non-default args: {...}" (`log_non_default_args` in
  `entrypoints/utils.py`, `cli_args.py` or `api_utils.py` by version, 0.9+: only what the command
  line or `LLM(...)` set). A wrapper's tag before the header ("vLLM STDOUT: INFO ...") is allowed.
- scheduler: "Chunked prefill is enabled with max_num_batched_tokens=N" (`config.py` /
  `config/scheduler.py` `SchedulerConfig.__post_init__`, INFO), and the DEBUG lines of
  `engine/arg_utils.py` that pick the usage-context defaults: "Setting max_num_batched_tokens to N
  for LLM_CLASS usage context." (0.8-0.9) and "Defaulting max_num_batched_tokens / max_num_seqs to
  N for openai-api-server usage context." (0.10+, `_set_default_max_num_seqs_and_batched_tokens_args`).
  An explicit flag wins over both.
- gpu-memory-utilization: the flags, V0's profiling message ("x gpu_memory_utilization (0.90)",
  `worker/worker.py` `determine_num_available_blocks` 0.6.6-0.7; "gpu_memory_utilization=0.90",
  0.6.4-0.6.5), 0.18-0.20's "In v0.19, CUDA graph memory profiling will be enabled by default ...
  increase --gpu-memory-utilization from 0.9000 to 0.9616 ..." (`v1/worker/gpu_worker.py`
  `determine_available_memory`, the setting first), and 0.21+'s "The current
  --gpu-memory-utilization=0.9200 is equivalent to ..."
  (`v1/worker/gpu_worker.py` `determine_available_memory`).
- block size: `--block-size` in the flags, or an attention backend's override ("Setting
  attention block size to N tokens", "Forcing kv cache block size to N").
- sampler: "Using FlashInfer for top-p & top-k sampling" / "FlashInfer is not available ...
  Falling back to the PyTorch-native implementation" / "... is disabled" / "FlashInfer is
  available, but it is not enabled" / "FlashInfer version >= 0.2.3 required. Falling back to
  default sampling implementation." (`v1/sample/ops/topk_topp_sampler.py`
  `TopKTopPSampler.__init__`, 0.8.0 - 0.11.0: on CUDA it always logs one of them, INFO or WARNING,
  so a V1 log of those releases that names none is an excerpt).
- install (`install_evidence`): `pip` or `image` (the vllm/vllm-openai image) where the log shows
  it — the Python paths its warnings and tracebacks print, the sampler's "FlashInfer is not
  available", a notebook's Colab/Kaggle paths or pip's own "Successfully installed ... vllm-X".
- "Custom allreduce is disabled because this process group spans across nodes"
  (`distributed/device_communicators/custom_all_reduce.py`).
- MXFP4 kernel: "Using Marlin backend" (`layers/quantization/mxfp4.py`) or "Weight-only FP4
  compression will be used leveraging the Marlin kernel" (`utils/marlin_utils_fp4.py`).
- expert parallel: `enable_expert_parallel` True in the flags.
- GPU: the CUDA total ("total_gpu_memory (44.52GiB)", "total_gpu_memory=23.58GiB", and the
  "Free memory on device (78.84/79.25 GiB) on startup. ... Actual usage is X GiB for weight, Y GiB
  for peak activation, Z GiB for non-torch memory ..." that V1 `gpu_worker.py` prints after the
  CUDA graphs in some 0.10.x builds and 0.21+, PR #21489; its activation and non-torch figures are
  read too), torch's out-of-memory text ("GPU 0 has a total capacity of 15.47 GiB", c10
  `CUDACachingAllocator.cpp`), and the device name when a line names it (the fused-MoE config file
  name "device_name=NVIDIA_A100-SXM4-80GB", nvidia-smi's table and `-L`, collect_env's "GPU 0: ...");
  a card no GPU profile matches is kept as printed (`device_name`, not a column: "NVIDIA GB10").

Observations (per worker; see `pick_worker` for which one the row takes)
- weights: "Loading model weights took X GB" (V0 `worker/model_runner.py` `load_model`; GiB
  despite the label), "Model loading took X GiB [memory] and Y seconds" (V1
  `v1/worker/gpu_model_runner.py` `load_model`), else V0/early-V1's "model weights take XGiB".
- the profiling message of V0 0.6.6-0.7 and V1 0.8-0.10 (`worker.py` / `gpu_worker.py`
  `determine_num_available_blocks` / `determine_available_memory`): "model weights take XGiB;
  non_torch_memory takes XGiB; PyTorch activation peak memory takes XGiB; the rest of the
  memory reserved for KV Cache is XGiB."; 0.6.4-0.6.5's one line "Memory profiling results:
  total_gpu_memory=... peak_torch_memory=... non_torch_memory=... kv_cache_size=..." (its
  peak_torch_memory includes the weights: activation = peak − weights, as the README notes).
- "Available KV cache memory: X GiB" (V1 `gpu_worker.py`).
- 0.21+: "Estimated CUDA graph memory: X GiB total" (`gpu_model_runner.py`), subtracted before
  the KV cache is sized when the log says "CUDA graph memory profiling is enabled" (or the
  version is 0.21+ and the log does not say it is off); before 0.21 the estimate is printed with
  "In v0.21, CUDA graph memory profiling will be enabled by default" and not subtracted.
  "Graph capturing finished in N secs, took X GiB" (after sizing) is never `cuda_graph_gib`.
- "GPU KV cache size: N tokens" and "Maximum concurrency for N tokens per request: Xx" (V1
  `v1/core/kv_cache_utils.py`; V0 prints the concurrency from `gpu_executor.py` /
  `executor_base.py` too), "# GPU blocks: N, # CPU blocks: M" (V0 executors) / "# CUDA blocks: N"
  (V0 0.7-0.8 `executor_base.py`), V1 0.10-0.11's "num_gpu_blocks is: N" (`v1/metrics/loggers.py`);
  V0's KV tokens are blocks × block size (16 when the log shows no other), a derived figure the
  row's notes say. Where every worker prints its own KV size, the smallest is taken (the pool).
- the tab-separated table of the 0.6.5 development builds ("total_gpu_memory\t79.22GiB", ...,
  "available_kv_cache_memory\t53.29GiB"), vllm-project/vllm PR #10511.

Around the lines: colour codes, Windows line ends and what log collectors add are stripped
(`_COLLECTOR`, `_DATED_HEADER`), process prefixes name the worker (`_PREFIX`), wrapped lines are
joined, and a file is cut into start-ups (`startups`: relaunches, replicas side by side). The
platform a log names is kept (`platform`) so that a ROCm, Ascend or Neuron start-up is not taken for
CUDA (the platform line, a ROCm attention backend, or an out-of-tree plugin's modules at work:
`vllm_neuron.`, `vllm_ascend.`, ...).

Not read: settings that only a launcher script or a README shows (the GPU model when no line names
it, a `--max-num-batched-tokens` inferred from a compile range), `--kv-cache-memory`, speculative
decoding, LoRA, CPU offload, and non-CUDA platforms (ROCm/XPU/TPU print other lines); a log whose
lines were re-flowed into one paragraph (as some issue digests are) splits nothing.

Pure functions over the text; `main` only reads files and prints.
"""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import gzip
import io
import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

# The table's columns (benchmarks/sizing_accuracy.py COLUMNS; repeated so this module imports
# nothing from the script).
COLUMNS = (
    "id", "split", "source", "source_group", "vllm_version", "gpu", "gpu_total_gib", "model", "tp", "pp",
    "dtype", "quantization", "quantization_flag", "kv_cache_dtype", "max_model_len", "max_num_seqs",
    "max_num_batched_tokens", "gpu_memory_utilization", "enforce_eager", "block_size", "topk_topp_sampler",
    "tp_spans_nodes", "mxfp4_backend", "expert_parallel", "install", "engine", "weights_gib", "non_torch_gib", "activation_gib",
    "cuda_graph_gib", "kv_cache_gib", "kv_tokens", "gpu_blocks", "max_concurrency", "defaults", "notes",
)
OBSERVED = ("weights_gib", "non_torch_gib", "activation_gib", "cuda_graph_gib", "kv_cache_gib", "kv_tokens",
            "gpu_blocks", "max_concurrency")

# ----------------------------------------------------------------------------- lines

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Process prefixes vLLM's multiprocessing (`_add_prefix`) and Ray put before every line:
# "(VllmWorker rank=1 pid=123)", "(EngineCore_DP0 pid=9)", "(RayWorkerWrapper pid=345, ip=10.0.0.2)".
_PREFIX = re.compile(r"^\s*\(([A-Za-z_][\w]*(?:[ _][^()]*?)?pid=\d+[^()]*)\)\s*")
_REPEATED = re.compile(r"\s*\[repeated \d+x across cluster\]")
# What a log collector writes before each line it stores, never vLLM's text (stripped before
# anything else, in any combination): `kubectl logs --prefix` ("[pod/NAME/CONTAINER] "), an RFC 3339
# time stamp (`docker logs -t`, `kubectl logs --timestamps`) or a logging wrapper's own date, the
# CRI log files of a Kubernetes node ("2025-03-01T10:11:12.1Z stdout F "), a bracketed one (CI
# output: "[2026-08-21T19:42:37Z] "), TorchServe's worker log ("<time> [INFO ] W-9000-model_1.0-stdout
# MODEL_LOG - "), journald/syslog ("Mar 01 10:11:12 host vllm[1234]: ") and `docker compose logs`
# ("service-1  | ").
_COLLECTOR = re.compile(
    r"^(?:\[pod/[^\]\s]+\]\s"
    r"|\[\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]\s?"
    r"|\[(?:TRACE|DEBUG|INFO|WARN|ERROR)\s*\]\s+\S+\s+MODEL_LOG\s+-\s"
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?(?:\s+(?:stdout|stderr)\s+[FP](?=\s|$))?"
    r"(?:\s*\|\s?|\s+|$)"
    r"|[A-Z][a-z]{2}\s+\d{1,2}\s\d\d:\d\d:\d\d\s\S+\s[\w./@-]+(?:\[\d+\])?:\s"
    r"|[A-Za-z0-9][\w.-]*\s+\|(?:\s|$))")
_CRI_PARTIAL = re.compile(r"\s(?:stdout|stderr)\sP(?:\s|$)")


def collected(raws: Sequence[str]) -> list[str]:
    """The lines without colour codes and without what a log collector put before them. A CRI
    partial line ("... stdout P ...", the runtime splits a line longer than 16 KiB) is joined with
    the lines that finish it; the joined line keeps the last one's place (blank before it)."""
    out: list[str] = []
    pending = ""
    for raw in raws:
        line = _ANSI.sub("", raw)
        partial = False
        while m := _COLLECTOR.match(line):
            partial = partial or bool(_CRI_PARTIAL.search(m.group(0)))
            line = line[m.end():]
            if not m.group(0):
                break
        if partial:
            pending += line
            out.append("")
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out
# The logging header: "INFO 09-10 23:26:12 [api_server.py:1805] " (0.7+) or "INFO 04-05 23:43:02 api_server.py:712] ".
# A wrapper's own tag may precede it ("vLLM STDOUT: INFO ...", Unsloth's server wrapper).
_HEADER = re.compile(r"^(?:[^\[\]()]{0,40}?\s)?(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s+(?:\d\d-\d\d\s+\d\d:\d\d:\d\d(?:\.\d+)?\s+)?\[?[\w./<>-]+(?::\d+)?\]\s?")


# vLLM's header with its date ("INFO 10-07 22:54:54 llm_engine.py:226] ", "INFO 04-16 11:16:06 [utils.py:299] "),
# distinctive enough to be found after any prefix.
_DATED_HEADER = re.compile(r"\b(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) \d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? "
                           r"\[?[\w./<>-]+:\d+\] ")


@dataclasses.dataclass(frozen=True)
class Line:
    """One log message: the worker that printed it ('' = the main/engine process) and its text;
    `process` is the innermost prefix as printed (pid included), `outer` the one around it when a
    line carries two or more (`nested`): a replica's server around its engine's processes."""
    number: int
    worker: str
    text: str
    process: str = ""
    outer: str = ""
    nested: bool = False


def worker_key(label: str) -> str:
    """A stable name for the process a prefix names: its rank when it shows one."""
    if m := re.search(r"rank=(\d+)", label):
        return f"rank {m.group(1)}"
    if m := re.search(r"TP(\d+)", label):
        return f"rank {m.group(1)}"
    return re.sub(r"\s+", " ", label).strip()


_WRAPPED = re.compile(r"with config:|non-default args:|^args: Namespace\(")


def _open_brackets(text: str) -> int:
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


def _bare(raw: str) -> bool:
    """A line with neither a process prefix nor a log header: a continuation, a print or a bar."""
    line = _ANSI.sub("", raw).lstrip()
    return not _PREFIX.match(line) and not _HEADER.match(line)


def is_wrapped(raws: Sequence[str]) -> bool:
    """Whether a log collector wrapped long lines (kubectl/k8s dashboards, `fold`): the engine
    config line, always long, then continues on a line without a header of its own."""
    for i, raw in enumerate(raws[:-1]):
        if "with config:" in raw and len(raw) >= 100 and _bare(raws[i + 1]) and raws[i + 1].strip():
            return True
    return False


_JSON_STRING = re.compile(r'^\s*"(.*?)(?:\\n)?",?\s*$')
_BAR = re.compile(r"^[\w ()/,.-]*:\s+\d+%\|")


def split_lines(text: str) -> list[Line]:
    """Messages with their worker, colour codes, Ray's "[repeated Nx]" and the log header removed.
    Progress bars' carriage returns split too. A config or flags line that a terminal or a log
    collector wrapped (its brackets still open) is joined with the lines that continue it."""
    out: list[Line] = []
    raws = collected(re.split(r"\r\n|\n|\r", text))
    wrapped_file = is_wrapped(raws)
    for number, raw in enumerate(raws, start=1):
        line = _ANSI.sub("", raw)
        if m := _JSON_STRING.match(line):  # a notebook's output kept as JSON text
            line = m.group(1).replace('\\"', '"').replace("\\u001b", "\x1b")
            line = _ANSI.sub("", line)
        worker = ""
        prefixed = False
        labels: list[str] = []
        while m := _PREFIX.match(line):
            worker = worker_key(m.group(1))  # the innermost prefix is the process that logged
            labels.append(m.group(1))
            line = line[m.end():]
            prefixed = True
        if not prefixed and not _HEADER.match(line.lstrip()) and (m := _DATED_HEADER.search(line, 0, 300)):
            # an unknown wrapper's own prefix before vLLM's dated header (TorchServe's "<time> [INFO ]
            # W-9000-model_1.0-stdout MODEL_LOG - ", a progress bar the line was glued to): the
            # process prefix, if any, is the last "(... pid=N ...)" before the header
            procs = re.findall(r"\(([A-Za-z_][^()]*pid=\d+[^()]*)\)", line[:m.start()])
            worker = worker_key(procs[-1]) if procs else worker
            labels = procs
            line, prefixed = line[m.start():], bool(procs)
        line = _REPEATED.sub("", line).rstrip()
        headed = _HEADER.match(line.lstrip()) is not None
        line = _HEADER.sub("", line.lstrip())
        if not line:
            continue
        last = out[-1] if out else None
        wrapped = (wrapped_file and number >= 2 and len(raws[number - 2]) >= 100
                   and not _BAR.match(line) and len(last.text if last else "") < 20000)
        if (last is not None and not prefixed and not headed and number - last.number <= 60
                and (wrapped or (_WRAPPED.search(last.text) and _open_brackets(last.text) > 0)
                     or last.text.endswith("with config:"))):
            joint = " " if last.text.endswith(":") else ""
            out[-1] = dataclasses.replace(last, text=last.text + joint + line)
            continue
        out.append(Line(number, worker, line, labels[-1] if labels else "", labels[-2] if len(labels) >= 2 else "",
                        len(labels) >= 2))
    return out


# ----------------------------------------------------------------------------- start-ups

_START = re.compile(r"Initializing an? (?:V\d )?LLM engine|vLLM API server version|non-default args:|"
                    r"^args: Namespace\(|█\s+version\s")
_OBSERVATION = re.compile(r"Loading model weights took|Model loading took|Available KV cache memory|"
                          r"(?i:gpu|cuda) blocks:|GPU KV cache size|reserved for KV Cache|kv_cache_size=|available_kv_cache_memory")


def _process(worker: str) -> str:
    """The kind of process a prefix names, without its pid / ip ("EngineCore_DP0 pid=9" ->
    "EngineCore_DP0"): a relaunched server's processes have new pids, data-parallel engines keep
    their own names."""
    return re.sub(r",?\s*(?:pid|ip)=[^\s,]+", "", worker).strip()


def replicas(lines: Sequence[Line]) -> list[list[Line]]:
    """The lines of each engine replica when several run side by side in one log (verl's or Ray
    Serve's servers, each prefixing its engine's lines: "(vLLMHttpServer pid=1) (EngineCore_DP0
    pid=2) ..."): one list per prefix, not vLLM's own, that wraps a process's (whatever wraps it in
    turn: a trainer's), in order of appearance; the server's own lines join its list, a line with
    neither (a progress bar) stays with the replica before it. One list when a log has at most one
    such prefix (Ray's engine around its TP workers is vLLM's own: one start-up)."""
    wrappers = list(dict.fromkeys(x.outer for x in lines if x.nested and not _VLLM_PROCESS.match(x.outer)))
    if len(wrappers) < 2:
        return [list(lines)]
    parts: dict[str, list[Line]] = {w: [] for w in wrappers}
    current = wrappers[0]
    for line in lines:
        current = next((k for k in (line.process, line.outer) if k in parts), current)
        parts[current].append(line)
    return list(parts.values())


# vLLM's own processes (`_add_prefix` in `multiproc_executor.py` / `multiproc_worker_utils.py`, Ray's
# actor names): an engine around its workers is one start-up, never a replica of its own.
_VLLM_PROCESS = re.compile(r"(?:EngineCore|VllmWorker|Worker|RayWorkerWrapper|RayWorkerVllm|APIServer)\b|"
                           r"(?:EngineCore|Worker)_")


def _pid(process: str) -> str:
    return m.group(1) if (m := re.search(r"pid=(\d+)", process)) else ""


def startups(lines: Sequence[Line]) -> list[list[Line]]:
    """One list of lines per engine start-up: a file may hold several (a script that starts the
    engine twice, a restarted server, replicas side by side: `replicas`). A start-up marker opens
    a new one after an observation, or when the same kind of process already printed that marker
    with another pid or other text (a launch that failed before printing any figure, then a
    retry, often with other flags); the same line printed twice (a notebook's doubled output) is
    one."""
    groups: list[list[Line]] = []
    for part in replicas(lines):
        groups += _startups(part)
    return groups


def _startups(lines: Sequence[Line]) -> list[list[Line]]:
    groups: list[list[Line]] = [[]]
    seen_observation = False
    seen_markers: dict[tuple[str, str], tuple[str, str]] = {}
    for line in lines:
        if m := _START.search(line.text):
            marker = (_process(line.worker), re.sub(r"\s+", " ", m.group(0)))
            printed = (_pid(line.process), line.text)
            if seen_observation or (marker in seen_markers and seen_markers[marker] != printed):
                groups.append([])
                seen_observation = False
                seen_markers = {}
            seen_markers[marker] = printed
        groups[-1].append(line)
        if _OBSERVATION.search(line.text):
            seen_observation = True
    return [g for g in groups if any(_OBSERVATION.search(x.text) or _START.search(x.text) for x in g)]


# ----------------------------------------------------------------------------- settings

_NUM = r"([0-9][0-9,]*(?:\.[0-9]+)?)"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _fmt(value: float | int | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_fields(text: str) -> dict[str, str]:
    """`key=value` pairs of the engine config line ("... with config: model='x', dtype=torch.bfloat16, ...")."""
    body = (text.split("with config:", 1)[1] if "with config:" in text else text).strip()
    fields: dict[str, str] = {}
    for m in re.finditer(r"(?:^|,\s*)(\w+)=('(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^,]*)", body):
        key, value = m.group(1), m.group(2).strip()
        if key not in fields:
            fields[key] = value.strip("'\"")
    return fields


def arg_fields(text: str) -> dict[str, object]:
    """The flags of "non-default args: {...}" (a dict literal) or "args: Namespace(...)"."""
    if "non-default args:" in text:
        body = text.split("non-default args:", 1)[1].strip()
        try:
            value = ast.literal_eval(body)
            if isinstance(value, dict):
                return {str(k): v for k, v in value.items()}
        except (ValueError, SyntaxError):
            pass  # a value such as KVTransferConfig(...) is no literal: read key by key below
        out: dict[str, object] = {}
        for m in re.finditer(r"'(\w+)':\s*('(?:[^'\\]|\\.)*'|True|False|None|-?[0-9.e+-]+)", body):
            out[m.group(1)] = _literal(m.group(2))
        return out
    if text.startswith("args: Namespace("):
        out = {}
        for m in re.finditer(r"(?:\(|,\s*)(\w+)=('(?:[^'\\]|\\.)*'|\"[^\"]*\"|True|False|None|-?[0-9][0-9.e+-]*)", text):
            out[m.group(1)] = _literal(m.group(2))
        return out
    return {}


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _dtype(text: str) -> str:
    """torch.bfloat16 → bfloat16; the flag's aliases (half, float) as vLLM resolves them."""
    name = text.replace("torch.", "").strip()
    return {"half": "float16", "float": "float32"}.get(name, name)


def hf_model(path: str) -> str:
    """The checkpoint id a model path names: the Hugging Face cache's "models--org--name/..."
    directory gives org/name; an id stays as printed; any other local path stays as printed."""
    if m := re.search(r"models--([^/]+)--([^/]+)", path):
        return f"{m.group(1)}/{m.group(2)}"
    return path.rstrip("/")


# CUDA device names (as torch and vLLM's fused-MoE config file names print them) → llmkube's GPU
# profile names. Longest first: "a100-sxm4-80gb" before "a100", "l40s" before "l40", ...
DEVICE_NAMES = (
    ("h100 80gb hbm3", "h100-80gb"), ("h100-sxm", "h100-80gb"), ("h100 pcie", "h100-pcie-80gb"),
    ("h100 nvl", "h100-nvl-94gb"), ("h200", "h200-141gb"), ("b200", "b200-180gb"),
    ("a100-sxm4-80gb", "a100-80gb"), ("a100 80gb pcie", "a100-80gb"), ("a100-pcie-80gb", "a100-80gb"),
    ("a100-sxm4-40gb", "a100-40gb"), ("a100-pcie-40gb", "a100-40gb"), ("a100 40gb", "a100-40gb"),
    ("a100-sxm-80gb", "a100-80gb"),
    ("l40s", "l40s"), ("l40", "l40"), ("nvidia l4", "l4"), ("a10g", "a10g"), ("nvidia a10", "a10"),
    ("nvidia a40", "a40"),
    ("a30", "a30-24gb"), ("tesla t4", "t4"), ("rtx 4090", "rtx-4090"), ("rtx 3090", "rtx-3090"),
    ("rtx a6000", "rtx-a6000"), ("rtx 6000 ada", "rtx-6000-ada"),
)


# Lines that may name the device: a fused-MoE config file name ("device_name=NVIDIA_H100_80GB_HBM3"),
# nvidia-smi's table and `-L` ("GPU 0: NVIDIA A100-SXM4-80GB (UUID: ...)"), vLLM's collect_env
# ("GPU 0: NVIDIA A100 80GB PCIe"), torch's `get_device_name` as scripts print it; older drivers
# print "Tesla T4", "GeForce RTX 3090" or "Quadro ..." without "NVIDIA".
_DEVICE_LINE = re.compile(r"device_name=|NVIDIA|Tesla|GeForce|Quadro")


# A device named as nvidia-smi -L, collect_env or a banner prints it ("GPU 0: NVIDIA GB10 (UUID: ...)",
# "NVIDIA GPU: NVIDIA GB10"), or as nvidia-smi's table row ("|   0  NVIDIA GeForce RTX 5090        On  |"),
# for a card no profile in DEVICE_NAMES matches.
_DEVICE_NAMED = re.compile(r"\bGPU(?: \d+)?: ((?:NVIDIA|Tesla|Quadro|GeForce) [\w .-]+?)\s*(?:\(UUID|$)|"
                           r"^\|\s+\d+\s+((?:NVIDIA|Tesla|Quadro|GeForce) [\w .-]+?)\s{2,}(?:On|Off)\s")


def device_gpu(text: str) -> str | None:
    """llmkube's GPU name for a CUDA device name in the text, if any."""
    low = text.lower().replace("_", " ")
    low = re.sub(r"geforce ", "", low)
    for needle, name in DEVICE_NAMES:
        if re.search(re.escape(needle) + r"(?![\w])", low):
            return name
    return None


# ----------------------------------------------------------------------------- observations

@dataclasses.dataclass
class Worker:
    """What one process printed about memory."""
    weights_gib: float | None = None
    weights_line: str = ""
    profile_weights_gib: float | None = None  # "model weights take" (2 decimals)
    non_torch_gib: float | None = None
    activation_gib: float | None = None
    peak_torch_gib: float | None = None  # 0.6.4-0.6.5: includes the weights
    kv_cache_gib: float | None = None
    gpu_total_gib: float | None = None
    consumed_gib: float | None = None  # 0.2x "Actual usage is X GiB for consumed memory (weights + non-torch)"


def _worker_figures(lines: Iterable[Line]) -> dict[str, Worker]:
    workers: dict[str, Worker] = {}
    for line in lines:
        t = line.text
        w = workers.setdefault(line.worker, Worker())
        if m := re.search(r"Loading model weights took " + _NUM + r"\s*GB", t):
            w.weights_gib, w.weights_line = _number(m.group(1)), t
        elif m := re.search(r"Model loading took " + _NUM + r"\s*Gi?B", t):
            w.weights_gib, w.weights_line = _number(m.group(1)), t
        if m := re.search(r"model weights take\s+" + _NUM + r"\s*GiB", t):
            w.profile_weights_gib = _number(m.group(1))
        if m := re.search(r"non_torch_memory(?:\s+takes\s+|\s*=\s*|\s+)" + _NUM + r"\s*GiB", t):
            w.non_torch_gib = _number(m.group(1))
        if m := re.search(r"PyTorch activation peak memory(?:\s+takes)?\s+" + _NUM + r"\s*GiB", t):
            w.activation_gib = _number(m.group(1))
        if m := re.search(r"peak_torch_memory=" + _NUM + r"\s*GiB", t):
            w.peak_torch_gib = _number(m.group(1))
        if m := re.search(r"(?:reserved for KV Cache is|kv_cache_size=|Available KV cache memory:|"
                          r"available_kv_cache_memory)\s*" + _NUM
                          + r"\s*GiB", t):
            w.kv_cache_gib = _number(m.group(1))
        if m := re.search(r"total_gpu_memory(?:\s*\(|\s*=\s*|\s+)" + _NUM + r"\s*GiB", t):
            w.gpu_total_gib = _number(m.group(1))
        # torch's CUDA OOM text names the device's total (c10/cuda/CUDACachingAllocator.cpp: "GPU 0 has a
        # total capacity of 15.47 GiB of which ...", torch < 2.2 "(GPU 0; 22.20 GiB total capacity; ...)")
        if w.gpu_total_gib is None and (m := re.search(r"GPU \d+ has a total capacity of " + _NUM + r" GiB|"
                                                       r"\(GPU \d+; " + _NUM + r" GiB total capacity", t)):
            w.gpu_total_gib = _number(m.group(1) or m.group(2))
        if m := re.search(r"Free memory on device \(" + _NUM + r"/" + _NUM + r" GiB\)", t):
            w.gpu_total_gib = _number(m.group(2))
            if m2 := re.search(_NUM + r" GiB for peak activation", t):
                w.activation_gib = _number(m2.group(1))
            if m2 := re.search(_NUM + r" GiB for non-torch memory", t):
                w.non_torch_gib = _number(m2.group(1))
            if m2 := re.search(_NUM + r" GiB for consumed memory", t):
                w.consumed_gib = _number(m2.group(1))
    return {k: v for k, v in workers.items() if dataclasses.astuple(v) != dataclasses.astuple(Worker())}


def pick_worker(workers: dict[str, Worker]) -> tuple[str, Worker]:
    """The worker a row describes: the one whose KV cache is smallest, since the engine sizes every
    worker's cache to the smallest (V0 `determine_num_available_blocks` takes the minimum over
    workers, V1 `get_kv_cache_configs` the minimum of the workers' available memory), so that worker
    binds; without a KV figure, the one with the largest weights (the first / last PP stage);
    ties go to the first printed. A worker that printed a KV figure but no weights borrows them
    from the worker that printed weights only when every worker printed the same weights."""
    if not workers:
        return "", Worker()
    order = list(workers)
    with_kv = [k for k in order if workers[k].kv_cache_gib is not None]
    if with_kv:
        key = min(with_kv, key=lambda k: (workers[k].kv_cache_gib, order.index(k)))
    else:
        with_w = [k for k in order if workers[k].weights_gib is not None]
        key = max(with_w, key=lambda k: (workers[k].weights_gib, -order.index(k))) if with_w else order[0]
    chosen = dataclasses.replace(workers[key])
    if chosen.weights_gib is None:
        weights = {w.weights_gib for w in workers.values() if w.weights_gib is not None}
        if len(weights) == 1:
            chosen.weights_gib = weights.pop()
    if chosen.gpu_total_gib is None:
        totals = [w.gpu_total_gib for w in workers.values() if w.gpu_total_gib is not None]
        chosen.gpu_total_gib = totals[0] if totals else None
    return key, chosen


# ----------------------------------------------------------------------------- one start-up

def _bool(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    return "true" if text == "true" else "false" if text == "false" else ""


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split(".")[:3]:
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def parse_startup(lines: Sequence[Line]) -> dict[str, str]:
    """The table's columns for one start-up (`id`, `split`, `source`, `source_group` left empty)."""
    row = dict.fromkeys(COLUMNS, "")
    notes: list[str] = []
    defaults: list[str] = []
    config: dict[str, str] = {}
    args: dict[str, object] = {}
    estimate: float | None = None
    profiling_on: bool | None = None
    tokens: list[float] = []
    concurrency: list[float] = []
    blocks: list[float] = []
    overridden_blocks: float | None = None
    defaulted: dict[str, float] = {}
    chunked_tokens: float | None = None
    util_printed: float | None = None
    block_override: float | None = None
    sampler = ""
    device: str | None = None
    named_device = ""  # a device name as printed, kept when no GPU profile matches it (`_DEVICE_NAMED`)
    version = ""
    named_model = ""  # the banner's or "Starting to load model X...", when no config or flags line shows it
    resolved_len: float | None = None  # "Using max model len N" (`ModelConfig.get_and_verify_max_len`)
    architecture = ""  # "Resolved architecture: Qwen3ForCausalLM" (`ModelConfig.__post_init__`, 0.10+)
    v0_shown = False
    for line in lines:
        t = line.text
        if m := re.search(r"Initializing an? (?:V\d )?LLM engine \(v([^()\s]*)\) with config:", t):
            # "(vdev)": a source build without a version tag (`vllm/version.py` falls back to "dev")
            version = version or (m.group(1) if m.group(1)[:1].isdigit() else "")
            if not m.group(1)[:1].isdigit():
                notes.append(f"engine version printed as v{m.group(1)} (a build without a version tag)")
            if not config:
                config = config_fields(t)
        elif "LLM engine with config:" in t and not config:  # 0.2-0.3: no version in the line
            config = config_fields(t)
        elif m := re.search(r"Dumping input data for (?:V\d )?LLM engine \(v([^()\s]*)\) with config:", t):
            # the engine's crash dump (`vllm/logging_utils/dump_input.py` `dump_engine_exception`, 0.9+)
            # repeats the config line: the settings of a log whose start was cut
            version = version or (m.group(1) if m.group(1)[:1].isdigit() else "")
            if not config:
                config = config_fields(t)
        elif m := re.search(r"vLLM API server version (\d[\w.+-]*)", t):
            version = version or m.group(1)
        elif m := re.search(r"█\s+version\s+(\d[\w.+-]*)", t):
            version = version or m.group(1)
        elif m := re.search(r"█\s+model\s+(\S+)\s*$", t):  # the 0.11+ banner's second line
            named_model = named_model or m.group(1)
        elif m := re.search(r"Starting to load model (\S+?)\.\.\.", t):  # V0 model_runner / V1 gpu_model_runner
            named_model = named_model or m.group(1)
        if "non-default args:" in t or t.startswith("args: Namespace("):
            for key, value in arg_fields(t).items():
                args.setdefault(key, value)
        if m := re.search(r"^Resolved architecture: (\w+)", t):
            architecture = architecture or m.group(1)
        if m := re.search(r"^Using max model len " + _NUM + r"$", t):
            resolved_len = resolved_len or _number(m.group(1))
        if m := re.search(r"Chunked prefill is enabled with max_num_batched_tokens=" + _NUM, t):
            chunked_tokens = _number(m.group(1))
        for name in ("max_num_batched_tokens", "max_num_seqs"):
            if m := re.search(r"(?:Defaulting|Setting) " + name + r" to " + _NUM, t):
                defaulted[name] = _number(m.group(1))
                defaults.append(t)
        if m := re.search(r"gpu_memory_utilization(?:\s*\(|\s*=\s*|\s+)" + _NUM, t):
            util_printed = util_printed or _number(m.group(1))
        elif m := re.search(r"The current --gpu-memory-utilization=" + _NUM, t):
            util_printed = util_printed or _number(m.group(1))
        elif m := re.search(r"increase --gpu-memory-utilization from " + _NUM + r" to ", t):
            util_printed = util_printed or _number(m.group(1))  # 0.18-0.20: "from" is the current setting
        elif m := re.search(r"Desired GPU memory utilization is \(" + _NUM, t):
            util_printed = util_printed or _number(m.group(1))
        if m := re.search(r"(?:Setting attention block size to|Forcing kv cache block size to|"
                          r"[Oo]verriding block[ _]size to)\s*" + _NUM, t):
            block_override = _number(m.group(1))
        # the V0 engine's own lines: its engine line (0.8+ names the engine), the V1 oracle's "Falling
        # back to V0", V0 model_runner.py's "Loading model weights took" (V1 prints "Model loading took")
        if re.search(r"Initializing a V0 LLM engine|[Ff]alling back to V0|Loading model weights took", t):
            v0_shown = True
        if "Using FlashInfer for top-p & top-k sampling" in t:
            sampler = "flashinfer"
        elif ("top-p & top-k sampling" in t and ("PyTorch-native" in t or "disabled" in t)) or \
                "Falling back to the PyTorch-native implementation of top-p" in t or \
                "FlashInfer version >= 0.2.3 required. Falling back to default sampling" in t:
            sampler = sampler or "torch"
        if "process group spans across nodes" in t:
            row["tp_spans_nodes"] = "true"
        if re.search(r"\bmxfp4\.py\b.*Using Marlin backend|Using Marlin backend", t) and "mxfp4" in (
                config.get("quantization", "") + t).lower() or \
                "Weight-only FP4 compression will be used leveraging the Marlin kernel" in t:
            row["mxfp4_backend"] = "marlin"
        if m := re.search(r"Estimated CUDA graph memory: " + _NUM + r"\s*GiB", t):
            estimate = _number(m.group(1))
        if "CUDA graph memory profiling is enabled" in t:
            profiling_on = True
        elif "CUDA graph memory profiling will be enabled by default" in t or \
                "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0" in t and "is disabled" in t:
            profiling_on = False
        if m := re.search(r"GPU KV cache size: " + _NUM + r" tokens", t):
            tokens.append(_number(m.group(1)))
        if m := re.search(r"Maximum concurrency for " + _NUM + r" tokens per request: " + _NUM + r"x", t):
            concurrency.append(_number(m.group(2)))
        if m := re.search(r"(?:^|#\s*|\s)(?:GPU|cuda) blocks: " + _NUM, t, re.IGNORECASE):
            blocks.append(_number(m.group(1)))
        if m := re.search(r"num_gpu_blocks is: ?" + _NUM, t):  # V1 0.10-0.11 `v1/metrics/loggers.py`
            blocks.append(_number(m.group(1)))
        # --num-gpu-blocks-override (`v1/core/kv_cache_utils.py`); "num_gpu_blocks=0" is a dummy
        # configuration (no pool), not the engine's cache
        if (m := re.search(r"Overriding num_gpu_blocks=" + _NUM + r" with num_gpu_blocks_override=" + _NUM, t)) \
                and _number(m.group(1)) > 0:
            overridden_blocks = _number(m.group(2))
        device = device or (device_gpu(t) if _DEVICE_LINE.search(t) else None)
        if not named_device and (m := _DEVICE_NAMED.search(t)):
            named_device = device_named(m)
    # vLLM 0.8 - 0.10 on the V0 engine (`VLLM_USE_V1=0`, or the V1 oracle's fallback): a setting the
    # log shows, passed as ServerConfig.use_v1 = False (before 0.8 V0 is the only engine: left empty)
    if v0_shown and (v := re.match(r"(\d+)\.(\d+)", version)) and (0, 8) <= (int(v[1]), int(v[2])) < (0, 11):
        row["engine"] = "v0"

    def arg(*names: str) -> object:
        for name in names:
            if name in args and args[name] is not None:
                return args[name]
        return None

    # --- settings
    row["vllm_version"] = version
    model = config.get("model") or str(arg("model", "model_tag") or "") or named_model
    row["model"] = hf_model(model) if model else ""
    if model and row["model"] != model:
        notes.append(f"model path {model!r}")
    # other names of the checkpoint, for a model path that names none llmkube knows: the served
    # name and the tokenizer (the engine config line's `served_model_name=` / `tokenizer=`, or the
    # flags; `--served-model-name` is a list from 0.5). Not table columns: `sizing_accuracy.py --logs`
    # tries them in turn (`sizing_accuracy.model_candidates`).
    served = config.get("served_model_name") or arg("served_model_name")
    if isinstance(served, (list, tuple)):
        served = served[0] if served else ""
    row["served_model_name"] = str(served or "").strip()
    row["tokenizer"] = hf_model(str(config.get("tokenizer") or arg("tokenizer") or "").strip())
    row["architecture"] = architecture
    for column, key in (("tp", "tensor_parallel_size"), ("pp", "pipeline_parallel_size")):
        value = config.get(key) or arg(key)
        row[column] = _fmt(int(float(str(value)))) if value not in (None, "", "None") else ""
    dp = config.get("data_parallel_size") or arg("data_parallel_size")
    if dp not in (None, "", "None", "1", 1):
        notes.append(f"data parallel {dp}")
    if config.get("dtype"):
        row["dtype"] = _dtype(config["dtype"])
    elif isinstance(arg("dtype"), str) and arg("dtype") != "auto":
        row["dtype"] = _dtype(str(arg("dtype")))
    quant = config.get("quantization", "")
    row["quantization"] = "" if quant in ("None", "") else quant
    flag = arg("quantization")
    row["quantization_flag"] = str(flag) if flag else ""
    kv_dtype = config.get("kv_cache_dtype") or arg("kv_cache_dtype")
    row["kv_cache_dtype"] = str(kv_dtype) if kv_dtype else ""
    max_len = arg("max_model_len") or config.get("max_seq_len") or resolved_len
    row["max_model_len"] = _fmt(int(float(str(max_len)))) if max_len not in (None, "", "None") else ""
    if arg("max_model_len") is None and config.get("max_seq_len"):
        defaults.append(f"max_model_len {row['max_model_len']} from the engine config's max_seq_len (flag not shown)")
    elif arg("max_model_len") is None and resolved_len:
        defaults.append(f"max_model_len {row['max_model_len']} from 'Using max model len' (flag and config line not shown)")
    seqs = arg("max_num_seqs") or defaulted.get("max_num_seqs")
    row["max_num_seqs"] = _fmt(int(float(str(seqs)))) if seqs else ""
    batched = arg("max_num_batched_tokens") or defaulted.get("max_num_batched_tokens") or chunked_tokens
    row["max_num_batched_tokens"] = _fmt(int(float(str(batched)))) if batched else ""
    if chunked_tokens and not arg("max_num_batched_tokens") and "max_num_batched_tokens" not in defaulted:
        defaults.append(f"'Chunked prefill is enabled with max_num_batched_tokens={int(chunked_tokens)}'")
    util = arg("gpu_memory_utilization")
    row["gpu_memory_utilization"] = _fmt(float(str(util))) if util is not None else _fmt(util_printed)
    eager = config.get("enforce_eager") or arg("enforce_eager")
    row["enforce_eager"] = _bool(eager) if eager is not None else ""
    block = arg("block_size") or block_override
    row["block_size"] = _fmt(int(float(str(block)))) if block else ""
    row["topk_topp_sampler"] = sampler
    if arg("enable_expert_parallel") is True or config.get("enable_expert_parallel") == "True":
        row["expert_parallel"] = "true"

    # --- observations
    workers = _worker_figures(lines)
    key, w = pick_worker(workers)
    if len(workers) > 1:
        notes.append(f"figures of worker {key or 'main'!r} of {len(workers)} (the smallest KV cache binds)")
    row["gpu_total_gib"] = _fmt(w.gpu_total_gib)
    row["gpu"] = device or ""
    row["device_name"] = "" if device else named_device  # not a column: what `--logs` reports it cannot size
    weights = w.weights_gib if w.weights_gib is not None else w.profile_weights_gib
    row["weights_gib"] = _fmt(weights)
    row["non_torch_gib"] = _fmt(w.non_torch_gib)
    if w.non_torch_gib is None and w.consumed_gib is not None and weights is not None:
        notes.append(f"non-torch not printed apart: consumed (weights + non-torch) {w.consumed_gib:g} GiB "
                     "measured after start-up")
    if w.activation_gib is not None:
        row["activation_gib"] = _fmt(w.activation_gib)
    elif w.peak_torch_gib is not None and weights is not None:
        row["activation_gib"] = _fmt(round(w.peak_torch_gib - weights, 2))
        notes.append(f"activation = peak_torch_memory {w.peak_torch_gib:g} - weights {weights:g} "
                     "(the log's peak includes the weights)")
    row["kv_cache_gib"] = _fmt(w.kv_cache_gib)
    vt = _version_tuple(version)
    subtracted = profiling_on if profiling_on is not None else (bool(vt) and vt >= (0, 21))
    if estimate is not None and subtracted:
        row["cuda_graph_gib"] = _fmt(estimate)
    elif estimate is not None:
        notes.append(f"CUDA graph estimate {estimate:g} GiB printed, not subtracted before sizing")
    gpu_blocks = overridden_blocks if overridden_blocks is not None else (min(blocks) if blocks else None)
    if overridden_blocks is not None:
        notes.append("num_gpu_blocks_override set")
    row["gpu_blocks"] = _fmt(int(gpu_blocks)) if gpu_blocks is not None else ""
    if tokens:
        row["kv_tokens"] = _fmt(int(min(tokens)))
    elif gpu_blocks is not None:
        size = int(block) if block else 16
        row["kv_tokens"] = _fmt(int(gpu_blocks) * size)
        notes.append(f"kv_tokens = {int(gpu_blocks)} GPU blocks x {size}" + ("" if block else " (block size 16, the default)"))
    if concurrency:
        row["max_concurrency"] = _fmt(min(concurrency))
    row["defaults"] = "; ".join(dict.fromkeys(defaults))
    row["notes"] = "; ".join(dict.fromkeys(notes))
    return row


# The platform vLLM runs on: "Automatically detected platform rocm." (`vllm/platforms/__init__.py`
# `resolve_current_platform_cls_qualname`, 0.7+; "cuda" on NVIDIA) or an out-of-tree plugin's
# "Platform plugin ascend is activated". A log that names none is taken to be CUDA.
# ROCm's attention backends name it too: "Using ROCmFlashAttention backend." (V0 `attention/selector.py`)
# and "Using Rocm Attention backend." (V1 `platforms/rocm.py`; logs where the platform line is DEBUG).
_PLATFORM = re.compile(r"Automatically detected platform (\w+)\.|Platform plugin (\w+) is activated|"
                       r"Using (ROCm)FlashAttention backend|Using (Rocm) Attention backend|"
                       # an out-of-tree platform's own modules at work ("Using custom scheduler class
                       # vllm_neuron.core.scheduler...", "vllm_ascend.worker..."): the log of a cut start
                       r"\bvllm_(neuron|ascend|spyre|gaudi)\.")


def platform(lines: Iterable[Line]) -> str:
    """The platform a log names ('' when none); CUDA when several are named and one is CUDA."""
    named = {next(g for g in m.groups() if g).lower() for x in lines if (m := _PLATFORM.search(x.text))}
    return "cuda" if "cuda" in named else min(named) if named else ""


# ----------------------------------------------------------------------------- install

# How vLLM was installed decides two defaults llmkube sizes (`ServerConfig.pip_install`): the top-k/
# top-p sampler of 0.8.0 - 0.11.0 (FlashInfer's sort-free kernel in the vllm/vllm-openai image, the
# full-vocabulary sort for the PyPI wheel, which brings no FlashInfer: `engine_memory.
# flashinfer_sampler_by_default`) and the MXFP4 MoE kernel on Hopper before 0.12 (the wheel has no
# triton_kernels: `engine_memory.mxfp4_moe_backend`). What a log shows of it:
#
# - Where the image keeps Python's packages. vllm-project/vllm docker/Dockerfile, stage `vllm-base`
#   (read in the sdists of 0.8.0 - 0.8.5, 0.9.0.1, 0.9.2, 0.10.0, 0.10.1.1, 0.10.2, 0.11.0): 0.8.0 and
#   0.8.1 make a venv (`uv venv --python 3.12 --seed /opt/venv`, then `uv pip install dist/*.whl`), so
#   vLLM lives in /opt/venv/lib/python3.12/site-packages; from 0.8.2 the stage installs deadsnakes'
#   python3.12 and runs `uv pip install --system dist/*.whl`, which Debian's Python puts in
#   /usr/local/lib/python3.12/dist-packages — the path of the image's tracebacks and of vLLM's own
#   messages that name a file ("Config file not found at /usr/local/lib/python3.12/dist-packages/
#   vllm/model_executor/layers/fused_moe/configs/..."). A path of any other environment (a conda env,
#   a venv, ~/.local, another Python's dist-packages, Windows' Lib\site-packages) is not the image.
# - The image's FlashInfer. Every vllm-openai image of 0.8.0 - 0.11.0 installs it (Dockerfile: the
#   0.2.1.post2 wheel at 0.8.x, 0.2.5 at 0.9.0.1 on CUDA 12.8, source builds from 0.9.2; x86-64 only
#   before 0.10.1), so the sampler's "FlashInfer is not available. Falling back to the PyTorch-native
#   implementation of top-p & top-k sampling" (v1/sample/ops/topk_topp_sampler.py, WARNING) is not
#   the image: a pip/uv install of the wheel, or a source build, without FlashInfer.
# - A notebook's own environment: Colab (google.colab, colab_kernel_launcher, or a notebook whose
#   metadata has a "colab" key: `notebook_host`) and Kaggle (/kaggle/, a "kaggle" key) run no vLLM image, and pip's "Successfully installed ... vllm-0.9.2", "Requirement already
#   satisfied: vllm" or uv's "+ vllm==0.9.2" printed in the log installed the wheel.
# - Who runs it: the image runs as root, so a compile cache under /home/NAME is another install
#   (`_USER_CACHE`).
# /usr/local/lib/python3.12/dist-packages is also Colab's own Python (3.12 since 2025) and that of
# NVIDIA's NGC containers, so it is read as the image only when nothing in the log says otherwise
# (Red Hat's UBI images, /opt/app-root/lib64/python3.12/site-packages, say neither),
# and an NGC container's banner ("NVIDIA Release 25.11 (build 231063344)") or its vLLM build's version
# ("vLLM API server version 0.11.0+582e4e37.nv25.11") says neither. Before 0.8.0 nothing is read
# (no default there depends on the install).
_PACKAGES_PATH = re.compile(r"(\S{0,300}?)/lib(?:64)?/python(\d+)\.(\d+)/(site|dist)-packages/(\w+)")
_WINDOWS_PACKAGES = re.compile(r"\\Lib\\site-packages\\", re.IGNORECASE)
_PIP_INSTALLED = re.compile(r"Successfully installed\b.*\bvllm-\d|Requirement already satisfied: vllm\b|"
                            r"^\s*\+ vllm==\d|Installing collected packages:.*\bvllm\b")
_NOTEBOOK = re.compile(r"google\.colab|/google/colab/|colab_kernel_launcher|/kaggle/(?:input|working|lib)/")
_NGC_BANNER = re.compile(r"^NVIDIA Release \d\d\.\d\d\b")
# V1's torch.compile cache, "Using cache directory: /home/ubuntu/.cache/vllm/torch_compile_cache/..."
# (compilation/backends.py, INFO, every compiled start-up from 0.8): VLLM_CACHE_ROOT defaults to
# ~/.cache/vllm (envs.py), and the vllm-openai image sets no USER (docker/Dockerfile, 0.8.0 - 0.11.0),
# so it runs as root with its cache in /root/.cache/vllm; a user's home directory is another install.
_USER_CACHE = re.compile(r"Using cache directory: /home/[^/\s]+/\.cache/vllm/")
INSTALL_SINCE = (0, 8, 0)  # the first release whose defaults depend on the install (V1's sampler)


def _path_install(root: str, python: tuple[int, int], kind: str, version: tuple[int, ...]) -> str:
    """`image` when a packages directory (`root`/lib/pythonX.Y/`kind`-packages) is where that
    release's vllm-openai image keeps them, `other` for Red Hat's UBI images (OpenShift AI, RHAIIS:
    /opt/app-root/lib64/pythonX.Y/site-packages), which are neither that image nor the wheel (the
    OpenShift AI 0.9.0.1 fit row names FlashInfer's sampler), else `pip` (not the image)."""
    if root.startswith("/opt/app-root"):
        return "other"
    if python != (3, 12):
        return "pip"
    if kind == "dist" and root == "/usr/local" and (not version or version >= (0, 8, 2)):
        return "image"
    if kind == "site" and root == "/opt/venv" and version and version < (0, 8, 2):
        return "image"
    return "pip"


def install_evidence(lines: Sequence[Line], version: str = "") -> tuple[str, str]:
    """(install, why): `pip` or `image` as the lines show it (see the comment above), `why` the
    evidence in a few words; ("", why-not) when they show nothing or contradict themselves."""
    vt = _version_tuple(version)
    if vt and vt < INSTALL_SINCE:
        return "", ""
    pip_why = ""
    vllm_paths: dict[str, str] = {}
    other_paths: dict[str, str] = {}
    ngc = False
    for line in lines:
        t = line.text
        if not pip_why and "FlashInfer is not available" in t and "top-k sampling" in t:
            pip_why = "'FlashInfer is not available' (the vllm-openai image ships FlashInfer)"
        elif not pip_why and (m := _PIP_INSTALLED.search(t)):
            pip_why = f"pip/uv output {m.group(0).strip()[:60]!r}"
        elif not pip_why and (m := _NOTEBOOK.search(t)):
            pip_why = f"a notebook's environment ({m.group(0)!r})"
        elif not pip_why and _WINDOWS_PACKAGES.search(t):
            pip_why = "a Windows Lib\\site-packages path"
        elif not pip_why and _USER_CACHE.search(t):
            pip_why = "vLLM's compile cache in a user's home (the vllm-openai image runs as root)"
        if _NGC_BANNER.match(t) or re.search(r"\+\w+\.nv\d\d\.\d\d\b", t):  # NGC's build: "0.11.0+582e4e37.nv25.11"
            ngc = True
        for m in (_PACKAGES_PATH.finditer(t) if "-packages/" in t else ()):
            root = re.split(r"[\"'(=:]", m.group(1))[-1]  # without the quote or bracket before the path
            verdict = _path_install(root, (int(m.group(2)), int(m.group(3))), m.group(4), vt)
            where = f"{root}/lib/python{m.group(2)}.{m.group(3)}/{m.group(4)}-packages"
            (vllm_paths if m.group(5) == "vllm" else other_paths).setdefault(verdict, where)
    if pip_why:
        return "pip", pip_why
    paths = vllm_paths or other_paths
    if len(paths) > 1:
        return "", f"packages of two environments ({', '.join(paths.values())})"
    if "pip" in paths:
        return "pip", f"packages in {paths['pip']} (not the vllm-openai image's)"
    if "other" in paths:
        return "", f"packages in {paths['other']} (Red Hat's image: neither the vllm-openai image nor the wheel)"
    if "image" in paths:
        if ngc:
            return "", f"packages in {paths['image']} in an NGC container (NVIDIA Release banner)"
        return "image", f"packages in {paths['image']} (the vllm-openai image's)"
    return "", ""


def file_device(lines: Iterable[Line]) -> tuple[str, str]:
    """(GPU profile, device name as printed) when the file names exactly one card, else ("", "")."""
    found: set[tuple[str, str]] = set()
    for line in lines:
        t = line.text
        if _DEVICE_LINE.search(t) and (gpu := device_gpu(t)):
            found.add((gpu, ""))
        elif m := _DEVICE_NAMED.search(t):
            found.add(("", device_named(m)))
    # nvidia-smi cuts a long name ("NVIDIA GeForce RTX 4050 ..." for "... RTX 4050 Laptop GPU"): one card
    names = sorted((n for g, n in found if not g), key=len)
    if names and not any(g for g, _ in found) and all(names[-1].startswith(n) for n in names):
        return "", names[-1]
    return found.pop() if len(found) == 1 else ("", "")


def device_named(m: re.Match[str]) -> str:
    """The device name a `_DEVICE_NAMED` match prints, without nvidia-smi's "..." of a cut name."""
    return (m.group(1) or m.group(2)).strip().removesuffix("...").strip()


def parse_log(text: str) -> list[dict[str, str]]:
    """Every start-up in a log, in order; a start-up with no settings and no figures is dropped.
    Each row also carries `platform` (not a table column): the platform the log names. The install
    is read from the start-up's own lines, else from the whole file (`install_evidence`); so is the
    GPU, when the file names one card only (`file_device`)."""
    rows = []
    lines = split_lines(text)
    where = platform(lines)
    for group in startups(lines):
        row = parse_startup(group)
        if any(row[c] for c in OBSERVED) or row["model"]:
            row["platform"] = platform(group) or where
            notes = [row["notes"]] if row["notes"] else []
            if row["platform"] not in ("", "cuda"):
                notes.append(f"platform {row['platform']} (not CUDA)")
            if not row["gpu"] and not row["device_name"] and (named := file_device(lines)) != ("", ""):
                # one machine's file (a notebook's nvidia-smi cell, a script's banner) naming one card
                row["gpu"], row["device_name"] = named
                notes.append(f"GPU {named[0] or named[1]!r} named elsewhere in the file")
            install, why = install_evidence(group, row["vllm_version"])
            if not install and not why:
                install, why = install_evidence(lines, row["vllm_version"])
            row["install"] = install
            if why:
                notes.append(f"install {install or 'not read'}: {why}")
            row["notes"] = "; ".join(notes)
            rows.append(row)
    return rows


def notebook_text(raw: str) -> str:
    """A Jupyter notebook's output text (the logs in `.ipynb` files are cell outputs)."""
    data = json.loads(raw)
    parts: list[str] = []
    for cell in data.get("cells", []):
        for output in cell.get("outputs", []):
            text = output.get("text")
            if text is None:
                text = output.get("data", {}).get("text/plain")
            if isinstance(text, list):
                parts.append("".join(text))
            elif isinstance(text, str):
                parts.append(text)
    return "\n".join(parts)


def notebook_host(raw: str) -> str:
    """`colab` or `kaggle` when a notebook's metadata says where it ran (Colab writes a "colab" key,
    Kaggle a "kaggle" one), else ''. Neither runs the vllm-openai image: vLLM in such a notebook
    was pip-installed (`install_evidence`)."""
    try:
        meta = json.loads(raw).get("metadata", {})
    except (ValueError, AttributeError):
        return ""
    return next((host for host in ("colab", "kaggle") if isinstance(meta, dict) and host in meta), "")


def decode(data: bytes) -> str:
    """A log's bytes as text: UTF-16 when it says so or looks so (Windows PowerShell's `>` writes
    UTF-16 with a byte-order mark), else UTF-8 (a byte-order mark dropped, undecodable bytes
    replaced)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    head = data[:4096]
    if len(head) >= 64 and head.count(b"\x00") > len(head) // 3:  # UTF-16 without a mark
        return data.decode("utf-16-le" if head[1:2] == b"\x00" else "utf-16-be", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _decoded(path: Path) -> tuple[str, Path]:
    """(the file's text, its name without `.gz`)."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as f:
            return decode(f.read()), path.with_suffix("")
    return decode(path.read_bytes()), path


def read_log(path: Path) -> str:
    """A log's text (`decode`), gzip-compressed when the name ends in `.gz` (rotated logs), a
    notebook's cell outputs for `.ipynb`. Raises OSError when unreadable."""
    raw, inner = _decoded(path)
    if inner.suffix == ".ipynb":
        try:
            return notebook_text(raw)
        except (ValueError, AttributeError):
            return raw
    return raw


def log_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(files to read, paths that do not exist): a file as given; a directory's files, every level
    down, in name order, hidden ones (".name") left out."""
    files: list[Path] = []
    missing: list[Path] = []
    for path in dict.fromkeys(paths):  # a path given twice is read once
        if path.is_dir():
            files += sorted(f for f in path.rglob("*") if f.is_file()
                            and not any(part.startswith(".") for part in f.relative_to(path).parts))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(path)
    return files, missing


def rows_from_files(paths: Iterable[Path], source: str | None = None,
                    problems: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Rows for every start-up in every file; `source` (else the file name) names them, with a
    "#N" fragment when a file holds several start-ups. A file that cannot be read, or holds no
    start-up, gives no row and is noted in `problems` (path → why)."""
    rows: list[dict[str, str]] = []
    stems: set[str] = set()
    for path in paths:
        try:
            text = read_log(path)
        except (OSError, EOFError) as exc:  # permissions, a broken .gz
            if problems is not None:
                problems[str(path)] = f"cannot read: {exc.strerror or exc}" if isinstance(exc, OSError) \
                    else f"cannot read: {exc}"
            continue
        found = parse_log(text)
        raw, inner = _decoded(path) if path.name.endswith((".ipynb", ".ipynb.gz")) else ("", path)
        host = notebook_host(raw) if inner.suffix == ".ipynb" else ""
        for row in found:
            if host and not row["install"]:
                row["install"] = "pip"
                why = f"install pip: a {host.capitalize()} notebook (its metadata), which runs no vLLM image"
                row["notes"] = "; ".join(x for x in (row["notes"], why) if x)
        # ids stay unique when several folders hold the same file name (a folder per card)
        stem = path.stem if path.stem not in stems or not path.parent.name else f"{path.parent.name}/{path.stem}"
        n = 2
        while stem in stems:
            stem, n = f"{stem.rsplit('~', 1)[0]}~{n}", n + 1
        stems.add(stem)
        if not found and problems is not None:
            problems[str(path)] = "no vLLM start-up found" if text.strip() else "empty file"
        for i, row in enumerate(found, start=1):
            base = source or str(path)
            row["source"] = base if len(found) == 1 else f"{base}#{i}"
            row["id"] = stem if len(found) == 1 else f"{stem}-{i}"
            row["source_group"] = "log"
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 = every file read, 1 = some file could not be read (the others are
    printed), 2 = a path does not exist or no file holds a start-up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", type=Path,
                        help="vLLM start-up log files (text, .gz or .ipynb) or directories of them")
    parser.add_argument("--csv", action="store_true", help="print CSV rows (the table's columns)")
    parser.add_argument("--source", help="the `source` of every row (default: the file name)")
    args = parser.parse_args(argv)
    files, missing = log_files(args.logs)
    if missing:
        print(f"error: no such file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    problems: dict[str, str] = {}
    rows = rows_from_files(files, args.source, problems)
    for path, why in problems.items():
        print(f"{path}: {why}", file=sys.stderr)
    if not rows:
        print("error: no vLLM start-up found", file=sys.stderr)
        return 2
    if args.csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    else:
        for row in rows:
            print(row["source"])
            for column in COLUMNS[4:]:
                if row[column]:
                    print(f"  {column:<24}{row[column]}")
    return 1 if any(why.startswith("cannot read") for why in problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
