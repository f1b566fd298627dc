"""The table of wasted space, two ways (v switches): dive's inefficient files (count, total
space, path, largest first) and our own account of hidden bytes (who added them, who hid
them, why, and the remedy for the highlighted one)."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType

from explorer.core.analysis import Analysis
from explorer.core.reclaim import REMEDY
from explorer.core.safetext import safe
from explorer.tui import format as fmt
from explorer.tui.widgets.vlist import VirtualList

DIVE, HIDDEN = "dive", "hidden"


class WasteTable(VirtualList):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"waste--header", "waste--muted"}

    DEFAULT_CSS = """
    WasteTable {
        & > .waste--header { text-style: bold; }
        & > .waste--muted { color: $text-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "v",
            "switch_view",
            "dive / hidden",
            tooltip="Switch between dive's inefficient files and the exact hidden bytes",
            id="waste.view",
        ),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.analysis: Analysis | None = None
        self.view = DIVE
        self.waiting = "waiting for every layer to be indexed…"

    @property
    def count(self) -> int:
        if self.analysis is None:
            return 0
        if self.view == DIVE:
            return len(self.analysis.efficiency.rows)
        return len(self.analysis.reclaimable.rows)

    def set_analysis(self, analysis: Analysis | None) -> None:
        self.analysis = analysis
        self.rows_changed(cursor=0)

    def action_switch_view(self) -> None:
        self.view = HIDDEN if self.view == DIVE else DIVE
        self.rows_changed(cursor=0)

    def header(self, width: int) -> str:
        if self.view == DIVE:
            return f"{'Count':>5}  {'Total Space':>11}  Path"
        return f"{'Size':>9}  {'Layers':<7} {'Why':<11} Path"

    def title(self) -> str:
        return "Inefficient files (dive)" if self.view == DIVE else "Hidden bytes (exact)"

    def remedy(self) -> str:
        """How to get the highlighted row's bytes back (hidden-bytes view)."""
        if self.analysis is None or self.view == DIVE or not self.count:
            return ""
        row = self.analysis.reclaimable.rows[self.cursor]
        return f"{row.reason}: {REMEDY.get(row.reason, '')}"

    def empty_lines(self) -> list[tuple[str, Style]]:
        muted = self.get_component_rich_style("waste--muted")
        if self.analysis is None:
            return [(self.waiting, muted)]
        return [("no wasted space: nothing to show", muted)]

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        assert self.analysis is not None
        if self.view == DIVE:
            row = self.analysis.efficiency.rows[index]
            return [
                Segment(f"{row.count:>5}  {fmt.size(row.cumulative):>11}  {safe(row.path)}", style)
            ]
        hid = self.analysis.reclaimable.rows[index]
        return [
            Segment(f"{fmt.size(hid.size):>9}  {f'{hid.added_by}→{hid.hidden_by}':<7} ", style),
            Segment(f"{hid.reason:<11} ", style + self.get_component_rich_style("waste--muted")),
            Segment(safe(hid.path), style),
        ]
