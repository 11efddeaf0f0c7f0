"""The task lifecycle: legal paths, and a refusal with a code and a reason at every illegal step."""

from __future__ import annotations

from orchdsl_runtime import HUMAN, Engine, MemoryStore, Model, VirtualClock
from runtime_helpers import in_progress, new_task, refused

DEV1, DEV2, SENIOR, LEAD = "backend-developer-1", "backend-developer-2", "senior-developer", "backend-lead"


def test_tier2_path_through_every_gate_with_refusals(engine: Engine) -> None:
    tid = new_task(engine)
    r = refused(engine, "RUN003", engine.move, LEAD, tid, "COMPLETED")
    assert "`PENDING -> COMPLETED`" in r.reason and "`ASSIGNED`" in r.reason
    r = refused(engine, "RUN004", engine.assign, "frontend-lead", tid, DEV1)
    assert "@lead (`backend-lead`)" in r.reason
    engine.assign(LEAD, tid, DEV1)
    assert engine.task(tid)["state"] == "ASSIGNED" and engine.task(tid)["assignee"] == DEV1

    r = refused(engine, "RUN004", engine.move, DEV2, tid, "IN_PROGRESS")
    assert "@assignee (`backend-developer-1`)" in r.reason
    engine.move(DEV1, tid, "IN_PROGRESS")

    r = refused(engine, "RUN006", engine.move, DEV1, tid, "UNDER_REVIEW")
    assert "`basic_quality_check`" in r.reason
    refused(engine, "RUN003", engine.move, DEV1, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
    engine.move(DEV1, tid, "UNDER_REVIEW", attest=["basic_quality_check"])

    # the peer relation: never the assignee, never someone outside the domain
    r = refused(engine, "RUN004", engine.move, DEV1, tid, "DOMAIN_REVIEW")
    assert "the assignee can never act as @peer" in r.reason
    refused(engine, "RUN004", engine.move, "frontend-developer-1", tid, "DOMAIN_REVIEW")
    refused(engine, "RUN004", engine.move, LEAD, tid, "DOMAIN_REVIEW")
    refused(engine, "RUN004", engine.decide_gate, DEV1, tid, "peer_review", "approved")
    r = refused(engine, "RUN007", engine.move, DEV2, tid, "DOMAIN_REVIEW")
    assert "`peer_review` has no decision" in r.reason
    refused(engine, "RUN011", engine.decide_gate, DEV2, tid, "domain_review", "approved")
    refused(engine, "RUN012", engine.decide_gate, DEV2, tid, "peer_review", "fine")
    engine.decide_gate(DEV2, tid, "peer_review", "approved")
    engine.move(DEV2, tid, "DOMAIN_REVIEW")

    r = refused(engine, "RUN007", engine.move, LEAD, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
    assert "`domain_review`" in r.reason and "`validation`" in r.reason
    refused(engine, "RUN004", engine.decide_gate, DEV2, tid, "domain_review", "approved")
    engine.decide_gate(LEAD, tid, "domain_review", "approved")
    refused(engine, "RUN004", engine.decide_gate, LEAD, tid, "validation", "PASS", measures={"test_coverage": 0.9})
    r = refused(engine, "RUN012", engine.decide_gate, "validator", tid, "validation", "PASS",
                measures={"test_coverage": 0.7})
    assert "`test_coverage` >= 0.8" in r.reason
    engine.decide_gate("validator", tid, "validation", "PASS", measures={"test_coverage": 0.8})
    r = refused(engine, "RUN005", engine.move, LEAD, tid, "READY_FOR_HANDOFF")
    assert "`task.cross_domain` is false" in r.reason
    refused(engine, "RUN006", engine.move, LEAD, tid, "COMPLETED")
    refused(engine, "RUN004", engine.move, DEV2, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
    engine.move(LEAD, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])

    task = engine.task(tid)
    assert task["state"] == "COMPLETED"
    assert [h[3] for h in task["history"]] == [
        "ASSIGNED", "IN_PROGRESS", "UNDER_REVIEW", "DOMAIN_REVIEW", "COMPLETED"
    ]
    assert engine.state.ledger.committed(DEV1) == 0.0
    refused(engine, "RUN003", engine.move, LEAD, tid, "IN_PROGRESS")


def test_guard_false_names_the_part(engine: Engine) -> None:
    tid = new_task(engine, tier=2, kind="strategic")
    # at tier 2 PENDING -> IN_PLANNING is not declared at all (IN_PLANNING is tiers 3-4)
    refused(engine, "RUN003", engine.move, "planner", tid, "IN_PLANNING")
    t3 = new_task(engine, tier=3, kind="tactical")
    r = refused(engine, "RUN005", engine.move, "planner", t3, "IN_PLANNING")
    assert "`task.kind == strategic` is false (task.kind = tactical)" in r.reason
    assert "tier >= 3" not in r.reason.split("is false:")[1]


def test_cross_domain_guard_and_downstream_lead(engine: Engine) -> None:
    tid = in_progress(engine, handoff_to="frontend")
    engine.move(DEV1, tid, "UNDER_REVIEW", attest=["basic_quality_check"])
    engine.decide_gate(DEV2, tid, "peer_review", "approved")
    engine.move(DEV2, tid, "DOMAIN_REVIEW")
    engine.decide_gate(LEAD, tid, "domain_review", "approved")
    engine.decide_gate("validator", tid, "validation", "PASS", measures={"test_coverage": 0.95})
    r = refused(engine, "RUN005", engine.move, LEAD, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
    assert "`not task.cross_domain` is false" in r.reason
    handoff = ["documentation_complete", "staging_deployed", "handoff_checklist_prepared"]
    r = refused(engine, "RUN006", engine.move, LEAD, tid, "READY_FOR_HANDOFF", attest=handoff)
    assert "`downstream_domain_notified`" in r.reason
    engine.move(LEAD, tid, "READY_FOR_HANDOFF", attest=[*handoff, "downstream_domain_notified"])
    # a task handed to another domain finishes through the declared handoff, not a plain move
    for who in (LEAD, "frontend-lead"):
        r = refused(engine, "RUN025", engine.move, who, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
        assert "handoff create" in r.reason
    hid = engine.create_handoff(LEAD, tid, "frontend", "API ready")
    engine.tick_handoff(LEAD, hid, engine.state.handoffs[hid].checklist)
    r = refused(engine, "RUN004", engine.accept_handoff, LEAD, hid, attest=["all_acceptance_criteria_met"])
    assert "frontend-lead" in r.reason
    engine.accept_handoff("frontend-lead", hid, attest=["all_acceptance_criteria_met"])
    assert engine.task(tid)["state"] == "COMPLETED"


def test_gate_outcome_moves_and_hold_blocks(engine: Engine) -> None:
    tid = in_progress(engine)
    engine.move(DEV1, tid, "UNDER_REVIEW", attest=["basic_quality_check"])
    events = engine.decide_gate(SENIOR, tid, "peer_review", "changes_requested")
    assert [e.type for e in events] == ["gate_decided", "task_moved"]
    assert engine.task(tid)["state"] == "IN_PROGRESS"
    # a decision belongs to its visit: back in UNDER_REVIEW, the gate is open again
    engine.move(DEV1, tid, "UNDER_REVIEW", attest=["basic_quality_check"])
    refused(engine, "RUN007", engine.move, SENIOR, tid, "DOMAIN_REVIEW")
    engine.decide_gate(SENIOR, tid, "peer_review", "approved")
    engine.move(SENIOR, tid, "DOMAIN_REVIEW")
    engine.decide_gate(LEAD, tid, "domain_review", "approved")
    engine.decide_gate("validator", tid, "validation", "BLOCKED")
    r = refused(engine, "RUN007", engine.move, LEAD, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
    assert "decided `BLOCKED`, which does not pass" in r.reason
    engine.decide_gate("validator", tid, "validation", "FIXABLE")
    assert engine.task(tid)["state"] == "IN_PROGRESS"


def test_tier1_completes_through_validation_only(engine: Engine) -> None:
    tid = in_progress(engine, tier=1)
    refused(engine, "RUN007", engine.move, DEV1, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
    r = refused(engine, "RUN012", engine.decide_gate, "validator", tid, "validation", "PASS",
                measures={"test_coverage": 0.5})
    assert ">= 0.6" in r.reason
    engine.decide_gate("validator", tid, "validation", "PASS", measures={"test_coverage": 0.6})
    engine.move(DEV1, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
    assert engine.task(tid)["state"] == "COMPLETED"


def test_dependency_unmet(engine: Engine) -> None:
    first = in_progress(engine)
    ins = engine.task(first)["instruction"]
    second = engine.create_task("backend-lead", ins, "tactical", "backend", "after the first",
                                required_skills=["python"], estimate_hours=2, dependencies=[first])
    engine.assign(LEAD, second, DEV2)
    r = refused(engine, "RUN008", engine.move, DEV2, second, "IN_PROGRESS")
    assert f"`{first}` is `IN_PROGRESS`" in r.reason and "task.dependencies_met" in r.reason
    # cancel is not success: the dependency is still unmet
    engine.move("tech-lead", second, "CANCELLED", attest=["documentation"])
    refused(engine, "RUN003", engine.move, DEV2, second, "IN_PROGRESS")


def test_assignee_without_capacity_cannot_start(engine: Engine) -> None:
    tid = new_task(engine, estimate_hours=23.0)  # 23 of 24 h over the 3-day horizon: above 95 %
    engine.assign(LEAD, tid, DEV1)
    r = refused(engine, "RUN009", engine.move, DEV1, tid, "IN_PROGRESS")
    assert "`assignee.has_capacity` is false" in r.reason and "96%" in r.reason


def test_unknown_things_and_bad_arguments(engine: Engine) -> None:
    tid = new_task(engine)
    refused(engine, "RUN001", engine.move, "nobody", tid, "ASSIGNED")
    refused(engine, "RUN002", engine.move, LEAD, "T99", "ASSIGNED")
    refused(engine, "RUN002", engine.decide_gate, LEAD, tid, "no_such_gate", "x")
    ins = engine.submit_instruction(HUMAN, "x", 2)
    refused(engine, "RUN013", engine.create_task, "planner", ins, "epic", "backend", "t")
    refused(engine, "RUN002", engine.create_task, "planner", ins, "tactical", "marketing", "t")
    r = refused(engine, "RUN013", engine.create_task, "planner", ins, "tactical", "backend", "t",
                required_skills=["cobol"])
    assert "`cobol`" in r.reason
    refused(engine, "RUN002", engine.create_task, "planner", ins, "tactical", "backend", "t", dependencies=["T42"])
    refused(engine, "RUN014", engine.create_task, "planner", ins, "tactical", "backend", "t", id=tid)
    refused(engine, "RUN013", engine.submit_instruction, HUMAN, "x", 9)
    t0 = engine.submit_instruction(HUMAN, "what is 2+2", 0)
    refused(engine, "RUN013", engine.create_task, "planner", t0, "tactical", "backend", "t")


def test_state_visits_and_tokens(v2: Model) -> None:
    clock = VirtualClock(100.0)
    engine = Engine(v2, MemoryStore(), clock)
    tid = in_progress(engine)
    clock.advance(60)
    engine.heartbeat(DEV1, tid, tokens=1500, note="half way", remaining_hours=2)
    refused(engine, "RUN004", engine.heartbeat, DEV2, tid, tokens=5)
    refused(engine, "RUN013", engine.heartbeat, DEV1, tid, tokens=-5)
    t = engine.task(tid)
    assert t["tokens_in_state"] == 1500 and t["visit"] == 3 and t["entered_at"] == 100.0
    assert engine.state.ledger.committed(DEV1) == 2.0
    engine.move(DEV1, tid, "BLOCKED")
    t = engine.task(tid)
    assert t["tokens_in_state"] == 0 and t["tokens_total"] == 1500 and t["entered_at"] == 160.0


def test_a_state_owned_by_the_assignee_needs_one(engine: Engine) -> None:
    tid = new_task(engine)
    r = refused(engine, "RUN018", engine.move, LEAD, tid, "ASSIGNED")
    assert "assign it instead" in r.reason


def test_a_gate_is_open_only_where_its_transition_exists(engine: Engine) -> None:
    # validation guards IN_PROGRESS -> COMPLETED, which exists at tier 1 only
    tid = in_progress(engine, tier=2)
    r = refused(engine, "RUN011", engine.decide_gate, "validator", tid, "validation", "PASS",
                measures={"test_coverage": 0.9})
    assert "guards no transition out of `IN_PROGRESS` at tier 2" in r.reason
