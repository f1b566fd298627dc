"""The library's image list: one row per image (virtual: a thousand images cost what a screen
of them does), columns as `docker images` plus shared and unique sizes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style

from explorer.core.library import LibraryImage
from explorer.core.libraryview import COLUMNS, cells
from explorer.tui.widgets.vlist import VirtualList

# ID, CREATED, SIZE, SHARED, UNIQUE, CTRS; the name takes what is left
_WIDTHS = (12, 12, 7, 7, 7, 4)
_SOURCE = 6
MARK = "● "  # before the name of a marked image


def layout(width: int, with_source: bool) -> list[int]:
    fixed = sum(_WIDTHS) + len(_WIDTHS) + (_SOURCE + 1 if with_source else 0)
    return [max(8, width - fixed - 1), *_WIDTHS]


def line(values: tuple[str, ...], widths: list[int], source: str | None) -> str:
    parts = [] if source is None else [source[:_SOURCE].ljust(_SOURCE)]
    name, *rest = values
    name = name if len(name) <= widths[0] else name[: widths[0] - 1] + "…"
    parts.append(name.ljust(widths[0]))
    for i, (value, w) in enumerate(zip(rest, widths[1:], strict=True)):
        parts.append(value.ljust(w) if i < 2 else value.rjust(w))
    return " ".join(parts)


def heading(width: int, with_source: bool) -> str:
    return line(COLUMNS, layout(width, with_source), "SOURCE" if with_source else None)


class ImageList(VirtualList):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"images--dangling", "images--alone", "images--marked"}
    DEFAULT_CSS = """
    ImageList {
        & > .images--dangling { color: $warning; }
        & > .images--alone { text-style: italic; }
        & > .images--marked { color: $accent; text-style: bold; }
    }
    """

    def __init__(self, now: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: list[LibraryImage] = []
        self.alone: set[str] = set()  # keys of images that share no layer
        self.marked: set[str] = set()  # keys of the images marked (Space) for a comparison
        self.with_source = False
        self.now = now
        self.message = "reading the engine's image list…"

    @property
    def count(self) -> int:
        return len(self.images)

    @property
    def selected(self) -> LibraryImage | None:
        return self.images[self.cursor] if 0 <= self.cursor < len(self.images) else None

    def show(self, images: list[LibraryImage], keep: str | None = None) -> None:
        """Show `images`, the cursor on the image keyed `keep` when it is still there."""
        self.images = images
        keys = [im.key for im in images]
        self.rows_changed(keys.index(keep) if keep in keys else 0)

    def render_row(self, index: int, width: int, style: Style) -> list[Segment]:
        im = self.images[index]
        values = cells(im, self.now())
        if im.key in self.marked:
            values = (MARK + values[0], *values[1:])
        text = line(
            values, layout(width, self.with_source), im.source if self.with_source else None
        )
        if im.key in self.marked:
            style = style + self.get_component_rich_style("images--marked")
        elif im.dangling:
            style = style + self.get_component_rich_style("images--dangling")
        elif im.key in self.alone:
            style = style + self.get_component_rich_style("images--alone")
        return [Segment(text, style)]

    def empty_lines(self) -> list[tuple[str, Style]]:
        return [(self.message, Style(dim=True))]
