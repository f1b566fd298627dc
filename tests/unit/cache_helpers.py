"""What the layer-cache tests share: archives built in Python (settled: old enough for the
cache to record their identity), an empty cache, and a counter of the layers indexed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from explorer.core.analysis import index_all
from explorer.core.cache import LayerCache
from explorer.core.export import write_export
from explorer.core.layerindex import LayerIndex
from explorer.core.sources import streamed as streamed_mod
from explorer.core.sources import workers as workers_mod
from explorer.core.sources.archive import ArchiveSource
from explorer.core.sources.proofs import settled_id
from tests.robustness import builders as b

REPO = Path(__file__).resolve().parents[2]

BASE = [b.directory("etc"), b.file("etc/os-release", b"ID=debian\n"), b.file("bin/sh", b"#!" * 99)]


def settled(path: Path) -> Path:
    """Wait until `path` is old enough for its identity to be recorded (a file changed in
    the last few milliseconds could change again unseen): a few ms at most."""
    deadline = time.monotonic() + 5
    while settled_id(str(path)) is None and time.monotonic() < deadline:
        time.sleep(0.002)
    return path


def archive(tmp: Path, name: str, *layers: list, compression: str = "none") -> Path:
    image = b.Image(
        layers=[
            b.Layer(entries=entries, command=f"step {i}", compression=compression)
            for i, entries in enumerate(layers)
        ]
    )
    tmp.mkdir(parents=True, exist_ok=True)
    return settled(b.docker_archive(image).write_tar(tmp / name))


def count_indexing(monkeypatch) -> list[str]:
    """Every layer indexed from here on, in this process (their `where` strings)."""
    calls: list[str] = []
    real = workers_mod.index_layer

    def counting(stream, where, progress=None, cancel=None):
        calls.append(where)
        return real(stream, where, progress, cancel)

    monkeypatch.setattr(workers_mod, "index_layer", counting)
    monkeypatch.setattr(streamed_mod, "index_layer", counting)
    return calls


def count_hashing(monkeypatch) -> list[str]:
    """Every layer whose bytes are only hashed (checked against a cached index)."""
    calls: list[str] = []
    real = workers_mod._run_job

    def counting(job, progress, cancel):
        if job.mode != workers_mod.INDEX:
            calls.append(job.mode)
        return real(job, progress, cancel)

    monkeypatch.setattr(workers_mod, "_run_job", counting)
    return calls


def open_all(path: Path, cache: LayerCache | None) -> tuple:
    return index_all(ArchiveSource(str(path), cache=cache))


def export_of(meta, layers) -> bytes:
    """dive's --json export of an analysed image: what must not change with the cache."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "export.json")
        write_export(out, meta, layers)
        return Path(out).read_bytes()


def sample_index(n: int = 3, tag: str = "") -> LayerIndex:
    idx = LayerIndex()
    for i in range(n):
        idx.paths.append(f"dir/{tag}file{i}")
        for column in (idx.types, idx.sizes, idx.modes, idx.uids, idx.gids, idx.mtimes):
            column.append(i)
        idx.hashes.append(i * 7)
        idx.offsets.append(512 * i)
    idx.links[1] = "target"
    idx.tar_size = 4096
    return idx


def diff_id(n: int) -> str:
    return f"sha256:{n:064x}"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = dict(os.environ) | (env or {})
    full.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
