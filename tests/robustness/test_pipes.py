"""An image read from a pipe — `cmd | layerscope /dev/stdin`, `layerscope <(cmd)` — gives the
same export as the same archive read from a file (the real CLI, fed by a real `cat`)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import builders as b
from .harness import REPO, cli_env, run_cli
from .test_malformed import std_image

LAYOUTS = {
    "legacy": lambda: b.docker_archive(std_image()),
    "docker25-zstd": lambda: b.docker25_archive(std_image("zstd")),
    "oci-gzip": lambda: b.oci_archive(std_image("gzip")),
}


def archive(tmp_path: Path, layout: str, compressed: bool) -> Path:
    path = LAYOUTS[layout]().write_tar(tmp_path / "image.tar")
    if compressed:
        path = path.with_name("image.tar.gz")
        path.write_bytes(gzip.compress((tmp_path / "image.tar").read_bytes()))
    return path


def export_of_file(tmp_path: Path, image: Path) -> bytes:
    out = tmp_path / "from-file.json"
    res = run_cli(image, out, cache_dir=tmp_path / "cache-file")
    assert res.returncode == 0, res.describe()
    return out.read_bytes()


def run_piped(tmp_path: Path, image: Path, via: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / f"from-{via}.json"
    env = cli_env(tmp_path / f"cache-{via}")
    if via == "stdin":
        feeder = subprocess.Popen(["cat", str(image)], stdout=subprocess.PIPE)
        argv = [sys.executable, "-m", "explorer", "/dev/stdin", "--json", str(out)]
        proc = subprocess.run(
            argv, cwd=REPO, env=env, stdin=feeder.stdout, capture_output=True, timeout=120
        )
        feeder.stdout.close()  # type: ignore[union-attr]
    else:  # a shell's <(cat image): the read end of a pipe, as /dev/fd/N
        read_end, write_end = os.pipe()
        feeder = subprocess.Popen(["cat", str(image)], stdout=write_end)
        os.close(write_end)
        argv = [sys.executable, "-m", "explorer", f"/dev/fd/{read_end}", "--json", str(out)]
        try:
            proc = subprocess.run(
                argv,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=120,
                pass_fds=(read_end,),
            )
        finally:
            os.close(read_end)
    feeder.wait(timeout=60)
    return proc, out


@pytest.mark.parametrize("via", ["stdin", "fd"])
@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_an_archive_from_a_pipe_exports_as_from_a_file(tmp_path, layout, compressed, via):
    image = archive(tmp_path, layout, compressed)
    expected = export_of_file(tmp_path, image)
    proc, out = run_piped(tmp_path, image, via)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""
    assert out.read_bytes() == expected


def test_garbage_from_a_pipe_is_one_error_line(tmp_path):
    image = tmp_path / "garbage.bin"
    image.write_bytes(b"not an image at all\n" * 100)
    proc, out = run_piped(tmp_path, image, "stdin")
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr.decode()
    assert "/dev/stdin: not a tar archive" in lines[0]
    assert not out.exists()
