"""The analysis cache (issue 4): an image's efficiency and reclaimable bytes stored under the
ordered diff_ids of its layers, so a warm re-open shows the score without recomputing it.
Hits and misses, the key's dependence on layer order, corrupt entries recomputed, --no-cache,
listing/clearing/eviction, and the TUI worker posting a cached analysis."""

from __future__ import annotations

import io
import os
import pickle
from array import array
from pathlib import Path

import pytest

from explorer.core import cache as cache_mod
from explorer.core import cachesettings
from explorer.core.analysis import analyze, cached_analysis, index_all
from explorer.core.cache import HEADER_SIZE, KIND_ANALYSIS, LayerCache
from explorer.core.cachecodec import (
    ANALYSIS_SCHEMA,
    analysis_key,
    decode_analysis,
    encode_analysis,
)
from explorer.core.efficiency import DiveEfficiency, WasteRow, dive_efficiency
from explorer.core.reclaim import DELETED, OVERWRITTEN, HiddenBytes, Reclaimable, reclaimable
from explorer.core.sources import open_source
from explorer.core.sources.archive import ArchiveSource
from tests.robustness import builders as b
from tests.unit.cache_helpers import settled
from tests.unit.helpers import image_archive

# Waste of every kind: a chmod copy, a whiteout, an opaque directory, a type change.
LAYERS = [
    [
        b.directory("etc"),
        b.file("etc/os-release", b"ID=debian\n"),
        b.directory("opt"),
        b.file("opt/big.bin", b"x" * 5000),
        b.directory("var/cache"),
        b.file("var/cache/a", b"a" * 700),
        b.file("srv", b"s" * 300),
    ],
    [b.file("opt/big.bin", b"x" * 5000, mode=0o600), b.file("etc/motd", b"hello\n")],
    [b.whiteout("opt/big.bin"), b.opaque("var/cache"), b.file("var/cache/b", b"b")],
    [b.directory("srv"), b.file("srv/index.html", b"<html>")],
]


def diff_id(n: int) -> str:
    return f"sha256:{n:064x}"


@pytest.fixture
def store(tmp_path: Path) -> LayerCache:
    return LayerCache(tmp_path / "cache")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return settled(image_archive(tmp_path / "img", *LAYERS))


def analysis_files(store: LayerCache) -> list[Path]:
    return sorted(store.root.glob("analysis-*.analysis")) if store.root.exists() else []


# -- the entry ---------------------------------------------------------------------------------


def test_cached_analysis_equals_a_fresh_one(image: Path, store: LayerCache) -> None:
    meta, layers = index_all(ArchiveSource(str(image), cache=store))
    fresh = (dive_efficiency(layers), reclaimable(layers))
    assert fresh[1].rows, "the test image must have reclaimable bytes"
    assert {r.reason for r in fresh[1].rows} >= {OVERWRITTEN, DELETED}
    assert fresh[0].rows and fresh[0].score < 1.0

    first = analyze(meta, layers, store)
    assert not first.cached
    assert len(analysis_files(store)) == 1

    meta2, layers2 = index_all(ArchiveSource(str(image), cache=store))
    second = analyze(meta2, layers2, store)
    assert second.cached
    assert second.efficiency == fresh[0]
    assert second.reclaimable == fresh[1]
    assert second.efficiency.user_wasted_percent == fresh[0].user_wasted_percent
    assert second.reclaimable.by_layer() == fresh[1].by_layer()
    assert [type(r) for r in second.efficiency.rows] == [WasteRow] * len(fresh[0].rows)


def test_miss_then_hit_counts(store: LayerCache) -> None:
    eff = DiveEfficiency(0.5, 20, 100, 60, [WasteRow("/a", 2, 20, 10)])
    rec = Reclaimable(10, [HiddenBytes("/a", 10, 0, 1, OVERWRITTEN)])
    ids = [diff_id(1), diff_id(2)]
    assert store.get_analysis(ids) is None
    assert store.put_analysis(ids, eff, rec)
    assert store.get_analysis(ids) == (eff, rec, [])
    assert (store.stats.misses, store.stats.hits, store.stats.writes) == (1, 1, 1)
    assert store.get_analysis(ids[:1]) is None  # another image (one layer less)


