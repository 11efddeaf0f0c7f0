"""Instruction flows by tier: stages as they run, stage gates on the instruction, closing."""

from __future__ import annotations

from orchdsl_runtime import HUMAN, Engine, OrgState
from runtime_helpers import refused

EM, LEAD, DEV1 = "engineering-manager", "backend-lead", "backend-developer-1"
CATEGORIES = ("technical_complexity", "scope_ambiguity", "external_dependencies", "security_sensitivity",
              "performance_impact", "data_integrity_risk")


def tactical(engine: Engine, ins: str, **kwargs: object) -> str:
    return engine.create_task(LEAD, ins, "tactical", "backend", "t", required_skills=["python"],  # type: ignore[arg-type]
                              estimate_hours=2.0, **kwargs)


def finish(engine: Engine, tid: str) -> None:
    engine.assign(LEAD, tid, DEV1)
    engine.move(DEV1, tid, "IN_PROGRESS")
    engine.move(DEV1, tid, "UNDER_REVIEW", attest=["basic_quality_check"])
    engine.decide_gate("backend-developer-2", tid, "peer_review", "approved")
    engine.move("backend-developer-2", tid, "DOMAIN_REVIEW")
    engine.decide_gate(LEAD, tid, "domain_review", "approved")
    tier = engine.state.tasks[tid].tier
    if tier == 4:
        engine.decide_gate("qa-lead", tid, "qa", "PASS", measures={"test_coverage": 0.95})
    if tier >= 3:
        engine.decide_gate("architect", tid, "architecture", "approved")
    if tier <= 3:
        engine.decide_gate("validator", tid, "validation", "PASS", measures={"test_coverage": 0.95})
    engine.move(LEAD, tid, "COMPLETED", attest=["all_acceptance_criteria_met"])


def test_tier0_answers_directly(engine: Engine) -> None:
    ins = engine.submit_instruction(HUMAN, "what is our Python version?", 0)
    refused(engine, "RUN013", engine.create_task, "planner", ins, "tactical", "backend", "t")
    refused(engine, "RUN004", engine.run_stage, "planner", ins, "answer")
    refused(engine, "RUN013", engine.run_stage, "router", ins, "execution")
    engine.run_stage("router", ins, "answer")
    refused(engine, "RUN021", engine.run_stage, "router", ins, "answer")
    refused(engine, "RUN004", engine.close_instruction, DEV1, ins)
    engine.close_instruction("router", ins)
    data = engine.instruction(ins)
    assert data["stages"] == ["answer"] and data["flow_stages"] == ["answer"] and data["closed_by"] == "router"
    refused(engine, "RUN021", engine.close_instruction, "router", ins)


