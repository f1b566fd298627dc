"""The plan for indexing layers in worker processes: layers are handed out bottom up, and
workers are started only where they take enough work off the longest queue. These tests
state the policy (order, which side of the threshold a case falls on), not the cost model's
formula, so the model can be retuned without rewriting them."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from explorer.core.sources.workers import PARALLEL_MIN_SECONDS, Job, _cost, _plan
from tests.robustness import builders as b

MB = 1 << 20
FILES = 100_000  # a layer of this many small files is worth a worker of its own


def job(layer: int, path: Path, layers: list[int] | None = None) -> Job:
    return Job(layers or [layer], str(path), 0, path.stat().st_size, f"layer {layer}", "")


@pytest.fixture
def opaque(tmp_path: Path):
    """opaque(size) -> a blob of `size` zero bytes (sparse: no disk used): bytes to read and
    hash, no tar entries to parse."""

    def make(size: int) -> Path:
        path = tmp_path / f"opaque-{size}"
        with open(path, "wb") as f:
            f.truncate(size)
        return path

    return make


@pytest.fixture(scope="module")
def many_files(tmp_path_factory) -> Path:
    """A plain layer of FILES empty files: few bytes, many entries."""
    path = tmp_path_factory.mktemp("plan") / "many-files.tar"
    with open(path, "wb") as f:
        for chunk in b.tar_stream(b.many_files(FILES // 1000, 1000)):
            f.write(chunk)
    return path


def test_layers_are_handed_out_bottom_up(opaque):
    big, small = opaque(900 * MB), opaque(10 * MB)
    jobs = [job(2, small), job(1, big), job(3, small, [3, 0])]  # layer 0 repeats layer 3's blob
    _saving, order = _plan(jobs, 2)
    assert [j.layers for j in order] == [[3, 0], [1], [2]]


def test_one_big_layer_with_small_ones_stays_serial(opaque):
    jobs = [job(0, opaque(10 * MB)), job(1, opaque(900 * MB)), job(2, opaque(20 * MB))]
    saving, _ = _plan(jobs, 2)
    assert 0 <= saving < PARALLEL_MIN_SECONDS


def test_big_layers_of_equal_weight_go_parallel(opaque):
    blob = opaque(900 * MB)
    saving, _ = _plan([job(0, blob), job(1, blob)], 2)
    assert saving >= PARALLEL_MIN_SECONDS


def test_more_workers_take_more_off_the_longest_queue(opaque):
    blob = opaque(900 * MB)
    jobs = [job(n, blob) for n in range(3)]
    assert _plan(jobs, 3)[0] > _plan(jobs, 2)[0] > 0


def test_many_small_files_go_parallel_where_the_same_bytes_would_not(many_files, opaque):
    """Per-entry work dominates a layer of small files: two such layers are worth workers,
    two opaque blobs of the same size are not."""
    files_saving, _ = _plan([job(0, many_files), job(1, many_files)], 2)
    same_bytes = opaque(many_files.stat().st_size)
    bytes_saving, _ = _plan([job(0, same_bytes), job(1, same_bytes)], 2)
    assert bytes_saving < PARALLEL_MIN_SECONDS <= files_saving


def test_compressed_blobs_weigh_more_than_their_stored_size(tmp_path, opaque):
    packed = tmp_path / "packed.gz"
    packed.write_bytes(gzip.compress(b.noise(4 * MB)))
    size = packed.stat().st_size
    assert _cost(job(0, packed)) > _cost(job(1, opaque(4 * size)))
