"""Two versions of a file side by side: a unified diff of their text (difflib, capped), or
for binaries and files too large to diff, their sizes and content hashes."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from explorer.core.pager import looks_binary

DIFF_BYTES = 2 << 20  # bytes of each version read for a text diff at most
DIFF_LINES = 10_000  # diff lines shown at most

Line = tuple[str, str]  # (text, style: "added", "removed", "hunk", "guide" or "")


def summary(old: tuple[str, int, int], new: tuple[str, int, int], why: str) -> list[Line]:
    """Lines for two versions that are not diffed: (label, size, xxh3 hash) each."""
    lines: list[Line] = [(why, "guide"), ("", "")]
    for (label, size, digest), style in ((old, "removed"), (new, "added")):
        lines.append((f"{label}: {size:,} bytes, xxh3-64 {digest:016x}", style))
    same = old[1:] == new[1:]
    lines += [("", ""), ("same content" if same else "the contents differ", "guide")]
    return lines


def text_diff(
    old: bytes, new: bytes, old_label: str, new_label: str, limit: int = DIFF_LINES
) -> list[Line]:
    """A unified diff of two texts (decoded as UTF-8, undecodable bytes kept escaped)."""
    a = old.decode("utf-8", "surrogateescape").splitlines()
    b = new.decode("utf-8", "surrogateescape").splitlines()
    out: list[Line] = []
    for line in difflib.unified_diff(a, b, old_label, new_label, lineterm=""):
        if len(out) >= limit:
            out.append((f"… the diff goes on (shown: its first {limit:,} lines)", "guide"))
            break
        if line.startswith(("+++", "---")):
            style = "guide"
        elif line.startswith("@@"):
            style = "hunk"
        else:
            style = {"+": "added", "-": "removed"}.get(line[:1], "")
        out.append((line, style))
    return out or [("no difference in the text", "guide")]


def diff_versions(
    read_old: Callable[[int], bytes],
    read_new: Callable[[int], bytes],
    old: tuple[str, int, int],
    new: tuple[str, int, int],
) -> list[Line]:
    """The diff of two versions, each (label, size, xxh3 hash); `read_*(n)` reads the first
    n bytes of a version (in a worker)."""
    if max(old[1], new[1]) > DIFF_BYTES:
        return summary(old, new, f"too large to diff (over {DIFF_BYTES >> 20} MiB)")
    a, b = read_old(DIFF_BYTES), read_new(DIFF_BYTES)
    if looks_binary(a[:8192]) or looks_binary(b[:8192]):
        return summary(old, new, "binary content")
    return text_diff(a, b, old[0], new[0])
