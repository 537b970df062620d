"""MIG layout model (llmkube/plan/mig.py) against the facts file.

Facts: /work/shared/reference/gpu-and-model-facts.md — §1.1 validity rule,
§1.4 valid/invalid mixes, §1.5 mig-parted configs, §2 strategies/resources,
§4 product labels. The mig-parted shape is compared with NVIDIA's own
example config in /work/shared/crds/nvidia-examples/.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from llmkube.plan.mig import (
    LayoutError,
    Placement,
    check_layout,
    check_strategy,
    closest_valid_layout,
    format_layout,
    is_media_variant,
    mig_parted_config,
    mig_parted_config_name,
    mig_product_label,
    place_layout,
    resource_names,
    stock_configs,
    valid_layouts,
)
from llmkube.profiles import GPUProfile, MigSpec, ProfileStore
from tests.support.crds import UPSTREAM_CRDS

MIG_PARTED_EXAMPLE = UPSTREAM_CRDS / "nvidia-examples" / "mig-parted_examples_config.yaml"
OPERATOR_DEFAULT = UPSTREAM_CRDS / "nvidia-examples" / "gpu-operator_default-mig-parted-config_configmap.yaml"

STORE = ProfileStore.load()
GPUS = STORE.gpus
MIG_GPUS = sorted(n for n, g in GPUS.items() if g.spec.mig is not None)
SEVEN_SLICE = sorted(n for n in MIG_GPUS if GPUS[n].spec.mig.compute_slices == 7)


def pairs(placement: Placement) -> list[tuple[str, int]]:
    """(profile, start) per instance — the `nvidia-smi mig -cgi name:start` view."""
    return [(i.profile, i.start) for i in placement.instances]


def mig_of(gpu: str) -> MigSpec:
    spec = GPUS[gpu].spec.mig
    assert spec is not None
    return spec


# ---- generic names (facts §1.4) ---------------------------------------------

# facts §1.4: "1g" = profile 19, "1g*" = the double-memory 1g (profile 15), 2g/3g/4g/7g as usual.
# Written out for the two GPUs the spot checks are pinned to; note that "1g.10gb" is
# the plain 1g on H100 but the double-memory 1g* on A100-40GB.
GENERIC = {
    "h100-80gb": {"1g": "1g.10gb", "1g*": "1g.20gb", "2g": "2g.20gb", "3g": "3g.40gb", "4g": "4g.40gb", "7g": "7g.80gb"},
    "a100-40gb": {"1g": "1g.5gb", "1g*": "1g.10gb", "2g": "2g.10gb", "3g": "3g.20gb", "4g": "4g.20gb", "7g": "7g.40gb"},
}
# The same classes by shape (compute slices, memory slots), for every 7-slice GPU.
GENERIC_SHAPES = {"1g": (1, 1), "1g*": (1, 2), "2g": (2, 2), "3g": (3, 4), "4g": (4, 4), "7g": (7, 8)}


def generic_by_shape(gpu: str) -> dict[str, str]:
    out = {}
    for generic, shape in GENERIC_SHAPES.items():
        (name,) = [
            p.name for p in mig_of(gpu).profiles
            if (p.compute_slices, p.memory_slots) == shape and not is_media_variant(p.name)
        ]
        out[generic] = name
    return out


def concrete(gpu: str, generic: Mapping[str, int]) -> dict[str, int]:
    names = GENERIC.get(gpu) or generic_by_shape(gpu)
    return {names[g]: n for g, n in generic.items()}


# facts §1.4 spot-check table (7-slice GPUs): mix → valid?
SPOT_CHECKS: list[tuple[dict[str, int], bool]] = [
    ({"7g": 1}, True),
    ({"4g": 1, "3g": 1}, True),
    ({"3g": 2}, True),
    ({"3g": 1, "2g": 2}, True),
    ({"3g": 1, "2g": 1, "1g": 1}, True),
    ({"3g": 1, "2g": 1, "1g": 2}, True),
    ({"4g": 1, "2g": 1, "1g": 1}, True),
    ({"4g": 1, "1g": 3}, True),
    ({"2g": 3, "1g": 1}, True),
    ({"1g": 7}, True),
    ({"1g*": 4}, True),
    ({"1g": 6, "1g*": 1}, True),
    ({"4g": 1, "2g": 2}, False),
    ({"4g": 1, "3g": 1, "1g": 1}, False),
    ({"3g": 2, "1g": 1}, False),
    ({"2g": 2, "3g": 1, "1g": 1}, False),
    ({"4g": 2}, False),
    # "7g + anything"
    ({"7g": 1, "1g": 1}, False),
    ({"7g": 1, "1g*": 1}, False),
    ({"7g": 1, "2g": 1}, False),
    ({"7g": 1, "3g": 1}, False),
    ({"7g": 1, "4g": 1}, False),
    ({"7g": 2}, False),
]

# facts §1.4: the 17 multisets that use all 7 compute slices.
FULL_COMPUTE: list[dict[str, int]] = [
    {"7g": 1},
    {"4g": 1, "3g": 1},
    {"4g": 1, "2g": 1, "1g": 1},
    {"4g": 1, "2g": 1, "1g*": 1},
    {"4g": 1, "1g": 3},
    {"4g": 1, "1g": 2, "1g*": 1},
    {"3g": 1, "2g": 2},
    {"3g": 1, "2g": 1, "1g": 2},
    {"3g": 1, "1g": 4},
    {"2g": 3, "1g": 1},
    {"2g": 3, "1g*": 1},
    {"2g": 2, "1g": 3},
    {"2g": 2, "1g": 2, "1g*": 1},
    {"2g": 1, "1g": 5},
    {"2g": 1, "1g": 4, "1g*": 1},
    {"1g": 7},
    {"1g": 6, "1g*": 1},
]


# ---- an independent checker and brute force ------------------------------------


def assert_valid_placement(mig: MigSpec, layout: Mapping[str, int], placement: Placement) -> None:
    """§1.1 rule, checked from scratch on a returned placement."""
    profiles = {p.name: p for p in mig.profiles}
    assert Counter(name for name, _ in pairs(placement)) == Counter({n: c for n, c in layout.items() if c})
    used: set[int] = set()
    for name, start in pairs(placement):
        p = profiles[name]
        assert start in p.placements, f"{name} at {start} is not an allowed start"
        slots = set(range(start, start + p.memory_slots))
        assert slots <= set(range(mig.memory_slots)), f"{name}@{start} runs off the slot axis"
        assert not slots & used, f"{name}@{start} overlaps"
        used |= slots
    assert sum(profiles[n].compute_slices for n, _ in pairs(placement)) <= mig.compute_slices
    assert sum(1 for n, _ in pairs(placement) if "+me" in n) <= 1
    for name, count in Counter(n for n, _ in pairs(placement)).items():
        assert count <= profiles[name].max_count


def brute_force_placeable(mig: MigSpec, layout: Mapping[str, int]) -> bool:
    """Try every set of distinct starts per profile (instances of one profile are interchangeable)."""
    profiles = {p.name: p for p in mig.profiles}
    layout = {n: c for n, c in layout.items() if c}
    if any(c > profiles[n].max_count for n, c in layout.items()):
        return False
    if sum(c for n, c in layout.items() if "+me" in n) > 1:
        return False
    if sum(profiles[n].compute_slices * c for n, c in layout.items()) > mig.compute_slices:
        return False
    names = sorted(layout)
    choices = [itertools.combinations(sorted(profiles[n].placements), layout[n]) for n in names]
    for combo in itertools.product(*choices):
        used: set[int] = set()
        ok = True
        for name, starts in zip(names, combo, strict=True):
            for start in starts:
                slots = set(range(start, start + profiles[name].memory_slots))
                if slots & used or max(slots) >= mig.memory_slots:
                    ok = False
                    break
                used |= slots
            if not ok:
                break
        if ok:
            return True
    return False


# ---- §1.4 spot checks ----------------------------------------------------------


def test_generic_map_matches_profile_shapes():
    for gpu, names in GENERIC.items():
        assert generic_by_shape(gpu) == names


@pytest.mark.parametrize("gpu", ["h100-80gb", "a100-40gb"])
@pytest.mark.parametrize(("mix", "valid"), SPOT_CHECKS, ids=lambda v: format_layout(v) if isinstance(v, dict) else str(v))
def test_spot_checks(gpu, mix, valid):
    mig = mig_of(gpu)
    layout = concrete(gpu, mix)
    placement = place_layout(mig, layout)
    assert (placement is not None) is valid
    assert brute_force_placeable(mig, layout) is valid
    problems = check_layout(GPUS[gpu], layout)
    if valid:
        assert placement is not None
        assert_valid_placement(mig, layout, placement)
        assert problems == []
    else:
        assert len(problems) >= 1
        assert {p.code for p in problems} <= {"unplaceable", "over-max"}
        assert all(p.hint and "closest valid layout" in p.hint for p in problems)


@pytest.mark.parametrize("gpu", SEVEN_SLICE)
def test_spot_checks_hold_on_every_seven_slice_gpu(gpu):
    mig = mig_of(gpu)
    for mix, valid in SPOT_CHECKS:
        assert (place_layout(mig, concrete(gpu, mix)) is not None) is valid, (gpu, mix)


def test_spot_check_geometry_from_the_facts():
    """3g + 2g + 2g only works with the 3g in the upper half (facts: 3g@4, 2g@0, 2g@2)."""
    placement = place_layout(mig_of("h100-80gb"), {"3g.40gb": 1, "2g.20gb": 2})
    assert placement is not None
    assert sorted(pairs(placement)) == [("2g.20gb", 0), ("2g.20gb", 2), ("3g.40gb", 4)]
    placement = place_layout(mig_of("h100-80gb"), {"4g.40gb": 1, "2g.20gb": 1, "1g.10gb": 1})
    assert placement is not None
    assert sorted(pairs(placement)) == [("1g.10gb", 6), ("2g.20gb", 4), ("4g.40gb", 0)]


# ---- §1.4 full-compute multisets -------------------------------------------------


@pytest.mark.parametrize("gpu", SEVEN_SLICE)
def test_seventeen_full_compute_mixes_are_placeable(gpu):
    mig = mig_of(gpu)
    for mix in FULL_COMPUTE:
        layout = concrete(gpu, mix)
        placement = place_layout(mig, layout)
        assert placement is not None, (gpu, mix)
        assert_valid_placement(mig, layout, placement)
        assert placement.compute_slices == 7


@pytest.mark.parametrize("gpu", ["h100-80gb", "a100-40gb"])
def test_full_compute_mixes_are_exactly_the_seventeen(gpu):
    """Enumerating every valid layout of base profiles finds the facts' 17 and no others."""
    base = set(GENERIC[gpu].values())
    found = {
        frozenset(layout.items())
        for layout in valid_layouts(mig_of(gpu))
        if set(layout) <= base and sum(
            p.compute_slices * layout[p.name] for p in mig_of(gpu).profiles if p.name in layout
        ) == 7
    }
    expected = {frozenset(concrete(gpu, mix).items()) for mix in FULL_COMPUTE}
    assert len(expected) == 17
    assert found == expected


