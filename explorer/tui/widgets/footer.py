"""The key bar: Textual's compact footer, without restyling every key on each recompose."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeyFooter(Footer):
    """A compact `Footer` whose keys are made compact before they mount. Footer's own way
    (a reactive bound to each key, whose watcher adds the class after mount) restyles each
    key once more, 20-30 ms per recompose, and it recomposes whenever the bindings change."""

    def __init__(self) -> None:
        super().__init__(compact=True)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                widget.add_class("-compact", update=False)  # the watcher then finds it there
            yield widget
