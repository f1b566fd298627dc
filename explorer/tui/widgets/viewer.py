"""The file viewer's body: a line-API widget over a file's text (syntax coloured, with line
numbers, wrapped or not), its hex dump, a diff, or a few lines of message. Only the rows on
screen are drawn; the blocks they need are read and coloured by workers, and drawn when they
arrive ("…" until then). Every text from the image goes through `safe` before it is drawn."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.highlight import highlight
from textual.markup import parse_style
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style as VisualStyle

from explorer.core.pager import HEX_WIDTH, MAX_LINE, HexPager, TextPager, hex_row
from explorer.core.safetext import safe

WRAP_LIMIT = 1 << 20  # bytes: longer files are not wrapped (every line would be read first)
KEEP = 16  # coloured blocks kept
TAB = 4


def display_line(text: str) -> str:
    """A line as drawn: tabs as spaces, control characters escaped."""
    return safe(text.expandtabs(TAB))


@dataclass
class BlockReady(Message):
    block: int
    lines: list[Content]


class FileView(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "viewer--gutter",
        "viewer--match",
        "viewer--added",
        "viewer--removed",
        "viewer--hunk",
        "viewer--guide",
    }

    DEFAULT_CSS = """
    FileView {
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
        & > .viewer--gutter { color: $text-muted; }
        & > .viewer--match { background: $accent 40%; }
        & > .viewer--added { color: $diff-added; }
        & > .viewer--removed { color: $diff-removed; }
        & > .viewer--hunk { color: $accent; }
        & > .viewer--guide { color: $text-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_by(-1)", "Up", show=False, id="viewer.up"),
        Binding("down,j", "scroll_by(1)", "Down", show=False, id="viewer.down"),
        Binding("pageup,b", "page(-1)", "Page up", show=False, id="viewer.page-up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="viewer.page-down"),
        Binding("home,g", "top", "Top", show=False, id="viewer.top"),
        Binding("end,G", "bottom", "Bottom", show=False, id="viewer.bottom"),
        Binding("left,h", "sideways(-8)", "Left", show=False, id="viewer.left"),
        Binding("right,l", "sideways(8)", "Right", show=False, id="viewer.right"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text: TextPager | None = None
        self.hex: HexPager | None = None
        self.fixed: list[tuple[str, str]] = []  # (line, style name): a diff or a message
        self.language: str | None = None
        self.wrap = False
        self.match: int | None = None  # the line (row in hex) the last search found
        self._coloured: OrderedDict[int, list[Content]] = OrderedDict()
        self._asked: set[int] = set()
        self._wrapped: list[tuple[int, int]] = []  # (line, first column) per row, wrapped
        self._load: Callable[[int], None] = lambda _block: None

    # -- what is shown ---------------------------------------------------------------------
    def show_text(
        self,
        pager: TextPager,
        load: Callable[[int], None],
        first: list[Content] | None = None,
    ) -> None:
        """`load(block)` starts a worker that posts `BlockReady` for that block; `first`:
        block 0, ready to draw. The language (`language`) is set when known."""
        self._reset()
        self.text, self.language, self._load = pager, None, load
        if first is not None:
            self._coloured[0] = first
        self.grow()

    def show_hex(self, pager: HexPager, load: Callable[[int], None]) -> None:
        self._reset()
        self.hex, self._load = pager, load
        self.grow()

    def show_lines(self, lines: list[tuple[str, str]]) -> None:
        """Fixed lines (a diff, a message): (text, style name), made safe here."""
        self._reset()
        self.fixed = [(display_line(text), style) for text, style in lines]
        self.grow()

    def _reset(self) -> None:
        self.text, self.hex, self.fixed, self.match, self.wrap = None, None, [], None, False
        self._coloured.clear()
        self._asked.clear()
        self._wrapped = []
        self.scroll_to(0, 0, animate=False, immediate=True)

    @property
    def rows(self) -> int:
        if self.text is not None:
            return len(self._wrapped) if self.wrap else self.text.lines
        if self.hex is not None:
            return self.hex.rows
        return len(self.fixed)

    def grow(self) -> None:
        """The row count changed (the scan found more lines)."""
        width = self.content_width() + self.gutter_width()
        self.virtual_size = Size(max(width, self.size.width), self.rows)
        self.refresh()

    def content_width(self) -> int:
        if self.text is not None and not self.wrap:
            return MAX_LINE  # lines are at most this long: scrolled sideways
        if self.hex is not None:
            return 8 + 2 + 49 + 2 + HEX_WIDTH
        return max((len(text) for text, _ in self.fixed), default=0)

    def gutter_width(self) -> int:
        if self.text is None:
            return 0
        return len(str(max(self.text.lines, 1))) + 3

    def can_wrap(self) -> bool:
        return self.text is not None and self.text.complete and self.text.size <= WRAP_LIMIT

    def set_wrapped(self, rows: list[tuple[int, int]] | None) -> None:
        """Rows of the wrapped text (None: not wrapped)."""
        self.wrap = rows is not None
        self._wrapped = rows or []
        self.grow()

    def wrap_width(self) -> int:
        return max(10, self.scrollable_content_region.width - self.gutter_width())

    def top_line(self) -> int:
        """The line (hex: row) at the top of the view."""
        y = int(self.scroll_y)
        if self.wrap and self._wrapped:
            return self._wrapped[min(y, len(self._wrapped) - 1)][0]
        return y

    def go_to(self, line: int) -> None:
        """Scroll `line` (hex: row) into view, marked as the search's match."""
        self.match = line
        row = line
        if self.wrap:
            row = next((i for i, (n, _) in enumerate(self._wrapped) if n == line), 0)
        height = self.scrollable_content_region.height
        self.scroll_to(y=max(0, row - height // 3), animate=False, immediate=True)
        self.refresh()

    # -- blocks arriving -------------------------------------------------------------------
    @staticmethod
    def colour(lines: list[str], language: str | None) -> list[Content]:
        """A block's lines, safe and coloured (called in a worker)."""
        shown = [display_line(line) for line in lines]
        if not language:
            return [Content(line) for line in shown]
        coloured = highlight("\n".join(shown), language=language).split("\n")
        return coloured[: len(shown)] + [Content("")] * (len(shown) - len(coloured))

    def drawn(self, line: int) -> bool:
        """Is text line `line` read and coloured (drawn when on screen)?"""
        return self.text is not None and self.text.block_of(line) in self._coloured

    def on_block_ready(self, message: BlockReady) -> None:
        message.stop()
        self._asked.discard(message.block)
        if self.text is not None:
            self._coloured[message.block] = message.lines
        while len(self._coloured) > KEEP:
            self._coloured.popitem(last=False)
        self.refresh()

    def _want(self, block: int) -> None:
        if block not in self._asked:
            self._asked.add(block)
            self._load(block)

    # -- keys ------------------------------------------------------------------------------
    def action_scroll_by(self, rows: int) -> None:
        self.scroll_to(y=self.scroll_y + rows, animate=False, immediate=True)

    def action_page(self, pages: int) -> None:
        step = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=self.scroll_y + pages * step, animate=False, immediate=True)

    def action_top(self) -> None:
        self.scroll_to(0, 0, animate=False, immediate=True)

    def action_bottom(self) -> None:
        self.grow()  # to the last line found so far (the count may have grown since)
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    def action_sideways(self, columns: int) -> None:
        self.scroll_to(x=max(0, self.scroll_x + columns), animate=False, immediate=True)

    def on_resize(self, event: events.Resize) -> None:
        self.grow()

    # -- drawing ---------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"viewer--{name}") if name else Style()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        row = int(self.scroll_y) + y
        if row >= self.rows:
            return Strip.blank(width, base)
        if self.text is not None:
            return self._text_row(row, width, base)
        if self.hex is not None:
            return self._hex_row(row, width, base)
        text, style = self.fixed[row]
        strip = Strip([Segment(text, base + self._style(style))])
        return strip.crop(int(self.scroll_x), int(self.scroll_x) + width).extend_cell_length(
            width, base
        )

    def _parse_style(self, style: str | VisualStyle) -> VisualStyle:
        """A highlighting style (`$text-error`, `bold`...) in the app's theme."""
        if isinstance(style, VisualStyle):
            return style
        return parse_style(style, self.app.theme_variables)

    def _text_row(self, row: int, width: int, base: Style) -> Strip:
        assert self.text is not None
        line, column = self._wrapped[row] if self.wrap else (row, 0)
        gutter = self.gutter_width()
        number = f"{line + 1:>{gutter - 3}} │ " if column == 0 else " " * (gutter - 2) + "│ "
        style = base + self._style("match") if line == self.match else base
        head = Strip([Segment(number, style + self._style("gutter"))])
        block = self.text.block_of(line)
        coloured = self._coloured.get(block)
        if coloured is None:
            self._want(block)
            body = Strip([Segment("…", base + self._style("guide"))])
        else:
            first, _ = self.text.block_range(block)
            content = coloured[line - first] if line - first < len(coloured) else Content("")
            segments = [
                Segment(text, style + st.rich_style)
                for text, st in content.render(end="", parse_style=self._parse_style)
            ]
            body = Strip(segments)
            if self.wrap:
                body = body.crop(column, column + width - gutter)
            else:
                left = int(self.scroll_x)
                body = body.crop(left, left + width - gutter)
        return Strip.join([head, body]).extend_cell_length(width, style).crop(0, width)

    def _hex_row(self, row: int, width: int, base: Style) -> Strip:
        assert self.hex is not None
        data = self.hex.row(row)
        style = base + self._style("match") if row == self.match else base
        if data is None:
            self._want(self.hex.page_of(row))
            segments = [Segment(f"{row * HEX_WIDTH:08x}  …", style + self._style("guide"))]
        else:
            offset, hexes, text = hex_row(row * HEX_WIDTH, data)
            segments = [
                Segment(offset + "  ", style + self._style("gutter")),
                Segment(hexes + "  ", style),
                Segment(text, style + self._style("guide")),
            ]
        left = int(self.scroll_x)
        return Strip(segments).crop(left, left + width).extend_cell_length(width, style)