def test_three_plus_three_leaves_a_slice_idle():
    placement = place_layout(mig_of("h100-80gb"), {"3g.40gb": 2})
    assert placement is not None and placement.compute_slices == 6 and placement.memory_slots == 8


# ---- A30 (4 slices) ----------------------------------------------------------------

A30_VALID = [
    {"4g.24gb": 1},
    {"2g.12gb": 2},
    {"2g.12gb": 1, "1g.6gb": 2},
    {"1g.6gb": 4},
    # `+me` variants, at most one
    {"2g.12gb+me": 1, "2g.12gb": 1},
    {"2g.12gb+me": 1, "1g.6gb": 2},
    {"2g.12gb": 1, "1g.6gb+me": 1, "1g.6gb": 1},
    {"1g.6gb+me": 1, "1g.6gb": 3},
]
A30_INVALID = [
    {"4g.24gb": 1, "1g.6gb": 1},
    {"2g.12gb": 2, "1g.6gb": 1},
    {"2g.12gb": 3},
    {"1g.6gb": 5},
    {"2g.12gb+me": 1, "1g.6gb+me": 1},
    {"1g.6gb+me": 2},
    {"2g.12gb+me": 2},
]


@pytest.mark.parametrize("layout", A30_VALID, ids=format_layout)
def test_a30_valid(layout):
    mig = mig_of("a30-24gb")
    placement = place_layout(mig, layout)
    assert placement is not None
    assert_valid_placement(mig, layout, placement)
    assert check_layout(GPUS["a30-24gb"], layout) == []


