"""Advice from the metadata of a fixed library (tests/tui/library_model.py)."""

from __future__ import annotations

from explorer.core.advice import MANY_LAYERS, base_of, image_advice, library_advice
from explorer.core.library import Layer
from explorer.librarysample import library


def _by_name():
    lib = library()
    return lib, {im.name: im for im in lib.images}


def test_image_advice_names_each_practice() -> None:
    lib, by_name = _by_name()
    api = by_name["shop/api:latest"]
    advice = {a.title: a.detail for a in image_advice(lib, api)}
    assert set(advice) >= {
        "only latest", "no USER", "big base", "build tools left", "package cache left",
        "cache-unfriendly order",
    }  # fmt: skip
    assert "python:3.12-slim is about 125MB" in advice["big base"]
    assert "layer 3 installs build-essential, libpq-dev" in advice["build tools left"]
    assert advice["cache-unfriendly order"].startswith("layer 5 installs dependencies")
    assert base_of(lib, api) is by_name["python:3.12"]


def test_good_practices_give_no_advice() -> None:
    lib, by_name = _by_name()
    web = by_name["shop/web:2.1"]  # a version tag too, USER node, alpine base
    assert image_advice(lib, web) == []
    lonely = by_name["tools/lonely:0.3"]
    assert image_advice(lib, lonely) == []


def test_untagged_and_many_layers() -> None:
    lib, _ = _by_name()
    dangling = next(im for im in lib.images if im.dangling)
    dangling.layers += [
        Layer(f"sha256:{i:064x}", f"sha256:{i:064x}", 1) for i in range(MANY_LAYERS)
    ]
    titles = [a.title for a in image_advice(lib, dangling)]
    assert "untagged" in titles and "many layers" in titles


def test_library_advice_counts_the_dangling_bytes() -> None:
    lib, _ = _by_name()
    advice = {a.title: a.detail for a in library_advice(lib)}
    assert advice["dangling images"].startswith("2 untagged images hold 59.5MB")
    assert advice["only latest"] == "1 image is tagged only `latest`"


def test_slim_advice_only_for_official_images() -> None:
    """`corpus/debian` is not Debian's official image: no slim variant is suggested."""
    lib, by_name = _by_name()
    by_name["python:3.12"].tags = ["corpus/python:3.12"]
    titles = [a.title for a in image_advice(lib, by_name["shop/api:latest"])]
    assert "big base" not in titles
