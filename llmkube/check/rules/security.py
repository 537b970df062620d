"""LK5xx: security and supply-chain rules — secrets in manifests, unpinned images."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeGuard

from llmkube.check.findings import Severity
from llmkube.check.read.context import ReadContext
from llmkube.check.read.shape import dig
from llmkube.check.rules import Hit, rule
from llmkube.check.run import Target
from llmkube.lazyre import lazy
from llmkube.secrets import find_tokens, holds_token, redact

Path = tuple[str | int, ...]

TOKEN_VARS = {
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HUGGINGFACE_HUB_TOKEN",
    "HUGGINGFACEHUB_API_TOKEN",
    "HUGGINGFACE_TOKEN",
    "HF_API_TOKEN",
    "HF_HUB_TOKEN",
}
# A Hugging Face access token: `hf_` and (today) 34 letters; allow some slack.
HF_TOKEN = lazy(r"\bhf_[A-Za-z0-9]{20,}\b")
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# `$HF_TOKEN`, `${HF_TOKEN}`, `$(HF_TOKEN)`, `{{ .Values.token }}`: filled in later, not a literal.
_REFERENCE = lazy(r"^\s*(\$\{?\(?[A-Za-z_][A-Za-z0-9_]*\)?\}?|\{\{.*\}\})\s*$")


def _walk(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every node with its path, parents before children, in document order (a stack, not
    recursion: these rules walk every object of the run)."""
    stack = [(path, node)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, Mapping):
            stack.extend(reversed([((*path, k), v) for k, v in node.items()]))
        elif isinstance(node, list):
            stack.extend(reversed([((*path, i), v) for i, v in enumerate(node)]))


