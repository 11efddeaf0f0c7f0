"""Gates decided by scores: the total picks the outcome by band; a hold blocks the transition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from orchdsl_runtime import Engine, MemoryStore, Model, VirtualClock, load_model
from runtime_helpers import in_progress, refused

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_text

ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = ("technical_complexity", "scope_ambiguity", "external_dependencies", "security_sensitivity",
              "performance_impact", "data_integrity_risk")


@pytest.fixture(scope="module")
def banded() -> Model:
    """V2 with the risk assessment guarding the domain review's exits instead of a stage."""
    text = (ROOT / "specs" / "orchestration_v2.orch").read_text()
    text = text.replace("  guards stage tactical_planning\n",
                        "  guards DOMAIN_REVIEW -> COMPLETED, DOMAIN_REVIEW -> READY_FOR_HANDOFF\n")
    result = check_text(text, "v2_banded.orch")
    assert result.model is not None and result.ok
    return load_model(json.loads(compiled_json(result.model)))


def test_scores_pick_the_outcome(banded: Model) -> None:
    engine = Engine(banded, MemoryStore(), VirtualClock(0.0))
    tid = in_progress(engine, tier=4)
    engine.move("backend-developer-1", tid, "UNDER_REVIEW", attest=["basic_quality_check"])
    engine.decide_gate("senior-developer", tid, "peer_review", "approved")
    engine.move("senior-developer", tid, "DOMAIN_REVIEW")
    em = "engineering-manager"
    refused(engine, "RUN012", engine.decide_gate, em, tid, "risk_assessment", "APPROVE")
    low = dict.fromkeys(CATEGORIES, 2)
    refused(engine, "RUN012", engine.decide_gate, em, tid, "risk_assessment", scores={**low, "scope_ambiguity": 11})
    refused(engine, "RUN012", engine.decide_gate, em, tid, "risk_assessment",
            scores={k: v for k, v in low.items() if k != "scope_ambiguity"})
    r = refused(engine, "RUN012", engine.decide_gate, em, tid, "risk_assessment", "ESCALATE_TO_HUMAN", scores=low)
    assert "total score 12 gives outcome `APPROVE`" in r.reason
    refused(engine, "RUN004", engine.decide_gate, "tech-lead", tid, "risk_assessment", scores=low)

    high = dict.fromkeys(CATEGORIES, 7)
    (decided,) = engine.decide_gate(em, tid, "risk_assessment", scores=high)
    assert (decided.data["outcome"], decided.data["total"], decided.data["effect"]) == ("ESCALATE_TO_HUMAN", 42, "hold")
    for gate, who, outcome in (("domain_review", "backend-lead", "approved"), ("qa", "qa-lead", "PASS"),
                               ("architecture", "architect", "approved")):
        engine.decide_gate(who, tid, gate, outcome, measures={"test_coverage": 0.95})
    r = refused(engine, "RUN007", engine.move, "backend-lead", tid, "COMPLETED",
                attest=["all_acceptance_criteria_met"])
    assert "`risk_assessment` decided `ESCALATE_TO_HUMAN`, which does not pass" in r.reason
    (decided,) = engine.decide_gate(em, tid, "risk_assessment", scores={**high, "scope_ambiguity": 1, "performance_impact": 1})
    assert decided.data["outcome"] == "APPROVE_WITH_CHECKPOINTS"
    engine.move("backend-lead", tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
    assert engine.task(tid)["state"] == "COMPLETED"
