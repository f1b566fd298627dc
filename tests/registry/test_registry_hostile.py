"""A registry that lies: what it serves is as untrusted as an archive's bytes. A small HTTP
server of the test's own serves crafted manifests, configs and blobs; each case is one clear
error line (an ImageError), never a traceback, a hang or a file outside the cache."""

from __future__ import annotations

import hashlib
import http.server
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from explorer.core.errors import ImageError
from explorer.core.loading import load
from explorer.core.sources import regclient
from explorer.core.sources.registry import RegistrySource
from tests.robustness import builders as b

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Fake:
    """Routes (path under /v2/) -> (status, body, content type)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status, body, kind = fake.routes.get(
                    self.path.removeprefix("/v2/"), (404, b'{"errors":[]}', "application/json")
                )
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.addr = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def blob(self, data: bytes, served: bytes | None = None) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.routes[f"evil/blobs/{digest}"] = (200, data if served is None else served, "x")
        return digest

    def image(self, layer_blob: bytes, diff_id: str, served: bytes | None = None) -> dict:
        config = b.jdump(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            }
        )
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": "x", "digest": self.blob(config), "size": len(config)},
            "layers": [
                {"mediaType": "x", "digest": self.blob(layer_blob, served), "size": len(layer_blob)}
            ],
        }
        self.manifest(manifest)
        return manifest

    def manifest(self, value: object, tag: str = "1") -> None:
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        self.routes[f"evil/manifests/{tag}"] = (200, body, MANIFEST)


@pytest.fixture
def fake() -> Iterator[Fake]:
    f = Fake()
    yield f
    f.server.shutdown()
    f.server.server_close()


def _open(fake: Fake, ref: str = "evil:1") -> list:
    result = load(lambda: RegistrySource(f"{fake.addr}/{ref}"), lambda _e: None, threading.Event())
    return result.layers


def _fails(fake: Fake, says: str, ref: str = "evil:1") -> str:
    with pytest.raises(ImageError) as caught:
        _open(fake, ref)
    text = str(caught.value)
    assert says in text and "\n" not in text, text
    return text


TAR = b.tar_bytes([b.file("etc/hostname", b"x\n")])
DIFF_ID = "sha256:" + hashlib.sha256(TAR).hexdigest()


def test_a_sound_image_opens(fake: Fake) -> None:
    fake.image(TAR, DIFF_ID)
    assert [list(index.paths) for index in _open(fake)] == [["etc/hostname"]]


def test_manifest_not_json(fake: Fake) -> None:
    fake.manifest(b"<html>not a manifest</html>")
    _fails(fake, "invalid JSON")


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        ({"schemaVersion": 2, "layers": "all of them", "config": {}}, "has no layers"),
        ({"schemaVersion": 2, "layers": [], "config": "x"}, "has no config"),
        ({"schemaVersion": 2, "layers": [], "config": {"digest": "../../etc"}}, "invalid config"),
        ({"schemaVersion": 1, "fsLayers": []}, "schema 1"),
        ({"schemaVersion": 2, "manifests": "many"}, "no manifests"),
        ([1, 2, 3], "has no layers"),
    ],
)
def test_malformed_manifests(fake: Fake, manifest: object, says: str) -> None:
    fake.manifest(manifest)
    _fails(fake, says)


def test_a_layer_digest_that_is_a_path(fake: Fake) -> None:
    manifest = fake.image(TAR, DIFF_ID)
    manifest["layers"][0]["digest"] = "sha256:../../../../etc/passwd"
    fake.manifest(manifest)
    _fails(fake, "invalid layer digest")


def test_a_manifest_fetched_by_digest_must_hash_to_it(fake: Fake) -> None:
    manifest = fake.image(TAR, DIFF_ID)
    digest = "sha256:" + "0" * 64
    fake.manifest(manifest, digest)
    _fails(fake, "does not match its digest", f"evil@{digest}")


def test_an_oversized_manifest(fake: Fake) -> None:
    fake.manifest(b"[" + b" " * (17 << 20) + b"]")
    _fails(fake, "too large")


def test_a_config_that_claims_another_diff_id(fake: Fake) -> None:
    fake.image(TAR, "sha256:" + "1" * 64)
    _fails(fake, "does not match the config's diff_id")


def test_a_blob_served_longer_than_its_descriptor(fake: Fake) -> None:
    fake.image(TAR, DIFF_ID, served=TAR + b"\0" * 4096 + b"trailing")
    assert [list(index.paths) for index in _open(fake)] == [["etc/hostname"]]  # read to size


def test_a_blob_served_shorter_than_its_descriptor(fake: Fake) -> None:
    fake.image(TAR, DIFF_ID, served=TAR[:1000])
    _fails(fake, "connection dropped")


def test_an_index_without_the_platform(fake: Fake) -> None:
    fake.manifest(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": MANIFEST, "digest": "sha256:" + "2" * 64, "size": 1,
                 "platform": {"os": "plan9", "architecture": "[red]mips"}},
                {"mediaType": MANIFEST, "digest": "sha256:" + "3" * 64, "size": 1,
                 "platform": {"os": "plan9", "architecture": "arm"}},
            ],
        }
    )  # fmt: skip
    _fails(fake, "no image for platform")


def test_tls_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry whose certificate the system does not trust is refused in one line (with
    the way out); trusted through REQUESTS_CA_BUNDLE, it opens. (Loopback addresses are
    spoken to in plain HTTP: here TLS is forced, as for any other host.)"""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate here: {made.stderr[-200:]!r}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake = Fake(context)
    try:
        fake.image(TAR, DIFF_ID)
        monkeypatch.setattr(regclient, "plain_http", lambda _host: False)
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        text = _fails(fake, "TLS certificate not trusted")
        assert "REQUESTS_CA_BUNDLE" in text
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        assert [list(index.paths) for index in _open(fake)] == [["etc/hostname"]]
    finally:
        fake.server.shutdown()
        fake.server.server_close()
