"""Layer blob streams: zstd read with a bounded output per read, skippable frames, truncation."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import pytest
import zstandard

from explorer.core.errors import ImageError
from explorer.core.streams import compression_of, open_layer

SKIPPABLE = struct.pack("<II", 0x184D2A5A, 6) + b"notes!"


def frame(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


def read_all(blob: bytes, piece: int = 1 << 16) -> tuple[str, bytes]:
    stream, kind = open_layer(io.BytesIO(blob), "layer")  # type: ignore[arg-type]
    parts = []
    while chunk := stream.read(piece):
        assert len(chunk) <= piece
        parts.append(chunk)
    return kind, b"".join(parts)


def zeros_bomb(kind: str, size: int) -> bytes:
    if kind == "gzip":
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)
        return b"".join(comp.compress(bytes(1 << 24)) for _ in range(size >> 24)) + comp.flush()
    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=19).stream_writer(out, closefd=False) as z:
        for _ in range(size >> 24):
            z.write(bytes(1 << 24))
    return out.getvalue()


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_bomb_is_inflated_a_read_at_a_time(kind):
    """256 MiB of zeros in a few hundred KB: each 1 MiB read allocates about 1 MiB, not the
    whole inflated input chunk."""
    blob = zeros_bomb(kind, 256 << 20)
    assert len(blob) < 512 << 10
    stream, found = open_layer(io.BytesIO(blob), "layer")  # type: ignore[arg-type]
    assert found == kind
    tracemalloc.start()
    try:
        total = 0
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            del chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 256 << 20
    assert peak < 16 << 20, f"peak {peak >> 20} MiB of Python allocations"


def test_a_skippable_frame_first_is_still_zstd():
    blob = SKIPPABLE + frame(b"tar bytes" * 1000)
    assert compression_of(blob[:4]) == "zstd"
    assert read_all(blob) == ("zstd", b"tar bytes" * 1000)


@pytest.mark.parametrize("magic", [0x184D2A50, 0x184D2A5F])
def test_every_skippable_magic_is_recognised(magic):
    assert compression_of(struct.pack("<I", magic)) == "zstd"
    assert compression_of(struct.pack("<I", magic + 0x10)) == "none"


def test_frames_and_skippable_frames_in_a_row():
    blob = frame(b"a" * 300_000) + SKIPPABLE + frame(b"b" * 5) + SKIPPABLE
    assert read_all(blob, 4096) == ("zstd", b"a" * 300_000 + b"b" * 5)


@pytest.mark.parametrize(
    "cut",
    [
        lambda f: f[: len(f) // 2],  # inside a block
        lambda f: f[:5],  # inside the frame header
        lambda f: f[:-2],  # inside the checksum
        lambda f: f + SKIPPABLE[:7],  # inside a skippable frame
        lambda f: f + frame(b"more")[:9],  # inside a second frame
    ],
)
def test_input_cut_inside_a_frame_is_truncated(cut):
    blob = cut(frame(bytes(range(256)) * 4000))
    with pytest.raises(ImageError, match="layer: truncated zstd data"):
        read_all(blob)


def test_garbage_after_a_frame_is_corrupt():
    with pytest.raises(ImageError, match="layer: corrupt zstd data"):
        read_all(frame(b"x" * 1000) + b"garbage!garbage!")
