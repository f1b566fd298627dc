"""The files of two compared images, for the viewer: A's layers and then B's as one stack, so
that A's final version of a path and B's are two versions of it — viewed one after the other,
or diffed (A's against B's) as the viewer diffs two versions of one image.

Each image's files are read through its own `ContentAccess` (its source opened again after
the comparison, on first use, in a worker); a layer of the stack is one of A's (0 to
`offset - 1`) or one of B's (`offset` on).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable

from explorer.core.content import ContentAccess, ContentProgress, Entry, Stream
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.sources import Source

SideOpener = tuple[Callable[[], Source], ImageMeta, list[LayerIndex]]  # (factory, meta, layers)


class PairContent:
    """A's and B's content as one stack of layers (A's first)."""

    def __init__(self, a: ContentAccess, b: ContentAccess) -> None:
        self.a, self.b = a, b
        self.offset = len(a.layers)
        self.layers: list[LayerIndex] = [*a.layers, *b.layers]

    def _side(self, layer: int) -> tuple[ContentAccess, int]:
        """The image a layer of the stack is of, and its number there."""
        return (self.a, layer) if layer < self.offset else (self.b, layer - self.offset)

    def layer_name(self, layer: int) -> str:
        """`A layer 2`, `B layer 4`: as each image numbers its layers."""
        side, n = self._side(layer)
        return f"{'A' if side is self.a else 'B'} layer {n}"

    def final_versions(self, path: str) -> list[tuple[int, int]]:
        """(layer of the stack, entry) of A's final version of `path`, then of B's: the one
        image's only for a path the other has not."""
        out = []
        for side, shift in ((self.a, 0), (self.b, self.offset)):
            found = side.visible(path)
            if found is not None:
                out.append((found.layer + shift, found.row))
        return out

    def entry(self, layer: int, path: str) -> Entry | None:
        side, n = self._side(layer)
        found = side.entry(n, path)
        return None if found is None else dataclasses.replace(found, layer=layer)

    def open_entry(self, entry: Entry) -> Stream:
        side, n = self._side(entry.layer)
        return side.open_entry(dataclasses.replace(entry, layer=n))

    def prepare(
        self,
        layers: Iterable[int],
        progress: ContentProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        for layer in layers:
            side, n = self._side(layer)
            report = None if progress is None else (lambda _n, got, at=layer: progress(at, got))
            side.prepare([n], report, cancel)

    def close(self) -> None:
        self.a.close()
        self.b.close()


def open_pair(a: SideOpener, b: SideOpener) -> PairContent:
    """Both images' content: each source opened again (the comparison closed them)."""
    sides: list[ContentAccess] = []
    for factory, meta, layers in (a, b):
        source = factory()
        try:
            source.open()
        except BaseException:
            for side in sides:
                side.close()
            raise
        sides.append(ContentAccess(source, meta, layers))
    return PairContent(sides[0], sides[1])
