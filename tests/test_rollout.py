"""The rollout decision, its PromQL and its reading of KServe, without a cluster or Prometheus
(tests/test_rollout_prometheus.py runs them end to end)."""

from __future__ import annotations

import json
import math
import socket
from datetime import datetime, timedelta, timezone

import pytest

from llmkube.errors import InputError
from llmkube.rollout import kserve, metrics
from llmkube.rollout.decide import Sample, decide, evaluate, next_stage
from llmkube.rollout.prometheus import Prometheus
from llmkube.specs.rollout import RolloutPolicy, duration_seconds
from tests.support.cli import llmkube

POLICY = RolloutPolicy.model_validate({"stages": [10, 25, 50, 100], "observe": "5m", "minRequests": 100})
LAT = {"ttftP50": 0.10, "ttftP99": 0.40, "tpotP99": 0.05, "e2eP99": 4.0}


def sample(requests: float = 1000, errors: float = 0, scale: dict[str, float] | None = None, **latency: float | None) -> Sample:
    values: dict[str, float | None] = {k: v * (scale or {}).get(k, 1.0) for k, v in LAT.items()}
    values.update(latency)
    return Sample(requests=requests, latency=values, errors=errors, answered=requests + errors)


def test_a_healthy_canary_advances_once_observed_long_enough() -> None:
    d = decide(POLICY, 10, 301, sample(), sample())
    assert (d.action, d.to_percent) == ("advance", 25)
    assert {g.status for g in d.gates} == {"pass"}


def test_the_last_stage_promotes_by_removing_the_split() -> None:
    d = decide(POLICY, 50, 301, sample(), sample())
    assert (d.action, d.to_percent) == ("promote", None)
    assert next_stage([10, 30], 30) == 100  # stages that stop short of 100 still end in a promotion


def test_a_young_stage_waits_even_when_healthy() -> None:
    assert decide(POLICY, 25, 120, sample(), sample()).action == "wait"
    first = decide(POLICY, 25, None, sample(), sample())
    assert first.action == "wait" and "not seen before" in first.reason


@pytest.mark.parametrize("worse", [1.11, 1.15, 2.0])
@pytest.mark.parametrize("gate", ["ttftP50", "ttftP99", "tpotP99", "e2eP99"])
def test_a_latency_more_than_10_percent_worse_rolls_back_at_once(gate: str, worse: float) -> None:
    d = decide(POLICY, 10, 5, sample(scale={gate: worse}), sample())  # a young stage: fail fast
    assert (d.action, d.to_percent) == ("rollback", 0)
    assert [g.gate for g in d.gates if g.status == "fail"] == [gate]


def test_within_the_tolerance_passes() -> None:
    d = decide(POLICY, 10, 301, sample(scale={k: 1.09 for k in LAT}), sample())
    assert d.action == "advance"


def test_an_absolute_ceiling_fails_a_canary_no_worse_than_its_baseline() -> None:
    policy = RolloutPolicy.model_validate({"gates": {"ttftP99": {"ceilingSeconds": 0.3}}})
    d = decide(policy, 10, 601, sample(), sample())
    assert d.action == "rollback" and "ceiling" in d.reason


def test_any_rise_in_errors_rolls_back_by_default() -> None:
    d = decide(POLICY, 10, 301, sample(errors=5), sample(errors=1))
    assert d.action == "rollback" and "error rate" in d.reason
    assert decide(POLICY, 10, 301, sample(errors=1), sample(errors=1)).action == "advance"
    assert decide(POLICY, 10, 301, sample(errors=0), sample(errors=0)).action == "advance"


def test_an_error_allowance_in_points() -> None:
    policy = RolloutPolicy.model_validate({"gates": {"errorRate": {"maxIncreasePoints": 1}}})
    assert decide(policy, 10, 601, sample(errors=5), sample(errors=1)).action == "advance"  # 0.5 % vs 0.1 %
    assert decide(policy, 10, 601, sample(errors=30), sample(errors=1)).action == "rollback"  # 2.9 %


def test_thin_traffic_waits_even_when_a_gate_looks_bad() -> None:
    d = decide(POLICY, 10, 3000, sample(requests=20, scale={"ttftP99": 3}), sample())
    assert d.action == "wait" and "too little traffic" in d.reason and "canary 20 of 100" in d.reason


def test_a_gate_with_no_data_anywhere_is_skipped_and_one_missing_on_the_canary_waits() -> None:
    tgi_like = decide(POLICY, 10, 301, sample(ttftP50=None, ttftP99=None), sample(ttftP50=None, ttftP99=None))
    assert tgi_like.action == "advance"
    assert [g.status for g in tgi_like.gates][:2] == ["skip", "skip"]
    assert decide(POLICY, 10, 301, sample(ttftP50=None), sample()).action == "wait"


