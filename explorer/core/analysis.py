"""Everything computed from an image's layer indexes, headless."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from explorer.core.efficiency import DiveEfficiency, Reclaimable, dive_efficiency, reclaimable
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.sources import LayerProgress, Source


@dataclass
class Analysis:
    meta: ImageMeta
    layers: list[LayerIndex]
    efficiency: DiveEfficiency
    reclaimable: Reclaimable

    @property
    def warnings(self) -> list[str]:
        return [w for layer in self.layers for w in layer.warnings]


def in_layer_order(count: int, indexed: Iterable[tuple[int, LayerIndex]]) -> Iterator[LayerIndex]:
    """Layers 0..count-1 in order, from (layer, index) pairs arriving in any order: a
    consumer can start on layer 0 while later layers are still being indexed."""
    early: dict[int, LayerIndex] = {}
    n = 0
    for i, index in indexed:
        early[i] = index
        while n in early:
            yield early.pop(n)
            n += 1
    if n < count:
        raise KeyError(n)  # a source that never produced a layer: a bug of the source


def index_all(
    source: Source,
    progress: LayerProgress | None = None,
    cancel: threading.Event | None = None,
) -> tuple[ImageMeta, list[LayerIndex]]:
    meta = source.open()
    return meta, list(in_layer_order(len(meta.layers), source.index_layers(progress, cancel)))


def analyze(meta: ImageMeta, layers: list[LayerIndex]) -> Analysis:
    return Analysis(meta, layers, dive_efficiency(layers), reclaimable(layers))
