"""An image built in Python with every findings rule planted, the two decoys (a public
certificate, a README naming secret variables without values), a secret a later layer
deletes, and package records of dpkg, Python and npm — with the layer each should be found
at (`EXPECTED`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.robustness import builders as b

# Values made up for the test, random-looking so that the detectors take them for secrets.
GITHUB_TOKEN = "ghp_" + "k3Jd9QwLm2Xp7Rt1Vb8Zc4Ny6Hs0Ea5Fg" + "Ds0A"
DB_PASSWORD = "Zq7xR2mP9vL4kT8w"
API_TOKEN = "tK9mQ2xW7pL4vR8zN3bC6dF1"
SLACK_LABEL = "xoxb-4825061937-Kq8Zm2Lp7Xv3Rt9W"
NPM_TOKEN = "npm_" + "Qm7Xk2Lp9Zv4Rt8Wn3Bc6Df1Gh5Js0Ty2Ue"
AWS_KEY_ID = "AKIA" + "Q7ZK2M4XJP3L6TRW"
PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    + "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    + "QyNTUxOQAAACDx3Jk9Lw2Qm7Vp4Zr8Xt1Nb6Ch5Gd0Fs3Ka9Ew2Yq7MAAAAJj1kQ3s9ZED\n"
    + "-----END OPENSSH PRIVATE KEY-----\n"
)
SECRETS = (GITHUB_TOKEN, DB_PASSWORD, API_TOKEN, SLACK_LABEL, NPM_TOKEN, AWS_KEY_ID, PRIVATE_KEY)

CERTIFICATE = (
    "-----BEGIN CERTIFICATE-----\n"
    + "MIIBszCCAVmgAwIBAgIUZm9vYmFyYmF6cXV4MTIzNDU2Nzg5MAoGCCqGSM49BAMCMBQxEjAQ\n" * 3
    + "-----END CERTIFICATE-----\n"
)
README = (
    "# The service\n\nSet GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY and DB_PASSWORD in the "
    "environment before running it; `export API_TOKEN=<your token>` works too.\n"
)
DECOYS = ("/etc/ssl/certs/server.pem", "/app/README.md")
TAG = "layerscope-test/findings:latest"
SITE = "usr/local/lib/python3.11/site-packages"


def _status(*packages: tuple[str, str]) -> bytes:
    return "\n".join(
        f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n"
        f"Description: the {name} package\n a continuation line\n"
        for name, version in packages
    ).encode()


def _blob(seed: str, size: int) -> bytes:
    """`size` bytes that look random (and compress badly), the same for the same seed."""
    blocks = (hashlib.sha256(f"{seed}{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


LAYERS: list[tuple[str, list]] = [
    (
        "/bin/sh -c #(nop) ADD file:base in / ",
        [
            b.directory("var/lib/dpkg"),
            b.file("var/lib/dpkg/status", _status(("bash", "5.2.15"), ("curl", "7.88.1"))),
            b.file("usr/bin/su", _blob("su", 5000), mode=0o4755),
            b.directory("tmp", mode=0o1777),
            b.directory("srv/shared", mode=0o777),
            b.file("srv/shared/drop.txt", b"anyone may write here\n", mode=0o666),
            b.file("etc/ssl/certs/server.pem", CERTIFICATE.encode()),
        ],
    ),
    (
        "/bin/sh -c #(nop) COPY dir:5d1e0c7a9b in /app ",
        [
            b.file("app/README.md", README.encode()),
            b.file("app/settings.py", f'GITHUB_TOKEN = "{GITHUB_TOKEN}"\nDEBUG = False\n'.encode()),
            b.file("app/.env", f"DEBUG=0\nDB_PASSWORD={DB_PASSWORD}\n".encode()),
            b.file("app/deploy/keystore.jks", _blob("jks", 2000)),
            b.file("app/.git/HEAD", b"ref: refs/heads/main\n"),
            b.file("app/.git/config", b"[core]\n\trepositoryformatversion = 0\n"),
            b.file("app/data/model.bin", _blob("model", 40000)),
            b.file("app/data/model-copy.bin", _blob("model", 40000)),
            b.file("app/static/logo.bin", _blob("logo", 30000)),
            b.file(
                "app/node_modules/left-pad/package.json", b'{"name":"left-pad","version":"1.3.0"}'
            ),
            b.file("app/requirements.txt", b"requests==2.31.0\n"),
        ],
    ),
    (
        f"|1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c pip install -r /app/requirements.txt",
        [
            b.file(
                "var/lib/dpkg/status",
                _status(("bash", "5.2.15"), ("curl", "8.0.1"), ("git", "2.39.2")),
            ),
            b.file(
                f"{SITE}/requests-2.31.0.dist-info/METADATA", b"Name: requests\nVersion: 2.31.0\n"
            ),
            b.file("root/.cache/pip/http/a/b/c/entry", _blob("pip", 50000)),
        ],
    ),
    (
        "/bin/sh -c echo key > /root/.ssh/id_rsa && tar cf /tmp/build.tar /app",
        [
            b.directory("root/.ssh", mode=0o700),
            b.file("root/.ssh/id_rsa", PRIVATE_KEY.encode(), mode=0o600),
            b.file("root/aws.txt", f"key id {AWS_KEY_ID}\n".encode()),
            b.file("tmp/build.tar", _blob("build", 2_000_000)),
        ],
    ),
    (
        "/bin/sh -c rm /root/.ssh/id_rsa /tmp/build.tar",
        [b.whiteout("root/.ssh/id_rsa"), b.whiteout("tmp/build.tar")],
    ),
    (
        "/bin/sh -c chmod 600 /app/static/logo.bin",
        [b.file("app/static/logo.bin", _blob("logo", 30000), mode=0o600)],
    ),
] + [
    (f"/bin/sh -c echo {i} > /etc/step-{i}", [b.file(f"etc/step-{i}", f"{i}\n".encode())])
    for i in range(10)
]

CONFIG = {
    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", f"API_TOKEN={API_TOKEN}", "LANG=C.UTF-8"],
    "Labels": {"org.example.deploy-token": SLACK_LABEL, "org.example.team": "platform"},
    "Cmd": ["python", "/app/settings.py"],
    "WorkingDir": "/app",
}

# rule -> (layer, path) of one finding the report must have
EXPECTED = {
    "secret-in-file": [
        (1, "/app/settings.py"),
        (1, "/app/.env"),
        (3, "/root/.ssh/id_rsa"),
        (3, "/root/aws.txt"),
    ],
    "secret-file-name": [(1, "/app/deploy/keystore.jks")],
    "secret-in-env": [(None, "Env:API_TOKEN")],
    "secret-in-label": [(None, "Labels:org.example.deploy-token")],
    "secret-in-history": [(2, "history:2")],
    "setuid-setgid": [(0, "/usr/bin/su")],
    "world-writable": [(0, "/srv/shared")],
    "vcs-metadata": [(1, "/app/.git")],
    "package-cache": [(2, "/root/.cache/pip")],
    "duplicate-files": [(1, "/app/data/model.bin")],
    "added-then-removed": [(3, "/tmp/build.tar")],
    "rewritten-later": [(1, "/app/static/logo.bin")],
    "large-layer": [(3, "")],
    "many-tiny-layers": [(None, "")],
    "cache-unfriendly-order": [(1, "history:1")],
    "runs-as-root": [(None, "User")],
    "latest-tag": [(None, "Tags")],
    "no-healthcheck": [(None, "Healthcheck")],
}
LARGE_LAYER = 1 << 20  # the test's threshold for large-layer (the real one is 512 MiB)


def build(directory: Path) -> Path:
    image = b.Image(
        layers=[b.Layer(entries=entries, command=cmd) for cmd, entries in LAYERS],
        tag=TAG,
        config_extra={"config": CONFIG},
        history=[{"created": b.CREATED, "created_by": cmd} for cmd, _ in LAYERS],
    )
    directory.mkdir(parents=True, exist_ok=True)
    return b.docker_archive(image).write_tar(directory / "findings.tar")
