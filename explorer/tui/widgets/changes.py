"""A virtual list of changes (a path's history, find's matches): each row is cells of text
with a style name, coloured by the diff kind they name. Every cell is made safe here: the
texts come from the image (paths, commands)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType

from explorer.core.safetext import safe
from explorer.tui.widgets.vlist import VirtualList

Cells = list[tuple[str, str]]  # (text, style: a diff kind, "hidden", "guide" or "")


class ChangeList(VirtualList):
    """Rows drawn by `cells(row)`; Enter (or a double click) posts `Activated`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "changes--added",
        "changes--removed",
        "changes--modified",
        "changes--unmodified",
        "changes--hidden",
        "changes--guide",
    }

    DEFAULT_CSS = """
    ChangeList {
        & > .changes--added { color: $diff-added; }
        & > .changes--removed { color: $diff-removed; }
        & > .changes--modified { color: $diff-modified; }
        & > .changes--unmodified { }
        & > .changes--hidden { color: $diff-removed; text-style: italic; }
        & > .changes--guide { color: $text-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "activate",
            "Go there",
            tooltip="Go to this layer and path in the file tree",
            id="changes.go",
        ),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: Sequence[object] = []
        self.cells: Callable[[object], Cells] = lambda _row: []
        self.notice: list[str] = []

    def show(self, rows: Sequence[object], cells: Callable[[object], Cells]) -> None:
        self.rows, self.cells = rows, cells
        self.rows_changed(cursor=0)

    def set_notice(self, lines: list[str]) -> None:
        """What to say while there are no rows."""
        self.notice = [safe(line) for line in lines]
        self.rows = []
        self.rows_changed(cursor=0)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def current(self) -> object | None:
        return self.rows[self.cursor] if self.rows and self.cursor < len(self.rows) else None

    def empty_lines(self) -> list[tuple[str, Style]]:
        guide = self.get_component_rich_style("changes--guide")
        return [(line, guide) for line in self.notice]

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        segments = []
        for text, name in self.cells(self.rows[index]):
            cell = style + self.get_component_rich_style(f"changes--{name}") if name else style
            segments.append(Segment(safe(text), cell))
        return segments

    def action_activate(self) -> None:
        if self.rows:
            self.post_message(self.Activated(self, self.cursor))
