"""The viewer's pagers: text lines and hex rows read in windows, search, and the diff of two
versions; bounded memory on a file of 2 GiB."""

from __future__ import annotations

import threading
import tracemalloc

import pytest

from explorer.core.pager import (
    BLOCK,
    HEX_WIDTH,
    MAX_LINE,
    PAGE,
    HexPager,
    TextPager,
    hex_row,
    language_of,
    looks_binary,
    split_lines,
)
from explorer.core.versiondiff import DIFF_BYTES, diff_versions, text_diff


def reader(data: bytes):
    reads: list[tuple[int, int]] = []

    def read(offset: int, size: int) -> bytes:
        reads.append((offset, size))
        return data[offset : offset + size]

    read.reads = reads  # type: ignore[attr-defined]
    return read


def all_lines(pager: TextPager) -> list[str]:
    return [line for b in range(pager.blocks) for line in pager.load(b)]


def test_text_and_binary() -> None:
    assert not looks_binary(b"hello\nw\xc3\xb6rld\n")
    assert not looks_binary("é".encode() * 10 + "é".encode()[:1])  # cut at the window's end
    assert looks_binary(b"ELF\x00\x01")
    assert looks_binary(b"\xff\xfe" + b"text" * 10)


@pytest.mark.parametrize(
    ("path", "head", "language"),
    [
        ("etc/nginx/nginx.conf", b"", "nginx"),
        ("app/main.py", b"", "python"),
        ("usr/bin/tool", b"#!/usr/bin/env python3.12\nimport os\n", "python"),
        ("usr/bin/run", b"#!/bin/sh -e\nset -x\n", "bash"),
        ("usr/bin/run", b"#!/usr/bin/env -S node --flag\n", "javascript"),
        ("Dockerfile", b"FROM x\n", "docker"),
        ("usr/share/doc/README", b"plain words\n", None),
        ("bin/blob", b"#!\n", None),
    ],
)
def test_language_from_name_extension_or_shebang(path: str, head: bytes, language) -> None:
    assert language_of(path, head) == language


def test_lines_over_many_blocks() -> None:
    lines = [f"line {n}: " + "x" * (n % 50) for n in range(30_000)]
    data = ("\r\n".join(lines[:10]) + "\r\n" + "\n".join(lines[10:]) + "\n").encode()
    assert len(data) > 10 * BLOCK
    pager = TextPager(reader(data), len(data))
    pager.scan()
    assert pager.complete and pager.lines == 30_000 and pager.blocks > 10
    assert all_lines(pager) == lines
    assert pager.line(25_000) == lines[25_000]  # its block is decoded (the last ones kept)
    fresh = TextPager(reader(data), len(data))
    fresh.scan()
    assert fresh.line(12_345) is None  # not decoded yet: the viewer asks a worker to
    fresh.load(fresh.block_of(12_345))
    assert fresh.line(12_345) == lines[12_345]


def test_long_lines_are_cut_and_bytes_kept() -> None:
    data = b"a" * (3 * MAX_LINE + 5) + b"\nshort\n\xff\xfe end\n" + b"b" * (BLOCK * 2)
    pager = TextPager(reader(data), len(data))
    pager.scan()
    lines = all_lines(pager)
    assert pager.lines == len(lines) == 4 + 2 + (BLOCK * 2) // MAX_LINE
    assert lines[:5] == ["a" * MAX_LINE] * 3 + ["a" * 5, "short"]
    assert lines[5] == "\udcff\udcfe end"  # undecodable bytes kept for `safe` to show
    assert split_lines(b"") == [] and split_lines(b"x") == ["x"]


