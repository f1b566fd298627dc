"""How the UI words things: sizes, counts, durations, and the layer list's entries."""

from __future__ import annotations

import datetime
import os
from dataclasses import replace

import humanize

from explorer.core.image import ImageMeta, Step, steps
from explorer.core.masking import mask_text
from explorer.core.safetext import safe


def size(n: int | None) -> str:
    """`humanize.naturalsize`, with a short unit for small counts ("5 B", not "5 Bytes")."""
    if n is None:
        return "…"
    text = humanize.naturalsize(n)
    return text.replace(" Bytes", " B").replace(" Byte", " B")


def count(n: int) -> str:
    return f"{n:,}"


def layers(n: int) -> str:
    return "1 layer" if n == 1 else f"{n:,} layers"


def not_ready(layer: int, read: set[int], stopped: str | None) -> list[tuple[str, str]]:
    """Why the tree of `layer` cannot be shown (lines of text and style) when not every layer
    0..layer is in `read`; `stopped`: why the reading ended, if it did."""
    if stopped is None:
        return [
            (f"Layer {layer} is not indexed yet.", "guide"),
            (f"Its files appear as soon as layers 0–{layer} are read.", "guide"),
        ]
    if layer not in read:
        return [(f"Layer {layer} is not available: {stopped}.", "guide")]
    missing = ", ".join(str(n) for n in range(layer) if n not in read)
    return [  # its size is listed: say what is missing
        (f"Layer {layer} was read, but not every layer below it: {stopped}.", "guide"),
        (f"Its files need layers 0–{layer}; missing: {missing}", "guide"),
    ]


def seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 60 else f"{int(s // 60)} min {int(s % 60)} s"


def timestamp(text: str) -> str:
    """History times as recorded (RFC 3339); the engine API gives Unix seconds instead. A
    number no date can hold is shown as it is."""
    if text.isascii() and text.isdigit():
        try:
            moment = datetime.datetime.fromtimestamp(int(text), datetime.UTC)
        except (OverflowError, ValueError, OSError):
            return text
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text


def percent(fraction: float) -> str:
    if fraction != fraction:  # NaN: nothing to compare with
        return "n/a"
    if fraction == float("inf"):
        return "∞"
    return f"{fraction * 100:.2f} %"


def display_name(meta: ImageMeta) -> str:
    """What to call the image in the header: its tag, and the archive's file name."""
    if meta.source in ("docker", "podman"):
        return safe(meta.name)
    base = os.path.basename(meta.name.rstrip("/")) or meta.name
    return safe(f"{meta.tags[0]} · {base}" if meta.tags else base)


def layer_items(meta: ImageMeta) -> list[Step]:
    """The layer list's rows: the image's steps, their texts made safe to show (secrets in
    them masked)."""
    return [
        replace(
            step,
            instruction=safe(mask_text(step.instruction)),
            command=safe(mask_text(step.command)),
        )
        for step in steps(meta)
    ]


def one_line(text: str) -> str:
    """Commands can span lines (heredocs): the list shows them on one."""
    return " ".join(text.replace("\\n", " ").split())
