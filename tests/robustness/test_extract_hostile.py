"""Hostile archives against `layerscope extract` (issue 13): each case is an image built here
whose entries try to write outside the target, through links, or things that must not be
made, run through the real CLI in a sandbox directory (`box/target` to extract into, beside
`box/outside`, which must stay empty). Never a traceback, never a byte outside the target,
never a raw control character on stderr."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.core import extract as core_extract
from explorer.core.content import open_content

from . import builders as b
from .harness import REPO, cli_env, control_chars


def _run(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", *args],
        cwd=REPO,
        env=cli_env(cache),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert not control_chars(proc.stderr), proc.stderr
    return proc


def _image(tmp: Path, *layers: list) -> Path:
    image = b.Image(layers=[b.Layer(entries=list(e)) for e in layers])
    return b.docker_archive(image).write_tar(tmp / "hostile.tar")


@pytest.fixture
def box(tmp_path: Path) -> Path:
    (tmp_path / "box" / "outside").mkdir(parents=True)
    return tmp_path / "box"


def _everything(box: Path) -> list[str]:
    """Every path in the box, links not followed."""
    found = []
    for root, dirs, files in os.walk(box, followlinks=False):
        for name in dirs + files:
            found.append(os.path.relpath(os.path.join(root, name), box))
    return sorted(found)


def _nothing_outside(box: Path) -> None:
    assert os.listdir(box / "outside") == []
    assert all(p == "outside" or p.startswith("target") for p in _everything(box))


def test_names_and_links_cannot_leave_the_target(tmp_path: Path, box: Path) -> None:
    """`..` and absolute names land inside; a symlinked parent (absolute or relative, planted
    by the image) stops the entries below it; links are recreated, never followed."""
    outside = str(box / "outside")
    image = _image(
        tmp_path,
        [
            b.file("../../escape-dotdot", b"1"),
            b.file("/abs-escape", b"2"),
            b.symlink("evil", outside),
            b.file("evil/pwned", b"3"),
            b.symlink("rel", "../../outside"),
            b.file("rel/pwned", b"4"),
            b.directory("d"),
            b.symlink("d/up", "../../.."),
            b.file("d/up/pwned", b"5"),
        ],
    )
    res = _run("extract", str(image), "/", "-o", str(box / "target"), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    _nothing_outside(box)
    target = box / "target"
    assert (target / "escape-dotdot").read_bytes() == b"1"
    assert (target / "abs-escape").read_bytes() == b"2"
    assert os.readlink(target / "evil") == outside
    assert os.readlink(target / "rel") == "../../outside"
    assert os.readlink(target / "d" / "up") == "../../.."
    for name in ("evil/pwned", "rel/pwned", "d/up/pwned"):
        assert f"skipped /{name}: a parent is a symlink or not a directory" in res.stderr


def test_hardlinks_never_point_outside(tmp_path: Path, box: Path) -> None:
    """A hardlink to a file of the image is linked to what was extracted (or copied); one to
    a path that is not in the image, or to a symlink, is skipped."""
    (box / "outside" / "secret").write_bytes(b"host secret")
    image = _image(
        tmp_path,
        [
            b.file("data/real", b"real data"),
            b.hardlink("data/twin", "data/real"),
            b.hardlink("data/passwd", "../../../etc/passwd"),
            b.hardlink("data/escape", "../../outside/secret"),
            b.symlink("data/sym", "/etc/shadow"),
            b.hardlink("data/via-sym", "data/sym"),
        ],
    )
    target = box / "target"
    res = _run("extract", str(image), "/data", "-o", str(target), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    assert (target / "data" / "twin").read_bytes() == b"real data"
    assert os.stat(target / "data" / "twin").st_ino == os.stat(target / "data" / "real").st_ino
    for name in ("passwd", "escape", "via-sym"):
        assert not os.path.lexists(target / "data" / name)
        assert f"skipped /data/{name}: a hardlink to" in res.stderr
    assert os.listdir(box / "outside") == ["secret"]
    assert os.stat(box / "outside" / "secret").st_nlink == 1
    # Only the twin is linked; extracted alone, it is a copy of its target's data.
    alone = box / "target2"
    res = _run("extract", str(image), "/data/twin", "-o", str(alone), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    assert (alone / "data" / "twin").read_bytes() == b"real data"
    assert os.stat(alone / "data" / "twin").st_nlink == 1


def test_devices_fifos_and_control_names_are_skipped(tmp_path: Path, box: Path) -> None:
    """Character and block devices and FIFOs are not made, nor names holding a newline or an
    escape sequence (they could forge the listing): each is listed as skipped, escaped."""
    image = _image(
        tmp_path,
        [
            b.device("dev/null2"),
            b.device("dev/sda9", kind="block", major=8, minor=9),
            b.fifo("run/pipe"),
            b.file("new\nline", b"forged\n"),
            b.file("esc\x1b[31mred", b"x"),
            b.file("fine", b"ok"),
        ],
    )
    target = box / "target"
    res = _run("extract", str(image), "/", "-o", str(target), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    assert "skipped /dev/null2: a character device" in res.stderr
    assert "skipped /dev/sda9: a block device" in res.stderr
    assert "skipped /run/pipe: a FIFO" in res.stderr
    assert res.stderr.count("a control character in its name") == 2
    assert sorted(os.listdir(target)) == ["fine"]  # not even the devices' directories
    assert "extracted 1 entries" in res.stderr
    _nothing_outside(box)


def test_setuid_setgid_and_sticky_bits_are_dropped(tmp_path: Path, box: Path) -> None:
    """Files and directories keep their permission bits less setuid, setgid and sticky."""
    image = _image(
        tmp_path,
        [
            b.file("bin/su", b"#!", mode=0o4755),
            b.file("bin/wall", b"#!", mode=0o2755),
            b.directory("tmp", mode=0o1777),
            b.directory("shared", mode=0o2775),
            b.file("plain", b"p", mode=0o640),
        ],
    )
    target = box / "target"
    res = _run("extract", str(image), "/", "-o", str(target), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    modes = {n: stat.S_IMODE(os.lstat(target / n).st_mode) for n in ("bin/su", "bin/wall")}
    modes |= {n: stat.S_IMODE(os.lstat(target / n).st_mode) for n in ("tmp", "shared", "plain")}
    assert modes == {
        "bin/su": 0o755,
        "bin/wall": 0o755,
        "tmp": 0o777,
        "shared": 0o775,
        "plain": 0o640,
    }


def test_nothing_is_overwritten_without_force(tmp_path: Path, box: Path) -> None:
    """An existing file stops the run before anything is written; with --force it is
    replaced — a symlink planted in its place is replaced, never written through — and a
    symlink planted where a parent directory goes stops the entries below it."""
    image = _image(
        tmp_path, [b.file("a/one", b"new one"), b.file("a/two", b"new two"), b.file("c/x", b"x")]
    )
    target = box / "target"
    (target / "a").mkdir(parents=True)
    (target / "a" / "two").write_bytes(b"mine")
    (box / "outside" / "victim").write_bytes(b"keep me")
    os.symlink(box / "outside" / "victim", target / "a" / "one")
    os.symlink(box / "outside", target / "c")
    res = _run("extract", str(image), "/", "-o", str(target), cache=tmp_path / "c")
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "exists: nothing written (use --force to overwrite)" in res.stderr
    assert (target / "a" / "two").read_bytes() == b"mine"
    assert (box / "outside" / "victim").read_bytes() == b"keep me"

    res = _run("extract", str(image), "/", "-o", str(target), "--force", cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    assert (target / "a" / "two").read_bytes() == b"new two"
    assert not os.path.islink(target / "a" / "one")
    assert (target / "a" / "one").read_bytes() == b"new one"
    assert (box / "outside" / "victim").read_bytes() == b"keep me"
    assert "skipped /c/x: a parent is a symlink or not a directory" in res.stderr
    assert os.listdir(box / "outside") == ["victim"]


def test_a_file_over_2_gib_needs_force(tmp_path: Path, box: Path, monkeypatch) -> None:
    """A single file over 2 GiB needs --force; without it nothing is written (the limit is
    lowered for the test: the check is the same)."""
    monkeypatch.setattr(core_extract, "LARGE", 1000)
    image = _image(tmp_path, [b.file("big", b"x" * 1001), b.file("small", b"y")])
    with open_content(str(image)) as acc:
        entries = core_extract.plan(acc, ["/"], None)
        with pytest.raises(core_extract.ImageError, match=r"over 2 GiB.*--force"):
            core_extract.extract(acc, entries, str(box / "target"))
        assert os.listdir(box / "target") == []
        done = core_extract.extract(acc, entries, str(box / "target"), force=True)
    assert (box / "target" / "big").stat().st_size == 1001
    assert done.written == ["big", "small"]


def test_a_layer_tar_is_written_whole_or_not_at_all(tmp_path: Path, box: Path) -> None:
    """`--tar` writes the layer as shipped (uncompressed) through a temp file renamed into
    place; an existing file needs --force; a failed run leaves no file."""
    image_layers = [[b.file("x", b"layer zero")], [b.file("y", b"layer one")]]
    image = _image(tmp_path, *image_layers)
    out = box / "layer.tar"
    res = _run("extract", str(image), "--layer", "1", "--tar", str(out), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    assert out.read_bytes() == b.encode_layer(b.Layer(entries=image_layers[1])).blob
    res = _run("extract", str(image), "--layer", "0", "--tar", str(out), cache=tmp_path / "c")
    assert res.returncode == 2 and "exists (use --force to overwrite)" in res.stderr
    res = _run("extract", str(image), "--layer", "5", "--tar", str(box / "n.tar"), cache=tmp_path)
    assert res.returncode == 2 and "no layer 5 (the image has 2: 0 to 1)" in res.stderr
    assert sorted(os.listdir(box)) == ["layer.tar", "outside"]  # no temp file left
