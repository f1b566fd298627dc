"""Extraction that a hostile image cannot abuse: files and directories as of a layer, written
under a target directory through directory file descriptors, never `tarfile`'s extraction
(its filters have had bypasses: CPython issues 135034, 151558).

- Every path is walked from the target's descriptor one component at a time: directories are
  made (`mkdirat`) and opened with `O_NOFOLLOW | O_DIRECTORY`, so a symlink where a parent
  should be — planted by the image or already there — stops that entry (skipped, said so);
  nothing is written outside the target, whatever the names (`..` and absolute names are
  normalised by the indexer before they get here; they are refused again here).
- Files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`: never through a link, never over
  an existing file without `force` (and then the old name is unlinked first, never written
  through). Symlinks are recreated as symlinks (`symlinkat`), never followed. A hardlink is
  linked to a file this extraction wrote, else written as a copy of its data: never linked
  to anything outside. Device nodes, FIFOs and sockets are not created (skipped, said so).
- Permission bits are kept less setuid, setgid and sticky (`mode & 0o777`); owners are not
  (files belong to the user extracting); modification times are kept.
- Names holding control characters (a newline could forge the listing) are skipped. A file
  over 2 GiB needs `force`. Existing files and large files are found before anything is
  written: without `force`, such a run writes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from explorer.core import tarscan
from explorer.core.content import ContentAccess, Entry
from explorer.core.errors import Cancelled, ImageError

LARGE = 2 << 30  # a single file larger than this needs force
_WINDOW = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_SKIPPED_KINDS = {
    tarscan.CHAR: "a character device",
    tarscan.BLOCKDEV: "a block device",
    tarscan.FIFO: "a FIFO",
}


@dataclass
class Extracted:
    """What an extraction did: paths written (image paths), those skipped with why, bytes."""

    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0


def _bad_name(path: str) -> str | None:
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return "a name that leaves the target"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return "a control character in its name"
    return None


class _Blocked(Exception):
    """Something is already where an entry goes (what this run wrote, without --force)."""


def _order(entries: list[Entry]) -> list[Entry]:
    """The order to write in: directories (parents first), then files in the order their
    data lies in each layer (a compressed layer is read front to back once), then hardlinks
    (to what was written), then symlinks last — so that no entry is ever written below a
    link this run made."""
    rank = {tarscan.DIR: 0, tarscan.REG: 1, tarscan.HARDLINK: 2, tarscan.SYMLINK: 3}

    def key(e: Entry) -> tuple[int, int, int, str]:
        if e.type == tarscan.REG:
            return (1, e.layer, e.row, "")
        return (rank.get(e.type, 0), 0, 0, e.path)

    return sorted(entries, key=key)


class _Writer:
    def __init__(self, acc: ContentAccess, root_fd: int, force: bool) -> None:
        self.acc = acc
        self.root = root_fd
        self.force = force
        self.done = Extracted()
        self.files: dict[str, Entry] = {}  # image path -> the file written there (hardlinks)
        self.dirs: list[tuple[str, Entry]] = []  # modes and times set last, deepest first
        self.links: set[str] = set()  # the symlinks to make (made last)

    def parent_fd(self, path: str, create: bool) -> int | None:
        """A descriptor of `path`'s parent under the root, made when `create`; None when a
        component is missing (not `create`) or is not a real directory (a symlink...)."""
        fd = os.dup(self.root)
        for part in path.split("/")[:-1]:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)  # as tar makes missing parents
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.ENOENT,) and not create:
                    return None
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    return None
                raise
            os.close(fd)
            fd = nxt
        return fd

    def existing(self, path: str) -> os.stat_result | None:
        fd = self.parent_fd(path, create=False)
        if fd is None:
            return None
        try:
            return os.stat(path.rsplit("/", 1)[-1], dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            os.close(fd)

    def write(self, e: Entry, cancel: threading.Event | None) -> None:
        why = _bad_name(e.path) or _SKIPPED_KINDS.get(e.type)
        if why is None and e.type not in (
            tarscan.REG,
            tarscan.DIR,
            tarscan.SYMLINK,
            tarscan.HARDLINK,
        ):
            why = f"an entry of type {e.type!r}"
        if why is not None:
            self.done.skipped.append((e.path, why))
            return
        if e.type == tarscan.HARDLINK:
            data = self.acc.data_entry(e)
            if data is None or data.type != tarscan.REG:
                why = "a hardlink to " + ("no file in the image" if data is None else data.kind)
                self.done.skipped.append((e.path, why))
                return
        fd = None if self._below_link(e.path) else self.parent_fd(e.path, create=True)
        if fd is None:
            self.done.skipped.append((e.path, "a parent is a symlink or not a directory"))
            return
        name = e.path.rsplit("/", 1)[-1]
        try:
            if e.type == tarscan.DIR:
                self._dir(fd, name, e)
            elif e.type == tarscan.SYMLINK:
                self._clear(fd, name)
                os.symlink(e.link, name, dir_fd=fd)
                with contextlib.suppress(OSError, NotImplementedError):
                    os.utime(name, ns=(e.mtime * 10**9,) * 2, dir_fd=fd, follow_symlinks=False)
            elif e.type == tarscan.HARDLINK and self._link(fd, name, e):
                pass
            else:
                self._file(fd, name, e, cancel)
        except _Blocked as blocked:  # by what this run wrote (or another process meanwhile)
            self.done.skipped.append((e.path, str(blocked)))
            return
        finally:
            os.close(fd)
        self.done.written.append(e.path)

    def _below_link(self, path: str) -> bool:
        """Is a parent of `path` a symlink this run makes (the image holds both)?"""
        parent = path
        while "/" in parent:
            parent = parent.rpartition("/")[0]
            if parent in self.links:
                return True
        return False

    def _clear(self, fd: int, name: str) -> None:
        """Make room for `name` (force only: the checks before writing found what is there)."""
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if (st.st_mode & 0o170000) == 0o040000:
            raise _Blocked("a directory is there")
        if not self.force:
            raise _Blocked("something is there (use --force to overwrite)")
        os.unlink(name, dir_fd=fd)

    def _dir(self, fd: int, name: str, e: Entry) -> None:
        try:
            os.mkdir(name, 0o700, dir_fd=fd)
        except FileExistsError:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if (st.st_mode & 0o170000) != 0o040000:
                self._clear(fd, name)
                os.mkdir(name, 0o700, dir_fd=fd)
        self.dirs.append((e.path, e))

    def _link(self, fd: int, name: str, e: Entry) -> bool:
        """Link to the file this extraction wrote with the link's data (that very version of
        it: a path written again after the link was made holds other bytes); False: copy."""
        data = self.acc.data_entry(e)
        if data is None or self.files.get(data.path) != data:
            return False
        target = data.path
        src = self.parent_fd(target, create=False)
        if src is None:
            return False
        try:
            self._clear(fd, name)
            os.link(
                target.rsplit("/", 1)[-1],
                name,
                src_dir_fd=src,
                dst_dir_fd=fd,
                follow_symlinks=False,
            )
        finally:
            os.close(src)
        return True

    def _file(self, fd: int, name: str, e: Entry, cancel: threading.Event | None) -> None:
        self._clear(fd, name)
        own = self.acc.data_entry(e) or e  # a hardlink copied: its target's mode and time
        mode = own.mode & 0o777
        out = os.open(name, _NEW_FILE, 0o600, dir_fd=fd)
        try:
            with self.acc.open_entry(e) as src:
                while chunk := src.read(_WINDOW):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(out, view) :]
                    self.done.bytes += len(chunk)
            os.fchmod(out, mode)
            os.utime(out, ns=(own.mtime * 10**9,) * 2)
        finally:
            os.close(out)
        self.files[e.path] = e

    def finish(self) -> None:
        """Directories' modes (less setuid, setgid, sticky) and times, deepest first."""
        for path, e in sorted(self.dirs, key=lambda d: d[0].count("/"), reverse=True):
            fd = self.parent_fd(path, create=False)
            if fd is None:
                continue
            try:
                own = os.open(path.rsplit("/", 1)[-1], _DIR_FLAGS, dir_fd=fd)
            except OSError:
                os.close(fd)
                continue
            try:
                os.fchmod(own, e.mode & 0o777)
                os.utime(own, ns=(e.mtime * 10**9,) * 2)
            finally:
                os.close(own)
                os.close(fd)


