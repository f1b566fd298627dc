"""Which engine the CLI talks to, how long it waits, and what it may ask (issue 12).

* An engine that accepts the connection and never answers fails within seconds (it took
  311 s), one line naming the endpoint — for Docker (DOCKER_HOST or a context) and Podman.
* The Docker CLI context (``DOCKER_CONTEXT``, or ``currentContext`` in
  ``$DOCKER_CONFIG/config.json``) chooses the engine for every request, inspection included;
  ``DOCKER_HOST`` wins over it, as in the docker CLI. (Inspection went to the default socket:
  with a warm cache, the run answered about the default engine's image.)
* A reference outside the reference grammar (``../networks/host``) is refused before any
  request reaches the engine.
* ``--platform`` that is not the platform of an engine's (single-platform) image is an error
  naming what the image is (it was ignored).

The fake engines here are unix sockets served by the test; the real ones are the shared engine
(the default socket: what a run that ignores the context talks to) and the private one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
from pathlib import Path

import pytest

from explorer.core.sources.endpoint import CONTROL_TIMEOUT
from tests.engine.private_engine import PrivateEngine, Run, run_cli
from tests.engine.relay import Relay
from tests.robustness.harness import assert_analysed, assert_rejected

NO_ENGINE = r"no engine socket|not running"
NO_ANSWER = r"did not answer"
NOT_FOUND = r"not found"
INVALID = r"invalid image reference"
HANG_BOUND = 120  # s: the subprocess is killed then (it answered after 311 s)


def rejected(run: Run, pattern: str, *where: str) -> None:
    assert_rejected(run.result, run.out, pattern, where, previous=None)


class FakeEngine:
    """A unix socket that accepts every connection and then either never answers (an engine
    that hangs: the connection stays open, the request unanswered) or answers every request
    404. It counts the connections."""

    def __init__(self, path: Path, answer: bool) -> None:
        self.path = path
        self.answer = answer
        self.connections = 0
        self._open: list[socket.socket] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen(16)
        threading.Thread(target=self._accept, daemon=True, name="fake-engine").start()

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        with contextlib.suppress(OSError):
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    return
                data += chunk
                if self.answer and b"\r\n\r\n" in data:
                    body = b'{"message":"no such image"}'
                    conn.sendall(
                        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                    )
                    conn.close()
                    return

    def close(self) -> None:
        for s in [self._sock, *self._open]:
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self) -> FakeEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def docker_context(config_dir: Path, name: str, host: str, current: bool = False) -> None:
    """A Docker CLI context, stored as `docker context create` stores it; with ``current``,
    also made the CLI config's currentContext."""
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps(
            {
                "Name": name,
                "Metadata": {},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
            }
        )
    )
    if current:
        (config_dir / "config.json").write_text(json.dumps({"currentContext": name}))


def context_env(tmp: Path, host: str, how: str) -> dict[str, str]:
    """The environment of a run whose Docker context 'elsewhere' points at ``host``, chosen by
    ``how``: the DOCKER_CONTEXT variable, or the CLI config's currentContext."""
    config = tmp / "docker-config"
    docker_context(config, "elsewhere", host, current=how == "config")
    env = {"DOCKER_CONFIG": str(config)}
    if how == "env":
        env["DOCKER_CONTEXT"] = "elsewhere"
    return env


CHOSEN_BY = ["env", "config"]

# --------------------------------------------------------------------------- an engine that hangs


@pytest.mark.parametrize("via", ["DOCKER_HOST", "context", "CONTAINER_HOST"])
def test_engine_that_never_answers(tmp_path: Path, via: str) -> None:
    """The socket accepts the connection and never answers: exit 2 within seconds (the run is
    killed after HANG_BOUND s), one line saying so and naming the socket."""
    with FakeEngine(tmp_path / "hung.sock", answer=False) as hung:
        if via == "DOCKER_HOST":
            env, target = {"DOCKER_HOST": hung.host}, "docker://busybox:1"
        elif via == "context":
            env, target = context_env(tmp_path, hung.host, "env"), "docker://busybox:1"
        else:
            env, target = {"CONTAINER_HOST": hung.host}, "podman://busybox:1"
        run = run_cli(target, tmp_path, env, timeout=HANG_BOUND)
        assert hung.connections >= 1, "the CLI never connected to the engine it was given"
    rejected(run, NO_ANSWER, str(hung.path))
    if via == "context":
        assert "context 'elsewhere'" in run.result.errors[0]


