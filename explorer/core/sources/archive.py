"""Images on disk: docker-archive tars (legacy, Docker 25+, kaniko), OCI archive tars and OCI
layout directories. A plain tar is read in place (a window per member, no extraction); a
compressed outer tar, like an engine's export, is read in one streaming pass.

Layers found in the layer cache (by diff_id) are not read at all. The others are indexed in
worker processes, one layer each, when the image is big enough for that to pay (both cores
busy: one decompresses or hashes while the other parses); small images stay in-process.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import io
import multiprocessing
import os
import posixpath
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import forkserver
from typing import Any, BinaryIO

from explorer.core import tarscan
from explorer.core.cache import LayerCache, decode_index, default_cache, encode_index
from explorer.core.errors import Cancelled, ImageError
from explorer.core.image import ImageMeta
from explorer.core.layerindex import LayerIndex, index_layer
from explorer.core.sources.layout import load_json, resolve_layout
from explorer.core.streams import Window, compression_of, open_layer

LayerProgress = Callable[[int, int, int], None]  # (layer, entries, bytes)
MAX_JSON = 64 << 20

# Worker processes pay for themselves when they take at least this much work off the longest
# queue: a fork server starts in ~0.25 s, a pool from a running one in ~0.1 s, and indexes go
# back to the parent pickled. The work of a layer is estimated (one core of this machine):
# reading and hashing plain tar bytes, decompressing stored bytes, and per tar entry.
PARALLEL_MIN_SECONDS = 0.5
BYTE_COST = {  # seconds per stored byte: read and hash (and inflate, and hash the blob too)
    "none": 1.7e-9,
    "gzip": 15e-9,
    "zstd": 8e-9,
}
PACKED_RATIO = 3  # a compressed blob holds about this many times its size of tar
ENTRY_COST = 9e-6  # seconds per tar entry (header parsing, arrays, small-file hashing)
_SAMPLE_HEADERS = 256
_SAMPLE_BYTES = 1 << 20
_META_TYPES = frozenset(b"xgLK")  # PAX and GNU long-name headers: not entries
ENV_WORKERS = "LAYERSCOPE_WORKERS"  # worker processes; 1 = index in-process
ENV_START = "LAYERSCOPE_MP_START"  # fork, forkserver or spawn: for measurements


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT_CACHE"


DEFAULT_CACHE: Any = _Default()  # "the process-wide cache": see cache.default_cache


def resolve_cache(cache: LayerCache | _Default | None, path: str = "") -> LayerCache | None:
    return default_cache(path) if isinstance(cache, _Default) else cache


@dataclass
class _Member:
    offset: int
    size: int
    type: int
    link: str


class Source:
    """Where an image comes from. `open` is cheap (metadata only); `index_layers` does the
    heavy work and yields each layer's index as soon as it is ready, in any order."""

    name: str = ""

    def open(self) -> ImageMeta:
        raise NotImplementedError

    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds (sockets, files)."""


@dataclass
class _Job:
    """One layer blob to index: `offset` < 0 means the whole file at `path` (OCI dir)."""

    layers: list[int]  # every layer this blob is (a repeated layer is indexed once)
    path: str
    offset: int
    size: int
    where: str
    diff_id: str  # what the config says; the uncompressed bytes must hash to it
    blob_digest: str = ""  # for content-addressed blobs: what the stored bytes must hash to

    @property
    def slot(self) -> int:
        return self.layers[0]


def _run_job(job: _Job, progress: LayerProgress | None, cancel: Any) -> LayerIndex:
    """Index one layer blob (read in place: a window into the archive, or an OCI dir file),
    checking that the stored bytes hash to the blob's name and the uncompressed ones to the
    config's diff_id."""
    raw: Any = Window(job.path, job.offset, job.size) if job.offset >= 0 else open(job.path, "rb")  # noqa: SIM115
    layer = job.slot
    on_progress = None if progress is None else (lambda e, b: progress(layer, e, b))
    stored = _Sha256Reader(raw)
    try:
        stream, kind = open_layer(stored, job.where)  # type: ignore[arg-type]
        plain = stored if kind == "none" else _Sha256Reader(stream)
        try:
            index = index_layer(plain if kind != "none" else stream, job.where, on_progress, cancel)
            _drain(stream if kind == "none" else plain)  # the tail after the end-of-archive
            stored.drain()
        finally:
            stream.close()
    finally:
        raw.close()
    verify_digest(job.blob_digest, stored.sha, job.where, "blob")
    verify_digest(job.diff_id, plain.sha, job.where, "diff_id")
    return index


