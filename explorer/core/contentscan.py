"""What the indexer reads of a file's content besides its hash: secrets in text-like files and
the records of package databases, found while the layer streams past (one pass, no second
read of any layer).

`wanted(path, size)` decides from the path alone, cheaply, for every regular file: most files
are never looked at. A chosen file's bytes (under a size cap) go to `scan_secrets` or to the
package parsers (`pkgdb`). Only what was found is kept — a detector's id and a masked value,
or a package's name and version — never the content: an index (and the cache holding it)
carries no secret in full.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

SECRETS = 1  # scan the content for secrets
PACKAGES = 2  # parse it as a package database record
OVERSIZED = 3  # a package database record too large to read (said so, not read)

TEXT_CAP = 256 << 10  # text files larger than this are not scanned
DB_CAP = 32 << 20  # a package database larger than this is not read (said so in a warning)
_PROBE = 1024  # a NUL in the first KiB: binary, not scanned

# Files that hold credentials by their very nature: scanned wherever they are.
CREDENTIAL_NAMES = frozenset(
    {".npmrc", ".pypirc", ".netrc", ".git-credentials", ".pgpass", "kubeconfig", ".htpasswd"}
)
CREDENTIAL_PATHS = (".aws/credentials", ".docker/config.json", ".kube/config")
# Trees a distribution or a package manager owns: vendored code, not the image's own files.
_SKIPPED_TREES = (
    "usr/share/",
    "usr/lib/",
    "usr/include/",
    "usr/bin/",
    "usr/sbin/",
    "usr/libexec/",
    "lib/",
    "lib64/",
    "bin/",
    "sbin/",
    "var/lib/",
    "var/cache/",
    "var/log/",
    "proc/",
    "sys/",
)
_SKIPPED_PARTS = re.compile(
    r"(?:^|/)(?:node_modules|site-packages|dist-packages|\.git|__pycache__|\.cache|\.m2"
    r"|\.gradle|go/pkg/mod|vendor|third_party|\.venv|venv|bower_components)/"
)
# Generated files: lock files and minified or mapped code, large and full of hashes.
_GENERATED = frozenset(
    {"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock"}
    | {"Pipfile.lock", "Cargo.lock", "go.sum", "composer.lock", "Gemfile.lock", "uv.lock"}
)
_BINARY_EXTENSIONS = (
    "a o so pyc pyo pyd whl egg jar war ear class zip gz tgz bz2 xz zst lz4 7z rar tar deb "
    "rpm apk png jpg jpeg gif bmp ico webp svgz tif tiff pdf mo ttf otf woff woff2 eot mp3 "
    "mp4 wav ogg avi mov bin dat db sqlite sqlite3 pack idx npy npz pt pth onnx h5 pkl "
    "parquet wasm node dll exe dylib lib"
)
_BINARY_EXT = frozenset(_BINARY_EXTENSIONS.split())


def wanted(path: str, size: int) -> int:
    """What to do with a regular file's content: SECRETS, PACKAGES or 0 (nothing). Called
    for every regular file of every layer: the common cases are decided first, cheaply."""
    base = path[path.rfind("/") + 1 :]
    if (base in _RECORD_NAMES or base[-9:] == ".egg-info" or path[:22] == _STATUS_D) and (
        _is_package_record(path, base)
    ):
        return PACKAGES if size <= DB_CAP else OVERSIZED
    if size > TEXT_CAP:
        return 0
    if (base in _CREDENTIAL_BASES or base[:4] == ".env") and (
        base in CREDENTIAL_NAMES or base[:4] == ".env" or path.endswith(CREDENTIAL_PATHS)
    ):
        return SECRETS
    if path.startswith(_SKIPPED_TREES) or _SKIPPED_PARTS.search(path):
        return 0
    dot = base.rfind(".")
    if dot > 0 and base[dot + 1 :].lower() in _BINARY_EXT:
        return 0
    if base in _GENERATED or base.endswith((".min.js", ".min.css", ".map")):
        return 0
    return SECRETS


_STATUS_D = "var/lib/dpkg/status.d/"
_RECORD_NAMES = frozenset({"METADATA", "PKG-INFO", "package.json", "status", "installed"})
_CREDENTIAL_BASES = CREDENTIAL_NAMES | {"credentials", "config.json", "config"}


def _is_package_record(path: str, base: str) -> bool:
    if base == "METADATA":
        return path.endswith(".dist-info/METADATA")
    if base == "PKG-INFO":
        return path.endswith(".egg-info/PKG-INFO")
    if base.endswith(".egg-info"):  # an egg-info file (not a directory): PKG-INFO's format
        return True
    if base == "package.json":
        return _NPM_RECORD.search(path) is not None
    return (
        path == "var/lib/dpkg/status"
        or path == "lib/apk/db/installed"
        or (path.startswith(_STATUS_D) and not base.endswith(".md5sums"))
    )


_NPM_RECORD = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/@][^/]*/package\.json$")


# -- secrets -------------------------------------------------------------------------------

# Well-known token formats: (detector id, the pattern, the minimum Shannon entropy of the
# value in bits per character: a placeholder such as ghp_xxxx… is not a token). Each pattern
# starts with a literal (no group, no \b before it): the regex engine then finds candidates as
# fast as a substring search, where a leading group or \b makes it twenty times slower. The
# word boundary before a token is checked on the match.
_TOKENS: list[tuple[str, re.Pattern[bytes], float]] = [
    (
        "aws-access-key-id",  # with Google's AIza…: one pass over the file for both
        re.compile(rb"A(?:(?:KIA|SIA|BIA|CCA)[A-Z2-7]{16}(?![A-Za-z0-9])|Iza[0-9A-Za-z_\-]{35})"),
        3.0,
    ),
    (
        "aws-secret-access-key",
        re.compile(
            rb"(?i:aws_?secret_?access_?key)[\"']?\s*[:=]\s*[\"']?"
            rb"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        4.0,
    ),
    (
        "github-token",
        re.compile(
            rb"g(?:h[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9])|ithub_pat_[A-Za-z0-9_]{82}(?!\w))"
        ),
        3.5,
    ),
    ("gitlab-token", re.compile(rb"glpat-[A-Za-z0-9_\-]{20,}"), 3.5),
    ("npm-token", re.compile(rb"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"), 3.5),
    ("pypi-token", re.compile(rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}"), 3.5),
    ("slack-token", re.compile(rb"xox[abposr]-[0-9A-Za-z\-]{10,}"), 3.0),
    (
        "slack-webhook",
        re.compile(rb"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/\w+"),
        3.0,
    ),
    ("stripe-key", re.compile(rb"_live_[0-9a-zA-Z]{24,}"), 3.5),  # sk_live_, rk_live_
]
_WORD_CHAR = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_PRIVATE_KEY = re.compile(
    rb"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----\r?\n([A-Za-z0-9+/=\s:,\-]{64,})"
)
# A line assigning a value to a key whose name says it is secret (KEY=value, key: value,
# "key": "value"); the value must look random, not like a placeholder or an expression.
_SECRET_WORDS = (
    *(b"passw", b"secret", b"token", b"credential", b"auth"),
    *(b"api_key", b"apikey", b"access_key", b"accesskey", b"private_key", b"privatekey"),
)
_SECRET_KEY = re.compile(
    rb"(?i)(password|passwd|secret|token|api_?key|access_?key|private_?key|credential|auth)"
)
_NAME_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_NAME_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "token", "credential", "credentials"}
    | {"auth", "apikey", "privatekey", "accesskey"}
)
_KEY_KINDS = frozenset(("api", "access", "secret", "private", "signing", "encryption", "master"))
_ASSIGNMENT = re.compile(
    rb"^\s*(?:export\s+)?[\"']?([A-Za-z_][A-Za-z0-9_.\-]*)[\"']?\s*(?:=|:=|:)\s*([\"']?)"
    rb"([^\s\"'#,;]+)[\"']?\s*[,;]?\s*(?:#.*)?$"
)
# A random-looking value: no spaces, brackets or quotes (those are expressions), letters and
# digits both.
_VALUE = re.compile(rb"[A-Za-z0-9+/=_\-.~@!%^*&?:]+")
_CODE_EXTENSIONS = (
    "py pyi js mjs cjs ts tsx jsx go java kt kts rb php c h cc cpp hpp cs rs scala swift pl "
    "lua r groovy dart ex exs erl clj"
)
_CODE = frozenset(_CODE_EXTENSIONS.split())
_PLACEHOLDER = re.compile(
    rb"(?i)^(?:\$|%|<|\{|\[|\(|null$|none$|true$|false$|changeme|change_me|example|"
    rb"your|xxx|\*\*\*|dummy|placeholder|redacted|secret$|password$|os\.|process\.env)"
)
_NAMED: list[tuple[str, re.Pattern[bytes]]] = [
    ("npmrc-auth", re.compile(rb"(?m)_(?:authToken|auth|password)\s*=\s*[\"']?([^\s\"'$]\S*)")),
    ("docker-auth", re.compile(rb"\"auth\"\s*:\s*\"([A-Za-z0-9+/=]{8,})\"")),
    ("git-credentials", re.compile(rb"[a-z][a-z0-9+.\-]*://[^:/\s@]+:([^@\s]+)@")),
    ("netrc-password", re.compile(rb"\bpassword\s+(\S+)")),
    ("kubeconfig-credential", re.compile(rb"(?m)^\s*(?:client-key-data|token|password):\s*(\S+)")),
]

Hit = tuple[str, str]  # (detector id, masked value)


def entropy(value: bytes) -> float:
    """Shannon entropy in bits per byte."""
    if not value:
        return 0.0
    n = len(value)
    counts: dict[int, int] = {}
    for b in value:
        counts[b] = counts.get(b, 0) + 1
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def mask(value: str) -> str:
    """Enough of a secret to recognise it, never all of it: `ghp_…Ds0A`."""
    if len(value) >= 16:
        return f"{value[:4]}…{value[-4:]}"
    if len(value) >= 8:
        return f"{value[:2]}…"
    return "…"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def scan_secrets(path: str, data: bytes | memoryview) -> list[Hit]:
    """Secrets in a text file's content: well-known token formats, private keys, and for
    credential files and `.env` files their own syntax; an empty list for a binary file."""
    raw = bytes(data)
    if b"\0" in raw[:_PROBE]:
        return []
    low = raw.lower()
    hits: list[Hit] = list(_tokens(raw, low))
    tokens = {value for _, value in hits}
    base = path[path.rfind("/") + 1 :]
    if base in CREDENTIAL_NAMES or path.endswith(CREDENTIAL_PATHS) or b"kind: Config" in raw:
        for detector, pattern in _NAMED:
            for m in pattern.finditer(raw):
                value = m.group(1)
                if not _PLACEHOLDER.match(value):
                    hits.append((detector, mask(_text(value))))
    loose = base.startswith(".env")
    if loose or any(word in low for word in _SECRET_WORDS):
        code = base.rpartition(".")[2].lower() in _CODE
        found = _assignments(raw, low, loose, code)
        hits += ((d, shown) for d, shown, masked in found if masked not in tokens)
    return _unique(hits)


def _tokens(raw: bytes, low: bytes) -> Iterator[Hit]:
    for detector, pattern, minimum in _TOKENS:
        if detector == "aws-secret-access-key" and b"secret" not in low:
            continue  # its pattern starts case-insensitively: slow, so looked for only here
        for m in pattern.finditer(raw):
            start = m.start()
            if detector == "stripe-key":
                start -= 2  # the sk or rk before _live_
                if start < 0 or raw[start : start + 2] not in (b"sk", b"rk"):
                    continue
            elif detector != "aws-secret-access-key" and start and raw[start - 1] in _WORD_CHAR:
                continue  # inside a longer word
            value = m.group(1) if m.re.groups else raw[start : m.end()]
            if b"EXAMPLE" in value or entropy(value) < minimum:
                continue
            kind = "google-api-key" if value.startswith(b"AIza") else detector
            yield kind, mask(_text(value))
    if b"PRIVATE KEY-----" not in raw:
        return
    for m in _PRIVATE_KEY.finditer(raw):
        body = re.sub(rb"\s", b"", m.group(2))
        if len(body) >= 64 and entropy(body) >= 4.0:
            yield "private-key", _text(m.group(1))


def credential_name(name: str) -> bool:
    """Does a variable's name say it holds a credential, strictly enough to report a finding?
    Its words (snake, kebab or camel case) decide: `DB_PASSWORD`, `apiKey`,
    `AWS_SECRET_ACCESS_KEY`, `authToken` do; `author`, `auth0`, `GPG_KEY`, `tokenizer` do not.
    (What a display hides is broader: `masking.secret_name`.)"""
    words = [w.lower() for w in _NAME_WORDS.findall(name)]
    return any(
        w in _SECRET_NAME_WORDS or (w == "key" and i and words[i - 1] in _KEY_KINDS)
        for i, w in enumerate(words)
    )


def _random_chars(value: bytes) -> bool:
    return (
        _VALUE.fullmatch(value) is not None
        and any(48 <= c <= 57 for c in value)
        and any(65 <= c <= 90 or 97 <= c <= 122 for c in value)
    )


def _assignments(raw: bytes, low: bytes, loose: bool, code: bool) -> Iterator[tuple[str, str, str]]:
    """KEY=value lines whose key names a secret and whose value looks random; in a `.env`
    file (`loose`), any value that looks random; in source `code`, only quoted values.
    Yields (detector, what to show, masked value)."""
    for line in raw.splitlines() if loose else _lines_with_secret_words(raw, low):
        if len(line) > 4096 or (code and b'"' not in line and b"'" not in line):
            continue
        m = _ASSIGNMENT.match(line)
        if m is None:
            continue
        key, quote, value = m.group(1), m.group(2), m.group(3)
        if code and not quote:
            continue  # in source code only a string literal is a value (not `x = f(y)`)
        secret_key = credential_name(_text(key))
        if not (secret_key or loose) or _PLACEHOLDER.match(value) or not _random_chars(value):
            continue
        if len(value) < (8 if secret_key else 16) or entropy(value) < (3.0 if secret_key else 3.5):
            continue
        masked = mask(_text(value))
        yield "secret-assignment", f"{_text(key)}={masked}", masked


def _lines_with_secret_words(raw: bytes, low: bytes) -> Iterator[bytes]:
    """The lines of `raw` in which a secret word occurs (`low` is `raw` in lower case), each
    once, in order (substring searches: a case-insensitive pattern is far slower)."""
    starts: set[int] = set()
    for word in _SECRET_WORDS:
        at = low.find(word)
        while at >= 0:
            starts.add(low.rfind(b"\n", 0, at) + 1)
            end = low.find(b"\n", at)
            at = low.find(word, end) if end >= 0 else -1
    for start in sorted(starts):
        end = raw.find(b"\n", start)
        yield raw[start : end if end >= 0 else len(raw)].rstrip(b"\r")


def _unique(hits: list[Hit]) -> list[Hit]:
    return list(dict.fromkeys(hits))


def redact(text: str) -> str:
    """`text` with every well-known token in it masked."""
    raw = text.encode("utf-8", "surrogateescape")
    spans = []
    for detector, pattern, _ in _TOKENS:
        for m in pattern.finditer(raw):
            start, end = (m.start(1), m.end(1)) if m.re.groups else (m.start(), m.end())
            if detector == "stripe-key" and start >= 2:
                start -= 2
            spans.append((start, end))
    for start, end in sorted(spans, reverse=True):
        shown = mask(_text(raw[start:end])).encode()
        raw = raw[:start] + shown + raw[end:]
    return raw.decode("utf-8", "surrogateescape")


def scan_text(text: str) -> list[Hit]:
    """Secrets in a line of metadata (an environment variable, a label, a history command)."""
    raw = text.encode("utf-8", "surrogateescape")
    return _unique(list(_tokens(raw, raw.lower())))
