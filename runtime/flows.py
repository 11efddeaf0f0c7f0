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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import Refused
from .parts import HUMAN, EngineParts

if TYPE_CHECKING:
    from .contract.events import Draft, Event
    from .model import AgentInfo, Model
    from .records import Instruction

CLOSE = "close"
"""the pseudo-stage a gate guards to hold the closing of an instruction"""

@dataclass(frozen=True, slots=True)
class Flow:
    tier: int
    stages: tuple[str, ...]
    actors: dict[str, str | None]
    """stage -> the actor of its step"""
    gates: tuple[str, ...]
    """every gate of the tier"""
    stage_gates: dict[str, tuple[str, ...]]
    """stage (or ``close``) -> the gates that guard it at this tier"""

    def planning_stage(self, kind: str) -> str | None:
        """The stage creating a task of ``kind`` runs at this tier, if any."""
        if kind == "strategic":
            return "strategic_planning" if "strategic_planning" in self.stages else None
        for stage in ("tactical_planning", "delegation"):
            if stage in self.stages:
                return stage
        return None

    @property
    def has_tasks(self) -> bool:
        return "execution" in self.stages


def tier_flows(model: Model) -> dict[int, Flow]:
    """The flow of every tier of the model, indexed by tier number."""
    gate_specs = {g.name: g for g in model.spec.gates}
    out: dict[int, Flow] = {}
    for number, t in model.tier_specs.items():
        steps = t.flow
        stages = tuple(s.stage for s in steps if s.stage)
        actors = {s.stage: s.actor for s in steps if s.stage}
        gates = tuple(dict.fromkeys([*t.gates, *(s.gate for s in steps if s.gate)]))
        stage_gates: dict[str, list[str]] = {}
        for g in gates:
            spec = gate_specs.get(g)
            if spec is None:
                continue
            if spec.tiers and number not in spec.tiers:
                continue
            for stage in spec.stages:
                stage_gates.setdefault(stage, []).append(g)
        out[number] = Flow(number, stages, actors, gates, {k: tuple(v) for k, v in stage_gates.items()})
    return out


def _q(name: object) -> str:
    return f"`{name}`"


def _names(items: Any) -> str:
    return ", ".join(_q(i) for i in items) or "nothing"


