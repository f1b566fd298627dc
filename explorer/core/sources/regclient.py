"""Talking to a registry (the OCI distribution API) over HTTP: requests, authentication when
the registry asks for it, one clear line for what went wrong, and blobs read as streams that
resume where a dropped connection left them.

The HTTP client is `requests` (with urllib3 under it): the docker SDK already brings it, so a
registry costs no new dependency, and it is what the SDK itself speaks — connection pooling,
TLS verification against the system's CAs (`REQUESTS_CA_BUNDLE` honoured), redirects that
drop the credentials when they leave the host (blob storage behind a CDN), streamed bodies.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Callable
from typing import Any

from explorer.core.errors import Cancelled, ImageError
from explorer.core.sources.regauth import Challenge, find_credential, parse_challenge, plain_http

CONNECT_TIMEOUT = 10.0  # seconds to connect
READ_STALL = 60.0  # seconds without a byte before a read is given up (then resumed)
MAX_RESUMES = 5  # dropped connections one blob may survive
CHUNK = 1 << 20
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


class RegistryError(ImageError):
    """The registry could not be reached, refused us, or does not have what was asked."""


def _reason(exc: Exception) -> str:
    text = str(exc)
    for sign, said in (
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
        ("SSLError", "TLS handshake failed"),
        ("WRONG_VERSION_NUMBER", "TLS handshake failed (a plain-HTTP registry?)"),
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("Temporary failure in name resolution", "unknown host"),
        ("timed out", "timed out"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "connection closed by the registry"),
    ):
        if sign in text:
            return said
    return type(exc).__name__


class RegistryClient:
    """One registry host, one repository: GETs with the authentication it asks for."""

    def __init__(self, host: str, repo: str, cancel: threading.Event | None = None) -> None:
        import requests

        self.host = host
        self.repo = repo
        self.base = f"{'http' if plain_http(host) else 'https'}://{host}"
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "layerscope"
        self.session.trust_env = True  # proxies and CA bundle from the environment
        self._auth: str | None = None  # the Authorization header that worked
        self._tried: list[str] = []  # credential sources looked at (for a 401's message)
        self._auth_at = 0.0  # when it was obtained (time.monotonic)
        self._lock = threading.Lock()
        self._open: set[Any] = set()  # responses being read (closed by `close`)
        self.cancel = cancel or threading.Event()

    @property
    def where(self) -> str:
        return f"registry {self.host}"

    # -- requests ------------------------------------------------------------------------------
    def _send(self, url: str, headers: dict[str, str]) -> Any:
        import requests

        if self._auth:
            headers = {**headers, "Authorization": self._auth}
        try:
            return self.session.get(
                url, headers=headers, stream=True, timeout=(CONNECT_TIMEOUT, READ_STALL)
            )
        except requests.exceptions.SSLError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                hint = "; to trust its CA: REQUESTS_CA_BUNDLE=CA.pem"
            else:
                hint = f"; for a registry without TLS: --insecure-registry {self.host}"
            raise RegistryError(f"{self.where}: {_reason(exc)}{hint}") from None
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"{self.where}: cannot connect ({_reason(exc)})") from None

    def get(self, path: str, what: str, headers: dict[str, str] | None = None) -> Any:
        """GET `path` (under /v2/), its body not read yet; authenticated when challenged;
        a 2xx response, or RegistryError."""
        url = f"{self.base}/v2/{path}"
        headers = headers or {}
        response = self._send(url, headers)
        if response.status_code == 401 and self._authenticate(response):
            response.close()
            response = self._send(url, headers)
        if response.status_code >= 300:
            self._fail(response, what)
        return response

    def _fail(self, response: Any, what: str) -> None:
        status = response.status_code
        codes = _error_codes(response)
        response.close()
        if status in (401, 403):
            tried = "; ".join(self._tried) or "none"
            verb = "refused" if status == 403 else "requires authentication for"
            raise RegistryError(
                f"{self.where}: access {verb} {what} (HTTP {status}); credentials tried: {tried}"
            )
        if status == 404 or "NAME_UNKNOWN" in codes or "MANIFEST_UNKNOWN" in codes:
            if "NAME_UNKNOWN" in codes:
                raise RegistryError(f"{self.where}: no repository {self.repo!r}")
            unknown = " (unknown repository or tag)" if what.startswith("manifest") else ""
            raise RegistryError(f"{self.where}: {what} not found{unknown} (HTTP {status})")
        detail = f" ({', '.join(sorted(codes))})" if codes else ""
        raise RegistryError(f"{self.where}: HTTP {status} for {what}{detail}")

    # -- authentication ------------------------------------------------------------------------
    def _authenticate(self, response: Any) -> bool:
        """Answer a 401's challenge: basic with the credential found for this host, or a
        bearer token from the token endpoint (with that credential, or anonymously). False
        when there is nothing new to try (the 401 stands). A bearer token that expired in the
        middle of a long download is asked for again (at most once a minute)."""
        with self._lock:
            sent = response.request.headers.get("Authorization")
            if self._auth is not None and sent != self._auth:
                return True  # another thread authenticated meanwhile: try again with that
            challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if challenge is None:
                self._tried = self._tried or ["none (the registry sent no usable challenge)"]
                return False
            renew = challenge.scheme == "bearer" and time.monotonic() - self._auth_at > 60
            if sent is not None and not renew:
                return False  # what we presented was refused
            lookup = find_credential(self.host)
            self._tried = lookup.tried
            cred = lookup.credential
            if challenge.scheme == "basic":
                if cred is None or not cred.username:
                    return False
                pair = f"{cred.username}:{cred.password}".encode()
                self._auth = "Basic " + base64.b64encode(pair).decode()
            else:
                token = self._token(challenge, cred)
                if token is None:
                    return False
                self._auth = f"Bearer {token}"
            self._auth_at = time.monotonic()
            return True

    def _token(self, challenge: Challenge, cred: Any) -> str | None:
        import requests

        realm = challenge.params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            return None
        if realm.startswith("http://") and not plain_http(realm[7:].split("/", 1)[0]):
            raise RegistryError(
                f"{self.where}: its token endpoint {realm[:200]} is plain HTTP (a credential would "
                f"travel in clear); --insecure-registry names the hosts where that is allowed"
            )
        params = {"scope": challenge.params.get("scope") or f"repository:{self.repo}:pull"}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        timeout = (CONNECT_TIMEOUT, READ_STALL)
        try:
            if cred is not None and cred.identity_token:  # OAuth2: a refresh token, POSTed
                form = {**params, "grant_type": "refresh_token", "client_id": "layerscope"}
                form["refresh_token"] = cred.identity_token
                answer = self.session.post(realm, data=form, timeout=timeout)
            else:
                auth = (cred.username, cred.password) if cred and cred.username else None
                answer = self.session.get(realm, params=params, auth=auth, timeout=timeout)
        except requests.exceptions.RequestException as exc:
            raise RegistryError(
                f"{self.where}: cannot reach its token endpoint ({_reason(exc)})"
            ) from None
        if answer.status_code in (401, 403):
            return None
        try:
            body = answer.json()
        except ValueError:
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if answer.status_code != 200 or not isinstance(token, str) or not token:
            raise RegistryError(
                f"{self.where}: its token endpoint answered HTTP {answer.status_code} "
                f"without a token"
            )
        return token

    # -- blobs ---------------------------------------------------------------------------------
    def read_small(
        self, path: str, what: str, limit: int, headers: dict[str, str] | None = None
    ) -> tuple[bytes, Any]:
        """The body of a small document (a manifest, a config), at most `limit` bytes."""
        response = self.get(path, what, headers)
        try:
            data = response.raw.read(limit + 1, decode_content=True)
        except Exception as exc:
            raise RegistryError(f"{self.where}: reading {what} failed ({_reason(exc)})") from None
        finally:
            response.close()
        if len(data) > limit:
            raise RegistryError(f"{self.where}: {what} is too large to be image metadata")
        return data, response

    def blob(
        self, digest: str, size: int | None, on_bytes: Callable[[int], None] | None = None
    ) -> BlobReader:
        return BlobReader(self, digest, size, on_bytes)

    def track(self, response: Any, on: bool) -> None:
        with self._lock:
            (self._open.add if on else self._open.discard)(response)

    def close(self) -> None:
        """Close every connection, those being read by other threads included (their reads
        fail at once: how a cancel reaches a read blocked on a stalled registry)."""
        self.cancel.set()
        with self._lock:
            open_now, self._open = list(self._open), set()
        for response in open_now:
            try:
                response.close()
            except Exception:
                continue
        self.session.close()


class BlobReader(io.RawIOBase):
    """A blob's bytes as a stream. A connection dropped (reset, closed early, stalled for
    READ_STALL) is resumed with a Range request from the byte where it stopped, up to
    MAX_RESUMES times; a registry that ignores the range sends the whole blob again and the
    bytes already read are passed over."""

    def __init__(
        self,
        client: RegistryClient,
        digest: str,
        size: int | None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.on_bytes = on_bytes  # told the bytes received so far, after each read
        self.digest = digest
        self.size = size
        self.offset = 0
        self.resumes = 0
        self._response: Any = None

    def readable(self) -> bool:
        return True

    def _connect(self) -> None:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        response = self.client.get(
            f"{self.client.repo}/blobs/{self.digest}", f"blob {self.digest}", headers
        )
        self.client.track(response, True)
        self._response = response
        if self.size is None:
            length = response.headers.get("Content-Length", "")
            self.size = int(length) if length.isdigit() else None
        if self.offset and response.status_code != 206:  # the whole blob again
            skip = self.offset
            while skip:
                got = response.raw.read(min(skip, CHUNK))
                if not got:
                    raise OSError("blob ended early")
                skip -= len(got)

    def _drop(self) -> None:
        if self._response is not None:
            self.client.track(self._response, False)
            self._response.close()
            self._response = None

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = CHUNK
        if self.size is not None:
            n = min(n, self.size - self.offset)
        if n <= 0:
            self._drop()
            return b""
        while True:
            if self.client.cancel.is_set():
                self._drop()
                raise Cancelled
            try:
                if self._response is None:
                    self._connect()
                data = self._response.raw.read(n)
                if not data and self.size is not None:
                    raise OSError("connection closed before the end of the blob")
            except RegistryError:
                raise
            except Exception as exc:
                self._drop()
                if self.client.cancel.is_set():
                    raise Cancelled from None
                self.resumes += 1
                if self.resumes > MAX_RESUMES:
                    of = f" of {self.size:,}" if self.size is not None else ""
                    raise RegistryError(
                        f"{self.client.where}: blob {self.digest}: the connection dropped "
                        f"{MAX_RESUMES + 1} times (at byte {self.offset:,}{of}; last: "
                        f"{_reason(exc)})"
                    ) from None
                continue
            self.offset += len(data)
            if not data:
                self._drop()
            elif self.on_bytes is not None:
                self.on_bytes(self.offset)
            return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._drop()
        super().close()


def _error_codes(response: Any) -> set[str]:
    """The distribution API's error codes in a failed response's body (NAME_UNKNOWN...)."""
    import json

    try:
        body = json.loads(response.raw.read(65536, decode_content=True))
    except Exception:
        return set()
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return set()
    return {str(e.get("code"))[:40] for e in errors if isinstance(e, dict) and e.get("code")}
