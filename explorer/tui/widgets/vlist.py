"""A virtual list: a line-API widget that draws only the visible rows of a list of any length
(100k tree rows cost what 40 do). Subclasses say how many rows there are and draw one."""

from __future__ import annotations

import textwrap
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


class VirtualList(ScrollView, can_focus=True):
    """Rows 0..count-1 with a cursor; `render_row` draws one row as segments."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"vlist--cursor", "vlist--dim"}

    DEFAULT_CSS = """
    VirtualList {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        & > .vlist--cursor {
            color: $block-cursor-blurred-foreground;
            background: $block-cursor-blurred-background;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .vlist--cursor {
            color: $block-cursor-foreground;
            background: $block-cursor-background;
            text-style: $block-cursor-text-style;
        }
        & > .vlist--dim { color: $text-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="list.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="list.page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="list.page-down"),
        Binding("home", "first", "First", show=False, id="list.first"),
        Binding("end", "last", "Last", show=False, id="list.last"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        """The cursor moved to `index` (by key, mouse or code)."""

        def __init__(self, vlist: VirtualList, index: int) -> None:
            super().__init__()
            self.vlist = vlist
            self.index = index

        @property
        def control(self) -> VirtualList:
            return self.vlist

    class Activated(Message):
        """A row was double-clicked (or chosen with Enter)."""

        def __init__(self, vlist: VirtualList, index: int) -> None:
            super().__init__()
            self.vlist = vlist
            self.index = index

        @property
        def control(self) -> VirtualList:
            return self.vlist

    # -- for subclasses ------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return 0

    def selectable(self, index: int) -> bool:
        """Can the cursor rest on this row? (e.g. not on a metadata-only layer)"""
        return True

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        raise NotImplementedError

    def empty_lines(self) -> list[tuple[str, Style]]:
        """What to say, line by line, when there are no rows."""
        return []

    # -- sizing --------------------------------------------------------------------------------
    def rows_changed(self, cursor: int | None = None) -> None:
        """Call after the rows changed; keeps the cursor on a valid row."""
        size = Size(self.size.width, self.count)
        height = self.styles.height
        # Only an auto-height list grows with its rows, and a scrollbar that comes or goes
        # changes the width of the rows. Else a new row count needs no layout pass, which
        # costs a whole-screen render (tens of ms: too much for every layer step): the
        # scrollbar is told the new size directly.
        scrolls = size.height > self.container_size.height
        if height is None or height.is_auto or scrolls != self.show_vertical_scrollbar:
            self.virtual_size = size
            layout = True
        else:
            self.set_reactive(VirtualList.virtual_size, size)
            if scrolls:
                self.vertical_scrollbar.window_virtual_size = size.height
            layout = False
        target = self.cursor if cursor is None else cursor
        self.set_cursor(target, scroll=True, notify=True if cursor is not None else None)
        self.refresh(layout=layout)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self.count)
        self.call_after_refresh(self.scroll_to_cursor)  # the cursor stays in view

    # -- cursor --------------------------------------------------------------------------------
    def _nearest(self, index: int, step: int) -> int:
        """The first selectable row from `index` going `step` (then the other way)."""
        n = self.count
        if n == 0:
            return 0
        index = max(0, min(index, n - 1))
        for direction in (step or 1, -(step or 1)):
            i = index
            while 0 <= i < n:
                if self.selectable(i):
                    return i
                i += direction
        return index

    def set_cursor(
        self, index: int, *, step: int = 1, scroll: bool = True, notify: bool | None = None
    ) -> None:
        """Move the cursor (to the nearest selectable row); `notify` None: post Highlighted
        if it moved, True: always, False: never."""
        new = self._nearest(index, step)
        changed = new != self.cursor
        self.cursor = new
        if scroll:
            self.scroll_to_cursor()
        if notify or (notify is None and changed):
            self.post_message(self.Highlighted(self, new))

    def scroll_to_cursor(self) -> None:
        if self.count:
            self.scroll_to_region(
                Region(0, self.cursor, 1, 1), animate=False, immediate=True, force=True
            )

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()

    def move(self, delta: int) -> None:
        self.set_cursor(self.cursor + delta, step=1 if delta >= 0 else -1)

    def action_cursor_up(self) -> None:
        self.move(-1)

    def action_cursor_down(self) -> None:
        self.move(1)

    def action_page_up(self) -> None:
        self.move(-max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self.move(max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.set_cursor(0)
        self._show_rows(0, self.cursor)  # and the rows above it the cursor skipped

    def action_last(self) -> None:
        self.set_cursor(self.count - 1, step=-1)
        self._show_rows(self.cursor, self.count - 1)  # and the rows below it

    def _show_rows(self, first: int, last: int) -> None:
        """Scroll rows first..last into view (the first of them, if they do not all fit)."""
        if self.count and last > first:
            height = min(last - first + 1, max(1, self.scrollable_content_region.height))
            region = Region(0, first, 1, height)
            self.scroll_to_region(region, animate=False, immediate=True, force=True)

    # -- mouse ---------------------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = int(self.scroll_y) + offset.y
        if 0 <= index < self.count and self.selectable(index):
            self.set_cursor(index, scroll=False)
            if event.chain >= 2:
                self.post_message(self.Activated(self, index))

    # -- drawing -------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = int(self.scroll_y) + y
        if self.count == 0:
            lines = [
                (part, style)
                for text, style in self.empty_lines()
                for part in (textwrap.wrap(text, max(width, 10)) or [""])
            ]
            if y < len(lines):
                text, style = lines[y]
                return fit([Segment(text, base + style)], width, base)
            return Strip.blank(width, base)
        if index >= self.count:
            return Strip.blank(width, base)
        segments = self.render_row(index, width, base)
        if index == self.cursor:
            cursor = self.get_component_rich_style("vlist--cursor")
            segments = list(Segment.apply_style(segments, post_style=cursor))
            return fit(segments, width, base + cursor)
        return fit(segments, width, base)


def fit(segments: list[Segment], width: int, style: Style) -> Strip:
    """Exactly `width` cells: padded, or cut with an ellipsis."""
    strip = Strip(segments)
    if strip.cell_length <= width:
        return strip.extend_cell_length(width, style)
    cut = strip.crop(0, max(0, width - 1))
    last = list(cut)[-1].style if len(cut) else style
    return Strip([*cut, Segment("…", last)], width)
