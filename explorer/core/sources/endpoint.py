"""Which engine to talk to, and what may be asked of it.

The Docker engine is chosen as the docker CLI chooses it: `DOCKER_HOST`, else the context
named by `DOCKER_CONTEXT`, else the `currentContext` of the CLI config
(`$DOCKER_CONFIG/config.json`, by default `~/.docker/config.json`), else the default socket.
Podman's socket comes from `LAYERSCOPE_PODMAN_HOST`, `CONTAINER_HOST` or where Podman puts it.
Every engine error names the endpoint and how it was chosen.

An image reference is checked against the reference grammar of the distribution project (the
one the engines use) before any request: it goes into a URL path, and `../networks/host`
must not reach another endpoint of the API.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from explorer.core.errors import EngineError, ImageError
from explorer.core.sources.layout import parse_platform

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
CONTROL_TIMEOUT = 10.0  # s: ping, version, inspect, history — an engine answers in milliseconds
EXPORT_STALL = 300.0  # s without a byte of the export: an engine prepares a big one that long


@dataclass(frozen=True)
class Endpoint:
    kind: str  # docker | podman
    host: str  # unix:///path, tcp://host:port, ...
    via: str = ""  # how it was chosen, when not by default: "DOCKER_HOST", "context 'x'"
    tls_dir: str = ""  # a context's TLS material (ca.pem, cert.pem, key.pem)
    tls_verify: bool = True

    def __str__(self) -> str:
        return f"{self.host} ({self.via})" if self.via else self.host

    @property
    def socket_path(self) -> str | None:
        return self.host[len("unix://") :] if self.host.startswith("unix://") else None

    def client(self, timeout: float = CONTROL_TIMEOUT) -> Any:
        """A docker SDK client for this endpoint (it asks the engine's API version at once)."""
        import docker
        from docker.utils import kwargs_from_env

        params: dict[str, Any] = kwargs_from_env() if self.via == "DOCKER_HOST" else {}
        if self.tls_dir:
            files = {n: os.path.join(self.tls_dir, f"{n}.pem") for n in ("ca", "cert", "key")}
            have = {n: p for n, p in files.items() if os.path.isfile(p)}
            cert = (have["cert"], have["key"]) if "cert" in have and "key" in have else None
            params["tls"] = docker.tls.TLSConfig(
                client_cert=cert, ca_cert=have.get("ca"), verify=self.tls_verify
            )
        params["base_url"] = self.host
        return docker.DockerClient(timeout=timeout, **params)


def endpoint(kind: str) -> Endpoint:
    return podman_endpoint() if kind == "podman" else docker_endpoint()


def docker_endpoint() -> Endpoint:
    host = os.environ.get("DOCKER_HOST", "")
    if host:
        return Endpoint("docker", host, "DOCKER_HOST")
    config_dir = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    name, via = os.environ.get("DOCKER_CONTEXT", ""), "DOCKER_CONTEXT"
    if not name:
        name, via = _current_context(os.path.join(config_dir, "config.json"))
    if not name or name == "default":
        return Endpoint("docker", DEFAULT_DOCKER_HOST)
    context_id = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
    meta_path = os.path.join(config_dir, "contexts", "meta", context_id, "meta.json")
    about = f"docker: context {name!r} (from {via})"
    try:
        with open(meta_path, "rb") as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise EngineError(f"{about} does not exist (no {meta_path})") from None
    except (OSError, ValueError) as exc:
        raise EngineError(f"{about}: cannot read {meta_path} ({exc})") from None
    endpoints = meta.get("Endpoints") if isinstance(meta, dict) else None
    docker_ep = endpoints.get("docker") if isinstance(endpoints, dict) else None
    if not isinstance(docker_ep, dict):
        raise EngineError(f"{about} has no docker endpoint ({meta_path})")
    host = docker_ep.get("Host") or DEFAULT_DOCKER_HOST
    if not isinstance(host, str):
        raise EngineError(f"{about}: its docker endpoint's Host is not a string ({meta_path})")
    tls_dir = os.path.join(config_dir, "contexts", "tls", context_id, "docker")
    return Endpoint(
        "docker",
        host,
        f"context {name!r}",
        tls_dir if os.path.isdir(tls_dir) else "",
        not docker_ep.get("SkipTLSVerify", False),
    )


def _current_context(config_path: str) -> tuple[str, str]:
    """(the CLI config's currentContext, where it was read), or ("", "")."""
    try:
        with open(config_path, "rb") as f:
            config = json.load(f)
    except FileNotFoundError:
        return "", ""
    except (OSError, ValueError) as exc:
        raise EngineError(
            f"docker: cannot read the Docker CLI config {config_path} ({exc})"
        ) from None
    name = config.get("currentContext", "") if isinstance(config, dict) else ""
    if not isinstance(name, str):
        raise EngineError(f"docker: currentContext in {config_path} is not a string")
    return name, config_path


def podman_endpoint() -> Endpoint:
    for env in ("LAYERSCOPE_PODMAN_HOST", "CONTAINER_HOST"):
        if os.environ.get(env):
            return Endpoint("podman", os.environ[env], env)
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    for path in (f"{runtime}/podman/podman.sock", "/run/podman/podman.sock"):
        if os.path.exists(path):
            return Endpoint("podman", f"unix://{path}")
    return Endpoint("podman", "unix:///run/podman/podman.sock")


# The reference grammar of github.com/distribution/reference (regexp.go), as the engines parse
# it: [domain[:port]/]path[:tag][@digest]; a 64-hex image ID is a valid path too.
_ALNUM = r"[a-z0-9]+"
_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_NAME = rf"(?:{_HOST}(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?", re.ASCII)
NAME_MAX = 255


def check_reference(kind: str, reference: str) -> None:
    """Raise unless `reference` is an image reference or ID an engine can be asked about."""
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        raise ImageError(
            f"{kind}: invalid image reference {reference!r} (expected "
            "[registry[:port]/]name[:tag][@digest] or an image ID)"
        )
    if len(match["name"]) > NAME_MAX:
        raise ImageError(f"{kind}: image name longer than {NAME_MAX} characters")


def check_platform(kind: str, reference: str, wanted: str, info: dict[str, Any]) -> None:
    """An engine holds one platform of an image: raise unless it is the one asked for."""
    want_os, want_arch, want_variant = parse_platform(wanted)
    have = [str(info.get(k) or "") for k in ("Os", "Architecture", "Variant")]
    if have[:2] == [want_os, want_arch] and (not want_variant or have[2] == want_variant):
        return
    label = "/".join(p for p in have if p) or "of an unknown platform"
    raise ImageError(f"{kind}://{reference}: the image is {label}, not {wanted} (--platform)")
