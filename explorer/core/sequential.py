"""Compressed layers read front to back from a restart point, the last chunks kept: zstd
blobs (from the start of the frame that holds the bytes), and gzip blobs where rapidgzip
cannot run (see `GzipStream`).

A blob of many zstd frames (zstd:chunked, seekable zstd) is random access by its frame table
(`.zframes` in the layer cache, made on first access by walking frame and block headers); a
blob of one frame is decompressed from its start (about 0.9 GB/s here: 0.15 s to reach the
end of a 128 MB layer). Decompression goes in 1 MiB chunks and the last 8 are kept, so
reading a file front to back decompresses it once and paging back through it does not start
over.
"""

from __future__ import annotations

import gzip
import resource
import struct
import threading
import zlib
from bisect import bisect_right
from typing import Any, BinaryIO

import zstandard

from explorer.core import cachefiles
from explorer.core.cache import LayerCache
from explorer.core.errors import ImageError
from explorer.core.layerbase import LayerData, Work
from explorer.core.streams import ZSTD_MAGIC, Window

_FRAMES_MAGIC = b"LSZFRM01"
_SKIP_STEP = 1 << 20
_CHUNK = 1 << 20  # uncompressed bytes decompressed at once, and kept a while
_RECENT = 8  # chunks kept (paging back through a file does not start over)
# rapidgzip reserves address space for its threads: under a lower limit (ulimit -v) it
# crashes, where Python's zlib reads the blob front to back.
RAPIDGZIP_MIN_ADDRESS_SPACE = 1 << 30


