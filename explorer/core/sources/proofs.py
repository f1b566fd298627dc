"""When a cached layer index may stand for a layer's bytes without reading them.

A layer entry is keyed by a diff_id, and an archive's config only *claims* its layers'
diff_ids: an image could claim the diff_id of a cached layer while shipping other bytes. So an
entry stands for an archive's layer only when the link between *these bytes* and that diff_id
was verified before:

- the same file, unchanged since the layer was hashed: a record keyed by the file's identity
  (device, inode, size, mtime and ctime in ns) lists the members (offset, size) whose bytes
  hashed to which diff_id (a change to the file changes its ctime, which nobody can set);
- a content-addressed blob (`blobs/sha256/<hex>`) whose diff_id was verified when it was first
  read (a record keyed by the blob digest): its stored bytes are hashed again to match its
  name, which costs no decompression and no parsing.

(The engine's own diff_ids are the third way: the engine computed them, see engine.py.)
Otherwise the layer is hashed before its entry is used, and a mismatch is refused exactly as
a cold open refuses it. With `--verify` (the cache's `verify`) nothing is taken on trust.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass

from explorer.core.cache import LayerCache

# A file changed this recently may change again within the same tick of the file system's
# clock without its times changing: its identity is not recorded (git's "racy clean" rule).
RACY_NS = 20_000_000
_SHA256 = "sha256:"


@dataclass(frozen=True)
class FileId:
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: str) -> FileId | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    @property
    def key(self) -> str:
        text = f"file:{self.dev}:{self.ino}:{self.size}:{self.mtime_ns}:{self.ctime_ns}"
        return _SHA256 + hashlib.sha256(text.encode()).hexdigest()


def settled_id(path: str) -> FileId | None:
    """The identity of the file at `path` now, or None when a later change to it might not
    show in it (changed within the last RACY_NS) or it cannot be read."""
    now = time.time_ns()
    found = FileId.of(path)
    if found is None or max(found.mtime_ns, found.ctime_ns) > now - RACY_NS:
        return None
    return found


class Proofs:
    """What the cache records as verified of one file's members: (offset, size) -> the
    diff_id their bytes hashed to. The file's identity is taken when this is made, before
    any of its bytes are read for it; what is learnt is saved only if the file is still
    that same file after the reading."""

    def __init__(self, cache: LayerCache | None, path: str) -> None:
        self.cache = cache
        self.path = path
        self.id = settled_id(path) if cache is not None else None
        self.members: dict[tuple[int, int], str] = {}
        self._learnt: dict[tuple[int, int], str] = {}
        if cache is not None and self.id is not None:
            self.members = _members(cache.get_image("file", self.id.key))

    def get(self, offset: int, size: int) -> str | None:
        """The diff_id the bytes at (`offset`, `size`) hashed to (never with --verify)."""
        if self.cache is None or self.cache.verify:
            return None
        return self.members.get((offset, size))

    def learn(self, offset: int, size: int, diff_id: str) -> None:
        """The bytes at (`offset`, `size`) were just hashed to `diff_id`."""
        if self.id is not None and self.members.get((offset, size)) != diff_id:
            self._learnt[(offset, size)] = diff_id

    def save(self) -> None:
        if self.cache is None or self.id is None or not self._learnt:
            return
        if FileId.of(self.path) != self.id:
            return  # changed while it was read: what was hashed may not be what is there now
        self.members.update(self._learnt)
        self._learnt = {}
        rows = [[offset, size, diff_id] for (offset, size), diff_id in self.members.items()]
        self.cache.put_image("file", self.id.key, {"members": rows})


def _members(record: dict | None) -> dict[tuple[int, int], str]:
    rows = record.get("members") if record else None
    if not isinstance(rows, list):
        return {}
    out = {}
    for row in rows:
        if (
            isinstance(row, list)
            and len(row) == 3
            and type(row[0]) is int
            and type(row[1]) is int
            and isinstance(row[2], str)
        ):
            out[(row[0], row[1])] = row[2]
    return out


def blob_diff_id(cache: LayerCache | None, blob: str) -> str | None:
    """The diff_id verified for the blob `blob` (sha256:<hex>) when it was first read. An
    uncompressed blob is its own: its name is its diff_id."""
    if cache is None or cache.verify or not blob.startswith(_SHA256):
        return None
    record = cache.get_image("blob", blob)
    found = record.get("diff_id") if record else None
    return found if isinstance(found, str) else blob


def learn_blob(cache: LayerCache | None, blob: str, diff_id: str) -> None:
    """The blob `blob` was just read: its stored bytes hashed to its name, and its
    uncompressed ones to `diff_id`."""
    if cache is None or not blob.startswith(_SHA256) or blob == diff_id:
        return
    record = cache.get_image("blob", blob)
    if record is None or record.get("diff_id") != diff_id:
        cache.put_image("blob", blob, {"diff_id": diff_id})
