"""The explorer screen: layers, details and efficiency on the left, the file tree on the right.

The image is read by the loading pipeline (`explorer.core.loading.Loading`, started before the
app when it can be); a thread worker posts its events, and `apply` turns each into the
screen's one explicit load state (`load_state`: opening → indexing → analysing → analysed, or
failed / cancelled) and its data. The watcher of that state updates the header, the summary,
the waste table and the key bindings. The layer list appears as soon as the metadata is read;
each layer's tree as soon as it and the layers below it are indexed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer
from textual.worker import Worker

from explorer.core.analysis import Analysis
from explorer.core.image import ImageMeta, Step
from explorer.core.layerindex import LayerIndex
from explorer.core.loading import (
    Analysed,
    Complete,
    Event,
    Failed,
    Indexed,
    LayerIndexed,
    Loading,
    Opened,
    Progress,
    Stopped,
    describe,
)
from explorer.core.safetext import safe
from explorer.core.sources import Source, open_source
from explorer.core.treeview import AGGREGATED, LAYER_CHANGES
from explorer.tui import format as fmt
from explorer.tui.bindings import MAIN_BINDINGS
from explorer.tui.format import layer_items
from explorer.tui.loadstate import OVER, READING, LoadState, hint_for
from explorer.tui.messages import LoadEvent
from explorer.tui.screens.inside import InsideActions
from explorer.tui.screens.views import ExplorerViews
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
TINY_WIDTH = 80  # below: a narrower left column still
SHORT_HEIGHT = 30  # below: smaller details panes
WASTE_ROWS_NEEDED = 3  # e zooms the image pane when fewer rows of its table show


class MainScreen(InsideActions, ExplorerViews):
    ALLOW_IN_MAXIMIZED_VIEW = "AppHeader, Footer"
    BINDINGS: ClassVar[list[BindingType]] = MAIN_BINDINGS

    load_state: reactive[LoadState] = reactive(LoadState.OPENING, init=False)

    def __init__(
        self,
        target: str,
        kind: str | None = None,
        platform: str | None = None,
        opener: Callable[[], Source] | None = None,
        load_job: Loading | None = None,
    ) -> None:
        super().__init__()
        self.target = target
        self.opener = opener
        self.load_job = load_job  # started before the app: it may be done by the first screen
        self.kind = kind
        self.platform = platform
        self.meta: ImageMeta | None = None
        self.items: list[Step] = []
        self.indexes: dict[int, LayerIndex] = {}
        self.analysis: Analysis | None = None
        self.hidden_by_layer: dict[int, int] = {}
        self.failure: str | None = None
        self.index_seconds: float | None = None
        self.retired = False
        self._cancel = threading.Event()
        self._first_view_due = False  # the first tree view is asked for after a redraw

    @property
    def indexing(self) -> bool:
        """Is the image still being read (Esc cancels)?"""
        return self.load_state in READING

    @property
    def cancelled(self) -> bool:
        return self.load_state is LoadState.CANCELLED

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
    def file_tree(self) -> FileTreeView:
        return self.query_one(FileTreeView)

    @property
    def details(self) -> LayerDetails:
        return self.query_one(LayerDetails)

    @property
    def header(self) -> AppHeader:
        return self.query_one(AppHeader)

    def on_mount(self) -> None:
        self.query_one("#layers").border_title = "Layers"
        self.query_one("#layer-details").border_title = "Layer details"
        self.header.set_image(self.target)
        self.query_one(LayerDetails).show(None, None, None, None)
        self.layer_list.focus()
        self.watch_load_state(LoadState.OPENING)
        if self.load_job is None:
            factory = self.opener or partial(open_source, self.target, self.kind, self.platform)
            self.load_job = Loading(factory, self.lsapp.clock)
        done = self.load_job.done_events()
        if done is not None:
            # Read (from the cache) before the first screen: drawn complete, in one go.
            for event in done:
                self.apply(event)
        else:
            self.index_image()

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW_WIDTH
        self.set_class(narrow, "-narrow")
        self.set_class(self.size.width < TINY_WIDTH, "-tiny")
        self.set_class(self.size.height < SHORT_HEIGHT, "-short")
        # The footer cannot wrap: below 110 columns the pane's keys need all of it.
        self.query_one(Footer).show_command_palette = not narrow

    # -- the load -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="index")
    def index_image(self) -> None:
        assert self.load_job is not None
        for event in self.load_job.events(self._cancel):
            self.post_message(LoadEvent(event))

    def on_load_event(self, message: LoadEvent) -> None:
        self.apply(message.event)

    def apply(self, event: Event) -> None:
        """One event of the load: the data it brings, and the state it moves to."""
        if self.retired:
            return  # another image was opened: what the stopped load still says is moot
        match event:
            case Opened(meta):
                self._opened(meta)
            case Progress(layer, entries, nbytes):
                self._progress(layer, entries, nbytes)
            case LayerIndexed(layer, index):
                self._layer_indexed(layer, index)
            case Indexed(seconds):
                self.index_seconds = seconds
                if self.load_state in READING:
                    self.load_state = LoadState.ANALYSING
            case Analysed(analysis, _):
                self._analysed(analysis)
            case Complete(layers, seconds, analysis, _):
                for layer, index in layers:
                    self._layer_indexed(layer, index)
                self.index_seconds = seconds
                self._analysed(analysis)
            case Failed(error):
                self._failed(describe(error, self.target), hint_for(error, self.target))
            case Stopped():
                self.load_state = LoadState.CANCELLED
                self._show_cancelled()  # again: the counts may have changed since Esc

    def watch_load_state(self, state: LoadState) -> None:
        """The header, summary, waste table, prefetch and bindings follow the state."""
        n = len(self.meta.layers) if self.meta is not None else 0
        done = len(self.indexes)
        summary = self.query_one(ImageSummary)
        waste = self.query_one(WasteTable)
        if state in OVER:
            self.file_tree.prefetch_allowed = True  # nothing more will come
            self.header.set_progress(None, None)
            self.layer_list.set_reading(None)
        if state is LoadState.OPENING:
            self.header.set_progress(None, None)
            self.header.set_status("opening…")
            summary.show(None, state="opening…")
        elif state is LoadState.INDEXING:
            self.header.set_progress(done, n)
            self.header.set_status(f"indexing {fmt.layers(n)}…")
            summary.show(self.meta, indexed=done)
        elif state is LoadState.ANALYSING:
            self.header.set_progress(None, None)
            self.layer_list.set_reading(None)
            took = fmt.seconds(self.index_seconds or 0.0)
            self.header.set_status(f"{fmt.layers(n)} indexed in {took} · computing efficiency…")
            summary.show(self.meta, indexed=done, state="computing efficiency…")
            waste.waiting = "computing efficiency…"
            waste.refresh()
        elif state is LoadState.ANALYSED and self.analysis is not None:
            analysis = self.analysis
            warnings = len(analysis.warnings)
            status = f"{fmt.layers(n)} · {fmt.size(analysis.efficiency.size_bytes)}"
            if warnings:
                status += f" · {warnings} warnings"
            self.header.set_status(status)
            summary.show(self.meta, indexed=done, analysis=analysis)
            waste.set_analysis(analysis)
            self.query_one(ImagePane).update_frame()
            # Once the screen that shows the analysis is drawn: that work would slow it.
            self.call_after_refresh(self.file_tree.prefetch)
            if self.explained is None:
                self.call_after_refresh(self.explain)
        elif state is LoadState.FAILED:
            self.header.set_status("could not read the image", error=True)
            summary.show(self.meta, indexed=done, state="could not read the image")
            waste.waiting = "no efficiency: the image could not be read"
            waste.refresh()
        elif state is LoadState.CANCELLED:
            self.header.set_status(f"cancelled: {done}/{n} layers indexed")
            summary.show(self.meta, indexed=done, state="cancelled")
            waste.waiting = "cancelled: efficiency needs every layer"
            waste.refresh()
        self.refresh_bindings()

    def _opened(self, meta: ImageMeta) -> None:
        self.meta = meta
        self.items = layer_items(meta)
        self.file_tree.state.reset(len(meta.layers))
        self.header.set_image(fmt.display_name(meta))
        self.layer_list.set_items(self.items)
        if not meta.layers:
            self.file_tree.set_notice([("this image has no layers", "guide")])
        if self.load_state is LoadState.OPENING:
            self.load_state = LoadState.INDEXING

    def _progress(self, layer: int, entries: int, nbytes: int) -> None:
        if self.meta is None or self.load_state is not LoadState.INDEXING:
            return
        self.layer_list.set_reading(layer)
        self.header.set_status(
            f"{len(self.indexes)}/{len(self.meta.layers)} · layer {layer}: "
            f"{fmt.count(entries)} files, {fmt.size(nbytes)}"
        )

    def _layer_indexed(self, layer: int, index: LayerIndex) -> None:
        if self.meta is None:
            return
        self.indexes[layer] = index
        self.file_tree.state.add_layer(layer, index)
        self.layer_list.set_size(layer, index.size)
        n = len(self.meta.layers)
        if self.cancelled:
            self._show_cancelled()
        elif self.load_state is LoadState.INDEXING:
            self.header.set_progress(len(self.indexes), n)
            self.query_one(ImageSummary).show(self.meta, indexed=len(self.indexes))
        selected = self.layer_list.selected_layer
        if selected is not None:
            if layer == selected:
                self._show_details(selected)
            # Once: the layers that arrive while the first view is computed change nothing in
            # it, and each refresh would start the same computation again. After the next
            # redraw: layers that arrive together (a warm cache) are drawn first.
            tree = self.file_tree
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
        if (
            self.file_tree.shown is None
            and not self.file_tree.computing
            and self.file_tree.state.ready()
        ):
            self.file_tree.refresh_view()

    def _analysed(self, analysis: Analysis) -> None:
        if self.meta is None:
            return
        self.analysis = analysis
        self.hidden_by_layer = analysis.hidden_by_layer
        items = layer_items(self.meta)
        if items != self.items:  # an engine's export corrected the commands it had guessed
            selected = self.layer_list.selected_layer
            self.items = items
            self.layer_list.set_items(items)
            if selected is not None:
                self.layer_list.select_layer(selected)
        self.load_state = LoadState.ANALYSED
        selected = self.layer_list.selected_layer
        if selected is not None:
            self._show_details(selected)

    def _failed(self, message: str, hint: str) -> None:
        if self.cancelled:
            return  # the user stopped it; whatever broke afterwards is moot
        self.failure = message
        self.layer_list.failed = True
        self.layer_list.refresh()
        self.load_state = LoadState.FAILED
        lines = [
            ("Could not read the image:", "error"),
            (message, "error"),
            ("", "guide"),
            (hint, "guide"),
        ]
        if self.indexes:
            lines.append(("Layers indexed before the error can still be browsed.", "guide"))
        if not self.file_tree.rows:
            self.file_tree.set_notice(lines)
        else:  # the tree pane cannot say it: a toast does
            self.notify(
                safe(message),
                title="Could not read the image",
                severity="error",
                markup=False,  # the message may quote names from the image
            )
        self.lsapp.failed = True

    def _show_cancelled(self) -> None:
        """What a cancelled load leaves: the counts, and a notice where no tree can come."""
        if self.meta is not None:
            done, n = len(self.indexes), len(self.meta.layers)
            self.header.set_status(f"cancelled: {done}/{n} layers indexed")
            self.query_one(ImageSummary).show(self.meta, indexed=done, state="cancelled")
        if not self.file_tree.rows:
            self.file_tree.set_notice(
                [
                    ("Indexing was cancelled before this layer was read.", "guide"),
                    ("Open the image again to read it all.", "guide"),
                ]
            )

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
        self.file_tree.show_layer(layer, mode)
        if not self.file_tree.state.ready(layer):
            stopped = self.failure is not None or self.cancelled
            why = "the image could not be read" if self.failure else "indexing was cancelled"
            self.file_tree.set_notice(
                fmt.not_ready(layer, set(self.indexes), why if stopped else None)
            )

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
            self.file_tree.state.mode = mode

    # Focus moves with set_focus (at once), not widget.focus() (on the next turn of the
    # loop): keys typed ahead, e.g. Tab then Ctrl+U, must reach the newly focused pane.
    def action_switch_pane(self, backwards: bool = False) -> None:
        if self.screen.maximized is not None:
            self.minimize()
        if backwards:
            panes = [self.layer_list, self.file_tree, self.query_one(WasteTable), self.details]
            at = next((i for i, pane in enumerate(panes) if pane.has_focus), 0)
            self.set_focus(panes[at - 1])
        elif self.layer_list.has_focus:
            self.set_focus(self.file_tree)
        else:
            self.set_focus(self.layer_list)

    def action_focus_tree(self) -> None:
        self.set_focus(self.file_tree)

    def action_focus_layers(self) -> None:
        self.set_focus(self.layer_list)

    def action_focus_details(self) -> None:
        self.set_focus(self.details)

    def action_focus_waste(self) -> None:
        """Focus the waste table; where the image's summary leaves it no room (a short
        terminal), its pane is zoomed so that the table shows."""
        table = self.query_one(WasteTable)
        self.set_focus(table)
        pane = self.query_one(ImagePane)
        shown = table.region.intersection(pane.content_region).height
        if self.maximized is None and shown < WASTE_ROWS_NEEDED:
            self.maximize(pane)

    def action_filter(self) -> None:
        if self.maximized is not None and self.maximized is not self.query_one(TreePane):
            self.minimize()
        self.query_one(TreePane).open_filter()

    def action_cancel_index(self) -> None:
        """Esc says "cancelled" at once: a blocked read (an engine preparing its export) may
        take a while to notice, and what it still delivers is kept."""
        self._cancel.set()
        if self.load_job is not None:
            self.load_job.cancel.set()
        for worker in self.workers_in_group("index"):
            worker.cancel()
        if self.load_state not in OVER:
            self.load_state = LoadState.CANCELLED
            self._show_cancelled()

    def retire(self) -> None:
        """Stop reading and let go of the image (this screen stays, hidden and empty)."""
        self.action_cancel_index()
        self.app.workers.cancel_node(self.file_tree)
        self.close_content()
        self.retired = True  # what the stopped load may still say is then ignored
        self.meta = None
        self.load_job = None
        self.items, self.indexes, self.analysis, self.hidden_by_layer = [], {}, None, {}
        self.file_tree.state.reset(0)
        self.file_tree.rows = []
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
            return self.load_state in READING and not self._cancel.is_set()
        return True
