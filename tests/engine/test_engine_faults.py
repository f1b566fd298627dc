"""Engine faults, with a real engine (issue 5): every one ends with exit code 2, exactly one
line on stderr naming the problem (and the socket or the image), no traceback, and no output
file (``--json OUT``) left behind.

The engine is a private dockerd started for the session (see conftest.py); the tests that
stop it mid-export stop that one, by its pid. A relay socket (relay.py) between the CLI and
that engine holds the export stream at an exact byte count while the fault is made.
What could not be reproduced as is: a socket permission error as root (root bypasses file
permissions), so the CLI runs without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (``setpriv``)
for those tests; and a real Podman (none on this machine): only its socket being absent.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.engine.private_engine import PrivateEngine, Run, run_cli
from tests.engine.relay import Relay
from tests.robustness.harness import assert_analysed, assert_common, assert_rejected

NO_ENGINE = r"no engine socket|not running|cannot connect|no such file"
REFUSED = r"refused|not running"
DENIED = r"permission denied"
NOT_FOUND = r"not found|no such image|does not exist"
GONE = r"closed the connection|connection (was )?(lost|closed|reset|aborted|broken)|truncat|stopped"

DROP_DAC = (
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
)


def rejected(run: Run, pattern: str, *where: str) -> None:
    assert_rejected(run.result, run.out, pattern, where, previous=None)


def without_dac_override() -> tuple[str, ...]:
    """A command prefix running the CLI without the capabilities that let root ignore file
    permissions (so a socket's mode applies to it); the identity stays root."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) missing: cannot run the CLI without CAP_DAC_OVERRIDE")
    probe = subprocess.run([*DROP_DAC, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop CAP_DAC_OVERRIDE here: {probe.stderr.strip()}")
    return DROP_DAC


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- no engine at all


def test_engine_not_running_no_socket(tmp_path: Path) -> None:
    """DOCKER_HOST names a socket that does not exist: 'no engine socket', naming it."""
    sock = tmp_path / "absent" / "docker.sock"
    run = run_cli("docker://busybox:1", tmp_path, {"DOCKER_HOST": f"unix://{sock}"})
    rejected(run, NO_ENGINE, str(sock))


def test_engine_not_running_stale_socket(tmp_path: Path) -> None:
    """DOCKER_HOST names a socket file nobody listens on (what a killed daemon leaves):
    'connection refused', naming it."""
    sock = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    s.close()
    run = run_cli("docker://busybox:1", tmp_path, {"DOCKER_HOST": f"unix://{sock}"})
    rejected(run, REFUSED, str(sock))


def test_engine_not_running_tcp(tmp_path: Path) -> None:
    """DOCKER_HOST=tcp://127.0.0.1:<closed port>: 'connection refused', naming the address."""
    host = f"tcp://127.0.0.1:{free_tcp_port()}"
    run = run_cli("docker://busybox:1", tmp_path, {"DOCKER_HOST": host})
    rejected(run, REFUSED, host.removeprefix("tcp://"))


def test_podman_socket_absent(tmp_path: Path) -> None:
    """podman://x with CONTAINER_HOST naming an absent socket: one line naming podman and the
    socket."""
    sock = tmp_path / "podman" / "podman.sock"
    run = run_cli("podman://x", tmp_path, {"CONTAINER_HOST": f"unix://{sock}"})
    rejected(run, NO_ENGINE, str(sock))
    assert "podman" in run.result.errors[0].lower()


def test_podman_default_socket_absent(tmp_path: Path) -> None:
    """podman://x with no CONTAINER_HOST and no socket in XDG_RUNTIME_DIR nor /run/podman:
    one line naming podman and the socket it looked for."""
    if Path("/run/podman/podman.sock").exists():
        pytest.skip("a Podman socket exists on this machine")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    run = run_cli("podman://x", tmp_path, {"XDG_RUNTIME_DIR": str(runtime)})
    rejected(run, NO_ENGINE, "podman.sock")
    assert "podman" in run.result.errors[0].lower()


# --------------------------------------------------------------------------- a real engine


@pytest.mark.engine
def test_socket_permission_denied(engine: PrivateEngine, small_image: str, tmp_path) -> None:
    """The engine's socket is mode 000 and the CLI may not bypass it: 'permission denied',
    naming the socket."""
    prefix = without_dac_override()
    os.chmod(engine.sock, 0)
    try:
        run = run_cli(
            f"docker://{small_image}", tmp_path, {"DOCKER_HOST": engine.host}, prefix=prefix
        )
    finally:
        os.chmod(engine.sock, 0o660)
    rejected(run, DENIED, str(engine.sock))


@pytest.mark.engine
def test_socket_directory_permission_denied(engine: PrivateEngine, small_image, tmp_path) -> None:
    """The socket (a relay to the engine) is in a directory the CLI may not enter:
    'permission denied', naming the socket."""
    prefix = without_dac_override()
    locked = tmp_path / "locked"
    locked.mkdir()
    with Relay(locked / "docker.sock", engine.sock) as relay:
        os.chmod(locked, 0)
        try:
            run = run_cli(
                f"docker://{small_image}", tmp_path, {"DOCKER_HOST": relay.host}, prefix=prefix
            )
        finally:
            os.chmod(locked, 0o700)
    rejected(run, DENIED, str(locked / "docker.sock"))


@pytest.mark.engine
@pytest.mark.parametrize(
    "target",
    [
        "docker://layerscope-fault/absent:1",
        "layerscope-fault/absent:1",
        "docker://sha256:" + "0" * 64,
    ],
    ids=["docker-scheme", "bare-reference", "image-id"],
)
def test_unknown_image(engine: PrivateEngine, tmp_path: Path, target: str) -> None:
    """An image the engine does not have: 'not found', naming the reference."""
    run = run_cli(target, tmp_path, {"DOCKER_HOST": engine.host})
    rejected(run, NOT_FOUND, target.removeprefix("docker://"))


@pytest.mark.engine
def test_image_removed_before_export(engine: PrivateEngine, small_image: str, tmp_path) -> None:
    """The image is removed (docker rmi -f) after the CLI inspected it, just before the export
    request reaches the engine: 'not found', naming the image."""
    with Relay(tmp_path / "relay.sock", engine.sock) as relay:
        relay.on_request(b"/get", lambda: engine.docker("rmi", "-f", small_image))
        run = run_cli(f"docker://{small_image}", tmp_path, {"DOCKER_HOST": relay.host})
        assert relay.fired.is_set() and not relay.errors, relay.errors
    assert not engine.has(small_image), "docker rmi -f did not remove the image"
    rejected(run, NOT_FOUND, small_image)


@pytest.mark.engine
def test_image_removed_mid_export(engine: PrivateEngine, small_image: str, tmp_path) -> None:
    """The image is removed (docker rmi -f) once 1 MiB of its export has reached the CLI.
    The engine may finish the export from the layers it holds (Docker 20.10 does): then the
    CLI's export must equal that of an undisturbed run. Or the stream breaks: then exit 2 with
    one line naming the image."""
    reference = run_cli(f"docker://{small_image}", tmp_path / "ref", {"DOCKER_HOST": engine.host})
    assert_analysed(reference.result, reference.out)
    with Relay(tmp_path / "relay.sock", engine.sock) as relay:
        relay.after_export_bytes(1 << 20, lambda: engine.docker("rmi", "-f", small_image))
        run = run_cli(f"docker://{small_image}", tmp_path / "run", {"DOCKER_HOST": relay.host})
        assert relay.fired.is_set() and not relay.errors, relay.errors
    assert not engine.has(small_image), "docker rmi -f did not remove the image"
    assert_common(run.result)
    if run.result.returncode == 0:
        assert_analysed(run.result, run.out)
        assert json.loads(run.out.read_bytes()) == json.loads(reference.out.read_bytes())
    else:
        rejected(run, f"{NOT_FOUND}|{GONE}", small_image)


# --------------------------------------------------------------------------- engine stopped


_stopped: dict[str, tuple[Run, Run, str]] = {}


@pytest.fixture(params=["SIGKILL", "SIGTERM"])
def stopped_mid_export(request, engine: PrivateEngine, big_image: str, tmp_path_factory):
    """(run stopped mid-export, run against the stopped engine, relay socket), once per
    signal: the private dockerd gets the signal (by pid) when 32 MiB of the big image's export
    have reached the CLI; then the CLI is run again against the dead engine; then the engine
    is started again for the tests that follow."""
    name = request.param
    if name not in _stopped:
        sig = getattr(signal, name)
        tmp = tmp_path_factory.mktemp(f"stopped-{name}")
        sock = tmp / "relay.sock"
        try:
            with Relay(sock, engine.sock) as relay:
                relay.after_export_bytes(32 << 20, lambda: engine.kill(sig))
                run = run_cli(f"docker://{big_image}", tmp / "run", {"DOCKER_HOST": relay.host})
                assert relay.fired.is_set(), "the export never reached 32 MiB"
                assert not relay.errors, relay.errors
            after = run_cli(f"docker://{big_image}", tmp / "after", {"DOCKER_HOST": engine.host})
        finally:
            with contextlib.suppress(Exception):
                if engine.dockerd_pid is None:
                    engine.restart()
        _stopped[name] = (run, after, str(sock))
    return _stopped[name]


@pytest.mark.engine
def test_engine_stopped_mid_export(stopped_mid_export, big_image: str) -> None:
    """The private dockerd is killed (SIGKILL) or stopped (SIGTERM) by its pid while the CLI
    streams the 233 MB waste image: one line saying the engine closed the connection while
    exporting, naming the image."""
    run, _, _ = stopped_mid_export
    rejected(run, GONE, big_image)


@pytest.mark.engine
def test_engine_stopped_mid_export_names_socket(stopped_mid_export) -> None:
    """... and that line names the socket the CLI was talking to (DOCKER_HOST). (It named
    /var/run/docker.sock, whatever DOCKER_HOST said, until 6db19e0.)"""
    run, _, sock = stopped_mid_export
    rejected(run, GONE, sock)


@pytest.mark.engine
def test_engine_dead_after_stop(stopped_mid_export, engine: PrivateEngine) -> None:
    """Right after that, against the dead engine's own socket: a killed dockerd leaves its
    socket file ('connection refused'), a stopped one removes it ('no engine socket'); the
    line names the socket."""
    _, after, _ = stopped_mid_export
    rejected(after, f"{REFUSED}|{NO_ENGINE}", str(engine.sock))


# --------------------------------------------------------------------------- what the engine writes


@pytest.mark.engine
def test_engine_image_with_pre_1970_file(engine: PrivateEngine, tmp_path: Path) -> None:
    """Not a fault: an image holding a file dated 1960, imported into the engine (`docker
    import`) and exported by it (the engine's own tar writer puts the date in a PAX record):
    exit 0, the file listed. (Rejected as 'PAX mtime value out of range' until 6db19e0.)"""
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("old.txt")
        data = b"written in 1960\n"
        info.size, info.mtime = len(data), -315619200
        t.addfile(info, io.BytesIO(data))
    tag = f"layerscope-fault/pre-1970:{os.getpid()}"
    engine.docker("import", str(rootfs), tag)
    try:
        run = run_cli(f"docker://{tag}", tmp_path, {"DOCKER_HOST": engine.host})
    finally:
        engine.docker("rmi", "-f", tag, check=False)
    assert_analysed(run.result, run.out)
    files = json.loads(run.out.read_bytes())["layer"][0]["fileList"]
    assert "old.txt" in {f["path"] for f in files}
