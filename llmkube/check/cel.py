"""CRD CEL rules (`x-kubernetes-validations`) evaluated offline, as the API server would.

kubeconform and friends skip these rules, yet they carry real admission checks
(Kueue: borrowing/lending limits need a cohort). Semantics follow Kubernetes:

- a rule runs with `self` bound to the value at the schema node that declares it,
  only when that value is present (and not null); array items and map values get
  the rules of `items` / `additionalProperties`;
- the value is the pruned, defaulted object (the caller prepares it);
- transition rules (those that reference `oldSelf`) are skipped: we validate
  creates, where there is no old object, and the API server skips them on create
  too (`optionalOldSelf` rules would run with oldSelf absent; we skip those as
  well, a documented simplification);
- a false result is a problem carrying `message`, or the evaluated
  `messageExpression`, or `failed rule: <rule>`; `fieldPath` and `reason` are
  honoured; an evaluation error is a problem saying so, never a crash.

The engine is the `common-expression-language` package (Rust). `import cel` also
imports its CLI and prompt_toolkit (~370 ms), so only the extension module is
loaded, and only when a rule must run. Kubernetes' CEL library extensions that
the engine lacks are registered as Python functions (`EXTENSION_FUNCTIONS`);
those neither built in nor registered are listed in `KNOWN_GAPS`.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.machinery
import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from llmkube.records import record

_engine: Any = None
_programs: dict[str, Any] = {}

# Built into the engine (checked by tests/check/test_cel.py): functions, methods,
# macros and operator overloads a Kubernetes rule may reference.
BUILTIN_FUNCTIONS = frozenset(
    {
        "size", "matches", "startsWith", "endsWith", "contains", "has",
        "all", "exists", "exists_one", "map", "filter",
        "int", "uint", "double", "string", "bytes", "type", "dyn",
        "duration", "timestamp",
        "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek",
        "getDayOfYear", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)

# Kubernetes CEL library functions the engine lacks and that we do not emulate.
# None of the CRDs under ../shared/crds use them; a rule that does is reported as
# "could not be evaluated" rather than passed silently.
KNOWN_GAPS = frozenset(
    {
        "quantity", "isQuantity", "ip", "isIP", "cidr", "isCIDR",
        "format", "semver", "isSemver",
        "base64.encode", "base64.decode", "math.greatest", "math.least",
        "sets.contains", "sets.equivalent", "sets.intersects",
    }
)


def _load_engine() -> Any:
    """The compiled `cel.cel` extension, without the package's CLI imports."""
    global _engine
    if _engine is None:
        try:
            spec = importlib.util.find_spec("cel")
            locations = list(spec.submodule_search_locations or []) if spec else []
            paths = [p for loc in locations for p in glob.glob(os.path.join(loc, "cel.*.so"))]
            paths += [p for loc in locations for p in glob.glob(os.path.join(loc, "cel.*.pyd"))]
            loader = importlib.machinery.ExtensionFileLoader("cel.cel", paths[0])
            module_spec = importlib.util.spec_from_file_location("cel.cel", paths[0], loader=loader)
            module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
            loader.exec_module(module)
            _engine = module
        except Exception:  # noqa: BLE001 - any layout surprise: use the public import
            import cel as module

            _engine = module
    return _engine


# --------------------------------------------------------------------------- extensions


