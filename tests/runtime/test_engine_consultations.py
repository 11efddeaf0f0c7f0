"""Consultations: a question along a declared consultation, answered once by an agent of its
`to` actor or, when the timeout passes, given the declared default; a blocking one holds the
asker's work on its task or instruction until then."""

from __future__ import annotations

from orchdsl_runtime import HUMAN, Engine, MemoryStore, Model, VirtualClock, load_model
from orchdsl_runtime.contract.codec import to_data
from runtime_helpers import new_task, refused

H = 3600.0
PLANNER, ARCHITECT, ROUTER = "planner", "architect", "router"


def test_asking_and_answering(engine: Engine) -> None:
    ins = engine.submit_instruction(HUMAN, "saved searches", 3)
    refused(engine, "RUN002", engine.consult, PLANNER, "no-such-thing", "?")
    refused(engine, "RUN004", engine.consult, ROUTER, "plan-architecture", "is this sound?")
    refused(engine, "RUN013", engine.consult, PLANNER, "plan-architecture", "  ")
    refused(engine, "RUN002", engine.consult, PLANNER, "plan-architecture", "?", instruction="I9")
    refused(engine, "RUN001", engine.consult, "nobody", "plan-architecture", "?")
    cid = engine.consult(PLANNER, "plan-architecture", "one service or two?", instruction=ins)
    assert cid == "C1"
    c = engine.state.consultations[cid]
    assert c.to == (ARCHITECT,) and c.blocking and c.due == 30 * 60 and c.default == "proceed with the plan as drafted"
    assert [m.type for m in engine.inbox(ARCHITECT)] == ["consultation_asked"]
    assert "one service or two?" in engine.inbox(ARCHITECT)[0].text
    refused(engine, "RUN004", engine.answer_consultation, PLANNER, cid, "two")
    refused(engine, "RUN013", engine.answer_consultation, ARCHITECT, cid, " ")
    refused(engine, "RUN002", engine.answer_consultation, ARCHITECT, "C7", "two")
    engine.advance(10 * 60)
    events = engine.answer_consultation(ARCHITECT, cid, "one service, two modules")
    assert [(e.type, e.actor, e.data["answer"]) for e in events] == [
        ("consultation_answered", ARCHITECT, "one service, two modules")]
    refused(engine, "RUN021", engine.answer_consultation, ARCHITECT, cid, "two after all")
    assert engine.state.consultations[cid].status == "answered"
    assert any("one service, two modules" in m.text for m in engine.inbox(PLANNER))
    assert engine.advance(10 * H) == []  # answered: the timeout never fires


def test_a_blocking_consultation_holds_the_askers_work_until_answered(engine: Engine) -> None:
    ins = engine.submit_instruction(HUMAN, "saved searches", 3)
    cid = engine.consult(PLANNER, "plan-architecture", "one service or two?", instruction=ins)
    r = refused(engine, "RUN026", engine.create_task, PLANNER, ins, "strategic", "backend", "plan")
    assert cid in r.reason and ARCHITECT in r.reason and "default" in r.reason
    refused(engine, "RUN026", engine.consult, PLANNER, "plan-architecture", "and a second question?",
            instruction=ins)  # one blocking question per subject at a time
    engine.create_task("backend-lead", ins, "strategic", "backend", "not the asker: not held")
    engine.answer_consultation(ARCHITECT, cid, "one")
    assert engine.create_task(PLANNER, ins, "strategic", "backend", "plan")


def test_a_blocking_consultation_about_a_task_holds_its_moves(engine: Engine) -> None:
    tid = new_task(engine, tier=3, kind="strategic", required_skills=[])
    cid = engine.consult(PLANNER, "plan-architecture", "split it?", task=tid)
    assert engine.state.consultations[cid].instruction == engine.state.tasks[tid].instruction
    refused(engine, "RUN026", engine.move, PLANNER, tid, "IN_PLANNING")
    engine.advance(30 * 60)  # the timeout: the default answers, the task is free again
    assert engine.move(PLANNER, tid, "IN_PLANNING")


def test_the_timeout_gives_the_declared_default_once(v2: Model) -> None:
    engine = Engine(v2, MemoryStore(), VirtualClock(0.0))
    cid = engine.consult(ROUTER, "tier-check", "is a typo fix tier 1?")
    assert engine.advance(5 * 60 - 1) == []
    fired = engine.advance(1)
    assert [(e.type, e.at, e.actor, e.data["answer"]) for e in fired] == [
        ("consultation_timed_out", 5 * 60, None, "4")]
    assert engine.state.consultations[cid].status == "timed_out"
    assert any("default applies: 4" in m.text for m in engine.inbox(ROUTER))
    refused(engine, "RUN021", engine.answer_consultation, ARCHITECT, cid, "tier 1")
    assert engine.advance(10 * H) == []
    fresh = Engine(v2, engine.store, VirtualClock(engine.clock.now()))
    assert fresh.state.dump() == engine.state.dump()


def test_a_consultation_no_one_can_answer_is_refused(v2: Model) -> None:
    data = to_data(v2.spec)
    data["consultations"].append({"name": "self-talk", "from": "architect", "to": "architect", "blocking": False,
                                  "timeout": None, "default": None, "description": None})
    engine = Engine(load_model(data), MemoryStore(), VirtualClock(0.0))
    r = refused(engine, "RUN015", engine.consult, ARCHITECT, "self-talk", "do I agree?")
    assert "nobody to answer" in r.reason
