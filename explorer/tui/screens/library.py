"""The library: every local image of the engines that answer, with shared and unique sizes,
sorting and filtering, the selected image's sharing (or its advice, history, inspect) below,
and the everyday actions — each behind a confirmation showing the equivalent command.

The list is read by a thread worker from the engines' metadata (never an export); an action
runs in a worker too, and the list is read again after it. Enter opens the selected image in
the explorer through the loading pipeline, as `o` does; Space marks two images and `c` opens
them in the compare screen (the older-created as A).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Static

from explorer.core import libraryactions as act
from explorer.core.errors import Cancelled, ImageError
from explorer.core.library import Library, LibraryImage
from explorer.core.libraryview import (
    PANELS,
    View,
    arrange,
    compare_pair,
    marked,
    marks_line,
    panel_lines,
    summary,
    toggle_mark,
)
from explorer.core.loading import Loading, describe
from explorer.core.safetext import safe
from explorer.core.sources import open_source
from explorer.tui.screens.confirm import ConfirmScreen
from explorer.tui.screens.librarytar import ask_load, ask_save
from explorer.tui.widgets.footer import KeyFooter
from explorer.tui.widgets.imagelist import ImageList, heading
from explorer.tui.widgets.lines import LinesList
from explorer.tui.widgets.vlist import VirtualList

if TYPE_CHECKING:
    from explorer.tui.app import LayerScopeApp


class LibraryScreen(Screen[None]):
    DEFAULT_CSS = """
    LibraryScreen { layout: vertical; }
    #lib-title { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    #lib-heading { height: 1; color: $text-muted; text-style: bold; padding: 0 0 0 1; }
    #lib-images { height: 1fr; min-height: 4; padding: 0 0 0 1; }
    #lib-summary { height: auto; max-height: 2; color: $text-muted; padding: 0 1; }
    #lib-status { height: auto; max-height: 3; padding: 0 1; }
    #lib-status.-error { color: $error; }
    #lib-filter { display: none; height: 1; border: none; padding: 0 1; }
    #lib-filter.-shown { display: block; }
    #lib-panel { height: 9; border: round $primary-darken-2; padding: 0 1; }
    #lib-panel:focus-within { border: round $primary; }
    LibraryScreen.-short #lib-panel { height: 7; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "open", "Explore", tooltip="Open the image in the explorer", id="lib.open"
        ),
        Binding("s", "sort", "Sort", tooltip="Sort by size, unique, created, name", id="lib.sort"),
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="Filter: text, or a reference glob",
            id="lib.filter",
        ),
        Binding(
            "D",
            "dangling",
            "Dangling",
            show=False,
            tooltip="Only dangling images",
            id="lib.dangling",
        ),
        Binding("a", "panel('advice')", "Advice", id="lib.advice"),
        Binding("H", "panel('history')", "History", show=False, id="lib.history"),
        Binding("i", "panel('inspect')", "Inspect", show=False, id="lib.inspect"),
        Binding("t", "tag", "Tag", tooltip="Tag the image", id="lib.tag"),
        Binding("x,delete", "remove", "Remove", tooltip="Remove a tag or the image", id="lib.rm"),
        Binding("p", "prune", "Prune", tooltip="Remove the dangling images", id="lib.prune"),
        Binding(
            "space",
            "mark",
            "Mark",
            show=False,
            tooltip="Mark or unmark the image to compare (two at most: a third replaces the first)",
            id="lib.mark",
        ),
        Binding(
            "c",
            "compare",
            "Compare",
            tooltip="Compare the two marked images: the older-created is A, the newer B",
            id="lib.compare",
        ),
        Binding("w", "save", "Save", show=False, tooltip="Save the image to a tar", id="lib.save"),
        Binding("L", "load", "Load", show=False, tooltip="Load a tar", id="lib.load"),
        Binding("r,f5", "refresh", "Refresh", show=False, id="lib.refresh"),
        Binding("tab", "switch", "Pane", show=False, id="lib.pane"),
        Binding("escape", "clear", "Clear filter", show=False, id="lib.clear"),
    ]

    def __init__(self, loader: Callable[[], Library], now: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.loader = loader
        self.now = now
        self.library: Library | None = None
        self.view = View()
        self.panel = "sharing"
        self.marks: list[str] = []  # keys of the images marked to compare, oldest mark first
        self._opening: threading.Event | None = None

    @property
    def lsapp(self) -> LayerScopeApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("Image library", id="lib-title")
        yield Static("", id="lib-heading")
        yield ImageList(self.now, id="lib-images")
        yield Input(placeholder="text, or a glob such as corpus/*:1", id="lib-filter")
        yield Static("", id="lib-summary")
        yield Static("", id="lib-status")
        yield LinesList(empty="", id="lib-panel")
        yield KeyFooter()

    @property
    def images(self) -> ImageList:
        return self.query_one(ImageList)

    @property
    def panel_list(self) -> LinesList:
        return self.query_one("#lib-panel", LinesList)

    def on_mount(self) -> None:
        self.images.focus()
        self.read()

    def on_resize(self) -> None:
        self.set_class(self.size.height < 30, "-short")
        self.query_one(KeyFooter).show_command_palette = self.size.width >= 110
        self._heading()

    # -- reading ------------------------------------------------------------------------------
    @property
    def reading(self) -> bool:
        return any(w.group == "library" and not w.is_finished for w in self.app.workers)

    @work(thread=True, exclusive=True, exit_on_error=False, group="library")
    def read(self) -> None:
        try:
            library = self.loader()
        except ImageError as exc:
            self.app.call_from_thread(self._status, str(exc), True)
            return
        except Exception as exc:  # a bug of ours: one line
            self.app.call_from_thread(self._status, f"internal error: {exc!r}", True)
            return
        self.app.call_from_thread(self._show, library)

    def _show(self, library: Library) -> None:
        self.library = library
        self.marks = [im.key for im in marked(library, self.marks)]  # removed ones: unmarked
        self.images.marked = set(self.marks)
        self.refresh_bindings()
        self.images.alone = {
            im.key for im in library.images if not any(o for _l, o in library.sharing(im))
        }
        self.images.with_source = len(library.sources) > 1
        self.images.message = "no image matches" if library.images else "no local image"
        for problem in library.problems:
            self.app.notify(safe(problem), severity="warning", markup=False, timeout=10)
        self._heading()
        self._arrange()

    def _heading(self) -> None:
        width = self.images.scrollable_content_region.width or self.size.width - 2
        self.query_one("#lib-heading", Static).update(heading(width, self.images.with_source))

    def _arrange(self) -> None:
        if self.library is None:
            return
        keep = self.images.selected.key if self.images.selected else None
        shown = arrange(self.library.images, self.view)
        self.images.show(shown, keep)
        self.query_one("#lib-summary", Static).update(Content(summary(self.library, len(shown))))
        title = f"Image library · {' + '.join(self.library.sources)} · {self.view.describe()}"
        self.query_one("#lib-title", Static).update(Content(title))
        self._panel()

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#lib-status", Static)
        status.set_class(error, "-error")
        status.update(Content(safe(text)))
        if error and self.library is None:
            self.images.message = "the engine did not answer: press r to try again"
            self.images.refresh()

    # -- the panel below ----------------------------------------------------------------------
    @on(VirtualList.Highlighted, "#lib-images")
    def _highlighted(self) -> None:
        self._panel()

    def _panel_hint(self) -> str:
        """The keys that switch the panel (as the keymap binds them): the others' keys, and
        the shown one's key that goes back to Sharing."""
        keys: dict[str, str] = {}
        for active in self.active_bindings.values():
            action = active.binding.action
            if action.startswith("panel('"):
                keys.setdefault(action[7:-2], self.app.get_key_display(active.binding))
        if self.panel in keys:
            return f"{keys[self.panel]} Sharing"
        return " · ".join(f"{keys[name]} {name.capitalize()}" for name in PANELS if name in keys)

    def _panel(self) -> None:
        panel = self.panel_list
        title = self.panel.capitalize()
        if panel.border_title != title:  # the panel switched (or is first shown)
            panel.border_title, panel.border_subtitle = title, self._panel_hint()
        if self.library is not None:
            lines, wrap = panel_lines(self.panel, self.library, self.images.selected)
            panel.show(lines, wrap=wrap)

    def action_panel(self, name: str) -> None:
        self.panel = "sharing" if self.panel == name else name
        self._panel()

    def action_switch(self) -> None:
        (self.panel_list if self.images.has_focus else self.images).focus()

    # -- sort and filter ----------------------------------------------------------------------
    def action_sort(self) -> None:
        self.view = self.view.next_sort()
        self._arrange()

    def action_dangling(self) -> None:
        self.view = View(self.view.sort, self.view.text, not self.view.dangling_only)
        self._arrange()

    def action_filter(self) -> None:
        box = self.query_one("#lib-filter", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#lib-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.view = View(self.view.sort, event.value.strip(), self.view.dangling_only)
        self._arrange()

    @on(Input.Submitted, "#lib-filter")
    def _filter_done(self) -> None:
        self.images.focus()

    def action_clear(self) -> None:
        box = self.query_one("#lib-filter", Input)
        if box.has_class("-shown"):
            box.value = ""
            box.remove_class("-shown")
            self.images.focus()
        elif self._opening is not None:
            self._opening.set()
            self._status("opening cancelled")

    def action_refresh(self) -> None:
        self._status("reading the image list again…")
        self.read()

    # -- open ---------------------------------------------------------------------------------
    def action_open(self) -> None:
        im = self.images.selected
        if im is None or self._opening is not None:
            return
        self._opening = threading.Event()
        self._status(f"opening {im.reference()}… (Esc stops)")
        self._open(im.reference(), im.source, self._opening)

    @on(VirtualList.Activated, "#lib-images")
    def _activated(self) -> None:
        self.action_open()

    @work(thread=True, exit_on_error=False, group="library-open", description="_open")
    def _open(self, target: str, kind: str, cancel: threading.Event) -> None:
        loading = Loading(partial(open_source, target, kind, None), self.lsapp.clock)
        try:
            error = loading.wait_open(cancel)
        except Cancelled:
            self.app.call_from_thread(self._opened, None, "", "", "")
            return
        if error is not None:
            self.app.call_from_thread(self._opened, None, "", "", describe(error, target))
            return
        self.app.call_from_thread(self._opened, loading, target, kind, "")

    def _opened(self, loading: Loading | None, target: str, kind: str, error: str) -> None:
        cancelled = self._opening is None or self._opening.is_set()
        self._opening = None
        if loading is None:
            if error:
                self._status(error, True)
            return
        if cancelled:
            loading.cancel.set()
            return
        self._status("")
        self.lsapp.explore(target, kind, loading)

    # -- compare two ------------------------------------------------------------------------
    def action_mark(self) -> None:
        im = self._selected()
        if im is None or self.library is None:
            return
        self.marks, dropped = toggle_mark(self.marks, im.key)
        self.images.marked = set(self.marks)
        self.images.refresh()
        self.refresh_bindings()  # the key bar: Compare first once two are marked
        self._status(marks_line(self.library, self.marks, dropped))

    def keys_first(self) -> tuple[str, ...]:
        """Two images marked: Compare is what the key bar shows first (it fits at 80 columns)."""
        return ("compare",) if len(self.marks) == 2 else ()

    def action_compare(self) -> None:
        pair = compare_pair(marked(self.library, self.marks)) if self.library else None
        if pair is None:
            self._status("mark two images with Space, then c compares them", True)
            return
        from explorer.tui.screens.compare import CompareScreen  # it imports the app

        a, b = pair
        loading_b = None
        if b.source != a.source:  # another engine: B opened as the palette's dialog opens it
            factory = partial(open_source, b.reference(), b.source, None)
            loading_b = Loading(factory, self.lsapp.clock)
        self._status(f"comparing {a.reference()} with {b.reference()}")
        screen = CompareScreen(a.reference(), b.reference(), a.source, None, loading_b=loading_b)
        self.app.push_screen(screen)

    # -- actions ------------------------------------------------------------------------------
    def _selected(self) -> LibraryImage | None:
        im = self.images.selected
        if im is None:
            self._status("no image selected", True)
        return im

    def _after(self, message: str, error: bool = False) -> None:
        self._status(message, error)
        self.read()

    @work(thread=True, exit_on_error=False, group="library-action", description="_do")
    def _do(self, job: Callable[[], str]) -> None:
        try:
            message, error = job(), False
        except ImageError as exc:
            message, error = str(exc), True
        except Exception as exc:  # a bug of ours: one line, never a traceback
            message, error = f"internal error: {type(exc).__name__}: {exc}", True
        self.app.call_from_thread(self._after, message, error)

    def action_tag(self) -> None:
        im = self._selected()
        if im is None:
            return

        def check(value: str) -> tuple[str, str]:
            checked = act.check_tag(value)
            return checked.error, checked.warning

        def done(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                new = answer[1].strip()

                def job() -> str:
                    act.tag(im, new)
                    return f"tagged {im.short_id} as {new}"

                self._do(job)

        self.app.push_screen(
            ConfirmScreen(
                f"Tag {im.name} ({im.short_id})",
                [],
                lambda _c, value: act.tag_command(im, value or "NAME[:TAG]"),
                ask="New reference ([registry/]name[:tag]):",
                value=im.repository + ":" if im.tags else "",
                check=check,
                choices={"y": "tag"},
            ),
            done,
        )

    def action_remove(self) -> None:
        """y removes the first tag (the image with it when it is the last one), f forces the
        removal of the image and every tag; refused without force while containers use it."""
        im = self._selected()
        if im is None:
            return
        target = im.tags[0] if im.tags else im.id
        refusal = act.removal_refusal(im, False)
        lines = [refusal] if refusal else []
        if len(im.tags) > 1:
            lines.append(f"{len(im.tags)} tags: y removes the tag {target} only")
        choices = {} if refusal else {"y": "untag" if len(im.tags) > 1 else "remove"}
        choices["f"] = "force: the image and every tag"

        def command(choice: str, _value: str) -> str:
            forced = choice == "f" or not choices.get("y")
            return act.remove_command(im, im.id if forced else target, force=forced)

        def done(answer: tuple[str, str] | None) -> None:
            if answer is None:
                return
            forced = answer[0] == "f"
            what = im.id if forced else target

            def job() -> str:
                said = act.remove(im, what, force=forced)
                return f"removed {what}: " + "; ".join(said[:3])

            self._do(job)

        self.app.push_screen(
            ConfirmScreen(f"Remove {im.name} ({im.short_id})?", lines, command, choices=choices),
            done,
        )

    def action_prune(self) -> None:
        if self.library is None:
            return
        plan = act.prune_plan(self.library)
        if not plan.images:
            self._status("no dangling image to prune")
            return

        def done(answer: tuple[str, str] | None) -> None:
            if answer is None:
                return

            def job() -> str:
                removed, refused = act.prune(plan)
                if refused:
                    raise ImageError(f"removed {len(removed)}; refused: " + "; ".join(refused))
                return f"removed {len(removed)} dangling images"

            self._do(job)

        self.app.push_screen(
            ConfirmScreen(
                f"Remove {len(plan.images)} dangling images?",
                act.describe_prune(plan),
                lambda _c, _v: plan.command(),
                choices={"y": "remove them"},
            ),
            done,
        )

    def action_save(self) -> None:
        im = self._selected()
        if im is not None:
            ask_save(
                self.app, im, lambda said: self._status(said or "save stopped: no file written")
            )

    def action_load(self) -> None:
        kind = (self.library.sources or ["docker"])[0] if self.library else "docker"
        ask_load(self.app, kind, lambda said: self._after(said or "load stopped"))
