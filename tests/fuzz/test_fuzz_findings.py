"""What the fuzzers found in the tar reader's numbers and the layout's JSON, pinned as small
deterministic tests (strict xfails while the bugs were open; fixed in 6db19e0):

- a negative PAX mtime (how Docker, through Go's archive/tar, writes a file older than 1970)
  was rejected as out of range: the whole image refused, where dive reads it;
- a negative base-256 number was decoded wrongly (all-0xFF, i.e. -1, became about -2**95);
- numbers the index arrays cannot hold (size, mtime, realsize >= 2**63; negative uid, gid,
  mode) raised OverflowError from array.append instead of ImageError (CLI: exit 3);
- JSON values of the wrong type in index.json (a descriptor's mediaType a list or object, its
  annotations not an object) or manifest.json (RepoTags a number) raised TypeError or
  AttributeError in sources/layout.py (CLI: exit 3 'internal error').
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from explorer.core.analysis import index_all
from explorer.core.errors import ImageError
from explorer.core.layerindex import index_layer
from explorer.core.sources import open_source
from tests.robustness import builders as b
from tests.robustness.harness import assert_analysed, assert_rejected, load_json, run_cli


def index(data: bytes):
    return index_layer(io.BytesIO(data), "layer")


def test_pax_negative_mtime_is_read() -> None:
    """A PAX record `mtime=-315619200` (a file from 1960, as docker writes it) is read."""
    idx = index(b.tar_bytes([b.file("old.txt", b"1960", pax={"mtime": "-315619200"})]))
    assert idx.mtimes[0] == -315619200


def test_gnu_base256_negative_mtime_is_read() -> None:
    """A GNU base-256 mtime of -315619200 (GNU tar, Python's tarfile in GNU format) is read
    as tarfile reads it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo("old.txt")
        info.mtime = -315619200
        t.addfile(info, io.BytesIO(b""))
    assert index(buf.getvalue()).mtimes[0] == -315619200


OUT_OF_RANGE_HEADERS = {
    "pax-mtime-2**63": b.tar_bytes([b.file("f", b"a", pax={"mtime": str(2**63)})]),
    "pax-size-2**63": b.tar_bytes([b.file("f", b"", pax={"size": str(2**63)})]),
    "pax-sparse-realsize-2**63": b.tar_bytes(
        [b.file("f", b"a", pax={"GNU.sparse.realsize": str(2**63)})]
    ),
    "base256-mtime-2**70": b.tar_header("f", mtime=2**70) + bytes(1024),
    "base256-size-2**70": b.tar_header("f", size=2**70) + bytes(1024),
    "gnu-sparse-realsize-2**70": b.tar_header(
        "f", typeflag=b"S", gnu=True, patch={"gnu_realsize": b.number_field(2**70, 12)}
    )
    + bytes(1024),
    "base256-uid-minus-1": b.tar_header("f", uid=-1) + bytes(1024),
    "base256-gid-minus-1": b.tar_header("f", gid=-1) + bytes(1024),
    "base256-mode-minus-1": b.tar_header("f", patch={"mode": b"\xff" * 8}) + bytes(1024),
}


@pytest.mark.parametrize("data", OUT_OF_RANGE_HEADERS.values(), ids=OUT_OF_RANGE_HEADERS)
def test_out_of_range_numbers(data: bytes) -> None:
    """A header number the index cannot hold: read (as some value) or ImageError."""
    with contextlib.suppress(ImageError):
        index(data)


def _archive(tmp_path: Path, entry: b.Entry) -> Path:
    image = b.Image(layers=[b.Layer(entries=[b.directory("d"), entry])])
    return b.docker_archive(image).write_tar(tmp_path / "image.tar")


def test_cli_pre_1970_file(tmp_path: Path) -> None:
    """`layerscope image.tar --json OUT` on an image holding a file from 1960 (PAX mtime):
    exit 0 and the file listed, as dive does."""
    image = _archive(tmp_path, b.file("d/old.txt", b"1960", pax={"mtime": "-315619200"}))
    out = tmp_path / "out" / "export.json"
    out.parent.mkdir()
    res = run_cli(image, out, cache_dir=tmp_path / "cache")
    assert_analysed(res, out)
    assert "d/old.txt" in {f["path"] for f in load_json(out)["layer"][0]["fileList"]}


def test_cli_negative_uid(tmp_path: Path) -> None:
    """An image whose layer header has a base-256 uid of -1 (dive exports `"uid": -1`): exit 0,
    or exit 2 with one line naming the layer; never exit 3 'internal error'."""
    image = _archive(tmp_path, b.file("d/f", b"x", uid=-1))
    out = tmp_path / "out" / "export.json"
    out.parent.mkdir()
    res = run_cli(image, out, cache_dir=tmp_path / "cache")
    if res.returncode == 0:
        assert_analysed(res, out)
    else:
        assert_rejected(res, out, r"uid|header|range|invalid", ("layer",), previous=None)


def _set(path: tuple, value):
    def edit(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return doc

    return edit


JSON_EDITS = {
    "index-mediaType-list": (b.oci_archive, "index.json", _set(("manifests", 0, "mediaType"), [])),
    "index-mediaType-object": (
        b.oci_archive,
        "index.json",
        _set(("manifests", 0, "mediaType"), {}),
    ),
    "index-annotations-number": (
        b.oci_archive,
        "index.json",
        _set(("manifests", 0, "annotations"), 1),
    ),
    "manifest-RepoTags-number": (b.docker_archive, "manifest.json", _set((0, "RepoTags"), 1)),
}


def _json_edited(tmp_path: Path, layout, name: str, edit) -> Path:
    image = b.Image(layers=[b.Layer(entries=[b.file("a", b"x")])])
    arc = layout(image)
    arc[name] = json.dumps(edit(json.loads(arc[name]))).encode()
    return arc.write_tar(tmp_path / "image.tar")


@pytest.mark.parametrize("edit", JSON_EDITS.values(), ids=JSON_EDITS)
def test_json_value_of_the_wrong_type(tmp_path: Path, edit) -> None:
    """A JSON value of the wrong type in index.json / manifest.json: read, or ImageError."""
    path = _json_edited(tmp_path, *edit)
    with contextlib.suppress(ImageError):
        index_all(open_source(str(path)))


def test_cli_json_value_of_the_wrong_type(tmp_path: Path) -> None:
    """The CLI on a legacy archive whose manifest.json has `"RepoTags": 1`: exit 0, or exit 2
    with one line naming manifest.json; never exit 3 'internal error'."""
    path = _json_edited(tmp_path, *JSON_EDITS["manifest-RepoTags-number"])
    out = tmp_path / "out" / "export.json"
    out.parent.mkdir()
    res = run_cli(path, out, cache_dir=tmp_path / "cache")
    if res.returncode == 0:
        assert_analysed(res, out)
    else:
        assert_rejected(res, out, r"manifest|RepoTags|invalid", ("manifest.json",), previous=None)
