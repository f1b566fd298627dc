"""Text panels: the selected layer's details and the image's details with its efficiency.

Everything from the image goes through `safe()` and into `Content` as plain text, never as
markup: a tag or command like `[bold]x` shows literally.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from explorer.core.analysis import Analysis
from explorer.core.display import safe
from explorer.core.image import ImageMeta, LayerMeta, Step
from explorer.core.layerindex import LayerIndex
from explorer.tui import format as fmt

LABEL = "bold"
MUTED = "$text-muted"


def field(label: str, value: str | Content, width: int = 9) -> Content:
    return Content.assemble((f"{label:<{width}}", LABEL), value)


def lines(parts: list[Content]) -> Content:
    return Content("\n").join(parts)


class LayerDetails(Static):
    """Digest, id, size, creation time and full command of the selected layer."""

    def show(
        self,
        item: Step | None,
        layer: LayerMeta | None,
        index: LayerIndex | None,
        hidden_bytes: int | None,
    ) -> None:
        # The pane has a fixed height: new content never needs a layout pass.
        if item is None or layer is None:
            self.update(Content.styled("no layer selected", MUTED), layout=False)
            return
        if index is None:
            size: str | Content = Content.styled("not indexed yet", MUTED)
        else:
            size = f"{fmt.size(index.size)} · {fmt.count(len(index))} entries"
        parts = [Content(item.instruction or "—")]
        if item.command:
            parts.append(Content.styled(item.command, MUTED))  # as recorded in the history
        parts.append(field("Size", size))
        if layer.blob_size is not None:
            parts.append(field("Stored", fmt.size(layer.blob_size)))
        if hidden_bytes:
            shadowed = f"{fmt.size(hidden_bytes)} shadowed by later layers"
            parts.append(field("Hidden", Content.styled(shadowed, "$warning")))
        created = safe(fmt.timestamp(item.created or layer.created))
        if created:
            parts.append(field("Created", created))
        parts.append(field("Digest", safe(layer.digest) or Content.styled("unknown", MUTED)))
        if layer.id:
            parts.append(field("Id", safe(layer.id)))
        self.update(lines(parts), layout=False)


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
