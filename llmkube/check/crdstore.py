"""Where CRD schemas come from: `--crds` directories, the user cache, and pulls.

Upstream CRD files are big (KServe's LLMInferenceService is 2.2 MB of YAML) and a
GitOps repo vendors dozens of them, while one `validate` run needs only the few
kinds its manifests use. So `CRDStore.load` only reads the files; a file is
parsed the first time a lookup could need it (its text names both the group and
the kind), with libyaml events built straight into plain dicts (~4x faster than
PyYAML's Python constructor, ~20x faster than ruamel's pure-Python loader,
which has no C extension installed here).

The user cache (`default_cache_dir()`, or the directory a command names) holds:

- `<project>@<tag>/…`: a catalog pull (`llmkube crds pull kueue@v0.19.2`), the
  upstream files byte for byte;
- `<crd name>.yaml`: CRDs pulled from a file, directory, URL or cluster;
- `.index.json`: where each cached file came from and the sha256 of its bytes;
- `.parsed/`: parsed CRD files as JSON, keyed by content hash (pruned);
- `.files/`: the `kind:`/`group:` entries and content hash of each CRD file, for a set of files
  keyed by their paths, sizes and mtimes, so a warm run reads no CRD file it does not parse (pruned);
- `.translated/`: CRD schemas translated for jsonschema-rs and their CEL rule trees, keyed by
  the file's content hash and the translating code (check/schemas.py; pruned);
- `.profiles/`: the parsed GPU and model profile files (profiles.py), keyed by their paths and texts;
- `.jinja/`: compiled templates (render.py), keyed by Jinja by template and source.

Hidden entries are never read as CRD files. Nothing is written to disk except by
the pull functions and the side caches (llmkube.diskcache; `--no-cache` turns them off).
"""

from __future__ import annotations

import os
from dataclasses import field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import yaml

from llmkube import diskcache
from llmkube.errors import InputError, SourceMark
from llmkube.fastyaml import load_plain
from llmkube.lazyre import lazy
from llmkube.records import record

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_KIND = "CustomResourceDefinition"
_SUFFIXES = (".yaml", ".yml", ".json")
_FETCH_TIMEOUT_S = 30


@record(frozen=True)
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
    digest: str = field(default="", compare=False, repr=False)  # sha256 of the source file's text (the side caches' key)

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


def _crd_versions(crd: dict[str, Any], source: str, digest: str = "") -> list[CRDVersion]:
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
                digest=digest,
            )
        )
    return out


#: `kind: X` / `group: X` entries in YAML (block or flow) or JSON; the value is what follows, unquoted.
_ENTRY = lazy(r"""(kind|group)["']?[ \t]*:[ \t]*["']?([A-Za-z0-9][A-Za-z0-9_.-]*)""")


