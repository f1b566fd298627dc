"""Opening an image: its source and metadata and, when the layer cache holds every layer and
the analysis of this stack, all of it read from the cache.

`Opening` does it in a thread of its own, started as soon as the command line knows what to
open: a warm re-open is read while the UI toolkit is still being imported, and the first
screen shows the whole image at once.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from explorer.core.analysis import Analysis, analyze, cached_analysis, in_layer_order
from explorer.core.cache import LayerCache
from explorer.core.efficiency import DiveEfficiency, Reclaimable
from explorer.core.errors import Cancelled
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.sources import Source

Clock = Callable[[], float]


@dataclass
class Loaded:
    """Everything about an image, read from the cache."""

    layers: list[tuple[int, LayerIndex]]  # in layer order
    index_seconds: float  # from the start of the opening
    analysis: Analysis
    analysis_seconds: float


@dataclass
class Opened:
    source: Source  # open: the caller closes it
    meta: ImageMeta
    cache: LayerCache | None
    known: tuple[DiveEfficiency, Reclaimable] | None  # the cached analysis of these layers
    loaded: Loaded | None = None  # set when every layer was in the cache too


def open_image(
    factory: Callable[[], Source],
    cancel: threading.Event,
    clock: Clock = time.perf_counter,
    started: float | None = None,
) -> Opened:
    """Open the source `factory` makes; load everything when the cache holds it all."""
    started = clock() if started is None else started
    source = factory()
    try:
        meta = source.open()
        cache = source.cache
        known = cached_analysis(meta, cache)
        opened = Opened(source, meta, cache, known)
        if known is None or cache is None or not all(cache.has(x.digest) for x in meta.layers):
            return opened
        # Hundreds of thousands of objects, none in a cycle: the cyclic collector would only
        # interrupt the loading with full collections; what is loaded stays for the session.
        collecting = gc.isenabled()
        gc.disable()
        try:
            # A cached entry that turns out unreadable is indexed here from the image after
            # all (the source falls back on its own): rare, and the result is the same.
            layers = list(in_layer_order(len(meta.layers), source.index_layers(None, cancel)))
            if cancel.is_set():
                raise Cancelled
            index_seconds = clock() - started
            analysing = clock()
            analysis = analyze(meta, layers, cache, known)
            analysis.hidden_by_layer  # noqa: B018 - worked out here, not on the UI's thread
            batch = list(enumerate(layers))
            opened.loaded = Loaded(batch, index_seconds, analysis, clock() - analysing)
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
        return opened
    except BaseException:
        source.close()
        raise


class Opening:
    """`open_image` in a thread of its own, started at once."""

    def __init__(self, factory: Callable[[], Source], clock: Clock = time.perf_counter) -> None:
        self.started = clock()
        self._factory = factory
        self._clock = clock
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._opened: Opened | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="opening", daemon=True).start()

    def _run(self) -> None:
        opened = error = None
        try:
            opened = open_image(self._factory, self._cancel, self._clock, self.started)
        except BaseException as exc:  # handed to whoever waits
            error = exc
        with self._lock:
            self._opened, self._error = opened, error
            self._done.set()
            abandoned = self._cancel.is_set()
        if abandoned and opened is not None:
            opened.source.close()  # whoever waited has gone: nobody else will

    def ready(self) -> Opened | None:
        """What was opened, if that is done and went well (never waits)."""
        return self._opened if self._done.is_set() else None

    def wait(self, cancel: threading.Event) -> Opened:
        """What was opened (or what went wrong, raised). Cancelled when `cancel` is set
        first: the opening stops at its next check and closes what it opened."""
        while not self._done.wait(0.05):
            if cancel.is_set():
                with self._lock:
                    if not self._done.is_set():
                        self._cancel.set()
                        raise Cancelled
        if self._error is not None:
            raise self._error
        assert self._opened is not None
        return self._opened
