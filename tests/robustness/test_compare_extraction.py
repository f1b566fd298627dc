"""`compare` against GNU tar: random image pairs (tests/robustness/compare_pairs.py) built as
archives, opened through the loading pipeline and compared; the added / removed / modified
paths (and what differs in each) must be those of the two images extracted on disk, and each
change must name the layer of B that made it, found on disk too (B extracted layer by layer).
"""

from __future__ import annotations

import os
import shutil
import threading
from functools import partial
from pathlib import Path

import pytest

from explorer.core import cachesettings
from explorer.core.compare import compare, load_pair
from explorer.core.fsdiff import diff_layers
from explorer.core.sources import open_source
from tests.robustness import compare_pairs as cp

pytestmark = [
    pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="owners are only restored by root"),
]

SEEDS = range(int(os.environ.get("COMPARE_SEEDS", "8")))


def _entry_layers(layers, path: str) -> list[int]:
    """B's layers with an entry for `path` (not a whiteout)."""
    out = []
    for n, entries in enumerate(layers):
        names = {e.name.rstrip("/") if isinstance(e.name, str) else "" for e in entries}
        if path in names:
            out.append(n)
    return out


def _removed_by(states: list[dict], path: str, shared: int) -> int | None:
    """The last layer of B (past the shared ones) after which B no longer has `path`."""
    for n in range(len(states) - 1, max(shared, 1) - 1, -1):
        if path in states[n - 1] and path not in states[n]:
            return n
    return shared if shared < len(states) else None


def run_pair(tmp: Path, scenario: str, seed: int) -> None:
    a_layers, b_layers = cp.pair(scenario, seed)
    fmt_b = "oci" if seed % 2 else "docker"
    path_a = cp.archive(tmp / "a.tar", a_layers)
    path_b = cp.archive(tmp / "b.tar", b_layers, fmt_b)
    states_a = cp.extract(tmp / "disk-a", a_layers, tmp)
    states_b = cp.extract(tmp / "disk-b", b_layers, tmp)
    expected = cp.disk_diff(states_a[-1], states_b[-1])

    with cachesettings.configured(root=tmp / "cache"):
        a, b = load_pair(
            partial(open_source, str(path_a), None, None),
            partial(open_source, str(path_b), None, None),
            lambda _side, _event: None,
            threading.Event(),
        )
    cmp = compare(a, b)
    # Both ways of finding the changes (trees walked, paths looked up) give the same ones.
    shared = cmp.diverges_at
    trees = diff_layers(a.layers, b.layers, shared, lookups=False).changes
    looked_up = diff_layers(a.layers, b.layers, shared, lookups=True).changes
    assert looked_up == trees, f"{scenario}/{seed}: lookups differ from the trees"
    got = {
        "added": {c.path[1:] for c in cmp.changes if c.status == "added"},
        "removed": {c.path[1:] for c in cmp.changes if c.status == "removed"},
        "modified": {
            f"{c.path[1:]}:{w}" for c in cmp.changes if c.status == "modified" for w in c.what
        },
    }
    for key in ("added", "removed", "modified"):
        assert got[key] == expected[key], (
            f"{scenario}/{seed} {key}: only compare {sorted(got[key] - expected[key])}, "
            f"only on disk {sorted(expected[key] - got[key])}"
        )
    assert shared == sum(1 for x, y in zip(a_layers, b_layers, strict=False) if x is y)
    for c in cmp.changes:
        path = c.path[1:]
        if c.status == "removed":
            assert c.layer == _removed_by(states_b, path, shared), f"{scenario}/{seed} {c}"
        else:
            writers = _entry_layers(b_layers, path)
            assert writers and c.layer == writers[-1], f"{scenario}/{seed} {c} {writers}"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scenario", sorted(cp.SCENARIOS))
def test_compare_equals_gnu_tar_extraction(tmp_path: Path, scenario: str, seed: int) -> None:
    run_pair(tmp_path, scenario, seed)


def test_every_scenario_makes_the_changes_it_is_about(tmp_path: Path) -> None:
    """The generator is not vacuous: across the seeds, each scenario yields the changes it
    is named after (same-size content, mode and owner only, type changes, removals)."""
    seen: dict[str, set[str]] = {}
    same_size = 0
    for scenario in cp.SCENARIOS:
        for seed in SEEDS:
            a_layers, b_layers = cp.pair(scenario, seed)
            work = tmp_path / f"{scenario}-{seed}"
            work.mkdir()
            states_a = cp.extract(work / "a", a_layers, work)
            states_b = cp.extract(work / "b", b_layers, work)
            diff = cp.disk_diff(states_a[-1], states_b[-1])
            kinds = seen.setdefault(scenario, set())
            kinds |= {m.rpartition(":")[2] for m in diff["modified"]}
            kinds |= {k for k in ("added", "removed") if diff[k]}
            if scenario == "same_size":
                same_size += sum(
                    1
                    for m in diff["modified"]
                    if states_a[-1][m.rpartition(":")[0]].size
                    == states_b[-1][m.rpartition(":")[0]].size
                )
    assert same_size >= len(SEEDS), "too few same-size content changes"
    assert {"content"} <= seen["same_size"]
    assert {"mode", "owner"} <= seen["mode_owner"]
    assert {"type", "added", "removed"} <= seen["retype"]
    assert {"added", "removed", "content", "mode", "owner", "type"} <= seen["plus"]
    assert {"added", "removed"} <= seen["diverge"]
