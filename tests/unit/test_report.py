"""The acceptance image (every findings rule planted, two decoys, a secret deleted later):
findings at the right layers, nothing on the decoys, no secret in full in any format;
packages with the layer that installed them; reports valid against docs/report.schema.json;
the Markdown report as a snapshot; `report --ci` with `.layerscope.yaml`; `init`."""

from __future__ import annotations

import json
import threading
from functools import partial
from pathlib import Path

import jsonschema
import pytest

from explorer.commands import init as init_command
from explorer.commands import report as report_command
from explorer.core import findingfiles, findingimage, policy, reportformat
from explorer.core.findings import RULES, find
from explorer.core.loading import load
from explorer.core.report import build, of_result
from explorer.core.sources import open_source
from tests.unit import findings_image as fi

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "report.schema.json").read_text())


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return fi.build(tmp_path_factory.mktemp("findings"))


@pytest.fixture(scope="module")
def doc(archive) -> dict:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(findingimage, "LARGE_LAYER", fi.LARGE_LAYER)
        result = load(
            partial(open_source, str(archive), None, None), lambda _: None, threading.Event()
        )
        report = of_result(result)
    report["image"]["reference"] = "findings.tar"  # not the test's temporary directory
    return report


def test_every_rule_is_found_at_its_layer(doc):
    found = {(f["rule"], f["layer"], f["path"]) for f in doc["findings"]}
    missing = [
        (rule, layer, path)
        for rule, places in fi.EXPECTED.items()
        for layer, path in places
        if (rule, layer, path) not in found
    ]
    assert missing == []
    assert set(fi.EXPECTED) == set(RULES) - {"rule-error"}


def test_a_secret_deleted_later_is_still_shipped(doc):
    (key,) = [f for f in doc["findings"] if f["path"] == "/root/.ssh/id_rsa"]
    assert (key["rule"], key["layer"], key["visible"]) == ("secret-in-file", 3, False)
    assert "deleted in layer 4 but still shipped in layer 3" in key["message"]
    (token,) = [f for f in doc["findings"] if f["path"] == "/app/settings.py"]
    assert token["visible"] and "ghp_…Ds0A" in token["message"]


def test_nothing_on_the_decoys(doc):
    assert [f for f in doc["findings"] if f["path"] in fi.DECOYS] == []


def test_no_secret_in_full_in_any_format(doc):
    for text in (json.dumps(doc), reportformat.markdown(doc), reportformat.text(doc)):
        assert [s for s in fi.SECRETS if s in text] == []


def test_packages_carry_the_layer_that_installed_them(doc):
    pkgs = {(p["ecosystem"], p["name"]): p for p in doc["packages"]}
    assert pkgs["deb", "bash"]["layer"] == 0
    assert (pkgs["deb", "curl"]["layer"], pkgs["deb", "curl"]["version"]) == (0, "8.0.1")
    assert pkgs["deb", "curl"]["upgraded"] == [
        {"layer": 2, "version": "8.0.1", "previous": "7.88.1"}
    ]
    assert pkgs["deb", "git"]["layer"] == 2
    assert (pkgs["python", "requests"]["layer"], pkgs["python", "requests"]["version"]) == (
        2,
        "2.31.0",
    )
    assert pkgs["npm", "left-pad"]["layer"] == 1


def test_report_validates_against_the_schema(doc):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema"] == 1
    assert doc["config"]["env"][1].startswith("API_TOKEN=tK9m…")


def test_markdown_snapshot(doc, snapshot):
    text = reportformat.markdown(doc)
    assert len(text.encode()) < reportformat.MARKDOWN_LIMIT
    assert text == snapshot


def test_markdown_escapes_hostile_names():
    cell = reportformat.cell("<img src=x onerror=alert(1)>|[a](http://x)\x1b[31m")
    assert "<img" not in cell and "\\|" in cell and "\\[a\\]" in cell and "\x1b" not in cell


def test_markdown_stays_under_64_kb_however_many_findings(doc):
    many = dict(doc, findings=doc["findings"] * 500, image=dict(doc["image"]))
    many["image"]["layers"] = doc["image"]["layers"] * 50
    assert len(reportformat.markdown(many).encode()) < reportformat.MARKDOWN_LIMIT


def test_a_failing_rule_never_breaks_the_analysis(archive, monkeypatch):
    def broken(*_args):
        raise ValueError("odd input")

    monkeypatch.setattr(findingfiles, "mode_findings", broken)
    result = load(partial(open_source, str(archive), None, None), lambda _: None, threading.Event())
    found = find(result.meta, result.layers, result.analysis.reclaimable)
    errors = [f for f in found if f.rule == "rule-error"]
    assert len(errors) == 1 and "ValueError" in errors[0].message
    assert any(f.rule == "secret-in-file" for f in found)


