"""A file's content for a viewer, read lazily in windows: its lines (text) or its 16-byte
rows (hex), whatever its size. A 2 GB file costs a few megabytes of memory: the
blocks on screen, a small cache of others, and one offset per 16 KiB of text.

Text is cut into blocks of about `BLOCK` bytes that start at line starts; `scan` (a worker)
finds them front to back, counting lines as it goes (a line longer than `MAX_LINE` bytes is
shown as several). A block's lines are decoded (UTF-8; undecodable bytes kept as surrogate
escapes, for `safe` to show) when first asked for. Nothing here makes text safe to show:
the viewer does.
"""

from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from pathlib import PurePosixPath

Read = Callable[[int, int], bytes]  # (offset, size) -> bytes of the file

BLOCK = 16 << 10  # bytes of text per block (a few hundred lines: coloured in tens of ms)
MAX_LINE = 4096  # bytes: a longer line is shown as several
SNIFF = 8192  # bytes looked at to tell text from binary
HEX_WIDTH = 16  # bytes per hex row
PAGE = 64 << 10  # bytes of a hex page (4,096 rows)
KEEP = 16  # blocks or pages kept decoded


def looks_binary(head: bytes) -> bool:
    """Binary: a NUL byte, or bytes that are not UTF-8 (a character cut at the end of the
    sample is fine)."""
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3
    return False


# Interpreters named on a `#!` line, by what Pygments calls their language.
_SHEBANG = {
    "sh": "bash", "bash": "bash", "dash": "bash", "ash": "bash", "zsh": "bash",
    "ksh": "bash", "busybox": "bash", "python": "python", "node": "javascript",
    "nodejs": "javascript", "perl": "perl", "ruby": "ruby", "php": "php", "lua": "lua",
    "tclsh": "tcl", "awk": "awk", "gawk": "awk", "make": "make",
}  # fmt: skip


def language_of(path: str, head: bytes) -> str | None:
    """The Pygments language of a file: from its name or extension, else its `#!` line."""
    from pygments.lexers import find_lexer_class_for_filename  # type: ignore[import-untyped]
    from pygments.util import ClassNotFound  # type: ignore[import-untyped]

    name = PurePosixPath(path).name
    try:
        lexer = find_lexer_class_for_filename(name)
    except ClassNotFound:  # pragma: no cover - it returns None, but older versions raised
        lexer = None
    if lexer is not None and lexer.aliases:
        return str(lexer.aliases[0])
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].decode("ascii", "replace").split()
        if words and PurePosixPath(words[0]).name == "env":
            words = [w for w in words[1:] if not w.startswith("-")]
        if words:
            interpreter = re.sub(r"[\d.]+$", "", PurePosixPath(words[0]).name)
            return _SHEBANG.get(interpreter)
    return None


