"""Everything computed from an image's layer indexes, headless."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from explorer.core.cache import LayerCache
from explorer.core.efficiency import DiveEfficiency
from explorer.core.findings import Finding, layer_findings
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex, hardlink_warnings
from explorer.core.reclaim import Reclaimable, analyse_layers
from explorer.core.sources import LayerProgress, Source


@dataclass
class Analysis:
    meta: ImageMeta
    layers: list[LayerIndex]
    efficiency: DiveEfficiency
    reclaimable: Reclaimable
    cached: bool = False  # read from the cache, not computed
    # The findings of the layers alone (findings.layer_findings), cached with the rest;
    # findings.findings_of adds those of the config and history.
    layer_findings: list[Finding] = field(default_factory=list)

    @cached_property
    def hidden_by_layer(self) -> dict[int, int]:
        """Reclaimable bytes per layer that added them."""
        return self.reclaimable.by_layer()

    @cached_property
    def warnings(self) -> list[str]:
        return warnings_of(self.layers)


def warnings_of(layers: list[LayerIndex]) -> list[str]:
    """What indexing noticed in each layer, and the hardlinks that point nowhere."""
    return [w for layer in layers for w in layer.warnings] + hardlink_warnings(layers)


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


Known = tuple[DiveEfficiency, Reclaimable, list[Finding]]


def cached_analysis(meta: ImageMeta, cache: LayerCache | None) -> Known | None:
    """The analysis stored for this exact stack of layers (the diff_ids in order), or None.
    Needs only the metadata: it can be looked up before the layers are loaded."""
    if cache is None or not meta.layers:
        return None
    return cache.get_analysis([layer.digest for layer in meta.layers])


def analyze(
    meta: ImageMeta,
    layers: Iterable[LayerIndex],
    cache: LayerCache | None = None,
    known: Known | None = None,
) -> Analysis:
    """dive's efficiency, our reclaimable bytes and the layers' findings. With a cache: read
    from it when this exact stack of layers was analysed before (or taken from `known`, what
    `cached_analysis` found earlier), else computed and stored there. `layers` may still be
    arriving (bottom up): each is analysed as soon as it is there."""
    if known is None:
        known = cached_analysis(meta, cache)
    indexes: list[LayerIndex] = []

    def kept() -> Iterator[LayerIndex]:
        for layer in layers:
            indexes.append(layer)
            yield layer

    if known is not None:
        indexes.extend(layers)
        efficiency, ours, findings = known
    else:
        efficiency, ours = analyse_layers(kept())
        findings = layer_findings(indexes, ours)
    if len(indexes) != len(meta.layers):
        raise ValueError(f"{len(indexes)} layer indexes for {len(meta.layers)} layers")
    analysis = Analysis(meta, indexes, efficiency, ours, known is not None, findings)
    # Not stored when a rule failed: the next open tries again.
    failed = any(f.rule == "rule-error" for f in findings)
    if known is None and cache is not None and meta.layers and not failed:
        cache.put_analysis([layer.digest for layer in meta.layers], efficiency, ours, findings)
    return analysis
