"""Who may issue each command (``roles.may_issue``), checked against the engine itself.

Runs are explored (``explore.py``) with arguments drawn from the state and every command tried by
agents of every role: each (command, role) pair ``may_issue`` lists must be accepted in some run,
and a command is never accepted from a role it does not list (an agent of such a role, given the
arguments a listed agent then had accepted, is refused as an actor: ``RUN004``, or ``RUN020`` off
the delegation chain). Over V2, the other specs and examples, and generated organisations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import compiled
from explore import ACTING, ACTOR_CODES, Explorer, explore
from hypothesis import HealthCheck, given, settings
from orchdsl_runtime import Model, Refused, load_model
from orchdsl_runtime.contract.commands import COMMANDS, Who
from orchdsl_runtime.invoke import invoke
from orchdsl_runtime.roles import commands_for, may_issue
from strategies import valid_specs

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_text

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["specs/orchestration_v1.orch", "examples/startup.orch", "examples/token_budget.orch",
         "examples/research_group.orch"]


def pairs(model: Model) -> set[tuple[str, str]]:
    return {(c, r) for c, roles in may_issue(model).items() for r in roles}


def assert_exact(model: Model, runs: int, steps: int) -> None:
    """Every listed pair is accepted in some run; none other ever is (``Explorer.issue`` raises)."""
    covered, codes = explore(model, runs, steps)
    assert sorted(pairs(model) - covered) == []
    assert set(codes) <= ACTOR_CODES, codes


# -- the rules on V2 -------------------------------------------------------------------------------


def test_every_acting_command_has_its_roles(v2: Model) -> None:
    may = may_issue(v2)
    assert list(may) == [c.name for c in COMMANDS if c.acts and not c.view]
    assert all(c.who != Who.OPERATOR for c in COMMANDS if c.acts)
    assert may["submit"] == may["task_create"] == may["broadcast"] == frozenset(v2.agents_by_role)


def test_v2_roles(v2: Model) -> None:
    may = may_issue(v2)
    kinds = {r: role.kind for r, role in v2.roles.items()}
    members = {r for r, k in kinds.items() if k == "member"}
    leads = {r for r, k in kinds.items() if k == "lead"}
    staff = {r for r, k in kinds.items() if k == "staff"}
    assert may["heartbeat"] == may["record_clarification"] == members
    assert may["assign"] == may["handoff_accept"] == may["handoff_reject"] == leads
    assert may["delegate"] == leads | {"engineering-manager", "tech-lead"}
    assert may["ack"] == members | leads | {"tech-lead"}
    assert may["consult"] == {"planner", "router"} and may["answer"] == {"architect"}
    assert may["standup_schedule"] == may["instruction_close"] == staff
    assert may["instruction_gate"] == {"engineering-manager"}  # risk_assessment, go_no_go
    # tier 0's `router:answer` can run; `routing` runs when an instruction is submitted
    assert "router" in may["instruction_stage"] and "engineering-manager" not in may["instruction_stage"]
    assert may["move"] == members | leads | {"planner", "tech-lead", "engineering-manager"}
    # security has one member: no @peer reviews its work, so its tasks never reach DOMAIN_REVIEW
    # (nor READY_FOR_HANDOFF): its lead decides no gate, hands nothing over, reassigns nobody
    for name in ("gate", "handoff_create", "handoff_tick", "reassign"):
        assert "security-lead" not in may[name], name
        assert "backend-lead" in may[name], name
    assert "security-specialist" not in may["gate"] and "security-specialist" in may["move"]
    assert "validator" in may["gate"] and "validator" not in may["move"]


def test_commands_for(v2: Model) -> None:
    names = [c.name for c in commands_for(v2, "qa-engineer-1")]
    assert names == [c.name for c in COMMANDS if c.name in names]  # table order
    assert [c.name for c in commands_for(v2, "qa-engineer-2")] == names
    views = [c.name for c in COMMANDS if c.view]
    assert [n for n in names if n in views] == views
    assert {"move", "heartbeat", "gate", "handoff_tick", "ack"} <= set(names)
    assert not {"assign", "reassign", "delegate", "clock_advance", "standup_generate"} & set(names)
    lead = {c.name for c in commands_for(v2, "backend-lead")}
    assert {"assign", "reassign", "delegate", "handoff_create", "handoff_accept"} <= lead
    with pytest.raises(KeyError, match="nobody"):
        commands_for(v2, "nobody")


def test_an_unknown_agent_is_refused_as_unknown(v2: Model) -> None:
    e = Explorer(v2, seed=1)
    e.run(150)  # a run with tasks, handoffs, delegations and consultations to name
    ins = next(iter(e.engine.state.instructions))
    tries = [*e.candidates(), (ACTING["submit"], {"text": "x", "tier": 1}),
             (ACTING["task_create"], {"instruction": ins, "domain": "qa", "title": "t"})]
    seen = set()
    for cmd, args in tries:
        with pytest.raises(Refused) as info:
            invoke(e.engine, cmd, "nobody", args)
        assert info.value.code == "RUN001", (cmd.name, info.value)
        seen.add(cmd.name)
    assert {"submit", "task_create", "move", "assign", "gate", "delegate", "broadcast", "consult"} <= seen


# -- exactness, by running the engine ---------------------------------------------------------------


@pytest.mark.parametrize("spec", SMALL)
def test_small_specs_exact(spec: str) -> None:
    assert_exact(load_model(compiled(ROOT / spec)), runs=4, steps=600)


@pytest.mark.slow
def test_v2_exact(v2: Model) -> None:
    """Every (command, role) pair a V2 prompt lists is accepted from an agent of that role."""
    assert_exact(v2, runs=8, steps=1000)


def _model(text: str) -> Model:
    result = check_text(text)
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    data: dict[str, Any] = __import__("json").loads(compiled_json(result.model))
    return load_model(data)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(valid_specs())
def test_generated_specs_exact(text: str) -> None:
    assert_exact(_model(text), runs=8, steps=1500)
