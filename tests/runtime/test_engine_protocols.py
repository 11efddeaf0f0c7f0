"""Protocols: handoffs with checklists, delegation with acknowledgements, broadcasts."""

from __future__ import annotations

import re
from pathlib import Path

from orchdsl_runtime import Engine, MemoryStore, Model, OrgState, SQLiteStore, VirtualClock, load_model
from orchdsl_runtime.contract.codec import to_data
from runtime_helpers import in_progress, refused

DEV1, DEV2, LEAD = "backend-developer-1", "backend-developer-2", "backend-lead"
HANDOFF_ITEMS = ["documentation_complete", "staging_deployed", "handoff_checklist_prepared",
                 "downstream_domain_notified"]
H = 3600.0


def ready_for_handoff(engine: Engine, **kwargs: object) -> str:
    tid = in_progress(engine, **kwargs)  # type: ignore[arg-type]
    engine.move(DEV1, tid, "UNDER_REVIEW", attest=["basic_quality_check"])
    engine.decide_gate(DEV2, tid, "peer_review", "approved")
    engine.move(DEV2, tid, "DOMAIN_REVIEW")
    engine.decide_gate(LEAD, tid, "domain_review", "approved")
    engine.decide_gate("validator", tid, "validation", "PASS", measures={"test_coverage": 0.95})
    engine.move(LEAD, tid, "READY_FOR_HANDOFF", attest=HANDOFF_ITEMS)
    return tid


def replayed(engine: Engine) -> dict[str, object]:
    fresh = OrgState(engine.model)
    for e in engine.events():
        fresh.apply(e)
    return fresh.dump()


def test_handoff_checklist_accept_and_refusals(engine: Engine) -> None:
    early = in_progress(engine, handoff_to="frontend")
    r = refused(engine, "RUN024", engine.create_handoff, LEAD, early, "frontend", "too early")
    assert "`READY_FOR_HANDOFF`" in r.reason
    tid = ready_for_handoff(engine, handoff_to="frontend")
    refused(engine, "RUN004", engine.create_handoff, DEV1, tid, "frontend", "API ready")
    refused(engine, "RUN013", engine.create_handoff, LEAD, tid, "backend", "API ready")
    refused(engine, "RUN013", engine.create_handoff, LEAD, tid, "qa", "API ready")  # declared handoff_to is frontend
    refused(engine, "RUN002", engine.create_handoff, LEAD, tid, "mobile", "API ready")
    refused(engine, "RUN013", engine.create_handoff, LEAD, tid, "frontend", "  ")
    hid = engine.create_handoff(LEAD, tid, "frontend", "login API ready", artifacts=["openapi.yaml"])
    assert hid == "H1"
    h = engine.state.handoffs[hid]
    # the specific backend -> frontend handoff overrides `* -> *`
    assert h.checklist[0] == "API documentation complete" and len(h.checklist) == 5
    assert any(m.type == "handoff_created" for m in engine.inbox("frontend-lead"))
    refused(engine, "RUN021", engine.create_handoff, LEAD, tid, "frontend", "again")

    refused(engine, "RUN004", engine.tick_handoff, "frontend-lead", hid, h.checklist[0])
    refused(engine, "RUN004", engine.tick_handoff, DEV2, hid, h.checklist[0])
    refused(engine, "RUN013", engine.tick_handoff, LEAD, hid, "Coffee brewed")
    engine.tick_handoff(LEAD, hid, h.checklist[0])
    refused(engine, "RUN021", engine.tick_handoff, DEV1, hid, h.checklist[0])
    r = refused(engine, "RUN022", engine.accept_handoff, "frontend-lead", hid, attest=["all_acceptance_criteria_met"])
    assert "`Request collection provided`" in r.reason
    for item in h.checklist[1:]:
        engine.tick_handoff(DEV1, hid, item)
    refused(engine, "RUN004", engine.accept_handoff, LEAD, hid, attest=["all_acceptance_criteria_met"])
    refused(engine, "RUN004", engine.accept_handoff, "qa-lead", hid, attest=["all_acceptance_criteria_met"])
    refused(engine, "RUN006", engine.accept_handoff, "frontend-lead", hid)  # COMPLETED requires its item
    events = engine.accept_handoff("frontend-lead", hid, attest=["all_acceptance_criteria_met"])
    assert [e.type for e in events] == ["handoff_accepted", "task_moved"]
    assert events[1].data["handoff"] == hid and events[1].actor == "frontend-lead"
    assert engine.task(tid)["state"] == "COMPLETED" and engine.task(tid)["handoff"] is None
    assert engine.state.handoffs[hid].status == "accepted"
    refused(engine, "RUN021", engine.reject_handoff, "frontend-lead", hid, "too late")
    refused(engine, "RUN002", engine.accept_handoff, "frontend-lead", "H9")
    assert replayed(engine) == engine.state.dump()


