"""Version order per ecosystem: dpkg's (known pairs from Debian policy, and random versions
against `dpkg --compare-versions` itself where dpkg is installed), PEP 440's for Python, and
apk's and npm's pre- and post-releases."""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from explorer.core.pkgdb import APK, DEB, NPM, PYTHON
from explorer.core.pkgversion import compare_versions, dpkg_compare

OLDER_NEWER_DEB = [
    ("1.0~rc1", "1.0"),  # ~ sorts before the end of the string
    ("1.0~~", "1.0~"),
    ("1.0~rc1-1", "1.0-1"),
    ("3.0", "2:1.0"),  # the epoch first
    ("1:9.9", "2:0.1"),
    ("1.0-1", "1.0-2"),
    ("1.0-9", "1.0-10"),  # revisions compare digit runs as numbers
    ("1.0", "1.0-1"),  # no revision is revision 0
    ("1.0", "1.0a"),  # the end of the string before a letter
    ("1.0a", "1.0+"),  # letters before other characters
    ("1.0+", "1.0."),
    ("1.2", "1.10"),
    ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),
    ("2.36-9+deb12u4", "2.36-9+deb12u10"),
    ("1:2.38.1-5+deb12u3", "1:2.39.5-0+deb12u1"),
    ("1.0-0ubuntu1", "1.0-1"),
    ("0.9", "1.0-a-b"),  # the revision is after the last hyphen
]
SAME_DEB = [("1.0", "1.0-0"), ("0:1.0", "1.0"), ("1.01", "1.1"), ("00:1.0", "1.0"), ("", "")]


@pytest.mark.parametrize(("older", "newer"), OLDER_NEWER_DEB)
def test_dpkg_order_of_known_pairs(older: str, newer: str) -> None:
    assert dpkg_compare(older, newer) < 0
    assert dpkg_compare(newer, older) > 0
    assert compare_versions(DEB, older, newer) < 0


@pytest.mark.parametrize(("a", "b"), SAME_DEB)
def test_dpkg_same_versions(a: str, b: str) -> None:
    assert dpkg_compare(a, b) == 0 == dpkg_compare(b, a)


def test_hostile_versions_never_raise() -> None:
    weird = ["", ":", "-", "a:b", "1:", ":1", "9" * 5000, "\x1b[31m", "１２", "~~~", "1-", "-1"]
    for a in weird:
        for b in weird:
            assert dpkg_compare(a, b) == -dpkg_compare(b, a)
            compare_versions(PYTHON, a, b)
    assert dpkg_compare("9" * 5000, "9" * 4999) > 0  # digit runs of any length, as numbers


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
def test_dpkg_order_equals_dpkgs_own_on_random_versions() -> None:
    rng = random.Random(1612)
    alphabet = "0123456789" * 3 + "ab~+.Z"

    def version() -> str:
        parts = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        upstream = rng.choice("0123456789") + parts  # dpkg wants a digit first
        epoch = f"{rng.randint(0, 2)}:" if rng.random() < 0.3 else ""
        revision = (
            "-" + "".join(rng.choice(alphabet) for _ in range(3)) if rng.random() < 0.5 else ""
        )
        return epoch + upstream + revision

    for _ in range(150):
        a, b = version(), version()
        if rng.random() < 0.2:
            b = a + rng.choice(["~", "", "0", "a"])
        ours = dpkg_compare(a, b)
        for relation, holds in (("lt", ours < 0), ("eq", ours == 0), ("gt", ours > 0)):
            run = subprocess.run(["dpkg", "--compare-versions", a, relation, b], check=False)
            assert (run.returncode == 0) == holds, (a, relation, b)


@pytest.mark.parametrize(
    ("ecosystem", "older", "newer"),
    [
        (PYTHON, "2.0rc1", "2.0"),
        (PYTHON, "1.9", "1.10"),
        (PYTHON, "2.0", "2.0.post1"),
        (PYTHON, "2.0", "1!0.1"),  # PEP 440's epoch first
        (PYTHON, "1.0.dev1", "1.0a1"),
        (PYTHON, "not a version", "other"),  # neither parses: dpkg's order of characters
        (APK, "1.2.3-r4", "1.2.3-r10"),
        (APK, "1.2.3_rc1-r0", "1.2.3-r0"),
        (APK, "3.1.4-r5", "3.1.5-r0"),
        (NPM, "1.0.0-beta.2", "1.0.0-beta.11"),
        (NPM, "1.0.0-rc.1", "1.0.0"),
        (NPM, "4.17.9", "4.17.21"),
    ],
)
def test_other_ecosystems(ecosystem: str, older: str, newer: str) -> None:
    assert compare_versions(ecosystem, older, newer) < 0
    assert compare_versions(ecosystem, newer, older) > 0


def test_python_same_version_spelled_differently() -> None:
    assert compare_versions(PYTHON, "1.0", "1.0.0") == 0
    assert compare_versions(PYTHON, "1.0RC1", "1.0rc1") == 0
