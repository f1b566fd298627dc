"""What the screens over the explorer share (history, find): a title, a column header, a
list of changes, a detail line, the key bar; Esc comes back, a chosen row is a `Target`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from explorer.core.safetext import safe
from explorer.tui.widgets.changes import ChangeList
from explorer.tui.widgets.footer import KeyFooter


@dataclass(frozen=True)
class Target:
    """Where a result leads: a layer and a `/`-rooted path; `entry` is the version of the
    path that layer wrote (-1 when it wrote none: a removal)."""

    layer: int
    path: str
    entry: int = -1
    view: bool = False  # open it in the viewer, not the tree


class OverlayScreen(Screen[Target | None]):
    """A screen over the explorer: a title, a column header, a list, a detail line."""

    DEFAULT_CSS = """
    OverlayScreen {
        #overlay-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
        #overlay-columns { height: 1; color: $text-muted; text-style: bold; padding: 0 1; }
        #overlay-list { height: 1fr; padding: 0 1; }
        #overlay-detail {
            height: 3; padding: 0 1; color: $text-muted;
            border-top: solid $foreground 30%;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="Back to the explorer", id="overlay.back"),
        Binding(
            "v",
            "view",
            "View",
            tooltip="View the version of the file this layer wrote",
            id="overlay.view",
        ),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", id="overlay-title")
        yield Static("", id="overlay-columns")
        yield from self.compose_body()
        yield Static("", id="overlay-detail")
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        yield ChangeList(id="overlay-list")

    @property
    def results(self) -> ChangeList:
        return self.query_one(ChangeList)

    def set_title(self, text: str) -> None:
        self.query_one("#overlay-title", Static).update(Content(safe(text)))

    def set_detail(self, *lines: str) -> None:
        text = "\n".join(safe(line) for line in lines)
        self.query_one("#overlay-detail", Static).update(Content(text))

    def target_of(self, row: object) -> Target | None:
        """Where a row leads."""
        raise NotImplementedError

    @on(ChangeList.Activated)
    def _go(self, event: ChangeList.Activated) -> None:
        target = self.target_of(self.results.current)
        if target is not None:
            self.dismiss(target)

    def action_view(self) -> None:
        target = self.target_of(self.results.current)
        if target is not None and target.entry >= 0:
            self.dismiss(replace(target, view=True))
        elif target is not None:
            self.notify("this layer wrote no version of the path", severity="warning")

    def action_back(self) -> None:
        self.dismiss(None)
