"""Byte streams for layer blobs: windows into a larger file, and transparent decompression."""

from __future__ import annotations

import gzip
import io
import zlib
from typing import BinaryIO

import zstandard

from explorer.core.errors import ImageError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


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

    def __init__(self, stream: BinaryIO, where: str, kind: str) -> None:
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
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def open_layer(raw: BinaryIO, where: str) -> tuple[BinaryIO, str]:
    """Wrap a raw blob stream so it reads as an uncompressed tar; sniff the magic bytes
    (media types lie often enough that the content decides)."""
    buffered = io.BufferedReader(raw, 1 << 20) if not isinstance(raw, io.BufferedReader) else raw  # type: ignore[arg-type]
    head = buffered.peek(4)[:4]
    kind = compression_of(head)
    if kind == "gzip":
        return _Checked(gzip.GzipFile(fileobj=buffered, mode="rb"), where, "gzip"), kind  # type: ignore[return-value]
    if kind == "zstd":
        return _Checked(_Zstd(buffered, where), where, "zstd"), kind  # type: ignore[return-value]
    return buffered, kind


class _Zstd(io.RawIOBase):
    """zstd frames read one after another; input that ends inside a frame is truncated (the
    library's stream reader would just stop)."""

    def __init__(self, raw: BinaryIO, where: str) -> None:
        self._raw = raw
        self._where = where
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._buf = b""
        self._in_frame = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while not self._buf:
            chunk = self._raw.read(1 << 20)
            if not chunk:
                if self._in_frame:
                    raise ImageError(f"{self._where}: truncated zstd data")
                return b""
            while chunk:
                if self._obj.eof:
                    self._obj = self._dctx.decompressobj()
                self._buf += self._obj.decompress(chunk)
                self._in_frame = not self._obj.eof
                chunk = self._obj.unused_data if self._obj.eof else b""
        if n is None or n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()
