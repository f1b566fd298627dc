"""Layer commands of an engine image. The engine's history API has no empty-layer flag, so
they are guessed from it until the export's config (last in its stream) is read: `--json`
must write the exact ones, as for the image's archive (and as dive does)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.engine.private_engine import PrivateEngine, run_cli
from tests.robustness import builders as b

pytestmark = pytest.mark.engine

CREATED = "2024-01-01T00:00:00Z"
COMMANDS = [
    "/bin/sh -c #(nop) ADD file:0a1b in / ",
    "/bin/sh -c #(nop) WORKDIR /app",  # a layer of 0 bytes, like a metadata instruction's
    "/bin/sh -c #(nop) COPY file:2c3d in /app",
]


def test_engine_export_names_each_layer_as_its_archive_does(
    engine: PrivateEngine, tmp_path: Path
) -> None:
    tag = f"layerscope-history/workdir:{os.getpid()}"
    history = [
        {"created": CREATED, "created_by": COMMANDS[0]},
        {"created": CREATED, "created_by": "/bin/sh -c #(nop)  ENV A=1", "empty_layer": True},
        {"created": CREATED, "created_by": COMMANDS[1]},
        {"created": CREATED, "created_by": COMMANDS[2]},
        {"created": CREATED, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
    ]
    layers = [
        b.Layer(entries=[b.directory("etc"), b.file("etc/os-release", b"ID=x\n")]),
        b.Layer(entries=[b.directory("app")]),
        b.Layer(entries=[b.file("app/run.sh", b"echo hi\n")]),
    ]
    image = b.Image(tag=tag, layers=layers, history=history)
    archive = b.docker_archive(image).write_tar(tmp_path / "image.tar")
    engine.load(archive)
    try:
        from_engine = run_cli(f"docker://{tag}", tmp_path / "engine", {"DOCKER_HOST": engine.host})
        from_archive = run_cli(str(archive), tmp_path / "archive")
    finally:
        engine.docker("rmi", "-f", tag, check=False)
    exported = []
    for run in (from_engine, from_archive):
        assert run.result.returncode == 0, run.result.stderr
        exported.append([layer["command"] for layer in json.loads(run.out.read_text())["layer"]])
    expected = [c.removeprefix("/bin/sh -c ") for c in COMMANDS]
    assert exported == [expected, expected]
