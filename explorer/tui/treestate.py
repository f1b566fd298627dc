"""The file tree's state and the only code that touches the core's `TreeViewModel`.

The model's work can take long (the first view of a 100k-file layer: about a second; later
layers cost what they change), so it runs in a thread worker, and an idle worker works out
the views the user is likely to ask for next (`prefetch`), in steps that give way to the UI
(one interpreter runs both: see `prefetch`).
The UI never calls the model: it records what it wants (the layer and mode to show, and a
queue of presentation changes) and starts a worker, which applies everything pending under
one lock and returns the rows. Changes queued while a computation runs are picked up by
the same worker before it reports, so a key pressed during a long computation is never lost
and stale rows are never shown after newer ones.
"""

from __future__ import annotations

import gc
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from explorer.core.layerindex import LayerIndex
from explorer.core.treerow import Row
from explorer.core.treeview import LAYER_CHANGES, SORT_NAME, SORT_SIZE, TreeViewModel
from explorer.tui.messages import ViewReady

Op = Callable[[TreeViewModel], None]


# While a prefetch step runs, a thread that wants the interpreter gets it within this many
# seconds (Python's default is 5 ms: a key's handling waits that long each time the UI's event
# loop comes back from the terminal, dozens of times per key).
SWITCH_INTERVAL = 0.0005
# A prefetch step that spent over this share of its time waiting for the interpreter shared
# it with the UI: the prefetch then pauses (PAUSE seconds) so that the UI ends its work alone.
CROWDED = 0.25
PAUSE = 0.03


class _ShortSwitches:
    """The interpreter's switch interval lowered while any prefetch step runs (it is one
    setting for the whole process: the last step to end puts it back)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved = 0.0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if not self._running:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(SWITCH_INTERVAL)
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if not self._running:
                    sys.setswitchinterval(self._saved)


short_switches = _ShortSwitches()


def validate_filter(pattern: str) -> str | None:
    """None if `pattern` is a usable regex, else the error to show."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None


