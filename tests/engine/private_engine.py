"""A private Docker engine for the fault tests, and the CLI runner they use.

The engine is started in a temp dir, stopped and killed by pid (with its containerd), and
checked to leave no process behind (conftest.py does that for the session).

The shared engine (/var/run/docker.sock) is never touched. The private one is started with
``$LAYERSCOPE_SHARED/corpus/start-dockerd.sh`` (its ``DOCKER_SOCK``, ``DOCKERD_ROOT``,
``DOCKERD_EXEC``, ``DOCKERD_PIDFILE`` variables); it starts empty and has no registry, so images
are loaded into it with ``docker load`` from archives built by ``tests/robustness/builders.py``
(and ``$CORPUS_OUT/archives/waste.tar`` when it is there, for a big export).

Without dockerd the engine tests skip, unless LAYERSCOPE_REQUIRE_ENGINE=1 (as `.ci/run` sets):
then they fail, saying what is missing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import CORPUS_OUT, SHARED
from tests.robustness import builders as b
from tests.robustness.harness import REPO, Result, cli_env

REQUIRED = os.environ.get("LAYERSCOPE_REQUIRE_ENGINE") == "1"
START = SHARED / "corpus" / "start-dockerd.sh"
WASTE_TAR = CORPUS_OUT / "archives" / "waste.tar"
WASTE_REF = "corpus/waste:1"


def unavailable(what: str, hint: str) -> None:
    message = f"{what} is not available ({hint})"
    if REQUIRED:
        pytest.fail(f"LAYERSCOPE_REQUIRE_ENGINE=1 but {message}", pytrace=False)
    pytest.skip(message)


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


@dataclass
class PrivateEngine:
    dir: Path

    @property
    def sock(self) -> Path:
        return self.dir / "docker.sock"

    @property
    def exec_root(self) -> Path:
        return self.dir / "exec"

    @property
    def pidfile(self) -> Path:
        return self.dir / "docker.pid"

    @property
    def log(self) -> Path:
        return self.dir / "dockerd.log"

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def env(self) -> dict[str, str]:
        return {
            "DOCKER_SOCK": str(self.sock),
            "DOCKERD_ROOT": str(self.dir / "root"),
            "DOCKERD_EXEC": str(self.exec_root),
            "DOCKERD_PIDFILE": str(self.pidfile),
            "DOCKERD_LOG": str(self.log),
        }

    # -- processes -----------------------------------------------------------------------------
    def _pid_from(self, pidfile: Path, name: str) -> int | None:
        """The pid in a pid file, if that process is alive and is ours (its command line
        names our directory)."""
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        cmd = _cmdline(pid)
        return pid if _alive(pid) and name in cmd and str(self.dir) in cmd else None

    @property
    def dockerd_pid(self) -> int | None:
        return self._pid_from(self.pidfile, "dockerd")

    @property
    def containerd_pid(self) -> int | None:
        return self._pid_from(self.exec_root / "containerd" / "containerd.pid", "containerd")

    def processes(self) -> list[tuple[int, str]]:
        """Every live process whose command line names our directory (ours, whoever started
        it: dockerd, containerd, shims)."""
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            cmd = _cmdline(int(entry))
            if str(self.dir) in cmd and _alive(int(entry)):
                out.append((int(entry), cmd))
        return out

    def start(self) -> None:
        res = subprocess.run(
            ["bash", str(START)],
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if res.returncode != 0 or self.dockerd_pid is None:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"start-dockerd.sh failed: {res.stdout}{res.stderr}{log}")

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 30) -> None:
        """Send ``sig`` to our dockerd (by pid) and wait until it is gone; after a SIGKILL its
        containerd, which outlives it, is stopped too (by pid)."""
        pid = self.dockerd_pid
        assert pid is not None, "the private dockerd is not running"
        os.kill(pid, sig)
        assert _wait_gone(pid, timeout), f"dockerd {pid} still alive {timeout} s after {sig}"
        self._stop_containerd()

    def _stop_containerd(self) -> None:
        pid = self.containerd_pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, 10):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)

    def restart(self) -> None:
        if self.dockerd_pid is not None:
            self.kill(signal.SIGTERM)
        self._stop_containerd()
        self.start()

    def unmount(self) -> None:
        """dockerd bind-mounts its data root onto itself and leaves it so: undo ours."""
        with open("/proc/mounts") as f:
            points = [line.split()[1] for line in f]
        points = [p.encode().decode("unicode_escape") for p in points]  # \040 for spaces
        for point in sorted((p for p in points if p.startswith(str(self.dir))), reverse=True):
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)

    def stop(self) -> None:
        pid = self.dockerd_pid
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, 30):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)
        self._stop_containerd()

    # -- the docker CLI, on this engine only ---------------------------------------------------
    def docker(self, *args: str, check: bool = True, timeout: float = 300):
        res = subprocess.run(
            ["docker", "-H", self.host, *args], capture_output=True, text=True, timeout=timeout
        )
        if check and res.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {res.stderr.strip()}")
        return res

    def has(self, ref: str) -> bool:
        return self.docker("image", "inspect", ref, check=False).returncode == 0

    def load(self, archive: Path) -> None:
        self.docker("load", "-i", str(archive))


def small_image_archive(path: Path, tag: str) -> Path:
    """A 2-layer legacy docker-archive, about 3 MB (so an export can be paused mid-stream)."""
    image = b.Image(
        tag=tag,
        layers=[
            b.Layer(
                entries=[b.directory("etc"), b.file("etc/os-release", b"ID=fault\n")],
                command="ADD rootfs /",
            ),
            b.Layer(
                entries=[b.directory("data"), b.file("data/blob", b.noise(3 << 20, tag.encode()))],
                command="COPY blob /data/",
            ),
        ],
    )
    return b.docker_archive(image).write_tar(path)


# --------------------------------------------------------------------------- running the CLI


@dataclass
class Run:
    result: Result
    out: Path


def run_cli(
    target: str,
    tmp: Path,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
    prefix: tuple[str, ...] = (),
    timeout: float = 180,
    args: tuple[str, ...] = (),
    cache: Path | None = None,
) -> Run:
    """``python -m explorer TARGET --json OUT ARGS`` in a subprocess, ``OUT`` alone in a fresh
    directory, with a private layer cache (``tmp/cache`` unless ``cache`` is shared between
    runs, so nothing is served without the engine) and an empty Docker CLI config directory
    (no context chosen) unless ``env`` names one."""
    out_dir = tmp / "out"
    out_dir.mkdir(parents=True, exist_ok=False)
    out = out_dir / "export.json"
    run_env = cli_env(cache or tmp / "cache")
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "CONTAINER_HOST", "LAYERSCOPE_PODMAN_HOST"):
        run_env.pop(name, None)
    for name in unset:
        run_env.pop(name, None)
    run_env["DOCKER_CONFIG"] = str(tmp / "docker-config")
    run_env.update(env or {})
    argv = [*prefix, sys.executable, "-m", "explorer", target, "--json", str(out), *args]
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env=run_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        code = None
    res = Result(
        argv,
        code,
        stdout.decode("utf-8", "backslashreplace"),
        stderr.decode("utf-8", "backslashreplace"),
        time.monotonic() - start,
    )
    return Run(res, out)
