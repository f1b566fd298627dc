"""Independent models the fuzz tests compare the product with, and the fuzzing tools.

* :func:`tar_listing` — what Python's ``tarfile`` reads from the same bytes, entry by entry.
* :func:`extract_image` — a real extraction into a directory, one layer after the other with
  OCI whiteout semantics applied by hand (``.wh.<name>`` deletes ``<name>`` below,
  ``.wh..wh..opq`` empties its directory below, both before the layer's own entries are
  written; an entry replaces what was at its path, a directory entry merges); then
  :func:`walk_fs` lists what is there. Nothing here imports the product.
* :func:`product_tree` / :func:`walk_tree` — the product's final filesystem
  (``stack(..., correct=True)`` over every layer) in the same shape.
* :func:`mutate` — byte flips, truncation, insertion, deletion and header-field edits (with
  the checksum fixed, so the edit reaches the parser behind the checksum check).
* :func:`alarm` — a hang guard (SIGALRM) for in-process calls.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import xxhash

OPQ = ".wh..wh..opq"
WH = ".wh."

# tar typeflag -> the kind the product's index reports (tarscan's constants are ord(typeflag))
_TYPE = {
    tarfile.AREGTYPE: ord("0"),
    tarfile.REGTYPE: ord("0"),
    tarfile.CONTTYPE: ord("0"),
    tarfile.GNUTYPE_SPARSE: ord("0"),
}


def norm(name: str) -> str:
    """A tar name as a relative path: no leading ``/`` or ``./``, no ``.`` or empty parts
    (valid inputs hold no ``..``)."""
    return "/".join(p for p in name.split("/") if p not in ("", "."))


# --------------------------------------------------------------------------- tarfile listing


@dataclass(frozen=True)
class Row:
    path: str
    type: int
    size: int
    mode: int
    uid: int
    gid: int
    mtime: int
    link: str
    hash: int | None  # xxh3 of the content; None: not comparable (sparse files)


def open_tar(data: bytes) -> tarfile.TarFile:
    return tarfile.open(
        fileobj=io.BytesIO(data), mode="r:", encoding="utf-8", errors="surrogateescape"
    )


def tar_listing(data: bytes) -> list[Row]:
    rows: list[Row] = []
    if not data:  # tarfile calls an empty stream an error; it is a layer with no entries
        return rows
    with open_tar(data) as t:
        for m in t.getmembers():
            path = norm(m.name)
            if not path:
                continue
            kind = _TYPE.get(m.type, m.type[0])
            if m.issparse() or m.type == tarfile.GNUTYPE_SPARSE:
                digest = None
            elif kind == ord("0") and m.size:
                f = t.extractfile(m)
                assert f is not None
                digest = xxhash.xxh3_64_intdigest(f.read())
            else:
                digest = 0
            rows.append(
                Row(path, kind, m.size, m.mode, m.uid, m.gid, int(m.mtime), m.linkname, digest)
            )
    return rows


def index_rows(idx) -> list[Row]:
    """The product's LayerIndex in the same shape."""
    return [
        Row(
            idx.paths[i],
            idx.types[i],
            idx.sizes[i],
            idx.modes[i],
            idx.uids[i],
            idx.gids[i],
            idx.mtimes[i],
            idx.link(i),
            idx.hashes[i],
        )
        for i in range(len(idx))
    ]


# --------------------------------------------------------------------------- extraction model


class Conflict(Exception):
    """The layer asks for something a filesystem cannot do (a path under a file or a symlink):
    the generator should not produce it."""


@dataclass(frozen=True)
class Node:
    kind: str  # dir, file, symlink, fifo, hardlink (product only; a file on disk)
    size: int | None = None  # regular files
    link: str = ""  # symlink target; hardlink: normalised target
    mode: int | None = None  # permission bits, where comparable
    uid: int | None = None
    gid: int | None = None


def _inside(root: Path, rel: str) -> Path:
    """``root/rel`` with every parent checked to be a real directory (never a symlink), so
    nothing the layer says can make the model touch anything outside ``root``."""
    here = root
    parts = rel.split("/")
    for part in parts[:-1]:
        here = here / part
        st_ = os.lstat(here) if os.path.lexists(here) else None
        if st_ is None:
            raise FileNotFoundError(here)
        if not stat.S_ISDIR(st_.st_mode):
            raise Conflict(f"{rel}: {here} is not a directory")
    return here / parts[-1]


def _remove(path: Path) -> None:
    if stat.S_ISDIR(os.lstat(path).st_mode):  # never follow a symlink (its target may be junk)
        shutil.rmtree(path)
    else:
        path.unlink()


def _makedirs(root: Path, rel: str) -> None:
    here = root
    for part in [p for p in rel.split("/") if p]:
        here = here / part
        if not os.path.lexists(here):
            here.mkdir(mode=0o755)
        elif not stat.S_ISDIR(os.lstat(here).st_mode):
            raise Conflict(f"{rel}: {here} is not a directory")