def test_key_depends_on_layer_order(store: LayerCache) -> None:
    a, b_ = diff_id(1), diff_id(2)
    assert analysis_key([a, b_]) != analysis_key([b_, a])
    assert analysis_key([a, b_]) == analysis_key([a, b_])
    eff = DiveEfficiency(1.0, 0, 10, 5, [])
    store.put_analysis([a, b_], eff, Reclaimable(0))
    assert store.get_analysis([a, b_]) is not None
    assert store.get_analysis([b_, a]) is None


def test_unverifiable_diff_ids_are_never_keys(store: LayerCache) -> None:
    eff = DiveEfficiency(1.0, 0, 10, 5, [])
    for ids in ([], ["sha256:../../x"], [diff_id(1), "sha512:" + "0" * 128], ["md5:" + "0" * 64]):
        assert analysis_key(ids) is None
        assert not store.put_analysis(ids, eff, Reclaimable(0))
    assert analysis_files(store) == []


def test_rows_of_100k_files_round_trip(store: LayerCache) -> None:
    rows = [WasteRow(f"/usr/lib/d{i % 100}/f{i}", 2, 512, 256) for i in range(100_000)]
    hidden = [HiddenBytes(r.path, 256, 0, 1, OVERWRITTEN) for r in rows]
    eff = DiveEfficiency(0.5, 512 * len(rows), 1 << 26, 1 << 25, rows)
    rec = Reclaimable(256 * len(rows), hidden)
    ids = [diff_id(1), diff_id(2)]
    assert store.put_analysis(ids, eff, rec)
    got = store.get_analysis(ids)
    assert got is not None
    assert got[0] == eff and got[1] == rec


# -- damaged entries ---------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["flip", "truncate", "header", "empty"])
def test_corrupt_entry_is_discarded_and_rebuilt(
    image: Path, store: LayerCache, damage: str
) -> None:
    meta, layers = index_all(ArchiveSource(str(image), cache=store))
    expected = analyze(meta, layers, store)
    [path] = analysis_files(store)
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-3] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: HEADER_SIZE + (len(raw) - HEADER_SIZE) // 2]
    elif damage == "header":
        raw[0:8] = b"NOTCACHE"
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))

    assert store.get_analysis([lm.digest for lm in meta.layers]) is None
    assert not path.exists(), "a bad entry is deleted"
    again = analyze(meta, layers, store)
    assert not again.cached
    assert again.efficiency == expected.efficiency
    assert again.reclaimable == expected.reclaimable
    assert path.exists(), "and written again"
    assert analyze(meta, layers, store).cached


def _write_raw(store: LayerCache, ids: list[str], payload: bytes) -> Path:
    key = analysis_key(ids)
    path = store.root / f"analysis-{key}.{cache_mod.INDEX_FORMAT}.analysis"
    assert store._write(path, KIND_ANALYSIS, f"analysis:{key}", payload, 0, 0)
    return path


def _good_value() -> list:
    eff = DiveEfficiency(0.5, 20, 100, 60, [WasteRow("/a", 2, 20, 10)])
    rec = Reclaimable(10, [HiddenBytes("/a", 10, 0, 1, OVERWRITTEN)])
    return list(pickle.loads(encode_analysis(eff, rec)))


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(os.system, protocol=5),  # names a callable: refused by the unpickler
        pickle.dumps(("not", "an", "analysis")),
        pickle.dumps({"a": 1}),
        b"\x80\x05garbage",
    ],
)
def test_well_checksummed_but_wrong_payload_is_a_miss(store: LayerCache, payload: bytes) -> None:
    ids = [diff_id(1)]
    path = _write_raw(store, ids, payload)
    assert store.get_analysis(ids) is None
    assert not path.exists()
    assert store.stats.discarded == 1


