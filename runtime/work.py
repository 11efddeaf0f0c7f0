"""What waits for whom: the moves an agent may make on a task, and the items waiting for an agent.

An item waits for an agent when the agent can act on it now:

- ``task``: a task the agent may move along a declared transition (its guard
  holds, its gates passed, the move is not the clock's alone);
- ``assign``: an unassigned task the agent may assign;
- ``gate``: a gate due on a task, for its reviewers;
- ``handoff_create``, ``handoff_tick``, ``handoff``: a task ready to be handed
  to another domain, for its domain's lead; an open handoff with unticked
  items, for the upstream lead; a handoff with its checklist complete, for the
  acceptor;
- ``delegation``, ``consultation``: a delegation to acknowledge, a question to
  answer;
- ``stage``, ``stage_gate``: the next stage of an open instruction's flow, for
  the stage's actor (planning a tier means creating its tasks), or the gate
  that holds that stage, for the gate's reviewer. Agents read this through their views (``work``,
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
from .permissions import acts_as
from .records import Task


@dataclass(frozen=True, slots=True)
class Item:
    """Something waiting for an agent."""

    kind: str
    """``task``, ``assign``, ``gate``, ``handoff_create``, ``handoff_tick``, ``handoff``, ``delegation``,
    ``consultation``, ``stage`` or ``stage_gate``"""
    key: str
    """stable while the item waits (a new state visit is a new item); items several agents could
    take share their key, listed in the order they should be asked (a state's owner first)"""
    agent: str
    what: str
    """the id of the task, handoff, delegation, consultation or (for a stage) instruction"""
    summary: str
    task: str | None = None
    instruction: str | None = None
    detail: str | None = None
    """the gate, or the stage, the item is about"""

    def dump(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "agent": self.agent, "id": self.what, "summary": self.summary,
                "task": self.task, "instruction": self.instruction, "detail": self.detail}


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
                                 "gates": list(engine.permissions.gates_of(rec, t)), "guard": rec.guard_text,
                                 "automatic": rec.after.text if rec.after is not None else None}
        if rec.rounds is not None:
            r = rec.rounds
            entry["rounds"] = {"limit": r.limit, "taken": t.rounds(t.state, rec.target), "then": r.then,
                               "escalate": r.escalate}
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
        engine.tasks.move_data(ctx.clock.now(), agent.id, t.id, target, requires)
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
    finished = {name for name, st in model.states.items() if st.terminal is not None}
    for tid, state_name in state.tasks.tags():  # finished tasks are skipped without decoding them
        if state_name in finished:
            continue
        t = state.tasks[tid]
        st = model.states[t.state]
        candidates: set[str] = set()
        for rec in st.out.values():
            if t.tier in rec.tiers and rec.actors.text:
                for actor in rec.actors.text:
                    candidates.update(_agents(engine, actor, t))
        owners = set(_agents(engine, st.owner, t)) if st.owner else set()
        assign = _assignment(engine, t)
        for name in sorted(candidates, key=lambda a: (a not in owners, a)):
            if not wanted(name):
                continue
            info = model.agents[name]
            if any(_refusal(engine, info, t, rec.target) is None
                   for rec in st.out.values() if t.tier in rec.tiers):
                items.append(Item("task", f"task:{t.id}:{t.visit}.{len(t.decisions)}", name, t.id,
                                  f"`{t.id}` ({t.title}) is in `{t.state}`", t.id, t.instruction))
            elif assign is not None and _may_assign(engine, info, t, assign):
                items.append(Item("assign", f"assign:{t.id}:{t.visit}", name, t.id,
                                  f"`{t.id}` ({t.title}) waits for an assignee", t.id, t.instruction))
        spec = engine.protocols.handoff_spec(t.domain, t.handoff_to) if t.handoff_to else None
        if spec is not None and spec.on_accept and spec.on_accept[0] == t.state and t.handoff is None:
            for name in model.agents_by_role.get(model.domain_lead_role.get(t.domain, ""), ()):
                if wanted(name):
                    items.append(Item("handoff_create", f"handoff_create:{t.id}:{t.visit}", name, t.id,
                                      f"`{t.id}` ({t.title}) is ready to be handed to `{t.handoff_to}`",
                                      t.id, t.instruction))
        for g, gate in model.gates.items():
            reviewer = gate.reviewer
            if reviewer is None or g in t.decisions or t.tier not in gate.opens.get(t.state, ()):
                continue
            if not gate.applies(t.domain, t.labels):
                continue
            for text in reviewer.text:
                for name in _agents(engine, text, t):
                    if wanted(name) and perms.permitted(reviewer, model.agents[name], t):
                        items.append(Item("gate", f"gate:{t.id}:{t.visit}:{g}", name, t.id,
                                          f"gate `{g}` is due on `{t.id}` ({t.title})", t.id, t.instruction, g))
    for hid, status in state.handoffs.tags():
        if status != "open":
            continue
        h = state.handoffs[hid]
        t = state.tasks[h.task]
        if [i for i in h.checklist if i not in h.ticked]:
            for name in model.agents_by_role.get(model.domain_lead_role.get(h.from_domain, ""), ()):
                if wanted(name):
                    items.append(Item("handoff_tick", f"handoff_tick:{h.id}", name, h.id,
                                      f"handoff `{h.id}` of `{h.task}` has unticked checklist items",
                                      h.task, t.instruction))
            continue
        role = engine.protocols.acceptor_role(h)
        for name in model.agents_by_role.get(role or "", ()):
            if wanted(name):
                items.append(Item("handoff", f"handoff:{h.id}", name, h.id,
                                  f"handoff `{h.id}` of `{h.task}` from `{h.from_domain}` waits for acceptance",
                                  h.task, t.instruction))
    for did, status in state.delegations.tags():
        dl = state.delegations[did] if status == "pending" else None
        if dl is not None and wanted(dl.to):
            items.append(Item("delegation", f"delegation:{dl.id}", dl.to, dl.id,
                              f"delegation `{dl.id}` from `{dl.sender}` waits for an acknowledgement: {dl.subject}",
                              dl.task, dl.instruction))
    for cid, status in state.consultations.tags():
        if status != "open":
            continue
        c = state.consultations[cid]
        for name in c.to:
            if wanted(name):
                items.append(Item("consultation", f"consultation:{c.id}", name, c.id,
                                  f"consultation `{c.id}` ({c.name}) from `{c.asker}`: {c.question}",
                                  c.task, c.instruction))
    for ins in state.instructions.values():
        items += _stage_items(engine, ins, wanted)
    return items


