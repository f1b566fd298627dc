"""`layerscope compare A B`: the verdict line and exit codes under each threshold, the
formats and modes, errors as one line with exit 2, hostile names, shared layers read once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.commands import compare as command
from tests.robustness import builders as b
from tests.unit.cache_helpers import count_indexing
from tests.unit.helpers import image_archive

REPO = Path(__file__).resolve().parents[2]
BASE = [b.directory("etc", mode=0o755), b.file("etc/os-release", b"ID=test\n" * 10)]
BIG = b"x" * 100_000


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("compare")
    app = [b.directory("app"), b.file("app/main.py", b"print(1)\n"), b.file("app/data", BIG)]
    return {
        "a": image_archive(tmp, BASE, app, name="a.tar"),
        # B: A plus a layer that writes app/data again (dive counts both copies) and adds a file
        "b": image_archive(
            tmp,
            BASE,
            app,
            [b.directory("app"), b.file("app/data", BIG), b.file("app/new", b"n" * 5000)],
            name="b.tar",
            config_extra={"config": {"Env": ["PATH=/bin", "API_TOKEN=s3cret"], "User": "app"}},
        ),
        # C: A with app/main.py changed (same size) and etc/os-release chmod-ed
        "c": image_archive(
            tmp,
            BASE,
            app,
            [
                b.file("app/main.py", b"print(2)\n"),
                b.file("etc/os-release", b"ID=test\n" * 10, mode=0o600),
            ],
            name="c.tar",
        ),
    }


def run(capsys, *argv: str | Path, cache: Path) -> tuple[int, str, str]:
    code = command.main([*map(str, argv), "--cache-dir", str(cache)])
    out, err = capsys.readouterr()
    return code, out, err


def last_line(text: str) -> str:
    return text.rstrip("\n").rsplit("\n", 1)[-1]


def test_no_threshold_is_ok(images, capsys, tmp_path) -> None:
    code, out, _ = run(capsys, images["a"], images["b"], cache=tmp_path)
    assert code == 0
    assert last_line(out) == "verdict: ok"
    assert "shared layers: 2 of B's 3" in out
    assert re.search(r"\n  A +\+4\.9 KiB +L2  /app/new\n", out), out


def test_same_image_is_same_digest_whatever_the_thresholds(images, capsys, tmp_path) -> None:
    argv = [images["a"], images["a"], "--max-growth", "0", "--max-efficiency-drop", "0"]
    code, out, _ = run(capsys, *argv, cache=tmp_path)
    assert (code, last_line(out)) == (0, "verdict: same digest")
    assert "files: 0 added (+0 B), 0 removed (+0 B), 0 modified (+0 B)" in out


@pytest.mark.parametrize(
    ("flags", "code", "verdict"),
    [
        (["--max-growth", "200K"], 0, "verdict: ok"),
        (["--max-growth", "100K"], 1, "verdict: regression reason=growth"),
        (["--max-growth", "110%"], 0, "verdict: ok"),
        (["--max-growth", "100%"], 1, "verdict: regression reason=growth"),
        (["--max-efficiency-drop", "0.5"], 0, "verdict: ok"),
        (["--max-efficiency-drop", "10%"], 1, "verdict: regression reason=efficiency"),
        (
            ["--max-growth", "1K", "--max-efficiency-drop", "0.01"],
            1,
            "verdict: regression reason=growth,efficiency",
        ),
    ],
)
def test_thresholds(images, capsys, tmp_path, flags, code, verdict) -> None:
    """B is 105,000 bytes (105%) larger than A, and dive's efficiency drops by half
    (app/data shipped twice)."""
    got, out, err = run(capsys, images["a"], images["b"], *flags, cache=tmp_path)
    assert (got, last_line(out)) == (code, verdict), out + err


def test_json_lists_changes_with_b_layers(images, capsys, tmp_path) -> None:
    code, out, _ = run(capsys, images["a"], images["c"], "--format", "json", cache=tmp_path)
    assert code == 0
    doc = json.loads(out)
    assert doc["added"] == [] and doc["removed"] == []
    modified = {m["path"]: (m["layer"], m["what"]) for m in doc["modified"]}
    assert modified == {"/app/main.py": (2, ["content"]), "/etc/os-release": (2, ["mode"])}
    assert doc["summary"]["sharedLayers"] == 2 and doc["summary"]["divergesAt"] == 2
    assert doc["verdict"] == "ok"
    again = run(capsys, images["a"], images["c"], "--format", "json", cache=tmp_path)[1]
    assert again == out  # deterministic


def test_config_changes_and_secrets_masked(images, capsys, tmp_path) -> None:
    code, out, _ = run(capsys, images["a"], images["b"], "--mode", "summary", cache=tmp_path)
    assert code == 0
    assert 'Env API_TOKEN: (none) -> "••••••"' in out
    assert "s3cret" not in out
    assert 'User: (none) -> "app"' in out
    assert "changes (" not in out  # summary: no change list


def test_markdown_has_the_verdict(images, capsys, tmp_path) -> None:
    code, out, _ = run(capsys, images["a"], images["c"], "--format", "markdown", cache=tmp_path)
    assert code == 0
    assert "**verdict: ok**" in out
    assert "| M | /app/main.py | +0 B | L2 | content |" in out


def test_compact_folds_added_directories_full_does_not(tmp_path, capsys) -> None:
    tree = [b.directory("d")] + [b.file(f"d/f{i}", b"z" * 10) for i in range(5)]
    a = image_archive(tmp_path, BASE, name="a.tar")
    bb = image_archive(tmp_path, BASE, tree, name="b.tar")
    _, compact, _ = run(capsys, a, bb, cache=tmp_path / "cache")
    _, full, _ = run(capsys, a, bb, "--mode", "full", cache=tmp_path / "cache")
    assert "/d  (+5 below)" in compact and "/d/f3" not in compact
    assert all(f"/d/f{i}" in full for i in range(5))


def test_hostile_names_reach_no_terminal(tmp_path, capsys) -> None:
    evil = "x\x1b]52;c;QUJD\x07[bold]"
    a = image_archive(tmp_path, BASE, name="a.tar")
    bb = image_archive(tmp_path, BASE, [b.file(evil, b"1")], name="b.tar",
                       config_extra={"config": {"Labels": {"l\x1b[2J": "v\x9b"}}})  # fmt: skip
    for fmt in ("text", "markdown"):
        _, out, _ = run(capsys, a, bb, "--format", fmt, cache=tmp_path / "cache")
        assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
        assert "x\\x1b]52;c;QUJD\\x07" in out or fmt == "markdown"
    _, out, _ = run(capsys, a, bb, "--format", "json", cache=tmp_path / "cache")
    assert json.loads(out)["added"][0]["path"] == "/" + evil


def test_shared_layers_are_indexed_once(tmp_path, capsys, monkeypatch) -> None:
    """B's layers that A has come from the layer cache A just filled."""
    monkeypatch.setenv("LAYERSCOPE_WORKERS", "1")
    a = image_archive(tmp_path, BASE, [b.file("x", b"1")], name="a.tar")
    bb = image_archive(tmp_path, BASE, [b.file("x", b"1")], [b.file("y", b"2")], name="b.tar")
    calls = count_indexing(monkeypatch)
    code, out, _ = run(capsys, a, bb, cache=tmp_path / "cache")
    assert code == 0 and re.search(r"\n  A +\+1 B +L2  /y\n", out), out
    assert len(calls) == 3, calls  # A's two layers, B's own one


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.tar", "{a}"], "missing.tar: no such file or directory"),
        (["{a}", "{a}", "--max-growth", "lots"], "--max-growth: invalid size 'lots'"),
        (["{a}", "{a}", "--max-growth=-5%"], "--max-growth: invalid percentage"),
        (["{a}", "{a}", "--max-efficiency-drop", "2"], "--max-efficiency-drop: invalid value"),
        (["{a}", "{truncated}"], "{truncated}"),
    ],
)
def test_errors_are_one_line_exit_2(images, tmp_path, argv, message) -> None:
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(images["a"].read_bytes()[:3000])
    names = {"a": images["a"], "truncated": truncated}
    argv = [x.format(**names) for x in argv]
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "compare", *argv, "--cache-dir", str(tmp_path / "c")],
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and message.format(**names) in proc.stderr, proc.stderr


