"""LK402 answers each (GPU profiles, layout) once per run: two entries with the same layout on
different GPUs are still judged apart, in either order, and copies of a config find what one does."""

from __future__ import annotations

import pytest

from llmkube.check.rules import run_rules
from llmkube.check.run import Target
from llmkube.profiles import ProfileStore

# 7 × 1g.10gb fills an A100 80GB (7 compute slices, 8 memory slices); an A100 40GB's 1g.10gb takes two
# of its 8 memory slices, so at most 4 fit there.
ENTRY = """
      {name}:
        - device-filter: "{pci}"
          devices: all
          mig-enabled: true
          mig-devices: {{"1g.10gb": 7}}"""
A100_80 = ("a100-80", "0x20B210DE")
A100_40 = ("a100-40", "0x20B010DE")


def _config(name: str, *entries: tuple[str, str]) -> dict:
    text = "version: v1\nmig-configs:" + "".join(ENTRY.format(name=n, pci=p) for n, p in entries).replace("\n      ", "\n  ")
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "gpu-operator"},
            "data": {"config.yaml": text}}


def _lk402(objs: list[dict]) -> list[tuple[str, str]]:
    found = run_rules([Target(obj=o) for o in objs], ProfileStore.load(), rules=None)
    return [(f.object, f.message) for f in found if f.code == "LK402"]


@pytest.mark.parametrize("entries", [(A100_80, A100_40), (A100_40, A100_80)])
def test_one_layout_on_two_gpus_is_judged_on_each(entries):
    found = _lk402([_config("cm", *entries)])
    assert len(found) == 1 and "'a100-40'" in found[0][1] and "a100-40gb" in found[0][1]


def test_copies_of_a_config_each_find_what_one_finds():
    one = _lk402([_config("cm-0", A100_80, A100_40)])
    copies = _lk402([_config(f"cm-{i}", A100_80, A100_40) for i in range(3)])
    assert copies == [(o.replace("cm-0", f"cm-{i}"), m) for i in range(3) for o, m in one]


def test_configs_that_differ_are_judged_apart():
    found = _lk402([_config("fits", A100_80), _config("does-not", A100_40), _config("fits-too", A100_80)])
    assert [o for o, _ in found] == ["ConfigMap/gpu-operator/does-not"]
