"""Project settings from a config file: `.llmkube.yaml` or `[tool.llmkube]` in pyproject.toml.

The file is found upward from the working directory, nearest first, the way ruff finds its
settings (docs.astral.sh/ruff/configuration, "Config file discovery": the closest file wins;
in one directory its own file comes before pyproject.toml, and a pyproject.toml without the
tool's table is passed over). The search stops at the repository root (a directory holding
`.git`, where pre-commit looks for its config) or at the filesystem root.

Keys are the long flags without their dashes (`kube-version`, `crds`, `ignore`, ...) plus
`severity` (rule code → error/warning/info), which has no flag. A flag given on the command
line wins over the file; repeatable options add to it (the flag's directories are searched
first). Relative directories are relative to the file's directory. An unknown key or a value
of the wrong type is an `InputError` at its file:line:col.

Everything here is a pure function of the text it is given, except `find_config` and
`load_config`, which read the file system. Cold start: tomllib is stdlib; YAML files go
through llmkube.yamlio only when a `.llmkube.yaml` is found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from llmkube.errors import InputError, SourceMark
from llmkube.lazyre import lazy
from llmkube.options import APPLY_SET_ENV, DEFAULT_KUBE_VERSION, DEFAULT_KUEUE_API, InputLimits
from llmkube.records import record

YAML_NAMES = (".llmkube.yaml", ".llmkube.yml")
PYPROJECT = "pyproject.toml"
TABLE = "tool.llmkube"
SEVERITIES = ("error", "warning", "info")


@record(frozen=True)
class Key:
    """One setting: its name in the file, what it takes, its default and the flag that overrides it."""

    name: str
    kind: str  # str | version | choice | bool | int | dirs | dir | codes | severity
    default: Any
    help: str
    flag: str | None = None
    choices: tuple[str, ...] = ()
    minimum: int = 0

    @property
    def param(self) -> str:
        """The command's parameter name (`kube-version` → `kube_version`)."""
        return self.name.replace("-", "_")


_LIMITS = InputLimits()

#: Every key the file may set, in the order `llmkube config` lists them.
KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("kube-version", "version", DEFAULT_KUBE_VERSION, "Kubernetes version of the core schemas, X.Y", "--kube-version"),
        Key("kueue-api", "choice", DEFAULT_KUEUE_API, "Kueue API version to emit", "--kueue-api", choices=("v1beta2", "v1beta1")),
        Key("crds", "dirs", (), "directories of CRD YAML files", "--crds"),
        Key("profiles", "dirs", (), "extra GPU/model profile directories", "--profiles"),
        Key("templates", "dirs", (), "template directories searched before the built-ins", "--templates"),
        Key("no-cache", "bool", False, "do not read CRDs from the user cache", "--no-cache"),
        Key("ignore", "codes", (), "rule codes to silence", "--ignore"),
        Key("severity", "severity", {}, "rule code → error, warning or info", None),
        Key("strict", "bool", False, "warnings fail validate too", "--strict"),
        Key("ignore-missing-schemas", "bool", False, "skip custom resources without a CRD schema", "--ignore-missing-schemas"),
        Key("sarif-base", "dir", None, "directory SARIF URIs are relative to", "--sarif-base"),
        Key("apply-set", "str", None, "apply set of diff and apply", "--apply-set"),
        Key("color", "choice", "auto", "colour in text output", "--color", choices=("auto", "always", "never")),
        Key("max-input-mb", "int", _LIMITS.max_input_mb, "largest input file read, in MiB", "--max-input-mb", minimum=1),
        Key("max-documents", "int", _LIMITS.max_documents, "most YAML documents read", "--max-documents", minimum=1),
        Key("max-alias-nodes", "int", _LIMITS.max_alias_nodes, "most nodes YAML aliases may bring in", "--max-alias-nodes"),
    )
}
BY_PARAM = {k.param: k for k in KEYS.values()}
#: Settings an environment variable may give: it beats the file, a flag beats it (the usual
#: flag > environment > file > default order of helm, kubectl and pre-commit).
ENV_VARS = {"apply-set": APPLY_SET_ENV}


@record(frozen=True)
class Config:
    """The settings one file makes (empty when there is none): key → value, and where each stands."""

    path: Path | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    marks: Mapping[str, SourceMark] = field(default_factory=dict)


@record(frozen=True)
class Setting:
    """A setting's effective value and where it came from: "flag", "default", or the file's path:line."""

    value: Any
    source: str


# --------------------------------------------------------------------------- finding and reading


def find_config(start: Path) -> Path | None:
    """The nearest `.llmkube.yaml`, or pyproject.toml with a [tool.llmkube] table, from `start` up to
    the repository root (a directory holding `.git`) or the filesystem root."""
    for directory in (start, *start.parents):
        for name in YAML_NAMES:
            if (directory / name).is_file():
                return directory / name
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject
        if (directory / ".git").exists():
            return None
    return None


