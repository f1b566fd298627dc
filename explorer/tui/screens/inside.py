"""The explorer's ways inside the image: a path's history, find across layers, the viewer and
the clipboard. A mixin of `MainScreen` (its actions), kept here so that the screen's module
stays about the load and the panes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.core.history import Entries, normalize, step_of
from explorer.core.safetext import safe
from explorer.tui.screens.find import FindScreen
from explorer.tui.screens.history import HistoryScreen
from explorer.tui.screens.overlay import Target

if TYPE_CHECKING:
    from explorer.tui.screens.main import MainScreen

    Base = MainScreen
else:
    Base = object


class InsideActions(Base):
    _entries: Entries | None = None
    _find: tuple[str, bool] = ("", False)  # the last search, offered again

    def image_entries(self) -> Entries | None:
        """Every layer's entries by path, once every layer is indexed (else None, said)."""
        meta = self.meta
        if meta is None or len(self.indexes) < len(meta.layers) or not meta.layers:
            total = len(meta.layers) if meta is not None else 0
            self.notify(
                f"this needs every layer: {len(self.indexes)} of {total} indexed",
                severity="warning",
            )
            return None
        layers = [self.indexes[n] for n in range(len(meta.layers))]
        if self._entries is None or self._entries.layers != layers:
            self._entries = Entries(layers)
        return self._entries

    def _tree_path(self) -> str | None:
        row = self.file_tree.current
        if row is None:
            self.notify("no file selected in the tree", severity="warning")
            return None
        return row.path

    def action_history(self) -> None:
        path = self._tree_path()
        entries = self.image_entries() if path is not None else None
        if path is None or entries is None or self.meta is None:
            return
        self.app.push_screen(
            HistoryScreen(entries, normalize(path), step_of(self.meta)), self.go_to
        )

    def action_find(self) -> None:
        entries = self.image_entries()
        if entries is not None:
            screen = FindScreen(entries, *self._find)
            self.app.push_screen(screen, lambda target: self._found(screen, target))

    def _found(self, screen: FindScreen, target: Target | None) -> None:
        self._find = (screen.pattern, screen.regex)
        self.go_to(target)

    def go_to(self, target: Target | None) -> None:
        """Select `target`'s layer and put the tree's cursor on its path."""
        if target is None:
            return
        tree = self.file_tree
        tree.state.keep_path = target.path
        if self.layer_list.selected_layer == target.layer:
            tree.refresh_view()  # the same layer: its rows are there, the cursor moves
        else:
            self.layer_list.select_layer(target.layer)
        self.set_focus(tree)

    def action_copy_path(self) -> None:
        path = self._tree_path()
        if path is not None:
            self.app.copy_to_clipboard(path)
            self.notify(f"copied {safe(path)}", markup=False, timeout=3)
