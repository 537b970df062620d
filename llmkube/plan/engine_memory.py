"""How a model server accounts GPU memory at start-up — vLLM's mechanism, modelled term by term.

vLLM sizes its KV cache once, in the worker, before serving (vllm/v1/worker/gpu_worker.py
`Worker.determine_available_memory`, v0.11.0 … v0.28):

    KV bytes = util × CUDA total − (weights + torch activation peak + non-torch increase)
               − CUDA-graph estimate (v0.21.0 on: VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS
                 defaults to 1; graphs were captured after the KV cache before — and still are
                 under Model Runner V2 before 0.29, see `uses_model_runner_v2`)

The activation peak is whatever `GPUModelRunner.profile_run` allocates: one forward pass of
`max_num_batched_tokens` dummy tokens spread over `min(max_num_seqs, tokens)` requests, then
`_dummy_sampler_run` on one hidden state per request — logits of `requests × vocab`, upcast to
fp32 and filtered by top-k/top-p; the peak is the larger of the two. Both sizes come from `EngineArgs.get_batch_defaults`
(vllm/engine/arg_utils.py, unchanged from v0.11.0 to v0.28): for the OpenAI server 8,192 tokens
and 1,024 sequences on a GPU whose CUDA total is ≥ 70 GiB and whose name does not contain
"a100", otherwise 2,048 and 256 (`_set_default_max_num_seqs_and_batched_tokens_args` then caps
tokens at `max_num_seqs × max_model_len`, raises them to `max_model_len` without chunked prefill,
and caps sequences at tokens). So the same model has a ~1 GiB activation peak on an L4 and a
~4–5 GiB one on an H100 under the same engine: the peak follows the batch, not the image tag.

The weights term is what loading the model allocated ("Model loading took"): the checkpoint's
share on this GPU plus buffers built while loading — the RoPE cos/sin table over every position
the config allows (`rope_cache_bytes`), whole on every GPU — and the caching allocator's rounding of
each large weight tensor to its segment (`weight_rounding_bytes`).

The KV cache is then cut into blocks per KV-cache group (vllm/v1/core/kv_cache_utils.py
`get_kv_cache_config`, `_get_kv_cache_config_uniform_page_size`, `get_max_concurrency_for_kv_cache_config`,
`_report_kv_cache_config`): see `kv_layout`. Every worker sizes its own pool and the engine keeps
the smallest block count of all (`get_kv_cache_configs`), which is why a pipeline stage holding
the LM head and the sampler can bind.

Versions: the accounting generations below cover vLLM 0.10.0 – 0.28 (the image llmkube renders by
default, v0.11.0, and the newest release read, 0.28); an unpinned image is sized as the newest.
vLLM 0.8 and 0.9 run the V1 engine by default (`VLLM_USE_V1` defaults to 1 from v0.8.0) and are
sized as V1 (up to 0.9.1 V1 also counted the CUDA context as non-torch memory: not added, see the
comment above `ACCOUNTINGS`). Images before 0.8 run the V0 engine, which profiles differently (see `V0_DOC` below
and `v0_profiling_batch`): a batch of `max_model_len` tokens while chunked prefill is off (at least
5,120 for a multimodal model from 0.6.0), 256 sequences, and — in 0.6.4 only — the CUDA context
counted as non-torch memory. TGI is sized by the same
identity with its own defaults (`--cuda-memory-fraction` 1.0, a warm-up prefill of
`--max-batch-prefill-tokens`, server/text_generation_server/models/flash_causal_lm.py `warmup`).

Constants fitted to real start-ups say so where they are defined and name the rows (the fit split
of benchmarks/data/vllm_startups.csv); nothing was fitted to a held-out row. Not modelled: MLA and
hybrid attention backends that pick other block sizes than 16 (tokens round differently), vLLM's
refusal to start when util × total exceeds the memory free at start-up (the CUDA context's share),
expert parallelism's token dispatch across data-parallel ranks (EP's whole experts per rank are:
`moe_width_parallel`, `local_experts`), speculative decoding, the vision encoder's own transient
peak of towers other than Qwen2-VL's and Qwen2.5-VL's (theirs is: `encoder_peak_bytes`) and towers
other than Gemma 3's, Mistral 3's and Qwen-VL's (the batch they keep through the profile run is:
`mm_profile_bytes`). The top-k/top-p sampler is the install's default
(`flashinfer_sampler_by_default`: FlashInfer's sort-free kernel in the vllm-openai image of 0.8.0 –
0.11.0, the full-vocabulary sort for a pip install of those releases and from 0.11.1 to 0.16) unless
the server names it; the
MXFP4 Marlin fallback of a pip install without triton_kernels on Hopper (`mxfp4_moe_backend`; a
server that says so, `ServerConfig.mxfp4_backend` or VLLM_MXFP4_USE_MARLIN=1, is sized with Marlin).
"""

from __future__ import annotations

import dataclasses
import math
import re

from llmkube.profiles import ModelSpec, layer_types_of
from llmkube.records import record

GIB = 2**30
BLOCK_SIZE = 16  # vllm/config/cache.py: CUDA default block size


# --------------------------------------------------------------------------- engine generations

# fp32 bytes per logit of a sampler that does not sort the vocabulary (see `Accounting`): fp32
# logits 4 + probabilities 4 + log-probabilities 4; fit: 12.9 B from the v0.19.0 H100 Llama-3.1-8B
# row (1.89 GiB). FlashInfer's rejection sampler is of that kind too (`flashinfer_sample`, below).
SORT_FREE_SAMPLER_BYTES = 12.9


# Live [tokens, intermediate] tensors at a dense MLP's peak: gate_up (2), the activation's
# output (1) and one more (the down projection's input); fit: 4 from the v0.19.0 H100 fit rows
# CodeLlama-7B (0.77 GiB), Granite-3.1-8B (0.85) and Llama-3.1-8B's first PP stage (1.10), whose
# peaks are the forward pass (3 would give 0.63 / 0.71 / 0.91). The V0 engine runs the model
# eagerly, without torch.compile: its MLP peak is gate_up (2) + SiluAndMul's output (1) = 3
# (vllm/model_executor/models/llama.py `LlamaMLP.forward`, v0.6.4), the same 2N + N that
# fused_moe's intermediate_cache1/2 hold for an MoE (`fused_experts`, v0.6.4). V1 with
# --enforce-eager runs that same eager code: `enforce_eager` turns torch.compile off as well as
# CUDA graphs (vllm/config/__init__.py `VllmConfig.__post_init__`, v0.11.0: compilation level
# NO_COMPILATION unless "not enforce_eager"; vllm/config/vllm.py v0.18.1: "Enforce eager set,
# disabling torch.compile and CUDAGraphs", mode NONE), so its MLP peak is the eager 3 too.
MLP_LIVE = 4
V0_MLP_LIVE = 3
EAGER_MLP_LIVE = V0_MLP_LIVE
# [tokens, hidden] tensors the V0 engine's eager decoder layer holds at its MLP peak on top of the
# two every layer keeps (the residual and the normed hidden state). vllm/model_executor/models/llama.py
# and qwen2.py (v0.6.4 … v0.7.3): `LlamaModel.forward` loops `hidden_states, residual = layer(...)`,
# so the model's own `hidden_states` still references the layer's input while the layer runs; the
# layer's `input_layernorm` normalises that tensor in place (vllm/model_executor/layers/layernorm.py
# `RMSNorm.forward_cuda`: `ops.fused_add_rms_norm(x, residual, ...)`; return x, residual) and
# `self_attn` rebinds the layer's name to a new tensor, so the input stays allocated — one [T, h].
# `LlamaMLP.forward` (`gate_up, _ = self.gate_up_proj(x); x = self.act_fn(gate_up); x, _ =
# self.down_proj(x)`) keeps gate_up and the activation alive while down_proj writes its [T, h]
# output — the second. Peak: 4·h + 3·intermediate per token. Check on the fit rows whose batch is a
# 32,768-token prompt (A40, offline LLM, chunked prefill off): Qwen2.5-1.5B 2.02 GiB read (0.6.4),
# 2.02 modelled (2·h + 3·I alone: 1.83); Qwen2.5-14B 3.79 read (0.6.6), 3.78 modelled (3.16).
# Nothing was fitted: the count follows from the code above.
V0_MLP_HELD_HIDDEN = 2
# vllm-project/vllm#10339 ("[Perf] Reduce peak memory usage of llama", opened 2024-11-14: "Maintaining
# multiple names here will cause both to be refcounted which increases the peak memory") rewrote
# `LlamaMLP.forward` (vllm/model_executor/models/llama.py) as `x, _ = self.gate_up_proj(x); x =
# self.act_fn(x); x, _ = self.down_proj(x)`: gate_up is freed as soon as the activation exists, so
# down_proj's output no longer meets it. The peak is then the activation's step, the layer's three
# [T, h] (its input, the residual, the MLP's input) + gate_up + the activation: 3·h + 3·I (the
# down_proj step, 4·h + I, is lower) — one held [T, h] on top of the two every layer keeps. Only
# llama.py changed ("Can add to more models as well once we review this"); Qwen2MLP (qwen2.py, the
# 0.7-era V0 file) keeps `gate_up` and the 4·h + 3·I above. Models that run `LlamaMLP`: Llama, Mistral
# (vLLM's registry maps MistralForCausalLM to llama.py) and Phi-3 (phi3.py: `class
# Phi3ForCausalLM(LlamaForCausalLM)`). Taken as first in 0.6.5: the PR was reviewed on 2024-11-15,
# the day v0.6.4 was tagged; whether 0.6.4.post1 carries it was not read. Check: fit row
# gh-fastllminference-llama31-8b-l4-v073 (Llama-3.1-8B, V0 0.7.3, a 24,576-token prompt) reads
# 2.54 GiB; 3·h + 3·I gives 2.53, 4·h + 3·I 2.72.
LLAMA_MLP_ARCHITECTURES = ("llama", "mistral", "phi3")
LLAMA_MLP_FREES_GATE_UP_SINCE = (0, 6, 5)
LLAMA_MLP_HELD_HIDDEN = 1
# From 0.6.5 the V0 engine's tensor-parallel all-reduce writes a new tensor instead of reducing in place:
# vllm/distributed/parallel_state.py `GroupCoordinator.all_reduce` returns `torch.ops.vllm.all_reduce`,
# whose `_all_reduce_out_place` tries the custom all-reduce (`CustomAllreduce.all_reduce`: `out =
# torch.empty_like(inp)`) and then pynccl (vllm/distributed/device_communicators/pynccl.py
# `PyNcclCommunicator.all_reduce`: `out_tensor = torch.empty_like(in_tensor)`) — read in the PyPI
# sdists of 0.6.5, 0.6.6.post1, 0.7.0, 0.7.1, 0.7.2, 0.7.3, and through `CudaCommunicator.all_reduce` in
# 0.8.5 and 0.10.1.1 (the V0 fallback of 0.8 – 0.10). 0.6.4.post1 and 0.6.3 still reduce a large tensor
# in place (`torch.ops.vllm.inplace_all_reduce` → `pynccl_comm.all_reduce(input_)` /
# `torch.distributed.all_reduce(input_)`); only inputs small enough for the custom all-reduce went out of
# place there. `RowParallelLinear.forward` keeps its `output_parallel` while the reduced copy is written,
# so at TP >= 2 the down projection's step holds one more [tokens, hidden]: see
# `v0_down_projection_step`. V1's compiled forward (fitted `MLP_LIVE`) is not given the term.
V0_ALL_REDUCE_OUT_OF_PLACE_SINCE = (0, 6, 5)


@record(frozen=True)
class Accounting:
    """One engine release line: the parts of its start-up accounting that changed between releases."""

    key: str
    label: str  # what `llmkube plan` prints
    runtime: str
    since: tuple[int, int, int]
    # fp32 bytes per logit element (requests × vocab) at the peak of the profiling sampler run, on
    # top of the logits themselves in the model dtype. vLLM ≤ 0.16 filters top-k/top-p by a
    # full-vocabulary torch sort (vllm/v1/sample/ops/topk_topp_sampler.py `apply_top_k_top_p`; the
    # dummy run sets top_k = vocab − 1, top_p < 1): fp32 copy 4 + sorted values 4 + int64 indices 8
    # + the sort's double buffer 12 + softmax 4 + probabilities 4 ≈ 36 B; fit: 36.4 B from the
    # H100 Llama-3.1-8B row llmd-v0.11-llama-3.1-8b (4.76 GiB; the vllm-openai:latest image of January
    # 2026, 0.14.0, whose sampler sorts by default: see `flashinfer_sampler_by_default`), which then gives Qwen3 5.56 and gpt-oss 7.36 GiB
    # (readings 5.56 / 7.38, fit rows). From 0.17 (Qwen3-14B: 5.64 GiB on 0.16, 2.23 on 0.17) the
    # sort-free Triton/FlashInfer sampler (PR #33538, #40376) keeps fp32 logits 4 + probabilities 4
    # + log-probabilities 4 (the dummy asks for 20 logprobs) ≈ 12 B; fit: 12.9 B from the v0.19.0
    # H100 Llama-3.1-8B row (1.89 GiB).
    sampler_fp32_bytes_per_logit: float
    # Memory outside torch that appears during profiling (cuBLAS workspace, NCCL and custom all-reduce
    # buffers), per GPU. Fit rows: facts §7.1b (the llmd-v0.11 rows, 0.11.0 and 0.14.0 images: 0.13 / 0.55 GiB; v0.19.0: 0.25 / 2.1 / 0.07,
    # where 2.1 = 0.6 + FlashInfer's 1.5 GiB all-reduce fusion workspace, `fi_allreduce_fusion_workspace_bytes`;
    # the Qwen3-14B series: 0.13 up to 0.17, 0.25 from 0.18).
    non_torch_tp1_gib: float
    non_torch_tp_gib: float
    non_torch_pp_gib: float
    cuda_graphs_counted: bool  # the CUDA-graph estimate is taken from the KV budget by default
    # Share of util × memory the engine hands to the KV cache identity. TGI keeps 5 % back
    # (server/text_generation_server/models/globals.py TGI_WIGGLE_ROOM = 0.95, v3.3.6).
    budget_factor: float = 1.0
    # Memory already in use before profiling that the engine counts against its budget. vLLM's
    # requested memory excludes the CUDA context (its baseline snapshot is taken after it); TGI's
    # `get_free_memory` (utils/import_utils.py) subtracts everything in use, the context included:
    # 0.5 GiB, the bare context measured on an H200 (measured-h200.md: 527 MiB).
    context_gib: float = 0.0
    engine: str = "v1"  # "v0": the V0 engine's profiling batch (`v0_profiling_batch`)
    mlp_live: int = MLP_LIVE  # live [tokens, intermediate] tensors at the MLP's peak
    # extra [tokens, hidden] tensors live at the dense MLP's peak (`V0_MLP_HELD_HIDDEN`); V1's
    # torch.compile'd forward is covered by its fitted `MLP_LIVE`.
    mlp_held_hidden: int = 0
    # V0 only: max_num_batched_tokens when chunked prefill is on and the flag is unset
    # (vllm/config.py `SchedulerConfig.__init__`: 512 up to 0.6.4 — a v0.6.4.dev start-up logs
    # "Chunked prefill is enabled with max_num_batched_tokens=512" after arg_utils.py's "enabled by
    # default for models with max_model_len > 32K" —; 2048 from 0.6.5: vllm-project/vllm#10544
    # ("Update default max_num_batch_tokens for chunked prefill to 2048", opened 2024-11-21, after
    # 0.6.4.post1), which vllm-project/vllm#11319 (2024-12-19) reports as in the code while "the value
    # in the documentation (docs.vllm.ai/en/v0.6.5/…)" still said 512; the fit row
    # gh-gradproj-r1-distill-llama-8b-a40-v070 logs "Chunked prefill is enabled with
    # max_num_batched_tokens=2048" on 0.7.0).
    v0_chunked_tokens: int = 2048
    # Non-torch memory on one GPU of another generation than Hopper/Blackwell (see `non_torch_bytes`);
    # None: the H100 figures above hold for every GPU.
    non_torch_tp1_other_gib: float | None = None
    # Non-torch memory per GPU at TP >= 2 on NVSwitch-connected Hopper/Blackwell GPUs when it differs
    # from `non_torch_tp_gib` (see `non_torch_bytes`), FlashInfer's all-reduce fusion workspace not
    # included (`fi_allreduce_fusion_workspace_bytes`); None: no difference.
    non_torch_tp_nvswitch_gib: float | None = None
    # The fused-MoE kernels' workspaces stay allocated after the forward pass (a shared, persistent
    # buffer: see `moe_workspace_bytes`), so the profiling sampler run peaks on top of them.
    moe_workspace_persists: bool = False
    # Non-torch memory at TP 1 under --enforce-eager (Hopper/Blackwell, other generations) where it
    # differs from the figures above, which are those of the compiled path (see `eager_non_torch_gib`);
    # None: no difference.
    non_torch_tp1_eager_gib: tuple[float, float] | None = None


# The V0 engine (vLLM 0.4 – 0.7 by default; 0.8 – 0.9 only for models V1 did not support), as
# vllm/worker/worker.py `Worker.determine_num_available_blocks` sizes its KV cache:
#   < 0.6.4  KV = util × total − (free before profiling − free after `profile_run`): weights, the
#            torch peak (kept reserved by the caching allocator) and any non-torch increase; the
#            CUDA context is already in use before the first reading, so it is not counted.
#   0.6.4    KV = util × total − (torch allocated peak + non-torch), where non-torch is
#            everything CUDA reports in use (`mem_get_info`) minus torch's allocations after
#            `empty_cache` — the CUDA context included (log: "Memory profiling results:
#            total_gpu_memory=… initial_memory_usage=… non_torch_memory=…").
#   ≥ 0.6.5  `memory_profiling` (vllm/utils.py, PR #10511): baseline snapshot after the context,
#            KV = util × total − (weights + torch activation peak + non-torch increase), as V1.
# The profiling forward is vllm/worker/model_runner.py `GPUModelRunnerBase.profile_run`:
# `max_num_seqs` dummy prompts sharing `max_num_batched_tokens` tokens, then `execute_model`
# computes logits for the last token of each prompt and runs the V0 sampler on them with
# top_k = vocab − 1, top_p = 0.99 — a full-vocabulary sort per row
# (vllm/model_executor/layers/sampler.py `_apply_top_k_top_p`), the same work V1 ≤ 0.16 does,
# so the same 36.4 B per logit. CUDA graphs are captured after the KV cache is sized
# (`Worker._warm_up_model` after `initialize_cache`): never counted. A check on the fit row
# vllm-pr10511-llama3-8b-tp1 (V0 main between 0.6.4 and 0.6.5, H100, Meta-Llama-3-8B, 8,192
# tokens, 256 sequences): the sampler run gives 256 × 128,256 × 38.4 B + the forward's output
# 0.06 GiB = 1.24 GiB against 1.26 read; nothing was fitted to it.
V0_DOC = "vllm/worker/worker.py determine_num_available_blocks; vllm/worker/model_runner.py profile_run"
V0_MAX_NUM_SEQS = 256  # vllm/engine/arg_utils.py `EngineArgs.max_num_seqs`, v0.4 … v0.7
V0_MIN_BATCHED_TOKENS = 2048  # SchedulerConfig: max(max_model_len, 2048) without chunked prefill
V0_LONG_CONTEXT = 32 * 1024  # arg_utils.py `create_engine_config`: chunked prefill on above 32K (OpenAI server)
# The first release that turns chunked prefill on by itself above 32K: vllm-project/vllm#6666 ("Enable
# chunked prefill by default for long context models", merged 2024-07-23) is in 0.5.4; before it V0
# never chunks unless told to (`enable_chunked_prefill` defaulted to False). Whether 0.5.3.post1, cut
# the same week, carries it was not read at its tag: 0.5.3 is sized without it.
V0_AUTO_CHUNKED_SINCE = (0, 5, 4)
# From vllm-project/vllm#8425 ("[Hotfix][Core][VLM] Disable chunked prefill by default and prefix caching
# for multimodal models", merged 2024-09-12) V0 no longer turns chunked prefill on by itself for a
# multimodal model: arg_utils.py `create_engine_config`, "Chunked prefill is currently disabled for
# multimodal models by default", `if use_long_context and not model_config.is_multimodal_model`. Taken
# as first in 0.6.2: the hotfix may be in 0.6.1.post1, which a three-part version cannot tell from 0.6.1.
V0_MULTIMODAL_UNCHUNKED_SINCE = (0, 6, 2)
# An unset max_num_batched_tokens is raised to at least 5,120 for a multimodal model, chunked prefill
# or not: vllm/config.py `SchedulerConfig` (`_MULTIMODAL_MODEL_MAX_NUM_BATCHED_TOKENS = 5120`, "The
# value needs to be at least the number of multimodal tokens"), applied after the chunked (512 / 2048)
# or unchunked (max(max_model_len, 2048)) default and only when the flag is unset. It came with
# vllm-project/vllm#8028 ("[Core] Increase default `max_num_batched_tokens` for multimodal models",
# opened and approved 2024-08-30, before v0.6.0 was tagged): taken as first in 0.6.0. The same lines
# are in `SchedulerConfig.__post_init__` of the 0.7 line (next to `_POOLING_MODEL_MAX_NUM_BATCHED_TOKENS`,
# whose pooling runner llmkube does not size).
V0_MULTIMODAL_MIN_BATCHED_TOKENS = 5120
V0_MULTIMODAL_FLOOR_SINCE = (0, 6, 0)