def apply_layer(root: Path, data: bytes) -> None:
    with open_tar(data) as t:
        members = t.getmembers()
        # 1. whiteouts and opaque markers act on the layers below
        for m in members:
            path = norm(m.name)
            head, _, base = path.rpartition("/")
            if base == OPQ:
                with contextlib.suppress(FileNotFoundError, Conflict):
                    d = _inside(root, path).parent
                    if stat.S_ISDIR(os.lstat(d).st_mode):
                        for child in list(d.iterdir()):
                            _remove(child)
            elif base.startswith(WH):  # (under a file or a symlink: there is nothing to hide)
                with contextlib.suppress(FileNotFoundError, Conflict):
                    target = _inside(root, f"{head}/{base[4:]}" if head else base[4:])
                    if os.path.lexists(target):
                        _remove(target)
        # 2. the layer's own entries, in order
        for m in members:
            path = norm(m.name)
            base = path.rpartition("/")[2]
            if not path or base.startswith(WH):
                continue
            _makedirs(root, path.rpartition("/")[0])
            target = _inside(root, path)
            exists = os.path.lexists(target)
            is_dir = exists and stat.S_ISDIR(os.lstat(target).st_mode)
            if m.isdir():
                if exists and not is_dir:
                    _remove(target)
                if not is_dir:
                    target.mkdir()
            else:
                if exists:
                    _remove(target)
                if m.isreg():
                    f = t.extractfile(m)
                    assert f is not None
                    target.write_bytes(f.read())
                elif m.issym():
                    os.symlink(m.linkname, target)
                elif m.islnk():
                    os.link(_inside(root, norm(m.linkname)), target, follow_symlinks=False)
                elif m.isfifo():
                    os.mkfifo(target)
                else:
                    raise Conflict(f"{path}: unexpected entry type {m.type!r}")
            if m.issym() or m.islnk():
                continue
            if os.geteuid() == 0:
                os.lchown(target, m.uid, m.gid)
            os.chmod(target, m.mode & 0o7777)


def extract_image(root: Path, tars: list[bytes]) -> dict[str, Node]:
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    for data in tars:
        apply_layer(root, data)
    return walk_fs(root)


def walk_fs(root: Path) -> dict[str, Node]:
    out: dict[str, Node] = {}
    base = str(root)
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, base)
            st_ = os.lstat(full)
            mode = stat.S_IMODE(st_.st_mode)
            own = dict(mode=mode, uid=st_.st_uid, gid=st_.st_gid)
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = Node("symlink", link=os.readlink(full))
            elif stat.S_ISDIR(st_.st_mode):
                out[rel] = Node("dir", **own)
            elif stat.S_ISREG(st_.st_mode):
                if st_.st_nlink > 1:  # shares its inode: mode and owner are the link's affair
                    own = {}
                out[rel] = Node("file", size=st_.st_size, **own)
            elif stat.S_ISFIFO(st_.st_mode):
                out[rel] = Node("fifo", **own)
            else:
                out[rel] = Node(f"other:{oct(st_.st_mode)}")
    return out


# --------------------------------------------------------------------------- the product's view

_KIND = {ord("0"): "file", ord("1"): "hardlink", ord("2"): "symlink", ord("5"): "dir"}
_KIND[ord("6")] = "fifo"


def product_tree(layers):
    """The product's final filesystem: every layer stacked with OCI semantics."""
    from explorer.core.tree import FileTree, layer_tree, stack

    final = FileTree(layers)
    for n in range(len(layers)):
        stack(final, layer_tree(layers, n), correct=True)
    return final


def walk_tree(tree) -> dict[str, Node]:
    """``{path: Node}`` of a product FileTree (implicit directories as plain dirs)."""
    from explorer.core.tree import NO_INFO, ref_entry, ref_layer

    out: dict[str, Node] = {}
    todo = [(tree.root, "")]
    while todo:
        node, path = todo.pop()
        for name, child in node.children.items():
            rel = f"{path}/{name}" if path else name
            todo.append((child, rel))
            if child.info == NO_INFO:
                out[rel] = Node("dir")
                continue
            layer, i = tree.layers[ref_layer(child.info)], ref_entry(child.info)
            kind = _KIND.get(layer.types[i], f"type:{layer.types[i]}")
            own = dict(mode=layer.modes[i] & 0o7777, uid=layer.uids[i], gid=layer.gids[i])
            if kind == "file":
                out[rel] = Node("file", size=layer.sizes[i], **own)
            elif kind == "symlink":
                out[rel] = Node("symlink", link=layer.link(i))
            elif kind == "hardlink":
                out[rel] = Node("hardlink", link=norm(layer.link(i)))
            else:
                out[rel] = Node(kind, **own)
    return out


