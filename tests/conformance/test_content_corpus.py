"""Issue 13's acceptance on the corpus: `cat` returns exactly the bytes each layer wrote
(Python's tarfile reading the layer blobs is the oracle) from every archive form and from the
engine; `/opt/big.bin` of corpus/waste; `extract` of `/usr/share/doc` equals GNU tar's."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import random
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from explorer.core.content import open_content
from tests.robustness.harness import REPO, cli_env

FORMATS = ["waste.tar", "waste.oci-gzip.tar", "waste.oci-zstd.tar", "waste.oci-layout"]
ENGINE = "docker://corpus/waste:1"
LAYER0 = ("--layer", "0")
EXTRACT = (sys.executable, "-m", "explorer", "extract")
PER_LAYER = 12  # random regular files checked in each layer


def _layer_blobs(archive: Path) -> Iterator[bytes]:
    """The uncompressed tar of each layer of a waste archive, in order, read without us."""
    with contextlib.ExitStack() as stack:
        if archive.is_dir():
            names: list[str] = []

            def read(name: str) -> bytes:
                return (archive / name).read_bytes()
        else:
            tf = stack.enter_context(tarfile.open(archive))
            names = tf.getnames()

            def read(name: str) -> bytes:
                return tf.extractfile(name).read()  # type: ignore[union-attr]

        if "manifest.json" in names:
            layers = json.loads(read("manifest.json"))[0]["Layers"]
        else:
            index = json.loads(read("index.json"))
            manifest = json.loads(read("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
            layers = ["blobs/sha256/" + d["digest"][7:] for d in manifest["layers"]]
        for name in layers:
            blob = read(name)
            if blob[:2] == b"\x1f\x8b":
                blob = gzip.decompress(blob)
            elif blob[:4] == b"\x28\xb5\x2f\xfd":
                blob = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read()
            yield blob


def _files(tar: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return {
            m.name.removeprefix("./"): tf.extractfile(m).read()  # type: ignore[union-attr]
            for m in tf.getmembers()
            if m.isfile()
        }


@pytest.fixture(scope="module")
def oracle(corpus_archive) -> list[dict[str, bytes]]:
    return [_files(tar) for tar in _layer_blobs(corpus_archive("waste.tar"))]


def _cat(target: str, path: str, *args: str, cache: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "explorer", "cat", target, path, *args],
        cwd=REPO,
        env=cli_env(cache),
        capture_output=True,
        timeout=300,
    )


def _check_every_layer(target: str, oracle: list[dict[str, bytes]], cache: Path) -> None:
    rng = random.Random(target)
    with open_content(target) as acc:
        assert len(acc.layers) == len(oracle)
        acc.prepare(range(len(oracle)))  # an engine image: one export for them all
        for n, files in enumerate(oracle):
            names = sorted(files)
            chosen = rng.sample(names, min(PER_LAYER, len(names)))
            chosen.append(max(names, key=lambda x: len(files[x])))
            for name in chosen:
                assert acc.read(n, name) == files[name], (target, n, name)
        # The command itself, for one file of a layer picked at random (as of that layer).
        n = rng.randrange(len(oracle))
        name = next(
            x for x in sorted(oracle[n]) if (acc.resolve(x, n) or acc.entry(n, x)).path == x
        )
    res = _cat(target, "/" + name, "--layer", str(n), cache=cache)
    assert res.returncode == 0, res.stderr
    assert hashlib.sha256(res.stdout).digest() == hashlib.sha256(oracle[n][name]).digest()


@pytest.mark.corpus
@pytest.mark.parametrize("name", FORMATS)
def test_cat_returns_the_bytes_each_layer_wrote(name, corpus_archive, oracle, tmp_path) -> None:
    _check_every_layer(str(corpus_archive(name)), oracle, tmp_path / "cache")


@pytest.mark.engine
@pytest.mark.corpus
def test_cat_from_the_engine(engine_image, oracle, tmp_path) -> None:
    engine_image("corpus/waste:1")
    _check_every_layer(ENGINE, oracle, tmp_path / "cache")


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["waste.oci-gzip.tar", ENGINE])
def test_big_bin_is_gone_at_the_end_and_50_mib_at_layer_1(
    name, corpus_archive, engine_image, tmp_path
) -> None:
    target = engine_image("corpus/waste:1") and ENGINE if name == ENGINE else None
    target = target or str(corpus_archive(name))
    res = _cat(target, "/opt/big.bin", cache=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "the final image has no /opt/big.bin; it exists in layer" in lines[0]
    res = _cat(target, "/opt/big.bin", "--layer", "1", cache=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout) == 52_428_800


def _listing(root: Path) -> dict[str, tuple]:
    """Names, kinds, sizes of files, modes less setuid/setgid/sticky, link targets."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            out[str(p.relative_to(root))] = (
                kind,
                st.st_size if stat.S_ISREG(st.st_mode) else 0,
                stat.S_IMODE(st.st_mode) & 0o777,
                os.readlink(p) if stat.S_ISLNK(st.st_mode) else "",
            )
    return out


@pytest.mark.engine
@pytest.mark.corpus
def test_extract_equals_gnu_tar(corpus_archive, engine_image, tmp_path) -> None:
    archive = corpus_archive("waste.tar")
    layer0 = next(_layer_blobs(archive))
    (tmp_path / "layer0.tar").write_bytes(layer0)
    gnu = tmp_path / "gnu"
    gnu.mkdir()
    subprocess.run(
        ["tar", "-x", "-f", str(tmp_path / "layer0.tar"), "-C", str(gnu), "./usr/share/doc"],
        check=True,
    )
    for target in (str(archive), engine_image("corpus/waste:1") and ENGINE):
        ours = tmp_path / ("ours-" + hashlib.sha256(target.encode()).hexdigest()[:8])
        res = subprocess.run(
            [*EXTRACT, target, "/usr/share/doc", *LAYER0, "-o", str(ours)],
            cwd=REPO,
            env=cli_env(tmp_path / "cache"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, res.stderr
        expected = _listing(gnu)
        assert len(expected) > 500
        assert _listing(ours) == expected
        sample = sorted(p for p, v in expected.items() if stat.S_ISREG(v[0]))[::50]
        for path in sample:
            assert (ours / path).read_bytes() == (gnu / path).read_bytes()
