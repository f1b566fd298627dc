"""The views over the explorer (config and Dockerfile, findings, packages): the keys that open
them, the worker that works out the findings and packages once the analysis is in, and the
way back to a layer and a file of the explorer (`reveal`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.binding import Binding, BindingType
from textual.screen import Screen

from explorer.core.findings import findings_of
from explorer.core.packages import find_packages
from explorer.tui import format as fmt
from explorer.tui.messages import Explained
from explorer.tui.screens.config import ConfigScreen
from explorer.tui.screens.findings import FindingsScreen, PackagesScreen
from explorer.tui.widgets.efficiency import WasteTable
from explorer.tui.widgets.rowlist import Target

if TYPE_CHECKING:
    from explorer.tui.screens.main import MainScreen


class ExplorerViews(Screen[None]):
    """The explorer's screen (`MainScreen`) is one of these: what follows is its part."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "c",
            "show_config",
            "Config",
            tooltip="The image config and the Dockerfile reconstructed from its history",
            id="config",
        ),
        Binding(
            "w",
            "show_findings",
            "Findings",
            tooltip="What the image ships that it should not: secrets, setuid, caches...",
            id="findings",
        ),
        Binding(
            "p",
            "show_packages",
            "Packages",
            tooltip="The packages the selected layer installed, upgraded or removed",
            id="packages",
        ),
    ]

    explained: Explained | None = None  # findings and packages, once worked out

    @work(thread=True, exclusive=True, exit_on_error=False, group="explain")
    def explain(self) -> None:
        """The findings (those of the layers came with the analysis, those of the config and
        history are added) and the packages from every layer's index, off the UI's thread."""
        main = cast("MainScreen", self)
        meta, analysis = main.meta, main.analysis
        layers = [main.indexes[n] for n in sorted(main.indexes)]
        if meta is None or analysis is None or len(layers) != len(meta.layers):
            return
        started = time.perf_counter()
        found = findings_of(analysis)  # the layers' findings came with the analysis
        packages = find_packages(layers)
        main.post_message(Explained(found, packages, time.perf_counter() - started))

    def on_explained(self, message: Explained) -> None:
        main = cast("MainScreen", self)
        if main.retired:
            return
        main.explained = message
        for screen in main.app.screen_stack:
            if isinstance(screen, (FindingsScreen, PackagesScreen)):
                screen.explained(message)

    def action_show_findings(self) -> None:
        main = cast("MainScreen", self)
        if main.meta is not None:
            name = fmt.display_name(main.meta)
            main.app.push_screen(FindingsScreen(name, main.explained), main.reveal)

    def action_show_packages(self) -> None:
        main = cast("MainScreen", self)
        if main.meta is not None:
            layer = main.layer_list.selected_layer or 0
            screen = PackagesScreen(fmt.display_name(main.meta), main.explained, main.meta, layer)
            main.app.push_screen(screen, main.reveal)

    def action_show_config(self) -> None:
        main = cast("MainScreen", self)
        if main.meta is None:
            main.notify("the image is not open yet", markup=False)
            return
        sizes = {n: index.size for n, index in main.indexes.items()}
        name = fmt.display_name(main.meta)
        main.app.push_screen(ConfigScreen(main.meta, sizes, name), main.reveal)

    def on_waste_table_chosen(self, message: WasteTable.Chosen) -> None:
        self.reveal(message.target)

    def reveal(self, target: Target | None) -> None:
        """Back from a view: show `target`'s layer, the cursor on its path in the tree."""
        main = cast("MainScreen", self)
        if target is None or main.meta is None or target.layer >= len(main.meta.layers):
            return
        if main.maximized is not None:
            main.minimize()
        if target.path:
            main.file_tree.state.reveal(target.path)
            main.set_focus(main.file_tree)
        else:
            main.set_focus(main.layer_list)
        main.layer_list.select_layer(target.layer)
        main._select(target.layer)