def _split(s: str, sep: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    if sep == "":
        parts = list(s)
        if limit > 0 and len(parts) > limit:
            parts = parts[: limit - 1] + ["".join(parts[limit - 1 :])]
        return parts
    return s.split(sep, limit - 1 if limit > 0 else -1)


def _replace(s: str, old: str, new: str, count: int = -1) -> str:
    return s.replace(old, new, count if count >= 0 else -1)


def _index_of(haystack: Any, needle: Any, offset: int = 0) -> int:
    if isinstance(haystack, str):
        if offset < 0 or offset > len(haystack):
            raise ValueError("indexOf offset out of range")
        return haystack.find(needle, offset)
    return next((i for i, v in enumerate(haystack) if v == needle), -1)


def _last_index_of(haystack: Any, needle: Any, offset: int | None = None) -> int:
    if isinstance(haystack, str):
        end = len(haystack) if offset is None else offset + len(needle)
        return haystack.rfind(needle, 0, end)
    return next((i for i in range(len(haystack) - 1, -1, -1) if haystack[i] == needle), -1)


_BOOL_STRINGS = {
    **dict.fromkeys(("1", "t", "true", "TRUE", "True"), True),
    **dict.fromkeys(("0", "f", "false", "FALSE", "False"), False),
}


def _to_bool(value: Any) -> bool:
    """CEL's bool() conversion, missing from the engine."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _BOOL_STRINGS:
        return _BOOL_STRINGS[value]
    raise ValueError(f"cannot convert {value!r} to bool")


def _is_sorted(values: list[Any]) -> bool:
    return all(a <= b for a, b in zip(values, values[1:]))


def _sum(values: list[Any]) -> Any:
    return sum(values) if values else 0


def _min(values: list[Any]) -> Any:
    if not values:
        raise ValueError("min called on an empty list")
    return min(values)


def _max(values: list[Any]) -> Any:
    if not values:
        raise ValueError("max called on an empty list")
    return max(values)


def _substring(s: str, start: int, end: int | None = None) -> str:
    if start < 0 or start > len(s) or (end is not None and (end < start or end > len(s))):
        raise ValueError("substring index out of range")
    return s[start:end]


def _char_at(s: str, i: int) -> str:
    if i < 0 or i > len(s):
        raise ValueError("charAt index out of range")
    return s[i : i + 1]


# --------------------------------------------------------------------------- URLs
#
# Kubernetes' URL library (k8s.io/apiserver/pkg/cel/library/urls.go): `url(s)` parses with Go's
# `url.ParseRequestURI` (an evaluation error when it fails), `isURL(s)` says whether it would, and a
# URL's getScheme/getHost/getHostname/getPort/getEscapedPath/getQuery read its parts. Istio's
# RequestAuthentication and WasmPlugin CRDs use them (`url(self).getScheme() in ["http", "https"]`);
# they were "could not be evaluated" errors the API server does not raise. A URL is kept as its
# string (the engine takes no new types); the methods parse it again.

_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_HEX = frozenset("0123456789abcdefABCDEF")
#: What Go's `shouldEscape(c, encodeHost)` lets stand in a host (and %, checked as escapes).
_HOST_CHARS = _SCHEME_CHARS | frozenset("_~!$&'()*,;=:[]<>\"%")


@record(frozen=True)
class _URL:
    scheme: str
    opaque: str
    host: str
    path: str
    query: str


def _check_escapes(s: str, what: str) -> None:
    """Go's `unescape`: every % starts a two-digit hex escape."""
    i = s.find("%")
    while i >= 0:
        if len(s[i + 1 : i + 3]) < 2 or not set(s[i + 1 : i + 3]) <= _HEX:
            raise ValueError(f"invalid URL escape in {what}: {s[i : i + 3]!r}")
        i = s.find("%", i + 3)


def _parse_url(raw: str) -> _URL:
    """Go's `net/url.ParseRequestURI` (go1.24 url.go `parse` with viaRequest): an absolute URI or
    an absolute path; raises ValueError where it returns an error."""
    if not isinstance(raw, str):
        raise ValueError("url() wants a string")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise ValueError("invalid control character in URL")
    if raw == "":
        raise ValueError("empty url")
    if raw == "*":
        return _URL("", "", "", "*", "")
    scheme, rest = "", raw
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c in _SCHEME_CHARS and i > 0:
            continue
        if c == ":":
            if i == 0:
                raise ValueError("missing protocol scheme")
            scheme, rest = raw[:i].lower(), raw[i + 1 :]
        break
    rest, _, query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:
            return _URL(scheme, rest, "", "", query)  # rootless: opaque
        raise ValueError("invalid URI for request")
    host = ""
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        userinfo, at, hostport = authority.rpartition("@")
        if not at:
            hostport = authority
        elif any(c not in _SCHEME_CHARS and c not in "_~!$&'()*,;=%:" for c in userinfo):
            raise ValueError("net/url: invalid userinfo")
        if hostport.startswith("["):
            end = hostport.find("]")
            if end < 0:
                raise ValueError("missing ']' in host")
            port = hostport[end + 1 :]
            if port and not (port.startswith(":") and (port == ":" or port[1:].isascii() and port[1:].isdigit())):
                raise ValueError(f"invalid port {port!r} after host")
        elif ":" in hostport:
            port = hostport[hostport.rfind(":") + 1 :]
            if port and not (port.isascii() and port.isdigit()):
                raise ValueError(f"invalid port {':' + port!r} after host")
        if any(c.isascii() and c not in _HOST_CHARS for c in hostport):
            raise ValueError("invalid character in host name")
        _check_escapes(hostport, "host")
        host = hostport
    _check_escapes(rest, "path")
    return _URL(scheme, "", host, rest, query)


def _split_host_port(host: str) -> tuple[str, str]:
    """Go's `splitHostPort` as `URL.Hostname`/`Port` use it: brackets dropped, a non-numeric port ignored."""
    hostname, port = host, ""
    colon = host.rfind(":")
    if colon >= 0 and (not host.startswith("[") or host.rfind("]") < colon):
        candidate = host[colon + 1 :]
        if candidate.isascii() and candidate.isdigit() or candidate == "":
            hostname, port = host[:colon], candidate
    if hostname.startswith("[") and hostname.endswith("]"):
        hostname = hostname[1:-1]
    return hostname, port


def _is_url(s: Any) -> bool:
    try:
        _parse_url(s)
    except ValueError:
        return False
    return True


def _url(s: Any) -> str:
    _parse_url(s)  # an error here fails the rule, as cel-go's conversion error does
    return s


def _escaped_path(u: str) -> str:
    path = _parse_url(u).path
    allowed = _SCHEME_CHARS | frozenset("_~!$&'()*,;=:@[]/%")
    from urllib.parse import quote

    return path if all(c in allowed for c in path) else quote(path, safe="/_~!$&'()*,;=:@[]%.-+")


def _query(u: str) -> dict[str, list[str]]:
    """Go's `url.ParseQuery` with errors dropped (`URL.Query`): pairs split on &, one with a ; skipped."""
    from urllib.parse import unquote_plus

    out: dict[str, list[str]] = {}
    for part in _parse_url(u).query.split("&"):
        if not part or ";" in part:
            continue
        key, _, value = part.partition("=")
        try:
            _check_escapes(key, "query")
            _check_escapes(value, "query")
        except ValueError:
            continue
        out.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return out


# Kubernetes' strings and lists extensions (and bool()), same semantics as cel-go's.
EXTENSION_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": lambda s: s.lower() if s.isascii() else "".join(
        c.lower() if c.isascii() else c for c in s
    ),
    "upperAscii": lambda s: s.upper() if s.isascii() else "".join(
        c.upper() if c.isascii() else c for c in s
    ),
    "trim": lambda s: s.strip(),
    "split": _split,
    "join": lambda values, sep="": sep.join(values),
    "replace": _replace,
    "substring": _substring,
    "charAt": _char_at,
    "reverse": lambda s: s[::-1],
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "isSorted": _is_sorted,
    "bool": _to_bool,
    "sum": _sum,
    "min": _min,
    "max": _max,
    "url": _url,
    "isURL": _is_url,
    "getScheme": lambda u: _parse_url(u).scheme,
    "getHost": lambda u: _parse_url(u).host,
    "getHostname": lambda u: _split_host_port(_parse_url(u).host)[0],
    "getPort": lambda u: _split_host_port(_parse_url(u).host)[1],
    "getEscapedPath": _escaped_path,
    "getQuery": _query,
}


