"""Indexing layer blobs that lie in files — or only hashing them, to check them against a
cached index — in this process, or in worker processes (one layer each, bottom layer first)
when a cost model says that saves enough time."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import forkserver
from typing import Any

from explorer.core import tarscan
from explorer.core.cache import LayerCache, decode_index, encode_index
from explorer.core.errors import Cancelled, ImageError
from explorer.core.layerindex import LayerIndex, index_layer
from explorer.core.sources.base import LayerProgress
from explorer.core.sources.blobs import Sha256Reader, drain, verify_digest
from explorer.core.streams import Window, compression_of, open_layer

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


INDEX = "index"  # index the layer, checking its bytes against its digests
HASH = "hash"  # only check them: a cached index stands for the layer once they match
HASH_BLOB = "blob"  # only hash the stored bytes against the blob's name (its diff_id is known)


@dataclass
class Job:
    """One layer blob to index: `offset` < 0 means the whole file at `path` (OCI dir)."""

    layers: list[int]  # every layer this blob is (a repeated layer is indexed once)
    path: str
    offset: int
    size: int
    where: str
    diff_id: str  # what the config says; the uncompressed bytes must hash to it
    blob_digest: str = ""  # for content-addressed blobs: what the stored bytes must hash to
    mode: str = INDEX

    @property
    def slot(self) -> int:
        return self.layers[0]


def _run_job(job: Job, progress: LayerProgress | None, cancel: Any) -> LayerIndex | None:
    """Index (or check) one layer blob read in place: a window into the archive, or an OCI
    dir file."""
    raw: Any = Window(job.path, job.offset, job.size) if job.offset >= 0 else open(job.path, "rb")  # noqa: SIM115
    layer = job.slot
    on_progress = None if progress is None else (lambda e, b: progress(layer, e, b))
    try:
        return index_blob(
            raw, job.where, job.blob_digest, job.diff_id, job.mode, on_progress, cancel
        )
    finally:
        raw.close()


def index_blob(
    raw: Any,
    where: str,
    blob_digest: str,
    diff_id: str,
    mode: str = INDEX,
    progress: Callable[[int, int], None] | None = None,
    cancel: Any = None,
) -> LayerIndex | None:
    """Index the layer blob read from `raw`, checking that its stored bytes hash to
    `blob_digest` and its uncompressed ones to `diff_id`; only check them in modes HASH and
    HASH_BLOB (None then)."""
    stored = Sha256Reader(raw)
    index = None
    if mode == HASH_BLOB:
        _hash_all(stored, progress, cancel)
        verify_digest(blob_digest, stored.sha, where, "blob")
        return None
    stream, kind = open_layer(stored, where)
    plain = stored if kind == "none" else Sha256Reader(stream)
    try:
        if mode == INDEX:
            source = plain if kind != "none" else stream
            index = index_layer(source, where, progress, cancel)
            drain(stream if kind == "none" else plain)  # the tail after the end-of-archive
        else:
            _hash_all(stream if kind == "none" else plain, progress, cancel)
        stored.drain()
    finally:
        stream.close()
    verify_digest(blob_digest, stored.sha, where, "blob")
    verify_digest(diff_id, plain.sha, where, "diff_id")
    return index


def _hash_all(stream: Any, progress: Any, cancel: Any) -> None:
    """Read `stream` to its end (a hashing reader hashes it), reporting the bytes read."""
    done = 0
    while chunk := stream.read(4 << 20):
        done += len(chunk)
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if progress is not None:
            progress(0, done)


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


def _worker_run(job: Job) -> str:
    """Index `job`; return the file its payload is in ("" for a job that only checks). The
    cache's payload is also what travels back (encoded once, cached by the parent as is),
    through a file: a result sent back through the pool's queue is copied on both sides."""
    counters = _worker["counters"]
    slot = 2 * job.slot

    def progress(_layer: int, entries: int, nbytes: int) -> None:
        counters[slot] = entries
        counters[slot + 1] = nbytes

    index = _run_job(job, progress, _worker["stop"])
    if index is None:
        return ""  # checked only: the parent holds the cached index
    payload = encode_index(index, job.where)
    del index
    path = os.path.join(_worker["outdir"], f"{job.slot}.index")
    with open(path, "wb") as out:
        out.write(payload)
    return path


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


Verified = Callable[[Job], None]


@dataclass
class Run:
    """What the jobs of one image share: the cache fresh indexes go to, the cached indexes
    of the jobs that only check bytes (by slot), and who is told of bytes found to match."""

    cache: LayerCache | None
    held: dict[int, LayerIndex]
    verified: Verified | None = None

    def done(self, job: Job, index: LayerIndex | None, payload: bytes | None = None) -> LayerIndex:
        """The index of a finished job (whose bytes matched their digests)."""
        if index is None:
            index = self.held.pop(job.slot)
        elif self.cache is not None and payload is not None:
            self.cache.put_payload(job.diff_id, payload, len(index), index.tar_size)
        elif self.cache is not None:
            self.cache.put(job.diff_id, index, job.where, verified=True)
        if self.verified is not None:
            self.verified(job)
        return index


