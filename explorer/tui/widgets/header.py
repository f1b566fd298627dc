"""The top line: app and image name, indexing progress, and a short status."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ProgressBar, Static

from explorer.core.safetext import safe


class AppHeader(Horizontal):
    DEFAULT_CSS = """
    AppHeader {
        height: 1;
        dock: top;
        background: $panel;
        #header-title {
            width: auto; max-width: 60%; text-style: bold; padding: 0 1;
            text-wrap: nowrap; text-overflow: ellipsis;
        }
        #header-progress { width: auto; padding: 0 1 0 0; }
        #header-progress Bar { width: 20; }
        #header-status {
            width: 1fr; color: $text-muted; text-align: right; padding: 0 1;
            text-wrap: nowrap; text-overflow: ellipsis;
        }
        &.-error #header-status { color: $error; text-style: bold; }
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("LayerScope", id="header-title")
        yield ProgressBar(total=None, show_eta=False, id="header-progress")
        yield Static("", id="header-status")

    def set_image(self, name: str) -> None:
        self.query_one("#header-title", Static).update(
            Content.assemble("LayerScope  ", (safe(name), "not bold $text-accent"))
        )

    def set_progress(self, done: float | None, total: int | None) -> None:
        """None hides the bar (finished, failed or cancelled)."""
        bar = self.query_one(ProgressBar)
        if total is None or done is None:
            bar.display = False
            return
        bar.display = True
        bar.update(total=max(total, 1), progress=done)

    def set_status(self, text: str, *, error: bool = False) -> None:
        self.set_class(error, "-error")
        self.query_one("#header-status", Static).update(Content(safe(text)))
