"""The Agent_Memory projection: every file the runtime writes validates against the
JSON Schemas of the run directory (the compiler's, plus the runtime's own for
notices, escalations and gate decisions); the content is deterministic, writes
are atomic and files the state no longer produces are removed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from orchdsl_runtime.cli import Run, create_task, parse_time
from orchdsl_runtime.projection import MANIFEST

from orchdsl.generate import build_files
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parents[2]
START = parse_time("2025-01-06T09:00:00Z")


@pytest.fixture(scope="module")
def compiled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = check_files([ROOT / "specs" / "orchestration_v2.orch"])
    assert result.model is not None and result.ok
    out = tmp_path_factory.mktemp("v2")
    for rel, text in build_files(result.model).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    return out


def schema_for(rel: str) -> str:
    """Which schema a projected file must match, by its path (facts §6)."""
    parts = rel.split("/")
    assert parts[0] == "Agent_Memory"
    if parts[2:4] == ["tasks", "strategic"]:
        return "strategic-task"
    if parts[2:4] == ["tasks", "tactical"]:
        return "tactical-task"
    if parts[1:4] == ["_system", "capacity"] or parts[1:3] == ["_system", "capacity"]:
        return "capacity-system-wide" if parts[-1] == "system_wide.yaml" else "capacity-team"
    if parts[1:3] == ["_communication", "inbox"]:
        return "notice"
    if parts[1:3] == ["_communication", "handoffs"]:
        return "handoff"
    if parts[1:3] == ["_communication", "escalations"]:
        return "escalation"
    if parts[2] == "escalations":
        return "escalation"
    if parts[2] == "decisions":
        return "gate-decision"
    raise AssertionError(f"unexpected projected file {rel}")


def drive(run: Run) -> None:
    """A tier-3 instruction: a strategic task, a cross-domain tactical task that goes
    through every review and the handoff, one left waiting until it escalates, and
    one that nobody can take."""
    e = run.engine
    e.submit_instruction("human", "saved searches", 3, id="I1")
    st = create_task(run, "planner", instruction="I1", kind="strategic", domain="backend", title="Saved searches",
                     estimate=["2d"], handoff_to="frontend")
    e.move("planner", st, "IN_PLANNING")
    tt = create_task(run, "backend-lead", instruction="I1", kind="tactical", domain="backend", parent=st,
                     title="API", skills=["python"], nice=["redis"], estimate=["6h"], handoff_to="frontend")
    wait = create_task(run, "frontend-lead", instruction="I1", kind="tactical", domain="frontend", parent=st,
                       title="Sidebar", skills=["react"], estimate=["5h"], depends=[tt])
    tokens = create_task(run, "backend-lead", instruction="I1", kind="tactical", domain="backend", parent=st,
                         title="Token-budgeted spike", skills=["python"], estimate=["50K"])
    assert (st, tt, wait, tokens) == ("ST1", "TT1.1", "TT1.2", "TT1.3")
    e.assign("backend-lead", tt, "backend-developer-1")
    e.assign("frontend-lead", wait)
    e.move("backend-developer-1", tt, "IN_PROGRESS")
    e.advance(5 * 3600)  # a missed heartbeat, an SLA warning on the waiting task
    e.heartbeat("backend-developer-1", tt, tokens=30_000, note="done", remaining_hours=0.5)
    e.move("backend-developer-1", tt, "UNDER_REVIEW", attest=["basic_quality_check"])
    e.decide_gate("backend-developer-2", tt, "peer_review", "approved")
    e.move("backend-developer-2", tt, "DOMAIN_REVIEW")
    e.decide_gate("backend-lead", tt, "domain_review", "approved")
    e.decide_gate("architect", tt, "architecture", "approved")
    e.decide_gate("validator", tt, "validation", "PASS", measures={"test_coverage": 0.95, "tests_pass": 1})
    e.move("backend-lead", tt, "READY_FOR_HANDOFF", attest=["documentation_complete", "staging_deployed",
                                                            "handoff_checklist_prepared", "downstream_domain_notified"])
    hid = e.create_handoff("backend-lead", tt, summary="API on staging", artifacts=["openapi.yaml"])
    for item in e.state.handoffs[hid].checklist[:2]:
        e.tick_handoff("backend-developer-1", hid, item)
    run.project()
    handoff = run.dir / "Agent_Memory" / "_communication" / "handoffs" / "backend_to_frontend_20250106_140000.yaml"
    assert yaml.safe_load(handoff.read_text())["acceptance"]["acknowledged"] is False
    for item in e.state.handoffs[hid].checklist[2:]:
        e.tick_handoff("backend-lead", hid, item)
    e.accept_handoff("frontend-lead", hid, attest=["all_acceptance_criteria_met"])
    e.record_defect("backend-lead", tt, "missing index")
    did = e.delegate("engineering-manager", "tech-lead", "own the saved-search rollout", instruction="I1")
    e.broadcast("tech-lead", "all", "milestone", "normal", "saved searches API is live")
    e.advance(30 * 3600)  # TT1.2 waited in ASSIGNED past its escalation threshold; D1 is overdue
    e.acknowledge("tech-lead", did, notes="late, sorry")
    e.generate_standups()
    run.save_clock()
    run.project()


def validate_all(run_dir: Path) -> dict[str, int]:
    schemas = {p.name.removesuffix(".schema.json"): json.loads(p.read_text())
               for p in (run_dir / "schemas").glob("*.schema.json")}
    files = json.loads((run_dir / MANIFEST).read_text())
    counts: dict[str, int] = {}
    for rel in files:
        name = schema_for(rel)
        data = yaml.safe_load((run_dir / rel).read_text(encoding="utf-8"))
        validator = jsonschema.Draft202012Validator(schemas[name], format_checker=jsonschema.FormatChecker())
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, (rel, errors)
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_every_projected_file_validates(compiled_dir: Path, tmp_path: Path) -> None:
    run = Run.init(tmp_path / "run", compiled_dir / "model.json", START)
    try:
        counts = validate_all(run.dir)  # before any command: capacity files only
        assert set(counts) == {"capacity-team", "capacity-system-wide"}
        drive(run)
        counts = validate_all(run.dir)
    finally:
        run.close()
    assert counts["strategic-task"] == 1 and counts["tactical-task"] == 3 and counts["handoff"] == 1
    assert counts["gate-decision"] == 4 and counts["escalation"] >= 1 and counts["notice"] >= 5
    memory = run.dir / "Agent_Memory"
    tt = yaml.safe_load((memory / "I1/tasks/tactical/backend/TT1.1.yaml").read_text())
    assert tt["status"] == "COMPLETED" and tt["parent_strategic_task"] == "ST1"
    assert tt["assigned_to"] == "backend-developer-1" and tt["estimated_effort"] == "6h"
    waiting = yaml.safe_load((memory / "I1/tasks/tactical/frontend/TT1.2.yaml").read_text())
    assert waiting["status"] == "ASSIGNED" and set(waiting["assignment_rationale"]["factors"]) >= {"skill_match"}
    assert yaml.safe_load((memory / "I1/tasks/tactical/backend/TT1.3.yaml").read_text())["estimated_effort"] == "50K"
    st = yaml.safe_load((memory / "I1/tasks/strategic/ST1.yaml").read_text())
    assert st["status"] == "IN_PLANNING" and st["scope"]["domains"] == ["backend", "frontend"]
    esc = [yaml.safe_load(p.read_text()) for p in (memory / "I1" / "escalations").iterdir()]
    assert any(x["task_id"] == "TT1.2" and x["to"] == ["frontend-lead"] for x in esc)
    overdue = [yaml.safe_load(p.read_text()) for p in (memory / "_communication" / "escalations").iterdir()]
    assert [x["kind"] for x in overdue] == ["acknowledgement"]
    handoff = yaml.safe_load(next((memory / "_communication" / "handoffs").iterdir()).read_text())
    assert handoff["acceptance"]["acknowledged"] is True and handoff["from_task"] == "TT1.1"
    assert {c["verified_by"] for c in handoff["handoff_checklist"]} == {"backend-developer-1", "backend-lead"}
    types = {yaml.safe_load(p.read_text())["type"] for p in (memory / "_communication" / "inbox").rglob("*.yaml")}
    assert {"delegated", "broadcast_sent", "standup_reported", "handoff_created"} <= types
    inbox = sorted(p.name for p in (memory / "_communication" / "inbox" / "frontend-lead").iterdir()
                   if p.suffix == ".yaml")
    assert any(n.startswith("sla_escalation_20250107_") for n in inbox), inbox
    team = yaml.safe_load((memory / "_system/capacity/frontend/team.yaml").read_text())
    dev = next(m for m in team["team"] if m["current_allocation"])
    assert dev["current_allocation"] == [{"task": "TT1.2", "estimated_remaining": 5}]
    # 5 h committed of 3 ICs x 8 h over a 3-day horizon: 5/72 of the capacity, 5/3 h a day
    assert team["capacity"] == {"total": 24, "utilized": 1.67, "utilization": 6.94}
    assert list(team["forecast"]["by_date"]) == ["2025-01-07", "2025-01-08", "2025-01-09"]
    # the compiled static files are there too
    assert (memory / "_system" / "config" / "task_state_machine.yaml").is_file()
    assert not list(run.dir.rglob(".*.tmp*")), "a temporary file was left behind"


def test_projection_is_deterministic_and_a_pure_function_of_the_log(compiled_dir: Path, tmp_path: Path) -> None:
    texts = []
    for name in ("a", "b"):
        run = Run.init(tmp_path / name, compiled_dir / "model.json", START)
        try:
            drive(run)
            assert run.project() == []  # nothing changed since the last write
        finally:
            run.close()
        memory = tmp_path / name / "Agent_Memory"
        texts.append({str(p.relative_to(memory)): p.read_bytes() for p in sorted(memory.rglob("*")) if p.is_file()})
    assert texts[0] == texts[1]
    # a fresh process (replaying the log) projects the same bytes
    again_dir = tmp_path / "a"
    for p in (again_dir / "Agent_Memory").rglob("*.yaml"):
        if "_system/config" not in str(p) and "skills" not in str(p):
            p.unlink()
    run = Run.open(again_dir)
    try:
        changed = run.project()
    finally:
        run.close()
    memory = again_dir / "Agent_Memory"
    again = {str(p.relative_to(memory)): p.read_bytes() for p in sorted(memory.rglob("*")) if p.is_file()}
    assert again == texts[0] and changed


def test_files_the_state_no_longer_produces_are_removed(compiled_dir: Path, tmp_path: Path) -> None:
    run = Run.init(tmp_path / "run", compiled_dir / "model.json", START)
    try:
        stray = run.dir / "Agent_Memory" / "I9" / "tasks" / "strategic" / "ST9.yaml"
        stray.parent.mkdir(parents=True)
        stray.write_text("id: ST9\n")
        manifest = run.dir / MANIFEST
        names = json.loads(manifest.read_text())
        manifest.write_text(json.dumps([*names, "Agent_Memory/I9/tasks/strategic/ST9.yaml"]))
        changed = run.project()
    finally:
        run.close()
    assert "Agent_Memory/I9/tasks/strategic/ST9.yaml" in changed and not stray.exists()