def v0_chunked_by_default(max_model_len: int, version: tuple[int, ...] | None = None,
                          sliding_window: bool = False, multimodal: bool = False) -> bool:
    """Whether the V0 engine turns chunked prefill on when the flag is not given.

    vllm/engine/arg_utils.py `EngineArgs.create_engine_config` (the same block from 0.5.4 through
    0.7.3): only above 32K tokens (`use_long_context = max_model_len > 32768`), only on CUDA, and
    only when the model has no sliding window (`model_config.get_sliding_window() is not None`
    keeps it off: V0's block manager could not chunk sliding-window attention), no speculative
    decoding and no LoRA (neither is modelled here); until vllm-project/vllm#8342 (2024-09-10) also
    not with prefix caching, which llmkube does not model either. `get_sliding_window` reads the
    config's `sliding_window` except where `use_sliding_window` is false (Qwen2), which is what the
    profile's `slidingWindow` holds. Before 0.5.4 (`V0_AUTO_CHUNKED_SINCE`) it is never on by itself;
    from 0.6.2 not for a multimodal model either (`multimodal`: a profile that loads a vision tower,
    vLLM's `is_multimodal_model`; `V0_MULTIMODAL_UNCHUNKED_SINCE`). Neither rule looks at the entry
    point: the offline LLM class and the OpenAI server chunk alike.
    """
    if version is not None and release(version) < V0_AUTO_CHUNKED_SINCE:
        return False
    if multimodal and (version is None or release(version) >= V0_MULTIMODAL_UNCHUNKED_SINCE):
        return False
    return max_model_len > V0_LONG_CONTEXT and not sliding_window


# Non-torch memory at TP 1 on GPUs that are not Hopper/Blackwell. The 0.13 GiB of the llmd-v0.11 H100
# rows is not what other generations see: a 24 GB card with vLLM 0.10.2 prints 0.02 GiB
# (gh-memory-aware-rlhf-qwen2.5-3b-v0102), an A10 with 0.7 0.05 (gh-oci-aqua-llama31-8b-a10-131k),
# and the A100 rows that print only the KV cache (lmcache-i1739-*, gh-dennislee22-qwen2-7b-a100-80-*,
# vLLM 0.10.x) are 0.09-0.12 GiB above llmkube's figure with 0.13. Fit: 0.03, the two printed
# readings' mean. What the difference is made of was not identified (the lazily loaded kernel
# images of the FlashAttention-3/CUTLASS sm90 paths are one candidate); from 0.18 the A100 fit rows
# disagree with each other (gh-cssnoeasy-* +0.17, gh-tokenkaki-*-v0191 -0.02), so 0.18+ keeps one figure.
NON_TORCH_OTHER_GIB = 0.03

# vLLM V1 up to 0.9.1 sizes its KV cache with the V0-era formula of vllm/v1/worker/gpu_worker.py
# `Worker.determine_available_memory` (v0.8.x): after `profile_run` it takes torch's allocated peak
# (the weights included: `reset_peak_memory_stats` runs just before), then, after `empty_cache`,
# `non_torch_allocations` = CUDA's used memory (`mem_get_info` total − free) − torch's allocated
# bytes, and KV = total × util − peak − non-torch. That difference holds the CUDA context (and any
# other process's memory on the GPU: vllm-project/vllm#19312, "V1's memory profiling incorrectly
# counts memory used by other processes as non_torch_allocations"), like V0 0.6.4. #19312 ("[V1]
# Reuse V0's memory_profiling util for gpu worker memory profiling", opened 2025-06-07) moved V1 to
# `memory_profiling` with a baseline taken after the context and added the log line "Available KV
# cache memory"; taken as first in 0.9.2 — the 0.8.4, 0.8.5 and 0.9.0.x start-ups of the table print
# no such line, the 0.9.2 ones do; 0.9.1 (released 2025-06-10) was not read. A third-party patch of
# vLLM 0.8.5's gpu_worker.py quotes the old formula verbatim ("gpu_memory_utilization is
# device-wide in vLLM 0.8.5").
# Not added to the 0.8.0 – 0.9.1 accounting: the context's size differs by GPU (0.5 GiB measured on
# the H200, ~0.28 GiB left by the two L4 fit rows of these versions), and llmkube has no per-GPU
# model of it (docs/sizing.md, "Round of session 27"). A lead, not a term.

# Non-torch memory at TP 1 with --enforce-eager from 0.18 (Hopper/Blackwell, other generations): the
# figures of the releases before 0.18. The 0.25 GiB that 0.18 brought (the H100 Qwen3-14B series: 0.13
# up to 0.17, 0.25 from 0.18, every run compiled) does not appear in the 0.18+ start-ups that run
# eager: --enforce-eager turns torch.compile off as well as CUDA graphs (vllm/config/vllm.py v0.18.1:
# "Enforce eager set, disabling torch.compile and CUDAGraphs"), and code that is compiled and loaded
# the first time the model runs — which is during `profile_run` — lives in device memory that torch's
# allocator does not count. Which 0.18 change added the 0.12 GiB was not read in vLLM's source; the
# split by --enforce-eager follows the fit rows, all 0.18+ and off the H100: eager
# gh-lambo-qwen2.5-32b-4x3090-tp4-v0181 (its KV leaves ~0.00 GiB for non-torch) and
# gh-cssnoeasy-qwen3-32b-a100pcie-bf16 (~0.07), compiled gh-tokenkaki-qwen3-8b-a100-40-v0191 (~0.25).
EAGER_NON_TORCH_TP1_GIB = (0.13, NON_TORCH_OTHER_GIB)

# Non-torch memory per GPU at TP >= 2 on NVSwitch Hopper/Blackwell from 0.18, besides FlashInfer's
# all-reduce fusion workspace (`fi_allreduce_fusion_workspace_bytes`, 1.5 GiB, added by the sizing). Fit:
# the 14 v0.19.0 H100 TP 2/4 fit rows read 2.06-2.21 GiB (mean 2.11); less the workspace, 0.6 — the
# 2.1 GiB the accounting held before the workspace was read, so no fit row's figure moves. What the
# 0.05 GiB over 0.14.0's 0.55 is (and the TP 4 rows' further ~0.09) was not found in source.
NON_TORCH_TP_NVSWITCH_GIB = 0.6

ACCOUNTINGS: tuple[Accounting, ...] = (
    # The V0 engine (V0_DOC above): its own batch, an eager MLP, graphs captured after.
    Accounting("vllm-v0", "vLLM <0.6.4 (V0)", "vllm", (0, 0, 0), 36.4, 0.13, 0.55, 0.13, False,
               engine="v0", mlp_live=V0_MLP_LIVE, mlp_held_hidden=V0_MLP_HELD_HIDDEN, v0_chunked_tokens=512, non_torch_tp1_other_gib=NON_TORCH_OTHER_GIB),
    # 0.6.4 counts the CUDA context as non-torch memory: 0.5 GiB, the bare context measured on an
    # H200 (measured-h200.md: 527 MiB; other GPUs' contexts differ).
    Accounting("vllm-v0.6.4", "vLLM 0.6.4 (V0)", "vllm", (0, 6, 4), 36.4, 0.13, 0.55, 0.13, False,
               context_gib=0.5, engine="v0", mlp_live=V0_MLP_LIVE, mlp_held_hidden=V0_MLP_HELD_HIDDEN, v0_chunked_tokens=512,
               non_torch_tp1_other_gib=NON_TORCH_OTHER_GIB),
    Accounting("vllm-v0.6.5", "vLLM 0.6.5-0.6.6 (V0)", "vllm", (0, 6, 5), 36.4, 0.13, 0.55, 0.13, False,
               engine="v0", mlp_live=V0_MLP_LIVE, mlp_held_hidden=V0_MLP_HELD_HIDDEN, v0_chunked_tokens=2048, non_torch_tp1_other_gib=NON_TORCH_OTHER_GIB),
    Accounting("vllm-v0.7", "vLLM 0.7 (V0)", "vllm", (0, 7, 0), 36.4, 0.13, 0.55, 0.13, False,
               engine="v0", mlp_live=V0_MLP_LIVE, mlp_held_hidden=V0_MLP_HELD_HIDDEN, v0_chunked_tokens=2048, non_torch_tp1_other_gib=NON_TORCH_OTHER_GIB),
    # 0.8 and 0.9 run V1 by default (vllm/envs.py VLLM_USE_V1, v0.8.0); sized by 0.10's V1 terms
    # (the CUDA context that V1 up to 0.9.1 counts is not added: see above).
    Accounting("vllm-0.8", "vLLM 0.8-0.9 (V1)", "vllm", (0, 8, 0), 36.4, 0.13, 0.55, 0.13, False,
               non_torch_tp1_other_gib=NON_TORCH_OTHER_GIB),
    Accounting("vllm-0.10", "vLLM 0.10-0.16", "vllm", (0, 10, 0), 36.4, 0.13, 0.55, 0.13, False,
               non_torch_tp1_other_gib=NON_TORCH_OTHER_GIB),
    Accounting("vllm-0.17", "vLLM 0.17", "vllm", (0, 17, 0), SORT_FREE_SAMPLER_BYTES, 0.13, 0.55, 0.13, False,
               non_torch_tp1_other_gib=NON_TORCH_OTHER_GIB),
    Accounting("vllm-0.18", "vLLM 0.18-0.20", "vllm", (0, 18, 0), SORT_FREE_SAMPLER_BYTES, 0.25, 0.55, 0.07, False,
               non_torch_tp_nvswitch_gib=NON_TORCH_TP_NVSWITCH_GIB, moe_workspace_persists=True, non_torch_tp1_eager_gib=EAGER_NON_TORCH_TP1_GIB),
    # gpu_worker.py v0.27.1 logs "CUDA graph memory profiling is enabled (default since v0.21.0)".
    Accounting("vllm-0.21", "vLLM >=0.21", "vllm", (0, 21, 0), SORT_FREE_SAMPLER_BYTES, 0.25, 0.55, 0.07, True,
               non_torch_tp_nvswitch_gib=NON_TORCH_TP_NVSWITCH_GIB, moe_workspace_persists=True, non_torch_tp1_eager_gib=EAGER_NON_TORCH_TP1_GIB),
    # TGI (flash_causal_lm.py `warmup`, v3.3.6): one prefill of --max-batch-prefill-tokens, then
    # KV = free memory − (1 − fraction × 0.95) × total. It samples the last token of each warm-up
    # request only: no vocabulary-wide buffers to speak of. CUDA graphs are captured after.
    Accounting("tgi-3", "TGI 3.x", "tgi", (0, 0, 0), 0.0, 0.13, 0.55, 0.13, False, budget_factor=0.95, context_gib=0.5),
)


def release(version: tuple[int, ...]) -> tuple[int, int, int]:
    """(major, minor, patch) of a version given with fewer parts: "0.7" is 0.7.0, as the image tag
    `vllm/vllm-openai:v0.7` reads (`engines.parse_engine_version`). Without the padding a two-part
    version compares below its own x.y.0 release — (0, 7) < (0, 7, 0) — and got the accounting of
    the release line before it."""
    parts = (tuple(version[:3]) + (0, 0, 0))[:3]
    return (parts[0], parts[1], parts[2])


def accounting_for(runtime: str, version: tuple[int, ...] | None, *, gpu_name: str = "",
                   kv_cache_dtype: str | None = None, mla: bool = False, use_v1: bool | None = None,
                   attention_backend: str | None = None) -> Accounting:
    """The accounting of an engine version; an unpinned vLLM image counts as the newest release
    (vLLM 0.28 is the newest read for this model). A 0.8 – 0.10 server that vLLM's V1 oracle sends
    back to the V0 engine (`falls_back_to_v0`: a GPU before Ampere, an fp8 KV cache the device's
    attention backend cannot hold, a `VLLM_ATTENTION_BACKEND` V1 does not list), or that runs V0 by
    `VLLM_USE_V1=0` (`use_v1` False), is sized by the last V0 line; `VLLM_USE_V1=1` (`use_v1` True)
    keeps V1."""
    lines = [a for a in ACCOUNTINGS if a.runtime == runtime] or [a for a in ACCOUNTINGS if a.runtime == "vllm"]
    if version is None:
        return lines[-1]
    in_v0_era = V1_DEFAULT_SINCE <= release(version) < V0_ORACLE_GONE_SINCE
    if runtime == "vllm" and in_v0_era and use_v1 is not True and (
            use_v1 is False or falls_back_to_v0(version, gpu_name, kv_cache_dtype, mla, attention_backend)):
        v0 = [a for a in lines if a.engine == "v0"][-1]
        return dataclasses.replace(v0, key="vllm-0.8-v0", label=V0_FALLBACK_LABEL)
    return [a for a in lines if release(version) >= a.since][-1]


# vLLM 0.8 made V1 the default engine, but `EngineArgs._is_v1_supported_oracle`
# (vllm/engine/arg_utils.py) sends a server whose settings V1 cannot serve back to V0 ("... is not
# supported by the V1 Engine. Falling back to V0") unless VLLM_USE_V1=1 is set; 0.11.0's oracle no
# longer checks the two conditions below (read in the PyPI sdists of 0.8.0 – 0.8.5, 0.9.0.1, 0.9.2,
# 0.10.0, 0.10.1.1, 0.10.2 and 0.11.0):
# - "Compute Capability < 8.0" ("Need at least Ampere for now (FA support required)"): a T4, a V100,
#   a Turing Quadro/Titan/GeForce — 0.8.0 to 0.10.1.1; 0.10.2 dropped the check.
# - "--kv-cache-dtype": any value but auto in 0.8.0 – 0.8.1 ("No Fp8 KV cache so far"); from 0.8.2
#   an fp8 cache stays on V1 only where FlashAttention 3 holds it (`flash_attn_supports_fp8`: FA
#   version 3 and compute capability 9.x, Hopper); from 0.10.0 also on SM 10.0 (B200/GB200:
#   `CudaPlatform.is_kv_cache_dtype_supported`, `is_device_capability(100)`); from 0.10.2 also for
#   MLA models (FlashMLA and CUTLASS MLA hold fp8).
V1_DEFAULT_SINCE = (0, 8, 0)
V0_ORACLE_GONE_SINCE = (0, 11, 0)
PRE_AMPERE_V1_SINCE = (0, 10, 2)
FP8_KV_ON_HOPPER_V1_SINCE = (0, 8, 2)
FP8_KV_ON_SM100_V1_SINCE = (0, 10, 0)
FP8_KV_MLA_V1_SINCE = (0, 10, 2)
V0_FALLBACK_LABEL = "vLLM 0.8-0.10 (V0 fallback)"
# A third condition of the same oracle, in every release from 0.8.0 to 0.10.2: `VLLM_ATTENTION_BACKEND`
# set to a backend its `V1_BACKENDS` list does not hold (`envs.is_set("VLLM_ATTENTION_BACKEND") and
# envs.VLLM_ATTENTION_BACKEND not in V1_BACKENDS` → `_raise_or_fallback(feature_name=
# "VLLM_ATTENTION_BACKEND=…")`): XFORMERS — the usual choice on Turing/Volta — at every release up to
# 0.10 (0.10.1 lists only "XFORMERS_VLLM_V1"), FLASHINFER before 0.8.5. The lists as read, each kept
# until the next read release changes it (0.9.1 was not read and is given 0.9.0.1's list; 0.10.1 is
# read as 0.10.1.1). 0.11.0 keeps a list but has no V0 to fall back to.
_V1_BACKENDS_080 = frozenset({"FLASH_ATTN_VLLM_V1", "FLASH_ATTN", "PALLAS", "PALLAS_VLLM_V1", "TRITON_MLA", "FLASHMLA"})
_V1_BACKENDS_082 = _V1_BACKENDS_080 | {"TRITON_ATTN_VLLM_V1"}
_V1_BACKENDS_085 = _V1_BACKENDS_082 | {"FLASHINFER", "FLASHINFER_VLLM_V1"}
_V1_BACKENDS_090 = _V1_BACKENDS_085 | {"ROCM_AITER_MLA"}
_V1_BACKENDS_092 = _V1_BACKENDS_090 | {"CUTLASS_MLA_VLLM_V1", "TORCH_SDPA_VLLM_V1", "FLEX_ATTENTION"}
_V1_BACKENDS_0101 = (_V1_BACKENDS_092 - {"CUTLASS_MLA_VLLM_V1"}) | {"CUTLASS_MLA", "TREE_ATTN", "XFORMERS_VLLM_V1"}
_V1_BACKENDS_0102 = _V1_BACKENDS_0101 | {"FLASHMLA_VLLM_V1", "FLASH_ATTN_MLA", "FLASHINFER_MLA"}
V1_ATTENTION_BACKENDS: tuple[tuple[tuple[int, int, int], frozenset[str]], ...] = (
    ((0, 8, 0), _V1_BACKENDS_080),  # 0.8.0, 0.8.1
    ((0, 8, 2), _V1_BACKENDS_082),  # 0.8.2 – 0.8.4
    ((0, 8, 5), _V1_BACKENDS_085),
    ((0, 9, 0), _V1_BACKENDS_090),  # 0.9.0.1
    ((0, 9, 2), _V1_BACKENDS_092),  # 0.9.2, 0.10.0
    ((0, 10, 1), _V1_BACKENDS_0101),  # 0.10.1.1
    ((0, 10, 2), _V1_BACKENDS_0102),
)
# Device names of GPUs before Ampere (compute capability < 8.0) that serve LLMs: Turing (T4, Quadro
# RTX, Titan RTX, GeForce RTX 20xx / GTX 16xx), Volta (V100, Titan V), Pascal (P100, P40, P4).
_PRE_AMPERE = re.compile(r"\b(?:t4|v100|titan (?:v|rtx)|quadro rtx|rtx 20[5-8]0|gtx 1[0-6][5-8]0|p100|p40|p4)\b")


def pre_ampere(gpu_name: str) -> bool:
    """Whether the device name is a GPU of compute capability below 8.0 (`_PRE_AMPERE`)."""
    return _PRE_AMPERE.search(gpu_name.lower()) is not None


def v1_attention_backend(version: tuple[int, ...], backend: str) -> bool:
    """Whether the V1 oracle of vLLM `version` (0.8 – 0.10) accepts `VLLM_ATTENTION_BACKEND=backend`
    (`V1_ATTENTION_BACKENDS`; the comparison is vLLM's, exact and case-sensitive)."""
    v = release(version)
    allowed: frozenset[str] = frozenset()
    for since, names in V1_ATTENTION_BACKENDS:
        if v >= since:
            allowed = names
    return backend in allowed


def falls_back_to_v0(version: tuple[int, ...], gpu_name: str, kv_cache_dtype: str | None,
                     mla: bool = False, attention_backend: str | None = None) -> bool:
    """Whether vLLM `version` serves on the V0 engine although V1 is its default (the oracle
    above; `attention_backend` is the container's VLLM_ATTENTION_BACKEND, `v1_attention_backend`).
    An unknown device name counts as one V1 can serve."""
    v = release(version)
    if not V1_DEFAULT_SINCE <= v < V0_ORACLE_GONE_SINCE:
        return False
    if attention_backend and not v1_attention_backend(version, attention_backend):
        return True
    name = gpu_name.lower()
    if v < PRE_AMPERE_V1_SINCE and pre_ampere(name):
        return True
    if kv_cache_dtype in (None, "", "auto"):
        return False
    fp8 = kv_cache_dtype.startswith("fp8")
    if v < FP8_KV_ON_HOPPER_V1_SINCE:
        return True
    if v >= FP8_KV_MLA_V1_SINCE and (mla or not fp8):  # 0.10.2: only an fp8 cache asks FA3 of the device
        return False
    capability = compute_capability(name)  # SM 10.0 exactly (`is_device_capability(100)`); B300 is 10.3
    if v >= FP8_KV_ON_SM100_V1_SINCE and capability == 100:
        return False
    return not (fp8 and capability == 90)


# V0's FlashInfer attention backend (vllm/attention/backends/flashinfer.py, the V0 file as shipped in
# 0.8.0, 0.8.5 and 0.10.0): `FlashInferState._get_workspace_buffer` allocates
# FLASHINFER_WORKSPACE_BUFFER_SIZE = 256 MiB (`torch.empty(..., dtype=torch.uint8)`) the first time
# `begin_forward` asks for its prefill or decode wrapper, and V0's `ModelRunner.execute_model`
# (vllm/worker/model_runner.py) calls `self.attn_state.begin_forward(model_input)` on every forward,
# the profiling one included. So the buffer is in the torch peak `profile_run` measures and stays
# allocated through the sampler run. The other V0 backends' `CommonAttentionState.begin_forward` does
# nothing. V1's FlashInfer metadata builder (vllm/v1/attention/backends/flashinfer.py, 0.10.0) makes
# its 256 MiB buffer only when it builds attention metadata, which the profiling `_dummy_run` does not
# (`attn_metadata = None` unless `capture_attn_cudagraph`): nothing for V1. V0 releases before 0.8 were
# not read for this and get nothing.
V0_FLASHINFER_WORKSPACE_BYTES = 256 * 2**20
V0_FLASHINFER_WORKSPACE_READ_SINCE = (0, 8, 0)


