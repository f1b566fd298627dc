"""The LayerScope application: themes, keymap, help and palette around the main screen.

`make_app(target, ...)` is the factory tests and `launch` use; nothing here touches an image
until the main screen's worker starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.screen import ModalScreen, Screen

from explorer.core.library import Library
from explorer.core.loading import Loading
from explorer.core.sources import Source
from explorer.tui.bindings import keymap_conflicts
from explorer.tui.colours import diff_colours
from explorer.tui.commands import ThemeChoices, explorer_commands
from explorer.tui.keymap import keymap_path
from explorer.tui.loadstate import OVER
from explorer.tui.screens.help import HelpScreen
from explorer.tui.screens.library import LibraryScreen
from explorer.tui.screens.main import MainScreen
from explorer.tui.screens.open import OpenScreen
from explorer.tui.settings import load_settings, save_settings
from explorer.tui.widgets.efficiency import WasteTable

Clock = Callable[[], float]


class LayerScopeApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "LayerScope"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Quit LayerScope", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit-ctrl-c"),
        Binding("question_mark,f1", "help", "Help", tooltip="Show every key", id="help"),
        Binding(
            "o",
            "open_image",
            "Open",
            tooltip="Open another image (a reference or an archive path)",
            id="open",
        ),
        Binding(
            "ctrl+t",
            "change_theme",
            "Theme",
            show=False,
            tooltip="Choose a colour theme",
            id="theme",
        ),
    ]

    def __init__(
        self,
        target: str,
        kind: str | None = None,
        platform: str | None = None,
        *,
        clock: Clock = time.perf_counter,
        keymap: dict[str, str] | None = None,
        keymap_file: Path | None = None,
        notices: Iterable[str] = (),
        opener: Callable[[], Source] | None = None,
        load_job: Loading | None = None,
        library: Callable[[], Library] | None = None,
        now: Clock = time.time,
        theme: str | None = None,
        settings_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings_file = settings_file  # where the theme the user picks is remembered
        if theme in self.available_themes:
            self.theme = theme
        self.target = target
        self.kind = kind
        self.platform = platform
        self.clock = clock
        self.keymap = dict(keymap or {})
        self.keymap_file = keymap_file or keymap_path()
        self.notices = list(notices)
        self.opener = opener  # tests: a Source factory instead of opening `target`
        self.load_job = load_job  # `target` being read already (for the first screen)
        self.failed = False  # an error was shown: the exit code says so
        self.library = library  # reads the engines' images: the library is the first screen
        self.now = now  # the wall clock the library's "created … ago" counts from

    def action_change_theme(self) -> None:
        self.push_screen(CommandPalette(providers=[ThemeChoices], placeholder="Themes…"))

    def watch_theme(self, theme: str) -> None:
        if self.settings_file is None:
            return
        saved, _problems = load_settings(self.settings_file)
        if saved.get("theme") == theme:
            return
        try:
            save_settings(self.settings_file, {**saved, "theme": theme})
        except OSError as exc:
            self.notify(f"the theme is not remembered: {exc}", severity="warning", markup=False)

    def get_css_variables(self) -> dict[str, str]:
        variables = super().get_css_variables()
        variables.update(diff_colours(variables, self.current_theme.dark))
        return variables

    def get_default_screen(self) -> Screen:
        # The explorer is the app's first screen: drawn at once, complete when the image was
        # read during start-up (a screen pushed over a blank first one is drawn ~0.2 s later).
        if self.library is not None:
            return LibraryScreen(self.library, self.now)
        load_job, self.load_job = self.load_job, None
        return MainScreen(self.target, self.kind, self.platform, self.opener, load_job)

    def on_mount(self) -> None:
        if self.library is not None:  # only there: back from an image to the library
            self.bind("b", "library", description="Library")
        if self.keymap:
            self.set_keymap(self.keymap)
        for notice in self.notices:
            self.notify(notice, timeout=8, markup=False)
        for problem in keymap_conflicts(self):
            self.notify(problem, severity="warning", timeout=12, markup=False)

    @property
    def settled(self) -> bool:
        """Is the background work over (indexing finished, failed or cancelled; analysis in;
        the tree idle, its views worked out ahead)? Tests and screenshots wait for this."""
        main = self.main_screen
        if main is None or main.load_state not in OVER or main.workers_in_group("index"):
            return False
        if main.workers_in_group("explain") or main.query_one(WasteTable).grouping():
            return False
        tree = main.file_tree
        # The views worked out ahead too: nothing may still compete for the CPU.
        busy = tree.workers_running() or tree.workers_running("tree-prefetch")
        return not (tree.computing or busy)

    @property
    def main_screen(self) -> MainScreen | None:
        """The explorer of the current image (the top-most one)."""
        return next((s for s in reversed(self.screen_stack) if isinstance(s, MainScreen)), None)

    def explore(self, target: str, kind: str, load_job: Loading) -> None:
        """Open an image of the library in the explorer, over the library."""
        self.target, self.kind, self.failed = target, kind, False
        self.push_screen(MainScreen(target, kind, self.platform, None, load_job))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "library" and self._in_library():
            return False  # there already: not in its key bar
        return super().check_action(action, parameters)

    def _in_library(self) -> bool:
        """Is the library the screen shown (perhaps under a dialog)?"""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, LibraryScreen):
                return True
            if not isinstance(screen, ModalScreen):
                return False
        return False

    def action_library(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, LibraryScreen):
            screen = self.screen
            if isinstance(screen, MainScreen):
                screen.action_cancel_index()
            self.pop_screen()

    def action_open_image(self) -> None:
        if isinstance(self.screen, MainScreen | LibraryScreen):
            self.push_screen(OpenScreen(self.platform), self._open)

    def _open(self, opened: tuple[str, Loading] | None) -> None:
        """Replace the main screen by one on the image the dialog opened (the old one stops
        reading first)."""
        if opened is None:
            return
        target, load_job = opened
        old = self.screen
        self.target, self.kind, self.failed = target, None, False
        new = MainScreen(target, None, self.platform, None, load_job)
        if isinstance(old, LibraryScreen) or (
            isinstance(old, MainScreen) and len(self.screen_stack) == 1
        ):
            # Textual cannot replace the first screen of the app: it stays below, emptied.
            if isinstance(old, MainScreen):
                old.retire()
            self.push_screen(new)
            return
        if isinstance(old, MainScreen):
            old.action_cancel_index()
        self.switch_screen(new)

    def action_compare_with(self) -> None:
        if isinstance(self.screen, MainScreen):
            self.push_screen(OpenScreen(self.platform, "Compare with"), self._compare)

    def _compare(self, opened: tuple[str, Loading] | None) -> None:
        if opened is not None:
            from explorer.tui.screens.compare import CompareScreen

            target, loading = opened
            screen = CompareScreen(self.target, target, self.kind, self.platform, loading_b=loading)
            self.push_screen(screen)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Only ours: Textual's own (its keys panel, screenshot, maximize) do not apply here,
        # and its theme and quit entries are ours too.
        yield from explorer_commands(self, screen)


def make_app(
    target: str,
    kind: str | None = None,
    platform: str | None = None,
    **options: Any,
) -> LayerScopeApp:
    """An app for `target` (an archive path or an engine reference); options go to
    `LayerScopeApp` (clock, keymap, keymap_file, notices, opener, load_job, theme,
    settings_file)."""
    return LayerScopeApp(target, kind, platform, **options)
