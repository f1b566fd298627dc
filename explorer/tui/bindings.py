"""Every key binding, by pane, for the help screen and the command palette: one declaration
(a class's BINDINGS) drives the key, the footer, the palette and the help."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode


@dataclass(frozen=True)
class Pane:
    title: str
    classes: tuple[type[DOMNode], ...]


def panes() -> list[Pane]:
    # Imported here: the widgets import nothing from this module, this one needs them all.
    from explorer.tui.app import LayerScopeApp
    from explorer.tui.screens.main import MainScreen
    from explorer.tui.widgets.efficiency import WasteTable
    from explorer.tui.widgets.filetree import FileTreeView
    from explorer.tui.widgets.layers import LayerList
    from explorer.tui.widgets.panes import FilterInput
    from explorer.tui.widgets.vlist import VirtualList

    return [
        Pane("Everywhere", (LayerScopeApp, MainScreen)),
        Pane("Lists (layers, files, waste)", (VirtualList,)),
        Pane("Layers", (LayerList,)),
        Pane("File tree", (FileTreeView,)),
        Pane("Waste table", (WasteTable,)),
        Pane("Filter", (FilterInput,)),
    ]


def own_bindings(cls: type[DOMNode]) -> list[Binding]:
    """The bindings a class declares itself (not inherited)."""
    out = []
    for item in cls.__dict__.get("BINDINGS", []):
        if isinstance(item, Binding):
            out.append(item)
    return out


def effective_keys(app: App, binding: Binding) -> str:
    """The keys a binding answers to, after the user's keymap, as shown to people."""
    keymap: dict[str, str] = getattr(app, "keymap", {})
    keys = keymap.get(binding.id or "", binding.key)
    shown = []
    for key in keys.split(","):
        key = key.strip()
        if binding.key_display and keys == binding.key:
            return binding.key_display
        shown.append(app.get_key_display(Binding(key, binding.action)))
    return " ".join(dict.fromkeys(shown))