def test_a_disabled_gate_does_not_judge() -> None:
    policy = RolloutPolicy.model_validate({"gates": {"e2eP99": {"enabled": False}}})
    assert decide(policy, 10, 601, sample(scale={"e2eP99": 5}), sample()).action == "advance"


def test_above_the_largest_bucket_fails_against_a_finite_baseline() -> None:
    gates = evaluate(POLICY, sample(e2eP99=math.inf), sample())
    assert {g.gate: g.status for g in gates}["e2eP99"] == "fail"


def test_no_split_and_a_rolled_back_split() -> None:
    assert decide(POLICY, None, None, Sample(), Sample()).action == "idle"
    assert decide(POLICY, 100, None, Sample(), Sample()).action == "idle"
    assert decide(POLICY, 0, None, Sample(), Sample()).action == "rolled-back"


@pytest.mark.parametrize(
    "stages, ok", [([10, 25, 50, 100], True), ([5], True), ([25, 10], False), ([10, 10], False), ([0, 50], False), ([], False)]
)
def test_stages_are_increasing_percentages(stages: list[int], ok: bool) -> None:
    if ok:
        RolloutPolicy.model_validate({"stages": stages})
    else:
        with pytest.raises(ValueError):
            RolloutPolicy.model_validate({"stages": stages})


def test_durations() -> None:
    assert duration_seconds("1h30m") == 5400 and duration_seconds("45s") == 45
    for bad in ("", "10", "1.5m", "1d", "m"):
        with pytest.raises(ValueError):
            duration_seconds(bad)


HOSTILE = ['x"}) or vector(1) #', "a.b*c", 'q\\"\n']


@pytest.mark.parametrize("revision", HOSTILE)
def test_a_hostile_revision_name_stays_inside_its_matcher(revision: str) -> None:
    query = metrics.quantile_query(metrics.LATENCY["ttftP99"][2]["vllm"], 0.99, metrics.Selector("ns", revision), 300)
    inside = query.split('pod=~"', 1)[1]
    # the value ends at the first unescaped quote, right after the fixed suffix
    i, out = 0, ""
    while inside[i] != '"':
        out += inside[i : i + 2] if inside[i] == "\\" else inside[i]
        i += 2 if inside[i] == "\\" else 1
    assert out.endswith("-deployment-.+")
    assert "\n" not in query and query.count("histogram_quantile") == 1


def test_a_revision_label_instead_of_pod_names() -> None:
    sel = metrics.Selector("ns", "chat-predictor-00002", "serving_knative_dev_revision")
    assert sel.matchers() == 'namespace="ns",serving_knative_dev_revision="chat-predictor-00002"'
    with pytest.raises(ValueError):
        RolloutPolicy.model_validate({"revisionLabel": 'x="y"} or vector(1)'})


def test_percentiles_come_from_histogram_buckets_not_averages() -> None:
    sel = metrics.Selector("ns", "r")
    for _, q, names in metrics.LATENCY.values():
        for engine in ("vllm", "tgi"):
            if names[engine]:
                query = metrics.quantile_query(names[engine], q, sel, 600)
                assert query.startswith(f"histogram_quantile({q:g}, sum by (le) (rate(") and "_bucket" in query
                assert "_sum" not in query and "[600s]" in query


def isvc(percent: int | None = 25, mode: str | None = "Knative", traffic: bool = True) -> dict:
    predictor: dict = {"latestReadyRevision": "chat-predictor-00002", "latestRolledoutRevision": "chat-predictor-00001"}
    if traffic:
        predictor["traffic"] = [
            {"revisionName": "chat-predictor-00003", "latestRevision": True, "percent": percent},
            {"revisionName": "chat-predictor-00001", "latestRevision": False, "percent": 100 - (percent or 0), "tag": "prev"},
        ]
    obj: dict = {
        "metadata": {"name": "chat", "namespace": "serving"},
        "spec": {"predictor": {} if percent is None else {"canaryTrafficPercent": percent}},
        "status": {"components": {"predictor": predictor}},
    }
    if mode:
        obj["status"]["deploymentMode"] = mode
    return obj


def test_revisions_come_from_the_traffic_targets_first() -> None:
    revs = kserve.read_revisions(isvc())
    assert (revs.canary, revs.baseline, revs.percent, revs.mode) == ("chat-predictor-00003", "chat-predictor-00001", 25, "Knative")
    revs = kserve.read_revisions(isvc(traffic=False))
    assert (revs.canary, revs.baseline) == ("chat-predictor-00002", "chat-predictor-00001")


def test_standard_mode_has_no_split_to_move() -> None:
    with pytest.raises(InputError, match="ignores canaryTrafficPercent"):
        kserve.check_mode(kserve.read_revisions(isvc(mode="Standard")))
    kserve.check_mode(kserve.read_revisions(isvc(mode="Serverless")))