def differences(expected: dict[str, Node], got: dict[str, Node]) -> list[str]:
    """What the product shows differently from the extracted filesystem (hardlinks are files
    on disk; mode and owner are compared where both sides know them)."""
    out = []
    for path in sorted(set(expected) | set(got), key=lambda p: p.encode("utf-8", "replace")):
        e, g = expected.get(path), got.get(path)
        if e is None:
            out.append(f"{path!r}: shown by the product ({g}), absent on disk")
            continue
        if g is None:
            out.append(f"{path!r}: on disk ({e}), missing in the product")
            continue
        if g.kind == "hardlink":
            if e.kind != "file":
                out.append(f"{path!r}: product hardlink, on disk {e}")
            continue
        if e.kind != g.kind:
            out.append(f"{path!r}: product {g.kind}, on disk {e.kind}")
        elif e.kind == "file" and e.size != g.size:
            out.append(f"{path!r}: product size {g.size}, on disk {e.size}")
        elif e.kind == "symlink" and e.link != g.link:
            out.append(f"{path!r}: product link {g.link!r}, on disk {e.link!r}")
        else:
            for key in ("mode", "uid", "gid"):
                ev, gv = getattr(e, key), getattr(g, key)
                if ev is not None and gv is not None and ev != gv and os.geteuid() == 0:
                    out.append(f"{path!r}: product {key} {gv:o}, on disk {ev:o}")
    return out


# --------------------------------------------------------------------------- fuzzing tools


class Hang(BaseException):
    """Raised by :func:`alarm`; a BaseException so no ``except Exception`` swallows it."""


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    def fire(signum, frame):
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def header_offsets(data: bytes) -> list[int]:
    """Offsets of the header blocks of a valid tar (extension headers included)."""
    out = []
    pos = 0
    pax_size = None
    while pos + 512 <= len(data):
        h = data[pos : pos + 512]
        if h == bytes(512):
            break
        out.append(pos)
        raw = h[124:136]
        if raw[0] & 0x80:
            size = int.from_bytes(raw[1:], "big")
        else:
            try:
                size = int(raw.split(b"\0", 1)[0].strip() or b"0", 8)
            except ValueError:  # not a tar (a JSON blob of an OCI directory): no headers
                break
        kind = h[156:157]
        if kind in (b"1", b"2", b"3", b"4", b"5", b"6"):
            size = 0
        elif kind == b"x":
            found = re.search(rb"(?:^|\n)\d+ size=(\d+)\n", data[pos + 512 : pos + 512 + size])
            pax_size = int(found.group(1)) if found else None
        elif pax_size is not None:
            size, pax_size = pax_size, None
        pos += 512 + (size + 511) // 512 * 512
    return out


FIELD_SPANS = {
    "name": (0, 100),
    "mode": (100, 8),
    "uid": (108, 8),
    "gid": (116, 8),
    "size": (124, 12),
    "mtime": (136, 12),
    "typeflag": (156, 1),
    "linkname": (157, 100),
    "magic": (257, 8),
    "devmajor": (329, 8),
    "devminor": (337, 8),
    "prefix": (345, 155),
    "sparse": (386, 97),
    "realsize": (483, 12),
}


@dataclass(frozen=True)
class Mutation:
    kind: str  # flip, truncate, insert, delete, field
    at: int  # a position (taken modulo the length), or a header number for "field"
    value: bytes = b""
    field: str = ""
    fix_checksum: bool = True


def _fix_checksum(buf: bytearray, off: int) -> None:
    if off + 512 <= len(buf):
        buf[off + 148 : off + 156] = b" " * 8
        buf[off + 148 : off + 156] = b"%06o\x00 " % sum(buf[off : off + 512])


def mutate(data: bytes, mutations: list[Mutation]) -> bytes:
    headers = header_offsets(data)
    buf = bytearray(data)
    for m in mutations:
        n = len(buf)
        if m.kind == "field":
            if not headers:
                continue
            off = headers[m.at % len(headers)]
            start, length = FIELD_SPANS[m.field]
            if off + start >= n:
                continue
            value = (m.value + bytes(length))[:length] if m.field != "name" else m.value[:length]
            buf[off + start : off + start + len(value)] = value
            if m.fix_checksum:
                _fix_checksum(buf, off)
        elif m.kind == "flip" and n:
            buf[m.at % n] ^= m.value[0] if m.value else 0xFF
        elif m.kind == "truncate":
            del buf[m.at % (n + 1) :]
        elif m.kind == "insert":
            pos = m.at % (n + 1)
            buf[pos:pos] = m.value
        elif m.kind == "delete" and n:
            pos = m.at % n
            del buf[pos : pos + max(1, len(m.value))]
    return bytes(buf)


class ForwardOnly(io.RawIOBase):
    """A stream that cannot seek (an engine export, a decompressor)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(buffer), 777))  # odd sizes: no block alignment
        memoryview(buffer)[: len(chunk)] = chunk
        return len(chunk)
