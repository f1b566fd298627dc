"""What goes wrong with a registry, each against a real one: refused credentials (one line
naming the registry and where credentials were looked for, never a secret), an unknown
repository or tag, a blob whose bytes do not match its digest, a connection reset in the
middle of a blob (resumed with a Range request; one line when it keeps failing), a slow
registry (progress, then cancel)."""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path

import pytest

from explorer.core import loading
from explorer.core.sources.registry import RegistrySource
from tests.registry.conftest import layerscope
from tests.registry.servers import FaultProxy, Registry, TokenRegistry, TokenServer

pytestmark = pytest.mark.registry
NO_CREDS = {
    "DOCKER_CONFIG": "/nonexistent-docker-config",
    "REGISTRY_AUTH_FILE": "/nonexistent-auth.json",
    "LAYERSCOPE_REGISTRY_USER": "",
}


def _one_line(done) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_basic_auth_refused_names_the_registry_and_what_was_tried(
    basic_registry: Registry,
) -> None:
    ref = f"registry://{basic_registry.addr}/private/small:1"
    done = layerscope(ref, "--json", "/dev/null", env=NO_CREDS)
    line = _one_line(done)
    assert f"registry {basic_registry.addr}" in line
    assert "HTTP 401" in line
    assert "LAYERSCOPE_REGISTRY_USER" in line and "/nonexistent-docker-config/config.json" in line
    wrong = layerscope(ref, "--json", "/dev/null", "--creds", "ls:wrong-secret", env=NO_CREDS)
    line = _one_line(wrong)
    assert "--creds" in line and "wrong-secret" not in line


def test_basic_auth_from_each_credential_source(basic_registry: Registry, tmp_path: Path) -> None:
    ref = f"registry://{basic_registry.addr}/private/small:1"
    out = tmp_path / "out.json"
    by_flag = layerscope(ref, "--json", str(out), "--creds", "ls:s3cret-pw", env=NO_CREDS)
    assert by_flag.returncode == 0, by_flag.stderr
    expected = out.read_text()

    env = dict(NO_CREDS, LAYERSCOPE_REGISTRY_USER="ls", LAYERSCOPE_REGISTRY_PASSWORD="s3cret-pw")
    assert layerscope(ref, "--json", str(out), "--no-cache", env=env).returncode == 0

    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    (docker_dir / "config.json").write_text(
        json.dumps({"auths": {basic_registry.addr: {"auth": "bHM6czNjcmV0LXB3"}}})  # ls:s3cret-pw
    )
    env = dict(NO_CREDS, DOCKER_CONFIG=str(docker_dir))
    assert layerscope(ref, "--json", str(out), "--no-cache", env=env).returncode == 0

    podman = tmp_path / "auth.json"
    podman.write_text(json.dumps({"auths": {basic_registry.addr: {"auth": "bHM6czNjcmV0LXB3"}}}))
    env = dict(NO_CREDS, REGISTRY_AUTH_FILE=str(podman))
    assert layerscope(ref, "--json", str(out), "--no-cache", env=env).returncode == 0

    # a credential helper, as `docker login` with credHelpers leaves it
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-lstest"
    helper.write_text(
        "#!/bin/sh\nread server\n"
        'echo "{\\"ServerURL\\":\\"$server\\",'
        '\\"Username\\":\\"ls\\",\\"Secret\\":\\"s3cret-pw\\"}"\n'
    )
    helper.chmod(0o755)
    (docker_dir / "config.json").write_text(
        json.dumps({"credHelpers": {basic_registry.addr: "lstest"}})
    )
    env = dict(NO_CREDS, DOCKER_CONFIG=str(docker_dir), PATH=f"{bindir}:{os.environ['PATH']}")
    done = layerscope(ref, "--json", str(out), "--no-cache", env=env)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == expected


def test_bearer_token_flow(token_registry: TokenRegistry, tmp_path: Path) -> None:
    ref = f"registry://{token_registry.addr}/private/small:1"
    tokens = token_registry.tokens
    tokens.requests.clear()
    done = layerscope(ref, "--json", str(tmp_path / "out.json"), "--creds", "ls:t0ken-pw")
    assert done.returncode == 0, done.stderr
    assert tokens.requests, "no token was asked for"
    assert tokens.requests[0]["scope"] == ["repository:private/small:pull"]
    assert tokens.requests[0]["service"] == [TokenServer.SERVICE]
    refused = layerscope(ref, "--json", "/dev/null", "--no-cache", env=NO_CREDS)
    line = _one_line(refused)
    assert f"registry {token_registry.addr}" in line and "HTTP 401" in line
    wrong = layerscope(ref, "--json", "/dev/null", "--creds", "ls:not-it", env=NO_CREDS)
    line = _one_line(wrong)
    assert "--creds" in line and "not-it" not in line


