"""The colours of the diff kinds (added, removed, modified), for every theme.

They start from the theme's success, error and warning colours; where a theme makes two of
them (nearly) the same (solarized's error and warning, red and orange) or one hard to read on
its background, a distinct one is chosen instead, still green / red / yellow. Stylesheets use
them as `$diff-added`, `$diff-removed` and `$diff-modified`.
"""

from __future__ import annotations

from textual.color import Color, rgb_to_lab

MIN_DISTANCE = 30.0  # CIE76 ΔE between two diff colours: told apart at a glance
MIN_CONTRAST = 3.0  # WCAG contrast of a diff colour on the background (large-text level)

KINDS = ("added", "removed", "modified")
THEME_COLOUR = {"added": "success", "removed": "error", "modified": "warning"}
# What each kind falls back to, in order, on a dark and on a light background.
FALLBACKS = {
    ("added", True): ("#5FD75F", "#87D787"),
    ("added", False): ("#2E7D32", "#1B5E20"),
    ("removed", True): ("#FF5F5F", "#FF8787"),
    ("removed", False): ("#C62828", "#B71C1C"),
    ("modified", True): ("#FFD75F", "#E5C07B"),
    ("modified", False): ("#8A6D00", "#7A5C00"),
}
# ANSI themes: the terminal's own palette decides; a family is the colour without "bright".
ANSI = {"added": "ansi_green", "removed": "ansi_red", "modified": "ansi_yellow"}


def ansi_family(colour: Color) -> int | None:
    return None if colour.ansi is None else colour.ansi % 8


def distance(a: Color, b: Color) -> float:
    la, lb = rgb_to_lab(a), rgb_to_lab(b)
    return ((la.L - lb.L) ** 2 + (la.a - lb.a) ** 2 + (la.b - lb.b) ** 2) ** 0.5


def luminance(colour: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = colour.rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: Color, b: Color) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def distinct(a: Color, b: Color) -> bool:
    """Can the two be told apart? (ANSI colours: not two shades of one family)"""
    if a.ansi is not None or b.ansi is not None:
        return ansi_family(a) != ansi_family(b)
    return distance(a, b) >= MIN_DISTANCE


def readable(colour: Color, background: Color) -> bool:
    if colour.ansi is not None or background.ansi is not None:
        return True  # the terminal's palette: nothing to measure
    return contrast(colour, background) >= MIN_CONTRAST


def diff_colours(variables: dict[str, str], dark: bool) -> dict[str, str]:
    """`diff-added`, `diff-removed`, `diff-modified` for a theme's CSS variables."""
    background = Color.parse(variables["background"])
    if background.ansi is not None:
        return {f"diff-{kind}": ANSI[kind] for kind in KINDS}
    chosen: dict[str, Color] = {}
    for kind in KINDS:
        candidates = [variables[THEME_COLOUR[kind]], *FALLBACKS[kind, dark]]
        colours = [Color.parse(c) for c in candidates]
        chosen[kind] = next(
            (
                c
                for c in colours
                if c.ansi is None
                and readable(c, background)
                and all(distinct(c, other) for other in chosen.values())
            ),
            colours[-1],
        )
    return {f"diff-{kind}": colour.hex for kind, colour in chosen.items()}
