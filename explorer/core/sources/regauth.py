"""Who LayerScope is to a registry: the credentials it may present and where they come from,
the challenge a registry answers with (`WWW-Authenticate`), and the process-wide choices of
the command line (`--creds`, `--insecure-registry`).

Credentials are looked up, for one registry host, in this order; the first that has an entry
for that host is used:

1. `--creds USER:PASS` on the command line;
2. `LAYERSCOPE_REGISTRY_USER` and `LAYERSCOPE_REGISTRY_PASSWORD` in the environment;
3. Podman's auth file: `REGISTRY_AUTH_FILE`, else `${XDG_RUNTIME_DIR}/containers/auth.json`;
4. Docker's `config.json` (`$DOCKER_CONFIG`, else `~/.docker`): `credHelpers` for the host,
   else `auths`, else `credsStore`, a helper asked through `docker-credential-NAME get`.

A secret never appears in a message: what was tried is named by where it came from only.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ENV_USER = "LAYERSCOPE_REGISTRY_USER"
ENV_PASSWORD = "LAYERSCOPE_REGISTRY_PASSWORD"
HELPER_TIMEOUT = 20.0  # seconds a credential helper may take (it may prompt a keyring)
MAX_AUTH_FILE = 1 << 20


@dataclass(frozen=True)
class Settings:
    creds: str | None = None  # --creds USER:PASS
    insecure: frozenset[str] = frozenset()  # --insecure-registry HOST[:PORT]: plain HTTP


_settings = Settings()


@contextlib.contextmanager
def configured(creds: str | None = None, insecure: tuple[str, ...] = ()) -> Iterator[None]:
    """Process-wide registry choices of the command line, followed by every registry source
    (the TUI's included)."""
    global _settings
    saved = _settings
    _settings = Settings(creds or saved.creds, saved.insecure | {h.lower() for h in insecure})
    try:
        yield
    finally:
        _settings = saved


def settings() -> Settings:
    return _settings


@dataclass(frozen=True)
class Credential:
    username: str = ""
    password: str = ""  # or the identity token, when `username` is empty
    identity_token: str = ""  # a refresh token (docker login to a token server)
    origin: str = ""  # where it came from, to name in messages (never the secret)

    def __repr__(self) -> str:  # never the secret, whatever prints this
        return f"Credential(username={self.username!r}, origin={self.origin!r})"


@dataclass
class Lookup:
    """The credential found for a host (or None), and what was looked at, for messages."""

    credential: Credential | None
    tried: list[str] = field(default_factory=list)


def plain_http(host: str) -> bool:
    """Is plain HTTP allowed for `host` (HOST[:PORT])? Loopback addresses and the hosts named
    by `--insecure-registry` only."""
    if host.lower() in _settings.insecure or host.lower().rsplit(":", 1)[0] in _settings.insecure:
        return True
    name = host[1:].split("]", 1)[0] if host.startswith("[") else host.rsplit(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_creds(text: str, origin: str) -> Credential | None:
    user, sep, password = text.partition(":")
    return Credential(user, password, origin=origin) if sep and user else None


def _host_keys(host: str) -> set[str]:
    """The spellings of `host` an auth file may use as a key."""
    keys = {host}
    if host in ("registry-1.docker.io", "docker.io", "index.docker.io"):
        keys |= {"docker.io", "index.docker.io", "registry-1.docker.io"}
    return keys


def _key_host(key: str) -> str:
    """`https://index.docker.io/v1/` -> `index.docker.io`: auth files keep URLs too."""
    key = re.sub(r"^[a-z]+://", "", key.strip())
    return key.split("/", 1)[0].lower()


def _read_auth_file(path: Path) -> dict | None:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_AUTH_FILE + 1)
    except OSError:
        return None
    if len(data) > MAX_AUTH_FILE:
        return None
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _from_auths(config: dict, host: str, origin: str) -> Credential | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    keys = _host_keys(host)
    for key, entry in auths.items():
        if not isinstance(entry, dict) or _key_host(str(key)) not in keys:
            continue
        token = entry.get("identitytoken")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                text = base64.b64decode(encoded, validate=False).decode()
            except (ValueError, UnicodeDecodeError):
                continue
            found = _split_creds(text, origin)
            if found is not None:
                if isinstance(token, str) and token:
                    return Credential(found.username, "", token, origin)
                return found
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credential(entry["username"], entry["password"], origin=origin)
    return None


def _from_helper(helper: str, host: str, origin: str) -> Credential | None:
    """Ask `docker-credential-HELPER get` for `host` (its protocol: the server URL on stdin,
    JSON `{"Username", "Secret"}` on stdout)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", helper):
        return None
    for server in (host, f"https://{host}"):
        try:
            done = subprocess.run(
                [f"docker-credential-{helper}", "get"],
                input=server.encode(),
                capture_output=True,
                timeout=HELPER_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            continue
        try:
            answer = json.loads(done.stdout)
        except (ValueError, UnicodeDecodeError):
            return None
        user, secret = answer.get("Username"), answer.get("Secret")
        if isinstance(user, str) and isinstance(secret, str) and secret:
            if user == "<token>":  # an identity token, not a password
                return Credential("", "", secret, origin)
            return Credential(user, secret, origin=origin)
    return None


def _docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _podman_auth_files() -> list[Path]:
    if os.environ.get("REGISTRY_AUTH_FILE"):
        return [Path(os.environ["REGISTRY_AUTH_FILE"])]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return [Path(runtime) / "containers" / "auth.json"] if runtime else []


def find_credential(host: str) -> Lookup:
    """The credential for `host`, trying each place in order (see the module's note)."""
    tried: list[str] = []
    if _settings.creds is not None:
        found = _split_creds(_settings.creds, "--creds")
        if found is not None:
            return Lookup(found, ["--creds"])
        tried.append("--creds (not USER:PASS)")
    user, password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    if user and password is not None:
        return Lookup(Credential(user, password, origin=ENV_USER), [ENV_USER])
    tried.append(f"{ENV_USER} (unset)")
    for path in _podman_auth_files():
        config = _read_auth_file(path)
        found = _from_auths(config, host, str(path)) if config else None
        if found is not None:
            return Lookup(found, [*tried, str(path)])
        tried.append(f"{path} ({'no entry' if config else 'absent'})")
    docker_file = _docker_config_dir() / "config.json"
    config = _read_auth_file(docker_file)
    if config is None:
        tried.append(f"{docker_file} (absent)")
        return Lookup(None, tried)
    helpers = config.get("credHelpers")
    helper = next(
        (h for k, h in (helpers or {}).items() if _key_host(str(k)) in _host_keys(host)), None
    ) if isinstance(helpers, dict) else None  # fmt: skip
    if isinstance(helper, str):
        origin = f"{docker_file} credHelpers ({helper})"
        found = _from_helper(helper, host, origin)
        tried.append(origin)
        return Lookup(found, tried)
    found = _from_auths(config, host, f"{docker_file} auths")
    if found is not None:
        return Lookup(found, [*tried, found.origin])
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        origin = f"{docker_file} credsStore ({store})"
        found = _from_helper(store, host, origin)
        tried.append(origin if found else f"{origin}: no entry")
        return Lookup(found, tried)
    tried.append(f"{docker_file} (no entry)")
    return Lookup(None, tried)


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer" (lower case)
    params: dict[str, str]


_PARAM = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="https://auth/token",service="registry",scope="repository:x:pull"` or
    `Basic realm="..."`; None for anything else."""
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("basic", "bearer"):
        return None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            break
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
        pos = m.end()
    return Challenge(scheme, params)
