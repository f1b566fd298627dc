"""Archives read in one forward pass (compressed archives; engine exports take the same
path): members told apart by name and position, metadata kept whole, capped, parsed lazily."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from explorer.core.analysis import index_all
from explorer.core.errors import ImageError
from explorer.core.sources import open_source
from explorer.core.sources import streamed as streamed_mod
from explorer.core.sources.blobs import MAX_CONTAINERS, MAX_JSON
from tests.robustness import builders as b


def gz(path: Path) -> Path:
    out = path.with_name(path.name + ".gz")
    with open(path, "rb") as src, gzip.open(out, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    return out


def image(*entries: b.Entry, **kw) -> b.Image:
    return b.Image([b.Layer(list(entries) or [b.file("f", b"x")], command="RUN x")], **kw)


def test_a_json_member_larger_than_a_read_is_read_whole(tmp_path):
    label = "v" * (3 << 20)  # the config crosses several 1 MiB reads
    arc = b.docker_archive(image(config_extra={"config": {"Labels": {"big": label}}}))
    meta, _ = index_all(open_source(str(gz(arc.write_tar(tmp_path / "i.tar")))))
    assert meta.config["config"]["Labels"]["big"] == label


@pytest.mark.parametrize("first", ["{brace", "[bracket"])
@pytest.mark.parametrize("layout", [b.docker_archive, b.docker25_archive, b.oci_archive])
def test_a_layer_whose_first_name_looks_like_json_is_a_layer(tmp_path, first, layout):
    arc = layout(image(b.file(first, b"1"), b.file("other", b"22")))
    _, layers = index_all(open_source(str(gz(arc.write_tar(tmp_path / "i.tar")))))
    assert layers[0].paths == [first, "other"]


def test_unreferenced_members_are_never_parsed(tmp_path):
    arc = b.docker_archive(image())
    for n in range(50):
        arc[f"junk-{n}.json"] = b"{ not json at all"
        arc[f"junk/{n}.json"] = b"[ nor this"
    arc.move_to_front("junk-0.json")
    _, layers = index_all(open_source(str(gz(arc.write_tar(tmp_path / "i.tar")))))
    assert layers[0].paths == ["f"]


def test_what_is_kept_as_possible_metadata_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(streamed_mod, "MAX_KEPT", 256 << 10)
    arc = b.docker_archive(image())
    for n in range(1000):  # top-level names: each could be the config manifest.json names
        arc[f"{n:04}.json"] = b"{}"
    arc.move_to_front("manifest.json")
    path = gz(arc.write_tar(tmp_path / "i.tar"))
    with pytest.raises(ImageError, match=r"i\.tar\.gz: more than 0.25 MiB of small members"):
        open_source(str(path)).open()


def test_members_no_layout_can_name_are_passed_over_uncounted(tmp_path, monkeypatch):
    monkeypatch.setattr(streamed_mod, "MAX_KEPT", 256 << 10)
    arc = b.docker_archive(image())
    for n in range(1000):
        arc[f"junk/{n:04}.json"] = b"{}"
    _, layers = index_all(open_source(str(gz(arc.write_tar(tmp_path / "i.tar")))))
    assert layers[0].paths == ["f"]


def test_a_small_layer_that_is_not_recognisable_as_a_tar_is_read_once_named(tmp_path):
    """An empty layer (only end-of-archive blocks) looks like nothing: kept, then indexed
    when the manifest names it as a layer."""
    arc = b.oci_archive(b.Image([b.Layer(tar=b.EOF_MARKER), b.Layer([b.file("f", b"x")])]))
    _, layers = index_all(open_source(str(gz(arc.write_tar(tmp_path / "i.tar")))))
    assert [layer.paths for layer in layers] == [[], ["f"]]


@pytest.mark.parametrize("streamed", [False, True])
def test_an_oversized_manifest_is_refused_in_one_line(tmp_path, streamed):
    arc = b.docker_archive(image())
    arc["manifest.json"] = b"[" + b" " * MAX_JSON + b"]"
    path = arc.write_tar(tmp_path / "i.tar")
    with pytest.raises(ImageError, match=r"manifest\.json is too large to be image metadata"):
        open_source(str(gz(path) if streamed else path)).open()


@pytest.mark.parametrize("streamed", [False, True])
def test_a_manifest_of_countless_empty_lists_is_refused_before_parsing(tmp_path, streamed):
    arc = b.docker_archive(image())
    arc["manifest.json"] = b"[" + b"[]," * MAX_CONTAINERS + b"[]]"
    path = arc.write_tar(tmp_path / "i.tar")
    with pytest.raises(ImageError, match=r"manifest\.json holds more than 500,000 JSON objects"):
        open_source(str(gz(path) if streamed else path)).open()
