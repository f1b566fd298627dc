"""A fixed image library, built from engine answers written out here (never a live engine):
the README's screenshots of the library, its Pilot tests and snapshots draw the same screen
every time. Its history holds a hostile command (an escape sequence, markup) on purpose."""

from __future__ import annotations

import hashlib

from explorer.core.library import Library, assemble, build

NOW = 1_800_000_000.0
MB = 1000 * 1000


def _digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


# name -> (diff_id seed, size, created_by)
LAYERS = {
    "debian": ("/bin/sh -c #(nop) ADD file:4a7b in / ", 116_700_000),
    "py1": (
        "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends "
        "ca-certificates && rm -rf /var/lib/apt/lists/*",
        9_300_000,
    ),
    "py2": (
        "/bin/sh -c set -eux; wget -O python.tar.xz https://python.org/ftp/3.12; make install",
        38_900_000,
    ),
    "deps": (
        "/bin/sh -c apt-get update && apt-get install -y build-essential libpq-dev",
        212_000_000,
    ),
    "src": ("/bin/sh -c #(nop) COPY dir:7c1e in /app ", 4_200_000),
    "pip": ("/bin/sh -c pip install -r /app/requirements.txt", 48_000_000),
    "alpine": ("/bin/sh -c #(nop) ADD file:alpine in / ", 7_800_000),
    "npm": ("/bin/sh -c npm ci && npm run build", 31_000_000),
    "old": ("/bin/sh -c pip install -r /app/requirements.txt  # an older build", 47_100_000),
    "scratch": ("/bin/sh -c #(nop) COPY file:bin in /usr/local/bin ", 12_400_000),
    "lonely": ("/bin/sh -c #(nop) ADD file:tools in / ", 80_500_000),
    "evil": ("/bin/sh -c echo \x1b]52;c;cHduZWQ=\x07 [bold red]hi[/]", 1_000),
}
IMAGES = [  # tags, layers, user, created (hours before NOW)
    (["debian:12"], ["debian"], "", 900),
    (["python:3.12"], ["debian", "py1", "py2"], "", 700),
    (["shop/api:latest"], ["debian", "py1", "py2", "deps", "src", "pip"], "", 3),
    (["shop/web:2.1", "shop/web:latest"], ["alpine", "npm"], "node", 26),
    ([], ["debian", "py1", "py2", "deps", "src", "old"], "", 50),
    ([], ["scratch"], "", 400),
    (["tools/lonely:0.3"], ["lonely"], "1000", 2000),
    (["evil/x:1"], ["alpine", "evil"], "", 10),
]


def raw_answers() -> dict:
    data: dict = {"images": [], "inspect": {}, "history": {}, "containers": []}
    for tags, layers, user, hours in IMAGES:
        image_id = _digest("image " + " ".join(tags) + " ".join(layers))
        diff_ids = [_digest(name) for name in layers]
        created = int(NOW - hours * 3600)
        data["images"].append(
            {
                "Id": image_id,
                "RepoTags": tags or None,
                "Created": created,
                "Size": sum(LAYERS[n][1] for n in layers),
            }
        )
        data["inspect"][image_id] = {
            "Id": image_id,
            "RootFS": {"Layers": diff_ids},
            "Os": "linux",
            "Architecture": "amd64",
            "Config": {"User": user, "Cmd": ["sh"], "Labels": {"org.example.team": "shop"}},
        }
        history = [
            {"CreatedBy": LAYERS[n][0], "Size": LAYERS[n][1], "Created": created} for n in layers
        ]
        history.append(
            {"CreatedBy": '/bin/sh -c #(nop)  CMD ["sh"]', "Size": 0, "Created": created}
        )
        data["history"][image_id] = history[::-1]
        if tags == ["shop/api:latest"]:
            data["containers"] = [
                {"ImageID": image_id, "State": "running"},
                {"ImageID": image_id, "State": "exited"},
            ]
    return data


def library() -> Library:
    return assemble(build(raw_answers(), "docker"), ["docker"])
