"""Images on disk: docker-archive tars (legacy, Docker 25+, kaniko), OCI archive tars and OCI
layout directories. A plain tar is read in place (a window per member, no extraction); a
compressed outer tar, like an engine's export, is read in one streaming pass.

A layer whose diff_id is in the layer cache is not indexed again, but its entry stands for
it only when these bytes were verified to be that layer before (see `proofs`): else they are
hashed first (on the worker pool, like indexing) and a mismatch is refused as a cold open
refuses it. The others are indexed by `workers.index_jobs`.
"""

from __future__ import annotations

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
from explorer.core.sources.blobs import MAX_JSON, blob_digest, check_json_blob
from explorer.core.sources.layout import load_json, resolve_layout
from explorer.core.sources.proofs import Proofs, blob_diff_id, learn_blob
from explorer.core.sources.streamed import StreamedArchive
from explorer.core.sources.workers import HASH, HASH_BLOB, Job, Run, index_jobs
from explorer.core.streams import Window, compression_of, open_layer


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
        members whose bytes were hashed before, in this same unchanged file, are read past
        unparsed and unhashed when cached (and blobs whose diff_id is known are only
        hashed); the config must still name the diff_ids they hashed to."""
        cache = self.cache
        proofs = Proofs(cache, self.path)
        streamed = StreamedArchive(self.path, self.platform, cache=cache, proofs=proofs)
        meta = streamed.run_metadata()
        proofs.save()
        self._streamed = streamed
        return meta

    def layer_blob(self, layer: int) -> tuple[str, int, int, str] | None:
        self.open()
        if self._streamed is not None:
            return None
        member = self._layer_members[layer]
        if self._is_dir:
            full = self._dir_path(member)
            return full, -1, os.path.getsize(full), blob_digest(member)
        key = self._resolve(member)
        found = self._members[key]
        return self.path, found.offset, found.size, blob_digest(member) or blob_digest(key)

    def image_stream(self) -> BinaryIO:
        stream, _ = open_layer(open(self.path, "rb"), self.path)  # noqa: SIM115 - the caller's
        return stream

    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        meta = self.open()
        if self._streamed is not None:
            yield from self._streamed.layers()
            return
        cache = self.cache
        proofs: dict[str, Proofs] = {}  # by file: the archive, or each blob of an OCI dir
        run = Run(cache, {})
        trusted: dict[str, LayerIndex] = {}
        claimed: dict[str, tuple[int, str]] = {}  # blob -> the first layer that is it
        jobs: dict[str, Job] = {}
        for i, member in enumerate(self._layer_members):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            key = member if self._is_dir else self._resolve(member)
            diff_id = meta.layers[i].digest
            where = f"{self.path}: layer {i} ({diff_id or member})"
            if key in claimed and claimed[key][1] != diff_id:  # one blob, two diff_ids
                first, other = claimed[key]
                raise ImageError(
                    f"{where}: layer content does not match the config's diff_id {diff_id} "
                    f"(it is the blob of layer {first}, whose diff_id is {other})"
                )
            claimed.setdefault(key, (i, diff_id))
            if key in trusted:
                yield i, trusted[key]
                continue
            if key in jobs:
                jobs[key].layers.append(i)
                continue
            job = self._job(i, member, key, where, diff_id)
            if job.path not in proofs:
                proofs[job.path] = Proofs(cache, job.path)
            index = cache.get(diff_id, where) if cache is not None else None
            if index is not None:
                if proofs[job.path].get(max(job.offset, 0), job.size) == diff_id:
                    trusted[key] = index  # these very bytes hashed to it: not read at all
                    yield i, index
                    continue
                # Cached, but these bytes are not known to be that layer: checked first.
                linked = job.blob_digest and blob_diff_id(cache, job.blob_digest) == diff_id
                job.mode = HASH_BLOB if linked else HASH
                run.held[job.slot] = index
            jobs[key] = job

        def verified(job: Job) -> None:
            proofs[job.path].learn(max(job.offset, 0), job.size, job.diff_id)
            learn_blob(cache, job.blob_digest, job.diff_id)

        run.verified = verified
        try:
            yield from index_jobs(list(jobs.values()), run, progress, cancel)
        finally:
            for known in proofs.values():
                known.save()

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
