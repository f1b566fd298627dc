"""Hypothesis profiles for the fuzz tests (loaded by conftest.py).

``LAYERSCOPE_FUZZ`` picks one: ``ci`` (default, what ``make test`` runs: derandomized, so a
green run stays green, about a minute for the whole directory on 2 cores) or ``long`` (what
``make fuzz`` runs: random seeds, many more examples, failures saved under ``.hypothesis/``
and printed with a reproduction blob). ``LAYERSCOPE_FUZZ_EXAMPLES=N`` scales every test's
example count by N/100 in either profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

PROFILE = os.environ.get("LAYERSCOPE_FUZZ", "ci")
if PROFILE not in ("ci", "long"):
    raise ValueError(f"LAYERSCOPE_FUZZ={PROFILE!r}: expected 'ci' or 'long'")

_COMMON = dict(
    deadline=None,  # a hang is caught by the tests' own alarm, not by per-example timing
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    print_blob=False,
    **_COMMON,
)
settings.register_profile("long", derandomize=False, print_blob=True, **_COMMON)
settings.load_profile(PROFILE)


def examples(ci: int, long: int) -> int:
    """The number of examples a test runs in the current profile."""
    n = ci if PROFILE == "ci" else long
    scale = os.environ.get("LAYERSCOPE_FUZZ_EXAMPLES")
    return max(1, n * int(scale) // 100) if scale else n
