"""Escalation policies and notifications at run time: each level fires at its time on the
clock, round after round, and stops when the task leaves the state; notices reach the inboxes
of the agents a state or a gate names; a replay reaches the same state; the incident-response
example plays to a terminal state with every projected file valid; the examples of
docs/language.md compile and run."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import compile_spec
from hypothesis import given, settings
from hypothesis import strategies as st
from orchdsl_runtime import HUMAN, Engine, MemoryStore, VirtualClock, load_model
from orchdsl_runtime.scenario import play_file
from test_engine_clock import twin
from test_projection import validate_all

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_text

ROOT = Path(__file__).resolve().parents[2]
M = 60.0

SPEC = (ROOT / "tests" / "rota.orch").read_text(encoding="utf-8")


def engine_for(text: str) -> Engine:
    r = check_text(text, "spec.orch")
    assert r.model is not None and r.ok, [d.message for d in r.diagnostics]
    return Engine(load_model(json.loads(compiled_json(r.model))), MemoryStore(), VirtualClock(0.0))


@pytest.fixture
def rota() -> Engine:
    return engine_for(SPEC)


def incident(engine: Engine) -> str:
    ins = engine.submit_instruction(HUMAN, "the database is down", 1)
    return engine.create_task("lead", ins, "tactical", "ops", "database down")


def levels(events: list[Any]) -> list[tuple[float, int, int, list[str]]]:
    return [(e.at, e.data["level"], e.data["round"], e.data["to"]) for e in events if e.type == "sla_escalation"]


def texts(engine: Engine, agent: str, kind: str = "notification") -> list[str]:
    return [m.text for m in engine.inbox(agent) if m.type == kind]


def test_levels_fire_in_turn_round_after_round_then_stop(rota: Engine) -> None:
    tid = incident(rota)
    assert rota.advance(5 * M - 1) == []
    fired = rota.advance(1)
    assert levels(fired) == [(5 * M, 1, 1, ["secondary"])]
    fired = rota.advance(100 * M)
    assert levels(fired) == [
        (15 * M, 2, 1, ["lead", "primary"]), (30 * M, 3, 1, ["boss"]),
        (35 * M, 1, 2, ["secondary"]), (45 * M, 2, 2, ["lead", "primary"]), (60 * M, 3, 2, ["boss"]),
        (65 * M, 1, 3, ["secondary"]), (75 * M, 2, 3, ["lead", "primary"]), (90 * M, 3, 3, ["boss"]),
    ]
    assert rota.advance(1000 * M) == []
    escalations = [e for e in rota.events() if e.type == "sla_escalation"]
    assert len(escalations) == 9 and all(e.data["policy"] == "page" for e in escalations)
    assert [e.data["threshold"] for e in escalations[:4]] == ["5m", "15m", "30m", "35m"]
    assert len(rota.state.escalations) == 9
    assert texts(rota, "boss", "sla_escalation")[0] == (
        f"`{tid}` is escalated (level 3 of `page`, round 1): 30m in `OPEN` (threshold 30m)")


def test_leaving_the_state_stops_the_policy_and_a_new_visit_starts_it_again(rota: Engine) -> None:
    tid = incident(rota)
    rota.advance(20 * M)  # levels 1 and 2 of round 1
    rota.assign("primary", tid, "primary")
    assert rota.task(tid)["state"] == "FIXING"
    fired = rota.advance(59 * M)
    assert levels(fired) == []  # OPEN's levels are gone; FIXING's first level is at 1 h
    fired = rota.advance(1 * M)
    assert levels(fired) == [(80 * M, 1, 1, ["secondary"])]  # @peer of the assignee
    assert "policy" not in fired[0].data  # a policy written in its state has no name
    assert rota.advance(1000 * M) == []  # no repeat


def test_a_gate_outcome_sends_the_task_back_and_the_policy_starts_from_level_one(rota: Engine) -> None:
    tid = incident(rota)
    rota.assign("lead", tid, "secondary")
    rota.advance(10 * M)
    rota.decide_gate("lead", tid, "review", "again")
    assert rota.task(tid)["state"] == "OPEN"
    entered = rota.clock.now()
    fired = rota.advance(5 * M)
    assert levels(fired) == [(entered + 5 * M, 1, 1, ["secondary"])]


def test_notices_on_entering_a_state_and_on_a_gate_outcome(rota: Engine) -> None:
    tid = incident(rota)
    assert texts(rota, "primary") == [f"`{tid}` entered `OPEN`: paged"]
    rota.assign("lead", tid, "secondary")
    # @lead, @owner (FIXING's owner is @assignee) and `lead` again: each agent once
    assert texts(rota, "lead") == [f"`{tid}` entered `FIXING`: taken"]
    assert texts(rota, "secondary") == [f"`{tid}` entered `FIXING`: taken"]
    rota.decide_gate("lead", tid, "review", "ok")
    assert texts(rota, "boss") == [f"gate `review` decided `ok` on `{tid}`"]  # every outcome
    assert texts(rota, "secondary") == [f"`{tid}` entered `FIXING`: taken"]  # not for `ok`
    rota.decide_gate("lead", tid, "review", "again")
    said = f"gate `review` decided `again` on `{tid}`: sent back"
    assert texts(rota, "secondary")[-1] == said
    assert said not in texts(rota, "lead")  # @owner is the owner of FIXING, where the gate was decided
    assert texts(rota, "primary")[-1] == f"`{tid}` entered `OPEN`: paged"
    rota.move("secondary", tid, "FIXING")  # assigned still: back to FIXING by a move
    rota.decide_gate("lead", tid, "review", "ok")
    rota.move("secondary", tid, "DONE")
    assert texts(rota, "boss")[-1] == f"`{tid}` entered `DONE`"


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=10))
def test_one_jump_fires_what_small_steps_fire(minutes: list[int]) -> None:
    """Levels falling due together with other levels, rounds and a second task's levels fire in
    one pass in the order small steps fire them."""
    whole = engine_for(SPEC)
    incident(whole)
    whole.advance(7 * M)
    incident(whole)  # its levels fall 7 minutes after the first task's
    stepped = twin(whole.model, whole)
    for step in minutes:
        stepped.advance(step * M)
    whole.advance(sum(minutes) * M)
    assert [tuple(e) for e in whole.events()] == [tuple(e) for e in stepped.events()]
    assert whole.state.dump() == stepped.state.dump()


def test_a_replay_reaches_the_same_state(rota: Engine) -> None:
    tid = incident(rota)
    rota.advance(40 * M)
    rota.assign("lead", tid, "primary")
    rota.decide_gate("lead", tid, "review", "again")
    rota.advance(200 * M)
    replayed = Engine(rota.model, rota.store, VirtualClock(rota.clock.now()))
    assert replayed.state.dump() == rota.state.dump()
    assert replayed.state.timers.items() == rota.state.timers.items()


def test_a_spec_with_escalate_only_fires_once_as_before(rota: Engine) -> None:
    engine = engine_for(SPEC.replace("escalation page\n", "escalate 10m to boss\n"))
    incident(engine)
    fired = engine.advance(1000 * M)
    assert [(e.at, e.data["to"]) for e in fired if e.type == "sla_escalation"] == [(10 * M, ["boss"])]
    assert "level" not in fired[0].data


@pytest.fixture(scope="module")
def incident_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_spec(ROOT / "examples" / "incident_response.orch", tmp_path_factory.mktemp("incident"))


SCENARIOS = sorted((ROOT / "examples" / "scenarios" / "incident_response").glob("*.yaml"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_the_incident_scenarios_play_to_a_terminal_state(incident_dir: Path, tmp_path: Path, scenario: Path) -> None:
    text = io.StringIO()
    run, failures, rep = play_file(incident_dir / "model.json", scenario, tmp_path / "run", text)
    try:
        run.project()
    finally:
        run.close()
    assert [str(f) for f in failures] == [], text.getvalue()
    assert rep["scenario"]["log_verified"]
    assert rep["tasks_by_state"].get("RESOLVED", 0) + rep["tasks_by_state"].get("CANCELLED", 0) >= 1
    assert rep["escalations"]["sla"] >= 4
    counts = validate_all(run.dir)
    assert counts["notice"] >= 4 and counts["escalation"] >= 4
    notices = list((run.dir / "Agent_Memory" / "_communication" / "inbox").glob("*/notification_*.yaml"))
    assert "primary-oncall" in {p.parent.name for p in notices}  # paged as the incident fires
    if scenario.stem == "database_outage":
        assert {p.parent.name for p in notices} == {"primary-oncall", "incident-commander", "head-of-reliability",
                                                   "secondary-oncall"}


def test_the_docs_examples_compile_and_run() -> None:
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    policy = engine_for(_section(doc, "## escalation policies"))
    tid = incident_of(policy, "commander", "rotation")
    fired = policy.advance(60 * M)
    assert levels(fired) == [(5 * M, 1, 1, ["secondary"]), (15 * M, 2, 1, ["commander", "primary"]),
                             (30 * M, 3, 1, ["head-of-ops"]), (35 * M, 1, 2, ["secondary"]),
                             (45 * M, 2, 2, ["commander", "primary"]), (60 * M, 3, 2, ["head-of-ops"])]
    policy.assign("secondary", tid, "secondary")
    policy.move("secondary", tid, "CLOSED")
    assert policy.task(tid)["state"] == "CLOSED"

    notify = engine_for(_section(doc, "## notify"))
    tid = incident_of(notify, "lead", "code")
    notify.assign("lead", tid, "dev-1")
    assert texts(notify, "dev-1") == [f"`{tid}` entered `DOING`: the task is yours"]
    notify.move("dev-1", tid, "REVIEW")
    assert texts(notify, "dev-2") == [f"`{tid}` entered `REVIEW`"]
    notify.decide_gate("dev-2", tid, "review", "changes")
    assert texts(notify, "dev-1")[-2:] == [  # the decision, then the move it makes
        f"gate `review` decided `changes` on `{tid}`: review sent the code back",
        f"`{tid}` entered `DOING`: the task is yours"]
    notify.move("dev-1", tid, "REVIEW")
    notify.decide_gate("dev-2", tid, "review", "approved")
    notify.move("dev-2", tid, "DONE")
    assert texts(notify, "lead")[-1] == f"`{tid}` entered `DONE`: shipped"


def incident_of(engine: Engine, lead: str, domain: str) -> str:
    ins = engine.submit_instruction(HUMAN, "something broke", 1)
    return engine.create_task(lead, ins, "tactical", domain, "fix it")


def _section(doc: str, heading: str) -> str:
    start = doc.index(heading + "\n")
    found = re.search(r"```orch\n(.*?)```", doc[start:], re.S)
    assert found is not None
    return found.group(1)


def test_a_task_a_level_has_paged_counts_as_escalated_in_its_visit(rota: Engine) -> None:
    tid = incident(rota)
    assert "escalate" not in rota.state.tasks[tid].fired
    rota.advance(5 * M)
    assert "escalate" in rota.state.tasks[tid].fired  # what standups and reports read as escalated
    rota.assign("lead", tid, "primary")
    assert rota.state.tasks[tid].fired == set()
