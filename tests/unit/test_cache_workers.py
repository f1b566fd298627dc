"""Indexing and hashing layers on the worker pool: the same result as in-process, prompt
cancellation, no process or spill directory left behind, and the plan that decides when
worker processes pay for themselves."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from explorer.core.analysis import index_all
from explorer.core.cache import LayerCache
from explorer.core.errors import Cancelled, ImageError
from explorer.core.sources import workers as workers_mod
from explorer.core.sources.archive import ArchiveSource
from tests.robustness import builders as b
from tests.unit.cache_helpers import BASE, REPO, export_of, open_all, settled

# -- parallel indexing -------------------------------------------------------------------------


def big_archive(tmp: Path, layers: int = 3, per_layer: int = 20_000) -> Path:
    image = b.Image(
        layers=[
            b.Layer(entries=list(b.many_files(20, per_layer // 20)), command=f"layer {n}")
            if n
            else b.Layer(entries=BASE)
            for n in range(layers)
        ]
    )
    # the many_files layers are identical: make each one differ
    for n, layer in enumerate(image.layers[1:], 1):
        layer.entries = [b.file(f"marker{n}", b"%d" % n), *layer.entries]
    tmp.mkdir(parents=True, exist_ok=True)
    return settled(b.docker_archive(image).write_tar(tmp / "big.tar"))


def test_parallel_matches_serial(tmp_path: Path, monkeypatch) -> None:
    path = big_archive(tmp_path)
    serial = index_all(ArchiveSource(str(path), cache=None))
    monkeypatch.setattr(workers_mod, "PARALLEL_MIN_SECONDS", 0)
    monkeypatch.setenv("LAYERSCOPE_WORKERS", "2")
    store = LayerCache(tmp_path / "cache")
    progress: list[tuple[int, int, int]] = []
    source = ArchiveSource(str(path), cache=store)
    order = []
    found = {}
    for n, index in source.index_layers(lambda *a: progress.append(a)):
        order.append(n)
        found[n] = index
    parallel = (source.meta, [found[n] for n in range(len(found))])
    assert sorted(order) == [0, 1, 2]
    assert export_of(*parallel) == export_of(*serial)
    assert [len(x) for x in parallel[1]] == [len(x) for x in serial[1]]
    layers = [e for e in store.entries() if e.kind == "layer"]
    assert len(layers) == 3  # the parent wrote what the workers encoded
    assert export_of(*open_all(path, store)) == export_of(*serial)
    # a copy: its layers are hashed on the pool (not indexed), and are the same
    copy = tmp_path / "copy.tar"
    copy.write_bytes(path.read_bytes())
    settled(copy)
    modes = []
    real = workers_mod._index_parallel

    def parallel_run(jobs, *args):
        modes.extend(job.mode for job in jobs)
        return real(jobs, *args)

    monkeypatch.setattr(workers_mod, "_index_parallel", parallel_run)
    assert export_of(*open_all(copy, store)) == export_of(*serial)
    assert modes == [workers_mod.HASH] * 3


def test_parallel_cancel_stops_promptly(tmp_path: Path, monkeypatch) -> None:
    path = big_archive(tmp_path, layers=4, per_layer=100_000)
    monkeypatch.setattr(workers_mod, "PARALLEL_MIN_SECONDS", 0)
    monkeypatch.setenv("LAYERSCOPE_WORKERS", "2")
    cancel = threading.Event()
    source = ArchiveSource(str(path), cache=LayerCache(tmp_path / "cache"))
    got = []
    start = time.monotonic()
    with pytest.raises(Cancelled):
        for n, _index in source.index_layers(lambda *a: cancel.set(), cancel):
            got.append(n)
    assert time.monotonic() - start < 20
    assert len(got) < 4


def _marked_processes(mark: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if f"LAYERSCOPE_TEST_MARK={mark}".encode() in env:
                found.append(int(pid))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_cli_interrupted_while_workers_index(tmp_path: Path, sig) -> None:
    """Interrupted mid-indexing in worker processes: one line, no traceback (not even from
    a worker), exit 130, and no process left behind — even when the CLI itself is killed."""
    path = big_archive(tmp_path, layers=5, per_layer=100_000)
    mark = f"{os.getpid()}-{sig}"
    env = dict(os.environ, LAYERSCOPE_WORKERS="2", LAYERSCOPE_TEST_MARK=mark)
    env.pop("CI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "explorer", str(path), "--json", str(tmp_path / "o.json")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while len(_marked_processes(mark)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the CLI, the fork server, its workers
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.5)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    deadline = time.monotonic() + 10
    while _marked_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _marked_processes(mark) == []
    assert not (tmp_path / "o.json").exists()
    if sig != signal.SIGKILL:
        assert proc.returncode == 130, err
        assert "Traceback" not in err.decode()
        assert err.decode().strip() == "layerscope: interrupted"


def test_plan_parallel_only_where_it_pays(tmp_path: Path) -> None:
    """The plan's decisions, not its formula: bottom-up order, parallel for two big layers
    but not for one big and one small, and what weighs more than what."""
    mb = 1 << 20

    def blob(name: str, data: bytes) -> Path:
        (tmp_path / name).write_bytes(data)
        return tmp_path / name

    def job(n: int, size: int, path: Path, mode: str = workers_mod.INDEX):
        return workers_mod.Job([n], str(path), 0, size, f"layer {n}", "", mode=mode)

    def saving(*jobs) -> float:
        return workers_mod._plan(list(jobs), 2)[0]

    opaque = blob("opaque", bytes(16))  # no header to sample: bytes only
    _saving, order = workers_mod._plan(
        [job(2, 20 * mb, opaque), job(0, 10 * mb, opaque), job(1, 900 * mb, opaque)], 2
    )
    assert [j.slot for j in order] == [0, 1, 2]  # bottom up, as the analysis consumes them
    two_big = saving(job(0, 900 * mb, opaque), job(1, 900 * mb, opaque))
    assert two_big >= workers_mod.PARALLEL_MIN_SECONDS
    assert saving(job(0, 10 * mb, opaque), job(1, 900 * mb, opaque)) < (
        workers_mod.PARALLEL_MIN_SECONDS
    )
    assert saving(job(0, 900 * mb, opaque)) == 0  # nothing to share
    # many small files weigh more than their bytes; compressed blobs more than their size
    small = b.tar_bytes(b.many_files(4, 250))
    many = blob("many", small)
    cost = workers_mod._cost
    assert cost(job(0, len(small), many)) > 2 * cost(job(0, len(small), opaque))
    packed_data = gzip.compress(small)
    packed = blob("packed", packed_data)
    size = len(packed_data)
    assert cost(job(1, size, packed)) > cost(job(0, 4 * size, opaque))
    # checking a cached layer costs less than indexing it, and its blob's name less still
    index, check, name = (job(0, size, packed, mode) for mode in ("index", "hash", "blob"))
    assert cost(index) > cost(check) > cost(name) > 0


def test_worker_failure_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    good = b.Layer(entries=BASE)
    bad = b.Layer(entries=[b.file("x", b"x" * 5000)], corrupt=lambda blob: blob[:1000])
    path = b.docker_archive(b.Image(layers=[good, bad])).write_tar(tmp_path / "bad.tar")
    monkeypatch.setattr(workers_mod, "PARALLEL_MIN_SECONDS", 0)
    monkeypatch.setenv("LAYERSCOPE_WORKERS", "2")
    with pytest.raises(ImageError, match="truncated"):
        index_all(ArchiveSource(str(path), cache=None))


# -- spill directories left by a killed run (issue 12 §2) ----------------------------------------


def _gone_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_spill_directories_are_removed_on_start(tmp_path: Path, monkeypatch) -> None:
    """A SIGKILLed run leaves its workers' spill directory behind: the next parallel run
    removes those of ours whose process is gone, and nothing else."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    old = time.time() - 2 * workers_mod.STALE_SPILL

    def spill(name: str, age: float = old) -> Path:
        path = tmp / name
        path.mkdir()
        (path / "3.index").write_bytes(b"payload")
        os.utime(path, (age, age))
        return path

    stale = spill(f"layerscope-index-{_gone_pid()}-abc")
    alive = spill(f"layerscope-index-{os.getppid()}-abc")  # a process still running
    fresh = spill(f"layerscope-index-{_gone_pid()}-new", age=time.time())
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep").write_text("x")
    link = tmp / f"layerscope-index-{_gone_pid()}-link"
    link.symlink_to(precious)
    other = spill("unrelated-dir")

    path = big_archive(tmp_path, layers=3, per_layer=2_000)
    monkeypatch.setattr(workers_mod, "PARALLEL_MIN_SECONDS", 0)
    monkeypatch.setenv("LAYERSCOPE_WORKERS", "2")
    made = []
    real = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    index_all(ArchiveSource(str(path), cache=None))
    assert not stale.exists()
    assert alive.exists() and fresh.exists() and other.exists()
    assert link.is_symlink() and (precious / "keep").exists()  # never followed
    assert [Path(p).name.split("-")[2] for p in made] == [str(os.getpid())]
    assert not Path(made[0]).exists()  # its own, removed when done