# -- the command, CI rules, init ---------------------------------------------------------------


def _report(capsys, *argv: str) -> tuple[int, str, str]:
    code = report_command.main([*argv, "--no-cache"])
    out, err = capsys.readouterr()
    return code, out, err


RULES_FILE = """
reclaimable:
  max-bytes: 100MB
  max-percent: disabled
paths:
  block: ["**/.ssh/**"]
  deny-waste: ["/tmp/**"]
findings:
  fail-on-severity: none
  fail-on-rules: [vcs-metadata]
"""


def test_ci_fails_on_a_blocked_path_a_later_layer_deleted(archive, tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_FILE)
    code, out, _ = _report(capsys, str(archive), "--ci", "--rules", str(rules))
    assert code == 1
    assert "  PASS: reclaimableBytes:" in out
    assert "  SKIP: reclaimablePercent: rule disabled" in out
    assert "  FAIL: blockedPaths: 2 paths shipped" in out
    assert "/root/.ssh/id_rsa (layer 3, deleted in layer 4 but still shipped in layer 3)" in out
    assert "  FAIL: deniedWaste:" in out and "/tmp/build.tar" in out
    assert "  FAIL: findings: 1 with rules vcs-metadata" in out
    assert out.rstrip().endswith("Result:FAIL [Total:5] [Passed:1] [Failed:3] [Warn:0] [Skipped:1]")


def test_ci_passes_and_writes_the_report(archive, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".layerscope.yaml").write_text("findings:\n  fail-on-severity: none\n")
    code, out, _ = _report(capsys, str(archive), "--ci", "-o", "r.md", "--format", "markdown")
    assert code == 0 and "Result:PASS" in out
    assert (tmp_path / "r.md").read_text().startswith("## LayerScope report")


def test_ci_default_rules_fail_on_critical_findings(archive, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = _report(capsys, str(archive), "--ci")
    assert code == 1 and "  FAIL: findings: 4 with severity critical or worse" in out


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("findings:\n  fail-on-rule: [x]\n", "unknown key findings.fail-on-rule"),
        ("findings:\n  fail-on-rules: [no-such-rule]\n", "unknown rule 'no-such-rule'"),
        ("reclaimable:\n  max-bytes: lots\n", "expected a size such as 50MB"),
        ("paths: [a\n", "not valid YAML"),
    ],
)
def test_a_bad_rules_file_is_one_line_and_exit_2(archive, tmp_path, capsys, text, said):
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    code, out, err = _report(capsys, str(archive), "--ci", "--rules", str(rules))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and said in err and "Traceback" not in err


def test_report_json_to_a_file(archive, tmp_path, capsys):
    code, out, _ = _report(capsys, str(archive), "-o", str(tmp_path / "r.json"))
    assert code == 0 and out == ""
    jsonschema.validate(json.loads((tmp_path / "r.json").read_text()), SCHEMA)


def test_sizes_and_globs():
    assert policy.parse_size("50MB", "x") == 50_000_000
    assert policy.parse_size("50MiB", "x") == policy.parse_size("50M", "x") == 50 << 20
    regex = policy.glob_regex(["**/.git/**", ".env", "/tmp/*.log"])
    assert regex is not None
    assert regex.match("/app/.git/config") and regex.match("/.git/HEAD")
    assert regex.match("/.env") and regex.match("/srv/app/.env")
    assert regex.match("/tmp/a.log") and not regex.match("/tmp/x/a.log")
    assert not regex.match("/app/.github/x") and not regex.match("/app/.envrc")


@pytest.mark.parametrize("flavour", ["generic", "python", "node", "java", "go"])
def test_init_writes_a_valid_starter_and_never_overwrites(tmp_path, capsys, flavour):
    target = tmp_path / ".layerscope.yaml"
    assert init_command.main(["--flavour", flavour, str(target)]) == 0
    text = target.read_text()
    parsed = policy.parse(text, str(target))
    assert parsed.block and parsed.fail_on_severity == "high"
    assert init_command.main([str(target)]) == 2
    assert "already exists, not overwritten" in capsys.readouterr().err
    assert target.read_text() == text


def test_build_accepts_an_empty_image(archive):
    result = load(partial(open_source, str(archive), None, None), lambda _: None, threading.Event())
    doc = build(result.meta, result.layers, result.analysis, [], [])
    jsonschema.validate(doc, SCHEMA)
