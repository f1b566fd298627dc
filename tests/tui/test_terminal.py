"""The explorer as a process: it needs a terminal, and SIGTERM ends it cleanly.

The real `layerscope` runs here, in a pseudo-terminal where it needs one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.paths import DIVE_DATA

REPO = Path(__file__).resolve().parents[2]
IMAGE = DIVE_DATA / "test-docker-image.tar"


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "CI"}
    out["PYTHONPATH"] = str(REPO)
    out["TERM"] = "xterm-256color"
    return out


@pytest.fixture
def image() -> Path:
    if not IMAGE.exists():
        pytest.skip(f"{IMAGE} missing (set LAYERSCOPE_SHARED)")
    return IMAGE


@pytest.mark.parametrize("missing", ["stdin", "stdout", "both"])
def test_without_a_terminal_the_explorer_does_not_start(image, missing):
    """One line, exit 2 — never a TUI waiting on a pipe (it hung a pipeline)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "explorer", str(image)],
            stdin=subprocess.DEVNULL if missing in ("stdin", "both") else slave,
            stdout=subprocess.PIPE if missing in ("stdout", "both") else slave,
            stderr=subprocess.PIPE,
            env=env(),
            timeout=60,
        )
    finally:
        os.close(master)
        os.close(slave)
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2, lines
    assert len(lines) == 1 and "terminal" in lines[0], lines


def _read_until(fd: int, wanted: bytes, seconds: float) -> bytes:
    """Everything the child writes until `wanted` shows or it exits (pty reads fail then)."""
    out = b""
    deadline = time.monotonic() + seconds
    while wanted not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


def _wait(pid: int, fd: int, seconds: float) -> tuple[int | None, bytes]:
    """Drain the pty (the child must never block on writing) until the child exits."""
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), out + _read_until(fd, b"\0", 0.5)
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            with contextlib.suppress(OSError):
                out += os.read(fd, 65536)
    return None, out


def _start(image: Path) -> tuple[int, int]:
    """layerscope IMAGE in a new 120x40 pseudo-terminal: (pid, the terminal's master side)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        try:
            os.execve(sys.executable, [sys.executable, "-m", "explorer", str(image)], env())
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return pid, fd


def _run(image: Path, act) -> tuple[int | None, bytes]:
    """Start the explorer, wait for its first screen, `act(pid, fd)`, wait for the exit."""
    pid, fd = _start(image)
    code = None
    try:
        shown = _read_until(fd, b"Score", 60)
        assert b"Score" in shown, shown[-2000:]
        act(pid, fd)
        code, after = _wait(pid, fd, 30)
    finally:
        if code is None:  # still running (or the test failed before): never left behind
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return code, after


def _quit_when_idle(_pid: int, fd: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and select.select([fd], [], [], 1.0)[0]:
        with contextlib.suppress(OSError):
            os.read(fd, 65536)
    os.write(fd, b"q")


def test_sigterm_ends_a_running_explorer(image):
    """SIGTERM quits the app as `q` does: the terminal restored, one line, exit 130. A first
    run (quit with q) leaves the image's analysis in the cache, so the second one draws its
    screens at once and is still busy laying them out when the signal comes."""
    code, after = _run(image, _quit_when_idle)
    assert code == 0, after[-2000:]
    code, after = _run(image, lambda pid, _fd: os.kill(pid, signal.SIGTERM))
    assert code == 130, f"exit {code}: {after[-2000:]!r}"
    assert b"Traceback" not in after, after.decode(errors="replace")[-3000:]
    assert b"\x1b[?1049l" in after  # the terminal's normal screen is back
    assert b"layerscope: interrupted" in after
