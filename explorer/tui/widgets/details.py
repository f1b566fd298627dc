"""Text panels: the selected layer's details and the image's details with its efficiency.

Everything from the image goes through `safe()` and into `Content` as plain text, never as
markup: a tag or command like `[bold]x` shows literally.
"""

from __future__ import annotations

import textwrap
from typing import ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from explorer.core.analysis import Analysis
from explorer.core.image import ImageMeta, LayerMeta, Step
from explorer.core.layerindex import LayerIndex
from explorer.core.safetext import safe
from explorer.tui import format as fmt

LABEL = "bold"
MUTED = "$text-muted"


def field(label: str, value: str | Content, width: int = 9) -> Content:
    return Content.assemble((f"{label:<{width}}", LABEL), value)


def lines(parts: list[Content]) -> Content:
    return Content("\n").join(parts)


class LayerDetails(ScrollView, can_focus=True):
    """Instruction, command, size, creation time, digest and id of the selected layer. Long
    values wrap beside their label; the pane scrolls (↑/↓) and zooms (z) when focused."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "details--label",
        "details--muted",
        "details--warning",
    }

    DEFAULT_CSS = """
    LayerDetails {
        overflow-x: hidden;
        overflow-y: scroll;  /* always there: the wrapping width never changes under it */
        scrollbar-size-vertical: 1;
        scrollbar-background: $background;
        scrollbar-background-hover: $background;
        scrollbar-background-active: $background;
        & > .details--label { text-style: bold; }
        & > .details--muted { color: $text-muted; }
        & > .details--warning { color: $warning; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_rows(-1)", "Up", show=False, id="details.up"),
        Binding("down,j", "scroll_rows(1)", "Down", show=False, id="details.down"),
        Binding("pageup", "scroll_rows(-1, True)", "Page up", show=False, id="details.page-up"),
        Binding(
            "pagedown", "scroll_rows(1, True)", "Page down", show=False, id="details.page-down"
        ),
        Binding("home", "scroll_rows(-1, True, True)", "Top", show=False, id="details.top"),
        Binding("end", "scroll_rows(1, True, True)", "Bottom", show=False, id="details.bottom"),
    ]

    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._parts: list[Part] = [("", "no layer selected", "muted")]
        self._lines: list[list[tuple[str, str]]] = []

    def show(
        self,
        item: Step | None,
        layer: LayerMeta | None,
        index: LayerIndex | None,
        hidden_bytes: int | None,
    ) -> None:
        if item is None or layer is None:
            self._parts = [("", "no layer selected", "muted")]
        else:
            self._parts = layer_parts(item, layer, index, hidden_bytes)
        self.scroll_to(y=0, animate=False, immediate=True)
        self._lay_out()

    def action_scroll_rows(self, step: int, page: bool = False, edge: bool = False) -> None:
        """Scroll `step` rows (pages, or to the edge that way), at once: no animation."""
        if edge:
            step *= len(self._lines)
        elif page:
            step *= max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=self.scroll_y + step, animate=False, immediate=True)

    @property
    def text(self) -> str:
        """The pane's whole text, wrapped as shown."""
        return "\n".join("".join(t for t, _ in line) for line in self._lines)

    def on_resize(self) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        width = self.scrollable_content_region.width
        self._lines = wrap_parts(self._parts, width) if width else []
        size = Size(width, len(self._lines))
        # The height is fixed and the scrollbar always there: a new text needs no layout
        # pass (a whole-screen render on every layer step), the scrollbar is told directly.
        self.set_reactive(ScrollView.virtual_size, size)
        self.vertical_scrollbar.window_virtual_size = size.height
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = int(self.scroll_y) + y
        if index >= len(self._lines):
            return Strip.blank(width, base)
        segments = [
            Segment(text, base + self.get_component_rich_style(f"details--{style}"))
            if style
            else Segment(text, base)
            for text, style in self._lines[index]
        ]
        return Strip(segments).crop(0, width).extend_cell_length(width, base)