# --------------------------------------------------------------------------- rules


class CelCompileError(ValueError):
    """A rule that the engine cannot parse."""


def compile_rule(rule: str) -> Any:
    """Compile once per process; raises CelCompileError."""
    program = _programs.get(rule)
    if program is None:
        try:
            program = _load_engine().compile(rule)
        except Exception as exc:  # noqa: BLE001 - the engine raises assorted types
            raise CelCompileError(f"cannot compile CEL rule {rule!r}: {exc}") from None
        _programs[rule] = program
    return program


@record(frozen=True)
class Rule:
    """One `x-kubernetes-validations` entry."""

    rule: str
    message: str | None = None
    message_expression: str | None = None
    field_path: str | None = None
    reason: str | None = None

    @classmethod
    def from_schema(cls, entry: Mapping[str, Any]) -> Rule:
        return cls(
            rule=str(entry.get("rule", "")),
            message=entry.get("message") or None,
            message_expression=entry.get("messageExpression") or None,
            field_path=entry.get("fieldPath") or None,
            reason=entry.get("reason") or None,
        )


@record
class RuleTree:
    """Only the schema branches that hold rules, so evaluation never walks a 2 MB schema."""

    rules: tuple[Rule, ...] = ()
    properties: dict[str, RuleTree] | None = None
    items: RuleTree | None = None
    additional: RuleTree | None = None


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """`isinstance(value, Mapping)`, the plain dict (every parsed CRD's type) asked first: the ABC
    check on each of a large CRD's tens of thousands of nodes was a third of the search."""
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def rule_tree(schema: Mapping[str, Any]) -> RuleTree | None:
    """The rules of a structural schema, by location; None when it has none."""
    if not _is_mapping(schema):
        return None
    get = schema.get
    entries = get("x-kubernetes-validations")
    rules = tuple(
        Rule.from_schema(e) for e in entries if _is_mapping(e) and e.get("rule")
    ) if entries else ()
    props = {}
    for name, sub in (get("properties") or {}).items():
        tree = rule_tree(sub)
        if tree is not None:
            props[name] = tree
    items = get("items")
    items = rule_tree(items) if _is_mapping(items) else None
    add = get("additionalProperties")
    additional = rule_tree(add) if _is_mapping(add) else None
    if not (rules or props or items or additional):
        return None
    return RuleTree(rules, props or None, items, additional)


