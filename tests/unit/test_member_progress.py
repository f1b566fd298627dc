"""One large file in a layer: progress is reported, and cancel answered, while it is read."""

from __future__ import annotations

import io
import threading

import pytest
import xxhash

from explorer.core.errors import Cancelled
from explorer.core.layerindex import index_layer
from tests.robustness import builders as b

BIG = 100 << 20  # several pieces of the indexer's reading


class Chunks(io.RawIOBase):
    """A non-seekable stream over the chunks of an iterator (a tar produced lazily)."""

    def __init__(self, chunks) -> None:
        self._chunks = chunks
        self._left = b""
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = chunk
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        self.served += n
        return n


def big_layer() -> Chunks:
    entries = [b.directory("big"), b.file("big/zeros", b.Zeros(BIG)), b.file("end", b"e")]
    return Chunks(b.tar_stream(entries))


def test_progress_is_reported_inside_a_large_file():
    seen: list[tuple[int, int]] = []
    index = index_layer(big_layer(), "layer", lambda e, n: seen.append((e, n)))
    assert index.paths == ["big", "big/zeros", "end"]
    assert index.hashes[1] == xxhash.xxh3_64_intdigest(bytes(BIG))
    inside = [n for e, n in seen if e == 1 and 0 < n < BIG]
    assert len(inside) >= 4, f"progress while the file was read: {seen!r}"


def test_cancel_is_answered_inside_a_large_file():
    cancel = threading.Event()
    stream = big_layer()

    def progress(entries: int, nbytes: int) -> None:
        cancel.set()  # at the first report

    with pytest.raises(Cancelled):
        index_layer(stream, "layer", progress, cancel)
    assert stream.served < BIG // 2, f"read {stream.served >> 20} MiB after cancel"


def test_cancel_is_answered_while_data_of_another_type_is_read_past():
    cancel = threading.Event()
    cancel.set()
    stream = Chunks(b.tar_stream([b.Entry("odd", b"Z", b.Zeros(BIG))]))
    with pytest.raises(Cancelled):
        index_layer(stream, "layer", None, cancel)
    assert stream.served < BIG // 2