@pytest.mark.engine
def test_export_pause_longer_than_a_control_call(
    tmp_path: Path, engine: PrivateEngine, small_image: str
) -> None:
    """The export stream pauses for longer than a control call may take (an engine preparing
    a big export does): the short timeouts are not the export's, the run succeeds."""
    with Relay(tmp_path / "relay.sock", engine.sock) as relay:
        pause = threading.Event()
        relay.after_export_bytes(1 << 20, lambda: pause.wait(CONTROL_TIMEOUT + 5))
        run = run_cli(f"docker://{small_image}", tmp_path, {"DOCKER_HOST": relay.host})
        assert relay.fired.is_set() and not relay.errors, relay.errors
    assert_analysed(run.result, run.out)


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    "reference",
    ["../networks/host", "busybox/../../networks/host", "busybox:1/../../../info", "x?all=1"],
)
@pytest.mark.parametrize("kind", ["docker", "podman"])
def test_invalid_reference_reaches_no_engine(tmp_path: Path, kind: str, reference: str) -> None:
    """A reference outside the grammar: exit 2, one line naming it, and no connection made."""
    with FakeEngine(tmp_path / "engine.sock", answer=True) as fake:
        variable = "DOCKER_HOST" if kind == "docker" else "CONTAINER_HOST"
        run = run_cli(f"{kind}://{reference}", tmp_path, {variable: fake.host}, timeout=60)
        assert fake.connections == 0, f"{reference!r} was sent to the engine"
    rejected(run, INVALID, repr(reference))


# --------------------------------------------------------------------------- the Docker context


@pytest.mark.parametrize("how", CHOSEN_BY)
def test_context_names_the_engine(tmp_path: Path, how: str) -> None:
    """The context points at a socket with nothing behind it: that socket is the one tried
    (the line named the default socket, which inspection had used)."""
    sock = tmp_path / "nothing" / "docker.sock"
    run = run_cli("docker://busybox:1", tmp_path, context_env(tmp_path, f"unix://{sock}", how))
    rejected(run, NO_ENGINE, str(sock))
    assert "context 'elsewhere'" in run.result.errors[0]


def test_context_that_does_not_exist(tmp_path: Path) -> None:
    """DOCKER_CONTEXT names no context: an error saying so (the default engine was used)."""
    run = run_cli("docker://busybox:1", tmp_path, {"DOCKER_CONTEXT": "missing"})
    rejected(run, r"context 'missing' \(from DOCKER_CONTEXT\) does not exist", "meta.json")


def test_docker_host_wins_over_the_context(tmp_path: Path) -> None:
    """DOCKER_HOST and a context both set: DOCKER_HOST is used, as by the docker CLI."""
    host_sock, context_sock = tmp_path / "host.sock", tmp_path / "context.sock"
    env = context_env(tmp_path, f"unix://{context_sock}", "env")
    env["DOCKER_HOST"] = f"unix://{host_sock}"
    run = run_cli("docker://busybox:1", tmp_path, env)
    rejected(run, NO_ENGINE, str(host_sock))
    assert str(context_sock) not in run.result.errors[0]


@pytest.mark.engine
@pytest.mark.parametrize("how", CHOSEN_BY)
def test_context_with_a_warm_cache(tmp_path: Path, shared_image: str, how: str) -> None:
    """An image of the default engine, opened once (its layers and record cached), then asked
    for with a context naming a socket with nothing behind it: refused, naming that socket
    (it was served from the cache: the default engine's image, exit 0)."""
    cache = tmp_path / "cache"
    first = run_cli(f"docker://{shared_image}", tmp_path / "default", cache=cache)
    assert_analysed(first.result, first.out)
    sock = tmp_path / "nothing.sock"
    ctx = tmp_path / "ctx"
    run = run_cli(
        f"docker://{shared_image}", ctx, context_env(ctx, f"unix://{sock}", how), cache=cache
    )
    rejected(run, NO_ENGINE, str(sock))


@pytest.mark.engine
def test_context_on_a_real_engine(
    tmp_path: Path, engine: PrivateEngine, small_image: str, shared_image: str
) -> None:
    """A context pointing at the private engine: its image is analysed; an image only the
    default engine holds is not found, and the line names the private engine's socket."""
    env = context_env(tmp_path, engine.host, "env")
    ok = run_cli(f"docker://{small_image}", tmp_path / "ok", env)
    assert_analysed(ok.result, ok.out)
    absent = run_cli(f"docker://{shared_image}", tmp_path / "absent", env)
    rejected(absent, NOT_FOUND, str(engine.sock))
    assert shared_image in absent.result.errors[0]


# --------------------------------------------------------------------------- --platform


@pytest.mark.engine
@pytest.mark.parametrize("kind", ["docker", "podman"])
@pytest.mark.parametrize("platform", ["linux/arm64", "windows/amd64", "linux/amd64/v2"])
def test_platform_not_held(
    tmp_path: Path, engine: PrivateEngine, small_image: str, kind: str, platform: str
) -> None:
    """The engine holds the image for linux/amd64 only: another --platform is refused, naming
    what the image is (it was ignored). Podman serves the same API: the private Docker engine
    stands for it here, through CONTAINER_HOST."""
    variable = "DOCKER_HOST" if kind == "docker" else "CONTAINER_HOST"
    run = run_cli(
        f"{kind}://{small_image}",
        tmp_path,
        {variable: engine.host},
        args=("--platform", platform),
    )
    rejected(run, rf"the image is linux/amd64, not {platform}", small_image)


@pytest.mark.engine
def test_platform_held(tmp_path: Path, engine: PrivateEngine, small_image: str) -> None:
    run = run_cli(
        f"docker://{small_image}",
        tmp_path,
        {"DOCKER_HOST": engine.host},
        args=("--platform", "linux/amd64"),
    )
    assert_analysed(run.result, run.out)
