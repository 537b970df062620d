"""Instant queries against Prometheus' HTTP API (`GET /api/v1/query`), nothing else.

Any failure to get an answer — refused connection, timeout, a non-2xx status, a body that is
not Prometheus' JSON, a query error — is an `InputError` (exit 2): a rollout never decides on
metrics it could not read.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request

from llmkube.errors import InputError

DEFAULT_TIMEOUT = 10.0


class Prometheus:
    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InputError(f"invalid Prometheus URL {url!r}", hint="give http://HOST:PORT (e.g. http://prometheus.monitoring:9090)")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, promql: str, *, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """The instant vector of `promql` (evaluated at unix time `at`, default now): (labels, value) pairs."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        target = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(target, timeout=self.timeout) as response:  # noqa: S310 - http(s) only, checked above
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = _error_of(exc.read())
            raise InputError(
                f"Prometheus at {self.url} answered HTTP {exc.code}{': ' + detail if detail else ''}",
                hint=f"query: {promql}",
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InputError(
                f"cannot reach Prometheus at {self.url}: {reason}",
                hint="check --prometheus (or spec.rollout.prometheus); nothing was changed",
            ) from None
        return _vector(body, self.url, promql)

    def scalar(self, promql: str, *, at: float | None = None) -> float | None:
        """The one value of an aggregated query; None when the vector is empty or NaN (no data)."""
        result = self.query(promql, at=at)
        if not result:
            return None
        value = result[0][1]
        return None if math.isnan(value) else value


def _error_of(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    return str(doc.get("error") or "") if isinstance(doc, dict) else ""


def _vector(body: bytes, url: str, promql: str) -> list[tuple[dict[str, str], float]]:
    try:
        doc = json.loads(body)
    except ValueError:
        raise InputError(f"{url} did not answer with Prometheus JSON", hint="is --prometheus the Prometheus server's address?") from None
    if not isinstance(doc, dict) or doc.get("status") != "success":
        error = doc.get("error") if isinstance(doc, dict) else None
        raise InputError(f"Prometheus refused a query: {error or 'no status: success'}", hint=f"query: {promql}")
    data = doc.get("data") or {}
    kind = data.get("resultType")
    if kind == "scalar":
        return [({}, float(data["result"][1]))]
    if kind != "vector":
        raise InputError(f"Prometheus answered a {kind!r}, not an instant vector", hint=f"query: {promql}")
    out = []
    for item in data.get("result") or []:
        try:
            out.append((dict(item.get("metric") or {}), float(item["value"][1])))
        except (KeyError, IndexError, TypeError, ValueError):
            raise InputError(f"{url}: a malformed sample in Prometheus' answer", hint=f"query: {promql}") from None
    return out
