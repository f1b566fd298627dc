"""``--json`` output is written atomically (issue 5).

Our rule: the output file is either the complete new export or exactly what was there before.
A failed run leaves a previous file unchanged (dive truncates it; we do not), and neither a
failure nor an interruption (Ctrl-C, SIGTERM) leaves a temp file next to it. After SIGKILL
the target itself is still never partial, and a later export to it removes the temp file once
it is stale. A replaced file keeps its mode and owner; `/dev/stdout`, `/dev/fd/N` and
`/proc/self/fd/N` are written through the descriptor already open (a pipe, a file opened with
`>>`), never reopened or replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from . import builders as b
from .harness import (
    DEFAULT_MEM,
    REPO,
    Result,
    _limit,
    assert_analysed,
    assert_common,
    assert_rejected,
    cli_argv,
    cli_env,
    leftovers,
    load_json,
    run_cli,
)

OLD = b'{"previous": "export, must survive a failed run"}\n'


def small_image(tmp: Path) -> Path:
    image = b.Image([b.Layer([b.directory("etc"), b.file("etc/hostname", b"box\n")])])
    return b.docker_archive(image).write_tar(tmp / "image.tar")


def truncated_image(tmp: Path) -> Path:
    image = b.Image([b.Layer([b.directory("etc"), b.file("etc/data", b.noise(20000))])])
    arc = b.docker_archive(image, manifest_first=True)
    path = arc.write_tar(tmp / "image.tar")
    _, data, size = b.member_span(path, arc.layer_paths[0])
    return b.truncate(path, data + size // 2)


def big_image(tmp: Path, dirs: int = 150) -> Path:
    """``dirs`` x 1,000 empty files in one gzip layer: a few seconds of work (indexing first,
    then the export), a ~33 MB export."""
    image = b.Image([b.Layer(b.many_files(dirs, 1000), "gzip", command="RUN touch")])
    return b.oci_archive(image).write_tar(tmp / "big.tar")


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    paths = tmp_path / "in", tmp_path / "out", tmp_path / "cache"
    for p in paths:
        p.mkdir()
    return paths


def test_failed_run_leaves_previous_file_unchanged(dirs) -> None:
    """A truncated image: one error line, the previous export unchanged, no temp file."""
    src, out_dir, cache = dirs
    out = out_dir / "export.json"
    out.write_bytes(OLD)
    image = truncated_image(src)
    res = run_cli(image, out, cache_dir=cache)
    assert_rejected(res, out, r"truncat", previous=OLD, image=image)


def test_success_replaces_previous_file(dirs) -> None:
    """A good image: the previous export replaced by the new one."""
    src, out_dir, cache = dirs
    out = out_dir / "export.json"
    out.write_bytes(OLD)
    res = run_cli(small_image(src), out, cache_dir=cache)
    assert_analysed(res, out)
    assert "etc/hostname" in {f["path"] for f in load_json(out)["layer"][0]["fileList"]}


def test_output_dir_missing_is_one_clean_error(dirs) -> None:
    """`--json` into a directory that does not exist: one line naming it, exit 2."""
    src, out_dir, cache = dirs
    out = out_dir / "no-such-dir" / "export.json"
    res = run_cli(small_image(src), out, cache_dir=cache)
    assert_common(res)
    assert res.returncode == 2, res.describe()
    assert len(res.errors) == 1, res.describe()
    assert "no-such-dir" in res.errors[0], res.describe()
    assert leftovers(out_dir) == []


def test_symlinked_output_replaces_the_file_it_points_to(dirs) -> None:
    """Through a symlink, the file it points to gets the export; the link stays a link."""
    src, out_dir, cache = dirs
    real = out_dir / "real.json"
    real.write_bytes(OLD)
    link = out_dir / "link.json"
    link.symlink_to(real)
    res = run_cli(small_image(src), link, cache_dir=cache)
    assert res.returncode == 0, res.describe()
    assert link.is_symlink()
    assert "layer" in load_json(real)
    assert leftovers(out_dir) == ["link.json", "real.json"]  # no temp file left


def test_fifo_output_is_written_not_replaced(dirs) -> None:
    """A FIFO (or a device: /dev/null, /dev/stdout) is written to, never replaced by a
    regular file — replacing /dev/null as root breaks the whole machine."""
    src, out_dir, cache = dirs
    fifo = out_dir / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    res = run_cli(small_image(src), fifo, cache_dir=cache)
    data, _ = reader.communicate(timeout=60)
    assert res.returncode == 0, res.describe()
    assert fifo.is_fifo()
    assert "etc/hostname" in {f["path"] for f in json.loads(data)["layer"][0]["fileList"]}
    assert leftovers(out_dir) == ["pipe"]


def test_output_path_is_a_directory(dirs) -> None:
    """`--json` naming a directory: one line, exit 2, the directory untouched."""
    src, out_dir, cache = dirs
    out = out_dir / "taken"
    out.mkdir()
    (out / "keep").write_bytes(b"x")
    res = run_cli(small_image(src), out, cache_dir=cache)
    assert_common(res)
    assert res.returncode == 2, res.describe()
    assert len(res.errors) == 1, res.describe()
    assert leftovers(out_dir) == ["taken"] and leftovers(out) == ["keep"]


def test_replaced_file_keeps_its_mode_and_owner(dirs) -> None:
    """The export replaces a file with one of the same mode and (we may: root) owner."""
    src, out_dir, cache = dirs
    out = out_dir / "export.json"
    out.write_bytes(OLD)
    os.chmod(out, 0o640)
    if os.geteuid() == 0:
        os.chown(out, 4321, 4322)
    before = out.stat()
    res = run_cli(small_image(src), out, cache_dir=cache)
    assert_analysed(res, out)
    after = out.stat()
    assert after.st_ino != before.st_ino  # replaced, not rewritten in place
    assert oct(after.st_mode) == oct(before.st_mode)
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)


def test_new_file_gets_dives_mode(dirs) -> None:
    """A new export is 0644 less the umask, as dive's."""
    src, out_dir, cache = dirs
    out = out_dir / "export.json"
    old = os.umask(0o027)
    try:
        res = run_cli(small_image(src), out, cache_dir=cache)
    finally:
        os.umask(old)
    assert_analysed(res, out)
    assert oct(out.stat().st_mode & 0o7777) == oct(0o640)