@pytest.mark.parametrize(
    "patch",
    [
        lambda v: v.__setitem__(0, ANALYSIS_SCHEMA ^ 1),  # another analysis format
        lambda v: v.__setitem__(3, array("q")),  # a column shorter than its paths
        lambda v: v.__setitem__(11, ["nonsense"]),  # a reason we do not know
        lambda v: v.__setitem__(12, array("q", [5])),  # a reason code out of range
        lambda v: v.__setitem__(1, ("0.5", 20, 100, 60)),  # a score that is not a number
        lambda v: v.__setitem__(2, [b"/a"]),  # a path that is not text
    ],
)
def test_damaged_columns_are_a_miss(store: LayerCache, patch) -> None:
    value = _good_value()
    patch(value)
    ids = [diff_id(1)]
    _write_raw(store, ids, pickle.dumps(tuple(value), protocol=5))
    assert store.get_analysis(ids) is None
    with pytest.raises(ValueError):
        decode_analysis(pickle.dumps(tuple(value), protocol=5))


def test_unpickler_knows_no_other_class() -> None:
    payload = pickle.dumps((ANALYSIS_SCHEMA, io.BytesIO(b"")), protocol=5)
    with pytest.raises(ValueError):
        decode_analysis(payload)


# -- the cache's housekeeping ------------------------------------------------------------------


def test_listed_cleared_and_evicted_with_the_rest(image: Path, store: LayerCache) -> None:
    meta, layers = index_all(ArchiveSource(str(image), cache=store))
    analyze(meta, layers, store)
    kinds = [e.kind for e in store.entries()]
    assert kinds.count("analysis") == 1 and kinds.count("layer") == len(LAYERS)
    [entry] = [e for e in store.entries() if e.kind == "analysis"]
    assert entry.entries == len(analyze(meta, layers, store).efficiency.rows) + len(
        analyze(meta, layers, store).reclaimable.rows
    )
    assert entry.key == analysis_key([lm.digest for lm in meta.layers])
    assert store.size() == sum(e.size for e in store.entries())

    # Least recently used first: the analysis, untouched since, goes before the layers.
    os.utime(store.root / entry.name, (1, 1))
    store.cap = store.size() - 1
    assert store.evict() == 1
    assert analysis_files(store) == []
    assert len(store.entries()) == len(LAYERS) + 1  # and the record of the archive file

    store.cap = cache_mod.DEFAULT_CAP
    assert not analyze(meta, layers, store).cached
    count, _freed = store.clear()
    assert count == len(LAYERS) + 2
    assert store.entries() == []


def test_layerscope_cache_lists_analyses(image: Path, tmp_path: Path, capsys) -> None:
    from explorer.cli import main

    root = tmp_path / "cli-cache"
    meta, layers = index_all(ArchiveSource(str(image), cache=LayerCache(root)))
    analyze(meta, layers, LayerCache(root))
    assert main(["--cache-dir", str(root), "cache"]) == 0
    out = capsys.readouterr().out
    assert "1 analysis" in out and "older format" not in out
    key = analysis_key([lm.digest for lm in meta.layers])
    [line] = [line for line in out.splitlines() if line.endswith(f" {key}")]
    assert line.split()[-2] == "analysis"


# -- the source's cache, --no-cache, the TUI worker --------------------------------------------


def test_source_cache_follows_the_process_settings(image: Path, tmp_path: Path) -> None:
    with cachesettings.configured(root=tmp_path / "on"):
        cache = (open_source(str(image))).cache
        assert cache is not None and cache.root == tmp_path / "on"
    with cachesettings.configured(root=tmp_path / "on", enabled=False):
        assert (open_source(str(image))).cache is None
    given = LayerCache(tmp_path / "given")
    assert (ArchiveSource(str(image), cache=given)).cache is given
    assert (ArchiveSource(str(image), cache=None)).cache is None


def test_cached_analysis_needs_only_the_metadata(image: Path, store: LayerCache) -> None:
    meta, layers = index_all(ArchiveSource(str(image), cache=store))
    assert cached_analysis(meta, store) is None
    analyze(meta, layers, store)
    meta_only = ArchiveSource(str(image), cache=store).open()
    known = cached_analysis(meta_only, store)
    assert known is not None and known[0] == dive_efficiency(layers)
    assert cached_analysis(meta_only, None) is None
