"""The background job: open the source, index every layer, analyse. Blocking I/O, run in a
thread worker; it only reports through `post` (thread-safe `post_message`)."""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Generic, TypeVar, cast

from textual.message import Message

from explorer.core.analysis import analyze, in_layer_order
from explorer.core.errors import Cancelled, EngineError, ImageError
from explorer.core.layerindex import LayerIndex
from explorer.core.opening import Opening
from explorer.core.sources import Source, open_source
from explorer.tui.messages import (
    AnalysisReady,
    IndexCancelled,
    IndexFailed,
    IndexFinished,
    IndexProgress,
    LayerIndexed,
    LoadedFromCache,
    SourceOpened,
)

T = TypeVar("T")

PROGRESS_INTERVAL = 0.1  # seconds between progress reports: the UI cannot show more


def hint_for(exc: Exception, target: str) -> str:
    if isinstance(exc, EngineError):
        return (
            "Start the engine (or check DOCKER_HOST / your permissions on its socket), "
            "or open a saved archive instead: layerscope IMAGE.tar"
        )
    if isinstance(exc, ImageError):
        if not os.path.exists(target.split("://", 1)[-1]) and "not found" in str(exc):
            return "Check the name with `docker images` (or pull the image first); q quits."
        return (
            f"Check that {target!r} is a complete image (docker save / skopeo copy output, "
            "an OCI layout directory, or an image reference); q quits."
        )
    return "This is a bug in LayerScope: run again with --debug for details; q quits."


def run_index(
    target: str,
    kind: str | None,
    platform: str | None,
    post: Callable[[Message], object],
    cancel: threading.Event,
    clock: Callable[[], float] = time.perf_counter,
    opener: Callable[[], Source] | None = None,
    opening: Opening | None = None,
) -> None:
    """Open, index and analyse `target` (or what `opener` returns, or take what `opening`
    opened), posting what happens. Never raises."""
    last_report = [0.0]

    def progress(layer: int, entries: int, nbytes: int) -> None:
        now = time.monotonic()  # throttling only: not shown, so not the injected clock
        if now - last_report[0] >= PROGRESS_INTERVAL:
            last_report[0] = now
            post(IndexProgress(layer, entries, nbytes))

    source = None
    collecting: bool | None = None  # was the cyclic collector on before the loading?
    try:
        if opening is None:
            opening = Opening(opener or partial(open_source, target, kind, platform), clock)
        started = opening.started
        opened = opening.wait(cancel)
        source, meta = opened.source, opened.meta
        if cancel.is_set():
            raise Cancelled
        post(SourceOpened(meta))
        if opened.loaded is not None:  # a warm re-open: everything in one message, one redraw
            post(LoadedFromCache.of(opened.loaded))
            return
        # Loading and analysing build hundreds of thousands of objects, none in a cycle
        # (freed by reference counting): the cyclic collector would only interrupt it with
        # full collections of everything the UI holds.
        collecting = gc.isenabled()
        gc.disable()
        arrived: set[int] = set()

        def arriving() -> Iterator[tuple[int, LayerIndex]]:
            for n, index in source.index_layers(progress, cancel):
                arrived.add(n)
                post(LayerIndexed(n, index))
                if len(arrived) == len(meta.layers):  # before the last one's analysis
                    post(IndexFinished(clock() - started))
                if cancel.is_set():
                    raise Cancelled
                yield n, index
            if not meta.layers:
                post(IndexFinished(clock() - started))  # nothing to index

        # Each layer is analysed as soon as it and those below it are in, while worker
        # processes index the next ones. The layers are taken as they come by a thread of
        # their own: each is shown (its tree browsable) when it is read, not when the
        # analysis of those below it is over.
        with _Taken(arriving(), cancel) as layers:
            analysing = clock()
            analysis = analyze(
                meta, in_layer_order(len(meta.layers), layers), opened.cache, opened.known
            )
        if cancel.is_set():
            raise Cancelled
        analysis.hidden_by_layer  # noqa: B018 - worked out here, not on the UI's thread
        post(AnalysisReady(analysis, clock() - analysing))
    except Cancelled:
        post(IndexCancelled())
    except ImageError as exc:
        post(IndexFailed(str(exc), hint_for(exc, target)))
    except KeyError as exc:  # a layer the source never produced
        post(IndexFailed(f"{target}: layer {exc} was never found", hint_for(ImageError(), target)))
    except Exception as exc:  # a bug of ours: one line in the app, never a traceback
        post(IndexFailed(f"internal error: {type(exc).__name__}: {exc}", hint_for(exc, target)))
    finally:
        # What was loaded stays for the session and holds no cycles: the collector need
        # never scan it again (its full collections would stall the UI).
        if collecting is not None:
            gc.freeze()
            if collecting:
                gc.enable()
        if source is not None:
            with contextlib.suppress(Exception):  # closing must not hide what happened
                source.close()


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
