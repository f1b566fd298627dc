"""The image config as people read it: how the image runs (user, working directory,
entrypoint, command, ports, volumes, healthcheck, stop signal), its environment and labels
(secrets masked), its platform, creation time, author, and the base image when a label
names it.

Config values are hostile like the rest of an image: any key may be missing or of another
type (kept as its JSON text); texts are as recorded, not made safe (the caller does that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from explorer.core.image import ImageMeta, text_of
from explorer.core.masking import mask_text, mask_value

BASE_LABELS = (
    "org.opencontainers.image.base.name",
    "org.opencontainers.image.base.digest",
)
ROOT_USERS = ("", "root", "0", "0:0", "root:root", "root:0", "0:root")


@dataclass(frozen=True)
class Setting:
    key: str  # the config's own name (Env, User, ...) or a pseudo-key (Platform)
    value: str  # "" when unset
    note: str = ""  # what an unset value means (User: "root" when it runs as root)


@dataclass
class ConfigView:
    settings: list[Setting] = field(default_factory=list)  # how the image runs, in order
    env: list[tuple[str, str]] = field(default_factory=list)  # (name, value), secrets masked
    labels: list[tuple[str, str]] = field(default_factory=list)  # sorted by key, masked
    base: list[tuple[str, str]] = field(default_factory=list)  # (label, value) naming it

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": {s.key: s.value for s in self.settings},
            "env": dict(self.env),
            "labels": dict(self.labels),
            "base": dict(self.base),
        }


def _command(value: Any) -> str:
    """Entrypoint / Cmd: the exec form as JSON, a string as it is, unset as ""."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return json.dumps(value, ensure_ascii=False) if value else ""
    return text_of(value)


def _keys(value: Any) -> str:
    """ExposedPorts / Volumes: the keys of an object (`{"80/tcp": {}}`), space-separated."""
    if isinstance(value, dict):
        return " ".join(str(k) for k in value)
    return text_of(value)


def duration(ns: Any) -> str:
    """A Go duration in nanoseconds as `30s`, `1m30s`, `500ms` ("" when unset or odd)."""
    if not isinstance(ns, int) or isinstance(ns, bool) or ns <= 0:
        return ""
    if ns < 1_000_000_000:
        return f"{ns // 1_000_000}ms" if ns >= 1_000_000 else f"{ns}ns"
    seconds = ns // 1_000_000_000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s"]
    return "".join(parts) if secs or not (hours or minutes) else "".join(parts[:2])


def healthcheck(value: Any) -> str:
    """`Healthcheck` as a Dockerfile would say it (`CMD curl -f http://… · every 30s`)."""
    if value is None or value == {}:
        return ""
    if not isinstance(value, dict):
        return text_of(value)
    test = value.get("Test")
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test) or not test:
        return text_of(value)
    if test[0] == "NONE":
        return "NONE (disabled)"
    command = " ".join(test[1:]) if test[0] == "CMD-SHELL" else json.dumps(test[1:])
    parts = [f"CMD {command}"]
    for key, word in (("Interval", "every"), ("Timeout", "timeout"), ("StartPeriod", "start")):
        if text := duration(value.get(key)):
            parts.append(f"{word} {text}")
    retries = value.get("Retries")
    if isinstance(retries, int) and not isinstance(retries, bool) and retries > 0:
        parts.append(f"{retries} retries")
    return " · ".join(parts)


def _env(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return [("(Env)", mask_text(text_of(value)))] if value else []
    out = []
    for item in value:
        text = text_of(item)
        name, eq, val = text.partition("=")
        out.append((name, mask_value(name, val) if eq else ""))
    return out


def _labels(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return [("(Labels)", mask_text(text_of(value)))] if value else []
    return sorted((str(k), mask_value(str(k), text_of(v))) for k, v in value.items())


def config_view(meta: ImageMeta) -> ConfigView:
    """What the image's config says, ready to show (every secret masked)."""
    raw = meta.config if isinstance(meta.config, dict) else {}
    run = raw.get("config")
    if not isinstance(run, dict):
        run = {}
    user = text_of(run.get("User"))
    workdir, signal = text_of(run.get("WorkingDir")), text_of(run.get("StopSignal"))
    check = mask_text(healthcheck(run.get("Healthcheck")))
    labels = _labels(run.get("Labels"))
    settings = [
        Setting("Platform", meta.platform),
        Setting("Created", text_of(raw.get("created"))),
        Setting("Author", mask_text(text_of(raw.get("author")))),
        Setting("User", user, "root" if user.strip() in ROOT_USERS else ""),
        Setting("WorkingDir", workdir, "" if workdir else "/ (not set)"),
        Setting("Entrypoint", mask_text(_command(run.get("Entrypoint")))),
        Setting("Cmd", mask_text(_command(run.get("Cmd")))),
        Setting("ExposedPorts", _keys(run.get("ExposedPorts"))),
        Setting("Volumes", _keys(run.get("Volumes"))),
        Setting("Healthcheck", check, "" if check else "none"),
        Setting("StopSignal", signal, "" if signal else "SIGTERM (default)"),
    ]
    if shell := _command(run.get("Shell")):
        settings.append(Setting("Shell", shell))
    onbuild = run.get("OnBuild")
    if isinstance(onbuild, list) and onbuild:
        settings.append(Setting("OnBuild", mask_text(" · ".join(map(text_of, onbuild)))))
    base = [(k, v) for k, v in labels if k in BASE_LABELS]
    return ConfigView(settings, _env(run.get("Env")), labels, base)
