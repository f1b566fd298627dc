"""The per-layer index: every tar entry of one layer, in compact parallel arrays.

One streaming pass over the layer's tar headers. File content is hashed (xxh3, to tell
modified from unmodified) while it streams past; nothing else of it is kept. Arrays and one
string per path keep 500k entries well under a few hundred MB, and the whole index pickles
cheaply (for worker processes and the on-disk cache).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from sys import intern
from typing import BinaryIO

import xxhash

from explorer.core import contentscan, pkgdb, tarscan
from explorer.core.errors import Cancelled, ImageError

ProgressFn = Callable[[int, int], None]  # (entries so far, bytes read so far)

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
# Paths deeper than this are hostile: the deepest a path within Linux's PATH_MAX (4,096
# bytes, "a/a/…/a") can be, so deeper than any path a build can create (even a runaway
# recursive copy stops there). It bounds what one path costs the views, which work out a
# path and a prefix per level.
MAX_DEPTH = 2048
_DEEP = 2 * MAX_DEPTH - 1  # the length of the shortest path that deep ("a/a/…/a")

# Go's fs.FileMode bits, as dive serialises them.
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_DEVICE = 1 << 26
_GO_PIPE = 1 << 25
_GO_SOCKET = 1 << 24
_GO_SETUID = 1 << 23
_GO_SETGID = 1 << 22
_GO_CHARDEV = 1 << 21
_GO_STICKY = 1 << 20


@dataclass
class LayerIndex:
    paths: list[str] = field(default_factory=list)
    types: array = field(default_factory=lambda: array("B"))
    sizes: array = field(default_factory=lambda: array("q"))
    modes: array = field(default_factory=lambda: array("Q"))
    uids: array = field(default_factory=lambda: array("q"))  # base-256 allows -1
    gids: array = field(default_factory=lambda: array("q"))
    mtimes: array = field(default_factory=lambda: array("q"))
    hashes: array = field(default_factory=lambda: array("Q"))
    offsets: array = field(default_factory=lambda: array("q"))  # data offset in the layer tar
    links: dict[int, str] = field(default_factory=dict)  # entry -> link target
    tar_size: int = 0  # bytes of the uncompressed layer tar read
    whiteouts: int = 0  # entries named .wh.* (whiteouts, opaque markers) or below one
    warnings: list[str] = field(default_factory=list)
    # What the content of a few files told (see contentscan): (entry, detector, masked value)
    # for secrets; (entry, ecosystem, name, version) for each package a database file records,
    # and (entry, ecosystem, "", "") for a database file that records none.
    secrets: list[tuple[int, str, str]] = field(default_factory=list)
    packages: list[tuple[int, str, str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def size(self) -> int:
        """dive's layer size: the sum of the tar headers' size fields."""
        return sum(self.sizes)

    def link(self, i: int) -> str:
        return self.links.get(i, "")


_GO_FORMAT_BITS = {
    0o040000: _GO_DIR,
    0o010000: _GO_PIPE,
    0o120000: _GO_SYMLINK,
    0o060000: _GO_DEVICE,
    0o020000: _GO_DEVICE | _GO_CHARDEV,
    0o140000: _GO_SOCKET,
}
_GO_TYPE_BITS = {
    tarscan.SYMLINK: _GO_SYMLINK,
    tarscan.CHAR: _GO_DEVICE | _GO_CHARDEV,
    tarscan.BLOCKDEV: _GO_DEVICE,
    tarscan.DIR: _GO_DIR,
    tarscan.FIFO: _GO_PIPE,
}
_PIECE = 16 << 20  # entry data beyond this is read a piece at a time (progress, cancel)
_go_modes: dict[tuple[int, int], int] = {}  # (tar mode, type) -> Go mode; images repeat a few


def go_file_mode(tar_mode: int, kind: int) -> int:
    """The value of Go's `tar.Header.FileInfo().Mode()`, which dive exports as fileMode."""
    key = (tar_mode, kind)
    mode = _go_modes.get(key)
    if mode is not None:
        return mode
    mode = tar_mode & 0o777
    if tar_mode & 0o4000:
        mode |= _GO_SETUID
    if tar_mode & 0o2000:
        mode |= _GO_SETGID
    if tar_mode & 0o1000:
        mode |= _GO_STICKY
    mode |= _GO_FORMAT_BITS.get(tar_mode & 0o170000, 0) | _GO_TYPE_BITS.get(kind, 0)
    if len(_go_modes) < 4096:
        _go_modes[key] = mode
    return mode


