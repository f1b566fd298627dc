"""Findings and packages on small archives built in Python: each rule where it should fire,
nothing on the decoys, secrets never in full, the cached index keeps what content told."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest

from explorer.core import contentscan, pkgdb
from explorer.core.analysis import analyze, index_all
from explorer.core.cache import LayerCache
from explorer.core.cachecodec import decode_analysis, decode_index, encode_analysis, encode_index
from explorer.core.efficiency import DiveEfficiency
from explorer.core.findings import RULES, SEVERITIES, Finding, find, findings_of
from explorer.core.layerindex import index_layer
from explorer.core.packages import INSTALLED, REMOVED, UPGRADED, find_packages, layer_changes
from explorer.core.reclaim import Reclaimable
from explorer.core.sources import open_source
from tests.robustness import builders as b
from tests.unit.helpers import image_archive

SIX = b"Name: six\nVersion: 1.16\n"
LEFT_PAD = b'{"name":"left-pad","version":"1.3.0"}'
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6" + "Ds0A"


def _findings(tmp_path: Path, *layers: list, **image_kw) -> list[Finding]:
    meta, indexes = index_all(open_source(str(image_archive(tmp_path, *layers, **image_kw))))
    return find(meta, indexes, analyze(meta, indexes).reclaimable)


def _of(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def test_token_in_a_file_is_found_masked_and_a_certificate_or_readme_is_not(tmp_path):
    cert = b"-----BEGIN CERTIFICATE-----\nMIIB" + b"QWxhZGRpbjpvcGVuIHNlc2FtZQ" * 4 + b"\n"
    found = _findings(
        tmp_path,
        [
            b.file("app/settings.py", f"GITHUB = '{TOKEN}'\n".encode()),
            b.file("app/server.pem", cert + b"-----END CERTIFICATE-----\n"),
            b.file("app/README.md", b"Export GITHUB_TOKEN and AWS_SECRET_ACCESS_KEY first.\n"),
        ],
    )
    secrets = _of(found, "secret-in-file")
    assert [f.path for f in secrets] == ["/app/settings.py"]
    assert "ghp_…Ds0A" in secrets[0].message
    assert all(TOKEN not in f.message for f in found)


def test_a_secret_deleted_later_is_still_found_in_the_layer_that_shipped_it(tmp_path):
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmU" * 5
    found = _findings(
        tmp_path,
        [b.directory("root/.ssh"), b.file("root/.ssh/key", key + b"\n-----END\n")],
        [b.whiteout("root/.ssh/key")],
    )
    (secret,) = _of(found, "secret-in-file")
    assert (secret.layer, secret.visible) == (0, False)
    assert "deleted in layer 1 but still shipped in layer 0" in secret.message


def test_mode_rules(tmp_path):
    found = _findings(
        tmp_path,
        [
            b.file("usr/local/bin/tool", b"x", mode=0o4755),
            b.directory("srv/drop", mode=0o777),
            b.file("srv/drop/a", b"a", mode=0o666),
            b.directory("tmp", mode=0o1777),
        ],
    )
    assert [f.path for f in _of(found, "setuid-setgid")] == ["/usr/local/bin/tool"]
    (writable,) = _of(found, "world-writable")
    assert writable.path == "/srv/drop" and "and 1 entry below it" in writable.message


def test_packages_installed_upgraded_removed(tmp_path):
    def status(*pkgs: tuple[str, str]) -> bytes:
        return b"\n".join(
            f"Package: {n}\nStatus: install ok installed\nVersion: {v}\n".encode() for n, v in pkgs
        )

    site = "usr/lib/python3/dist-packages"
    _, indexes = index_all(
        open_source(
            str(
                image_archive(
                    tmp_path,
                    [b.file("var/lib/dpkg/status", status(("bash", "5.1"), ("curl", "7")))],
                    [
                        b.file("var/lib/dpkg/status", status(("bash", "5.2"))),
                        b.file(f"{site}/six-1.16.dist-info/METADATA", SIX),
                    ],
                    [b.whiteout(f"{site}/six-1.16.dist-info")],
                )
            )
        )
    )
    pkgs = {(p.ecosystem, p.name): p for p in find_packages(indexes)}
    bash, curl, six = pkgs["deb", "bash"], pkgs["deb", "curl"], pkgs["python", "six"]
    assert (bash.layer, bash.version, bash.upgraded) == (0, "5.2", [1])
    assert (curl.layer, curl.removed) == (0, 1)
    assert (six.layer, six.removed, six.version) == (1, 2, "1.16")
    kinds = sorted((p.name, c.kind) for p, c in layer_changes(list(pkgs.values()), 1))
    assert kinds == [("bash", UPGRADED), ("curl", REMOVED), ("six", INSTALLED)]


def test_cached_index_keeps_secrets_and_packages_never_the_value():
    tar = b.tar_bytes(
        [
            b.file("app/.env", f"DEBUG=1\nGH={TOKEN}\n".encode()),
            b.file("app/node_modules/left-pad/package.json", LEFT_PAD),
        ]
    )
    index = index_layer(io.BytesIO(tar), "t")
    payload = encode_index(index)
    assert TOKEN.encode() not in payload
    again = decode_index(payload)
    assert again.secrets == [(0, "github-token", "ghp_…Ds0A")]
    assert again.packages == [(1, pkgdb.NPM, "left-pad", "1.3.0")]


def test_rules_are_documented_with_known_severities():
    assert all(r.severity in SEVERITIES and r.remedy for r in RULES.values())
    doc = (Path(__file__).parents[2] / "docs" / "findings.md").read_text()
    assert all(f"`{rule}`" in doc for rule in RULES)


def test_mask_never_shows_a_short_secret_whole():
    assert contentscan.mask("abcdefgh") == "ab…"
    assert contentscan.mask("short") == "…"


def test_findings_are_cached_with_the_analysis(tmp_path):
    archive = image_archive(
        tmp_path,
        [b.file("app/settings.py", f"GITHUB = '{TOKEN}'\n".encode()), b.file("tmp/x", b"x" * 99)],
        [b.whiteout("tmp/x")],
    )
    store = LayerCache(tmp_path / "cache")

    def open_analysed():
        meta, indexes = index_all(open_source(str(archive)))
        return analyze(meta, indexes, store)

    cold = open_analysed()
    warm = open_analysed()
    assert (cold.cached, warm.cached) == (False, True)
    assert warm.layer_findings == cold.layer_findings
    assert {f.rule for f in findings_of(warm)} >= {"secret-in-file", "added-then-removed"}
    assert findings_of(warm) == find(cold.meta, cold.layers, cold.reclaimable)


def test_damaged_cached_findings_are_a_miss():
    eff = DiveEfficiency(1.0, 0, 0, 0, [])
    good = Finding("setuid-setgid", "low", 0, "/x", "m", "r", 0, True)
    payload = pickle.loads(encode_analysis(eff, Reclaimable(0), [good]))
    assert decode_analysis(pickle.dumps(payload, protocol=5))[2] == [good]
    for bad in [("no-such-rule", *_tail(good)), ("setuid-setgid", "low", "0", *_tail(good)[1:])]:
        payload = (*payload[:13], [bad])
        with pytest.raises(ValueError):
            decode_analysis(pickle.dumps(payload, protocol=5))


def _tail(f: Finding) -> tuple:
    return (f.severity, 0, f.path, f.message, f.remedy, f.bytes, f.visible)


def test_a_directory_written_again_stays_shown_a_deleted_one_does_not(tmp_path):
    found = _findings(
        tmp_path,
        [b.directory("app/.git"), b.file("app/.git/HEAD", b"ref: refs/heads/main\n")],
        [b.directory("app/.git", mode=0o700)],  # a chmod of the directory alone
        [b.directory("srv/.git"), b.file("srv/.git/HEAD", b"ref\n")],
        [b.whiteout("srv/.git")],
    )
    vcs = {f.path: f for f in _of(found, "vcs-metadata")}
    assert vcs["/app/.git"].visible and not vcs["/srv/.git"].visible
    assert "deleted in layer 3 but still shipped in layer 2" in vcs["/srv/.git"].message


def test_odd_metadata_never_breaks_the_config_rules():
    from explorer.core import report
    from explorer.core.findings import image_findings
    from explorer.core.image import HistoryEntry, ImageMeta

    history = [HistoryEntry("|99 A /bin/sh -c x", "", False, 0), HistoryEntry("", "", True, None)]
    for config in (
        {"config": {"Env": {"A": 1}, "Labels": ["x"], "User": 0, "Healthcheck": "x"}},
        {"config": {"Env": [1, None, "NPM_TOKEN"], "Labels": {"k": {"v": 1}}}},
        {"config": None},
        [],
    ):
        meta = ImageMeta("x", "docker-archive", [], history, config, tags=[3, "a:latest"])
        rules = {f.rule for f in image_findings(meta, [])}
        assert "rule-error" not in rules and "runs-as-root" in rules
        assert isinstance(report._config(meta)["env"], list)
