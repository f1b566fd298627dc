"""Two releases of an app built on the sample image (`explorer.sample`), for the README's
screenshots of `layerscope compare`: both share the sample's layers, then each installs its
packages (dpkg and Python records) and copies its config. Release 1.1 upgrades three Debian
packages and a Python one, installs one package and drops another, edits its config file and
sets another version in its environment. Deterministic, like the sample.
"""

from __future__ import annotations

from explorer.sample import Entry, ImageSpec, Step, directory, file, sample_spec

SITE = "usr/lib/python3/dist-packages"
CONFIG = [
    "# app.conf: the service's settings",
    "[server]",
    "listen = 0.0.0.0:8080",
    "workers = 4",
    "timeout = 30s",
    "",
    "[storage]",
    "path = /var/lib/app",
    "cache = 256MiB",
    "compress = false",
    "",
    "[log]",
    "level = info",
    "format = text",
]


def _status(packages: list[tuple[str, str]]) -> Entry:
    text = "".join(
        f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\n"
        f"Version: {version}\nDescription: {name}\n\n"
        for name, version in packages
    )
    return file("var/lib/dpkg/status", text)


def _dist(name: str, version: str) -> Entry:
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    return file(f"{SITE}/{name}-{version}.dist-info/METADATA", meta)


def _release(version: str, packages: list[Entry], config: list[str]) -> ImageSpec:
    spec = sample_spec()
    install = [
        directory("var"),
        directory("var/lib"),
        directory("var/lib/dpkg"),
        directory("usr"),
        directory("usr/lib"),
        directory("usr/lib/python3"),
        directory(SITE),
        *packages,
    ]
    steps = [
        Step("/bin/sh -c apt-get install -y curl jq libssl3 && pip install requests", install),
        Step("COPY app.conf /etc/app.conf # buildkit", [file("etc/app.conf", "\n".join(config))]),
        Step(f"ENV APP_VERSION={version}", None),
    ]
    env = ["PATH=/usr/local/bin:/usr/bin:/bin", f"APP_VERSION={version}"]
    return ImageSpec(
        steps=[*spec.steps, *steps],
        tags=[f"sample/app:{version}"],
        config=spec.config | {"Env": env},
    )


def release_specs() -> tuple[ImageSpec, ImageSpec]:
    """Release 1.0 and release 1.1 of the app."""
    old = _release(
        "1.0",
        [
            _status(
                [
                    ("curl", "7.88.1-10+deb12u5"),
                    ("jq", "1.6-2.1"),
                    ("libssl3", "3.0.11-1~deb12u2"),
                    ("libyaml-0-2", "0.2.5-1"),
                ]
            ),
            _dist("requests", "2.31.0"),
            _dist("urllib3", "2.0.7"),
        ],
        CONFIG,
    )
    config = [
        line.replace("workers = 4", "workers = 8").replace("compress = false", "compress = zstd")
        for line in CONFIG
    ]
    new = _release(
        "1.1",
        [
            _status(
                [
                    ("ca-certificates", "20230311"),
                    ("curl", "7.88.1-10+deb12u12"),
                    ("jq", "1.6-2.1+deb12u1"),
                    ("libssl3", "3.0.15-1~deb12u1"),
                ]
            ),
            _dist("requests", "2.32.3"),
            _dist("urllib3", "2.0.7"),
        ],
        config,
    )
    return old, new
