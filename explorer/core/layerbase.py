"""What every reader of a layer's uncompressed tar is (`LayerData`), and what a long first
access reports to (`Work`)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from explorer.core.errors import Cancelled


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
