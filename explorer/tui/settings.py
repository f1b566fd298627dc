"""What LayerScope remembers between runs (the colour theme), in
`$XDG_CONFIG_HOME/layerscope/settings.json` (default `~/.config/layerscope/settings.json`),
next to the keymap. Written atomically: a crash never leaves half a file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


def config_dir() -> Path:
    """`$XDG_CONFIG_HOME/layerscope` (default `~/.config/layerscope`)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "layerscope"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings(path: Path) -> tuple[dict[str, str], list[str]]:
    """(setting -> value, problems found). Never raises; a missing file is fine."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return {}, [f"{path}: {exc}"]
    if not isinstance(data, dict):
        return {}, [f"{path}: expected an object of settings"]
    return {str(k): v for k, v in data.items() if isinstance(v, str)}, []


def save_settings(path: Path, settings: dict[str, str]) -> None:
    """Replace the file with `settings` in one step (a temporary file renamed over it).
    Raises OSError when it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(settings, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