def test_handoff_rejected_goes_back_and_wildcard_spec(engine: Engine) -> None:
    tid = ready_for_handoff(engine, handoff_to="qa")  # backend -> qa: only `* -> *` is declared
    hid = engine.create_handoff(LEAD, tid, "qa", "ready for QA")
    h = engine.state.handoffs[hid]
    assert h.checklist == ["Documentation complete", "Staging deployed", "Handoff checklist prepared",
                           "Downstream domain notified"]
    # while the handoff is open only reject_handoff drives its `on reject` transition
    r = refused(engine, "RUN025", engine.move, "qa-lead", tid, "IN_PROGRESS")
    assert "`orchdsl run handoff accept|reject`" in r.reason and "`on reject`" in r.reason
    refused(engine, "RUN004", engine.reject_handoff, "frontend-lead", hid, "no")
    refused(engine, "RUN013", engine.reject_handoff, "qa-lead", hid, "")
    events = engine.reject_handoff("qa-lead", hid, "no test plan")  # rejecting needs no complete checklist
    assert [e.type for e in events] == ["handoff_rejected", "task_moved"]
    assert engine.task(tid)["state"] == "IN_PROGRESS" and engine.task(tid)["assignee"] == DEV1
    assert h.status == "rejected" and h.reason == "no test plan"
    assert any("no test plan" in m.text for m in engine.inbox(DEV1))


def test_plain_moves_cannot_bypass_an_open_handoff(engine: Engine) -> None:
    tid = ready_for_handoff(engine, handoff_to="frontend")
    hid = engine.create_handoff(LEAD, tid, summary="API ready")
    h = engine.state.handoffs[hid]
    assert h.to_domain == "frontend"
    # the downstream lead may make both transitions, but not around the handoff
    r = refused(engine, "RUN025", engine.move, "frontend-lead", tid, "COMPLETED",
                attest=["all_acceptance_criteria_met"])
    assert "`on accept`" in r.reason and f"`{hid}`" in r.reason
    refused(engine, "RUN025", engine.move, "frontend-lead", tid, "IN_PROGRESS")
    assert h.status == "open" and engine.task(tid)["state"] == "READY_FOR_HANDOFF"
    engine.reject_handoff("frontend-lead", hid, "no request collection")
    assert h.status == "rejected" and engine.task(tid)["state"] == "IN_PROGRESS"
    refused(engine, "RUN021", engine.tick_handoff, LEAD, hid, h.checklist[0])
    # with no open handoff, the same transitions are plain moves again
    engine.move(DEV1, tid, "UNDER_REVIEW", attest=["basic_quality_check"])
    assert replayed(engine) == engine.state.dump()