def test_bearer_token_from_an_identity_token(token_registry: TokenRegistry, tmp_path: Path) -> None:
    """`docker login` to a token server keeps a refresh token: it is POSTed for a token."""
    tokens = token_registry.tokens
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    entry = {"auth": base64.b64encode(b"ls:").decode(), "identitytoken": tokens.refresh}
    (docker_dir / "config.json").write_text(json.dumps({"auths": {token_registry.addr: entry}}))
    tokens.requests.clear()
    ref = f"registry://{token_registry.addr}/private/small:1"
    done = layerscope(
        ref, "--json", str(tmp_path / "out.json"), env=dict(NO_CREDS, DOCKER_CONFIG=str(docker_dir))
    )
    assert done.returncode == 0, done.stderr
    assert tokens.requests[0]["grant_type"] == ["refresh_token"]
    assert tokens.requests[0]["scope"] == ["repository:private/small:pull"]


def test_unknown_repository_and_tag(registry: Registry, small: str) -> None:
    repo = small.split(":")[0]
    no_repo = _one_line(layerscope(f"registry://{registry.addr}/ls-test/nothing-here:1", "--ci"))
    assert f"registry {registry.addr}" in no_repo and "nothing-here" in no_repo
    no_tag = _one_line(layerscope(f"registry://{registry.addr}/{repo}:no-such-tag", "--ci"))
    assert "no-such-tag" in no_tag and "not found" in no_tag


def test_a_blob_that_does_not_match_its_digest(proxy: FaultProxy, small: str) -> None:
    source = RegistrySource(f"{proxy.addr}/{small}")
    meta = source.open()
    bad = source.blobs[1]
    proxy.corrupt.add(bad)
    line = _one_line(layerscope(f"registry://{proxy.addr}/{small}", "--json", "/dev/null"))
    assert bad in line
    assert "does not match" in line or "corrupt gzip" in line
    assert meta.layers[1].digest  # the layer the bad blob claims to be


def test_a_connection_dropped_mid_blob_is_resumed(
    proxy: FaultProxy, small: str, tmp_path: Path
) -> None:
    source = RegistrySource(f"{proxy.addr}/{small}")
    source.open()
    blob = source.blobs[1]
    proxy.cut_after[blob] = 1 << 20
    out = tmp_path / "resumed.json"
    done = layerscope(f"registry://{proxy.addr}/{small}", "--json", str(out))
    assert done.returncode == 0, done.stderr
    ranges = [r for d, r in zip(proxy.blob_requests, proxy.ranges, strict=True) if d == blob]
    assert ranges[0] == "" and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"
    assert int(ranges[1][6:-1]) == 1 << 20  # from the byte where it stopped
    reference = tmp_path / "direct.json"
    direct = layerscope(f"registry://{proxy.upstream}/{small}", "--json", str(reference))
    assert direct.returncode == 0
    assert out.read_text() == reference.read_text()


def test_a_connection_that_keeps_dropping_is_one_line(proxy: FaultProxy, small: str) -> None:
    source = RegistrySource(f"{proxy.addr}/{small}")
    source.open()
    blob = source.blobs[1]
    proxy.always_reset_after[blob] = 64 << 10  # of every response: 6 drops, 384 KiB
    line = _one_line(layerscope(f"registry://{proxy.addr}/{small}", "--json", "/dev/null"))
    assert blob in line and "connection dropped" in line


def test_a_slow_registry_shows_progress_and_cancels(proxy: FaultProxy, small: str) -> None:
    proxy.delay = 0.05  # 64 KiB every 50 ms: the 2 MiB layer takes about 1.6 s
    job = loading.Loading(lambda: RegistrySource(f"{proxy.addr}/{small}", cache=None))
    seen: list[object] = []
    stop = threading.Event()
    for event in job.events(stop):
        seen.append(event)
        if isinstance(event, loading.Progress) and event.layer == 1 and event.bytes_read:
            stop.set()  # Esc
    assert any(isinstance(e, loading.Opened) for e in seen)
    assert isinstance(seen[-1], loading.Stopped)
    assert job.wait(10), "the load did not stop after cancel"
    assert not any(isinstance(e, (loading.Analysed, loading.Failed)) for e in seen)


def test_plain_http_only_for_loopback_or_insecure_registry(registry: Registry) -> None:
    from explorer.core.sources import regauth
    from explorer.core.sources.regclient import RegistryClient

    assert RegistryClient(registry.addr, "x").base.startswith("http://")
    assert RegistryClient("registry.example.com", "x").base.startswith("https://")
    with regauth.configured(insecure=("registry.example.com",)):
        assert RegistryClient("registry.example.com:5000", "x").base.startswith("http://")
