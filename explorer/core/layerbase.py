"""What every reader of a layer's uncompressed tar is (`LayerData`), what a long first
access reports to (`Work`), and a file's bytes in such a tar as a stream (`EntryStream`)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

from explorer.core.errors import Cancelled, ImageError


class Work:
    """What a long first access (checkpoints, a frame table) reports to and answers to:
    `progress(bytes of the layer done)`, `cancel` (raises Cancelled)."""

    def __init__(
        self,
        progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.progress = progress
        self.cancel = cancel

    def tick(self, done: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled
        if self.progress is not None:
            self.progress(done)


class LayerData:
    """The uncompressed tar of one layer: `read_at(offset, size)`; `close()`."""

    size: int = -1  # bytes of the uncompressed tar, when known

    def read_at(self, offset: int, size: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file or decompressor held."""


class EntryStream(io.RawIOBase):
    """`size` bytes at `start` of a layer's uncompressed tar: read-only, seekable."""

    def __init__(self, data: LayerData, start: int, size: int) -> None:
        self._data = data
        self._start = start
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
        if n <= 0:
            return b""
        data = self._data.read_at(self._start + self._pos, n)
        if len(data) != n:
            raise ImageError("the layer ends before the file does (truncated data)")
        self._pos += n
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)
