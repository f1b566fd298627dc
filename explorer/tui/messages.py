"""What the background workers report to the UI. Workers only post these; handlers on the
UI thread update widgets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.message import Message

from explorer.core.analysis import Analysis
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.opening import Loaded
from explorer.core.treeview import Row


@dataclass
class SourceOpened(Message):
    """The image's metadata is known: the layer list can be shown."""

    meta: ImageMeta


@dataclass
class IndexProgress(Message):
    """Indexing is under way on `layer` (entries and uncompressed bytes read so far)."""

    layer: int
    entries: int
    bytes_read: int

    def can_replace(self, message: Message) -> bool:
        # Progress floods: only the newest one matters.
        return isinstance(message, IndexProgress)


@dataclass
class LayerIndexed(Message):
    layer: int
    index: LayerIndex


@dataclass
class IndexFinished(Message):
    """Every layer is indexed (analysis may still be running)."""

    seconds: float


@dataclass
class AnalysisReady(Message):
    analysis: Analysis
    seconds: float


@dataclass
class LoadedFromCache(Message):
    """A warm re-open: every layer index and the analysis came from the cache, and are
    handed over at once (LayerIndexed for each, IndexFinished, AnalysisReady), so the screen
    is drawn once, complete."""

    layers: list[tuple[int, LayerIndex]]  # in layer order
    index_seconds: float
    analysis: Analysis
    analysis_seconds: float

    @classmethod
    def of(cls, loaded: Loaded) -> LoadedFromCache:
        return cls(loaded.layers, loaded.index_seconds, loaded.analysis, loaded.analysis_seconds)


@dataclass
class IndexFailed(Message):
    """Opening or indexing failed; `message` is one sentence, `hint` says what to do."""

    message: str
    hint: str


@dataclass
class IndexCancelled(Message):
    pass


@dataclass
class ViewReady(Message):
    """The file tree's rows for the requested layer and presentation state."""

    layer: int
    mode: str
    rows: Sequence[Row]  # the core builds rows lazily: index it, don't copy it
    cursor: int  # row to put the cursor on (the previously selected path, if still shown)
    seconds: float


@dataclass
class ViewFailed(Message):
    """Computing the tree failed (a bad regex never gets here: it is checked first)."""

    message: str
