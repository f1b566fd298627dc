"""The `--json` file: dive's bytes, and how it reaches its destination."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from explorer.core.export import go_string
from tests.robustness import builders as b
from tests.unit.helpers import image_archive

REPO = Path(__file__).resolve().parents[2]


def layerscope(*args: str | Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "explorer", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        **kw,
    )


def test_undecodable_byte_is_written_as_the_escape_text_go_writes():
    """Go's encoding/json writes the six characters `\\ufffd` for each invalid byte (a valid
    U+FFFD in a name stays the raw character)."""
    assert go_string("latin1-\udce9-x") == '"latin1-\\ufffd-x"'
    assert go_string("\udcff\udcfe") == '"\\ufffd\\ufffd"'
    assert go_string("real-\ufffd") == '"real-\ufffd"'


def test_json_file_of_a_non_utf8_name_is_ascii_escaped(tmp_path):
    archive = image_archive(tmp_path, [b.file(b"caf\xe9", b"1"), b.file("ok-\u00e9", b"2")])
    out = tmp_path / "out.json"
    proc = layerscope(archive, "--json", out)
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert b'"path": "caf\\ufffd"' in data
    assert '"path": "ok-\u00e9"'.encode() in data