def _has_table(pyproject: Path) -> bool:
    """Cheap test before parsing: a pyproject.toml that never mentions tool.llmkube is passed over."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"^\s*\[\s*tool\s*\.\s*llmkube\s*[.\]]", text, re.MULTILINE) is not None


def load_config(path: Path) -> Config:
    """Read and check one config file (an InputError at the line of the first problems)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the config file: {exc}", mark=SourceMark(str(path))) from None
    if path.name == PYPROJECT:
        return parse_pyproject(text, path)
    return parse_yaml(text, path)


def parse_pyproject(text: str, path: Path) -> Config:
    """[tool.llmkube] of a pyproject.toml; tomllib gives no positions, so keys are found by a line scan."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col = _toml_error_position(str(exc))
        raise InputError(f"TOML syntax error: {exc}", mark=SourceMark(str(path), line, col)) from None
    table = data.get("tool", {}).get("llmkube", {})
    marks = _toml_marks(text, str(path))

    def mark(key: str) -> SourceMark:
        """The key's line; for a key inside an inline table, the line of the table's key."""
        while key not in marks and key:
            key = key.rpartition(".")[0]
        return marks.get(key, SourceMark(str(path)))

    return _checked(table, path, mark, TABLE)


def parse_yaml(text: str, path: Path) -> Config:
    """A `.llmkube.yaml`: one mapping of keys (an empty file sets nothing)."""
    from llmkube.yamlio import mark_of, parse_documents, to_plain

    docs = parse_documents(text, str(path))
    if not docs:
        return Config(path=path)
    if len(docs) > 1:
        raise InputError("a config file holds one YAML document", mark=SourceMark(str(path), docs[1].line))
    doc = docs[0]
    if not isinstance(to_plain(doc.data), dict):
        raise InputError("the config file must be a mapping of settings", mark=doc.mark(), hint="e.g. kube-version: \"1.32\"")
    data = to_plain(doc.data)
    return _checked(data, path, lambda key: mark_of(doc.data, key.split(".") if key else [], str(path), doc.line), "")


def _toml_error_position(message: str) -> tuple[int | None, int | None]:
    found = re.search(r"line (\d+), column (\d+)", message)
    return (int(found.group(1)), int(found.group(2))) if found else (None, None)


_HEADER = lazy(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ASSIGN = lazy(r"^(\s*)((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.\- ]+?))\s*=")


def _toml_marks(text: str, file: str) -> dict[str, SourceMark]:
    """key path inside [tool.llmkube] (`kube-version`, `severity.LK301`; "" for the table) → its position."""
    marks: dict[str, SourceMark] = {}
    table: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("[["):  # an array of tables: never ours
            table = None
            continue
        header = _HEADER().match(line)
        if header:
            name = _dotted(header.group(1))
            table = name[len(TABLE) :].lstrip(".") if name == TABLE or name.startswith(TABLE + ".") else None
            if table is not None:
                marks.setdefault(table, SourceMark(file, number, line.index("[") + 1))
            continue
        assign = _ASSIGN().match(line)
        if table is not None and assign:
            key = ".".join(p for p in (table, _dotted(assign.group(2))) if p)
            marks.setdefault(key, SourceMark(file, number, len(assign.group(1)) + 1))
    return marks


def _dotted(name: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in name.split("."))


# --------------------------------------------------------------------------- checking values


def _checked(data: Mapping[str, Any], path: Path, mark: Callable[[str], SourceMark], where: str) -> Config:
    """Every key known and of its type; values normalised (directories made absolute)."""
    from llmkube.errors import combined

    errors: list[InputError] = []
    values: dict[str, Any] = {}
    for name, raw in data.items():
        key = KEYS.get(str(name))
        if key is None:
            errors.append(_unknown_key(str(name), mark(str(name)), where))
            continue
        try:
            values[key.name] = _value(key, raw, path.parent, lambda sub: mark(f"{key.name}.{sub}" if sub else key.name), where)
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise combined(errors)
    return Config(path=path, values=values, marks={name: mark(name) for name in values})


def _unknown_key(name: str, at: SourceMark, where: str) -> InputError:
    from llmkube.suggest import nearest

    near = nearest(name.replace("_", "-"), KEYS, n=1)
    hint = f"did you mean {near[0]!r}?" if near else None
    known = ", ".join(KEYS)
    return InputError(f"unknown config key {name!r}", mark=at, field=f"{where}.{name}".lstrip("."), hint=hint or f"the keys are: {known}")


def _value(key: Key, raw: Any, base: Path, mark: Callable[[str], SourceMark], where: str = "") -> Any:
    """`raw` as the key's type, or an InputError naming what was expected (`where`: the table it is in)."""
    prefix = f"{where}." if where else ""

    def wrong(expected: str, sub: str = "", hint: str | None = None) -> InputError:
        got = _type_word(raw)
        return InputError(
            f"config key {key.name!r} expects {expected}, got {got}",
            mark=mark(sub),
            field=f"{prefix}{key.name}.{sub}".rstrip("."),
            hint=hint or f"see `llmkube config` and docs/config.md for {key.name}",
        )

    kind = key.kind
    if kind == "bool":
        if not isinstance(raw, bool):
            raise wrong("true or false")
        return raw
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < key.minimum:
            raise wrong(f"an integer ≥ {key.minimum}")
        return raw
    if kind in ("str", "version", "choice", "dir"):
        return _scalar(key, raw, base, wrong)
    if kind in ("dirs", "codes"):
        if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
            example = '["crds"]' if kind == "dirs" else '["LK301"]'
            raise wrong("a list of strings", hint=f"e.g. {key.name} = {example}")
        if kind == "codes":
            return tuple(code.strip() for code in raw)
        return tuple(str((base / item).resolve()) if not Path(item).is_absolute() else item for item in raw)
    if kind == "severity":
        if not isinstance(raw, dict):
            raise wrong("a mapping of rule code to error, warning or info", hint='e.g. severity = {LK301 = "error"}')
        for code, level in raw.items():
            if level not in SEVERITIES:
                raise InputError(
                    f"config key 'severity' sets {code} to {level!r}",
                    mark=mark(str(code)),
                    field=f"{prefix}severity.{code}",
                    hint="a severity is one of: " + ", ".join(SEVERITIES),
                )
        return {str(code): level for code, level in raw.items()}
    raise AssertionError(kind)


