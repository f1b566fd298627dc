"""What an image is made of before any layer is read: layers, history and config, and how
its history and its layers match up.

Metadata is hostile like the rest of an image: a value of an odd type (a number where text
belongs, a list, an object) is kept as its JSON text and shown, never fatal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from explorer.core.errors import ImageError

SHELL_PREFIX = "/bin/sh -c "
# The classic builder records RUN with build args as "|2 A=1 B=2 /bin/sh -c cmd".
_BUILD_ARGS_RUN = re.compile(r"^(?:RUN )?\|\d+ .*?/bin/sh -c (.*)$", re.S)


def text_of(value: Any) -> str:
    """A metadata value as text: a string as it is, nothing (absent, null) as "", anything
    else as its JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):  # NaN is fine; only a nesting too deep gets here
        return f"({type(value).__name__})"


@dataclass
class HistoryEntry:
    created_by: str
    created: str
    empty: bool
    layer: int | None  # index of the layer this entry created, None for metadata-only ones
    comment: str = ""

    @property
    def instruction(self) -> str:
        """The Dockerfile-like instruction: `/bin/sh -c` stripped, `#(nop)` shown as such."""
        text = self.created_by.strip()
        if text.startswith(SHELL_PREFIX):
            text = text[len(SHELL_PREFIX) :].strip()
            if text.startswith("#(nop)"):
                return text[len("#(nop)") :].strip()
            return "RUN " + text
        return text

    @property
    def short_instruction(self) -> str:
        """The instruction short enough for a list: a RUN without its build args; for an
        entry without a command (e.g. `docker import`), the comment saying where it came
        from."""
        text = self.instruction
        match = _BUILD_ARGS_RUN.match(text)
        if match:
            return "RUN " + match.group(1).strip()
        if not text:
            return self.comment.strip() or "(no command recorded)"
        return text


@dataclass
class LayerMeta:
    index: int
    id: str  # what dive calls the layer id: first component of the blob's archive path
    digest: str  # diff_id: sha256 of the uncompressed layer tar
    command: str  # dive's command: history created_by without the "/bin/sh -c " prefix
    created: str = ""
    blob_size: int | None = None  # stored (maybe compressed) size, when known
    media_type: str = ""


@dataclass
class ImageMeta:
    name: str
    source: str  # docker, podman, docker-archive, oci-archive, oci
    layers: list[LayerMeta]
    history: list[HistoryEntry]
    config: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    id: str = ""  # the image ID (the config's digest), when the source names it
    # Layer commands and history guessed (an engine's history API has no empty-layer flag):
    # exact once the export's config, which comes last in its stream, has been read.
    provisional: bool = False

    @property
    def platform(self) -> str:
        parts = (text_of(self.config.get(key)) for key in ("os", "architecture", "variant"))
        return "/".join(p for p in parts if p)


def parse_config(config: Any, where: str) -> tuple[list[str], list[HistoryEntry]]:
    """diff_ids and the history of an image config, with each history entry tied to its
    layer (the k-th non-empty entry created layer k)."""
    if not isinstance(config, dict) or not isinstance(config.get("rootfs"), dict):
        raise ImageError(f"{where}: not an image config (no rootfs)")
    diff_ids = config["rootfs"].get("diff_ids")
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise ImageError(f"{where}: not an image config (rootfs.diff_ids missing)")
    history: list[HistoryEntry] = []
    raw_history = config.get("history") or []
    if not isinstance(raw_history, list):
        raw_history = []
    layer = 0
    for item in raw_history:
        if not isinstance(item, dict):
            continue
        empty = bool(item.get("empty_layer", False))
        history.append(
            HistoryEntry(
                created_by=text_of(item.get("created_by")),
                created=text_of(item.get("created")),
                empty=empty,
                layer=None if empty or layer >= len(diff_ids) else layer,
                comment=text_of(item.get("comment")),
            )
        )
        if not empty:
            layer += 1
    return diff_ids, history


def layer_commands(history: list[HistoryEntry], count: int) -> list[tuple[str, str]]:
    """(dive command, created) for each layer."""
    out = [("", "")] * count
    for entry in history:
        if entry.layer is not None:
            command = entry.created_by
            if command.startswith(SHELL_PREFIX):
                command = command[len(SHELL_PREFIX) :]
            out[entry.layer] = (command, entry.created)
    return out


@dataclass(frozen=True)
class Step:
    """One step of the image's build, as the layer list shows it: a layer, or a
    metadata-only instruction (ENV, LABEL...). Texts as recorded (not made safe)."""

    layer: int | None
    instruction: str  # short form, for a list
    created: str
    command: str = ""  # the full history command when `instruction` shortened it


def _step(layer: int | None, entry: HistoryEntry) -> Step:
    shortened = _BUILD_ARGS_RUN.match(entry.instruction) is not None
    full = entry.created_by if shortened else ""
    return Step(layer, entry.short_instruction, entry.created, full)


def steps(meta: ImageMeta) -> list[Step]:
    """The history matched with the layers: history order, metadata-only entries between
    the layers they sit between; a layer the history does not describe (a short or missing
    history) keeps its own command, in its place among the others."""
    out: list[Step] = []
    seen: set[int] = set()
    for entry in meta.history:
        if entry.layer is not None and entry.layer < len(meta.layers):
            if entry.layer in seen:
                continue
            seen.add(entry.layer)
            out.append(_step(entry.layer, entry))
        elif entry.empty or entry.layer is None:
            out.append(_step(None, entry))
    for lm in meta.layers:
        if lm.index in seen:
            continue
        at = next(
            (i for i, s in enumerate(out) if s.layer is not None and s.layer > lm.index),
            len(out),
        )
        out.insert(at, Step(lm.index, lm.command, lm.created))
    return out
