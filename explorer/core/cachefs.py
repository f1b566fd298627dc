"""The cache directory as a file system: private, and never a way in.

A cache entry is unpickled (if only into arrays) and trusted to stand for a layer, so the
directory must be the user's alone: a directory another user owns, or that others may write
to, is not used (said once, in one warning line); a new one is created 0700. Entries are
opened without following links and without waiting (a FIFO planted under an entry's name
would block a plain open), and only a regular file the user owns, that nobody else may write
to, is read. Listing and clearing see whatever is there under an entry's name, links and
FIFOs included, and never follow a link.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from explorer.core.safetext import safe

_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH
_warned: set[str] = set()  # directories already refused in this process


def _mine(st: os.stat_result) -> bool:
    return st.st_uid == os.getuid() and not st.st_mode & _OTHERS_WRITE


def private_dir(root: Path, create: bool) -> bool:
    """Is `root` a directory of the user's that nobody else may write to? With `create`, a
    missing one is made (0700). A refused one is said so once per process, on stderr."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        if not create:
            return False
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(root, 0o700)
            st = os.stat(root)
        except OSError:
            return False  # a cache that cannot be made is no cache, not an error
    except OSError:
        return False
    if stat.S_ISDIR(st.st_mode) and _mine(st):
        return True
    if str(root) not in _warned:
        _warned.add(str(root))
        why = (
            "not a directory"
            if not stat.S_ISDIR(st.st_mode)
            else "owned by another user"
            if st.st_uid != os.getuid()
            else "writable by others"
        )
        print(
            f"layerscope: warning: cache directory {safe(str(root))} is {why}: "
            "the layer cache is not used (give it to yourself, mode 700)",
            file=sys.stderr,
        )
    return False


def open_entry(path: Path) -> tuple[BinaryIO, os.stat_result] | None:
    """The entry at `path` opened for reading, with its status; None when it is absent, a
    link, not a regular file, or not the user's own private file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None  # absent, deleted by another instance's eviction, or a link (ELOOP)
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(st.st_mode) or not _mine(st):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb"), st


def scan(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every name in `root` with its own status (links not followed)."""
    try:
        it = os.scandir(root)
    except OSError:
        return
    with it:
        for item in it:
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue  # gone under us
            yield item.name, st


def remove(path: Path, st: os.stat_result) -> bool:
    """Delete what is at `path` (a directory with what is in it; a link, not its target)."""
    try:
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)  # never follows links (it refuses a link at the top, too)
        else:
            os.unlink(path)
    except OSError:
        return False
    return True
