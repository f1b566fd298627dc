"""Loads the hypothesis profile (``LAYERSCOPE_FUZZ``) before any fuzz test is collected."""

from tests.fuzz import profiles  # noqa: F401
