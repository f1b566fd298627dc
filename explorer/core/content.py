"""Content access: any file of any layer, read in windows, whatever the image's source.

    with open_content("corpus/waste:1") as acc:            # the one loading pipeline
        entry = acc.visible("/opt/big.bin", layer=1)       # as of layer 1 (None: absent)
        data = acc.read(1, "/opt/big.bin", 0, 4096)        # what layer 1 wrote, a window
        with acc.open_entry(entry) as f: ...                # seekable, read-only, windowed
        acc.versions("etc/passwd")                         # every layer's own entry for it

`open_content(target, source, platform)` opens an image through `loading.load` (the layer and
analysis caches included) and keeps its `Source`; a consumer that loaded the image already
builds `ContentAccess(source, meta, layers)` from that source (opened, even closed since:
an engine reconnects) and the `LayerIndex` list, in layer order (with `Loading(factory)`,
wrap the factory to keep the source it makes).

Paths are image paths, with or without a leading `/` (normalised as the index is). An
`Entry` is one layer's own tar entry: `layer`, `row` (in that layer's `LayerIndex`), `path`,
`type` (tarscan's REG, DIR, SYMLINK, HARDLINK, CHAR, BLOCKDEV, FIFO; `kind` names it),
`size`, `mode`, `uid`, `gid`, `mtime`, `link` (a link's target as recorded).

- `entry(layer, path)`: what layer `layer`'s tar holds at `path`, or None.
- `versions(path)`: every layer's own entry for `path`, bottom layer first.
- `visible(path, layer=None)`: the entry the stacked filesystem shows as of `layer` (default:
  the final image); None when absent there — never added, deleted by a whiteout, hidden by an
  opaque directory or by a parent that became a file. `resolve` does the same following
  symlinks (of parents too; absolute ones from the image's root, at most 40).
- `hidden_in(layer, path)`: does layer `layer` delete or hide `path` of the layers below it
  (a whiteout of it or of a parent, an opaque parent, a parent that is no directory there)?
- `tree(path, layer=None)`: the visible entries at and under `path`, sorted by path.
- `read(layer, path, offset=0, size=-1) -> bytes` and `open(layer, path)`: the bytes of the
  version layer `layer` wrote (a hardlink reads its target's); `open_entry(entry)` for an
  `Entry`; `open_layer(layer)`: the layer's whole uncompressed tar, as shipped. Streams are
  `io.RawIOBase`: read-only, seekable, windowed (a 3 GB file is never in memory whole).
  `data_entry(entry)`: the entry whose bytes those are (a hardlink's target; None: missing).
  Sparse files (old GNU, GNU 1.0 in PAX) read with their holes as zeros (`sparse`).
- `prepare(layers, progress, cancel)`: make layers readable ahead (an engine image's layers
  come from one export streamed again into the content store; a gzip blob's checkpoints and
  a zstd blob's frame table are made on first access) — `progress(layer, bytes done)`,
  `cancel` raises `Cancelled`; otherwise done on the first read, without progress.
- `absent(path, layer)`: the one-line error for a path not there, naming the layers that
  hold a version of it; `check_layer(n)` raises one for a layer the image does not have.
- `close()`, or use it as a context manager. Safe to share between threads.

Errors are `ImageError` (one line: absent path, not a regular file, corrupt data).
"""

from __future__ import annotations

import functools
import posixpath
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from explorer.core import tarscan
from explorer.core.contentstore import fill_store, missing_layer, open_stored
from explorer.core.errors import ImageError
from explorer.core.image import ImageMeta
from explorer.core.layerbase import EntryStream
from explorer.core.layerdata import LayerData, PlainData, Work, blob_data, blob_key
from explorer.core.layerindex import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex
from explorer.core.sources import Source
from explorer.core.sparse import SparseStream, sparse_map

ContentProgress = Callable[[int, int], None]  # (layer, bytes read so far)
MAX_HOPS = 40  # symlinks followed in one path, as Linux's limit
_KINDS = {
    tarscan.REG: "file",
    tarscan.DIR: "dir",
    tarscan.SYMLINK: "symlink",
    tarscan.HARDLINK: "hardlink",
    tarscan.CHAR: "char",
    tarscan.BLOCKDEV: "block",
    tarscan.FIFO: "fifo",
}


