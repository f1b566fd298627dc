"""The tar header reader: every header flavour the indexer meets, and clear errors."""

from __future__ import annotations

import io

import pytest

from explorer.core import tarscan
from explorer.core.errors import ImageError
from explorer.core.layerindex import index_layer
from explorer.core.sources import open_source
from tests.robustness import builders as b


def index(data: bytes):
    return index_layer(io.BytesIO(data), "test")


def test_plain_entries_and_normalised_names():
    data = b.tar_bytes(
        [b.directory("./etc/"), b.file("./etc/passwd", b"root"), b.symlink("etc/link", "passwd")]
    )
    idx = index(data)
    assert idx.paths == ["etc", "etc/passwd", "etc/link"]
    assert list(idx.types) == [tarscan.DIR, tarscan.REG, tarscan.SYMLINK]
    assert list(idx.sizes) == [0, 4, 0]
    assert idx.link(2) == "passwd"
    assert idx.hashes[1] != 0 and idx.hashes[0] == 0


@pytest.mark.parametrize("long_names", ["pax", "gnu"])
def test_long_names_and_link_targets(long_names):
    name = "d/" + "n" * 300
    target = "t" * 200
    data = b.tar_bytes([b.symlink(name, target), b.file(name + "2", b"x")], long_names=long_names)
    idx = index(data)
    assert idx.paths == [name, name + "2"]
    assert idx.link(0) == target


def test_pax_overrides_ids_and_size():
    data = b.tar_bytes([b.file("big-ids", b"abc", pax={"uid": "3000000000", "gid": "7"})])
    idx = index(data)
    assert (idx.uids[0], idx.gids[0], idx.sizes[0]) == (3000000000, 7, 3)


def test_base256_numbers():
    header = b.tar_header("f", size=2, uid=2**40)
    data = header + b"hi" + bytes(510) + bytes(1024)
    assert index(data).uids[0] == 2**40


def test_non_utf8_names_survive():
    data = b.tar_bytes([b.file(b"caf\xe9", b"x")])
    idx = index(data)
    assert idx.paths[0].encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_dot_dot_and_absolute_names_stay_inside():
    assert tarscan.normalize("/abs/x") == "abs/x"
    assert tarscan.normalize("../../etc/passwd") == "etc/passwd"
    assert tarscan.normalize("a/./b//c/") == "a/b/c"
    assert tarscan.normalize("a/../../b") == "b"


def test_old_style_regular_file_type():
    data = b.tar_header("olddir/", typeflag=b"\0") + b.tar_header("oldfile", typeflag=b"\0")
    idx = index(data + bytes(1024))
    assert list(idx.types) == [tarscan.DIR, tarscan.REG]


def test_gnu_sparse_file_has_its_real_size():
    sparse = b.gnu_sparse("sparse", realsize=1 << 30, chunks=[(0, b"data")])
    idx = index(b.tar_bytes([sparse]))
    assert idx.paths == ["sparse"] and idx.sizes[0] == 1 << 30


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a tar at all, just text" * 40, "not a tar archive"),
        (b"a text file shorter than one tar block\n", "not a tar archive"),
        (b.tar_bytes([b.file("f", b"x" * 5000)])[:3000], "truncated"),
        (b.tar_header("f", size=10)[:300], "truncated"),
    ],
)
def test_bad_input_is_one_clear_error(data, message):
    with pytest.raises(ImageError, match=message):
        index(data)


def test_oversized_extended_header_is_refused():
    data = b.tar_header("././@PaxHeader", typeflag=b"x", size=1 << 30)
    with pytest.raises(ImageError, match="oversized"):
        index(data + bytes(1024))


def test_an_empty_layer_is_an_empty_index_but_an_empty_archive_is_an_error(tmp_path):
    assert len(index(b"")) == 0
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty archive"):
        open_source(str(empty)).open()


NAME_LIMIT = 16 << 10  # bytes of a name or a link target


@pytest.mark.parametrize("long_names", ["pax", "gnu"])
def test_names_and_link_targets_up_to_16_kib_are_read(long_names):
    name, target = "n" * NAME_LIMIT, "t/" * (NAME_LIMIT // 2)
    idx = index(b.tar_bytes([b.symlink(name, target)], long_names=long_names))
    assert idx.paths == [name] and idx.link(0) == target


@pytest.mark.parametrize("long_names", ["pax", "gnu"])
@pytest.mark.parametrize(
    ("entry", "what"),
    [
        (b.file("n" * (NAME_LIMIT + 1)), "a name of 16,385 bytes"),
        (b.symlink("s", "t" * (NAME_LIMIT + 1)), "a link target of 16,385 bytes"),
    ],
)
def test_a_longer_name_or_link_target_is_refused(entry, what, long_names):
    data = b.tar_bytes([b.file("first", b"x"), entry], long_names=long_names)
    with pytest.raises(ImageError, match=rf"^test: tar entry at offset \d+ has {what} \(the limit"):
        index(data)


def test_paths_up_to_2048_levels_deep_are_read_and_deeper_ones_refused():
    deepest = "/".join(["a"] * 2048)
    assert index(b.tar_bytes([b.file(deepest)])).paths == [deepest]
    assert index(b.tar_bytes([b.file("./" + deepest + "/")])).paths == [deepest]
    with pytest.raises(ImageError, match=r"is 2,049 levels deep \(the limit is 2,048\)"):
        index(b.tar_bytes([b.file("a/" + deepest)]))
