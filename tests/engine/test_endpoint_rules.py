"""The rules behind the engine endpoint and the image reference, without an engine: which
endpoint the environment chooses (as the docker CLI chooses it), and which references the
reference grammar admits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from explorer.core.errors import EngineError, ImageError
from explorer.core.sources.endpoint import (
    DEFAULT_DOCKER_HOST,
    check_platform,
    check_reference,
    docker_endpoint,
    podman_endpoint,
)
from tests.engine.test_engine_endpoint import docker_context

HEX = "0123456789abcdef" * 4


@pytest.fixture
def docker_env(monkeypatch, tmp_path: Path) -> Path:
    """No DOCKER_HOST nor DOCKER_CONTEXT; an empty Docker CLI config directory."""
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "docker-config"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    return config


def test_default_socket(docker_env: Path) -> None:
    assert docker_endpoint().host == DEFAULT_DOCKER_HOST
    (docker_env / "config.json").write_text(json.dumps({"currentContext": "default"}))
    assert docker_endpoint().host == DEFAULT_DOCKER_HOST


def test_docker_context_beats_current_context(docker_env: Path, monkeypatch) -> None:
    docker_context(docker_env, "from-config", "unix:///config.sock", current=True)
    assert str(docker_endpoint()) == "unix:///config.sock (context 'from-config')"
    docker_context(docker_env, "from-env", "tcp://10.0.0.1:2376")
    monkeypatch.setenv("DOCKER_CONTEXT", "from-env")
    assert docker_endpoint().host == "tcp://10.0.0.1:2376"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert docker_endpoint().host == DEFAULT_DOCKER_HOST
    monkeypatch.setenv("DOCKER_HOST", "unix:///host.sock")
    assert str(docker_endpoint()) == "unix:///host.sock (DOCKER_HOST)"


def test_context_tls_material(docker_env: Path, monkeypatch) -> None:
    docker_context(docker_env, "remote", "tcp://10.0.0.1:2376")
    context_id = hashlib.sha256(b"remote").hexdigest()
    tls = docker_env / "contexts" / "tls" / context_id / "docker"
    monkeypatch.setenv("DOCKER_CONTEXT", "remote")
    assert docker_endpoint().tls_dir == ""
    tls.mkdir(parents=True)
    found = docker_endpoint()
    assert (found.tls_dir, found.tls_verify) == (str(tls), True)


@pytest.mark.parametrize(
    "config, meta, message",
    [
        ("{", None, r"cannot read the Docker CLI config"),
        ('{"currentContext": 5}', None, r"currentContext .* is not a string"),
        ('{"currentContext": "gone"}', None, r"context 'gone' \(from .*config.json\) does not"),
        ('{"currentContext": "bad"}', "[", r"context 'bad' .*: cannot read"),
        ('{"currentContext": "bad"}', '{"Endpoints": {}}', r"has no docker endpoint"),
        ('{"currentContext": "bad"}', '{"Endpoints": {"docker": {"Host": 1}}}', "not a string"),
    ],
)
def test_broken_docker_config(docker_env: Path, config, meta, message) -> None:
    """A config or context that cannot be read is an error, never a silent fallback to the
    default engine."""
    (docker_env / "config.json").write_text(config)
    if meta is not None:
        folder = docker_env / "contexts" / "meta" / hashlib.sha256(b"bad").hexdigest()
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text(meta)
    with pytest.raises(EngineError, match=message):
        docker_endpoint()


def test_podman_endpoint(monkeypatch, tmp_path: Path) -> None:
    for name in ("LAYERSCOPE_PODMAN_HOST", "CONTAINER_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "podman").mkdir()
    (tmp_path / "podman" / "podman.sock").touch()
    assert podman_endpoint().host == f"unix://{tmp_path}/podman/podman.sock"
    monkeypatch.setenv("CONTAINER_HOST", "unix:///c.sock")
    assert str(podman_endpoint()) == "unix:///c.sock (CONTAINER_HOST)"


@pytest.mark.parametrize(
    "reference",
    [
        "busybox",
        "busybox:1.36",
        "library/busybox:latest",
        "corpus/many-layers:1",
        "my_org/my__app-x.y:v1_2-3",
        "localhost:5000/a/b:tag",
        "Registry.Example.COM/team/app",
        "[::1]:5000/app:1",
        f"busybox@sha256:{HEX}",
        f"busybox:1@sha256:{HEX}",
        HEX,
        f"sha256:{HEX}",
        "0b12c0f6ba20",  # a short image ID
        "a" * 255,
    ],
)
def test_valid_references(reference: str) -> None:
    check_reference("docker", reference)


@pytest.mark.parametrize(
    "reference",
    [
        "",
        "../networks/host",
        "busybox/../../networks/host",
        "./busybox",
        "/busybox",
        "busybox/",
        "a//b",
        "Busybox",  # upper case in the path
        "busybox:",
        "busybox:-1",
        "busybox:" + "t" * 129,
        "busybox@sha256:abc",
        "busybox@sha256",
        "busybox?all=1",
        "busybox#frag",
        "busy box",
        "busybox\x1b[31m",
        "busybox\n",
        "a..b",
        "a" * 256,
        "bus%2fybox",
    ],
)
def test_invalid_references(reference: str) -> None:
    with pytest.raises(ImageError, match=r"invalid image reference|longer than 255"):
        check_reference("docker", reference)


INFO = {"Os": "linux", "Architecture": "arm", "Variant": "v7"}


@pytest.mark.parametrize("wanted", ["linux/arm", "linux/arm/v7"])
def test_platform_held(wanted: str) -> None:
    check_platform("docker", "x", wanted, INFO)


@pytest.mark.parametrize(
    "wanted, info, message",
    [
        ("linux/arm/v6", INFO, "the image is linux/arm/v7, not linux/arm/v6"),
        ("linux/amd64", INFO, "the image is linux/arm/v7, not linux/amd64"),
        ("linux/amd64", {}, "the image is of an unknown platform, not linux/amd64"),
        ("amd64", INFO, "invalid platform 'amd64'"),
    ],
)
def test_platform_not_held(wanted: str, info: dict, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        check_platform("docker", "x", wanted, info)
