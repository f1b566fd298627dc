"""The image library against a real engine: scratch images made here (a base, two images on
it, one with the same top layer on another base, a dangling one, one used by a container) and
removed after; shared and unique sizes checked against the engine's own `/system/df`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from explorer.core.library import Library, load_library
from explorer.core.sources.endpoint import Endpoint
from tests.engine.private_engine import PrivateEngine
from tests.robustness import builders as b

pytestmark = pytest.mark.engine

KB = 1000


def _layer(name: str, size: int, seed: str) -> b.Layer:
    return b.Layer(
        entries=[b.directory(name), b.file(f"{name}/data", b.noise(size, seed.encode()))],
        command=f"/bin/sh -c #(nop) COPY {name} /{name}",
    )


@dataclass
class Scratch:
    engine: PrivateEngine
    tags: dict[str, str]  # role -> tag
    dangling_id: str
    container: str

    def library(self, all_images: bool = False) -> Library:
        return load_library(all_images, at=[Endpoint("docker", self.engine.host, "test")])

    def id_of(self, role: str) -> str:
        return self.engine.docker(
            "image", "inspect", "-f", "{{.Id}}", self.tags[role]
        ).stdout.strip()


@pytest.fixture(scope="module")
def scratch(engine: PrivateEngine, tmp_path_factory) -> Iterator[Scratch]:
    run = f"{os.getpid()}-{time.monotonic_ns()}"
    tmp = tmp_path_factory.mktemp("library")
    base, top = _layer("base", 300 * KB, run), _layer("app", 100 * KB, run)
    other_base = _layer("other", 70 * KB, run)
    images = {
        "base": [base],
        "app1": [base, top],
        "app2": [base, _layer("app2", 50 * KB, run)],
        "elsewhere": [other_base, top],  # the same diff_id on another base: another layer
        "old": [_layer("old", 40 * KB, run)],  # replaced under its tag below: dangling
    }
    tags = {role: f"layerscope-library/{role}:{run}" for role in images}
    for role, layers in images.items():
        archive = b.docker_archive(b.Image(tag=tags[role], layers=layers))
        engine.load(archive.write_tar(tmp / f"{role}.tar"))
    dangling_id = engine.docker("image", "inspect", "-f", "{{.Id}}", tags["old"]).stdout.strip()
    newer = b.Image(tag=tags["old"], layers=[_layer("new", 20 * KB, run)])
    engine.load(b.docker_archive(newer).write_tar(tmp / "newer.tar"))
    container = f"layerscope-library-{run}"
    engine.docker("create", "--name", container, "--network", "none", tags["app1"], "/run")
    yield Scratch(engine, tags, dangling_id, container)
    engine.docker("rm", "-f", container, check=False)
    engine.docker("rmi", "-f", *tags.values(), dangling_id, check=False)


def _engine_df(engine: PrivateEngine) -> dict:
    import docker

    client = docker.DockerClient(base_url=engine.host)
    try:
        return client.api.df()
    finally:
        client.close()


def test_shared_and_unique_equal_the_engines_own_numbers(scratch: Scratch) -> None:
    """Every image the engine lists: size and shared size byte for byte as `/system/df` has
    them, unique = size - shared; what the disk holds = the engine's LayersSize."""
    library = scratch.library()
    df = _engine_df(scratch.engine)
    engine_numbers = {im["Id"]: (im["Size"], im["SharedSize"]) for im in df["Images"]}
    ours = {im.id: (im.size, im.shared_size) for im in library.images}
    assert ours == engine_numbers
    ours_tags = set(scratch.tags.values())
    for im in library.images:
        assert im.unique_size == im.size - im.shared_size
        # Images other tests loaded here (`docker load`: no step images) may be approximate.
        assert not (ours_tags & set(im.tags) and im.approximate), im.name
    assert library.disk_total == df["LayersSize"]


def test_sharing_follows_chain_ids(scratch: Scratch) -> None:
    library = scratch.library()
    by_tag = {t: im for im in library.images for t in im.tags}
    base, app1, app2 = (by_tag[scratch.tags[r]] for r in ("base", "app1", "app2"))
    elsewhere = by_tag[scratch.tags["elsewhere"]]
    assert base.unique_size == 0 and base.shared_size == base.size
    assert app1.shared_size == base.size and app1.unique_size == app1.size - base.size
    assert app2.shared_size == base.size
    # app1's top layer has the same diff_id as elsewhere's, on another base: not shared
    assert app1.layers[1].diff_id == elsewhere.layers[1].diff_id
    assert app1.layers[1].chain_id != elsewhere.layers[1].chain_id
    assert elsewhere.shared_size == 0 and elsewhere.unique_size == elsewhere.size
    holders = {
        o.key for o in next(o for layer, o in library.sharing(app1) if layer is app1.layers[0])
    }
    assert holders >= {base.key, app2.key} and app1.key not in holders
    assert library.saved_by_sharing(app1) >= 2 * base.size
    assert library.listed_total - library.disk_total == sum(
        size * (len(holders) - 1)
        for (_, chain), holders in library.holders.items()
        for size in [library.layer_size[("docker", chain)]]
    )