class _CRDFile:
    """One file that may hold CRDs: its `kind:`/`group:` entries and content hash, its text when
    needed, its parsed CRDs on first need.

    `entries` and `digest`, when given, come from the run before (`_indexed_files`): a warm run then
    reads no CRD file whose parse and translation are cached."""

    def __init__(
        self,
        path: Path,
        text: str | None = None,
        parsed_cache: Path | None = None,
        *,
        entries: dict[str, set[str]] | None = None,
        digest: str | None = None,
    ) -> None:
        self.path = path
        self._text = text
        self.parsed_cache = parsed_cache
        self._defs: dict[tuple[str, str], list[CRDVersion]] | None = None
        self._entries = entries
        self._digest = digest

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _read_text(self.path)
        return self._text

    @property
    def digest(self) -> str:
        """The sha256 of the file's text: the key of its side-cache entries."""
        if self._digest is None:
            self._digest = content_key(self.text)
        return self._digest

    @property
    def entries(self) -> dict[str, set[str]]:
        """The values of the file's `kind:` and `group:` entries (none unless it names CustomResourceDefinition)."""
        if self._entries is None:
            found: dict[str, set[str]] = {"kind": set(), "group": set()}
            if CRD_KIND in self.text:
                for key, value in _ENTRY().findall(self.text):
                    found[key].add(value)
            self._entries = found
        return self._entries

    @property
    def holds_crds(self) -> bool:
        """Whether the file may hold a CRD at all (it names CustomResourceDefinition)."""
        return CRD_KIND in self.text

    def may_define(self, group: str, kind: str) -> bool:
        """Whether the file has `kind: <kind>` and `group: <group>` entries (YAML or JSON, exact values):
        a file defining (group, kind) spells both out, so no other file is parsed. Exact values, not
        substrings: InferenceService does not open the LLMInferenceService CRD (2 MB). One scan per file."""
        entries = self.entries
        return kind in entries["kind"] and group in entries["group"]

    def definitions(self) -> dict[tuple[str, str], list[CRDVersion]]:
        if self._defs is None:
            # One file may carry several documents of one CRD (two releases of MPIJob
            # concatenated): every version of every document is kept, the first
            # document winning a version both define.
            defs: dict[tuple[str, str], list[CRDVersion]] = {}
            digest = self.digest
            docs = diskcache.read(self.parsed_cache, digest) if self.parsed_cache is not None else None
            if not isinstance(docs, list):  # not cached yet (or --no-cache): read and parse the text
                docs = parse_cached(self.text, str(self.path), self.parsed_cache, digest)
            for crd in _crd_documents(docs):
                for v in _crd_versions(crd, str(self.path), digest):
                    known = defs.setdefault((v.group, v.kind), [])
                    if all(k.version != v.version for k in known):
                        known.append(v)
            self._defs = defs
        return self._defs


class _InputCRDs:
    """The CRDs among a run's own manifests, as a `_CRDFile` answers for a file: a repository that
    holds a CRD beside its custom resources is checked against it (kubectl applies both). Not kept
    in the side caches: no content hash, so their schemas are translated per run."""

    def __init__(self, crds: Sequence[tuple[Mapping[str, Any], str]]) -> None:
        defs: dict[tuple[str, str], list[CRDVersion]] = {}
        for crd, source in crds:
            for v in _crd_versions(dict(crd), source):
                known = defs.setdefault((v.group, v.kind), [])
                if all(k.version != v.version for k in known):
                    known.append(v)  # the first document wins a version two of them define
        self._defs = defs

    def may_define(self, group: str, kind: str) -> bool:
        return (group, kind) in self._defs

    def definitions(self) -> dict[tuple[str, str], list[CRDVersion]]:
        return self._defs

    @property
    def holds_crds(self) -> bool:
        return bool(self._defs)


#: The version of the file index's entry layout (`_indexed_files`).
_FILE_INDEX = "crd-file-index-1"


def _indexed_files(paths: Sequence[Path], parsed_cache: Path, index_cache: Path) -> list[_CRDFile]:
    """The files, with each one's entries and content hash taken from the previous run's index when
    no file was added, removed, resized or touched since (the key: every path, size and mtime, as
    the core definitions' cache keys its file, and as make and git's index trust a file's stat).
    Otherwise every file is read, and the index written for the next run. Reading and hashing
    the upstream CRD directory's 12 MB cost ~0.3 s of every warm run."""
    import hashlib
    import json

    try:
        stats = [(str(p), st.st_size, st.st_mtime_ns) for p in paths for st in (p.stat(),)]
    except OSError:
        return [_CRDFile(p, _read_text(p), parsed_cache) for p in paths]
    key = hashlib.sha256(json.dumps([_FILE_INDEX, stats]).encode()).hexdigest()
    entry = diskcache.read(index_cache, key)
    if isinstance(entry, list) and len(entry) == len(paths) and all(map(_index_row, entry)):
        return [
            _CRDFile(p, None, parsed_cache, digest=digest, entries={"kind": set(kinds), "group": set(groups)})
            for p, (digest, kinds, groups) in zip(paths, entry)
        ]
    files = [_CRDFile(p, _read_text(p), parsed_cache) for p in paths]
    index = [[f.digest, sorted(f.entries["kind"]), sorted(f.entries["group"])] for f in files]
    diskcache.write(index_cache, key, index, keep=PARSED_KEEP, max_age_s=PARSED_MAX_AGE_S)
    return files


