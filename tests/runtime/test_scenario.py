"""Scenarios: every example runs green; a bad scenario is reported at the line and
column of the offending YAML node; a failed expectation or an unexpected
refusal fails the run with its place."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from orchdsl_runtime.scenario import ScenarioError, load, loads, play_file

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "examples" / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def model_path(compiled_dir: Path) -> Path:
    return compiled_dir / "model.json"


def test_there_are_at_least_four_examples() -> None:
    assert len(SCENARIOS) >= 4


Played = dict[str, tuple[list[str], dict[str, Any], str]]


@pytest.fixture(scope="module")
def played(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Played:
    """Every example played once: failures, report and the narrated output."""
    out: Played = {}
    for path in SCENARIOS:
        text = io.StringIO()
        run, failures, rep = play_file(model_path, path, tmp_path_factory.mktemp(path.stem), text)
        run.close()
        out[path.stem] = ([str(f) for f in failures], rep, text.getvalue())
    return out


@pytest.mark.parametrize("name", [p.stem for p in SCENARIOS])
def test_example_scenario_runs_green(name: str, played: Played) -> None:
    failures, rep, text = played[name]
    assert failures == [], text
    assert rep["scenario"]["log_verified"]
    assert "(as expected): RUN" in text  # every example shows the runtime saying no


def test_examples_cover_the_issue(played: Played) -> None:
    reports = [rep for _, rep, _ in played.values()]
    moves = [m for r in reports for m in r["automatic_moves"]]
    assert any(m["source"] == "BLOCKED" and m["target"] == "ESCALATED" for m in moves)
    assert any(r["escalations"]["assignment"] for r in reports)
    assert any(r["utilisation"].get("backend", {}).get("peak_band") == "critical" for r in reports)
    assert sum(r["tasks_by_state"].get("COMPLETED", 0) for r in reports) >= 4
    texts = "".join(t for _, _, t in played.values())
    assert "READY_FOR_HANDOFF -> IN_PROGRESS" in texts  # a rejected handoff


def test_the_story_shows_iso_times_and_lines_up(played: Played) -> None:
    for name, (_, _, text) in played.items():
        story = [line for line in text.splitlines() if re.match(r"    \d{4}-", line)]
        assert story, name
        for line in story:  # `    TIME  ACTOR  WHAT`, the time ISO 8601 UTC
            assert re.match(r"    \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  \S", line), line
        assert not re.search(r"\b\d{9,}(\.\d+)?\b", text), f"{name}: a raw epoch time in the story"
        column = {len(line) - len(line.lstrip()) for line in text.splitlines() if line.lstrip().startswith("ok: ")}
        assert column == {48}, (name, column)  # the expectations line up with what happened
        assert "ISO" not in text


def test_cli_plays_a_scenario_from_a_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orchdsl.cli import main

    spec = ROOT / "specs" / "orchestration_v2.orch"
    scenario = ROOT / "examples" / "scenarios" / "tier1_bug_fix.yaml"
    assert main(["run", str(spec), "--scenario", str(scenario)]) == 0
    out = capsys.readouterr().out
    assert "Success metrics" in out and "every expectation held" in out
    assert main(["run", str(spec), "--scenario", str(scenario), "--json", "--dir", str(tmp_path / "d")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["tasks_by_state"] == {"COMPLETED": 1} and rep["scenario"]["failures"] == []
    assert (tmp_path / "d" / "Agent_Memory" / "I1" / "tasks" / "tactical" / "backend" / "TT0.1.yaml").is_file()
    # `run SPEC` compiles the spec: the run directory has every schema of the compiler
    for name in ("notice", "escalation", "gate-decision", "tactical-task", "standup-ic-daily"):
        assert (tmp_path / "d" / "schemas" / f"{name}.schema.json").is_file(), name


BAD = """\
name: bad
steps:
  - submit: {as: human, tier: 1, text: fine}
  - move: {as: dev, task: T1, too: DONE}
  - assign: {task: T1}
  - advance: 4 hours
  - heartbeat: {as: dev, task: T1}
    gate: {as: v, task: T1, gate: g}
  - frobnicate: yes
