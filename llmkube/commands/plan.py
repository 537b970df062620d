"""`llmkube plan`: size every model server and training job in the inputs.

Specs are rendered through the pipeline first, so an InferenceEndpoint is sized
exactly as it will run (its vLLM/TGI flags, GPU and probes); plain manifests
running vLLM, TGI or torchrun are read the same way the LK1xx/LK3xx rules read
them. The rows and tables are built in `llmkube.sizing_report`.

Exit code: 0, or 1 when a server or a job does not fit its GPUs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from llmkube import pipeline
from llmkube.commands.common import note
from llmkube.errors import InputError
from llmkube.options import Options
from llmkube.report import use_color
from llmkube.sizing_report import plan_rows, render_table


def run_plan(paths: Sequence[str], options: Options = Options(), *, report: str = "text", color: str = "auto") -> int:
    result = pipeline.run(paths, options)
    targets = result.targets
    if not targets:
        raise InputError("no Kubernetes objects or llmkube specs found in the given paths")
    for message in result.rendering.notes:
        note(message)
    rows = plan_rows(targets, result.profiles)
    if report == "json":
        sys.stdout.write(json.dumps({"items": rows}, indent=2, ensure_ascii=False) + "\n")
    else:
        render_table(rows, color=use_color(sys.stdout, color), stream=sys.stdout)
    return 1 if any(r.get("fits") is False for r in rows) else 0