def _index_row(row: Any) -> bool:
    """A row of the file index as `_indexed_files` writes it: [sha256, [kind, …], [group, …]]."""
    return (
        isinstance(row, list)
        and len(row) == 3
        and isinstance(row[0], str)
        and len(row[0]) == 64
        and all(isinstance(names, list) and all(isinstance(n, str) for n in names) for names in row[1:])
    )


PARSED_DIR = ".parsed"
#: Each set of CRD files' entries and content hashes, by their paths, sizes and mtimes (`_indexed_files`).
FILES_DIR = ".files"
#: Translated schemas and CEL rule trees (check/schemas.py), beside the parsed files.
TRANSLATED_DIR = ".translated"
#: The parsed GPU and model profile files (profiles.py), one entry for the whole search path.
PROFILES_DIR = ".profiles"
#: Compiled Jinja templates (render.py).
TEMPLATES_DIR = ".jinja"


def side_cache_dir(name: str, cache_dir: Path | None = None) -> Path:
    """A side cache (`.parsed`, `.translated`, `.profiles`) inside the cache directory, hidden from the CRD loader."""
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / name
#: The parsed side cache keeps the most recently used entries, and none unused this long.
PARSED_KEEP = 64
PARSED_MAX_AGE_S = 30 * 24 * 3600


def parsed_cache_dir(cache_dir: Path | None = None) -> Path:
    """Where parsed CRD files are kept as JSON: inside the CRD cache, hidden from the loader."""
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / PARSED_DIR


def parse_cached(text: str, source: str, parsed_cache: Path | None, key: str | None = None) -> list[Any]:
    """Parse a CRD file, reusing an earlier parse of the same bytes kept in `parsed_cache`.

    YAML parsing of a 2 MB CRD costs ~0.4 s on every run of a pre-commit
    hook; JSON of the same data loads ~20x faster. The key is the content
    hash (`key`, when the caller has it already), so an edited file is simply
    parsed again (and its old entry ages out: see `prune_parsed`). Cache
    trouble (read-only home, a corrupt entry) falls back to parsing;
    `parsed_cache=None` (`--no-cache`) neither reads nor writes (llmkube.diskcache).
    """
    if parsed_cache is None:
        return parse_documents(text, source)
    key = key or content_key(text)
    docs = diskcache.read(parsed_cache, key)
    if isinstance(docs, list):
        return docs
    docs = parse_documents(text, source)
    diskcache.write(parsed_cache, key, docs, keep=PARSED_KEEP, max_age_s=PARSED_MAX_AGE_S)
    return docs


