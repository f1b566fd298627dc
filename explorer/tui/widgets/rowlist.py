"""A list of prepared rows for the views over the explorer (config, Dockerfile, findings,
packages): headings that fold what is under them, rows that lead somewhere (Enter jumps to
a layer and a path), and the full text of the highlighted row for the line under the list.

Rows are made by the screens from core view models; their texts are made safe there (this
widget draws them as plain segments, never as markup). Only the visible rows are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.message import Message

from explorer.tui.widgets.vlist import VirtualList

STYLES = [
    "heading",
    "muted",
    "key",
    "info",
    "low",
    "medium",
    "high",
    "critical",
    "added",
    "removed",
    "modified",
]


@dataclass(frozen=True)
class Target:
    """Where a row leads: a layer, and a path in its tree (or none)."""

    layer: int
    path: str = ""


@dataclass
class ListRow:
    parts: list[tuple[str, str]]  # (text, style name from STYLES or "")
    detail: str = ""  # the whole of what the row says, for the line under the list
    target: Target | None = None
    group: str = ""  # a heading: the key of the group it folds
    member_of: tuple[str, ...] = field(default_factory=tuple)  # groups it is under


class RowList(VirtualList):
    """Rows with foldable headings; Enter or a double click on a row posts `Chosen`, on a
    heading folds or unfolds it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"rowlist--{name}" for name in STYLES}

    DEFAULT_CSS = """
    RowList {
        & > .rowlist--heading { text-style: bold; color: $accent; }
        & > .rowlist--muted { color: $text-muted; }
        & > .rowlist--key { text-style: bold; }
        & > .rowlist--info { color: $text-muted; }
        & > .rowlist--low { color: $primary; }
        & > .rowlist--medium { color: $warning; }
        & > .rowlist--high { color: $error; }
        & > .rowlist--critical { color: $error; text-style: bold reverse; }
        & > .rowlist--added { color: $diff-added; }
        & > .rowlist--removed { color: $diff-removed; }
        & > .rowlist--modified { color: $diff-modified; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "choose",
            "Go to",
            tooltip="Go to the highlighted row's layer and file (a heading folds)",
            id="rows.choose",
        ),
        Binding("space", "fold", "Fold", show=False, tooltip="Fold or unfold", id="rows.fold"),
    ]

    class Chosen(Message):
        def __init__(self, rows: RowList, row: ListRow) -> None:
            super().__init__()
            self.rows = rows
            self.row = row

        @property
        def control(self) -> RowList:
            return self.rows

    def __init__(self, *, empty: str = "nothing to show", id: str | None = None) -> None:
        super().__init__(id=id)
        self.all_rows: list[ListRow] = []
        self.shown: list[ListRow] = []
        self.folded: set[str] = set()
        self.empty = empty

    @property
    def count(self) -> int:
        return len(self.shown)

    @property
    def current(self) -> ListRow | None:
        return self.shown[self.cursor] if self.cursor < len(self.shown) else None

    def set_rows(self, rows: list[ListRow], folded: set[str] | None = None) -> None:
        self.all_rows = rows
        if folded is not None:
            self.folded = folded
        self._reshow(cursor=0)

    def _reshow(self, cursor: int | None = None) -> None:
        self.shown = [r for r in self.all_rows if not self.folded.intersection(r.member_of)]
        self.rows_changed(cursor=cursor)

    def empty_lines(self) -> list[tuple[str, Style]]:
        return [(self.empty, self.get_component_rich_style("rowlist--muted"))]

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        row = self.shown[index]
        segments = [Segment(text, self._style(style, name)) for text, name in row.parts]
        if row.group:
            mark = "▸ " if row.group in self.folded else "▾ "
            segments.insert(0, Segment(mark, self._style(style, "muted")))
        return segments

    def _style(self, base: Style, name: str) -> Style:
        return base + self.get_component_rich_style(f"rowlist--{name}") if name else base

    def action_fold(self) -> None:
        row = self.current
        if row is None or not row.group:
            return
        self.folded ^= {row.group}
        self._reshow()

    def action_choose(self) -> None:
        row = self.current
        if row is None:
            return
        if row.group:
            self.action_fold()
        else:
            self.post_message(self.Chosen(self, row))

    def on_virtual_list_activated(self, event: VirtualList.Activated) -> None:
        event.stop()
        self.action_choose()
