"""The explorer screen's load state, one explicit value (see `MainScreen.load_state`), and
what the screen says when a load fails."""

from __future__ import annotations

import os
from enum import Enum

from explorer.core.errors import EngineError, ImageError


class LoadState(Enum):
    OPENING = "opening"  # the source and its metadata
    INDEXING = "indexing"  # layers arriving
    ANALYSING = "analysing"  # every layer in; dive's efficiency and our bytes being worked out
    ANALYSED = "analysed"
    FAILED = "failed"
    CANCELLED = "cancelled"


READING = (LoadState.OPENING, LoadState.INDEXING)
OVER = (LoadState.ANALYSED, LoadState.FAILED, LoadState.CANCELLED)


def hint_for(error: Exception, target: str) -> str:
    """What to do about a load that failed."""
    if isinstance(error, EngineError):
        return (
            "Start the engine (or check DOCKER_HOST / your permissions on its socket), "
            "or open a saved archive instead: layerscope IMAGE.tar"
        )
    if isinstance(error, ImageError) and target.startswith("registry://"):
        return (
            "Check the reference (registry://HOST[:PORT]/REPO[:TAG|@DIGEST]) and the "
            "credentials (--creds, docker login, podman login); q quits."
        )
    if isinstance(error, ImageError | KeyError):
        if not os.path.exists(target.split("://", 1)[-1]) and "not found" in str(error):
            return "Check the name with `docker images` (or pull the image first); q quits."
        return (
            f"Check that {target!r} is a complete image (docker save / skopeo copy output, "
            "an OCI layout directory, or an image reference); q quits."
        )
    return "This is a bug in LayerScope: run again with --debug for details; q quits."
