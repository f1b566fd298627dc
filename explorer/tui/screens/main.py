"""The explorer screen: layers, details and efficiency on the left, the file tree on the right.

On mount it starts one thread worker that opens and indexes the image (`session.run_index`);
the handlers below turn its messages into widget updates. The layer list appears as soon as
the metadata is read; each layer's tree as soon as it and the layers below it are indexed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker

from explorer.core.analysis import Analysis
from explorer.core.display import safe
from explorer.core.image import ImageMeta, Step
from explorer.core.layerindex import LayerIndex
from explorer.core.opening import Opening
from explorer.core.sources import Source
from explorer.core.treeview import AGGREGATED, LAYER_CHANGES
from explorer.tui import format as fmt
from explorer.tui.format import layer_items
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
from explorer.tui.session import run_index
from explorer.tui.widgets.details import ImageSummary, LayerDetails
from explorer.tui.widgets.efficiency import WasteTable
from explorer.tui.widgets.filetree import FileTreeView
from explorer.tui.widgets.footer import KeyFooter
from explorer.tui.widgets.header import AppHeader
from explorer.tui.widgets.layers import LayerList
from explorer.tui.widgets.panes import ImagePane, TreePane
from explorer.tui.widgets.vlist import VirtualList

if TYPE_CHECKING:
    from explorer.tui.app import LayerScopeApp

NARROW_WIDTH = 110  # below: a narrower left column, compact tree columns
SHORT_HEIGHT = 30  # below: smaller details panes


class MainScreen(Screen[None]):
    ALLOW_IN_MAXIMIZED_VIEW = "AppHeader, Footer"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "tab",
            "switch_pane",
            "Pane",
            tooltip="Move between the layer list and the file tree",
            id="switch-pane",
        ),
        Binding(
            "shift+tab",
            "switch_pane(True)",
            "Pane",
            show=False,
            tooltip="Move between the panes",
            id="switch-pane-back",
        ),
        Binding(
            "ctrl+f,slash",
            "filter",
            "Filter",
            tooltip="Filter the file tree by a path regex",
            id="filter",
        ),
        Binding(
            "escape",
            "cancel_index",
            "Cancel",
            priority=True,
            tooltip="Stop reading the image (what is indexed stays browsable)",
            id="cancel",
        ),
        Binding(
            "e",
            "focus_waste",
            "Efficiency",
            show=False,
            tooltip="Go to the table of wasted space",
            id="efficiency",
        ),
        Binding(
            "z",
            "zoom",
            "Zoom",
            show=False,
            tooltip="Maximize / restore the focused pane",
            id="zoom",
        ),
    ]

    def __init__(
        self,
        target: str,
        kind: str | None = None,
        platform: str | None = None,
        opener: Callable[[], Source] | None = None,
        opening: Opening | None = None,
    ) -> None:
        super().__init__()
        self.target = target
        self.opener = opener
        self.opening = opening  # started before the app: it may be done by the first screen
        self.kind = kind
        self.platform = platform
        self.meta: ImageMeta | None = None
        self.items: list[Step] = []
        self.indexes: dict[int, LayerIndex] = {}
        self.analysis: Analysis | None = None
        self.hidden_by_layer: dict[int, int] = {}
        self.indexing = False
        self.failure: str | None = None
        self.cancelled = False
        self._cancel = threading.Event()
        self._first_view_due = False  # the first tree view is asked for after a redraw

    @property
    def lsapp(self) -> LayerScopeApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield LayerList(id="layers")
                yield LayerDetails(id="layer-details")
                yield ImagePane(id="image-pane")
            yield TreePane(id="tree-pane")
        yield KeyFooter()

    # -- widgets -------------------------------------------------------------------------------
    @property
    def layer_list(self) -> LayerList:
        return self.query_one(LayerList)

    @property
    def tree(self) -> FileTreeView:
        return self.query_one(FileTreeView)

    @property
    def header(self) -> AppHeader:
        return self.query_one(AppHeader)

    def on_mount(self) -> None:
        self.query_one("#layers").border_title = "Layers"
        self.query_one("#layer-details").border_title = "Layer details"
        self.header.set_image(self.target)
        self.header.set_progress(None, None)
        self.header.set_status("opening…")
        self.query_one(ImageSummary).show(None, state="opening…")
        self.query_one(LayerDetails).show(None, None, None, None)
        self.layer_list.focus()
        self.indexing = True
        opened = self.opening.ready() if self.opening is not None else None
        if opened is not None and opened.loaded is not None:
            # Read from the cache before the first screen: drawn complete, in one go.
            self.opening = None
            with contextlib.suppress(Exception):  # what is loaded is all that matters now
                opened.source.close()
            self.on_source_opened(SourceOpened(opened.meta))
            self.on_loaded_from_cache(LoadedFromCache.of(opened.loaded))
        else:
            self.index_image()

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW_WIDTH
        self.set_class(narrow, "-narrow")
        self.set_class(self.size.height < SHORT_HEIGHT, "-short")
        # The footer cannot wrap: below 110 columns the pane's keys need all of it.
        self.query_one(Footer).show_command_palette = not narrow

    # -- the worker ----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="index")
    def index_image(self) -> None:
        run_index(
            self.target,
            self.kind,
            self.platform,
            self.post_message,
            self._cancel,
            self.lsapp.clock,
            self.opener,
            self.opening,
        )

    def on_source_opened(self, message: SourceOpened) -> None:
        meta = self.meta = message.meta
        self.items = layer_items(meta)
        self.tree.state.reset(len(meta.layers))
        self.header.set_image(fmt.display_name(meta))
        self.header.set_progress(0, len(meta.layers))
        self.header.set_status(f"indexing {fmt.layers(len(meta.layers))}…")
        self.layer_list.set_items(self.items)
        self.query_one(ImageSummary).show(meta, indexed=0)
        if not meta.layers:
            self.tree.set_notice([("this image has no layers", "guide")])

    def on_index_progress(self, message: IndexProgress) -> None:
        if self.meta is None or not self.indexing:
            return
        n = len(self.meta.layers)
        self.layer_list.set_reading(message.layer)
        self.header.set_status(
            f"{len(self.indexes)}/{n} · layer {message.layer}: "
            f"{fmt.count(message.entries)} files, {fmt.size(message.bytes_read)}"
        )

    def on_layer_indexed(self, message: LayerIndexed) -> None:
        if self.meta is None:
            return
        self.indexes[message.layer] = message.index
        self.tree.state.add_layer(message.layer, message.index)
        self.layer_list.set_size(message.layer, message.index.size)
        if self.cancelled:
            self.header.set_status(
                f"cancelled: {len(self.indexes)}/{len(self.meta.layers)} layers indexed"
            )
        else:
            self.header.set_progress(len(self.indexes), len(self.meta.layers))
        self.query_one(ImageSummary).show(self.meta, indexed=len(self.indexes))
        selected = self.layer_list.selected_layer
        if selected is not None:
            if message.layer == selected:
                self._show_details(selected)
            # Once: the layers that arrive while the first view is computed change nothing in
            # it, and each refresh would start the same computation again. After the next
            # redraw: layers that arrive together (a warm cache) are drawn first.
            tree = self.tree
            if (
                tree.shown is None
                and not tree.computing
                and not self._first_view_due
                and tree.state.ready(selected)
            ):
                self._first_view_due = True
                self.call_after_refresh(self._first_view)
            elif tree.shown is not None and not tree.computing:
                tree.prefetch()  # the views this layer makes possible

    def _first_view(self) -> None:
        self._first_view_due = False
        if self.tree.shown is None and not self.tree.computing and self.tree.state.ready():
            self.tree.refresh_view()

    def on_index_finished(self, message: IndexFinished) -> None:
        if self.cancelled:
            return
        self.indexing = False
        self.refresh_bindings()
        self.layer_list.set_reading(None)
        self.header.set_progress(None, None)
        n = len(self.meta.layers) if self.meta else 0
        self.header.set_status(
            f"{fmt.layers(n)} indexed in {fmt.seconds(message.seconds)} · computing efficiency…"
        )
        if self.meta is not None:
            self.query_one(ImageSummary).show(
                self.meta, indexed=len(self.indexes), state="computing efficiency…"
            )
        self.query_one(WasteTable).waiting = "computing efficiency…"
        self.query_one(WasteTable).refresh()

    def on_analysis_ready(self, message: AnalysisReady) -> None:
        if self.meta is None:  # retired (another image was opened)
            return
        self.tree.prefetch_allowed = True
        # Once the screen that shows the analysis is drawn: that work would slow the drawing.
        self.call_after_refresh(self.tree.prefetch)
        analysis = self.analysis = message.analysis
        self.hidden_by_layer = analysis.hidden_by_layer
        items = layer_items(self.meta)
        if items != self.items:  # an engine's export corrected the commands it had guessed
            selected = self.layer_list.selected_layer
            self.items = items
            self.layer_list.set_items(items)
            if selected is not None:
                self.layer_list.select_layer(selected)
        self.query_one(ImageSummary).show(self.meta, indexed=len(self.indexes), analysis=analysis)
        self.query_one(WasteTable).set_analysis(analysis)
        self.query_one(ImagePane).update_frame()
        n = len(self.meta.layers)
        warnings = len(analysis.warnings)
        status = f"{fmt.layers(n)} · {fmt.size(analysis.efficiency.size_bytes)}"
        if warnings:
            status += f" · {warnings} warnings"
        self.header.set_status(status)
        selected = self.layer_list.selected_layer
        if selected is not None:
            self._show_details(selected)

    def on_loaded_from_cache(self, message: LoadedFromCache) -> None:
        for n, index in message.layers:
            self.on_layer_indexed(LayerIndexed(n, index))
        self.on_index_finished(IndexFinished(message.index_seconds))
        self.on_analysis_ready(AnalysisReady(message.analysis, message.analysis_seconds))

    def on_index_failed(self, message: IndexFailed) -> None:
        if self.cancelled:
            return  # the user stopped it; whatever broke afterwards is moot
        self.indexing = False
        self.failure = message.message
        self.tree.prefetch_allowed = True  # no analysis will come
        self.refresh_bindings()
        self.header.set_progress(None, None)
        self.header.set_status("could not read the image", error=True)
        self.layer_list.failed = True
        self.layer_list.set_reading(None)
        self.layer_list.refresh()
        lines = [
            ("Could not read the image:", "error"),
            (message.message, "error"),
            ("", "guide"),
            (message.hint, "guide"),
        ]
        if self.indexes:
            lines.append(("Layers indexed before the error can still be browsed.", "guide"))
        if not self.tree.rows:
            self.tree.set_notice(lines)
        self.query_one(ImageSummary).show(
            self.meta, indexed=len(self.indexes), state="could not read the image"
        )
        self.query_one(WasteTable).waiting = "no efficiency: the image could not be read"
        self.query_one(WasteTable).refresh()
        if self.tree.rows:  # the tree pane cannot say it: a toast does
            self.notify(
                safe(message.message),
                title="Could not read the image",
                severity="error",
                markup=False,  # the message may quote names from the image
            )
        self.lsapp.failed = True

    def on_index_cancelled(self, message: IndexCancelled) -> None:
        self._mark_cancelled()  # again: the counts may have changed since Esc

    def _mark_cancelled(self) -> None:
        """Esc says "cancelled" at once: a blocked read (an engine preparing its export) may
        take a while to notice, and what it still delivers is kept."""
        self.indexing = False
        self.cancelled = True
        self.tree.prefetch_allowed = True  # no analysis will come
        self.refresh_bindings()
        self.header.set_progress(None, None)
        self.layer_list.set_reading(None)
        done = len(self.indexes)
        total = len(self.meta.layers) if self.meta else 0
        self.header.set_status(f"cancelled: {done}/{total} layers indexed")
        if not self.tree.rows:
            self.tree.set_notice(
                [
                    ("Indexing was cancelled before this layer was read.", "guide"),
                    ("Open the image again to read it all.", "guide"),
                ]
            )
        self.query_one(WasteTable).waiting = "cancelled: efficiency needs every layer"
        self.query_one(WasteTable).refresh()
        if self.meta is not None:
            self.query_one(ImageSummary).show(self.meta, indexed=done, state="cancelled")

    # -- selection -----------------------------------------------------------------------------
    @on(VirtualList.Highlighted, "#layers")
    def _layer_highlighted(self, event: VirtualList.Highlighted) -> None:
        layer = self.layer_list.selected_layer
        if layer is None:
            return
        self._select(layer)

    def _select(self, layer: int, mode: str | None = None) -> None:
        self.layer_list.refresh()
        self._show_details(layer)
        self.tree.show_layer(layer, mode)
        if not self.tree.state.ready(layer):
            if self.failure or self.cancelled:
                why = "the image could not be read" if self.failure else "indexing was cancelled"
                lines = [(f"Layer {layer} is not available: {why}.", "guide")]
            else:
                lines = [
                    (f"Layer {layer} is not indexed yet.", "guide"),
                    (f"Its files appear as soon as layers 0–{layer} are read.", "guide"),
                ]
            self.tree.set_notice(lines)

    def _show_details(self, layer: int) -> None:
        if self.meta is None or layer >= len(self.meta.layers):
            return
        item = next((it for it in self.items if it.layer == layer), None)
        hidden = self.hidden_by_layer.get(layer) if self.analysis is not None else None
        self.query_one(LayerDetails).show(
            item, self.meta.layers[layer], self.indexes.get(layer), hidden
        )

    # -- actions -------------------------------------------------------------------------------
    def action_compare_mode(self, mode: str) -> None:
        mode = AGGREGATED if mode == AGGREGATED else LAYER_CHANGES
        self.layer_list.set_mode(mode)
        layer = self.layer_list.selected_layer
        if layer is not None:
            self._select(layer, mode)
        else:
            self.tree.state.mode = mode

    # Focus moves with set_focus (at once), not widget.focus() (on the next turn of the
    # loop): keys typed ahead, e.g. Tab then Ctrl+U, must reach the newly focused pane.
    def action_switch_pane(self, backwards: bool = False) -> None:
        if self.screen.maximized is not None:
            self.minimize()
        if self.layer_list.has_focus:
            self.set_focus(self.tree)
        else:
            self.set_focus(self.layer_list)

    def action_focus_tree(self) -> None:
        self.set_focus(self.tree)

    def action_focus_layers(self) -> None:
        self.set_focus(self.layer_list)

    def action_focus_waste(self) -> None:
        self.set_focus(self.query_one(WasteTable))

    @on(FileTreeView.LeftEdge)
    def _tree_left_edge(self) -> None:
        self.set_focus(self.layer_list)

    def action_filter(self) -> None:
        if self.maximized is not None and self.maximized is not self.query_one(TreePane):
            self.minimize()
        self.query_one(TreePane).open_filter()

    def action_cancel_index(self) -> None:
        self._cancel.set()
        for worker in self.workers_in_group("index"):
            worker.cancel()
        self._mark_cancelled()

    def retire(self) -> None:
        """Stop reading and let go of the image (this screen stays, hidden and empty)."""
        self.action_cancel_index()
        self.app.workers.cancel_node(self.tree)
        self.meta = None  # what the stopped worker may still post is then ignored
        self.opening = None
        self.items, self.indexes, self.analysis, self.hidden_by_layer = [], {}, None, {}
        self.tree.state.reset(0)
        self.tree.rows = []
        self.layer_list.set_items([])
        self.query_one(WasteTable).set_analysis(None)

    def workers_in_group(self, group: str) -> list[Worker]:
        """This screen's workers of `group` that have not finished."""
        return [
            w for w in self.app.workers if w.group == group and w.node is self and not w.is_finished
        ]

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_index":
            # Only while reading: otherwise Esc belongs to whatever has focus.
            return self.indexing and not self._cancel.is_set()
        return True
