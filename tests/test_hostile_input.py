"""Hostile input is normal input: every case is a clear exit-2 error at the user's line, never exit 3.

Each test runs the real CLI (`python -m llmkube`), as a user or a CI job would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml as pyyaml

from tests.support.cli import llmkube, load_all
from tests.support.paths import REPO

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
SPEC = """\
apiVersion: llmkube.dev/v1alpha1
kind: InferenceEndpoint
metadata:
  name: ep
  namespace: ns
spec:
  model: meta-llama/Llama-3.1-8B-Instruct
  gpu: h100-80gb
"""


def refused(result: subprocess.CompletedProcess[str], where: str, *words: str) -> None:
    """Exit 2, the position in the message, the words, and nothing internal."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert where in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    for internal in ("Traceback", "internal error", "Commented", "ruamel", "rendered invalid YAML"):
        assert internal not in result.stderr, result.stderr


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


@pytest.mark.parametrize(
    ("text", "where", "word"),
    [
        ("hello\n", "f.yaml:1:1", "got a string"),
        ("- a\n- b\n", "f.yaml:1:1", "got a list"),
        (CONFIGMAP + "---\n42\n", "f.yaml:5:1", "got an integer"),
    ],
)
def test_a_document_that_is_not_a_mapping(tmp_path, text, where, word):
    refused(llmkube("validate", write(tmp_path, "f.yaml", text)), where, "must be a mapping", word)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("kind: {a: b}\napiVersion: v1\n", "f.yaml:1:1"),
        ("apiVersion: llmkube.dev/v1alpha1\nkind: {a: b}\n", "f.yaml:2:1"),
        ("apiVersion: [v1]\nkind: ConfigMap\n", "f.yaml:1:1"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {a: 1}}\n", "f.yaml:3:12"),
    ],
)
def test_a_mapping_where_a_string_is_expected(tmp_path, text, where):
    refused(llmkube("validate", write(tmp_path, "f.yaml", text)), where, "expected a string, got a mapping" if "{a" in text else "expected a string")


def test_a_mapping_where_a_spec_string_is_expected(tmp_path):
    spec = SPEC.replace("gpu: h100-80gb", "gpu: {a: [1]}")
    refused(llmkube("render", write(tmp_path, "s.yaml", spec)), "s.yaml:8:3", "expected a string, got mapping", "spec.gpu")


@pytest.mark.parametrize(
    ("text", "where", "key"),
    [
        (SPEC + "  env: {null: a}\n", "s.yaml:9:9", "key null is null"),
        (SPEC.replace("  namespace: ns\n", "  namespace: ns\n  annotations: {true: x}\n"), "s.yaml:6:17", "key true is a boolean"),
        (CONFIGMAP + "data:\n  1: x\n", "s.yaml:5:3", "key 1 is an integer"),
        (CONFIGMAP + "data:\n  ? [a]\n  : x\n", "s.yaml:5:5", "a list is used as a key; keys are text"),
    ],
)
def test_keys_that_are_not_strings_are_refused_at_their_line(tmp_path, text, where, key):
    for command in ("render", "validate"):
        if command == "render" and "llmkube.dev" not in text:
            continue
        refused(llmkube(command, write(tmp_path, "s.yaml", text)), where, *key.split("; "))


def test_a_json_surrogate_pair_decodes_to_its_character(tmp_path):
    spec = '{"apiVersion": "llmkube.dev/v1alpha1", "kind": "InferenceEndpoint", "metadata": {"name": "ep", "annotations": {"rocket": "\\ud83d\\ude80"}}, "spec": {"model": "m/x", "gpu": "h100-80gb"}}'
    result = llmkube("render", write(tmp_path, "s.json", spec))
    assert result.returncode == 0, result.stderr
    (isvc,) = [d for d in load_all(result.stdout) if d["kind"] == "InferenceService"]
    assert isvc["metadata"]["annotations"]["rocket"] == "\N{ROCKET}"


def test_a_lone_surrogate_is_an_error(tmp_path):
    manifest = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "\\ud83d"}}'
    refused(llmkube("validate", write(tmp_path, "m.json", manifest)), "m.json:1:", "unpaired UTF-16 surrogate", "data.a")


def test_deep_nesting(tmp_path):
    refused(llmkube("validate", write(tmp_path, "f.yaml", "[" * 500 + "\n")), "f.yaml:1:101", "nested more than 100 levels")
    refused(llmkube("validate", write(tmp_path, "f.yaml", "a: " + "[" * 150 + "]" * 150 + "\n")), "f.yaml:", "nested more than 100 levels")


