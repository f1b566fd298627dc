"""The image the viewer, history and find tests open: versions of a file, a binary, a long
text, a deleted file, and a file whose content holds terminal escape sequences."""

from __future__ import annotations

from pathlib import Path

from tests.robustness import builders as b

MAIN_V1 = (
    b'#!/usr/bin/env python3\n"""The tool."""\n\nimport os\n\n\ndef main():\n    print("hello")\n'
)
MAIN_V2 = MAIN_V1.replace(b'"hello"', b'"hello, world"') + b"\n\nmain()\n"
HOSTILE = b"before \x1b]52;c;cm0gLXJmIH4=\x07 \x1b[2J\x1b[31mred\x1b[0m \xc2\x9b31m after\n"
LONG = b"".join(b"line %05d of the log\n" % n for n in range(20_000)).replace(
    b"line 12345 of", b"line 12345 NEEDLE of"
)


def inside_image(tmp_path: Path, name: str = "inside.tar") -> Path:
    image = b.Image(
        layers=[
            b.Layer(
                entries=[
                    b.directory("app"),
                    b.file("app/main.py", MAIN_V1),
                    b.file("app/blob.bin", bytes(range(256)) * 4, mode=0o755),
                    b.file("app/hostile.txt", HOSTILE),
                    b.file("var/log/build.log", LONG),
                ],
                command="COPY app /app",
            ),
            b.Layer(entries=[b.file("app/main.py", MAIN_V2)], command="RUN edit main.py"),
            b.Layer(entries=[b.whiteout("var/log/build.log")], command="RUN rm build.log"),
        ]
    )
    return b.docker_archive(image).write_tar(tmp_path / name)
