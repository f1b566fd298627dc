"""The layer-index cache (issue 4): hits and misses, a base layer shared by two images indexed
once, corrupt and truncated entries rebuilt, concurrent writers, eviction at the cap,
--no-cache, `layerscope cache`, parallel indexing, and an engine image reopened without an
export (needs the engine: skipped without one unless LAYERSCOPE_REQUIRE_ENGINE=1)."""

from __future__ import annotations

import concurrent.futures as cf
import gzip
import json
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from explorer.core import cache as cache_mod
from explorer.core import cachesettings
from explorer.core.analysis import index_all
from explorer.core.cache import HEADER_SIZE, KIND_LAYER, LayerCache
from explorer.core.cachecodec import decode_index
from explorer.core.cachesettings import parse_size
from explorer.core.errors import Cancelled, ImageError
from explorer.core.export import write_export
from explorer.core.layerindex import LayerIndex
from explorer.core.sources import streamed as streamed_mod
from explorer.core.sources import workers as workers_mod
from explorer.core.sources.archive import ArchiveSource
from tests.robustness import builders as b

REPO = Path(__file__).resolve().parents[2]

BASE = [b.directory("etc"), b.file("etc/os-release", b"ID=debian\n"), b.file("bin/sh", b"#!" * 99)]


def archive(tmp: Path, name: str, *layers: list, compression: str = "none") -> Path:
    image = b.Image(
        layers=[
            b.Layer(entries=entries, command=f"step {i}", compression=compression)
            for i, entries in enumerate(layers)
        ]
    )
    tmp.mkdir(parents=True, exist_ok=True)
    return b.docker_archive(image).write_tar(tmp / name)


@pytest.fixture
def store(tmp_path: Path) -> LayerCache:
    return LayerCache(tmp_path / "cache")


@pytest.fixture
def indexed(monkeypatch) -> list[str]:
    """Every layer the archive source indexes in this process (where strings)."""
    calls: list[str] = []
    real = workers_mod.index_layer

    def counting(stream, where, progress=None, cancel=None):
        calls.append(where)
        return real(stream, where, progress, cancel)

    monkeypatch.setattr(workers_mod, "index_layer", counting)
    monkeypatch.setattr(streamed_mod, "index_layer", counting)
    return calls


def open_all(path: Path, cache: LayerCache | None) -> tuple:
    return index_all(ArchiveSource(str(path), cache=cache))


def export_of(meta, layers) -> bytes:
    """dive's --json export of an analysed image: what must not change with the cache."""
    import tempfile

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


# -- the store itself ------------------------------------------------------------------------


def test_round_trip_and_miss(store: LayerCache) -> None:
    idx = sample_index()
    assert store.get(diff_id(1)) is None
    assert store.put(diff_id(1), idx)
    got = store.get(diff_id(1))
    assert got == idx
    assert got is not idx
    assert (store.stats.hits, store.stats.misses, store.stats.writes) == (1, 1, 1)
    [entry] = store.entries()
    assert entry.key == diff_id(1) and entry.entries == 3 and entry.tar_size == 4096
    assert entry.verified is True
    assert store.size() == entry.size == (store.root / entry.name).stat().st_size


def test_paths_come_back_interned(store: LayerCache) -> None:
    store.put(diff_id(1), sample_index(tag="x"))
    store.put(diff_id(2), sample_index(tag="x"))
    a, b_ = store.get(diff_id(1)), store.get(diff_id(2))
    assert all(p is q for p, q in zip(a.paths, b_.paths, strict=True))


def test_malformed_diff_ids_never_become_paths(store: LayerCache) -> None:
    for bad in ("", "sha256:../../etc/passwd", "sha256:ABC", "md5:" + "0" * 64, "x" * 80):
        assert not store.put(bad, sample_index())
        assert store.get(bad) is None
    assert not store.root.exists() or list(store.root.iterdir()) == []


