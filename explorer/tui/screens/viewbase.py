"""What the views over the explorer share (config and Dockerfile, findings, packages): the
header, one or two row lists with the whole text of the highlighted row under them, the key
bar; Esc goes back, Enter on a row goes back to the explorer at that row's layer and file
(the screen is dismissed with its `Target`)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from explorer.core.safetext import safe
from explorer.tui.widgets.footer import KeyFooter
from explorer.tui.widgets.header import AppHeader
from explorer.tui.widgets.rowlist import RowList, Target

SIDE_BY_SIDE = 120  # below: one list at a time (Tab switches)


class ViewScreen(Screen[Target | None]):
    DEFAULT_CSS = """
    ViewScreen {
        layout: vertical;
        #view-lists { height: 1fr; }
        #view-lists > RowList {
            width: 1fr;
            border: round $foreground 30%;
            border-title-color: $text-muted;
            border-subtitle-color: $text-muted;
            background: $background;
            padding: 0 1;
        }
        #view-lists > RowList:focus {
            border: round $accent;
            border-title-color: $text;
            border-title-style: bold;
        }
        #view-detail {
            height: auto;
            max-height: 6;
            padding: 0 1;
            background: $boost;
        }
        &.-narrow #view-lists > RowList { display: none; }
        &.-narrow #view-lists > RowList.-active { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="Back to the explorer", id="view.back"),
    ]

    def __init__(self, image_name: str) -> None:
        super().__init__()
        self.image_name = image_name

    def lists(self) -> list[RowList]:
        """The row lists, left to right (subclasses make them)."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        with Horizontal(id="view-lists"):
            yield from self.lists()
        yield Static("", id="view-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        header = self.query_one(AppHeader)
        header.set_image(self.image_name)
        header.set_progress(None, None)
        header.set_status(self.status())
        first = self.query(RowList).first()
        first.add_class("-active")
        self.set_focus(first)
        self.fill()
        self.show_detail()

    def status(self) -> str:
        """What the header says (subclasses)."""
        return ""

    def fill(self) -> None:
        """Put the rows in the lists (subclasses)."""

    def on_resize(self) -> None:
        narrow = self.size.width < SIDE_BY_SIDE
        self.set_class(narrow, "-narrow")
        # As on the explorer: the bar cannot wrap, its keys need all of a narrow one.
        self.query_one(KeyFooter).show_command_palette = not narrow

    def action_back(self) -> None:
        self.dismiss(None)

    def action_switch_list(self) -> None:
        lists = list(self.query(RowList))
        at = next((i for i, rows in enumerate(lists) if rows.has_class("-active")), 0)
        new = lists[(at + 1) % len(lists)]
        for rows in lists:
            rows.set_class(rows is new, "-active")
        self.set_focus(new)
        self.show_detail()

    @on(RowList.Highlighted)
    def _moved(self) -> None:
        self.show_detail()

    def on_descendant_focus(self) -> None:
        self.show_detail()

    @on(RowList.Chosen)
    def _chosen(self, event: RowList.Chosen) -> None:
        if event.row.target is not None:
            self.dismiss(event.row.target)

    def show_detail(self) -> None:
        focused = self.focused
        row = focused.current if isinstance(focused, RowList) else None
        text = row.detail if row is not None else ""
        lines = [safe(line) for line in text.split("\n")]
        self.query_one("#view-detail", Static).update(Content("\n".join(lines)))
