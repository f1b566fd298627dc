"""Advice from the practices that keep images small and safe, read from the engine's metadata
(tags, config, history, layer sizes; no file of the image is read): only `latest` or no tag,
no USER, a big base where a slim variant exists, build tools left in the final image, many
layers, a cache-unfriendly instruction order, dangling images piling up."""

from __future__ import annotations

import re
from dataclasses import dataclass

from explorer.core.dockerunits import docker_size
from explorer.core.library import Library, LibraryImage
from explorer.core.safetext import safe

MANY_LAYERS = 20
_MB = 1000 * 1000

# Official images with a slimmer variant of the same distribution: (repository, slim tag
# suffix or image, the slim one's size as published for linux/amd64, roughly).
_SLIM = {
    "debian": ("-slim", 75 * _MB),
    "python": ("-slim", 125 * _MB),
    "node": ("-slim", 200 * _MB),
    "ruby": ("-slim", 220 * _MB),
    "openjdk": ("-slim", 400 * _MB),
    "golang": ("-alpine", 250 * _MB),
    "ubuntu": (" → debian:stable-slim", 75 * _MB),
}
_BUILD_TOOLS = re.compile(
    r"\b(build-essential|gcc|g\+\+|clang|make|cmake|autoconf|automake|libtool|pkg-config|"
    r"build-base|musl-dev|linux-headers|[\w.+-]+-dev(?:el)?)\b"
)
_INSTALL = re.compile(r"\b(apt-get|apt|apk|yum|dnf|microdnf|zypper)\b[^;&|]*\b(install|add)\b")
_APT_LISTS_KEPT = re.compile(r"apt-get update")
_DEPS = re.compile(
    r"\b(apt-get install|apk add|pip3? install|npm (?:install|ci)|yarn install|"
    r"go mod download|bundle install|composer install|cargo fetch)\b"
)
_COPY_ALL = re.compile(r"^(?:/bin/sh -c )?(?:#\(nop\)\s+)?(COPY|ADD) (?:\.|dir:\S+) ")


@dataclass(frozen=True)
class Advice:
    title: str
    detail: str
    kind: str = "warn"  # warn | dim


def _steps(im: LibraryImage) -> list[tuple[int | None, str]]:
    return [(r.layer, r.created_by.removeprefix("/bin/sh -c ")) for r in im.history]


def base_of(library: Library, im: LibraryImage) -> LibraryImage | None:
    """The listed tagged image whose layers are the longest proper prefix of `im`'s."""
    chains = [layer.chain_id for layer in im.layers]
    best = None
    for other in library.images:
        n = len(other.layers)
        if (
            other.tags
            and other.key != im.key
            and other.source == im.source
            and 0 < n < len(chains)
            and [layer.chain_id for layer in other.layers] == chains[:n]
            and (best is None or n > len(best.layers))
        ):
            best = other
    return best


def image_advice(library: Library, im: LibraryImage) -> list[Advice]:
    out: list[Advice] = []
    name = safe(im.name)
    if not im.tags:
        out.append(Advice("untagged", f"{im.short_id} has no tag: name it with a version"))
    elif all(t.endswith(":latest") for t in im.tags):
        out.append(
            Advice(
                "only latest",
                f"{name}: `latest` is a convention, not a version; add a version tag",
            )
        )
    if im.user in ("", "root", "0", "0:0", "root:root"):
        out.append(Advice("no USER", "runs as root: add a USER with a non-root id"))
    out += _base_advice(library, im)
    out += _build_tools(im)
    if len(im.layers) > MANY_LAYERS:
        out.append(
            Advice(
                "many layers",
                f"{len(im.layers)} layers: join related RUN steps (each layer costs a "
                "download and a mount; files changed twice are stored twice)",
            )
        )
    out += _order(im)
    return out


def _base_advice(library: Library, im: LibraryImage) -> list[Advice]:
    base = base_of(library, im)
    if base is None:
        return []
    for tag in base.tags:
        repo, _, version = tag.rpartition(":")
        short = repo.removeprefix("docker.io/").removeprefix("library/")  # official images only
        if short not in _SLIM or "slim" in version or "alpine" in version:
            continue
        suffix, slim_size = _SLIM[short]
        slim = f"{repo}:{version}{suffix}" if suffix.startswith("-") else suffix.strip(" →")
        local = next((o for o in library.images if slim in o.tags), None)
        size = local.size if local is not None else slim_size
        about = "" if local is not None else "about "
        if size < base.size:
            return [
                Advice(
                    "big base",
                    f"built on {safe(tag)} ({docker_size(base.size)}): {safe(slim)} is "
                    f"{about}{docker_size(size)}",
                )
            ]
    return []


def _build_tools(im: LibraryImage) -> list[Advice]:
    out = []
    for layer, command in _steps(im):
        if layer is None or not _INSTALL.search(command):
            continue
        tools = sorted(set(_BUILD_TOOLS.findall(command)))
        if tools:
            out.append(
                Advice(
                    "build tools left",
                    f"layer {layer} installs {', '.join(tools[:4])}: a multi-stage build "
                    "would leave them in the build stage",
                )
            )
        if _APT_LISTS_KEPT.search(command) and "/var/lib/apt/lists" not in command:
            out.append(
                Advice(
                    "package cache left",
                    f"layer {layer} runs apt-get update without removing "
                    "/var/lib/apt/lists/* in the same step",
                )
            )
        if re.search(r"\bpip3? install\b", command) and "--no-cache-dir" not in command:
            out.append(
                Advice("package cache left", f"layer {layer}: pip install without --no-cache-dir")
            )
    return out


def _order(im: LibraryImage) -> list[Advice]:
    steps = _steps(im)
    copied = next((i for i, (_l, c) in enumerate(steps) if _COPY_ALL.search(c)), None)
    if copied is None:
        return []
    later = next(((layer, c) for layer, c in steps[copied + 1 :] if _DEPS.search(c)), None)
    if later is None:
        return []
    return [
        Advice(
            "cache-unfriendly order",
            f"layer {later[0]} installs dependencies after the whole source was copied: any "
            "source change rebuilds it; copy the dependency manifests first",
        )
    ]


def library_advice(library: Library) -> list[Advice]:
    dangling = [im for im in library.images if im.dangling]
    out = []
    if dangling:
        out.append(
            Advice(
                "dangling images",
                f"{len(dangling)} untagged images hold {docker_size(library.dangling_bytes)} of "
                "their own: p prunes them",
            )
        )
    latest_only = [
        im for im in library.images if im.tags and all(t.endswith(":latest") for t in im.tags)
    ]
    if latest_only:
        out.append(
            Advice(
                "only latest",
                f"{len(latest_only)} image{'s are' if len(latest_only) != 1 else ' is'} "
                "tagged only `latest`",
                "dim",
            )
        )
    return out