def test_delegation_along_the_chain_and_acknowledgement(engine: Engine) -> None:
    em, tl = "engineering-manager", "tech-lead"
    for sender, to in ((em, LEAD), (tl, DEV1), (LEAD, "frontend-developer-1"), (DEV1, LEAD), (tl, em),
                       ("planner", tl)):
        r = refused(engine, "RUN020", engine.delegate, sender, to, "do it")
        assert "engineering-manager -> tech-lead -> @lead -> @member" in r.reason
    refused(engine, "RUN013", engine.delegate, em, tl, "do it", priority="urgent")
    refused(engine, "RUN013", engine.delegate, em, tl, " ")
    refused(engine, "RUN002", engine.delegate, em, tl, "do it", instruction="I7")
    refused(engine, "RUN001", engine.delegate, em, "nobody", "do it")
    d1 = engine.delegate(em, tl, "plan Q3", "see the doc", priority="high")
    d2 = engine.delegate(tl, LEAD, "take the login work")
    d3 = engine.delegate(LEAD, DEV2, "look at the flaky test", priority="low")
    assert (d1, d2, d3) == ("D1", "D2", "D3")
    assert engine.state.delegations[d1].due == 2 * H
    assert any("plan Q3" in m.text for m in engine.inbox(tl))
    refused(engine, "RUN004", engine.acknowledge, em, d1)
    engine.acknowledge(tl, d1, notes="on it")
    refused(engine, "RUN021", engine.acknowledge, tl, d1)
    refused(engine, "RUN002", engine.acknowledge, tl, "D99")
    assert engine.state.delegations[d1].status == "accepted"
    assert any("on it" in m.text for m in engine.inbox(em))

    engine.advance(H)
    engine.acknowledge(DEV2, d3, decline=True, notes="busy")
    assert engine.advance(H - 1) == []
    fired = engine.advance(1)
    assert [(e.type, e.at, e.data["delegation"], e.data["to"]) for e in fired] == [
        ("delegation_overdue", 2 * H, d2, ["tech-lead"])
    ]
    assert engine.advance(100 * H) == []  # once
    assert engine.state.protocol_escalations[0]["delegation"] == d2
    events = engine.acknowledge(LEAD, d2)  # late, still accepted
    assert events[0].data["late"] is True
    assert engine.state.delegations[d3].status == "declined"
    assert replayed(engine) == engine.state.dump()


def test_overdue_fires_the_same_in_one_jump_or_many_steps(v2: Model) -> None:
    def run(steps: list[float]) -> list[tuple[str, float]]:
        e = Engine(v2, MemoryStore(), VirtualClock(0.0))
        e.delegate("engineering-manager", "tech-lead", "a")
        e.advance(600)
        e.delegate("tech-lead", "data-lead", "b")
        out = []
        for s in steps:
            out += [(ev.type, ev.at) for ev in e.advance(s)]
        return out

    one = run([5 * H])
    assert one == [("delegation_overdue", 2 * H), ("delegation_overdue", 2 * H + 600)]
    assert run([H] * 5) == one


def test_broadcasts(engine: Engine) -> None:
    refused(engine, "RUN002", engine.broadcast, LEAD, "backend", "milestone", "normal", "x")
    refused(engine, "RUN013", engine.broadcast, LEAD, "backend-team", "gossip", "normal", "x")
    refused(engine, "RUN013", engine.broadcast, LEAD, "backend-team", "milestone", "low", "x")
    refused(engine, "RUN004", engine.broadcast, "frontend-lead", "backend-team", "milestone", "normal", "x")
    refused(engine, "RUN004", engine.broadcast, DEV1, "domain-leads", "blocker", "high", "x")
    (e,) = engine.broadcast(LEAD, "backend-team", "milestone", "normal", "login shipped", "thanks all")
    assert e.data["to"] == [DEV1, DEV2, "senior-developer"]
    # an ancestor of every member role may send: the tech lead on a team channel
    (e,) = engine.broadcast("tech-lead", "backend-team", "priority_change", "critical", "freeze")
    assert LEAD in e.data["to"] and "tech-lead" not in e.data["to"]
    (e,) = engine.broadcast(DEV1, "all", "celebration", "info", "cake")
    assert len(e.data["to"]) == len(engine.model.agents) - 1
    assert [m.type for m in engine.inbox(DEV2)] == ["broadcast_sent"] * 3
    assert len(engine.state.broadcasts) == 3
    assert replayed(engine) == engine.state.dump()


def protocol_run(engine: Engine) -> None:
    tid = ready_for_handoff(engine, handoff_to="frontend")
    hid = engine.create_handoff(LEAD, tid, summary="API ready")
    for item in engine.state.handoffs[hid].checklist:
        engine.tick_handoff(LEAD, hid, item)
    engine.delegate("tech-lead", "frontend-lead", "review the API", task=tid)
    engine.broadcast(LEAD, "backend-team", "milestone", "normal", "API handed over")
    engine.advance(H)
    engine.accept_handoff("frontend-lead", hid, attest=["all_acceptance_criteria_met"])


