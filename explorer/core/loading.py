"""The one loading pipeline: open an image, index its layers, analyse them.

Every consumer — the TUI, `--json` / `--ci`, and every subcommand — opens images through
`load` (in the caller's thread) or `Loading` (the same, in a thread of its own, started as soon
as the target is known: a warm re-open is read while the UI toolkit is still being imported).
Both report what happens as typed events, and use the layer and analysis caches the same way:

    Opened → (Progress | LayerIndexed)* → Indexed → Analysed      a cold or partly cached open
    Opened → Complete                                             everything was in the cache
    … → Failed | Stopped                                          bad input, or cancelled
"""

from __future__ import annotations

import contextlib
import gc
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from explorer.core.analysis import (
    Analysis,
    analyze,
    cached_analysis,
    in_layer_order,
    warnings_of,
)
from explorer.core.efficiency import DiveEfficiency
from explorer.core.errors import Cancelled, ImageError
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.sources import Source

Clock = Callable[[], float]
PROGRESS_INTERVAL = 0.1  # seconds between progress events: no consumer can show more


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """The image's metadata is known (an engine's commands may still be provisional)."""

    meta: ImageMeta


@dataclass(frozen=True)
class Progress:
    """Layer `layer` is being indexed: entries and uncompressed bytes read so far (from a
    registry: the bytes of its blob downloaded so far)."""

    layer: int
    entries: int
    bytes_read: int


@dataclass(frozen=True)
class LayerIndexed:
    """A layer's index is in (layers arrive in any order; each as soon as it is read)."""

    layer: int
    index: LayerIndex


@dataclass(frozen=True)
class Indexed:
    """Every layer is indexed (the analysis may still be running)."""

    seconds: float  # from the start of the load


@dataclass(frozen=True)
class Analysed:
    analysis: Analysis
    seconds: float  # the analysis alone


@dataclass(frozen=True)
class Complete:
    """Everything at once: every layer index and the analysis came from the cache."""

    layers: list[tuple[int, LayerIndex]]  # in layer order
    index_seconds: float
    analysis: Analysis
    analysis_seconds: float


@dataclass(frozen=True)
class Failed:
    """Bad input (an ImageError: one line, no traceback) or a bug of ours (`describe`)."""

    error: Exception


@dataclass(frozen=True)
class Stopped:
    """Cancelled: what was delivered before stays valid."""


Event = Opened | Progress | LayerIndexed | Indexed | Analysed | Complete | Failed | Stopped
Emit = Callable[[Event], object]
# A consumer of dive's numbers that visits the layers itself (the `--json` export writer).
DiveConsumer = Callable[[ImageMeta, Iterable[LayerIndex]], DiveEfficiency]

TERMINAL = (Analysed, Complete, Failed, Stopped)


@dataclass
class Result:
    """What `load` returns: `analysis` is None when a `dive` consumer was given (that
    consumer computed dive's numbers, not our reclaimable bytes)."""

    meta: ImageMeta
    layers: list[LayerIndex]
    efficiency: DiveEfficiency
    analysis: Analysis | None
    warnings: list[str]


# -- the pipeline --------------------------------------------------------------------------


def load(
    factory: Callable[[], Source],
    emit: Emit,
    cancel: threading.Event,
    *,
    clock: Clock = time.perf_counter,
    started: float | None = None,
    dive: DiveConsumer | None = None,
) -> Result:
    """Open what `factory` makes, index every layer and analyse the image, emitting events
    (never Failed or Stopped: errors are raised, `Cancelled` when `cancel` is set).

    Without `dive`: the full analysis (dive's efficiency and our reclaimable bytes), read from
    the cache when this exact stack of layers was analysed before, else computed and stored.
    With `dive`: that consumer takes the layers in order and returns dive's numbers (the
    export writer walks every layer itself); layers with guessed (provisional) commands are
    all read before it starts, so it writes the exact ones."""
    started = clock() if started is None else started
    collecting = gc.isenabled()
    # Loading builds hundreds of thousands of objects, none in a cycle (freed by reference
    # counting): the cyclic collector would only interrupt it with full collections.
    gc.disable()
    source = factory()
    try:
        meta = source.open()
        emit(Opened(meta))
        if cancel.is_set():
            raise Cancelled
        cache = source.cache
        known = cached_analysis(meta, cache)
        if (
            dive is None
            and known is not None
            and cache is not None
            and all(cache.has(x.digest) for x in meta.layers)
        ):
            # A warm re-open: every index and the analysis at once, one event.
            layers = list(in_layer_order(len(meta.layers), source.index_layers(None, cancel)))
            if cancel.is_set():
                raise Cancelled
            index_seconds = clock() - started
            analysing = clock()
            warm = analyze(meta, layers, cache, known)
            warm.hidden_by_layer  # noqa: B018 - worked out here, not on a UI's thread
            emit(Complete(list(enumerate(layers)), index_seconds, warm, clock() - analysing))
            return Result(meta, layers, warm.efficiency, warm, warm.warnings)

        last = [0.0]

        def progress(layer: int, entries: int, nbytes: int) -> None:
            now = time.monotonic()  # throttling only: not shown, so not the injected clock
            if now - last[0] >= PROGRESS_INTERVAL:
                last[0] = now
                emit(Progress(layer, entries, nbytes))

        arrived: set[int] = set()

        def arriving() -> Iterator[tuple[int, LayerIndex]]:
            for n, index in source.index_layers(progress, cancel):
                arrived.add(n)
                emit(LayerIndexed(n, index))
                if len(arrived) == len(meta.layers):  # before the last one's analysis
                    emit(Indexed(clock() - started))
                if cancel.is_set():
                    raise Cancelled
                yield n, index
            if not meta.layers:
                emit(Indexed(clock() - started))

        # Each layer is analysed as soon as it and those below it are in, while worker
        # processes index the next ones; the layers are taken as they come by a thread of
        # their own, so each is reported when it is read, not when the analysis of the
        # layers below it is over.
        taken: list[LayerIndex] = []

        def ordered(items: Iterable[tuple[int, LayerIndex]]) -> Iterator[LayerIndex]:
            for index in in_layer_order(len(meta.layers), items):
                taken.append(index)
                yield index

        analysis: Analysis | None = None
        with _Taken(arriving(), cancel) as items:
            analysing = clock()
            if dive is not None:
                stream: Iterable[LayerIndex] = ordered(items)
                if meta.provisional:  # the exact commands come with the last of the export
                    stream = list(stream)
                    analysing = clock()
                efficiency = dive(meta, stream)
            else:
                analysis = analyze(meta, ordered(items), cache, known)
                efficiency = analysis.efficiency
        if cancel.is_set():
            raise Cancelled
        if analysis is None:
            return Result(meta, taken, efficiency, None, warnings_of(taken))
        analysis.hidden_by_layer  # noqa: B018 - worked out here, not on a UI's thread
        emit(Analysed(analysis, clock() - analysing))
        return Result(meta, taken, efficiency, analysis, analysis.warnings)
    finally:
        with contextlib.suppress(Exception):  # closing must not hide what happened
            source.close()
        # What was loaded stays for the session and holds no cycles: the collector need
        # never scan it again.
        gc.freeze()
        if collecting:
            gc.enable()


