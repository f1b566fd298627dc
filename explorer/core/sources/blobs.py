"""Reading members of an image tar and checking them against their digests: the streams
both the in-place archive reader and the streamed (one forward pass) reader use."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

from explorer.core import tarscan
from explorer.core.errors import ImageError
from explorer.core.streams import Readable

MAX_JSON = 16 << 20  # one metadata member (manifest.json, index, manifest, config)
MAX_KEPT = 128 << 20  # all the members a streamed pass keeps as possible metadata
MAX_CONTAINERS = 500_000  # JSON objects and arrays in one metadata member
BLOB = re.compile(r"^blobs/(sha256|sha384|sha512)/([0-9a-f]{64,128})$")


def verify_digest(expected: str, sha: Any, where: str, what: str) -> None:
    """Raise if `expected` (sha256:<hex>) is not the digest of what `sha` has seen; digests
    of other algorithms are not checked."""
    algo, _, hexpart = expected.partition(":")
    if algo != "sha256" or not hexpart:
        return
    actual = sha.hexdigest()
    if actual != hexpart:
        if what == "blob":
            raise ImageError(
                f"{where}: blob {expected} does not match its content (sha256:{actual})"
            )
        raise ImageError(
            f"{where}: layer content does not match the config's diff_id {expected} "
            f"(it hashes to sha256:{actual})"
        )


class Prepend(io.RawIOBase):
    """A stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._rest.read(n)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)


class MemberReader(io.RawIOBase):
    def __init__(self, reader: tarscan.BlockReader, size: int) -> None:
        self._reader = reader
        self.remaining = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes of the member; all the rest when n is negative."""
        if n is None or n < 0:
            parts = []
            while self.remaining:
                parts.append(self.read(self.remaining))
            return b"".join(parts)
        n = min(n, self.remaining)
        if n <= 0:
            return b""
        data = self._reader.read_upto(n)
        if not data:
            raise ImageError(f"{self._reader.where}: archive is truncated")
        self.remaining -= len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)


class Sha256Reader(io.RawIOBase):
    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.sha.update(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def blob_digest(name: str) -> str:
    """`sha256:<hex>` for a content-addressed member `blobs/sha256/<hex>`, else ""."""
    m = BLOB.match(name)
    return f"{m.group(1)}:{m.group(2)}" if m else ""


def check_json_blob(name: str, data: bytes, where: str) -> None:
    """What a metadata member must pass before it is parsed: a content-addressed one
    (manifest, index, config) hashes to its name, and none holds more JSON objects and arrays
    than image metadata ever does (each costs 50-200 bytes parsed: 16 MiB of `[],` would
    take 400 MB)."""
    sha = hashlib.sha256(data)
    verify_digest(blob_digest(name), sha, f"{where}: {name}", "blob")
    if data.count(b"[") + data.count(b"{") > MAX_CONTAINERS:
        raise ImageError(
            f"{where}: {name} holds more than {MAX_CONTAINERS:,} JSON objects and arrays: "
            f"too many to be image metadata"
        )


def drain(stream: Any) -> None:
    while stream.read(1 << 20):
        pass