class TreeState:
    """What the tree should show, plus the model that computes it (used by one worker at a
    time, under `_lock`)."""

    def __init__(self) -> None:
        self.layers: list[LayerIndex | None] = []
        self.layer = 0
        self.mode = LAYER_CHANGES
        self.hidden: set[int] = set()
        self.filter = ""
        self.sort = SORT_NAME
        self.attributes = True
        self.keep_path = ""  # the cursor's path: the cursor stays on it across recomputes
        self._model: TreeViewModel | None = None
        self._shown: tuple[int, str] | None = None
        self._ops: deque[tuple[int, Op]] = deque()
        self._lock = threading.Lock()
        self._wanted = threading.Event()  # a view is wanted now: prefetching stops
        self._reported: tuple[int, str, int] | None = None  # the view compute() last returned
        self._preparing: tuple[int, str] | None = None  # the view the prefetch is working out
        # Presentation changes so far: views computed at another version are stale.
        self.version = 0
        self._applied = 0
        self._cache: dict[tuple[int, str, int], ViewReady] = {}

    # -- called on the UI thread ---------------------------------------------------------------
    def reset(self, layer_count: int) -> None:
        self.layers = [None] * layer_count
        # The model reads layers[0..k] only when asked for layer k, and never before they
        # are all here (see `ready`), so it can share the list while it fills in.
        self._model = TreeViewModel(self.layers)  # type: ignore[arg-type]
        self._shown = None
        self._reported = None
        self._preparing = None
        self._cache.clear()

    def add_layer(self, n: int, index: LayerIndex) -> None:
        self.layers[n] = index

    def ready(self, layer: int | None = None) -> bool:
        """Are layers 0..layer (default: the wanted one) all indexed?"""
        layer = self.layer if layer is None else layer
        return bool(self.layers) and all(ix is not None for ix in self.layers[: layer + 1])

    def show(self, layer: int, mode: str | None = None) -> None:
        self.layer = layer
        if mode is not None:
            self.mode = mode

    def toggle_kind(self, kind: int) -> None:
        self.hidden ^= {kind}
        hidden = set(self.hidden)
        self._push(lambda m: m.set_hidden(hidden))

    def set_filter(self, pattern: str) -> None:
        """`pattern` must be valid (see `validate_filter`)."""
        self.filter = pattern
        self._push(lambda m: m.set_filter(pattern))

    def toggle_sort(self) -> None:
        self.sort = SORT_SIZE if self.sort == SORT_NAME else SORT_NAME
        sort = self.sort
        self._push(lambda m: m.set_sort(sort))

    def toggle_collapse(self, row: Row) -> None:
        self._push(lambda m: m.toggle_collapse(row))

    def reveal(self, path: str) -> None:
        """Put the cursor on `path` (`/`-rooted) in the next view, the directories above it
        opened."""
        self.keep_path = path
        above = {path[:i] for i in range(1, len(path)) if path[i] == "/"}
        self._push(lambda m: m.expand(above))

    def collapse_all(self, collapse: bool) -> None:
        self._push(lambda m: m.collapse_all(collapse))

    def _push(self, op: Op) -> None:
        self.version += 1
        self._ops.append((self.version, op))

    def cached(self) -> ViewReady | None:
        """The wanted view, if it was computed before and nothing changed since."""
        return self._cache.get((self.layer, self.mode, self.version))

    # -- called in the worker ------------------------------------------------------------------
    def compute(self) -> ViewReady | None:
        """Bring the model up to date with what is wanted; None when there is nothing new to
        show (another run already did it) or the wanted layer is not indexed yet."""
        self._wanted.set()  # the prefetch loop gives way (a lock is not fair: it would not)
        with self._lock:
            self._wanted.clear()
            model = self._model
            if model is None:
                return None
            started = time.perf_counter()
            dirty = False
            while True:
                layer, mode = self.layer, self.mode
                ops = [self._ops.popleft() for _ in range(len(self._ops))]
                for version, op in ops:
                    op(model)
                    self._applied = version
                dirty = dirty or bool(ops)
                if not self.ready(layer):
                    return None
                key = (layer, mode, self._applied)
                hit = self._cache.get(key)
                if hit is not None and not self._ops:
                    if key == self._reported:
                        return None  # an earlier worker already reported it
                    self._reported = key
                    hit.cursor = find_path(hit.rows, self.keep_path)
                    return hit  # computed before
                if self._shown != (layer, mode):
                    model.set_layer(layer, mode)
                    self._shown = (layer, mode)
                    dirty = True
                if not dirty:
                    return None
                rows = model.rows()
                gc.freeze()  # see `prefetch`
                if self._ops or (self.layer, self.mode) != (layer, mode):
                    continue  # superseded while computing: go again before reporting
                cursor = find_path(rows, self.keep_path)
                view = ViewReady(layer, mode, rows, cursor, time.perf_counter() - started)
                self._remember(layer, mode, view)
                self._reported = (layer, mode, self._applied)
                return view

    def _remember(self, layer: int, mode: str, view: ViewReady) -> None:
        """Keep the views of the current presentation (revisiting a layer is instant; the
        rows are lazy, the trees are the model's anyway)."""
        version = self._applied
        cache = {k: v for k, v in self._cache.items() if k[2] == version}
        cache[(layer, mode, version)] = view
        self._cache = cache

    def prefetch(self) -> bool:
        """One step of working out a view the user is likely to ask for next (the layers
        below the wanted one, then those above, in the wanted mode; each view once, for the
        presentation of the time); False when there is none left or something is wanted now
        (the compute worker goes first).

        The UI runs on the same interpreter, one thread at a time: the steps are short (see
        `TreeViewModel.prepare_step`, the longest is one tree of a big layer), the
        interpreter switches to the UI quickly while they run, and a step that had to share
        it with the UI is followed by a pause that leaves the UI alone."""
        if self._ops or self._wanted.is_set() or not self._lock.acquire(blocking=False):
            return False
        try:
            started, cpu = time.perf_counter(), time.thread_time()
            worked = self._prefetch_step()
            took = time.perf_counter() - started
            waited = took - (time.thread_time() - cpu)
        finally:
            self._lock.release()
        if worked and waited > CROWDED * took:
            self._wanted.wait(PAUSE)  # a view wanted meanwhile ends the pause
        return worked

    def _prefetch_step(self) -> bool:
        model, layer, mode = self._model, self.layer, self.mode
        if model is None or self._shown != (layer, mode) or self._ops:
            return False
        count = len(self.layers)
        for n in [*range(layer + 1, count), *range(layer - 1, -1, -1)]:
            if not self.ready(n) or (model.has_view(n, mode) and self._preparing != (n, mode)):
                continue
            with short_switches():
                worked = model.prepare_step(n, mode)
            self._preparing = (n, mode) if worked else None
            if worked:
                # The views are kept for good and hold no cycles: out of the cyclic
                # collector's sight, or its full collections rescan every node of every
                # view (a third of a second each on a 100k-file image, on the UI's time).
                gc.freeze()
                return True
        return False


def find_path(rows: Sequence[Row], path: str) -> int:
    """Index of the row showing `path`, or 0 (rows are built lazily: search the paths)."""
    if not path:
        return 0
    index_of = getattr(rows, "index_of", None)
    if index_of is not None:
        return index_of(path) or 0
    return next((i for i, row in enumerate(rows) if row.path == path), 0)
