"""One forward pass over an image tar: an engine's export, or a compressed archive."""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from explorer.core import tarscan
from explorer.core.cache import LayerCache
from explorer.core.errors import Cancelled, ImageError
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex, index_layer
from explorer.core.sources.blobs import (
    BLOB,
    MAX_JSON,
    MemberReader,
    Prepend,
    Sha256Reader,
    blob_digest,
    check_json_blob,
    drain,
    verify_digest,
)
from explorer.core.sources.layout import load_json, resolve_layout
from explorer.core.sources.proofs import Proofs, blob_diff_id, learn_blob
from explorer.core.streams import compression_of, open_layer


def _skip_member(
    member: Any,
    entries: int,
    progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
) -> None:
    """Read past a member of a stream that cannot seek (an engine's export sends a cached
    layer all the same), still reporting progress and answering cancel."""
    done = 0
    while chunk := member.read(8 << 20):
        done += len(chunk)
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if progress is not None:
            progress(entries, done)


def _looks_like_tar(head: bytes) -> bool:
    if len(head) < 512:
        return False
    block = head[:512]
    return block[257:262] == b"ustar" or tarscan._checksum_ok(block)


class StreamedArchive:
    """One forward pass over an image tar (an engine's export, or a compressed archive):
    keeps the small JSON members, indexes every member that is a layer as it passes, and
    reports each layer's diff_id (sha256 of its uncompressed tar) so callers can place it
    before the manifest, which comes last, has been seen.

    With a cache, a layer member whose diff_id is known before it is read is skipped over
    without parsing when the cache has it: in an engine's export (the engine's own diff_ids
    are `expected`), a blob named by its digest, an export member name learnt from an earlier
    export (`aliases`), or, in the legacy format, the bottom of a v1 parent chain; in an
    archive file (whose config only claims diff_ids), a member at an offset whose bytes
    hashed to it before in this same unchanged file (`proofs`), or a blob whose diff_id was
    verified when it was first read (its stored bytes are hashed to match its name). Never
    with --verify. Fresh indexes are cached under the diff_id computed from their bytes."""

    def __init__(
        self,
        path: str | None,
        platform: str | None,
        stream: BinaryIO | None = None,
        cache: LayerCache | None = None,
        expected: list[str] | None = None,
        aliases: dict[str, str] | None = None,
        preloaded: dict[str, LayerIndex] | None = None,
        verified_only: bool = True,
        proofs: Proofs | None = None,
    ):
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
        self.cache = cache
        self.expected = expected
        self.aliases = aliases or {}
        self.preloaded = preloaded if preloaded is not None else {}
        self.verified_only = verified_only  # use only cache entries whose bytes were hashed
        self.skipped: set[str] = set()  # layer members served from the cache, not indexed
        self.proofs = proofs

    def _depth(self, name: str) -> int | None:
        """How many layers lie below the legacy member `<v1id>/layer.tar`, from the `parent`
        links of the v1 `json` members seen so far (None while a link is missing)."""
        if not name.endswith("/layer.tar"):
            return None
        v1id, depth = name[: -len("/layer.tar")], 0
        while depth <= 4096:
            info = self.json.get(f"{v1id}/json")
            if not isinstance(info, dict):
                return None
            parent = info.get("parent")
            if not parent:
                return depth
            if not isinstance(parent, str):
                return None
            v1id, depth = parent, depth + 1
        return None

    def _identify(self, name: str) -> str | None:
        """The diff_id of layer member `name` before reading it, when that can be known."""
        candidates = []
        if name in self.aliases:
            candidates.append(self.aliases[name])
        m = BLOB.match(name)
        if m:
            candidates.append(f"{m.group(1)}:{m.group(2)}")
        if self.expected is not None:
            depth = self._depth(name)
            if depth is not None and depth < len(self.expected):
                candidates.append(self.expected[depth])
        for diff_id in candidates:
            if self.expected is None or diff_id in self.expected:
                return diff_id
        return None

    def _cached(
        self, name: str, where: str, h: tarscan.TarHeader
    ) -> tuple[str, LayerIndex, bool] | None:
        """(diff_id, cached index, whether the member's bytes must still be hashed to match
        its blob name) for a member that need not be indexed, else None."""
        if (self.cache is None and not self.preloaded) or (self.cache and self.cache.verify):
            return None
        by_name = False
        if self.expected is not None:  # the engine's export: its own diff_ids
            diff_id = self._identify(name)
        elif self.proofs is not None:  # an archive's: only bytes hashed before
            diff_id = self.proofs.get(h.offset, h.stored)
            if diff_id is None and BLOB.match(name):
                diff_id, by_name = blob_diff_id(self.cache, blob_digest(name)), True
        else:
            diff_id = None
        if diff_id is None:
            return None
        index = self.preloaded.get(diff_id)
        if index is None and self.cache is not None:
            index = self.cache.get(diff_id, where, verified=self.verified_only)
        return None if index is None else (diff_id, index, by_name)

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
                member = MemberReader(reader, h.stored)
                head = member.read(min(h.stored, 512))
                where = f"{self.where}: {name}"
                if head[:1] in (b"{", b"[") and h.stored <= MAX_JSON:
                    data = head + member.read()
                    check_json_blob(name, data, self.where)
                    self.json[name] = load_json(data, where)
                elif compression_of(head) != "none" or _looks_like_tar(head):
                    known = self._cached(name, where, h)
                    if known is not None:  # the rest is read past, unparsed
                        diff_id, index, by_name = known
                        self.skipped.add(name)
                        # A blob known by its name only: its bytes must still match the name.
                        blob = Sha256Reader(Prepend(head, member)) if by_name else None  # type: ignore[arg-type]
                        _skip_member(blob or member, len(index), progress, cancel)
                        if blob is not None and self.proofs is not None:
                            verify_digest(blob_digest(name), blob.sha, where, "blob")
                            self.proofs.learn(h.offset, h.stored, diff_id)
                    else:
                        stored = Sha256Reader(Prepend(head, member))  # type: ignore[arg-type]
                        stream, kind = open_layer(stored, where)  # type: ignore[arg-type]
                        hashing = stored if kind == "none" else Sha256Reader(stream)
                        index = index_layer(
                            stream if kind == "none" else hashing, where, progress, cancel
                        )
                        drain(stream if kind == "none" else hashing)
                        stored.drain()
                        verify_digest(blob_digest(name), stored.sha, where, "blob")
                        diff_id = "sha256:" + hashing.sha.hexdigest()
                        if self.cache is not None:  # hashed: keyed by what it is
                            self.cache.put(diff_id, index, where, verified=True)
                            learn_blob(self.cache, blob_digest(name), diff_id)
                        if self.proofs is not None:
                            self.proofs.learn(h.offset, h.stored, diff_id)
                    self.indexes[name] = index
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
        for i, member in enumerate(self._layer_members):
            target = self.links.get(member, member)
            if target not in self.indexes:
                raise ImageError(f"{self.where}: missing blob {member}")
            expected = self.meta.layers[i].digest
            if self.diff_ids.get(target) != expected and expected.startswith("sha256:"):
                raise ImageError(
                    f"{self.where}: layer {i} ({member}) does not match the config's diff_id "
                    f"{expected} (it hashes to {self.diff_ids.get(target)})"
                )
        return self.meta

    def run_metadata(self) -> ImageMeta:
        for _ in self.walk():
            pass
        return self.resolve(self.where, "docker-archive")

    def layers(self) -> Iterator[tuple[int, LayerIndex]]:
        for i, member in enumerate(self._layer_members):
            yield i, self.indexes[self.links.get(member, member)]
