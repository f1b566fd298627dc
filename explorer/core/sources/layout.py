"""Resolve an image's layout — docker-archive `manifest.json` or OCI `index.json` — to its
config and ordered layer blobs, whatever holds the files (a tar, a directory, a stream)."""

from __future__ import annotations

import json
import platform as host_platform
from collections.abc import Callable
from typing import Any

from explorer.core.errors import ImageError
from explorer.core.image import ImageMeta, LayerMeta, layer_commands, parse_config, text_of

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}

ReadJson = Callable[[str], Any]  # member name -> parsed JSON; raises ImageError if absent


def host_os_arch() -> tuple[str, str, str]:
    machine = host_platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)
    return "linux", arch, "v7" if machine == "armv7l" else ""


def parse_platform(text: str) -> tuple[str, str, str]:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ImageError(f"invalid platform {text!r}: expected os/arch[/variant]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def blob_name(digest: str, where: str) -> str:
    algo, _, hexpart = str(digest).partition(":")
    if not hexpart or "/" in hexpart or not algo.isalnum() or not hexpart.isalnum():
        raise ImageError(f"{where}: invalid digest {digest!r}")
    return f"blobs/{algo}/{hexpart}"


def _meta(
    name: str,
    source: str,
    config: Any,
    config_where: str,
    layer_members: list[str],
    descriptors: list[dict[str, Any]] | None,
    tags: list[str],
) -> ImageMeta:
    diff_ids, history = parse_config(config, config_where)
    if len(diff_ids) != len(layer_members):
        raise ImageError(
            f"{config_where}: config lists {len(diff_ids)} layers but the manifest "
            f"{len(layer_members)}"
        )
    commands = layer_commands(history, len(diff_ids))
    layers = []
    for i, member in enumerate(layer_members):
        desc = descriptors[i] if descriptors else {}
        layers.append(
            LayerMeta(
                index=i,
                id=member.split("/")[0],
                digest=diff_ids[i],
                command=commands[i][0],
                created=commands[i][1],
                blob_size=desc.get("size") if isinstance(desc.get("size"), int) else None,
                media_type=str(desc.get("mediaType", "")),
            )
        )
    meta = ImageMeta(name, source, layers, history, config, tags)
    meta.id = _config_id(config_where.rpartition(": ")[2])
    return meta


def _config_id(config_name: str) -> str:
    """The image ID a config member names: `<hex>.json` (docker save) or a blob's path."""
    stem = config_name.removesuffix(".json")
    if stem.startswith("blobs/"):
        _, algo, hexpart = stem.split("/", 2)
        return f"{algo}:{hexpart}"
    return f"sha256:{stem}" if len(stem) == 64 and stem.isalnum() else ""


def _from_docker_manifest(
    read_json: ReadJson, name: str, source: str, where: str, platform: str | None
) -> tuple[ImageMeta, list[str]]:
    manifest = read_json("manifest.json")
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        raise ImageError(f"{where}: manifest.json lists no image")
    entry = manifest[0]
    config_name = entry.get("Config")
    layers = entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layers, list):
        raise ImageError(f"{where}: manifest.json has no Config or Layers")
    if not all(isinstance(layer, str) for layer in layers):
        raise ImageError(f"{where}: manifest.json has an invalid layer entry")
    config = read_json(config_name)
    _check_platform(config, platform, where)
    tags = [t for t in entry.get("RepoTags") or [] if isinstance(t, str)]
    return _meta(name, source, config, f"{where}: {config_name}", layers, None, tags), layers


def _choose_manifest(
    read_json: ReadJson, index: Any, where: str, platform: str | None, depth: int = 0
) -> dict[str, Any]:
    if depth > 4:
        raise ImageError(f"{where}: image index nested too deeply")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise ImageError(f"{where}: index.json has no manifests")
    candidates: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (descriptor, manifest)
    for desc in index["manifests"]:
        if not isinstance(desc, dict):
            continue
        media = desc.get("mediaType", "")
        plat = desc.get("platform") if isinstance(desc.get("platform"), dict) else {}
        if plat.get("os") == "unknown":  # buildkit attestations
            continue
        if media in INDEX_TYPES:
            nested = read_json(blob_name(desc.get("digest", ""), where))
            chosen = _choose_manifest(read_json, nested, where, platform, depth + 1)
            candidates.append((chosen.get("_platform", {}) or plat, chosen))
        elif media in MANIFEST_TYPES or not media:
            candidates.append((plat, desc))
    if not candidates:
        raise ImageError(f"{where}: index.json lists no image manifest")

    want = parse_platform(platform) if platform else host_os_arch()

    def matches(plat: dict[str, Any], exact: bool) -> bool:
        variant = plat.get("variant") or ""
        return (
            plat.get("os") == want[0]
            and plat.get("architecture") == want[1]
            and (variant == want[2] if exact or want[2] else True)
        )

    # An exact variant first: linux/amd64 is not ambiguous beside linux/amd64/v3.
    matching = [c for c in candidates if matches(c[0], True)] or [
        c for c in candidates if matches(c[0], False)
    ]
    wanted = platform or "/".join(x for x in want if x)
    digests = list(dict.fromkeys(str(desc.get("digest", "")) for _, desc in matching))
    if len(digests) > 1:
        listed = ", ".join(f"{_label(p)} {str(d.get('digest', '?'))[:19]}" for p, d in matching)
        raise ImageError(
            f"{where}: {len(digests)} different manifests for platform {wanted} ({listed}): "
            f"the image is ambiguous"
        )
    if matching:
        plat, desc = matching[0]
    elif len(candidates) == 1 and (not platform or not candidates[0][0]):
        # the only image: one of another platform is what the archive holds (as dive opens
        # it); one whose descriptor names no platform has its config checked instead
        plat, desc = candidates[0]
    else:
        available = ", ".join(sorted({_label(p) for p, _ in candidates}))
        raise ImageError(f"{where}: no image for platform {wanted} (available: {available})")
    chosen = dict(desc)
    chosen["_platform"] = plat
    return chosen


