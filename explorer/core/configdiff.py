"""What changed in the image config between two images: platform, user, entrypoint, command,
working directory, each environment variable, exposed port and label.

Values are kept as recorded (hostile text: whoever shows them makes them safe); the values of
variables whose names say they hold a secret are masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from explorer.core.image import ImageMeta, text_of

MASK = "••••••"
_SECRET = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE", re.IGNORECASE)


@dataclass(frozen=True)
class ConfigChange:
    key: str  # "platform", "User", "Entrypoint", "Cmd", "WorkingDir", "Env NAME",
    #           "ExposedPorts 80/tcp", "Labels NAME"
    a: str | None  # None: absent in A (added)
    b: str | None  # None: absent in B (removed)


def _runtime(meta: ImageMeta) -> dict[str, Any]:
    config = meta.config.get("config") or meta.config.get("container_config") or {}
    return config if isinstance(config, dict) else {}


def _env(config: dict[str, Any]) -> dict[str, str]:
    items = config.get("Env")
    out: dict[str, str] = {}
    if isinstance(items, list):
        for item in items:
            name, _, value = text_of(item).partition("=")
            out[name] = value
    return out


def _keys(config: dict[str, Any], key: str) -> dict[str, str]:
    value = config.get(key)
    if isinstance(value, dict):
        if key == "ExposedPorts":  # its values are empty objects
            return {text_of(k): "exposed" for k in value}
        return {text_of(k): text_of(v) for k, v in value.items()}
    return {}


def masked(name: str, value: str | None) -> str | None:
    """An environment variable's value as shown: masked when its name says it is a secret."""
    if value is None or not value or not _SECRET.search(name):
        return value
    return MASK


def config_diff(a: ImageMeta, b: ImageMeta) -> list[ConfigChange]:
    """The config's changes, in a fixed order (keys of each group sorted)."""
    ca, cb = _runtime(a), _runtime(b)
    out: list[ConfigChange] = []
    if a.platform != b.platform:
        out.append(ConfigChange("platform", a.platform, b.platform))
    for key in ("User", "Entrypoint", "Cmd", "WorkingDir"):
        va, vb = ca.get(key), cb.get(key)
        if va != vb:
            out.append(ConfigChange(key, text_of(va) if va else None, text_of(vb) if vb else None))
    env_a, env_b = _env(ca), _env(cb)
    for name in sorted(env_a.keys() | env_b.keys()):
        va, vb = env_a.get(name), env_b.get(name)
        if va != vb:
            ma, mb = masked(name, va), masked(name, vb)
            if ma == mb:  # both masked: still visibly different
                ma, mb = f"{MASK} (a)", f"{MASK} (b)"
            out.append(ConfigChange(f"Env {name}", ma, mb))
    for group in ("ExposedPorts", "Labels"):
        ka, kb = _keys(ca, group), _keys(cb, group)
        for name in sorted(ka.keys() | kb.keys()):
            va, vb = ka.get(name), kb.get(name)
            if va != vb:
                out.append(ConfigChange(f"{group} {name}", va, vb))
    return out