def test_tier4_risk_assessment_before_tactical_planning_and_go_no_go_before_close(engine: Engine) -> None:
    ins = engine.submit_instruction(HUMAN, "migrate the orders table", 4)
    data = engine.instruction(ins)
    assert data["stage_gates"] == {"close": ["go_no_go"], "tactical_planning": ["risk_assessment"]}
    st = engine.create_task("planner", ins, "strategic", "backend", "milestone", estimate_hours=16.0)
    r = refused(engine, "RUN019", tactical, engine, ins, parent=st)
    assert "gate `risk_assessment` has no decision on `I1`" in r.reason
    refused(engine, "RUN004", engine.decide_instruction_gate, "tech-lead", ins, "risk_assessment",
            scores=dict.fromkeys(CATEGORIES, 2))
    refused(engine, "RUN011", engine.decide_instruction_gate, EM, ins, "validation", "PASS")
    refused(engine, "RUN002", engine.decide_instruction_gate, EM, ins, "vibes", "PASS")
    refused(engine, "RUN012", engine.decide_instruction_gate, EM, ins, "risk_assessment", "APPROVE")
    refused(engine, "RUN012", engine.decide_instruction_gate, EM, ins, "risk_assessment",
            scores={**dict.fromkeys(CATEGORIES, 2), "scope_ambiguity": 11})
    (e,) = engine.decide_instruction_gate(EM, ins, "risk_assessment", scores=dict.fromkeys(CATEGORIES, 7))
    assert (e.data["outcome"], e.data["total"], e.data["effect"]) == ("ESCALATE_TO_HUMAN", 42, "hold")
    r = refused(engine, "RUN019", tactical, engine, ins, parent=st)
    assert "decided `ESCALATE_TO_HUMAN`, which does not pass" in r.reason
    (e,) = engine.decide_instruction_gate(EM, ins, "risk_assessment", scores=dict.fromkeys(CATEGORIES, 3))
    assert e.data["outcome"] == "APPROVE_WITH_MONITORING"
    t1 = tactical(engine, ins, parent=st)
    refused(engine, "RUN021", engine.decide_instruction_gate, EM, ins, "risk_assessment",
            scores=dict.fromkeys(CATEGORIES, 3))  # tactical planning ran: the decision is moot now

    r = refused(engine, "RUN023", engine.close_instruction, "tech-lead", ins)
    assert "`ST1` is `PENDING`" in r.reason and "`TT1.1` is `PENDING`" in r.reason
    finish(engine, t1)
    engine.move("tech-lead", st, "CANCELLED", attest=["documentation"])
    r = refused(engine, "RUN019", engine.close_instruction, "tech-lead", ins)
    assert "closing of tier-4 instruction `I1` is guarded: gate `go_no_go` has no decision" in r.reason
    engine.decide_instruction_gate(EM, ins, "go_no_go", "NO_GO")
    refused(engine, "RUN019", engine.close_instruction, "tech-lead", ins)
    refused(engine, "RUN012", engine.decide_instruction_gate, EM, ins, "go_no_go", "MAYBE")
    engine.decide_instruction_gate(EM, ins, "go_no_go", "GO_WITH_CAVEATS")
    (closed,) = engine.close_instruction("tech-lead", ins)
    assert closed.data["succeeded"] == 1 and closed.data["tasks"] == 2
    data = engine.instruction(ins)
    assert data["stages"] == ["routing", "strategic_planning", "tactical_planning", "execution"]
    assert data["gate_decisions"] == {"go_no_go": "GO_WITH_CAVEATS", "risk_assessment": "APPROVE_WITH_MONITORING"}
    refused(engine, "RUN021", tactical, engine, ins)
    refused(engine, "RUN021", engine.decide_instruction_gate, EM, ins, "go_no_go", "GO")

    fresh = OrgState(engine.model)
    for ev in engine.events():
        fresh.apply(ev)
    assert fresh.dump() == engine.state.dump()


def test_tiers_without_stage_gates_plan_at_once_and_record_stages(engine: Engine) -> None:
    i1 = engine.submit_instruction(HUMAN, "fix the typo", 1)
    t = tactical(engine, i1)
    refused(engine, "RUN011", engine.decide_instruction_gate, EM, i1, "go_no_go", "GO")
    refused(engine, "RUN013", engine.run_stage, "planner", i1, "strategic_planning")
    refused(engine, "RUN004", engine.run_stage, DEV1, i1, "routing")
    engine.assign(LEAD, t, DEV1)
    engine.move(DEV1, t, "IN_PROGRESS")
    engine.decide_gate("validator", t, "validation", "PASS", measures={"test_coverage": 0.7})
    engine.move(DEV1, t, "COMPLETED", attest=["all_acceptance_criteria_met"])
    engine.close_instruction(HUMAN, i1)
    assert engine.instruction(i1)["stages"] == ["routing", "delegation", "execution"]

    i3 = engine.submit_instruction(HUMAN, "feature", 3)
    engine.run_stage("planner", i3, "strategic_planning")
    tactical(engine, i3)
    assert engine.instruction(i3)["stages"] == ["routing", "strategic_planning", "tactical_planning"]
