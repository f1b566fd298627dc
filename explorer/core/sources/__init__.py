"""Where images come from: an engine (Docker, Podman), an archive on disk, or a registry."""

from __future__ import annotations

import os
import stat

from explorer.core.errors import ImageError
from explorer.core.sources.archive import ArchiveSource
from explorer.core.sources.base import LayerProgress, Source
from explorer.core.sources.engine import EngineSource
from explorer.core.sources.piped import PipeSource

KINDS = ("docker", "podman", "docker-archive", "oci-archive", "oci", "registry")

__all__ = ["KINDS", "LayerProgress", "Source", "open_source", "split_target"]


def split_target(target: str, kind: str | None = None) -> tuple[str, str]:
    """(kind, reference or path) from `kind://rest`, an explicit kind, or what is on disk."""
    for prefix in KINDS:
        if target.startswith(prefix + "://"):
            return prefix, target[len(prefix) + 3 :]
    if kind:
        if kind not in KINDS:
            raise ImageError(f"unknown source {kind!r} (expected one of: {', '.join(KINDS)})")
        return kind, target
    if os.path.exists(target):
        return ("oci" if os.path.isdir(target) else "docker-archive"), target
    if target.endswith((".tar", ".tar.gz", ".tgz", ".tar.zst")) or (
        "/" in target and (target.startswith((".", "/", "~")))
    ):
        raise ImageError(f"{target}: no such file or directory")
    return "docker", target


def open_source(target: str, kind: str | None = None, platform: str | None = None) -> Source:
    kind, ref = split_target(target, kind)
    if kind in ("docker", "podman"):
        return EngineSource(ref, kind, platform)
    if kind == "registry":
        from explorer.core.sources.registry import RegistrySource  # imports requests

        return RegistrySource(ref, platform)
    try:
        mode = os.stat(ref).st_mode
    except OSError:
        raise ImageError(f"{ref}: no such file or directory") from None
    archive_kind = "" if kind == "docker-archive" else kind
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):  # a pipe: read once, in one pass
        return PipeSource(ref, platform, archive_kind)
    return ArchiveSource(ref, platform, archive_kind)
