"""Files of the content access kept in the layer cache directory, under its cap and its LRU:
a layer's uncompressed tar for images that cannot hand out one layer (`content`), a gzip
blob's decompressor checkpoints (`gzindex`), a zstd blob's frame table (`zframes`).

Each is named `sha256-<hex>.<format>.<kind>` (see `cache.FILE_NAME`), written to a temp
file and renamed into place (two instances may write one at once: both are whole), opened
like every entry — only a private regular file of the user's, never through a link — and
touched on use, so eviction takes the least recently used first, entries and files alike.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from explorer.core import cachefs
from explorer.core.cache import _DIGEST, _TMP_PREFIX, FILE_KINDS, LayerCache
from explorer.core.cachecodec import INDEX_FORMAT


def file_path(cache: LayerCache, digest: str, kind: str) -> Path | None:
    """Where the `kind` file (one of FILE_KINDS) keyed by sha256 `digest` goes."""
    m = _DIGEST.match(digest or "")
    if m is None or m.group(1) != "sha256" or kind not in FILE_KINDS:
        return None
    return cache.root / f"sha256-{m.group(2)}.{INDEX_FORMAT}.{kind}"


def open_file(cache: LayerCache, digest: str, kind: str) -> BinaryIO | None:
    """That file opened for reading (and touched: last used), or None (absent, or not a
    private regular file of ours)."""
    path = file_path(cache, digest, kind)
    if path is None or cache.verify or not cache.usable():
        return None
    opened = cachefs.open_entry(path)
    if opened is None:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return opened[0]


def write_file(
    cache: LayerCache, digest: str, kind: str, size: int, fill: Callable[[BinaryIO], bool]
) -> Path | None:
    """Write the `kind` file of `digest` (about `size` bytes): `fill` writes it to a temp
    file and says whether to keep it; it is renamed into place and the cap applied. None
    when it is not kept, would not fit under the cap, or cannot be written (no error: a
    cache that cannot be written is no cache)."""
    path = file_path(cache, digest, kind)
    if path is None or size > cache.cap or not cache.usable(create=True):
        return None
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=cache.root)
        with os.fdopen(fd, "wb") as f:
            if not fill(f):
                return None
        os.replace(tmp, path)
        tmp = None
    except OSError:
        return None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    cache.stats.writes += 1
    with contextlib.suppress(OSError):
        cache.evict(keep=path)
    return path
