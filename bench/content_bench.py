"""Random access to file content, side by side with GNU tar (a section of `make bench`).

The file is the deepest one (the furthest into the stream) of the largest gzip layer (by its
uncompressed size) of
`pyml.oci-gzip.tar`, or, when that archive was not built, of the largest OCI gzip archive of
the corpus (said in the table). GNU tar reaches it by decompressing the layer's blob up to
it (`tar -xzOf BLOB --occurrence=1 PATH`, the blob copied out of the archive beforehand);
LayerScope reads it with `layerscope cat ARCHIVE PATH --layer N`, warm (the layer cache holds
the index and the blob's gzip checkpoints from a first run), and, in-process, with the core's
`ContentAccess.read` alone (the image already open). Both write the bytes to /dev/null.

    python bench/content_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conformance.dive_oracle import ARCHIVES, child_env  # noqa: E402


def pick_archive() -> tuple[Path, str] | None:
    """pyml's OCI gzip archive, else the largest OCI gzip archive there is (and a note)."""
    pyml = ARCHIVES / "pyml.oci-gzip.tar"
    if pyml.exists():
        return pyml, ""
    found = sorted(ARCHIVES.glob("*.oci-gzip.tar"), key=lambda p: p.stat().st_size)
    if not found:
        return None
    return found[-1], f"{pyml.name} is not built here: measured on {found[-1].name} instead"


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=env, cwd=cwd)
    return time.perf_counter() - start


def measure(repeat: int) -> str:
    picked = pick_archive()
    if picked is None:
        return "## Random access to file content\n\nNo OCI gzip archive in the corpus: not run.\n"
    archive, note = picked
    from explorer.core.content import open_content
    from explorer.core.streams import compression_of

    with tempfile.TemporaryDirectory(prefix="layerscope-content-bench-") as tmp:
        work = Path(tmp)
        env = child_env(LAYERSCOPE_CACHE_DIR=str(work / "cache"))
        with open_content(str(archive)) as acc:
            sizes = {}
            for n in range(len(acc.layers)):
                path, offset, size, _ = acc.source.layer_blob(n)  # type: ignore[misc]
                with open(path, "rb") as f:
                    f.seek(max(offset, 0))
                    if compression_of(f.read(4)) == "gzip":
                        sizes[n] = (size, path, max(offset, 0))
            # the largest by what it holds (uncompressed)
            layer = max(sizes, key=lambda n: acc.layers[n].tar_size)
            size, path, offset = sizes[layer]
            index = acc.layers[layer]
            row = max(
                (i for i in range(len(index)) if index.types[i] == ord("0")),
                key=lambda i: index.offsets[i],
            )
            name = index.paths[row]
            tar_size = index.tar_size
            blob = work / "layer.tar.gz"
            with open(path, "rb") as f, open(blob, "wb") as out:
                f.seek(offset)
                out.write(f.read(size))
        # GNU tar names the member as the layer does ("./usr/..." or "usr/...").
        listed = subprocess.run(
            ["tar", "-tzf", str(blob)], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        member = next(m for m in listed if m.removeprefix("./").rstrip("/") == name)
        tar = [_timed(["tar", "-xzOf", str(blob), "--occurrence=1", member], env, work)]
        tar += [
            _timed(["tar", "-xzOf", str(blob), "--occurrence=1", member], env, work)
            for _ in range(repeat - 1)
        ]
        cat = [sys.executable, "-m", "explorer", "cat", str(archive), "/" + name]
        cat += ["--layer", str(layer)]
        first = _timed(cat, env, work)  # cold: indexes the image, builds the checkpoints
        ours = [_timed(cat, env, work) for _ in range(repeat)]
        core = []
        os.environ["LAYERSCOPE_CACHE_DIR"] = str(work / "cache")
        for _ in range(repeat):
            with open_content(str(archive)) as acc:  # the layer's checkpoints not yet read
                start = time.perf_counter()
                data = acc.read(layer, name)
                core.append(time.perf_counter() - start)
        digest = hashlib.sha256(data).hexdigest()[:16]
    t_tar, t_cat, t_core = (statistics.median(x) for x in (tar, ours, core))
    rows = [
        "## Random access to file content: LayerScope vs GNU tar",
        "",
        f"`/{name}` ({len(data):,} bytes, sha256 {digest}…), the deepest file of layer "
        f"{layer} of `{archive.name}`: its largest gzip layer, {size / (1 << 20):.1f} MiB "
        f"compressed, {tar_size / (1 << 20):.1f} MiB uncompressed.",
        "",
        "| work | GNU tar | layerscope | ratio |",
        "|---|---:|---:|---:|",
        f"| `tar -xzOf BLOB --occurrence=1 PATH` vs `layerscope cat` (warm) | {t_tar:.3f} s | "
        f"{t_cat:.3f} s | {t_tar / t_cat:.1f}× |",
        f"| … vs `ContentAccess.read` alone (the image open, its checkpoints not yet read) "
        f"| {t_tar:.3f} s | {t_core * 1000:.1f} ms | {t_tar / t_core:.0f}× |",
        "",
        f"Median of {repeat} runs. The first `layerscope cat` (cold cache: the image indexed, "
        f"the checkpoints built) took {first:.2f} s. Ratios are tar ÷ layerscope; the target "
        f"is at least 4×.",
    ]
    if note:
        rows += ["", f"- {note}"]
    return "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    print(measure(parser.parse_args().repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
