"""Images on disk: docker-archive tars (legacy, Docker 25+, kaniko), OCI archive tars and OCI
layout directories. A plain tar is read in place (a window per member, no extraction); a
compressed outer tar, like an engine's export, is read in one streaming pass."""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from explorer.core import tarscan
from explorer.core.errors import ImageError
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex, index_layer
from explorer.core.sources.layout import load_json, resolve_layout
from explorer.core.streams import Window, compression_of, open_layer

LayerProgress = Callable[[int, int, int], None]  # (layer, entries, bytes)
MAX_JSON = 64 << 20


@dataclass
class _Member:
    offset: int
    size: int
    type: int
    link: str


class Source:
    """Where an image comes from. `open` is cheap (metadata only); `index_layers` does the
    heavy work and yields each layer's index as soon as it is ready, in any order."""

    name: str = ""

    def open(self) -> ImageMeta:
        raise NotImplementedError

    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds (sockets, files)."""


def _index_blob(
    raw: BinaryIO,
    where: str,
    layer: int,
    progress: LayerProgress | None,
    cancel: threading.Event | None,
) -> LayerIndex:
    stream, _ = open_layer(raw, where)
    try:
        on_progress = None if progress is None else (lambda e, b: progress(layer, e, b))
        return index_layer(stream, where, on_progress, cancel)
    finally:
        stream.close()


class ArchiveSource(Source):
    def __init__(self, path: str, platform: str | None = None, kind: str = "") -> None:
        self.path = path
        self.name = path
        self.platform = platform
        self.kind = kind
        self._members: dict[str, _Member] = {}
        self._is_dir = False
        self._streamed: StreamedArchive | None = None
        self._layer_members: list[str] = []
        self.meta: ImageMeta | None = None

    # -- members ---------------------------------------------------------------------------
    def _scan_members(self) -> None:
        with open(self.path, "rb") as f:
            reader = tarscan.BlockReader(f, self.path)
            for h in tarscan.iter_headers(reader):
                name = tarscan.normalize(h.name)
                if name:
                    self._members[name] = _Member(h.offset, h.stored, h.type, h.linkname)

    def _resolve(self, name: str) -> str:
        """Follow symlinked members (docker save links a repeated layer.tar to the first)."""
        seen = set()
        while True:
            member = self._members.get(name)
            if member is None or member.type not in (tarscan.SYMLINK, tarscan.HARDLINK):
                return name
            if name in seen:
                raise ImageError(f"{self.path}: symlink loop at {name}")
            seen.add(name)
            if member.type == tarscan.SYMLINK:
                name = tarscan.normalize(posixpath.join(posixpath.dirname(name), member.link))
            else:
                name = tarscan.normalize(member.link)

    def _has(self, name: str) -> bool:
        if self._is_dir:
            return os.path.isfile(self._dir_path(name))
        return name in self._members

    def _dir_path(self, name: str) -> str:
        root = os.path.realpath(self.path)
        full = os.path.realpath(os.path.join(root, name))
        if full != root and not full.startswith(root + os.sep):
            raise ImageError(f"{self.path}: {name} points outside the layout directory")
        return full

    def _open_member(self, name: str) -> BinaryIO:
        if self._is_dir:
            full = self._dir_path(name)
            if not os.path.isfile(full):
                raise ImageError(f"{self.path}: missing blob {name}")
            return open(full, "rb")
        resolved = self._resolve(name)
        member = self._members.get(resolved)
        if member is None or member.type != tarscan.REG:
            raise ImageError(f"{self.path}: missing blob {name}")
        return Window(self.path, member.offset, member.size)  # type: ignore[return-value]

    def _read_json(self, name: str) -> Any:
        with self._open_member(name) as f:
            data = f.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise ImageError(f"{self.path}: {name} is too large to be image metadata")
        return load_json(data, f"{self.path}: {name}")

    # -- Source ----------------------------------------------------------------------------
    def open(self) -> ImageMeta:
        if self.meta is not None:
            return self.meta
        if os.path.isdir(self.path):
            self._is_dir = True
            if not os.path.isfile(os.path.join(self.path, "index.json")) and not os.path.isfile(
                os.path.join(self.path, "manifest.json")
            ):
                raise ImageError(f"{self.path}: not an OCI layout (no index.json)")
        elif not os.path.exists(self.path):
            raise ImageError(f"{self.path}: no such file or directory")
        else:
            with open(self.path, "rb") as f:
                head = f.read(512)
            if compression_of(head) != "none":
                self._streamed = StreamedArchive(self.path, self.platform)
                self.meta = self._streamed.run_metadata()
                return self.meta
            self._scan_members()
        self.meta, self._layer_members = resolve_layout(
            self._read_json, self._has, self.path, self.path, self.platform
        )
        if self._is_dir:
            self.meta.source = "oci"
        elif self.kind:
            self.meta.source = self.kind
        elif self.meta.source == "oci":
            self.meta.source = "oci-archive"
        for member in self._layer_members:
            if not self._has(self._resolve(member) if not self._is_dir else member):
                raise ImageError(f"{self.path}: missing blob {member}")
        return self.meta

    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        meta = self.open()
        if self._streamed is not None:
            yield from self._streamed.layers()
            return
        done: dict[str, LayerIndex] = {}
        for i, member in enumerate(self._layer_members):
            key = member if self._is_dir else self._resolve(member)
            if key not in done:
                where = f"{self.path}: layer {i} ({meta.layers[i].digest or member})"
                with self._open_member(member) as raw:
                    done[key] = _index_blob(raw, where, i, progress, cancel)
            yield i, done[key]


class _Prepend(io.RawIOBase):
    """A stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
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


