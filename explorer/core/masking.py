"""Secrets never shown in full: values masked when their name says they are secret
(TOKEN, SECRET, PASSWORD, KEY...) or when they have a well-known token format, anywhere in a
text (history commands, build args, labels). What is left is enough to recognise the value
(`ghp_…Ds0A`), never enough to use it.
"""

from __future__ import annotations

import re
from functools import partial

ELLIPSIS = "…"
# Name components that make a variable's value a secret (split on _ - . and case changes).
SECRET_WORDS = frozenset(
    {
        "TOKEN",
        "TOKENS",
        "SECRET",
        "SECRETS",
        "PASSWORD",
        "PASSWD",
        "PASS",
        "PASSPHRASE",
        "KEY",
        "APIKEY",
        "PRIVATEKEY",
        "ACCESSKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "AUTH",
        "PAT",
    }
)
# ...unless another component says the value is something else: a public key or a GPG key's
# fingerprint (python's official images set GPG_KEY), a path to where the secret is, an id.
NOT_SECRET_WORDS = frozenset(
    {"PUBLIC", "PUB", "GPG", "PGP", "FILE", "PATH", "DIR", "ID", "URL", "SOCK", "SOCKET"}
)

# Well-known token formats: (regex, how many leading characters identify the format).
TOKEN_FORMATS: list[tuple[re.Pattern[str], int]] = [
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), 4),  # GitHub
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{60,}\b"), 11),  # GitHub fine-grained
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), 6),  # GitLab
    (re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), 4),  # AWS access key id
    (re.compile(r"\bnpm_[A-Za-z0-9]{36,}\b"), 4),  # npm
    (re.compile(r"\bpypi-AgE[A-Za-z0-9_-]{50,}"), 5),  # PyPI
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), 5),  # Slack
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), 4),  # Google API key
    (re.compile(r"\b[rs]k_live_[0-9A-Za-z]{20,}\b"), 8),  # Stripe
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), 3),  # JWT
]
_PRIVATE_KEY = re.compile(
    r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)(.*?)(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S
)
# user:password@ in a URL (scheme://user:password@host).
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)([^/\s@]+)(@)")
# NAME=value and NAME: value in free text (ENV, ARG, export, --build-arg, YAML-ish labels).
_ASSIGNMENT = re.compile(
    r"""(?<![\w-])([A-Za-z_][A-Za-z0-9_.-]*)(=|:\s*)("[^"]*"|'[^']*'|[^\s"';&|]+)"""
)
# A bearer/token credential in a header passed on a command line.
_BEARER = re.compile(r"(?i)(\b(?:bearer|token|basic)\s+)([A-Za-z0-9._~+/=-]{12,})")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def secret_name(name: str) -> bool:
    """Does a variable or key named `name` hold a secret (GITHUB_TOKEN, db.password, apiKey)?"""
    words = {w.upper() for w in _WORDS.findall(name)}
    return bool(words & SECRET_WORDS) and not words & NOT_SECRET_WORDS


def mask(value: str, keep_prefix: int = 0) -> str:
    """`value` cut to what identifies it: a token's format prefix (its first `keep_prefix`
    characters) and its last four characters; any other secret its first and last four
    (two for a shorter one); a short value is hidden entirely."""
    if not value:
        return value
    if keep_prefix:
        tail = value[-4:] if len(value) - keep_prefix >= 16 else ""
        return f"{value[:keep_prefix]}{ELLIPSIS}{tail}"
    if len(value) >= 24:
        return f"{value[:4]}{ELLIPSIS}{value[-4:]}"
    if len(value) >= 12:
        return f"{value[:2]}{ELLIPSIS}{value[-2:]}"
    return ELLIPSIS


def token_prefix(value: str) -> int | None:
    """How many leading characters of `value` name its token format, if it has a well-known
    one (None otherwise)."""
    for pattern, prefix in TOKEN_FORMATS:
        if pattern.fullmatch(value):
            return prefix
    return None


def mask_value(name: str, value: str) -> str:
    """The value of variable `name`, masked when its name or its format says it is a secret;
    a value that merely contains a token has that token masked."""
    prefix = token_prefix(value)
    if prefix is not None:
        return mask(value, prefix)
    if secret_name(name):
        return mask(value)
    return mask_text(value)


def _mask_tokens(text: str) -> str:
    for pattern, prefix in TOKEN_FORMATS:
        text = pattern.sub(partial(_mask_match, prefix), text)
    return text


def _mask_match(prefix: int, match: re.Match[str]) -> str:
    return mask(match.group(), prefix)


def _mask_assignment(match: re.Match[str]) -> str:
    name, sep, value = match.groups()
    if not secret_name(name) or ELLIPSIS in value:
        return match.group()
    quote = value[0] if value[:1] in ("'", '"') and len(value) >= 2 else ""
    inner = value[1:-1] if quote else value
    if not inner or inner.startswith("$"):  # a reference to another variable, not a value
        return match.group()
    return f"{name}{sep}{quote}{mask(inner)}{quote}"


def mask_text(text: str) -> str:
    """`text` with every secret in it masked: private key bodies, well-known tokens, URL
    passwords, bearer tokens, and the values of secret-named assignments (`TOKEN=...`)."""
    if not text:
        return text
    text = _PRIVATE_KEY.sub(lambda m: f"{m.group(1)}{ELLIPSIS}{m.group(3)}", text)
    text = _mask_tokens(text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{mask(m.group(2))}{m.group(3)}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{mask(m.group(2))}", text)
    return _ASSIGNMENT.sub(_mask_assignment, text)