def content_key(text: str) -> str:
    """The sha256 of a file's text: the key of its entries in the side caches."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prune_parsed(parsed_cache: Path, *, keep: int = PARSED_KEEP, max_age_s: float = PARSED_MAX_AGE_S) -> list[Path]:
    """Drop side-cache entries unused for `max_age_s`, and all but the `keep` most recently used."""
    return diskcache.prune(parsed_cache, keep=keep, max_age_s=max_age_s)


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
    """YAML/JSON files under root, in name order; hidden files and directories are not read."""
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in _SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.is_file()
    )


class CRDStore:
    """CRD schemas by (group, kind, version); the first definition in load order wins."""

    def __init__(self, files: Sequence[_CRDFile | _InputCRDs] = (), translated_cache: Path | None = None) -> None:
        self._files = list(files)
        self._resolved: dict[tuple[str, str], list[CRDVersion] | None] = {}
        self.translated_cache = translated_cache  # where check/schemas.py keeps translated schemas (None: nowhere)

    @classmethod
    def load(
        cls,
        dirs: Sequence[Path],
        *,
        include_cache: bool = True,
        cache_dir: Path | None = None,
    ) -> CRDStore:
        """Read CRD files under `dirs` (then the cache); parsing waits until a kind is looked up.

        With `include_cache` off (`--no-cache`) the cache directory is not touched at all,
        not even the parsed side cache.
        """
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        parsed = parsed_cache_dir(cache) if include_cache else None
        paths: list[Path] = []
        for d in dirs:
            d = Path(d)
            if not d.exists():
                raise InputError(
                    f"CRD directory not found: {d}",
                    mark=SourceMark(str(d)),
                    hint="--crds takes a directory (or file) of CRD YAML files",
                )
            paths.extend(_files_under(d))
        if include_cache and cache.is_dir():
            paths.extend(_files_under(cache))
        if parsed is None:
            files = [_CRDFile(p, _read_text(p)) for p in paths]
        else:
            files = _indexed_files(paths, parsed, cache / FILES_DIR)
        return cls(files, cache / TRANSLATED_DIR if include_cache else None)

    def with_inputs(self, crds: Sequence[tuple[Mapping[str, Any], str]]) -> CRDStore:
        """This store with the run's own CRDs (each with the file it is in) first: what the run
        applies defines its kinds before --crds and the cache do."""
        if not crds:
            return self
        return CRDStore([_InputCRDs(crds), *self._files], self.translated_cache)

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

    def definitions(self, group: str, kind: str) -> list[CRDVersion]:
        """Every version of (group, kind) known, served or not, each with the file it came from."""
        return list(self._versions(group, kind) or [])

    def kinds(self) -> list[tuple[str, str]]:
        """Every (group, kind) defined; parses all candidate files."""
        seen: dict[tuple[str, str], None] = {}
        for f in self._files:
            if f.holds_crds:
                for key in f.definitions():
                    seen.setdefault(key, None)
        return list(seen)

    def __len__(self) -> int:
        return len(self.kinds())


# --------------------------------------------------------------------------- cache


_SAFE_NAME = lazy(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VOLATILE_META = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp")
INDEX_FILE = ".index.json"


@record(frozen=True)
class Pulled:
    """One file fetched for the cache: where from, and the sha256 of the bytes fetched."""

    source: str  # URL or path
    data: bytes

    @property
    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.data).hexdigest()


def _dump(crd: dict[str, Any]) -> str:
    return yaml.dump(crd, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


def _write_atomic(target: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory and a rename: never a half-written file."""
    import tempfile  # only `crds pull` writes: kept off every other command's start-up

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cleaned(crd: dict[str, Any]) -> dict[str, Any]:
    """A CRD without status and the metadata the API server fills in (a cluster pull carries them)."""
    crd = dict(crd)
    crd.pop("status", None)
    crd["metadata"] = {k: v for k, v in (crd.get("metadata") or {}).items() if k not in _VOLATILE_META}
    return crd


