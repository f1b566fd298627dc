"""The library's tar dialogs: save an image to a tar (`w`) and load one (`L`), each asked
for with the equivalent command shown, then run with progress (Esc stops it)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from textual.app import App

from explorer.core import libraryactions as act
from explorer.core.library import LibraryImage
from explorer.tui.screens.confirm import ConfirmScreen, ProgressScreen

Done = Callable[[str | None], None]  # what was done (None: stopped)


def ask_save(app: App, im: LibraryImage, done: Done) -> None:
    """Ask for a file name (ending in .gz: gzip), then save `im` to it."""
    stem = (im.tags[0] if im.tags else im.short_id).replace("/", "_").replace(":", "_")

    def check(value: str) -> tuple[str, str]:
        return ("type a file name", "") if not value.strip() else ("", "")

    def confirmed(answer: tuple[str, str] | None) -> None:
        if answer is None:
            return
        path = answer[1].strip()
        compress = path.endswith((".gz", ".tgz"))

        def job(progress: Callable[[int, int], None], cancel: threading.Event) -> str:
            act.save(im, path, compress, progress, cancel)
            return f"saved {im.name} to {path}"

        app.push_screen(
            ProgressScreen(f"Saving {im.name}", act.save_command(im, path, compress), job), done
        )

    app.push_screen(
        ConfirmScreen(
            f"Save {im.name} to a tar (ending in .gz: gzip)",
            [],
            lambda _c, value: act.save_command(im, value, value.endswith((".gz", ".tgz"))),
            ask="File:",
            value=f"{stem}.tar",
            check=check,
            choices={"y": "save"},
        ),
        confirmed,
    )


def ask_load(app: App, kind: str, done: Done) -> None:
    """Ask for an archive, then load it into the `kind` engine."""

    def check(value: str) -> tuple[str, str]:
        return ("", "") if os.path.isfile(value.strip()) else ("no such file", "")

    def confirmed(answer: tuple[str, str] | None) -> None:
        if answer is None:
            return
        path = answer[1].strip()

        def job(progress: Callable[[int, int], None], cancel: threading.Event) -> str:
            said = act.load(kind, path, progress, cancel)
            return "; ".join(said) or f"loaded {path}"

        app.push_screen(ProgressScreen(f"Loading {path}", act.load_command(kind, path), job), done)

    app.push_screen(
        ConfirmScreen(
            "Load an image archive",
            [],
            lambda _c, value: act.load_command(kind, value or "FILE"),
            ask="File:",
            check=check,
            choices={"y": "load"},
        ),
        confirmed,
    )
