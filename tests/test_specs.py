"""Bad specs get one clear error each: file:line:col, the field path, a hint."""

from __future__ import annotations

import json
import textwrap

import pytest

from llmkube.errors import InputError, InputErrors
from llmkube.specs.parse import parse_specs
from llmkube.yamlio import parse_documents

JOB = """\
apiVersion: llmkube.dev/v1alpha1
kind: TrainingJob
metadata: {name: job, namespace: team}
spec:
  image: nvcr.io/nvidia/pytorch:24.07-py3
  script: train.py
  gpu: h100-80gb
"""


def errors_of(text: str) -> list[InputError]:
    with pytest.raises(InputError) as exc:
        parse_specs(parse_documents(textwrap.dedent(text), "spec.yaml"))
    err = exc.value
    return err.errors if isinstance(err, InputErrors) else [err]


def test_a_valid_job_parses_with_defaults():
    (loaded,) = parse_specs(parse_documents(JOB, "spec.yaml"))
    assert loaded.kind == "TrainingJob"
    assert loaded.spec.spec.nodes == 1
    assert loaded.spec.spec.framework == "pytorchjob"


def test_misspelt_field_gets_did_you_mean_at_its_line():
    (err,) = errors_of(JOB + "  gpusPerNod: 8\n")
    assert str(err.mark) == "spec.yaml:8:3"
    assert err.field == "spec.gpusPerNod"
    assert err.message == "unknown field 'gpusPerNod'"
    assert err.hint == "did you mean 'gpusPerNode'?"


def test_wrong_type_names_what_was_expected_and_what_was_found():
    (err,) = errors_of(JOB + '  gpusPerNode: "8"\n')
    assert str(err.mark) == "spec.yaml:8:3"
    assert "expected an integer" in err.message and "'8'" in err.message
    assert err.hint == "write the number without quotes: 8"


def test_union_of_int_and_range_gives_one_error():
    (err,) = errors_of(JOB + "  nodes: lots\n")
    assert err.field == "spec.nodes"
    assert err.message == "expected an integer or a mapping, got string 'lots'"


def test_missing_required_field_points_at_the_parent():
    text = JOB.replace("  gpu: h100-80gb\n", "")
    (err,) = errors_of(text)
    assert err.message == "missing required field 'gpu'"
    assert err.field == "spec"
    assert str(err.mark) == "spec.yaml:4:1"


def test_enum_value_lists_the_choices():
    (err,) = errors_of(JOB + "  framework: volcan\n")
    assert "'volcan'" in err.message and "'volcano'" in err.message
    assert str(err.mark) == "spec.yaml:8:3"


def test_misplaced_gpu_count_gets_a_pointed_hint():
    (err,) = errors_of(JOB + "  resources: {cpu: 8, gpu: 4}\n")
    assert err.field == "spec.resources.gpu"
    assert "gpusPerNode" in err.hint


def test_every_error_in_a_file_is_reported():
    errs = errors_of(JOB + "  gpusPerNod: 8\n  framework: volcan\n")
    assert [str(e.mark) for e in errs] == ["spec.yaml:8:3", "spec.yaml:9:3"]


def test_unknown_kind_and_api_version():
    (err,) = errors_of(JOB.replace("kind: TrainingJob", "kind: TrainigJob"))
    assert err.message == "unknown kind 'TrainigJob'" and err.hint == "did you mean 'TrainingJob'?"
    (err,) = errors_of(JOB.replace("llmkube.dev/v1alpha1", "llmkube.dev/v1"))
    assert "apiVersion" in err.message and str(err.mark) == "spec.yaml:1:1"


def test_quantities_are_checked():
    (err,) = errors_of(JOB + "  resources: {memory: 12 GB}\n")
    assert err.field == "spec.resources.memory"
    assert "quantity" in err.message


def test_names_must_be_dns_labels():
    (err,) = errors_of(JOB.replace("name: job", "name: My_Job"))
    assert err.field == "metadata.name"
    assert "DNS-1123" in err.message


@pytest.mark.parametrize(
    ("framework", "nodes"), [("pytorchjob", "1"), ("pytorchjob", "{min: 2, max: 4}"), ("trainjob", "2"), ("volcano", "2")]
)
def test_a_job_name_must_be_an_rfc_1035_label_for_every_framework(framework, nodes):
    # Kubeflow v1 webhooks (NameIsDNS1035Label), TrainJob CEL, and the Service Volcano's svc plugin names
    # after the job all refuse a leading digit that a DNS-1123 label allows.
    spec = JOB.replace("name: job", "name: 8b-chat") + f"  framework: {framework}\n  nodes: {nodes}\n"
    (err,) = errors_of(spec + "  model: meta-llama/Llama-3.1-8B-Instruct\n")
    assert err.field == "metadata.name" and str(err.mark) == "spec.yaml:3:12"
    assert "start with a letter" in err.message
    assert "`llama-8b-chat`" in err.hint
    (err,) = errors_of(spec)
    assert "`job-8b-chat`" in err.hint


