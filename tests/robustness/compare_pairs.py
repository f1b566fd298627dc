"""Random image pairs for the compare tests, and an independent answer for each: both images
extracted on disk with GNU tar (whiteouts, opaque markers and directories replaced by
files applied here first, as root, `tar --numeric-owner -p`), then the two directories
compared.

A pair is a list of layers (entry lists) for A and for B, made by a generator that keeps the
filesystem it is building in mind so every layer is one a real build could produce: entries
below directories that exist, a path written once per layer, parents listed before their
children (as docker writes them). Scenarios:

* `plus`: B is A plus layers;
* `diverge`: A and B share a base, then each adds its own layers;
* `same_size`: B is A plus a layer that changes files' content, keeping their sizes;
* `mode_owner`: B is A plus a layer that only changes modes and owners;
* `retype`: B is A plus a layer where files become directories and directories files.

Hardlinks are left out: on disk a hardlink is its target's file, in a layer a link entry.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.robustness import builders as b

OPQ = ".wh..wh..opq"
# Non-ASCII names beside ASCII ones: paths are put in byte order, whatever they hold.
NAMES = ["a", "b", "c", "lib", "x.txt", "y.bin", ".cfg", "Z", "café", "ß"]
FILE_MODES = [0o644, 0o600, 0o755, 0o4755, 0o2711, 0o640]
# No setgid directory: GNU tar leaves the setgid bit a new directory inherits from one, where
# the image says otherwise (engines set the recorded mode).
DIR_MODES = [0o755, 0o700, 0o750, 0o1777]
OWNERS = [(0, 0), (1000, 1000), (0, 100), (65534, 65534)]
SIZES = [0, 1, 7, 100, 513, 4096]


@dataclass
class Item:
    kind: str  # dir, file, symlink
    mode: int
    uid: int
    gid: int
    data: bytes = b""
    target: str = ""


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


@dataclass
class Builder:
    """The filesystem a build has made so far, and the next layer being written."""

    rng: random.Random
    fs: dict[str, Item] = field(default_factory=dict)
    entries: list[b.Entry] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)  # paths this layer touched (or holds below)
    listed: set[str] = field(default_factory=set)  # directories this layer listed

    def copy(self) -> Builder:
        return Builder(self.rng, {k: Item(**vars(v)) for k, v in self.fs.items()})

    # -- layer writing ----------------------------------------------------------------
    def _free(self, path: str) -> bool:
        """No entry of this layer is at, above or below `path`."""
        if path in self.busy or path in self.listed:
            return False
        head = path
        while head:
            head = _parent(head)
            if head in self.busy:
                return False
        return not any(p.startswith(path + "/") for p in self.busy | self.listed)

    def _list_parents(self, path: str) -> None:
        """Docker lists a changed path's parent directories first (sometimes left out here:
        a directory a layer only implies keeps what it was)."""
        if self.rng.random() < 0.15:
            return
        parents = []
        head = _parent(path)
        while head:
            parents.append(head)
            head = _parent(head)
        for d in reversed(parents):
            if d not in self.listed:
                item = self.fs[d]
                self.entries.append(b.directory(d, mode=item.mode, uid=item.uid, gid=item.gid))
                self.listed.add(d)

    def _emit(self, path: str, item: Item) -> None:
        self._list_parents(path)
        own = dict(mode=item.mode, uid=item.uid, gid=item.gid)
        if item.kind == "dir":
            self.entries.append(b.directory(path, **own))
            self.listed.add(path)
        elif item.kind == "file":
            self.entries.append(b.file(path, item.data, **own))
        else:
            self.entries.append(
                b.symlink(path, item.target, mode=0o777, uid=item.uid, gid=item.gid)
            )
        self.busy.add(path)
        self.fs[path] = item

    def _drop(self, path: str) -> None:
        for p in [p for p in self.fs if p == path or p.startswith(path + "/")]:
            del self.fs[p]

    def layer(self, ops: list[str], count: int) -> list[b.Entry]:
        self.entries, self.busy, self.listed = [], set(), set()
        tries = 0
        while len(self.busy) < count and tries < count * 20:
            tries += 1
            getattr(self, f"op_{self.rng.choice(ops)}")()
        return self.entries

    # -- operations ----------------------------------------------------------------------
    def _pick(self, kinds: tuple[str, ...]) -> str | None:
        paths = sorted(p for p, item in self.fs.items() if item.kind in kinds and self._free(p))
        return self.rng.choice(paths) if paths else None

    def _new_path(self) -> str | None:
        dirs = ["", *sorted(p for p, i in self.fs.items() if i.kind == "dir")]
        parent = self.rng.choice(dirs)
        path = f"{parent}/{self.rng.choice(NAMES)}" if parent else self.rng.choice(NAMES)
        if path in self.fs or not self._free(path) or (parent and parent in self.busy):
            return None
        return path

    def _data(self, size: int | None = None) -> bytes:
        return self.rng.randbytes(self.rng.choice(SIZES) if size is None else size)

    def op_file(self) -> None:
        path = self._new_path()
        if path is not None:
            uid, gid = self.rng.choice(OWNERS)
            self._emit(path, Item("file", self.rng.choice(FILE_MODES), uid, gid, self._data()))

    def op_dir(self) -> None:
        path = self._new_path()
        if path is not None:
            uid, gid = self.rng.choice(OWNERS)
            self._emit(path, Item("dir", self.rng.choice(DIR_MODES), uid, gid))

    def op_symlink(self) -> None:
        path = self._pick(("symlink",)) if self.rng.random() < 0.4 else self._new_path()
        if path is not None:
            target = self.rng.choice(["a", "../b", "/etc/passwd", "lib/x.txt", "nowhere"])
            self._emit(path, Item("symlink", 0o777, 0, 0, target=target))

    def op_content(self) -> None:
        """New content, sometimes of the same size."""
        path = self._pick(("file",))
        if path is not None:
            old = self.fs[path]
            data = self._data(len(old.data) if self.rng.random() < 0.5 else None)
            self._emit(path, Item("file", old.mode, old.uid, old.gid, data))

    def op_same_size(self) -> None:
        path = self._pick(("file",))
        if path is not None and self.fs[path].data:
            old = self.fs[path]
            data = bytearray(old.data)
            data[self.rng.randrange(len(data))] ^= 1 + self.rng.randrange(255)
            self._emit(path, Item("file", old.mode, old.uid, old.gid, bytes(data)))

    def op_chmod(self) -> None:
        path = self._pick(("file", "dir"))
        if path is not None:
            old = self.fs[path]
            modes = DIR_MODES if old.kind == "dir" else FILE_MODES
            self._emit(path, Item(old.kind, self.rng.choice(modes), old.uid, old.gid, old.data))

    def op_chown(self) -> None:
        path = self._pick(("file", "dir"))
        if path is not None:
            old = self.fs[path]
            uid, gid = self.rng.choice(OWNERS)
            self._emit(path, Item(old.kind, old.mode, uid, gid, old.data))

    def op_delete(self) -> None:
        path = self._pick(("file", "dir", "symlink"))
        if path is not None and not any(p.startswith(path + "/") for p in self.listed):
            self._list_parents(path)
            self.entries.append(b.whiteout(path))
            self.busy.add(path)
            self._drop(path)

    def op_opaque(self) -> None:
        path = self._pick(("dir",))
        if path is not None:
            item = self.fs[path]
            self._drop(path)
            self._emit(path, item)
            self.entries.append(b.opaque(path))

    def op_to_dir(self) -> None:
        path = self._pick(("file", "symlink"))
        if path is not None:
            self._drop(path)
            uid, gid = self.rng.choice(OWNERS)
            self._emit(path, Item("dir", self.rng.choice(DIR_MODES), uid, gid))
            inner = f"{path}/{self.rng.choice(NAMES)}"
            self._emit(inner, Item("file", 0o644, 0, 0, self._data()))

    def op_to_file(self) -> None:
        path = self._pick(("dir",))
        if path is not None:
            self._drop(path)
            uid, gid = self.rng.choice(OWNERS)
            self._emit(path, Item("file", self.rng.choice(FILE_MODES), uid, gid, self._data()))


GROW = ["file", "file", "dir", "dir", "symlink"]
ANY = [*GROW, "content", "same_size", "chmod", "chown", "delete", "opaque", "to_dir", "to_file"]
SCENARIOS = {
    # scenario: (operations of B's own layers, B's own layers, A's own layers)
    "plus": (ANY, 3, 0),
    "diverge": (ANY, 2, 2),
    "same_size": (["same_size"], 1, 0),
    "mode_owner": (["chmod", "chown"], 1, 0),
    "retype": (["to_dir", "to_file"], 1, 0),
}


def pair(scenario: str, seed: int) -> tuple[list[list[b.Entry]], list[list[b.Entry]]]:
    """(A's layers, B's layers) of one scenario."""
    ops, b_own, a_own = SCENARIOS[scenario]
    rng = random.Random(f"{scenario}-{seed}")
    base = Builder(rng)
    shared = [base.layer(GROW, 12), base.layer(ANY, 8)]
    a_build = base.copy()
    a_layers = shared + [a_build.layer(ANY, 5) for _ in range(a_own)]
    b_layers = shared + [base.layer(ops, 6) for _ in range(b_own)]
    return a_layers, b_layers


def archive(path: Path, layers: list[list[b.Entry]], fmt: str = "docker", **config) -> Path:
    image = b.Image(
        layers=[b.Layer(entries=list(e), command=f"step {i}") for i, e in enumerate(layers)],
        config_extra=config,
    )
    arc = b.docker_archive(image) if fmt == "docker" else b.oci_archive(image)
    return arc.write_tar(path)


# --------------------------------------------------------------------------- on disk


@dataclass(frozen=True)
class OnDisk:
    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    link: str
    digest: str
    mtime: int


def extract(root: Path, layers: list[list[b.Entry]], work: Path) -> list[dict[str, OnDisk]]:
    """Extract the layers one after the other into `root` with GNU tar; the filesystem after
    each layer."""
    root.mkdir(parents=True)
    os.chmod(root, 0o755)
    states = []
    for n, entries in enumerate(layers):
        tar = work / f"layer-{n}.tar"
        tar.write_bytes(b.tar_bytes(entries))
        with tarfile.open(tar) as t:
            members = [(m.name.rstrip("/"), m.isdir()) for m in t.getmembers()]
        for name, is_dir in members:  # a directory becoming something else loses its tree
            target = root / name
            if not is_dir and target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
        for name, _ in members:  # whiteouts and opaque markers act on the layers below
            head, _, base = name.rpartition("/")
            if base == OPQ:
                d = root / head
                if d.is_dir() and not d.is_symlink():
                    for child in list(d.iterdir()):
                        _remove(child)
            elif base.startswith(".wh."):
                target = root / head / base[4:]
                if os.path.lexists(target):
                    _remove(target)
        subprocess.run(
            ["tar", "-x", "--numeric-owner", "-p", "--exclude=.wh.*",
             "-f", str(tar), "-C", str(root)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        states.append(walk(root))
    return states


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def walk(root: Path) -> dict[str, OnDisk]:
    out: dict[str, OnDisk] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                item = OnDisk("symlink", 0, 0, st.st_uid, st.st_gid, os.readlink(full), "", 0)
            elif stat.S_ISDIR(st.st_mode):
                item = OnDisk("dir", 0, mode, st.st_uid, st.st_gid, "", "", 0)
            else:
                with open(full, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                mtime = int(st.st_mtime)
                item = OnDisk("file", st.st_size, mode, st.st_uid, st.st_gid, "", digest, mtime)
            out[rel] = item
    return out


def disk_diff(a: dict[str, OnDisk], b_: dict[str, OnDisk]) -> dict[str, set[str]]:
    """Paths added, removed and modified (with what differs: `path:aspect`) from A to B:
    type, content, mode (not a symlink's), owner, link target; directories by their own
    type, mode and owner only."""
    modified: set[str] = set()
    for path in a.keys() & b_.keys():
        x, y = a[path], b_[path]
        if x.kind != y.kind:
            modified.add(f"{path}:type")
            continue
        if x.kind == "file" and x.digest != y.digest:
            modified.add(f"{path}:content")
        if x.kind != "symlink" and x.mode != y.mode:
            modified.add(f"{path}:mode")
        if (x.uid, x.gid) != (y.uid, y.gid):
            modified.add(f"{path}:owner")
        if x.link != y.link:
            modified.add(f"{path}:link")
    return {"added": b_.keys() - a.keys(), "removed": a.keys() - b_.keys(), "modified": modified}
