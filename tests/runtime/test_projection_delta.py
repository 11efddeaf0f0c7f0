"""The incremental projection: after every command the files on disk are exactly those of a full
projection of the log, though only the files the command's events touch were written (on every
example scenario, each on its own spec, where a snapshot taken after any prefix of the log and
then folding the rest also gives the state of the whole log); a projection cut short is
completed by the next command; a refused command writes nothing; a new day rewrites the dated
capacity forecasts."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import compile_spec
from orchdsl_runtime import Model, OrgState, projection, snapshot
from orchdsl_runtime.cli import main
from orchdsl_runtime.contract.events import Event
from orchdsl_runtime.projector import MANIFEST, Written
from orchdsl_runtime.rundir import Run
from orchdsl_runtime.scenario import play_file
from runtime_helpers import START, drive, projected
from test_every_example_runs import specs

ROOT = Path(__file__).resolve().parents[2]
DEV1, LEAD = "backend-developer-1", "backend-lead"


def same_as_full(run: Run) -> None:
    """The runtime's files on disk are those of a full projection of the log, byte for byte."""
    full = {f"Agent_Memory/{path}": projection.dump(data) for path, (_, data) in
            projection.project(run.model, run.engine.state, run.store.read(0), run.now).items()}
    on_disk = {rel: (run.dir / rel).read_text(encoding="utf-8") for rel in projected(run.dir)}
    assert sorted(on_disk) == sorted(full)
    assert on_disk == full
    manifest = json.loads((run.dir / MANIFEST).read_text())
    assert manifest["applied"] == run.store.last_seq() and manifest["unwritten"] == []


class Checked:
    """An engine whose every command is followed by a projection, checked against a full one."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self.written: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._run.engine, name)
        if not callable(value) or name in ("events", "task", "inbox", "status", "instruction", "measure"):
            return value

        def command(*args: Any, **kwargs: Any) -> Any:
            out = value(*args, **kwargs)
            self.written.append(self._run.project().changed)
            same_as_full(self._run)
            return out

        return command


class CheckedRun:
    """A run whose engine is ``Checked``."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self.engine = Checked(run)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)


def test_every_command_of_a_tier3_instruction(compiled_dir: Path, tmp_path: Path) -> None:
    run = Run.init(tmp_path / "run", compiled_dir / "model.json", START)
    try:
        checked = CheckedRun(run)
        drive(checked)  # type: ignore[arg-type]
        written = checked.engine.written
    finally:
        run.close()
    assert len(written) > 30
    # a command writes the few files it touches, not the whole tree
    assert max(len(w) for w in written) < len(projected(run.dir)) / 2


SCENARIO_DIR = ROOT / "examples" / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.rglob("*.yaml"))


def spec_of(scenario: Path) -> Path:
    """The spec a scenario plays on: V2 for those at the top, the one its folder is named after
    for the others."""
    return specs()["orchestration_v2" if scenario.parent == SCENARIO_DIR else scenario.parent.name]


@pytest.fixture(scope="session")
def compiled_specs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """The model.json of a spec, compiled once per session."""
    done: dict[Path, Path] = {}

    def model_of(spec: Path) -> Path:
        if spec not in done:
            done[spec] = compile_spec(spec, tmp_path_factory.mktemp(spec.stem)) / "model.json"
        return done[spec]

    return model_of


