"""`llmkube render`: specs → manifests, on stdout or into a directory."""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from llmkube import pipeline
from llmkube.commands.common import note
from llmkube.errors import InputError, SourceMark
from llmkube.options import Options
from llmkube.pipeline import Rendered
from llmkube.report import write_report
from llmkube.yamlio import dump_json_documents, dump_yaml, dump_yaml_documents


def run_render(paths: Sequence[str], options: Options, *, output_dir: Path | None, fmt: str, color: str) -> int:
    # Render checks its own output against the schemas (not the LLM-aware rules: that is
    # `validate`), so a template override is held to the same schemas.
    result = pipeline.run(paths, dataclasses.replace(options, rules=False))
    rendering = result.rendering
    rendered = rendering.objects
    if result.manifests:
        first = result.manifests[0].document
        raise InputError(
            "render takes llmkube specs only; this is a plain Kubernetes manifest",
            mark=first.mark() if first else None,
            hint="check plain manifests with `llmkube validate`",
        )
    if not rendered:
        raise InputError("no llmkube specs found in the given paths", hint="specs have apiVersion: llmkube.dev/v1alpha1")

    missing, problems = result.missing_schemas, result.problems
    if missing:
        kinds = sorted({f.object.split("/")[0] for f in missing})
        note(
            f"not checked, no schema for {', '.join(kinds)}: "
            "pass --crds DIR or run `llmkube crds pull` to check them"
        )
    if problems:
        sys.stderr.write("llmkube: the rendered manifests fail their schemas; nothing was written\n")
        write_report(problems, "text", checked=len(rendered), stream=sys.stderr, color=color)
        return 1

    if output_dir is None:
        text = dump_json_documents(r.obj for r in rendered) if fmt == "json" else dump_yaml_documents(r.obj for r in rendered)
        sys.stdout.write(text)
    else:
        write_output_dir(rendered, output_dir, fmt)
    for message in rendering.notes:
        note(message)
    if any(r.obj.get("kind") == "ClusterPolicy" for r in rendered):
        note(
            "the ClusterPolicy holds only the fields llmkube sets: apply it server-side "
            "(`llmkube apply`, or `kubectl apply --server-side`), never with `kubectl create` or "
            "`replace`, which would drop the GPU Operator's own settings"
        )
    for step in rendering.node_labels:
        note(f"pool {step.pool!r} needs its nodes labelled (llmkube apply does this): {step.kubectl_command()}")
    return 0


def file_name(obj: dict, fmt: str) -> str:
    meta = obj.get("metadata") or {}
    parts = [str(obj.get("kind", "object")).lower()]
    if meta.get("namespace"):
        parts.append(str(meta["namespace"]))
    parts.append(str(meta.get("name", "unnamed")))
    return "_".join(parts) + (".json" if fmt == "json" else ".yaml")


def write_output_dir(rendered: Sequence[Rendered], output_dir: Path, fmt: str) -> list[Path]:
    """All files are produced in memory and staged first; then moved in place.

    A failure before the move leaves the directory as it was.
    """
    import json

    contents: dict[str, str] = {}
    for r in rendered:
        name = file_name(r.obj, fmt)
        text = json.dumps(r.obj, indent=2) + "\n" if fmt == "json" else dump_yaml(r.obj)
        contents[name] = text
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory: {exc.strerror}", mark=SourceMark(str(output_dir))) from None
    staging = Path(tempfile.mkdtemp(prefix=".llmkube-", dir=output_dir))
    try:
        for name, text in contents.items():
            (staging / name).write_text(text, encoding="utf-8")
        written = []
        for name in contents:
            os.replace(staging / name, output_dir / name)
            written.append(output_dir / name)
        return written
    finally:
        for leftover in staging.iterdir():
            leftover.unlink()
        staging.rmdir()
