"""How the UI words things: sizes, counts, durations, and the layer list's entries."""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass

import humanize

from explorer.core.display import safe
from explorer.core.image import HistoryEntry, ImageMeta


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


@dataclass(frozen=True)
class LayerItem:
    """One row of the layer list: a layer, or a metadata-only instruction (ENV, LABEL...)."""

    layer: int | None
    instruction: str  # short form for the list, already made safe
    created: str
    command: str = ""  # the full history command when `instruction` shortened it (safe)


# The classic builder records RUN with build args as "|2 A=1 B=2 /bin/sh -c cmd".
_BUILD_ARGS_RUN = re.compile(r"^(?:RUN )?\|\d+ .*?/bin/sh -c (.*)$", re.S)


def instruction(entry: HistoryEntry) -> str:
    """The Dockerfile-like instruction of a history entry, short enough for a list."""
    text = entry.instruction
    match = _BUILD_ARGS_RUN.match(text)
    if match:
        return "RUN " + match.group(1).strip()
    if not text:  # e.g. `docker import`: no command, a comment says where it came from
        return entry.comment.strip() or "(no command recorded)"
    return text


def _texts(entry: HistoryEntry) -> tuple[str, str, str]:
    short = instruction(entry)
    full = entry.created_by if _BUILD_ARGS_RUN.match(entry.instruction) else ""
    return safe(short), entry.created, safe(full)


def layer_items(meta: ImageMeta) -> list[LayerItem]:
    """History order, metadata-only entries between the layers they sit between; layers the
    history does not describe (a short or missing history) keep their own command."""
    items: list[LayerItem] = []
    seen: set[int] = set()
    for entry in meta.history:
        if entry.layer is not None and entry.layer < len(meta.layers):
            if entry.layer in seen:
                continue
            seen.add(entry.layer)
            items.append(LayerItem(entry.layer, *_texts(entry)))
        elif entry.empty or entry.layer is None:
            items.append(LayerItem(None, *_texts(entry)))
    for lm in meta.layers:
        if lm.index in seen:
            continue
        item = LayerItem(lm.index, safe(lm.command), lm.created)
        at = next(
            (i for i, it in enumerate(items) if it.layer is not None and it.layer > lm.index),
            len(items),
        )
        items.insert(at, item)
    return items


def one_line(text: str) -> str:
    """Commands can span lines (heredocs): the list shows them on one."""
    return " ".join(text.replace("\\n", " ").split())
