"""Every key binding, by pane, for the help screen and the command palette: one declaration
(a class's BINDINGS) drives the key, the footer, the palette and the help."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.widgets import Input


@dataclass(frozen=True)
class Pane:
    title: str
    classes: tuple[type[DOMNode], ...]


def panes() -> list[Pane]:
    # Imported here: the widgets import nothing from this module, this one needs them all.
    from explorer.tui.app import LayerScopeApp
    from explorer.tui.screens.compare import CompareScreen
    from explorer.tui.screens.config import ConfigScreen
    from explorer.tui.screens.find import FindScreen
    from explorer.tui.screens.findings import PackagesScreen
    from explorer.tui.screens.history import HistoryScreen
    from explorer.tui.screens.main import MainScreen
    from explorer.tui.screens.overlay import OverlayScreen
    from explorer.tui.screens.viewbase import ViewScreen
    from explorer.tui.screens.viewer import ViewerScreen
    from explorer.tui.screens.views import ExplorerViews
    from explorer.tui.widgets.changes import ChangeList
    from explorer.tui.widgets.details import LayerDetails
    from explorer.tui.widgets.efficiency import WasteTable
    from explorer.tui.widgets.filetree import FileTreeView
    from explorer.tui.widgets.filterbar import FilterInput
    from explorer.tui.widgets.layers import LayerList
    from explorer.tui.widgets.rowlist import RowList
    from explorer.tui.widgets.viewer import FileView
    from explorer.tui.widgets.vlist import VirtualList

    return [
        Pane("Everywhere", (LayerScopeApp, MainScreen)),
        Pane("Lists (layers, files, waste)", (VirtualList,)),
        Pane("Layers", (LayerList,)),
        Pane("File tree", (FileTreeView,)),
        Pane("Layer details", (LayerDetails,)),
        Pane("Waste table", (WasteTable,)),
        Pane("History and find", (OverlayScreen, ChangeList, HistoryScreen, FindScreen)),
        Pane("File viewer", (ViewerScreen, FileView)),
        Pane("Filter", (FilterInput,)),
        Pane("Views over the explorer", (ExplorerViews, ViewScreen, RowList)),
        Pane("Config and Dockerfile", (ConfigScreen,)),
        Pane("Packages", (PackagesScreen,)),
        Pane("Compare (its tree: the file tree's keys; ⏎ the diff)", (CompareScreen,)),
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

    def name(binding: Binding) -> str:
        return binding.id or binding.action

    keymap: dict[str, str] = getattr(app, "keymap", {})
    keys = keymap.get(binding.id or "", binding.key)
    shown = []
    for key in keys.split(","):
        key = key.strip()
        if binding.key_display and keys == binding.key:
            return binding.key_display
        shown.append(app.get_key_display(Binding(key, binding.action)))
    return " ".join(dict.fromkeys(shown))


def focus_chains() -> list[tuple[str, list[type[DOMNode]]]]:
    """Where keys are pressed: each focusable pane, then the nodes above it that bind keys
    (its screen, the app), in the order Textual looks for a binding."""
    from explorer.tui.app import LayerScopeApp
    from explorer.tui.screens.find import FindInput, FindScreen
    from explorer.tui.screens.history import HistoryScreen
    from explorer.tui.screens.library import LibraryScreen
    from explorer.tui.screens.main import MainScreen
    from explorer.tui.screens.viewer import ViewerScreen
    from explorer.tui.widgets.changes import ChangeList
    from explorer.tui.widgets.details import LayerDetails
    from explorer.tui.widgets.efficiency import WasteTable
    from explorer.tui.widgets.filetree import FileTreeView
    from explorer.tui.widgets.filterbar import FilterInput
    from explorer.tui.widgets.imagelist import ImageList
    from explorer.tui.widgets.layers import LayerList
    from explorer.tui.widgets.viewer import FileView

    above: list[type[DOMNode]] = [MainScreen, LayerScopeApp]
    return [
        ("the history", [ChangeList, HistoryScreen, LayerScopeApp]),
        ("the matches", [ChangeList, FindScreen, LayerScopeApp]),
        ("the find box", [FindInput, FindScreen, LayerScopeApp]),
        ("the viewer", [FileView, ViewerScreen, LayerScopeApp]),
        ("the library", [ImageList, LibraryScreen, LayerScopeApp]),
        ("the layer list", [LayerList, *above]),
        ("the file tree", [FileTreeView, *above]),
        ("the layer details", [LayerDetails, *above]),
        ("the waste table", [WasteTable, *above]),
        ("the filter box", [FilterInput, *above]),
    ]


def keymap_conflicts(app: App) -> list[str]:
    """What the user's keymap makes unreachable: a key it binds that another binding of the
    same pane (or of the screen or app above it) also has. One sentence each, naming the
    binding that lost and where."""
    from textual.keys import _character_to_key, key_to_character

    def key_name(key: str) -> str:
        key = key.strip()
        return _character_to_key(key) if len(key) == 1 else key

    def name(binding: Binding) -> str:
        return binding.id or binding.action

    keymap: dict[str, str] = getattr(app, "keymap", {})
    normal = {bid: ",".join(map(key_name, keys.split(","))) for bid, keys in keymap.items()}
    chains = focus_chains()
    lost: dict[tuple[str, str, str], list[str]] = {}  # (key, winner, loser) -> where
    for where, chain in chains:
        typing = issubclass(chain[0], Input)  # the box types printable keys itself
        taken: dict[str, Binding] = {}  # key -> the binding that answers it in this pane
        for cls in chain:
            declared = cls._merge_bindings()
            bindings = declared.copy()
            bindings.apply_keymap(normal)
            for key, before in declared.key_to_bindings.items():
                now = bindings.key_to_bindings.get(key, [])
                for binding in before:  # a default binding the keymap pushed out
                    if binding.id not in normal and now and binding.id not in {b.id for b in now}:
                        lost.setdefault((key, name(now[0]), name(binding)), []).append(where)
            for key, answering in bindings.key_to_bindings.items():
                character = key_to_character(key)
                if typing and cls is not chain[0] and character and character.isprintable():
                    continue  # a text box types it: nothing above it sees the key
                for binding in answering:
                    first = taken.setdefault(key, binding)
                    if first.id == binding.id or not {first.id, binding.id} & set(normal):
                        continue
                    lost.setdefault((key, name(first), name(binding)), []).append(where)
    problems = []
    for (key, winner, loser), places in lost.items():
        shown = app.get_key_display(Binding(key, ""))
        where = "" if len(set(places)) == len(chains) else f" in {', '.join(dict.fromkeys(places))}"
        problems.append(
            f"keymap: {shown} is bound to {winner} and to {loser}: {loser} is lost{where}"
        )
    return problems


# The explorer screen's own keys (the panes' keys are on their widgets).
MAIN_BINDINGS: list[BindingType] = [
    Binding(
        "tab",
        "switch_pane",
        "Pane",
        tooltip="Move between the Layers pane and the file tree",
        id="switch-pane",
    ),
    Binding(
        "shift+tab",
        "switch_pane(True)",
        "Pane",
        show=False,
        tooltip="Move through every pane, backwards",
        id="switch-pane-back",
    ),
    Binding(
        "ctrl+f,slash",
        "filter",
        "Filter",
        tooltip="Filter the file tree by a path regex",
        id="filter",
    ),
    Binding(
        "escape",
        "cancel_index",
        "Cancel",
        tooltip="Stop reading the image (what is indexed stays browsable)",
        id="cancel",
    ),
    Binding(
        "d",
        "focus_details",
        "Details",
        show=False,
        tooltip="Go to the layer details (↑/↓ scroll them, z zooms)",
        id="details",
    ),
    Binding(
        "e",
        "focus_waste",
        "Waste",
        tooltip="Go to the table of wasted space",
        id="efficiency",
    ),
    Binding(
        "z",
        "zoom",
        "Zoom",
        tooltip="Maximize / restore the focused pane",
        id="zoom",
    ),
    Binding(
        "f",
        "find",
        "Find",
        tooltip="Find files in every layer (a glob or a regex), deleted ones included",
        id="find",
    ),
    Binding(
        "i",
        "history",
        "History",
        tooltip="The history of the selected path: every layer that wrote, deleted or hid it",
        id="history",
    ),
    Binding(
        "y",
        "copy_path",
        "Copy path",
        show=False,
        tooltip="Copy the selected path to the clipboard (OSC 52: works over SSH and tmux)",
        id="copy-path",
    ),
]