def _drain(stream: Any) -> None:
    while stream.read(1 << 20):
        pass


def verify_digest(expected: str, sha: Any, where: str, what: str) -> None:
    """Raise if `expected` (sha256:<hex>) is not the digest of what `sha` has seen; digests
    of other algorithms are not checked."""
    algo, _, hexpart = expected.partition(":")
    if algo != "sha256" or not hexpart:
        return
    actual = sha.hexdigest()
    if actual != hexpart:
        if what == "blob":
            raise ImageError(
                f"{where}: blob {expected} does not match its content (sha256:{actual})"
            )
        raise ImageError(
            f"{where}: layer content does not match the config's diff_id {expected} "
            f"(it hashes to sha256:{actual})"
        )


# -- worker processes ------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _worker_init(
    counters: Any, stop: Any, lifeline: Any, inherited_write_end: int, outdir: str
) -> None:
    # Ctrl+C reaches the whole process group: the parent decides, workers never print a
    # traceback. `lifeline` is the read end of a pipe only the parent can write to: when the
    # parent is gone (even killed), it reads EOF and the worker exits instead of lingering
    # (a fork server's children outlive their client otherwise).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the CLI's handler, when forked from it
    if inherited_write_end >= 0:
        os.close(inherited_write_end)
    _worker.update(counters=counters, stop=stop, outdir=outdir)

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                lifeline.recv_bytes()
        os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def _worker_run(job: _Job) -> tuple[str, int, int]:
    """Index `job`; return the file its payload is in, its entries and its tar size. The
    cache's payload is also what travels back (encoded once, cached by the parent as is),
    through a file: a result sent back through the pool's queue is copied on both sides."""
    counters = _worker["counters"]
    slot = 2 * job.slot

    def progress(_layer: int, entries: int, nbytes: int) -> None:
        counters[slot] = entries
        counters[slot + 1] = nbytes

    index = _run_job(job, progress, _worker["stop"])
    entries, tar_size = len(index), index.tar_size
    payload = encode_index(index, job.where)
    del index
    path = os.path.join(_worker["outdir"], f"{job.slot}.index")
    with open(path, "wb") as out:
        out.write(payload)
    return path, entries, tar_size


def worker_count() -> int:
    text = os.environ.get(ENV_WORKERS, "")
    if text.strip().isdigit():
        return max(1, int(text))
    return max(1, min(os.cpu_count() or 1, 8))


def _mp_context() -> Any:
    # "fork" only from a single-threaded process (the command line): it starts workers at
    # once. The TUI indexes from a thread, and forking a threaded process is unsafe: there
    # the fork server starts once (it preloads this module) and forks each worker from itself.
    method = os.environ.get(ENV_START, "")
    methods = multiprocessing.get_all_start_methods()
    if method not in methods:
        if "fork" in methods and threading.active_count() == 1:
            method = "fork"
        else:
            method = "forkserver" if "forkserver" in methods else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload([__name__])
    return ctx


def start_worker_server() -> None:
    """Start the fork server now, while the process still has one thread: the TUI calls this
    before its event loop, so the first layer's worker starts without waiting for a fresh
    interpreter to import this module."""
    method = os.environ.get(ENV_START, "forkserver")
    if method == "forkserver" and method in multiprocessing.get_all_start_methods():
        multiprocessing.set_forkserver_preload([__name__])
        forkserver.ensure_running()


