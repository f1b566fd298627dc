"""Compressed archives (one forward pass) and the layer cache: members whose bytes were
hashed before, in this same unchanged file, are read past unparsed; a member name is never
trusted (issue 12 §1: a name remembered for one layer, given to other bytes in another
archive, must not show the wrong layer)."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import pytest

from explorer.core.analysis import index_all
from explorer.core.cache import LayerCache
from explorer.core.errors import Cancelled, ImageError
from explorer.core.sources import streamed as streamed_mod
from explorer.core.sources.archive import ArchiveSource
from explorer.core.sources.proofs import Proofs
from tests.robustness import builders as b
from tests.unit.cache_helpers import BASE, archive, count_indexing, export_of, open_all, settled


@pytest.fixture
def store(tmp_path: Path) -> LayerCache:
    return LayerCache(tmp_path / "cache")


@pytest.fixture
def indexed(monkeypatch) -> list[str]:
    return count_indexing(monkeypatch)


def packed(plain: Path, name: str = "a.tar.gz") -> Path:
    out = plain.parent / name
    out.write_bytes(gzip.compress(plain.read_bytes(), 1))
    return settled(out)


def test_compressed_archive_skips_cached_members_unparsed(tmp_path: Path, store, indexed) -> None:
    path = packed(
        archive(tmp_path, "a.tar", BASE, [b.file("app/a", b"a")], [b.file("app/b", b"b")])
    )
    cold = open_all(path, store)
    assert len(indexed) == 3
    indexed.clear()
    source = ArchiveSource(str(path), cache=store)
    warm = index_all(source)
    assert indexed == []  # one pass over the stream, the cached layers skipped over
    assert len(source._streamed.skipped) == 3
    assert export_of(*warm) == export_of(*cold)


def test_verify_reads_every_member(tmp_path: Path, indexed) -> None:
    path = packed(archive(tmp_path, "a.tar", BASE, [b.file("app/a", b"a")]))
    open_all(path, LayerCache(tmp_path / "cache"))
    indexed.clear()
    source = ArchiveSource(str(path), cache=LayerCache(tmp_path / "cache", verify=True))
    index_all(source)
    assert len(indexed) == 2 and source._streamed.skipped == set()


def test_a_copy_is_read_again(tmp_path: Path, store, indexed) -> None:
    """Another file: its members' names and offsets say nothing about their bytes."""
    path = packed(archive(tmp_path, "a.tar", BASE, [b.file("app/a", b"a")]))
    open_all(path, store)
    copy = settled(Path(tmp_path / "copy.tar.gz"))
    copy.write_bytes(path.read_bytes())
    settled(copy)
    indexed.clear()
    source = ArchiveSource(str(copy), cache=store)
    index_all(source)
    assert len(indexed) == 2 and source._streamed.skipped == set()


def test_verified_blobs_are_only_hashed(tmp_path: Path, store, indexed) -> None:
    """In another compressed OCI archive, a gzip blob whose diff_id was verified is read
    past hashed (to match its name), not decompressed and parsed."""
    image = b.Image(layers=[b.Layer(entries=BASE, compression="gzip")])
    one = packed(b.oci_archive(image).write_tar(tmp_path / "one.tar"), "one.tar.gz")
    cold = open_all(one, store)
    two = packed(b.oci_archive(image).write_tar(tmp_path / "two.tar"), "two.tar.gz")
    indexed.clear()
    source = ArchiveSource(str(two), cache=store)
    warm = index_all(source)
    assert indexed == [] and len(source._streamed.skipped) == 1
    assert export_of(*warm) == export_of(*cold)
    # the same name, other bytes: refused
    evil = b.oci_archive(image)
    evil[evil.layer_paths[0]] = gzip.compress(b.tar_bytes([b.file("backdoor", b"x")]))
    bad = packed(evil.write_tar(tmp_path / "bad.tar"), "bad.tar.gz")
    with pytest.raises(ImageError, match="does not match its content"):
        open_all(bad, store)


def test_skipping_cached_members_reports_progress_and_answers_cancel(tmp_path, store) -> None:
    big = [b.file("big", bytes(3 << 20))]
    path = packed(archive(tmp_path, "a.tar", BASE, big))
    open_all(path, store)
    seen: list[tuple[int, int]] = []
    streamed = streamed_mod.StreamedArchive(
        str(path), None, cache=store, proofs=Proofs(store, str(path))
    )
    assert len(list(streamed.walk(lambda e, n: seen.append((e, n))))) == 2
    assert len(streamed.skipped) == 2
    assert max(n for e, n in seen if e == 1) > 3 << 20  # the big file, read past
    cancel = threading.Event()
    cancel.set()
    streamed = streamed_mod.StreamedArchive(
        str(path), None, cache=store, proofs=Proofs(store, str(path))
    )
    with pytest.raises(Cancelled):
        list(streamed.walk(cancel=cancel))


def test_a_remembered_member_name_is_not_trusted(tmp_path, store, monkeypatch) -> None:
    """A member name seen for one layer, given to another layer in another archive, must
    not show the wrong layer: names are never trusted, so one pass reads them all."""
    first = archive(tmp_path / "1", "a.tar", BASE, [b.file("one", b"1")])
    open_all(packed(first), store)
    second = archive(tmp_path / "2", "b.tar", [b.file("other", b"2")], [b.file("two", b"2")])
    arc_names = sorted(n for n in _members(first) if n.endswith("/layer.tar"))
    # the second archive reuses the first one's member names for different layers
    data = _rename_members(
        second, dict(zip(sorted(_layer_members(second)), arc_names, strict=True))
    )
    packed2 = tmp_path / "b.tar.gz"
    packed2.write_bytes(gzip.compress(data))
    settled(packed2)
    passes = []
    real = streamed_mod.StreamedArchive.run_metadata

    def counting(self):
        passes.append(self)
        return real(self)

    monkeypatch.setattr(streamed_mod.StreamedArchive, "run_metadata", counting)
    _meta, layers = open_all(packed2, store)
    assert [sorted(layer.paths) for layer in layers] == [["other"], ["two"]]
    assert len(passes) == 1 and passes[0].skipped == set()


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