@dataclass(frozen=True)
class Entry:
    layer: int
    row: int
    path: str
    type: int
    size: int
    mode: int
    uid: int
    gid: int
    mtime: int
    link: str

    @property
    def kind(self) -> str:
        return _KINDS.get(self.type, "other")


def norm(path: str) -> str:
    return tarscan.normalize(path)


class ContentAccess:
    def __init__(self, source: Source, meta: ImageMeta, layers: list[LayerIndex]) -> None:
        self.source = source
        self.meta = meta
        self.layers = layers
        self.cache = source.cache
        self._rows: dict[int, dict[str, int]] = {}
        self._data: dict[int, LayerData] = {}
        self._lock = threading.RLock()

    # -- entries -----------------------------------------------------------------------------
    def _where(self, layer: int) -> str:
        digest = self.meta.layers[layer].digest if layer < len(self.meta.layers) else ""
        return f"{self.meta.name}: layer {layer} ({digest})"

    def check_layer(self, layer: int) -> None:
        if not 0 <= layer < len(self.layers):
            raise ImageError(
                f"{self.meta.name}: no layer {layer} (the image has {len(self.layers)}: "
                f"0 to {len(self.layers) - 1})"
            )

    def _rows_of(self, layer: int) -> dict[str, int]:
        rows = self._rows.get(layer)
        if rows is None:
            with self._lock:
                rows = self._rows.get(layer)
                if rows is None:
                    # the last entry of a path wins, as when a tar is extracted
                    rows = {p: i for i, p in enumerate(self.layers[layer].paths)}
                    self._rows[layer] = rows
        return rows

    def _entry_at(self, layer: int, row: int) -> Entry:
        idx = self.layers[layer]
        return Entry(
            layer,
            row,
            idx.paths[row],
            idx.types[row],
            idx.sizes[row],
            idx.modes[row],
            idx.uids[row],
            idx.gids[row],
            idx.mtimes[row],
            idx.link(row),
        )

    def entry(self, layer: int, path: str) -> Entry | None:
        self.check_layer(layer)
        row = self._rows_of(layer).get(norm(path))
        return None if row is None else self._entry_at(layer, row)

    def versions(self, path: str) -> list[Entry]:
        path = norm(path)
        found = []
        for n in range(len(self.layers)):
            row = self._rows_of(n).get(path)
            if row is not None:
                found.append(self._entry_at(n, row))
        return found

    def hidden_in(self, layer: int, path: str) -> bool:
        """Does layer `layer` delete or hide `path` of the layers below it?"""
        rows = self._rows_of(layer)
        parent, _, base = path.rpartition("/")
        if (f"{parent}/" if parent else "") + WHITEOUT_PREFIX + base in rows:
            return True
        while parent:
            if f"{parent}/{OPAQUE_MARKER}" in rows:
                return True
            row = rows.get(parent)
            if row is not None and self.layers[layer].types[row] != tarscan.DIR:
                return True  # a parent became something else than a directory
            up, _, base = parent.rpartition("/")
            if (f"{up}/" if up else "") + WHITEOUT_PREFIX + base in rows:
                return True
            parent = up
        return OPAQUE_MARKER in rows and bool(path)

    def visible(self, path: str, layer: int | None = None) -> Entry | None:
        top = len(self.layers) - 1 if layer is None else layer
        self.check_layer(top)
        path = norm(path)
        if not path:
            return None
        for n in range(top, -1, -1):
            row = self._rows_of(n).get(path)
            if row is not None:
                return self._entry_at(n, row)
            if self.hidden_in(n, path):
                return None
        return None

    def resolve(self, path: str, layer: int | None = None) -> Entry | None:
        """`visible`, following symlinks in every component of `path` and at its end."""
        parts = [p for p in norm(path).split("/") if p]
        done = ""
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                done = posixpath.dirname(done)
                continue
            if part == ".":
                continue
            here = f"{done}/{part}" if done else part
            found = self.visible(here, layer)
            if found is not None and found.type == tarscan.SYMLINK:
                hops += 1
                if hops > MAX_HOPS:
                    raise ImageError(f"{self.meta.name}: {path}: too many levels of symlinks")
                if found.link.startswith("/"):
                    done = ""
                parts[:0] = [p for p in found.link.split("/") if p]
                continue
            if parts and found is not None and found.type != tarscan.DIR:
                return None  # a file where a directory should be
            if found is None and not parts:
                return None
            done = here  # a directory, recorded or implied by the paths below it
        return self.visible(done, layer) if done else None

    def tree(self, path: str, layer: int | None = None) -> list[Entry]:
        top = len(self.layers) - 1 if layer is None else layer
        self.check_layer(top)
        root = norm(path)
        prefix = f"{root}/" if root else ""
        shown: dict[str, Entry] = {}
        for n in range(top + 1):
            if root and self.hidden_in(n, root) and root not in self._rows_of(n):
                shown.clear()
            idx = self.layers[n]
            gone: set[str] = set()  # deleted, or no longer a directory: what was below goes
            emptied: set[str] = set()
            mine: list[int] = []
            for i, p in enumerate(idx.paths):
                if p != root and not p.startswith(prefix):
                    continue
                parent, _, base = p.rpartition("/")
                if base == OPAQUE_MARKER:
                    emptied.add(parent)
                elif base.startswith(WHITEOUT_PREFIX):
                    gone.add((f"{parent}/" if parent else "") + base[len(WHITEOUT_PREFIX) :])
                else:
                    mine.append(i)
                    if idx.types[i] != tarscan.DIR:
                        gone.add(p)
            if gone or emptied:
                shown = {p: e for p, e in shown.items() if not _under(p, gone, emptied)}
            for i in mine:
                e = self._entry_at(n, i)
                shown[e.path] = e
        return [shown[p] for p in sorted(shown)]

    # -- bytes -------------------------------------------------------------------------------
    def read(self, layer: int, path: str, offset: int = 0, size: int = -1) -> bytes:
        with self.open(layer, path) as f:
            f.seek(offset)
            return f.read(size)

    def open(self, layer: int, path: str) -> Stream:
        found = self.entry(layer, path)
        if found is None:
            raise self.absent(path, layer, exact=True)
        return self.open_entry(found)

    def absent(self, path: str, layer: int | None, exact: bool = False) -> ImageError:
        """The error for a path not there: it names the layers that hold a version of it."""
        holders = [str(e.layer) for e in self.versions(path)]
        shown = "/" + norm(path)
        at = f"layer {layer}" if layer is not None else "the final image"
        what = "holds no" if exact else "has no"
        layers = "layer" if len(holders) == 1 else "layers"
        where = f"; it exists in {layers} {', '.join(holders)}" if holders else "; no layer has it"
        return ImageError(f"{self.meta.name}: {at} {what} {shown}{where}")

    def data_entry(self, entry: Entry) -> Entry | None:
        """The entry holding `entry`'s data: itself, or a hardlink's target (the last entry of
        that name before the link in its layer, else as of the layer below); None for a
        hardlink to nothing."""
        target = entry
        for _ in range(MAX_HOPS):
            if target.type != tarscan.HARDLINK:
                return target
            name = norm(target.link)
            row = self._rows_of(target.layer).get(name)
            if row is not None and row > target.row:  # written again after the link was made
                paths = self.layers[target.layer].paths
                row = next((i for i in range(target.row - 1, -1, -1) if paths[i] == name), None)
            linked = self._entry_at(target.layer, row) if row is not None else None
            if linked is None and target.layer > 0:
                linked = self.visible(name, target.layer - 1)
            if linked is None or linked.path == target.path:
                return None
            target = linked
        return None

    def open_entry(self, entry: Entry) -> Stream:
        target = self.data_entry(entry)
        if target is None:
            raise ImageError(
                f"{self._where(entry.layer)}: hardlink /{entry.path} points to a missing "
                f"file /{norm(entry.link)}"
            )
        if target.type != tarscan.REG:
            raise ImageError(
                f"{self._where(entry.layer)}: /{entry.path} is a {target.kind}, not a file"
            )
        data = self.layer_data(target.layer)
        offset = self.layers[target.layer].offsets[target.row]
        if target.size and offset >= tarscan.BLOCK:
            header = data.read_at(offset - tarscan.BLOCK, tarscan.BLOCK)
            try:
                pieces = sparse_map(header, data, offset, target.size)
            except ValueError as exc:
                raise ImageError(
                    f"{self._where(target.layer)}: /{target.path} is a sparse file that "
                    f"cannot be read: {exc}"
                ) from None
            if pieces is not None:
                return SparseStream(data, pieces, target.size)
        return EntryStream(data, offset, target.size)

    def open_layer(self, layer: int) -> EntryStream:
        self.check_layer(layer)
        data = self.layer_data(layer)
        size = data.size if data.size >= 0 else self.layers[layer].tar_size
        return EntryStream(data, 0, size)

    def layer_data(self, layer: int) -> LayerData:
        data = self._data.get(layer)
        if data is None:
            self.prepare([layer])
            data = self._data[layer]
        return data

    def prepare(
        self,
        layers: Iterable[int],
        progress: ContentProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        with self._lock:
            todo = sorted({n for n in layers if n not in self._data})
            for n in todo:
                self.check_layer(n)
            streamed: list[int] = []
            for n in todo:
                blob = self.source.layer_blob(n)
                if blob is None:
                    streamed.append(n)
                    continue
                path, offset, size, digest = blob
                key = blob_key(digest, self.meta.layers[n].digest, size)
                report = None if progress is None else functools.partial(progress, n)
                work = Work(report, cancel)
                where = self._where(n)
                self._data[n] = blob_data(path, offset, size, where, key, self.cache, work)
            if streamed:
                self._from_store(streamed, progress, cancel)

    def _from_store(
        self,
        layers: list[int],
        progress: ContentProgress | None,
        cancel: threading.Event | None,
    ) -> None:
        if self.cache is None:
            raise ImageError(
                f"{self.meta.name}: reading files of this image needs the layer cache "
                f"(its layers are kept there); it is off (--no-cache or a cap of 0)"
            )
        wanted = {}
        for n in layers:
            diff_id = self.meta.layers[n].digest
            stored = open_stored(self.cache, diff_id)
            if stored is None:
                wanted[diff_id] = self.layers[n].tar_size
            else:
                self._data[n] = PlainData.of_file(stored, self._where(n))
        too_big = {d: n for d, n in wanted.items() if n > self.cache.cap}
        if too_big:
            diff_id, size = next(iter(too_big.items()))
            raise ImageError(
                f"{self.meta.name}: layer {diff_id} ({size:,} bytes) is larger than the layer "
                f"cache's cap ({self.cache.cap:,} bytes), where its files are read from: "
                f"raise it (--cache-max)"
            )
        if wanted:
            first = layers[0]
            stream = self.source.image_stream()
            try:
                report = None if progress is None else (lambda nbytes: progress(first, nbytes))
                fill_store(stream, wanted, self.cache, self.meta.name, report, cancel)
            finally:
                stream.close()
        for n in layers:
            if n in self._data:
                continue
            stored = open_stored(self.cache, self.meta.layers[n].digest)
            if stored is None:
                raise missing_layer(self.meta.name, self.meta.layers[n].digest)
            self._data[n] = PlainData.of_file(stored, self._where(n))

    def close(self) -> None:
        with self._lock:
            for data in self._data.values():
                data.close()
            self._data.clear()
        self.source.close()

    def __enter__(self) -> ContentAccess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _under(path: str, gone: set[str], emptied: set[str]) -> bool:
    """Is `path` deleted (`gone`: it or a parent) or below an opaque directory?"""
    if path in gone:
        return True
    parent = path
    while "/" in parent:
        parent = parent.rpartition("/")[0]
        if parent in gone or parent in emptied:
            return True
    return "" in emptied


Stream = EntryStream | SparseStream  # a file's bytes: `size`, read-only, seekable


def open_content(
    target: str,
    source: str | None = None,
    platform: str | None = None,
    cancel: threading.Event | None = None,
) -> ContentAccess:
    """Open `target` through the loading pipeline (`source`: a kind from sources.KINDS, as
    `--source`; `platform`: os/arch[/variant]) for content access."""
    from explorer.core.loading import load
    from explorer.core.sources import open_source

    made: list[Source] = []

    def factory() -> Source:
        made.append(open_source(target, source, platform))
        return made[-1]

    result = load(factory, lambda _event: None, cancel or threading.Event())
    return ContentAccess(made[0], result.meta, result.layers)
