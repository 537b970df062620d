"""`llmkube render`: specs → manifests, on stdout or into a directory."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from llmkube import pipeline
from llmkube.apimachinery import api_group
from llmkube.commands.common import note
from llmkube.errors import InputError, SourceMark
from llmkube.federation import ClusterSet, by_cluster
from llmkube.options import Options
from llmkube.pipeline import Rendered
from llmkube.report import missing_schema_advice, write_report
from llmkube.yamlio import dump_json_documents, dump_yaml, dump_yaml_documents


def run_render(
    paths: Sequence[str], options: Options, *, output_dir: Path | None, fmt: str, color: str, ignore_missing_schemas: bool = False
) -> int:
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
    if problems:
        sys.stderr.write("llmkube: the rendered manifests fail their schemas; nothing was written\n")
        write_report(problems, "text", checked=len(rendered), stream=sys.stderr, color=color)
        return 1

    sets = by_cluster(rendered, rendering.clusters)
    if output_dir is None:
        sys.stdout.write(_stdout_text(sets, fmt))
    elif len(sets) == 1 and not sets[0].name:
        write_output_dir(rendered, output_dir, fmt)
    else:
        for cluster_set in sets:  # a folder per cluster of a federation: apply each with its own context
            write_output_dir(cluster_set.objects, output_dir / cluster_set.name, fmt)
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
    tokens = pipeline.token_findings(result.targets, options, result.profiles)
    if tokens:
        write_report(tokens, "text", stream=sys.stderr, color=color)
    # Last, so that on a terminal it is not scrolled away under the manifests.
    advice = missing_schema_advice(missing)
    if advice and not ignore_missing_schemas:
        note(advice)
    return 0


def _stdout_text(sets: Sequence[ClusterSet[Rendered]], fmt: str) -> str:
    """One stream; a federation's sets each under a `# cluster:` comment (YAML stays one
    valid multi-document stream; JSON stays one List, the cluster in each object's
    `llmkube.dev/cluster` annotation)."""
    if fmt == "json":
        return dump_json_documents(r.obj for s in sets for r in s.objects)
    if len(sets) == 1 and not sets[0].name:
        return dump_yaml_documents(r.obj for r in sets[0].objects)
    parts = []
    for s in sets:
        context = f" (kubectl context {s.context})" if s.context else ""
        parts.append(f"# ==== cluster: {s.name}{context} ====\n" + dump_yaml_documents(r.obj for r in s.objects))
    return "".join(parts)


def file_name(obj: dict, fmt: str, *, qualified: bool = False) -> str:
    """`kind[_namespace]_name.yaml`; `qualified` adds the API group (`job.batch.volcano.sh_…`)
    for objects whose plain names would collide."""
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind", "object")).lower()
    group = api_group(obj)
    parts = [f"{kind}.{group}" if qualified and group else kind]
    if meta.get("namespace"):
        parts.append(str(meta["namespace"]))
    parts.append(str(meta.get("name", "unnamed")))
    return "_".join(parts) + (".json" if fmt == "json" else ".yaml")


def file_names(rendered: Sequence[Rendered], fmt: str) -> list[str]:
    """One distinct file name per object. Two kinds of one name from different API groups
    (batch/v1 and Volcano's `Job`) are told apart by their group; the same object rendered
    twice is an error, since one file would silently replace the other."""
    plain = [file_name(r.obj, fmt) for r in rendered]
    counts = Counter(plain)
    names = [file_name(r.obj, fmt, qualified=True) if counts[n] > 1 else n for r, n in zip(rendered, plain)]
    first: dict[str, Rendered] = {}
    for r, name in zip(rendered, names):
        if name in first:
            earlier = first[name].source
            where = f" (first from {earlier.document.mark()})" if earlier else ""
            raise InputError(
                f"two objects would be written to {name!r}{where}: the same object is rendered twice",
                mark=r.source.document.mark() if r.source else None,
                hint="give one of the specs another name or namespace",
            )
        first[name] = r
    return names


def write_output_dir(rendered: Sequence[Rendered], output_dir: Path, fmt: str) -> list[Path]:
    """Write one file per object, all or nothing.

    Every file is written to a staging directory inside `output_dir` first (same
    file system, so a rename is atomic); only then are they renamed into place,
    each existing file moved aside first. Any failure -- a target that is a
    directory, an immutable file, a full disk, a read-only directory -- undoes
    what was done and is an InputError (exit 2): the directory is as it was.
    """
    import json

    contents: dict[str, str] = {}
    for r, name in zip(rendered, file_names(rendered, fmt)):
        if name in (".", "..") or Path(name).name != name:
            mark = r.source.document.mark() if r.source else None
            raise InputError(f"cannot name an output file {name!r}: it is not a plain file name", mark=mark)
        contents[name] = json.dumps(r.obj, indent=2) + "\n" if fmt == "json" else dump_yaml(r.obj)
    created = _make_dirs(output_dir)
    try:
        for name in contents:
            target = output_dir / name
            if target.is_dir() and not target.is_symlink():
                raise _refusal(target, "it is a directory; remove it or choose another --output-dir")
        try:
            staging = Path(tempfile.mkdtemp(prefix=".llmkube-", dir=output_dir))
        except OSError as exc:
            raise _refusal(output_dir, f"cannot write in it: {exc.strerror}") from None
        try:
            for name, text in contents.items():
                try:
                    (staging / name).write_text(text, encoding="utf-8")
                except OSError as exc:
                    raise _refusal(output_dir / name, f"cannot write it: {exc.strerror}") from None
            return _swap_in(staging, output_dir, list(contents))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                pass
        raise


def _refusal(path: Path, why: str) -> InputError:
    return InputError(f"{why}; nothing was written", mark=SourceMark(str(path)))


def _make_dirs(output_dir: Path) -> list[Path]:
    """Create `output_dir` and missing parents; return the ones created (to remove on failure)."""
    missing = [p for p in (output_dir, *output_dir.parents) if not p.exists()]
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        for d in missing:
            try:
                d.rmdir()
            except OSError:
                pass
        blocker = next((p for p in (output_dir, *output_dir.parents) if p.exists() and not p.is_dir()), None)
        why = f"{blocker} exists and is not a directory" if blocker is not None else exc.strerror
        raise InputError(
            f"cannot create output directory: {why}", mark=SourceMark(str(output_dir)), hint="give --output-dir a directory, or a path that can become one"
        ) from None
    return list(reversed(missing))


def _swap_in(staging: Path, output_dir: Path, names: list[str]) -> list[Path]:
    """Rename the staged files into place; on any failure put every old file back."""
    backup = staging / ".previous"
    backup.mkdir()
    moved_aside: list[str] = []
    placed: list[str] = []
    try:
        for name in names:
            target = output_dir / name
            if target.is_symlink() or target.exists():
                if target.is_dir() and not target.is_symlink():
                    raise IsADirectoryError(21, "Is a directory")
                os.replace(target, backup / name)
                moved_aside.append(name)
            os.replace(staging / name, target)
            placed.append(name)
    except OSError as exc:
        failed = output_dir / name
        for name in placed:
            try:
                os.unlink(output_dir / name)
            except OSError:
                pass
        for name in moved_aside:
            try:
                os.replace(backup / name, output_dir / name)
            except OSError:
                pass
        raise _refusal(failed, f"cannot replace it: {exc.strerror}") from None
    return [output_dir / name for name in names]
