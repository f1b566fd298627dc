"""Where the layer cache is, how big it may grow and how far it is trusted: the command line's
and the environment's choices (`--cache-dir`, `--cache-max`, `--no-cache`, `--verify`,
`LAYERSCOPE_CACHE_*`), process-wide, and the cache a source uses when it was given none."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from explorer.core.cache import DEFAULT_CAP, LayerCache
from explorer.core.errors import ImageError

ENV_DIR = "LAYERSCOPE_CACHE_DIR"
ENV_MAX = "LAYERSCOPE_CACHE_MAX"
ENV_OFF = "LAYERSCOPE_NO_CACHE"


def parse_size(text: str, what: str = "cache size") -> int:
    """Bytes from `2G`, `2GiB`, `500M`, `1.5g`, `1048576` (suffixes are powers of 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ImageError(f"{what}: invalid size {text!r} (examples: 2G, 500M, 0 to disable)")
    scale = 1024 ** " kmgt".index(m.group(2).lower() or " ")
    return int(float(m.group(1)) * scale)


def cache_root(env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(ENV_DIR):
        return Path(env[ENV_DIR]).expanduser()
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "layerscope" / "layers"


def cache_cap(env: dict[str, str] | os._Environ[str] | None = None) -> int:
    env = os.environ if env is None else env
    if env.get(ENV_MAX):
        return parse_size(env[ENV_MAX], ENV_MAX)
    return DEFAULT_CAP


@dataclass(frozen=True)
class Settings:
    root: Path | None = None
    cap: int | None = None
    enabled: bool | None = None
    skip: frozenset[str] = frozenset()  # real paths of archives never cached (the sample)
    verify: bool = False  # hash every layer's bytes, whatever the cache knows of them


_override = Settings()


@contextlib.contextmanager
def configured(
    root: str | os.PathLike[str] | None = None,
    cap: int | None = None,
    enabled: bool | None = None,
    skip: tuple[str | os.PathLike[str], ...] = (),
    verify: bool = False,
) -> Iterator[None]:
    """Process-wide choices (the CLI's --cache-dir, --cache-max, --no-cache, --verify) that
    every source which was not given a cache explicitly follows, the TUI's included; `skip`:
    archives that are never cached (the bundled sample must not fill the user's cache)."""
    global _override
    saved = _override
    _override = Settings(
        Path(root).expanduser() if root is not None else saved.root,
        cap if cap is not None else saved.cap,
        enabled if enabled is not None else saved.enabled,
        saved.skip | {os.path.realpath(p) for p in skip},
        verify or saved.verify,
    )
    try:
        yield
    finally:
        _override = saved


def default_cache(source_path: str | None = None) -> LayerCache | None:
    """The cache to use when none was given: None when disabled (--no-cache,
    LAYERSCOPE_NO_CACHE=1, a cap of 0, or an archive at `source_path` to skip)."""
    if source_path and _override.skip and os.path.realpath(source_path) in _override.skip:
        return None
    enabled = _override.enabled
    if enabled is None:
        enabled = os.environ.get(ENV_OFF, "").lower() not in ("1", "true", "yes")
    if not enabled:
        return None
    cap = _override.cap if _override.cap is not None else cache_cap()
    if cap <= 0:
        return None
    return LayerCache(_override.root or cache_root(), cap, verify=_override.verify)
