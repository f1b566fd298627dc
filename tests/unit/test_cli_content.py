"""`layerscope cat` and `layerscope extract` run in-process on images built here: exact bytes
to stdout, one error line and exit 2 for what is not there, and paths through symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from explorer.cli import main
from tests.robustness import builders as b
from tests.unit.helpers import image_archive

BINARY = bytes(range(256)) * 40 + b"\x1b]52;c;evil\x07"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return image_archive(
        tmp_path,
        [
            b.directory("usr/bin"),
            b.file("usr/bin/tool", BINARY, mode=0o755),
            b.symlink("bin", "usr/bin"),
            b.symlink("dangling", "/nowhere"),
            b.file("etc/conf", b"v1\n"),
        ],
        [b.file("etc/conf", b"v2\n"), b.whiteout("usr/bin/tool")],
    )


def test_cat_writes_the_exact_bytes(archive: Path, capsysbinary) -> None:
    assert main(["cat", str(archive), "/bin/tool", "--layer", "0"]) == 0
    assert capsysbinary.readouterr().out == BINARY
    assert main(["cat", str(archive), "etc/conf"]) == 0
    assert capsysbinary.readouterr().out == b"v2\n"
    assert main(["cat", str(archive), "etc/conf", "--layer", "0"]) == 0
    assert capsysbinary.readouterr().out == b"v1\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/usr/bin/tool"], "the final image has no /usr/bin/tool; it exists in layer 0"),
        (["/nothing", "--layer", "0"], "layer 0 has no /nothing; no layer has it"),
        (["/usr/bin"], "/usr/bin is a directory"),
        (["/dangling"], "/dangling is a symlink to /nowhere, which the image does not have"),
        (["/etc/conf", "--layer", "2"], "no layer 2 (the image has 2: 0 to 1)"),
    ],
)
def test_cat_errors_are_one_line(archive: Path, capsysbinary, args, message) -> None:
    assert main(["cat", str(archive), *args]) == 2
    out = capsysbinary.readouterr()
    assert out.out == b""
    lines = out.err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerscope: ") and message in lines[0]


def test_extract_through_a_symlinked_directory(archive: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["extract", str(archive), "/bin/tool", "--layer", "0", "-o", str(out)]) == 0
    assert (out / "usr" / "bin" / "tool").read_bytes() == BINARY
    assert os.stat(out / "usr" / "bin" / "tool").st_mode & 0o777 == 0o755
    assert "extracted 1 entries" in capsys.readouterr().err
    assert main(["extract", str(archive), "/usr/bin/tool", "-o", str(out)]) == 2
    assert "the final image has no /usr/bin/tool" in capsys.readouterr().err


def test_extract_needs_paths_and_a_target(archive: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["extract", str(archive), "/etc"])
    assert exit_.value.code == 2
    assert "give PATH... and -o DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["extract", str(archive), "--tar", "x.tar"])
    assert "--tar takes a layer" in capsys.readouterr().err


def test_cat_to_a_terminal_escapes_control_characters(archive: Path) -> None:
    """A file is hostile: on a terminal its escape sequences show as text (--raw: as is)."""
    import pty
    import subprocess
    import sys

    CAT = (sys.executable, "-m", "explorer", "cat")

    def on_terminal(*extra: str) -> bytes:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [*CAT, str(archive), "/bin/tool", "--layer", "0", *extra],
            stdout=follower,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        os.close(follower)
        got = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other end closed
                break
            if not chunk:
                break
            got += chunk
        assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
        os.close(leader)
        return got

    shown = on_terminal()
    assert b"\x1b" not in shown and b"\\x1b]52;c;evil\\x07" in shown
    assert b"\\x00\\x01" in shown and b"\\x0c\\r\\x0e" in shown  # the file's CR too
    raw = on_terminal("--raw")
    assert b"\x1b]52;c;evil\x07" in raw


def test_an_image_from_a_pipe_is_one_clear_error(archive: Path) -> None:
    import subprocess
    import sys

    res = subprocess.run(  # a pipe, not a file redirected (that one is read in place)
        [sys.executable, "-m", "explorer", "cat", "/dev/stdin", "/etc/conf"],
        input=archive.read_bytes(),
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 2 and res.stdout == b""
    assert res.stderr.decode().splitlines() == [
        "layerscope: /dev/stdin: an image read from a pipe cannot be read again for its "
        "files: save it to a file first"
    ]