def test_warnings_name_the_archive_they_are_read_from(store: LayerCache) -> None:
    idx = sample_index()
    idx.warnings = ["/a.tar: layer 0 (x): global PAX header ignored", "other"]
    store.put(diff_id(1), idx, where="/a.tar: layer 0 (x)")
    got = store.get(diff_id(1), where="/b.tar: layer 3 (x)")
    assert got.warnings == ["/b.tar: layer 3 (x): global PAX header ignored", "other"]


def test_only_verified_entries_are_served(store: LayerCache) -> None:
    """What an older build stored without hashing it is never served (nor deleted)."""
    store.put(diff_id(1), sample_index(), verified=False)
    store.put(diff_id(2), sample_index())
    assert store.get(diff_id(1)) is None and not store.has(diff_id(1))
    assert store.get(diff_id(1), verified=False) is not None
    assert store.get(diff_id(2)) is not None and store.has(diff_id(2))
    assert [e.verified for e in sorted(store.entries(), key=lambda e: e.key)] == [False, True]


def _entry_path(store: LayerCache, n: int) -> Path:
    return store.root / f"sha256-{n:064x}.{cache_mod.INDEX_FORMAT}.layer"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(lambda d: d[:HEADER_SIZE], id="header-only"),
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: d[:-1] + bytes([d[-1] ^ 1]), id="payload-bit-flip"),
        pytest.param(lambda d: d[:9] + bytes([d[9] ^ 1]) + d[10:], id="header-bit-flip"),
        pytest.param(lambda d: d + b"x", id="trailing-bytes"),
        pytest.param(lambda d: b"garbage" * 100, id="garbage"),
    ],
)
def test_corrupt_entry_is_a_miss_and_is_deleted(store: LayerCache, damage) -> None:
    store.put(diff_id(1), sample_index())
    path = _entry_path(store, 1)
    path.write_bytes(damage(path.read_bytes()))
    assert store.get(diff_id(1)) is None
    assert not path.exists()
    assert store.stats.discarded == 1


def test_an_entry_renamed_to_another_key_is_refused(store: LayerCache) -> None:
    store.put(diff_id(1), sample_index())
    os.replace(_entry_path(store, 1), _entry_path(store, 2))
    assert store.get(diff_id(2)) is None


def test_other_index_formats_are_misses(store: LayerCache, monkeypatch) -> None:
    store.put(diff_id(1), sample_index())
    monkeypatch.setattr(cache_mod, "SCHEMA", cache_mod.SCHEMA + 1)
    assert store.get(diff_id(1)) is None