@pytest.mark.parametrize("layout", A30_INVALID, ids=format_layout)
def test_a30_invalid(layout):
    mig = mig_of("a30-24gb")
    assert place_layout(mig, layout) is None
    assert not brute_force_placeable(mig, layout)
    assert check_layout(GPUS["a30-24gb"], layout) != []


def test_a30_full_compute_mixes():
    """facts §1.4: 4g · 2g+2g · 2g+1g+1g · 1g×4 (base profiles)."""
    found = {
        frozenset(layout.items())
        for layout in valid_layouts(mig_of("a30-24gb"))
        if not any("+" in n for n in layout)
        and sum({"1g.6gb": 1, "2g.12gb": 2, "4g.24gb": 4}[n] * c for n, c in layout.items()) == 4
    }
    assert found == {
        frozenset({"4g.24gb": 1}.items()),
        frozenset({"2g.12gb": 2}.items()),
        frozenset({"2g.12gb": 1, "1g.6gb": 2}.items()),
        frozenset({"1g.6gb": 4}.items()),
    }


# ---- +me, max counts, names ----------------------------------------------------------


def test_media_engines_at_most_once_across_profiles():
    problems = check_layout(GPUS["a30-24gb"], {"2g.12gb+me": 1, "1g.6gb+me": 1})
    assert [p.code for p in problems] == ["media-engines"]
    assert "2g.12gb+me" in problems[0].message and "1g.6gb+me" in problems[0].message
    # the hint's layout is valid and keeps one +me
    alt = closest_valid_layout(mig_of("a30-24gb"), {"2g.12gb+me": 1, "1g.6gb+me": 1})
    assert alt is not None
    assert sum(c for n, c in alt.layout.items() if "+me" in n) == 1
    assert place_layout(mig_of("a30-24gb"), alt.layout) is not None


