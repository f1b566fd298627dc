"""Images read straight from a real registry: dive's export identical to the archive's, the
layer cache (a warm re-open fetches no layer blob; a new tag on a cached base only its new
layers), OCI manifests with zstd layers, a multi-platform index, an image pushed by the
engine, `--ci`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from explorer.core.loading import load
from explorer.core.sources import open_source
from explorer.core.sources.registry import RegistrySource
from tests.registry.conftest import ARCHIVES, SMALL_CORPUS, layerscope, small_layout, start_registry
from tests.registry.servers import Registry, skopeo_copy
from tests.robustness import builders as b

pytestmark = pytest.mark.registry


def _without_ids(text: str) -> str:
    return re.sub(r'\n      "id": "[^"]*",', "", text)


def _json(target: str, out: Path, *extra: str) -> str:
    done = layerscope(target, "--json", str(out), *extra)
    assert done.returncode == 0, done.stderr
    return out.read_text()


@pytest.mark.corpus
@pytest.mark.parametrize("name", SMALL_CORPUS)
def test_json_from_the_registry_equals_the_archives(
    name: str, pushed: dict[str, str], tmp_path: Path
) -> None:
    if name not in pushed:
        pytest.skip(f"corpus image {name} not built")
    from_registry = _json(f"registry://{pushed[name]}", tmp_path / "registry.json")
    from_archive = _json(str(ARCHIVES / f"{name}.tar"), tmp_path / "archive.json")
    assert from_registry != from_archive  # the layers' ids differ: blob digests there
    assert _without_ids(from_registry) == _without_ids(from_archive)
    layers = json.loads(from_registry)["layer"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", layer["id"]) for layer in layers)


def _blob_digests(requests: list[str]) -> set[str]:
    return {r.rsplit("/blobs/", 1)[1] for r in requests}


def _load(ref: str) -> tuple[RegistrySource, object]:
    made: list[RegistrySource] = []

    def factory() -> RegistrySource:
        made.append(RegistrySource(ref))
        return made[0]

    result = load(factory, lambda _e: None, threading.Event())
    return made[0], result


@pytest.mark.corpus
def test_warm_reopen_fetches_the_manifest_and_config_only(
    pushed: dict[str, str], registry: Registry
) -> None:
    ref = pushed.get("waste") or next(iter(pushed.values()))
    mark = registry.mark()
    cold, first = _load(ref)
    layer_blobs = set(cold.blobs)
    assert _blob_digests(registry.requests_since(mark)) >= layer_blobs
    assert set(cold.downloaded) == layer_blobs

    mark = registry.mark()
    started = time.perf_counter()
    warm, again = _load(ref)
    seconds = time.perf_counter() - started
    served = registry.requests_since(mark, r"/v2/[^ ]*")
    assert not _blob_digests([r for r in served if "/blobs/" in r]) & layer_blobs, served
    assert len(served) == 2, served  # the manifest and the config
    assert warm.downloaded == []
    assert again.efficiency.score == first.efficiency.score  # type: ignore[attr-defined]
    print(f"warm re-open from the registry: {seconds:.3f} s")


def test_a_new_tag_on_a_cached_base_downloads_only_its_new_layers(
    registry: Registry, skopeo: None, tmp_path: Path
) -> None:
    base = b.Layer(entries=[b.file("base/f", b"base layer\n" * 1000)], compression="gzip")
    v1 = b.Image(layers=[base, b.Layer(entries=[b.file("app/v", b"1")], compression="gzip")])
    v2 = b.Image(layers=[base, b.Layer(entries=[b.file("app/v", b"2")], compression="gzip")])
    repo = f"{registry.addr}/ls-test/app-{os.getpid()}"
    for tag, image in (("v1", v1), ("v2", v2)):
        layout = b.oci_archive(image).write_dir(tmp_path / tag)
        skopeo_copy(f"oci:{layout}", f"docker://{repo}:{tag}")
    first, _ = _load(f"{repo}:v1")
    assert len(first.downloaded) == 2
    mark = registry.mark()
    second, result = _load(f"{repo}:v2")
    assert second.blobs[0] == first.blobs[0]
    assert second.downloaded == [second.blobs[1]]
    assert _blob_digests(registry.requests_since(mark)) & set(second.blobs) == {second.blobs[1]}
    assert [len(x) for x in result.layers] == [1, 1]  # type: ignore[attr-defined]


@pytest.mark.corpus
def test_oci_manifest_with_zstd_layers(skopeo: None, tmp_path: Path) -> None:
    archive, zstd = ARCHIVES / "waste.tar", ARCHIVES / "waste.oci-zstd.tar"
    if not zstd.exists():
        pytest.skip("corpus archive waste.oci-zstd.tar not built")
    # A registry of its own: skopeo would put the gzip blobs it pushed before in place of
    # these (its blob-info cache knows they hold the same layers).
    fresh = start_registry(tmp_path / "registry")
    try:
        ref = f"{fresh.addr}/corpus/waste-zstd:1"
        skopeo_copy(f"oci-archive:{zstd}", f"docker://{ref}")
        meta = RegistrySource(ref).open()
        zstd_type = "application/vnd.oci.image.layer.v1.tar+zstd"
        assert {lm.media_type for lm in meta.layers} == {zstd_type}
        from_registry = _json(f"registry://{ref}", tmp_path / "registry.json")
    finally:
        fresh.stop()
    from_archive = _json(str(archive), tmp_path / "archive.json")
    assert _without_ids(from_registry) == _without_ids(from_archive)


def test_multi_platform_index_picks_the_platform(
    registry: Registry, skopeo: None, tmp_path: Path
) -> None:
    def image(arch: str) -> b.Image:
        layer = b.Layer(entries=[b.file(f"arch/{arch}", arch.encode())], compression="gzip")
        return b.Image(architecture=arch, layers=[layer])

    layout = b.oci_archive(image("amd64"), image("arm64"), nested=True).write_dir(
        tmp_path / "multi"
    )
    ref = f"{registry.addr}/ls-test/multi-{os.getpid()}:1"
    skopeo_copy(f"oci:{layout}", f"docker://{ref}", "--all")

    def files(platform: str | None) -> list[str]:
        result = load(
            lambda: open_source(f"registry://{ref}", None, platform),
            lambda _e: None,
            threading.Event(),
        )
        return [p for index in result.layers for p in index.paths]

    assert files("linux/arm64") == ["arch/arm64"]
    assert files("linux/amd64") == ["arch/amd64"]
    done = layerscope(f"registry://{ref}", "--platform", "linux/s390x", "--json", "/dev/null")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "no image for platform linux/s390x" in done.stderr
    assert "linux/amd64" in done.stderr and "linux/arm64" in done.stderr


@pytest.mark.engine
@pytest.mark.corpus
def test_an_image_pushed_by_the_engine(registry: Registry, tmp_path: Path) -> None:
    def docker(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=600)

    if docker("image", "inspect", "corpus/multistage:1").returncode != 0:
        pytest.skip("corpus/multistage:1 is not in the engine")
    tag = f"{registry.addr}/ls-test/pushed-{os.getpid()}:{time.monotonic_ns()}"
    assert docker("tag", "corpus/multistage:1", tag).returncode == 0
    try:
        pushed = docker("push", tag)
        assert pushed.returncode == 0, pushed.stderr
        from_registry = _json(f"registry://{tag}", tmp_path / "registry.json")
    finally:
        docker("rmi", tag)
    from_archive = _json(str(ARCHIVES / "multistage.tar"), tmp_path / "archive.json")
    assert _without_ids(from_registry) == _without_ids(from_archive)


def test_ci_and_source_flag(registry: Registry, skopeo: None, tmp_path: Path) -> None:
    ref = f"{registry.addr}/ls-test/small-{os.getpid()}:1"
    skopeo_copy(f"oci:{small_layout(tmp_path / 'layout')}", f"docker://{ref}")
    done = layerscope(ref, "--source", "registry", "--ci", "--lowestEfficiency", "0.5")
    assert done.returncode == 0, done.stderr
    assert f"Image Source: registry://{ref}" in done.stdout
    assert "PASS" in done.stdout and "Result:PASS" in done.stdout.replace(" ", "")