def attention_workspace_bytes(accounting: Accounting, version: tuple[int, ...] | None,
                              attention_backend: str | None) -> float:
    """Torch memory the attention backend holds through the profile run (`V0_FLASHINFER_WORKSPACE_BYTES`):
    256 MiB for V0 (0.8+, i.e. the V0 fallback) with VLLM_ATTENTION_BACKEND=FLASHINFER, else 0."""
    if accounting.runtime != "vllm" or accounting.engine != "v0" or attention_backend != "FLASHINFER":
        return 0.0
    if version is None or release(version) < V0_FLASHINFER_WORKSPACE_READ_SINCE:
        return 0.0
    return float(V0_FLASHINFER_WORKSPACE_BYTES)


# --------------------------------------------------------------------------- the profiling batch

BIG_GPU_GIB = 70  # get_batch_defaults: `device_memory >= 70 * GiB_bytes and "a100" not in device_name`
API_SERVER_DEFAULTS = {True: (8192, 1024), False: (2048, 256)}  # (max_num_batched_tokens, max_num_seqs)
# The offline `LLM` class (UsageContext.LLM_CLASS) gets its own token defaults in the same table
# (vllm/engine/arg_utils.py `get_batch_defaults`, v0.11 … v0.19, and the by-memory table of 0.8.5):
# 16,384 tokens on a large GPU, 8,192 otherwise; the same sequences as the OpenAI server.
LLM_CLASS_DEFAULTS = {True: (16384, 1024), False: (8192, 256)}


def big_gpu_defaults(memory_gib: float, gpu_name: str, version: tuple[int, ...] | None = None) -> bool:
    """Whether the V1 OpenAI server gives this GPU the large batch defaults (8,192 tokens, 1,024
    sequences) rather than 2,048 / 256. The rule changed twice (vllm/engine/arg_utils.py
    `_set_default_args_v1`, later `get_batch_defaults`):
    - up to 0.8.4: by name, "h100" or "h200" in the device name (PR #12369, 2025-01; the context
      of PR #17046 shows the same branch setting `default_max_num_seqs = 1024`);
    - 0.8.5: by memory, a CUDA total of at least 70 GiB (PR #17073, merged 2025-04-23: "use larger
      batch sizes … for GPUs with large memory sizes"), so an A100 80GB got them too;
    - from 0.9.0: at least 70 GiB and "a100" not in the name (PR #17885, merged 2025-05-09: "Use
      small max_num_batched_tokens for A100"), unchanged to v0.28.
    An unknown version is sized as the newest."""
    name = gpu_name.lower()
    if version is not None and release(version) < (0, 8, 5):
        return "h100" in name or "h200" in name
    if version is not None and release(version) < (0, 9, 0):
        return memory_gib >= BIG_GPU_GIB
    return memory_gib >= BIG_GPU_GIB and "a100" not in name


# `--performance-mode throughput` doubles the batch defaults it finds unset (vllm/engine/arg_utils.py
# `_set_default_max_num_seqs_and_batched_tokens_args`: "If throughput mode is set, double
# max_num_batched_tokens and max_num_seqs", each only when the user did not give it), before the
# no-chunking floor of max_model_len and the caps below. The flag came with vllm-project/vllm#34936
# ("[UX] Add `--performance-mode {balanced,interactivity,throughput}`", merged 2026-02, first in 0.17.0);
# its default "balanced" (vllm/config/vllm.py `VllmConfig.performance_mode`) keeps the defaults as
# they were; "interactivity" leaves them too and captures more CUDA graphs (`capture_size_list`).
PERFORMANCE_MODE_SINCE = (0, 17, 0)
THROUGHPUT_MODE_FACTOR = 2
TGI_DEFAULT_PREFILL_TOKENS = 4096  # TGI with a length decided at start-up: its usual 4096-token prefill budget [U]


@record(frozen=True)
class ProfilingBatch:
    """The batch vLLM profiles its activation peak with at start-up."""

    tokens: int  # max_num_batched_tokens as the engine resolves it
    seqs: int  # max_num_seqs as the engine resolves it
    defaulted: bool  # True when either came from the engine's GPU-dependent defaults


# V0 with MLA (DeepSeek V2/V3) forces chunked prefill off from 0.7.1, when vLLM gained MLA: vllm/config.py
# `VllmConfig.__post_init__` logs "MLA is enabled; forcing chunked prefill and prefix caching to be
# disabled." (config.py:3257 in 0.7.1 logs, :3329 in 0.7.3); 0.8 narrows it to non-GPU platforms ("MLA
# is enabled on a non-GPU platform", v0.8.4), and 0.8 on CUDA is sized as V1 anyway.
V0_MLA_UNCHUNKED_SINCE = (0, 7, 1)


def v0_profiling_batch(accounting: Accounting, max_model_len: int, max_num_batched_tokens: int | None = None,
                       max_num_seqs: int | None = None, chunked_prefill: bool | None = None,
                       version: tuple[int, ...] | None = None, sliding_window: bool = False,
                       mla: bool = False, multimodal: bool = False) -> ProfilingBatch:
    """The batch the V0 engine profiles with: no GPU-dependent defaults, 256 sequences, and
    without chunked prefill a whole `max_model_len` prompt's worth of tokens.

    vllm/engine/arg_utils.py `EngineArgs.create_engine_config` (v0.6.4, v0.7.3): for the OpenAI
    server chunked prefill defaults on when max_model_len > 32K, else off (and never by itself before
    0.5.4 or for a sliding-window model: `v0_chunked_by_default`); vllm/config.py
    `SchedulerConfig.__init__`: an unset max_num_batched_tokens is max(max_model_len, 2048)
    without chunked prefill, the chunked default (512 up to 0.6.4, 2048 from 0.6.5) with it;
    `_verify_args` refuses fewer tokens than max_model_len without chunking and more sequences
    than tokens, so the defaults never need capping. With MLA (`mla`) 0.7.x turns chunked prefill
    off whatever was asked (`V0_MLA_UNCHUNKED_SINCE`); the scheduler cannot then batch fewer tokens
    than max_model_len (the same `_verify_args`), so an unset batch is max(max_model_len, 2048).
    A `multimodal` model's unset batch is at least 5,120 tokens from 0.6.0, chunked or not
    (`V0_MULTIMODAL_MIN_BATCHED_TOKENS`); where MLA forced chunking off (DeepSeek-VL2, the one
    multimodal MLA model) the floor is not applied, as the MLA override was not read at its tag.

    The batch's two sizes act on different parts of the peak (`activation_bytes`): `profile_run`
    (vllm/worker/model_runner.py `_dummy_run`, v0.6.4 … v0.7.3) builds `max_num_seqs` dummy prompts
    that share the `tokens` (tokens // seqs each) for the forward pass, and samples one row per
    prompt, so the sampler's logits are seqs × vocab whatever the tokens; at the long-context
    chunked default (2,048 tokens, 256 prompts of 8) the sampler binds.
    """
    chunked = (chunked_prefill if chunked_prefill is not None
               else v0_chunked_by_default(max_model_len, version, sliding_window, multimodal))
    mla_unchunked = mla and version is not None and release(version) >= V0_MLA_UNCHUNKED_SINCE
    if mla_unchunked:
        chunked = False
    seqs = max_num_seqs or V0_MAX_NUM_SEQS
    if max_num_batched_tokens is not None:
        tokens = max_num_batched_tokens
    else:
        tokens = accounting.v0_chunked_tokens if chunked else max(max_model_len, V0_MIN_BATCHED_TOKENS)
        if (multimodal and not mla_unchunked
                and (version is None or release(version) >= V0_MULTIMODAL_FLOOR_SINCE)):
            tokens = max(tokens, V0_MULTIMODAL_MIN_BATCHED_TOKENS)
    return ProfilingBatch(tokens, min(seqs, tokens), max_num_batched_tokens is None or max_num_seqs is None)


def profiling_batch(runtime: str, memory_gib: float, gpu_name: str, max_model_len: int,
                    max_num_batched_tokens: int | None = None, max_num_seqs: int | None = None,
                    chunked_prefill: bool | None = None, accounting: Accounting | None = None,
                    version: tuple[int, ...] | None = None, sliding_window: bool = False,
                    mla: bool = False, multimodal: bool = False, offline: bool = False,
                    performance_mode: str | None = None) -> ProfilingBatch:
    """The batch vLLM profiles with (arg_utils.py `_set_default_max_num_seqs_and_batched_tokens_args`,
    v0.11.0 … v0.28, OpenAI API server usage context — or, with `offline`, the `LLM` class's
    (`LLM_CLASS_DEFAULTS`); which GPUs get the large defaults depends on the `version`, see
    `big_gpu_defaults`); TGI's warm-up prefill for TGI; the V0 engine's (`v0_profiling_batch`) when
    `accounting` is a V0 one (`sliding_window`: the model has one, which keeps V0's chunked prefill
    off; `mla`: the model uses MLA, which does from 0.7.1; `multimodal`: it loads a vision tower,
    which does from 0.6.2, and raises an unset V0 batch to 5,120 tokens from 0.6.0). V0's defaults
    do not depend on the entry point. `performance_mode`
    "throughput" (`--performance-mode`, vLLM 0.17+; an unknown version counts as the newest)
    doubles whichever of the two V1 defaults it finds unset (`THROUGHPUT_MODE_FACTOR`)."""
    if accounting is not None and accounting.engine == "v0" and runtime == "vllm":
        return v0_profiling_batch(accounting, max_model_len, max_num_batched_tokens, max_num_seqs, chunked_prefill,
                                  version, sliding_window, mla, multimodal)
    if runtime == "tgi":
        # launcher/src/main.rs: --max-batch-prefill-tokens defaults to max-input-tokens + 50
        tokens = max_num_batched_tokens or (max_model_len + 49 if max_model_len > 1 else TGI_DEFAULT_PREFILL_TOKENS)
        return ProfilingBatch(tokens, max_num_seqs or 1, max_num_batched_tokens is None)
    big = big_gpu_defaults(memory_gib, gpu_name, version)
    default_tokens, default_seqs = (LLM_CLASS_DEFAULTS if offline else API_SERVER_DEFAULTS)[big]
    if performance_mode == "throughput" and (version is None or release(version) >= PERFORMANCE_MODE_SINCE):
        default_tokens, default_seqs = default_tokens * THROUGHPUT_MODE_FACTOR, default_seqs * THROUGHPUT_MODE_FACTOR
    seqs = max_num_seqs or default_seqs
    if max_num_batched_tokens is not None:
        tokens = max_num_batched_tokens
    else:
        tokens = max(max_model_len, default_tokens) if chunked_prefill is False else default_tokens
        tokens = min(seqs * max_model_len, tokens)
    if max_num_seqs is None:
        seqs = min(seqs, tokens)
    return ProfilingBatch(tokens, seqs, max_num_batched_tokens is None or max_num_seqs is None)


# --------------------------------------------------------------------------- activation peak


def _moe_intermediate(spec: ModelSpec) -> int:
    own = spec.experts.intermediate_size if spec.experts is not None else None
    return int(own or spec.intermediate_size or 4 * spec.hidden_size)