def test_huge_integers(tmp_path):
    refused(llmkube("validate", write(tmp_path, "f.yaml", CONFIGMAP + "n: " + "9" * 5000 + "\n")), "f.yaml:4:4", "too long")
    refused(llmkube("validate", write(tmp_path, "f.yaml", CONFIGMAP + "n: " + "9" * 30 + "\n")), "f.yaml:4:1", "integer out of range")
    spec = SPEC + "  maxModelLen: " + "9" * 5000 + "\n"
    refused(llmkube("render", write(tmp_path, "s.yaml", spec)), "s.yaml:9:16", "too long")


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN"])
def test_infinity_and_nan_where_a_number_is_expected(tmp_path, value):
    spec = SPEC + f"  gpuMemoryUtilization: {value}\n"
    refused(llmkube("render", write(tmp_path, "s.yaml", spec)), "s.yaml:9:3", "not a number Kubernetes can store", "spec.gpuMemoryUtilization")


def test_a_closed_stdin():
    result = subprocess.run([sys.executable, "-m", "llmkube", "validate", "-"], stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode in (0, 2), result.stderr  # an empty stdin: nothing to check, or a clear error
    closed = subprocess.run(
        f"{sys.executable} -m llmkube validate - <&-", shell=True, capture_output=True, text=True, cwd=REPO, timeout=120
    )
    refused(closed, "<stdin>", "closed")


def test_a_nul_byte_is_reported_at_its_line(tmp_path):
    refused(llmkube("validate", write(tmp_path, "f.yaml", CONFIGMAP.encode() + b"data: {a: x\x00y}\n")), "f.yaml:4:12", "U+0000")


def test_non_utf8_input_is_reported_at_its_line(tmp_path):
    refused(llmkube("validate", write(tmp_path, "f.yaml", CONFIGMAP.encode() + b"data: {a: caf\xe9}\n")), "f.yaml:4:14", "not UTF-8")
    result = subprocess.run(
        [sys.executable, "-m", "llmkube", "validate", "-"], input=b"a:\n  b: \xff\n", capture_output=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 2 and b"<stdin>:2:6: not UTF-8" in result.stderr, result.stderr


@pytest.mark.parametrize("char", ["\x07", "\x7f", "\x9f", "\x00", "\x1b"])
def test_control_characters_in_values_are_reported_at_the_users_line(tmp_path, char):
    spec = SPEC + f"  servedModelName: a{char}b\n"
    refused(llmkube("render", write(tmp_path, "s.yaml", spec)), "s.yaml:9:21", f"U+{ord(char):04X}", "double-quoted")


@pytest.mark.parametrize("escape", ["\\x07", "\\x7f", "\\x9f", "\\u2028", "\\x85", "\\e"])
def test_escaped_control_characters_arrive_exactly(tmp_path, escape):
    spec = SPEC.replace("  namespace: ns\n", f'  namespace: ns\n  annotations: {{note: "a{escape}b"}}\n')
    result = llmkube("render", write(tmp_path, "s.yaml", spec))
    assert result.returncode == 0, result.stderr
    expected = "a" + escape.encode().decode("unicode_escape").replace("\\e", "\x1b") + "b" if escape != "\\e" else "a\x1bb"
    (isvc,) = [d for d in load_all(result.stdout) if d["kind"] == "InferenceService"]
    assert isvc["metadata"]["annotations"]["note"] == expected


def test_a_directory_with_one_broken_file_reports_every_files_errors(tmp_path):
    (tmp_path / "a-broken.yaml").write_text("a: [1, 2\n")
    (tmp_path / "b-spec.yaml").write_text(SPEC.replace("gpu: h100-80gb", "gpu: h100-80gb\n  tensorParalel: 2"))
    (tmp_path / "c-keys.yaml").write_text(CONFIGMAP + "data: {1: x}\n")
    result = llmkube("validate", str(tmp_path))
    refused(result, "a-broken.yaml:2:1", "b-spec.yaml:9:3", "tensorParalel", "c-keys.yaml:4:8")


def test_an_empty_image_is_an_error(tmp_path):
    spec = SPEC + '  image: ""\n'
    refused(llmkube("render", write(tmp_path, "s.yaml", spec)), "s.yaml:9:3", "non-empty string", "spec.image")


# --- bounded work -------------------------------------------------------------------

def billion_laughs(levels: int = 9) -> str:
    lines = [CONFIGMAP.rstrip("\n"), 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


_MEASURE = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
sys.stderr.write("\\nPEAK_KIB=%d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def run_measured(*args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """`llmkube ARGS` and its peak RSS in KiB. Linux counts the forking process's RSS into a
    child's peak (exec records the old memory map's high-water mark), so a child forked from a
    pytest worker that has grown to 500 MB reports 500 MB: a small Python process in between
    starts llmkube and reads its children's peak."""
    result = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "llmkube", *args],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    stderr, _, peak = result.stderr.rpartition("\nPEAK_KIB=")
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout, stderr), int(peak)


def test_an_alias_bomb_fails_fast_with_little_memory(tmp_path):
    path = write(tmp_path, "bomb.yaml", billion_laughs())
    started = time.monotonic()
    result, peak_kib = run_measured("validate", path)
    assert time.monotonic() - started < 30
    assert peak_kib < 400_000
    refused(result, "bomb.yaml:", "aliases here bring in more than 10000 nodes", "--max-alias-nodes")


def test_aliases_within_the_limit_are_read_and_the_limit_can_be_raised(tmp_path):
    small = CONFIGMAP + "data:\n  a: &v hello\n  b: *v\n"
    assert llmkube("validate", write(tmp_path, "ok.yaml", small)).returncode == 0
    three = billion_laughs(3)  # 9**4 nodes
    refused(llmkube("validate", "--max-alias-nodes", "100", write(tmp_path, "b.yaml", three)), "b.yaml:", "more than 100 nodes")
    assert "aliases" not in llmkube("validate", "--max-alias-nodes", "100000", write(tmp_path, "b.yaml", three)).stderr


def test_input_size_and_document_count_are_capped_with_flags_to_raise_them(tmp_path):
    big = write(tmp_path, "big.yaml", CONFIGMAP + "data: {a: '" + "x" * (1024 * 1024 + 10) + "'}\n")
    refused(llmkube("validate", "--max-input-mb", "1", big), "big.yaml", "larger than 1 MiB", "--max-input-mb")
    assert "larger than" not in llmkube("validate", "--max-input-mb", "2", big).stderr
    many = write(tmp_path, "many.yaml", "".join(CONFIGMAP.replace("name: x", f"name: x{i}") + "---\n" for i in range(5)))
    refused(llmkube("validate", "--max-documents", "3", many), "many.yaml:13", "more than 3 YAML documents", "--max-documents")
    assert llmkube("validate", "--max-documents", "5", many).returncode == 0  # the empty document after the last --- is not counted
    refused(llmkube("validate", "--max-documents", "3", "-", stdin=CONFIGMAP * 0 + "---\n".join([CONFIGMAP] * 4)), "<stdin>", "more than 3")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifos_and_devices_are_refused_stdin_is_not(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    refused(llmkube("validate", str(fifo)), "pipe.yaml", "not a regular file")
    refused(llmkube("validate", "/dev/zero"), "/dev/zero", "not a regular file")
    assert llmkube("validate", "-", stdin=CONFIGMAP).returncode == 0


@pytest.mark.parametrize(("value", "words"), [("2020-02-30", "as timestamp"), ('!!int "x"', "as int"), ("!!float x", "as float")])
def test_a_value_that_cannot_be_constructed_is_reported_at_its_line(tmp_path, value, words):
    refused(llmkube("validate", write(tmp_path, "f.yaml", CONFIGMAP + f"data:\n  a: {value}\n")), "f.yaml:5:6", words, "quote the value")


@pytest.mark.parametrize(
    "char", ["\u2028", "\r", pytest.param("\u2029", marks=pytest.mark.slow), pytest.param("\x85", marks=pytest.mark.slow)]
)
def test_line_break_characters_arrive_exactly_in_every_output(tmp_path, char):
    value = f"a{char}b{char}"
    spec = SPEC.replace("  namespace: ns\n", f"  namespace: ns\n  annotations: {{note: {json.dumps(value)}}}\n") + f"  env: {{K: {json.dumps(value)}}}\n"
    path = write(tmp_path, "s.yaml", spec)
    yaml_out = llmkube("render", path)
    json_out = llmkube("render", "-f", "json", path)
    assert llmkube("render", "-d", str(tmp_path / "out"), path).returncode == 0
    isvc_file = next((tmp_path / "out").glob("inferenceservice_*.yaml")).read_text(encoding="utf-8")
    streams = [
        pyyaml.load_all(yaml_out.stdout, Loader=pyyaml.CSafeLoader),
        pyyaml.load_all(isvc_file, Loader=pyyaml.CSafeLoader),
        json.loads(json_out.stdout)["items"],
    ]
    for docs in streams:
        (isvc,) = [d for d in docs if d and d["kind"] == "InferenceService"]
        assert isvc["metadata"]["annotations"]["note"] == value
        assert {"name": "K", "value": value} in isvc["spec"]["predictor"]["containers"][0]["env"]


# --- wrong shapes in a plain manifest: the schema check (exit 1) or the loader (exit 2) says where -----------

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llama
  namespace: ml
spec:
  replicas: 1
  selector:
    matchLabels: {app: llama}
  template:
    metadata:
      labels: {app: llama}
    spec:
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-8B-Instruct]
          resources: {limits: {nvidia.com/gpu: 1}}
"""


@pytest.mark.parametrize(
    ("text", "code", "where", "words"),
    [
        ("hello\n", 2, "d.yaml:1:1", "must be a mapping"),
        ("- a\n- b\n", 2, "d.yaml:1:1", "must be a mapping"),
        (DEPLOYMENT.replace("kind: Deployment", "kind: {a: b}"), 2, "d.yaml:2:1", "expected a string, got a mapping"),
        (DEPLOYMENT.replace("nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}", "nodeSelector: true"), 1, "d.yaml:14:7", "nodeSelector: expected object"),
        (DEPLOYMENT[: DEPLOYMENT.index("      containers:")] + "      containers: {}\n", 1, "d.yaml:15:7", "containers: expected array"),
        (DEPLOYMENT.replace("args: [--model, meta-llama/Llama-3.1-8B-Instruct]", 'args: "x"'), 1, "d.yaml:18:11", "args: expected array"),
        (DEPLOYMENT.replace("resources: {limits: {nvidia.com/gpu: 1}}", "resources: []"), 1, "d.yaml:19:11", "resources: expected object"),
    ],
    ids=["scalar-document", "list-document", "kind-mapping", "nodeSelector-true", "containers-mapping", "args-string", "resources-list"],
)
def test_a_wrong_shape_in_a_plain_manifest_is_reported_at_its_line(tmp_path, text, code, where, words):
    result = llmkube("validate", write(tmp_path, "d.yaml", text))
    assert result.returncode == code, (result.returncode, result.stderr, result.stdout)
    out = result.stdout + result.stderr
    assert where in out and words in out, out
    for internal in ("Traceback", "internal error", "Commented"):
        assert internal not in out, out


# --- YAML and JSON inside a ConfigMap value: rules read it, and skip what they cannot read -------------

ISVC = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: x, namespace: kserve}
spec:
  predictor:
    containers: [{name: kserve-container, image: "vllm/vllm-openai:v0.11.0", args: [--model, m]}]
"""


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("device-plugin", "cfg", "version: v1\nflags: {migStrategy: none}\nx: " + "9" * 5000),
        ("device-plugin", "cfg", "version: v1\nflags: " + "[" * 500 + "]" * 500),
        ("device-plugin", "cfg", "version: v1\nflags: {migStrategy: 2020-02-30}"),
        ("inferenceservice-config", "deploy", "[" * 100_000),
        ("inferenceservice-config", "deploy", '{"a": ' + "9" * 5000 + "}"),
    ],
    ids=["yaml-5000-digits", "yaml-deep", "yaml-bad-date", "json-deep", "json-5000-digits"],
)
def test_an_unreadable_config_inside_a_configmap_is_not_a_crash(tmp_path, name, key, value):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "kserve"}, "data": {key: value}}
    result = llmkube("validate", write(tmp_path, "cm.yaml", json.dumps(cm)), write(tmp_path, "isvc.yaml", ISVC))
    assert result.returncode in (0, 1), result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