def test_payload_cannot_name_other_callables(store: LayerCache, tmp_path: Path) -> None:
    """A payload with a valid checksum that would run code is refused, not unpickled."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps(Evil(), protocol=5)
    path = _entry_path(store, 1)
    store._write(path, KIND_LAYER, diff_id(1), payload, 0, 0)
    assert store.get(diff_id(1)) is None
    assert not marker.exists()
    with pytest.raises(ValueError):
        decode_index(payload)


def test_entries_of_others_are_not_read(store: LayerCache) -> None:
    store.put(diff_id(1), sample_index())
    os.chmod(_entry_path(store, 1), 0o666)  # anyone could have written it
    assert store.get(diff_id(1)) is None
    assert _entry_path(store, 1).exists()  # not ours to delete either


def test_unwritable_cache_is_skipped(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = LayerCache(blocker / "cache")
    assert not store.put(diff_id(1), sample_index())
    assert store.get(diff_id(1)) is None


def test_eviction_at_the_cap_keeps_recently_used(tmp_path: Path) -> None:
    probe = LayerCache(tmp_path / "probe")
    probe.put(diff_id(0), sample_index(50))
    one = probe.size()
    store = LayerCache(tmp_path / "cache", cap_bytes=3 * one + one // 2)
    base = time.time() - 1000
    for n in range(1, 4):
        store.put(diff_id(n), sample_index(50))
        os.utime(_entry_path(store, n), (base + n, base + n))
    assert store.get(diff_id(1)) is not None  # a hit: now the most recently used
    store.put(diff_id(4), sample_index(50))  # over the cap: the least recently used goes
    assert sorted(e.key for e in store.entries()) == [diff_id(1), diff_id(3), diff_id(4)]
    assert store.size() <= store.cap
    store.put(diff_id(5), sample_index(50))
    assert sorted(e.key for e in store.entries()) == [diff_id(1), diff_id(4), diff_id(5)]


def test_an_entry_larger_than_the_cap_is_not_written(tmp_path: Path) -> None:
    store = LayerCache(tmp_path / "cache", cap_bytes=200)
    assert not store.put(diff_id(1), sample_index(100))
    assert store.size() == 0


def test_stale_temp_files_are_cleaned(store: LayerCache) -> None:
    store.put(diff_id(1), sample_index())
    old = store.root / ".tmp-killed-writer"
    old.write_bytes(b"x" * 10)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = store.root / ".tmp-writer-at-work"
    fresh.write_bytes(b"x")
    store.evict()
    assert not old.exists() and fresh.exists()
    assert store.clear()[0] == 1
    assert not fresh.exists()


def test_clear_leaves_foreign_files(store: LayerCache) -> None:
    store.put(diff_id(1), sample_index())
    store.put_image("docker", diff_id(9), {"members": {}})
    (store.root / "README").write_text("not ours")
    count, freed = store.clear()
    assert count == 2 and freed > 0
    assert [p.name for p in store.root.iterdir()] == ["README"]


def test_parse_size() -> None:
    assert parse_size("2G") == parse_size("2GiB") == parse_size("2gb") == 2 << 30
    assert parse_size("500M") == 500 << 20
    assert parse_size("1.5k") == 1536
    assert parse_size("1048576") == 1 << 20
    assert parse_size("0") == 0
    with pytest.raises(ImageError):
        parse_size("lots")


def test_default_cache_follows_environment_and_flags(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_CACHE_DIR", str(tmp_path / "env"))
    monkeypatch.delenv("LAYERSCOPE_NO_CACHE", raising=False)
    monkeypatch.setenv("LAYERSCOPE_CACHE_MAX", "10M")
    c = cachesettings.default_cache()
    assert c is not None and c.root == tmp_path / "env" and c.cap == 10 << 20
    with cachesettings.configured(root=tmp_path / "flag", cap=1 << 20):
        c = cachesettings.default_cache()
        assert c.root == tmp_path / "flag" and c.cap == 1 << 20
        with cachesettings.configured(enabled=False):
            assert cachesettings.default_cache() is None
    assert cachesettings.default_cache().root == tmp_path / "env"
    monkeypatch.setenv("LAYERSCOPE_NO_CACHE", "1")
    assert cachesettings.default_cache() is None
    monkeypatch.delenv("LAYERSCOPE_NO_CACHE")
    monkeypatch.setenv("LAYERSCOPE_CACHE_MAX", "0")
    assert cachesettings.default_cache() is None
    monkeypatch.delenv("LAYERSCOPE_CACHE_DIR")
    monkeypatch.delenv("LAYERSCOPE_CACHE_MAX")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    c = cachesettings.default_cache()
    assert c.root == tmp_path / "xdg" / "layerscope" / "layers" and c.cap == 2 << 30


# -- concurrent writers ------------------------------------------------------------------------


def _writer(root: str, worker: int, rounds: int) -> int:
    store = LayerCache(root)
    for r in range(rounds):
        store.put(diff_id(1000), sample_index(20 + worker, tag=f"w{worker}"))  # the same entry
        store.put(diff_id(worker * 100 + r), sample_index(5, tag=f"{worker}-{r}"))  # its own
    return worker


def test_concurrent_writers_and_a_reader(tmp_path: Path) -> None:
    root = str(tmp_path / "cache")
    rounds = 40
    ctx = multiprocessing.get_context("spawn")
    seen = set()
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        futures = [pool.submit(_writer, root, w, rounds) for w in (1, 2)]
        reader = LayerCache(root)
        while not all(f.done() for f in futures):
            got = reader.get(diff_id(1000))
            if got is not None:  # never half of one writer's entry
                assert len(got) in (21, 22)
                assert got.paths[0].startswith(("dir/w1", "dir/w2"))
                seen.add(len(got))
        assert sorted(f.result() for f in futures) == [1, 2]
    store = LayerCache(root)
    assert len(store.get(diff_id(1000))) in (21, 22)
    for w in (1, 2):
        for r in range(rounds):
            assert store.get(diff_id(w * 100 + r)).paths[0] == f"dir/{w}-{r}file0"
    assert not [p for p in Path(root).iterdir() if p.name.startswith(".tmp-")]
    assert store.stats.discarded == reader.stats.discarded == 0


# -- archive sources ---------------------------------------------------------------------------


def test_archive_hit_and_miss(tmp_path: Path, store: LayerCache, indexed: list[str]) -> None:
    path = archive(tmp_path, "a.tar", BASE, [b.file("app/main.py", b"print(1)\n")])
    cold = open_all(path, store)
    assert len(indexed) == 2 and store.stats.writes == 2 and store.stats.hits == 0
    indexed.clear()
    warm = open_all(path, store)
    assert indexed == []  # nothing read
    assert store.stats.hits == 2
    assert export_of(*warm) == export_of(*cold) == export_of(*open_all(path, None))


def test_shared_base_layer_is_indexed_once(tmp_path: Path, store, indexed) -> None:
    one = archive(tmp_path, "one.tar", BASE, [b.file("app/one", b"1")])
    two = archive(tmp_path, "two.tar", BASE, [b.file("app/two", b"2"), b.file("app/x", b"3")])
    meta1, _ = open_all(one, store)
    meta2, layers2 = open_all(two, store)
    assert meta1.layers[0].digest == meta2.layers[0].digest  # the same base layer
    indexed_layers = [
        (Path(w.split(": ")[0]).name, w.split(": ")[1].split(" (")[0]) for w in indexed
    ]
    assert indexed_layers == [
        ("one.tar", "layer 0"),
        ("one.tar", "layer 1"),
        ("two.tar", "layer 1"),
    ]
    assert sorted(layers2[1].paths) == ["app/two", "app/x"]
    assert len(store.entries()) == 3


def test_no_read_of_cached_layers(tmp_path: Path, store, monkeypatch) -> None:
    """A cached layer's blob is not opened at all: a window opens for the missing one only."""
    path = archive(tmp_path, "a.tar", BASE, [b.file("x", b"x")], [b.file("y", b"y")])
    meta, _ = open_all(path, store)
    missing = meta.layers[1].digest
    os.unlink(store.root / f"{missing.replace(':', '-')}.{cache_mod.INDEX_FORMAT}.layer")
    opened: list[int] = []
    real = workers_mod.Window

    def window(path, offset, size):
        opened.append(offset)
        return real(path, offset, size)

    monkeypatch.setattr(workers_mod, "Window", window)
    source = ArchiveSource(str(path), cache=store)
    source.open()
    offsets = {source._members[m].offset: m for m in source._layer_members}
    opened.clear()  # the manifest and config are read through windows too
    dict(source.index_layers())
    assert [offsets[o] for o in opened] == [source._layer_members[1]]


