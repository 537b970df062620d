"""The one quantity parser: the API server's grammar, exact values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from llmkube.quantity import add, format_bytes, human_bytes, parse_quantity, quantity_value, to_bytes


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", Decimal(0)),
        ("96", Decimal(96)),
        ("+8", Decimal(8)),
        ("-8", Decimal(-8)),
        ("500m", Decimal("0.5")),
        ("1n", Decimal("1e-9")),
        ("3u", Decimal("3e-6")),
        ("2k", Decimal(2000)),
        ("1M", Decimal(10**6)),
        ("1G", Decimal(10**9)),
        ("1T", Decimal(10**12)),
        ("1P", Decimal(10**15)),
        ("1E", Decimal(10**18)),  # E alone is exa …
        ("1E3", Decimal(1000)),  # … E with digits an exponent
        ("1e3", Decimal(1000)),
        ("1e+3", Decimal(1000)),
        ("15e-1", Decimal("1.5")),
        ("1Ki", Decimal(1024)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("16Gi", Decimal(16 * 2**30)),
        ("1Ei", Decimal(2**60)),
        ("1.", Decimal(1)),  # the API server takes a trailing dot
        (".5", Decimal("0.5")),
        ("-.5Ki", Decimal(-512)),
        ("0.000000001", Decimal("1e-9")),
        # exact beyond float and beyond Decimal's default 28 digits
        ("123456789012345678901234567890Ei", Decimal(123456789012345678901234567890 * 2**60)),
        ("0.1Ki", Decimal("102.4")),
    ],
)
def test_parses_the_api_server_grammar_exactly(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    ["", " 1", "1 ", "1\n", "+", "-", ".", "1K", "1ki", "1Gb", "1i", "1e", "1e1.5", "1e3Ki", "1Ki3", "1.5.5",
     "--1", "0x10", "1,5", "inf", "NaN", "1_000", "١"],
)
def test_rejects_what_the_api_server_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_manifest_values() -> None:
    assert quantity_value(8) == 8
    assert quantity_value(1.5) == Decimal("1.5")
    assert quantity_value("64Gi") == 64 * 2**30
    assert quantity_value(True) is None
    assert quantity_value(None) is None
    assert quantity_value("lots") is None
    assert quantity_value(float("inf")) is None
    assert quantity_value([1]) is None


def test_bytes_helpers() -> None:
    assert to_bytes("1500Gi") == 1500 * 2**30
    assert to_bytes(96) == 96
    assert to_bytes("500m") == 0  # fractions of a byte are dropped
    with pytest.raises(ValueError, match="not a memory quantity: 'lots'"):
        to_bytes("lots")
    assert format_bytes(2**30) == "1Gi"
    assert format_bytes(3 * 2**29) == "1536Mi"
    assert format_bytes(1000) == "1000"
    assert add("512Gi", "64Gi") == "576Gi"
    assert add(1024, "1Ki") == "2Ki"
    assert human_bytes(Decimal(16 * 2**30)) == "16Gi"
    assert human_bytes(Decimal(int(1.5 * 2**30) + 1)) == "1.5Gi"
    assert human_bytes(Decimal(100)) == "100"
