"""Byte streams for layer blobs: windows into a larger file, and transparent decompression."""

from __future__ import annotations

import gzip
import io
import zlib
from typing import BinaryIO, Protocol, cast

import zstandard

from explorer.core.errors import ImageError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_SKIPPABLE = b"\x2a\x4d\x18"  # after 0x50-0x5f: a skippable frame


class Readable(Protocol):
    """What the indexer needs of a byte stream: `read(n)` (files, pipes, decompressors,
    the engine's export chunks alike)."""

    def read(self, n: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class Window(io.RawIOBase):
    """A read-only, seekable view of `size` bytes at `offset` in a seekable file."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed with the window
        self._start = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        self._file.seek(self._start + self._pos)
        got = self._file.readinto(memoryview(buffer)[:want])
        self._pos += got or 0
        return got or 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._size - self._pos
        n = min(n, self._size - self._pos)
        if n <= 0:
            return b""
        self._file.seek(self._start + self._pos)
        data = self._file.read(n)
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._file.close()
        super().close()


class _Checked(io.RawIOBase):
    """Turns decompressor exceptions into ImageError naming the blob."""

    def __init__(self, stream: Readable, where: str, kind: str) -> None:
        self._stream = stream
        self._where = where
        self._kind = kind

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        try:
            return self._stream.read(n)
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
            raise ImageError(f"{self._where}: corrupt {self._kind} data ({exc})") from None

    def close(self) -> None:
        self._stream.close()
        super().close()


def compression_of(head: bytes) -> str:
    """The compression of a blob from its first 4 bytes. A zstd stream may begin with a
    skippable frame (metadata a decoder passes over): it is a zstd stream all the same."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC) or (
        len(head) >= 4 and head[0] & 0xF0 == 0x50 and head[1:4] == ZSTD_SKIPPABLE
    ):
        return "zstd"
    return "none"


def open_layer(raw: Readable, where: str) -> tuple[BinaryIO, str]:
    """Wrap a raw blob stream so it reads as an uncompressed tar; sniff the magic bytes
    (media types lie often enough that the content decides)."""
    buffered = (
        raw
        if isinstance(raw, io.BufferedReader)
        else io.BufferedReader(cast(io.RawIOBase, raw), 1 << 20)
    )
    head = buffered.peek(4)[:4]
    kind = compression_of(head)
    if kind == "gzip":
        unzipped = gzip.GzipFile(fileobj=buffered, mode="rb")
        return cast(BinaryIO, _Checked(unzipped, where, "gzip")), kind
    if kind == "zstd":
        return cast(BinaryIO, _Checked(_Zstd(buffered, where), where, "zstd")), kind
    return buffered, kind


class _ZstdFrames:
    """Follows the frame structure of the compressed bytes passing by — frame headers, block
    headers, skippable frames; the content is only counted — to tell input that ends between
    frames from input cut inside one (the library's reader just stops at the end of its
    input). Costs a few operations per block (blocks hold up to 128 KiB)."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._state = "magic"  # what the next header is: magic, skippable, fhd, block, lost
        self._want = 4  # the size of that header
        self._head = b""  # its bytes gathered so far
        self._skip = 0  # bytes to pass before it
        self._checksum = 0  # bytes of checksum after the last block of this frame

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        pos = 0
        while pos < len(data) and self._state != "lost":
            if self._skip:
                step = min(self._skip, len(data) - pos)
                self._skip -= step
                pos += step
                continue
            take = min(self._want - len(self._head), len(data) - pos)
            self._head += data[pos : pos + take]
            pos += take
            if len(self._head) == self._want:
                self._advance()
        return data

    def _advance(self) -> None:
        head, self._head = self._head, b""
        value = int.from_bytes(head, "little")
        if self._state == "magic":
            if head == ZSTD_MAGIC:
                self._state, self._want = "fhd", 1
            elif value & 0xFFFFFFF0 == 0x184D2A50:
                self._state, self._want = "skippable", 4
            else:
                self._state = "lost"  # not zstd: the decoder says what is wrong
        elif self._state == "skippable":
            self._skip, self._state, self._want = value, "magic", 4
        elif self._state == "fhd":
            single = (value >> 5) & 1
            content_size = (single, 2, 4, 8)[value >> 6]
            self._skip = (1 - single) + (0, 1, 2, 4)[value & 3] + content_size
            self._checksum = 4 if value & 4 else 0
            self._state, self._want = "block", 3
        else:  # a block header: last-block bit, type (raw, RLE, compressed), size
            self._skip = 1 if (value >> 1) & 3 == 1 else value >> 3
            if value & 1:
                self._skip += self._checksum
                self._state, self._want = "magic", 4

    @property
    def between_frames(self) -> bool:
        return self._state in ("magic", "lost") and not self._skip and not self._head


class _Zstd(io.RawIOBase):
    """zstd frames (skippable ones included) read one after another by the library's
    streaming reader, so a read returns at most what it asks for whatever the ratio; input
    that ends inside a frame is truncated."""

    def __init__(self, raw: Readable, where: str) -> None:
        self._raw = raw
        self._where = where
        self._frames = _ZstdFrames(raw)
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            cast(BinaryIO, self._frames), read_size=1 << 17, read_across_frames=True
        )

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._reader.read(-1 if n is None else n)
        if not data and n != 0 and not self._frames.between_frames:
            raise ImageError(f"{self._where}: truncated zstd data")
        return data

    def close(self) -> None:
        self._reader.close()
        self._raw.close()
        super().close()
