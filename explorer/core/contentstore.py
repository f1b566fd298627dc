"""The content store: layers' uncompressed tars kept in the layer cache directory, for images
that cannot hand out one layer — an engine's (Docker, Podman: only a whole-image export) and a
compressed image archive (`docker save | gzip`: read only front to back).

The first content request of such a layer streams the export (or the archive) again, once
for every layer asked for together, and keeps those layers' tars (`sha256-<diff_id>.<format>
.content`): each member that may be a layer is decompressed, hashed while it is written to a
temp file, and kept only when it hashed to a diff_id that was asked for (content-addressed
and verified); the others are passed over. Members the size of none of the wanted layers'
tars are passed over unread when they are uncompressed (an engine's export always is). The
files count in the cache's cap and go least recently used first, like every entry: a
content request on an evicted layer streams the export again. Never a container.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import BinaryIO, cast

from explorer.core import cachefiles, tarscan
from explorer.core.cache import LayerCache
from explorer.core.errors import Cancelled, ImageError
from explorer.core.sources.blobs import MemberReader, Prepend
from explorer.core.streams import compression_of, open_layer

StoreProgress = Callable[[int], None]  # bytes of the export read so far
_STEP = 1 << 20


def fill_store(
    stream: BinaryIO,
    wanted: dict[str, int],
    cache: LayerCache,
    where: str,
    progress: StoreProgress | None = None,
    cancel: threading.Event | None = None,
) -> set[str]:
    """Read the image tar `stream` (uncompressed: an export, or an archive through
    `open_layer`) and store the layers of `wanted` (diff_id -> its tar's size) found in it;
    returns the diff_ids stored. Stops as soon as every wanted layer is in."""
    left = dict(wanted)
    stored: set[str] = set()
    reader = tarscan.BlockReader(stream, where)

    def tick() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if progress is not None:
            progress(reader.offset)

    for h in tarscan.iter_headers(reader):
        if not left:
            break
        tick()
        if h.type != tarscan.REG or h.stored < tarscan.BLOCK:
            continue
        member = MemberReader(reader, h.stored)
        head = member.read(min(h.stored, 512))
        kind = compression_of(head)
        diff_id = None
        if kind != "none" or h.stored >= min(left.values()):  # else smaller than any wanted
            where_ = f"{where}: {h.name[:200]}"
            diff_id = _store_member(head, member, kind, left, cache, where_, tick)
        while member.remaining:  # what was not kept is read past, still answering cancel
            member.read(min(member.remaining, _STEP))
            tick()
        if diff_id is not None:
            stored.add(diff_id)
            del left[diff_id]
    return stored


def _store_member(
    head: bytes,
    member: MemberReader,
    kind: str,
    left: dict[str, int],
    cache: LayerCache,
    where: str,
    tick: Callable[[], None],
) -> str | None:
    """Write one member's uncompressed bytes to a temp file while hashing them; keep it
    under the diff_id they hashed to when that one is wanted."""
    stream, _ = open_layer(cast(BinaryIO, Prepend(head, cast(BinaryIO, member))), where)
    sha = hashlib.sha256()
    found: list[str] = []

    def fill(f: BinaryIO) -> bool:
        written = 0
        while chunk := stream.read(_STEP):
            sha.update(chunk)
            f.write(chunk)
            written += len(chunk)
            tick()
            if written > cache.cap:
                return False  # could never be kept
        diff_id = "sha256:" + sha.hexdigest()
        if diff_id in left:
            found.append(diff_id)
            return True
        return False

    # The name is known only once hashed: written under a provisional key, then renamed.
    temp_key = "sha256:" + hashlib.sha256(where.encode()).hexdigest()
    path = cachefiles.write_file(cache, temp_key, "content", max(left.values()), fill)
    if path is None or not found:
        return None
    final = cachefiles.file_path(cache, found[0], "content")
    assert final is not None
    path.replace(final)
    return found[0]


def open_stored(cache: LayerCache, diff_id: str) -> BinaryIO | None:
    """The stored tar of layer `diff_id` (hashed to it when it was written), or None."""
    return cachefiles.open_file(cache, diff_id, "content")


def missing_layer(where: str, diff_id: str) -> ImageError:
    return ImageError(f"{where}: layer {diff_id} was not found in the export")