def test_corrupt_entry_is_rebuilt(tmp_path: Path, store: LayerCache, indexed) -> None:
    path = archive(tmp_path, "a.tar", BASE, [b.file("app/a", b"a")])
    cold = open_all(path, store)
    victim = max(store.root.glob("*.layer"), key=lambda p: p.stat().st_size)
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 10])  # truncated, as by a full disk
    indexed.clear()
    again = open_all(path, store)
    assert len(indexed) == 1  # rebuilt, the other layer still a hit
    assert export_of(*again) == export_of(*cold)
    assert victim.read_bytes() == data  # and written back whole
    indexed.clear()
    open_all(path, store)
    assert indexed == []


def test_lying_diff_ids_are_never_cached(tmp_path: Path, store) -> None:
    """Layer bytes that do not hash to the config's diff_id are refused, and cached under
    no key: a lying archive cannot poison what another image is shown."""
    liar = b.Layer(entries=[b.file("evil", b"x")], diff_id="sha256:" + "ab" * 32)
    path = b.docker_archive(b.Image(layers=[liar])).write_tar(tmp_path / "liar.tar")
    with pytest.raises(ImageError, match="diff_id"):
        open_all(path, store)
    assert store.entries() == []


def test_what_archives_cache_is_verified(tmp_path: Path, store) -> None:
    open_all(archive(tmp_path, "a.tar", BASE), store)
    assert [e.verified for e in store.entries()] == [True]


