"""Registry references, authentication challenges, and where credentials are found (in which
order, never shown): no registry needed."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from explorer.core.errors import ImageError
from explorer.core.sources import open_source, regauth, split_target
from explorer.core.sources.registry import RegistrySource, parse_reference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000/corpus/waste:1", ("127.0.0.1:5000", "corpus/waste", "1")),
        ("localhost:5000/waste", ("localhost:5000", "waste", "latest")),
        ("ghcr.io/org/team/app:v1.2-rc", ("ghcr.io", "org/team/app", "v1.2-rc")),
        ("docker.io/alpine:3", ("registry-1.docker.io", "library/alpine", "3")),
        ("[::1]:5000/a/b@sha256:" + "a" * 64, ("[::1]:5000", "a/b", "sha256:" + "a" * 64)),
    ],
)
def test_references(text: str, expected: tuple[str, str, str]) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("127.0.0.1:5000", "expected registry://HOST"),
        ("127.0.0.1:5000/", "expected registry://HOST"),
        ("127.0.0.1:5000/UPPER/case", "invalid repository name"),
        ("127.0.0.1:5000/a:b:c", "invalid repository name"),
        ("127.0.0.1:5000/a@sha256:xyz", "invalid digest"),
        ("127.0.0.1:5000/a:" + "t" * 200, "invalid tag"),
        ("host with space/a", "expected registry://HOST"),
    ],
)
def test_bad_references_are_one_line(text: str, says: str) -> None:
    with pytest.raises(ImageError, match=says):
        parse_reference(text)


def test_registry_scheme_and_source_flag() -> None:
    assert split_target("registry://h:1/r:t") == ("registry", "h:1/r:t")
    assert split_target("h:1/r:t", "registry") == ("registry", "h:1/r:t")
    source = open_source("registry://h:1/r:t", platform="linux/arm64")
    assert isinstance(source, RegistrySource) and source.platform == "linux/arm64"


def test_challenges() -> None:
    c = regauth.parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg, x",scope="repository:a/b:pull"'
    )
    assert c is not None and c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.example/token",
        "service": "reg, x",
        "scope": "repository:a/b:pull",
    }
    basic = regauth.parse_challenge('Basic realm="layerscope-test"')
    assert basic is not None and basic.scheme == "basic"
    assert regauth.parse_challenge("Negotiate abc") is None
    assert regauth.parse_challenge("") is None


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", regauth.ENV_USER, regauth.ENV_PASSWORD):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    (tmp_path / "docker").mkdir()
    return tmp_path


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credential_order(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = clean_env / "docker" / "config.json"
    docker.write_text(
        json.dumps({"auths": {"https://reg.example/v1/": {"auth": _auth("d", "dp")}}})
    )
    found = regauth.find_credential("reg.example")
    assert found.credential is not None and found.credential.username == "d"
    assert found.credential.origin.endswith("config.json auths")

    podman = clean_env / "auth.json"
    podman.write_text(json.dumps({"auths": {"reg.example": {"auth": _auth("p", "pp")}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(podman))
    found = regauth.find_credential("reg.example")
    assert found.credential is not None and found.credential.username == "p"

    monkeypatch.setenv(regauth.ENV_USER, "e")
    monkeypatch.setenv(regauth.ENV_PASSWORD, "ep")
    assert regauth.find_credential("reg.example").credential.username == "e"  # type: ignore[union-attr]

    with regauth.configured(creds="c:cp"):
        found = regauth.find_credential("reg.example")
        assert found.credential is not None and found.credential.username == "c"
        assert found.tried == ["--creds"]


def test_nothing_found_lists_what_was_tried(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(clean_env / "run"))
    found = regauth.find_credential("reg.example")
    assert found.credential is None
    text = "; ".join(found.tried)
    assert regauth.ENV_USER in text
    assert str(clean_env / "run" / "containers" / "auth.json") in text
    assert str(clean_env / "docker" / "config.json") in text


def test_credential_helper(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper = clean_env / "docker-credential-fake"
    helper.write_text(
        '#!/bin/sh\nread s\necho "{\\"Username\\":\\"h-$s\\",\\"Secret\\":\\"hs\\"}"\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{clean_env}:{os.environ['PATH']}")
    config = clean_env / "docker" / "config.json"
    config.write_text(json.dumps({"credsStore": "fake"}))
    found = regauth.find_credential("reg.example")
    assert found.credential is not None
    assert (found.credential.username, found.credential.password) == ("h-reg.example", "hs")
    config.write_text(json.dumps({"credHelpers": {"other.example": "fake"}, "auths": {}}))
    assert regauth.find_credential("reg.example").credential is None


def test_a_secret_is_never_in_a_credentials_text() -> None:
    cred = regauth.Credential("user", "hunter2-secret", "tok-secret", "--creds")
    assert "secret" not in repr(cred) and "secret" not in str(cred)


def test_plain_http() -> None:
    assert regauth.plain_http("127.0.0.1:5000")
    assert regauth.plain_http("localhost:5000")
    assert regauth.plain_http("[::1]:5000")
    assert not regauth.plain_http("10.0.0.1:5000")
    assert not regauth.plain_http("registry.example")
    with regauth.configured(insecure=("registry.example",)):
        assert regauth.plain_http("registry.example:5000")
        assert regauth.plain_http("registry.example")
    assert not regauth.plain_http("registry.example")
