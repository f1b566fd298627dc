"""The table of wasted space, two ways (v switches): dive's inefficient files (count, total
space, path, largest first) and our own account of hidden bytes, grouped by the layers that
added and hid them, why, and the directory they are in (a `chmod -R` of 30,000 files is one
row, Enter opens it; Enter on a file goes to it in the tree), with the remedy for the
highlighted row. The groups are worked out by a worker, never on the UI's thread."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message

from explorer.core.analysis import Analysis
from explorer.core.reclaim import REMEDY
from explorer.core.reclaimgroups import Group, group_hidden
from explorer.core.safetext import safe
from explorer.tui import format as fmt
from explorer.tui.widgets.rowlist import Target
from explorer.tui.widgets.vlist import VirtualList

DIVE, HIDDEN = "dive", "hidden"
GroupKey = tuple[str, int, int, str]


def key_of(group: Group) -> GroupKey:
    return (group.path, group.added_by, group.hidden_by, group.reason)


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
        Binding(
            "enter",
            "choose",
            "Open / go to",
            tooltip="Hidden bytes: open a group, or go to the file in the tree",
            id="waste.choose",
        ),
        Binding(
            "space",
            "toggle_group",
            "Open",
            show=False,
            tooltip="Hidden bytes: open or close a group",
            id="waste.open",
        ),
    ]

    class Chosen(Message):
        """A hidden file was chosen: show it in the tree of the layer that added it."""

        def __init__(self, target: Target) -> None:
            super().__init__()
            self.target = target

    class Grouped(Message):
        def __init__(self, analysis: Analysis, groups: list[Group]) -> None:
            super().__init__()
            self.analysis = analysis
            self.groups = groups

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.analysis: Analysis | None = None
        self.view = DIVE
        self.waiting = "waiting for every layer to be indexed…"
        self.groups: list[Group] | None = None  # None while they are worked out
        self.opened: set[GroupKey] = set()
        self.shown_rows: list[tuple[int, Group, str]] = []  # (depth, group, label)

    @property
    def count(self) -> int:
        if self.analysis is None:
            return 0
        if self.view == DIVE:
            return len(self.analysis.efficiency.rows)
        return len(self.shown_rows)

    def set_analysis(self, analysis: Analysis | None) -> None:
        self.analysis = analysis
        self.groups, self.opened, self.shown_rows = None, set(), []
        if analysis is not None:
            self._group(analysis)
        self.rows_changed(cursor=0)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="hidden-groups",
        description="_group",
    )
    def _group(self, analysis: Analysis) -> None:
        self.post_message(self.Grouped(analysis, group_hidden(analysis.reclaimable)))

    def on_waste_table_grouped(self, message: Grouped) -> None:
        message.stop()
        if message.analysis is not self.analysis:
            return  # another image's
        self.groups = message.groups
        self._flatten()
        if self.view == HIDDEN:
            self.rows_changed(cursor=0)

    def grouping(self) -> bool:
        """Are the groups being worked out?"""
        return any(w.group == "hidden-groups" and not w.is_finished for w in self.app.workers)

    def _flatten(self) -> None:
        out: list[tuple[int, Group, str]] = []
        todo = [(0, g, g.path) for g in reversed(self.groups or [])]
        while todo:
            depth, group, label = todo.pop()
            out.append((depth, group, label))
            if key_of(group) in self.opened:
                cut = len(group.path) + 1
                todo.extend((depth + 1, c, c.path[cut:]) for c in reversed(group.children()))
        self.shown_rows = out

    def action_switch_view(self) -> None:
        self.view = HIDDEN if self.view == DIVE else DIVE
        self.rows_changed(cursor=0)

    def action_toggle_group(self) -> None:
        if self.view != HIDDEN or not self.shown_rows:
            return
        _, group, _ = self.shown_rows[self.cursor]
        if group.is_file:
            return
        self.opened ^= {key_of(group)}
        self._flatten()
        self.rows_changed()

    def action_choose(self) -> None:
        if self.view != HIDDEN or not self.shown_rows:
            return
        _, group, _ = self.shown_rows[self.cursor]
        if group.is_file:
            self.post_message(self.Chosen(Target(group.added_by, group.path)))
        else:
            self.action_toggle_group()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("choose", "toggle_group"):
            return self.view == HIDDEN
        return True

    def on_virtual_list_activated(self, event: VirtualList.Activated) -> None:
        event.stop()
        self.action_choose()

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
        _, group, _ = self.shown_rows[min(self.cursor, len(self.shown_rows) - 1)]
        return f"{group.reason}: {REMEDY.get(group.reason, '')}"

    def empty_lines(self) -> list[tuple[str, Style]]:
        muted = self.get_component_rich_style("waste--muted")
        if self.analysis is None:
            return [(self.waiting, muted)]
        if self.view == HIDDEN and self.groups is None:
            return [("grouping the hidden bytes…", muted)]
        return [("no wasted space: nothing to show", muted)]

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        assert self.analysis is not None
        muted = style + self.get_component_rich_style("waste--muted")
        if self.view == DIVE:
            row = self.analysis.efficiency.rows[index]
            return [
                Segment(f"{row.count:>5}  {fmt.size(row.cumulative):>11}  {safe(row.path)}", style)
            ]
        depth, group, label = self.shown_rows[index]
        layers = f"{group.added_by}→{group.hidden_by}"
        segments = [
            Segment(f"{fmt.size(group.size):>9}  {layers:<7} ", style),
            Segment(f"{group.reason:<11} ", muted),
            Segment("  " * depth, style),
        ]
        if group.is_file:
            segments.append(Segment(safe(label), style))
        else:
            mark = "▾ " if key_of(group) in self.opened else "▸ "
            segments.append(Segment(mark, muted))
            segments.append(Segment(safe(label) + "/", style))
            segments.append(Segment(f" · {fmt.count(group.files)} files", muted))
        return segments
