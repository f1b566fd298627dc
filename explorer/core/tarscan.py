"""A fast streaming reader of tar headers.

Python's `tarfile` spends most of its time building TarInfo objects; reading the 512-byte
headers with slices is several times faster and is all the indexer needs. Supports ustar,
GNU (long names, long links, sparse) and PAX (path, linkpath, size, ids, mtime, sparse)
headers, base-256 numbers, and V7 archives. Names are decoded as UTF-8 with
`surrogateescape`, so non-UTF-8 bytes survive a round trip.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, NoReturn, cast

import xxhash

from explorer.core.errors import ImageError
from explorer.core.streams import Readable

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_LIMIT = 1 << 63  # numbers must fit the index's 64-bit arrays
CHUNK = 1 << 20

# Entry types (tar typeflag bytes as ints).
REG = ord("0")
HARDLINK = ord("1")
SYMLINK = ord("2")
CHAR = ord("3")
BLOCKDEV = ord("4")
DIR = ord("5")
FIFO = ord("6")
CONTIG = ord("7")
_PAX = ord("x")
_PAX_GLOBAL = ord("g")
_GNU_LONGNAME = ord("L")
_GNU_LONGLINK = ord("K")
_GNU_SPARSE = ord("S")
_REGA = 0

_MAX_META = 1 << 20  # PAX and GNU long-name payloads larger than this are hostile (as in Go)
# Names and link targets longer than this are hostile: four times Linux's PATH_MAX, so longer
# than any path a container runtime can create or open (no real image holds one), and the
# bound on what one entry's names cost (a 1 MiB PAX header could otherwise carry a 1 MiB path).
MAX_NAME = 16 << 10


@dataclass(slots=True)
class TarHeader:
    name: str
    type: int
    size: int  # logical size (real size of sparse files)
    mode: int
    uid: int
    gid: int
    mtime: int
    linkname: str
    offset: int  # offset of the entry's data in the stream
    stored: int  # bytes of data stored in the archive after the header


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _nts(field: bytes) -> bytes:
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


def _number(field: bytes, what: str, where: str) -> int:
    if field and field[0] & 0x80:  # base-256 (GNU): big-endian two's complement
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:  # negative: two's complement of the bytes after the marker
            value -= 1 << (8 * (len(field) - 1))
        return value
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ImageError(f"{where}: invalid {what} field {text[:20]!r} in tar header") from None


_SPACES = b" " * 8


def _checksum_ok(header: bytes) -> bool:
    """The header's checksum (sum of its bytes, the checksum field read as spaces)."""
    try:
        stored = int(header[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    # adler32's low half is (1 + sum) mod 65521, in C: a cheap check of the sum for every
    # header (the field itself counted as eight spaces); the exact sums (and the old signed
    # variant) only when it disagrees.
    low = (zlib.adler32(header) & 0xFFFF) - (zlib.adler32(header[148:156]) & 0xFFFF)
    if (low + 256 - stored) % 65521 == 0:
        return True
    blanked = header[:148] + _SPACES + header[156:]
    return stored in (sum(blanked), sum(b - 256 if b > 127 else b for b in blanked))


def _parse_pax(data: bytes, where: str) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise ImageError(f"{where}: malformed PAX header")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise ImageError(f"{where}: malformed PAX record length") from None
        if length <= space - pos or pos + length > len(data):
            raise ImageError(f"{where}: malformed PAX record")
        record = data[space + 1 : pos + length - 1]
        key, sep, value = record.partition(b"=")
        if not sep:
            raise ImageError(f"{where}: malformed PAX record")
        records[key.decode("utf-8", "replace")] = value
        pos += length
    return records


def _pax_int(records: dict[str, bytes], key: str, where: str) -> int | None:
    if key not in records:
        return None
    raw = records[key]
    try:
        value = int(float(raw)) if key == "mtime" else int(raw)
    except (ValueError, OverflowError):
        raise ImageError(f"{where}: invalid PAX {key} value {raw[:20]!r}") from None
    low = -(1 << 63) if key in ("mtime", "uid", "gid") else 0  # files from before 1970 exist
    if value < low or value >= 1 << 63:
        raise ImageError(f"{where}: PAX {key} value out of range")
    return value


class BlockReader:
    """Sequential reader with skip; seeks over data when the stream allows it."""

    def __init__(self, stream: Readable, where: str) -> None:
        self._stream = stream
        self.where = where
        self._buf = b""
        self._pos = 0
        self.offset = 0  # stream offset of self._buf[self._pos]
        # A file (not a pipe): data it need not hash is seeked over.
        self._file: BinaryIO | None = None
        try:
            if getattr(stream, "seekable", lambda: False)():
                self._file = cast(BinaryIO, stream)
        except OSError:
            pass
        self.bytes_read = 0

    def _fill(self, need: int) -> bool:
        """Ensure `need` bytes are buffered; False at a clean EOF before any of them."""
        have = len(self._buf) - self._pos
        if have >= need:
            return True
        parts = [self._buf[self._pos :]]
        while have < need:
            chunk = self._stream.read(max(CHUNK, need - have))
            if not chunk:
                break
            self.bytes_read += len(chunk)
            parts.append(chunk)
            have += len(chunk)
        self._buf = b"".join(parts)
        self._pos = 0
        return have >= need

    def read(self, n: int) -> bytes:
        if not self._fill(n):
            if len(self._buf) - self._pos == 0 and n == BLOCK:
                return b""
            raise ImageError(f"{self.where}: archive is truncated")
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        self.offset += n
        return data

    def skip(self, n: int) -> None:
        have = len(self._buf) - self._pos
        if n <= have:
            self._pos += n
            self.offset += n
            return
        n -= have
        self.offset += have
        self._buf, self._pos = b"", 0
        if self._file is not None:
            here = self._file.tell()
            end = self._file.seek(0, 2)
            if here + n > end:
                raise ImageError(f"{self.where}: archive is truncated")
            self._file.seek(here + n)
            self.offset += n
            return
        while n:
            chunk = self._stream.read(min(CHUNK, n))
            if not chunk:
                raise ImageError(f"{self.where}: archive is truncated")
            self.bytes_read += len(chunk)
            n -= len(chunk)
            self.offset += len(chunk)

    def read_upto(self, n: int) -> bytes:
        """Up to n bytes (at least one unless at EOF), for streaming a member's data."""
        if len(self._buf) - self._pos == 0 and not self._fill(1):
            return b""
        take = min(n, len(self._buf) - self._pos)
        data = self._buf[self._pos : self._pos + take]
        self._pos += take
        self.offset += take
        return data

    def hash_data(self, n: int) -> int:
        """xxh3 of the next n bytes (one call for data already buffered)."""
        if len(self._buf) - self._pos >= n:
            digest = xxhash.xxh3_64_intdigest(memoryview(self._buf)[self._pos : self._pos + n])
            self._pos += n
            self.offset += n
            return digest
        hasher = xxhash.xxh3_64()
        self.feed(n, hasher.update)
        return hasher.intdigest()

    def feed(self, n: int, sink: Callable[[bytes | memoryview], object]) -> None:
        """Pass the next n bytes to sink in pieces (no copy of large files)."""
        while n:
            if len(self._buf) - self._pos == 0 and not self._fill(1):
                raise ImageError(f"{self.where}: archive is truncated")
            take = min(n, len(self._buf) - self._pos)
            sink(memoryview(self._buf)[self._pos : self._pos + take])
            self._pos += take
            self.offset += take
            n -= take


def _first_header(reader: BlockReader) -> bytes:
    """The first block; a stream that ends inside it is a truncated archive when what there
    is could begin a tar header (its name field is NUL-padded), else no archive at all (a
    short text file named `.tar`)."""
    partial = not reader._fill(BLOCK) and reader._buf[reader._pos :]
    if partial and b"\0" not in partial:
        raise ImageError(f"{reader.where}: not a tar archive")
    return reader.read(BLOCK)


def iter_headers(
    reader: BlockReader,
    on_global: Callable[[dict[str, bytes]], None] | None = None,
    allow_empty: bool = False,
) -> Iterator[TarHeader]:
    """Yield each entry's header. The caller must consume or skip `stored` bytes of data
    (rounded up to a block) before advancing, with `reader.feed` or `reader.skip`; when it
    does neither, the iterator skips the data itself."""
    where = reader.where
    long_name: bytes | None = None
    long_link: bytes | None = None
    pax: dict[str, bytes] = {}
    first = True
    while True:
        start = reader.offset
        buf, pos = reader._buf, reader._pos
        if len(buf) - pos >= BLOCK:  # the usual case, without a call per header
            header = buf[pos : pos + BLOCK]
            reader._pos = pos + BLOCK
            reader.offset = start + BLOCK
        elif first:
            header = _first_header(reader)
        else:
            header = reader.read(BLOCK)
        if not header:
            if first and not allow_empty:
                raise ImageError(f"{where}: empty archive")
            return  # EOF without end-of-archive blocks: tolerated, as GNU tar does
        if header[0] == 0 and header == _ZERO_BLOCK:
            return
        magic = header[257:263]
        if not _checksum_ok(header):
            if magic in (b"ustar\x00", b"ustar "):
                raise ImageError(f"{where}: corrupt tar header at offset {start} (bad checksum)")
            raise ImageError(f"{where}: not a tar archive (bad header at offset {start})")
        first = False
        kind = header[156]
        try:
            stored = int(header[124:135], 8)
        except ValueError:
            stored = _number(header[124:136], "size", where)
        if stored < 0:
            raise ImageError(f"{where}: negative size in tar header at offset {start}")
        padded = (stored + BLOCK - 1) & ~(BLOCK - 1)

        if kind in (_PAX, _PAX_GLOBAL, _GNU_LONGNAME, _GNU_LONGLINK):
            if stored > _MAX_META:
                raise ImageError(f"{where}: oversized extended header ({stored} bytes)")
            data = reader.read(padded)[:stored]
            if kind == _PAX:
                pax = _parse_pax(data, where)
            elif kind == _PAX_GLOBAL:
                if on_global is not None:
                    on_global(_parse_pax(data, where))
            elif kind == _GNU_LONGNAME:
                long_name = _nts(data)
            else:
                long_link = _nts(data)
            continue

        name = header[0:100].partition(b"\0")[0]
        if header[345] and magic == b"ustar\x00":
            name = _nts(header[345:500]) + b"/" + name
        if long_name is not None:
            name = long_name
        link = long_link if long_link is not None else header[157:257].partition(b"\0")[0]
        if len(name) > MAX_NAME or len(link) > MAX_NAME:
            _too_long(name, link, start, where)
        size = stored
        try:
            mode = int(header[100:107], 8)
            uid = int(header[108:115], 8)
            gid = int(header[116:123], 8)
            mtime = int(header[136:147], 8)
            wide = False
        except ValueError:
            mode = _number(header[100:108], "mode", where)
            uid = _number(header[108:116], "uid", where)
            gid = _number(header[116:124], "gid", where)
            mtime = _number(header[136:148], "mtime", where)
            wide = True  # base-256 numbers can be larger than the index's 64-bit arrays
        if (
            wide and not (mode < _LIMIT and -_LIMIT <= uid < _LIMIT and -_LIMIT <= gid < _LIMIT)
        ) or not (-_LIMIT <= mtime < _LIMIT):
            raise ImageError(f"{where}: tar header at offset {start} has a number out of range")
        if mode < 0:
            raise ImageError(f"{where}: tar header at offset {start} has a negative mode")
        if kind == _GNU_SPARSE:
            size = _number(header[483:495], "realsize", where)
            kind = REG
        if pax:
            if "path" in pax:
                name = pax["path"]
            if "linkpath" in pax:
                link = pax["linkpath"]
            if "GNU.sparse.name" in pax:
                name = pax["GNU.sparse.name"]
            if len(name) > MAX_NAME or len(link) > MAX_NAME:
                _too_long(name, link, start, where)
            for key in ("size", "uid", "gid", "mtime"):
                value = _pax_int(pax, key, where)
                if value is None:
                    continue
                if key == "size":
                    stored = size = value
                    padded = (stored + BLOCK - 1) & ~(BLOCK - 1)
                elif key == "uid":
                    uid = value
                elif key == "gid":
                    gid = value
                else:
                    mtime = value
            for key in ("GNU.sparse.realsize", "GNU.sparse.size"):
                value = _pax_int(pax, key, where)
                if value is not None:
                    size = value
        if size >= _LIMIT or stored >= _LIMIT:
            raise ImageError(f"{where}: tar header at offset {start} has a size out of range")
        if kind == _REGA:
            kind = DIR if name.endswith(b"/") else REG
        elif kind == CONTIG:
            kind = REG
        data_at = reader.offset
        entry = TarHeader(
            _decode(name),
            kind,
            size,
            mode,
            uid,
            gid,
            mtime,
            _decode(link) if link else "",
            data_at,
            stored,
        )
        long_name = long_link = None
        pax = {}
        yield entry
        left = data_at + padded - reader.offset
        if left > 0:
            if len(reader._buf) - reader._pos >= left:  # the padding after a hashed file
                reader._pos += left
                reader.offset += left
            else:
                reader.skip(left)


def _too_long(name: bytes, link: bytes, start: int, where: str) -> NoReturn:
    what, length = ("name", len(name)) if len(name) > MAX_NAME else ("link target", len(link))
    raise ImageError(
        f"{where}: tar entry at offset {start} has a {what} of {length:,} bytes "
        f"(the limit is {MAX_NAME:,})"
    )


def normalize(name: str) -> str:
    """Canonical relative path: no leading `/` or `./`, no `.`/`..` escaping the root."""
    if name.startswith("./"):
        name = name[2:]
    if name.endswith("/"):
        name = name.rstrip("/")
    if "/." not in name and "//" not in name and not name.startswith((".", "/")):
        return name
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)
