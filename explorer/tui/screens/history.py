"""A path's history over the explorer: every layer that added, changed, deleted or hid it,
the version the final image shows marked. Enter goes to that layer and path in the tree;
`v` views the version a layer wrote; Esc comes back."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.message import Message
from textual.widgets import Static

from explorer.core.history import HIDDEN, Entries, Event, history
from explorer.core.image import Step
from explorer.tui import format as fmt
from explorer.tui.format import one_line
from explorer.tui.screens.overlay import OverlayScreen, Target
from explorer.tui.widgets.changes import Cells, ChangeList

HEADER = f"{'Layer':>5}  {'Action':<10} {'Size':>9}   What changed · by"


class HistoryScreen(OverlayScreen):
    @dataclass
    class Ready(Message):
        events: list[Event]

    def __init__(self, entries: Entries, path: str, steps: dict[int, Step]) -> None:
        super().__init__()
        self.entries = entries
        self.path = path  # normalized (relative)
        self.steps = steps

    def on_mount(self) -> None:
        self.set_title(f"History of /{self.path}")
        self.query_one("#overlay-columns", Static).update(HEADER)
        self.results.set_notice(["tracing the path through every layer…"])
        self.results.focus()
        self._trace()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _trace(self) -> None:
        self.post_message(self.Ready(history(self.entries, self.path)))

    def on_history_screen_ready(self, message: HistoryScreen.Ready) -> None:
        if not message.events:
            self.results.set_notice([f"No layer has /{self.path}."])
            return
        shown = next((i for i, e in enumerate(message.events) if e.shown), 0)
        self.results.show(message.events, self._cells)
        self.results.set_cursor(shown, notify=True)

    def _instruction(self, layer: int) -> str:
        step = self.steps.get(layer)
        return one_line(step.instruction) if step else ""

    def _cells(self, row: object) -> Cells:
        assert isinstance(row, Event)
        kind = "hidden" if row.action == HIDDEN else row.action
        size = fmt.size(row.size) if row.writes and row.entry >= 0 else ""
        what = "; ".join(x for x in (row.kind, row.detail) if x)
        return [
            (f"{row.layer:>5}  ", ""),
            (f"{row.action:<10} ", kind),
            (f"{size:>9} ", ""),
            ("● " if row.shown else "  ", "added"),
            (what, kind),
            (f"  · {self._instruction(row.layer)}", "guide"),
        ]

    @on(ChangeList.Highlighted)
    def _moved(self, event: ChangeList.Highlighted) -> None:
        row = self.results.current
        if isinstance(row, Event):
            final = "  (the version the final image shows)" if row.shown else ""
            self.set_detail(f"layer {row.layer}: {row.action}{final}", self._full(row.layer))

    def _full(self, layer: int) -> str:
        step = self.steps.get(layer)
        return (step.command or step.instruction) if step else ""

    def target_of(self, row: object) -> Target | None:
        if not isinstance(row, Event):
            return None
        return Target(row.layer, "/" + self.path, row.entry)
