"""One line of output per message, whatever the values in it contain.

A value in a message (a pool name, a label, an object name, a path) may carry
a newline, another line break (U+2028, U+0085 …) or a terminal control
character. Written raw it would start a line of its own -- and could forge an
`llmkube: error:` line, or a `::error` workflow command in a CI log. Such
characters are shown as backslash escapes instead.
"""

from __future__ import annotations

from llmkube.lazyre import lazy

# Characters a terminal, a CI log or a line-splitting reader may treat as a line break or control.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_BREAKS = {"\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"}
#: Every character `_escape` changes but the backslash: one C scan answers for most texts.
_ESCAPED = lazy("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(c: str) -> str:
    if c in _NAMED:
        return _NAMED[c]
    code = ord(c)
    if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or c in _BREAKS:
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return c


def one_line(text: str) -> str:
    """`text` with line breaks and control characters escaped, so it prints as one line.

    Backslashes are doubled only when something else needed escaping, so an
    ordinary Windows path reads as itself.
    """
    if not _ESCAPED().search(text):
        return text
    return "".join(_escape(c) for c in text)
