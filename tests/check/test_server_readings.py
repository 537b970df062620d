"""Copies of one container are read once per run (`check.read.servers.ContainerReadings`): the fast
path finds the same servers and findings as reading each container on its own (the reference path),
and two servers that differ in exactly one input the reader reads are never taken for one."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from llmkube import pipeline
from llmkube.check.read.servers import READ_FIELDS, read_container, server_setups
from llmkube.check.read.workloads import pod_groups
from llmkube.check.rules import run_rules
from llmkube.check.run import Target
from llmkube.options import Options
from llmkube.profiles import ProfileStore
from tests.support.paths import EXAMPLES, RULE_CASES


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    return ProfileStore.load()


@pytest.fixture(scope="module")
def corpus_targets() -> list[Target]:
    run, _ = pipeline.run_partial([str(RULE_CASES), str(EXAMPLES)], Options())
    return list(run.targets)


def _containers(targets: list[Target]) -> Iterator[Mapping[str, Any]]:
    for t in targets:
        for group in pod_groups(t):
            for _, container in group.containers():
                yield container


class _Recording(Mapping[str, Any]):
    """A container that remembers which of its entries were looked at (`get`, `[]`, `in`, iteration)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        self.read.update(self._data)  # a reader that walks every entry depends on every entry
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_the_reader_reads_only_the_fields_the_key_holds(corpus_targets: list[Target]):
    """`READ_FIELDS` is the memo's key: a reader that looked at any other entry of a container
    (here, over every container of the rule cases and the rendered examples) could give two
    containers that differ only there the same reading."""
    servers = 0
    for container in _containers(corpus_targets):
        recording = _Recording({**container, "name": "x", "volumeMounts": [], "ports": []})
        reading = read_container(recording)
        servers += reading is not None
        assert recording.read <= set(READ_FIELDS), recording.read - set(READ_FIELDS)
    assert servers > 50


def test_reuse_finds_the_same_servers_as_reading_each(corpus_targets: list[Target], store: ProfileStore):
    fast = server_setups(corpus_targets, store)
    reference = server_setups(corpus_targets, store, reuse=False)
    assert fast == reference and len(fast) > 50


BASE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "base", "namespace": "llm"},
    "spec": {
        "selector": {"matchLabels": {"app": "llm"}},
        "template": {
            "metadata": {"labels": {"app": "llm"}},
            "spec": {
                "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                "containers": [{
                    "name": "vllm",
                    "image": "vllm/vllm-openai:v0.11.0",
                    "args": ["--model", "meta-llama/Llama-3.1-70B-Instruct", "--max-model-len", "8192",
                             "--gpu-memory-utilization", "0.9"],
                    "env": [{"name": "VLLM_MLA_DISABLE", "value": "0"}],
                    "resources": {"limits": {"nvidia.com/gpu": 1}},
                }],
            },
        },
    },
}


def _arg(i: int, value: Any) -> Any:
    return lambda c: c["args"].__setitem__(i, value)


def _same(c: dict[str, Any]) -> None:
    pass


# Pairs of servers that differ in exactly one input of the container's reading, read differently.
PAIRS = {
    "an argument's value": (_same, _arg(3, "16384")),
    "an argument's type: 1 reads '1', true reads 'True'": (_arg(5, 1), _arg(5, True)),
    "the image tag": (_same, lambda c: c.update(image="vllm/vllm-openai:v0.21.0")),
    "an environment value": (_same, lambda c: c["env"].append({"name": "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS", "value": "1"})),
    "the GPU count": (_same, lambda c: c["resources"]["limits"].update({"nvidia.com/gpu": 2})),
    "the order of the resources": (
        lambda c: c["resources"].update(limits={"nvidia.com/gpu": 1, "nvidia.com/mig-3g.40gb": 1}),
        lambda c: c["resources"].update(limits={"nvidia.com/mig-3g.40gb": 1, "nvidia.com/gpu": 1}),
    ),
    "a command": (_same, lambda c: c.update(command=["python3", "-m", "vllm.entrypoints.openai.api_server", "--tensor-parallel-size", "2"])),
}


def _server(name: str, change: Any) -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    obj["metadata"]["name"] = name
    change(obj["spec"]["template"]["spec"]["containers"][0])
    return obj


def _findings(objs: list[dict[str, Any]], store: ProfileStore, name: str) -> list[tuple[str, str, str | None]]:
    """The rules' findings on the object named `name`, with the object's name taken out."""
    found = run_rules([Target(obj=copy.deepcopy(o)) for o in objs], store)
    return [(f.code, f.message.replace(name, "*"), f.hint) for f in found if f.object.endswith(f"/{name}")]


@pytest.mark.parametrize("what", list(PAIRS))
def test_two_servers_that_differ_in_one_input_are_read_apart(what: str, store: ProfileStore):
    """Each server's findings beside the other (where a memo could hand the second the first's
    reading) are its findings alone, and the two differ: the input matters and was not missed."""
    first, second = (_server(name, change) for name, change in zip(("first", "second"), PAIRS[what], strict=True))
    alone = _findings([first], store, "first"), _findings([second], store, "second")
    assert alone[0] != alone[1], "the change does not show in the findings: pick another"
    assert (_findings([first, second], store, "first"), _findings([first, second], store, "second")) == alone
    assert (_findings([second, first], store, "first"), _findings([second, first], store, "second")) == alone


def test_the_key_tells_apart_what_python_takes_for_equal():
    """`1 == True == 1.0` and `0.0 == -0.0` in Python, but the reader reads their text."""
    from llmkube.check.read.servers import ContainerReadings

    def reading(value: Any) -> Any:
        c = copy.deepcopy(BASE["spec"]["template"]["spec"]["containers"][0])
        c["args"][5] = value
        return ContainerReadings().read(c)

    readings = ContainerReadings()
    for value in (1, True, 1.0, 0.0, -0.0, "1"):
        c = copy.deepcopy(BASE["spec"]["template"]["spec"]["containers"][0])
        c["args"][5] = value
        assert readings.read(c) == reading(value) == read_container(c), value
    assert reading(1).config.utilization == 1.0 and reading(True).config.utilization == 0.9


def test_a_model_is_looked_up_once_per_name_and_store():
    """`ContainerReadings.model`: the lookup (`_server_model`) runs once per model name in one
    store; another store (or name) is asked itself, and None answers are remembered too."""
    from llmkube.check.read.servers import ContainerReadings

    class Store:
        def __init__(self, known: dict[str, object]) -> None:
            self.known, self.asked = known, []

        def model(self, name: str) -> object:
            self.asked.append(name)
            return self.known.get(name)

        def model_at_path(self, path: str) -> object:
            self.asked.append(f"path:{path}")
            return None

    one, other = Store({"m": "one's m"}), Store({"m": "other's m"})
    readings = ContainerReadings()
    assert [readings.model(one, "m") for _ in range(3)] == ["one's m"] * 3
    assert readings.model(other, "m") == "other's m"
    assert [readings.model(one, "/mnt/x") for _ in range(2)] == [None, None]
    assert readings.model(one, None) is None and readings.model(one, "") is None
    assert one.asked == ["m", "/mnt/x", "path:/mnt/x"] and other.asked == ["m"]
