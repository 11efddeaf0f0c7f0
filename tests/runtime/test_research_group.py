"""`examples/research_group.orch`, a research group of peers: every scenario of
`examples/scenarios/research_group/` plays green to a terminal state, and every file it projects
validates against its schema."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from orchdsl_runtime.scenario import play_file
from test_projection import validate_all

from orchdsl.compile import compile_to_dir
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "research_group.orch"
SCENARIOS = sorted((ROOT / "examples" / "scenarios" / "research_group").glob("*.yaml"))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = check_files([SPEC])
    assert result.model is not None and result.ok and not result.diagnostics, [
        d.message for d in result.diagnostics]
    out = tmp_path_factory.mktemp("research_group")
    compile_to_dir(result.model, out)
    return out / "model.json"


def test_there_is_a_scenario() -> None:
    assert SCENARIOS


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_plays_to_a_terminal_state(path: Path, model_path: Path, tmp_path: Path) -> None:
    text = io.StringIO()
    run, failures, rep = play_file(model_path, path, tmp_path / "run", text)
    try:
        assert [str(f) for f in failures] == [], text.getvalue()
        assert rep["scenario"]["log_verified"]
        terminal = {s.name for s in run.engine.model.states.values() if s.terminal is not None}
        assert any(run.engine.state.tasks[t].state in terminal for t in run.engine.state.tasks)
        run.project()
        validate_all(run.dir)
    finally:
        run.close()