def test_dangling_and_containers(scratch: Scratch) -> None:
    library = scratch.library()
    by_id = {im.id: im for im in library.images}
    dangling = by_id[scratch.dangling_id]
    assert dangling.dangling and dangling.tags == [] and dangling.name == "<none>:<none>"
    app1 = by_id[scratch.id_of("app1")]
    assert (app1.running, app1.stopped) == (0, 1)
    assert library.dangling_bytes >= dangling.unique_size > 0


def test_cli_json_and_table(scratch: Scratch, tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": scratch.engine.host, "PYTHONPATH": os.getcwd()}
    out = subprocess.run(
        [sys.executable, "-m", "explorer", "images", "--json", "--source", "docker"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    docs = {d["id"]: d for d in json.loads(out.stdout)}
    app1 = docs[scratch.id_of("app1")]
    assert app1["tags"] == [scratch.tags["app1"]]
    assert app1["containers"] == {"running": 0, "stopped": 1}
    assert app1["sharedSize"] + app1["uniqueSize"] == app1["size"]
    assert len(app1["layers"]) == 2 and all(d.startswith("sha256:") for d in app1["layers"])
    assert docs[scratch.dangling_id]["dangling"] is True
    table = subprocess.run(
        [sys.executable, "-m", "explorer", "images", "--source", "docker"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    head, *rows = table.stdout.splitlines()
    assert head.split() == [
        "REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE", "SHARED", "UNIQUE", "CONTAINERS"
    ]  # fmt: skip
    repo, tag = scratch.tags["app1"].split(":")
    assert any(r.split()[:3] == [repo, tag, app1["id"][7:19]] for r in rows)
    assert "`docker images` adds up" in rows[-1] and "dangling" in rows[-1]


def test_no_engine_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock", "PYTHONPATH": os.getcwd()}
    out = subprocess.run(
        [sys.executable, "-m", "explorer", "images", "--source", "docker"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "is the docker engine running?" in out.stderr


@pytest.mark.corpus
def test_corpus_engine_numbers(shared_image: str) -> None:
    """The shared engine (the corpus images, built with the classic builder: `#(nop)` steps,
    zero-byte `RUN rm` layers): every image's numbers are the engine's, read only."""
    import docker

    at = Endpoint("docker", "unix:///var/run/docker.sock", "test")
    library = load_library(at=[at])
    client = docker.DockerClient(base_url=at.host)
    try:
        df = client.api.df()
    finally:
        client.close()
    engine_numbers = {im["Id"]: (im["Size"], im["SharedSize"]) for im in df["Images"]}
    assert {im.id: (im.size, im.shared_size) for im in library.images} == engine_numbers
    assert library.disk_total == df["LayersSize"]
    assert library.approximate() == []  # the step images settled every zero-byte step
    listed = subprocess.run(
        ["docker", "-H", at.host, "images", "-a", "-q", "--no-trunc"],
        capture_output=True,
        text=True,
    )
    everything = load_library(all_images=True, at=[at])
    assert {im.id for im in everything.images} == set(listed.stdout.split())
    extra = [im for im in everything.images if im.id not in engine_numbers]
    assert all(im.intermediate and not im.dangling for im in extra)
    assert everything.disk_total == library.disk_total  # an intermediate's layers are its child's


def test_enter_opens_the_image_and_b_comes_back(scratch: Scratch, monkeypatch) -> None:
    """In the TUI: the library of the private engine, Enter on a scratch image opens it in the
    explorer through the loading pipeline; `b` goes back to the library."""
    import asyncio

    monkeypatch.setenv("DOCKER_HOST", scratch.engine.host)  # where the opened image is read

    from explorer.tui.app import make_app
    from explorer.tui.screens.library import LibraryScreen

    async def run() -> None:
        app = make_app("", library=scratch.library, keymap_file=Path("/nonexistent/keymap.toml"))
        async with app.run_test(size=(100, 30)) as pilot:
            lib = app.screen
            assert isinstance(lib, LibraryScreen)
            await _until(pilot, lambda: lib.library is not None)
            await pilot.press("slash", *scratch.tags["app2"], "enter")
            assert [im.tags for im in lib.images.images] == [[scratch.tags["app2"]]]
            await pilot.press("enter")
            await _until(pilot, lambda: app.settled, lambda: lib.query_one("#lib-status").render())
            main = app.main_screen
            assert main is not None and main.meta is not None
            assert len(main.meta.layers) == 2 and main.load_state.name == "ANALYSED"
            await pilot.press("b")
            await _until(pilot, lambda: app.screen is lib)
            assert isinstance(app.screen, LibraryScreen) and app.main_screen is None

    asyncio.run(run())


async def _until(pilot, condition, why=lambda: "", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {why()}"
        await pilot.pause(0.05)