class TextPager:
    """The lines of a text file, found and decoded lazily. Thread-safe: `scan` runs in a
    worker while the UI asks for what is found so far."""

    def __init__(self, read: Read, size: int) -> None:
        self._read = read
        self.size = size
        self._offsets = array("q")  # byte offset of each block found so far
        self._firsts = array("q")  # the number of its first line
        self.lines = 0  # lines found so far
        self.complete = size == 0
        self._end = 0  # where the scan stopped
        self._blocks: OrderedDict[int, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def scanned(self) -> int:
        """Bytes of the file scanned so far."""
        with self._lock:
            return self._end

    def scan(self, cancel: threading.Event | None = None, blocks: int | None = None) -> None:
        """Find every block and count the lines, front to back (stops when `cancel` is set,
        or after `blocks` more blocks; calling it again goes on from where it stopped)."""
        offset = self._end
        stop = None if blocks is None else len(self._offsets) + blocks
        while offset < self.size:
            if (cancel is not None and cancel.is_set()) or len(self._offsets) == stop:
                return
            data = self._read(offset, min(BLOCK, self.size - offset))
            if not data:
                break
            end = len(data)
            if offset + end < self.size:  # the block ends after its last full line
                # (a line longer than a block: whole pieces of it)
                end = data.rfind(b"\n") + 1 or end // MAX_LINE * MAX_LINE
            count = _count_lines(data[:end])
            with self._lock:
                self._offsets.append(offset)
                self._firsts.append(self.lines)
                self.lines += count
                offset += end
                self._end = offset
        with self._lock:
            self.complete = True

    def whole(self) -> str:
        """The whole text, as it is (for a small file: call it in a worker)."""
        return self._read(0, self.size).decode("utf-8", "replace")

    def block_of(self, line: int) -> int:
        with self._lock:
            return max(0, bisect_right(self._firsts, line) - 1)

    def block_range(self, block: int) -> tuple[int, int]:
        """(first line, number of lines) of a block found."""
        with self._lock:
            first = self._firsts[block]
            following = self._firsts[block + 1] if block + 1 < len(self._firsts) else self.lines
            return first, following - first

    @property
    def blocks(self) -> int:
        with self._lock:
            return len(self._offsets)

    def cached(self, block: int) -> list[str] | None:
        with self._lock:
            lines = self._blocks.get(block)
            if lines is not None:
                self._blocks.move_to_end(block)
            return lines

    def load(self, block: int) -> list[str]:
        """The lines of a block (read and decoded: call it in a worker)."""
        lines = self.cached(block)
        if lines is not None:
            return lines
        with self._lock:
            start = self._offsets[block]
            end = self._offsets[block + 1] if block + 1 < len(self._offsets) else self._end
        lines = split_lines(self._read(start, end - start))
        with self._lock:
            self._blocks[block] = lines
            while len(self._blocks) > KEEP:
                self._blocks.popitem(last=False)
        return lines

    def line(self, n: int) -> str | None:
        """Line n if its block is decoded, else None (`load` it)."""
        block = self.block_of(n)
        lines = self.cached(block)
        if lines is None:
            return None
        first, _ = self.block_range(block)
        return lines[n - first] if 0 <= n - first < len(lines) else ""

    def search(
        self, needle: str, start: int, forward: bool, cancel: threading.Event | None = None
    ) -> int | None:
        """The next line after `start` (before it, going back) holding `needle`, case blind
        when it is all lower case; wraps around once. None: nowhere (or cancelled)."""
        fold = needle == needle.lower()
        want = needle.lower() if fold else needle
        count = self.blocks
        if not count or not needle:
            return None
        here = self.block_of(start)
        if forward:
            order = [*range(here, count), *range(0, here + 1)]
        else:
            order = [*range(here, -1, -1), *range(count - 1, here - 1, -1)]
        for visit, block in enumerate(order):
            if cancel is not None and cancel.is_set():
                return None
            first, _ = self.block_range(block)
            lines = self.load(block)
            numbers = range(first, first + len(lines))
            for n in numbers if forward else reversed(numbers):
                if block == here:  # first visit: beyond start; the last (wrapped): up to it
                    beyond = n > start if forward else n < start
                    if beyond != (visit == 0):
                        continue
                text = lines[n - first]
                if want in (text.lower() if fold else text):
                    return n
        return None


def _count_lines(data: bytes) -> int:
    """Lines of a block, as `split_lines` makes them."""
    parts = data.split(b"\n")
    if parts and not parts[-1]:
        parts.pop()
    if max(map(len, parts), default=0) <= MAX_LINE:
        return len(parts)
    return sum(max(1, -(-len(p) // MAX_LINE)) for p in parts)


def split_lines(data: bytes) -> list[str]:
    """A block's lines, decoded; a line longer than MAX_LINE bytes as several."""
    parts = data.split(b"\n")
    if parts and not parts[-1]:
        parts.pop()
    out = []
    for part in parts:
        if part.endswith(b"\r"):
            part = part[:-1]
        if len(part) <= MAX_LINE:
            out.append(part.decode("utf-8", "surrogateescape"))
            continue
        for at in range(0, len(part), MAX_LINE):
            out.append(part[at : at + MAX_LINE].decode("utf-8", "surrogateescape"))
    return out


class HexPager:
    """A file's bytes by 16-byte rows, read a 64 KiB page at a time."""

    def __init__(self, read: Read, size: int) -> None:
        self._read = read
        self.size = size
        self.rows = -(-size // HEX_WIDTH)
        self._pages: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def page_of(self, row: int) -> int:
        return row * HEX_WIDTH // PAGE

    def cached(self, page: int) -> bytes | None:
        with self._lock:
            data = self._pages.get(page)
            if data is not None:
                self._pages.move_to_end(page)
            return data

    def load(self, page: int) -> bytes:
        data = self.cached(page)
        if data is None:
            start = page * PAGE
            data = self._read(start, min(PAGE, self.size - start))
            with self._lock:
                self._pages[page] = data
                while len(self._pages) > KEEP:
                    self._pages.popitem(last=False)
        return data

    def row(self, n: int) -> bytes | None:
        """Row n's bytes if its page is read, else None (`load` it)."""
        data = self.cached(self.page_of(n))
        if data is None:
            return None
        at = n * HEX_WIDTH - self.page_of(n) * PAGE
        return data[at : at + HEX_WIDTH]

    def search(
        self, needle: bytes, start: int, forward: bool, cancel: threading.Event | None = None
    ) -> int | None:
        """The row of the next occurrence of `needle` after row `start` (or before it),
        wrapping around once; None: nowhere."""
        if not needle or not self.size:
            return None
        pages = -(-self.size // PAGE)
        first = self.page_of(start)
        order = (
            [*range(first, pages), *range(0, first)]
            if forward
            else [*range(first, -1, -1), *range(pages - 1, first, -1)]
        )
        for page in order:
            if cancel is not None and cancel.is_set():
                return None
            base = page * PAGE
            # the page and the start of the next one: a match across the border is found
            data = self._read(base, min(PAGE + len(needle) - 1, self.size - base))
            hits = [m.start() for m in re.finditer(re.escape(needle), data)]
            rows = [(base + at) // HEX_WIDTH for at in hits]
            rows = [r for r in rows if (r > start if forward else r < start) or page != first]
            if rows:
                return rows[0] if forward else rows[-1]
        return None


def hex_row(offset: int, data: bytes) -> tuple[str, str, str]:
    """(offset, hex bytes, ASCII) of one row; non-printable bytes shown as `.`."""
    hexes = " ".join(f"{b:02x}" for b in data)
    if len(data) > 8:
        hexes = hexes[:23] + " " + hexes[23:]
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data)
    return f"{offset:08x}", f"{hexes:<49}", text
