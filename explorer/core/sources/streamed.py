"""One forward pass over an image tar: an engine's export, or a compressed archive."""

from __future__ import annotations

import io
import posixpath
import threading
from collections.abc import Callable, Iterator
from typing import Any

from explorer.core import tarscan
from explorer.core.cache import LayerCache
from explorer.core.errors import Cancelled, ImageError
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex, index_layer
from explorer.core.sources.blobs import (
    BLOB,
    MAX_JSON,
    MAX_KEPT,
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
from explorer.core.streams import Readable, compression_of, open_layer


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


def _metadata_name(name: str) -> bool:
    """Members that hold image metadata by their name: docker-archive's `manifest.json`,
    `repositories` and `<id>.json` configs, legacy `<v1id>/json`, OCI's `index.json` and
    `oci-layout`. (A content-addressed blob can be metadata or a layer: its content tells.)"""
    if "/" not in name:
        return name.endswith(".json") or name in ("oci-layout", "repositories")
    return name.count("/") == 1 and name.endswith("/json")


class StreamedArchive:
    """One forward pass over an image tar (an engine's export, a compressed archive, a pipe):
    indexes every member that is a layer as it passes, and reports each layer's diff_id
    (sha256 of its uncompressed tar) so callers can place it before the manifest, which
    often comes last, has been seen.

    Members are told apart by name and position, never by their first byte: metadata names
    (`_metadata_name`) are kept whole, as bytes; `<v1id>/layer.tar` and any other member that
    is compressed or a tar are layers; of what is left, blobs and top-level members (a config,
    a manifest, an index — or an empty layer) are kept as bytes too, the rest passed over
    (no layout names them). Kept bytes are parsed only
    when the image's layout asks for them; they are capped (`MAX_JSON` each, `MAX_KEPT` in
    all) so that an archive full of small members cannot fill memory.

    With a cache, a layer member whose diff_id is known before it is read is skipped over
    without parsing when the cache has it: in an engine's export (the engine's own diff_ids
    are `expected`), a blob named by its digest, an export member name learnt from an earlier
    export (`aliases`), or, in the legacy format, the bottom of a v1 parent chain; in an
    archive file (whose config only claims diff_ids), a member at an offset whose bytes
    hashed to it before in this same unchanged file (`proofs`), or a blob whose diff_id was
    verified when it was first read (its stored bytes are hashed to match its name). Never
    with --verify, nor for a stream read once (`reuse` off). Fresh indexes are cached under
    the diff_id computed from their bytes."""

    def __init__(
        self,
        path: str | None,
        platform: str | None,
        stream: Readable | None = None,
        cache: LayerCache | None = None,
        expected: list[str] | None = None,
        aliases: dict[str, str] | None = None,
        preloaded: dict[str, LayerIndex] | None = None,
        verified_only: bool = True,
        reuse: bool = True,
        proofs: Proofs | None = None,
    ):
        self.path = path
        self.where = path or "export stream"
        self.platform = platform
        self._stream = stream
        self._kept: dict[str, bytes] = {}  # metadata candidates, unparsed
        self._kept_bytes = 0
        self._oversized: set[str] = set()  # candidates too large to be metadata
        self._parsed: dict[str, Any] = {}
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
        self.reuse = reuse  # skip layers the cache holds (a stream read once: never)
        self.skipped: set[str] = set()  # layer members served from the cache, not indexed
        self.proofs = proofs

    def _depth(self, name: str) -> int | None:
        """How many layers lie below the legacy member `<v1id>/layer.tar`, from the `parent`
        links of the v1 `json` members seen so far (None while a link is missing)."""
        if not name.endswith("/layer.tar"):
            return None
        v1id, depth = name[: -len("/layer.tar")], 0
        while depth <= 4096:
            try:
                info = self._read_json(f"{v1id}/json") if self._has(f"{v1id}/json") else None
            except ImageError:
                return None
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
        if not self.reuse or (self.cache is None and not self.preloaded):
            return None
        if self.cache is not None and self.cache.verify:
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

    def _keep(self, name: str, member: Readable, size: int) -> None:
        """Keep a member that may be metadata, whole, within the caps."""
        if size > MAX_JSON:
            self._oversized.add(name)
            return  # the rest is skipped by iter_headers
        data = member.read()
        self._kept_bytes += len(data) + 512  # its header: a bound on what one costs
        if self._kept_bytes > MAX_KEPT:
            raise ImageError(
                f"{self.where}: more than {MAX_KEPT / (1 << 20):g} MiB of small members that "
                f"are not layers (at {name}): not a container image"
            )
        self._kept[name] = data
        self._oversized.discard(name)
        self._parsed.pop(name, None)

    def _index(
        self,
        name: str,
        raw: Readable,
        progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None,
    ) -> tuple[str, LayerIndex]:
        """Index a layer member: its blob digest checked, its diff_id computed, cached."""
        where = f"{self.where}: {name}"
        stored = Sha256Reader(raw)
        stream, kind = open_layer(stored, where)
        hashing = stored if kind == "none" else Sha256Reader(stream)
        index = index_layer(stream if kind == "none" else hashing, where, progress, cancel)
        drain(stream if kind == "none" else hashing)
        stored.drain()
        verify_digest(blob_digest(name), stored.sha, where, "blob")
        diff_id = "sha256:" + hashing.sha.hexdigest()
        if self.cache is not None:  # hashed: keyed by what it is
            self.cache.put(diff_id, index, where, verified=True)
            learn_blob(self.cache, blob_digest(name), diff_id)
        self.indexes[name] = index
        self.diff_ids[name] = diff_id
        return diff_id, index

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
                if _metadata_name(name):
                    self._keep(name, member, h.stored)
                    continue
                head = member.read(min(h.stored, 512))
                layer = name.endswith("/layer.tar") or name in self.aliases
                if not (layer or compression_of(head) != "none" or _looks_like_tar(head)):
                    if "/" not in name or BLOB.match(name):  # a config, manifest, index?
                        self._keep(name, Prepend(head, member), h.stored)
                    continue
                where = f"{self.where}: {name}"
                known = self._cached(name, where, h)
                if known is not None:  # the rest is read past, unparsed
                    diff_id, index, by_name = known
                    self.skipped.add(name)
                    # A blob known by its name only: its bytes must still match the name.
                    blob = Sha256Reader(Prepend(head, member)) if by_name else None
                    _skip_member(blob or member, len(index), progress, cancel)
                    if blob is not None and self.proofs is not None:
                        verify_digest(blob_digest(name), blob.sha, where, "blob")
                        self.proofs.learn(h.offset, h.stored, diff_id)
                    self.indexes[name] = index
                    self.diff_ids[name] = diff_id
                else:
                    raw = Prepend(head, member)
                    diff_id, index = self._index(name, raw, progress, cancel)
                    if self.proofs is not None:
                        self.proofs.learn(h.offset, h.stored, diff_id)
                yield name, diff_id, index
                # anything else is skipped by iter_headers
        finally:
            outer.close()

    def _read_json(self, name: str) -> Any:
        name = self.links.get(name, name)
        if name in self._parsed:
            return self._parsed[name]
        if name in self._oversized:
            raise ImageError(
                f"{self.where}: {name} is too large to be image metadata "
                f"(over {MAX_JSON >> 20} MiB)"
            )
        if name not in self._kept:
            raise ImageError(f"{self.where}: missing {name}")
        data = self._kept[name]
        check_json_blob(name, data, self.where)
        value = self._parsed[name] = load_json(data, f"{self.where}: {name}")
        return value

    def _has(self, name: str) -> bool:
        name = self.links.get(name, name)
        return name in self._kept or name in self._oversized

    def resolve(self, name: str, source: str) -> ImageMeta:
        self.meta, self._layer_members = resolve_layout(
            self._read_json, self._has, name, self.where, self.platform
        )
        if source:
            self.meta.source = source
        for i, member in enumerate(self._layer_members):
            target = self.links.get(member, member)
            if target not in self.indexes and target in self._kept:  # small: kept as bytes
                self._index(target, io.BytesIO(self._kept[target]), None, None)
            if target not in self.indexes:
                if target in self._oversized:
                    raise ImageError(f"{self.where}: layer {i} ({member}) is not a tar archive")
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
