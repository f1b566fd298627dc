"""Find over the explorer: a glob or a regex over every layer's entries (deleted and
overwritten ones included), searched as it is typed (in a worker). Enter in the box goes to
the matches (typed faster than the search waits, it runs at once and the focus follows its
matches, the first one under the cursor); Enter on a match goes to that layer and path in
the tree."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from explorer.core.find import Match, PatternError, compile_pattern, find
from explorer.core.history import HIDDEN, Entries
from explorer.tui import format as fmt
from explorer.tui.screens.overlay import OverlayScreen, Target
from explorer.tui.widgets.changes import Cells, ChangeList

HEADER = f"{'Layer':>5}  {'Action':<10} {'Size':>9}  Path"
DEBOUNCE = 0.15  # seconds: a search per key typed would queue up behind each other


class FindInput(Input):
    """The pattern box: ↓ goes to the matches."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "screen.focus_results", "Matches", show=False, id="find.to-matches"),
    ]


class FindScreen(OverlayScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+r",
            "toggle_regex",
            "Glob/regex",
            tooltip="Search with a glob or with a regular expression",
            id="find.regex",
        ),
        Binding(
            "slash",
            "focus_pattern",
            "Pattern",
            show=False,
            tooltip="Edit the pattern",
            id="find.pattern",
        ),
    ]

    @dataclass
    class Found(Message):
        pattern: str
        regex: bool
        matches: Sequence[Match]
        seconds: float

    def __init__(self, entries: Entries, pattern: str = "", regex: bool = False) -> None:
        super().__init__()
        self.entries = entries
        self.pattern = pattern
        self.regex = regex
        self._debounce: Timer | None = None  # the search of what was typed, waiting
        self._searched: tuple[str, bool] | None = None  # the (pattern, regex) searched last
        self._shown: tuple[str, bool] | None = None  # the (pattern, regex) of the matches shown
        self._to_matches = False  # Enter came before the search's matches: focus them then

    def compose_body(self) -> ComposeResult:
        yield FindInput(
            self.pattern, placeholder="glob (*.pem, /etc/*) — Ctrl+R: regex", id="find-pattern"
        )
        yield from super().compose_body()

    def on_mount(self) -> None:
        self._title()
        self.query_one("#overlay-columns", Static).update(HEADER)
        self.results.set_notice(["Type a glob: a name (*.pem) or a path (/etc/*.conf)."])
        self.query_one(FindInput).focus()
        if self.pattern:
            self._searched = (self.pattern, self.regex)
            self._search(self.pattern, self.regex)

    def _title(self, status: str = "") -> None:
        how = "regex" if self.regex else "glob"
        self.set_title(f"Find in every layer ({how}){'  · ' + status if status else ''}")

    @on(Input.Changed, "#find-pattern")
    def _changed(self, event: Input.Changed) -> None:
        self.pattern = event.value
        self._to_matches = False
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE, lambda: self._start())

    @on(Input.Submitted, "#find-pattern")
    def _submitted(self) -> None:
        """To the matches of what is typed: now when they are shown, else when they come."""
        if self._debounce is not None:  # not searched yet: now
            self._start()
        now = (self.pattern, self.regex)
        if self._shown == now:
            if self.results.count:
                self.set_focus(self.results)
        else:  # nothing while the pattern is unusable (the list says why)
            self._to_matches = self._searched == now

    def _start(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        if not self.pattern:
            self.results.set_notice(["Type a glob: a name (*.pem) or a path (/etc/*.conf)."])
            self._title()
            return
        try:
            compile_pattern(self.pattern, self.regex)
        except PatternError as exc:
            self.results.set_notice([str(exc)])
            self._title("not a usable pattern")
            return
        self._title("searching…")
        self._searched = (self.pattern, self.regex)
        self._search(self.pattern, self.regex)

    @work(thread=True, exclusive=True, exit_on_error=False, description="_search")
    def _search(self, pattern: str, regex: bool) -> None:
        clock = getattr(self.app, "clock", time.perf_counter)  # the app's: tests freeze it
        started = clock()
        matches = find(self.entries, compile_pattern(pattern, regex))
        self.post_message(self.Found(pattern, regex, matches, clock() - started))

    def on_find_screen_found(self, message: FindScreen.Found) -> None:
        if (message.pattern, message.regex) != (self.pattern, self.regex):
            return  # typed on since: a newer search is coming
        took = f"{message.seconds * 1000:.0f} ms"
        self._title(f"{fmt.count(len(message.matches))} matches in {took}")
        self._shown = (message.pattern, message.regex)
        to_matches, self._to_matches = self._to_matches, False
        if message.matches:
            self.results.show(message.matches, _cells)
            self.results.set_cursor(0, notify=True)
            if to_matches:
                self.set_focus(self.results)
        else:
            self.results.set_notice(["No entry of any layer matches."])
            self.set_detail("")

    @on(ChangeList.Highlighted)
    def _moved(self, event: ChangeList.Highlighted) -> None:
        row = self.results.current
        if isinstance(row, Match):
            what = "; ".join(x for x in (row.kind, row.detail) if x)
            self.set_detail(f"layer {row.layer}: {row.action} {row.path}", what)

    def target_of(self, row: object) -> Target | None:
        if not isinstance(row, Match):
            return None
        writes = row.action not in ("removed", HIDDEN)
        return Target(row.layer, row.path, row.entry if writes else -1)

    def action_toggle_regex(self) -> None:
        self.regex = not self.regex
        self._to_matches = False
        self._start()

    def action_focus_pattern(self) -> None:
        self.set_focus(self.query_one(FindInput))

    def action_focus_results(self) -> None:
        self.set_focus(self.results)


def _cells(row: object) -> Cells:
    assert isinstance(row, Match)
    kind = "hidden" if row.action == HIDDEN else row.action
    size = fmt.size(row.size) if row.kind else ""
    return [
        (f"{row.layer:>5}  ", ""),
        (f"{row.action:<10} ", kind),
        (f"{size:>9}  ", ""),
        (row.path, kind),
        (f"  {row.detail}" if row.detail else "", "guide"),
    ]
