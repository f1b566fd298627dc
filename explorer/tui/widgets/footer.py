"""The key bar: Textual's compact footer, without restyling every key on each recompose, with
Quit and Help first and the views' keys last, and only the keys that fit whole (the help lists
every key). They are chosen in this order: Quit, Help, Open; the essential keys (Pane and
Filter); then as shown (the focused pane's keys, the screen's, the app's, the views); a key that
would not fit whole is left out, and the next ones still may fit. A screen may put keys of its
own before the rest while they matter most (`KeyPriorities`: the library's Compare once two
images are marked)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

FIRST = ("quit", "help", "open_image")  # actions shown first
LAST = ("show_config", "show_findings", "show_packages")  # the views: a narrow bar drops them
ESSENTIAL = ("switch_pane", "filter")  # kept before the focused pane's own keys


@runtime_checkable
class KeyPriorities(Protocol):
    """A screen whose key bar shows some keys first for now (it refreshes its bindings when
    they change)."""

    def keys_first(self) -> tuple[str, ...]: ...


def key_cells(key: FooterKey) -> int:
    """The cells a compact key takes, with the margin after it."""
    label = cell_len(key.key_display)
    return label + (1 + cell_len(key.description) if key.description else 0) + 1


def _action(key: FooterKey) -> str:
    """The action's name, without its namespace and arguments: `screen.view_file` → view_file."""
    return key.action.split("(", 1)[0].rsplit(".", 1)[-1]


def fitting(keys: list[FooterKey], width: int, wanted: tuple[str, ...] = ()) -> list[FooterKey]:
    """The keys to show in `width` cells, in their order: Quit, Help, Open, the essential ones
    and the `wanted` actions chosen first, then the others in order, each unit whole or not at
    all. A unit is the keys of one action with different arguments (^a ^r ^n ^u: the tree's
    kinds), shown together or left out together."""
    units: list[list[FooterKey]] = []
    for key in keys:
        if units and _action(units[-1][0]) == _action(key):
            units[-1].append(key)
        else:
            units.append([key])
    first = [u for u in units if _action(u[0]) in FIRST + ESSENTIAL + wanted]
    chosen: set[int] = set()
    used = 0
    for unit in first + [u for u in units if u not in first]:
        cells = sum(key_cells(key) for key in unit)
        if used + cells - 1 <= width:  # the margin after the last key may fall off the edge
            chosen.update(id(key) for key in unit)
            used += cells
    return [key for key in keys if id(key) in chosen]


class KeyFooter(Footer):
    """A compact `Footer` whose keys are made compact before they mount. Footer's own way
    (a reactive bound to each key, whose watcher adds the class after mount) restyles each
    key once more, 20-30 ms per recompose, and it recomposes whenever the bindings change."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._width = 0  # the width the keys were chosen for

    def compose(self) -> ComposeResult:
        keys = [w for w in super().compose() if isinstance(w, FooterKey)]
        for key in keys:
            key.add_class("-compact", update=False)  # the watcher then finds it there
        palette = [k for k in keys if k.has_class("-command-palette")]
        first = [k for k in keys if k.action in FIRST]
        last = [k for k in keys if k.action in LAST]
        rest = [k for k in keys if k not in first and k not in last and k not in palette]
        self._width = self.size.width or self.app.size.width
        room = self._width - sum(key_cells(k) for k in palette)  # its border for a margin
        wanted = self.screen.keys_first() if isinstance(self.screen, KeyPriorities) else ()
        yield from fitting(first + rest + last, room, wanted)
        yield from palette

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width and self.is_mounted:
            self.refresh(recompose=True)  # other keys fit now

    def watch_show_command_palette(self, old: bool, new: bool) -> None:
        if old != new and self.is_mounted:
            self.refresh(recompose=True)  # else the old palette key stays drawn
