"""The layer-cache store (issue 4, issue 12 §2): hits and misses, corrupt, truncated and
ill-typed entries dropped and rebuilt, concurrent writers, eviction at the cap, a private
directory whose entries are never links or FIFOs, --no-cache and `layerscope cache`."""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import pickle
import stat
import threading
import time
from array import array
from pathlib import Path

import pytest

from explorer.core import cache as cache_mod
from explorer.core import cachesettings
from explorer.core.analysis import index_all
from explorer.core.cache import HEADER_SIZE, KIND_LAYER, LayerCache
from explorer.core.cachecodec import decode_index
from explorer.core.cachesettings import parse_size
from explorer.core.errors import ImageError
from explorer.core.layerindex import LayerIndex
from explorer.core.sources.archive import ArchiveSource
from tests.robustness import builders as b
from tests.unit.cache_helpers import BASE, archive, cli, diff_id, sample_index


@pytest.fixture
def store(tmp_path: Path) -> LayerCache:
    return LayerCache(tmp_path / "cache")


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


# -- the command line ---------------------------------------------------------------------------


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
    kinds = sorted(e["kind"] if e["kind"] != "image" else e["source"] for e in listing["entries"])
    # The layers, what was verified of the file, and the analysis (--ci stores it too)
    assert kinds == ["analysis", "file", "layer", "layer"]
    assert listing["size"] == sum(e["size"] for e in listing["entries"]) > 0
    keys = {e["key"] for e in listing["entries"]}
    text = cli("--cache-dir", str(cache_dir), "cache", env={"LAYERSCOPE_CACHE_MAX": "1G"})
    assert text.returncode == 0, text.stderr
    assert str(cache_dir) in text.stdout and "of 1.0 GiB" in text.stdout
    assert all(k in text.stdout for k in keys)
    res = cli("cache", "clear", env={"LAYERSCOPE_CACHE_DIR": str(cache_dir)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Removed 4 entries")
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
    layers = [e for e in cachesettings.default_cache().entries() if e.kind == "layer"]
    assert [e.entries for e in layers] == [3]
    assert cachesettings.default_cache(sample.path) is not None  # asked for by name: cached


# -- the directory is not a way in (issue 12 §2) -------------------------------------------------


def test_a_new_cache_directory_is_private(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = LayerCache(tmp_path / "a" / "cache")
        assert store.put(diff_id(1), sample_index())
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.root / store.entries()[0].name).st_mode) == 0o600


@pytest.mark.parametrize("how", ["writable by others", "owned by another user"])
def test_a_directory_others_could_write_to_is_not_used(tmp_path: Path, capsys, how) -> None:
    root = tmp_path / "shared"
    LayerCache(root).put(diff_id(1), sample_index())
    if how == "writable by others":
        os.chmod(root, 0o777)
    elif os.getuid() == 0:
        os.chown(root, 12345, 12345)
    else:
        pytest.skip("needs root to give a directory away")
    capsys.readouterr()
    store = LayerCache(root)
    assert store.get(diff_id(1)) is None and not store.has(diff_id(1))
    assert not store.put(diff_id(2), sample_index())
    LayerCache(root).get(diff_id(1))  # said once per process, not per use
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and how in err and str(root) in err
    assert not (root / f"sha256-{2:064x}.{cache_mod.INDEX_FORMAT}.layer").exists()


def test_the_command_line_warns_and_runs_without_the_cache(tmp_path: Path) -> None:
    path = archive(tmp_path, "a.tar", BASE)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    res = cli(str(path), "--json", str(tmp_path / "o.json"), "--cache-dir", str(shared))
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("\n") == 1 and "writable by others" in res.stderr
    assert list(shared.iterdir()) == []


def _planted(store: LayerCache, n: int = 1) -> Path:
    store.put(diff_id(99), sample_index())  # the directory exists, and is ours
    return _entry_path(store, n)


def test_a_symlink_under_an_entry_name_is_not_followed(store: LayerCache, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    store.put(diff_id(1), sample_index())
    os.replace(_entry_path(store, 1), elsewhere)  # a valid entry, reached through a link
    os.symlink(elsewhere, _entry_path(store, 1))
    assert store.get(diff_id(1)) is None and not store.has(diff_id(1))
    assert elsewhere.exists()


def test_a_fifo_under_an_entry_name_is_not_waited_on(store: LayerCache) -> None:
    fifo = _planted(store)
    os.mkfifo(fifo)
    answers: list = []
    reader = threading.Thread(
        target=lambda: answers.extend([store.get(diff_id(1)), store.has(diff_id(1))]),
        daemon=True,
    )
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "blocked opening a FIFO"
    assert answers == [None, False]


def test_listing_and_clearing_see_whatever_is_there(store: LayerCache, tmp_path) -> None:
    target = tmp_path / "precious"
    target.write_text("not the cache's")
    link = _planted(store, 1)
    os.symlink(target, link)
    os.mkfifo(_entry_path(store, 2))
    (_entry_path(store, 3)).mkdir()
    (_entry_path(store, 3) / "inside").write_text("x")
    listed = {e.name: e.kind for e in store.entries()}
    assert [listed[_entry_path(store, n).name] for n in (1, 2, 3)] == ["invalid"] * 3
    count, _freed = store.clear()
    assert count == 4
    assert list(store.root.iterdir()) == []
    assert target.read_text() == "not the cache's"  # the link went, not what it points to


def test_eviction_removes_what_is_never_an_entry(store: LayerCache) -> None:
    fifo = _planted(store)
    os.mkfifo(fifo)
    store.evict()
    assert not os.path.lexists(fifo)
    assert [e.kind for e in store.entries()] == ["layer"]


# -- well-checksummed payloads of the wrong types (issue 12 §2) ----------------------------------


def _damaged(**fields) -> LayerIndex:
    idx = sample_index()
    for name, value in fields.items():
        setattr(idx, name, value)
    return idx


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(_damaged(paths=[1, 2, 3]), id="paths-of-ints"),
        pytest.param(_damaged(paths=[b"a", b"b", b"c"]), id="paths-of-bytes"),
        pytest.param(_damaged(links={1: 5}), id="link-target-not-str"),
        pytest.param(_damaged(links={"1": "x"}), id="link-key-not-int"),
        pytest.param(_damaged(links={7: "x"}), id="link-of-no-entry"),
        pytest.param(_damaged(sizes=array("d", [1.0, 2.0, 3.0])), id="sizes-of-floats"),
        pytest.param(_damaged(types=array("q", [1, 2, 3])), id="types-wrong-typecode"),
        pytest.param(_damaged(warnings=[None]), id="warnings-not-str"),
        pytest.param(_damaged(tar_size="4096"), id="tar-size-not-int"),
        pytest.param(_damaged(whiteouts=1.5), id="whiteouts-not-int"),
    ],
)
def test_a_payload_of_the_wrong_types_is_dropped(store: LayerCache, index: LayerIndex) -> None:
    payload = pickle.dumps(index, protocol=5)
    store._write(_entry_path(store, 1), KIND_LAYER, diff_id(1), payload, 3, 0, cache_mod.VERIFIED)
    assert store.has(diff_id(1))  # the checksum is good: only decoding tells
    assert store.get(diff_id(1)) is None
    assert not _entry_path(store, 1).exists() and store.stats.discarded == 1
    with pytest.raises(ValueError):
        decode_index(payload)


