"""A real Prometheus (Debian's `prometheus` 2.42 binary) scraping an exporter the test runs.

`Exporter` serves vLLM-shaped metrics for two revisions (baseline and canary), each on a port
of its own, from prometheus-client registries: the histograms vLLM's `PrometheusStatLogger`
exports (`vllm:time_to_first_token_seconds`, `vllm:time_per_output_token_seconds`,
`vllm:e2e_request_latency_seconds`, with vLLM's bucket bounds), `vllm:request_success_total`
(`finished_reason` `stop`, or `abort` for a failed request) and the HTTP server's
`http_requests_total{handler,method,status}` (see `_serve_metrics` for the two spellings). A thread records `rps` requests a second per
revision; each request's latencies are taken in turn from a fixed grid of quantiles of the
revision's distribution (uniform between `low` and `high`, times `scale`), so two revisions with
the same settings export the same distribution, and a `scale` of 1.15 is 15 % slower.

`PrometheusServer` starts the binary on 127.0.0.1 with a temporary config (1 s scrape interval)
and data directory — never the system service — with the static labels a Kubernetes scrape
config would give the pods (`namespace`, `pod` = `<revision>-deployment-<hash>-<hash>`), and
stops it by PID.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

BINARY = "prometheus"
# vLLM v1 `PrometheusStatLogger` bucket bounds (vllm/v1/metrics/loggers.py).
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
GRID = 20  # quantiles per distribution


def binary() -> str | None:
    return shutil.which(BINARY)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Behaviour:
    """How one revision serves: requests a second, latency distributions, share of 5xx answers."""

    rps: float = 40.0
    ttft: tuple[float, float] = (0.04, 0.10)
    tpot: tuple[float, float] = (0.02, 0.06)
    e2e: tuple[float, float] = (1.0, 4.0)
    ttft_scale: float = 1.0
    tpot_scale: float = 1.0
    e2e_scale: float = 1.0
    error_ratio: float = 0.0
    http_metrics: bool = True  # False: no http_requests_total (an API server without the instrumentator)


@dataclass
class _Side:
    behaviour: Behaviour
    port: int
    metrics: dict = field(default_factory=dict)
    served: int = 0
    owed: float = 0.0
    errors_owed: float = 0.0


def _serve_metrics(registry, port: int, *, openmetrics: bool) -> ThreadingHTTPServer:
    """/metrics of `registry`: OpenMetrics 1.0 (where prometheus-client 0.26 writes `vllm:` as
    `vllm_`, as a vLLM with that client does when Prometheus negotiates OpenMetrics) or the text
    format 0.0.4 (names as vLLM spells them). The baseline serves the one, the canary the other,
    so every end-to-end test reads both spellings."""
    from prometheus_client import exposition
    from prometheus_client.openmetrics import exposition as om

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = om.generate_latest(registry) if openmetrics else exposition.generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", om.CONTENT_TYPE_LATEST if openmetrics else exposition.CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # Prometheus gave up on a scrape at shutdown
                pass

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


class Exporter:
    """vLLM-shaped metrics for revisions `baseline` and `canary`, changed while running with `set`."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self._sides: dict[str, _Side] = {}
        self._servers = []
        for name in ("baseline", "canary"):
            registry = CollectorRegistry()
            labels = ["model_name", "engine"]
            side = _Side(Behaviour(), free_port())
            side.metrics = {
                "ttft": Histogram("vllm:time_to_first_token_seconds", "TTFT", labels, registry=registry, buckets=TTFT_BUCKETS),
                "tpot": Histogram("vllm:time_per_output_token_seconds", "TPOT", labels, registry=registry, buckets=TPOT_BUCKETS),
                "e2e": Histogram("vllm:e2e_request_latency_seconds", "E2E", labels, registry=registry, buckets=E2E_BUCKETS),
                "http": Counter("http_requests", "HTTP", ["handler", "method", "status"], registry=registry),
                "finished": Counter("vllm:request_success", "finished", [*labels, "finished_reason"], registry=registry),
            }
            server = _serve_metrics(registry, side.port, openmetrics=name == "baseline")
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._servers.append((server, thread))
            self._sides[name] = side
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def port(self, side: str) -> int:
        return self._sides[side].port

    def set(self, side: str, **changes: object) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self._sides[side].behaviour, key, value)

    def _run(self) -> None:
        tick = 0.05
        while not self._stop.wait(tick):
            with self._lock:
                for side in self._sides.values():
                    self._serve(side, tick)

    def _serve(self, side: _Side, tick: float) -> None:
        b = side.behaviour
        side.owed += b.rps * tick
        while side.owed >= 1:
            side.owed -= 1
            q = (side.served % GRID + 0.5) / GRID
            side.served += 1
            m = side.metrics
            side.errors_owed += b.error_ratio
            if side.errors_owed >= 1:
                side.errors_owed -= 1
                if b.http_metrics:
                    m["http"].labels("/v1/chat/completions", "POST", "5xx").inc()
                m["finished"].labels("chat", "0", "abort").inc()
                continue
            if b.http_metrics:
                m["http"].labels("/v1/chat/completions", "POST", "2xx").inc()
            m["finished"].labels("chat", "0", "stop").inc()
            for key, (low, high), scale in (("ttft", b.ttft, b.ttft_scale), ("tpot", b.tpot, b.tpot_scale), ("e2e", b.e2e, b.e2e_scale)):
                m[key].labels("chat", "0").observe((low + (high - low) * q) * scale)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for server, thread in self._servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


class PrometheusServer:
    """The Prometheus binary on 127.0.0.1, scraping `targets` (job → (port, static labels)) every second."""

    def __init__(self, workdir: Path, targets: dict[str, tuple[int, dict[str, str]]]) -> None:
        exe = binary()
        if exe is None:
            raise RuntimeError("no prometheus binary on PATH (apt-get install prometheus)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"], "labels": labels}]}
                for job, (port, labels) in targets.items()
            ],
        }
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self._log = open(workdir / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            [
                exe,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(workdir)

    def _wait_ready(self, workdir: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(workdir / 'prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready in 30 s")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