class _MemberReader(io.RawIOBase):
    def __init__(self, reader: tarscan.BlockReader, size: int) -> None:
        self._reader = reader
        self.remaining = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self.remaining:
            n = self.remaining
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


class _Sha256Reader(io.RawIOBase):
    def __init__(self, stream: BinaryIO) -> None:
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


def _looks_like_tar(head: bytes) -> bool:
    if len(head) < 512:
        return False
    block = head[:512]
    return block[257:262] == b"ustar" or tarscan._checksum_ok(block)


class StreamedArchive:
    """One forward pass over an image tar (an engine's export, or a compressed archive):
    keeps the small JSON members, indexes every member that is a layer as it passes, and
    reports each layer's diff_id (sha256 of its uncompressed tar) so callers can place it
    before the manifest, which comes last, has been seen."""

    def __init__(self, path: str | None, platform: str | None, stream: BinaryIO | None = None):
        self.path = path
        self.where = path or "export stream"
        self.platform = platform
        self._stream = stream
        self.json: dict[str, Any] = {}
        self.indexes: dict[str, LayerIndex] = {}
        self.diff_ids: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.meta: ImageMeta | None = None
        self._layer_members: list[str] = []

    def walk(
        self,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[str, str, LayerIndex]]:
        """Yield (member, diff_id, index) for each layer member as it passes."""
        if self._stream is not None:
            outer, _ = open_layer(self._stream, self.where)
        else:
            outer, _ = open_layer(open(self.path or "", "rb"), self.where)  # noqa: SIM115
        try:
            reader = tarscan.BlockReader(outer, self.where)
            for h in tarscan.iter_headers(reader):
                name = tarscan.normalize(h.name)
                if h.type == tarscan.SYMLINK:
                    self.links[name] = tarscan.normalize(
                        posixpath.join(posixpath.dirname(name), h.linkname)
                    )
                    continue
                if h.type != tarscan.REG or not name:
                    continue
                member = _MemberReader(reader, h.stored)
                head = member.read(min(h.stored, 512))
                where = f"{self.where}: {name}"
                if head[:1] in (b"{", b"[") and h.stored <= MAX_JSON:
                    self.json[name] = load_json(head + member.read(), where)
                elif compression_of(head) != "none" or _looks_like_tar(head):
                    hashing = _Sha256Reader(_Prepend(head, member))  # type: ignore[arg-type]
                    stream, _ = open_layer(hashing, where)  # type: ignore[arg-type]
                    index = index_layer(stream, where, progress, cancel)
                    while stream.read(1 << 20):  # the tail after the end-of-archive blocks
                        pass
                    hashing.drain()
                    self.indexes[name] = index
                    diff_id = "sha256:" + hashing.sha.hexdigest()
                    self.diff_ids[name] = diff_id
                    yield name, diff_id, index
                # anything else is skipped by iter_headers
        finally:
            outer.close()

    def _read_json(self, name: str) -> Any:
        name = self.links.get(name, name)
        if name not in self.json:
            raise ImageError(f"{self.where}: missing {name}")
        return self.json[name]

    def _has(self, name: str) -> bool:
        return self.links.get(name, name) in self.json or name in self.json

    def resolve(self, name: str, source: str) -> ImageMeta:
        self.meta, self._layer_members = resolve_layout(
            self._read_json, self._has, name, self.where, self.platform
        )
        if source:
            self.meta.source = source
        for member in self._layer_members:
            target = self.links.get(member, member)
            if target not in self.indexes:
                raise ImageError(f"{self.where}: missing blob {member}")
        return self.meta

    def run_metadata(self) -> ImageMeta:
        for _ in self.walk():
            pass
        return self.resolve(self.where, "docker-archive")

    def layers(self) -> Iterator[tuple[int, LayerIndex]]:
        for i, member in enumerate(self._layer_members):
            yield i, self.indexes[self.links.get(member, member)]
