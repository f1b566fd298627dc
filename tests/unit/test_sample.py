"""The bundled sample is written into the user's cache directory: nothing planted there (a
symlink at a name it might use, a FIFO under its name) makes it write elsewhere or hang."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from explorer import sample

VICTIM = b"a file the user cares about\n"


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.write_bytes(VICTIM)
    return victim


def _is_the_sample(path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and path.read_bytes() == sample_bytes()


def sample_bytes() -> bytes:
    return sample.docker_archive(sample.sample_spec())


def test_symlink_at_the_old_temp_name_is_not_followed(tmp_path):
    target = tmp_path / "cache" / "sample.tar"
    target.parent.mkdir()
    victim = _victim(tmp_path)
    # The name the sample used to be written through: predictable from the pid.
    (target.parent / f".sample.tar.{os.getpid()}.tmp").symlink_to(victim)
    assert sample.ensure_sample(target) == target
    assert victim.read_bytes() == VICTIM
    assert _is_the_sample(target)


def test_symlink_at_the_sample_name_is_replaced_not_followed(tmp_path):
    target = tmp_path / "sample.tar"
    victim = _victim(tmp_path)
    target.symlink_to(victim)
    sample.ensure_sample(target)
    assert victim.read_bytes() == VICTIM
    assert _is_the_sample(target)


def test_symlink_to_an_identical_archive_is_not_trusted(tmp_path):
    """A link to a copy of the sample today could point at another image tomorrow."""
    elsewhere = tmp_path / "elsewhere.tar"
    elsewhere.write_bytes(sample_bytes())
    target = tmp_path / "sample.tar"
    target.symlink_to(elsewhere)
    sample.ensure_sample(target)
    assert _is_the_sample(target)


def test_fifo_at_the_sample_name_is_not_waited_on(tmp_path):
    target = tmp_path / "sample.tar"
    os.mkfifo(target)
    done = threading.Event()

    def write() -> None:
        sample.ensure_sample(target)
        done.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    finished = done.wait(30)
    if not finished:
        # Unblock a writer stuck opening the FIFO for reading, so the thread can end.
        os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
        writer.join(30)
    assert finished and _is_the_sample(target)


def test_sample_file_is_private(tmp_path):
    target = sample.ensure_sample(tmp_path / "sample.tar")
    assert target.stat().st_mode & 0o077 == 0
