"""The layer-index cache: every layer indexed once, whatever image it is opened from.

Entries are keyed by the layer's diff_id and the index format: a base layer shared by many
images, or an image opened again while its Dockerfile is iterated on, costs one small read.

Layout: one file per entry in the cache directory (default `$LAYERSCOPE_CACHE_DIR`, else
`$XDG_CACHE_HOME/layerscope/layers`, else `~/.cache/layerscope/layers`):

- `sha256-<hex>.<INDEX_FORMAT>.layer`: a layer index, keyed by diff_id;
- `<kind>-sha256-<hex>.<INDEX_FORMAT>.image`: what an engine export told us about an image
  (exact layer ids, history, config, and which export member holds which layer), keyed by
  image ID, so an image whose layers are all cached reopens without any export;
- `analysis-<hex>.<INDEX_FORMAT>.analysis`: an image's analysis (dive's efficiency, our
  reclaimable bytes, every row, its layers' findings), keyed by its ordered diff_ids and the
  analysis format: a warm re-open recomputes none of it.

Each file is an 88-byte header (magic, format, kind, `LayerIndex` schema fingerprint, entry
count, layer tar size, payload length, xxh3-128 of the payload, sha256 of the key) and its
payload: a pickle (protocol 5) of the `LayerIndex`, JSON for an image record, or for an analysis
a pickle of plain tuples, lists, strings, numbers and arrays (columns: 100k rows load in tens of
milliseconds). Writes go to a temp file renamed into place (atomic: of two writers the last
rename wins, both whole). Reads verify everything before unpickling (an unpickler that only
knows `LayerIndex` and `array`, every decoded value's type checked): a corrupt, truncated,
ill-typed, foreign or stale entry is deleted and is a miss, never an error. The directory must
be the user's own and private; entries are opened without following links or waiting on FIFOs
(`cachefs`). Bounded (default 2 GiB, `LAYERSCOPE_CACHE_MAX` / `--cache-max`): a hit touches the
entry's mtime, each write evicts the least recently used entries down to the cap. A cache that
cannot be written (read-only, disk full) is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import struct
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from explorer.core import cachefs
from explorer.core.cachecodec import (
    ANALYSIS_SCHEMA,
    INDEX_FORMAT,
    SCHEMA,
    analysis_key,
    decode_analysis,
    decode_index,
    encode_analysis,
    encode_index,
)
from explorer.core.efficiency import DiveEfficiency
from explorer.core.findings import Finding
from explorer.core.layerindex import LayerIndex
from explorer.core.reclaim import Reclaimable

DEFAULT_CAP = 2 << 30  # 2 GiB

MAGIC = b"LSCACHE\n"
KIND_LAYER = 1
KIND_IMAGE = 2
KIND_ANALYSIS = 3
VERIFIED = 1  # header flag: the layer's bytes were hashed and matched its diff_id
_HEADER = struct.Struct("<8sHBBIQQQ16s32s")
HEADER_SIZE = _HEADER.size  # 88
_TMP_PREFIX = ".tmp-"
_STALE_TMP = 3600.0  # seconds: a temp file this old was left by a killed writer

_DIGEST = re.compile(r"^(sha256|sha384|sha512):([0-9a-f]{64,128})$")
_LAYER_NAME = re.compile(r"^(sha256|sha384|sha512)-([0-9a-f]{64,128})\.(\d+)\.layer$")
_IMAGE_NAME = re.compile(r"^([a-z0-9]+)-(sha256|sha384|sha512)-([0-9a-f]{64,128})\.(\d+)\.image$")
_ANALYSIS_NAME = re.compile(r"^analysis-([0-9a-f]{64})\.(\d+)\.analysis$")
# Files of the content access (written by `cachefiles`), beside the entries and under the
# same cap: a layer's uncompressed tar (engine images), a gzip blob's checkpoints, a zstd
# blob's frame table.
FILE_KINDS = ("content", "gzindex", "zframes")
FILE_NAME = re.compile(r"^sha256-([0-9a-f]{64})\.(\d+)\.(content|gzindex|zframes)$")


# -- the cache -----------------------------------------------------------------------------


def layer_key(diff_id: str) -> str | None:
    """The file-name stem for a diff_id, or None for a malformed one (never a path)."""
    m = _DIGEST.match(diff_id or "")
    return f"{m.group(1)}-{m.group(2)}" if m else None


@dataclass
class CacheEntry:
    name: str  # file name in the cache directory
    kind: str  # "layer", "image", "analysis", one of FILE_KINDS, or "stale" (another format)
    key: str  # diff_id (layer), image ID (image), hash of the diff_ids (analysis)
    size: int  # bytes on disk
    last_used: float  # mtime: touched on every hit
    entries: int | None = None  # tar entries in a layer; rows of an analysis
    tar_size: int | None = None  # bytes of the layer's uncompressed tar
    verified: bool | None = None  # its bytes hashed to its diff_id when it was indexed
    source: str = ""  # image records: the engine kind


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0
    discarded: int = 0  # corrupt, truncated or stale entries deleted on read


class LayerCache:
    def __init__(
        self, root: str | os.PathLike[str], cap_bytes: int = DEFAULT_CAP, verify: bool = False
    ) -> None:
        self.root = Path(root)
        self.cap = int(cap_bytes)
        self.verify = verify  # --verify: no layer is served without its bytes hashed now
        self.stats = CacheStats()
        self._total: int | None = None  # bytes at the last scan, plus what we wrote since
        self._private = False  # the directory was found to be ours and private

    def __repr__(self) -> str:
        return f"LayerCache({str(self.root)!r}, {self.cap})"

    def usable(self, create: bool = False) -> bool:
        """Is the directory the user's own and private (made, 0700, with `create`)? Else
        the cache is not used: neither read nor written (see `cachefs.private_dir`)."""
        if not self._private:
            self._private = cachefs.private_dir(self.root, create)
        return self._private

    # -- layers --------------------------------------------------------------------------------
    def _layer_path(self, diff_id: str) -> Path | None:
        # Only sha256 diff_ids: the only ones a layer's bytes are checked against, so the
        # only ones an entry can be known to stand for.
        key = layer_key(diff_id) if diff_id.startswith("sha256:") else None
        return None if key is None else self.root / f"{key}.{INDEX_FORMAT}.layer"

    def get(self, diff_id: str, where: str = "", verified: bool = True) -> LayerIndex | None:
        """The cached index of layer `diff_id`, or None (a bad entry is deleted: a miss).
        `verified`: only an entry whose bytes hashed to `diff_id` when it was indexed (what
        every source writes; False also accepts entries stored unhashed)."""
        path = self._layer_path(diff_id)
        if path is None:
            return None
        payload = self._read(path, KIND_LAYER, diff_id, VERIFIED if verified else 0)
        if payload is None:
            self.stats.misses += 1
            return None
        try:
            index = decode_index(payload, where)
        except ValueError:
            self._discard(path)
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return index

    def has(self, diff_id: str, verified: bool = True) -> bool:
        """Is there an entry (its header only is read: `get` may still miss)? Never with
        `verify`: then a source reads the layer's bytes whatever the cache holds."""
        path = self._layer_path(diff_id)
        if path is None or self.verify:
            return False
        header = self._header(path) if self.usable() else None
        return header is not None and (not verified or bool(header[3] & VERIFIED))

    def put(self, diff_id: str, index: LayerIndex, where: str = "", verified: bool = True) -> bool:
        payload = encode_index(index, where)
        return self.put_payload(diff_id, payload, len(index), index.tar_size, verified)

    def put_payload(
        self, diff_id: str, payload: bytes, entries: int, tar_size: int, verified: bool = True
    ) -> bool:
        """Store an `encode_index` payload (a worker process encodes; the parent writes)."""
        path = self._layer_path(diff_id)
        if path is None:
            return False
        flags = VERIFIED if verified else 0
        return self._write(path, KIND_LAYER, diff_id, payload, entries, tar_size, flags)

    # -- image records ----------------------------------------------------------------------
    def _image_path(self, kind: str, image_id: str) -> Path | None:
        key = layer_key(image_id)
        if key is None or not re.fullmatch(r"[a-z0-9]+", kind or ""):
            return None
        return self.root / f"{kind}-{key}.{INDEX_FORMAT}.image"

    def get_image(self, kind: str, image_id: str) -> dict[str, Any] | None:
        path = self._image_path(kind, image_id)
        if path is None:
            return None
        payload = self._read(path, KIND_IMAGE, f"{kind}:{image_id}")
        if payload is None:
            return None
        try:
            record = json.loads(payload)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            self._discard(path)
            return None
        return record

    def put_image(self, kind: str, image_id: str, record: dict[str, Any]) -> bool:
        path = self._image_path(kind, image_id)
        if path is None:
            return False
        payload = json.dumps(record, separators=(",", ":")).encode()
        return self._write(path, KIND_IMAGE, f"{kind}:{image_id}", payload, 0, 0)

    def aliases(self, *kinds: str) -> dict[str, str]:
        """Export member name -> diff_id, learnt from earlier passes (hashed) over the
        engine exports of the records of `kinds`: the legacy `docker save` names a layer by
        a v1 id that is a function of the layer chain, so a layer shared with an image seen
        before is known by its name before it is read. Only an engine's export may use them
        (its diff_ids are the engine's own); an archive's names are claims."""
        out: dict[str, str] = {}
        for entry in self.entries(details=False):
            if entry.kind != "image" or entry.source not in kinds:
                continue
            record = self.get_image(entry.source, entry.key)
            members = record.get("members") if record else None
            if isinstance(members, dict):
                out.update({k: v for k, v in members.items() if isinstance(v, str)})
        return out

    # -- analyses ---------------------------------------------------------------------------
    def _analysis_path(self, diff_ids: Sequence[str]) -> tuple[Path, str] | None:
        key = analysis_key(diff_ids)
        if key is None:
            return None
        return self.root / f"analysis-{key}.{INDEX_FORMAT}.analysis", f"analysis:{key}"

    def get_analysis(
        self, diff_ids: Sequence[str]
    ) -> tuple[DiveEfficiency, Reclaimable, list[Finding]] | None:
        """The cached analysis of the image made of layers `diff_ids` (in this order), or
        None (a bad entry is deleted: a miss)."""
        found = self._analysis_path(diff_ids)
        if found is None:
            return None
        path, key = found
        payload = self._read(path, KIND_ANALYSIS, key)
        if payload is None:
            self.stats.misses += 1
            return None
        try:
            analysis = decode_analysis(payload)
        except ValueError:
            self._discard(path)
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return analysis

    def put_analysis(
        self,
        diff_ids: Sequence[str],
        efficiency: DiveEfficiency,
        reclaimable: Reclaimable,
        findings: Sequence[Finding] = (),
    ) -> bool:
        found = self._analysis_path(diff_ids)
        if found is None:
            return False
        path, key = found
        try:
            payload = encode_analysis(efficiency, reclaimable, findings)
        except (OverflowError, TypeError):
            return False
        rows = len(efficiency.rows) + len(reclaimable.rows)
        return self._write(path, KIND_ANALYSIS, key, payload, rows, 0)

    # -- listing, size, clearing -----------------------------------------------------------
    def entries(self, details: bool = True) -> list[CacheEntry]:
        """Every entry, most recently used first (`details`: read each header too)."""
        out = []
        for name, st in self._scan():
            if name.startswith(_TMP_PREFIX):
                continue
            if not stat.S_ISREG(st.st_mode):  # planted under an entry's name: never read
                out.append(CacheEntry(name, "invalid", "", st.st_size, st.st_mtime))
                continue
            m = _LAYER_NAME.match(name)
            mi = _IMAGE_NAME.match(name)
            ma = _ANALYSIS_NAME.match(name)
            if m:
                kind = "layer" if int(m.group(3)) == INDEX_FORMAT else "stale"
                entry = CacheEntry(name, kind, f"{m.group(1)}:{m.group(2)}", st.st_size, 0.0)
            elif mi:
                kind = "image" if int(mi.group(4)) == INDEX_FORMAT else "stale"
                key = f"{mi.group(2)}:{mi.group(3)}"
                entry = CacheEntry(name, kind, key, st.st_size, 0.0, source=mi.group(1))
            elif ma:
                kind = "analysis" if int(ma.group(2)) == INDEX_FORMAT else "stale"
                entry = CacheEntry(name, kind, ma.group(1), st.st_size, 0.0)
            elif mf := FILE_NAME.match(name):
                kind = mf.group(3) if int(mf.group(2)) == INDEX_FORMAT else "stale"
                entry = CacheEntry(name, kind, f"sha256:{mf.group(1)}", st.st_size, 0.0)
            else:
                continue  # not ours: never listed, never deleted
            entry.last_used = st.st_mtime
            if details and entry.kind == "layer":
                header = self._header(self.root / name)
                if header is not None:
                    entry.entries, entry.tar_size = header[5], header[6]
                    entry.verified = bool(header[3] & VERIFIED)
            elif details and entry.kind == "analysis":
                header = self._header(self.root / name)
                if header is not None:
                    entry.entries = header[5]
            out.append(entry)
        out.sort(key=lambda e: e.last_used, reverse=True)
        return out

    def size(self) -> int:
        """Bytes on disk, temp files of writers in progress included."""
        return sum(st.st_size for _name, st in self._scan())

    def clear(self) -> tuple[int, int]:
        """Delete every entry, stray temp file, and whatever else is there under an entry's
        name (a link is removed, never followed): (entries removed, bytes freed)."""
        count = freed = 0
        for name, st in self._scan():
            if cachefs.remove(self.root / name, st):
                freed += st.st_size
                if not name.startswith(_TMP_PREFIX):
                    count += 1
        return count, freed

    def evict(self, keep: Path | None = None) -> int:
        """Delete least recently used entries until the total is under the cap; returns the
        number deleted. Temp files older than an hour (a killed writer's) go too."""
        now = time.time()
        items = []
        total = 0
        for name, st in self._scan():
            if not stat.S_ISREG(st.st_mode):
                cachefs.remove(self.root / name, st)  # never an entry: a link, a FIFO...
                continue
            if name.startswith(_TMP_PREFIX):
                if now - st.st_mtime > _STALE_TMP:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.root / name)
                    continue
                total += st.st_size  # counted, never evicted: a writer is at work
                continue
            total += st.st_size
            items.append((st.st_mtime_ns, name, st.st_size))
        self._total = total
        if total <= self.cap:
            return 0
        items.sort()
        removed = 0
        for _mtime, name, size in items:
            if total <= self.cap:
                break
            if keep is not None and name == keep.name:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.root / name)
                removed += 1
            total -= size
        self._total = total
        return removed

    # -- files ------------------------------------------------------------------------------
    @staticmethod
    def _ours(name: str) -> bool:
        return (
            name.startswith(_TMP_PREFIX)
            or _LAYER_NAME.match(name) is not None
            or _IMAGE_NAME.match(name) is not None
            or _ANALYSIS_NAME.match(name) is not None
            or FILE_NAME.match(name) is not None
        )

    def _scan(self) -> Iterator[tuple[str, os.stat_result]]:
        """Whatever is in the directory under one of our names (links not followed)."""
        for name, st in cachefs.scan(self.root):
            if self._ours(name):
                yield name, st

    def _header(self, path: Path) -> tuple[Any, ...] | None:
        opened = cachefs.open_entry(path)
        if opened is None:
            return None
        with opened[0] as f:
            try:
                raw = f.read(HEADER_SIZE)
            except OSError:
                return None
        if len(raw) != HEADER_SIZE:
            return None
        fields = _HEADER.unpack(raw)
        return fields if fields[0] == MAGIC else None

    def _read(self, path: Path, kind: int, key: str, flags: int = 0) -> bytes | None:
        """The checked payload of the entry at `path` (with all of `flags`), or None."""
        opened = cachefs.open_entry(path) if self.usable() else None
        if opened is None:
            return None  # absent, not a private file of ours, or the directory is not
        f, st = opened
        try:
            raw = f.read(HEADER_SIZE)
            ok = len(raw) == HEADER_SIZE
            if ok:
                magic, fmt, kind_, has_flags, schema, _n, _tar, length, check, keyhash = (
                    _HEADER.unpack(raw)
                )
                if magic == MAGIC and has_flags & flags != flags:
                    return None  # a good entry, but not good enough for this caller
                ok = (
                    magic == MAGIC
                    and fmt == INDEX_FORMAT
                    and kind_ == kind
                    and (schema == SCHEMA or kind != KIND_LAYER)
                    and (schema == ANALYSIS_SCHEMA or kind != KIND_ANALYSIS)
                    and keyhash == hashlib.sha256(key.encode()).digest()
                    and st.st_size == HEADER_SIZE + length
                )
            payload = f.read(length + 1) if ok else b""
            ok = ok and len(payload) == length and xxhash.xxh3_128_digest(payload) == check
        except OSError:
            return None
        finally:
            f.close()
        if not ok:
            self._discard(path, st)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # last use, for eviction
        return payload

    def _discard(self, path: Path, st: os.stat_result | None = None) -> None:
        """Delete a bad entry, unless another instance has just replaced it with a new one."""
        self.stats.discarded += 1
        with contextlib.suppress(OSError):
            if st is not None and os.lstat(path).st_ino != st.st_ino:
                return
            os.unlink(path)

    def _write(
        self,
        path: Path,
        kind: int,
        key: str,
        payload: bytes,
        entries: int,
        tar_size: int,
        flags: int = 0,
    ) -> bool:
        if HEADER_SIZE + len(payload) > self.cap:
            return False  # would be evicted at once
        header = _HEADER.pack(
            MAGIC,
            INDEX_FORMAT,
            kind,
            flags,
            {KIND_LAYER: SCHEMA, KIND_ANALYSIS: ANALYSIS_SCHEMA}.get(kind, 0),
            entries,
            tar_size,
            len(payload),
            xxhash.xxh3_128_digest(payload),
            hashlib.sha256(key.encode()).digest(),
        )
        if not self.usable(create=True):
            return False
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.root)
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(payload)
            os.replace(tmp, path)
            tmp = None
        except OSError:
            return False  # a cache that cannot be written is no cache, not an error
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        self.stats.writes += 1
        # A scan per write would cost a stat of every entry each time (an image of 100 layers
        # in a cache of thousands): scan once, then again only when this instance's own
        # writes could have crossed the cap (another instance's writes are its own to evict).
        if self._total is not None:
            self._total += HEADER_SIZE + len(payload)
        if self._total is None or self._total > self.cap:
            with contextlib.suppress(OSError):
                self.evict(keep=path)
        return True
