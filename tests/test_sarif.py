"""`orchdsl check --format sarif`: every log validates against the official SARIF
2.1.0 JSON Schema (``tests/schemas/``, OASIS, see its NOTICE), and says what the
diagnostics say: rule, level, message, location, related locations, a fix for
"did you mean"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from orchdsl.cli import main
from orchdsl.codes import CODES
from orchdsl.pipeline import check_files, check_text

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
VALIDATOR = Draft4Validator(SCHEMA, format_checker=Draft4Validator.FORMAT_CHECKER)
BAD = "examples/bad/twelve_mistakes.orch"
BAD_SPECS = [BAD, *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "golden" / "bad").glob("*.orch"))]


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def sarif(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--format", "sarif", *argv])
    out = capsys.readouterr().out
    log = json.loads(out)
    errors = sorted(VALIDATOR.iter_errors(log), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    return code, log


def test_the_schema_is_the_official_one() -> None:
    assert SCHEMA["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    Draft4Validator.check_schema(SCHEMA)
    assert (ROOT / "tests" / "schemas" / "NOTICE.md").is_file()


def test_the_validator_rejects_a_broken_log() -> None:
    assert list(VALIDATOR.iter_errors({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}))
    assert list(VALIDATOR.iter_errors({"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "level": "fatal"}]}]}))


def test_a_clean_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, log = sarif(capsys, "examples/startup.orch")
    assert code == 0
    (run,) = log["runs"]
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")
    assert run["results"] == [] and run["tool"]["driver"]["name"] == "orchdsl"
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_a_spec_with_a_warning_only(capsys: pytest.CaptureFixture[str]) -> None:
    code, log = sarif(capsys, "specs/orchestration_v2.orch")
    assert code == 0
    (run,) = log["runs"]
    (result,) = run["results"]
    assert result["ruleId"] == "ORC328" and result["level"] == "warning"
    assert run["invocations"] == [{"executionSuccessful": True}]


@pytest.mark.parametrize("spec", BAD_SPECS, ids=lambda s: Path(s).stem)
def test_every_diagnostic_is_a_result(capsys: pytest.CaptureFixture[str], spec: str) -> None:
    code, log = sarif(capsys, spec)
    assert code == 1
    (run,) = log["runs"]
    diags = check_files([Path(spec)]).diagnostics
    results = run["results"]
    rules = run["tool"]["driver"]["rules"]
    assert len(results) == len(diags)
    assert [r["id"] for r in rules] == sorted({d.code for d in diags})
    for rule in rules:
        code_ = CODES[rule["id"]]
        assert rule["name"] == code_.name
        assert rule["shortDescription"]["text"] == code_.summary
        assert rule["defaultConfiguration"]["level"] == code_.severity.value
        page = rule["helpUri"].rsplit("/docs/", 1)[1]
        assert (ROOT / "docs" / page).is_file(), rule["helpUri"]
        assert rule["help"]["markdown"] == (ROOT / "docs" / page).read_text(encoding="utf-8")
    for d, r in zip(diags, results, strict=True):
        assert r["ruleId"] == d.code and rules[r["ruleIndex"]]["id"] == d.code
        assert r["level"] == d.severity.value
        assert r["message"]["text"].split("\n")[0] == d.message
        if d.help:
            assert r["message"]["text"].endswith(d.help)
        assert d.span is not None
        (loc,) = r["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"] == {"uri": spec, "uriBaseId": "%SRCROOT%"}
        assert phys["region"] == {"startLine": d.span.line, "startColumn": d.span.column,
                                  "endLine": d.span.end_line, "endColumn": d.span.end_column}
        related = r.get("relatedLocations", [])
        assert [x["message"]["text"] for x in related] == [lb.message for lb in d.labels]
        assert [x["physicalLocation"]["region"]["startLine"] for x in related] == [lb.span.line for lb in d.labels]


def test_did_you_mean_is_a_fix(capsys: pytest.CaptureFixture[str]) -> None:
    _, log = sarif(capsys, BAD)
    (run,) = log["runs"]
    fixed = [r for r in run["results"] if "fixes" in r]
    assert fixed
    lines = (ROOT / BAD).read_text(encoding="utf-8").splitlines()
    for r in fixed:
        (fix,) = r["fixes"]
        (change,) = fix["artifactChanges"]
        (rep,) = change["replacements"]
        region, new = rep["deletedRegion"], rep["insertedContent"]["text"]
        line = lines[region["startLine"] - 1]
        old = line[region["startColumn"] - 1 : region["endColumn"] - 1]
        assert f"did you mean `{new}`?" in r["message"]["text"]
        assert f"`{old}`" in r["message"]["text"].split("\n")[0]
    assert any(rep["insertedContent"]["text"] == "tech-lead"
               for r in fixed for rep in r["fixes"][0]["artifactChanges"][0]["replacements"])


def test_uris_of_standard_input_and_of_files_elsewhere(tmp_path: Path) -> None:
    from orchdsl.sarif import sarif_log

    result = check_text("role x {}\n", "<stdin>")
    log = sarif_log(result.diagnostics)
    assert not list(VALIDATOR.iter_errors(log))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]
            if "locations" in r}
    assert uris == {"stdin"}
    spec = tmp_path / "my org.orch"
    spec.write_text("role x {}\n", encoding="utf-8")
    log = sarif_log(check_files([spec]).diagnostics)
    assert not list(VALIDATOR.iter_errors(log))
    loc = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": spec.as_uri()} and "%20" in loc["uri"]


@pytest.mark.parametrize("argv", [["no/such.orch"], ["--bogus", "x.orch"]], ids=["missing", "usage"])
def test_usage_and_io_errors_are_a_failed_run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    try:
        code = main(["check", "--format", "sarif", *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    log = json.loads(capsys.readouterr().out)
    assert code == 2
    assert not list(VALIDATOR.iter_errors(log))
    (inv,) = log["runs"][0]["invocations"]
    assert inv["executionSuccessful"] is False and inv["exitCode"] == 2
    assert inv["toolExecutionNotifications"][0]["level"] == "error"
    assert log["runs"][0]["results"] == []


def test_sarif_output_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "--format", "sarif", BAD])
    first = capsys.readouterr().out
    main(["check", "--format", "sarif", BAD])
    assert capsys.readouterr().out == first
    assert str(ROOT) not in first
