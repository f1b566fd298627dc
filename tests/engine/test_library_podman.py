"""The library against a real Podman service (Debian's podman, as root on vfs storage of its
own: tests/engine/start-podman.sh), started here and stopped at the end; with the private
Docker engine beside it, both are listed with a source column."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from explorer.core import libraryactions as act
from explorer.core.library import load_library
from explorer.core.sources.endpoint import Endpoint
from tests.engine.private_engine import PrivateEngine
from tests.robustness import builders as b

pytestmark = pytest.mark.engine

START = Path(__file__).with_name("start-podman.sh")


@pytest.fixture(scope="module")
def podman() -> Iterator[str]:
    """The host of a Podman service of our own (its storage in a temp dir)."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (tests/engine/start-podman.sh installs it)")
    if os.geteuid() != 0:
        pytest.skip("the Podman service on vfs storage is started as root here")
    root = Path(tempfile.mkdtemp(prefix="ls-podman-", dir="/tmp"))
    env = {**os.environ, "PODMAN_ROOT": str(root)}
    started = subprocess.run(["bash", str(START)], env=env, capture_output=True, text=True)
    pid_file = root / "service.pid"
    try:
        if started.returncode != 0:
            pytest.skip(f"the Podman service did not start: {started.stderr.strip()[-500:]}")
        yield f"unix://{root}/podman.sock"
    finally:
        if pid_file.exists():
            pid = int(pid_file.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)  # the service exits before its files are removed
        subprocess.run(["rm", "-rf", str(root)], check=False)


def _archive(tmp: Path, tag: str, layers: list[b.Layer]) -> Path:
    return b.docker_archive(b.Image(tag=tag, layers=layers)).write_tar(tmp / f"{len(layers)}.tar")


def _layer(name: str, size: int, seed: str) -> b.Layer:
    return b.Layer(entries=[b.file(f"{name}.bin", b.noise(size, seed.encode()))])


def test_podman_library_and_load(podman: str, tmp_path: Path, monkeypatch) -> None:
    """Images loaded into Podman through the library's load; the base layer is shared."""
    monkeypatch.setenv("LAYERSCOPE_PODMAN_HOST", podman)
    run = f"{os.getpid()}-{time.monotonic_ns()}"
    base = _layer("base", 200_000, run)
    for role, layers in (("base", [base]), ("app", [base, _layer("app", 50_000, run)])):
        archive = _archive(tmp_path, f"layerscope-podman/{role}:{run}", layers)
        said = act.load("podman", str(archive), lambda d, t: None, threading.Event())
        assert any(f"layerscope-podman/{role}:{run}" in line for line in said), said
    library = load_library(at=[Endpoint("podman", podman, "test")])
    assert library.sources == ["podman"]
    by_tag = {t.removeprefix("localhost/"): im for im in library.images for t in im.tags}
    base_im, app_im = (
        by_tag[f"layerscope-podman/base:{run}"],
        by_tag[f"layerscope-podman/app:{run}"],
    )
    assert base_im.source == app_im.source == "podman"
    base_layer = base_im.layers[0].size
    assert base_layer >= 200_000
    assert base_im.shared_size == app_im.shared_size == base_layer
    assert app_im.unique_size == app_im.size - base_layer >= 50_000
    assert library.disk_total == base_layer + app_im.layers[1].size


def test_both_engines_with_a_source_column(
    podman: str, engine: PrivateEngine, tmp_path: Path
) -> None:
    """Docker and Podman both answer: `layerscope images` lists both, with a SOURCE column,
    and never counts a layer of one as shared with the other."""
    run = f"{os.getpid()}-{time.monotonic_ns()}"
    tag = f"layerscope-both/image:{run}"
    archive = _archive(tmp_path, tag, [_layer("both", 30_000, run)])
    env = {**os.environ, "DOCKER_HOST": engine.host, "LAYERSCOPE_PODMAN_HOST": podman}
    env["PYTHONPATH"] = os.getcwd()
    engine.load(archive)
    try:
        with pytest.MonkeyPatch.context() as m:
            m.setenv("LAYERSCOPE_PODMAN_HOST", podman)
            act.load("podman", str(archive), lambda d, t: None, threading.Event())
        cli = [sys.executable, "-m", "explorer", "images"]
        table = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=120)
        listed = subprocess.run(
            [*cli, "--json"], capture_output=True, text=True, env=env, timeout=120
        )
    finally:
        engine.docker("rmi", "-f", tag, check=False)
    assert table.returncode == 0, table.stderr
    assert table.stdout.split()[0] == "SOURCE"
    rows = [r.split() for r in table.stdout.splitlines()[1:] if tag.split(":")[0] in r]
    assert sorted(r[0] for r in rows) == ["docker", "podman"]
    docs = [d for d in json.loads(listed.stdout) if any(run in t for t in d["tags"])]
    assert sorted(d["source"] for d in docs) == ["docker", "podman"]
    assert all(d["sharedSize"] == 0 for d in docs)  # the same layer, on two engines' disks
