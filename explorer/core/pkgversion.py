"""Which of two versions of a package is the newer: dpkg's order for Debian packages, PEP 440's
(`packaging.version`) for Python's, and for apk's and npm's PEP 440's too when both versions
read as one (`1.2.3-r4` is a post release there, `1.0.0-rc.1` a pre-release, as apk and npm
order them), else dpkg's, a sound order of digits and letters.

dpkg's comparison is written out here (Debian policy §5.6.12, as dpkg's `verrevcmp` does it):
the libraries that implement it are under the GPL (python-debian, python-apt) or install
unrelated dependencies for this one function (debian-inspector brings chardet, univers a
dozen packages); it is thirty lines.

Versions are hostile text: nothing here raises on one, however malformed.
"""

from __future__ import annotations

from packaging.version import Version

from explorer.core.pkgdb import DEB

_DIGITS = frozenset("0123456789")


def compare_versions(ecosystem: str, old: str, new: str) -> int:
    """Negative when `old` is older than `new`, 0 when they are the same version, positive
    when `old` is newer."""
    if ecosystem != DEB:
        try:
            a, b = Version(old), Version(new)
        except ValueError:  # not PEP 440's (InvalidVersion), or digits past int's limit
            pass
        else:
            return (a > b) - (a < b)
    return dpkg_compare(old, new)


def dpkg_compare(a: str, b: str) -> int:
    """dpkg's order of two versions `[epoch:]upstream[-revision]`: the epoch as a number, then
    the upstream version, then the revision (none is `0`), each by `_verrevcmp`."""
    epoch_a, upstream_a, revision_a = _split(a)
    epoch_b, upstream_b, revision_b = _split(b)
    if epoch_a != epoch_b:
        return _number_order(epoch_a, epoch_b)
    return _verrevcmp(upstream_a, upstream_b) or _verrevcmp(revision_a, revision_b)


def _split(version: str) -> tuple[str, str, str]:
    version = version.strip()
    epoch, sep, rest = version.partition(":")
    if not sep or not epoch or not set(epoch) <= _DIGITS:
        epoch, rest = "0", version
    upstream, sep, revision = rest.rpartition("-")
    if not sep:
        upstream, revision = rest, ""
    return epoch.lstrip("0"), upstream, revision


def _number_order(a: str, b: str) -> int:
    """Two runs of digits without leading zeros, as numbers (however long)."""
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    return (a > b) - (a < b)


def _order(c: str) -> int:
    """A character's weight: `~` before the end of the string, the end before letters,
    letters before everything else."""
    if c == "~":
        return -1
    if "a" <= c <= "z" or "A" <= c <= "Z":
        return ord(c)
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    """Alternating runs of non-digits (by `_order`, character by character) and of digits
    (as numbers), dpkg's way."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and a[i] not in _DIGITS) or (j < len(b) and b[j] not in _DIGITS):
            ac = _order(a[i]) if i < len(a) and a[i] not in _DIGITS else 0
            bc = _order(b[j]) if j < len(b) and b[j] not in _DIGITS else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        start_a = i
        while i < len(a) and a[i] in _DIGITS:
            i += 1
        start_b = j
        while j < len(b) and b[j] in _DIGITS:
            j += 1
        diff = _number_order(a[start_a:i].lstrip("0"), b[start_b:j].lstrip("0"))
        if diff:
            return diff
    return 0
