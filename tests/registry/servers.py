"""Real registries for the tests, and a proxy in front of one that misbehaves on demand.

* `Registry`: Debian's docker-registry (the CNCF distribution registry) on a loopback port of
  its own, started by ../shared/corpus/start-registry.sh (which installs the package when it
  is missing), logging every request so that a test can count the blobs it served.
* `FaultProxy`: forwards GETs to a registry unchanged, except that it can corrupt one blob,
  reset the connection in the middle of one, or send every body slowly.
* `TokenServer` and `TokenRegistry`: the bearer-token flow, a registry that trusts only the
  tokens of a token endpoint of ours.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from tests.paths import SHARED

START = SHARED / "corpus" / "start-registry.sh"
REQUIRED = os.environ.get("LAYERSCOPE_REQUIRE_ENGINE") == "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """A docker-registry of our own (its pid is ours to stop)."""

    def __init__(self, root: Path, htpasswd: Path | None = None) -> None:
        self.root = root
        self.addr = f"127.0.0.1:{free_port()}"
        self.htpasswd = htpasswd
        self.pid: int | None = None

    @property
    def log(self) -> Path:
        return self.root / "registry.log"

    def start(self) -> None:
        env = dict(
            os.environ,
            REGISTRY_ADDR=self.addr,
            REGISTRY_ROOT=str(self.root),
            REGISTRY_PIDFILE=str(self.root / "registry.pid"),
            REGISTRY_LOG_LEVEL="info",
        )
        if self.htpasswd is not None:
            env["REGISTRY_HTPASSWD"] = str(self.htpasswd)
        done = subprocess.run(
            ["bash", str(START)], env=env, capture_output=True, text=True, timeout=600
        )
        pidfile = self.root / "registry.pid"
        if pidfile.exists():
            self.pid = int(pidfile.read_text().strip())
        if done.returncode != 0:
            raise RuntimeError((done.stdout + done.stderr)[-1500:])

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            self.pid = None

    def mark(self) -> int:
        """Where the log ends now: `requests_since` counts what comes after."""
        return self.log.stat().st_size if self.log.exists() else 0

    def requests_since(
        self, mark: int, pattern: str = r"/v2/[^ ]*/blobs/sha256:[0-9a-f]+"
    ) -> list[str]:
        """The request URIs matching `pattern` served since `mark` (the access log's lines)."""
        # the access log is written after the response: wait until it has settled
        size = -1
        for _ in range(50):
            now = self.mark()
            if now == size:
                break
            size = now
            time.sleep(0.05)
        with open(self.log, "rb") as f:
            f.seek(mark)
            text = f.read().decode(errors="replace")
        return re.findall(rf'"GET ({pattern}) HTTP', text)


def skopeo_copy(source: str, dest: str, *extra: str, creds: str | None = None) -> None:
    argv = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *extra, source, dest]
    if creds:
        argv[2:2] = ["--dest-creds", creds]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"skopeo copy {source} {dest}: {done.stderr.strip()[-800:]}")


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


# -- the proxy -------------------------------------------------------------------------------


class FaultProxy:
    """An HTTP proxy to `upstream` (HOST:PORT) on a loopback port of its own. Knobs (set by a
    test before it reads through the proxy):

    * `corrupt`: blob digests whose bytes are changed (one byte in the middle flipped);
    * `cut_after`: digest -> bytes after which the connection is closed (the response short
      of its Content-Length; every byte sent before arrives), once per digest;
    * `always_reset_after`: digest -> bytes of every response after which it is reset;
    * `delay`: seconds to wait before each 64 KiB of a body.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.corrupt: set[str] = set()
        self.cut_after: dict[str, int] = {}
        self.always_reset_after: dict[str, int] = {}
        self.delay = 0.0
        self.ranges: list[str] = []  # Range headers seen on blob requests
        self.blob_requests: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *_: None  # type: ignore[method-assign]  # resets
        self.addr = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        digest = url.path.rsplit("/blobs/", 1)[1] if "/blobs/" in url.path else ""
        if digest:
            self.blob_requests.append(digest)
            self.ranges.append(h.headers.get("Range", ""))
        conn = http.client.HTTPConnection(self.upstream, timeout=60)
        headers = {k: v for k, v in h.headers.items() if k.lower() in ("accept", "range")}
        conn.request("GET", h.path, headers=headers)
        up = conn.getresponse()
        body = up.read()
        conn.close()
        if digest in self.corrupt and body:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
        cut, reset = self.always_reset_after.get(digest), True
        if cut is None and digest in self.cut_after:
            cut, reset = self.cut_after.pop(digest), False
        h.send_response(up.status)
        for key, value in up.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length", "date"):
                h.send_header(key, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        sent = 0
        while sent < len(body):
            piece = body[sent : sent + (64 << 10)]
            if cut is not None and sent + len(piece) >= cut:
                h.wfile.write(body[sent:cut])
                h.wfile.flush()
                _drop(h, reset)
                return
            if self.delay:
                time.sleep(self.delay)
            try:
                h.wfile.write(piece)
            except OSError:
                return  # the client went away (cancelled)
            sent += len(piece)

    @staticmethod
    def _reply(
        h: http.server.BaseHTTPRequestHandler, status: int, body: bytes, challenge: str = ""
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        if challenge:
            h.send_header("WWW-Authenticate", challenge)
        h.end_headers()
        h.wfile.write(body)


def _drop(h: http.server.BaseHTTPRequestHandler, reset: bool) -> None:
    """Drop the connection: with a TCP reset (SO_LINGER 0: what the client has not read yet
    is lost) or closed (FIN). The handler's files hold the socket open: closed first."""
    sock = h.connection
    if reset:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.close_connection = True
    for f in (h.rfile, h.wfile):
        with contextlib.suppress(OSError, ValueError):
            f.close()
    with contextlib.suppress(OSError):
        if not reset:
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