def test_scan_stops_when_cancelled_and_goes_on() -> None:
    data = b"line\n" * (BLOCK // 5 * 4)
    pager = TextPager(reader(data), len(data))
    stop = threading.Event()
    stop.set()
    pager.scan(stop)
    assert not pager.complete and pager.lines == 0
    pager.scan()
    assert pager.complete and pager.lines == BLOCK // 5 * 4


def test_search_forward_back_wrapping_and_case() -> None:
    lines = [f"row {n}" for n in range(5000)]
    lines[100] = "the Needle here"
    lines[4000] = "another needle"
    data = ("\n".join(lines) + "\n").encode()
    pager = TextPager(reader(data), len(data))
    pager.scan()
    assert pager.search("needle", 0, True) == 100  # lower case: any case
    assert pager.search("needle", 100, True) == 4000
    assert pager.search("needle", 4000, True) == 100  # wrapped around
    assert pager.search("needle", 4000, False) == 100
    assert pager.search("needle", 100, False) == 4000  # wrapped, going back
    assert pager.search("Needle", 100, True) == 100  # case kept: only that one
    assert pager.search("absent", 0, True) is None


def test_hex_rows_pages_and_search_across_a_page_border() -> None:
    data = bytes(range(256)) * (PAGE // 256 * 3) + b"tail"
    data = data[: PAGE - 2] + b"MARK" + data[PAGE + 2 :]
    pager = HexPager(reader(data), len(data))
    assert pager.rows == -(-len(data) // HEX_WIDTH)
    assert pager.row(0) is None  # not read yet
    pager.load(0)
    assert pager.row(1) == data[16:32]
    assert hex_row(16, data[16:32]) == (
        "00000010",
        "10 11 12 13 14 15 16 17  18 19 1a 1b 1c 1d 1e 1f ",
        "................",
    )
    assert hex_row(0, b"AB\x1b")[2] == "AB."  # the escape byte is a dot, never sent
    assert pager.search(b"MARK", 0, True) == (PAGE - 2) // HEX_WIDTH
    assert pager.search(b"tail", 0, False) == (len(data) - 4) // HEX_WIDTH
    assert pager.search(b"nothing", 0, True) is None


def test_two_gib_file_in_bounded_memory() -> None:
    size = 2 << 30
    line = b"0123456789abcdef" * 7 + b"\n"

    def read(offset: int, n: int) -> bytes:  # a 2 GiB text file that exists nowhere
        start = offset % len(line)
        reps = (start + n) // len(line) + 1
        return (line * reps)[start : start + n]

    tracemalloc.start()
    try:
        hexes = HexPager(read, size)
        for row in (0, hexes.rows // 2, hexes.rows - 1):
            hexes.load(hexes.page_of(row))
            assert hexes.row(row)
        text = TextPager(read, size)
        stop = threading.Event()
        ticks = [0]
        real = text._read

        def counting(offset: int, n: int) -> bytes:
            ticks[0] += 1
            if ticks[0] > 2400:  # ~40 MB of it scanned: enough to see the memory it costs
                stop.set()
            return real(offset, n)

        text._read = counting
        text.scan(stop)
        for block in range(0, text.blocks, 37):
            text.load(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert text.lines > 300_000
    assert peak < 20 << 20  # a few windows and the block offsets, not the file


def test_text_diff_is_unified_and_capped() -> None:
    lines = text_diff(b"a\nb\nc\n", b"a\nB\nc\n", "layer 0: /f", "layer 1: /f")
    assert [text for text, _ in lines] == [
        "--- layer 0: /f",
        "+++ layer 1: /f",
        "@@ -1,3 +1,3 @@",
        " a",
        "-b",
        "+B",
        " c",
    ]
    assert [style for _, style in lines][2:6] == ["hunk", "", "removed", "added"]
    big = text_diff(b"", b"x\n" * 50, "a", "b", limit=10)
    assert len(big) == 11 and big[-1][0].startswith("… the diff goes on")
    assert text_diff(b"same\n", b"same\n", "a", "b") == [("no difference in the text", "guide")]


def test_binaries_and_huge_files_are_summarised() -> None:
    def never(_n: int) -> bytes:
        raise AssertionError("a file too large to diff is not read")

    lines = diff_versions(never, never, ("layer 0", DIFF_BYTES + 1, 1), ("layer 2", 5, 2))
    text = "\n".join(t for t, _ in lines)
    assert "too large to diff" in text and "xxh3-64 0000000000000001" in text
    assert "5 bytes" in text and "the contents differ" in text
    lines = diff_versions(lambda n: b"\x00\x01", lambda n: b"\x00\x01", ("a", 2, 7), ("b", 2, 7))
    assert lines[0] == ("binary content", "guide") and lines[-1][0] == "same content"
