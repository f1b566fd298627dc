"""Images read from a pipe (`/dev/stdin`, a shell's `<(…)`, a FIFO): what cannot seek, nor be
read twice, is read in one forward pass — no sniffing that would consume its start, no copy
on disk."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from explorer.core.cache import LayerCache
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.sources.base import DEFAULT_CACHE, LayerProgress, Source
from explorer.core.sources.streamed import StreamedArchive


class PipeSource(Source):
    """An image tar (plain or compressed: docker-archive, OCI archive) from a pipe. Opening it
    reads it all: every layer is indexed (and cached, under the diff_id its bytes hash to) as
    it passes; the layer cache is not used to skip any, since skipped bytes are never read."""

    def __init__(
        self,
        path: str,
        platform: str | None = None,
        kind: str = "",
        cache: LayerCache | None = DEFAULT_CACHE,
    ) -> None:
        self.path = path
        self.name = path
        self.platform = platform
        self.kind = kind
        self.cache_choice = cache
        self.meta: ImageMeta | None = None
        self._streamed: StreamedArchive | None = None

    def open(self) -> ImageMeta:
        if self.meta is not None:
            return self.meta
        with open(self.path, "rb") as pipe:
            streamed = StreamedArchive(
                self.path, self.platform, pipe, cache=self.cache, reuse=False
            )
            for _ in streamed.walk():
                pass
        meta = streamed.resolve(self.path, self.kind)
        if meta.source == "oci":
            meta.source = "oci-archive"
        self._streamed, self.meta = streamed, meta
        return meta

    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        self.open()
        assert self._streamed is not None
        yield from self._streamed.layers()
