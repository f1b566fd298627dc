"""`.dive-ci` files and the `CI` variable, against the dive 0.13.1 binary on dive's own test image.

dive parses the rules file as YAML (flow style, any key case, anchors, Go's number typing) and
refuses a file that is not valid YAML with a configuration error (exit 1). Each file below goes
to both tools: the same report from the efficiency line on and the same exit code, or both refuse
it (the parser's message differs). The CI variable switches CI mode when Go's strconv.ParseBool
reads it as true.
"""

from __future__ import annotations

import subprocess

import pytest

from ..paths import DIVE_DATA
from .conftest import unavailable
from .dive_oracle import child_env, ci_lines, layerscope_argv

IMAGE = DIVE_DATA / "test-docker-image.tar"
REFUSED = "ci configuration error:"

CONFIGS = {
    "flow": b"rules: {lowestEfficiency: 0.99, highestUserWastedPercent: 0.9}\n",
    "lowercase": b"rules:\n  lowestefficiency: 0.99\n  highestuserwastedpercent: 0.9\n",
    "uppercase": b"RULES:\n  LOWESTEFFICIENCY: 0.99\n  HighestUserWastedPercent: 0.9\n",
    "dotted-key": b"rules.lowestEfficiency: 0.99\n",
    "malformed-flow": b"rules:\n  lowestEfficiency: 0.99\n  highestUserWastedPercent: [0.9\n",
    "malformed-indent": b"rules:\n  lowestEfficiency: 0.5\n bad: x\n",
    "malformed-tab": b"rules:\n\tlowestEfficiency: 0.5\n",
    "duplicate-key": b"rules:\n  lowestEfficiency: 0.5\n  lowestEfficiency: 0.6\n",
    "duplicate-elsewhere": b"other:\n  a: 1\n  a: 2\nrules:\n  lowestEfficiency: 0.99\n",
    "top-sequence": b"- a\n- b\n",
    "top-scalar": b"hello\n",
    "not-utf8": b"rules:\n  lowestEfficiency: 0.99 \xff\n",
    "empty": b"",
    "rules-scalar": b"rules: 5\n",
    "rules-empty-text": b'rules: ""\n',
    "rules-null": b"rules: ~\n",
    "rule-sequence": b"rules:\n  lowestEfficiency: [1, 2]\n",
    "rule-null": b"rules:\n  lowestEfficiency:\n  highestUserWastedPercent: ~\n",
    "rule-empty-text": b'rules:\n  lowestEfficiency: ""\n',
    "bool": b"rules:\n  lowestEfficiency: true\n",
    "yes-is-text": b"rules:\n  lowestEfficiency: yes\n",
    "hex": b"rules:\n  lowestEfficiency: 0x1\n  highestWastedBytes: 0x10\n",
    "octal": b"rules:\n  lowestEfficiency: 010\n  highestWastedBytes: 0o17\n",
    "underscores": b"rules:\n  highestWastedBytes: 1_000\n  lowestEfficiency: 0.000_1\n",
    "exponents": b"rules:\n  lowestEfficiency: 5e-1\n  highestUserWastedPercent: 1e-7\n",
    "signs": b"rules:\n  lowestEfficiency: +.5\n  highestWastedBytes: 1e3\n",
    "float-forms": b"rules:\n  lowestEfficiency: 1.0\n  highestUserWastedPercent: 0.10\n",
    "inf-nan": b"rules:\n  lowestEfficiency: .inf\n  highestUserWastedPercent: .NaN\n",
    "quoted": b'rules:\n  lowestEfficiency: "0.99"\n  highestWastedBytes: "1 KB"\n',
    "tags": b"rules:\n  lowestEfficiency: !!str 0.99\n  highestUserWastedPercent: !!float 1\n",
    "anchor": b"base: &b\n  lowestEfficiency: 0.99\nrules: *b\n",
    "merge": b"base: &b\n  lowestEfficiency: 0.99\nrules:\n  <<: *b\n  highestWastedBytes: 1KB\n",
    "documents": b"rules:\n  lowestEfficiency: 0.99\n---\nrules:\n  lowestEfficiency: 0.1\n",
    "bytes-colon": b"rules:\n  highestWastedBytes: 1:30\n",
    "bytes-leading-space": b'rules:\n  highestWastedBytes: " 20MB"\n',
    "bytes-two-points": b'rules:\n  highestWastedBytes: "1.2.3MB"\n',
    "bytes-commas": b'rules:\n  highestWastedBytes: "1,000 KiB"\n',
    "bytes-unit-case": b'rules:\n  highestWastedBytes: "20 mB "\n',
    "bytes-huge": b'rules:\n  highestWastedBytes: "99999999999999999999999 GB"\n',
    "byte-order-mark": b"\xef\xbb\xbfrules:\n  lowestEfficiency: 0.99\n",
}


@pytest.fixture(autouse=True)
def _dive_test_image() -> None:
    if not IMAGE.exists():
        unavailable("dive's test image", f"{IMAGE} missing; set LAYERSCOPE_SHARED")


def layerscope(args: list[str], cwd, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        layerscope_argv(IMAGE, *args),
        cwd=cwd,
        env=child_env(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )


@pytest.mark.parametrize("name", list(CONFIGS))
def test_ci_config_verdict_equals_dives(name, oracle, tmp_path):
    config = f"{name}.yaml"  # a relative name: dive's answer is cached under it
    for where in (oracle.workdir, tmp_path):
        (where / config).write_bytes(CONFIGS[name])
    want_rc, want = oracle.ci(IMAGE, ["--ci", "--ci-config", config])
    proc = layerscope(["--ci", "--ci-config", config], tmp_path)
    got = ci_lines(proc.stdout)
    shown = f"\n--- dive\n{chr(10).join(want)}\n--- layerscope\n{proc.stdout}{proc.stderr}"
    assert proc.returncode == want_rc, f"exit {proc.returncode}, dive exits {want_rc}{shown}"
    if any(line.startswith(REFUSED) for line in want):
        assert [line for line in got if line.startswith(REFUSED)], shown
        assert not any(line.startswith("Results:") for line in got), shown
    else:
        assert got == want, shown


@pytest.mark.parametrize(
    "value", ["1", "t", "T", "TRUE", "true", "True", "0", "f", "FALSE", "yes", "on", "2", ""]
)
def test_ci_variable_read_as_go_reads_a_boolean(value, oracle, tmp_path):
    """CI mode when dive takes the value for true; otherwise both go for the TUI, which has no
    terminal here: dive fails to open its screen (exit 1), layerscope says it needs one (2)."""
    _rc, want = oracle.ci(IMAGE, [], env={"CI": value})
    dive_ci_mode = any(line.startswith("Result:") for line in want)
    proc = layerscope([], tmp_path, CI=value)
    assert ("Result:" in proc.stdout) == dive_ci_mode, proc.stdout + proc.stderr
    if not dive_ci_mode:
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "terminal" in proc.stderr