def test_media_engines_rule_is_independent_of_max_count():
    """Even a profile table that allowed several +me instances gets only one per GPU."""
    mig = MigSpec.model_validate({
        "computeSlices": 7, "memorySlots": 8,
        "profiles": [{"name": "1g.10gb+me", "memorySlots": 1, "computeSlices": 1, "memoryGiB": 9.75,
                      "maxCount": 7, "placements": [0, 1, 2, 3, 4, 5, 6]}],
    })
    assert place_layout(mig, {"1g.10gb+me": 1}) is not None
    assert place_layout(mig, {"1g.10gb+me": 2}) is None


def test_media_variant_names():
    assert is_media_variant("1g.10gb+me")
    assert is_media_variant("2g.48gb+me.all")
    assert not is_media_variant("1g.24gb-me")
    assert not is_media_variant("1g.24gb+gfx")
    assert not is_media_variant("1g.10gb")


def test_count_above_max():
    gpu = GPUS["h100-80gb"]
    assert place_layout(gpu.spec.mig, {"3g.40gb": 3}) is None
    problems = check_layout(gpu, {"3g.40gb": 3})
    assert [p.code for p in problems] == ["over-max"]
    assert "maximum of 2" in problems[0].message
    assert "closest valid layout: 2×3g.40gb" in problems[0].hint
    # two +me of one profile is a count problem, reported once
    problems = check_layout(gpu, {"1g.10gb+me": 2})
    assert [p.code for p in problems] == ["over-max"]
    assert "1g.10gb+me + 1g.10gb" in problems[0].hint


def test_unknown_profile_names_the_gpu_it_belongs_to():
    problems = check_layout(GPUS["h200-141gb"], {"3g.40gb": 1}, known_gpus=GPUS.values())
    assert [p.code for p in problems] == ["unknown-profile"]
    hint = problems[0].hint
    assert "3g.40gb is a profile of" in hint
    assert "h100-80gb" in hint and "a100-80gb" in hint and "h200-141gb" not in hint.split(";")[0]
    assert "on h200-141gb the 3-slice profile is 3g.71gb" in hint
    with pytest.raises(ValueError, match="unknown MIG profile"):
        place_layout(mig_of("h200-141gb"), {"3g.40gb": 1})


