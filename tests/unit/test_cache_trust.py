"""The layer cache trusts only bytes it has verified (issue 12 §1): a cached index stands for
an archive's layer only when these very bytes were hashed to that diff_id before (the same
unchanged file, or a blob whose diff_id was verified when it was first read); otherwise the
layer is hashed first, and a config that claims a cached layer's diff_id for other bytes is
refused exactly as a cold open refuses it — for legacy, gzip-layer, OCI, OCI-directory and
compressed archives, warm and cold. `--verify` hashes every layer."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from explorer.core import cachesettings
from explorer.core.analysis import index_all
from explorer.core.cache import LayerCache
from explorer.core.errors import ImageError
from explorer.core.sources import workers as workers_mod
from explorer.core.sources.archive import ArchiveSource
from explorer.core.sources.proofs import FileId
from tests.robustness import builders as b
from tests.unit.cache_helpers import (
    BASE,
    archive,
    cli,
    count_hashing,
    count_indexing,
    export_of,
    open_all,
    settled,
)

GOOD = [b.directory("etc"), b.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")]
EVIL = [
    b.directory("etc"),
    b.file("etc/passwd", b"root::0:0:root:/root:/bin/sh\n"),
    b.file("usr/bin/backdoor", b"\x7fELF" + bytes(4000)),
]
TOP = [b.file("app/main.py", b"print('hello')\n")]
KINDS = ["legacy", "gzip-layers", "oci", "oci-dir", "tar.gz", "oci.tar.gz"]


@pytest.fixture
def store(tmp_path: Path) -> LayerCache:
    return LayerCache(tmp_path / "cache")


@pytest.fixture
def indexed(monkeypatch) -> list[str]:
    return count_indexing(monkeypatch)


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    return count_hashing(monkeypatch)


def good_diff_id() -> str:
    return b.encode_layer(b.Layer(entries=GOOD)).diff_id


def build(kind: str, tmp: Path, entries: list, claim: str | None = None) -> Path:
    """An image in archive format `kind`: a layer of `entries` (its config claiming `claim`
    as its diff_id, if given) and a top layer."""
    packed = "none" if kind in ("legacy", "tar.gz") else "gzip"
    image = b.Image(
        layers=[
            b.Layer(entries=entries, diff_id=claim, compression=packed),
            b.Layer(entries=TOP, compression=packed),
        ]
    )
    tmp.mkdir(parents=True, exist_ok=True)
    arc = b.docker_archive(image) if kind in ("legacy", "gzip-layers", "tar.gz") else None
    arc = arc or b.oci_archive(image)
    if kind == "oci-dir":
        return settled(arc.write_dir(tmp / "oci"))
    path = arc.write_tar(tmp / "image.tar")
    if kind.endswith(".gz"):
        packed_path = tmp / "image.tar.gz"
        packed_path.write_bytes(gzip.compress(path.read_bytes(), 1))
        path.unlink()
        path = packed_path
    return settled(path)


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_config_claiming_a_cached_layers_diff_id_is_refused(
    tmp_path: Path, store: LayerCache, kind: str, warm: bool
) -> None:
    """The poisoned cache: an image whose config claims the diff_id of a layer seen before,
    while shipping other bytes, is refused whether or not that layer is cached."""
    if warm:
        good = build(kind, tmp_path / "good", GOOD)
        meta, layers = open_all(good, store)
        assert meta.layers[0].digest == good_diff_id()
        assert "etc/passwd" in layers[0].paths
        assert store.has(good_diff_id())
    evil = build(kind, tmp_path / "evil", EVIL, claim=good_diff_id())
    with pytest.raises(ImageError, match="diff_id") as raised:
        open_all(evil, store)
    assert good_diff_id() in str(raised.value)
    with pytest.raises(ImageError, match="diff_id"):  # and again: nothing was learnt from it
        open_all(evil, store)


@pytest.mark.parametrize("kind", ["legacy", "gzip-layers", "oci", "tar.gz"])
def test_the_command_line_refuses_a_poisoned_image_in_one_line(tmp_path: Path, kind: str) -> None:
    """`layerscope POISONED --ci` after the genuine image was opened: exit 2, one line
    naming the diff_id, no verdict."""
    cache = tmp_path / "cache"
    good = build(kind, tmp_path / "good", GOOD)
    assert cli(str(good), "--ci", "--cache-dir", str(cache)).returncode == 0
    evil = build(kind, tmp_path / "evil", EVIL, claim=good_diff_id())
    res = cli(str(evil), "--ci", "--cache-dir", str(cache))
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.count("\n") == 1 and "diff_id" in res.stderr
    assert "PASS" not in res.stdout and "backdoor" not in res.stdout


def test_a_layer_replaced_in_place_is_refused(tmp_path: Path, store: LayerCache) -> None:
    """The archive a layer was hashed from changes (same size, other bytes): its record no
    longer matches the file, so the layer is hashed again, and refused."""
    path = archive(tmp_path, "a.tar", BASE, GOOD)
    open_all(path, store)
    source = ArchiveSource(str(path), cache=None)
    source.open()
    member = source._members[source._layer_members[1]]
    data = bytearray(path.read_bytes())
    at = data.find(b"root:x:", member.offset, member.offset + member.size)
    data[at + 5] = ord("!")  # root's password field, inside the layer's tar
    with open(path, "r+b") as f:
        f.write(data)
    settled(path)
    with pytest.raises(ImageError, match="does not match the config's diff_id"):
        open_all(path, store)


def test_a_truncated_archive_is_refused_warm(tmp_path: Path, store: LayerCache) -> None:
    """An archive cut short after its layers were cached: refused, not shown from the cache."""
    path = archive(tmp_path, "a.tar", BASE, [b.file("big", bytes(100_000))])
    open_all(path, store)
    b.truncate(path, path.stat().st_size - 60_000)
    settled(path)
    with pytest.raises(ImageError):
        open_all(path, store)


def test_warm_reopen_reads_no_layer(tmp_path: Path, store, indexed, hashed) -> None:
    """The same unchanged archive reopens without reading any layer (one record for the file)."""
    path = archive(tmp_path, "a.tar", BASE, GOOD)
    cold = open_all(path, store)
    assert len(indexed) == 2
    indexed.clear()
    warm = open_all(path, store)
    assert indexed == [] and hashed == []  # the same unchanged file: nothing read
    assert export_of(*warm) == export_of(*cold)
    files = [e for e in store.entries() if e.kind == "image" and e.source == "file"]
    assert len(files) == 1  # one record for the archive file


def test_a_copy_is_hashed_once_not_indexed(tmp_path: Path, store, indexed, hashed) -> None:
    """Another file with the same layers: each is hashed (not indexed) before its cached
    index stands for it, and after that the copy reopens without reading."""
    path = archive(tmp_path, "a.tar", BASE, GOOD)
    cold = open_all(path, store)
    copy = tmp_path / "copy.tar"
    shutil.copyfile(path, copy)
    settled(copy)
    indexed.clear()
    assert export_of(*open_all(copy, store)) == export_of(*cold)
    assert indexed == [] and sorted(hashed) == ["hash", "hash"]
    hashed.clear()
    open_all(copy, store)
    assert hashed == []


@pytest.mark.parametrize("layout", ["oci-gzip", "oci-dir"])
def test_a_verified_blob_is_only_hashed_by_its_name(
    tmp_path: Path, store, indexed, hashed, layout
) -> None:
    """A gzip blob whose diff_id was verified when it was first read: in another file, its
    stored bytes are hashed to match its name (no decompression)."""
    kind = "oci" if layout == "oci-gzip" else "oci-dir"
    first = build(kind, tmp_path / "one", GOOD)
    cold = open_all(first, store)
    second = build(kind, tmp_path / "two", GOOD)
    indexed.clear()
    assert export_of(*open_all(second, store)) == export_of(*cold)
    assert indexed == [] and sorted(hashed) == ["blob", "blob"]


def test_a_blob_not_matching_its_name_is_refused_warm(tmp_path: Path, store) -> None:
    """A blob named like a verified one but holding other bytes: refused as a digest mismatch."""
    open_all(build("oci", tmp_path / "good", GOOD), store)
    arc = b.oci_archive(b.Image(layers=[b.Layer(entries=GOOD, compression="gzip")]))
    name = arc.layer_paths[0]
    arc[name] = gzip.compress(b.tar_bytes(EVIL))  # the name of the good blob, other bytes
    path = settled(arc.write_tar(tmp_path / "bad.tar"))
    with pytest.raises(ImageError, match="does not match its content"):
        open_all(path, store)


def test_verify_hashes_every_layer(tmp_path: Path, indexed, hashed) -> None:
    """With --verify (the cache's `verify`), every layer is hashed even when the file is known."""
    path = archive(tmp_path, "a.tar", BASE, GOOD, TOP)
    cache_dir = tmp_path / "cache"
    open_all(path, LayerCache(cache_dir))
    indexed.clear()
    open_all(path, LayerCache(cache_dir, verify=True))
    assert indexed == [] and hashed == ["hash"] * 3
    from explorer import cli as cli_mod

    args = cli_mod.build_parser().parse_args([str(path), "--verify"])
    with cli_mod._cache_settings(args):
        assert cachesettings.default_cache().verify
    with cli_mod._cache_settings(cli_mod.build_parser().parse_args([str(path)])):
        assert not cachesettings.default_cache().verify


def test_verify_on_the_command_line(tmp_path: Path) -> None:
    """--verify does not take a file's record on trust: on a file system whose timestamps do
    not change when a file is rewritten (simulated by recording the rewritten file), a
    replaced layer is shown without it and refused with it."""
    cache = tmp_path / "cache"
    path = build("legacy", tmp_path / "good", GOOD)
    assert cli(str(path), "--ci", "--cache-dir", str(cache)).returncode == 0
    before = FileId.of(str(path))
    data = path.read_bytes().replace(b"root:x:", b"root:!:")
    with open(path, "r+b") as f:
        f.write(data)
    settled(path)
    store = LayerCache(cache)
    store.put_image("file", FileId.of(str(path)).key, store.get_image("file", before.key))
    assert cli(str(path), "--ci", "--cache-dir", str(cache)).returncode == 0
    res = cli(str(path), "--ci", "--cache-dir", str(cache), "--verify")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "diff_id" in res.stderr


def test_shared_base_layer_is_indexed_once(tmp_path: Path, store, indexed, hashed) -> None:
    """A base layer shared by two images is indexed once; in the second image it is only hashed."""
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
    assert hashed == ["hash"]  # the base layer of two.tar: hashed, not indexed
    assert sorted(layers2[1].paths) == ["app/two", "app/x"]
    assert len([e for e in store.entries() if e.kind == "layer"]) == 3


def test_no_read_of_cached_layers(tmp_path: Path, store, monkeypatch) -> None:
    """A verified layer's blob is not opened at all: a window opens for the missing one."""
    path = archive(tmp_path, "a.tar", BASE, [b.file("x", b"x")], [b.file("y", b"y")])
    meta, _ = open_all(path, store)
    missing = meta.layers[1].digest
    os.unlink(store.root / f"{missing.replace(':', '-')}.{store_format()}.layer")
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


def store_format() -> int:
    from explorer.core.cache import INDEX_FORMAT

    return INDEX_FORMAT


def test_corrupt_entry_is_rebuilt(tmp_path: Path, store: LayerCache, indexed) -> None:
    """A truncated entry is rebuilt from the archive; the other layer is still served."""
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
    path = settled(b.docker_archive(b.Image(layers=[liar])).write_tar(tmp_path / "liar.tar"))
    with pytest.raises(ImageError, match="diff_id"):
        open_all(path, store)
    assert store.entries() == []


def test_an_unchecked_digest_algorithm_is_never_cached(tmp_path: Path, store) -> None:
    """Only sha256 diff_ids are checked against a layer's bytes: a layer claimed by another
    algorithm is indexed every time and never cached, so it cannot stand for another."""
    claim = "sha512:" + "ab" * 64
    layer = b.Layer(entries=EVIL, diff_id=claim)
    path = settled(b.docker_archive(b.Image(layers=[layer])).write_tar(tmp_path / "a.tar"))
    open_all(path, store)
    assert not store.put(claim, open_all(path, None)[1][0])
    assert [e.kind for e in store.entries() if e.kind == "layer"] == []


def test_what_archives_cache_is_verified(tmp_path: Path, store) -> None:
    """Every layer entry an archive writes is marked verified (its bytes hashed to its key)."""
    open_all(archive(tmp_path, "a.tar", BASE), store)
    assert [e.verified for e in store.entries() if e.kind == "layer"] == [True]


@pytest.mark.parametrize("layout", ["oci-dir", "oci-gzip-tar"])
def test_oci_layouts_use_the_cache(tmp_path: Path, store, indexed, hashed, layout) -> None:
    """OCI directories and gzip OCI archives reopen from the cache without reading a layer."""
    compression = "gzip" if layout == "oci-gzip-tar" else "none"
    image = b.Image(
        layers=[
            b.Layer(entries=BASE, compression=compression),
            b.Layer(entries=[b.file("a", b"a")], compression=compression),
        ]
    )
    arc = b.oci_archive(image)
    path = settled(
        arc.write_dir(tmp_path / "oci")
        if layout == "oci-dir"
        else arc.write_tar(tmp_path / "o.tar")
    )
    if layout == "oci-dir":
        for blob in (path / "blobs" / "sha256").iterdir():
            settled(blob)
    cold = open_all(path, store)
    assert len(indexed) == 2
    indexed.clear()
    assert export_of(*open_all(path, store)) == export_of(*cold)
    assert indexed == [] and hashed == []


def test_index_all_of_a_cached_image_is_the_same(tmp_path: Path, store) -> None:
    """Cold, warm and uncached opens give byte-identical exports."""
    path = archive(tmp_path, "a.tar", BASE, GOOD)
    cold = index_all(ArchiveSource(str(path), cache=store))
    warm = index_all(ArchiveSource(str(path), cache=store))
    assert export_of(*warm) == export_of(*cold) == export_of(*open_all(path, None))


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
    """An engine image (the engine's own diff_ids are trusted) reopens without an export;
    with one layer evicted, only that one is parsed."""
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


@pytest.mark.parametrize("kind", ["oci", "oci-dir"])
def test_one_blob_claimed_under_two_diff_ids_is_refused(tmp_path: Path, kind: str) -> None:
    """A manifest naming the same blob for two layers whose config gives two diff_ids: the
    second claim cannot be true (it used to be taken as is, and would key the analysis of
    another image's stack)."""
    image = b.Image(layers=[b.Layer(entries=GOOD), b.Layer(entries=TOP)])
    arc = b.oci_archive(image)
    manifest = json.loads(arc[arc.manifest_path])
    manifest["layers"][1] = manifest["layers"][0]  # the first blob twice
    data = json.dumps(manifest).encode()
    arc.remove(arc.manifest_path)
    new_name = "blobs/sha256/" + hashlib.sha256(data).hexdigest()
    arc[new_name] = data
    index = json.loads(arc["index.json"])
    index["manifests"][0].update(digest="sha256:" + new_name.rsplit("/")[-1], size=len(data))
    arc.set_json("index.json", index)
    tmp_path.mkdir(exist_ok=True)
    path = (
        arc.write_dir(tmp_path / "oci") if kind == "oci-dir" else arc.write_tar(tmp_path / "a.tar")
    )
    with pytest.raises(ImageError, match="diff_id"):
        open_all(settled(path), None)
