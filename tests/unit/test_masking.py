"""Secrets are never shown in full: by name, by well-known token format (the findings' own
detectors), anywhere in text."""

from __future__ import annotations

import pytest

from explorer.core.masking import mask, mask_text, mask_value, secret_name

GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Ds0A"
TOKENS = {
    GHP: "ghp_…Ds0A",
    "github_pat_" + "a" * 78 + "WXYZ": "gith…WXYZ",
    "glpat-abcdefghij0123456789": "glpa…6789",
    "AKIAIOSFODNN7EXAMPLE": "AKIA…MPLE",
    "npm_" + "b" * 32 + "9876": "npm_…9876",
    "pypi-AgEIcHlwaS5vcmc" + "c" * 60 + "LAST": "pypi…LAST",
    "AIza" + "d" * 31 + "EFGH": "AIza…EFGH",
}


@pytest.mark.parametrize(("token", "shown"), TOKENS.items())
def test_well_known_tokens_show_little_of_themselves(token, shown):
    assert mask_value("ANYTHING", token) == shown
    assert mask_text(f"before {token} after") == f"before {shown} after"


@pytest.mark.parametrize(
    "name",
    ["GITHUB_TOKEN", "db.password", "apiKey", "AWS_SECRET_ACCESS_KEY", "NPM_AUTH", "PASSPHRASE"],
)
def test_secret_names(name):
    assert secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["PATH", "PWD", "GPG_KEY", "PUBLIC_KEY", "SECRET_FILE", "KEYRING", "BYPASS", "SSH_AUTH_SOCK"],
)
def test_names_that_are_not_secrets(name):
    assert not secret_name(name)


def test_lengths():
    assert mask_value("TOKEN", "") == ""  # nothing to hide
    assert mask("short") == "…"
    assert mask("twelve-chars") == "tw…"
    assert mask("a-much-longer-secret-value") == "a-mu…alue"
    assert mask_value("DB_PASSWORD", "hunter2hunter2") == "hu…"
    assert mask_value("PLAIN", "hunter2hunter2") == "hunter2hunter2"


def test_free_text():
    text = (
        "export DB_PASSWORD=hunter2hunter2; curl -H 'Authorization: Bearer abcdef0123456789xyz' "
        'https://u:p4ssw0rd-p4ssw0rd@h/x TOKEN="quoted value here"'
    )
    assert mask_text(text) == (
        "export DB_PASSWORD=hu…; curl -H 'Authorization: Bearer abcd…9xyz' "
        'https://u:p4ss…w0rd@h/x TOKEN="quot…here"'
    )


def test_private_key_bodies_are_hidden_and_headers_kept():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----"
    assert mask_text(pem) == "-----BEGIN RSA PRIVATE KEY-----…-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    "decoy",
    [
        "set GITHUB_TOKEN=$GITHUB_TOKEN before running",  # names a variable, no value
        "TOKEN= is required",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",  # public
        "PATH=/usr/local/bin:/usr/bin",
        "ghp_tooshort",
    ],
)
def test_decoys_are_left_alone(decoy):
    assert mask_text(decoy) == decoy
