"""SLA: warnings and escalations once per state visit, at the right virtual time, to the right
inbox; automatic transitions; missed heartbeats; token budgets via heartbeats."""

from __future__ import annotations

from orchdsl_runtime import HUMAN, Engine, MemoryStore, Model, VirtualClock
from runtime_helpers import in_progress, new_task

H = 3600.0
DEV1, LEAD = "backend-developer-1", "backend-lead"


def notices(engine: Engine, *types: str) -> list[tuple[str, float, list[str]]]:
    kinds = types or ("sla_warning", "sla_escalation", "heartbeat_missed")
    return [(e.type, e.at, e.data["to"]) for e in engine.events() if e.type in kinds]


def test_pending_warn_and_escalate_once_at_their_times(engine: Engine) -> None:
    clock = engine.clock
    assert isinstance(clock, VirtualClock)
    new_task(engine)  # tier 2: PENDING target 2 h, warn 2x, escalate 4x to engineering-manager
    assert engine.advance(4 * H - 1) == []
    fired = engine.advance(1)
    assert [(e.type, e.at, e.data["to"]) for e in fired] == [("sla_warning", 4 * H, ["planner"])]
    assert engine.advance(3 * H) == []
    fired = engine.advance(2 * H)
    assert [(e.type, e.at, e.data["to"]) for e in fired] == [("sla_escalation", 8 * H, ["engineering-manager"])]
    assert engine.advance(100 * H) == []
    assert [m.type for m in engine.inbox("engineering-manager")] == ["sla_escalation"]
    assert [m.type for m in engine.inbox("planner")] == ["sla_warning"]
    assert len(engine.state.escalations) == 1


def test_one_big_jump_stamps_each_firing_at_its_due_time(engine: Engine) -> None:
    tid = new_task(engine)
    engine.assign(LEAD, tid, DEV1)  # ASSIGNED: warn 8 h to the owner (@assignee), escalate 24 h to @lead
    fired = engine.advance(1000 * H)
    assert [(e.type, e.at, e.data["to"]) for e in fired] == [
        ("sla_warning", 8 * H, [DEV1]),
        ("sla_escalation", 24 * H, [LEAD]),
    ]
    assert engine.process_clock() == []


def test_each_visit_fires_again_and_leaving_cancels(engine: Engine) -> None:
    tid = in_progress(engine)  # estimate 4 h: warn at 6 h to the assignee, escalate at 8 h to @lead
    engine.advance(5 * H)
    engine.move(DEV1, tid, "BLOCKED")
    engine.move(DEV1, tid, "IN_PROGRESS")
    engine.advance(5.9 * H)
    assert notices(engine, "sla_warning", "sla_escalation") == []
    engine.advance(0.1 * H)
    engine.advance(2 * H)
    assert notices(engine, "sla_warning", "sla_escalation") == [
        ("sla_warning", 11 * H, [DEV1]),
        ("sla_escalation", 13 * H, [LEAD]),
    ]


def test_blocked_escalates_automatically_after_4h(engine: Engine) -> None:
    tid = in_progress(engine)
    engine.advance(H)
    engine.move(DEV1, tid, "BLOCKED")
    fired = engine.advance(30 * H)
    summary = [(e.type, e.at, e.data.get("target") or e.data.get("to")) for e in fired
               if e.type != "heartbeat_missed"]
    # BLOCKED warns the lead at 2 h; the system moves it at 4 h; ESCALATED (target 8 h)
    # warns its owner (@lead) at 1.5x and escalates to the tech lead at 2x, counted from 4 h.
    assert summary == [
        ("sla_warning", 3 * H, [LEAD]),
        ("task_moved", 5 * H, "ESCALATED"),
        ("sla_warning", 17 * H, [LEAD]),
        ("sla_escalation", 21 * H, ["tech-lead"]),
    ]
    moved = next(e for e in fired if e.type == "task_moved")
    assert moved.actor is None and moved.data["automatic"] is True
    assert engine.task(tid)["state"] == "ESCALATED"


def test_blocked_left_in_time_does_not_escalate(engine: Engine) -> None:
    tid = in_progress(engine)
    engine.move(DEV1, tid, "BLOCKED")
    engine.advance(3 * H)
    engine.move(DEV1, tid, "IN_PROGRESS")
    engine.advance(1 * H)
    assert engine.task(tid)["state"] == "IN_PROGRESS"
    assert [e.type for e in engine.events() if e.type == "task_moved"][-1:] == ["task_moved"]
    assert not any(e.data.get("automatic") for e in engine.events() if e.type == "task_moved")


