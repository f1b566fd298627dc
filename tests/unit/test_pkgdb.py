"""Package database records and the content scanner on their own: each format, the records
that do not count, and hostile bytes (never an exception)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.core import contentscan, pkgdb
from explorer.core.contentscan import PACKAGES, SECRETS, wanted

DPKG = b"""Package: bash
Status: install ok installed
Version: 5.2.15-2+b2
Description: GNU Bourne Again SHell
 a continuation line: Version: 9

Package: old
Status: deinstall ok config-files
Version: 1.0

Package: half
Status: install reinstreq half-installed
Version: 2.0
"""


def test_dpkg_counts_installed_packages_only():
    assert pkgdb.parse("var/lib/dpkg/status", DPKG) == [("deb", "bash", "5.2.15-2+b2")]
    assert pkgdb.parse("var/lib/dpkg/status.d/python3.11", DPKG)[0][1] == "bash"


def test_apk_python_npm():
    apk = b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\n\nP:busybox\nV:1.36.1-r5\n"
    assert pkgdb.parse("lib/apk/db/installed", apk) == [
        ("apk", "musl", "1.2.4-r2"),
        ("apk", "busybox", "1.36.1-r5"),
    ]
    meta = b"Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.4\n\nName: not-this\n"
    assert pkgdb.parse("x/numpy-1.26.4.dist-info/METADATA", meta) == [("python", "numpy", "1.26.4")]
    assert pkgdb.parse("x/six-1.16.0.egg-info", b"Name: six\nVersion: 1.16.0\n")[0][1] == "six"
    npm = b'{"name": "@babel/core", "version": "7.24.0", "dependencies": {}}'
    assert pkgdb.parse("a/node_modules/@babel/core/package.json", npm) == [
        ("npm", "@babel/core", "7.24.0")
    ]
    assert pkgdb.parse("a/node_modules/x/package.json", b"[1, 2]") == []
    assert pkgdb.parse("a/node_modules/x/package.json", b'{"name": 3}') == []


def test_which_files_are_read():
    assert wanted("var/lib/dpkg/status", 10) == PACKAGES
    assert wanted("var/lib/dpkg/status.d/libssl3.md5sums", 10) == 0
    assert wanted("app/node_modules/@scope/pkg/package.json", 10) == PACKAGES
    assert wanted("app/node_modules/pkg/node_modules/dep/package.json", 10) == PACKAGES
    assert wanted("app/node_modules/pkg/lib/package.json", 10) == 0  # not a package's own
    assert wanted("app/node_modules/pkg/index.js", 10) == 0  # a package's code
    assert wanted("app/main.py", 10) == SECRETS
    assert wanted("app/main.py", contentscan.TEXT_CAP + 1) == 0
    assert wanted("app/logo.png", 10) == 0
    assert wanted("usr/lib/x/.npmrc", 10) == SECRETS  # credential files, wherever they are
    assert wanted("var/lib/dpkg/status", contentscan.DB_CAP + 1) == contentscan.OVERSIZED


def test_secret_names_and_values():
    found = contentscan.scan_secrets(
        "app/settings.py",
        b'token = tokenize.generate(x)\nAPI_KEY = "Zk8s9Qw2Lm4Xp7Rt1Vb3"\nauthor = "A. Writer"\n'
        b'PASSWORD = "changeme"\n',
    )
    assert found == [("secret-assignment", "API_KEY=Zk8s…1Vb3")]
    kube = b"apiVersion: v1\nkind: Config\nusers:\n- user:\n    token: c2VjcmV0LXRva2VuLXZhbHVl\n"
    assert contentscan.scan_secrets("home/u/.kube/config", kube)[0][0] == "kubeconfig-credential"
    assert contentscan.redact("curl -H 'token ghp_k3Jd9QwLm2Xp7Rt1Vb8Zc4Ny6Hs0Ea5FgDs0A'") == (
        "curl -H 'token ghp_…Ds0A'"
    )


RECORDS = [
    "var/lib/dpkg/status",
    "lib/apk/db/installed",
    "a/x.dist-info/METADATA",
    "a/node_modules/x/package.json",
    "app/.env",
    "app/x.py",
]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from(RECORDS))
def test_hostile_bytes_never_raise(data, path):
    pkgdb.parse(path, data)
    contentscan.scan_secrets(path, data)


def test_distroless_status_d_files_are_read():
    assert wanted("var/lib/dpkg/status.d/libc6", 10) == PACKAGES
    assert wanted("var/lib/dpkg/status.d/python3.11", 10) == PACKAGES
