"""PromQL string literals: a value goes into a label matcher as data, never as query text.

PromQL's double-quoted strings follow Go's escaping: a backslash, a double
quote and a newline must be escaped; other characters may stand raw. We also
escape \\r and \\t so the query stays on one readable line. A `=~` matcher's
value is an RE2 regex (anchored by Prometheus), so a name spliced into one
has its metacharacters quoted first (Go's regexp.QuoteMeta set).
"""

from __future__ import annotations

import re

_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_RE2_META = set("\\.+*?()|[]{}^$")
_REGEX_MATCHER = re.compile(r'[=!]~"([^"]*)"')
_PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)\}")


def label_value(value: str) -> str:
    """`value` escaped for the inside of a double-quoted PromQL label-matcher string."""
    return "".join(_STRING_ESCAPES.get(c, c) for c in value)


def regex_literal(value: str) -> str:
    """`value` as an RE2 regex that matches exactly it (QuoteMeta), before string escaping."""
    return "".join("\\" + c if c in _RE2_META else c for c in value)


def fill(template: str, **values: str) -> str:
    """Fill a METRIC_QUERIES template: `{x}` inside `=~"…"` gets regex-quoted, every value string-escaped.

    A placeholder's matcher kind is read from the template itself, so the
    table stays the one place that says which matcher each value sits in.
    """
    in_regex = {key for matcher in _REGEX_MATCHER.findall(template) for key in _PLACEHOLDER.findall(matcher)}
    escaped = {key: label_value(regex_literal(v) if key in in_regex else v) for key, v in values.items()}
    return template.format(**escaped)
