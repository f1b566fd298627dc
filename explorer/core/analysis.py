"""Everything computed from an image's layer indexes, headless."""

from __future__ import annotations

import threading
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


def index_all(
    source: Source,
    progress: LayerProgress | None = None,
    cancel: threading.Event | None = None,
) -> tuple[ImageMeta, list[LayerIndex]]:
    meta = source.open()
    found: dict[int, LayerIndex] = {}
    for i, index in source.index_layers(progress, cancel):
        found[i] = index
    return meta, [found[i] for i in range(len(meta.layers))]


def analyze(meta: ImageMeta, layers: list[LayerIndex]) -> Analysis:
    return Analysis(meta, layers, dive_efficiency(layers), reclaimable(layers))
