"""`layerscope history` and `layerscope find` on archives built in Python."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from explorer.cli import main
from tests.robustness import builders as b
from tests.unit.helpers import image_archive

HOSTILE = "evil\x1b]52;c;aGk=\x07name"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return image_archive(
        tmp_path,
        [b.directory("etc"), b.file("etc/motd", b"hello\n"), b.file(f"etc/{HOSTILE}", b"x")],
        [b.file("etc/motd", b"bye\n"), b.file("tmp/build.log", b"log" * 1000)],
        [b.whiteout("tmp/build.log")],
    )


def run(capsys, tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--cache-dir", str(tmp_path / "cache")])
    out, err = capsys.readouterr()
    return code, out, err


def test_history_of_the_image_newest_first(capsys, tmp_path, archive) -> None:
    code, out, _ = run(capsys, tmp_path, "history", str(archive))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["LAYER", "CREATED", "SIZE", "FILES", "CREATED", "BY"]
    assert [line.split()[0] for line in lines[1:]] == ["2", "1", "0"]
    assert lines[1].endswith("step 2") and "3.0 kB" in lines[2]


def test_history_of_the_image_as_json(capsys, tmp_path, archive) -> None:
    code, out, _ = run(capsys, tmp_path, "history", str(archive), "--json")
    doc = json.loads(out)
    assert code == 0
    assert [s["layer"] for s in doc["steps"]] == [0, 1, 2]
    assert [s["entries"] for s in doc["steps"]] == [3, 2, 1]
    assert doc["steps"][1]["size"] == 3004 and doc["steps"][1]["diff_id"].startswith("sha256:")


def test_history_of_a_path(capsys, tmp_path, archive) -> None:
    code, out, _ = run(capsys, tmp_path, "history", str(archive), "/tmp/build.log", "--json")
    assert code == 0
    events = json.loads(out)["events"]
    assert [(e["layer"], e["action"], e["final"]) for e in events] == [
        (1, "added", False),
        (2, "removed", False),
    ]
    assert events[0]["instruction"] == "step 1" and events[0]["size"] == 3000
    code, out, _ = run(capsys, tmp_path, "history", str(archive), "etc/motd")
    assert code == 0
    assert out.splitlines()[0] == "/etc/motd"
    assert "modified" in out and "yes" in out and "by step 1" in out


def test_history_of_a_path_no_layer_has(capsys, tmp_path, archive) -> None:
    code, out, err = run(capsys, tmp_path, "history", str(archive), "/nope/x")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "/nope/x: no layer of" in err and "layerscope find" in err


def test_find_text_json_and_exit_codes(capsys, tmp_path, archive) -> None:
    code, out, _ = run(capsys, tmp_path, "find", str(archive), "*.log")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()[1:]] == [["1", "added"], ["2", "removed"]]
    code, out, _ = run(capsys, tmp_path, "find", str(archive), "^/etc/m", "--regex", "--json")
    assert [(m["layer"], m["action"]) for m in json.loads(out)["matches"]] == [
        (0, "added"),
        (1, "modified"),
    ]
    code, out, err = run(capsys, tmp_path, "find", str(archive), "nothing-like-this")
    assert (code, out) == (1, "") and "no entry" in err
    code, out, err = run(capsys, tmp_path, "find", str(archive), "(", "-E")
    assert (code, out) == (2, "") and err.count("\n") == 1 and "not a regular expression" in err


def test_hostile_names_never_reach_the_terminal_raw(capsys, tmp_path, archive) -> None:
    code, out, _ = run(capsys, tmp_path, "find", str(archive), "evil*")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]52" in out
    code, out, _ = run(capsys, tmp_path, "find", str(archive), "evil*", "--json")
    assert "\x1b" not in out and json.loads(out)["matches"][0]["path"] == f"/etc/{HOSTILE}"


def test_a_bad_image_is_one_line(capsys, tmp_path) -> None:
    (tmp_path / "junk.tar").write_bytes(b"not a tar" * 100)
    for argv in (
        ["history", str(tmp_path / "junk.tar")],
        ["find", str(tmp_path / "junk.tar"), "x"],
    ):
        code, out, err = run(capsys, tmp_path, *argv)
        assert (code, out) == (2, "") and err.count("\n") == 1 and "Traceback" not in err
