"""Secrets never shown in full, in any text shown to people (the config, the Dockerfile,
history commands, build args, labels): values whose name says they are secret (TOKEN, SECRET,
PASSWORD, KEY...), well-known token formats (the findings' own, `contentscan.redact`), private
key bodies, URL passwords and bearer tokens. What is left is enough to recognise the value
(`ghp_…Ds0A`, `contentscan.mask`), never enough to use it.

A display masks more than the findings report: a `*_KEY` whose value is not random is not a
finding, but it is not shown either.
"""

from __future__ import annotations

import re

from explorer.core.contentscan import mask, redact

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
    """Should the value of a variable or key named `name` be hidden on display (GITHUB_TOKEN,
    db.password, apiKey, any *_KEY)? Broader than the findings' `contentscan.credential_name`:
    a display hides what may be a secret, a finding reports what is one."""
    words = {w.upper() for w in _WORDS.findall(name)}
    return bool(words & SECRET_WORDS) and not words & NOT_SECRET_WORDS


def mask_value(name: str, value: str) -> str:
    """The value of variable `name`: masked whole when its name says it is a secret, else
    with any secret in it masked."""
    if value and secret_name(name):
        return mask(value)
    return mask_text(value)


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
    text = redact(text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{mask(m.group(2))}{m.group(3)}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{mask(m.group(2))}", text)
    return _ASSIGNMENT.sub(_mask_assignment, text)
