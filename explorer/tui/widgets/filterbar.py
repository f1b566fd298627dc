"""The tree's filter bar: `Path filter: <regex>`, its keys, and the message it sends back."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static


class FilterInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "done",
            "Apply",
            tooltip="Keep the filter, back to the tree (the bar stays while it filters)",
            id="filter.apply",
        ),
        Binding(
            "escape",
            "done(True)",
            "Clear",
            tooltip="Clear the filter and close the bar",
            id="filter.close",
        ),
        Binding("down", "done", "To tree", show=False, id="filter.to-tree"),
    ]

    def action_done(self, clear: bool = False) -> None:
        self.post_message(FilterBar.Done(clear))


class FilterBar(Vertical):
    """`Path filter: <regex>`; a bad regex shows its error and leaves the tree as it was."""

    class Done(Message):
        """Enter or Down (keep the filter) or Esc (`clear` it) in the filter: back to the tree."""

        def __init__(self, clear: bool) -> None:
            super().__init__()
            self.clear = clear

    def compose(self) -> ComposeResult:
        with Horizontal(id="filter-line"):
            yield Static("Path filter ", classes="filter-label")
            yield FilterInput(placeholder="regex, e.g. \\.so$ or ^/etc", id="filter-input")
        yield Static("", id="filter-error")