def _label(plat: dict[str, Any]) -> str:
    parts = [str(plat.get("os", "?")), str(plat.get("architecture", "?"))]
    if plat.get("variant"):
        parts.append(str(plat["variant"]))
    return "/".join(parts)


def _check_platform(config: Any, platform: str | None, where: str) -> None:
    """`--platform` asked of an image that says, in its config, it is for another one."""
    if not platform or not isinstance(config, dict):
        return
    want = parse_platform(platform)
    os_, arch, variant = (config.get(k) for k in ("os", "architecture", "variant"))
    if not isinstance(os_, str) or not isinstance(arch, str):
        return  # the image does not say
    variant = variant if isinstance(variant, str) else ""
    if (os_, arch) != want[:2] or (want[2] and variant != want[2]):
        has = "/".join(x[:40] for x in (os_, arch, variant) if x)
        raise ImageError(f"{where}: no image for platform {platform} (the image is {has})")


def _from_oci_index(
    read_json: ReadJson, name: str, source: str, where: str, platform: str | None
) -> tuple[ImageMeta, list[str]]:
    index = read_json("index.json")
    desc = _choose_manifest(read_json, index, where, platform)
    if "layers" in desc and "config" in desc:  # a nested index resolved to a manifest body
        manifest = desc
    else:
        manifest = read_json(blob_name(desc.get("digest", ""), where))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
        raise ImageError(f"{where}: manifest {desc.get('digest')} has no layers")
    config_desc = manifest.get("config")
    if not isinstance(config_desc, dict):
        raise ImageError(f"{where}: manifest {desc.get('digest')} has no config")
    config_name = blob_name(config_desc.get("digest", ""), where)
    config = read_json(config_name)
    if not desc["_platform"]:  # the index did not say which platform this image is for
        _check_platform(config, platform, where)
    descriptors = [d for d in manifest["layers"] if isinstance(d, dict)]
    members = [blob_name(d.get("digest", ""), where) for d in descriptors]
    tag = (desc.get("annotations") or {}).get("org.opencontainers.image.ref.name", "")
    meta = _meta(name, source, config, f"{where}: {config_name}", members, descriptors, [])
    if tag:
        meta.tags = [text_of(tag)]
    return meta, members


def resolve_layout(
    read_json: ReadJson,
    has: Callable[[str], bool],
    name: str,
    where: str,
    platform: str | None,
) -> tuple[ImageMeta, list[str]]:
    """The image's metadata and the archive member holding each layer, in order."""
    try:
        return _resolve_layout(read_json, has, name, where, platform)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        # a JSON value of an unexpected type somewhere in manifest.json, index.json or a
        # manifest: one clear line rather than a crash
        files = "manifest.json" if has("manifest.json") and not platform else "index.json"
        raise ImageError(
            f"{where}: malformed {files} or manifest (a value of the wrong type: "
            f"{type(exc).__name__})"
        ) from None


def _resolve_layout(
    read_json: ReadJson,
    has: Callable[[str], bool],
    name: str,
    where: str,
    platform: str | None,
) -> tuple[ImageMeta, list[str]]:
    if has("manifest.json") and not platform:
        return _from_docker_manifest(read_json, name, "docker-archive", where, None)
    if has("index.json"):
        source = "docker-archive" if has("manifest.json") else "oci"
        return _from_oci_index(read_json, name, source, where, platform)
    if has("manifest.json"):
        return _from_docker_manifest(read_json, name, "docker-archive", where, platform)
    raise ImageError(f"{where}: not a container image (no manifest.json or index.json)")


def load_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ImageError(f"{where}: invalid JSON") from None
    except RecursionError:  # the parser recurses once per level of nesting
        raise ImageError(f"{where}: JSON nested too deeply") from None
