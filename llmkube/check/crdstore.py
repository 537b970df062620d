"""Where CRD schemas come from: `--crds` directories, the user cache, and pulls.

Upstream CRD files are big (KServe's LLMInferenceService is 2.2 MB of YAML) and a
GitOps repo vendors dozens of them, while one `validate` run needs only the few
kinds its manifests use. So `CRDStore.load` only reads the files; a file is
parsed the first time a lookup could need it (its text names both the group and
the kind), with libyaml events built straight into plain dicts (~4x faster than
PyYAML's Python constructor, ~20x faster than ruamel's pure-Python loader,
which has no C extension installed here). Nothing is written to disk except by
`save_crds` / `pull_from_source`, which fill the user cache.
"""

from __future__ import annotations

import os
import re
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import yaml

from llmkube.errors import InputError, SourceMark
from llmkube.fastyaml import load_plain

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_KIND = "CustomResourceDefinition"
_SUFFIXES = (".yaml", ".yml", ".json")
_FETCH_TIMEOUT_S = 30


@dataclass(frozen=True)
class CRDVersion:
    """One served version of a CRD: what a custom resource is validated against."""

    group: str
    version: str
    kind: str
    plural: str
    scope: str
    schema: dict[str, Any] = field(compare=False, hash=False, repr=False)
    served: bool = True
    storage: bool = False
    deprecated: bool = False
    source: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def default_cache_dir() -> Path:
    """The user cache `llmkube crds pull` fills: $LLMKUBE_CACHE_DIR, else XDG, else ~/.cache."""
    explicit = os.environ.get("LLMKUBE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "llmkube" / "crds"


def parse_documents(text: str, source: str) -> list[Any]:
    """All documents of a CRD file as plain data; bad syntax → InputError at the line."""
    return load_plain(text, source, what="CRD file")


# --------------------------------------------------------------------------- CRDs


def _crd_documents(docs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """The `apiextensions.k8s.io/v1` CRDs among docs, unpacking `kind: List` wrappers."""
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "List" or (
            str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list)
        ):
            yield from _crd_documents(doc.get("items") or [])
        elif doc.get("apiVersion") == CRD_API_VERSION and doc.get("kind") == CRD_KIND:
            yield doc


def _crd_versions(crd: dict[str, Any], source: str) -> list[CRDVersion]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, kind = spec.get("group"), names.get("kind")
    if not isinstance(group, str) or not isinstance(kind, str):
        return []
    out = []
    for ver in spec.get("versions") or []:
        if not isinstance(ver, dict) or not isinstance(ver.get("name"), str):
            continue
        schema = (ver.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        out.append(
            CRDVersion(
                group=group,
                version=ver["name"],
                kind=kind,
                plural=str(names.get("plural", "")),
                scope=str(spec.get("scope", "Namespaced")),
                schema=schema,
                served=bool(ver.get("served", True)),
                storage=bool(ver.get("storage", False)),
                deprecated=bool(ver.get("deprecated", False)),
                source=source,
            )
        )
    return out


class _CRDFile:
    """One file that may hold CRDs: its text now, its parsed CRDs on first need."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self._defs: dict[tuple[str, str], list[CRDVersion]] | None = None

    def may_define(self, group: str, kind: str) -> bool:
        # A file defining (group, kind) spells both out; this skips parsing all others.
        return CRD_KIND in self.text and kind in self.text and group in self.text

    def definitions(self) -> dict[tuple[str, str], list[CRDVersion]]:
        if self._defs is None:
            defs: dict[tuple[str, str], list[CRDVersion]] = {}
            for crd in _crd_documents(_parsed_with_cache(self.text, str(self.path))):
                versions = _crd_versions(crd, str(self.path))
                if versions:
                    defs.setdefault((versions[0].group, versions[0].kind), versions)
            self._defs = defs
        return self._defs


def parsed_cache_dir() -> Path:
    """Where parsed CRD files are kept as JSON, beside (never inside) the CRD cache."""
    return default_cache_dir().with_name("parsed-crds")


def _parsed_with_cache(text: str, source: str) -> list[Any]:
    """Parse a CRD file, reusing an earlier parse of the same bytes.

    YAML parsing of a 2 MB CRD costs ~0.4 s on every run of a pre-commit
    hook; JSON of the same data loads ~20× faster. The key is the content
    hash, so an edited file is simply parsed again. Cache trouble (read-only
    home, a corrupt entry) falls back to parsing.
    """
    import hashlib
    import json

    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    entry = parsed_cache_dir() / f"{key}.json"
    try:
        return json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    docs = parse_documents(text, source)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".parsed.", suffix=".tmp", dir=entry.parent)
    except OSError:
        return docs
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(docs, fh, separators=(",", ":"))
        os.replace(tmp, entry)
    except (OSError, TypeError, ValueError):
        Path(tmp).unlink(missing_ok=True)
    return docs


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"CRD file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            mark=SourceMark(str(path)),
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot read CRD file: {exc.strerror or exc}", mark=SourceMark(str(path))
        ) from None


def _files_under(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*") if p.suffix.lower() in _SUFFIXES and p.is_file()
    )


class CRDStore:
    """CRD schemas by (group, kind, version); the first definition in load order wins."""

    def __init__(self, files: Sequence[_CRDFile] = ()) -> None:
        self._files = list(files)
        self._resolved: dict[tuple[str, str], list[CRDVersion] | None] = {}

    @classmethod
    def load(
        cls,
        dirs: Sequence[Path],
        *,
        include_cache: bool = True,
        cache_dir: Path | None = None,
    ) -> CRDStore:
        """Read CRD files under `dirs` (then the cache); parsing waits until a kind is looked up."""
        files: list[_CRDFile] = []
        for d in dirs:
            d = Path(d)
            if not d.exists():
                raise InputError(
                    f"CRD directory not found: {d}",
                    mark=SourceMark(str(d)),
                    hint="--crds takes a directory (or file) of CRD YAML files",
                )
            files.extend(_CRDFile(p, _read_text(p)) for p in _files_under(d))
        if include_cache:
            cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
            if cache.is_dir():
                files.extend(_CRDFile(p, _read_text(p)) for p in _files_under(cache))
        return cls(files)

    def _versions(self, group: str, kind: str) -> list[CRDVersion] | None:
        """Every version of (group, kind) across the files; the first file wins per version.

        Two CRDs may define one kind at different versions (the Training
        Operator's kubeflow.org/v1 MPIJob and the MPI Operator's v2beta1): a
        repository can hold manifests for either, so both are kept.
        """
        key = (group, kind)
        if not group:  # core kinds (apiVersion "v1") never come from a CRD
            return None
        if key not in self._resolved:
            merged: dict[str, CRDVersion] = {}
            for f in self._files:
                if f.may_define(group, kind):
                    for v in f.definitions().get(key) or []:
                        merged.setdefault(v.version, v)
            self._resolved[key] = list(merged.values()) or None
        return self._resolved[key]

    def lookup(self, api_version: str, kind: str) -> CRDVersion | None:
        """The served CRD version for `group/version` + kind, or None."""
        group, _, version = api_version.rpartition("/")
        for v in self._versions(group, kind) or []:
            if v.version == version and v.served:
                return v
        return None

    def plural(self, group: str, kind: str) -> str | None:
        """The resource plural a local CRD gives (group, kind), or None if none does."""
        return next((v.plural for v in self._versions(group, kind) or [] if v.plural), None)

    def known_versions(self, group: str, kind: str) -> list[str]:
        """Versions the CRD for (group, kind) serves, in CRD order; [] if unknown."""
        return [v.version for v in self._versions(group, kind) or [] if v.served]

    def kinds(self) -> list[tuple[str, str]]:
        """Every (group, kind) defined; parses all candidate files."""
        seen: dict[tuple[str, str], None] = {}
        for f in self._files:
            if CRD_KIND in f.text:
                for key in f.definitions():
                    seen.setdefault(key, None)
        return list(seen)

    def __len__(self) -> int:
        return len(self.kinds())


# --------------------------------------------------------------------------- cache


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VOLATILE_META = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp")


def save_crds(documents: Iterable[Any], cache_dir: Path) -> list[Path]:
    """Write each CRD among documents to `<cache>/<metadata.name>.yaml` atomically."""
    cache_dir = Path(cache_dir)
    written: list[Path] = []
    for crd in _crd_documents(documents):
        name = str((crd.get("metadata") or {}).get("name", ""))
        if not _SAFE_NAME.fullmatch(name):
            raise InputError(
                f"CRD has no usable metadata.name ({name!r}); cannot cache it",
                hint="a CRD is named <plural>.<group>",
            )
        crd = dict(crd)
        crd.pop("status", None)
        meta = {k: v for k, v in (crd.get("metadata") or {}).items() if k not in _VOLATILE_META}
        crd["metadata"] = meta
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / f"{name}.yaml"
        text = yaml.dump(
            crd, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False
        )
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=cache_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def _fetch(url: str) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": "llmkube"})
    try:
        with urllib.request.urlopen(request, timeout=_FETCH_TIMEOUT_S) as resp:
            data = resp.read()
    except urllib.error.HTTPError as exc:
        raise InputError(
            f"cannot fetch CRDs from {url}: HTTP {exc.code} {exc.reason}",
            hint="check the URL; it must point at a raw YAML file (e.g. a release asset)",
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(
            f"cannot fetch CRDs from {url}: {reason}",
            hint="check the URL and your network; or download the file and pass its path",
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{url} did not return UTF-8 text") from None


def pull_from_source(source: str, cache_dir: Path) -> list[Path]:
    """Copy the CRDs in a directory, a file, or an http(s) URL of one YAML file into the cache."""
    if source.startswith(("http://", "https://")):
        docs = parse_documents(_fetch(source), source)
    else:
        root = Path(source).expanduser()
        if not root.exists():
            raise InputError(
                f"CRD source not found: {source}",
                hint="give a directory, a YAML file, or an http(s) URL of a YAML file",
            )
        docs = []
        for p in _files_under(root):
            docs.extend(parse_documents(_read_text(p), str(p)))
    return save_crds(docs, cache_dir)


__all__ = [
    "CRDStore",
    "CRDVersion",
    "default_cache_dir",
    "parse_documents",
    "pull_from_source",
    "save_crds",
]
