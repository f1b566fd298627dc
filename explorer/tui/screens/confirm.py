"""The library's dialogs: a confirmation that shows the equivalent engine command (with an
optional input, checked as it is typed), and a progress dialog for a long action (Esc stops
it). Nothing they show is markup: image names are hostile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, ProgressBar, Static

from explorer.core.dockerunits import docker_size
from explorer.core.errors import Cancelled, ImageError
from explorer.core.safetext import safe

DIALOG_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 90%;
    max-width: 100;
    height: auto;
    max-height: 90%;
    border: round $primary;
    background: $panel;
    padding: 0 1;
}}
{name} .dialog-command {{
    color: $accent;
    text-style: bold;
    margin: 1 0 0 0;
}}
{name} .dialog-lines {{
    color: $text-muted;
    max-height: 10;
    overflow-y: auto;
}}
{name} .dialog-warning {{
    color: $warning;
}}
{name} .dialog-error {{
    color: $error;
}}
{name} .dialog-keys {{
    color: $text-muted;
    margin: 1 0 0 0;
}}
"""


def _plain(text: str) -> Content:
    return Content(safe(text))


class ConfirmScreen(ModalScreen[tuple[str, str] | None]):
    """Asks before an action: its title, what it touches (`lines`), the command it stands
    for. With `ask`, an input whose value `check` judges ((error, warning) as it is typed) and
    `command` turns into the command line. `choices` maps a key to what it confirms (`y`
    for the action, `f` for a forced one…); the result is (choice, value), None when
    cancelled."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Cancel", id="confirm.cancel"),
    ]

    def __init__(
        self,
        title: str,
        lines: list[str],
        command: Callable[[str, str], str],
        *,
        choices: dict[str, str] | None = None,
        ask: str = "",
        value: str = "",
        check: Callable[[str], tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.command = command
        self.choices = choices or {"y": "confirm"}
        self.ask = ask
        self.value = value
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_plain(self.title_text), classes="dialog-title")
            if self.lines:
                text = "\n".join(safe(line) for line in self.lines)  # each line made safe
                yield Static(Content(text), classes="dialog-lines")
            if self.ask:
                yield Static(_plain(self.ask))
                yield Input(value=self.value, select_on_focus=False, id="confirm-input")
            yield Static("", classes="dialog-command", id="confirm-command")
            yield Static("", classes="dialog-warning", id="confirm-warning")
            keys = [f"{k} {what}" for k, what in self.choices.items()]
            keys.append("Enter " + next(iter(self.choices.values())) if self.ask else "")
            shown = " · ".join(k for k in keys if k) + " · Esc cancel"
            yield Static(_plain(shown), classes="dialog-keys")

    def on_mount(self) -> None:
        self._update(self.value)
        if self.ask:
            self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._update(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._choose(next(iter(self.choices)))

    def _judge(self, value: str) -> tuple[str, str]:
        return self.check(value) if self.check is not None else ("", "")

    def _update(self, value: str) -> None:
        error, warning = self._judge(value)
        first = next(iter(self.choices))
        shown = "" if error else f"$ {self.command(first, value)}"
        self.query_one("#confirm-command", Static).update(_plain(shown))
        note = self.query_one("#confirm-warning", Static)
        note.set_class(bool(error), "dialog-error")
        note.update(_plain(error or warning))

    def on_key(self, event: events.Key) -> None:
        if self.ask and self.focused is not None:
            return  # typing: the keys are the input's (Enter confirms)
        if event.key in self.choices:
            event.stop()
            self._choose(event.key)

    def _choose(self, choice: str) -> None:
        value = self.query_one(Input).value if self.ask else ""
        if self._judge(value)[0]:
            return
        self.dismiss((choice, value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ProgressScreen(ModalScreen[str | None]):
    """Runs `job(progress, cancel)` in a thread with a progress bar; Esc stops it. Dismissed
    with the job's result line, or None when stopped; a fault is shown in the dialog."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ProgressScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop", id="progress.stop"),
    ]

    def __init__(
        self,
        title: str,
        command: str,
        job: Callable[[Callable[[int, int], None], threading.Event], str],
    ) -> None:
        super().__init__()
        self.title_text = title
        self.command_text = command
        self.job = job
        self.cancel = threading.Event()
        self.error = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_plain(self.title_text))
            yield Static(_plain(f"$ {self.command_text}"), classes="dialog-command")
            yield ProgressBar(total=None, show_eta=False, id="progress-bar")
            yield Static("", id="progress-bytes")
            yield Static("Esc stops (nothing is left half-written)", classes="dialog-keys")

    def on_mount(self) -> None:
        self._run()

    @work(thread=True, exit_on_error=False)
    def _run(self) -> None:
        try:
            said = self.job(self._progress, self.cancel)
        except Cancelled:
            self.app.call_from_thread(self.dismiss, None)
            return
        except ImageError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # a bug of ours: one line, never a traceback
            self.app.call_from_thread(self._failed, f"internal error: {type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self.dismiss, said)

    def _progress(self, done: int, total: int) -> None:
        self.app.call_from_thread(self._show, done, total)

    def _show(self, done: int, total: int) -> None:
        bar = self.query_one(ProgressBar)
        if total and done <= total:
            bar.update(total=total, progress=done)
        of = f" of about {docker_size(total)}" if total else ""
        self.query_one("#progress-bytes", Static).update(_plain(f"{docker_size(done)}{of}"))

    def _failed(self, message: str) -> None:
        self.error = message
        note = self.query_one("#progress-bytes", Static)
        note.add_class("dialog-error")
        note.update(_plain(message))
        self.query_one(".dialog-keys", Static).update("Esc closes")

    def action_stop(self) -> None:
        self.cancel.set()
        if self.error or not self.is_running_job:
            self.dismiss(None)

    @property
    def is_running_job(self) -> bool:
        return any(w.node is self and not w.is_finished for w in self.app.workers)