@pytest.mark.parametrize(
    ("framework", "nodes", "longest", "room"),
    [
        ("pytorchjob", 1, "-master-0", 54),  # the master's pod and Service
        ("pytorchjob", 12, "-worker-10", 53),  # Workers 0..10 beside the Master
        ("pytorchjob", "{min: 2, max: 12}", "-worker-11", 53),  # elastic: Workers 0..11
        ("trainjob", 10, "-node-0-9-abcde", 48),  # JobSet pod names with their random suffix
        ("volcano", 10, "-worker-9", 54),
    ],
)
def test_a_name_too_long_for_what_the_operator_derives_from_it(framework, nodes, longest, room):
    name = "a" * (63 - len(longest) + 1)
    (err,) = errors_of(JOB.replace("name: job", f"name: {name}") + f"  framework: {framework}\n  nodes: {nodes}\n")
    assert err.field == "metadata.name"
    assert f"`{name}{longest}`" in err.message and "at most 63" in err.message
    assert f"at most {room} characters" in err.hint
    ok = JOB.replace("name: job", f"name: {name[:-1]}") + f"  framework: {framework}\n  nodes: {nodes}\n"
    assert parse_specs(parse_documents(ok, "spec.yaml"))


QUOTA = """\
apiVersion: llmkube.dev/v1alpha1
kind: Quota
metadata: {name: gpu-training-queue}
spec:
  resources:
    - pool: h100-pool
      gpu: 128
      borrowingLimit: {gpu: 32}
      lendingLimit: {gpu: 64}
"""


def test_borrowing_and_lending_need_a_cohort_and_say_why():
    errs = errors_of(QUOTA)
    assert [e.field for e in errs] == ["spec.resources[0].borrowingLimit", "spec.resources[0].lendingLimit"]
    assert str(errs[0].mark) == "spec.yaml:8:7"
    assert "needs a cohort" in errs[0].message and "Kueue API rejects" in errs[0].message
    assert "cohort:" in errs[0].hint


def test_with_a_cohort_the_quota_is_fine():
    (loaded,) = parse_specs(parse_documents(QUOTA.replace("spec:\n", "spec:\n  cohort: org\n"), "q.yaml"))
    assert loaded.spec.spec.cohort == "org"


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ("  framework: volcano\n  scheduler: kueue\n  queue: q\n", "spec.scheduler", "Volcano scheduler"),
        ("  scheduler: kueue\n", "spec.queue", "LocalQueue"),
        ("  framework: trainjob\n  nodes: {min: 2, max: 4}\n", "spec.nodes", "elastic"),
        ("  env: {HF_TOKEN: hf_abcdef}\n", "spec.env.HF_TOKEN", "token"),
        ("  command: [python, x.py]\n", "spec.command", "exclusive"),
        ("  nodes: {min: 4, max: 2}\n", "spec.nodes", "must not exceed"),
        ("  network: {infiniband: false, rdma: {resource: rdma/ib}}\n", "spec.network.infiniband", "disables"),
        ("  network: {infiniband: true, rdma: {resource: vpc.amazonaws.com/efa}}\n", "spec.network.infiniband", "EFA"),
        ("  network: {rdma: {resource: efa}}\n", "spec.network.rdma.resource", "domain-prefixed"),
        ("  network: {infiniband: true}\n  env: {NCCL_IB_DISABLE: '1'}\n", "spec.env.NCCL_IB_DISABLE", "RDMA transport"),
    ],
)
def test_job_combinations_that_cannot_run(extra, field, words):
    errs = errors_of(JOB + extra)
    assert any(e.field == field and words in e.message for e in errs), [str(e) for e in errs]


def test_a_literal_token_error_points_at_the_env_line_and_says_where_it_belongs():
    (err,) = errors_of(JOB + "  env:\n    HF_TOKEN: hf_abcdef\n")
    assert str(err.mark) == "spec.yaml:9:5"
    assert "tokenSecret" in err.hint


def test_duplicate_pool_names_in_a_fleet():
    text = """\
    apiVersion: llmkube.dev/v1alpha1
    kind: Fleet
    metadata: {name: f}
    spec:
      pools:
        - {name: a, gpu: h100-80gb}
        - {name: a, gpu: l4}
    """
    (err,) = errors_of(text)
    assert err.field == "spec.pools[1].name"
    assert str(err.mark) == "spec.yaml:7:8"  # the `name` key of the second pool


@pytest.mark.parametrize("name", ["job\n", "job\r\n"])
def test_a_name_with_a_trailing_line_break_is_not_a_dns_label(name):
    # `$` also matches before a final newline; the name checks must match the whole value.
    (err,) = errors_of(JOB.replace("name: job", f"name: {json.dumps(name)}"))
    assert err.field == "metadata.name"
    assert "DNS-1123" in err.message


def test_a_node_range_with_min_above_max_is_one_error_not_a_union_member_s_type_error():
    # `nodes` is `int | NodeRange`: the mapping took the NodeRange branch, so "expected an integer" is noise.
    (err,) = errors_of(JOB + "  framework: pytorchjob\n  nodes: {min: 3, max: 2}\n")
    assert err.field == "spec.nodes"
    assert "must not exceed max" in err.message


def test_a_bad_member_inside_a_node_range_is_reported_at_that_member():
    (err,) = errors_of(JOB + "  framework: pytorchjob\n  nodes: {min: x, max: 2}\n")
    assert err.field == "spec.nodes.min"
    assert err.message.startswith("expected an integer")
