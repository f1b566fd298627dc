"""The number formats the docker CLI prints (go-units' HumanSize and HumanDuration), so that
`layerscope images` reads like `docker images`."""

from __future__ import annotations

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def docker_size(n: int) -> str:
    """go-units HumanSizeWithPrecision(n, 3): `5.49MB`, `117MB`, `0B`."""
    size = float(n)
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.3g}{_DECIMAL[i]}"  # Python's %g is Go's


def docker_duration(seconds: float) -> str:
    """go-units HumanDuration: `Less than a second`, `4 hours`, `About a minute`, `3 weeks`."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // (24 * 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // (24 * 30)} months"
    return f"{hours // (24 * 365)} years"


def ago(created: int, now: float) -> str:
    """`4 hours ago`, as `docker images` shows CREATED (`N/A` when unknown)."""
    if created <= 0:
        return "N/A"
    return f"{docker_duration(max(0.0, now - created))} ago"
