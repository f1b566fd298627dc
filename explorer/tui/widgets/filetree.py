"""The file tree of the selected layer: a virtual list over the core view model's rows.

Only visible rows are drawn; the rows themselves are computed by `TreeState` in a thread
worker (never on the UI thread), and the old rows stay on screen, marked "computing…", until
the new ones arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from explorer.core.safetext import safe
from explorer.core.tree import DIFF_KINDS, DIFF_NAMES
from explorer.core.treerow import Row
from explorer.core.treeview import AGGREGATED, SORT_SIZE
from explorer.tui import format as fmt
from explorer.tui.messages import ViewReady
from explorer.tui.treestate import TreeState, find_path
from explorer.tui.widgets.vlist import VirtualList

SIZE_WIDTH = 9
FULL_ATTRS = 10 + 1 + 11 + 1 + SIZE_WIDTH + 2  # "drwxr-xr-x     0:0      1.2 kB  "
SIZE_ONLY = SIZE_WIDTH + 2
NARROW = 60  # below this width, only the size column is shown
TINY = 40  # below this width, no attribute column: the names need it all


def attribute_layout(width: int, attributes: bool) -> str:
    """Which attribute columns fit: "full", "size" or "none"."""
    if not attributes or width < TINY:
        return "none"
    return "full" if width >= NARROW else "size"


def column_header(width: int, attributes: bool) -> str:
    layout = attribute_layout(width, attributes)
    if layout == "full":
        return f"{'Permission':<10} {'UID:GID':>11} {'Size':>{SIZE_WIDTH}}  Filetree"
    if layout == "size":
        return f"{'Size':>{SIZE_WIDTH}}  Filetree"
    return "Filetree"


class FileTreeView(VirtualList):
    """Keys follow dive's file tree pane."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "filetree--added",
        "filetree--removed",
        "filetree--modified",
        "filetree--unmodified",
        "filetree--guide",
        "filetree--dir",
        "filetree--error",
    }

    DEFAULT_CSS = """
    FileTreeView {
        & > .filetree--added { color: $diff-added; }
        & > .filetree--removed { color: $diff-removed; }
        & > .filetree--modified { color: $diff-modified; }
        & > .filetree--unmodified { }
        & > .filetree--guide { color: $text-muted; }
        & > .filetree--dir { text-style: bold; }
        & > .filetree--error { color: $error; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "parent", "Parent", show=False, id="tree.parent"),
        Binding("right,l", "into", "Open", show=False, id="tree.into"),
        Binding("space", "toggle_collapse", "Collapse", id="tree.collapse"),
        Binding(
            "enter",
            "screen.view_file",
            "View",
            tooltip="View the file as of the selected layer (a directory: collapse / open)",
            id="tree.view",
        ),
        Binding(
            "ctrl+space,ctrl+@", "collapse_all", "Collapse all", show=False, id="tree.collapse-all"
        ),
        Binding(
            "ctrl+a",
            "toggle_kind('added')",
            "Added",
            tooltip="Show/hide added files",
            id="tree.toggle-added",
        ),
        Binding(
            "ctrl+r",
            "toggle_kind('removed')",
            "Removed",
            tooltip="Show/hide removed files",
            id="tree.toggle-removed",
        ),
        Binding(
            "ctrl+n",
            "toggle_kind('modified')",
            "Modified",
            tooltip="Show/hide modified files",
            id="tree.toggle-modified",
        ),
        Binding(
            "ctrl+u",
            "toggle_kind('unmodified')",
            "Unmodified",
            tooltip="Show/hide unmodified files",
            id="tree.toggle-unmodified",
        ),
        Binding(
            "ctrl+b",
            "toggle_attributes",
            "Attributes",
            show=False,
            tooltip="Show/hide permissions, owner and size",
            id="tree.attributes",
        ),
        Binding("ctrl+o", "toggle_sort", "Sort", tooltip="Sort by name or by size", id="tree.sort"),
    ]

    class StatusChanged(Message):
        """Title, subtitle or columns of the tree changed (the pane redraws its frame)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = TreeState()
        self.rows: Sequence[Row] = []
        self.shown: tuple[int, str] | None = None  # what `rows` are the view of
        self._computing = False
        self.notice: list[tuple[str, str]] = [("reading the image…", "guide")]
        self._all_collapsed = False
        self._step_into: str | None = None
        self.last_compute_seconds = 0.0
        # Views are worked out ahead only once the image's analysis is done: before, they
        # would slow it down (one interpreter, one core's worth of Python).
        self.prefetch_allowed = False

    # -- public --------------------------------------------------------------------------------
    @property
    def computing(self) -> bool:
        """Is a worker computing rows? (The rows on screen are greyed meanwhile.)"""
        return self._computing

    @computing.setter
    def computing(self, value: bool) -> None:
        if value != self._computing:
            self._computing = value
            self.refresh()  # the greying depends on it

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def current(self) -> Row | None:
        return self.rows[self.cursor] if self.rows and self.cursor < len(self.rows) else None

    def show_layer(self, layer: int, mode: str | None = None) -> None:
        self.state.show(layer, mode)
        self.refresh_view()

    def set_notice(self, lines: list[tuple[str, str]]) -> None:
        """Lines (text, style name) shown instead of the tree (not indexed yet, failure)."""
        self.notice = [(safe(text), style) for text, style in lines]
        self.refresh()

    def refresh_view(self) -> None:
        """Recompute the rows if the wanted layer is indexed; else say why there are none."""
        if not self.state.ready():
            if self.shown is not None and self.shown[0] != self.state.layer:
                self.rows = []
                self.shown = None
                self.rows_changed(cursor=0)
            self.post_message(self.StatusChanged())
            return
        hit = self.state.cached()
        if hit is not None:
            hit.cursor = find_path(hit.rows, self.state.keep_path)
            self._show_view(hit)
            return
        self.computing = True
        self.post_message(self.StatusChanged())
        self.refresh()
        self._compute()

    @work(thread=True, exclusive=True, exit_on_error=False, group="tree-view")
    def _compute(self) -> None:
        result = self.state.compute()
        if result is not None:
            self.post_message(result)

    def prefetch(self) -> None:
        """Work out the next layers' views while the user looks at this one (unless that is
        already going on)."""
        if self.prefetch_allowed and not self.workers_running("tree-prefetch"):
            self._prefetch()

    @work(thread=True, exclusive=True, exit_on_error=False, group="tree-prefetch")
    def _prefetch(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled and self.state.prefetch():
            pass

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "tree-view":
            return
        if event.state == WorkerState.ERROR:
            self.computing = False
            error = event.worker.error
            self.set_notice(
                [(f"Could not compute this view: {type(error).__name__}: {error}", "error")]
            )
            self.rows = []
            self.rows_changed(cursor=0)
            self.post_message(self.StatusChanged())
        elif event.state == WorkerState.SUCCESS and not self.workers_running():
            if self.computing:
                self.computing = False
                self.post_message(self.StatusChanged())
            self.prefetch()

    def workers_running(self, group: str = "tree-view") -> bool:
        return any(
            w.group == group and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for w in self.app.workers
            if w.node is self
        )

    def on_view_ready(self, message: ViewReady) -> None:
        message.stop()
        self._show_view(message)

    def _show_view(self, message: ViewReady) -> None:
        self.rows = message.rows
        self.shown = (message.layer, message.mode)
        self.last_compute_seconds = message.seconds
        cursor = message.cursor
        if self._step_into is not None:
            into, self._step_into = self._step_into, None
            if cursor + 1 < len(self.rows) and self.rows[cursor].path == into:
                cursor += 1
        self.notice = [
            ("nothing to show (every kind is hidden, or the filter matches nothing)", "guide")
        ]
        self.computing = self.workers_running()
        self.rows_changed(cursor=cursor)
        self.post_message(self.StatusChanged())
        if not self.computing:
            self.prefetch()

    # -- cursor keeps its path across recomputes -----------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        row = self.current
        if row is not None:
            self.state.keep_path = row.path
        self.refresh()

    # -- actions -------------------------------------------------------------------------------
    def action_parent(self) -> None:
        row = self.current
        if row is None or row.depth == 0:
            return  # the top level: focus stays (Tab goes to the layers)
        for i in range(self.cursor - 1, -1, -1):
            if self.rows[i].depth < row.depth:
                self.set_cursor(i)
                return

    def action_into(self) -> None:
        row = self.current
        if row is None or not row.is_dir:
            return
        if row.collapsed:
            self._step_into = row.path
            self.state.toggle_collapse(row)
            self.refresh_view()
        elif self.cursor + 1 < self.count and self.rows[self.cursor + 1].depth > row.depth:
            self.move(1)

    def action_toggle_collapse(self) -> None:
        row = self.current
        if row is not None and row.is_dir:
            self.state.toggle_collapse(row)
            self.refresh_view()

    def action_collapse_all(self) -> None:
        self._all_collapsed = not self._all_collapsed
        self.state.collapse_all(self._all_collapsed)
        self.refresh_view()

    def action_toggle_kind(self, kind: str) -> None:
        self.state.toggle_kind(DIFF_KINDS[kind])
        self.refresh_view()

    def action_toggle_attributes(self) -> None:
        self.state.attributes = not self.state.attributes
        self.refresh()
        self.post_message(self.StatusChanged())

    def action_toggle_sort(self) -> None:
        self.state.toggle_sort()
        self.refresh_view()

    def set_filter(self, pattern: str) -> None:
        """`pattern` must be a valid regex (the filter bar checks it first)."""
        if pattern != self.state.filter:
            if pattern:  # matches inside collapsed directories are shown: they open
                self._all_collapsed = False
                self.state.collapse_all(False)
            self.state.set_filter(pattern)
            self.refresh_view()

    def on_virtual_list_activated(self, event: VirtualList.Activated) -> None:
        event.stop()
        self.action_toggle_collapse()

    # -- status for the frame ------------------------------------------------------------------
    def title(self) -> str:
        if not self.state.layers:
            return "Files"
        layer = self.state.layer
        if self.state.mode == AGGREGATED:
            return f"Aggregated contents, layers 0–{layer}"
        return f"Layer {layer} contents"

    def subtitle(self) -> str:
        parts = []
        if self.state.filter:
            parts.append(f"filter /{safe(self.state.filter)}/")
        hidden = [name for name, kind in DIFF_KINDS.items() if kind in self.state.hidden]
        if hidden:
            parts.append("hiding " + ", ".join(hidden))
        parts.append("by size" if self.state.sort == SORT_SIZE else "by name")
        if self.computing:
            parts.append("computing…")
        elif self.rows:
            parts.append(f"{fmt.count(len(self.rows))} rows")
        return " · ".join(parts)

    # -- drawing -------------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"filetree--{name}")

    def empty_lines(self) -> list[tuple[str, Style]]:
        if self.computing:
            return [(f"computing the tree of layer {self.state.layer}…", self._style("guide"))]
        return [(text, self._style(style)) for text, style in self.notice]

    @property
    def stale(self) -> bool:
        """Are the rows on screen older than what was asked for?"""
        return self.computing or self.shown != (self.state.layer, self.state.mode)

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        row = self.rows[index]
        diff = row.diff
        kind = DIFF_NAMES[diff]
        if self.stale:
            kind = "guide"  # old rows stay readable but greyed until the new ones arrive
        name_style = style + self._style(kind)
        if row.is_dir:  # only the weight: the colour says the diff kind
            name_style += Style(bold=self._style("dir").bold)
        layout = attribute_layout(width, self.state.attributes)
        segments: list[Segment] = []
        attr_style = style + self._style(kind)
        if layout == "full":
            segments.append(
                Segment(
                    f"{row.mode} {row.owner:>11} {fmt.size(row.size):>{SIZE_WIDTH}}  ", attr_style
                )
            )
        elif layout == "size":
            segments.append(Segment(f"{fmt.size(row.size):>{SIZE_WIDTH}}  ", attr_style))
        segments.append(Segment(row.prefix, style + self._style("guide")))
        segments.append(Segment(safe(row.name), name_style))
        if row.link:
            segments.append(Segment(" → ", style + self._style("guide")))
            segments.append(Segment(safe(row.link), style + self._style(kind)))
        return segments
