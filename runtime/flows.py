"""Instruction flows by tier: stages, the gates that guard them, closing.

An instruction has the stages of its tier's flow (the model's
``tiers[].flow``: ``actor: stage`` steps and gate steps). Stages are recorded
as they run: ``routing`` when the instruction is submitted, the planning
stage when its first task of a kind is created (``strategic_planning`` for a
strategic task; ``tactical_planning``, or ``delegation`` at a tier without
one, for a tactical task), ``execution`` when a task is assigned, and any
stage by ``run_stage`` from its actor. A gate that guards a stage
(``guards stage tactical_planning``) must have a passing decision on the
instruction before that stage runs; ``close`` is the last stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .context import HUMAN, Context, names, q
from .contract.events import Draft, Event
from .errors import Refused
from .gates import pick_outcome
from .model import ActorCheck, AgentInfo, Flow
from .permissions import CLOSE_STAGE, closers, may_close, runs_stage
from .records import Instruction

CLOSE = CLOSE_STAGE
"""the pseudo-stage a gate guards to hold the closing of an instruction"""
ROUTING = "routing"
"""the stage an instruction's submission runs (when its tier's flow has it)"""


def decides(agent: AgentInfo, reviewer: ActorCheck) -> bool:
    """Whether an agent is the reviewer of a stage gate: one of its roles, or any domain lead
    for ``@lead``, any member for ``@member`` (an instruction has no domain)."""
    return (agent.role in reviewer.roles
            or ("@lead" in reviewer.relations and agent.kind == "lead")
            or ("@member" in reviewer.relations and agent.kind == "member"))


class Flows:
    """Commands of instruction flows: stages, stage gates, closing."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _flow(self, ins: Instruction) -> Flow:
        flow = self.ctx.model.flows.get(ins.tier)
        if flow is None:
            return Flow(ins.tier, (), {}, (), {})
        return flow

    def _open_instruction(self, instruction: str) -> Instruction:
        ins = self.ctx.instruction(instruction)
        if ins.closed_at is not None:
            raise Refused("RUN021", f"instruction {q(ins.id)} is closed")
        return ins

    def _stage_gate_problems(self, ins: Instruction, stage: str) -> list[str]:
        problems = []
        for g in self._flow(ins).stage_gates.get(stage, ()):
            decided = ins.gate_decisions.get(g)
            if decided is None:
                problems.append(f"gate {q(g)} has no decision on {q(ins.id)}")
            elif self.ctx.model.gates[g].outcomes[decided].effect != "pass":
                problems.append(f"gate {q(g)} decided {q(decided)}, which does not pass")
        return problems

    def _check_stage_open(self, ins: Instruction, stage: str) -> None:
        problems = self._stage_gate_problems(ins, stage)
        if problems:
            what = "closing" if stage == CLOSE else f"stage {q(stage)}"
            raise Refused(
                "RUN019",
                f"{what} of tier-{ins.tier} instruction {q(ins.id)} is guarded: " + "; ".join(problems),
                instruction=ins.id,
            )

    def check_planning(self, ins: Instruction, kind: str) -> None:
        """Creating a task of ``kind`` runs its planning stage: the stage's gates must have passed."""
        if ins.closed_at is not None:
            raise Refused("RUN021", f"instruction {q(ins.id)} is closed")
        stage = self._flow(ins).planning_stage(kind)
        if stage is not None:
            self._check_stage_open(ins, stage)

    def run_stage(self, as_: str, instruction: str, stage: str) -> list[Event]:
        """Record that a stage of the instruction's flow ran, by the stage's actor."""

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            ins = self._open_instruction(instruction)
            flow = self._flow(ins)
            if stage not in flow.stages:
                raise Refused(
                    "RUN013", f"tier {ins.tier} has no stage {q(stage)}; its stages are {names(flow.stages)}"
                )
            actor = flow.actors.get(stage)
            if not runs_stage(agent, actor):
                raise Refused("RUN004", f"{q(as_)} may not run stage {q(stage)}: its actor is {actor}")
            self._check_stage_open(ins, stage)
            if stage in ins.stages:
                raise Refused("RUN021", f"stage {q(stage)} of {q(ins.id)} ran already")
            return [("stage_ran", now, as_, {"instruction": ins.id, "stage": stage})]

        return self.ctx.commit(build)

    def decide_instruction_gate(
        self,
        as_: str,
        instruction: str,
        gate: str,
        outcome: str | None = None,
        scores: Mapping[str, int] | None = None,
    ) -> list[Event]:
        """Decide a gate that guards a stage of the instruction's flow (or its closing).

        The reviewer decides; a banded gate takes ``scores`` and the summed
        total picks the outcome. A later decision replaces an earlier one."""

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            ins = self._open_instruction(instruction)
            g = self.ctx.model.gates.get(gate)
            if g is None:
                raise Refused("RUN002", f"unknown gate {q(gate)}; gates are {names(self.ctx.model.gates)}")
            flow = self._flow(ins)
            guarded = sorted(s for s, gs in flow.stage_gates.items() if gate in gs)
            if not guarded:
                stage_gates = sorted({x for gs in flow.stage_gates.values() for x in gs})
                raise Refused(
                    "RUN011",
                    f"gate {q(gate)} guards no stage of tier {ins.tier}; the stage gates of tier {ins.tier} "
                    f"are {names(stage_gates)}",
                )
            if g.reviewer is not None and not decides(agent, g.reviewer):
                raise Refused(
                    "RUN004", f"{q(as_)} may not decide gate {q(gate)}: the reviewer is {names(g.reviewer.text)}"
                )
            chosen, total = pick_outcome(g, outcome, scores)
            for stage in guarded:
                if stage != CLOSE and stage in ins.stages:
                    raise Refused("RUN021", f"stage {q(stage)} of {q(ins.id)} ran already; gate {q(gate)} is moot")
            data = {
                "instruction": ins.id, "gate": gate, "outcome": chosen, "effect": g.outcomes[chosen].effect,
                "stages": guarded, "scores": dict(scores) if scores else None, "total": total,
            }
            return [("instruction_gate_decided", now, as_, data)]

        return self.ctx.commit(build)

    def close_instruction(self, as_: str, instruction: str) -> list[Event]:
        """Close an instruction: every task terminal and every close gate passed.

        Who closes is ``permissions.closers`` (``close by``, else the tier's ``close`` step's
        actor, the roles at the top and the staff roles), and ``human``; a tier-0 instruction (no
        tasks) closes at once."""

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_) if as_ != HUMAN else None
            ins = self._open_instruction(instruction)
            if agent is not None and not may_close(self.ctx.model, agent, ins.tier):
                raise Refused(
                    "RUN004", f"{q(as_)} may not close tier-{ins.tier} instruction {q(ins.id)}: permitted are "
                    f"{names(closers(self.ctx.model, ins.tier))}", instruction=ins.id,
                )
            states, tasks = self.ctx.model.states, self.ctx.state.tasks
            open_tasks = [tid for tid in ins.tasks if states[tasks[tid].state].terminal is None]
            if open_tasks:
                shown = ", ".join(f"{q(tid)} is {q(tasks[tid].state)}" for tid in open_tasks[:10])
                more = f" and {len(open_tasks) - 10} more" if len(open_tasks) > 10 else ""
                raise Refused(
                    "RUN023", f"instruction {q(ins.id)} has open tasks: {shown}{more}", open=open_tasks
                )
            self._check_stage_open(ins, CLOSE)
            done = [states[tasks[tid].state].terminal for tid in ins.tasks]
            data = {
                "instruction": ins.id, "stages": list(ins.stages), "tasks": len(ins.tasks),
                "succeeded": sum(1 for d in done if d == "success"),
            }
            return [("instruction_closed", now, as_, data)]

        return self.ctx.commit(build)

    def instruction(self, instruction: str) -> dict[str, Any]:
        """An instruction as data: tier, stages (of the flow and run), gate decisions, tasks, closed."""
        self.ctx.refresh()
        ins = self.ctx.instruction(instruction)
        flow = self._flow(ins)
        out = {"id": ins.id, **ins.dump()}
        out["flow_stages"] = list(flow.stages)
        out["stage_gates"] = {k: list(v) for k, v in sorted(flow.stage_gates.items())}
        return out
