"""The PromQL `llmkube rollout` asks: per engine, per gate, for one revision's pods.

Percentiles are `histogram_quantile` over `rate(<histogram>_bucket[window])` summed by `le` —
the servers' own histograms, never an average of `_sum / _count`. Counts are `increase` over the
same window. Every value spliced in (namespace, revision) goes through `promql.fill`, so a hostile
name stays inside its matcher.

Metric names, from the servers at the versions llmkube renders (engines.DEFAULT_IMAGES):

- vLLM (v1 engine, `vllm/v1/metrics/loggers.py` `PrometheusStatLogger.__init__`):
  `vllm:time_to_first_token_seconds`, `vllm:time_per_output_token_seconds`,
  `vllm:e2e_request_latency_seconds` (histograms, labels `model_name`, `engine`),
  `vllm:request_success_total{finished_reason}`. Newer vLLM adds `vllm:inter_token_latency_seconds`
  and deprecates the TPOT name for it: TPOT reads the inter-token histogram where it exists, the
  TPOT one otherwise (PromQL `or`, per `le`). vLLM counts no failed request in its engine metrics;
  its HTTP server's `http_requests_total{handler,method,status}` (prometheus-fastapi-instrumentator,
  status grouped as `2xx`/`5xx`; vllm-project/vllm PR #15657, and #15894 for the V1 engine, both
  merged in April 2025, before v0.11.0; e.g. `http_requests_total{handler="/v1/completions",method="POST",status="2xx"}`)
  carries the errors: 5xx answers over all answers on `/v1/…` handlers. A server without those
  (an API server built without the instrumentator) falls back to the engine's finished requests:
  `finished_reason` `abort` (or `error`, where vLLM has it) over all of them.
- TGI 3.3.6 (`router/src/server.rs`, `backends/v3/src/backend.rs`, `router/src/infer/mod.rs`):
  `tgi_request_duration` (end to end) and `tgi_request_mean_time_per_token_duration` (a request's
  mean time per output token) are histograms (buckets set for every metric ending in `duration`,
  `server.rs` `PrometheusBuilder::set_buckets_for_metric(Matcher::Suffix("duration"))`);
  `tgi_request_count` and `tgi_request_failure{err}` are counters (the metrics crate's exporter
  adds no `_total`). TGI exports no time-to-first-token histogram: the TTFT gates do not apply.
"""

from __future__ import annotations


from llmkube import promql
from llmkube.records import record

#: Gate key → (label, quantile, engine → histogram base names, first found wins; none: not exported).
LATENCY: dict[str, tuple[str, float, dict[str, tuple[str, ...]]]] = {
    "ttftP50": ("TTFT p50", 0.50, {"vllm": ("vllm:time_to_first_token_seconds",), "tgi": ()}),
    "ttftP99": ("TTFT p99", 0.99, {"vllm": ("vllm:time_to_first_token_seconds",), "tgi": ()}),
    "tpotP99": (
        "TPOT p99",
        0.99,
        {
            "vllm": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
            "tgi": ("tgi_request_mean_time_per_token_duration",),
        },
    ),
    "e2eP99": (
        "E2E p99",
        0.99,
        {"vllm": ("vllm:e2e_request_latency_seconds",), "tgi": ("tgi_request_duration",)},
    ),
}
#: Completed requests in the window (what `minRequests` counts).
REQUESTS = {"vllm": "vllm:e2e_request_latency_seconds_count", "tgi": "tgi_request_duration_count"}
#: (failed, all) requests in the window: the first pair whose "all" has data is the one used.
#: `{name}` is filled by `series`, so a `vllm:` name matches both spellings.
ERRORS: dict[str, tuple[tuple[tuple[str, str], tuple[str, str]], ...]] = {
    "vllm": (
        (("http_requests_total", 'handler=~"/v1/.*",status=~"5.."'), ("http_requests_total", 'handler=~"/v1/.*"')),
        # without the HTTP metrics: the engine's finished requests, aborted (or, where vLLM has it, errored) ones as failures
        (("vllm:request_success_total", 'finished_reason=~"abort|error"'), ("vllm:request_success_total", "")),
    ),
    "tgi": ((("tgi_request_failure", ""), ("tgi_request_count", "")),),
}


@record(frozen=True)
class Selector:
    """Which series belong to one revision: its namespace, and its pods or a revision label.

    Knative names a revision's Deployment `<revision>-deployment` (knative/serving
    `pkg/reconciler/revision/resources/names`), so its pods are `<revision>-deployment-<hash>-<hash>`:
    the `pod` label every Kubernetes scrape config keeps tells the revisions apart. `label`
    names a Prometheus label that holds the revision itself instead (e.g. the pod label
    `serving.knative.dev/revision` relabelled to `serving_knative_dev_revision`).
    """

    namespace: str
    revision: str
    label: str | None = None  # a validated Prometheus label name (specs.rollout.PROM_LABEL_NAME)

    def matchers(self) -> str:
        """The label matchers, values escaped (promql.fill)."""
        if self.label:
            template = 'namespace="{ns}",' + self.label + '="{rev}"'
        else:
            template = 'namespace="{ns}",pod=~"{rev}-deployment-.+"'
        return promql.fill(template, ns=self.namespace, rev=self.revision)


def series(name: str, matchers: str) -> str:
    """A selector of `name` with `matchers`; a `vllm:` name also matches its `vllm_` spelling.

    prometheus-client (the library vLLM exports with) writes `vllm:x` as `vllm_x` in OpenMetrics
    1.0 when the scraper does not ask for UTF-8 names — prometheus-client 0.26, scraped by
    Prometheus 2.42, does (seen in tests/support/prometheus.py) — so one Prometheus may hold
    either name. Only one exists per server, so matching both never counts twice.
    """
    if name.startswith("vllm:"):
        return f'{{__name__=~"vllm[:_]{name.removeprefix("vllm:")}",{matchers}}}'
    return f"{name}{{{matchers}}}"


def _window(seconds: int) -> str:
    return f"{int(seconds)}s"


def quantile_query(metrics: tuple[str, ...], q: float, sel: Selector, window_s: int) -> str:
    """`histogram_quantile(q, …)` over the first of `metrics` that has buckets (`or` per `le`)."""
    w = _window(window_s)
    parts = [f"sum by (le) (rate({series(m + '_bucket', sel.matchers())}[{w}]))" for m in metrics]
    return f"histogram_quantile({q:g}, {' or '.join(parts)})"


def count_query(name: str, sel: Selector, window_s: int) -> str:
    """Total increase of a counter over the window, summed over the revision's pods."""
    return f"sum(increase({series(name, sel.matchers())}[{_window(window_s)}]))"


def error_queries(engine: str, sel: Selector, window_s: int) -> list[tuple[str, str]]:
    """(failed, all) request-count queries over the window, in the order to try them."""
    w = _window(window_s)

    def one(name: str, extra: str) -> str:
        matchers = sel.matchers() + ("," + extra if extra else "")
        return f"sum(increase({series(name, matchers)}[{w}]))"

    return [(one(*failed), one(*total)) for failed, total in ERRORS[engine]]