"""


def locations(text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(ScenarioError) as info:
        loads(text, "s.yaml")
    return [(p.line, p.col, p.message) for p in info.value.problems]


def test_schema_errors_are_located() -> None:
    probs = locations(BAD)
    by_line = {line: (col, msg) for line, col, msg in probs}
    assert by_line[4][0] == 31 and "unknown key `too`" in by_line[4][1]
    assert by_line[5][0] == 13 and "missing key `as`" in by_line[5][1]
    assert by_line[6][0] == 14 and "`4 hours`" in by_line[6][1]
    assert by_line[9][0] == 5 and "unknown key `frobnicate`" in by_line[9][1]
    assert all(msg.startswith("error: ") for _, _, msg in probs)
    assert str(ScenarioError([]).problems) == "[]"


def test_structural_errors_are_located() -> None:
    probs = locations("name: x\nsteps:\n  - heartbeat: {as: d, task: T}\n    gate: {as: v, task: T, gate: g}\n")
    assert probs == [(4, 5, "error: a step has one command; this one has `heartbeat`, `gate`")]
    probs = locations("name: x\nsteps:\n  - expect_refused: RUN004\n")
    assert probs[0][:2] == (3, 5)
    probs = locations("name: x\nsteps:\n  - submit: {as: h, tier: 1, text: [unclosed\n")
    assert probs[0][0] == 4 and "invalid YAML" in probs[0][2]
    probs = locations("- just\n- a list\n")
    assert probs[0][:2] == (1, 1)
    assert locations("name: x\n")[0][2] == "error: missing key `steps`"


def test_aliases_cannot_blow_a_scenario_up() -> None:
    """A "billion laughs" of nested aliases is refused before anything expands it; an alias that
    holds itself is refused too; ordinary aliases still work."""
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    probs = locations("\n".join(lines) + "\nname: x\nsteps:\n  - say: *a8\n")
    assert len(probs) == 1 and probs[0][0] == 6 and "more than 100000 values" in probs[0][2]  # at `a5`
    probs = locations("loop: &l [*l]\nname: x\nsteps: []\n")
    assert probs == [(1, 7, "error: an alias refers to a value that holds it")]  # the value it holds
    sc = loads("name: x\nsteps:\n  - submit: &who {as: human, tier: 1, text: hi}\n  - submit: *who\n")
    assert sc.steps[0]["submit"] == sc.steps[1]["submit"]


def test_failed_expectations_are_located(model_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "fail.yaml"
    path.write_text(
        "name: failing\n"
        "steps:\n"
        "  - submit: {as: human, tier: 1, text: work, id: I1}\n"
        "  - create_task: {as: executor, instruction: I1, domain: backend, title: t, skills: python, estimate: 2h}\n"
        "    expect:\n"
        "      state: {TT0.1: ASSIGNED}\n"
        "  - assign: {as: executor, task: TT0.1}\n"
    )
    out = io.StringIO()
    run, failures, _ = play_file(model_path, path, tmp_path / "r", out)
    run.close()
    assert [str(f) for f in failures] == [
        f"{path}:6:22: error: expected `TT0.1` in `ASSIGNED`, it is in `PENDING`"]
    assert "stopped: 1 step(s) not played" in out.getvalue()

    path.write_text(
        "name: refusals\n"
        "steps:\n"
        "  - submit: {as: human, tier: 1, text: work, id: I1}\n"
        "    expect_refused: RUN004\n"
    )
    run, failures, _ = play_file(model_path, path, tmp_path / "r2", io.StringIO())
    run.close()
    assert [str(f) for f in failures] == [
        f"{path}:4:21: error: expected refusal RUN004, but `submit` was accepted"]

    path.write_text(
        "name: refused\n"
        "steps:\n"
        "  - submit: {as: nobody, tier: 1, text: work}\n"
    )
    run, failures, _ = play_file(model_path, path, tmp_path / "r3", io.StringIO())
    run.close()
    assert len(failures) == 1 and str(failures[0]).startswith(f"{path}:3:5: error: `submit` was refused: RUN001")


def test_scenario_exit_codes(model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orchdsl_runtime.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    assert main(["scenario", str(model_path), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4:31: error: unknown key `too`" in err
    failing = tmp_path / "failing.yaml"
    failing.write_text("name: f\nsteps:\n  - submit: {as: nobody, tier: 1, text: x}\n")
    assert main(["scenario", str(model_path), str(failing)]) == 1
    assert f"{failing}:3:5: error:" in capsys.readouterr().err


def test_load_reads_files() -> None:
    sc = load(SCENARIOS[0])
    assert sc.data["steps"] and sc.where(("steps", 0)) [0] > 1
