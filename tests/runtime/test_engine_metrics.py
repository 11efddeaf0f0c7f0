"""Metric inputs (clarifications, defects, reassignments, actual hours), the metrics query, standups."""

from __future__ import annotations

import copy
from typing import Any

from orchdsl_runtime import Engine, MemoryStore, OrgState, VirtualClock, load_model
from runtime_helpers import new_task, refused

DEV1, DEV2, SENIOR, LEAD = "backend-developer-1", "backend-developer-2", "senior-developer", "backend-lead"
H, D = 3600.0, 86_400.0


def work(engine: Engine, tid: str, agent: str, hours: float, review_hours: float, actual: float | None = None) -> None:
    peer = DEV2 if agent != DEV2 else DEV1
    engine.assign(LEAD, tid, agent)
    engine.move(agent, tid, "IN_PROGRESS")
    engine.advance(hours * H)
    if actual is not None:
        engine.heartbeat(agent, tid, actual_hours=actual)
    engine.move(agent, tid, "UNDER_REVIEW", attest=["basic_quality_check"])
    engine.decide_gate(peer, tid, "peer_review", "approved")
    engine.move(peer, tid, "DOMAIN_REVIEW")
    engine.advance(review_hours * H)
    engine.decide_gate(LEAD, tid, "domain_review", "approved")
    engine.decide_gate("validator", tid, "validation", "PASS", measures={"test_coverage": 0.9})
    engine.move(LEAD, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])


def test_metrics_without_data_are_none(engine: Engine) -> None:
    m = engine.metrics()
    assert set(m) == {"planning_quality", "assignment_quality", "review_speed", "capacity_accuracy", "delivery",
                      "quality"}
    assert all(v["value"] is None and v["met"] is None and v["samples"] == 0 for v in m.values())
    assert (m["review_speed"]["measure"], m["review_speed"]["argument"]) == ("sla_met", "DOMAIN_REVIEW")
    assert (m["quality"]["op"], m["quality"]["target"]) == ("<", 0.05)


def test_metric_inputs_and_measures(engine: Engine) -> None:
    t1 = new_task(engine, estimate_hours=4)
    t2 = new_task(engine, estimate_hours=2)
    t3 = new_task(engine, estimate_hours=2)
    refused(engine, "RUN004", engine.record_clarification, "frontend-developer-1", t2)
    engine.record_clarification(DEV2, t2, note="which endpoint?")  # before assignment: a member of the domain
    assert any("which endpoint?" in m.text for m in engine.inbox(LEAD))
    work(engine, t1, DEV1, 4, 6)  # 4 h of 4: within and accurate; domain review in 6 h of 8
    work(engine, t2, DEV2, 3, 9)  # 3 h of 2: neither; domain review late
    engine.assign(LEAD, t3, DEV1)
    refused(engine, "RUN004", engine.record_clarification, DEV2, t3)  # assigned: only the assignee
    engine.reassign(LEAD, t3, SENIOR)
    refused(engine, "RUN004", engine.record_clarification, DEV1, t3)
    engine.move(SENIOR, t3, "IN_PROGRESS")
    engine.advance(H)
    engine.heartbeat(SENIOR, t3, actual_hours=2.1)  # reported: 2.1 h of 2, within 10 %
    engine.move(SENIOR, t3, "UNDER_REVIEW", attest=["basic_quality_check"])
    engine.decide_gate(DEV1, t3, "peer_review", "approved")
    engine.move(DEV1, t3, "DOMAIN_REVIEW")
    engine.decide_gate(LEAD, t3, "domain_review", "changes_requested")  # a DOMAIN_REVIEW visit of 0 h
    engine.advance(H)
    engine.move(SENIOR, t3, "UNDER_REVIEW", attest=["basic_quality_check"])
    engine.decide_gate(DEV1, t3, "peer_review", "approved")
    engine.move(DEV1, t3, "DOMAIN_REVIEW")
    engine.decide_gate(LEAD, t3, "domain_review", "approved")
    engine.decide_gate("validator", t3, "validation", "PASS", measures={"test_coverage": 0.9})
    engine.move(LEAD, t3, "COMPLETED", attest=["all_acceptance_criteria_met"])
    refused(engine, "RUN004", engine.record_defect, "frontend-developer-1", t1)
    refused(engine, "RUN004", engine.record_defect, "frontend-lead", t1)
    engine.record_defect("validator", t1, note="regression in login")  # a gate reviewer
    engine.record_defect(DEV2, t1)  # a peer reviewer of the task
    engine.record_defect(LEAD, t3)
    open_task = new_task(engine, estimate_hours=1)  # not completed: counts in no completed measure
    engine.assign(LEAD, open_task, DEV2)

    m = engine.metrics()
    third, two_thirds = round(1 / 3, 12), round(2 / 3, 12)
    assert (m["planning_quality"]["value"], m["planning_quality"]["met"]) == (two_thirds, False)
    assert (m["assignment_quality"]["value"], m["assignment_quality"]["samples"]) == (0.25, 4)
    assert m["assignment_quality"]["met"] is False
    assert (m["review_speed"]["value"], m["review_speed"]["samples"]) == (0.75, 4)
    assert (m["capacity_accuracy"]["value"], m["delivery"]["value"]) == (two_thirds, third)
    assert (m["quality"]["value"], m["quality"]["met"]) == (1.0, False)
    assert engine.actual_hours(engine.state.tasks[t2]) == 3.0
    assert engine.task(t1)["defects"] == 2 and engine.task(t2)["clarifications"] == 1

    fresh = OrgState(engine.model)
    for e in engine.events():
        fresh.apply(e)
    assert fresh.dump() == engine.state.dump()