def same_after_a_snapshot(model: Model, events: Sequence[Event]) -> None:
    """A state kept as a snapshot after any prefix of the log, then folding the rest, equals
    the state folded from the whole log."""
    whole = OrgState(model)
    for e in events:
        whole.apply(e)
    for cut in range(0, len(events) + 1, max(1, len(events) // 25)):
        state = OrgState(model)
        for e in events[:cut]:
            state.apply(e)
        text = snapshot.encode(state)
        kept = snapshot.decode(model, text)
        assert snapshot.encode(kept) == text
        for e in events[cut:]:
            kept.apply(e)
        assert kept.dump() == whole.dump(), cut


def test_every_scenario_has_a_spec() -> None:
    assert len(SCENARIOS) > 10 and all(spec_of(p).exists() for p in SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[str(p.relative_to(SCENARIO_DIR)) for p in SCENARIOS])
def test_every_step_of_the_example_scenarios(compiled_specs: Callable[[Path], Path], tmp_path: Path,
                                            scenario: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project: Callable[[Run, bool], Written] = Run.project
    steps = []

    def project_and_check(self: Run, full: bool = False) -> Written:
        written = project(self, full)
        same_as_full(self)
        steps.append(written.changed)
        return written

    monkeypatch.setattr(Run, "project", project_and_check)
    run, failures, _ = play_file(compiled_specs(spec_of(scenario)), scenario, tmp_path / "run", io.StringIO(),
                                 quiet=True)
    try:
        assert failures == [] and len(steps) > 5
        events = list(run.store.read(0))
        same_after_a_snapshot(run.model, events)
        assert snapshot.decode(run.model, snapshot.encode(run.engine.state)).dump() == run.engine.state.dump()
    finally:
        run.close()


def cli(directory: Path, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--dir", str(directory)])
    return code, out.getvalue() + err.getvalue()


@pytest.fixture
def started(compiled_dir: Path, tmp_path: Path) -> tuple[Path, str]:
    """A run directory with one tier-2 task assigned to DEV1."""
    directory = tmp_path / "run"
    run = Run.init(directory, compiled_dir / "model.json", START)
    try:
        run.engine.submit_instruction("human", "fix the typo", 2, id="I1")
        task = run.engine.create_task(LEAD, "I1", "tactical", "backend", "Typo", required_skills=["python"],
                                      estimate_hours=2.0)
        run.engine.assign(LEAD, task, DEV1)
        run.project()
    finally:
        run.close()
    return directory, task


def test_a_move_writes_its_task_file_only(started: tuple[Path, str]) -> None:
    directory, task = started
    run = Run.open(directory)
    try:
        run.engine.move(DEV1, task, "IN_PROGRESS")
        assert run.project().changed == [f"Agent_Memory/I1/tasks/tactical/backend/{task}.yaml"]
        run.engine.move(DEV1, task, "BLOCKED")
        run.engine.move(DEV1, task, "IN_PROGRESS")
        assert run.project().changed == []  # the file was rendered again, and found the same
        assert run.project().changed == []
        same_as_full(run)
    finally:
        run.close()


def test_a_projection_cut_short_is_completed_by_the_next_command(started: tuple[Path, str]) -> None:
    directory, task = started
    run = Run.open(directory)
    try:  # commands recorded by a process that stops before it projects them
        run.engine.move(DEV1, task, "IN_PROGRESS")
        run.engine.heartbeat(DEV1, task, tokens=10, remaining_hours=1.0)
    finally:
        run.close()
    code, out = cli(directory, "log", "--verify")
    assert code == 1 and f"{task}.yaml" in out
    assert cli(directory, "move", task, "BLOCKED", "--as", DEV1)[0] == 0
    assert cli(directory, "log", "--verify")[0] == 0
    run = Run.open(directory)
    try:
        same_as_full(run)
    finally:
        run.close()


def files_of(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file of the run directory but the event log, with its size and modification time."""
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in directory.rglob("*") if p.is_file() and not p.name.startswith("events.sqlite")}


def test_a_refused_command_writes_and_projects_nothing(started: tuple[Path, str]) -> None:
    directory, task = started
    before, events = files_of(directory), cli(directory, "log", "--json")[1]
    assert cli(directory, "move", task, "COMPLETED", "--as", DEV1)[0] == 1
    assert cli(directory, "move", task, "IN_PROGRESS", "--as", LEAD)[0] == 1
    assert cli(directory, "clock", "advance", "-1h")[0] == 2
    assert cli(directory, "status")[0] == 0
    assert files_of(directory) == before and cli(directory, "log", "--json")[1] == events


def test_a_new_day_rewrites_the_capacity_forecasts(started: tuple[Path, str]) -> None:
    directory, _ = started
    team = directory / "Agent_Memory" / "_system" / "capacity" / "backend" / "team.yaml"
    assert "2025-01-06" in team.read_text()
    assert cli(directory, "clock", "advance", "15h")[0] == 0  # past midnight
    assert "2025-01-06" not in team.read_text() and "2025-01-07" in team.read_text()
    assert cli(directory, "log", "--verify")[0] == 0


def test_without_its_manifest_the_projection_is_rebuilt_whole(started: tuple[Path, str]) -> None:
    directory, task = started
    path = directory / "Agent_Memory" / "I1" / "tasks" / "tactical" / "backend" / f"{task}.yaml"
    path.write_text("tampered\n")
    assert cli(directory, "clock", "process")[0] == 0  # nothing touched the file
    assert path.read_text() == "tampered\n"
    (directory / MANIFEST).unlink()
    assert cli(directory, "clock", "process")[0] == 0
    assert path.read_text().startswith(projection.HEADER)
    assert cli(directory, "log", "--verify")[0] == 0