def test_a_payload_missing_a_field_is_dropped(store: LayerCache) -> None:
    index = sample_index()
    del index.__dict__["links"]
    payload = pickle.dumps(index, protocol=5)
    store._write(_entry_path(store, 1), KIND_LAYER, diff_id(1), payload, 3, 0, cache_mod.VERIFIED)
    assert store.get(diff_id(1)) is None


def test_an_ill_typed_entry_is_rebuilt_by_the_command_line(tmp_path: Path) -> None:
    """It used to end every later open in `internal error` (exit 3)."""
    path = archive(tmp_path, "a.tar", BASE)
    cache_dir = tmp_path / "cache"
    assert (
        cli(str(path), "--json", str(tmp_path / "1.json"), "--cache-dir", str(cache_dir)).returncode
        == 0
    )
    store = LayerCache(cache_dir)
    [entry] = [e for e in store.entries() if e.kind == "layer"]
    bad = pickle.dumps(_damaged(paths=[1, 2, 3]), protocol=5)
    store._write(cache_dir / entry.name, KIND_LAYER, entry.key, bad, 3, 0, cache_mod.VERIFIED)
    res = cli(str(path), "--json", str(tmp_path / "2.json"), "--cache-dir", str(cache_dir))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "1.json").read_bytes() == (tmp_path / "2.json").read_bytes()
    assert LayerCache(cache_dir).get(entry.key) is not None  # rebuilt