def test_unknown_profile_keeps_memory_class_across_gpus():
    """1g.20gb is H100's double-memory 1g; H200's is 1g.35gb, not its plain 1g.18gb."""
    (problem,) = check_layout(GPUS["h200-141gb"], {"1g.20gb": 1}, known_gpus=GPUS.values())
    assert "the 1-slice profile is 1g.35gb" in problem.hint


def test_unknown_profile_without_other_gpus():
    # drifted driver name (facts §1.3: 3g.39gb on some drivers)
    (problem,) = check_layout(GPUS["a100-80gb"], {"3g.39gb": 1})
    assert "3g.40gb" in problem.hint
    (problem,) = check_layout(GPUS["h100-80gb"], {"3g.40gbb": 1})
    assert "did you mean '3g.40gb'" in problem.hint
    (problem,) = check_layout(GPUS["h100-80gb"], {"bogus": 1})
    assert "h100-80gb profiles: 1g.10gb" in problem.hint


def test_no_mig_gpu():
    problems = check_layout(GPUS["l4"], {"1g.10gb": 1}, known_gpus=GPUS.values())
    assert [p.code for p in problems] == ["no-mig"]
    assert "time-slicing" in problems[0].hint and "h100-80gb" in problems[0].hint


@pytest.mark.parametrize("layout", [{}, {"3g.40gb": 0}])
def test_empty_layout(layout):
    problems = check_layout(GPUS["h100-80gb"], layout)
    assert [p.code for p in problems] == ["empty-layout"]
    assert "3g.40gb + 2g.20gb + 2×1g.10gb" in problems[0].hint


def test_negative_count():
    problems = check_layout(GPUS["h100-80gb"], {"3g.40gb": -1})
    assert [p.code for p in problems] == ["negative-count"]


def test_unplaceable_message_names_the_mix_and_reason():
    (problem,) = check_layout(GPUS["h100-80gb"], {"4g.40gb": 1, "2g.20gb": 2})
    assert problem.code == "unplaceable"
    assert "4g.40gb + 2×2g.20gb" in problem.message
    assert "8 compute slices" in problem.message
    (problem,) = check_layout(GPUS["h100-80gb"], {"3g.40gb": 2, "1g.10gb": 1})
    assert "9 memory slots" in problem.message
    # On the real 7-slice tables every mix that fits by slot and compute totals is placeable
    # (checked by enumeration below); a made-up table shows the geometric case.
    base = GPUS["h100-80gb"]
    made_up = MigSpec.model_validate({
        "computeSlices": 7, "memorySlots": 8,
        "profiles": [
            {"name": "3g.40gb", "memorySlots": 4, "computeSlices": 3, "memoryGiB": 39.5, "maxCount": 1, "placements": [0]},
            {"name": "2g.20gb", "memorySlots": 2, "computeSlices": 2, "memoryGiB": 19.6, "maxCount": 2, "placements": [0, 2]},
        ],
    })
    gpu = base.model_copy(update={"spec": base.spec.model_copy(update={"mig": made_up})})
    (problem,) = check_layout(gpu, {"3g.40gb": 1, "2g.20gb": 1})
    assert problem.code == "unplaceable"
    assert "overlap" in problem.message and "3g.40gb at 0" in problem.message


@pytest.mark.parametrize("gpu", MIG_GPUS)
def test_totals_decide_on_real_tables(gpu):
    """With the real placement tables, fitting the slot and compute totals is enough."""
    mig = mig_of(gpu)
    profiles = {p.name: p for p in mig.profiles}
    valid = {frozenset(v.items()) for v in valid_layouts(mig)}
    names = sorted(profiles)
    for counts in itertools.product(*[range(profiles[n].max_count + 1) for n in names]):
        layout = {n: c for n, c in zip(names, counts, strict=True) if c}
        fits = (
            layout
            and sum(profiles[n].compute_slices * c for n, c in layout.items()) <= mig.compute_slices
            and sum(profiles[n].memory_slots * c for n, c in layout.items()) <= mig.memory_slots
            and sum(c for n, c in layout.items() if "+me" in n) <= 1
        )
        assert bool(fits) is (frozenset(layout.items()) in valid), layout