def save_crds(documents: Iterable[Any], cache_dir: Path, *, origin: str = "") -> list[Path]:
    """Write each CRD among documents to `<cache>/<metadata.name>.yaml` atomically.

    Several different documents of one CRD name (a file holding the MPIJob CRD of
    two releases) are all kept: the second is `<name>~2.yaml`, and so on; the store
    merges their versions. A later save of that name replaces all of them.
    """
    cache_dir = Path(cache_dir)
    by_name: dict[str, list[str]] = {}
    for crd in _crd_documents(documents):
        name = str((crd.get("metadata") or {}).get("name", ""))
        if not _SAFE_NAME().fullmatch(name) or "~" in name:
            raise InputError(
                f"CRD has no usable metadata.name ({name!r}); cannot cache it",
                hint="a CRD is named <plural>.<group>",
            )
        text = _dump(_cleaned(crd))
        texts = by_name.setdefault(name, [])
        if text not in texts:
            texts.append(text)
    written: list[Path] = []
    if by_name:
        cache_dir.mkdir(parents=True, exist_ok=True)
    for name, texts in by_name.items():
        for stale in cache_dir.glob(f"{name}~*.yaml"):
            stale.unlink(missing_ok=True)
        for i, text in enumerate(texts):
            target = cache_dir / (f"{name}.yaml" if i == 0 else f"{name}~{i + 1}.yaml")
            _write_atomic(target, text.encode("utf-8"))
            written.append(target)
    if written and origin:
        _record(cache_dir, {p.name: {"from": origin, "source": origin} for p in written}, drop_dirs=())
    return written


# ---- the index: where each cached file came from ----------------------------------


