"""The layer list: one row per layer (compare marker, index, size, instruction), with the
metadata-only instructions (ENV, LABEL, USER...) shown dimmed between them."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType

from explorer.core.image import Step
from explorer.core.treeview import AGGREGATED, LAYER_CHANGES, compare_indexes
from explorer.tui import format as fmt
from explorer.tui.format import one_line
from explorer.tui.widgets.vlist import VirtualList

SIZE_WIDTH = 9


class LayerList(VirtualList):
    """Cursor = the selected layer; it never rests on a metadata-only row."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "layers--top",
        "layers--bottom",
        "layers--empty",
        "layers--pending",
        "layers--reading",
    }

    DEFAULT_CSS = """
    LayerList {
        & > .layers--top { color: $accent; }
        & > .layers--bottom { color: $text-disabled; }
        & > .layers--empty { color: $text-muted; text-style: italic; }
        & > .layers--pending { color: $text-muted; }
        & > .layers--reading { color: $warning; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+l",
            "screen.compare_mode('layer')",
            "Layer",
            tooltip="Compare: what the selected layer changed",
            id="layers.layer-changes",
        ),
        Binding(
            "ctrl+a",
            "screen.compare_mode('aggregated')",
            "Aggregated",
            tooltip="Compare: aggregated contents of layers 0–N",
            id="layers.aggregated",
        ),
        Binding(
            "right,l",
            "screen.focus_tree",
            "Files",
            show=False,
            tooltip="Go to the file tree",
            id="layers.to-tree",
        ),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: list[Step] = []
        self.sizes: dict[int, int] = {}
        self.reading: int | None = None
        self.mode = LAYER_CHANGES
        self.failed = False

    @property
    def count(self) -> int:
        return len(self.items)

    def selectable(self, index: int) -> bool:
        return self.items[index].layer is not None

    def empty_lines(self) -> list[tuple[str, Style]]:
        text = "could not read the image" if self.failed else "reading the image…"
        return [(text, self._style("pending"))]

    # -- state ---------------------------------------------------------------------------------
    def set_items(self, items: list[Step]) -> None:
        self.items = items
        self.rows_changed(cursor=self._nearest(0, 1))

    @property
    def selected_layer(self) -> int | None:
        if not self.items:
            return None
        return self.items[self.cursor].layer

    def select_layer(self, layer: int) -> None:
        for i, item in enumerate(self.items):
            if item.layer == layer:
                self.set_cursor(i)
                return

    def set_size(self, layer: int, nbytes: int) -> None:
        self.sizes[layer] = nbytes
        if self.reading == layer:
            self.reading = None
        self.refresh()

    def set_reading(self, layer: int | None) -> None:
        if layer != self.reading:
            self.reading = layer
            self.refresh()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.refresh()

    # -- drawing -------------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"layers--{name}")

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        item = self.items[index]
        text = one_line(item.instruction)
        if item.layer is None:
            empty = style + self._style("empty")
            return [Segment(" " * (2 + 3 + 1 + SIZE_WIDTH + 2), style), Segment(text, empty)]
        n = item.layer
        selected = self.selected_layer
        marker = Segment("  ", style)
        if selected is not None:
            b0, b1, t0, t1 = compare_indexes(selected, self.mode)
            if t0 <= n <= t1:
                marker = Segment("▌ ", style + self._style("top"))
            elif b0 <= n <= b1 and self.mode == AGGREGATED:
                marker = Segment("▌ ", style + self._style("bottom"))
        if n in self.sizes:
            size, size_style = fmt.size(self.sizes[n]), style
        elif n == self.reading:
            size, size_style = "reading", style + self._style("reading")
        else:
            size, size_style = "…", style + self._style("pending")
        return [
            marker,
            Segment(f"{n:>3} ", style),
            Segment(f"{size:>{SIZE_WIDTH}}  ", size_style),
            Segment(text, style),
        ]