Part = tuple[str, str, str]  # (label, value, style name): "" label for a free line
LABEL_WIDTH = 9


def layer_parts(
    item: Step, layer: LayerMeta, index: LayerIndex | None, hidden_bytes: int | None
) -> list[Part]:
    parts: list[Part] = [("", item.instruction or "—", "")]  # the item's text is safe already
    if item.command:
        parts.append(("", item.command, "muted"))  # as recorded in the history
    if index is None:
        parts.append(("Size", "not indexed yet", "muted"))
    else:
        parts.append(("Size", f"{fmt.size(index.size)} · {fmt.count(len(index))} entries", ""))
    if layer.blob_size is not None:
        parts.append(("Stored", fmt.size(layer.blob_size), ""))
    if hidden_bytes:
        parts.append(("Hidden", f"{fmt.size(hidden_bytes)} shadowed by later layers", "warning"))
    created = safe(fmt.timestamp(item.created or layer.created))
    if created:
        parts.append(("Created", created, ""))
    digest = safe(layer.digest)
    parts.append(("Digest", digest, "") if digest else ("Digest", "unknown", "muted"))
    if safe(layer.id).strip():
        parts.append(("Id", safe(layer.id), ""))
    return parts


def wrap_parts(parts: list[Part], width: int) -> list[list[tuple[str, str]]]:
    """Lines of (text, style name): free lines wrapped to `width`, a labelled value wrapped
    beside its label (a digest is cut anywhere, never pushed under the label)."""
    lines: list[list[tuple[str, str]]] = []
    for label, value, style in parts:
        if not label:
            for line in textwrap.wrap(value, max(width, 1), break_on_hyphens=False) or [""]:
                lines.append([(line, style)])
            continue
        room = max(width - LABEL_WIDTH, 8)
        pieces = textwrap.wrap(value, room, break_on_hyphens=False) or [""]
        lines.append([(f"{label:<{LABEL_WIDTH}}", "label"), (pieces[0], style)])
        lines.extend([(" " * LABEL_WIDTH, ""), (piece, style)] for piece in pieces[1:])
    return lines


class ImageSummary(Static):
    """Name, tags, platform, size and the two efficiency accounts."""

    def show(
        self,
        meta: ImageMeta | None,
        *,
        indexed: int = 0,
        analysis: Analysis | None = None,
        state: str = "",
    ) -> None:
        if meta is None:
            self.update(Content.styled(state or "opening…", MUTED))
            return
        parts = []
        if meta.tags:
            parts.append(field("Tags", safe(", ".join(meta.tags))))
        else:
            parts.append(field("Image", safe(meta.name)))
        platform = safe(meta.platform) or "unknown platform"
        parts.append(
            field("Platform", Content.assemble(platform, (f" · {safe(meta.source)}", MUTED)))
        )
        n = len(meta.layers)
        if analysis is None:
            parts.append(field("Layers", f"{n} ({indexed} indexed)"))
            parts.append(Content.styled(state or "efficiency: waiting for every layer…", MUTED))
            self.update(lines(parts))
            return
        eff, rec = analysis.efficiency, analysis.reclaimable
        good, fair = eff.score >= 0.95, eff.score >= 0.9
        score_style = "$success" if good else "$warning" if fair else "$error"
        parts += [
            field("Size", f"{fmt.size(eff.size_bytes)} in {fmt.layers(n)}"),
            field(
                "Score",
                Content.assemble(
                    (f"{eff.score * 100:.2f} %", f"{score_style} bold"),
                    (" efficiency · dive", MUTED),
                ),
            ),
            field(
                "Wasted",
                Content.assemble(
                    (fmt.size(eff.wasted_bytes), "bold"),
                    (f" · {fmt.percent(eff.user_wasted_percent)} of user size", MUTED),
                ),
            ),
            field(
                "Hidden",
                Content.assemble(
                    (fmt.size(rec.total), "bold"),
                    (f" in {fmt.count(len(rec.rows))} files (exact)", MUTED),
                ),
            ),
        ]
        self.update(lines(parts))
