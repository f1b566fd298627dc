"""The explorer's ways inside the image: a path's history, find across layers, the viewer and
the clipboard. A mixin of `MainScreen` (its actions), kept here so that the screen's module
stays about the load and the panes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from textual.screen import Screen

from explorer.core import history
from explorer.core.content import ContentAccess
from explorer.core.errors import ImageError
from explorer.core.history import Entries, normalize, step_of
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex
from explorer.core.safetext import safe
from explorer.core.sources import Source, open_source
from explorer.core.tree import NO_INFO, ref_entry, ref_layer
from explorer.tui.screens.find import FindScreen
from explorer.tui.screens.history import HistoryScreen
from explorer.tui.screens.overlay import Target
from explorer.tui.screens.viewer import ViewerScreen
from explorer.tui.widgets.filetree import FileTreeView
from explorer.tui.widgets.layers import LayerList


class InsideActions(Screen[None]):
    """What `MainScreen` holds that these actions use (set in its `__init__`)."""

    meta: ImageMeta | None
    indexes: dict[int, LayerIndex]
    target: str
    kind: str | None
    platform: str | None
    opener: Callable[[], Source] | None
    _entries: Entries | None = None
    _content: ContentAccess | None = None
    _content_lock = threading.Lock()
    _find: tuple[str, bool] = ("", False)  # the last search, offered again

    @property
    def _tree(self) -> FileTreeView:
        return self.query_one(FileTreeView)

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
        row = self._tree.current
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
        """Select `target`'s layer and put the tree's cursor on its path (or view it)."""
        if target is None:
            return
        if target.view:
            self.view(normalize(target.path), target.layer, target.entry)
            return
        tree = self._tree
        tree.state.keep_path = target.path
        tree.state.reveal(target.path)
        if self.query_one(LayerList).selected_layer == target.layer:
            tree.refresh_view()  # the same layer: its rows are there, the cursor moves
        else:
            self.query_one(LayerList).select_layer(target.layer)
        self.set_focus(tree)

    def action_copy_path(self) -> None:
        path = self._tree_path()
        if path is not None:
            self.app.copy_to_clipboard(path)
            self.notify(f"copied {safe(path)}", markup=False, timeout=3)

    # -- the viewer ----------------------------------------------------------------------------
    def action_view_file(self) -> None:
        """Enter in the tree: a directory collapses or opens; a file (a removed one too: its
        last version) opens in the viewer, as the selected layer shows it."""
        row = self._tree.current
        if row is None:
            return
        if row.is_dir:
            self._tree.action_toggle_collapse()
            return
        if row.node.info == NO_INFO:
            self.notify("no layer wrote this path itself", severity="warning")
            return
        self.view(normalize(row.path), ref_layer(row.node.info), ref_entry(row.node.info))

    def view(self, path: str, layer: int, entry: int) -> None:
        entries = self.image_entries()
        if entries is None:
            return
        versions = history.versions(entries, path)
        at = versions.index((layer, entry)) if (layer, entry) in versions else 0
        if not versions:
            self.notify("no layer wrote a version of this path", severity="warning")
            return
        screen = ViewerScreen(self.content_access, entries.layers, path, versions, at)
        self.app.push_screen(screen)

    def content_access(self) -> ContentAccess:
        """The image's content (called in workers; opened once, on first use)."""
        with self._content_lock:
            if self._content is None:
                meta = self.meta
                if meta is None:
                    raise ImageError("the image is no longer open")
                factory = self.opener or partial(open_source, self.target, self.kind, self.platform)
                source = factory()
                source.open()
                layers = [self.indexes[n] for n in range(len(meta.layers))]
                self._content = ContentAccess(source, meta, layers)
            return self._content

    def close_content(self) -> None:
        with self._content_lock:
            if self._content is not None:
                self._content.close()
                self._content = None
