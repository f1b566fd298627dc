"""Reading `.dive-ci` files as dive 0.13.1 does (the values below are what dive reads; the
conformance test tests/conformance/test_dive_ci_config.py checks them against the binary)."""

from __future__ import annotations

import pytest

from explorer.core.ciconfig import MAX_BYTES, read_rules_file, rules_of
from explorer.core.errors import ConfigError
from explorer.core.humanize_go import parse_bytes

RULES_READ = [
    ("rules: {lowestEfficiency: 0.5}\n", {"lowestEfficiency": "0.5"}),
    ("RULES:\n  lowestefficiency: 0.5\n", {"lowestEfficiency": "0.5"}),
    ("rules.highestWastedBytes: 20MB\n", {"highestWastedBytes": "20MB"}),
    ("rules:\n  lowestEfficiency: 010\n", {"lowestEfficiency": "8"}),
    ("rules:\n  lowestEfficiency: 0x1\n", {"lowestEfficiency": "1"}),
    ("rules:\n  highestWastedBytes: 1_000\n", {"highestWastedBytes": "1000"}),
    ("rules:\n  lowestEfficiency: 1e-7\n", {"lowestEfficiency": "0.0000001"}),
    ("rules:\n  lowestEfficiency: 1.0\n", {"lowestEfficiency": "1"}),
    ("rules:\n  lowestEfficiency: .inf\n", {"lowestEfficiency": "+Inf"}),
    ("rules:\n  lowestEfficiency: yes\n", {"lowestEfficiency": "yes"}),
    ("rules:\n  lowestEfficiency: True\n", {"lowestEfficiency": "true"}),
    ("rules:\n  lowestEfficiency: '0.50'\n", {"lowestEfficiency": "0.50"}),
    (
        "rules:\n  highestWastedBytes: 99999999999999999999\n",
        {"highestWastedBytes": "1" + "0" * 20},
    ),
    ("rules:\n  lowestEfficiency: [1]\n", {"lowestEfficiency": ""}),
    ("rules:\n  lowestEfficiency:\n", {}),
    ("rules: ~\n", {}),
    ("", {}),
    ("# only a comment\n", {}),
    (
        "rules: 5\n",
        dict.fromkeys(("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent"), ""),
    ),
    ("b: &b {lowestEfficiency: 0.7}\nrules:\n  <<: *b\n", {"lowestEfficiency": "0.7"}),
    ("rules: {lowestEfficiency: 0.7}\n---\n[\n", {"lowestEfficiency": "0.7"}),
]


@pytest.mark.parametrize(("text", "rules"), RULES_READ)
def test_rules_read_as_dive_reads_them(text, rules):
    """Flow style, any key case, dotted keys, Go's numbers, YAML 1.2 booleans, aliases and
    merges, the first document only; a `rules` that is no mapping empties every rule."""
    assert rules_of(text) == rules


REFUSED = [
    "rules:\n  lowestEfficiency: [0.9\n",
    "rules:\n  lowestEfficiency: 0.5\n bad: x\n",
    "rules:\n\tlowestEfficiency: 0.5\n",
    "rules:\n  lowestEfficiency: 0.5\n  lowestEfficiency: 0.6\n",
    "x:\n  a: 1\n  a: 2\n",
    "- a\n",
    "hello\n",
    "[" * 100_000,
    "rules:\n  <<: 5\n",
]


@pytest.mark.parametrize("text", REFUSED, ids=range(len(REFUSED)))
def test_refused_as_dive_refuses_them(text):
    """Invalid YAML, a duplicate key, a document that is no mapping, a bad merge, nesting too
    deep for the parser: a configuration error (dive: exit 1), never thresholds half read."""
    with pytest.raises(ConfigError):
        rules_of(text)


def test_aliases_are_decoded_once():
    """A 'billion laughs' file: nine levels of nine aliases each would be 387 million values
    if each alias were expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    assert rules_of("\n".join(lines) + "\nrules: {lowestEfficiency: 0.5}\n") == {
        "lowestEfficiency": "0.5"
    }


def test_file_errors_are_config_errors(tmp_path):
    """Over 1 MiB, not UTF-8, a directory: a configuration error naming the file."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"rules:\n  lowestEfficiency: \xff\n")
    for path in (big, bad, tmp_path):
        with pytest.raises(ConfigError, match=str(path)):
            read_rules_file(str(path))


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("20MB", 20_000_000),
        ("20 mB ", 20_000_000),
        ("1,000 KiB", 1_024_000),
        ("1.5k", 1500),
        (" 20MB", 'strconv.ParseFloat: parsing "": invalid syntax'),
        ("1:30", "unhandled size name: :30"),
        ("1.2.3MB", 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
        ("99999999999999999999999 GB", "too large: 99999999999999999999999 GB"),
    ],
)
def test_byte_thresholds_read_as_go_humanize_reads_them(text, result):
    """highestWastedBytes values as dive's go-humanize ParseBytes reads them, its error
    messages included (a leading space is an error there: it was accepted here)."""
    if isinstance(result, int):
        assert parse_bytes(text) == result
    else:
        with pytest.raises(ValueError) as caught:
            parse_bytes(text)
        assert str(caught.value) == result
