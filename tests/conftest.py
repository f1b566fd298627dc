"""Suite-wide fixtures: no test reads or writes the user's layer cache.

Every test gets a fresh, empty cache directory (LAYERSCOPE_CACHE_DIR), so what one test
indexed is never served to another (a lying diff_id in a robustness case, a counted indexing
call in a cache test), and CLI subprocesses inherit it through the environment. Session-scoped
fixtures that index before any test runs use a session directory set up at configure time.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_SESSION_DIR: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _SESSION_DIR
    _SESSION_DIR = tempfile.mkdtemp(prefix="layerscope-test-cache-")
    os.environ["LAYERSCOPE_CACHE_DIR"] = _SESSION_DIR
    os.environ.pop("LAYERSCOPE_NO_CACHE", None)
    os.environ.pop("LAYERSCOPE_CACHE_MAX", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_DIR:
        shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _private_layer_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_CACHE_DIR", str(tmp_path_factory.mktemp("layer-cache")))
