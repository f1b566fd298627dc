"""Where the shared test data lives (read in place, never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("LAYERSCOPE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DIVE_DATA = SHARED / "dive-data"
CORPUS_OUT = Path(os.environ.get("CORPUS_OUT", Path.home() / ".cache" / "layerscope-corpus"))
