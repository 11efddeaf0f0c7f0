"""Assignment through the engine: automatic with the explanation recorded, explicit with its
refusals, and the fallback escalation when nobody qualifies."""

from __future__ import annotations

import pytest
from orchdsl_runtime import Engine
from runtime_helpers import new_task, refused

LEAD = "backend-lead"
FACTORS = {"skill_match", "workload", "complexity_fit", "learning_opportunity", "recent_performance"}


def test_automatic_assignment_records_the_explanation(engine: Engine) -> None:
    tid = new_task(engine, required_skills=["python", "api_design"], complexity="high")
    events = engine.assign(LEAD, tid)
    assigned, moved = events
    assert (assigned.type, moved.type) == ("task_assigned", "task_moved")
    d = assigned.data
    # only the senior developer fits a high-complexity task fully (fit: high -> senior)
    assert d["agent"] == "senior-developer" and d["mode"] == "automatic"
    assert set(d["factors"]) == FACTORS and d["factors"]["complexity_fit"] == 1.0
    agents = [c["agent"] for c in d["candidates"]]
    assert sorted(agents) == ["backend-developer-1", "backend-developer-2", "senior-developer"]
    assert agents[0] == "senior-developer"
    scores = [c["score"] for c in d["candidates"]]
    assert scores == sorted(scores, reverse=True)
    mid = next(c for c in d["candidates"] if c["agent"] == "backend-developer-1")
    assert mid["factors"]["complexity_fit"] == 0.6
    assert engine.task(tid)["assignee"] == "senior-developer"
    assert engine.state.ledger.committed("senior-developer") == 4.0
    assert [m.type for m in engine.inbox("senior-developer")] == ["task_assigned"]


def test_workload_moves_the_next_task_elsewhere(engine: Engine) -> None:
    first = new_task(engine, required_skills=["python"], complexity="simple", estimate_hours=20)
    engine.assign(LEAD, first)
    assert engine.task(first)["assignee"] == "senior-developer"
    second = new_task(engine, required_skills=["python"], complexity="simple", estimate_hours=2)
    engine.assign(LEAD, second)
    # 20 h of a 24 h horizon: still under the filter's 0.9, but the score drops below a free IC's
    assert engine.task(second)["assignee"] == "backend-developer-1"
    explanation = engine.events()[-2].data["candidates"]
    busy = next(c for c in explanation if c["agent"] == "senior-developer")
    assert busy["eligible"] and busy["factors"]["workload"] == pytest.approx(20 / 24)
    assert busy["score"] < explanation[0]["score"]


def test_explicit_assignment_refusals(engine: Engine) -> None:
    tid = new_task(engine)
    r = refused(engine, "RUN010", engine.assign, LEAD, tid, "frontend-developer-1")
    assert "not a member of domain `backend`" in r.reason
    refused(engine, "RUN010", engine.assign, LEAD, tid, LEAD)  # a lead is not a member
    refused(engine, "RUN001", engine.assign, LEAD, tid, "ghost")
    big = new_task(engine, estimate_hours=23.5)
    engine.assign(LEAD, big, "backend-developer-2")
    r = refused(engine, "RUN009", engine.assign, LEAD, tid, "backend-developer-2")
    assert "98%" in r.reason and "IC limit of 95%" in r.reason
    engine.assign(LEAD, tid, "backend-developer-1")
    r = refused(engine, "RUN013", engine.assign, LEAD, tid, "senior-developer")
    assert "already" in r.reason


def test_automatic_assignment_skips_an_ic_over_the_limit(engine: Engine) -> None:
    for agent in ("backend-developer-1", "backend-developer-2"):
        engine.assign(LEAD, new_task(engine, estimate_hours=23.0), agent)
    tid = new_task(engine, required_skills=["python"], complexity="simple")
    events = engine.assign(LEAD, tid)
    assert events[0].data["agent"] == "senior-developer"
    rejected = {c["agent"]: c["rejected_by"] for c in events[0].data["candidates"] if not c["eligible"]}
    assert set(rejected) == {"backend-developer-1", "backend-developer-2"}


def test_fallback_escalation_when_nobody_qualifies(engine: Engine) -> None:
    tid = new_task(engine, required_skills=["rust"])  # nobody in backend knows rust
    events = engine.assign(LEAD, tid)
    assert [e.type for e in events] == ["assignment_escalated"]
    d = events[0].data
    assert d["to"] == ["tech-lead"] and d["to_actor"] == "tech-lead"
    assert all(not c["eligible"] and c["factors"]["skill_match"] == 0 for c in d["candidates"])
    assert "skill_match >= 0.6" in d["reason"]
    assert engine.task(tid)["state"] == "PENDING" and engine.task(tid)["assignee"] is None
    assert [m.type for m in engine.inbox("tech-lead")] == ["assignment_escalated"]
    assert engine.state.escalations[-1]["task"] == tid


def test_only_the_assigner_may_escalate(engine: Engine) -> None:
    tid = new_task(engine, required_skills=["rust"])
    refused(engine, "RUN004", engine.assign, "frontend-lead", tid)
    refused(engine, "RUN004", engine.assign, "backend-developer-1", tid)
