"""Open another image (o): a reference or a path, without leaving the app."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class OpenScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    OpenScreen {
        align: center middle;
    }
    #open {
        width: 80%;
        max-width: 100;
        height: auto;
        border: round $primary;
        background: $panel;
        padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close", id="open.close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="open"):
            yield Static("Open an image: repo:tag, docker://, podman://, or an archive path")
            yield Input(placeholder="corpus/waste:1  or  ./image.tar", id="open-target")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
