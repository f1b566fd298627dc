"""What an image is made of before any layer is read: layers, history and config.

Metadata is hostile like the rest of an image: a value of an odd type (a number where text
belongs, a list, an object) is kept as its JSON text and shown, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from explorer.core.errors import ImageError

SHELL_PREFIX = "/bin/sh -c "


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
        if text.startswith("RUN |"):  # buildkit with build args: "RUN |2 A=1 B=2 /bin/sh -c x"
            return text
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