# -- the token flow ----------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The registry's token endpoint (its `auth: token` configuration): gives `user` a JWT
    signed with a key of its own (RS256, the certificate in the `x5c` header; openssl signs),
    granting pull and push on the scope asked for; or, POSTed (OAuth2), to whoever presents
    the refresh token `refresh` (what `docker login` keeps as an identity token). The
    registry trusts the certificate
    (`rootcertbundle`) and checks issuer, audience (the service), expiry and the access."""

    ISSUER = "layerscope-test-issuer"
    SERVICE = "layerscope-test-registry"

    def __init__(self, root: Path, user: str, password: str) -> None:
        self.root = root
        self.key, self.cert = root / "token.key", root / "token.crt"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=layerscope-test-token", "-keyout", str(self.key), "-out",
             str(self.cert)],
            capture_output=True, check=True, timeout=60,
        )  # fmt: skip
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
            capture_output=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        self.x5c = base64.b64encode(der).decode()
        self.user, self.password = user, password
        self.refresh = "refresh-" + _b64url(os.urandom(9))
        self.requests: list[dict[str, list[str]]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._answer(self, parse_qs(urlparse(self.path).query))

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                server._answer(self, parse_qs(self.rfile.read(size).decode()))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, h: http.server.BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        self.requests.append(query)
        auth = h.headers.get("Authorization", "")
        given = base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else ""
        refresh = query.get("refresh_token") == [self.refresh] and h.command == "POST"
        if given != f"{self.user}:{self.password}" and not refresh:
            FaultProxy._reply(h, 401, b'{"details":"wrong credentials"}')
            return
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, _actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": ["pull", "push"]})
        token = self._sign(access)
        FaultProxy._reply(h, 200, json.dumps({"token": token, "expires_in": 300}).encode())

    def _sign(self, access: list[dict]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": self.ISSUER, "sub": self.user, "aud": self.SERVICE, "exp": now + 300,
            "nbf": now - 10, "iat": now, "jti": _b64url(os.urandom(12)), "access": access,
        }  # fmt: skip
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing.encode(), capture_output=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        return f"{signing}.{_b64url(signature)}"


class TokenRegistry(Registry):
    """A docker-registry that trusts only the tokens of `tokens` (its own config: the start
    script knows no token auth)."""

    def __init__(self, root: Path, tokens: TokenServer) -> None:
        super().__init__(root)
        self.tokens = tokens
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not have("docker-registry"):
            subprocess.run(["bash", str(START)], capture_output=True, timeout=600, check=False)
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\nlog: {level: info}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.root}/data}}}}\n"
            f'http: {{addr: "{self.addr}"}}\n'
            f'auth: {{token: {{realm: "{self.tokens.realm}", service: {TokenServer.SERVICE}, '
            f"issuer: {TokenServer.ISSUER}, rootcertbundle: {self.tokens.cert}}}}}\n"
        )
        with open(self.log, "wb") as log:
            proc = subprocess.Popen(
                ["docker-registry", "serve", str(config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.pid, self.proc = proc.pid, proc
        for _ in range(100):
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection(self.addr, timeout=2)
                conn.request("GET", "/v2/")
                if conn.getresponse().status == 401:
                    return
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(self.log.read_text()[-1500:])

    def stop(self) -> None:
        super().stop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            if self.proc is not None:
                self.proc.wait(timeout=30)  # ours: reaped, not left a zombie
