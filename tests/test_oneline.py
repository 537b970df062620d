"""`one_line`'s quick check (one regex scan) finds exactly the characters `_escape` would change."""

from __future__ import annotations

import sys

from llmkube import oneline


def test_the_quick_check_matches_the_escape_of_every_code_point():
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        assert (oneline._ESCAPED().search(c) is not None) == (c != "\\" and oneline._escape(c) != c), hex(code)


def test_plain_text_and_backslashes_stay_as_they_are():
    assert oneline.one_line("C:\\work\\x.yaml") == "C:\\work\\x.yaml"
    assert oneline.one_line("a\\b\nc\u2028") == "a\\\\b\\nc\\u2028"
