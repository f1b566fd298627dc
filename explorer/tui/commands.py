"""The command palette: every bound action of the explorer, offered where it makes sense.

Commands come from the same BINDINGS as the keys (title = description, help = tooltip and
key), run against the widget that owns them, so a tree toggle works from the layer pane too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import Screen
from textual.theme import ThemeProvider

from explorer.tui.bindings import effective_keys, own_bindings

SKIP = {"quit-ctrl-c"}


def explorer_commands(app: App, screen: Screen) -> Iterator[SystemCommand]:
    from explorer.tui.screens.library import LibraryScreen
    from explorer.tui.screens.main import MainScreen
    from explorer.tui.screens.overlay import OverlayScreen
    from explorer.tui.screens.viewbase import ViewScreen
    from explorer.tui.screens.views import ExplorerViews
    from explorer.tui.widgets.efficiency import WasteTable
    from explorer.tui.widgets.filetree import FileTreeView
    from explorer.tui.widgets.layers import LayerList
    from explorer.tui.widgets.rowlist import RowList

    targets: list[tuple[str, DOMNode, list[Binding]]]
    if isinstance(screen, (OverlayScreen, ViewScreen)):  # a view over the explorer: its keys
        rows = screen.focused if isinstance(screen.focused, RowList) else None
        targets = [
            ("View", screen, own_bindings(type(screen)) + own_bindings(type(screen).__mro__[1])),
            *([("List", rows, own_bindings(RowList))] if rows is not None else []),
            ("App", app, own_bindings(type(app))),
        ]
        yield from _commands(app, targets)
        return
    if isinstance(screen, LibraryScreen):
        targets = [("Library", screen, own_bindings(LibraryScreen))]
        targets.append(("App", app, own_bindings(type(app))))
        yield from _commands(app, targets)
        return
    if not isinstance(screen, MainScreen):
        return
    targets = [
        ("Layers", screen.query_one(LayerList), own_bindings(LayerList)),
        ("Files", screen.query_one(FileTreeView), own_bindings(FileTreeView)),
        ("Waste", screen.query_one(WasteTable), own_bindings(WasteTable)),
        ("View", screen, own_bindings(MainScreen)),
        ("View", screen, own_bindings(ExplorerViews)),
        ("App", app, own_bindings(type(app))),
    ]
    yield from _commands(app, targets, skip=set() if screen.indexing else {"cancel_index"})


def _commands(
    app: App, targets: list[tuple[str, DOMNode, list[Binding]]], skip: set[str] | None = None
) -> Iterator[SystemCommand]:
    for pane, node, bindings in targets:
        for binding in bindings:
            if not binding.description or binding.id in SKIP or binding.action in (skip or ()):
                continue
            keys = effective_keys(app, binding)
            title = f"{pane}: {binding.tooltip or binding.description}"
            yield SystemCommand(title, f"key: {keys}", _runner(app, binding.action, node))
    yield SystemCommand(
        "Compare with…",
        "what changed from this image to another (a reference or an archive path)",
        _runner(app, "compare_with", app),
    )


class ThemeChoices(ThemeProvider):
    """Textual's theme list, the current theme marked."""

    def _label(self, name: str, shown: Content) -> Content:
        if name != self.app.theme:
            return shown
        return Content.assemble(shown, ("  ● current", "$text-muted"))

    async def discover(self) -> Hits:
        for name, callback in self.commands:
            yield DiscoveryHit(self._label(name, Content(name)), callback, text=name)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback in self.commands:
            if (match := matcher.match(name)) > 0:
                yield Hit(match, self._label(name, matcher.highlight(name)), callback, text=name)


def _runner(app: App, action: str, node: DOMNode) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await app.run_action(action, node)

    return run
