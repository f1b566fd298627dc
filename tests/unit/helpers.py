"""Build an image from layer entry lists and analyse it, all in memory and in a tmp dir."""

from __future__ import annotations

from pathlib import Path

from explorer.core.analysis import Analysis, analyze, index_all
from explorer.core.sources import open_source
from tests.robustness import builders as b


def image_archive(tmp_path: Path, *layers: list, name: str = "image.tar", **image_kw) -> Path:
    """A legacy docker-archive whose layers hold the given entries."""
    image = b.Image(
        layers=[b.Layer(entries=entries, command=f"step {i}") for i, entries in enumerate(layers)],
        **image_kw,
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    return b.docker_archive(image).write_tar(tmp_path / name)


def analysed(tmp_path: Path, *layers: list) -> Analysis:
    meta, indexes = index_all(open_source(str(image_archive(tmp_path, *layers))))
    return analyze(meta, indexes)
