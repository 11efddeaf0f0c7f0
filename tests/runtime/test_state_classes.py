"""State classes, progress statuses and complexities: what the metrics and the standups count,
the words a report's statuses take and the complexities a task may have come from the spec.
V2 declares none and keeps the classes derived from its lifecycle and the default words and
complexities; the support desk (`examples/support_desk.orch`) declares its own over states that
are not V2's, and its scenario comes out as they say, where the same spec without the
declarations comes out otherwise."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import compiled
from orchdsl_runtime import Engine, MemoryStore, VirtualClock, load_model
from orchdsl_runtime.context import HUMAN
from orchdsl_runtime.errors import ModelError
from orchdsl_runtime.scenario import play_file
from runtime_helpers import refused
from test_projection import validate_all

from orchdsl.compile import compile_to_dir
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parents[2]
DESK = ROOT / "examples" / "support_desk.orch"
SCENARIO = ROOT / "examples" / "scenarios" / "support_desk" / "week_of_tickets.yaml"
CLASS_LINES = ("  work WORKING\n", "  blocked WAITING_ON_CUSTOMER\n", "  ready TRIAGED\n", "  done RESOLVED\n")
STATUS_LINE = "  statuses on_track: green, at_risk: amber, blocked: red\n"


def classes(model: Any) -> dict[str, set[str]]:
    return {"work": set(model.work_states), "blocked": set(model.blocked_states),
            "escalated": set(model.escalated_states), "ready": set(model.ready_states),
            "done": set(model.done_states)}


def test_v2_keeps_the_classes_derived_from_its_lifecycle(v2: Any) -> None:
    assert v2.spec.lifecycle.classes is None
    assert classes(v2) == {"work": {"IN_PROGRESS"}, "blocked": {"BLOCKED", "ESCALATED"},
                           "escalated": {"ESCALATED"}, "ready": {"ASSIGNED"}, "done": {"COMPLETED"}}
    assert v2.progress["tech-lead-weekly"].words == ("on_track", "at_risk", "blocked")


def test_declared_classes_replace_the_derived_ones_class_by_class() -> None:
    model = load_model(compiled(DESK))
    # escalated is not declared: derived (no automatic transition, so no state)
    assert classes(model) == {"work": {"WORKING"}, "blocked": {"WAITING_ON_CUSTOMER"}, "escalated": set(),
                              "ready": {"TRIAGED"}, "done": {"RESOLVED"}}
    assert model.progress["weekly"].words == ("green", "amber", "red")
    assert model.progress["daily"].words == ("on_track", "at_risk", "blocked")


def test_the_same_lifecycle_undeclared_derives_otherwise(tmp_path: Path) -> None:
    spec = tmp_path / "desk.orch"
    spec.write_text(_without_declarations(), encoding="utf-8")
    model = load_model(compiled(spec))
    # every open @assignee state counts as work, nothing is blocked or ready, both terminals are done
    assert classes(model) == {"work": {"TRIAGED", "WORKING", "WAITING_ON_CUSTOMER"}, "blocked": set(),
                              "escalated": set(), "ready": set(), "done": {"RESOLVED", "DUPLICATE"}}


def test_the_runtime_refuses_a_class_naming_an_unknown_state() -> None:
    data = compiled(DESK)
    data["lifecycle"]["classes"]["done"] = ["SHIPPED"]
    with pytest.raises(ModelError, match="state class `done` names an unknown state `SHIPPED`"):
        load_model(data)
    data = compiled(DESK)
    data["standups"][1]["statuses"]["at_risk"] = "red"
    with pytest.raises(ModelError, match="standup `weekly` gives two progress statuses the same word"):
        load_model(data)


def _without_declarations() -> str:
    text = DESK.read_text(encoding="utf-8")
    for line in (*CLASS_LINES, STATUS_LINE):
        assert line in text
        text = text.replace(line, "")
    return text


def _play(spec_text: str, tmp: Path) -> tuple[list[str], dict[str, Any], Path]:
    spec = tmp / "desk.orch"
    spec.write_text(spec_text, encoding="utf-8")
    result = check_files([spec])
    assert result.ok and result.model is not None
    out = tmp / "compiled"
    compile_to_dir(result.model, out)
    text = io.StringIO()
    run, failures, rep = play_file(out / "model.json", SCENARIO, tmp / "run", text)
    run.close()
    return [str(f) for f in failures], rep, tmp / "run"


def _report(run: Path, kind: str, name: str) -> dict[str, Any]:
    (path,) = (run / "Agent_Memory" / "_communication" / "reports" / kind).glob(f"{name}_*.yaml")
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def test_the_support_desk_measures_by_its_declared_classes(tmp_path: Path) -> None:
    failures, rep, run = _play(DESK.read_text(encoding="utf-8"), tmp_path)
    assert failures == [] and rep["scenario"]["log_verified"]
    metrics = {m["name"]: m for m in rep["metrics"]}
    # TT0.1 was worked 1.5 h of its 2 h (the 3 h in TRIAGED do not count), TT0.2 1 h of 1 h
    # (the day WAITING_ON_CUSTOMER does not count)
    assert (metrics["estimates"]["value"], metrics["estimates"]["samples"]) == (1.0, 2)
    # one defect over the two RESOLVED tickets: the DUPLICATE is not done
    assert (metrics["quality"]["value"], metrics["quality"]["samples"]) == (0.5, 2)
    waiting = _report(run, "daily", "support-agent-2_to_desk-lead")
    assert [b["task_id"] for b in waiting["blockers"]] == ["TT0.2"]
    done = _report(run, "daily", "support-agent-1_to_desk-lead")
    assert done["accomplishments"] == ["TT0.1: Refund a double charge (RESOLVED)"]
    weekly = _report(run, "weekly", "desk-lead_to_head-of-support")
    assert [(i["instruction_id"], i["status"]) for i in weekly["instruction_progress"]] == [("I1", "red")]
    assert weekly["instruction_progress"][0]["notes"].startswith("tier 1: 1 of 3 task(s) completed")
    counts = validate_all(run)
    assert counts["standup-weekly"] == 1 and counts["standup-daily"] == 3
    schema = json.loads((run / "schemas" / "standup-weekly.schema.json").read_text(encoding="utf-8"))
    status = schema["properties"]["instruction_progress"]["items"]["properties"]["status"]
    assert status["enum"] == ["green", "amber", "red"]


def test_without_the_declarations_the_same_week_reads_otherwise(tmp_path: Path) -> None:
    failures, rep, run = _play(_without_declarations(), tmp_path)
    metrics = {m["name"]: m for m in rep["metrics"]}
    # TRIAGED and WAITING_ON_CUSTOMER count as work: TT0.1 took 4.5 h of its 2 h, TT0.2 a day and
    # more of its 1 h; the DUPLICATE counts as done
    assert (metrics["estimates"]["value"], metrics["estimates"]["samples"]) == (0.0, 2)
    assert metrics["quality"]["value"] == pytest.approx(1 / 3) and metrics["quality"]["samples"] == 3
    assert any("metric `estimates` met, it is missed" in f for f in failures)
    assert _report(run, "daily", "support-agent-2_to_desk-lead")["blockers"] == []
    weekly = _report(run, "weekly", "desk-lead_to_head-of-support")
    assert [i["status"] for i in weekly["instruction_progress"]] == ["on_track"]
    validate_all(run)


def test_a_task_takes_one_of_the_declared_complexities(v2: Any) -> None:
    desk = load_model(compiled(DESK))
    assert desk.complexities == ("quick", "involved") and v2.complexities == ("simple", "moderate", "high")
    engine = Engine(desk, MemoryStore(), VirtualClock(0.0))
    ins = engine.submit_instruction(HUMAN, "tickets", 1)
    made = engine.create_task("desk-lead", ins, "tactical", "desk", "a ticket")
    quick = engine.create_task("desk-lead", ins, "tactical", "desk", "another", complexity="quick")
    assert [engine.state.tasks[t].complexity for t in (made, quick)] == ["involved", "quick"]
    r = refused(engine, "RUN013", engine.create_task, "desk-lead", ins, "tactical", "desk", "x", complexity="simple")
    assert r.reason == "complexity `simple` is not one of `quick`, `involved`"
    engine = Engine(v2, MemoryStore(), VirtualClock(0.0))
    ins = engine.submit_instruction(HUMAN, "build the thing", 2)
    made = engine.create_task("planner", ins, "tactical", "backend", "a task", required_skills=["python"])
    assert engine.state.tasks[made].complexity == "moderate"