def index_jobs(
    jobs: list[_Job],
    cache: LayerCache | None,
    progress: LayerProgress | None,
    cancel: threading.Event | None,
    workers: int | None = None,
) -> Iterator[tuple[int, LayerIndex]]:
    """Index the blobs of `jobs`, yielding (layer, index) as each completes; in worker
    processes when there is enough to do, else in this one. Fresh indexes, their bytes
    checked against their digests, go to the cache."""
    workers = worker_count() if workers is None else workers
    workers = min(workers, len(jobs))
    if workers >= 2:
        saving, in_order = _plan(jobs, workers)
        if saving >= PARALLEL_MIN_SECONDS:
            yield from _index_parallel(in_order, cache, progress, cancel, workers)
            return
    yield from _index_serial(jobs, cache, progress, cancel)


def _header_size(block: bytes) -> int | None:
    """The data size a 512-byte tar header announces, or None if `block` is not one."""
    if len(block) < 512 or block[257:262] != b"ustar" or not tarscan._checksum_ok(block):
        return None
    try:
        return int(block[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
    except ValueError:
        return None  # base-256: a huge file, rare enough for an estimate


def _walk_headers(read_at: Callable[[int], bytes], offset: int, count: int) -> tuple[int, int]:
    """(entries, bytes spanned) walking up to `count` headers from the one at `offset`."""
    entries = span = 0
    for _ in range(count):
        size = _header_size(read_at(offset))
        if size is None:
            break
        entries += read_at(offset)[156] not in _META_TYPES
        step = 512 + ((size + 511) & ~511)
        span += step
        offset += step
    return entries, span


def _sample(job: _Job) -> tuple[str, float | None]:
    """(compression, tar entries per byte) from samples of a layer blob. A plain tar is read
    in place at 8 points spread over it (the next header found within 32 KB, then 16 headers
    from there, whatever their data: a layer often starts with its directories); a
    compressed one only in its first decompressed megabyte. None when nothing was learnt."""
    with Window(job.path, max(job.offset, 0), job.size) as raw:
        kind = compression_of(raw.read(4))
        entries = span = 0
        try:
            if kind != "none":
                raw.seek(0)
                stream, _ = open_layer(raw, job.where)  # type: ignore[arg-type]
                data = stream.read(_SAMPLE_BYTES)
                entries, span = _walk_headers(lambda o: data[o : o + 512], 0, _SAMPLE_HEADERS)
            else:

                def read_at(offset: int) -> bytes:
                    raw.seek(offset)
                    return raw.read(512)

                for k in range(8):
                    start = offset = (job.size * k // 8) & ~511
                    while offset - start < 32 << 10 and _header_size(read_at(offset)) is None:
                        offset += 512
                    got, spanned = _walk_headers(read_at, offset, 16)
                    entries += got
                    span += offset - start + spanned
        except (ImageError, EOFError):
            pass  # a damaged blob: indexing it will say so
    return kind, (entries / span if entries and span else None)


def _cost(job: _Job) -> float:
    """Estimated seconds of one core to index `job`."""
    try:
        kind, density = _sample(job)
    except OSError:
        kind, density = "none", None
    plain = job.size * (PACKED_RATIO if kind != "none" else 1)
    return job.size * BYTE_COST.get(kind, BYTE_COST["gzip"]) + (density or 0) * plain * ENTRY_COST


def _plan(jobs: list[_Job], workers: int) -> tuple[float, list[_Job]]:
    """(the seconds `workers` would take off the longest queue, the jobs in layer order):
    one big layer and small ones gain little, compressed and many-file layers much. Layer
    order, not heaviest first: the analysis and the TUI consume layers bottom up, so the
    lowest ones are wanted first."""
    in_order = sorted(jobs, key=lambda job: min(job.layers))
    queues = [0.0] * workers
    for job in in_order:
        queues[queues.index(min(queues))] += _cost(job)
    return sum(queues) - max(queues), in_order


def _index_serial(
    jobs: list[_Job],
    cache: LayerCache | None,
    progress: LayerProgress | None,
    cancel: threading.Event | None,
) -> Iterator[tuple[int, LayerIndex]]:
    for job in jobs:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        index = _run_job(job, progress, cancel)
        if cache is not None:
            cache.put(job.diff_id, index, job.where, verified=True)
        for layer in job.layers:
            yield layer, index


def _index_parallel(
    jobs: list[_Job],
    cache: LayerCache | None,
    progress: LayerProgress | None,
    cancel: threading.Event | None,
    workers: int,
) -> Iterator[tuple[int, LayerIndex]]:
    try:
        ctx = _mp_context()
        counters = ctx.RawArray("q", 2 * (max(job.slot for job in jobs) + 1))
        stop = ctx.Event()
        lifeline, alive = ctx.Pipe(duplex=False)
        # A forked worker inherits the write end too: it must close it, or never see EOF.
        inherited = alive.fileno() if ctx.get_start_method() == "fork" else -1
        outdir = tempfile.mkdtemp(prefix="layerscope-index-")
        pool = cf.ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(counters, stop, lifeline, inherited, outdir),
        )
    except (OSError, ValueError):  # no shared memory or semaphores here: in-process then
        yield from _index_serial(jobs, cache, progress, cancel)
        return
    todo = list(jobs)  # in layer order (see _plan)
    running: dict[cf.Future[tuple[str, int, int]], _Job] = {}
    shown: dict[int, tuple[int, int]] = {}
    try:
        while todo or running:
            # Every job at once: the workers finish while the consumer is still busy with
            # the first layers (finished payloads wait in their files), and then exit.
            while todo:
                try:
                    future = pool.submit(_worker_run, todo[0])
                except (OSError, RuntimeError):  # cannot start a process (limits): do the rest
                    todo.extend(running.values())  # here, once the started ones are abandoned
                    running.clear()
                    yield from _index_serial(todo, cache, progress, cancel)
                    return
                running[future] = todo.pop(0)
            done, _ = cf.wait(running, timeout=0.1, return_when=cf.FIRST_COMPLETED)
            if cancel is not None and cancel.is_set():
                raise Cancelled
            if progress is not None:
                for job in running.values():
                    now = (counters[2 * job.slot], counters[2 * job.slot + 1])
                    if now != shown.get(job.slot, (0, 0)):
                        shown[job.slot] = now
                        progress(job.slot, *now)
            results: list[tuple[_Job, tuple[str, int, int]]] = []
            for finished in done:
                job = running.pop(finished)
                try:
                    results.append((job, finished.result()))
                except cf.process.BrokenProcessPool:
                    # A worker died (out of memory under a limit, killed): finish here.
                    todo = [job, *running.values(), *todo]
                    running.clear()
                    yield from _index_serial(todo, cache, progress, cancel)
                    return
            # The futures hold their payloads: drop them before the consumer runs. With
            # nothing left to do, the workers go too (their memory is no use from now on).
            done = finished = None  # type: ignore[assignment]
            if not todo and not running:
                pool.shutdown(wait=True)
            while results:
                job, (path, entries, tar_size) = results.pop(0)
                with open(path, "rb") as saved:
                    payload = saved.read()
                os.unlink(path)
                index = decode_index(payload, job.where)
                if cache is not None:
                    cache.put_payload(job.diff_id, payload, entries, tar_size, verified=True)
                del payload
                for layer in job.layers:
                    yield layer, index
    finally:
        stop.set()  # workers stop at their next cancel check
        pool.shutdown(wait=True, cancel_futures=True)
        alive.close()
        lifeline.close()
        shutil.rmtree(outdir, ignore_errors=True)


class ArchiveSource(Source):
    def __init__(
        self,
        path: str,
        platform: str | None = None,
        kind: str = "",
        cache: LayerCache | _Default | None = DEFAULT_CACHE,
    ) -> None:
        self.path = path
        self.cache = cache
        self.name = path
        self.platform = platform
        self.kind = kind
        self._members: dict[str, _Member] = {}
        self._is_dir = False
        self._streamed: StreamedArchive | None = None
        self._layer_members: list[str] = []
        self.meta: ImageMeta | None = None

    # -- members ---------------------------------------------------------------------------
    def _scan_members(self) -> None:
        with open(self.path, "rb") as f:
            reader = tarscan.BlockReader(f, self.path)
            for h in tarscan.iter_headers(reader):
                name = tarscan.normalize(h.name)
                if name:
                    self._members[name] = _Member(h.offset, h.stored, h.type, h.linkname)

    def _resolve(self, name: str) -> str:
        """Follow symlinked members (docker save links a repeated layer.tar to the first)."""
        seen = set()
        while True:
            member = self._members.get(name)
            if member is None or member.type not in (tarscan.SYMLINK, tarscan.HARDLINK):
                return name
            if name in seen:
                raise ImageError(f"{self.path}: symlink loop at {name}")
            seen.add(name)
            if member.type == tarscan.SYMLINK:
                name = tarscan.normalize(posixpath.join(posixpath.dirname(name), member.link))
            else:
                name = tarscan.normalize(member.link)

    def _has(self, name: str) -> bool:
        if self._is_dir:
            return os.path.isfile(self._dir_path(name))
        return name in self._members

    def _dir_path(self, name: str) -> str:
        root = os.path.realpath(self.path)
        full = os.path.realpath(os.path.join(root, name))
        if full != root and not full.startswith(root + os.sep):
            raise ImageError(f"{self.path}: {name} points outside the layout directory")
        return full

    def _open_member(self, name: str) -> BinaryIO:
        if self._is_dir:
            full = self._dir_path(name)
            if not os.path.isfile(full):
                raise ImageError(f"{self.path}: missing blob {name}")
            return open(full, "rb")
        resolved = self._resolve(name)
        member = self._members.get(resolved)
        if member is None or member.type != tarscan.REG:
            raise ImageError(f"{self.path}: missing blob {name}")
        return Window(self.path, member.offset, member.size)  # type: ignore[return-value]

    def _read_json(self, name: str) -> Any:
        with self._open_member(name) as f:
            data = f.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise ImageError(f"{self.path}: {name} is too large to be image metadata")
        check_json_blob(name, data, self.path)
        return load_json(data, f"{self.path}: {name}")

    # -- Source ----------------------------------------------------------------------------
    def open(self) -> ImageMeta:
        if self.meta is not None:
            return self.meta
        if os.path.isdir(self.path):
            self._is_dir = True
            if not os.path.isfile(os.path.join(self.path, "index.json")) and not os.path.isfile(
                os.path.join(self.path, "manifest.json")
            ):
                raise ImageError(f"{self.path}: not an OCI layout (no index.json)")
        elif not os.path.exists(self.path):
            raise ImageError(f"{self.path}: no such file or directory")
        else:
            with open(self.path, "rb") as f:
                head = f.read(512)
            if compression_of(head) != "none":
                self.meta = self._open_streamed()
                return self.meta
            self._scan_members()
        self.meta, self._layer_members = resolve_layout(
            self._read_json, self._has, self.path, self.path, self.platform
        )
        if self._is_dir:
            self.meta.source = "oci"
        elif self.kind:
            self.meta.source = self.kind
        elif self.meta.source == "oci":
            self.meta.source = "oci-archive"
        for member in self._layer_members:
            if not self._has(self._resolve(member) if not self._is_dir else member):
                raise ImageError(f"{self.path}: missing blob {member}")
        return self.meta

    def _open_streamed(self) -> ImageMeta:
        """A compressed archive: one pass reads everything (the manifest comes last). Layer
        members named by their digest, or by a name an earlier pass or an engine's export
        gave the same layer, are skipped when cached; if one of them turns out not to be the
        layer the config says, the pass is made again without skipping."""
        cache = resolve_cache(self.cache, self.path)
        aliases = cache.aliases("docker", "archive") if cache is not None else {}
        streamed = StreamedArchive(self.path, self.platform, cache=cache, aliases=aliases)
        try:
            meta = streamed.run_metadata()
            misled = any(
                streamed.diff_ids[m] not in {lm.digest for lm in meta.layers}
                for m in streamed.skipped
            )
        except ImageError:
            if not streamed.skipped:
                raise
            misled = True  # a skipped layer is not what the config says: read them all
        if misled:
            streamed = StreamedArchive(self.path, self.platform, cache=cache)
            meta = streamed.run_metadata()
        claimed = {lm.digest for lm in meta.layers}
        if cache is not None:
            members = {
                m: d
                for m, d in streamed.diff_ids.items()
                if d in claimed and m not in streamed.skipped and not _BLOB.match(m)
            }
            if members:  # what names which layer, for the next pass over any such archive
                key = hashlib.sha256(repr(sorted(members.items())).encode()).hexdigest()
                cache.put_image("archive", f"sha256:{key}", {"members": members})
        self._streamed = streamed
        return meta

    def index_layers(
        self, progress: LayerProgress | None = None, cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, LayerIndex]]:
        meta = self.open()
        if self._streamed is not None:
            yield from self._streamed.layers()
            return
        cache = resolve_cache(self.cache, self.path)
        hits: dict[str, LayerIndex] = {}
        jobs: dict[str, _Job] = {}
        for i, member in enumerate(self._layer_members):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            key = member if self._is_dir else self._resolve(member)
            if key in hits:
                yield i, hits[key]
                continue
            if key in jobs:
                jobs[key].layers.append(i)
                continue
            diff_id = meta.layers[i].digest
            where = f"{self.path}: layer {i} ({diff_id or member})"
            if cache is not None:
                index = cache.get(diff_id, where)
                if index is not None:  # not read at all
                    hits[key] = index
                    yield i, index
                    continue
            jobs[key] = self._job(i, member, key, where, diff_id)
        yield from index_jobs(list(jobs.values()), cache, progress, cancel)

    def _job(self, layer: int, member: str, key: str, where: str, diff_id: str) -> _Job:
        if self._is_dir:
            full = self._dir_path(member)
            if not os.path.isfile(full):
                raise ImageError(f"{self.path}: missing blob {member}")
            return _Job(
                [layer], full, -1, os.path.getsize(full), where, diff_id, _blob_digest(member)
            )
        found = self._members.get(key)
        if found is None or found.type != tarscan.REG:
            raise ImageError(f"{self.path}: missing blob {member}")
        blob = _blob_digest(member) or _blob_digest(key)
        return _Job([layer], self.path, found.offset, found.size, where, diff_id, blob)


class _Prepend(io.RawIOBase):
    """A stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._rest.read(n)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)


class _MemberReader(io.RawIOBase):
    def __init__(self, reader: tarscan.BlockReader, size: int) -> None:
        self._reader = reader
        self.remaining = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self.remaining:
            n = self.remaining
        if n <= 0:
            return b""
        data = self._reader.read_upto(n)
        if not data:
            raise ImageError(f"{self._reader.where}: archive is truncated")
        self.remaining -= len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)


class _Sha256Reader(io.RawIOBase):
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.sha.update(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _blob_digest(name: str) -> str:
    """`sha256:<hex>` for a content-addressed member `blobs/sha256/<hex>`, else ""."""
    m = _BLOB.match(name)
    return f"{m.group(1)}:{m.group(2)}" if m else ""


def check_json_blob(name: str, data: bytes, where: str) -> None:
    """A content-addressed JSON blob (manifest, index, config) must hash to its name."""
    sha = hashlib.sha256(data)
    verify_digest(_blob_digest(name), sha, f"{where}: {name}", "blob")


def _skip_member(
    member: _MemberReader,
    entries: int,
    progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
) -> None:
    """Read past a member of a stream that cannot seek (an engine's export sends a cached
    layer all the same), still reporting progress and answering cancel."""
    done = 0
    while chunk := member.read(8 << 20):
        done += len(chunk)
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if progress is not None:
            progress(entries, done)


def _looks_like_tar(head: bytes) -> bool:
    if len(head) < 512:
        return False
    block = head[:512]
    return block[257:262] == b"ustar" or tarscan._checksum_ok(block)


_BLOB = re.compile(r"^blobs/(sha256|sha384|sha512)/([0-9a-f]{64,128})$")


class StreamedArchive:
    """One forward pass over an image tar (an engine's export, or a compressed archive):
    keeps the small JSON members, indexes every member that is a layer as it passes, and
    reports each layer's diff_id (sha256 of its uncompressed tar) so callers can place it
    before the manifest, which comes last, has been seen.

    With a cache, a layer member whose identity is known before it is read — a blob named by
    its digest, an export member name learnt from an earlier export (`aliases`), or, in the
    legacy format, the bottom of a v1 parent chain whose diff_ids are `expected` — is skipped
    over without parsing or hashing when the cache has it. Fresh indexes are cached under the
    diff_id computed from their bytes."""

    def __init__(
        self,
        path: str | None,
        platform: str | None,
        stream: BinaryIO | None = None,
        cache: LayerCache | None = None,
        expected: list[str] | None = None,
        aliases: dict[str, str] | None = None,
        preloaded: dict[str, LayerIndex] | None = None,
        verified_only: bool = True,
    ):
        self.path = path
        self.where = path or "export stream"
        self.platform = platform
        self._stream = stream
        self.json: dict[str, Any] = {}
        self.indexes: dict[str, LayerIndex] = {}
        self.diff_ids: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.meta: ImageMeta | None = None
        self._layer_members: list[str] = []
        self.cache = cache
        self.expected = expected
        self.aliases = aliases or {}
        self.preloaded = preloaded if preloaded is not None else {}
        self.verified_only = verified_only  # use only cache entries whose bytes were hashed
        self.skipped: set[str] = set()  # layer members served from the cache, not read

    def _depth(self, name: str) -> int | None:
        """How many layers lie below the legacy member `<v1id>/layer.tar`, from the `parent`
        links of the v1 `json` members seen so far (None while a link is missing)."""
        if not name.endswith("/layer.tar"):
            return None
        v1id, depth = name[: -len("/layer.tar")], 0
        while depth <= 4096:
            info = self.json.get(f"{v1id}/json")
            if not isinstance(info, dict):
                return None
            parent = info.get("parent")
            if not parent:
                return depth
            if not isinstance(parent, str):
                return None
            v1id, depth = parent, depth + 1
        return None

    def _identify(self, name: str) -> str | None:
        """The diff_id of layer member `name` before reading it, when that can be known."""
        candidates = []
        if name in self.aliases:
            candidates.append(self.aliases[name])
        m = _BLOB.match(name)
        if m:
            candidates.append(f"{m.group(1)}:{m.group(2)}")
        if self.expected is not None:
            depth = self._depth(name)
            if depth is not None and depth < len(self.expected):
                candidates.append(self.expected[depth])
        for diff_id in candidates:
            if self.expected is None or diff_id in self.expected:
                return diff_id
        return None

    def _cached(self, name: str, where: str) -> tuple[str, LayerIndex] | None:
        if self.cache is None and not self.preloaded:
            return None
        diff_id = self._identify(name)
        if diff_id is None:
            return None
        index = self.preloaded.get(diff_id)
        if index is None and self.cache is not None:
            index = self.cache.get(diff_id, where, verified=self.verified_only)
        return None if index is None else (diff_id, index)

    def walk(
        self,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[str, str, LayerIndex]]:
        """Yield (member, diff_id, index) for each layer member as it passes."""
        if self._stream is not None:
            outer, _ = open_layer(self._stream, self.where)
        else:
            outer, _ = open_layer(open(self.path or "", "rb"), self.where)  # noqa: SIM115
        try:
            reader = tarscan.BlockReader(outer, self.where)
            for h in tarscan.iter_headers(reader):
                name = tarscan.normalize(h.name)
                if h.type == tarscan.SYMLINK:
                    self.links[name] = tarscan.normalize(
                        posixpath.join(posixpath.dirname(name), h.linkname)
                    )
                    continue
                if h.type != tarscan.REG or not name:
                    continue
                member = _MemberReader(reader, h.stored)
                head = member.read(min(h.stored, 512))
                where = f"{self.where}: {name}"
                if head[:1] in (b"{", b"[") and h.stored <= MAX_JSON:
                    data = head + member.read()
                    check_json_blob(name, data, self.where)
                    self.json[name] = load_json(data, where)
                elif compression_of(head) != "none" or _looks_like_tar(head):
                    known = self._cached(name, where)
                    if known is not None:  # the rest is read past, unparsed, unhashed
                        diff_id, index = known
                        self.skipped.add(name)
                        _skip_member(member, len(index), progress, cancel)
                    else:
                        stored = _Sha256Reader(_Prepend(head, member))  # type: ignore[arg-type]
                        stream, kind = open_layer(stored, where)  # type: ignore[arg-type]
                        hashing = stored if kind == "none" else _Sha256Reader(stream)
                        index = index_layer(
                            stream if kind == "none" else hashing, where, progress, cancel
                        )
                        _drain(stream if kind == "none" else hashing)
                        stored.drain()
                        verify_digest(_blob_digest(name), stored.sha, where, "blob")
                        diff_id = "sha256:" + hashing.sha.hexdigest()
                        if self.cache is not None:  # hashed: keyed by what it is
                            self.cache.put(diff_id, index, where, verified=True)
                    self.indexes[name] = index
                    self.diff_ids[name] = diff_id
                    yield name, diff_id, index
                # anything else is skipped by iter_headers
        finally:
            outer.close()

    def _read_json(self, name: str) -> Any:
        name = self.links.get(name, name)
        if name not in self.json:
            raise ImageError(f"{self.where}: missing {name}")
        return self.json[name]

    def _has(self, name: str) -> bool:
        return self.links.get(name, name) in self.json or name in self.json

    def resolve(self, name: str, source: str) -> ImageMeta:
        self.meta, self._layer_members = resolve_layout(
            self._read_json, self._has, name, self.where, self.platform
        )
        if source:
            self.meta.source = source
        for i, member in enumerate(self._layer_members):
            target = self.links.get(member, member)
            if target not in self.indexes:
                raise ImageError(f"{self.where}: missing blob {member}")
            expected = self.meta.layers[i].digest
            if self.diff_ids.get(target) != expected and expected.startswith("sha256:"):
                raise ImageError(
                    f"{self.where}: layer {i} ({member}) does not match the config's diff_id "
                    f"{expected} (it hashes to {self.diff_ids.get(target)})"
                )
        return self.meta

    def run_metadata(self) -> ImageMeta:
        for _ in self.walk():
            pass
        return self.resolve(self.where, "docker-archive")

    def layers(self) -> Iterator[tuple[int, LayerIndex]]:
        for i, member in enumerate(self._layer_members):
            yield i, self.indexes[self.links.get(member, member)]