def _containers(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """`_walk` restricted to mappings and lists (same order): no path is built for a scalar."""
    stack = [(path, node)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, Mapping):
            items: Iterable[tuple[Any, Any]] = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        stack.extend(reversed([((*path, k), v) for k, v in items if isinstance(v, (Mapping, list))]))


def _quick_answers(t: Target) -> tuple[bool, bool]:
    """`_quick(t.obj)`, kept on the target for the run: LK501 and LK502 both ask it."""
    found = t.reads.get("security.quick")
    if found is None:
        found = t.reads["security.quick"] = _quick(t.obj)
    return found


def _quick(obj: Mapping[str, Any]) -> tuple[bool, bool]:
    """Whether LK501 can find anything in `obj` (a token-shaped string, or an item named like a token
    variable set to a literal), and whether LK502 can (a container image `image_reference_problem`
    flags, or a TrainJob's trainer image). Most objects have neither: one walk that builds no paths
    answers both, and searches all the strings at once (joined by newlines, which no token pattern
    starts or ends inside: a token in one string is found in the joined text; a match across two
    only costs the full walk). Held to the two walks it replaced (tests/test_validate_throughput.py)."""
    strings: list[str] = []
    add = strings.append
    token = floating = False
    stack: list[Any] = [obj]
    while stack:
        node = stack.pop()
        kind = type(node)  # exact types first: most nodes are plain, and a Mapping check is an ABC's
        if kind is dict or (kind is not list and kind is not str and isinstance(node, Mapping)):
            if not token and "name" in node and str(node.get("name", "")).upper() in TOKEN_VARS and _literal(node.get("value")):
                token = True  # a token variable set to a literal (one set from a Secret is what LK501 asks for)
            if not floating and ("containers" in node or "initContainers" in node or "ephemeralContainers" in node):
                floating = _floating_container(node)  # (the three `in` checks first: most mappings hold none)
            values: Iterable[Any] = node.values()
        elif kind is list or (kind is not str and isinstance(node, list)):
            values = node
        else:  # the root only: children are sorted below
            if isinstance(node, str):
                add(node)
            continue
        for v in values:  # a string is taken here, not pushed and popped (most values are strings)
            vkind = type(v)
            if vkind is str:
                add(v)
            elif vkind is dict or vkind is list or (not isinstance(v, (bool, int, float)) and v is not None):
                stack.append(v)
    if not floating and obj.get("kind") == "TrainJob":
        image = dig(obj, "spec", "trainer", "image")
        floating = isinstance(image, str) and image_reference_problem(image) is not None
    return token or holds_token("\n".join(strings)), floating


def _literal(value: Any) -> TypeGuard[str]:
    """An env value LK501 reads as written: a non-blank string that is no reference (`$HF_TOKEN`, `{{ … }}`)."""
    return isinstance(value, str) and bool(value.strip()) and not _REFERENCE().match(value)


def _env_entries(obj: Mapping[str, Any]) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every `env:` item anywhere in an object (pods, job templates, TrainJob trainer, KServe…)."""
    for path, node in _containers(obj):
        if path and path[-1] == "env" and isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, Mapping) and "name" in item:
                    yield (*path, i), item


@rule("LK501", "literal-hf-token", Severity.ERROR, "a literal Hugging Face (or other access) token in a manifest")
def literal_hf_token(ctx: ReadContext) -> Iterator[Hit]:
    """A Hugging Face access token written into a manifest ends up in git,
    in `kubectl get -o yaml`, in every CI log that prints the manifest, and
    in the pod spec that anyone with read access to the namespace sees. The
    rule flags `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN` and similar variables set
    with a literal `value`, and any env value, container argument (`args`,
    `command`, and so a spec's `extraArgs`), annotation or ConfigMap value
    that looks like a token: `hf_` followed by 20 or more letters and digits,
    and the other well-known shapes (GitHub `ghp_…`/`github_pat_…`, GitLab
    `glpat-…`, AWS access key ids `AKIA…`, OpenAI/Anthropic `sk-…`, Slack
    `xox…-`, NGC `nvapi-…`). Messages show only the token's first five
    characters. A Secret's data is not flagged: that is where the token
    belongs; its annotations are (`kubectl describe` prints them, and a
    Secret applied from `stringData` keeps its values in plain text in the
    `last-applied-configuration` annotation). Nor are references filled in
    later (`$HF_TOKEN`, `$(HF_TOKEN)`, `{{ … }}`).

    Fails:

    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: llama-8b, namespace: llm}
    spec:
      selector: {matchLabels: {app: llama-8b}}
      template:
        metadata: {labels: {app: llama-8b}}
        spec:
          containers:
          - name: vllm
            image: vllm/vllm-openai:v0.11.0
            env:
            - name: HF_TOKEN
              value: hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789
    ```

    Passes:

    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: llama-8b, namespace: llm}
    spec:
      selector: {matchLabels: {app: llama-8b}}
      template:
        metadata: {labels: {app: llama-8b}}
        spec:
          containers:
          - name: vllm
            image: vllm/vllm-openai:v0.11.0
            env:
            - name: HF_TOKEN
              valueFrom:
                secretKeyRef: {name: hf-token, key: token}
    ```
    """
    hint = (
        "revoke this token on huggingface.co, store the new one in a Secret "
        "(kubectl create secret generic hf-token --from-literal=token=…) and use "
        "valueFrom.secretKeyRef: {name: hf-token, key: token}"
    )
    for t in ctx.targets:
        obj = t.obj
        if obj.get("kind") == "Secret":
            yield from _secret_annotation_tokens(t, hint)
            continue
        if not _quick_answers(t)[0]:
            continue
        flagged: set[Path] = set()
        for path, item in _env_entries(obj):
            name = str(item.get("name", ""))
            value = item.get("value")
            if not _literal(value):
                continue
            tokens = find_tokens(value)
            if name.upper() in TOKEN_VARS or tokens:
                flagged.add(path)
                what = "a literal Hugging Face token" if name.upper() in TOKEN_VARS or HF_TOKEN().search(value) else "a literal access token"
                yield Hit(
                    t,
                    (*path, "value"),
                    f"env {name} holds {what}"
                    + (f" ({redact(tokens[0])})" if tokens else "")
                    + ": anyone who can read the manifest can use it",
                    hint,
                )
        for path, node in _walk(obj):
            tokens = find_tokens(node) if isinstance(node, str) else []
            if not tokens or any(path[: len(p)] == p for p in flagged):
                continue
            where = _token_place(obj, path)
            if where:
                yield Hit(t, path, f"{where} holds a literal {_token_kind(node)} ({redact(tokens[0])})", hint)


def _secret_annotation_tokens(t: Target, hint: str) -> Iterator[Hit]:
    """A token in a Secret's annotations: its data is where a token belongs, but annotations are
    metadata — `kubectl describe secret` prints them while it hides the data, and a Secret applied from
    `stringData` keeps its values in plain text in `kubectl.kubernetes.io/last-applied-configuration`."""
    metadata = t.obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return
    for key, value in annotations.items():
        tokens = find_tokens(value) if isinstance(value, str) else []
        if tokens:
            yield Hit(t, ("metadata", "annotations", key),
                      f"Secret annotation {key} holds a literal {_token_kind(value)} ({redact(tokens[0])}): "
                      "annotations are shown where the data is not",
                      hint)


def _token_kind(text: str) -> str:
    """How a message names the token found in `text`."""
    return "Hugging Face token" if HF_TOKEN().search(text) else "access token"


def _token_place(obj: Mapping[str, Any], path: Path) -> str | None:
    """Where a token was found, in words, when it is a place LK501 watches: args, annotations, ConfigMap data."""
    if len(path) >= 2 and path[-2] in ("command", "args", "extraArgs"):
        return "a container argument"
    if len(path) >= 3 and path[-2] == "annotations" and path[-3] == "metadata":
        return f"annotation {path[-1]}"
    if obj.get("kind") == "ConfigMap" and path[:1] in (("data",),):
        return f"ConfigMap key {path[-1]}"
    return None


def image_reference_problem(image: str) -> str | None:
    """'latest' / 'untagged' for a floating reference; None when pinned by tag or digest."""
    image = image.strip()
    if not image or "${" in image or "{{" in image or "$(" in image:
        return None
    if "@" in image:
        return None  # pinned by digest (repo@sha256:…, or repo:tag@sha256:…)
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "untagged"
    if last.rsplit(":", 1)[1] == "latest":
        return "latest"
    return None


def _floating_container(node: Mapping[str, Any]) -> bool:
    """A container of one of the mapping's container lists has an image `image_reference_problem` flags."""
    for key in CONTAINER_LISTS:
        items = node.get(key)
        for item in items if isinstance(items, list) else ():
            image = item.get("image") if isinstance(item, Mapping) else None
            if isinstance(image, str) and image_reference_problem(image):
                return True
    return False


def _images(obj: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    """Container images anywhere in an object, plus a TrainJob's trainer image."""
    for path, node in _containers(obj):
        if len(path) >= 2 and isinstance(path[-1], int) and path[-2] in CONTAINER_LISTS and isinstance(node, Mapping):
            image = node.get("image")
            if isinstance(image, str):
                yield (*path, "image"), image
    if obj.get("kind") == "TrainJob":
        image = dig(obj, "spec", "trainer", "image")
        if isinstance(image, str):
            yield ("spec", "trainer", "image"), image


@rule("LK502", "floating-image", Severity.WARNING, "a container image tagged :latest or not tagged at all")
def floating_image(ctx: ReadContext) -> Iterator[Hit]:
    """An image without a tag means `:latest`, and `:latest` moves. Two pods of
    one Deployment, or two nodes of one training job, can then run different
    code — and a CUDA, PyTorch or vLLM upgrade lands unannounced on the next
    node restart (with `imagePullPolicy: Always` implied for `:latest`).
    Pin a version tag, or better a digest (`@sha256:…`).

    Fails:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: trainer}
    spec:
      containers:
      - name: trainer
        image: nvcr.io/nvidia/pytorch:latest
    ```

    Passes:

    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: trainer}
    spec:
      containers:
      - name: trainer
        image: nvcr.io/nvidia/pytorch:24.07-py3
    ```
    """
    for t in ctx.targets:
        if not _quick_answers(t)[1]:
            continue
        for path, image in _images(t.obj):
            problem = image_reference_problem(image)
            if problem is None:
                continue
            what = "has no tag, so it means :latest" if problem == "untagged" else "uses the :latest tag"
            yield Hit(
                t,
                path,
                f"image {image} {what}: pods can run different builds, and upgrades arrive unannounced",
                "pin a version tag (e.g. vllm/vllm-openai:v0.11.0) or a digest (image@sha256:…)",
            )
