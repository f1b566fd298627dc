"""Finding the image in an archive: docker-archive flavours, OCI indexes and platforms."""

from __future__ import annotations

import gzip
import json

import pytest

from explorer.core.analysis import index_all
from explorer.core.errors import ImageError
from explorer.core.sources import open_source
from tests.robustness import builders as b


def image(arch: str, content: bytes = b"x", variant: str | None = None) -> b.Image:
    return b.Image(
        layers=[b.Layer(entries=[b.file("f", content)], command="COPY f /f")],
        architecture=arch,
        variant=variant,
    )


def test_multi_platform_index_picks_the_requested_platform(tmp_path):
    path = b.oci_archive(image("amd64", b"a"), image("arm64", b"bb")).write_tar(tmp_path / "i.tar")
    meta, layers = index_all(open_source(str(path), platform="linux/arm64"))
    assert meta.platform == "linux/arm64" and layers[0].sizes[0] == 2
    meta, layers = index_all(open_source(str(path), platform="linux/amd64"))
    assert meta.platform == "linux/amd64" and layers[0].sizes[0] == 1


def test_nested_index(tmp_path):
    path = b.oci_archive(image("amd64"), image("arm64"), nested=True).write_tar(tmp_path / "n.tar")
    meta, _ = index_all(open_source(str(path), platform="linux/arm64"))
    assert meta.platform == "linux/arm64"


def test_missing_platform_lists_what_is_there(tmp_path):
    path = b.oci_archive(image("amd64"), image("arm64")).write_tar(tmp_path / "i.tar")
    with pytest.raises(
        ImageError,
        match=r"no image for platform linux/s390x \(available: linux/amd64, linux/arm64\)",
    ):
        open_source(str(path), platform="linux/s390x").open()


def test_single_image_of_another_platform_opens_by_default(tmp_path):
    path = b.oci_archive(image("riscv64")).write_tar(tmp_path / "r.tar")
    meta, layers = index_all(open_source(str(path)))
    assert meta.platform == "linux/riscv64" and layers[0].paths == ["f"]


def test_oci_directory_and_docker25_archive(tmp_path):
    oci_dir = b.oci_archive(image("amd64")).write_dir(tmp_path / "layout")
    meta, _ = index_all(open_source(str(oci_dir)))
    assert meta.source == "oci"
    d25 = b.docker25_archive(image("amd64")).write_tar(tmp_path / "d25.tar")
    meta, _ = index_all(open_source(str(d25)))
    assert meta.source == "docker-archive" and meta.layers[0].id == "blobs"


@pytest.mark.parametrize("compression", ["gzip", "zstd", "estargz"])
def test_compressed_layers(tmp_path, compression):
    img = b.Image(layers=[b.Layer(entries=[b.file("f", b"hello")], compression=compression)])
    path = b.oci_archive(img).write_tar(tmp_path / "c.tar")
    _, layers = index_all(open_source(str(path)))
    assert layers[0].paths == ["f"] and layers[0].sizes[0] == 5


def test_history_maps_to_layers_around_metadata_entries(tmp_path):
    img = b.Image(
        layers=[b.Layer(entries=[b.file("a")]), b.Layer(entries=[b.file("b")])],
        history=[
            {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created_by": "/bin/sh -c #(nop)  ENV A=1", "empty_layer": True},
            {"created_by": "/bin/sh -c touch /b"},
        ],
    )
    meta, _ = index_all(open_source(str(b.docker_archive(img).write_tar(tmp_path / "h.tar"))))
    assert [lm.command for lm in meta.layers] == ["#(nop) ADD file:abc in / ", "touch /b"]
    assert [h.instruction for h in meta.history] == ["ADD file:abc in /", "ENV A=1", "RUN touch /b"]
    assert [h.layer for h in meta.history] == [0, None, 1]


def test_two_manifests_for_one_platform_are_an_ambiguity(tmp_path):
    arc = b.oci_archive(image("amd64", b"one"), image("amd64", b"two"))
    digests = [d["digest"] for d in json.loads(arc["index.json"])["manifests"]]
    path = arc.write_tar(tmp_path / "i.tar")
    with pytest.raises(ImageError, match="2 different manifests for platform linux/amd64") as err:
        open_source(str(path), platform="linux/amd64").open()
    assert all(d[:19] in str(err.value) for d in digests)


def test_one_manifest_listed_twice_is_no_ambiguity(tmp_path):
    arc = b.oci_archive(image("amd64"), image("arm64"))
    index = json.loads(arc["index.json"])
    index["manifests"].append(dict(index["manifests"][0], annotations={"x": "another tag"}))
    arc.set_json("index.json", index)
    meta, _ = index_all(open_source(str(arc.write_tar(tmp_path / "i.tar")), platform="linux/amd64"))
    assert meta.platform == "linux/amd64"


def test_the_exact_variant_is_preferred(tmp_path):
    arc = b.oci_archive(image("arm64", b"v8", "v8"), image("arm64", b"plain"))
    path = arc.write_tar(tmp_path / "i.tar")
    _, layers = index_all(open_source(str(path), platform="linux/arm64"))
    assert layers[0].sizes[0] == len(b"plain")
    _, layers = index_all(open_source(str(path), platform="linux/arm64/v8"))
    assert layers[0].sizes[0] == len(b"v8")


@pytest.mark.parametrize(
    "make",
    [
        lambda img: b.docker_archive(img),  # a legacy archive: manifest.json only
        lambda img: b.oci_archive(img, platforms=False),  # an index that names no platform
    ],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_a_platform_the_single_image_is_not_for_is_refused(tmp_path, make, compressed):
    path = make(image("amd64")).write_tar(tmp_path / "i.tar")
    if compressed:
        path.with_name("i.tar.gz").write_bytes(gzip.compress(path.read_bytes()))
        path = path.with_name("i.tar.gz")
    with pytest.raises(
        ImageError, match=r"no image for platform linux/arm64 \(the image is linux/amd64\)"
    ):
        open_source(str(path), platform="linux/arm64").open()
    meta, _ = index_all(open_source(str(path), platform="linux/amd64"))
    assert meta.platform == "linux/amd64"


def test_json_nested_too_deeply_is_one_clear_error():
    from explorer.core.sources.layout import load_json

    with pytest.raises(ImageError, match=r"^config\.json: JSON nested too deeply$"):
        load_json(b"[" * 100_000 + b"]" * 100_000, "config.json")
    assert load_json(b"[[[]]]", "config.json") == [[[]]]