def local_experts(total: int, expert_ranks: int) -> int:
    """Routed experts the busiest rank holds under expert parallelism: vllm/model_executor/layers/
    fused_moe/layer.py `determine_expert_map` (v0.10 … v0.19) gives every rank total // ranks and
    one more to the first total % ranks ranks; the rank with one more binds."""
    return -(-total // max(1, expert_ranks))


def moe_width_parallel(tensor_parallel: int, data_parallel: int = 1, expert_parallel: bool = False) -> int:
    """How many ways each routed expert's width is split (the fused-MoE layer's own `tp_size`).

    vllm/model_executor/layers/fused_moe/config.py `FusedMoEParallelConfig.make` (v0.10 … v0.19):
    the MoE flattens TP across DP (tp_size = DP × TP); with `--enable-expert-parallel` and more than
    one such rank, "each device owns a set of experts fully": tp_size 1, ep_size = DP × TP, and the
    layer's `intermediate_size_per_partition` is the whole expert width. So under EP the fused-MoE
    caches and workspaces are as wide as one whole expert, not a 1/TP slice of it."""
    ranks = max(1, tensor_parallel) * max(1, data_parallel)
    return 1 if expert_parallel and ranks > 1 else ranks


def forward_peak_bytes(spec: ModelSpec, tokens: int, tensor_parallel: int, act_bytes: float,
                       mlp_live: int = MLP_LIVE, moe_tensor_parallel: int | None = None,
                       mlp_held_hidden: int = 0, down_step: tuple[int, int] | None = None) -> float:
    """Torch peak of one forward pass over `tokens` tokens (weights excluded), per GPU.

    vLLM keeps the residual and the normed hidden state ([tokens, hidden] each) alive through a
    layer; on top of them the widest intermediate: the attention's q/k/v and output
    ([tokens, (heads + 2·kv_heads)·head_dim / TP] + [tokens, heads·head_dim / TP]), the dense MLP's
    ([tokens, mlp_live·intermediate / TP]), or the fused MoE's caches
    ([tokens·top_k, mlp_live·expert_intermediate / MoE TP + hidden], vllm/model_executor/layers/fused_moe
    `fused_experts` intermediate_cache1..3). `mlp_live` is the accounting's (V1 4, V0 3). The
    routed experts' width is split `moe_tensor_parallel` ways (`moe_width_parallel`: 1 under expert
    parallelism, where every rank computes whole experts for all top-k slots — the caches are sized
    [tokens, top_k, 2·intermediate] whatever experts are local); None: as the attention's TP.
    `mlp_held_hidden` more [tokens, hidden] tensors are live at the dense MLP's peak (the V0
    engine's eager layer: its input and the down projection's output, `V0_MLP_HELD_HIDDEN`).
    `down_step` (intermediates, hidden): the [tokens, intermediate / TP] and [tokens, hidden] tensors
    live while a dense MLP's down projection is all-reduced, on top of the two every layer keeps,
    where that step can be the peak (`v0_down_projection_step`); None: not modelled apart.
    """
    tp = max(1, tensor_parallel)
    moe_tp = max(1, moe_tensor_parallel) if moe_tensor_parallel is not None else tp
    h = spec.hidden_size
    attn = ((spec.attention_heads + 2 * max(1, spec.kv_heads)) * spec.head_dim + spec.attention_heads * spec.head_dim) / tp
    widest = attn
    if spec.intermediate_size:
        widest = max(widest, mlp_live * spec.intermediate_size / tp + mlp_held_hidden * h)
        if down_step is not None:
            widest = max(widest, down_step[0] * spec.intermediate_size / tp + down_step[1] * h)
    if spec.experts is not None:
        e = spec.experts
        widest = max(widest, e.active * (mlp_live * _moe_intermediate(spec) / moe_tp + h))
        if e.shared:  # shared experts run as one dense MLP beside the routed ones
            widest = max(widest, mlp_live * e.shared * (e.shared_intermediate_size or _moe_intermediate(spec)) / tp)
    return tokens * (2 * h + widest) * act_bytes


def sampler_bytes_per_logit(accounting: Accounting, flashinfer_sampler: bool | None = None) -> float:
    """fp32 bytes per logit the profiling sampler run holds at its peak.

    The accounting's own figure is that of PyTorch's top-k/top-p sampler, a full-vocabulary sort
    up to 0.16. With FlashInfer's top-k/top-p sampler the sort goes away:
    vllm/v1/sample/ops/topk_topp_sampler.py `TopKTopPSampler.__init__` picks `forward_cuda`
    ("Using FlashInfer for top-p & top-k sampling."), and `flashinfer_sample` calls
    `flashinfer.sampling.top_k_top_p_sampling_from_logits` on the fp32 logits — a rejection sampler
    that "avoids sorting the logits tensor": a masked copy and the probabilities (v0.11.0:
    bf16 logits, their fp32 copy, the masked copy and the probabilities, 2 + 12 B), the sort-free
    sampler's `SORT_FREE_SAMPLER_BYTES`. `flashinfer_sampler` True says the server uses it, False
    that it does not; None is the install's default, which the caller resolves
    (`flashinfer_sampler_by_default`). From 0.17 every sampler is sort-free, so the flag changes
    nothing there.
    """
    base = accounting.sampler_fp32_bytes_per_logit
    if base and flashinfer_sampler:
        return min(base, SORT_FREE_SAMPLER_BYTES)
    return base


# V1's sampler uses FlashInfer's top-k/top-p kernel by default wherever FlashInfer is installed, from
# the first release that runs V1 by default (0.8.0) to 0.11.0; from 0.11.1 the kernel is opt-in.
# vllm/v1/sample/ops/topk_topp_sampler.py `TopKTopPSampler.__init__`:
#   v0.8.0, v0.8.5: FlashInfer unless VLLM_USE_FLASHINFER_SAMPLER is False ("In V0, None means False,
#     while in V1, None means True"), except FlashInfer >= 0.2.3 ("not backward compatible"); the image
#     installs 0.2.1.post2 (Dockerfile / docker/Dockerfile: flashinfer_python-0.2.1.post2+cu124torch2.6).
#   v0.9.0.1, v0.10.0, v0.11.0: the same default, now requiring FlashInfer >= 0.2.3; the image installs
#     0.2.5 (0.9.0.1), v0.2.8rc1 (0.10.0), v0.3.1 (0.11.0, docker/Dockerfile FLASHINFER_GIT_REF).
#   v0.11.1: `if envs.VLLM_USE_FLASHINFER_SAMPLER:` — "Users must opt in explicitly"
#     (vllm-project/vllm#26859, "Disable FlashInfer sampler by default", opened 2025-10-15).
# The PyPI wheel up to 0.11.0 does not install FlashInfer (requirements/cuda.txt lists none; it is
# setup.py's "flashinfer" extra, v0.11.0): a pip install logs "FlashInfer is not available. Falling
# back to the PyTorch-native implementation" and sorts. 0.11.1's wheel requires flashinfer-python
# 0.5.2, but the kernel is opt-in by then.
FLASHINFER_SAMPLER_DEFAULT_SINCE = (0, 8, 0)
FLASHINFER_SAMPLER_OPT_IN_SINCE = (0, 11, 1)


def flashinfer_sampler_by_default(accounting: Accounting, version: tuple[int, ...] | None,
                                  pip_install: bool = False) -> bool:
    """Whether a vLLM server that does not set VLLM_USE_FLASHINFER_SAMPLER samples with FlashInfer's
    sort-free kernel: the V1 engine of the vllm-openai image from 0.8.0 to 0.11.0 does
    (`FLASHINFER_SAMPLER_DEFAULT_SINCE`, `FLASHINFER_SAMPLER_OPT_IN_SINCE`); a `pip_install` of those
    releases does not (its wheel has no FlashInfer); V0 does not ("In V0, None means False"), and
    from 0.11.1 nothing does unless told to. An unpinned version is the newest (opt-in). Fit row
    `llmd-v0.11-mistral-small-3.2-24b` (the vllm/vllm-openai:v0.11.0 image, H100, 1,024 sequences
    of Mistral Small's 131,072 logits): 2.12 GiB of activation, the sort-free sampler's 1.86 GiB plus
    the forward's output and the multimodal batch, where the sort would take 4.8 GiB."""
    if accounting.runtime != "vllm" or accounting.engine != "v1" or version is None or pip_install:
        return False
    return FLASHINFER_SAMPLER_DEFAULT_SINCE <= release(version) < FLASHINFER_SAMPLER_OPT_IN_SINCE


# Model Runner V2's profiling sampler run (vllm/v1/worker/gpu/model_runner.py `_dummy_sampler_run`:
# "During the initial memory profiling, the sampler may skip top_k, top_p, and logprobs, using less
# GPU memory than what is possible during actual execution") samples a dummy batch whose requests
# ask for no top-k/top-p, penalties or logprobs: vllm/v1/worker/gpu/sample/sampler.py
# `Sampler.sample` copies the logits to fp32 ("Copy logits to a new FP32 tensor") and draws with
# `gumbel_sample`, a Triton kernel that keeps per-block maxima only. So 4 B per logit beside the
# logits, not V1's 12.9 (`SORT_FREE_SAMPLER_BYTES`). Later releases skip even the copy when no
# request needs logits processing (`Sampler._requires_logits_processing`); which release first
# did was not read, so the copy is kept: at most 4 B per logit too many (0.09 GiB for 256 requests
# over Qwen2's 152,064 tokens).
MRV2_SAMPLER_BYTES = 4.0


def sampler_peak_bytes(spec: ModelSpec, requests: int, accounting: Accounting, act_bytes: float,
                       flashinfer_sampler: bool | None = None, model_runner_v2: bool = False) -> float:
    """Peak of the profiling sampler run: `requests` rows of logits over the whole vocabulary (the
    LM head's output is gathered to every TP rank), in the model dtype plus the sampler's fp32 work
    (Model Runner V2's: `MRV2_SAMPLER_BYTES`)."""
    per_logit = MRV2_SAMPLER_BYTES if model_runner_v2 else sampler_bytes_per_logit(accounting, flashinfer_sampler)
    if not per_logit:
        return 0.0
    return requests * spec.vocab_size * (per_logit + act_bytes)


FUSED_MOE_CHUNK_SIZE = 16 * 1024  # vllm/envs.py VLLM_FUSED_MOE_CHUNK_SIZE default: tokens per MoE chunk


def triton_moe_experts(spec: ModelSpec, quantization: str | None = None) -> bool:
    """Whether the routed experts run through vLLM's Triton fused-MoE experts (`TritonExperts`),
    whose workspaces are the ones `moe_workspace_bytes` sizes: checkpoints with 16-bit experts and
    no runtime `--quantization`. Quantized experts pick other kernels (Marlin, CUTLASS, DeepGEMM,
    FlashInfer; MXFP4 on Hopper runs triton_kernels' matmul_ogs, which allocates per call: the
    v0.19.0 H100 gpt-oss-20b fit row measures no workspace on top of its sampler run), whose
    workspaces were not read; they are left out."""
    return spec.experts is not None and spec.quantization is None and quantization is None


def moe_workspace_bytes(spec: ModelSpec, tokens: int, tensor_parallel: int, act_bytes: float) -> float:
    """The fused-MoE workspace one GPU keeps allocated once a forward pass has run.

    vllm/model_executor/layers/fused_moe/modular_kernel.py `FusedMoEModularKernel._allocate_buffers`
    (v0.19) takes the experts' workspaces from the worker's shared `WorkspaceManager`
    (vllm/v1/worker/workspace.py `current_workspace_manager().get_simultaneous`): one persistent
    buffer every MoE layer reuses and that is not freed after the forward — so the profiling
    sampler run, which follows the forward, peaks on top of it. Its size is
    `TritonExperts.workspace_shapes` (fused_moe.py): workspace13 [M, top_k, max(N/2, K)] (the fused
    output [M, K] shares it) and workspace2 [M, top_k, max(N, K)], with M the tokens of one chunk
    (at most VLLM_FUSED_MOE_CHUNK_SIZE), N = 2 × expert width ÷ the MoE's TP (gate and up; the
    whole width under expert parallelism: pass `moe_width_parallel`), K = hidden, in the
    activation dtype. Fit rows (v0.19.0, H100, 8,192 tokens, activation peak observed − llmkube
    before this term): Qwen3-30B-A3B 0.49 GiB (this term 0.50), DeepSeek-V2-Lite 0.44 (0.45),
    Qwen1.5-MoE-A2.7B 0.28 (0.30), Llama-4-Scout at TP 4 0.24 (0.16); nothing was fitted.
    """
    e = spec.experts
    if e is None:
        return 0.0
    m = min(tokens, FUSED_MOE_CHUNK_SIZE)
    n = 2 * -(-_moe_intermediate(spec) // max(1, tensor_parallel))
    k = spec.hidden_size
    return float(m * e.active * (max(n // 2, k) + max(n, k)) * act_bytes)


@record(frozen=True)
class VisionItem:
    """The largest image a vision-language model's processor builds, as vLLM profiles it."""

    side: int  # pixels per side (3 channels), as the processor resizes it
    tokens: int  # rows the encoder and projector return for it, each the language model's hidden width
    # Copies of each pixel in the pixel values (Qwen-VL stacks an image temporal_patch_size = 2 times)
    frames: int = 1
    area: int | None = None  # pixels when the image is not side × side (None: side²)
    # The vision tower's own forward peak, when it can exceed what the profile run keeps (`encoder_peak_bytes`):
    # patches it runs over, its width and its MLP's live width per patch (intermediate columns).
    patches: int = 0
    tower_width: int = 0
    tower_mlp_live: int = 0
    modality: str = "image"  # the modality vLLM profiles with it ("video": Qwen-VL's dummy video)

    @property
    def pixel_values(self) -> int:
        """Values in the processor's pixel tensor for this image (3 channels × frames × pixels)."""
        return 3 * self.frames * (self.area if self.area is not None else self.side ** 2)


# Vision towers whose profiling item llmkube knows, by the profile's architecture (a profile with
# `visionParametersB` loads its tower; the same architecture without it is text-only). Shapes from
# the checkpoints' config.json (tests/data/hf-configs): Gemma 3's SigLIP takes one 896-pixel image
# (vision_config.image_size) to mm_tokens_per_image = 256 rows (vllm/model_executor/models/gemma3_mm.py
# `Gemma3ProcessingInfo.get_image_size_with_most_features`, pan-and-scan off by default, v0.19.0);
# Mistral 3's Pixtral takes a 1540-pixel image (vision_config.image_size) in 14-pixel patches merged
# 2 × 2 (spatial_merge_size): (1540 / 28)² = 3,025 rows (models/pixtral.py
# `PixtralHFEncoderInfo.get_num_image_tokens`, models/mistral3.py `_process_image_input`, v0.19.0).
# Llama 4's tiled images are not read: not modelled.
_VISION_ITEMS = {"gemma3": VisionItem(896, 256), "mistral": VisionItem(1540, (1540 // (14 * 2)) ** 2)}
# Encoder outputs padded to the encoder budget in the profile run only from v0.11.0 to v0.12.x (see `mm_profile_bytes`)
MM_EXPANDED_SINCE = (0, 11, 0)
MM_UNEXPANDED_SINCE = (0, 13, 0)


# Qwen2-VL / Qwen2.5-VL (imported as architecture "qwen2" with `visionParametersB`: no other qwen2
# profile loads a tower). Their processor resizes an image to multiples of patch × merge = 28 pixels
# within [min_pixels, max_pixels] (transformers image_processing_qwen2_vl.py `smart_resize`); the
# checkpoints' preprocessor_config.json (Qwen/Qwen2-VL-*-Instruct, Qwen/Qwen2.5-VL-*-Instruct) set
# max_pixels = 12,845,056 = 16,384 × 28², so vLLM's dummy image is 3,584 × 3,584 pixels: 256 × 256
# patches of 14, 65,536 patches merged 2 × 2 into 16,384 rows. `--mm-processor-kwargs
# '{"max_pixels": N}'` lowers it (the processor kwargs are merged into the processor vLLM builds).
QWEN_VL_MAX_PIXELS = 12_845_056
QWEN_VL_UNIT = 28  # patch_size 14 × spatial_merge_size 2 (every Qwen2-VL / Qwen2.5-VL config)
# vllm-project/vllm#29692 (merged 2025-11-28, first in v0.13.0): the dummy image factorises
# max_pixels ÷ 28² rows into the pair of factors closest to square (aspect ≤ 200) instead of
# resizing a huge square; before, the square's side is floor(√max_pixels ÷ 28) × 28.
QWEN_VL_FACTORED_SINCE = (0, 13, 0)
# The Qwen-VL tower (vision_config of every size: 32 blocks of width 1280; Qwen2-VL's MLP is fc1 to
# 5,120 then QuickGELU, Qwen2.5-VL's gate_up to 2 × 3,420 then SiLU-and-mul to 3,420). At an MLP
# the block holds the residual stream, the normed input, the MLP's input-side output and its
# activation: 1,280 + 1,280 + 5,120 + 5,120 = 12,800 (Qwen2-VL) or 1,280 + 1,280 + 6,840 + 3,420
# = 12,820 values per patch (Qwen2.5-VL; the 32B/72B towers' 3,456 columns add < 1 %).
QWEN_VL_TOWER_WIDTH = 1280
QWEN_VL_TOWER_MLP_LIVE = 6840 + 3420
# Before v0.11 a block's attention binds instead (models/qwen2_vl.py / qwen2_5_vl.py
# `Qwen2VisionAttention.forward` then: q, k and v made contiguous beside the qkv output, and each of
# q and k rotated by `apply_rotary_pos_emb_vision`, which copies it to fp32 (`t.float()`), rotates
# into a second fp32 tensor and casts back): beside the residual stream and the normed input,
# 3 × 1,280 (qkv) + 3 × 1,280 (contiguous q, k, v) + 2 × 2,560 (two fp32 copies of q) + 1,280 (the
# cast) = 14,080 values per patch, against the MLP's 12,820 (with the two 1,280-wide ones).
QWEN_VL_ATTENTION_LIVE_BEFORE = 3 * 1280 + 3 * 1280 + 2 * 2 * 1280 + 1280
# v0.11.0 rotates q and k together (vllm-project/vllm#24511, "Fused Q,K's apply_rope into one",
# merged 2025-09, first released in 0.11.0) but still makes q, k and v contiguous (removed by
# vllm-project/vllm#27106, merged 2025-10-18, after 0.11.0): `Qwen2_5_VisionAttention.forward`
# holds the qkv output (3 × 1,280), the contiguous q, k, v (3 × 1,280), their concatenation
# `qk_concat` (2 × 1,280), and `apply_rotary_pos_emb_vision` (models/qwen2_vl.py) copies that to
# fp32 (`t.float()`, 2 × 2 × 1,280 in bf16 units), rotates it out of place into a second fp32
# tensor (vllm_flash_attn's `apply_rotary_emb`, same size) and casts it back (`type_as`,
# 2 × 1,280): 23,040 values per patch beside the residual stream and the normed input, nearly
# twice the pre-0.11 figure, because q and k are now in flight together.
QWEN_VL_ATTENTION_LIVE_QK_CONCAT = 3 * 1280 + 3 * 1280 + 2 * 1280 + 2 * 2 * 2 * 1280 + 2 * 1280
QWEN_VL_QK_CONCAT_SINCE = (0, 11, 0)
# From v0.11.1 (the form read there, not checked release by release) the MLP binds.
QWEN_VL_FUSED_ROTARY_SINCE = (0, 11, 1)


def qwen_vl_attention_live(version: tuple[int, ...] | None) -> int:
    """Values per patch the Qwen-VL tower's attention holds at its peak, beside the residual stream
    and the normed input, for a vLLM version (None: the newest form, where the MLP binds: 0)."""
    if version is None or release(version) >= QWEN_VL_FUSED_ROTARY_SINCE:
        return 0
    if release(version) >= QWEN_VL_QK_CONCAT_SINCE:
        return QWEN_VL_ATTENTION_LIVE_QK_CONCAT
    return QWEN_VL_ATTENTION_LIVE_BEFORE


def qwen_vl_item(max_pixels: int | None = None, version: tuple[int, ...] | None = None) -> VisionItem:
    """Qwen2-VL / Qwen2.5-VL's profiling image for a processor max_pixels (None: the checkpoints'
    12,845,056), as vllm/model_executor/models/qwen2_vl.py `Qwen2VLProcessingInfo.get_image_size_with_most_features`
    builds it (qwen2_5_vl.py reuses it): a square of floor(√max_pixels ÷ 28) units per side up to
    v0.12 (`_get_vision_info` on a 9,999,999-pixel square, v0.11.0), the closest-to-square factor
    pair of max_pixels ÷ 28² units from v0.13.0 (`closest_factor_pair`). Each unit is one row out of
    the merger and 2 × 2 patches in the tower; the pixel values are [patches, 3 × 2 × 14²]
    (the image repeated to temporal_patch_size = 2 frames)."""
    pixels = QWEN_VL_MAX_PIXELS if max_pixels is None else max_pixels
    limit = max(1, pixels // QWEN_VL_UNIT ** 2)
    if version is not None and release(version) < QWEN_VL_FACTORED_SINCE:
        units = max(1, math.isqrt(pixels) // QWEN_VL_UNIT)
        h = w = units
    else:
        h, w = 1, limit
        for n in range(limit, 0, -1):
            h = next(d for d in range(math.isqrt(n), 0, -1) if n % d == 0)
            w = n // h
            if w / h <= 200:
                break
    rows = h * w
    return VisionItem(side=h * QWEN_VL_UNIT, tokens=rows, frames=2, area=rows * QWEN_VL_UNIT ** 2,
                      patches=4 * rows, tower_width=QWEN_VL_TOWER_WIDTH, tower_mlp_live=QWEN_VL_TOWER_MLP_LIVE)


QWEN_VL_MAX_FRAMES = 14  # models/qwen2_vl.py `_MAX_FRAMES_PER_VIDEO` ("For profile run"), v0.11.0 … v0.23


def qwen_vl_video(image: VisionItem, max_model_len: int) -> VisionItem:
    """Qwen-VL's dummy video: frames of the dummy image, as many as one video of max_model_len
    tokens holds, at most 14 (models/qwen2_vl.py `get_num_frames_with_most_features` with one
    video per prompt: vLLM asks each modality's largest item with mm_counts {modality: 1},
    multimodal/registry.py `get_max_tokens_per_item_by_modality`, v0.8 … v0.23). Frames go in
    pairs (temporal_patch_size 2, an odd count padded): min(7, max(1, max_model_len ÷ image rows))
    pairs, each pair the image's rows and patches."""
    pairs = min(QWEN_VL_MAX_FRAMES // 2, max(1, max_model_len // image.tokens))
    return dataclasses.replace(image, tokens=pairs * image.tokens, frames=2 * pairs, patches=pairs * image.patches,
                               modality="video")


def vision_item(spec: ModelSpec, max_pixels: int | None = None,
                version: tuple[int, ...] | None = None, max_model_len: int | None = None,
                image_limit: int | None = None, video_limit: int | None = None) -> VisionItem | None:
    """The item vLLM profiles a model's vision tower with; None when text-only, unknown, or every
    modality's --limit-mm-per-prompt is 0. `max_pixels`: the processor's max_pixels
    (--mm-processor-kwargs), for the towers that read it. Qwen-VL also takes videos: vLLM profiles
    the modality whose largest item has the most tokens, the image on a tie (v1/worker/utils.py
    `MultiModalBudget.get_modality_with_max_tokens`, `max` over {"image", "video"}, v0.11.0;
    multimodal/encoder_budget.py, v0.19.0), so from max_model_len = twice the image's rows (32,768
    by default) a video of 2-14 frames (`qwen_vl_video`); a limit of 0 drops its modality."""
    if not spec.vision_parameters_b:
        return None
    if spec.architecture == "qwen2":
        image = qwen_vl_item(max_pixels, version)
        video = qwen_vl_video(image, max_model_len if max_model_len is not None else image.tokens)
        candidates = [item for item, limit in ((image, image_limit), (video, video_limit)) if limit != 0]
        return max(candidates, key=lambda item: item.tokens) if candidates else None
    return None if image_limit == 0 else _VISION_ITEMS.get(spec.architecture)


# How V1 counts the dummy encoder batch changed twice (vllm/v1/worker/gpu_model_runner.py `profile_run`):
# up to 0.9.2 (read at v0.8.0, v0.8.5, v0.9.0.1, v0.9.2) items = min(cdiv(budget, rows), max_num_seqs ×
# the modality's limit), rounding up; v0.10.0 rounds down (`encoder_budget // max_tokens_per_mm_item`,
# at least 1); from v0.10.1 (v1/worker/utils.py `MultiModalBudget.get_max_items`, v0.10.1.1, v0.10.2,
# v0.11.0) a prompt also holds at most max_model_len ÷ rows items.
MM_ITEMS_FLOORED_SINCE = (0, 10, 0)
MM_ITEMS_PER_PROMPT_BY_LENGTH_SINCE = (0, 10, 1)


def mm_profiled_items(item: VisionItem, batch: ProfilingBatch, max_model_len: int,
                      limit_per_prompt: int | None = None, version: tuple[int, ...] | None = None) -> int:
    """Images in V1's dummy encoder batch: the encoder budget, max(max_num_batched_tokens, rows per
    item) (v1/core/encoder_cache_manager.py `compute_mm_encoder_budget`), divided by the rows per
    item, at most max_num_seqs × the items one prompt holds, min(--limit-mm-per-prompt, max_model_len
    ÷ rows) and at least 1 (vllm/multimodal/encoder_budget.py `MultiModalBudget._get_max_items`,
    v0.19.0; v1/worker/utils.py, v0.11.0). A limit of 0 loads no tower and profiles nothing
    (models/qwen2_vl.py builds `visual` only when a modality's limit is non-zero). `limit_per_prompt`
    None: vLLM's default, 999 per modality. Before 0.10.1 a prompt's share is the limit alone, and
    before 0.10.0 the budget's quotient rounds up (`MM_ITEMS_FLOORED_SINCE`): Mistral 3's 3,025-row
    image fills an 8,192-token budget three times on 0.9, twice from 0.10."""
    if limit_per_prompt is not None and limit_per_prompt <= 0:
        return 0
    limit = 999 if limit_per_prompt is None else limit_per_prompt
    budget = max(batch.tokens, item.tokens)
    old = version is not None and release(version) < MM_ITEMS_PER_PROMPT_BY_LENGTH_SINCE
    per_prompt = limit if old else max(1, min(limit, max_model_len // item.tokens))
    if version is not None and release(version) < MM_ITEMS_FLOORED_SINCE:
        return min(-(-budget // item.tokens), batch.seqs * per_prompt)
    return max(1, min(budget // item.tokens, batch.seqs * per_prompt))


def _profiled_batch(spec: ModelSpec, batch: ProfilingBatch, max_model_len: int, version: tuple[int, ...] | None,
                    image_limit: int | None, max_pixels: int | None, video_limit: int | None) -> tuple[VisionItem, int] | None:
    """(the item, how many of it) in V1's dummy encoder batch, each modality counted against its own
    --limit-mm-per-prompt; None when nothing is profiled (`vision_item`)."""
    item = vision_item(spec, max_pixels, version, max_model_len, image_limit, video_limit)
    if item is None:
        return None
    return item, mm_profiled_items(item, batch, max_model_len, video_limit if item.modality == "video" else image_limit,
                                   version)


def encoder_peak_bytes(spec: ModelSpec, batch: ProfilingBatch, max_model_len: int, act_bytes: float,
                       tensor_parallel: int = 1, version: tuple[int, ...] | None = None,
                       limit_per_prompt: int | None = None, max_pixels: int | None = None,
                       video_limit: int | None = None) -> float:
    """The vision tower's own forward peak in V1's `profile_run`, per GPU, for the towers whose
    shape llmkube knows (Qwen2-VL / Qwen2.5-VL: `qwen_vl_item`); 0 otherwise.

    `profile_run` runs `get_multimodal_embeddings` on the dummy batch before the language model's
    dummy forward (vllm/v1/worker/gpu_model_runner.py, v0.11.0 … v0.19.0); the tower runs eagerly
    over every patch of the batch at once. Its peak is inside a block's MLP: the residual stream and
    the normed input at the tower's width, the MLP's up projection and its activation, split over TP
    (ColumnParallelLinear; models/qwen2_vl.py `Qwen2VisionMLP`, qwen2_5_vl.py `Qwen2_5_VisionMLP`),
    plus the pixel values, all in the model dtype; up to v0.11.0 the attention's fp32 rotary copies
    bind instead (`qwen_vl_attention_live`: q and k one after the other before v0.11, together in
    v0.11.0; split over TP the same way). For Qwen-VL's 3,584-pixel dummy image that is 65,536
    patches × (2 × 1,280 + 10,260 + 1,176) values ≈ 1.7 GiB in bf16 (≈ 2.2 GiB before v0.11,
    ≈ 3.3 GiB in v0.11.0), more than the ~0.26 GiB the profile run keeps (`mm_profile_bytes`), so the activation peak is the larger of this and the language model's
    forward plus what is kept."""
    profiled = _profiled_batch(spec, batch, max_model_len, version, limit_per_prompt, max_pixels, video_limit)
    if profiled is None or not profiled[0].patches:
        return 0.0
    item, items = profiled
    live = max(item.tower_mlp_live, qwen_vl_attention_live(version))
    per_patch = 2 * item.tower_width + -(-live // max(1, tensor_parallel))
    return float(items * (item.patches * per_patch + item.pixel_values) * act_bytes)


def mm_profile_bytes(spec: ModelSpec, batch: ProfilingBatch, max_model_len: int, act_bytes: float,
                     version: tuple[int, ...] | None = None, limit_per_prompt: int | None = None,
                     max_pixels: int | None = None, video_limit: int | None = None) -> float:
    """What the multimodal part of V1's `profile_run` keeps allocated through the forward pass and
    the sampler run, per GPU.

    vllm/v1/worker/gpu_model_runner.py `GPUModelRunner.profile_run` (v0.8.0 … v0.19.0) first runs
    the vision encoder on a dummy batch of `max_mm_items_per_batch` images of the largest size and
    stores the outputs in `encoder_cache` (cleared only after `_dummy_sampler_run`); the batch of
    pixel values stays referenced by the same frame (`batched_dummy_mm_inputs`). Both are therefore
    live at the forward's and the sampler's peaks:
    - pixel values: items × 3 × frames × pixels in the model dtype (the processor output is cast to it:
      vllm/multimodal/processing/context.py `InputProcessingContext._postprocess_output`, v0.19.0;
      multimodal/processing.py, v0.11.0; inputs/registry.py, v0.10.0). Up to 0.9.x the processor
      kept float32 (vllm-project/vllm#18862 moved the cast into it) but `profile_run` cast the
      batch before moving it to the GPU (multimodal/inputs.py `MultiModalKwargs.as_kwargs(...,
      dtype=self.model_config.dtype)`: "Cast the dtype before sending it to device", v0.9.0.1),
      so the GPU copy is in the model dtype there too;
    - encoder outputs: items × rows × hidden. In v0.11.0 and v0.12.0 each output shorter than the
      encoder budget is copied into a zero-padded [budget, hidden] tensor (`expanded_outputs`;
      `MM_EXPANDED_SINCE` … `MM_UNEXPANDED_SINCE`); before (v0.8.0 … v0.10.2) and from v0.13.0 the
      outputs are stored as they are (`encoder_cache["tmp"]`, `encoder_cache[f"tmp_{i}"]`).
    Items: `mm_profiled_items` (`limit_per_prompt` / `video_limit`: --limit-mm-per-prompt of images
    and videos). Zero for text-only models and towers llmkube does not know (`vision_item`;
    `max_pixels`: the processor's, from --mm-processor-kwargs, for the towers that read it).
    """
    profiled = _profiled_batch(spec, batch, max_model_len, version, limit_per_prompt, max_pixels, video_limit)
    if profiled is None:
        return 0.0
    item, items = profiled
    budget = max(batch.tokens, item.tokens)
    rows = item.tokens
    if version is not None and MM_EXPANDED_SINCE <= release(version) < MM_UNEXPANDED_SINCE:
        rows = max(rows, budget)
    return float(items * (item.pixel_values + rows * spec.hidden_size) * act_bytes)


def dense_mlp_held_hidden(spec: ModelSpec, accounting: Accounting, version: tuple[int, ...] | None = None) -> int:
    """[tokens, hidden] tensors held at the dense MLP's peak beyond the two every layer keeps: the V0
    engine's eager layer holds two (`V0_MLP_HELD_HIDDEN`), one for the models that run vLLM's
    `LlamaMLP` from 0.6.5 (`LLAMA_MLP_ARCHITECTURES`, vllm-project/vllm#10339: gate_up freed before
    down_proj); V1's compiled forward is covered by its fitted `MLP_LIVE` (the accounting's 0)."""
    if (accounting.engine == "v0" and spec.architecture in LLAMA_MLP_ARCHITECTURES
            and version is not None and release(version) >= LLAMA_MLP_FREES_GATE_UP_SINCE):
        return min(accounting.mlp_held_hidden, LLAMA_MLP_HELD_HIDDEN)
    return accounting.mlp_held_hidden


def v0_down_projection_step(spec: ModelSpec, accounting: Accounting, version: tuple[int, ...] | None,
                            tensor_parallel: int) -> tuple[int, int] | None:
    """What the V0 engine's eager dense MLP holds while its down projection is all-reduced out of place
    (`V0_ALL_REDUCE_OUT_OF_PLACE_SINCE`, TP >= 2): (intermediates, hidden) beyond the residual and the
    normed state every layer keeps. The hidden ones are the layer's input (`V0_MLP_HELD_HIDDEN`),
    down_proj's `output_parallel` and the all-reduce's new output: 3. The intermediates: gate_up and
    the activation (3) where the MLP keeps its `gate_up` name (Qwen2MLP and the rest: the step is then
    the MLP's peak, 3·I/TP + 3·h), the activation alone (1) for vLLM's `LlamaMLP` from 0.6.5, which
    frees gate_up first (vllm-project/vllm#10339, `dense_mlp_held_hidden`: its peak stays the
    activation's step unless I/TP < h). None — nothing apart — at TP 1 (no all-reduce), on V1, before
    0.6.5, for MoE models (the fused experts' caches are freed before their all-reduce; not modelled
    here) and without a dense MLP.
    Check on the two V0 0.7 TP 2 fit rows whose forward is the peak (Qwen2.5, which keeps gate_up):
    gh-distagentgc-qwen2.5-14b-tp2-40gb-v072 reads 2.84 GiB (32,768 tokens: 4·h + 3·I/2 gives 2.52,
    5·h + 3·I/2 2.83) and vllm-i12663-qwen2.5-32b-2x48gb-v07 1.54 (12,288 tokens: 1.42 + 0.12 = 1.54;
    the sampler's 1.51 was the modelled peak). Nothing fitted.
    """
    if (tensor_parallel < 2 or accounting.engine != "v0" or version is None
            or release(version) < V0_ALL_REDUCE_OUT_OF_PLACE_SINCE
            or spec.experts is not None or not spec.intermediate_size):
        return None
    held = dense_mlp_held_hidden(spec, accounting, version)
    intermediates = 1 if held == LLAMA_MLP_HELD_HIDDEN else accounting.mlp_live
    return intermediates, V0_MLP_HELD_HIDDEN + 1


def activation_bytes(spec: ModelSpec, accounting: Accounting, batch: ProfilingBatch, tensor_parallel: int,
                     act_bytes: float, first_stage: bool = True, last_stage: bool = True,
                     flashinfer_sampler: bool | None = None, persistent_bytes: float = 0.0,
                     eager: bool = False, held_bytes: float = 0.0,
                     moe_tensor_parallel: int | None = None, mlp_held_hidden: int | None = None,
                     model_runner_v2: bool = False, down_step: tuple[int, int] | None = None) -> float:
    """The torch activation peak `profile_run` measures on one GPU of one pipeline stage.

    The forward pass and the sampler run one after the other, so the peak is the larger of the
    two; while sampling, profile_run still holds the forward's output ([tokens, hidden]) and any
    `persistent_bytes` the forward left allocated (the fused-MoE workspace, `moe_workspace_bytes`;
    during the forward the same bytes are the MoE intermediates `forward_peak_bytes` counts). Stages
    after the first also hold the intermediate tensors received from the previous stage (hidden
    state and residual, [tokens, hidden] each); only the last stage samples. `eager` (vLLM's
    --enforce-eager) runs the forward without torch.compile: the eager MLP peak (`EAGER_MLP_LIVE`).
    `held_bytes` stay allocated through both the forward and the sampler run (the multimodal
    profiling batch, `mm_profile_bytes`). `moe_tensor_parallel`: how many ways the routed experts'
    width is split (`moe_width_parallel`; None: `tensor_parallel`). `mlp_held_hidden`: the
    [tokens, hidden] tensors held at the dense MLP's peak (`dense_mlp_held_hidden`; None: the
    accounting's). `model_runner_v2`: the profile run of vLLM's Model Runner V2, the same forward
    and a lighter sampler run (`MRV2_SAMPLER_BYTES`). `down_step`: the V0 down projection's
    out-of-place all-reduce step (`v0_down_projection_step`).
    """
    received = 0.0 if first_stage else 2 * batch.tokens * spec.hidden_size * act_bytes
    mlp_live = min(accounting.mlp_live, EAGER_MLP_LIVE) if eager else accounting.mlp_live
    peak = forward_peak_bytes(spec, batch.tokens, tensor_parallel, act_bytes, mlp_live, moe_tensor_parallel,
                              accounting.mlp_held_hidden if mlp_held_hidden is None else mlp_held_hidden,
                              down_step)
    if last_stage:
        sampling = sampler_peak_bytes(spec, min(batch.seqs, batch.tokens), accounting, act_bytes,
                                      flashinfer_sampler, model_runner_v2)
        if sampling:
            peak = max(peak, sampling + batch.tokens * spec.hidden_size * act_bytes + persistent_bytes)
    return peak + received + held_bytes


# Device-name fragments of the Hopper (SM 9.0) and Blackwell datacenter (SM 10.x) GPUs: the one
# table `compute_capability` reads them from.
_HOPPER_NAMES = ("h100", "h200", "h800", "h20", "gh200")
_BLACKWELL_NAMES = ("b200", "b100", "gb200", "b300", "gb300")
_BLACKWELL_ULTRA_NAMES = ("b300", "gb300")  # SM 10.3


def hopper_or_later(gpu_name: str) -> bool | None:
    """Whether the device name is a Hopper or Blackwell datacenter GPU; None when there is no name."""
    name = gpu_name.lower()
    if not name:
        return None
    return compute_capability(name) is not None


def nvswitch_hopper(gpu_name: str) -> bool | None:
    """Whether the device is an SXM Hopper/Blackwell part, the ones HGX systems wire through NVSwitch
    (NCCL's NVLink SHARP needs that switch); the PCIe and "NVL" cards are not. None without a name."""
    later = hopper_or_later(gpu_name)
    if later is None:
        return None
    name = gpu_name.lower()
    return later and "pcie" not in name and "nvl" not in name.replace("nvlink", "")


# GeForce cards: their driver reports no peer-to-peer access between cards over PCIe (an RTX 3090
# pair joined by an NVLink bridge is the exception, not modelled) — taken from user reports, not
# NVIDIA's documentation; the fit row in `non_torch_bytes` agrees — so NCCL gives their ranks its
# host-memory transport (`peer_to_peer`).
_GEFORCE_NAMES = ("geforce", "rtx 3090", "rtx-3090", "rtx 4090", "rtx-4090", "rtx 5090", "rtx-5090",
                  "rtx 3080", "rtx-3080", "rtx 4080", "rtx-4080")


def peer_to_peer(gpu_name: str) -> bool | None:
    """Whether the GPUs of one server reach each other's memory directly (CUDA peer access), the
    condition for NCCL's P2P transport; None when there is no name.

    NCCL picks the transport per pair of ranks (src/graph/paths.cc `ncclTopoCheckP2p`, NCCL 2.2x):
    P2P needs a PCIe path no farther than a host bridge *and* NVML's P2P read/write status OK for
    the pair — a GeForce driver reports it not supported, so `*p2p = 0` and NCCL falls back to its
    SHM transport, whose connection buffers are host memory (src/transport/shm.cc
    `ncclShmAllocateShareableBuffer`: `ncclCuMemHostAlloc` or a /dev/shm mapping), not device memory.
    vLLM's custom all-reduce, whose IPC buffers live on the GPU, needs P2P too
    (vllm/distributed/device_communicators/custom_all_reduce.py `CustomAllreduce.__init__`,
    v0.18.1: "Custom allreduce is disabled because your platform lacks GPU P2P capability",
    and "not supported on more than two PCIe-only GPUs" for TP > 2 without full NVLink).
    Datacenter and workstation cards (A10, L4, L40S, RTX A6000, RTX 6000 Ada, A100/H100 PCIe)
    support P2P over PCIe and are taken to have it (two cards behind different CPU sockets do not;
    the topology is not known here)."""
    name = gpu_name.lower()
    if not name:
        return None
    return not any(n in name for n in _GEFORCE_NAMES)


def _tp1_gib(accounting: Accounting, gpu_name: str, eager: bool = False) -> float:
    if eager and accounting.non_torch_tp1_eager_gib is not None:
        return eager_non_torch_gib(accounting.non_torch_tp1_eager_gib, gpu_name)
    other = accounting.non_torch_tp1_other_gib
    return other if other is not None and hopper_or_later(gpu_name) is False else accounting.non_torch_tp1_gib


def eager_non_torch_gib(figures: tuple[float, float], gpu_name: str) -> float:
    """The TP 1 non-torch figure of an --enforce-eager server (`EAGER_NON_TORCH_TP1_GIB`): the first
    on Hopper/Blackwell and on a GPU without a name, the second on other generations."""
    hopper, other = figures
    return other if hopper_or_later(gpu_name) is False else hopper


def non_torch_bytes(accounting: Accounting, tensor_parallel: int, pipeline_parallel: int,
                    gpu_name: str = "", tp_spans_nodes: bool = False, eager: bool = False,
                    version: tuple[int, ...] | None = None) -> float:
    """Memory outside torch that the engine counts (NCCL, cuBLAS; TGI also the CUDA context), per GPU.

    `non_torch_memory` is what CUDA reports in use minus torch's reservation (vllm/utils
    `MemorySnapshot`, v0.10 …), its increase over the profiling run is subtracted from the KV budget.
    Two of its parts depend on the GPU, not only on the engine:
    - at TP 1 the H100 rows read 0.13 GiB (0.25 from 0.18) and other generations much less
      (`NON_TORCH_OTHER_GIB`);
    - at TP ≥ 2 the v0.19.0 H100 rows read 2.06-2.21 GiB where v0.11.0 and v0.14.0 read 0.55. 1.5 GiB
      of it is FlashInfer's all-reduce fusion workspace, which exists only where the fusion pass runs
      (0.17 – 0.21: compiled, NVSwitch Hopper/Blackwell, TP 2/4/8, no PP/DP up to 0.20; from 0.22 it is
      allocated otherwise, 0.4 – 0.9 GiB and without NVSwitch too) and which the sizing adds
      separately (`fi_allreduce_fusion_workspace_bytes`); what this function returns is the rest:
      `non_torch_tp_nvswitch_gib` (0.6 from 0.18, the rows less the workspace) on NVSwitch-connected
      Hopper/Blackwell GPUs, the 0.55 GiB of the NCCL/custom all-reduce buffers elsewhere. No fit row
      checks a 0.18+ TP ≥ 2 start-up off the H100.
    A GPU without a name is sized with the H100 figures.

    A TP group that spans nodes (`tp_spans_nodes`: more TP ranks than GPUs per node) gets none of
    the intra-node buffers: vllm/distributed/device_communicators/custom_all_reduce.py
    `CustomAllreduce.__init__` (v0.10 … v0.19, the same check in `QuickAllReduce` and the symmetric-
    memory communicator is NVLink-only) returns early with "Custom allreduce is disabled because this
    process group spans across nodes", and NCCL reaches the other ranks through its network
    transport, not NVLink/P2P buffers on the GPU. It is sized as one GPU alone. Fit row
    gh-dennislee22-qwen2-7b-2xa100-40-tp2 (TP 2 over two nodes, vLLM 0.10.1.1, "custom all-reduce
    disabled" in its log): weights + activation + non-torch leave 11.03 GiB, which is the TP 1
    non-torch figure (0.03-0.13 GiB), not 0.55.

    GPUs without peer-to-peer access (`peer_to_peer`: GeForce cards) are sized as one GPU alone
    too: NCCL connects their ranks through host memory and vLLM's custom all-reduce is off, so the
    device-side communication buffers the TP ≥ 2 figures hold do not exist. What the engine still
    counts there is the one-GPU part (cuBLAS and the like). Where the buffers appear does not
    change this: V1 takes its baseline snapshot after `init_worker_distributed_environment`
    (vllm/v1/worker/gpu_worker.py `Worker.init_device`, v0.11.0 and v0.18.1: "This ensures NCCL buffers
    are allocated before we measure"), so the increase is what NCCL connects lazily during the
    profiling run (its large all-reduces pick channels and protocols the init warm-up did not);
    V0 (vllm/worker/worker.py `Worker.init_device`, v0.6.5, v0.6.6, v0.7.3) snapshots before it and
    counts the init buffers as well — on a GeForce card both sets are host memory. Fit row
    gh-lambo-qwen2.5-32b-4x3090-tp4-v0181 (4 × RTX 3090, TP 4, vLLM 0.18.1, eager, "custom
    all-reduce disabled"): its 5.24 GiB KV cache leaves 0.12 GiB for activation and non-torch
    together, under the 0.55 GiB of NCCL buffers alone.

    `eager` (vLLM's --enforce-eager): from 0.18 the TP 1 part is the pre-0.18 figure
    (`EAGER_NON_TORCH_TP1_GIB`) — the 0.25 GiB appeared with 0.18's compiled path. The CUDA context
    (`Accounting.context_gib`) is added where the engine counts it: V0 0.6.4 and TGI (V1 up to 0.9.1
    counts it too, but its size per GPU is not modelled).

    `version`: a vLLM release from 0.6.4 to 0.10 counts NCCL's init-time buffers; on an SXM H100/H200/
    H20 the TP ≥ 2 figure is then built from NCCL's source (`nccl_init_buffer_bytes`) instead of the
    0.11+ figure. Elsewhere (PCIe cards, unnamed GPUs) the topology that sets NCCL's channel count is
    not known and the 0.55 GiB stays.
    """
    gib = accounting.context_gib
    if tensor_parallel >= 2 and (tp_spans_nodes or peer_to_peer(gpu_name) is False):
        gib += _tp1_gib(accounting, gpu_name, eager)
    elif tensor_parallel >= 2 and (nccl := nccl_init_buffer_bytes(version, accounting.engine, gpu_name,
                                                                    tensor_parallel)) is not None:
        custom_ar = CUSTOM_AR_DEVICE_BYTES if tensor_parallel in CUSTOM_AR_WORLD_SIZES else 0
        gib += _tp1_gib(accounting, gpu_name, eager) + (nccl + custom_ar) / GIB
    elif tensor_parallel >= 2:
        nvswitch = accounting.non_torch_tp_nvswitch_gib
        gib += nvswitch if nvswitch is not None and nvswitch_hopper(gpu_name) is not False else accounting.non_torch_tp_gib
    elif pipeline_parallel >= 2:
        gib += accounting.non_torch_pp_gib
    else:
        gib += _tp1_gib(accounting, gpu_name, eager)
    return gib * GIB


# --------------------------------------------------------------------------- NCCL's init-time buffers (vLLM 0.6.4 – 0.10)

# Until 0.11 vLLM took its memory baseline *before* `init_worker_distributed_environment` (V0:
# vllm/worker/worker.py `Worker.init_device`, read in 0.7.2; V1: vllm/v1/worker/gpu_worker.py
# `Worker.init_device`, read in 0.10.0: "take current memory snapshot" precedes the distributed init;
# vllm-project/vllm#25359 moved it after, for 0.11; V1 up to 0.9.1 counts all CUDA memory outside
# torch's allocation after profiling, see `vllm-0.8` in ACCOUNTINGS) and forced NCCL_CUMEM_ENABLE=0 (vllm/__init__.py
# 0.7.2, vllm/env_override.py 0.10.0; vllm-project/vllm#24141 stopped it for 0.11). Without cuMem NCCL
# has no runtime connect (src/init.cc v2.26.2: `runtimeConn = cuMemSupport && ncclParamRuntimeConnect()`;
# v2.21.5 has none), so `ncclCommInitRank` connects every ring and tree channel, and sets up NVLS,
# at once — and the engine counts all of it as non-torch memory. Two communicators of the TP ranks
# hold such buffers by the end of the profile run:
# - vLLM's PyNccl communicator, created eagerly with a warm-up all-reduce
#   (vllm/distributed/device_communicators/pynccl.py `PyNcclCommunicator.__init__`, 0.7.2, 0.10.0);
# - torch's NCCL process group of the TP device group, created lazily (no `device_id` is passed to
#   `init_process_group`) by the first collective on it: the logits — V0 `LogitsProcessor` gathers
#   them to rank 0 with `torch.distributed.gather(..., group=self.device_group)`
#   (vllm/model_executor/layers/logits_processor.py and vllm/distributed/parallel_state.py
#   `GroupCoordinator.gather`, 0.7.2: `use_all_gather` only on TPU, V1 or external_launcher); V1
#   all-gathers them through `DeviceCommunicatorBase.all_gather` → `dist.all_gather_into_tensor`
#   (`CudaCommunicator` overrides only `all_gatherv`, 0.10.0).
# torch 2.5.1 (vLLM 0.6.4 – 0.7.3) and 2.6.0 (0.8.x) bundle NCCL 2.21.5, torch 2.7.x (0.9 – 0.10) 2.26.2.
NCCL_INIT_COUNTED: tuple[tuple[tuple[int, int, int], tuple[int, int, int] | None], ...] = (
    ((0, 6, 4), (2, 21, 5)),
    ((0, 9, 0), (2, 26, 2)),
    ((0, 11, 0), None),
)
NCCL_COMMUNICATORS = 2
# src/graph/paths.cc `ncclTopoComputeP2pChannels` (v2.21.5): point-to-point channels per peer =
# nextPow2(min(coll channels 24, 2 × 18 NVLinks)) on an HGX Hopper board — "32 p2p channels per peer",
# as NVIDIA/nccl#1685 counts on 8 × H100.
NCCL_P2P_CHANNELS_PER_PEER = 32
# src/include/device.h and src/init.cc (v2.21.5, v2.26.2): the per-connection FIFO of each protocol,
# NCCL_STEPS (8) slots each: LL 8 lines × 512 threads × 8 × 16 B (DEFAULT_LL_BUFFSIZE), LL128 120
# elements × 640 threads × 8 × 8 B (DEFAULT_LL128_BUFFSIZE), SIMPLE 4 MiB (DEFAULT_BUFFSIZE, NCCL_BUFFSIZE).
NCCL_LL_BUFFSIZE = 8 * 512 * 8 * 16
NCCL_LL128_BUFFSIZE = 120 * 640 * 8 * 8
NCCL_SIMPLE_BUFFSIZE = 1 << 22
# src/include/comm.h: `ncclSendMem` / `ncclRecvMem` are padded to MEM_ALIGN (4096 B); src/transport/p2p.cc
# rounds each side's buffer to CUDA_IPC_MIN (2 MiB).
NCCL_CONN_HEADER_BYTES = 4096
CUDA_IPC_MIN_BYTES = 2 * 2**20
# NVLS (src/transport/nvls.cc `ncclNvlsSetup` v2.21.5, `ncclNvlsBufferSetup` v2.26.2): per head (one per
# GPU) 2 FIFOs per channel, each NVLS_CHUNKSIZE 128 KiB × NCCL_STEPS. v2.21.5 counts the communicator's
# channels (24), adds a 2 MiB head/tail block (NVLS_MEM_ALIGN_SIZE) to each FIFO and rounds the whole
# to the multicast granularity (`nvlsGetProperties`), which is what it allocates; v2.26.2 counts the
# 16 NVLS channels of SM 9.0 (NVLS_NCHANNELS_SM90), rounds to the allocation granularity only, and
# adds a credit buffer of 64 B per coll channel and FIFO. vllm-project/vllm#9699 (8 × H200, NCCL of
# torch 2.4, 512 KiB chunks) logs the older formula: "nHeads 8 buffSize 4194304 memSize 2097152
# nvlsPerRankSize 301989888" = 24 channels × 2 × (4 + 2) MiB.
NCCL_NVLS_CHANNELS = 16
NCCL_NVLS_FIFO_BYTES = 128 * 1024 * 8
NCCL_NVLS_MEM_ALIGN_BYTES = 2 * 2**20
# vLLM's custom all-reduce (vllm/distributed/device_communicators/custom_all_reduce.py
# `CustomAllreduce.__init__`, 0.7.2 and 0.10.0): two cudaMalloc'd IPC buffers, `meta_size() + max_size`
# and `max_size` (8 MiB; the Signal struct is a few KiB), each rounded to the 2 MiB allocation
# granularity; its 8 MiB `rank_data` is a torch tensor, and the peers' buffers it maps through
# cudaIpcOpenMemHandle are the peers' memory. Graph buffers are registered at capture, after sizing.
# It runs at `_SUPPORTED_WORLD_SIZES` only.
CUSTOM_AR_WORLD_SIZES = (2, 4, 6, 8)
CUSTOM_AR_MAX_SIZE = 8 * 2**20
CUSTOM_AR_DEVICE_BYTES = math.ceil((CUSTOM_AR_MAX_SIZE + 4096) / (2 * 2**20)) * 2 * 2**20 + CUSTOM_AR_MAX_SIZE


def nccl_connection_bytes(read: bool) -> tuple[int, int]:
    """Device memory of one P2P connection, (sender's, receiver's), per NCCL's src/transport/p2p.cc
    `p2pSendSetup` / `p2pRecvSetup` (v2.21.5, v2.26.2): the receiver holds the LL and LL128 FIFOs, and
    the SIMPLE one unless P2P read is on, in which case the sender holds it. Read is on only between
    two compute capability 8.0 GPUs over NVLink (src/graph/paths.cc `ncclTopoCheckP2p`)."""
    def side(size: int) -> int:
        return math.ceil(size / CUDA_IPC_MIN_BYTES) * CUDA_IPC_MIN_BYTES

    simple = NCCL_SIMPLE_BUFFSIZE
    send = side(NCCL_CONN_HEADER_BYTES + (simple if read else 0))
    recv = side(NCCL_CONN_HEADER_BYTES + NCCL_LL_BUFFSIZE + NCCL_LL128_BUFFSIZE + (0 if read else simple))
    return send, recv


# SXM Hopper parts with 18 NVLinks into NVSwitch (H100, H200, H20); the H800 has 8 and gets fewer
# channels, the PCIe/NVL cards and GH200 are not NVSwitch-connected.
_NVSWITCH_18_LINK_NAMES = ("h100", "h200", "h20")


def nccl_channels(gpu_name: str) -> int | None:
    """The ring/tree channels NCCL 2.21/2.26 builds for the GPUs of one HGX board; None where the
    topology is not known from the name (PCIe cards, whose count depends on the PCIe generation and
    path, and unnamed GPUs).

    src/graph/search.cc `ncclTopoCompute` (v2.21.5, v2.26.2): 18 NVLinks × SM90_NVLINK_BW 20.6 GB/s
    = 370.8 GB/s per GPU; the SM 9.0 speeds (60, 50, 40, 30 ...) give 6 channels at 60 (no lower speed
    carries more than 360), `ncclTopoDupChannels` doubles them (bandwidth ≥ 50) to 12, and
    src/graph/connect.cc `ncclTopoPostset` doubles again: 24 ("24 coll channels"). The fit row
    gh-evaldataset-qwen3-235b-fp8-8xh100-ep-v0100 confirms it: its ranks' KV caches differ by exactly
    the tree ends' missing connections of two communicators at 24 channels (docs/sizing.md)."""
    name = gpu_name.lower()
    if compute_capability(name) != 90 or "pcie" in name or "nvl" in name.replace("nvlink", "") \
            or "h800" in name or "gh200" in name:
        return None
    return 24 if any(n in name for n in _NVSWITCH_18_LINK_NAMES) else None


def nccl_nvls_bytes(nccl: tuple[int, int, int], tensor_parallel: int, channels: int) -> int:
    """NVLS buffers per rank of one communicator on NVSwitch Hopper with `channels` coll channels:
    none at two GPUs or fewer (src/transport/nvls.cc `ncclNvlsInit`: "gpuCount <= 2")."""
    if tensor_parallel <= 2:
        return 0
    if nccl < (2, 26, 0):
        size = channels * 2 * (NCCL_NVLS_FIFO_BYTES + NCCL_NVLS_MEM_ALIGN_BYTES) * tensor_parallel
        return math.ceil(size / MULTICAST_GRANULARITY_BYTES) * MULTICAST_GRANULARITY_BYTES
    credits = channels * 2 * 64 * tensor_parallel
    return (NCCL_NVLS_CHANNELS * 2 * NCCL_NVLS_FIFO_BYTES * tensor_parallel
            + math.ceil(credits / ALLOC_GRANULARITY_BYTES) * ALLOC_GRANULARITY_BYTES)


def nccl_version_counted(version: tuple[int, ...] | None) -> tuple[int, int, int] | None:
    """The NCCL release whose init-time buffers the engine counts (`NCCL_INIT_COUNTED`); None from 0.11,
    before 0.6.4, or without a version."""
    if version is None:
        return None
    nccl = None
    for since, bundled in NCCL_INIT_COUNTED:
        if release(version) >= since:
            nccl = bundled
    return nccl


def nccl_init_buffer_bytes(version: tuple[int, ...] | None, engine: str, gpu_name: str,
                           tensor_parallel: int) -> float | None:
    """NCCL device memory per GPU that a vLLM 0.6.4 – 0.10 start-up at TP ≥ 2 counts as non-torch
    (`NCCL_INIT_COUNTED`): the largest rank's, since the engine sizes every rank's KV cache by the
    smallest. None where it does not apply or the channel count is not known (`nccl_channels`).

    Per communicator (`NCCL_COMMUNICATORS`: PyNccl and torch's TP group), every channel has a ring
    connection to the next rank and from the previous one (src/init.cc v2.21.5, src/transport/generic.cc
    `ncclTransportRingConnect` v2.26.2); from three ranks the intra-node tree, a chain, adds a
    connection from the rank below and one to the rank above (at two ranks the tree's peer is the
    ring's and the connection is reused: `ncclTransportP2pConnect` skips connected ones); and NVLS
    (`nccl_nvls_bytes`). V0 gathers the logits to rank 0 point-to-point: rank 0 opens a receiving
    connection from each other rank on `p2pnChannelsPerPeer` channels (src/enqueue.cc, v2.21.5:
    `NCCL_P2P_CHANNELS_PER_PEER`).
    Not counted: the NCCL kernels each `ncclCommInitRank` loads (`ncclInitKernelsForDevice`) and the
    local memory they may reserve — no source gives their size."""
    nccl = nccl_version_counted(version)
    channels = nccl_channels(gpu_name)
    if nccl is None or channels is None or tensor_parallel < 2:
        return None
    send, recv = nccl_connection_bytes(read=False)  # SM 9.0: no P2P read
    links = 2 if tensor_parallel >= 3 else 1  # ring, plus the tree's second pair from three ranks
    per_comm = channels * links * (send + recv) + nccl_nvls_bytes(nccl, tensor_parallel, channels)
    gather = (tensor_parallel - 1) * NCCL_P2P_CHANNELS_PER_PEER * recv if engine == "v0" else 0
    return float(NCCL_COMMUNICATORS * per_comm + gather)


# --------------------------------------------------------------------------- FlashInfer all-reduce fusion

# vLLM's all-reduce + RMSNorm fusion pass (vllm/compilation/passes/fusion/allreduce_rms_fusion.py
# `AllReduceFusionPass`, v0.17.0 – v0.19.0) replaces each all-reduce that feeds an RMSNorm with
# FlashInfer's fused TensorRT-LLM kernel. Optimization level O2 (the default) turns it on through
# vllm/config/vllm.py `enable_allreduce_rms_fusion`: TP > 1, CUDA, FlashInfer installed, compute
# capability 9.0 or 10.0 (0.17.0, 0.18.0; from 0.19.0 any 10.x: `is_device_capability_family(100)`),
# data parallel 1 and pipeline parallel 1 ("tp-dp combination broken" #34458, "tp-pp combination broken"
# #35426). O0/O1 keep it off, and so did every level of 0.16.0 and 0.14.0 (`"fuse_allreduce_rms": False`
# in all four `OPTIMIZATION_LEVEL_0x` of their config/vllm.py) — which is why the 0.14.0 H100 TP 2 rows
# read 0.55 GiB and the 0.19.0 ones 2.1. --enforce-eager sets compilation mode NONE: no Inductor, no pass.
FI_AR_FUSION_SINCE = (0, 17, 0)
FI_AR_FUSION_BLACKWELL_FAMILY_SINCE = (0, 19, 0)
# 0.21.0 drops the PP == 1 and DP == 1 conditions (read in 0.20.0, 0.21.0, 0.22.0, 0.25.1, 0.29.0).
FI_AR_FUSION_WITH_PP_DP_SINCE = (0, 21, 0)
# How FlashInfer allocates the workspace changed with the flashinfer-python that vLLM pins
# (requirements/cuda.txt: 0.6.4 – 0.6.8.post1 for vLLM 0.17 – 0.21, 0.6.11.post2 for 0.22, 0.6.12 for
# 0.23 – 0.24, 0.6.13 for 0.25, 0.6.14 for 0.26, 0.6.16.post3 for 0.27 – 0.28, 0.6.18 for 0.29), and
# vLLM changed which backend it asks for (see `fi_allreduce_fusion_workspace_bytes`):
# - 0.17 – 0.21: trtllm's three buffers as `SymmDeviceMemory` with multicast, each rounded to the
#   512 MiB multicast granularity (`MULTICAST_GRANULARITY_BYTES`); no NVSwitch, no workspace.
# - 0.22 – 0.24 (flashinfer 0.6.11.post2, 0.6.12): flashinfer/comm/trtllm_ar.py
#   `trtllm_create_ipc_workspace_for_all_reduce_fusion` allocates each buffer with torch symmetric
#   memory (flashinfer/comm/torch_symmetric_memory.py `_alloc_symm_buffer_bytes`: `symm_mem.empty` +
#   `rendezvous`). torch's `CUDASymmetricMemoryAllocator::alloc` puts a 2,048 B signal pad beside the
#   buffer and rounds the block to the allocation granularity (`cuMemGetAllocationGranularity`,
#   RECOMMENDED: 2 MiB), and binds a multicast object only where the device has one, skipping it
#   "gracefully" otherwise — so the workspace no longer needs NVSwitch, only peer access.
FI_AR_TORCH_SYMM_MEM_SINCE = (0, 22, 0)
# - 0.25: `_resolve_fi_ar_backend` (vllm/distributed/device_communicators/flashinfer_all_reduce.py,
#   read in 0.25.1) picks "mnnvl" on one node too (vllm-project/vllm#47219, "Default FlashInfer
#   allreduce to mnnvl on single node", merged 2026-06-30 against the 0.6.13 pin that 0.25 carries;
#   0.25.0's own file was not read). flashinfer's `MNNVLAllReduceFusionWorkspace` (0.6.13, 0.6.14)
#   is one torch symmetric buffer of 3 Lamport slots (`_mnnvl_buffer_bytes`), rounded to 2 MiB.
#   The quantized patterns still ask for a trtllm workspace (`get_fi_ar_quant_workspace`: "Always uses
#   trtllm backend"; the pass calls it right after the first), so 0.25 holds both.
FI_AR_MNNVL_DEFAULT_SINCE = (0, 25, 0)
# - 0.26: `get_fi_ar_quant_workspace` follows the same backend and reuses the mnnvl workspace.
FI_AR_QUANT_REUSES_SINCE = (0, 26, 0)
# - 0.27 – 0.29 (flashinfer 0.6.16.post3, 0.6.18): the mnnvl workspace is a `McastGPUBuffer`, i.e.
#   `SymmDeviceMemory` with multicast on, rounded to the 512 MiB granularity again; where the device
#   has no multicast it raises ("Device does not support multicasting"), vLLM's `_create_workspace`
#   returns None (0.27 also drops an mnnvl workspace without a multicast pointer) and falls back to
#   trtllm, whose buffers are `SymmDeviceMemory(enable_multicast=False)`: 2 MiB rounding.
FI_AR_MNNVL_MULTICAST_SINCE = (0, 27, 0)
# - 0.29: `VLLM_ALLREDUCE_USE_FLASHINFER` defaults to 1 (vllm/envs.py; vllm-project/vllm#52998,
#   "Enable FlashInfer all-reduce by default", merged 2026-08-19; 0.28's cuda_communicator.py has
#   neither the default nor the batch-invariance guard that came with it). The standalone all-reduce
#   (`FlashInferAllReduce`, which `CudaCommunicator.all_reduce` asks before any other backend;
#   `should_use_fi_ar` builds the workspace) creates it the first time an all-reduce fits its limit —
#   without torch.compile too, i.e. under --enforce-eager — sized by the limit alone
#   (`max_workspace_size // (hidden × element size)` tokens, not capped by the batch).
FI_AR_STANDALONE_DEFAULT_SINCE = (0, 29, 0)
# The allocation granularity torch's and FlashInfer's symmetric allocators round to
# (CU_MEM_ALLOC_GRANULARITY_RECOMMENDED on Hopper/Blackwell).
ALLOC_GRANULARITY_BYTES = 2 * 2**20
# flashinfer/comm/trtllm_mnnvl_ar.py `MNNVL_ONE_SHOT_THRESHOLD` (0.6.11.post2 – 0.6.18): the one-shot
# strategy's largest problem, tokens × hidden × TP × element size.
MNNVL_ONE_SHOT_THRESHOLD = 64 * 1024 * 8 * 2
# The pass's input-size limit (MiB) by compute capability and TP (`FI_ALLREDUCE_FUSION_MAX_SIZE_MB`,
# identical in 0.17.0 and 0.18.0; 0.19.0 adds 10.3); other TP sizes have no entry and no pass
# (`PassConfig.flashinfer_max_size`: world sizes 2, 4, 8 only).
FI_AR_FUSION_MAX_SIZE_MIB: dict[int, dict[int, float]] = {
    90: {2: 64, 4: 2, 8: 0.5},
    100: {2: 64, 4: 32, 8: 1},
    103: {2: 64, 4: 64, 8: 2},
}
# 0.29.0's table (allreduce_rms_fusion.py) raises SM 10.3 at TP 8 to 4 MiB (0.25.1 still had 2; 0.26 –
# 0.28 were not read: taken from 0.29). Its TP 16 entries (0.25.1+) serve multi-node MNNVL groups,
# which llmkube sizes as spanning nodes, without the workspace.
FI_AR_FUSION_MAX_SIZE_MIB_029: dict[int, dict[int, float]] = {103: {8: 4}}
# 0.29's standalone all-reduce on mnnvl raises the workspace to a tuned size where it has one
# (vllm/distributed/device_communicators/all_reduce_utils.py `FI_MNNVL_ALLREDUCE_MAX_SIZE_MB`, keyed by
# capability, world size and node count; one node only here): `get_fi_ar_workspace` takes
# max(tokens, (size − 1 B) ÷ (hidden × element size)) when VLLM_ALLREDUCE_USE_FLASHINFER is on.
FI_MNNVL_STANDALONE_MAX_SIZE_MIB: dict[tuple[int, int], float] = {(103, 4): 80, (103, 8): 64}
# flashinfer/comm/trtllm_ar.py (flashinfer-python 0.6.4, which vLLM 0.17.0 pins, and 0.6.6, pinned by
# 0.18.0 and 0.19.0): `BarrierFlagCount`, `MAX_COMM_SIZE`; flashinfer/comm/mnnvl.py `SIGNAL_PAD_SIZE`.
FI_BARRIER_FLAG_COUNT = 256
FI_MAX_COMM_SIZE = 2147483647 & ~((1 << 21) - 1)
FI_SIGNAL_PAD_BYTES = 2048
# CU_MULTICAST_GRANULARITY_RECOMMENDED, to which every symmetric buffer is rounded: 512 MiB. Read from
# a FlashInfer workspace's own addresses, not from NVIDIA's documentation: sgl-project/sglang#18341
# (2026-02-07, the same `create_allreduce_fusion_workspace`, TP 2) logs three buffers of 24, 2 and
# 68 MiB whose per-rank pointers lie 0x20000000 apart ("rank 1 allocated ipc_handles:
# [['0x5360000000', '0x5380000000'], ['0x53a0000000', '0x53c0000000'], ...]"). Three such buffers
# are the 1.5 GiB by which the 0.19.0 H100 TP >= 2 rows exceed the 0.55 GiB of 0.14.0.
MULTICAST_GRANULARITY_BYTES = 512 * 2**20


def compute_capability(gpu_name: str) -> int | None:
    """The compute capability × 10 of a Hopper/Blackwell datacenter GPU by name (H100/H200/H800/H20/
    GH200: 90; B100/B200/GB200: 100; B300/GB300: 103); None for other or unnamed GPUs."""
    name = gpu_name.lower()
    if any(n in name for n in _BLACKWELL_ULTRA_NAMES):
        return 103
    if any(n in name for n in _BLACKWELL_NAMES):
        return 100
    if any(n in name for n in _HOPPER_NAMES):
        return 90
    return None


def _fusion_max_size_mib(version: tuple[int, ...] | None, capability: int, tensor_parallel: int) -> float | None:
    """The pass's input-size limit for this device and TP (`FI_AR_FUSION_MAX_SIZE_MIB`), None without one."""
    if version is None or release(version) >= FI_AR_STANDALONE_DEFAULT_SINCE:
        newer = FI_AR_FUSION_MAX_SIZE_MIB_029.get(capability, {}).get(tensor_parallel)
        if newer is not None:
            return newer
    return FI_AR_FUSION_MAX_SIZE_MIB[capability].get(tensor_parallel)


def trtllm_workspace_buffers(tensor_parallel: int, tokens: int, hidden_size: int, element: int) -> tuple[int, int, int]:
    """The three buffers of flashinfer's TensorRT-LLM fusion workspace, in bytes (flashinfer/comm/trtllm_ar.py
    `trtllm_create_ipc_workspace_for_all_reduce_fusion`, the same in 0.6.4 – 0.6.18): TP × tokens ×
    hidden × 2 B, TP × 256 × 4 B of barrier flags, and three Lamport buffers of TP × tokens × hidden ×
    2 B (4 B for a float32 model), each capped at `MAX_COMM_SIZE`."""
    lamport_element = 4 if element == 4 else 2
    buffer = tensor_parallel * tokens * hidden_size * 2
    flags = tensor_parallel * FI_BARRIER_FLAG_COUNT * 4
    lamport = 3 * min(tensor_parallel * tokens * hidden_size * lamport_element, FI_MAX_COMM_SIZE)
    return buffer, flags, lamport


def mnnvl_workspace_bytes(tensor_parallel: int, tokens: int, hidden_size: int, element: int) -> int:
    """The bytes flashinfer's MNNVL fusion workspace asks for (flashinfer/comm/trtllm_mnnvl_ar.py
    `MNNVLAllReduceFusionWorkspace.__init__`, 0.6.13 – 0.6.18): three Lamport slots, each the larger
    of the one-shot need at its threshold (min(threshold ÷ (TP × element × hidden), tokens) × hidden ×
    TP × element) and the two-shot need (2 × ⌈tokens ÷ TP⌉ × TP × hidden × element,
    `get_required_buffer_size_bytes`). 0.6.18 rounds a slot to 32 B first, which these sizes already are."""
    one_shot_tokens = min(MNNVL_ONE_SHOT_THRESHOLD // (tensor_parallel * element * hidden_size), tokens)
    one_shot = one_shot_tokens * hidden_size * tensor_parallel * element
    two_shot = 2 * -(-tokens // tensor_parallel) * tensor_parallel * hidden_size * element
    return 3 * max(one_shot, two_shot)


def _symmetric_block(size: int, multicast: bool) -> int:
    """Device memory of one symmetric buffer: the size plus FlashInfer's / torch's 2,048 B signal pad,
    rounded to the 2 MiB allocation granularity, and to the 512 MiB multicast granularity when the
    allocator binds a multicast object of its own size (flashinfer `SymmDeviceMemory` with multicast)."""
    block = _round_up(_round_up(size, 16) + FI_SIGNAL_PAD_BYTES, ALLOC_GRANULARITY_BYTES)
    return _round_up(block, MULTICAST_GRANULARITY_BYTES) if multicast else block


def fi_allreduce_fusion_workspace_bytes(version: tuple[int, ...] | None, gpu_name: str, tensor_parallel: int,
                                        hidden_size: int, dtype_bytes: float, max_num_batched_tokens: int, *,
                                        pipeline_parallel: int = 1, data_parallel: int = 1, eager: bool = False,
                                        tp_spans_nodes: bool = False) -> float:
    """Device memory of FlashInfer's all-reduce fusion workspace, per GPU, which vLLM counts as
    non-torch memory (0 where the pass is off).

    The workspace is made when the pass is built — at the first torch.compile, inside `profile_run`,
    after the baseline snapshot (vllm/v1/worker/gpu_worker.py `init_device` takes it right after the
    distributed init) — or, on a compile-cache hit, by the fused op's first call (`get_fi_ar_workspace`),
    also inside `profile_run`; it is allocated with CUDA's virtual-memory API, not torch, so it lands in
    the `non_torch_increase` that is taken from the KV budget. Sizes (vLLM v0.17.0 – v0.19.0):
    - `AllReduceFusionPass.__init__`: max_token_num = min(max size ÷ (hidden × element size),
      max_num_batched_tokens), max size from `FI_AR_FUSION_MAX_SIZE_MIB`;
    - vllm/distributed/device_communicators/flashinfer_all_reduce.py: one workspace, backend "trtllm"
      on one node (the quantized patterns' workspace aliases it), through flashinfer
      `create_allreduce_fusion_workspace` → `TRTLLMAllReduceFusionWorkspace`, which calls
      flashinfer/comm/trtllm_ar.py `trtllm_create_ipc_workspace_for_all_reduce_fusion(...,
      use_symm_dev_mem=True)`: three buffers (`trtllm_workspace_buffers`), each rounded to 2 MiB;
    - flashinfer/comm/mnnvl.py `SymmDeviceMemory`: each buffer plus a 2 KiB signal pad is rounded up
      to the multicast granularity (`MULTICAST_GRANULARITY_BYTES`) and created on this GPU with
      `cuMemCreate` (the peers' buffers are only mapped). A device without multicast (no NVSwitch:
      PCIe and NVL cards) raises "Device does not support multicasting", which vLLM catches ("expected
      on GPUs without NVSwitch") and runs without the fusion: nothing allocated.
    So at the default limits every buffer is under 512 MiB and the workspace is 1.5 GiB whatever the
    model; larger limits (SM 10.3 at TP 4) take more. A TP group spanning nodes is sized as one GPU
    (`non_torch_bytes`), so no workspace either. A GPU without a name is sized as the H100. From 0.21
    PP > 1 and DP > 1 keep the pass (`FI_AR_FUSION_WITH_PP_DP_SINCE`).

    From 0.22 the allocator and the backend change by release (the constants above, read in vLLM
    0.22.0, 0.25.1, 0.26.0, 0.27.0, 0.28.0, 0.29.0 and flashinfer-python 0.6.11.post2 – 0.6.18):
    - 0.22 – 0.24: the three trtllm buffers in torch symmetric memory, 2 MiB each — about 0.5 GiB at
      the SM 9.0 TP 2 limit (128 + 2 + 386 MiB at hidden 4,096), a few MiB at TP 4/8 — on any
      Hopper/Blackwell group with peer access (PCIe and NVL cards included: no multicast needed);
    - 0.25: the mnnvl workspace (one buffer, 2 MiB rounding) and the trtllm one for the quantized patterns;
    - 0.26: the mnnvl workspace alone;
    - 0.27 on: with multicast (NVSwitch) the mnnvl workspace rounded to 512 MiB — one granule at the
      default limits —; without it the trtllm buffers at 2 MiB each;
    - 0.29: also under --enforce-eager, by the standalone FlashInfer all-reduce, when the profiling
      batch's all-reduce (tokens × hidden × element size) fits its limit; its token count is the
      limit's, not capped by the batch.
    An unpinned image (`version` None) is sized as the newest release read, 0.29.
    """
    if tensor_parallel < 2 or tp_spans_nodes:
        return 0.0
    v = release(version) if version is not None else None
    if v is not None and v < FI_AR_FUSION_SINCE:
        return 0.0
    if (pipeline_parallel > 1 or data_parallel > 1) and v is not None and v < FI_AR_FUSION_WITH_PP_DP_SINCE:
        return 0.0
    standalone = v is None or v >= FI_AR_STANDALONE_DEFAULT_SINCE
    if eager and not standalone:
        return 0.0
    capability = compute_capability(gpu_name) if gpu_name else 90
    if capability is None:
        return 0.0
    if capability == 103 and v is not None and v < FI_AR_FUSION_BLACKWELL_FAMILY_SINCE:
        return 0.0
    max_size_mib = _fusion_max_size_mib(version, capability, tensor_parallel)
    if max_size_mib is None:
        return 0.0
    element = int(dtype_bytes)
    max_size = int(max_size_mib * 2**20)
    multicast = nvswitch_hopper(gpu_name) is not False
    if eager:
        # the standalone all-reduce builds it only for an all-reduce within its limit
        if max_num_batched_tokens * hidden_size * element > max_size:
            return 0.0
        tokens = max_size // (hidden_size * element)
    else:
        tokens = min(max_size // (hidden_size * element), max_num_batched_tokens)
    if v is not None and v < FI_AR_TORCH_SYMM_MEM_SINCE:
        if not multicast:
            return 0.0
        return float(sum(_round_up(_round_up(size, ALLOC_GRANULARITY_BYTES) + FI_SIGNAL_PAD_BYTES,
                                   MULTICAST_GRANULARITY_BYTES)
                         for size in trtllm_workspace_buffers(tensor_parallel, tokens, hidden_size, element)))
    if peer_to_peer(gpu_name) is False:
        return 0.0
    tuned = FI_MNNVL_STANDALONE_MAX_SIZE_MIB.get((capability, tensor_parallel)) if standalone else None
    if tuned is not None:  # asked for mnnvl (the default), before any fallback to trtllm
        tokens = max(tokens, (int(tuned * 2**20) - 1) // (hidden_size * element))
    trtllm = sum(_symmetric_block(size, multicast=False)
                 for size in trtllm_workspace_buffers(tensor_parallel, tokens, hidden_size, element))
    if v is not None and v < FI_AR_MNNVL_DEFAULT_SINCE:
        return float(trtllm)
    mnnvl_size = mnnvl_workspace_bytes(tensor_parallel, tokens, hidden_size, element)
    if v is not None and v < FI_AR_MNNVL_MULTICAST_SINCE:
        mnnvl = _symmetric_block(mnnvl_size, multicast=False)
        return float(mnnvl + trtllm) if v < FI_AR_QUANT_REUSES_SINCE else float(mnnvl)
    return float(_symmetric_block(mnnvl_size, multicast=True)) if multicast else float(trtllm)


# --------------------------------------------------------------------------- CUDA graphs

MAX_CAPTURE_SIZE = 512  # vllm/config/vllm.py: max_cudagraph_capture_size = min(2 × max_num_seqs, 512)
# The default cudagraph mode FULL_AND_PIECEWISE (vllm/config/compilation.py; the V1 default by v0.11:
# vllm-project/vllm#29079 of 2025-11 calls it "the default cudagraph configuration", and a v0.17.1 log
# prints "Profiling CUDA graph memory: PIECEWISE=3 (largest=16), FULL=3 (largest=16)") captures, besides
# one piecewise graph set per capture size, one FULL graph per uniform-decode batch size.
FULL_AND_PIECEWISE_SINCE = (0, 11, 0)
# Device memory of one captured graph piece. Piecewise CUDA graphs split the model at every attention
# layer, so one capture size holds (layers + 1) pieces; a FULL decode graph is taken to hold the same
# kernels (attention included) in one graph, and so the same memory. Fit: the v0.19.0 H100 fit rows of
# Llama-3.1-8B print "Estimated CUDA graph memory: 0.84 GiB total" at 1,024 sequences: 51 piecewise and
# 51 FULL descriptors, i.e. the first capture (its graphs + the pool of a 512-token batch,
# 512 × (2 × 4096 + 4 × 14336) × 2 B = 64 MiB) + (50 + 50) more captures, of 33 pieces each (see
# `cuda_graph_bytes`). The estimate is noisy upstream (each per-capture sample is a `mem_get_info`
# difference in 2 MiB steps, multiplied by ~100: vLLM issue #45178); over the 57 fit rows that print it
# this constant is 19.5 % off on average (20.7 % for the piecewise-only count before).
CUDA_GRAPH_PIECE_BYTES = (0.84 * GIB - 512 * (2 * 4096 + MLP_LIVE * 14336) * 2) / ((1 + 50 + 50) * 33)


def max_capture_size(max_num_seqs: int, max_num_batched_tokens: int | None = None) -> int:
    """vllm/config/vllm.py `VllmConfig._set_cudagraph_sizes`: min(2 × max_num_seqs, 512), then capped
    at max_num_batched_tokens (no graph is larger than a batch)."""
    top = min(2 * max_num_seqs, MAX_CAPTURE_SIZE)
    return min(top, max_num_batched_tokens) if max_num_batched_tokens else top


# `--performance-mode interactivity` (0.17+, `PERFORMANCE_MODE_SINCE`) captures every batch size from 1
# up to min(max_capture_size, 32) in place of 1, 2, 4 (vllm/config/vllm.py `_set_cudagraph_sizes`:
# "Fine-grained CUDA graphs at small batch sizes for minimal padding overhead").
INTERACTIVITY_FINE_SIZES = 32


def capture_size_list(max_num_seqs: int, max_num_batched_tokens: int | None = None,
                      fine_grained: bool = False) -> list[int]:
    """The batch sizes vLLM captures (vllm/config/vllm.py `_set_cudagraph_sizes`, v0.11 …): 1, 2, 4,
    then every 8 up to 248, then every 16 from 256, up to `max_capture_size`; with `fine_grained`
    (interactivity mode) every size from 1 to 32 instead of 1, 2, 4 (the two lists merged, no
    size twice)."""
    top = max_capture_size(max_num_seqs, max_num_batched_tokens)
    small = range(1, INTERACTIVITY_FINE_SIZES + 1) if fine_grained else (1, 2, 4)
    return sorted({n for n in (*small, *range(8, 256, 8), *range(256, MAX_CAPTURE_SIZE + 1, 16)) if n <= top})


def capture_sizes(max_num_seqs: int, max_num_batched_tokens: int | None = None, fine_grained: bool = False) -> int:
    """How many batch sizes vLLM captures piecewise (`capture_size_list`)."""
    return len(capture_size_list(max_num_seqs, max_num_batched_tokens, fine_grained))


def full_decode_sizes(max_num_seqs: int, max_num_batched_tokens: int | None = None, fine_grained: bool = False) -> int:
    """How many FULL decode graphs FULL_AND_PIECEWISE captures: vllm/v1/cudagraph_dispatcher.py
    `CudagraphDispatcher.initialize_cudagraph_keys` keeps the capture sizes x with
    uniform_decode_query_len ≤ x ≤ uniform_decode_query_len × max_num_seqs (query length 1 without
    speculative decoding), so a server with fewer sequences than half the largest capture size has
    fewer FULL graphs than piecewise ones (256 sequences: 35 against 51)."""
    return sum(1 for n in capture_size_list(max_num_seqs, max_num_batched_tokens, fine_grained) if n <= max_num_seqs)


def cuda_graph_bytes(max_num_seqs: int, layers: int, max_num_batched_tokens: int | None = None,
                     full_decode: bool = True, first_capture_bytes: float = 0.0, fine_grained: bool = False) -> float:
    """Device memory of the CUDA graphs on one GPU holding `layers` decoder layers, as vLLM estimates
    it before sizing the KV cache.

    vllm/v1/worker/gpu_model_runner.py `GPUModelRunner.profile_cudagraph_memory` (the estimate v0.19
    prints and v0.21 on subtracts): per cudagraph mode (PIECEWISE, then FULL:
    `CudagraphDispatcher.get_capture_descs`, largest batch first) it captures the first two
    descriptors, takes the first capture's memory as shared and the second's as the cost of every
    further one: max over modes of the first capture + Σ over modes of second × (descriptors − 1).
    The first capture holds its graphs and the graph pool of the largest batch (`first_capture_bytes`:
    the forward's intermediates at `max_capture_size` tokens); every capture holds (layers + 1)
    pieces' worth of graph memory (`CUDA_GRAPH_PIECE_BYTES`). `full_decode`: the mode also captures
    FULL decode graphs (`full_decode_sizes`; FULL_AND_PIECEWISE, the V1 default from
    `FULL_AND_PIECEWISE_SINCE`). `fine_grained`: interactivity mode's capture sizes
    (`capture_size_list`), one more capture per extra size in each mode. Not modelled: attention backends that cannot run FULL graphs (vLLM
    falls back to PIECEWISE), speculative decoding's longer decode queries, LoRA's extra graphs.
    """
    piecewise = capture_sizes(max_num_seqs, max_num_batched_tokens, fine_grained)
    if not piecewise:
        return 0.0
    full = full_decode_sizes(max_num_seqs, max_num_batched_tokens, fine_grained) if full_decode else 0
    captures = 1 + (piecewise - 1) + max(0, full - 1)
    return first_capture_bytes + captures * (layers + 1) * CUDA_GRAPH_PIECE_BYTES


# --------------------------------------------------------------------------- Model Runner V2

# vLLM's rewritten GPU model runner (vllm/v1/worker/gpu/model_runner.py, "Model Runner V2", MRV2;
# the worker logs "Using V2 Model Runner") runs under the same worker and the same KV-cache
# identity as V1's runner (vllm/v1/worker/gpu_worker.py `Worker.determine_available_memory`
# subtracts `model_runner.profile_cudagraph_memory()`), but until 0.29 that method is a stub:
#     def profile_cudagraph_memory(self) -> int:
#         # NOTE(woosuk): It is TBD whether we keep this API or not.
#         return 0
# (vllm-project/vllm#36520, "[Model Runner V2] Add dummy profile_cudagraph_memory API"; issue #49224,
# "Model Runner V2 (now default for dense models) skips CUDA graph memory reservation"). So under
# MRV2 nothing is taken from the KV budget for CUDA graphs — with or without
# VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS — and `capture_model` captures them after the KV cache
# is allocated, as before 0.21. vllm-project/vllm#53306 ("[Model Runner V2] Reserve CUDA graph
# memory", merged 2026-08-23, after 0.28.0 was released on 2026-08-20) gives MRV2 a real
# estimate: it captures every graph into the global pool over a minimal KV cache and reserves the
# free-memory drop; taken as first in 0.29.0 (the release that also makes MRV2 the default for
# every model family, #53183; a 0.29.0 start-up logs "Graph capturing finished … took 0.32 GiB"
# before "Available KV cache memory" and then "CUDA graph memory profiling is enabled").
# Fit rows: gh-vllmexperience-qwen2-7b-4090-v0251 and gh-vllmexperience-qwen2-7b-2x4090-tp2-v0251
# (0.25.1, "Using V2 Model Runner", no estimate line, graphs "took 0.53 / 0.68 GiB" after sizing).
MRV2_GRAPH_ESTIMATE_SINCE = (0, 29, 0)

# Which models MRV2 runs when VLLM_USE_V2_MODEL_RUNNER is unset (vllm/config/vllm.py
# `VllmConfig.use_v2_model_runner`, a three-state switch from vllm-project/vllm#39337: 1 forces
# MRV2, 0 forces V1, unset lets vLLM choose by architecture and falls back to V1 for features MRV2
# lacks). The default grew release by release (release notes of each tag; the rollout table of
# vLLM's blog post "From Opt-In to Default: Migrating vLLM to Model Runner V2", 2026-08-31):
# - 0.22.0: Qwen3 dense (Qwen3ForCausalLM; #39337);
# - 0.23.0: also Llama and Mistral dense (#43458);
# - 0.24.0: also the Qwen and DeepSeek-V2 MoE families (#42667, merged 2026-06-12), Granite MoE
#   (#45461, 06-16) and quantized variants of the enabled families (#44446, 06-18; the 0.25.0 notes:
#   "building on quantized-model support from the previous release") — taken as first in 0.24.0
#   by their merge dates (0.23.0's notes name only Llama/Mistral; 0.24.0 was out by 2026-07-01);
# - 0.25.0: every dense model (#44443; `_is_default_v2_model_runner_model` of v0.27.0 ends
#   "return is_default_v2_architecture or not model_config.is_moe", generative models only);
# - 0.29.0: every model family (#53183; "the first tagged release with this default will be v0.29.0").
# Before 0.24 a quantized checkpoint stays on V1 ("before 0.25.1 dense FP8 models used the legacy
# runner anyway", #49233). The feature fallbacks (speculative decoding, LoRA, custom logits
# processors, sequence parallelism, …) are not modelled: llmkube sizes none of those features.
MRV2_DEFAULT_SINCE = (0, 22, 0)
MRV2_ALL_DENSE_SINCE = (0, 25, 0)
MRV2_ALL_FAMILIES_SINCE = (0, 29, 0)
MRV2_QUANTIZED_SINCE = (0, 24, 0)
# llmkube architecture (modelconfig.ARCHITECTURES) -> the release whose MRV2 default first covers it
# before every dense model (0.25) or every family (0.29) does.
MRV2_ARCHITECTURES_SINCE: dict[str, tuple[int, int, int]] = {
    "qwen3": (0, 22, 0),
    "llama": (0, 23, 0), "mistral": (0, 23, 0),
    "qwen2_moe": (0, 24, 0), "qwen3_moe": (0, 24, 0), "deepseek_v2": (0, 24, 0), "granitemoe": (0, 24, 0),
}


def uses_model_runner_v2(architecture: str, moe: bool, quantized: bool, version: tuple[int, ...] | None,
                         forced: bool | None = None) -> bool:
    """Whether vLLM runs this model under Model Runner V2 (see `MRV2_DEFAULT_SINCE`).

    `forced` is VLLM_USE_V2_MODEL_RUNNER when set (1 / 0); an unpinned image counts as the newest
    release read (0.29: MRV2 for every family). `moe`: the model has routed experts (vLLM's
    `is_moe`); `quantized`: a quantized checkpoint or a runtime `--quantization`."""
    if forced is not None:
        return forced
    if version is None:
        return True
    v = release(version)
    if v < MRV2_DEFAULT_SINCE:
        return False
    if v >= MRV2_ALL_FAMILIES_SINCE:
        return True
    if quantized and v < MRV2_QUANTIZED_SINCE:
        return False
    since = MRV2_ARCHITECTURES_SINCE.get(architecture)
    if since is not None and v >= since:
        return True
    return not moe and v >= MRV2_ALL_DENSE_SINCE


def mrv2_counts_graphs(version: tuple[int, ...] | None) -> bool:
    """Whether Model Runner V2 estimates CUDA-graph memory before sizing the KV cache: from 0.29.0
    (`MRV2_GRAPH_ESTIMATE_SINCE`); before it `profile_cudagraph_memory` returns 0 and graphs are
    captured after. An unpinned image counts as the newest release read."""
    return version is None or release(version) >= MRV2_GRAPH_ESTIMATE_SINCE


# --------------------------------------------------------------------------- KV cache layout


def layer_kinds(spec: ModelSpec) -> list[str]:
    """Each layer's attention kind (`profiles.layer_types_of`: HF `layer_types`, or derived)."""
    return layer_types_of(spec)


# The first vLLM release that caches MLA's latent: 0.7.1 logs "MLA is enabled" (config.py:3257, see
# `V0_MLA_UNCHUNKED_SINCE`). Before it — and with VLLM_MLA_DISABLE=1 later — DeepSeek V2/V3 run
# vllm/model_executor/models/deepseek_v2.py `DeepseekV2Attention`, whose `Attention` takes
# num_kv_heads = num_local_heads and one head size qk_head_dim = qk_nope + qk_rope, V zero-padded to
# it ("v = torch.nn.functional.pad(v, [0, self.qk_head_dim - self.v_head_dim], value=0)").
MLA_CACHE_SINCE = (0, 7, 1)


def kv_bytes_per_token_per_layer(spec: ModelSpec, kv_bytes: float, tensor_parallel: int,
                                 mla_cache: bool = True) -> float:
    """K and V of one token in one layer on one GPU (vllm/v1/kv_cache_interface.py `AttentionSpec.page_size_bytes`
    ÷ block size): 2 × KV heads per rank × head size; MLA one latent of kv_lora_rank + rope dims,
    replicated on every TP rank (`MLAAttentionSpec`). KV heads are replicated when fewer than TP.
    An MLA model served without its latent cache (`mla_cache` False: vLLM before 0.7.1 or
    VLLM_MLA_DISABLE=1, `MLA_CACHE_SINCE`) keeps full K and V per attention head, both of width
    qk_nope + qk_rope (V padded to it): 2 × heads per rank × (qk_nope + qk_rope)."""
    tp = max(1, tensor_parallel)
    if spec.mla is not None and mla_cache:
        return (spec.mla.kv_lora_rank + spec.mla.qk_rope_head_dim) * kv_bytes
    if spec.mla is not None:
        qk_head = (spec.mla.qk_nope_head_dim or spec.head_dim) + spec.mla.qk_rope_head_dim
        return 2 * max(1, spec.attention_heads // tp) * qk_head * kv_bytes
    return 2 * max(1, spec.kv_heads // tp) * spec.head_dim * kv_bytes


def _window(spec: ModelSpec, kind: str) -> int | None:
    if kind == "sliding_attention":
        return spec.sliding_window
    if kind == "chunked_attention":  # vLLM's ChunkedLocalAttentionSpec keeps one chunk per request
        return spec.attention_chunk_size or spec.sliding_window
    return None


def _blocks_needed(window: int | None, max_model_len: int, batch_tokens: int) -> int:
    """Blocks one max-model-len request needs in one layer (`FullAttentionSpec.max_memory_usage_bytes`;
    `SlidingWindowSpec`: min(window − 1 + max_num_batched_tokens, max_model_len) tokens + 1 block)."""
    if window is None:
        return math.ceil(max_model_len / BLOCK_SIZE)
    return math.ceil(min(window - 1 + batch_tokens, max_model_len) / BLOCK_SIZE) + 1


@record(frozen=True)
class KVLayout:
    """How one worker cuts its KV memory: `pools` tensors of `page_bytes` per block, shared by
    `groups` KV-cache groups (one per attention kind in a uniform model)."""

    page_bytes: float  # one block of one layer
    pools: int  # layers sharing the block count (group size; all layers for a uniform model)
    groups: int
    blocks_per_request: int  # blocks a max-model-len request needs, summed over groups
    request_bytes: float  # what `check_enough_kv_cache_memory` asks for one such request
    hybrid: bool

    def blocks(self, kv_bytes: float) -> int:
        """`get_num_blocks`: available // page size // layers per pool."""
        return max(0, int(kv_bytes // self.page_bytes // self.pools))

    def tokens(self, blocks: int) -> int:
        """`_report_kv_cache_config`: "GPU KV cache size" = blocks // groups × block size."""
        return blocks // self.groups * BLOCK_SIZE

    def concurrency(self, blocks: int) -> float:
        """`get_max_concurrency_for_kv_cache_config`: blocks ÷ blocks one request needs."""
        return blocks / self.blocks_per_request if self.blocks_per_request else 0.0


def kv_layout(spec: ModelSpec, layers: list[str], token_layer_bytes: float, max_model_len: int,
              batch_tokens: int) -> KVLayout:
    """The KV-cache groups of the layers one worker holds (kv_cache_utils.py `get_kv_cache_config`).

    One attention kind: one group of all layers (`_get_kv_cache_config_uniform_type`). Several kinds
    with one page size (Gemma 2/3, gpt-oss, Mistral with mixed windows): layers of each kind split
    into groups of `group_size` = the smallest kind's layer count (the largest when within 1.25× of
    it), every group sharing `group_size` pools (`_get_kv_cache_config_uniform_page_size`).
    """
    page = BLOCK_SIZE * token_layer_bytes
    counts: dict[str, int] = {}
    for kind in layers:
        counts[kind] = counts.get(kind, 0) + 1
    request_bytes = sum(_blocks_needed(_window(spec, k), max_model_len, batch_tokens) * page for k in layers)
    if len(counts) <= 1:
        kind = next(iter(counts), "full_attention")
        need = _blocks_needed(_window(spec, kind), max_model_len, batch_tokens)
        return KVLayout(page, max(1, len(layers)), 1, need, request_bytes, hybrid=False)
    smallest, largest = min(counts.values()), max(counts.values())
    group_size = largest if largest < smallest * 1.25 else smallest
    groups = {k: math.ceil(n / group_size) for k, n in counts.items()}
    per_request = sum(g * _blocks_needed(_window(spec, k), max_model_len, batch_tokens) for k, g in groups.items())
    return KVLayout(page, group_size, sum(groups.values()), per_request, request_bytes, hybrid=True)


# --------------------------------------------------------------------------- the caching allocator's rounding

# PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp, the same constants in torch 2.4 …
# 2.9): every request is rounded up to 512 B (kMinBlockSize, `round_size`); a request of 10 MiB or more
# (kMinLargeAlloc) that no cached block serves gets a new segment rounded up to 2 MiB (kRoundLarge,
# `get_allocation_size`), and the block is split only when what is left is more than 1 MiB (kSmallSize,
# `should_split` for the large pool without expandable segments). Otherwise the whole segment is the
# tensor's block, and `torch.cuda.memory_allocated` — what vLLM's "Model loading took" reads
# (vllm/utils DeviceMemoryProfiler, `CudaPlatform.get_current_memory_usage`) — counts it.
ALLOC_ROUND = 512
ALLOC_SMALL = 2**20
ALLOC_MIN_LARGE = 10 * 2**20
ALLOC_ROUND_LARGE = 2 * 2**20
VOCAB_PADDING = 64  # vllm/model_executor/layers/vocab_parallel_embedding.py DEFAULT_VOCAB_PADDING_SIZE


def allocated_bytes(size: int) -> int:
    """What the caching allocator counts as allocated for one tensor of `size` bytes that takes a
    fresh segment: 512-byte rounding, and a large tensor's whole 2 MiB-rounded segment when the rest
    (at most 1 MiB) is too small to split off. A tensor that reuses a cached free block, and tensors
    under 10 MiB packed into shared 20 MiB segments, are taken as split (no rounding beyond 512 B)."""
    rounded = _round_up(size, ALLOC_ROUND)
    if rounded < ALLOC_MIN_LARGE:
        return rounded
    segment = _round_up(rounded, ALLOC_ROUND_LARGE)
    return segment if segment - rounded <= ALLOC_SMALL else rounded


def vllm_weight_tensors(spec: ModelSpec, tensor_parallel: int, layers: int, first_stage: bool = True,
                        last_stage: bool = True) -> list[tuple[int, int, bool]]:
    """(elements, count, linear) of the large weight tensors one GPU allocates, in vLLM's fused layout
    (`linear`: a decoder layer's linear weight, whose element size a quantized checkpoint changes): per decoder layer `QKVParallelLinear` [(heads/TP + 2 × KV heads per rank) ×
    head_dim, hidden] (KV heads replicated when fewer than TP), `RowParallelLinear` o_proj
    [hidden, heads/TP × head_dim], `MergedColumnParallelLinear` gate_up [2 × intermediate/TP, hidden]
    and down [hidden, intermediate/TP] (phi's ungated fc1/fc2: [intermediate/TP, hidden] and
    [hidden, intermediate/TP]); on the first stage `VocabParallelEmbedding` [vocab padded to 64 / TP,
    hidden], on the last the `ParallelLMHead` of the same shape (untied, or tied across stages).
    MLA attention and MoE layers are left out (their tensors are not listed: no rounding counted)."""
    tp = max(1, tensor_parallel)
    h = spec.hidden_size
    out: list[tuple[int, int, bool]] = []
    if spec.mla is None:
        kv = max(1, spec.kv_heads // tp)
        out.append(((spec.attention_heads // tp + 2 * kv) * spec.head_dim * h, layers, True))
        out.append((h * spec.attention_heads // tp * spec.head_dim, layers, True))
    if spec.experts is None and spec.intermediate_size:
        inter = spec.intermediate_size // tp
        up = inter if spec.architecture == "phi" else 2 * inter
        out += [(up * h, layers, True), (h * inter, layers, True)]
    table = _round_up(spec.vocab_size, VOCAB_PADDING) // tp * h
    if first_stage:
        out.append((table, 1, False))
    if last_stage and (not spec.tie_embeddings or not first_stage):
        out.append((table, 1, False))
    return out


def weight_rounding_bytes(spec: ModelSpec, tensor_parallel: int, param_bytes: float, layers: int,
                          first_stage: bool = True, last_stage: bool = True,
                          linear_bytes: float | None = None) -> float:
    """What loading the weights allocates on one GPU beyond their bytes: the caching allocator's
    rounding (`allocated_bytes`) of each large weight tensor (`vllm_weight_tensors`), created one by
    one on the device when vLLM builds the model (parameters are allocated in the model's
    `__init__` on the target device, in module order). `param_bytes`: bytes per element of the
    16-bit tensors (embedding, LM head); `linear_bytes`: of the decoder layers' linear weights when
    they differ (1 for an 8-bit checkpoint: compressed-tensors W8A8 and FP8 keep [out, in] int8/fp8
    weights; 0.5 for 4-bit integer packings, eight values per int32). Zero where all of them are whole multiples of 2 MiB (Llama-3.1-8B at any TP);
    Qwen2.5-72B at TP 2 keeps 1 MiB per layer (down_proj [8192, 14,784] in bf16 is 231 MiB, its
    segment 232 MiB): 80 MiB per GPU; Qwen2.5-7B 2 MiB per layer (gate_up 259 MiB, down 129.5 MiB)."""
    per_linear = param_bytes if linear_bytes is None else linear_bytes
    extra = 0.0
    for elements, count, linear in vllm_weight_tensors(spec, tensor_parallel, layers, first_stage, last_stage):
        size = int(elements * (per_linear if linear else param_bytes))
        extra += (allocated_bytes(size) - size) * count
    return extra


# --------------------------------------------------------------------------- RoPE cos/sin cache

# Architectures whose sliding-window layers build a RoPE of their own (another base, no scaling)
# beside the global layers' one: two caches per GPU (vllm/model_executor/models/gemma3.py
# `Gemma3Attention.__init__`: `rope_local_base_freq` for sliding layers).
_TWO_ROPE_ARCHITECTURES = ("gemma3", "gemma3_text")
# Architectures whose vLLM model builds its rotary table in float32 whatever the served dtype:
# vllm/model_executor/models/gpt_oss.py `OAIAttention.__init__` passes `dtype=torch.float32` to
# `get_rope` (read in the v0.10.1-era file and in the later `rope_parameters` form that imports
# vllm.v1.attention.backend; the YaRN table spans original_max_position 4,096 × factor 32 = 131,072
# positions × head_dim 64), so the table is 32 MiB per GPU, not the 16 MiB of a bf16 one. Part of
# the shared gpt-oss-120b weights miss of the v0.11.0 fit rows (see `mxfp4_expert_rounding_bytes`).
_FP32_ROPE_ARCHITECTURES = ("gpt_oss",)


def rope_cache_bytes(spec: ModelSpec, act_bytes: float) -> float:
    """The rotary embedding's cos/sin table one GPU holds, counted in vLLM's weights memory.

    vllm/model_executor/layers/rotary_embedding/base.py `RotaryEmbedding.__init__` (the same in
    V0's rotary_embedding.py): `_compute_cos_sin_cache` builds cos and sin for
    `torch.arange(max_position_embeddings)` × rotary_dim / 2 each and registers the table as a
    buffer in the model dtype (`cache.to(dtype)`): positions × rotary_dim × dtype bytes. `get_rope`
    returns one shared instance per distinct configuration, built while the model loads, so the
    table is part of "Model loading took" on every GPU (every TP rank and PP stage holds a copy).
    Positions are `max_position_embeddings` as the checkpoint's config states it — YaRN and linear
    scaling tables span original × factor, which is the profile's `maxContext` then too — not
    `--max-model-len`. Usually a few MiB (Llama-3.1-8B: 131,072 × 128 × 2 B = 32 MiB, the v0.19.0
    H100 fit rows' 14.99 GiB against 14.96 without it); Llama-4-Scout-Instruct's 10,485,760
    positions make it 2.5 GiB per GPU (vllm/model_executor/models/llama4.py `Llama4Attention`
    passes `max_position=config.max_position_embeddings`; NoPE layers build none). MLA rotates only
    `qk_rope_head_dim` dimensions (`DeepseekScalingRotaryEmbedding`). A linearly scaled rope spans
    max_position_embeddings × factor (rotary_embedding/linear_scaling_rope.py
    `LinearScalingRotaryEmbedding._compute_cos_sin_cache`: "the maximum length after applying the
    rope scaling"): Gemma 3's global layers (factor 8: 1,048,576 positions, 512 MiB), whose
    context does not count the factor — the profile's `ropeTablePositions`; its sliding layers'
    unscaled table spans `maxContext`. gpt-oss builds its table in float32 whatever the served
    dtype (`_FP32_ROPE_ARCHITECTURES`).
    """
    rotary = spec.mla.qk_rope_head_dim if spec.mla is not None else spec.head_dim
    positions = spec.rope_table_positions or spec.max_context
    if spec.architecture in _TWO_ROPE_ARCHITECTURES:
        positions += spec.max_context
    if spec.architecture in _FP32_ROPE_ARCHITECTURES:
        act_bytes = 4.0
    return float(positions * rotary * act_bytes)


# --------------------------------------------------------------------------- pipeline stages


def pp_partition(layers: int, pipeline_parallel: int) -> list[int]:
    """Layers per pipeline stage as vllm/distributed/utils.py `get_pp_indices` splits them: evenly,
    the remainder going one each to the stages before the last, from the second-to-last backwards."""
    pp = max(1, pipeline_parallel)
    parts = [layers // pp] * pp
    for i in range(2, layers % pp + 2):
        parts[-i] += 1
    return parts


# --------------------------------------------------------------------------- MXFP4 experts as loaded


# The first vLLM release whose PyPI wheel carries OpenAI's triton_kernels: vllm-project/vllm#28788
# ("[Build] Add OpenAI triton_kernels", merged 2025-11-18, after the 0.11 branch) vendors them as
# `vllm.third_party.triton_kernels`, and vllm/utils/import_utils.py `import_triton_kernels` (v0.12.0)
# falls back to that copy when no `triton_kernels` package is installed. The 0.11.0 wheel has neither
# (its requirements/cuda.txt lists no triton_kernels, vllm/third_party holds only pynvml), so
# `has_triton_kernels()` is False there and `get_mxfp4_backend` (quantization/mxfp4.py, v0.11.0)
# logs "Using Marlin backend" on Hopper; the fit row gh-aimo3-gpt-oss-120b-h100-fp8kv-v0112 (a
# 0.11.2 pip install) prints that line.
TRITON_KERNELS_IN_WHEEL_SINCE = (0, 12, 0)


def mxfp4_moe_backend(gpu_name: str, version: tuple[int, ...] | None = None,
                      pip_install: bool = False) -> str | None:
    """The MoE kernel vLLM picks for an MXFP4 checkpoint on this device, or None when the name
    says too little to tell (the checkpoint's own bytes are used then).

    vllm/model_executor/layers/quantization/mxfp4.py `get_mxfp4_backend` (v0.12 … v0.14, the
    same choice as v0.10.1's `Mxfp4MoEMethod`): SM 10.x with FlashInfer → FlashInfer; triton_kernels
    are used only for 9.0 ≤ capability < 11.0; everything else (Ampere, Ada: A100, A10, L4, L40,
    RTX 4090) → Marlin (`Mxfp4Config.get_min_capability` is 80). The Hopper pick assumes the
    vLLM image, which ships triton_kernels; a pip install without them falls back to Marlin on
    Hopper too (vllm-project/vllm#23278, v0.10.1: "leveraging the Marlin kernel", 65.97 GiB for
    gpt-oss-120b, which is Marlin's padding). `pip_install`: vLLM came from the PyPI wheel, not the
    image; before `TRITON_KERNELS_IN_WHEEL_SINCE` that wheel has no triton_kernels, so Hopper gets
    Marlin too (`version` None: the newest release, whose wheel has them).
    """
    name = gpu_name.lower()
    if not name:
        return None
    capability = compute_capability(name)
    if capability in (100, 103):
        return "flashinfer"
    if capability == 90:
        if pip_install and version is not None and release(version) < TRITON_KERNELS_IN_WHEEL_SINCE:
            return "marlin"
        return "triton"
    return "marlin"


def _round_up(x: int, multiple: int) -> int:
    return -(-x // multiple) * multiple


MXFP4_BLOCK = 32  # values per e8m0 scale byte
HOPPER_SCALE_NUM_WARPS = 8  # Mxfp4MoEMethod.process_weights_after_loading: num_warps 8 without batched (EP) MoE


def mxfp4_expert_layer_tensors(spec: ModelSpec, tensor_parallel: int, backend: str,
                               experts: int | None = None) -> list[int]:
    """The bytes of each tensor one GPU allocates for one MoE layer's MXFP4 experts once vLLM has
    loaded and prepared them (`experts` of them, whole or as the TP slice; None: all of the
    checkpoint's), in the layout `mxfp4_expert_layer_bytes` describes: w13 and w2 values, their
    e8m0 scales, Hopper's swizzled scale copies (Triton only) and the two biases."""
    e = spec.experts
    assert e is not None
    n = e.total if experts is None else experts
    h = spec.hidden_size
    i_part = -(-_moe_intermediate(spec) // max(1, tensor_parallel))
    if backend == "marlin":
        i_pad, h_pad, bias_bytes = _round_up(i_part, 128), _round_up(h, 256), 2
    elif backend == "flashinfer":
        i_pad, h_pad, bias_bytes = _round_up(i_part, 256), _round_up(h, 256), 4
    else:
        i_pad, h_pad, bias_bytes = _round_up(i_part, 64), h, 4
    out = [n * (2 * i_pad * h_pad // 2), n * (h_pad * i_pad // 2),  # w13, w2 values (two fp4 per byte)
           n * 2 * i_pad * (h_pad // MXFP4_BLOCK), n * h_pad * (i_pad // MXFP4_BLOCK)]  # their scales
    if backend == "triton":
        align = 2 * HOPPER_SCALE_NUM_WARPS * 2 * 8
        out += [n * _round_up(2 * i_pad, align) * _round_up(h_pad // MXFP4_BLOCK, 2),
                n * _round_up(h_pad, align) * _round_up(-(-i_pad // MXFP4_BLOCK), 2)]
    if e.bias:
        out += [n * 2 * i_pad * bias_bytes, n * h_pad * bias_bytes]
    return out


def mxfp4_expert_layer_bytes(spec: ModelSpec, tensor_parallel: int, backend: str) -> float:
    """Bytes one GPU holds for one MoE layer's MXFP4 experts once vLLM has loaded and prepared them.

    vllm/model_executor/layers/quantization/mxfp4.py `Mxfp4MoEMethod.create_weights` (v0.10.1,
    v0.12 … v0.14): per rank w13 [E, 2·I', H'/2] and w2 [E, H', I'/2] uint8 (two fp4 per byte),
    one uint8 scale per 32 values, bf16 biases w13 [E, 2·I'] and w2 [E, H'] (w2's bias is whole
    on every rank), with the expert width I' = I/TP padded per backend:
    - Marlin: I' = round_up(I/TP, 128), H' = round_up(H, 256) (its n % 256, k % 128 rule);
      `prepare_moe_fp4_layer_for_marlin` repacks in place and keeps e8m0 scales.
    - Triton (Hopper): I' = round_up(I/TP, 64), H' = H. `process_weights_after_loading` casts the
      biases to float32 and `_swizzle_mxfp4` (utils/mxfp4_utils.py) builds a second copy of the
      scales in triton_kernels' `HopperMXScaleLayout` — rows padded to 2·num_warps·2·8 = 256,
      scale columns to 2 — while the original scale parameters stay registered on the layer.
    - FlashInfer (SM 10.x): I' and H' rounded up to 256, float32 biases, scales shuffled in place.
    For gpt-oss (H = I = 2880) this is why vLLM reports ~6 % more than the checkpoint on an H100
    (the duplicated, padded scales) and ~14 % more per GPU at TP 4 on an A100 (Marlin's padding).
    """
    return float(sum(mxfp4_expert_layer_tensors(spec, tensor_parallel, backend)))


def mxfp4_expert_rounding_bytes(spec: ModelSpec, tensor_parallel: int, backend: str, experts: int) -> float:
    """What the caching allocator adds to one MoE layer's MXFP4 expert tensors on one GPU
    (`allocated_bytes` of each of `mxfp4_expert_layer_tensors`, `experts` the GPU holds).

    The expert parameters are allocated one by one on the device (`Mxfp4MoEMethod.create_weights`,
    and the copies `process_weights_after_loading` makes), each of 10 MiB or more in its own
    2 MiB-rounded segment, kept whole when the rest is 1 MiB or less. gpt-oss's e8m0 scales are the
    tensors that round: at TP 1 on Hopper the w13 scales [128, 5,760, 90] are 63.28 MiB (a 64 MiB
    block), the w2 scales [128, 2,880, 90] 31.64 MiB (32) and the swizzled w2 copy 33.75 MiB (34):
    1.33 MiB per layer, 48 MiB over gpt-oss-120b's 36 layers. With the float32 RoPE table
    (`_FP32_ROPE_ARCHITECTURES`, +16 MiB) this is the 0.062 GiB by which the v0.11.0 H100 fit row
    llmd-v0.11-gpt-oss-120b's "Model loading took 64.38 GiB" exceeded llmkube's 64.318. Marlin's
    padded w13 scales [128, 5,888, 96] are 69 MiB, kept in a whole 70 MiB segment (1 MiB per layer;
    its other tensors split or are whole multiples of 2 MiB): with the RoPE table 65.964 GiB against
    the 65.9651 the fit rows gh-aimo3-gpt-oss-120b-h100-fp8kv-v0112 and vllm-i23278 read (65.913
    before). Nothing was fitted."""
    return float(sum(allocated_bytes(size) - size
                     for size in mxfp4_expert_layer_tensors(spec, tensor_parallel, backend, experts)))