def test_missed_heartbeat_once_per_missed_period(engine: Engine) -> None:
    tid = in_progress(engine)
    engine.advance(4 * H - 1)
    assert notices(engine, "heartbeat_missed") == []
    engine.advance(1)
    assert notices(engine, "heartbeat_missed") == [("heartbeat_missed", 4 * H, [DEV1, LEAD])]
    engine.advance(3 * H)
    assert len(notices(engine, "heartbeat_missed")) == 1
    engine.advance(1 * H)
    assert [n[1] for n in notices(engine, "heartbeat_missed")] == [4 * H, 8 * H]
    engine.advance(1 * H)
    engine.heartbeat(DEV1, tid, tokens=10)  # at 9 h: the next is due at 13 h
    engine.advance(4 * H - 1)
    assert len(notices(engine, "heartbeat_missed")) == 2
    engine.advance(1)
    assert [n[1] for n in notices(engine, "heartbeat_missed")] == [4 * H, 8 * H, 13 * H]
    engine.move(DEV1, tid, "BLOCKED")  # BLOCKED has no heartbeat
    engine.advance(3 * H)
    assert len(notices(engine, "heartbeat_missed")) == 3


def test_token_budgets_via_heartbeats(tokens_model: Model) -> None:
    engine = Engine(tokens_model, MemoryStore(), VirtualClock(0.0))
    ins = engine.submit_instruction(HUMAN, "tokens", 2)
    tid = engine.create_task("planner", ins, "tactical", "backend", "t", required_skills=["python"],
                             estimate_hours=4, estimate_tokens=200_000)
    engine.assign(LEAD, tid, DEV1)
    # ASSIGNED: target 20K, warn 2x = 40K to the owner (@assignee), escalate 6x = 120K to @lead
    assert engine.advance(1000 * H) == []  # time alone never fires a token budget
    assert [e.type for e in engine.heartbeat(DEV1, tid, tokens=39_999)] == ["heartbeat"]
    events = engine.heartbeat(DEV1, tid, tokens=1)
    assert [(e.type, e.data.get("to")) for e in events] == [("heartbeat", None), ("sla_warning", [DEV1])]
    assert events[1].data["measured"] == 40_000 and events[1].data["dimension"] == "tokens"
    assert [e.type for e in engine.heartbeat(DEV1, tid, tokens=50_000)] == ["heartbeat"]
    events = engine.heartbeat(DEV1, tid, tokens=100_000)
    assert [(e.type, e.data.get("to")) for e in events] == [("heartbeat", None), ("sla_escalation", [LEAD])]
    assert [e.type for e in engine.heartbeat(DEV1, tid, tokens=100_000)] == ["heartbeat"]

    engine.move(DEV1, tid, "IN_PROGRESS")
    # IN_PROGRESS: target the estimate (200K tokens), warn 1.5x = 300K, escalate 2x = 400K
    assert [e.type for e in engine.heartbeat(DEV1, tid, tokens=299_000)] == ["heartbeat"]
    assert [e.type for e in engine.heartbeat(DEV1, tid, tokens=1_000)] == ["heartbeat", "sla_warning"]
    engine.move(DEV1, tid, "BLOCKED")
    # BLOCKED: warn 10K to @lead; automatic -> ESCALATED after 50K
    events = engine.heartbeat(DEV1, tid, tokens=60_000)
    assert [(e.type, e.data.get("target")) for e in events] == [
        ("heartbeat", None), ("sla_warning", None), ("task_moved", "ESCALATED")
    ]
    assert events[1].data["to"] == [LEAD]
    assert events[2].actor is None and events[2].data["automatic"] is True
    assert engine.task(tid)["state"] == "ESCALATED" and engine.task(tid)["tokens_in_state"] == 0


def test_two_engines_fire_a_timer_once(v2: Model, tmp_path: object) -> None:
    from pathlib import Path

    from orchdsl_runtime import SQLiteStore

    path = Path(str(tmp_path)) / "org.db"
    clock = VirtualClock(0.0)
    a = Engine(v2, SQLiteStore(path), clock)
    b = Engine(v2, SQLiteStore(path), clock)
    new_task(a)
    clock.advance(10 * H)
    first = a.process_clock()
    second = b.process_clock()
    assert [e.type for e in first] == ["sla_warning", "sla_escalation"]
    assert second == []
    assert len([e for e in b.events() if e.type.startswith("sla_")]) == 2
