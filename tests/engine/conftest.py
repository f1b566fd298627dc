"""Session fixtures: a private Docker engine (see private_engine.py), started once in a temp dir
and stopped, with everything it started, at the end; the images loaded into it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.private_engine import (
    REQUIRED,
    START,
    WASTE_REF,
    WASTE_TAR,
    PrivateEngine,
    small_image_archive,
    unavailable,
)
from tests.robustness import builders as b


@pytest.fixture(scope="session")
def engine() -> Iterator[PrivateEngine]:
    if not START.exists():
        unavailable("start-dockerd.sh", f"{START} missing; set LAYERSCOPE_SHARED")
    if shutil.which("dockerd") is None and not REQUIRED:
        unavailable("dockerd", "install docker.io, or run with LAYERSCOPE_REQUIRE_ENGINE=1")
    # short: a unix socket path must fit in 108 bytes
    eng = PrivateEngine(Path(tempfile.mkdtemp(prefix="ls-engine-", dir="/tmp")))
    try:
        eng.start()
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        eng.stop()
        eng.unmount()
        shutil.rmtree(eng.dir, ignore_errors=True)
        unavailable("a private Docker engine", str(exc)[-1500:])
    yield eng
    eng.stop()
    left = eng.processes()
    for pid, _ in left:  # ours (they name our directory): end them by pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    eng.unmount()
    shutil.rmtree(eng.dir, ignore_errors=True)
    assert not left, f"processes left behind by the private engine: {left}"
    assert not eng.dir.exists(), f"{eng.dir} could not be removed (a mount left?)"


@pytest.fixture
def small_image(engine: PrivateEngine, tmp_path_factory) -> Iterator[str]:
    """A fresh small image in the private engine, under a tag of its own (removed after)."""
    tag = f"layerscope-fault/small:{os.getpid()}-{time.monotonic_ns()}"
    tmp = tmp_path_factory.mktemp("small-image")
    engine.load(small_image_archive(tmp / "small.tar", tag))
    yield tag
    engine.docker("rmi", "-f", tag, check=False)


@pytest.fixture(scope="session")
def big_image(engine: PrivateEngine, tmp_path_factory) -> str:
    """corpus/waste:1 (233 MB) in the private engine, or a generated 128 MB image when the
    corpus archive has not been built."""
    if engine.has(WASTE_REF):
        return WASTE_REF
    if WASTE_TAR.exists():
        engine.load(WASTE_TAR)
        return WASTE_REF
    image = b.Image(
        tag=WASTE_REF,
        layers=[
            b.Layer(entries=[b.file("big/zeros", b.Zeros(96 << 20))], command="big"),
            b.Layer(entries=[b.file("big/noise", b.noise(32 << 20))], command="noise"),
        ],
    )
    path = b.docker_archive(image).write_tar(tmp_path_factory.mktemp("big") / "big.tar")
    engine.load(path)
    return WASTE_REF


SHARED_HOST = "unix:///var/run/docker.sock"


@pytest.fixture
def shared_image(tmp_path_factory) -> Iterator[str]:
    """A fresh small image in the shared engine (the default socket), under a tag of its own
    (removed after): what a run that talks to the default engine by mistake would find."""

    def docker(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "-H", SHARED_HOST, *args], capture_output=True, text=True, timeout=300
        )

    if shutil.which("docker") is None or docker("version").returncode != 0:
        unavailable("the shared Docker engine", f"nothing answers on {SHARED_HOST}")
    tag = f"layerscope-endpoint/shared:{os.getpid()}-{time.monotonic_ns()}"
    archive = small_image_archive(tmp_path_factory.mktemp("shared-image") / "small.tar", tag)
    loaded = docker("load", "-i", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    yield tag
    docker("rmi", "-f", tag)
