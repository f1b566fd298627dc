"""Where the `--json` export goes: a descriptor this process already has open, a device or FIFO,
or a regular file replaced only by a complete one that keeps its mode and owner."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, TextIO, cast

from explorer.core.errors import ImageError

# `/dev/stdout` and friends name a descriptor we hold: written through it, output into a
# pipe works and a file opened with `>>` is appended to, not replaced.
_DESCRIPTOR = re.compile(r"/dev/std(out|err)|/dev/fd/(\d+)|/proc/self/fd/(\d+)")
_STALE = 3600.0  # seconds: a temp export this old, of a process that is gone, was abandoned
_STEM = 200  # characters of the target's name kept in a temp name (names are <= 255 bytes)


def _stream(fd: int, binary: bool) -> IO[Any]:
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape")


def _error(path: str, exc: OSError) -> ImageError:
    return ImageError(f"{path}: cannot write the export ({exc.strerror})")


def _descriptor(path: str) -> int | None:
    m = _DESCRIPTOR.fullmatch(os.path.normpath(path))
    if m is None:
        return None
    if m.group(1):
        return 1 if m.group(1) == "out" else 2
    return int(m.group(2) or m.group(3))


@contextlib.contextmanager
def open_export(path: str) -> Iterator[TextIO]:
    """A text stream to write the export of `path` to (see `_open_output`)."""
    with _open_output(path, binary=False) as out:
        yield cast(TextIO, out)


@contextlib.contextmanager
def open_binary(path: str) -> Iterator[BinaryIO]:
    """A byte stream to write an image archive to `path` (see `_open_output`)."""
    with _open_output(path, binary=True) as out:
        yield cast(BinaryIO, out)


@contextlib.contextmanager
def _open_output(path: str, binary: bool) -> Iterator[IO[Any]]:
    """A stream to write the export of `path` to, in place when the body ends.

    A regular file (or a new one) is replaced only by a complete file, written beside it
    (through a symlink: beside the file it points to) under a fresh name, so an interrupt at
    any point can remove it; the file it replaces keeps its mode, and its owner when we may
    set it. Stale temp files of killed runs for the same target are removed first. Anything
    else that exists — a device such as /dev/null, a FIFO — is written to directly:
    replacing it would put a regular file in its place."""
    fd = _descriptor(path)
    if fd is not None:
        try:
            dup = os.dup(fd)
        except OSError as exc:
            raise _error(path, exc) from None
        with _stream(dup, binary) as out:
            yield out
        return
    target = os.path.realpath(path)
    if os.path.isdir(target):
        raise ImageError(f"{path}: is a directory")
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _error(path, exc) from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        try:
            out = _stream(os.open(target, os.O_WRONLY), binary)
        except OSError as exc:
            raise _error(path, exc) from None
        with out:
            yield out
        return
    directory, name = os.path.split(target)
    remove_stale_temps(directory, name)
    tmp = os.path.join(directory, f".{name[:_STEM]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        try:
            # Private until complete; a new file gets dive's mode (0644 less the umask).
            mode = 0o600 if existing is not None else 0o644
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        except OSError as exc:
            raise _error(path, exc) from None
        with _stream(fd, binary) as out:
            if existing is not None:
                _keep_mode_and_owner(fd, existing)
            yield out
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _keep_mode_and_owner(fd: int, old: os.stat_result) -> None:
    """Give the new file `fd` the mode and owner (or at least the group) of `old`."""
    for uid, gid in ((old.st_uid, old.st_gid), (-1, old.st_gid)):
        try:
            os.fchown(fd, uid, gid)
            break
        except PermissionError:
            continue
    now = os.fstat(fd)
    mode = stat.S_IMODE(old.st_mode)
    if (now.st_uid, now.st_gid) != (old.st_uid, old.st_gid):
        mode &= ~(stat.S_ISUID | stat.S_ISGID)  # never a set-id file of another owner
    os.fchmod(fd, mode)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temps(directory: str, name: str) -> None:
    """Delete the temp files of exports to `name` in `directory` that runs killed before they
    finished left behind: only our naming, only regular files of this user, over an hour old,
    of a process that no longer runs. Links are never followed."""
    own = re.compile(rf"\.{re.escape(name[:_STEM])}\.(\d+)(?:\.[0-9a-f]{{8}})?\.tmp")
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(directory or ".") as entries:
        for entry in entries:
            m = own.fullmatch(entry.name)
            if m is None:
                continue
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if (
                    stat.S_ISREG(st.st_mode)
                    and st.st_uid == os.getuid()
                    and now - st.st_mtime > _STALE
                    and not _alive(int(m.group(1)))
                ):
                    os.unlink(entry.path)