_GONE = 4_194_305  # above the largest pid Linux hands out: a process that no longer runs


def test_stale_temp_exports_of_killed_runs_are_removed(dirs) -> None:
    """A run killed mid-export (SIGKILL) leaves its temp file: the next export to the same
    file removes it — only our naming, only old ones of processes that are gone, never what a
    link points to."""
    src, out_dir, cache = dirs
    out = out_dir / "export.json"
    hour_ago = time.time() - 2 * 3600
    stale = [f".export.json.{_GONE}.tmp", f".export.json.{_GONE}.0a1b2c3d.tmp"]
    kept = [
        f".export.json.{os.getpid()}.tmp",  # a live process: may be writing
        f".other.json.{_GONE}.tmp",  # another target's
        f".export.json.{_GONE}.tmp.bak",  # not our naming
        f"export.json.{_GONE}.tmp",
    ]
    for name in stale + kept:
        (out_dir / name).write_bytes(b"{")
        os.utime(out_dir / name, (hour_ago, hour_ago))
    young = f".export.json.{_GONE}.ffffffff.tmp"
    (out_dir / young).write_bytes(b"{")
    if os.geteuid() == 0:  # another user's: not ours to delete
        foreign = f".export.json.{_GONE}.11111111.tmp"
        (out_dir / foreign).write_bytes(b"{")
        os.chown(out_dir / foreign, 4321, 4321)
        os.utime(out_dir / foreign, (hour_ago, hour_ago))
        kept.append(foreign)
    victim = src / "victim"
    victim.write_bytes(b"keep me")
    link = out_dir / f".export.json.{_GONE}.00000000.tmp"
    link.symlink_to(victim)
    os.utime(link, (hour_ago, hour_ago), follow_symlinks=False)
    res = run_cli(small_image(src), out, cache_dir=cache)
    assert_common(res)
    assert res.returncode == 0, res.describe()
    assert leftovers(out_dir) == sorted([*kept, young, link.name, "export.json"])
    assert victim.read_bytes() == b"keep me"


def _dev_stdout_run(src: Path, cache: Path, target: str, stdout, pass_fds=()) -> int:
    proc = subprocess.run(
        cli_argv(small_image(src), Path(target)),
        cwd=REPO,
        env=cli_env(cache),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        pass_fds=pass_fds,
        timeout=60,
    )
    assert proc.stderr == b"", proc.stderr
    return proc.returncode