def _scalar(key: Key, raw: Any, base: Path, wrong: Callable[..., InputError]) -> Any:
    if isinstance(raw, float) and key.kind == "version":
        raise wrong('a quoted "X.Y" string', hint='quote the version, e.g. "1.30" (unquoted, 1.30 is the number 1.3)')
    if not isinstance(raw, str) or not raw:
        raise wrong("a string" if key.kind != "choice" else "one of " + ", ".join(key.choices))
    if key.kind == "version" and not re.fullmatch(r"\d+\.\d+", raw):
        raise wrong('a version "X.Y"', hint='e.g. kube-version = "1.32"')
    if key.kind == "choice" and raw not in key.choices:
        raise wrong("one of " + ", ".join(key.choices))
    if key.kind == "dir":
        return str((base / raw).resolve()) if not Path(raw).is_absolute() else raw
    return raw


def _type_word(raw: Any) -> str:
    if isinstance(raw, bool):
        return f"the boolean {str(raw).lower()}"
    if isinstance(raw, (int, float)):
        return f"the number {raw}"
    if isinstance(raw, str):
        return f"the string {raw!r}"
    if isinstance(raw, list):
        return "a list"
    if isinstance(raw, dict):
        return "a mapping"
    return type(raw).__name__


def unknown_code_problems(config: Config, unknown_codes: Callable[[Iterable[str]], list[str]]) -> list[InputError]:
    """Rule codes in `ignore` and `severity` that name no rule (a typo would silence or change nothing)."""
    errors = []
    for name in ("ignore", "severity"):
        codes = [c for c in config.values.get(name, ()) if c.startswith("LK")]
        bad = unknown_codes(codes) if codes else []
        if bad:
            errors.append(
                InputError(
                    f"config key {name!r} names unknown rule codes: {', '.join(bad)}",
                    mark=config.marks.get(name),
                    field=name,
                    hint="`llmkube rules list` shows the codes",
                )
            )
    return errors


# --------------------------------------------------------------------------- the effective settings


def effective(config: Config, flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Setting]:
    """Every key's value and source: a flag given on the command line wins over the environment
    (`ENV_VARS`), the environment over the file, the file over the default. Repeatable keys
    (directories, ignored codes) join: the flag's entries first, then the file's."""
    environ = environ or {}
    out: dict[str, Setting] = {}
    for key in KEYS.values():
        in_file = key.name in config.values
        where = str(config.marks.get(key.name) or config.path) if in_file else "default"
        env_var = ENV_VARS.get(key.name)
        if key.name not in flags and env_var and environ.get(env_var):
            out[key.name] = Setting(environ[env_var], f"${env_var}")
        elif key.name in flags:
            given = flags[key.name]
            if key.kind in ("dirs", "codes") and in_file:
                merged = tuple(dict.fromkeys((*given, *config.values[key.name])))
                out[key.name] = Setting(merged, f"flag + {where}")
            else:
                out[key.name] = Setting(given, "flag")
        elif in_file:
            out[key.name] = Setting(config.values[key.name], where)
        else:
            out[key.name] = Setting(key.default, "default")
    return out
