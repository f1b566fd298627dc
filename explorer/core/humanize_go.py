"""The number formats dive prints, from Go's fmt and go-humanize, reproduced exactly."""

from __future__ import annotations

import math
import re
import unicodedata

_SI = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def go_bytes(n: int) -> str:
    """go-humanize's Bytes: SI units, one decimal below 10."""
    if n < 10:
        return f"{n} B"
    e = math.floor(math.log(n) / math.log(1000))
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    return f"{val:.1f} {_SI[e]}" if val < 10 else f"{val:.0f} {_SI[e]}"


def go_float_v(f: float) -> str:
    """Go's %v for a float64 (strconv 'g', shortest: exponent when exp < -4 or >= 6)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    text = repr(f)
    mantissa, _, exp_text = text.partition("e")
    digits = mantissa.replace("-", "").replace(".", "").lstrip("0").rstrip("0") or "0"
    if exp_text:
        exp = int(exp_text)
        int_part = mantissa.replace("-", "").split(".")[0]
        exp += len(int_part.lstrip("0")) - 1 if int_part.strip("0") else 0
    else:
        int_part, _, frac = mantissa.replace("-", "").partition(".")
        if int_part.strip("0"):
            exp = len(int_part.lstrip("0")) - 1
        else:
            exp = -(len(frac) - len(frac.lstrip("0")) + 1)
    sign = "-" if f < 0 else ""
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    text = format(abs(f), "f") if "e" in repr(f) else repr(abs(f))
    if re.fullmatch(r"\d+\.0", text):
        text = text[:-2]
    return sign + text


_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "ki": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "mi": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "gi": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
    "ti": 1024**4,
    "p": 1000**5,
    "pb": 1000**5,
    "pib": 1024**5,
    "pi": 1024**5,
    "e": 1000**6,
    "eb": 1000**6,
    "eib": 1024**6,
    "ei": 1024**6,
}


def parse_bytes(text: str) -> int:
    """go-humanize's ParseBytes ("20Mb" = 20 MB, "1MiB" = 1024²); ValueError with its message
    if invalid. The number is the leading run of digits, points and commas (no space before
    it); the rest, trimmed and lowercased, must be a unit."""
    end = 0
    while end < len(text) and (text[end] in ".," or unicodedata.category(text[end]) == "Nd"):
        end += 1
    digits = text[:end].replace(",", "")
    if not re.fullmatch(r"[0-9]+\.?[0-9]*|\.[0-9]+", digits):
        raise ValueError(f'strconv.ParseFloat: parsing "{digits}": invalid syntax')
    number = float(digits)
    if math.isinf(number):
        raise ValueError(f'strconv.ParseFloat: parsing "{digits}": value out of range')
    unit = text[end:].strip().lower()
    if unit not in _BYTE_UNITS:
        raise ValueError(f"unhandled size name: {unit}")
    value = number * _BYTE_UNITS[unit]
    if value >= 2**64:
        raise ValueError(f"too large: {text}")
    return int(value)