def test_only_good_work_meets_the_targets(engine: Engine) -> None:
    for _ in range(2):
        work(engine, new_task(engine, estimate_hours=2), DEV1, 1.9, 1)
    m = engine.metrics()
    assert {k: v["met"] for k, v in m.items()} == {
        "planning_quality": True, "assignment_quality": True, "review_speed": True, "capacity_accuracy": True,
        "delivery": True, "quality": True,
    }


def test_standups_on_cadence_and_on_demand(engine: Engine) -> None:
    t1 = new_task(engine, estimate_hours=4)
    engine.assign(LEAD, t1, DEV1)
    engine.move(DEV1, t1, "IN_PROGRESS")
    t2 = new_task(engine, estimate_hours=2)
    engine.assign(LEAD, t2, DEV1)
    refused(engine, "RUN004", engine.schedule_standups, DEV1)
    refused(engine, "RUN002", engine.schedule_standups, "tech-lead", ["ic-hourly"])
    engine.schedule_standups("tech-lead")
    refused(engine, "RUN021", engine.schedule_standups, "tech-lead", ["ic-daily"])
    fired = [e for e in engine.advance(D) if e.type == "standup_reported"]
    members = [a for a in engine.model.agents.values() if a.kind == "member"]
    leads = [a for a in engine.model.agents.values() if a.kind == "lead"]
    assert len(fired) == len(members) + len(leads) and all(e.at == D and e.actor is None for e in fired)
    (mine,) = [e for e in fired if e.data["from"] == DEV1]
    assert mine.data["standup"] == "ic-daily" and mine.data["to"] == [LEAD]
    assert mine.data["report"]["my_tasks"] == [
        {"task": t1, "title": "a task", "status": "IN_PROGRESS"}, {"task": t2, "title": "a task", "status": "ASSIGNED"}
    ]
    assert mine.data["report"]["next_up"] == [{"task": t2, "title": "a task", "status": "ASSIGNED"}]
    (lead,) = [e for e in fired if e.data["from"] == LEAD]
    assert lead.data["to"] == ["tech-lead"]
    assert lead.data["report"]["team_summary"] == {"ASSIGNED": 1, "IN_PROGRESS": 1}
    assert lead.data["report"]["team_capacity"]["members"][DEV1] == 0.25
    assert set(lead.data["report"]) == {"team_summary", "strategic_progress", "team_capacity", "blockers", "handoffs",
                                        "risks", "next_steps"}
    assert any(m.type == "standup_reported" for m in engine.inbox(LEAD))

    rest = [e for e in engine.advance(6 * D) if e.type == "standup_reported"]
    weekly = [e for e in rest if e.data["standup"] == "tech-lead-weekly"]
    assert len(rest) == 7 * (len(members) + len(leads)) - len(fired) + 1  # daily for days 2..7, one weekly
    assert [(e.at, e.data["to"]) for e in weekly] == [(7 * D, ["engineering-manager"])]
    progress = weekly[0].data["report"]["instruction_progress"]
    assert [(p["instruction"], p["tasks"], p["completed"]) for p in progress] == [("I1", 1, 0), ("I2", 1, 0)]
    assert weekly[0].data["report"]["escalations_this_week"]  # the SLA escalations of the week

    now = engine.clock.now()
    on_demand = engine.generate_standups()
    assert len(on_demand) == len(members) + len(leads) + 1  # every standup, the weekly too
    assert all(e.data["due"] is None and e.actor == e.data["from"] for e in on_demand)
    assert engine.state.standup_last["ic-daily"] == 7 * D  # the cadence is not moved
    assert [e.at for e in engine.advance(D - (now - 7 * D)) if e.type == "standup_reported"][:1] == [8 * D]

    fresh = OrgState(engine.model)
    for e in engine.events():
        fresh.apply(e)
    assert fresh.dump() == engine.state.dump()


def test_a_measure_the_runtime_does_not_know_has_no_data(v2_data: dict[str, Any]) -> None:
    data = copy.deepcopy(v2_data)
    data["metrics"] = [{"name": "mood", "measure": "happiness", "argument": None, "op": ">", "target": 0.5,
                        "title": "Happy agents"}]
    engine = Engine(load_model(data), MemoryStore(), VirtualClock(0.0))
    assert engine.metrics()["mood"] == {"measure": "happiness", "argument": None, "title": "Happy agents",
                                        "value": None, "target": 0.5, "op": ">", "met": None, "samples": 0}
    refused(engine, "RUN002", engine.measure, "happiness")
