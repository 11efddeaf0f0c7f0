"""Defaults the spec decides: a priority when none is given; and the refusal of a move only the
clock makes says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from orchdsl_runtime import HUMAN, Engine, MemoryStore, Model, VirtualClock, load_model
from runtime_helpers import new_task, refused

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_text

ROOT = Path(__file__).resolve().parents[2]


def variant(old: str, new: str) -> Model:
    text = (ROOT / "specs" / "orchestration_v2.orch").read_text()
    assert old in text
    result = check_text(text.replace(old, new), "v2_variant.orch")
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics if d.is_error]
    return load_model(json.loads(compiled_json(result.model)))


def test_without_a_priority_a_task_gets_the_middle_declared_one() -> None:
    model = variant("  priorities critical, high, normal, low\n", "  priorities high, low\n")
    engine = Engine(model, MemoryStore(), VirtualClock(0.0))
    tid = new_task(engine)  # no priority given: was refused, "priority `normal` is not one of `high`, `low`"
    assert engine.task(tid)["priority"] == "low"
    refused(engine, "RUN013", engine.create_task, "planner", "I1", "tactical", "backend", "x", priority="normal")
    did = engine.delegate("engineering-manager", "tech-lead", "plan Q3")
    assert engine.state.delegations[did].priority == "low"


def test_the_default_list_keeps_normal(engine: Engine) -> None:
    assert engine.task(new_task(engine))["priority"] == "normal"
    engine.broadcast("tech-lead", "tech-leads", "milestone", None, "hello")
    assert engine.state.broadcasts[-1]["priority"] == "normal"


def test_a_move_only_the_clock_makes_is_refused_saying_so() -> None:
    model = variant("    -> ESCALATED by @assignee after 4h\n", "    -> ESCALATED after 4h\n")
    engine = Engine(model, MemoryStore(), VirtualClock(0.0))
    tid = new_task(engine)
    engine.assign("backend-lead", tid, "backend-developer-1")
    engine.move("backend-developer-1", tid, "BLOCKED")
    r = refused(engine, "RUN004", engine.move, "backend-developer-1", tid, "ESCALATED")
    assert r.reason.endswith("nobody makes that move; the clock makes it after 4h")
    assert engine.advance(4 * 3600)[-1].data["target"] == "ESCALATED"


@pytest.mark.parametrize("agent", [HUMAN])
def test_submission_still_defaults(engine: Engine, agent: str) -> None:
    assert engine.submit_instruction(agent, "x", 1) == "I1"