def index_jobs(
    jobs: list[Job],
    run: Run,
    progress: LayerProgress | None,
    cancel: threading.Event | None,
    workers: int | None = None,
) -> Iterator[tuple[int, LayerIndex]]:
    """Index (or check) the blobs of `jobs`, yielding (layer, index) as each completes; in
    worker processes when there is enough to do, else in this one. Fresh indexes, their
    bytes checked against their digests, go to the cache."""
    workers = worker_count() if workers is None else workers
    workers = min(workers, len(jobs))
    if workers >= 2:
        saving, in_order = _plan(jobs, workers)
        if saving >= PARALLEL_MIN_SECONDS:
            yield from _index_parallel(in_order, run, progress, cancel, workers)
            return
    yield from index_serial(jobs, run, progress, cancel)


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


def _sample(job: Job) -> tuple[str, float | None]:
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
                stream, _ = open_layer(raw, job.where)
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


def _cost(job: Job) -> float:
    """Estimated seconds of one core to index (or check) `job`."""
    if job.mode == HASH_BLOB:
        return job.size * BYTE_COST["none"]
    try:
        kind, density = _sample(job)
    except OSError:
        kind, density = "none", None
    if job.mode == HASH:
        density = None  # no entries to parse
    plain = job.size * (PACKED_RATIO if kind != "none" else 1)
    return job.size * BYTE_COST.get(kind, BYTE_COST["gzip"]) + (density or 0) * plain * ENTRY_COST


def _plan(jobs: list[Job], workers: int) -> tuple[float, list[Job]]:
    """(the seconds `workers` would take off the longest queue, the jobs in layer order):
    one big layer and small ones gain little, compressed and many-file layers much. Layer
    order, not heaviest first: the analysis and the TUI consume layers bottom up, so the
    lowest ones are wanted first."""
    in_order = sorted(jobs, key=lambda job: min(job.layers))
    queues = [0.0] * workers
    for job in in_order:
        queues[queues.index(min(queues))] += _cost(job)
    return sum(queues) - max(queues), in_order


SPILL_PREFIX = "layerscope-index-"
STALE_SPILL = 600.0  # seconds: a spill directory untouched this long, of a process gone


def spill_dir() -> str:
    """A private temp directory for the workers' payloads, named after this process; stale
    ones of ours (a process killed before it could remove its own) are removed first."""
    clean_stale_spills(tempfile.gettempdir())
    return tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-")


def clean_stale_spills(tmp: str) -> None:
    """Remove spill directories of ours whose process is gone and that nothing touched for
    STALE_SPILL seconds (a live process of another pid namespace keeps writing to its own),
    never following a link."""
    now = time.time()
    try:
        names = [n for n in os.listdir(tmp) if n.startswith(SPILL_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(SPILL_PREFIX) :].partition("-")[0]
        path = os.path.join(tmp, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if (
            not pid.isdigit()
            or not stat.S_ISDIR(st.st_mode)  # a link is never followed
            or st.st_uid != os.getuid()
            or now - st.st_mtime < STALE_SPILL
            or _alive(int(pid))
        ):
            continue
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's: alive
    return True


def index_serial(
    jobs: list[Job],
    run: Run,
    progress: LayerProgress | None,
    cancel: threading.Event | None,
) -> Iterator[tuple[int, LayerIndex]]:
    for job in jobs:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        index = run.done(job, _run_job(job, progress, cancel))
        for layer in job.layers:
            yield layer, index


def _index_parallel(
    jobs: list[Job],
    run: Run,
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
        outdir = spill_dir()
        pool = cf.ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(counters, stop, lifeline, inherited, outdir),
        )
    except (OSError, ValueError):  # no shared memory or semaphores here: in-process then
        yield from index_serial(jobs, run, progress, cancel)
        return
    todo = list(jobs)  # in layer order (see _plan)
    running: dict[cf.Future[str], Job] = {}
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
                    yield from index_serial(todo, run, progress, cancel)
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
            results: list[tuple[Job, str]] = []
            for finished in done:
                job = running.pop(finished)
                try:
                    results.append((job, finished.result()))
                except cf.process.BrokenProcessPool:
                    # A worker died (out of memory under a limit, killed): finish here.
                    todo = [job, *running.values(), *todo]
                    running.clear()
                    yield from index_serial(todo, run, progress, cancel)
                    return
            # The futures hold their payloads: drop them before the consumer runs. With
            # nothing left to do, the workers go too (their memory is no use from now on).
            done = finished = None  # type: ignore[assignment]
            if not todo and not running:
                pool.shutdown(wait=True)
            while results:
                job, path = results.pop(0)
                if path:
                    with open(path, "rb") as saved:
                        payload = saved.read()
                    os.unlink(path)
                    index = run.done(job, decode_index(payload, job.where), payload)
                    del payload
                else:
                    index = run.done(job, None)
                for layer in job.layers:
                    yield layer, index
    finally:
        stop.set()  # workers stop at their next cancel check
        pool.shutdown(wait=True, cancel_futures=True)
        alive.close()
        lifeline.close()
        shutil.rmtree(outdir, ignore_errors=True)
