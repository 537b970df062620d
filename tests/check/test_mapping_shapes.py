"""The object walks ask for a plain dict before the `Mapping` ABC (the ABC check is the slower one,
and every parsed object is made of dicts); an object built of other mappings must read the same."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from llmkube import pipeline
from llmkube.check.metadata import metadata_findings
from llmkube.check.read.gpu_operator import mig_entries, mig_layout
from llmkube.check.read.servers import read_container
from llmkube.check.read.workloads import pod_groups
from llmkube.check.run import Target
from llmkube.options import Options
from tests.support.paths import EXAMPLES, RULE_CASES


class Frozen(Mapping[Any, Any]):
    """A mapping that is not a dict."""

    def __init__(self, data: Mapping[Any, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Frozen({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_frozen(v) for v in value]
    return value


# what the metadata pass reports, besides the corpora's well-formed objects
BROKEN = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "Bad_Name", "labels": {"app": "x" * 64}, "annotations": {"-bad": "1"}},
    "spec": {
        "replicas": -1,
        "selector": {"matchLabels": {"app": "other"}},
        "template": {
            "metadata": {"labels": {"app": "web", "bad key!": "v"}},
            "spec": {"nodeSelector": {"k": "bad value!"},
                     "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 70000}]}]},
        },
    },
}


def _targets() -> list[Target]:
    run, _ = pipeline.run_partial([str(RULE_CASES), str(EXAMPLES)], Options())
    return [*run.targets, Target(obj=BROKEN)]


def _problems(obj: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The metadata pass's findings but their object label (`object_label` names only dict metadata)."""
    return [(f.code, f.path, f.message) for f in metadata_findings(obj, lambda path: None)]


def test_metadata_findings_and_pod_groups_read_other_mappings_alike():
    targets = _targets()
    assert len(targets) > 200
    found = 0
    for t in targets:
        other = _frozen(t.obj)
        as_dicts = _problems(t.obj)
        assert _problems(other) == as_dicts, t.obj.get("metadata")
        found += len(as_dicts)
        groups = pod_groups(t)
        other_groups = pod_groups(Target(obj=other))
        assert [(g.spec_path, len(list(g.containers()))) for g in other_groups] == \
            [(g.spec_path, len(list(g.containers()))) for g in groups]
        for g, og in zip(groups, other_groups, strict=True):
            for (_, c), (_, oc) in zip(g.containers(), og.containers(), strict=True):
                assert read_container(oc) == read_container(c)
    assert found >= 7


def test_mig_parted_entries_read_from_other_mappings_alike():
    config = {"mig-configs": {"a": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 7}}],
                              "b": [{"devices": "all", "mig-enabled": False}]}}
    plain = [(n, i, mig_layout(e)) for n, i, e in mig_entries(config)]
    assert plain == [(n, i, mig_layout(e)) for n, i, e in mig_entries(_frozen(config))]
    assert plain[0][2] == {"1g.10gb": 7}
