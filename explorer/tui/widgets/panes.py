"""The framed panes: the file tree with its column header and filter bar, and the image
details with the waste table. Each pane keeps its frame (titles) in step with its content."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Input, Static

from explorer.core.safetext import safe
from explorer.core.tree import DIFF_NAMES
from explorer.tui import format as fmt
from explorer.tui.treestate import validate_filter
from explorer.tui.widgets.details import ImageSummary
from explorer.tui.widgets.efficiency import WasteTable
from explorer.tui.widgets.filetree import FileTreeView, column_header
from explorer.tui.widgets.filterbar import FilterBar, FilterInput

FILTER_DEBOUNCE = 0.15  # seconds: typing a regex must not start a recompute per key


class TreePane(Vertical):
    """Frame, column header, the tree, and the filter bar under it."""

    ALLOW_MAXIMIZE = True  # zooming the tree zooms its whole pane

    def compose(self) -> ComposeResult:
        yield Static("", id="tree-columns")
        yield FileTreeView(id="tree")
        yield Static("", id="tree-path")
        yield FilterBar(id="filter-bar")

    def on_mount(self) -> None:
        self._debounce: Timer | None = None
        self.update_frame()

    @property
    def file_tree(self) -> FileTreeView:
        return self.query_one(FileTreeView)

    def update_frame(self) -> None:
        tree = self.file_tree
        # Content, not str: a str title is parsed as markup, and the filter is user text.
        self.border_title = Content(tree.title())
        self.border_subtitle = Content(tree.subtitle())
        width = tree.scrollable_content_region.width or self.size.width
        columns = column_header(width, tree.state.attributes)
        self.query_one("#tree-columns", Static).update(columns, layout=False)  # one line
        self.update_path()

    def update_path(self) -> None:
        """The full path of the entry under the cursor (names are cut in narrow panes)."""
        row = self.file_tree.current
        line = self.query_one("#tree-path", Static)
        if row is None:
            line.update("", layout=False)  # one line: never a layout pass
            return
        kind = DIFF_NAMES[row.diff]
        parts = [(safe(row.path), "bold")]
        if row.link:
            parts.append((" → " + safe(row.link), ""))
        parts.append((f"  {fmt.count(row.size)} bytes · {kind}", "$text-muted"))
        line.update(Content.assemble(*parts), layout=False)

    @on(FileTreeView.Highlighted)
    def _cursor_moved(self) -> None:
        self.update_path()

    @on(FileTreeView.StatusChanged)
    def _status(self, event: FileTreeView.StatusChanged) -> None:
        event.stop()
        self.update_frame()

    def on_resize(self) -> None:
        self.update_frame()

    # -- filter --------------------------------------------------------------------------------
    def open_filter(self) -> None:
        self.add_class("-filtering")
        self.screen.set_focus(self.query_one(FilterInput))

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        error = validate_filter(event.value)
        bar = self.query_one(FilterBar)
        bar.set_class(error is not None, "-invalid")
        message = "" if error is None else f"bad regex: {error}"
        self.query_one("#filter-error", Static).update(Content(safe(message)))
        if self._debounce is not None:
            self._debounce.stop()
        if error is None:
            pattern = event.value
            self._debounce = self.set_timer(
                FILTER_DEBOUNCE, lambda: self.file_tree.set_filter(pattern)
            )

    @on(FilterBar.Done)
    def _filter_done(self, event: FilterBar.Done) -> None:
        event.stop()
        box = self.query_one(FilterInput)
        if event.clear:
            if self._debounce is not None:
                self._debounce.stop()
            box.value = ""  # its Changed event is posted: the filter goes at once below
            self.file_tree.set_filter("")
        if not box.value:
            self.remove_class("-filtering")
        self.screen.set_focus(self.file_tree)


class ImagePane(Vertical):
    """Image details and efficiency, with the waste table under them."""

    ALLOW_MAXIMIZE = True

    def compose(self) -> ComposeResult:
        yield ImageSummary(id="image-summary")
        yield Static("", id="waste-columns")
        yield WasteTable(id="waste")
        yield Static("", id="waste-remedy")

    def on_mount(self) -> None:
        self.border_title = "Image"
        self.update_frame()

    def update_frame(self) -> None:
        table = self.query_one(WasteTable)
        self.query_one("#waste-columns", Static).update(
            Content.styled(table.header(self.size.width), "bold")
        )
        self.border_subtitle = Content(f"{table.title()} · v switches")
        remedy = table.remedy()
        self.query_one("#waste-remedy", Static).update(Content.styled(remedy, "$text-muted"))
        self.query_one("#waste-remedy").display = bool(remedy)

    @on(WasteTable.Highlighted)
    def _moved(self) -> None:
        self.update_frame()
