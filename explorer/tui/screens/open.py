"""Open another image (o): a reference or a path, without leaving the app.

The image is opened here, in the dialog: one that cannot be opened leaves the image on
screen as it is and says why in the dialog. The dialog hands over what it opened.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from explorer.core.errors import Cancelled
from explorer.core.loading import Loading, describe
from explorer.core.safetext import safe
from explorer.core.sources import open_source


class OpenScreen(ModalScreen[tuple[str, Loading] | None]):
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
    #open-status {
        color: $text-muted;
    }
    #open-status.-error {
        color: $error;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="open.close"),
    ]

    def __init__(self, platform: str | None = None, prompt: str = "Open an image") -> None:
        super().__init__()
        self.platform = platform
        self.prompt = prompt
        self._cancel = threading.Event()  # set when the dialog closes during an opening
        self._busy = False  # an opening is under way

    def compose(self) -> ComposeResult:
        with Vertical(id="open"):
            yield Static(f"{self.prompt}: repo:tag, docker://, podman://, or an archive path")
            yield Input(placeholder="corpus/waste:1  or  ./image.tar", id="open-target")
            yield Static("Enter opens · Esc closes", id="open-status")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        target = event.value.strip()
        if not target or self._busy:
            return
        self._busy = True
        self._status(f"opening {target}…")
        self._open(target)

    @work(thread=True, exit_on_error=False, description="_open")
    def _open(self, target: str) -> None:
        loading = Loading(partial(open_source, target, None, self.platform))
        try:
            error = loading.wait_open(self._cancel)
        except Cancelled:
            return
        if error is not None:  # bad input, or a bug of ours: one line, never a traceback
            self.app.call_from_thread(self._status, describe(error, target), True)
            return
        self.app.call_from_thread(self._opened, target, loading)

    def _opened(self, target: str, loading: Loading) -> None:
        if self._cancel.is_set():  # closed meanwhile: nobody will read it
            loading.cancel.set()  # the load stops and closes what it opened
            return
        self.dismiss((target, loading))

    def _status(self, text: str, error: bool = False) -> None:
        self._busy = not error
        status = self.query_one("#open-status", Static)
        status.set_class(error, "-error")
        status.update(Content(safe(text)))  # may quote the image's names: never markup

    def action_close(self) -> None:
        self._cancel.set()
        self.dismiss(None)
