"""Helpers of the runtime tests: refusals that must change nothing, tasks in a given state, a
tier-3 instruction driven through a run directory (every kind of projected file), the command
line of a run directory in this process."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from orchdsl_runtime import HUMAN, Engine, Refused, projection
from orchdsl_runtime.cli import main
from orchdsl_runtime.contract.commands import BY_NAME
from orchdsl_runtime.invoke import invoke
from orchdsl_runtime.rundir import Run


def refused(engine: Engine, code: str, fn: Callable[..., object], *args: object, **kwargs: object) -> Refused:
    """Call a command that must be refused with ``code``; assert nothing changed."""
    seq = engine.store.last_seq()
    before = engine.state.dump()
    with pytest.raises(Refused) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    assert engine.store.last_seq() == seq
    assert engine.state.dump() == before
    return info.value


def new_task(engine: Engine, domain: str = "backend", tier: int = 2, **kwargs: Any) -> str:
    ins = engine.submit_instruction(HUMAN, "build the thing", tier)
    kwargs.setdefault("required_skills", ["python"] if domain == "backend" else [])
    kwargs.setdefault("estimate_hours", 4.0)
    return engine.create_task("planner", ins, kwargs.pop("kind", "tactical"), domain, "a task", **kwargs)


def in_progress(engine: Engine, agent: str = "backend-developer-1", domain: str = "backend", **kwargs: Any) -> str:
    tid = new_task(engine, domain, **kwargs)
    lead = engine.model.agents_for("@lead", domain)[0]
    engine.assign(lead, tid, agent)
    engine.move(agent, tid, "IN_PROGRESS")
    return tid


def create_task(run: Run, as_: str, **values: Any) -> str | None:
    """A task created through the command table, as the command line and scenarios create them."""
    if "criteria" in values:
        values["acceptance_criteria"] = values.pop("criteria")
    return invoke(run.engine, BY_NAME["task_create"], as_, values).created


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
                     title="API", skills=["python"], nice=["redis"], estimate=["6h"], handoff_to="frontend",
                     description="CRUD and rerun endpoints", criteria=["OpenAPI documented", "p95 under 200 ms"])
    wait = create_task(run, "frontend-lead", instruction="I1", kind="tactical", domain="frontend", parent=st,
                       title="Sidebar", skills=["react"], estimate=["5h"], depends=[tt])
    tokens = create_task(run, "backend-lead", instruction="I1", kind="tactical", domain="backend", parent=st,
                         title="Token-budgeted spike", skills=["python"], estimate=["50K"])
    assert (st, tt, wait, tokens) == ("ST1", "TT1.1", "TT1.2", "TT1.3")
    e.submit_instruction("human", "fix the typo", 2, id="I2")  # tier 2: no strategic planning
    assert create_task(run, "backend-lead", instruction="I2", kind="tactical", domain="backend",
                       title="Typo") == "TT0.1"
    e.consult("planner", "plan-architecture", "one service or two?", instruction="I1")
    e.assign("backend-lead", tt, "backend-developer-1")
    e.assign("frontend-lead", wait)
    e.move("backend-developer-1", tt, "IN_PROGRESS")
    e.answer_consultation("architect", "C1", "one service")
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
    e.consult("router", "tier-check", "is the typo tier 1?", instruction="I2")  # times out: the default
    e.record_defect("backend-lead", tt, "missing index")
    did = e.delegate("engineering-manager", "tech-lead", "own the saved-search rollout", instruction="I1")
    e.broadcast("tech-lead", "all", "milestone", "normal", "saved searches API is live")
    e.broadcast("tech-lead", "all", "celebration", "info", "and on time")  # the same second: a second file
    e.delegate("tech-lead", "frontend-lead", "wire the sidebar", task=wait)
    e.advance(30 * 3600)  # TT1.2 waited in ASSIGNED past its escalation threshold; D1 is overdue
    e.acknowledge("tech-lead", did, notes="late, sorry")
    e.generate_standups()
    run.project()


def projected(run_dir: Path) -> list[str]:
    """The files the runtime wrote under Agent_Memory (they start with its header)."""
    return sorted(str(p.relative_to(run_dir)) for p in (run_dir / "Agent_Memory").rglob("*.yaml")
                  if p.read_text(encoding="utf-8").startswith(projection.HEADER))


START = 1736154000.0  # 2025-01-06T09:00:00Z
START_ISO = "2025-01-06T09:00:00Z"
DEV, LEAD, TASK = "senior-developer", "backend-lead", "TT0.1"


def started_run(directory: Path, model: Path, estimate: str = "4h") -> Path:
    """A run directory on a virtual clock with one task, `TASK`, in progress by `DEV`."""
    ok(directory, "init", str(model), "--virtual-clock", START_ISO)
    ok(directory, "submit", "--as", "human", "--tier", "2", "shared", "work")
    ok(directory, "task", "create", "--as", "planner", "--instruction", "I1", "--domain", "backend", "--title",
       "shared", "--skills", "python", "--estimate", estimate)
    ok(directory, "assign", TASK, "--as", LEAD, "--to", DEV)
    ok(directory, "move", TASK, "IN_PROGRESS", "--as", DEV)
    return directory


def cli(directory: Path, *args: str) -> tuple[int, str, str]:
    """``orchdsl run ARGS --dir DIRECTORY`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--dir", str(directory)])
    return code, out.getvalue(), err.getvalue()


def ok(directory: Path, *args: str) -> str:
    code, out, err = cli(directory, *args)
    assert code == 0, (args, out, err)
    return out


def events(run: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(run / "events.sqlite")
    try:
        return db.execute("SELECT seq, type, at, actor, data FROM events ORDER BY seq").fetchall()
    finally:
        db.close()
