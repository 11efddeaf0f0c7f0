"""Every spec and example runs: the scenarios of each organisation play to their end, take
tasks to terminal states, and every file they project validates against its schema.

Scenarios live in ``examples/scenarios/``: those at the top play the V2 organisation
(``tests/runtime/test_scenario.py`` plays them), those in a folder named after a spec play
that spec (``examples/scenarios/startup/`` plays ``examples/startup.orch``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from orchdsl_runtime.scenario import play_file

from orchdsl.compile import compile_to_dir
from orchdsl.pipeline import check_files, check_text

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "examples" / "scenarios"


def specs() -> dict[str, Path]:
    """Every organisation in the repository by its file's stem."""
    found = sorted((ROOT / "specs").glob("*.orch")) + sorted((ROOT / "examples").glob("*.orch"))
    return {p.stem: p for p in found}


def scenarios_of(stem: str) -> list[Path]:
    if stem == "orchestration_v2":
        return sorted(SCENARIOS.glob("*.yaml"))
    return sorted((SCENARIOS / stem).glob("*.yaml"))


def folder_cases() -> list[tuple[str, Path]]:
    return [(stem, sc) for stem in specs() if stem != "orchestration_v2" for sc in scenarios_of(stem)]


def compile_spec(spec: Path, out: Path, text: str | None = None) -> Path:
    result = check_text(text, str(spec)) if text is not None else check_files([spec])
    assert result.ok and result.model is not None, [f"{d.span}: {d.message}" for d in result.diagnostics]
    compile_to_dir(result.model, out)
    return out / "model.json"


def play(model: Path, scenario: Path, where: Path) -> tuple[list[str], dict[str, object], str]:
    text = io.StringIO()
    run, failures, report = play_file(model, scenario, where, text)
    run.close()
    return [str(f) for f in failures], report, text.getvalue()


def test_every_spec_has_a_scenario() -> None:
    """Each `.orch` in specs/ and examples/ (a new one included) is played by a scenario."""
    assert {"orchestration_v1", "orchestration_v2", "startup", "token_budget"} <= set(specs())
    missing = [stem for stem in specs() if not scenarios_of(stem)]
    assert missing == [], f"no scenario in examples/scenarios/<stem>/ for {missing}"


def test_scenario_folders_name_a_spec() -> None:
    folders = {p.name for p in SCENARIOS.iterdir() if p.is_dir()}
    assert folders <= set(specs()), folders - set(specs())


@pytest.mark.parametrize("stem, scenario", folder_cases(), ids=lambda x: x if isinstance(x, str) else x.name)
def test_scenario_plays_to_a_terminal_state(stem: str, scenario: Path, tmp_path: Path) -> None:
    model = compile_spec(specs()[stem], tmp_path / "out")
    failures, report, text = play(model, scenario, tmp_path / "run")
    assert failures == [], text
    scenario_report = report["scenario"]
    assert isinstance(scenario_report, dict) and scenario_report["log_verified"]
    states = report["tasks_by_state"]
    assert isinstance(states, dict)
    terminal = {s.name for s in check_files([specs()[stem]]).model.lifecycle.states  # type: ignore[union-attr]
                if s.terminal}
    assert any(states.get(s) for s in terminal), f"no task of {scenario.name} ends in {sorted(terminal)}"


def test_task_files_match_their_schema_when_fewer_factors_are_weighted(tmp_path: Path) -> None:
    """The runtime records all five factors of a candidate; a spec that weighs two of them
    still gets task files its own schema accepts, and `log --verify` checks that it does."""
    spec = specs()["startup"]
    text = spec.read_text(encoding="utf-8")
    weights = [line for line in text.splitlines() if line.strip().startswith("weight ")]
    assert len(weights) == 5
    text = text.replace(weights[0], "  weight skill_match 0.6").replace(weights[1], "  weight workload 0.4")
    for line in weights[2:]:
        text = text.replace(line + "\n", "")
    model = compile_spec(spec, tmp_path / "out", text)
    failures, _, out = play(model, SCENARIOS / "startup" / "small_fix.yaml", tmp_path / "run")
    assert failures == [], out


def test_verify_reports_a_file_its_schema_refuses(tmp_path: Path) -> None:
    """`log --verify` validates every projected file against the run's schemas."""
    from orchdsl_runtime.rundir import Run, verify

    model = compile_spec(specs()["startup"], tmp_path / "out")
    path = tmp_path / "out" / "schemas" / "tactical-task.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["id"]["pattern"] = "^nothing$"
    path.write_text(json.dumps(schema), encoding="utf-8")
    failures, _, _ = play(model, SCENARIOS / "startup" / "small_fix.yaml", tmp_path / "run")
    assert any("do not match their schema" in f for f in failures), failures
    run = Run.open(tmp_path / "run")
    try:
        result = verify(run)
    finally:
        run.close()
    assert not result["ok"]
    assert any("TT0.1" in p and "id" in p for p in result["problems"]), result["problems"]


def test_a_task_id_chosen_by_a_command_is_valid_in_its_file(tmp_path: Path) -> None:
    """`task create --id research` is a safe name: the runtime accepts it and the task file
    it writes validates against the task schema (whose id pattern allowed `TT1.2` only)."""
    from orchdsl_runtime import HUMAN
    from orchdsl_runtime.rundir import Run, verify

    model = compile_spec(specs()["startup"], tmp_path / "out")
    run = Run.init(tmp_path / "run", model, 0.0)
    try:
        ins = run.engine.submit_instruction(HUMAN, "look into caching", 1, id="caching")
        run.engine.create_task("eng-lead", ins, "tactical", "product", "Research caches", id="research",
                               required_skills=["python"])
        run.project()
        result = verify(run)
    finally:
        run.close()
    assert result["ok"], result["problems"]
