"""Make text from an image safe to show: names, link targets and commands are hostile.

Control characters (C0, DEL, C1) become visible escapes, undecodable bytes show as `\\xNN`.
Markup is not this module's business: the TUI renders these strings as plain `Text`, never
as markup.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if ch == "\t":
        return "\\t"
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def safe(text: str) -> str:
    """`text` with every control or bidi character replaced by a visible escape."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def safe_lines(text: str) -> str:
    """`safe`, but newlines and tabs kept: a file's text shown on a terminal, line by line."""
    return _UNSAFE.sub(lambda m: m.group() if m.group() in "\n\t" else _escape(m), text)
