"""Kubernetes' own rules for names, label keys and values (k8s.io/apimachinery/pkg/util/validation).

Each function returns what is wrong (empty when the value is valid), in
apimachinery's words, so an offline check refuses exactly what the API server
would refuse. Regexes are matched with `fullmatch`: `$` would let a trailing
newline through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
INT32_MAX = 2**31 - 1


def qualified_name_errors(value: str) -> list[str]:
    """A label or annotation key: `[prefix/]name`, prefix a DNS-1123 subdomain, name ≤ 63 characters."""
    parts = value.split("/")
    if len(parts) > 2:
        return ["a qualified name has at most one '/' (an optional DNS subdomain prefix, then a name)"]
    errors = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("the prefix before '/' must not be empty")
        else:
            errors += [f"prefix: {e}" for e in dns1123_subdomain_errors(prefix)]
    name = parts[-1]
    if not name:
        errors.append("the name part must not be empty")
    elif len(name) > 63:
        errors.append(f"the name part must be at most 63 characters (it has {len(name)})")
    elif not _LABEL_NAME.fullmatch(name):
        errors.append("the name part must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
    return errors


def label_value_errors(value: str) -> list[str]:
    """A label value: empty, or ≤ 63 letters, digits, '-', '_', '.', starting and ending alphanumeric."""
    if len(value) > 63:
        return [f"a label value must be at most 63 characters (it has {len(value)})"]
    if value and not _LABEL_NAME.fullmatch(value):
        return ["a label value must be empty or letters, digits, '-', '_' or '.', starting and ending with a letter or digit"]
    return []


def dns1123_label_errors(value: str) -> list[str]:
    if len(value) > 63:
        return [f"must be at most 63 characters (it has {len(value)})"]
    if not _DNS1123_LABEL.fullmatch(value):
        return ["must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"]
    return []


def dns1035_label_errors(value: str) -> list[str]:
    if len(value) > 63:
        return [f"must be at most 63 characters (it has {len(value)})"]
    if not _DNS1035_LABEL.fullmatch(value):
        return ["must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter, ending with a letter or digit"]
    return []


def dns1123_subdomain_errors(value: str) -> list[str]:
    if len(value) > 253:
        return [f"must be at most 253 characters (it has {len(value)})"]
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        return ["must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"]
    return []


def path_segment_errors(value: str) -> list[str]:
    """RBAC object names: any path segment (no '/' or '%', not '.' or '..')."""
    if value in (".", ".."):
        return [f"may not be {value!r}"]
    if "/" in value or "%" in value:
        return ["may not contain '/' or '%'"]
    return []


def api_group(obj: Mapping[str, Any]) -> str:
    """The API group of an object's `apiVersion` (`batch.volcano.sh`; "" for the core group)."""
    return str(obj.get("apiVersion", "")).rpartition("/")[0]