# --- where the output goes: a directory, nowhere, a full disk ------------------------------------------


def test_a_report_file_that_cannot_be_written_is_exit_2(tmp_path):
    manifest = write(tmp_path, "cm.yaml", CONFIGMAP)
    (tmp_path / "dir.json").mkdir()
    refused(llmkube("validate", manifest, "--output-file", str(tmp_path / "dir.json")), "dir.json", "cannot write the report", "Is a directory")
    refused(llmkube("validate", manifest, "--output-file", str(Path(manifest) / "r.json")), "r.json", "cm.yaml exists and is not a directory")
    if Path("/dev/full").exists():
        refused(llmkube("validate", manifest, "--output-file", "/dev/full"), "/dev/full", "No space left on device")
        assert Path("/dev/full").is_char_device()  # written as a device, never renamed over
    report = tmp_path / "r.json"
    assert llmkube("validate", manifest, "--output-file", str(report)).returncode == 0
    assert json.loads(report.read_text())["checked"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("command", [["render"], ["validate", "-o", "json"]])
def test_a_full_disk_on_stdout_is_exit_2(tmp_path, command):
    spec = write(tmp_path, "s.yaml", SPEC)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "llmkube", *command, spec], stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=120
        )
    assert result.returncode == 2, result.stderr
    assert "cannot write the output: No space left on device" in result.stderr
    assert "internal error" not in result.stderr and "Exception ignored" not in result.stderr
