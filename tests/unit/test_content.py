"""Content access (explorer.core.content): the bytes every layer wrote, from every kind of
archive, against Python's `tarfile` reading the same layer blobs; the stacked view (whiteouts,
opaque directories, type changes), links, windows, and the files kept in the cache."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
import threading
from pathlib import Path

import pytest
import zstandard

from explorer.core import cachefiles
from explorer.core.cache import LayerCache
from explorer.core.content import open_content
from explorer.core.errors import ImageError
from tests.robustness import builders as b

BIG = b.noise(9 << 20, b"big")  # incompressible: a gzip blob of several checkpoint intervals
LAYERS = [
    [
        b.directory("etc", mode=0o755),
        b.file("etc/a", b"alpha\n"),
        b.symlink("etc/link", "a"),
        b.directory("usr/bin"),
        b.file("usr/bin/tool", b.noise(3 << 20, b"tool"), mode=0o755),
        b.symlink("bin", "usr/bin"),
        b.file("usr/lib/x", b"x\n"),
        b.file("usr/lib/deep/er/file", b"deep\n"),
    ],
    [
        b.whiteout("etc/a"),
        b.file("etc/b", b"beta\n"),
        b.hardlink("etc/hb", "etc/b"),
        b.opaque("usr/lib"),
        b.file("usr/lib/y", b"y\n"),
        b.file("big", BIG),
    ],
    [
        b.file("etc/a", b"alpha again\n"),
        b.file("usr/bin", b"a file where a directory was\n"),
        b.hardlink("etc/old", "etc/b"),  # a hardlink to a file of a lower layer
    ],
]


def _image(compression: str) -> b.Image:
    return b.Image(
        layers=[
            b.Layer(entries=list(e), compression=compression, command=f"step {i}")
            for i, e in enumerate(LAYERS)
        ]
    )


def _write(kind: str, tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    if kind == "legacy":
        return b.docker_archive(_image("none")).write_tar(tmp / "legacy.tar")
    if kind == "docker25":
        return b.docker25_archive(_image("none")).write_tar(tmp / "d25.tar")
    if kind == "oci-gzip":
        return b.oci_archive(_image("gzip")).write_tar(tmp / "gzip.tar")
    if kind == "oci-zstd":
        return b.oci_archive(_image("zstd")).write_tar(tmp / "zstd.tar")
    if kind == "oci-dir":
        return b.oci_archive(_image("gzip")).write_dir(tmp / "layout")
    assert kind == "gzipped-save"  # `docker save | gzip`: read front to back only
    plain = b.docker_archive(_image("none")).write_tar(tmp / "plain.tar")
    out = tmp / "saved.tar.gz"
    out.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    return out


def _oracle() -> list[dict[str, bytes]]:
    """Each layer's regular files as Python's tarfile reads them."""
    out = []
    for layer in _image("none").layers:
        tar = b.encode_layer(layer).blob
        files = {}
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            for m in tf.getmembers():
                if m.isfile():
                    files[m.name] = tf.extractfile(m).read()  # type: ignore[union-attr]
        out.append(files)
    return out


KINDS = ["legacy", "docker25", "oci-gzip", "oci-zstd", "oci-dir", "gzipped-save"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_file_of_every_layer_reads_as_tarfile_does(kind: str, tmp_path: Path) -> None:
    path = _write(kind, tmp_path)
    rng = random.Random(kind)
    with open_content(str(path)) as acc:
        for n, files in enumerate(_oracle()):
            for name, data in files.items():
                assert acc.read(n, "/" + name) == data, (kind, n, name)
                if len(data) > 1000:  # windows anywhere, in any order
                    for _ in range(5):
                        at = rng.randrange(len(data))
                        size = rng.randrange(1, 200_000)
                        assert acc.read(n, name, at, size) == data[at : at + size]


@pytest.mark.parametrize("kind", ["legacy", "oci-gzip", "oci-zstd"])
def test_a_stream_is_windowed_and_seekable(kind: str, tmp_path: Path) -> None:
    with open_content(str(_write(kind, tmp_path))) as acc, acc.open(1, "big") as f:
        assert f.seekable() and f.readable() and not f.writable()
        assert f.seek(0, io.SEEK_END) == len(BIG)
        f.seek(len(BIG) - 10)
        assert f.read() == BIG[-10:]
        f.seek(5)
        assert f.read(7) == BIG[5:12]
        assert f.read(3) == BIG[12:15]  # on from where it was
        f.seek(0)
        parts = []
        while chunk := f.read(1 << 20):
            parts.append(chunk)
        assert b"".join(parts) == BIG


def test_the_stacked_view_as_of_each_layer(tmp_path: Path) -> None:
    with open_content(str(_write("legacy", tmp_path))) as acc:
        assert acc.visible("/etc/a", 0).layer == 0  # type: ignore[union-attr]
        assert acc.visible("/etc/a", 1) is None  # deleted by a whiteout
        assert acc.visible("/etc/a").layer == 2  # type: ignore[union-attr]
        assert acc.visible("usr/lib/x", 0) is not None
        assert acc.visible("usr/lib/x", 1) is None  # hidden by the opaque directory
        assert acc.visible("usr/lib/y", 1) is not None  # written by the opaque layer itself
        assert acc.visible("usr/bin/tool", 1) is not None
        assert acc.visible("usr/bin/tool", 2) is None  # its directory became a file
        assert [e.layer for e in acc.versions("/etc/a")] == [0, 2]
        assert acc.entry(1, "etc/a") is None
        assert acc.entry(1, ".wh.nothing") is None
        with pytest.raises(ImageError, match=r"no layer 3 \(the image has 3: 0 to 2\)"):
            acc.visible("etc/a", 3)
        error = acc.absent("/etc/a", 1)
        assert "layer 1 has no /etc/a; it exists in layers 0, 2" in str(error)
        assert "it exists in layer 1" in str(acc.absent("/big", 0))


def test_symlinks_are_followed_inside_the_image(tmp_path: Path) -> None:
    with open_content(str(_write("legacy", tmp_path))) as acc:
        assert acc.visible("etc/link", 0).kind == "symlink"  # type: ignore[union-attr]
        assert acc.resolve("etc/link", 0).path == "etc/a"  # type: ignore[union-attr]
        assert acc.resolve("/bin/tool", 0).path == "usr/bin/tool"  # type: ignore[union-attr]
        assert acc.resolve("etc/link", 1) is None  # its target was deleted
        assert acc.resolve("/../../etc/b", 1).path == "etc/b"  # type: ignore[union-attr]


def test_symlink_loops_are_one_error(tmp_path: Path) -> None:
    path = b.docker_archive(
        b.Image(layers=[b.Layer(entries=[b.symlink("a", "b"), b.symlink("b", "/a")])])
    ).write_tar(tmp_path / "loop.tar")
    with open_content(str(path)) as acc, pytest.raises(ImageError, match="too many levels"):
        acc.resolve("a")


def test_hardlinks_read_their_targets_data(tmp_path: Path) -> None:
    with open_content(str(_write("oci-gzip", tmp_path))) as acc:
        assert acc.entry(1, "etc/hb").kind == "hardlink"  # type: ignore[union-attr]
        assert acc.read(1, "etc/hb") == b"beta\n"
        assert acc.read(2, "etc/old") == b"beta\n"  # its target is in layer 1
        with pytest.raises(ImageError, match="is a symlink, not a file"):
            acc.read(0, "etc/link")
        with pytest.raises(ImageError, match=r"layer 0 holds no /etc/b; it exists in layer 1$"):
            acc.read(0, "etc/b")
        with pytest.raises(ImageError, match="holds no /nothing; no layer has it"):
            acc.read(0, "nothing")


def test_tree_is_the_stacked_subtree(tmp_path: Path) -> None:
    with open_content(str(_write("legacy", tmp_path))) as acc:
        assert [e.path for e in acc.tree("/usr/lib", 0)] == [
            "usr/lib/deep/er/file",
            "usr/lib/x",
        ]
        assert [e.path for e in acc.tree("usr/lib", 1)] == ["usr/lib/y"]
        etc = {e.path: e.layer for e in acc.tree("etc")}
        assert etc == {"etc": 0, "etc/a": 2, "etc/b": 1, "etc/hb": 1, "etc/link": 0, "etc/old": 2}
        assert [e.path for e in acc.tree("usr/bin")] == ["usr/bin"]  # a file now
        assert acc.tree("etc/a", 1) == []


def test_a_whole_layer_reads_as_shipped_uncompressed(tmp_path: Path) -> None:
    for kind in ("legacy", "oci-zstd", "gzipped-save"):
        with open_content(str(_write(kind, tmp_path / kind))) as acc:
            for n, layer in enumerate(_image("none").layers):
                with acc.open_layer(n) as f:
                    assert f.read() == b.encode_layer(layer).blob, (kind, n)


def test_gzip_checkpoints_are_kept_and_reused(tmp_path: Path) -> None:
    path = _write("oci-gzip", tmp_path)
    with open_content(str(path)) as acc:
        assert acc.read(1, "big", len(BIG) - 4) == BIG[-4:]
        digest = acc.source.layer_blob(1)[3]  # type: ignore[index]
        cache = acc.cache
    assert cache is not None
    side = cachefiles.file_path(cache, digest, "gzindex")
    assert side is not None and side.stat().st_size > 0
    assert any(e.kind == "gzindex" for e in cache.entries())
    good = side.read_bytes()
    assert good.startswith(b"LSGZIDX1")
    made = side.stat().st_ino
    with open_content(str(path)) as acc:  # read from the checkpoints, not made again
        assert acc.read(1, "big", 7_000_000, 10) == BIG[7_000_000:7_000_010]
    assert side.stat().st_ino == made
    # A damaged checkpoint file is not trusted: rebuilt, the bytes still right.
    side.write_bytes(good[:40] + b"\0" * 100)
    with open_content(str(path)) as acc:
        assert acc.read(1, "big", 123_456, 1000) == BIG[123_456:124_456]
    assert side.read_bytes() == good
    # One made for other bytes (another blob's) is not used either.
    side.write_bytes(good[:8] + bytes(24) + good[32:])
    with open_content(str(path)) as acc:
        assert acc.read(1, "big", 5_000_000, 1000) == BIG[5_000_000:5_001_000]
    assert side.read_bytes() == good


def test_zstd_of_many_frames_reads_from_the_frame_that_holds_the_bytes(tmp_path: Path) -> None:
    tar = b.tar_bytes([b.file("one", b.noise(300_000, b"1")), b.file("two", b"second\n")])
    # every other frame without its size in its header (counted by decompressing it)
    frames = b"".join(
        zstandard.ZstdCompressor(write_content_size=i % 2 == 0).compress(tar[i : i + 65536])
        for i in range(0, len(tar), 65536)
    )
    frames = b"\x50\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"skip!" + frames
    image = b.Image(layers=[b.Layer(entries=[b.file("x", b"x")], compression="zstd")])
    arc = b.oci_archive(image)
    # The layer replaced by the multi-frame blob, its digests with it.
    old = arc.layer_paths[0]
    arc.remove(old)
    new = "blobs/sha256/" + b.sha256_hex(frames)
    arc[new] = frames
    manifest = b.json.loads(arc[arc.manifest_path])
    config = b.json.loads(arc[arc.config_path])
    config["rootfs"]["diff_ids"] = ["sha256:" + b.sha256_hex(tar)]
    arc.remove(arc.config_path)
    cfg = b.jdump(config)
    arc["blobs/sha256/" + b.sha256_hex(cfg)] = cfg
    manifest["config"] = b.descriptor(b.MT_CONFIG, cfg)
    manifest["layers"][0].update(digest="sha256:" + b.sha256_hex(frames), size=len(frames))
    arc.remove(arc.manifest_path)
    man = b.jdump(manifest)
    arc["blobs/sha256/" + b.sha256_hex(man)] = man
    arc.set_json(
        "index.json", {"schemaVersion": 2, "manifests": [b.descriptor(b.MT_MANIFEST, man)]}
    )
    path = arc.write_tar(tmp_path / "frames.tar")
    with open_content(str(path)) as acc:
        assert acc.read(0, "two") == b"second\n"
        assert acc.read(0, "one", 250_000, 10) == b.noise(300_000, b"1")[250_000:250_010]
        data = acc.layer_data(0)
        assert len(data._frames) == len(range(0, len(tar), 65536))  # type: ignore[attr-defined]
        cache = acc.cache
    assert cache is not None and any(e.kind == "zframes" for e in cache.entries())


def test_the_content_store_needs_the_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_NO_CACHE", "1")
    with (
        open_content(str(_write("gzipped-save", tmp_path))) as acc,
        pytest.raises(ImageError, match="needs the layer cache"),
    ):
        acc.read(0, "etc/a")
    monkeypatch.delenv("LAYERSCOPE_NO_CACHE")
    with open_content(str(_write("gzipped-save", tmp_path))) as acc:
        acc.prepare([0, 1, 2])  # one pass stores them all
        cache = acc.cache
    assert isinstance(cache, LayerCache)
    stored = [e for e in cache.entries() if e.kind == "content"]
    assert len(stored) == 3
    assert {e.key for e in stored} == {lm.digest for lm in acc.meta.layers}
    assert all(os.stat(cache.root / e.name).st_mode & 0o077 == 0 for e in stored)


def test_a_file_where_a_directory_was_hides_what_was_below(tmp_path: Path) -> None:
    path = b.docker_archive(
        b.Image(
            layers=[
                b.Layer(entries=[b.file("opt/app/run", b"1"), b.file("opt/keep", b"2")]),
                b.Layer(entries=[b.file("opt/app", b"now a file")]),
            ]
        )
    ).write_tar(tmp_path / "retyped.tar")
    with open_content(str(path)) as acc:
        # opt/app was never an entry of its own (an implied directory)
        assert [e.path for e in acc.tree("opt", 0)] == ["opt/app/run", "opt/keep"]
        assert [e.path for e in acc.tree("opt")] == ["opt/app", "opt/keep"]
        assert acc.visible("opt/app/run") is None
        assert acc.resolve("opt/app/run") is None
        assert acc.resolve("opt/app/run", 0).layer == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_sparse_files_read_as_tarfile_reads_them(compression: str, tmp_path: Path) -> None:
    entries = [
        b.file("plain", b"p"),
        b.gnu_sparse("holes", 10_000, [(0, b"head"), (9_000, b"tail")]),
        b.pax_sparse("pax", 20_000, [(100, b"AB"), (15_000, b"CD" * 600)]),
        b.gnu_sparse("tail-hole", 5_000, [(10, b"x")]),
        b.file("after", b"z"),
    ]
    layer = b.Layer(entries=entries, compression=compression)
    path = b.oci_archive(b.Image(layers=[layer])).write_tar(tmp_path / "sparse.tar")
    tar = b.encode_layer(b.Layer(entries=entries)).blob
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        expected = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}  # type: ignore[union-attr]
    with open_content(str(path)) as acc:
        for name, data in expected.items():
            assert acc.read(0, name) == data, name
        assert acc.read(0, "pax", 14_990, 30) == expected["pax"][14_990:15_020]
        assert acc.read(0, "tail-hole", 4_990) == bytes(10)


def test_a_sparse_map_that_does_not_hold_is_one_clear_error(tmp_path: Path) -> None:
    # four pieces, the last past the file's end
    bad = b.gnu_sparse("bad", 100, [(0, b"a"), (50, b"b"), (60, b"c"), (99, b"dd")])
    path = b.docker_archive(
        b.Image(layers=[b.Layer(entries=[b.file("plain", b"p"), bad])])
    ).write_tar(tmp_path / "sparse.tar")
    with open_content(str(path)) as acc:
        assert acc.read(0, "plain") == b"p"
        with pytest.raises(ImageError, match=r"/bad is a sparse file that cannot be read: a "):
            acc.read(0, "bad")


def test_extraction_reads_a_compressed_layer_front_to_back_once(
    tmp_path: Path, monkeypatch
) -> None:
    """Files are written in the order their data lies in the layer: a zstd layer of one frame
    is decompressed once, not from its start again for each file."""
    from explorer.core import extract, layerdata

    opened: list[int] = []
    real = layerdata.ZstdData._open_at

    def counting(self, frame: int) -> None:  # type: ignore[no-untyped-def]
        opened.append(frame)
        real(self, frame)

    monkeypatch.setattr(layerdata.ZstdData, "_open_at", counting)
    with open_content(str(_write("oci-zstd", tmp_path))) as acc:
        entries = extract.plan(acc, ["/"], 0)
        done = extract.extract(acc, entries, str(tmp_path / "out"))
    assert len([e for e in entries if e.kind == "file"]) == 4
    assert opened == [0]
    assert (tmp_path / "out" / "usr" / "bin" / "tool").stat().st_size == 3 << 20
    assert sorted(done.written) == sorted(e.path for e in entries)


def test_paging_back_in_a_zstd_layer_does_not_start_over(tmp_path: Path, monkeypatch) -> None:
    from explorer.core import layerdata

    opened: list[int] = []
    real = layerdata.ZstdData._open_at

    def counting(self, frame: int) -> None:  # type: ignore[no-untyped-def]
        opened.append(frame)
        real(self, frame)

    monkeypatch.setattr(layerdata.ZstdData, "_open_at", counting)
    with open_content(str(_write("oci-zstd", tmp_path))) as acc, acc.open(1, "big") as f:
        for at in (8_500_000, 7_900_000, 3_000_000, 100_000):  # back a page, back 5 MiB, far back
            f.seek(at)
            assert f.read(70_000) == BIG[at : at + 70_000]
    assert len(opened) == 2  # the first read, then the far one (older than 8 MiB read)


def test_streaming_the_image_again_can_be_cancelled(tmp_path: Path) -> None:
    from explorer.core.errors import Cancelled

    cancel = threading.Event()
    seen: list[int] = []

    def progress(layer: int, done: int) -> None:
        seen.append(done)
        if done > 1 << 20:
            cancel.set()

    with open_content(str(_write("gzipped-save", tmp_path))) as acc:
        with pytest.raises(Cancelled):
            acc.prepare([1], progress, cancel)  # the layer of `big`: 9 MiB
        cache = acc.cache
        assert cache is not None
        assert not any(e.kind == "content" for e in cache.entries())
        assert not [n for n in os.listdir(cache.root) if n.startswith(".tmp-")]
        assert seen == sorted(seen) and seen[-1] > 1 << 20
        acc.prepare([1])
        assert acc.read(1, "big", 5, 5) == BIG[5:10]


def test_gzip_is_read_by_zlib_where_rapidgzip_cannot_run(tmp_path: Path, monkeypatch) -> None:
    from explorer.core import layerdata

    monkeypatch.setattr(layerdata, "rapidgzip_can_run", lambda: False)
    path = _write("oci-gzip", tmp_path)
    with open_content(str(path)) as acc:
        assert type(acc.layer_data(1)).__name__ == "GzipStream"
        assert acc.read(1, "big", len(BIG) - 5) == BIG[-5:]
        assert acc.read(1, "big", 10, 5) == BIG[10:15]  # back: from the start again
        with acc.open_layer(2) as f:
            assert f.read() == b.encode_layer(_image("none").layers[2]).blob


def test_cat_under_an_address_space_limit(tmp_path: Path) -> None:
    """rapidgzip crashes under `ulimit -v` 512 MiB: there, gzip layers are read by zlib."""
    import resource
    import subprocess
    import sys

    from tests.robustness.harness import REPO, cli_env

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))

    res = subprocess.run(
        [sys.executable, "-m", "explorer", "cat", str(_write("oci-gzip", tmp_path)), "/etc/b"],
        cwd=REPO,
        env=cli_env(tmp_path / "cache"),
        capture_output=True,
        preexec_fn=limit,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"beta\n"


def test_a_hardlink_keeps_the_version_it_was_made_to(tmp_path: Path) -> None:
    """(Found by the content fuzzer.) A path written again after a hardlink to it was made:
    the link keeps the bytes it was made to, in reading and in extraction."""
    from explorer.core import extract

    layer = [b.file("f", b"old"), b.hardlink("h", "f"), b.file("f", b"new")]
    path = b.docker_archive(b.Image(layers=[b.Layer(entries=layer)])).write_tar(tmp_path / "i.tar")
    with open_content(str(path)) as acc:
        assert acc.read(0, "h") == b"old"
        assert acc.read(0, "f") == b"new"
        extract.extract(acc, extract.plan(acc, ["/"], None), str(tmp_path / "out"))
    assert (tmp_path / "out" / "h").read_bytes() == b"old"
    assert (tmp_path / "out" / "f").read_bytes() == b"new"
