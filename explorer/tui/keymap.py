"""User key bindings.

LayerScope reads `$XDG_CONFIG_HOME/layerscope/keymap.toml` (default
`~/.config/layerscope/keymap.toml`; `LAYERSCOPE_KEYMAP` names another file). Each entry maps
a binding id to one key or a comma-separated list of keys, at the top level or under a
`[keymap]` table::

    # ~/.config/layerscope/keymap.toml
    [keymap]
    "tree.toggle-modified" = "ctrl+e"      # instead of ctrl+n
    "list.down" = "down,j,ctrl+j"
    "quit" = "q,ctrl+q"

The ids are listed in the help screen (? or F1) and in `BINDING_IDS` below. A missing file
is fine; a malformed one is reported in the app and otherwise ignored.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from explorer.tui.settings import config_dir


def keymap_path() -> Path:
    if os.environ.get("LAYERSCOPE_KEYMAP"):
        return Path(os.environ["LAYERSCOPE_KEYMAP"])
    return config_dir() / "keymap.toml"


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """(binding id -> keys, problems found). Never raises."""
    path = path or keymap_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{path}: {exc}"]
    table = data.get("keymap", data)
    if not isinstance(table, dict):
        return {}, [f'{path}: [keymap] must be a table of binding id = "keys"']
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, keys in table.items():
        if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
            keys = ",".join(keys)
        if not isinstance(keys, str) or not keys.strip():
            problems.append(f'{path}: {binding_id}: expected a key string like "ctrl+t"')
            continue
        keymap[str(binding_id)] = ",".join(k.strip() for k in keys.split(",") if k.strip())
    return keymap, problems