# ---- the alternative-suggestion rule ---------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        # one shrink reaches 7 slices; of 3g+2g+2g and 4g+2g+1g*, the one keeping the 4g wins
        ({"4g.40gb": 1, "2g.20gb": 2}, {"4g.40gb": 1, "2g.20gb": 1, "1g.20gb": 1}),
        ({"4g.40gb": 2}, {"4g.40gb": 1, "3g.40gb": 1}),
        ({"7g.80gb": 1, "1g.10gb": 1}, {"7g.80gb": 1}),
        # dropping the 1g keeps 7 slices in two instances; shrinking the 3g keeps three
        ({"4g.40gb": 1, "3g.40gb": 1, "1g.10gb": 1}, {"4g.40gb": 1, "2g.20gb": 1, "1g.10gb": 1}),
        # 6 slices either way; keeping three instances beats keeping two
        ({"3g.40gb": 2, "1g.10gb": 1}, {"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 1}),
        ({"3g.40gb": 3}, {"3g.40gb": 2}),
        ({"1g.10gb": 50}, {"1g.10gb": 7}),
        ({"1g.10gb+me": 2}, {"1g.10gb+me": 1, "1g.10gb": 1}),
    ],
    ids=format_layout,
)
def test_closest_valid_layout(layout, expected):
    alt = closest_valid_layout(mig_of("h100-80gb"), layout)
    assert alt is not None
    assert alt.layout == expected
    assert_valid_placement(mig_of("h100-80gb"), alt.layout, alt.placement)
    assert alt.edits


def test_closest_valid_layout_is_none_for_valid_input():
    assert closest_valid_layout(mig_of("h100-80gb"), {"3g.40gb": 2}) is None


def test_hint_shows_the_alternative():
    (problem,) = check_layout(GPUS["h100-80gb"], {"4g.40gb": 1, "2g.20gb": 2})
    assert problem.hint == (
        "closest valid layout: 4g.40gb + 2g.20gb + 1g.20gb "
        "(shrink one 2g.20gb to 1g.20gb; uses 7 of 7 compute slices)"
    )