def test_events_are_deterministic(v2: Model) -> None:
    runs = []
    for _ in range(2):
        e = Engine(v2, MemoryStore(), VirtualClock(0.0))
        protocol_run(e)
        e.advance(3 * H)
        runs.append([ev.to_json() for ev in e.events()])
    assert runs[0] == runs[1]
    assert any('"type":"delegation_overdue"' in j for j in runs[0])


def test_a_reopened_store_keeps_the_protocol_timers(v2: Model, tmp_path: Path) -> None:
    clock = VirtualClock(0.0)
    first = Engine(v2, SQLiteStore(tmp_path / "org.db"), clock)
    protocol_run(first)
    second = Engine(v2, SQLiteStore(tmp_path / "org.db"), clock)
    assert second.state.dump() == first.state.dump()
    fired = second.advance(H)  # the delegation was due 2 h after it was sent, 1 h ago
    assert [e.type for e in fired if e.type == "delegation_overdue"] == ["delegation_overdue"]
    assert [e.type for e in first.process_clock()] == []  # the other engine sees it was fired
    assert first.state.dump() == second.state.dump()


def test_overdue_escalation_to_the_recipient_itself_goes_one_level_up(engine: Engine) -> None:
    """V2 declares `overdue escalate to tech-lead`: for a delegation to the tech lead
    that would tell the late one, so it goes to the recipient's manager instead."""
    em, tl = "engineering-manager", "tech-lead"
    d1 = engine.delegate(em, tl, "plan Q3")
    d2 = engine.delegate(tl, LEAD, "take the login work")
    fired = engine.advance(2 * H)
    assert [(e.data["delegation"], e.data["to"], e.data["to_actor"]) for e in fired] == [
        (d1, [em], em), (d2, [tl], "tech-lead")
    ]
    # D2's declared target is its sender; one level up from the backend lead is the tech lead again
    assert fired[0].data["declared_to"] == fired[1].data["declared_to"] == "tech-lead"
    notice = next(m for m in engine.inbox(em) if m.type == "delegation_overdue")
    assert notice.text == "`D1` (plan Q3) sent to `tech-lead` is not acknowledged (due 1970-01-01T02:00:00Z)"
    assert not any(m.type == "delegation_overdue" and m.text.startswith("`D1`") for m in engine.inbox(tl))
    assert replayed(engine) == engine.state.dump()


def test_times_in_messages_are_iso_8601_utc(engine: Engine) -> None:
    engine.clock.set(1736154000.0)  # 2025-01-06T09:00:00Z
    tid = in_progress(engine)
    engine.delegate("engineering-manager", "tech-lead", "plan Q3")
    engine.advance(30 * H)
    texts = [m.text for msgs in engine.state.inboxes.values() for m in msgs]
    missed = [t for t in texts if "no heartbeat" in t and tid in t]
    assert missed and missed[0] == f"`{tid}`: no heartbeat since 2025-01-06T09:00:00Z (due 2025-01-06T13:00:00Z)"
    assert any("(acknowledge by 2025-01-06T11:00:00Z)" in t for t in texts)
    assert any("is not acknowledged (due 2025-01-06T11:00:00Z)" in t for t in texts)
    assert not [t for t in texts if re.search(r"\d{6,}", t)], "a raw epoch time in a message"


def test_a_handoff_declared_without_a_rejection_path(v2: Model) -> None:
    data = to_data(v2.spec)
    for spec in data["handoffs"]:
        spec["on_reject"] = None
    engine = Engine(load_model(data), MemoryStore(), VirtualClock(0.0))
    tid = ready_for_handoff(engine, handoff_to="frontend")
    hid = engine.create_handoff(LEAD, tid, "frontend", "API ready")
    assert engine.state.handoffs[hid].on_reject is None
    r = refused(engine, "RUN013", engine.reject_handoff, "frontend-lead", hid, "not yet")
    assert "no rejection path" in r.reason
    for item in engine.state.handoffs[hid].checklist:
        engine.tick_handoff(LEAD, hid, item)
    engine.accept_handoff("frontend-lead", hid, attest=["all_acceptance_criteria_met"])
    assert engine.task(tid)["state"] == "COMPLETED"
