"""Suggestions for mistyped names: the profile a person meant, not the nearest string."""

from __future__ import annotations

import difflib

import pytest

from llmkube.suggest import nearest


@pytest.fixture(scope="module")
def profiles():
    from llmkube.profiles import ProfileStore

    return ProfileStore.load(())


def test_case_and_prefix_win_over_edit_distance():
    names = ["a10g", "a10", "h100-80gb", "h100-nvl-94gb", "h100-pcie-80gb"]
    # What plain difflib (the old hint) picks: a short, wrong name.
    assert difflib.get_close_matches("H100", names, n=1, cutoff=0.5) != ["h100-80gb"]
    assert nearest("H100", names) == ["h100-80gb", "h100-nvl-94gb", "h100-pcie-80gb"]
    assert nearest("A10G", names)[0] == "a10g"
    assert nearest("h100pcie", names)[0] == "h100-pcie-80gb"


def test_aliases_point_at_their_name_and_names_come_first():
    names = ["h100-80gb", "h100-nvl-94gb"]
    aliases = {"H100-NVL": "h100-nvl-94gb", "NVIDIA-H100-80GB-HBM3": "h100-80gb"}
    assert nearest("h100", names, aliases) == ["h100-80gb", "h100-nvl-94gb"]
    assert nearest("nvidia-h100-80gb-hbm3", names, aliases)[0] == "h100-80gb"
    assert nearest("zzzz", names, aliases) == []


def test_gpu_h100_suggests_h100_80gb_and_lists_the_nearest(profiles):
    hint = profiles.suggest_gpu("H100")
    assert hint.startswith("did you mean 'h100-80gb'?")
    nearest_listed = hint.split("nearest: ", 1)[1].split(";", 1)[0].split(", ")
    assert nearest_listed[0] == "h100-80gb" and len(nearest_listed) == 3
    assert all(n.startswith("h100") and n in profiles.gpus for n in nearest_listed)
    assert "a10g" not in hint


@pytest.mark.parametrize("key", ["h100-80gb", "h200-141gb", "l40s"])
def test_product_label_and_display_name_find_their_profile(profiles, key):
    spec = profiles.gpus[key].spec
    for typed in (spec.product, spec.display_name, spec.product.removeprefix("NVIDIA-")):
        assert profiles.suggest_gpu(typed).startswith(f"did you mean {key!r}?"), typed


def test_a_mistyped_hugging_face_id_suggests_its_profile(profiles):
    assert profiles.suggest_model("meta-llama/Llama-3.1-8B-Instruc").startswith("did you mean 'llama-3.1-8b'?")


def test_letters_typed_for_digits_find_the_code():
    # difflib alone scores LK212 and LK201 alike against LK2O1 and puts LK212 first
    codes = ["LK201", "LK210", "LK211", "LK212"]
    assert nearest("LK2O1", codes)[0] == "LK201"
    assert nearest("lk2l2", codes)[0] == "LK212"