def tree_to_json(tree: RuleTree | None) -> Any:
    """A rule tree as JSON data (the translated-schema cache stores it; compiled programs are not
    serialisable, and compiling a rule is cheap next to finding them in a 2 MB schema)."""
    if tree is None:
        return None
    return {
        "rules": [[r.rule, r.message, r.message_expression, r.field_path, r.reason] for r in tree.rules],
        "properties": {k: tree_to_json(v) for k, v in tree.properties.items()} if tree.properties else None,
        "items": tree_to_json(tree.items),
        "additional": tree_to_json(tree.additional),
    }


def tree_from_json(data: Any) -> RuleTree | None:
    """The inverse of `tree_to_json`; ValueError for anything else."""
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ValueError("not a rule tree")
    rules = []
    for entry in data["rules"]:
        if not (isinstance(entry, list) and len(entry) == 5 and isinstance(entry[0], str)
                and all(v is None or isinstance(v, str) for v in entry[1:])):
            raise ValueError("not a rule")
        rules.append(Rule(*entry))
    props = data.get("properties")
    if props is not None and not isinstance(props, dict):
        raise ValueError("not a rule tree")
    properties: dict[str, RuleTree] = {}
    for name, sub in (props or {}).items():
        tree = tree_from_json(sub)
        if tree is None:
            raise ValueError("not a rule tree")
        properties[str(name)] = tree
    return RuleTree(tuple(rules), properties or None, tree_from_json(data.get("items")), tree_from_json(data.get("additional")))


@record(frozen=True)
class CelProblem:
    """A rule that returned false or could not be evaluated, at a path in the object."""

    path: tuple[str | int, ...]
    message: str
    rule: str


_REASON_PREFIX = {
    "FieldValueForbidden": "forbidden: ",
    "FieldValueRequired": "required: ",
    "FieldValueDuplicate": "duplicate: ",
}
_FIELD_PATH_TOKEN = re.compile(r"\.([A-Za-z0-9_$-]+)|\[\s*'([^']*)'\s*\]|\[\s*(\d+)\s*\]")


def _field_path(expr: str) -> tuple[str | int, ...]:
    """`.spec.foo['a.b'][0]` → ("spec", "foo", "a.b", 0)."""
    out: list[str | int] = []
    for m in _FIELD_PATH_TOKEN.finditer(expr):
        name, quoted, index = m.groups()
        out.append(int(index) if index is not None else (name if name is not None else quoted))
    return tuple(out)


#: What each rule's program needs, asked of the engine once per rule text: (refers to oldSelf,
#: the extension functions it calls).
_NEEDS: dict[str, tuple[bool, dict[str, Callable[..., Any]]]] = {}


def _needs(source: str, program: Any) -> tuple[bool, dict[str, Callable[..., Any]]]:
    found = _NEEDS.get(source)
    if found is None:
        functions = {n: EXTENSION_FUNCTIONS[n] for n in sorted(set(program.functions()) & set(EXTENSION_FUNCTIONS))}
        found = _NEEDS[source] = ("oldSelf" in program.variables(), functions)
    return found


def _activation(source: str, program: Any, value: Any) -> Any:
    functions = _needs(source, program)[1]
    if not functions:
        return {"self": value}
    return _load_engine().Context(variables={"self": value}, functions=functions)


def _message(rule: Rule, value: Any) -> str:
    if rule.message_expression:
        try:
            program = compile_rule(rule.message_expression)
            text = program.execute(_activation(rule.message_expression, program, value))
            if isinstance(text, str) and text.strip():
                return text
        except Exception:  # noqa: BLE001 - K8s falls back to message on any failure
            pass
    return rule.message or f"failed rule: {rule.rule}"