@pytest.mark.parametrize("layout", ["oci-dir", "oci-gzip-tar"])
def test_oci_layouts_use_the_cache(tmp_path: Path, store, indexed, layout) -> None:
    compression = "gzip" if layout == "oci-gzip-tar" else "none"
    image = b.Image(
        layers=[
            b.Layer(entries=BASE, compression=compression),
            b.Layer(entries=[b.file("a", b"a")], compression=compression),
        ]
    )
    arc = b.oci_archive(image)
    path = (
        arc.write_dir(tmp_path / "oci")
        if layout == "oci-dir"
        else arc.write_tar(tmp_path / "o.tar")
    )
    cold = open_all(path, store)
    assert len(indexed) == 2
    indexed.clear()
    assert export_of(*open_all(path, store)) == export_of(*cold)
    assert indexed == []


def test_compressed_archive_skips_cached_members_unparsed(tmp_path: Path, store, indexed) -> None:
    plain = archive(tmp_path, "a.tar", BASE, [b.file("app/a", b"a")], [b.file("app/b", b"b")])
    packed = tmp_path / "a.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    cold = open_all(packed, store)
    assert len(indexed) == 3
    indexed.clear()
    source = ArchiveSource(str(packed), cache=store)
    warm = index_all(source)
    assert indexed == []  # one pass over the stream, the cached layers skipped over
    assert len(source._streamed.skipped) == 3
    assert export_of(*warm) == export_of(*cold)


def test_skipping_cached_members_reports_progress_and_answers_cancel(tmp_path, store) -> None:
    big = [b.file("big", bytes(3 << 20))]
    plain = archive(tmp_path, "a.tar", BASE, big)
    packed = tmp_path / "a.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes(), 1))
    open_all(packed, store)
    seen: list[tuple[int, int]] = []
    streamed = streamed_mod.StreamedArchive(
        str(packed), None, cache=store, aliases=store.aliases("archive")
    )
    assert len(list(streamed.walk(lambda e, n: seen.append((e, n))))) == 2
    assert len(streamed.skipped) == 2
    assert max(n for e, n in seen if e == 1) > 3 << 20  # the big file, read past
    cancel = threading.Event()
    cancel.set()
    streamed = streamed_mod.StreamedArchive(
        str(packed), None, cache=store, aliases=store.aliases("archive")
    )
    with pytest.raises(Cancelled):
        list(streamed.walk(cancel=cancel))


def test_compressed_archive_with_a_misleading_name_is_read_again(
    tmp_path, store, monkeypatch
) -> None:
    """A member name remembered for one layer, given to another layer in another archive,
    must not show the wrong layer: the pass is made again, without skipping."""
    first = archive(tmp_path / "1", "a.tar", BASE, [b.file("one", b"1")])
    packed = tmp_path / "a.tar.gz"
    packed.write_bytes(gzip.compress(first.read_bytes()))
    open_all(packed, store)
    second = archive(tmp_path / "2", "b.tar", [b.file("other", b"2")], [b.file("two", b"2")])
    arc_names = sorted(n for n in _members(first) if n.endswith("/layer.tar"))
    # the second archive reuses the first one's member names for different layers
    data = _rename_members(
        second, dict(zip(sorted(_layer_members(second)), arc_names, strict=True))
    )
    packed2 = tmp_path / "b.tar.gz"
    packed2.write_bytes(gzip.compress(data))
    passes = []
    real = streamed_mod.StreamedArchive.run_metadata

    def counting(self):
        passes.append(len(self.aliases))
        return real(self)

    monkeypatch.setattr(streamed_mod.StreamedArchive, "run_metadata", counting)
    _meta, layers = open_all(packed2, store)
    assert [sorted(layer.paths) for layer in layers] == [["other"], ["two"]]
    assert passes == [2, 0]  # the names misled the first pass: a second one, reading all


