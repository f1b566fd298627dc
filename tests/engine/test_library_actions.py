"""The library's actions against a real engine (the private one), on scratch images made and
removed here: tag, remove (refused while a container uses the image), prune exactly what the
preview listed, save (plain, gzip, stopped half-way: no file) and load."""

from __future__ import annotations

import gzip
import os
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from explorer.core import libraryactions as act
from explorer.core.errors import Cancelled, ImageError
from explorer.core.library import Library, LibraryImage, load_library
from explorer.core.sources.endpoint import Endpoint
from tests.engine.private_engine import PrivateEngine
from tests.robustness import builders as b

pytestmark = pytest.mark.engine


class Scratch:
    def __init__(self, engine: PrivateEngine, tmp: Path) -> None:
        self.engine, self.tmp = engine, tmp
        self.run = f"{os.getpid()}-{time.monotonic_ns()}"
        self.made: list[str] = []  # tags and IDs to remove at the end
        self.containers: list[str] = []

    def image(self, role: str, size: int = 30_000) -> str:
        tag = f"layerscope-actions/{role}:{self.run}"
        layer = b.Layer(
            entries=[b.file(f"{role}.bin", b.noise(size, f"{role}{self.run}".encode()))]
        )
        archive = b.docker_archive(b.Image(tag=tag, layers=[layer]))
        self.engine.load(archive.write_tar(self.tmp / f"{role}.tar"))
        self.made.append(tag)
        return tag

    def dangling(self, role: str) -> str:
        """An image left untagged: loaded under a tag, then that tag given to another."""
        tag = self.image(role)
        image_id = self.id_of(tag)
        self.made.append(image_id)
        self.image(f"{role}-newer")
        self.engine.docker("tag", f"layerscope-actions/{role}-newer:{self.run}", tag)
        return image_id

    def id_of(self, ref: str) -> str:
        return self.engine.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()

    def library(self) -> Library:
        return load_library(at=[Endpoint("docker", self.engine.host, "test")])

    def find(self, ref: str) -> LibraryImage:
        image_id = self.id_of(ref) if not ref.startswith("sha256:") else ref
        return next(im for im in self.library().images if im.id == image_id)

    def container(self, ref: str) -> str:
        name = f"layerscope-actions-{self.run}-{len(self.containers)}"
        self.engine.docker("create", "--name", name, "--network", "none", ref, "/run")
        self.containers.append(name)
        return name


@pytest.fixture
def scratch(engine: PrivateEngine, tmp_path: Path, monkeypatch) -> Iterator[Scratch]:
    monkeypatch.setenv("DOCKER_HOST", engine.host)  # the actions talk to the chosen engine
    s = Scratch(engine, tmp_path)
    yield s
    for name in s.containers:
        engine.docker("rm", "-f", name, check=False)
    for ref in s.made:
        engine.docker("rmi", "-f", ref, check=False)


def test_tag_then_remove_the_tag_only(scratch: Scratch) -> None:
    tag = scratch.image("tagged")
    im = scratch.find(tag)
    new = f"layerscope-actions/other:{scratch.run}"
    scratch.made.append(new)
    act.tag(im, new)
    im = scratch.find(tag)
    assert sorted(im.tags) == sorted([tag, new])
    act.remove(im, new)  # one tag of two: untagged, the image stays
    assert scratch.find(tag).tags == [tag]


def test_tag_refuses_a_bad_reference_before_the_engine(scratch: Scratch) -> None:
    im = scratch.find(scratch.image("bad"))
    with pytest.raises(ImageError, match="invalid image reference"):
        act.tag(im, "Upper/Case")
    assert act.check_tag("x/y").warning and "latest" in act.check_tag("x/y").warning


def test_remove_refused_while_a_container_uses_it(scratch: Scratch) -> None:
    tag = scratch.image("used")
    scratch.container(tag)
    im = scratch.find(tag)
    assert (im.running, im.stopped) == (0, 1)
    with pytest.raises(ImageError, match="used by 1 container"):
        act.remove(im, tag)
    assert scratch.find(tag).tags == [tag]  # nothing was asked of the engine


def test_remove_an_image_removed_meanwhile_is_one_line(scratch: Scratch) -> None:
    tag = scratch.image("gone")
    im = scratch.find(tag)
    scratch.engine.docker("rmi", tag)
    with pytest.raises(ImageError) as caught:
        act.remove(im, tag)
    assert "\n" not in str(caught.value) and tag in str(caught.value)


def test_prune_removes_exactly_the_preview(scratch: Scratch) -> None:
    """Two dangling images previewed; a container starts using one before the prune: that one
    is refused and reported, the other removed; a dangling image made after the preview is
    not touched."""
    first, second = scratch.dangling("d1"), scratch.dangling("d2")
    library = scratch.library()
    plan = act.PrunePlan(
        [im for im in library.images if im.id in (first, second)],
        act.prune_plan(library).reclaimed,
    )
    assert {im.id for im in plan.images} == {first, second}
    assert plan.command().startswith("docker rmi ")
    scratch.container(second)
    later = scratch.dangling("d3")
    removed, refused = act.prune(plan)
    assert removed == [first]
    assert len(refused) == 1 and refused[0].startswith(second[7:19])
    ids = {im.id for im in scratch.library().images}
    assert first not in ids and second in ids and later in ids


def test_save_plain_gzip_and_stopped(scratch: Scratch, tmp_path: Path) -> None:
    tag = scratch.image("saved", size=2_000_000)
    im = scratch.find(tag)
    tmp_path = tmp_path / "saves"
    tmp_path.mkdir()
    seen: list[tuple[int, int]] = []
    plain = tmp_path / "out.tar"
    written = act.save(im, str(plain), False, lambda d, t: seen.append((d, t)), threading.Event())
    assert written == plain.stat().st_size and seen[-1] == (written, im.size)
    with tarfile.open(plain) as tar:
        assert "manifest.json" in tar.getnames()
    packed = tmp_path / "out.tar.gz"
    act.save(im, str(packed), True, lambda d, t: None, threading.Event())
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    stop = threading.Event()
    stopped = tmp_path / "stopped.tar"
    with pytest.raises(Cancelled):
        act.save(im, str(stopped), False, lambda d, t: stop.set(), stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tar", "out.tar.gz"]


def test_load_brings_the_image_back(scratch: Scratch, tmp_path: Path) -> None:
    tag = scratch.image("loaded")
    im = scratch.find(tag)
    archive = tmp_path / "image.tar"
    act.save(im, str(archive), False, lambda d, t: None, threading.Event())
    scratch.engine.docker("rmi", tag)
    seen: list[int] = []
    said = act.load("docker", str(archive), lambda d, t: seen.append(d), threading.Event())
    assert any(tag in line for line in said), said
    assert seen[-1] == archive.stat().st_size
    assert scratch.find(tag).id == im.id
    with pytest.raises(ImageError, match="cannot read it"):
        act.load("docker", str(tmp_path / "missing.tar"), lambda d, t: None, threading.Event())
