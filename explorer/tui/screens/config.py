"""The image's config and its Dockerfile, reconstructed from the history (c): how the image
runs, its environment and labels with secrets masked, and one line per instruction with the
layer it made and that layer's size (Enter goes to the layer)."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from explorer.core.dockerfile import Line, reconstruct
from explorer.core.image import ImageMeta
from explorer.core.imageconfig import ConfigView, config_view
from explorer.core.safetext import safe
from explorer.tui import format as fmt
from explorer.tui.screens.viewbase import ViewScreen
from explorer.tui.widgets.rowlist import ListRow, RowList, Target

KEY_WIDTH = 13


def config_rows(view: ConfigView) -> list[ListRow]:
    rows: list[ListRow] = [ListRow([("Image and how it runs", "heading")], group="run")]
    base = ", ".join(value for _, value in view.base)
    settings = [(s.key, s.value, s.note) for s in view.settings]
    if base:
        settings.insert(3, ("Base image", base, ""))
    for key, value, note in settings:
        parts = [(f"{key:<{KEY_WIDTH}}", "key"), (safe(value), "")]
        detail = f"{key}: {value}" + (f" ({note})" if note else "") if value else f"{key}: {note}"
        note = note or ("" if value else "—")
        if note:
            style = "medium" if key == "User" else "muted"
            parts.append(((" · " if value else "") + note, style))
        rows.append(ListRow(parts, detail=detail, member_of=("run",)))
    for group, title, pairs in (("env", "Env", view.env), ("labels", "Labels", view.labels)):
        rows.append(ListRow([(f"{title} ({len(pairs)})", "heading")], group=group))
        for name, value in pairs:
            parts = [(safe(name), "key"), ("=", "muted"), (safe(value), "")]
            rows.append(ListRow(parts, detail=f"{name}={value}", member_of=(group,)))
    return rows


def dockerfile_rows(lines: list[Line], sizes: dict[int, int]) -> list[ListRow]:
    rows = []
    for line in lines:
        first, *more = line.text.split("\n")
        if line.layer is None:
            gutter = f"{'':>3} {'':>9}  "
        else:
            size = fmt.size(sizes[line.layer]) if line.layer in sizes else ""
            gutter = f"{line.layer:>3} {size:>9}  "
        style = "muted" if line.layer is None or line.comment else ""
        parts = [(gutter, "muted"), (safe(first), style)]
        if more:
            parts.append((f" ⏎ {len(more)} more lines", "muted"))
        where = "made no layer" if line.layer is None else f"layer {line.layer}"
        if line.derived:
            where = "a build arg of the RUN below"
        target = Target(line.layer) if line.layer is not None else None
        rows.append(ListRow(parts, detail=f"{line.text}\n({where})", target=target))
    return rows


class ConfigScreen(ViewScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "tab",
            "switch_list",
            "Config / Dockerfile",
            tooltip="Switch between the config and the Dockerfile",
            id="config.switch",
        ),
    ]

    def status(self) -> str:
        return "config · Dockerfile"

    def __init__(self, meta: ImageMeta, sizes: dict[int, int], image_name: str) -> None:
        super().__init__(image_name)
        self.meta = meta
        self.sizes = sizes

    def lists(self) -> list[RowList]:
        config = RowList(id="config-list")
        config.border_title = "Config"
        dockerfile = RowList(id="dockerfile-list")
        dockerfile.border_title = "Dockerfile (from the history)"
        dockerfile.border_subtitle = "Enter: go to the layer"
        return [config, dockerfile]

    def fill(self) -> None:
        self.query_one("#config-list", RowList).set_rows(config_rows(config_view(self.meta)))
        lines = reconstruct(self.meta)
        self.query_one("#dockerfile-list", RowList).set_rows(dockerfile_rows(lines, self.sizes))