def _members(path: Path) -> list[str]:
    import tarfile

    with tarfile.open(path) as tf:
        return tf.getnames()


def _layer_members(path: Path) -> list[str]:
    return [n for n in _members(path) if n.endswith("/layer.tar")]


def _rename_members(path: Path, renames: dict[str, str]) -> bytes:
    """The archive at `path` with layer members (and their directories) renamed."""
    import io
    import tarfile

    dirs = {k.split("/")[0]: v.split("/")[0] for k, v in renames.items()}
    out = io.BytesIO()
    with tarfile.open(path) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else None
            head, _, rest = info.name.partition("/")
            info.name = dirs.get(head, head) + ("/" + rest if rest else "")
            if data and info.name.endswith("json"):
                text = data.decode()
                for old, new in dirs.items():
                    text = text.replace(old, new)
                data = text.encode()
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


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
    return b.docker_archive(image).write_tar(tmp / "big.tar")


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
    assert len(store.entries()) == 3  # the parent wrote what the workers encoded
    assert export_of(*open_all(path, store)) == export_of(*serial)


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


def test_worker_failure_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    good = b.Layer(entries=BASE)
    bad = b.Layer(entries=[b.file("x", b"x" * 5000)], corrupt=lambda blob: blob[:1000])
    path = b.docker_archive(b.Image(layers=[good, bad])).write_tar(tmp_path / "bad.tar")
    monkeypatch.setattr(workers_mod, "PARALLEL_MIN_SECONDS", 0)
    monkeypatch.setenv("LAYERSCOPE_WORKERS", "2")
    with pytest.raises(ImageError, match="truncated"):
        index_all(ArchiveSource(str(path), cache=None))


# -- the command line ---------------------------------------------------------------------------


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


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    path = archive(tmp_path, "a.tar", BASE, [b.file("a", b"a")])
    cache_dir = tmp_path / "cache"
    env = {"LAYERSCOPE_CACHE_DIR": str(cache_dir)}
    res = cli(str(path), "--json", str(tmp_path / "out.json"), "--no-cache", env=env)
    assert res.returncode == 0, res.stderr
    assert not cache_dir.exists()
    res = cli(str(path), "--json", str(tmp_path / "out2.json"), env=env)
    assert res.returncode == 0, res.stderr
    assert len(list(cache_dir.glob("*.layer"))) == 2
    assert (tmp_path / "out.json").read_bytes() == (tmp_path / "out2.json").read_bytes()


