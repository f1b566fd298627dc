"""Images on disk: docker-archive tars (legacy, Docker 25+, kaniko), OCI archive tars and OCI
layout directories. A plain tar is read in place (a window per member, no extraction); a
compressed outer tar, like an engine's export, is read in one streaming pass.

Layers found in the layer cache (by diff_id) are not read at all. The others are indexed by
`workers.index_jobs`.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from explorer.core import tarscan
from explorer.core.cache import LayerCache
from explorer.core.errors import Cancelled, ImageError
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.sources.base import DEFAULT_CACHE, LayerProgress, Source
from explorer.core.sources.blobs import BLOB, MAX_JSON, blob_digest, check_json_blob
from explorer.core.sources.layout import load_json, resolve_layout
from explorer.core.sources.streamed import StreamedArchive
from explorer.core.sources.workers import Job, index_jobs
from explorer.core.streams import Window, compression_of


@dataclass
class Member:
    offset: int
    size: int
    type: int
    link: str


class ArchiveSource(Source):
    def __init__(
        self,
        path: str,
        platform: str | None = None,
        kind: str = "",
        cache: LayerCache | None = DEFAULT_CACHE,
    ) -> None:
        self.path = path
        self.cache_choice = cache
        self.name = path
        self.platform = platform
        self.kind = kind
        self._members: dict[str, Member] = {}
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
                    self._members[name] = Member(h.offset, h.stored, h.type, h.linkname)

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
        check_json_blob(name, data, self.path)
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
                self.meta = self._open_streamed()
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

    def _open_streamed(self) -> ImageMeta:
        """A compressed archive: one pass reads everything (the manifest comes last). Layer
        members named by their digest, or by a name an earlier pass or an engine's export
        gave the same layer, are skipped when cached; if one of them turns out not to be the
        layer the config says, the pass is made again without skipping."""
        cache = self.cache
        aliases = cache.aliases("docker", "archive") if cache is not None else {}
        streamed = StreamedArchive(self.path, self.platform, cache=cache, aliases=aliases)
        try:
            meta = streamed.run_metadata()
            misled = any(
                streamed.diff_ids[m] not in {lm.digest for lm in meta.layers}
                for m in streamed.skipped
            )
        except ImageError:
            if not streamed.skipped:
                raise
            misled = True  # a skipped layer is not what the config says: read them all
        if misled:
            streamed = StreamedArchive(self.path, self.platform, cache=cache)
            meta = streamed.run_metadata()
        claimed = {lm.digest for lm in meta.layers}
        if cache is not None:
            members = {
                m: d
                for m, d in streamed.diff_ids.items()
                if d in claimed and m not in streamed.skipped and not BLOB.match(m)
            }
            if members:  # what names which layer, for the next pass over any such archive
                key = hashlib.sha256(repr(sorted(members.items())).encode()).hexdigest()
                cache.put_image("archive", f"sha256:{key}", {"members": members})
        self._streamed = streamed
        return meta

    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        meta = self.open()
        if self._streamed is not None:
            yield from self._streamed.layers()
            return
        cache = self.cache
        hits: dict[str, LayerIndex] = {}
        jobs: dict[str, Job] = {}
        for i, member in enumerate(self._layer_members):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            key = member if self._is_dir else self._resolve(member)
            if key in hits:
                yield i, hits[key]
                continue
            if key in jobs:
                jobs[key].layers.append(i)
                continue
            diff_id = meta.layers[i].digest
            where = f"{self.path}: layer {i} ({diff_id or member})"
            if cache is not None:
                index = cache.get(diff_id, where)
                if index is not None:  # not read at all
                    hits[key] = index
                    yield i, index
                    continue
            jobs[key] = self._job(i, member, key, where, diff_id)
        yield from index_jobs(list(jobs.values()), cache, progress, cancel)

    def _job(self, layer: int, member: str, key: str, where: str, diff_id: str) -> Job:
        if self._is_dir:
            full = self._dir_path(member)
            if not os.path.isfile(full):
                raise ImageError(f"{self.path}: missing blob {member}")
            return Job(
                [layer], full, -1, os.path.getsize(full), where, diff_id, blob_digest(member)
            )
        found = self._members.get(key)
        if found is None or found.type != tarscan.REG:
            raise ImageError(f"{self.path}: missing blob {member}")
        blob = blob_digest(member) or blob_digest(key)
        return Job([layer], self.path, found.offset, found.size, where, diff_id, blob)
