"""The Agent_Memory projection: every file the runtime writes validates against the
JSON Schemas of the run directory (the compiler's, plus the runtime's own for
notices, escalations and gate decisions); the content is deterministic, writes
are atomic and files the state no longer produces are removed."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from orchdsl_runtime import projection
from orchdsl_runtime.rundir import Run
from orchdsl_runtime.scenario import play_file
from runtime_helpers import START, cli, drive, projected

from orchdsl.generate.schemas import NOTICE_TYPES, agent_file_schemas
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parents[2]


def schema_for(rel: str, data: Any) -> str:
    """Which schema a projected file must match, by its path (facts §2 and §6)."""
    parts = rel.split("/")
    assert parts[0] == "Agent_Memory"
    if parts[1:3] == ["_communication", "inbox"] and re.fullmatch(r"delegation_\d{8}_\d{6}(_\d+)?\.yaml", parts[-1]):
        return "delegation"
    if parts[1:3] == ["_communication", "inbox"] and parts[-1].startswith("acknowledgement_"):
        return "acknowledgement"
    if parts[1:3] == ["_communication", "inbox"] and re.fullmatch(r"consultation_\d{8}_\d{6}(_\d+)?\.yaml", parts[-1]):
        return "consultation"
    if parts[1:3] == ["_communication", "broadcast"]:
        assert parts[-1].startswith("announcement_")
        return "broadcast"
    if parts[1:3] == ["_communication", "reports"]:
        assert parts[3] in ("daily", "weekly")
        return f"standup-{data['standup']}"
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


def validate_all(run_dir: Path) -> dict[str, int]:
    schemas = {p.name.removesuffix(".schema.json"): json.loads(p.read_text())
               for p in (run_dir / "schemas").glob("*.schema.json")}
    files = projected(run_dir)
    counts: dict[str, int] = {}
    for rel in files:
        data = yaml.safe_load((run_dir / rel).read_text(encoding="utf-8"))
        name = schema_for(rel, data)
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
    assert counts["strategic-task"] == 1 and counts["tactical-task"] == 4 and counts["handoff"] == 1
    assert counts["gate-decision"] == 4 and counts["escalation"] >= 1 and counts["notice"] >= 5
    assert counts["delegation"] == 2 and counts["acknowledgement"] == 1 and counts["broadcast"] == 2
    assert counts["consultation"] == 4  # two questions, one answer, one default
    assert counts["standup-ic-daily"] >= 3 and counts["standup-lead-daily"] >= 3
    assert counts["standup-tech-lead-weekly"] == 1
    memory = run.dir / "Agent_Memory"
    tt = yaml.safe_load((memory / "I1/tasks/tactical/backend/TT1.1.yaml").read_text())
    assert tt["status"] == "COMPLETED" and tt["parent_strategic_task"] == "ST1"
    assert tt["description"] == "API: CRUD and rerun endpoints"
    assert tt["tactical_acceptance_criteria"] == ["OpenAPI documented", "p95 under 200 ms"]
    typo = yaml.safe_load((memory / "I2/tasks/tactical/backend/TT0.1.yaml").read_text())
    assert typo["parent_strategic_task"] is None and typo["tactical_acceptance_criteria"] == ["Typo"]
    assert tt["assigned_to"] == "backend-developer-1" and tt["estimated_effort"] == "6h"
    waiting = yaml.safe_load((memory / "I1/tasks/tactical/frontend/TT1.2.yaml").read_text())
    assert waiting["status"] == "ASSIGNED" and set(waiting["assignment_rationale"]["factors"]) >= {"skill_match"}
    assert yaml.safe_load((memory / "I1/tasks/tactical/backend/TT1.3.yaml").read_text())["estimated_effort"] == "50K"
    st = yaml.safe_load((memory / "I1/tasks/strategic/ST1.yaml").read_text())
    assert st["status"] == "IN_PLANNING" and st["scope"]["domains"] == ["backend", "frontend"]
    esc = [yaml.safe_load(p.read_text()) for p in (memory / "I1" / "escalations").iterdir()]
    assert any(x["task_id"] == "TT1.2" and x["to"] == ["frontend-lead"] for x in esc)
    overdue = [yaml.safe_load(p.read_text()) for p in (memory / "_communication" / "escalations").iterdir()]
    assert sorted((x["kind"], x["delegation_id"], x["to"][0]) for x in overdue) == [
        ("acknowledgement", "D1", "engineering-manager"), ("acknowledgement", "D2", "tech-lead")]
    assert all(x["task_id"] is None and x["task_status"] is None for x in overdue)
    handoff = yaml.safe_load(next((memory / "_communication" / "handoffs").iterdir()).read_text())
    assert handoff["acceptance"]["acknowledged"] is True and handoff["from_task"] == "TT1.1"
    assert {c["verified_by"] for c in handoff["handoff_checklist"]} == {"backend-developer-1", "backend-lead"}
    types = {yaml.safe_load(p.read_text())["type"] for p in (memory / "_communication" / "inbox").rglob("*.yaml")}
    assert {"delegation", "acknowledgement", "handoff_created", "delegation_overdue", "task_assigned"} <= types
    assert not types & {"delegated", "delegation_acknowledged", "broadcast_sent", "standup_reported"}
    comm = memory / "_communication"
    d1 = yaml.safe_load((comm / "inbox/tech-lead/delegation_20250106_140000.yaml").read_text())
    assert d1["id"] == "D1" and d1["instruction_id"] == "I1" and d1["delegation"] == {
        "scope": "own the saved-search rollout"}
    assert d1["response_deadline"] == "2025-01-06T16:00:00Z"
    assert d1["acknowledgement"] == {"status": "accepted", "acknowledged_at": "2025-01-07T20:00:00Z",
                                     "notes": "late, sorry", "overdue": True}
    asked = yaml.safe_load((comm / "inbox/architect/consultation_20250106_090000.yaml").read_text())
    assert (asked["kind"], asked["from"], asked["question"], asked["instruction_id"]) == (
        "question", "planner", "one service or two?", "I1")
    answers = sorted((yaml.safe_load(p.read_text()) for p in (comm / "inbox").glob("*/consultation_*.yaml")
                      if yaml.safe_load(p.read_text())["kind"] == "answer"), key=lambda x: x["consultation"])
    assert [(a["to"], a["from"], a.get("answer"), a["default_used"]) for a in answers] == [
        ("planner", "architect", "one service", False), ("router", "architect", "4", True)]
    d2 = yaml.safe_load((comm / "inbox/frontend-lead/delegation_20250106_140000.yaml").read_text())
    assert d2["delegation"]["task_id"] == "TT1.2" and d2["acknowledgement"]["status"] == "pending"
    ack = yaml.safe_load((comm / "inbox/engineering-manager/acknowledgement_20250107_200000.yaml").read_text())
    assert ack["delegation_ref"] == "delegation_20250106_140000.yaml" and ack["from"] == "tech-lead"
    announcements = sorted(p.name for p in (comm / "broadcast" / "all").glob("*.yaml"))
    assert announcements == ["announcement_20250106_140000.yaml", "announcement_20250106_140000_2.yaml"]
    weekly = yaml.safe_load((comm / "reports/weekly/tech-lead_to_engineering-manager_week_02.yaml").read_text())
    assert weekly["week"] == 2 and weekly["instruction_progress"][0]["instruction_id"] == "I1"
    assert weekly["instruction_progress"][0]["status"] == "at_risk"  # TT1.2 was escalated
    assert any(x["task_id"] == "TT1.2" for x in weekly["escalations_this_week"])
    daily = yaml.safe_load((comm / "reports/daily/frontend-developer-1_to_frontend-lead_20250107.yaml").read_text())
    assert daily["date"] == "2025-01-07" and daily["my_tasks"] == [
        {"task_id": "TT1.2", "status": "ASSIGNED", "notes": "Sidebar"}]
    lead = yaml.safe_load((comm / "reports/daily/backend-lead_to_tech-lead_20250107.yaml").read_text())
    assert lead["team_summary"]["total"] == 4 and lead["team_summary"]["COMPLETED"] == 1
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
            assert run.project().changed == []  # nothing changed since the last write
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
        assert run.project().changed == []  # nothing new in the log: the projection writes nothing
        changed = run.project(full=True).changed
    finally:
        run.close()
    memory = again_dir / "Agent_Memory"
    again = {str(p.relative_to(memory)): p.read_bytes() for p in sorted(memory.rglob("*")) if p.is_file()}
    assert again == texts[0] and changed


def test_a_projection_never_deletes_a_file_the_state_does_not_produce(compiled_dir: Path, tmp_path: Path) -> None:
    """Such a file is a stray: `doctor` reports it and `--repair` moves it aside."""
    run = Run.init(tmp_path / "run", compiled_dir / "model.json", START)
    try:
        stray = run.dir / "Agent_Memory" / "I9" / "tasks" / "strategic" / "ST9.yaml"
        stray.parent.mkdir(parents=True)
        stray.write_text("id: ST9\n")
        changed = run.project(full=True).changed
    finally:
        run.close()
    assert "Agent_Memory/I9/tasks/strategic/ST9.yaml" not in changed and stray.read_text() == "id: ST9\n"
    code, out, _ = cli(run.dir, "doctor")
    assert code == 2 and "RUN038" in out and "ST9.yaml" in out


@pytest.mark.parametrize("scenario", sorted(p.stem for p in (ROOT / "examples" / "scenarios").glob("*.yaml")))
def test_every_file_of_the_example_scenarios_validates(compiled_dir: Path, tmp_path: Path, scenario: str) -> None:
    run, failures, _ = play_file(compiled_dir / "model.json", ROOT / "examples" / "scenarios" / f"{scenario}.yaml",
                                 tmp_path / "run", io.StringIO(), quiet=True)
    try:
        run.project()
    finally:
        run.close()
    assert failures == []
    counts = validate_all(run.dir)
    assert counts["tactical-task"] >= 1 and counts["notice"] >= 1
    if scenario == "overloaded_domain":  # the domain's capacity escalation has no task
        escalations = [yaml.safe_load(p.read_text())
                       for p in (run.dir / "Agent_Memory/_communication/escalations").glob("*.yaml")]
        capacity = [x for x in escalations if x["kind"] == "domain_capacity"]
        assert capacity and capacity[0]["domain"] == "backend" and capacity[0]["task_id"] is None
        assert re.search(r"since 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$", capacity[0]["reason"]), capacity[0]["reason"]


def test_the_run_gets_every_schema_from_the_compiler(compiled_dir: Path, tmp_path: Path) -> None:
    """The projection writes no schema of its own: those of the run directory are the
    compiler's, and the notice types the runtime projects are the ones the schema lists."""
    assert not hasattr(projection, "runtime_schemas")
    run = Run.init(tmp_path / "run", compiled_dir / "model.json", START)
    run.close()
    org = check_files([ROOT / "specs" / "orchestration_v2.orch"]).model
    assert org is not None
    expected = agent_file_schemas(org)
    written = {p.name.removesuffix(".schema.json") for p in (run.dir / "schemas").glob("*.schema.json")}
    assert {"notice", "escalation", "gate-decision", "delegation", "acknowledgement", "broadcast"} <= written
    for name in ("notice", "escalation", "gate-decision", "tactical-task"):
        assert json.loads((run.dir / "schemas" / f"{name}.schema.json").read_text()) == expected[name]
    assert list(projection.NOTICE_TYPES) == NOTICE_TYPES
    assert expected["notice"]["properties"]["type"]["enum"] == NOTICE_TYPES
    # every message the fold can put in an inbox is either a notice or has a file of its own
    source = (ROOT / "runtime" / "state.py").read_text()
    notified = {(t.lower(), h) for t, h in re.findall(r"T\.(\w+): self\._(\w+),", source)}
    handlers_that_notify = {name for name in re.findall(r"def _(\w+)\(self, e: Event\) -> None:", source)
                            if re.search(rf"def _{name}\(self, e: Event\) -> None:(?:(?!\n    def ).)*self\._notify\(",
                                         source, re.S)}
    types = {t for t, h in notified if h in handlers_that_notify}
    assert types and types <= set(NOTICE_TYPES) | projection.OWN_FILES, types - set(NOTICE_TYPES)
    # a tactical task without a strategic parent has a null parent
    parent = expected["tactical-task"]["properties"]["parent_strategic_task"]
    errors = list(jsonschema.Draft202012Validator(parent).iter_errors(None))
    assert errors == []