def plan(acc: ContentAccess, paths: list[str], layer: int | None) -> list[Entry]:
    """The entries to write for `paths` as of `layer` (each path with what is below it)."""
    chosen: dict[str, Entry] = {}
    for path in paths:
        found = acc.tree(path, layer)
        if not found:  # below a symlinked directory (/bin/ls, bin -> usr/bin)?
            real = acc.resolve(path, layer)
            found = acc.tree(real.path, layer) if real is not None else []
        if not found and tarscan.normalize(path):  # (the root of an empty image: nothing)
            raise acc.absent(path, layer)
        chosen.update((e.path, e) for e in found)
    return [chosen[p] for p in sorted(chosen)]


def extract(
    acc: ContentAccess,
    entries: list[Entry],
    target: str,
    force: bool = False,
    progress: Callable[[Extracted], None] | None = None,
    cancel: threading.Event | None = None,
) -> Extracted:
    """Write `entries` (from `plan`) under the directory `target` (made if missing)."""
    os.makedirs(target, exist_ok=True)
    root = os.open(target, _DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        writer = _Writer(acc, root, force)
        writer.links = {e.path for e in entries if e.type == tarscan.SYMLINK}
        if not force:
            for e in entries:
                if e.type == tarscan.REG and e.size > LARGE:
                    raise ImageError(
                        f"/{e.path} is {e.size:,} bytes (over 2 GiB): use --force to extract it"
                    )
                st = None if _bad_name(e.path) else writer.existing(e.path)
                if st is not None and not (
                    e.type == tarscan.DIR and (st.st_mode & 0o170000) == 0o040000
                ):
                    raise ImageError(
                        f"{os.path.join(target, e.path)} exists: nothing written "
                        f"(use --force to overwrite)"
                    )
        acc.prepare({e.layer for e in entries if e.type == tarscan.REG}, cancel=cancel)
        for e in _order(entries):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            writer.write(e, cancel)
            if progress is not None:
                progress(writer.done)
        writer.finish()
        return writer.done
    finally:
        os.close(root)