def test_a_process_without_a_terminal_gets_text(images, tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "compare", str(images["a"]), str(images["b"]),
         "--max-growth", "1%", "--cache-dir", str(tmp_path)],
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert last_line(proc.stdout) == "verdict: regression reason=growth"


@pytest.mark.corpus
@pytest.mark.parametrize(
    "b_form",
    [
        "oci://{archives}/waste.oci-layout",
        "{archives}/waste.oci-zstd.tar",
        "docker://corpus/waste:1",
    ],
)
def test_any_source_forms_of_one_image_compare_equal(tmp_path, capsys, b_form) -> None:
    """The corpus image as a docker-save archive against itself as an OCI layout, a zstd OCI
    archive and the engine's image: every layer shared, no file changed."""
    from tests.paths import CORPUS_OUT

    archives = CORPUS_OUT / "archives"
    if not (archives / "waste.tar").exists():
        pytest.skip("the corpus is not built (../shared/corpus/build.sh)")
    b_target = b_form.format(archives=archives)
    if b_target.startswith("docker://"):
        import docker

        try:
            docker.from_env().images.get("corpus/waste:1")
        except Exception as exc:  # no engine, or not built there
            pytest.skip(f"corpus/waste:1 not in a running engine: {exc}")
    code, out, err = run(capsys, archives / "waste.tar", b_target, "--format", "json",
                         cache=tmp_path)  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["sharedLayers"] == doc["summary"]["divergesAt"] == 12
    assert (doc["added"], doc["removed"], doc["modified"]) == ([], [], [])