def index_layer(
    stream: BinaryIO,
    where: str,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> LayerIndex:
    """Index one uncompressed layer tar read from `stream`."""
    idx = LayerIndex()
    reader = tarscan.BlockReader(stream, where)
    paths, types, sizes, modes = idx.paths, idx.types, idx.sizes, idx.modes
    uids, gids, mtimes, hashes, offsets = idx.uids, idx.gids, idx.mtimes, idx.hashes, idx.offsets
    links = idx.links
    count = 0

    def on_global(_: dict[str, bytes]) -> None:
        idx.warnings.append(f"{where}: global PAX header ignored")

    def tick() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if progress is not None:
            progress(count, reader.bytes_read)

    for h in tarscan.iter_headers(reader, on_global, allow_empty=True):
        # interned: a chmod -R layer repeats every path of the layers below
        name = intern(tarscan.normalize(h.name))
        if not name:
            _in_pieces(reader, h.stored, None, tick)
            continue
        if len(name) >= _DEEP and name.count("/") >= MAX_DEPTH:
            raise ImageError(
                f"{where}: tar entry at offset {h.offset - tarscan.BLOCK} is "
                f"{name.count('/') + 1:,} levels deep (the limit is {MAX_DEPTH:,})"
            )
        paths.append(name)
        if name.startswith(WHITEOUT_PREFIX) or "/.wh." in name:
            idx.whiteouts += 1
        types.append(h.type)
        sizes.append(h.size)
        modes.append(h.mode)
        uids.append(h.uid)
        gids.append(h.gid)
        mtimes.append(h.mtime)
        offsets.append(h.offset)
        if h.linkname:  # kept whatever the type: dive exports it (docker sets it on whiteouts)
            links[count] = h.linkname
        if h.stored and h.type == tarscan.REG:
            what = contentscan.wanted(name, h.stored)
            if what in (contentscan.SECRETS, contentscan.PACKAGES):
                data = reader.read(h.stored)  # under contentscan's caps
                hashes.append(xxhash.xxh3_64_intdigest(data))
                _look_into(idx, count, name, what, data, where)
            elif h.stored <= _PIECE:
                hashes.append(reader.hash_data(h.stored))
            else:
                hasher = xxhash.xxh3_64()
                _in_pieces(reader, h.stored, hasher.update, tick)
                hashes.append(hasher.intdigest())
            if what == contentscan.OVERSIZED:
                idx.warnings.append(
                    f"{where}: {name}: package database over the size cap, not read"
                )
        else:
            hashes.append(0)
            if h.stored > _PIECE:  # data of another type of entry, read past
                _in_pieces(reader, h.stored, None, tick)
        count += 1
        if not count & 0x3FF:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            if progress is not None:
                progress(count, reader.bytes_read)
    idx.tar_size = reader.offset
    if progress is not None:
        progress(count, reader.bytes_read)
    return idx


def _look_into(idx: LayerIndex, i: int, name: str, what: int, data: bytes, where: str) -> None:
    """Keep what entry i's content says (secrets or package records); a file that cannot be
    read as expected is skipped, with a warning, never an error of the layer."""
    try:
        if what == contentscan.PACKAGES:
            records = pkgdb.parse(name, data)
            idx.packages += [(i, *r) for r in records] or [(i, pkgdb.ecosystem(name), "", "")]
        else:
            idx.secrets += [(i, *hit) for hit in contentscan.scan_secrets(name, data)]
    except Exception as exc:  # a bug of ours must not cost the user the layer
        idx.warnings.append(f"{where}: {name}: content not scanned ({type(exc).__name__})")


def _in_pieces(
    reader: tarscan.BlockReader,
    n: int,
    sink: Callable[[bytes | memoryview], object] | None,
    tick: Callable[[], None],
) -> None:
    """Pass the next n bytes of entry data to sink (or skip them) a piece at a time, calling
    tick after each: a 10 GiB file still reports progress and answers cancel."""
    while n:
        step = min(n, _PIECE)
        if sink is None:
            reader.skip(step)
        else:
            reader.feed(step, sink)
        n -= step
        tick()


def hardlink_warnings(layers: list[LayerIndex]) -> list[str]:
    """Hardlinks whose target is in neither their own layer nor any layer below."""
    warnings: list[str] = []
    if not any(t == tarscan.HARDLINK for layer in layers for t in _link_types(layer)):
        return warnings
    seen: set[str] = set()
    for n, layer in enumerate(layers):
        links = [(i, t) for i, t in layer.links.items() if layer.types[i] == tarscan.HARDLINK]
        if links:
            own = set(layer.paths)
            for i, target in links:
                norm = tarscan.normalize(target)
                if norm not in own and norm not in seen:
                    warnings.append(
                        f"layer {n}: hardlink {layer.paths[i]} points to a missing file {norm}"
                    )
        if n < len(layers) - 1:
            seen.update(layer.paths)
    return warnings


def _link_types(layer: LayerIndex) -> list[int]:
    return [layer.types[i] for i in layer.links]
