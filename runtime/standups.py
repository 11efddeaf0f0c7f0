"""Standups: reports built from the state, one ``standup_reported`` event per report.

On demand (``generate``) and on each standup's cadence once scheduled
(``schedule``), counted from when it was scheduled; the clock fires the
cadence (``firing.py``). A report has the sections the spec lists, computed
for its sender: an IC reports its own tasks, a lead its domain, staff the
whole organisation. The states a section looks for are the model's state
classes, declared by the spec or derived from its lifecycle: blocked work is
in a ``blocked`` state (``Model.blocked_states``), help is needed in an
``escalated`` one (``escalated_states``), work not started yet waits in a
``ready`` one (``ready_states``) and accomplished work is ``done``
(``done_states``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .context import HUMAN, Context, q
from .contract.events import Draft, Event
from .errors import Refused
from .model import AgentInfo

WEEK = 7 * 86_400.0


class Standups:
    """Standup reports: scheduled on a cadence, or generated now."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def schedule(self, as_: str, standups: Sequence[str] | None = None) -> list[Event]:
        """Start the cadence of the named standups (all by default) from now:
        each then reports every ``every`` by the clock. Staff agents (or ``human``) start them."""

        def build(now: float) -> list[Draft]:
            if as_ != HUMAN and self.ctx.agent(as_).kind != "staff":
                raise Refused("RUN004", f"{q(as_)} may not schedule standups: staff roles do")
            declared = list(self.ctx.model.standups)
            names = list(standups) if standups else declared
            unknown = [n for n in names if n not in declared]
            if unknown:
                raise Refused("RUN002", f"unknown standup(s) {', '.join(map(q, unknown))}")
            started = [n for n in names if n in self.ctx.state.standup_origin]
            if started:
                raise Refused("RUN021", f"standup(s) {', '.join(map(q, started))} run on their cadence already")
            if not names:
                raise Refused("RUN013", "no standup to schedule")
            return [("standups_scheduled", now, as_, {"standups": names})]

        return self.ctx.commit(build)

    def generate(self, now: float | None = None) -> list[Event]:
        """Every standup's reports now (off cadence: the cadence is not moved)."""

        def build(clock_now: float) -> list[Draft]:
            at = clock_now if now is None else now
            return [d for name in self.ctx.model.standups for d in self.drafts(name, at, None)]

        return self.ctx.commit(build)

    def drafts(self, name: str, at: float, due: float | None) -> list[Draft]:
        spec = self.ctx.model.standups.get(name)
        if spec is None:
            return []
        source, target = spec.from_, spec.to
        if source == "@member":
            senders = [a for a in self.ctx.model.agents.values() if a.kind == "member"]
        elif source == "@lead":
            senders = [a for a in self.ctx.model.agents.values() if a.kind == "lead"]
        else:
            senders = [self.ctx.model.agents[a] for a in self.ctx.model.agents_by_role.get(source, ())]
        since = self.ctx.state.standup_last.get(name, self.ctx.state.standup_origin.get(name, at))
        drafts: list[Draft] = []
        for agent in senders:
            to = [a for a in self.ctx.model.agents_for(target, agent.domain) if a != agent.id]
            report = {s: self._section(s, agent, at, since) for s in spec.sections}
            data = {"standup": name, "from": agent.id, "to": to, "due": due, "since": since, "report": report}
            drafts.append(("standup_reported", at, None if due is not None else agent.id, data))
        return drafts

    def _section(self, section: str, agent: AgentInfo, at: float, since: float) -> Any:
        state, states = self.ctx.state, self.ctx.model.states
        tasks = state.tasks.values()
        open_ = [t for t in tasks if states[t.state].terminal is None]
        mine = [t for t in open_ if t.assignee == agent.id]
        team = [t for t in tasks if t.domain == agent.domain] if agent.domain else list(tasks)

        def brief(ts: Any) -> list[dict[str, Any]]:
            return [{"task": t.id, "title": t.title, "status": t.state} for t in ts]

        ic = agent.kind == "member"
        scope = mine if ic else [t for t in team if states[t.state].terminal is None]
        if section == "my_tasks":
            return brief(mine)
        if section == "blockers":
            return brief(t for t in scope if t.state in self.ctx.model.blocked_states)
        if section == "help_needed":
            return brief(t for t in scope if t.state in self.ctx.model.escalated_states or "escalate" in t.fired)
        done = self.ctx.model.done_states
        if section == "accomplishments":
            return brief(t for t in tasks if t.assignee == agent.id and t.state in done and t.entered_at >= since)
        if section == "next_up":
            return brief(t for t in mine if t.state in self.ctx.model.ready_states)
        if section == "team_summary":
            counts: dict[str, int] = {}
            for t in team:
                counts[t.state] = counts.get(t.state, 0) + 1
            return dict(sorted(counts.items()))
        if section == "strategic_progress":
            return brief(t for t in team if t.kind == "strategic")
        if section == "team_capacity":
            ledger = state.ledger
            util = ledger.domain_utilisation(agent.domain) if agent.domain else 0.0
            band = ledger.band(util)
            return {"utilisation": util, "band": band.name if band else None,
                    "members": {a: ledger.utilisation(a) for a in self.ctx.model.domain_members.get(agent.domain or "", ())}}
        if section == "handoffs":
            return [{"handoff": h.id, "task": h.task, "from": h.from_domain, "to": h.to_domain, "status": h.status}
                    for h in state.handoffs.values()
                    if h.status == "open" and agent.domain in (h.from_domain, h.to_domain)]
        if section == "risks":
            return brief(t for t in scope if "warn" in t.fired or "escalate" in t.fired)
        if section == "next_steps":
            return brief(t for t in scope if t.assignee is None)
        if section == "instruction_progress":
            def open_of(i: Any) -> list[Any]:
                return [state.tasks[tid] for tid in i.tasks if states[state.tasks[tid].state].terminal is None]

            return [{"instruction": i.id, "tier": i.tier, "tasks": len(i.tasks),
                     "completed": sum(1 for tid in i.tasks if state.tasks[tid].state in done),
                     "stages": list(i.stages),
                     "blocked": sum(1 for t in open_of(i) if t.state in self.ctx.model.blocked_states),
                     "at_risk": sum(1 for t in open_of(i) if "warn" in t.fired or "escalate" in t.fired)}
                    for i in state.instructions.values() if i.closed_at is None]
        if section == "capacity_overview":
            ledger = state.ledger
            out = {}
            for d in self.ctx.model.domains:
                util = ledger.domain_utilisation(d)
                band = ledger.band(util)
                out[d] = {"utilisation": util, "band": band.name if band else None}
            return out
        if section == "critical_path_status":
            waiting = []
            for t in open_:
                unmet = [d for d in t.dependencies if states[state.tasks[d].state].terminal != "success"]
                if unmet:
                    waiting.append({"task": t.id, "status": t.state, "waiting_on": unmet})
            return waiting
        if section == "escalations_this_week":
            return [{"at": e["at"], "task": e.get("task"), "kind": e.get("kind", "task"), "reason": e["reason"]}
                    for e in [*state.escalations, *state.protocol_escalations] if e["at"] >= at - WEEK]
        return None
