"""One rule for a threshold and an automatic transition due together, which the checker
(ORC315) and the runtime share: a threshold at the automatic transition's budget fires, then
the task moves; a threshold above that budget is never reached (the checker warns of it, and
the runtime never fires it, even when one heartbeat reports tokens past both)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from orchdsl_runtime import Engine, MemoryStore, VirtualClock, load_model
from runtime_helpers import new_task

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_text

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = "    warn 2h to @lead\n    -> ESCALATED by @assignee after 4h\n"


def blocked(escalate: str, after: str) -> tuple[list[str], Engine]:
    """V2 with BLOCKED escalating at ``escalate`` and moving to ESCALATED at ``after``:
    the checker's codes, and an engine with a task of backend-developer-1 in BLOCKED."""
    text = (ROOT / "specs" / "orchestration_v2.orch").read_text(encoding="utf-8")
    assert BLOCKED in text
    kind = "2h" if after.endswith("h") else "10K"
    text = text.replace(BLOCKED, f"    warn {kind} to @lead\n    escalate {escalate} to tech-lead\n"
                                 f"    -> ESCALATED by @assignee after {after}\n")
    text = text.replace("    sla 2h\n    warn", f"    sla {'1h' if kind == '2h' else '5K'}\n    warn")
    result = check_text(text, "v2_variant.orch")
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics if d.is_error]
    engine = Engine(load_model(json.loads(compiled_json(result.model))), MemoryStore(), VirtualClock(0.0))
    tid = new_task(engine)
    engine.assign("backend-lead", tid, "backend-developer-1")
    engine.move("backend-developer-1", tid, "BLOCKED")
    return [d.code for d in result.diagnostics], engine


def escalated(engine: Engine) -> bool:
    return any(e.type == "sla_escalation" for e in engine.store.read(0))


@pytest.mark.parametrize("escalate, after, fires", [
    ("4h", "4h", True),    # due together: the escalation, then the move
    ("5h", "4h", False),   # after the move: never reached
    ("3h", "4h", True),
])
def test_time_thresholds(escalate: str, after: str, fires: bool) -> None:
    codes, engine = blocked(escalate, after)
    assert ("ORC315" in codes) is not fires
    events = engine.advance(6 * 3600)
    kinds = [e.type for e in events if e.type in ("sla_escalation", "task_moved")]
    assert kinds == (["sla_escalation", "task_moved"] if fires else ["task_moved"])
    assert engine.task("TT0.1")["state"] == "ESCALATED"


@pytest.mark.parametrize("escalate, after, fires", [
    ("50K", "50K", True),
    ("55K", "50K", False),  # one heartbeat of 60K passes both: the task left at 50K
    ("40K", "50K", True),
])
def test_token_thresholds(escalate: str, after: str, fires: bool) -> None:
    codes, engine = blocked(escalate, after)
    assert ("ORC315" in codes) is not fires
    events = engine.heartbeat("backend-developer-1", "TT0.1", tokens=60_000)
    kinds = [e.type for e in events if e.type in ("sla_escalation", "task_moved")]
    assert kinds == (["sla_escalation", "task_moved"] if fires else ["task_moved"])
    assert escalated(engine) is fires