def test_the_stage_clock_belongs_to_one_revision_at_one_percent() -> None:
    revs = kserve.read_revisions(isvc())
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    cm = kserve.state_configmap(revs, kserve.StageRecord("chat-predictor-00003", 25, t0), [{"action": "advance"}])
    record, history = kserve.read_record(cm)
    assert history == [{"action": "advance"}]
    assert kserve.stage_age(record, revs, t0 + timedelta(seconds=90)) == 90
    other = kserve.read_revisions(isvc(percent=50))
    assert kserve.stage_age(record, other, t0 + timedelta(seconds=90)) is None
    assert kserve.read_record({"data": {"since": "garbage"}}) == (None, [])
    assert json.loads(cm["data"]["history"]) == [{"action": "advance"}]


def test_an_unreachable_prometheus_is_an_input_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match="cannot reach Prometheus"):
        Prometheus(f"http://127.0.0.1:{port}", timeout=2).query("up")
    with pytest.raises(InputError, match="invalid Prometheus URL"):
        Prometheus("127.0.0.1:9090")


SPEC = """apiVersion: llmkube.dev/v1alpha1
kind: InferenceEndpoint
metadata: {{name: chat, namespace: serving}}
spec:
  model: meta-llama/Llama-3.1-8B-Instruct
  gpu: h100-80gb
{extra}"""


@pytest.mark.parametrize(
    "extra, message",
    [
        ("  target: deployment\n", "target: deployment"),
        ("  deploymentMode: Standard\n", "Standard mode"),
        ("  deploymentMode: Knative\n  knativeFeatures: [kubernetes.podspec-nodeselector]\n  target: deployment\n  rollout: {}\n", "target: deployment"),
    ],
)
def test_a_mode_that_cannot_canary_is_refused_before_any_cluster_call(tmp_path, extra: str, message: str) -> None:
    path = tmp_path / "ep.yaml"
    path.write_text(SPEC.format(extra=extra))
    result = llmkube("rollout", "step", str(path), "--kubeconfig", str(tmp_path / "none"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_rollout_policy_sets_the_first_stage_as_the_canary_split(tmp_path) -> None:
    path = tmp_path / "ep.yaml"
    path.write_text(SPEC.format(extra="  deploymentMode: Knative\n  knativeFeatures: [kubernetes.podspec-nodeselector]\n  rollout: {stages: [5, 50, 100]}\n"))
    rendered = llmkube("render", str(path))
    assert rendered.returncode == 0, rendered.stderr
    assert "canaryTrafficPercent: 5" in rendered.stdout


def test_vllm_errors_fall_back_to_the_engine_counter_and_match_both_name_spellings() -> None:
    pairs = metrics.error_queries("vllm", metrics.Selector("ns", "r"), 60)
    assert "http_requests_total{" in pairs[0][1] and 'status=~"5.."' in pairs[0][0]
    assert '__name__=~"vllm[:_]request_success_total"' in pairs[1][1] and 'finished_reason=~"abort|error"' in pairs[1][0]
    assert metrics.error_queries("tgi", metrics.Selector("ns", "r"), 60) == [
        ('sum(increase(tgi_request_failure{namespace="ns",pod=~"r-deployment-.+"}[60s]))',
         'sum(increase(tgi_request_count{namespace="ns",pod=~"r-deployment-.+"}[60s]))'),
    ]


def test_only_the_stage_clock_makes_a_healthy_stage_wait() -> None:
    assert decide(POLICY, 10, 10, sample(), sample()).young
    assert not decide(POLICY, 10, 10, sample(requests=5), sample()).young  # thin traffic is not "young"
    assert not decide(POLICY, 10, 10, sample(ttftP50=None), sample()).young  # nor missing canary data


class _Fake:
    """A local HTTP server answering every request with one fixed status and body."""

    def __init__(self, status: int, body: bytes) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    "status, body, message",
    [
        (400, b'{"status":"error","errorType":"bad_data","error":"parse error"}', "HTTP 400: parse error"),
        (200, b"<html>not prometheus</html>", "did not answer with Prometheus JSON"),
        (200, b'{"status":"error","error":"query timed out"}', "refused a query: query timed out"),
        (200, b'{"status":"success","data":{"resultType":"matrix","result":[]}}', "not an instant vector"),
    ],
)
def test_anything_but_a_query_result_is_an_input_error(status: int, body: bytes, message: str) -> None:
    fake = _Fake(status, body)
    try:
        with pytest.raises(InputError, match=message):
            Prometheus(fake.url, timeout=5).scalar("up")
    finally:
        fake.close()


def test_no_data_and_nan_are_none_and_inf_is_kept() -> None:
    for body, expected in (
        (b'{"status":"success","data":{"resultType":"vector","result":[]}}', None),
        (b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}', None),
        (b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}', math.inf),
        (b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.25"]}]}}', 0.25),
    ):
        fake = _Fake(200, body)
        try:
            assert Prometheus(fake.url).scalar("x") == expected
        finally:
            fake.close()
