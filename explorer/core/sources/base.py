"""What every image source is: `Source`, and how a source finds the layer cache."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from explorer.core.cache import LayerCache
from explorer.core.cachesettings import default_cache
from explorer.core.errors import ImageError
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex

LayerProgress = Callable[[int, int, int], None]  # (layer, entries, bytes)


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT_CACHE"


DEFAULT_CACHE: Any = _Default()  # "the process-wide cache": see cachesettings.default_cache


def resolve_cache(cache: LayerCache | _Default | None, path: str = "") -> LayerCache | None:
    return default_cache(path) if isinstance(cache, _Default) else cache


class Source:
    """Where an image comes from. `open` is cheap (metadata only); `index_layers` does the
    heavy work and yields each layer's index as soon as it is ready, in any order."""

    name: str = ""
    path: str = ""  # an archive's path ("" for an engine)
    cache_choice: LayerCache | _Default | None = None  # given to the constructor

    @property
    def cache(self) -> LayerCache | None:
        """The layer cache this source reads and fills: None with --no-cache, for the
        bundled sample, or when none was given."""
        return resolve_cache(self.cache_choice, self.path)

    def open(self) -> ImageMeta:
        raise NotImplementedError

    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        raise NotImplementedError

    def layer_blob(self, layer: int) -> tuple[str, int, int, str] | None:
        """Where layer `layer`'s blob lies, to be read in place: (file, offset — -1 for the
        whole file —, size, blob digest or ""); None when this source cannot hand out one
        layer (then `image_stream`). Only after `open`."""
        return None

    def image_stream(self) -> BinaryIO:
        """The whole image tar again, uncompressed, front to back (an engine's export, a
        compressed archive): what the content store keeps layers from."""
        raise ImageError(
            f"{self.name}: an image read from a pipe cannot be read again for its files: "
            "save it to a file first"
        )

    def close(self) -> None:
        """Release what the source holds (sockets, files)."""