PLANNING = {"strategic_planning": "strategic", "tactical_planning": "tactical", "delegation": "tactical"}
"""the stages whose work is to create tasks, and the kind of task each creates"""
RECORDED = ("routing", "execution")
"""stages the engine records by itself (submission, the first assignment)"""


def _stage_items(engine: Engine, ins: Any, wanted: Any) -> list[Item]:
    """What the flow of an open instruction waits for: the stages not run yet, in the flow's
    order up to the first that has not run; a planning stage waits for each of its actors that has
    not created its tasks yet (a lead: tasks of its domain), so every domain plans its part."""
    model, state = engine.model, engine.state
    flow = model.flows.get(ins.tier)
    if flow is None or ins.closed_at is not None:
        return []
    items: list[Item] = []
    tasks = [state.tasks[tid] for tid in ins.tasks]
    involved = {d for t in tasks for d in (t.domain, t.handoff_to) if d}
    for stage in flow.stages:
        if stage in RECORDED:
            continue
        ran = stage in ins.stages
        actor = flow.actors.get(stage)
        agents = [a for a in model.agents.values() if actor is not None and acts_as(a, actor)
                  and not (actor == "@lead" and involved and a.domain not in involved)]
        kind = PLANNING.get(stage)
        if kind is not None:
            agents = [a for a in agents if not any(
                t.kind == kind and (a.kind != "lead" or t.domain == a.domain) for t in tasks)]
        elif ran:
            continue
        if agents:
            holding = [g for g in flow.stage_gates.get(stage, ())
                       if ins.gate_decisions.get(g) is None
                       or model.gates[g].outcomes[ins.gate_decisions[g]].effect != "pass"]
            if holding:
                items += _gate_items(engine, ins, stage, holding, wanted)
            else:
                items += [Item("stage", f"stage:{ins.id}:{stage}:{a.id}", a.id, ins.id,
                               f"stage `{stage}` of `{ins.id}` ({ins.text})", None, ins.id, stage)
                          for a in agents if wanted(a.id)]
        if not ran:
            break
    return items


def _gate_items(engine: Engine, ins: Any, stage: str, gates: list[str], wanted: Any) -> list[Item]:
    items = []
    for g in gates:
        reviewer = engine.model.gates[g].reviewer
        for agent in engine.model.agents.values():
            if reviewer is not None and wanted(agent.id) and any(acts_as(agent, r) for r in reviewer.text):
                items.append(Item("stage_gate", f"stage_gate:{ins.id}:{g}", agent.id, ins.id,
                                  f"gate `{g}` holds stage `{stage}` of `{ins.id}`", None, ins.id, g))
    return items


def _assignment(engine: Engine, t: Task) -> Any:
    """The transition assignment would make for an unassigned task, if there is one."""
    if t.assignee is not None:
        return None
    try:
        return engine.tasks.assignment_transition(t)
    except Refused:
        return None


def _may_assign(engine: Engine, agent: AgentInfo, t: Task, rec: Any) -> bool:
    """Whether ``agent``'s assignment of ``t`` would be accepted, checked as the engine checks it:
    the transition as if the best candidate were the assignee (nobody eligible: an escalation)."""
    from .candidates import score_task  # numpy, only when an assignment is weighed

    perms = engine.permissions
    try:
        perms.check_actor(agent, t, rec)
        best = next((s.agent for s in score_task(engine.ctx, t) if s.eligible), None)
        if best is None:
            return engine.model.fallback is not None
        t.assignee = best
        try:
            perms.check_move(agent, t, rec.target, (), engine.clock.now())
        finally:
            t.assignee = None
    except Refused:
        return False
    return True


def _agents(engine: Engine, actor: str, t: Task) -> list[str]:
    if actor in ("@lead", "@member", "@assignee", "@peer", "@downstream_lead", "@system"):
        return engine.permissions.agents_of(actor, t)
    return list(engine.model.agents_by_role.get(actor, ()))