@pytest.mark.parametrize("target", ["/dev/stdout", "/proc/self/fd/1", "/dev/fd/1"])
def test_export_to_stdout_into_a_pipe(dirs, target) -> None:
    """`--json /dev/stdout` (`/proc/self/fd/1`, `/dev/fd/1`) into a pipe: the export on the
    pipe, exit 0 (it exited 2: the pipe has no directory to put a temp file in)."""
    src, _out_dir, cache = dirs
    proc = subprocess.run(
        cli_argv(small_image(src), Path(target)),
        cwd=REPO,
        env=cli_env(cache),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "etc/hostname" in {f["path"] for f in json.loads(proc.stdout)["layer"][0]["fileList"]}


def test_export_to_stdout_appended_to_a_file(dirs) -> None:
    """`layerscope IMAGE --json /dev/stdout >> log`: the log keeps what it held, the export
    follows it, the file is the same file (not replaced)."""
    src, out_dir, cache = dirs
    log = out_dir / "log"
    log.write_bytes(b"earlier\n")
    inode = log.stat().st_ino
    with open(log, "ab") as stdout:
        assert _dev_stdout_run(src, cache, "/dev/stdout", stdout) == 0
    data = log.read_bytes()
    assert data.startswith(b"earlier\n"), data[:40]
    assert "layer" in json.loads(data[len(b"earlier\n") :])
    assert log.stat().st_ino == inode
    assert leftovers(out_dir) == ["log"]


def test_export_to_an_inherited_descriptor(dirs) -> None:
    """`--json /dev/fd/N` for a pipe the parent passed as descriptor N: written through it."""
    src, _out_dir, cache = dirs
    read_end, write_end = os.pipe()
    try:
        code = _dev_stdout_run(
            src, cache, f"/dev/fd/{write_end}", subprocess.DEVNULL, pass_fds=(write_end,)
        )
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    finally:
        for fd in (read_end, write_end):
            with contextlib.suppress(OSError):
                os.close(fd)
    assert code == 0
    assert "layer" in json.loads(data)


def test_export_to_a_descriptor_not_open_is_one_error(dirs) -> None:
    """`--json /dev/fd/97`, no descriptor 97: one line naming it, exit 2."""
    src, _out_dir, cache = dirs
    res = run_cli(small_image(src), Path("/dev/fd/97"), cache_dir=cache)
    assert_common(res)
    assert res.returncode == 2, res.describe()
    assert len(res.errors) == 1 and "/dev/fd/97" in res.errors[0], res.describe()


def _interrupt(image: Path, out: Path, cache: Path, sig: int, when: str) -> Result:
    """Run the CLI and send it ``sig``. ``when``: ``reading`` (0.6 s in, while it indexes,
    before any output exists), ``writing`` (0.3 s after the temp file appeared, mid-export) or
    ``temp-created`` (the instant the temp file appears)."""
    proc = subprocess.Popen(
        cli_argv(image, out),
        cwd=REPO,
        env=cli_env(cache),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_limit(DEFAULT_MEM),
    )
    start = time.monotonic()
    appeared: float | None = None
    while proc.poll() is None and time.monotonic() - start < 300:
        now = time.monotonic()
        if when == "reading":
            if now - start >= 0.6:
                break
        elif appeared is None:
            if len(os.listdir(out.parent)) > 1:
                appeared = now
                if when == "temp-created":
                    break
        elif now - appeared >= 0.3:
            break
        time.sleep(0.0005)
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        stdout, stderr = proc.communicate(timeout=60)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        code = None
    elapsed = time.monotonic() - start
    out_text, err_text = stdout.decode(errors="replace"), stderr.decode(errors="replace")
    return Result([], code, out_text, err_text, elapsed)


def _assert_not_partial(out: Path) -> None:
    data = out.read_bytes()
    if data != OLD:
        json.loads(data.decode("utf-8"))  # complete, or this raises


def _check_interrupted(sig: int, when: str, tmp_dirs) -> None:
    src, out_dir, cache = tmp_dirs
    out = out_dir / "export.json"
    out.write_bytes(OLD)
    res = _interrupt(big_image(src), out, cache, sig, when)
    if sig != signal.SIGKILL:
        assert_common(res)
    _assert_not_partial(out)
    if sig != signal.SIGKILL:
        assert leftovers(out_dir, (out.name,)) == [], f"left behind: {leftovers(out_dir)}"


SIGINT = pytest.param(signal.SIGINT, id="SIGINT")


@pytest.mark.parametrize("sig", [SIGINT, pytest.param(signal.SIGTERM, id="SIGTERM")])
def test_interrupted_while_reading(dirs, sig) -> None:
    """Interrupted while indexing: previous file intact, no temp file, no traceback."""
    _check_interrupted(sig, "reading", dirs)


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig",
    [
        SIGINT,
        pytest.param(signal.SIGTERM, id="SIGTERM"),
        pytest.param(signal.SIGKILL, id="SIGKILL"),
    ],
)
def test_interrupted_while_writing(dirs, sig) -> None:
    """Interrupted mid-export: the target is the old file or the complete export, never
    partial; no temp file (after SIGKILL: until the next export to that file)."""
    _check_interrupted(sig, "writing", dirs)


@pytest.mark.slow
def test_interrupted_as_temp_file_is_created(dirs) -> None:
    """Ctrl-C the instant the temp file appears: still no temp file left."""
    _check_interrupted(signal.SIGINT, "temp-created", dirs)