class Loading:
    """`load` in a thread of its own, started at once; its events wait in a queue for
    whoever reads them (`events`), or are all there once it is done (`done_events`)."""

    def __init__(self, factory: Callable[[], Source], clock: Clock = time.perf_counter) -> None:
        self.started = clock()
        self.cancel = threading.Event()
        self.error: Exception | None = None  # what ended the load, if it failed
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._open = threading.Event()  # the source is open, or the load is over
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(factory, clock), name="loading", daemon=True
        )
        self._thread.start()

    def _run(self, factory: Callable[[], Source], clock: Clock) -> None:
        try:
            load(factory, self._emit, self.cancel, clock=clock, started=self.started)
        except Cancelled:
            self._queue.put(Stopped())
        except Exception as exc:  # bad input, or a bug of ours: `describe` says which
            self.error = exc
            self._queue.put(Failed(exc))
        finally:
            self._done.set()
            self._open.set()

    def _emit(self, event: Event) -> None:
        self._queue.put(event)
        if isinstance(event, Opened):
            self._open.set()

    def wait_open(self, cancel: threading.Event) -> Exception | None:
        """Wait until the image is open (None) or could not be opened (what went wrong);
        `cancel` set first stops the load and raises Cancelled. Nothing is taken from the
        events: whoever reads them later gets them all."""
        while not self._open.wait(0.05):
            if cancel.is_set():
                self.cancel.set()
                raise Cancelled
        return self.error

    def wait(self, timeout: float | None = None) -> bool:
        """Is the load over (waiting up to `timeout` seconds for it)?"""
        return self._done.wait(timeout)

    def done_events(self) -> list[Event] | None:
        """Every event, when the load is over (never waits); None while it runs."""
        if not self._done.is_set():
            return None
        return list(self.events(self.cancel))

    def events(self, cancel: threading.Event) -> Iterator[Event]:
        """The events as they come, up to and including the last one. `cancel` set by the
        consumer stops the load (at its next check) and ends this with `Stopped` at once."""
        while True:
            try:
                event = self._queue.get(timeout=0.05)
            except queue.Empty:
                if cancel.is_set():
                    self.cancel.set()
                    yield Stopped()
                    return
                if self._done.is_set() and self._queue.empty():
                    return
                continue
            yield event
            if isinstance(event, TERMINAL):
                return


def describe(error: Exception, target: str) -> str:
    """One line for what ended a load: bad input as it says, anything else as a bug."""
    if isinstance(error, ImageError):
        return str(error)
    if isinstance(error, KeyError):  # a layer the source never produced
        return f"{target}: layer {error} was never found"
    return f"internal error: {type(error).__name__}: {error}"


T = TypeVar("T")


class _Taken(Generic[T]):
    """`items` iterated by a thread of its own as fast as they come; the `with` block
    iterates them in the same order (and gets what the thread raised). Leaving the block
    on an error sets `cancel` (the thread stops at its next check)."""

    _END = object()

    def __init__(self, items: Iterator[T], cancel: threading.Event) -> None:
        self._items = items
        self._cancel = cancel
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._take, name="layers-taken", daemon=True)

    def _take(self) -> None:
        try:
            for item in self._items:
                self._queue.put(item)
        except BaseException as exc:  # handed to the consumer
            self._queue.put(exc)
        else:
            self._queue.put(self._END)

    def _taken(self) -> Iterator[T]:
        while (item := self._queue.get()) is not self._END:
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._taken()

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self._thread.join()  # it has handed everything over: it is ending
            return
        self._cancel.set()
        # A read stuck on a stalled engine would never see the flag: closing the source
        # (the caller's next step) ends it then.
        self._thread.join(timeout=2)
