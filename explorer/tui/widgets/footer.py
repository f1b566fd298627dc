"""The key bar: Textual's compact footer, without restyling every key on each recompose, with
Quit and Help first and the views' keys last (a narrow terminal cuts the bar's end)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

FIRST = ("quit", "help", "open_image")  # actions shown first
# the views, and the library's compare (its status line says `c` once two are marked): a
# narrow bar cuts them
LAST = ("show_config", "show_findings", "show_packages", "compare")


class KeyFooter(Footer):
    """A compact `Footer` whose keys are made compact before they mount. Footer's own way
    (a reactive bound to each key, whose watcher adds the class after mount) restyles each
    key once more, 20-30 ms per recompose, and it recomposes whenever the bindings change."""

    def __init__(self) -> None:
        super().__init__(compact=True)

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        for widget in widgets:
            if isinstance(widget, FooterKey):
                widget.add_class("-compact", update=False)  # the watcher then finds it there
        first = [w for w in widgets if isinstance(w, FooterKey) and w.action in FIRST]
        last = [w for w in widgets if isinstance(w, FooterKey) and w.action in LAST]
        yield from first
        yield from (w for w in widgets if w not in first and w not in last)
        yield from last

    def watch_show_command_palette(self, old: bool, new: bool) -> None:
        if old != new and self.is_mounted:
            self.refresh(recompose=True)  # else the old palette key stays drawn