def test_cache_command_lists_and_clears(tmp_path: Path) -> None:
    path = archive(tmp_path, "a.tar", BASE, [b.file("a", b"a")])
    cache_dir = tmp_path / "my-cache"
    res = cli(str(path), "--ci", "--cache-dir", str(cache_dir))  # --ci uses it too
    assert res.returncode == 0, res.stderr
    res = cli("cache", "--cache-dir", str(cache_dir), "--json")
    assert res.returncode == 0, res.stderr
    listing = json.loads(res.stdout)
    assert listing["root"] == str(cache_dir) and listing["cap"] == 2 << 30
    # Two layers, and the analysis (--ci stores it: the next --ci or TUI open reads it)
    assert sorted(e["kind"] for e in listing["entries"]) == ["analysis", "layer", "layer"]
    assert listing["size"] == sum(e["size"] for e in listing["entries"]) > 0
    keys = {e["key"] for e in listing["entries"]}
    text = cli("--cache-dir", str(cache_dir), "cache", env={"LAYERSCOPE_CACHE_MAX": "1G"})
    assert text.returncode == 0, text.stderr
    assert str(cache_dir) in text.stdout and "of 1.0 GiB" in text.stdout
    assert all(k in text.stdout for k in keys)
    res = cli("cache", "clear", env={"LAYERSCOPE_CACHE_DIR": str(cache_dir)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Removed 3 entries")
    listing = json.loads(cli("cache", "--json", "--cache-dir", str(cache_dir)).stdout)
    assert listing["entries"] == [] and listing["size"] == 0


def test_bad_cache_size_is_one_clear_error(tmp_path: Path) -> None:
    path = archive(tmp_path, "a.tar", BASE)
    res = cli(str(path), "--json", str(tmp_path / "o.json"), "--cache-max", "huge")
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0
    assert "--cache-max" in res.stderr and not (tmp_path / "o.json").exists()
    res = cli("cache", env={"LAYERSCOPE_CACHE_MAX": "huge"})
    assert res.returncode == 2 and "LAYERSCOPE_CACHE_MAX" in res.stderr


def test_cache_flags_reach_every_source(tmp_path: Path, monkeypatch) -> None:
    """--no-cache and --cache-dir are process-wide, so the TUI's worker follows them too;
    with no image the bundled sample is not cached, but images opened from there are."""
    from explorer import cli as cli_mod

    parser = cli_mod.build_parser()
    args = parser.parse_args(["img.tar", "--cache-dir", str(tmp_path / "c"), "--cache-max", "5M"])
    with cli_mod._cache_settings(args):
        c = cachesettings.default_cache()
        assert c.root == tmp_path / "c" and c.cap == 5 << 20
    with cli_mod._cache_settings(parser.parse_args(["img.tar", "--no-cache"])):
        assert cachesettings.default_cache() is None
    from explorer.sample import cache_dir, ensure_sample

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with cli_mod._cache_settings(parser.parse_args([])):
        sample = ArchiveSource(str(ensure_sample()))
        assert sample.path == str(cache_dir() / "sample.tar")
        index_all(sample)
        assert cachesettings.default_cache(sample.path) is None
        other = archive(tmp_path, "other.tar", BASE)
        index_all(ArchiveSource(str(other)))  # opened from the TUI: cached
        assert cachesettings.default_cache(str(other)) is not None
    assert [e.entries for e in cachesettings.default_cache().entries()] == [3]
    assert cachesettings.default_cache(sample.path) is not None  # asked for by name: cached


# -- the engine --------------------------------------------------------------------------------

ENGINE_IMAGE = "corpus/waste:1"


@pytest.fixture
def engine_source():
    required = os.environ.get("LAYERSCOPE_REQUIRE_ENGINE") == "1"
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.images.get(ENGINE_IMAGE)
        client.close()
    except Exception as exc:
        message = f"engine or {ENGINE_IMAGE} not available ({type(exc).__name__})"
        if required:
            pytest.fail(f"LAYERSCOPE_REQUIRE_ENGINE=1 but {message}", pytrace=False)
        pytest.skip(message)
    from explorer.core.sources.engine import EngineSource

    return EngineSource


@pytest.mark.engine
def test_engine_reopens_without_export(tmp_path: Path, engine_source, monkeypatch) -> None:
    store = LayerCache(tmp_path / "cache")
    first = engine_source(ENGINE_IMAGE, cache=store)
    cold = index_all(first)
    first.close()
    assert first.exported
    assert all(e.verified for e in store.entries() if e.kind == "layer")

    second = engine_source(ENGINE_IMAGE, cache=store)
    second.open()

    def no_export(*args, **kwargs):
        raise AssertionError("exported although every layer is cached")

    # Opened straight over the socket (no SDK client yet): an export would have to connect.
    if second._client is not None:
        monkeypatch.setattr(second._client.api, "get_image", no_export)
    monkeypatch.setattr(second, "_connect", no_export)
    warm = index_all(second)
    second.close()
    assert not second.exported
    assert export_of(*warm) == export_of(*cold)  # exact ids and history from the record

    # one layer evicted: the export is streamed, and only that layer is parsed
    victim = max((e for e in store.entries() if e.kind == "layer"), key=lambda e: e.entries or 0)
    os.unlink(store.root / victim.name)
    third = engine_source(ENGINE_IMAGE, cache=store)
    again = index_all(third)
    third.close()
    assert third.exported
    distinct = len({lm.digest for lm in cold[0].layers})
    assert len(third.streamed.skipped) == distinct - 1
    assert export_of(*again) == export_of(*cold)