def test_new_findings_gate(images, tmp_path, capsys) -> None:
    """B adds a private key (a finding A has not): a regression by findings; A against itself
    is the same image, never a regression."""
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmU" * 8
    leaky = image_archive(
        tmp_path, BASE, [b.directory("root"), b.file("root/id_rsa", key)], name="leaky.tar"
    )
    cache = tmp_path / "cache"
    code, out, _ = run(capsys, images["a"], leaky, "--fail-on-new-findings", "low", cache=cache)
    assert code == 1 and last_line(out).startswith("verdict: regression reason="), out
    assert "findings" in last_line(out)
    code, out, _ = run(
        capsys, images["a"], images["a"], "--fail-on-new-findings", "low", cache=cache
    )
    assert code == 0 and last_line(out) == "verdict: same digest", out


def test_new_and_resolved_findings_are_listed(images, tmp_path, capsys) -> None:
    """The key B adds is a new finding in every format; compared the other way round, the
    same finding is resolved."""
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmU" * 8
    leaky = image_archive(
        tmp_path, BASE, [b.directory("root"), b.file("root/id_rsa", key)], name="leaky.tar"
    )
    cache = tmp_path / "cache"
    code, out, _ = run(capsys, images["a"], leaky, "--format", "json", cache=cache)
    found = json.loads(out)["findings"]
    assert code == 0 and found["resolved"] == []
    assert [(f["rule"], f["path"], f["layer"]) for f in found["new"]] == [
        ("secret-in-file", "/root/id_rsa", 1)
    ]
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU" not in out  # the key itself never shown
    _, out, _ = run(capsys, images["a"], leaky, "--mode", "full", cache=cache)
    assert "findings: 1 new (1 critical), 0 resolved" in out
    assert "  critical  secret-in-file  L1  /root/id_rsa  " in out
    _, out, _ = run(
        capsys, leaky, images["a"], "--format", "markdown", "--mode", "full", cache=cache
    )
    assert "Findings: 0 new, 1 resolved." in out
    assert "| secret-in-file | critical | L1 | /root/id\\_rsa |" in out
