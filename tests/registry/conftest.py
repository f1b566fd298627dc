"""Session fixtures: a real registry of our own (started by start-registry.sh, stopped at the
end), the small corpus pushed to it with skopeo, and a fault proxy in front of it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import CORPUS_OUT
from tests.registry.servers import (
    REQUIRED,
    START,
    FaultProxy,
    Registry,
    TokenRegistry,
    TokenServer,
    have,
    skopeo_copy,
)
from tests.robustness import builders as b

ARCHIVES = CORPUS_OUT / "archives"
SMALL_CORPUS = ("debian", "many-layers", "multistage", "waste")
REPO = Path(__file__).resolve().parents[2]


def unavailable(what: str, hint: str) -> None:
    message = f"{what} is not available ({hint})"
    if REQUIRED:
        pytest.fail(f"LAYERSCOPE_REQUIRE_ENGINE=1 but {message}", pytrace=False)
    pytest.skip(message)


def start_registry(tmp: Path, htpasswd: Path | None = None) -> Registry:
    if not START.exists():
        unavailable("start-registry.sh", f"{START} missing; set LAYERSCOPE_SHARED")
    reg = Registry(tmp, htpasswd)
    try:
        reg.start()
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        reg.stop()
        unavailable("a local registry (Debian's docker-registry)", str(exc))
    return reg


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def skopeo() -> None:
    if not have("skopeo"):
        unavailable("skopeo", "apt-get install -y skopeo (make services installs it)")


@pytest.fixture(scope="session")
def pushed(registry: Registry, skopeo: None) -> dict[str, str]:
    """The small corpus archives pushed to the registry: name -> registry reference."""
    refs = {}
    for name in SMALL_CORPUS:
        archive = ARCHIVES / f"{name}.tar"
        if not archive.exists():
            continue
        ref = f"{registry.addr}/corpus/{name}:1"
        skopeo_copy(f"docker-archive:{archive}", f"docker://{ref}")
        refs[name] = ref
    if not refs:
        pytest.skip(f"the small corpus is not built ({ARCHIVES}; see corpus/build.sh)")
    return refs


@pytest.fixture(scope="session")
def small(registry: Registry, skopeo: None, tmp_path_factory) -> str:
    """A small image whose second layer is big enough to be cut in the middle (2 MiB of
    noise, gzip-compressed it stays 2 MiB)."""
    image = b.Image(
        layers=[
            b.Layer(entries=[b.file("etc/base", b"base\n" * 100)], compression="gzip"),
            b.Layer(entries=[b.file("data/noise", b.noise(2 << 20))], compression="gzip"),
        ]
    )
    layout = b.oci_archive(image).write_dir(tmp_path_factory.mktemp("faults") / "layout")
    ref = f"{registry.addr}/ls-test/faults-{os.getpid()}:1"
    skopeo_copy(f"oci:{layout}", f"docker://{ref}")
    return ref.split("/", 1)[1]  # REPO:TAG, to put behind a proxy's address


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory, skopeo: None) -> Iterator[Registry]:
    """A second registry that requires basic auth (user `ls` password `s3cret-pw`), with
    corpus/waste:1 (or a generated image) pushed to it as `private/waste:1`."""
    if not have("htpasswd"):
        unavailable("htpasswd", "apt-get install -y apache2-utils (make services installs it)")
    tmp = tmp_path_factory.mktemp("basic-registry")
    htpasswd = tmp / "htpasswd"
    done = subprocess.run(
        ["htpasswd", "-Bbn", "ls", "s3cret-pw"], capture_output=True, text=True, check=True
    )
    htpasswd.write_text(done.stdout)
    reg = start_registry(tmp / "root", htpasswd)
    skopeo_copy(
        f"oci:{small_layout(tmp / 'layout')}",
        f"docker://{reg.addr}/private/small:1",
        creds="ls:s3cret-pw",
    )
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, skopeo: None
) -> Iterator[TokenRegistry]:
    """A registry with the bearer-token flow (user `ls`, password `t0ken-pw` at its token
    endpoint), with a small image pushed to it as `private/small:1`."""
    if not have("openssl"):
        unavailable("openssl", "it signs the test token server's tokens")
    tmp = tmp_path_factory.mktemp("token-registry")
    tokens = TokenServer(tmp, "ls", "t0ken-pw")
    reg = TokenRegistry(tmp / "root", tokens)
    try:
        reg.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        reg.stop()
        tokens.close()
        unavailable("a registry with token auth (Debian's docker-registry)", str(exc))
    skopeo_copy(
        f"oci:{small_layout(tmp / 'layout')}",
        f"docker://{reg.addr}/private/small:1",
        creds="ls:t0ken-pw",
    )
    yield reg
    reg.stop()
    tokens.close()


def small_layout(path: Path) -> Path:
    """A small two-layer image as an OCI layout directory (for skopeo to push)."""
    from tests.robustness import builders as b

    image = b.Image(
        tag="small:1",
        layers=[
            b.Layer(entries=[b.file("etc/base", b"base\n" * 100)], compression="gzip"),
            b.Layer(entries=[b.file("app/run", b"#!/bin/sh\n")], command="COPY run /app/"),
        ],
    )
    return b.oci_archive(image).write_dir(path)


@pytest.fixture
def proxy(registry: Registry) -> Iterator[FaultProxy]:
    p = FaultProxy(registry.addr)
    yield p
    p.close()


def layerscope(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The CLI, as a user runs it (this checkout's code)."""
    import os

    full = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    full.pop("CI", None)  # CI=true turns on --ci mode (as in dive); a test asks for it by flag
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=full,
        cwd=REPO,
    )
