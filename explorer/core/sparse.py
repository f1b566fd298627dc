"""Sparse files of a layer: the stored pieces put back at their offsets, holes read as zeros.

Two forms are read, told apart by the tar header just before the entry's data (the index
records where the data starts): old GNU (typeflag `S`, up to four pieces in the header; the
extended form, with more pieces in blocks of their own, is refused), and GNU's format 1.0 in
PAX (`tar --sparse --format=pax`: the header is named `GNUSparseFile.*/…` and the data starts
with a decimal map, padded to a block). A map is checked before it is used: pieces in order,
inside the file, and exactly as many stored bytes as the header says. PAX 0.x maps live in
the extended header itself, not reachable from the data: refused, like anything else odd.
"""

from __future__ import annotations

import io
from bisect import bisect_right
from typing import Any

from explorer.core.errors import ImageError
from explorer.core.layerbase import LayerData

BLOCK = 512
MAX_PIECES = 1 << 20
_MAP_LIMIT = 16 << 20  # bytes of a PAX 1.0 decimal map read at most


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def sparse_map(
    header: bytes, data: LayerData, offset: int, size: int
) -> list[tuple[int, int, int]] | None:
    """None when the entry whose data starts at `offset` (after `header`) is not sparse; else
    its pieces, (file offset, length, offset in the layer), in order; ValueError for a
    sparse form that is not read or a map that does not hold."""
    pieces: list[tuple[int, int, int]]
    if header[156:157] == b"S":
        if header[482]:
            raise ValueError("an old GNU sparse file with extended headers")
        pieces, at = [], offset
        for i in range(4):
            field = header[386 + 24 * i : 410 + 24 * i]
            start, length = _number(field[:12]), _number(field[12:])
            if length:
                pieces.append((start, length, at))
                at += length
        stored = _number(header[124:136])
    elif b"GNUSparseFile" in header[:100]:
        pieces, first = _pax_map(data, offset)
        stored = _number(header[124:136]) - (first - offset)
    else:
        return None
    end = 0
    for start, length, _ in pieces:
        if start < end or start + length > size:
            raise ValueError("a sparse map out of order or past the file's end")
        end = start + length
    if sum(length for _, length, _ in pieces) != stored:
        raise ValueError("a sparse map that does not match the stored data")
    return pieces


def _pax_map(data: LayerData, offset: int) -> tuple[list[tuple[int, int, int]], int]:
    """The decimal map at the start of the data, and where the pieces' bytes start."""
    raw = b""
    while True:
        lines = raw.split(b"\n")[:-1]  # the complete ones
        if not all(line.isdigit() for line in lines):
            raise ValueError("a sparse map that is not numbers")
        count = int(lines[0]) if lines else -1
        if count > MAX_PIECES:
            raise ValueError("a sparse map of too many pieces")
        if lines and len(lines) >= 1 + 2 * count:
            break
        more = data.read_at(offset + len(raw), 4096) if len(raw) < _MAP_LIMIT else b""
        if not more:
            raise ValueError("a sparse map that does not end")
        raw += more
    used = lines[: 1 + 2 * count]
    first = offset + (sum(len(x) + 1 for x in used) + BLOCK - 1) // BLOCK * BLOCK
    pieces, at = [], first
    for i in range(count):
        start, length = int(used[1 + 2 * i]), int(used[2 + 2 * i])
        pieces.append((start, length, at))
        at += length
    return pieces, first


class SparseStream(io.RawIOBase):
    """A sparse file of `size` bytes: its pieces read from `data`, zeros between them."""

    def __init__(self, data: LayerData, pieces: list[tuple[int, int, int]], size: int) -> None:
        self._data = data
        self._pieces = pieces
        self._starts = [p[0] for p in pieces]
        self.size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        left = self.size - self._pos
        n = left if n is None or n < 0 else min(n, left)
        out = bytearray()
        while len(out) < n:
            pos = self._pos + len(out)
            i = bisect_right(self._starts, pos) - 1
            if i >= 0 and pos < self._pieces[i][0] + self._pieces[i][1]:
                start, length, at = self._pieces[i]
                take = min(n - len(out), start + length - pos)
                got = self._data.read_at(at + pos - start, take)
                if len(got) != take:
                    raise ImageError("the layer ends before the sparse file does (truncated)")
                out += got
            else:  # a hole, up to the next piece
                nxt = self._starts[i + 1] if i + 1 < len(self._starts) else self.size
                out += bytes(min(n - len(out), nxt - pos))
        self._pos += len(out)
        return bytes(out)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)