def read_index(cache_dir: Path) -> dict[str, dict[str, Any]]:
    """Cached file (relative path) → {from, source, sha256, bytes, pulled}; {} when there is none."""
    import json

    try:
        data = json.loads((Path(cache_dir) / INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def _record(cache_dir: Path, entries: dict[str, dict[str, Any]], *, drop_dirs: Iterable[str]) -> None:
    """Add `entries` to the index, forget files that are gone, and write it atomically."""
    import datetime
    import hashlib
    import json

    drop = tuple(f"{d}/" for d in drop_dirs)
    index = {k: v for k, v in read_index(cache_dir).items() if not k.startswith(drop)}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for rel, entry in entries.items():
        data = (cache_dir / rel).read_bytes()
        index[rel] = {**entry, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "pulled": now}
    index = {k: v for k, v in sorted(index.items()) if (cache_dir / k).is_file()}
    text = json.dumps({"version": 1, "files": index}, indent=2, sort_keys=True) + "\n"
    _write_atomic(cache_dir / INDEX_FILE, text.encode("utf-8"))


# ---- fetching ----------------------------------------------------------------------


def _fetch(url: str) -> bytes:
    """The bytes at an http(s) or file URL; failures are InputErrors naming the URL."""
    import urllib.error  # only `crds pull` fetches: kept off every other command's start-up
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "llmkube"})
    try:
        with urllib.request.urlopen(request, timeout=_FETCH_TIMEOUT_S) as resp:
            return bytes(resp.read())
    except urllib.error.HTTPError as exc:
        raise InputError(
            f"cannot fetch CRDs from {url}: HTTP {exc.code} {exc.reason}",
            hint="check the URL; it must point at a raw YAML file (e.g. a release asset)",
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(
            f"cannot fetch CRDs from {url}: {reason}",
            hint="check the URL and your network; or download the file and pass its path",
        ) from None


def _text(pulled: Pulled) -> str:
    try:
        return pulled.data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{pulled.source} is not UTF-8 text") from None


def _local_path(source: str) -> Path:
    """A path, or a file:// URL, as a local path."""
    if source.startswith("file:"):
        from urllib.parse import unquote, urlparse
        from urllib.request import url2pathname

        parsed = urlparse(source)
        if parsed.netloc not in ("", "localhost"):
            raise InputError(f"cannot read {source}: a file URL names a local path (file:///path)")
        return Path(url2pathname(unquote(parsed.path)))
    return Path(source).expanduser()


def pull_from_source(source: str, cache_dir: Path) -> list[Path]:
    """Copy the CRDs in a directory, a file, a file:// URL or an http(s) URL of one YAML file into the cache."""
    if source.startswith(("http://", "https://")):
        pulled = Pulled(source, _fetch(source))
        docs = parse_documents(_text(pulled), source)
    else:
        root = _local_path(source)
        if not root.exists():
            raise InputError(
                f"CRD source not found: {source}",
                hint="give a catalog project (see `llmkube crds pull --help`), a directory, a YAML file, "
                "or an http(s) or file:// URL of a YAML file",
            )
        docs = []
        for p in _files_under(root):
            docs.extend(parse_documents(_read_text(p), str(p)))
    if not any(True for _ in _crd_documents(docs)):
        raise InputError(
            f"no CustomResourceDefinitions in {source}",
            hint=f"a CRD file has documents with apiVersion: {CRD_API_VERSION} and kind: {CRD_KIND}",
        )
    return save_crds(docs, cache_dir, origin=source)


@record
class ProjectPull:
    """What a catalog pull stored: the directory, its files, and the catalog files the tag lacks."""

    directory: Path
    files: list[Path]
    absent: list[str]  # URLs that answered 404 (only for a release other than the targeted one)


def pull_project(label: str, urls: Sequence[str], cache_dir: Path, *, allow_absent: bool) -> ProjectPull:
    """Fetch a catalog project's CRD files into `<cache>/<label>/`, byte for byte, all or nothing.

    Every file is fetched and checked (UTF-8, YAML, holds a CRD) before anything is
    written; then the files go into a staging directory that is renamed into place,
    and earlier releases of the same project (`<project>@*`) are removed. The index
    records each file's URL and sha256. `allow_absent` lets a file the tag does not
    have (HTTP 404) be skipped — the catalog lists the files of the targeted release,
    and older tags may have fewer — and the caller says which.
    """
    import shutil

    if not _SAFE_NAME().fullmatch(label.replace("@", "-")):
        raise InputError(f"cannot cache {label!r}: not a usable directory name")
    fetched: list[Pulled] = []
    absent: list[str] = []
    for url in urls:
        try:
            pulled = Pulled(url, _fetch(url))
        except InputError as exc:
            if allow_absent and "HTTP 404" in exc.message:
                absent.append(url)
                continue
            raise
        # Parsed through the side cache: the first `validate` after a pull needs no YAML parse.
        docs = parse_cached(_text(pulled), url, parsed_cache_dir(cache_dir))
        if not any(True for _ in _crd_documents(docs)):
            raise InputError(f"no CustomResourceDefinitions in {url}", hint="the catalog entry or the mirror is wrong")
        fetched.append(pulled)
    if not fetched:
        raise InputError(
            f"{label}: none of the catalog's CRD files exist at that tag",
            hint="check the version (a release tag such as v0.19.2), or pull the release's CRD file by URL",
        )
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    project = label.split("@", 1)[0]
    import tempfile

    staging = Path(tempfile.mkdtemp(prefix=f".{project}.", dir=cache_dir))
    try:
        names: list[str] = []
        for pulled in fetched:
            name = pulled.source.rsplit("/", 1)[-1]
            if name in names or not _SAFE_NAME().fullmatch(name):
                raise InputError(f"cannot cache {pulled.source}: its file name is unusable or repeated")
            names.append(name)
            (staging / name).write_bytes(pulled.data)
        target = cache_dir / label
        old = [d for d in cache_dir.glob(f"{project}@*") if d.is_dir()]
        aside = []
        for d in old:
            moved = staging.with_name(staging.name + "-old-" + d.name)
            os.replace(d, moved)
            aside.append(moved)
        os.replace(staging, target)
        for d in aside:
            shutil.rmtree(d, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    entries = {f"{label}/{n}": {"from": label, "source": p.source} for n, p in zip(names, fetched)}
    _record(cache_dir, entries, drop_dirs=[d.name for d in old])
    return ProjectPull(target, [target / n for n in names], absent)


__all__ = [
    "CRDStore",
    "CRDVersion",
    "INDEX_FILE",
    "ProjectPull",
    "default_cache_dir",
    "parse_cached",
    "parse_documents",
    "parsed_cache_dir",
    "prune_parsed",
    "pull_from_source",
    "pull_project",
    "read_index",
    "save_crds",
]