class FlowCommands(EngineParts):
    """Commands of instruction flows: stages, stage gates, closing."""

    def _instruction(self, instruction: str) -> Instruction:
        ins = self.state.instructions.get(instruction)
        if ins is None:
            raise Refused("RUN002", f"unknown instruction {_q(instruction)}")
        return ins

    def _flow(self, ins: Instruction) -> Flow:
        flow = self.state.flows.get(ins.tier)
        if flow is None:
            return Flow(ins.tier, (), {}, (), {})
        return flow

    def _open_instruction(self, instruction: str) -> Instruction:
        ins = self._instruction(instruction)
        if ins.closed_at is not None:
            raise Refused("RUN021", f"instruction {_q(ins.id)} is closed")
        return ins

    def _stage_gate_problems(self, ins: Instruction, stage: str) -> list[str]:
        problems = []
        for g in self._flow(ins).stage_gates.get(stage, ()):
            decided = ins.gate_decisions.get(g)
            if decided is None:
                problems.append(f"gate {_q(g)} has no decision on {_q(ins.id)}")
            elif self.model.gates[g].outcomes[decided].effect != "pass":
                problems.append(f"gate {_q(g)} decided {_q(decided)}, which does not pass")
        return problems

    def _check_stage_open(self, ins: Instruction, stage: str) -> None:
        problems = self._stage_gate_problems(ins, stage)
        if problems:
            what = "closing" if stage == CLOSE else f"stage {_q(stage)}"
            raise Refused(
                "RUN019",
                f"{what} of tier-{ins.tier} instruction {_q(ins.id)} is guarded: " + "; ".join(problems),
                instruction=ins.id,
            )

    def _check_planning(self, ins: Instruction, kind: str) -> None:
        """Creating a task of ``kind`` runs its planning stage: the stage's gates must have passed."""
        if ins.closed_at is not None:
            raise Refused("RUN021", f"instruction {_q(ins.id)} is closed")
        stage = self._flow(ins).planning_stage(kind)
        if stage is not None:
            self._check_stage_open(ins, stage)

    def _may_act_on_stage(self, agent: AgentInfo, actor: str | None) -> bool:
        if actor is None:
            return True
        if not actor.startswith("@"):
            return agent.role == actor
        if actor == "@lead":
            return agent.kind == "lead"
        if actor in ("@member", "@assignee"):
            return agent.kind == "member"
        return False

    def run_stage(self, as_: str, instruction: str, stage: str) -> list[Event]:
        """Record that a stage of the instruction's flow ran, by the stage's actor."""

        def build(now: float) -> list[Draft]:
            agent = self._agent(as_)
            ins = self._open_instruction(instruction)
            flow = self._flow(ins)
            if stage not in flow.stages:
                raise Refused(
                    "RUN013", f"tier {ins.tier} has no stage {_q(stage)}; its stages are {_names(flow.stages)}"
                )
            actor = flow.actors.get(stage)
            if not self._may_act_on_stage(agent, actor):
                raise Refused("RUN004", f"{_q(as_)} may not run stage {_q(stage)}: its actor is {actor}")
            self._check_stage_open(ins, stage)
            if stage in ins.stages:
                raise Refused("RUN021", f"stage {_q(stage)} of {_q(ins.id)} ran already")
            return [("stage_ran", now, as_, {"instruction": ins.id, "stage": stage})]

        return self._commit(build)

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
            agent = self._agent(as_)
            ins = self._open_instruction(instruction)
            g = self.model.gates.get(gate)
            if g is None:
                raise Refused("RUN002", f"unknown gate {_q(gate)}; gates are {_names(self.model.gates)}")
            flow = self._flow(ins)
            guarded = sorted(s for s, gs in flow.stage_gates.items() if gate in gs)
            if not guarded:
                stage_gates = sorted({x for gs in flow.stage_gates.values() for x in gs})
                raise Refused(
                    "RUN011",
                    f"gate {_q(gate)} guards no stage of tier {ins.tier}; the stage gates of tier {ins.tier} "
                    f"are {_names(stage_gates)}",
                )
            if g.reviewer is not None and not (
                agent.role in g.reviewer.roles
                or ("@lead" in g.reviewer.relations and agent.kind == "lead")
                or ("@member" in g.reviewer.relations and agent.kind == "member")
            ):
                raise Refused(
                    "RUN004", f"{_q(as_)} may not decide gate {_q(gate)}: the reviewer is {_names(g.reviewer.text)}"
                )
            chosen, total = self._pick_outcome(g, outcome, scores)
            for stage in guarded:
                if stage != CLOSE and stage in ins.stages:
                    raise Refused("RUN021", f"stage {_q(stage)} of {_q(ins.id)} ran already; gate {_q(gate)} is moot")
            data = {
                "instruction": ins.id, "gate": gate, "outcome": chosen, "effect": g.outcomes[chosen].effect,
                "stages": guarded, "scores": dict(scores) if scores else None, "total": total,
            }
            return [("instruction_gate_decided", now, as_, data)]

        return self._commit(build)

    def close_instruction(self, as_: str, instruction: str) -> list[Event]:
        """Close an instruction: every task terminal and every close gate passed.

        Staff agents (and ``human``) close instructions; a tier-0 instruction
        (no tasks) closes at once."""

        def build(now: float) -> list[Draft]:
            if as_ != HUMAN:
                agent = self._agent(as_)
                if agent.kind != "staff":
                    raise Refused("RUN004", f"{_q(as_)} may not close instructions: staff roles close them")
            ins = self._open_instruction(instruction)
            states, tasks = self.model.states, self.state.tasks
            open_tasks = [tid for tid in ins.tasks if states[tasks[tid].state].terminal is None]
            if open_tasks:
                shown = ", ".join(f"{_q(tid)} is {_q(tasks[tid].state)}" for tid in open_tasks[:10])
                more = f" and {len(open_tasks) - 10} more" if len(open_tasks) > 10 else ""
                raise Refused(
                    "RUN023", f"instruction {_q(ins.id)} has open tasks: {shown}{more}", open=open_tasks
                )
            self._check_stage_open(ins, CLOSE)
            done = [states[tasks[tid].state].terminal for tid in ins.tasks]
            data = {
                "instruction": ins.id, "stages": list(ins.stages), "tasks": len(ins.tasks),
                "succeeded": sum(1 for d in done if d == "success"),
            }
            return [("instruction_closed", now, as_, data)]

        return self._commit(build)

    def instruction(self, instruction: str) -> dict[str, Any]:
        """An instruction as data: tier, stages (of the flow and run), gate decisions, tasks, closed."""
        self.refresh()
        ins = self._instruction(instruction)
        flow = self._flow(ins)
        out = {"id": ins.id, **ins.dump()}
        out["flow_stages"] = list(flow.stages)
        out["stage_gates"] = {k: list(v) for k, v in sorted(flow.stage_gates.items())}
        return out
