"""What waits for whom: the moves an agent may make on a task, and the items waiting for an agent.

An item waits for an agent when the agent can act on it now: a task the agent
may move along a declared transition (its guard holds, its gates passed, the
move is not the clock's alone), a gate due on a task the agent reviews, a
handoff the agent accepts, a delegation the agent must acknowledge, a
consultation put to the agent. Agents read this through their views (``work``,
``moves``); the dispatcher starts an agent for each item waiting for it.

Every answer is computed by asking the engine's own checks (``Permissions``),
so what is offered is exactly what the engine would accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .engine import Engine
from .errors import Refused
from .model import AgentInfo
from .records import Task


@dataclass(frozen=True, slots=True)
class Item:
    """Something waiting for an agent."""

    kind: str
    """``task`` (moves to make), ``gate``, ``handoff``, ``delegation`` or ``consultation``"""
    key: str
    """stable while the item waits: a new state visit or a new protocol message is a new item"""
    agent: str
    what: str
    """the id of the task, handoff, delegation or consultation"""
    summary: str
    task: str | None = None
    instruction: str | None = None

    def dump(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "agent": self.agent, "id": self.what, "summary": self.summary,
                "task": self.task, "instruction": self.instruction}


def moves(engine: Engine, task: str, agent: str) -> list[dict[str, Any]]:
    """The transitions out of the task's state at its tier, each with whether ``agent`` may make
    it now and, if not, why (the engine's refusal)."""
    ctx = engine.ctx
    t = ctx.task(task)
    info = ctx.agent(agent)
    out = []
    for rec in ctx.model.states[t.state].out.values():
        if t.tier not in rec.tiers:
            continue
        entry: dict[str, Any] = {"target": rec.target, "label": rec.label, "actors": list(rec.actors.text),
                                 "requires": list(ctx.model.states[rec.target].requires),
                                 "gates": list(rec.gates_at(t.tier)), "guard": rec.guard_text,
                                 "automatic": rec.after.text if rec.after is not None else None}
        reason = _refusal(engine, info, t, rec.target)
        entry["allowed"] = reason is None
        if reason is not None:
            entry["refused"] = reason
        out.append(entry)
    return out


def _refusal(engine: Engine, agent: AgentInfo, t: Task, target: str) -> str | None:
    """Why the engine would refuse ``agent`` moving ``t`` to ``target`` now (``None``: it would not)."""
    ctx = engine.ctx
    requires = ctx.model.states[target].requires
    try:
        if t.assignee is None and engine.permissions.owned_by_assignee[target]:
            raise Refused("RUN018", f"`{t.id}` needs an assignee first; `assign` makes this move")
        engine.permissions.check_move(agent, t, target, requires, ctx.clock.now())
        if t.handoff is not None:
            h = ctx.state.handoffs[t.handoff]
            if target in (h.on_accept, h.on_reject):
                raise Refused("RUN025", f"the open handoff `{h.id}` makes this move when it is decided")
    except Refused as r:
        return f"{r.code} {r.name}: {r.reason}"
    return None


def waiting(engine: Engine, agent: str | None = None) -> list[Item]:
    """Every item waiting for ``agent`` (every agent when ``None``), in a stable order."""
    ctx = engine.ctx
    state, model = ctx.state, ctx.model
    perms = engine.permissions
    wanted = (lambda a: a == agent) if agent is not None else (lambda a: True)
    items: list[Item] = []
    for t in state.tasks.values():
        st = model.states[t.state]
        if st.terminal is not None:
            continue
        candidates: set[str] = set()
        for rec in st.out.values():
            if t.tier in rec.tiers and rec.actors.text:
                for actor in rec.actors.text:
                    candidates.update(_agents(engine, actor, t))
        for name in sorted(candidates):
            if not wanted(name):
                continue
            info = model.agents[name]
            if any(_refusal(engine, info, t, rec.target) is None
                   for rec in st.out.values() if t.tier in rec.tiers):
                items.append(Item("task", f"task:{t.id}:{t.visit}:{name}", name, t.id,
                                  f"`{t.id}` ({t.title}) is in `{t.state}`", t.id, t.instruction))
        for rec in st.out.values():
            for g in rec.gates_at(t.tier):
                if g in t.decisions:
                    continue
                reviewer = model.gates[g].reviewer
                if reviewer is None:
                    continue
                for text in reviewer.text:
                    for name in _agents(engine, text, t):
                        if wanted(name) and perms.permitted(reviewer, model.agents[name], t):
                            items.append(Item("gate", f"gate:{t.id}:{t.visit}:{g}:{name}", name, t.id,
                                              f"gate `{g}` is due on `{t.id}` ({t.title})", t.id, t.instruction))
    for h in state.handoffs.values():
        if h.status != "open":
            continue
        role = engine.protocols.acceptor_role(h)
        for name in model.agents_by_role.get(role or "", ()):
            if wanted(name):
                t = state.tasks[h.task]
                items.append(Item("handoff", f"handoff:{h.id}:{name}", name, h.id,
                                  f"handoff `{h.id}` of `{h.task}` from `{h.from_domain}` waits for acceptance",
                                  h.task, t.instruction))
    for dl in state.delegations.values():
        if dl.status == "pending" and wanted(dl.to):
            items.append(Item("delegation", f"delegation:{dl.id}", dl.to, dl.id,
                              f"delegation `{dl.id}` from `{dl.sender}` waits for an acknowledgement: {dl.subject}",
                              dl.task, dl.instruction))
    for c in state.consultations.values():
        if c.status != "open":
            continue
        for name in c.to:
            if wanted(name):
                items.append(Item("consultation", f"consultation:{c.id}:{name}", name, c.id,
                                  f"consultation `{c.id}` ({c.name}) from `{c.asker}`: {c.question}",
                                  c.task, c.instruction))
    return items


def _agents(engine: Engine, actor: str, t: Task) -> list[str]:
    if actor in ("@lead", "@member", "@assignee", "@peer", "@downstream_lead", "@system"):
        return engine.permissions.agents_of(actor, t)
    return list(engine.model.agents_by_role.get(actor, ()))