class Sequential(LayerData):
    """Reads from the restart point (uncompressed, compressed offsets in `_frames`) before
    the bytes asked for, keeping the last chunks; subclasses open a reader at a point."""

    kind = ""
    _frames: list[tuple[int, int]]

    def __init__(self, path: str, offset: int, size: int, where: str) -> None:
        self._blob = (path, max(offset, 0), size)
        self._where = where
        self._lock = threading.Lock()
        self._reader: Any = None
        self._raw: Window | None = None
        self._pos = 0  # uncompressed offset of the open reader
        self._recent: dict[int, bytes] = {}  # chunks decompressed lately, by number

    def _open_at(self, frame: int) -> None:
        raise NotImplementedError

    def read_at(self, offset: int, size: int) -> bytes:
        parts = []
        with self._lock:
            end = min(offset + size, self.size)
            while offset < end:
                k = offset // _CHUNK
                chunk = self._chunk(k)
                piece = chunk[offset - k * _CHUNK : end - k * _CHUNK]
                if not piece:
                    break
                parts.append(piece)
                offset += len(piece)
        return b"".join(parts)

    def _chunk(self, k: int) -> bytes:
        """Uncompressed bytes [k, k + 1) × _CHUNK: from the recent ones, or decompressed —
        on from where the reader is, else from the restart point before them."""
        cached = self._recent.pop(k, None)
        if cached is None:
            start = k * _CHUNK
            frame = max(0, bisect_right(self._frames, (start, 1 << 63)) - 1)
            frame_start = self._frames[frame][0]
            if self._reader is None or start < self._pos or self._pos < frame_start:
                self._open_at(frame)
            while self._pos < start:  # read past what lies before it, chunk by chunk
                upto = min((self._pos // _CHUNK + 1) * _CHUNK, start)
                passed = self._take(upto - self._pos)
                if not passed:
                    return b""
                if len(passed) == _CHUNK:  # a whole one: kept like the others
                    self._keep((self._pos - _CHUNK) // _CHUNK, passed)
            cached = self._take(min(_CHUNK, self.size - start))
        self._keep(k, cached)
        return cached

    def _take(self, n: int) -> bytes:
        """The next `n` uncompressed bytes of the open reader (fewer at its end)."""
        assert self._reader is not None
        parts = []
        try:
            while n > 0 and (got := self._reader.read(n)):
                parts.append(got)
                n -= len(got)
        except (zstandard.ZstdError, zlib.error, OSError, EOFError) as exc:
            raise ImageError(f"{self._where}: corrupt {self.kind} data ({exc})") from None
        data = b"".join(parts)
        self._pos += len(data)
        return data

    def _keep(self, k: int, chunk: bytes) -> None:
        self._recent[k] = chunk  # the most recent last
        while len(self._recent) > _RECENT:
            del self._recent[next(iter(self._recent))]

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        self._reader = None


class ZstdData(Sequential):
    """A zstd blob read from the start of the frame holding each offset."""

    kind = "zstd"

    def __init__(
        self,
        path: str,
        offset: int,
        size: int,
        where: str,
        key: str,
        cache: LayerCache | None,
        work: Work,
    ) -> None:
        super().__init__(path, offset, size, where)
        self._frames = self._frame_table(key, cache, work)  # (uncompressed, compressed) starts

    def _frame_table(self, key: str, cache: LayerCache | None, work: Work) -> list[tuple[int, int]]:
        stored = cachefiles.open_file(cache, key, "zframes") if cache is not None else None
        if stored is not None:
            with stored:
                raw = stored.read()
            if raw.startswith(_FRAMES_MAGIC) and (len(raw) - 16) % 16 == 0:
                (size,) = struct.unpack_from("<Q", raw, 8)
                if size == self._blob[2]:
                    pairs = struct.iter_unpack("<QQ", raw[16:])
                    table = [(int(u), int(c)) for u, c in pairs]
                    self.size = table[-1][0] if table else 0
                    return table[:-1] or [(0, 0)]
        table = self._scan_frames(work)
        if cache is not None:
            body = _FRAMES_MAGIC + struct.pack("<Q", self._blob[2])
            body += b"".join(struct.pack("<QQ", u, c) for u, c in table)

            def fill(f: BinaryIO) -> bool:
                f.write(body)
                return True

            cachefiles.write_file(cache, key, "zframes", len(body), fill)
        self.size = table[-1][0]
        return table[:-1] or [(0, 0)]

    def _scan_frames(self, work: Work) -> list[tuple[int, int]]:
        """Every frame's start (uncompressed, compressed), and the end as a last pair. Frame
        and block headers give where each frame ends; its size comes from its header, or is
        counted by decompressing it a window at a time (memory stays bounded whatever the
        ratio)."""
        path, offset, size = self._blob
        table: list[tuple[int, int]] = []
        out = 0
        with Window(path, offset, size) as raw:
            at = 0
            while at < size:
                work.tick(out)
                raw.seek(at)
                head = raw.read(18)  # the longest frame header
                if len(head) >= 8 and int.from_bytes(head[:4], "little") & ~0xF == 0x184D2A50:
                    at += 8 + int.from_bytes(head[4:8], "little")  # skippable: passed over
                    continue
                end = _frame_end(raw, at, head, size, self._where)
                try:
                    known = zstandard.frame_content_size(head)
                except zstandard.ZstdError:
                    known = -1
                table.append((out, at))
                out += known if known >= 0 else self._count(Window(path, offset + at, end - at))
                at = end
        table.append((out, size))
        return table

    def _count(self, frame: Window) -> int:
        """The uncompressed size of one frame, decompressed a window at a time."""
        with frame, zstandard.ZstdDecompressor().stream_reader(frame) as reader:  # type: ignore[arg-type]
            n = 0
            try:
                while chunk := reader.read(_SKIP_STEP):
                    n += len(chunk)
            except zstandard.ZstdError as exc:
                raise ImageError(f"{self._where}: corrupt zstd data ({exc})") from None
        return n

    def _open_at(self, frame: int) -> None:
        if self._raw is not None:
            self._raw.close()
        path, offset, size = self._blob
        start_u, start_c = self._frames[frame]
        self._raw = Window(path, offset + start_c, size - start_c)
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            self._raw,  # type: ignore[arg-type]
            read_size=1 << 17,
            read_across_frames=True,
        )
        self._pos = start_u


def _frame_end(raw: Window, at: int, head: bytes, size: int, where: str) -> int:
    """Where the zstd frame at `at` (its first bytes: `head`) ends, from its headers."""
    if head[:4] != ZSTD_MAGIC or len(head) < 6:
        raise ImageError(f"{where}: corrupt zstd data (no frame at offset {at})")
    fhd = head[4]
    single = (fhd >> 5) & 1
    pos = at + 5 + (1 - single) + (0, 1, 2, 4)[fhd & 3] + (single, 2, 4, 8)[fhd >> 6]
    while True:
        raw.seek(pos)
        block = raw.read(3)
        if len(block) < 3:
            raise ImageError(f"{where}: truncated zstd data")
        value = int.from_bytes(block, "little")
        pos += 3 + (1 if (value >> 1) & 3 == 1 else value >> 3)  # an RLE block holds a byte
        if value & 1:  # the last block
            end = pos + (4 if fhd & 4 else 0)
            if end > size:
                raise ImageError(f"{where}: truncated zstd data")
            return end


class GzipStream(Sequential):
    """A gzip blob read from its start by Python's zlib, where rapidgzip cannot run."""

    kind = "gzip"

    def __init__(self, path: str, offset: int, size: int, where: str, work: Work) -> None:
        super().__init__(path, offset, size, where)
        self._frames = [(0, 0)]
        self.size = 1 << 62  # until counted: one pass, decompressing it all
        self._open_at(0)
        done = 0
        while got := len(self._take(_SKIP_STEP)):
            done += got
            if not done % (64 << 20):
                work.tick(done)
        self.size = done
        self._reader = None

    def _open_at(self, frame: int) -> None:
        if self._raw is not None:
            self._raw.close()
        self._raw = Window(*self._blob)
        self._reader = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self._pos = 0


def rapidgzip_can_run() -> bool:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return soft == resource.RLIM_INFINITY or soft >= RAPIDGZIP_MIN_ADDRESS_SPACE
