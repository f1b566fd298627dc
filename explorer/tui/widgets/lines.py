"""A virtual list of ready-made text lines, each of a kind that picks its colour: the library's
sharing panel, advice, history and inspect views."""

from __future__ import annotations

import textwrap
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events

from explorer.tui.widgets.vlist import VirtualList


class LinesList(VirtualList):
    """Rows of (text, kind); kinds: head, shared, alone, dim, warn, plain; dim-row: dimmed as
    dim, but a row of a list: never wrapped."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "lines--head",
        "lines--shared",
        "lines--alone",
        "lines--dim",
        "lines--warn",
    }
    DEFAULT_CSS = """
    LinesList {
        & > .lines--head { text-style: bold; }
        & > .lines--shared { color: $success; }
        & > .lines--alone { color: $text; }
        & > .lines--dim { color: $text-muted; }
        & > .lines--warn { color: $warning; }
    }
    """

    def __init__(self, *, empty: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[tuple[str, str]] = []
        self.rows: list[tuple[str, str]] = []  # the lines, wrapped when `wrap`
        self.empty = empty
        self.wrap = False

    @property
    def count(self) -> int:
        return len(self.rows)

    def show(self, lines: list[tuple[str, str]], cursor: int = 0, wrap: bool = False) -> None:
        self.lines, self.wrap = lines, wrap
        self._wrap()
        self.rows_changed(cursor)

    def _wrap(self) -> None:
        """Lines too long for the width are wrapped: every one when `wrap`, else only the
        headings and notes (a list's rows stay one line each, cut with an ellipsis)."""
        width = self.scrollable_content_region.width
        if width < 20:
            self.rows = self.lines
            return
        self.rows = [
            (part, kind)
            for text, kind in self.lines
            for part in (
                textwrap.wrap(text, width, subsequent_indent="  ") or [""]
                if self.wrap or kind in ("head", "dim")
                else [text]
            )
        ]

    def on_resize(self, event: events.Resize) -> None:
        self._wrap()
        super().on_resize(event)

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        text, kind = self.rows[index]
        kind = "dim" if kind == "dim-row" else kind  # a row of a list (never wrapped), dimmed
        if kind in ("head", "shared", "alone", "dim", "warn"):
            style = style + self.get_component_rich_style(f"lines--{kind}")
        return [Segment(text, style)]

    def empty_lines(self) -> list[tuple[str, Style]]:
        return [(self.empty, self.get_component_rich_style("lines--dim"))] if self.empty else []