def evaluate_rule(rule: Rule, value: Any, path: tuple[str | int, ...]) -> CelProblem | None:
    """Run one rule with `self` = value; None when it holds or is a skipped transition rule."""
    try:
        program = compile_rule(rule.rule)
    except CelCompileError as exc:
        return CelProblem(path, f"CEL rule could not be compiled: {exc}", rule.rule)
    if _needs(rule.rule, program)[0]:
        return None
    try:
        result = program.execute(_activation(rule.rule, program, value))
    except Exception as exc:  # noqa: BLE001 - evaluation errors become problems
        detail = str(exc).split(". ")[0]
        return CelProblem(path, f"CEL rule could not be evaluated: {detail}", rule.rule)
    if result is True:
        return None
    if result is not False:
        return CelProblem(
            path, f"CEL rule returned {result!r}, not a boolean", rule.rule
        )
    where = path + (_field_path(rule.field_path) if rule.field_path else ())
    prefix = _REASON_PREFIX.get(rule.reason or "", "")
    return CelProblem(where, prefix + _message(rule, value), rule.rule)


#: What a rule gives for a value, by (the rule, a digest of the value's `repr`): the engine converts
#: `self` into CEL values on every `execute` (most of a rule's cost: 0.12 s of the 2,000 mixed
#: documents, 0.007 s with the conversion taken out), and a run holds many equal values (copies of a
#: Deployment's pod template, a queue's resource groups, one runtime per namespace). A rule's
#: outcome depends on `self` alone. `repr` tells apart what CEL tells apart (1, 1.0, True and "1";
#: int and string keys); two values whose `repr`s differ but convert alike only miss. Kept at the
#: root path, re-rooted where found. Cleared when full.
_OUTCOMES: dict[tuple[Rule, bytes], CelProblem | None] = {}
_OUTCOMES_MAX = 100_000


def _value_key(value: Any) -> bytes | None:
    try:
        text = repr(value)
    except RecursionError:  # nested deeper than repr goes: not remembered
        return None
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _remembered(rule: Rule, value: Any, key: bytes) -> CelProblem | None:
    """`evaluate_rule(rule, value, ())`, once per equal value."""
    k = (rule, key)
    try:
        return _OUTCOMES[k]
    except KeyError:
        pass
    if len(_OUTCOMES) >= _OUTCOMES_MAX:
        _OUTCOMES.clear()
    problem = _OUTCOMES[k] = evaluate_rule(rule, value, ())
    return problem


def evaluate(tree: RuleTree | None, value: Any, path: tuple[str | int, ...] = (), *, remember: bool = True) -> list[CelProblem]:
    """Every failing rule of `tree` over `value` (the pruned, defaulted object).

    `remember` (the fast path) runs each rule once per equal value in the process; without it
    every rule runs (the reference: tests/check/test_check_cel_outcomes.py).
    """
    problems: list[CelProblem] = []
    if tree is None or value is None:
        return problems
    if tree.rules:
        key = _value_key(value) if remember else None
        if key is not None:
            for rule in tree.rules:
                problem = _remembered(rule, value, key)
                if problem is not None:
                    problems.append(CelProblem(path + problem.path, problem.message, problem.rule) if path else problem)
        else:
            for rule in tree.rules:
                problem = evaluate_rule(rule, value, path)
                if problem is not None:
                    problems.append(problem)
    kind = type(value)  # exact types first: the object is plain, and a Mapping check is an ABC's
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        if tree.properties:
            for name, sub in tree.properties.items():
                if name in value:
                    problems.extend(evaluate(sub, value[name], path + (name,), remember=remember))
        if tree.additional is not None:
            known = tree.properties or {}
            for name, item in value.items():
                if name not in known:
                    problems.extend(evaluate(tree.additional, item, path + (name,), remember=remember))
    elif (kind is list or isinstance(value, list)) and tree.items is not None:
        for i, item in enumerate(value):
            problems.extend(evaluate(tree.items, item, path + (i,), remember=remember))
    return problems


__all__ = [
    "BUILTIN_FUNCTIONS",
    "CelCompileError",
    "CelProblem",
    "EXTENSION_FUNCTIONS",
    "KNOWN_GAPS",
    "Rule",
    "RuleTree",
    "compile_rule",
    "evaluate",
    "evaluate_rule",
    "rule_tree",
]