def test_placement_is_deterministic_and_order_independent():
    mig = mig_of("h100-80gb")
    a = place_layout(mig, {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1})
    b = place_layout(mig, {"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2})
    assert a == b and a is not None
    assert pairs(a)[0][0] == "3g.40gb"  # larger instances are placed first


# ---- strategies, resources, labels -------------------------------------------------------


def test_resource_names_mixed():
    assert resource_names({"3g.40gb": 1, "2g.20gb": 1, "1g.10gb+me": 1, "1g.10gb": 0}, "mixed") == {
        "nvidia.com/mig-1g.10gb.me": 1,
        "nvidia.com/mig-2g.20gb": 1,
        "nvidia.com/mig-3g.40gb": 1,
    }


def test_resource_names_single():
    assert resource_names({"1g.10gb": 7}, "single") == {"nvidia.com/gpu": 7}
    assert check_strategy({"1g.10gb": 7}, "single") == []


def test_single_strategy_needs_one_profile():
    with pytest.raises(LayoutError) as err:
        resource_names({"3g.40gb": 1, "2g.20gb": 2}, "single")
    problem = err.value.problem
    assert problem.code == "strategy"
    assert "got 3g.40gb and 2g.20gb — use mixed" in problem.message
    assert check_strategy({"3g.40gb": 1, "2g.20gb": 2}, "mixed") == []
    assert [p.code for p in check_strategy({}, "single")] == ["strategy"]
    with pytest.raises(ValueError):
        check_strategy({"1g.10gb": 1}, "none")  # type: ignore[arg-type]


def test_mig_product_label():
    assert mig_product_label("NVIDIA-H100-80GB-HBM3", "1g.10gb") == "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb"
    assert mig_product_label("NVIDIA-A100-SXM4-80GB", "3g.40gb") == "NVIDIA-A100-SXM4-80GB-MIG-3g.40gb"
    assert mig_product_label("NVIDIA-H100-80GB-HBM3", "1g.10gb+me") == "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb.me"


LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def test_mig_parted_config_name():
    assert mig_parted_config_name("h100-split") == "llmkube-h100-split"
    long_a, long_b = "a" * 62 + "x", "a" * 62 + "y"
    name_a, name_b = mig_parted_config_name(long_a), mig_parted_config_name(long_b)
    assert len(name_a) <= 63 and LABEL_VALUE.match(name_a)
    assert name_a != name_b
    assert name_a == mig_parted_config_name(long_a)


# ---- mig-parted document ----------------------------------------------------------------------


def _shape(node):
    """Structure without values: dict → {key: shape}, list → [shapes], scalar → type name."""
    if isinstance(node, Mapping):
        return {str(k): _shape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return type(node).__name__


def test_mig_parted_config_matches_upstream_shape(upstream_crds):
    upstream = YAML(typ="safe").load(MIG_PARTED_EXAMPLE.read_text())
    ours = mig_parted_config({
        "llmkube-h100-split": {"3g.40gb": 1, "2g.20gb": 2},
        "llmkube-a100-small": {"1g.5gb": 7},
    })
    assert set(ours) == set(upstream) == {"version", "mig-configs"}
    assert ours["version"] == upstream["version"] == "v1"
    # MIG off: same entry shape and values as upstream's all-disabled
    assert ours["mig-configs"]["all-disabled"] == upstream["mig-configs"]["all-disabled"]
    # an enabled layout: same shape as upstream's all-balanced (devices: all, profile → int)
    balanced = _shape(upstream["mig-configs"]["all-balanced"])
    for name in ("llmkube-h100-split", "llmkube-a100-small"):
        entry = ours["mig-configs"][name]
        assert len(entry) == 1
        assert set(entry[0]) == set(upstream["mig-configs"]["all-balanced"][0])
        assert {k: v for k, v in _shape(entry)[0].items() if k != "mig-devices"} == {
            k: v for k, v in balanced[0].items() if k != "mig-devices"
        }
        assert set(_shape(entry[0]["mig-devices"]).values()) == set(balanced[0]["mig-devices"].values()) == {"int"}
    assert ours["mig-configs"]["llmkube-h100-split"][0]["mig-devices"] == {"2g.20gb": 2, "3g.40gb": 1}
    # every upstream entry key we emit is one upstream uses
    upstream_keys = {k for entries in upstream["mig-configs"].values() for e in entries for k in e}
    assert {k for entries in ours["mig-configs"].values() for e in entries for k in e} <= upstream_keys


def test_mig_parted_config_round_trips_and_is_stable():
    import io

    doc = mig_parted_config({"b": {"1g.10gb": 7}, "a": {"3g.40gb": 2, "1g.10gb": 0}})
    assert list(doc["mig-configs"]) == ["all-disabled", "a", "b"]
    assert doc["mig-configs"]["a"][0]["mig-devices"] == {"3g.40gb": 2}
    again = mig_parted_config({"a": {"1g.10gb": 0, "3g.40gb": 2}, "b": {"1g.10gb": 7}})
    assert doc == again
    yaml = YAML(typ="safe")
    buf = io.StringIO()
    yaml.dump(doc, buf)
    assert yaml.load(buf.getvalue()) == doc


def _upstream_layout(entries: list, pci: str) -> dict | None:
    """The mig-devices the operator's default config gives a GPU with this PCI id (None: not offered)."""
    for e in entries:
        if "device-filter" not in e or pci.lower() in {d.lower() for d in e["device-filter"]}:
            return e.get("mig-devices")
    return None


@pytest.mark.parametrize("gpu", ["h100-80gb", "a100-80gb", "a100-40gb", "h200-141gb"])
def test_stock_configs_match_the_operators_default_for_the_gpu(upstream_crds, gpu):
    # a custom mig-parted ConfigMap replaces the operator's default: the stock names must stay
    cm = YAML(typ="safe").load(OPERATOR_DEFAULT.read_text())
    upstream = YAML(typ="safe").load(cm["data"]["config.yaml"])["mig-configs"]
    profile = STORE.gpus[gpu]
    (pci,) = profile.spec.pci_device_ids
    ours = stock_configs([profile])
    assert {"all-disabled", "all-enabled", "all-balanced"} <= set(ours)
    names = {p.name for p in profile.spec.mig.profiles}
    # the entries upstream gives this GPU (its device id, or unfiltered ones in its profiles)
    offered = {name for name, entries in upstream.items()
               if (layout := _upstream_layout(entries, pci)) is not None and set(layout) <= names}
    assert offered <= set(ours), f"missing stock configs for {gpu}: {offered - set(ours)}"
    for name in offered:
        (entry,) = ours[name]
        assert "device-filter" not in entry  # one GPU type: as mig-manager generates it
        assert entry.get("mig-devices", None) == _upstream_layout(upstream[name], pci) or (
            name == "all-disabled" and entry == upstream[name][0]), name


def test_stock_configs_filter_by_device_when_the_pools_mix_gpus():
    configs = stock_configs([STORE.gpus["h100-80gb"], STORE.gpus["a100-40gb"]])
    entries = configs["all-1g.10gb"]  # 7 per H100, 4 per A100-40GB (the double-memory 1g)
    assert {tuple(e["device-filter"]): e["mig-devices"]["1g.10gb"] for e in entries} == {
        ("0x233010DE",): 7, ("0x20B010DE",): 4}
    assert configs["all-1g.5gb"] == [{"device-filter": ["0x20B010DE"], "devices": "all", "mig-enabled": True,
                                     "mig-devices": {"1g.5gb": 7}}]
    assert "device-filter" not in configs["all-disabled"][0]


def test_mig_parted_config_rejects_reserved_and_bad_names():
    with pytest.raises(ValueError, match="reserved"):
        mig_parted_config({"all-disabled": {"1g.10gb": 1}})
    with pytest.raises(ValueError, match="reserved"):
        mig_parted_config({"all-1g.10gb": {"1g.10gb": 1}})
    with pytest.raises(ValueError, match="label value"):
        mig_parted_config({"bad name": {"1g.10gb": 1}})


# ---- properties -------------------------------------------------------------------------------


@st.composite
def gpu_and_layout(draw):
    gpu = draw(st.sampled_from(MIG_GPUS))
    mig = mig_of(gpu)
    layout = {}
    for p in mig.profiles:
        if draw(st.booleans()):
            layout[p.name] = draw(st.integers(min_value=0, max_value=p.max_count + 1))
    return gpu, layout


@settings(max_examples=300, deadline=None)
@given(gpu_and_layout())
def test_property_placements_are_valid_and_rejections_are_real(case):
    gpu, layout = case
    mig = mig_of(gpu)
    placement = place_layout(mig, layout)
    if placement is not None:
        assert_valid_placement(mig, layout, placement)
        assert brute_force_placeable(mig, layout)
    else:
        assert not brute_force_placeable(mig, layout)
    problems = check_layout(GPUS[gpu], layout)
    if any(layout.values()):
        assert (problems == []) is (placement is not None)
    if placement is None and any(layout.values()):
        alt = closest_valid_layout(mig, layout)
        assert alt is not None
        assert_valid_placement(mig, alt.layout, alt.placement)
        assert brute_force_placeable(mig, alt.layout)
        assert sum(alt.layout.values()) <= sum(layout.values())


@pytest.mark.parametrize("gpu", MIG_GPUS)
def test_valid_layouts_agree_with_brute_force(gpu):
    mig = mig_of(gpu)
    layouts = valid_layouts(mig)
    assert layouts
    for layout in layouts:
        assert brute_force_placeable(mig, layout), layout


def test_gpu_profile_type_is_what_check_layout_takes():
    assert isinstance(GPUS["h100-80gb"], GPUProfile)


def test_compute_limit_is_enforced_apart_from_geometry():
    """On real tables slot geometry alone already caps compute; a made-up table whose
    1g may also start at slot 7 shows the compute rule on its own (8 × 1g > 7 slices)."""
    mig = MigSpec.model_validate({
        "computeSlices": 7, "memorySlots": 8,
        "profiles": [{"name": "1g.10gb", "memorySlots": 1, "computeSlices": 1, "memoryGiB": 9.75,
                      "maxCount": 8, "placements": list(range(8))}],
    })
    assert place_layout(mig, {"1g.10gb": 7}) is not None
    assert place_layout(mig, {"1g.10gb": 8}) is None
