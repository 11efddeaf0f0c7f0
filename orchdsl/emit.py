"""Stage 4, the compiled model: a checked ``Organisation`` in, the runtime's contract out.

The runtime owns the format of ``model.json`` (``orchdsl_runtime.contract.model``);
this module builds it from the compiler's model field by field, so that the type
checker sees every field of the seam: a field renamed on either side fails here.
Spans and other compiler-only data stay behind.
"""

from __future__ import annotations

import json

from orchdsl_runtime.contract import model as c
from orchdsl_runtime.contract.codec import to_data

from orchdsl import model as m


def compiled_json(org: m.Organisation) -> str:
    """The compiled model as canonical JSON text (sorted keys, stable): ``model.json``."""
    return json.dumps(to_data(to_contract(org)), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def to_contract(org: m.Organisation) -> c.CompiledModel:
    """The compiled model of a checked organisation."""
    return c.CompiledModel(
        format_version=org.format_version,
        org=c.OrgInfo(name=org.org.name, version=org.org.version, title=org.org.title,
                      description=org.org.description,
                      top=tuple(org.org.top) if org.org.top is not None else None),
        skills=c.Skills(
            levels=tuple(_level(lv) for lv in org.skills.levels),
            categories=tuple(c.SkillCategory(name=cat.name, skills=tuple(cat.skills))
                             for cat in org.skills.categories),
        ),
        experience=tuple(_level(lv) for lv in org.experience),
        roles=tuple(_role(r) for r in org.roles),
        domains=tuple(_domain(d) for d in org.domains),
        agents=tuple(c.Agent(id=a.id, role=a.role, domain=a.domain) for a in org.agents),
        lifecycle=c.Lifecycle(
            name=org.lifecycle.name, tiers=tuple(org.lifecycle.tiers), initial=org.lifecycle.initial,
            states=tuple(_state(s) for s in org.lifecycle.states),
        ),
        delegation=_delegation(org.delegation),
        broadcast=c.Broadcast(
            kinds=tuple(org.broadcast.kinds), priorities=tuple(org.broadcast.priorities),
            channels=tuple(_channel(ch) for ch in org.broadcast.channels),
        ),
        handoffs=tuple(_handoff(h) for h in org.handoffs),
        standups=tuple(
            c.Standup(name=s.name, description=s.description, from_=s.from_, to=s.to, every=_budget(s.every),
                      sections=tuple(s.sections))
            for s in org.standups
        ),
        consultations=tuple(
            c.Consultation(name=x.name, description=x.description, from_=x.from_, to=x.to, blocking=x.blocking,
                           timeout=_opt_budget(x.timeout), default=x.default)
            for x in org.consultations
        ),
        assignment=_assignment(org.assignment),
        capacity=_capacity(org.capacity),
        tiers=tuple(_tier(t) for t in org.tiers),
        gates=tuple(_gate(g) for g in org.gates),
        metrics=tuple(
            c.Metric(name=x.name, title=x.title, measure=x.measure, argument=x.argument, op=x.op, target=x.target)
            for x in org.metrics
        ),
        escalations=tuple(p for p in map(_policy, org.escalations) if p is not None) or None,
        instructions=None if org.instructions is None else c.Instructions(
            submit=tuple(org.instructions.submit), close=tuple(org.instructions.close),
            create={k: tuple(v) for k, v in org.instructions.create.items()},
        ),
        guard_variables={
            name: c.GuardVariable(type=str(v["type"]), values=tuple(v["values"]) if "values" in v else None)
            for name, v in org.guard_variables.items()
        },
    )


def _level(lv: m.Level) -> c.Level:
    return c.Level(name=lv.name, value=lv.value)


def _budget(b: m.Budget) -> c.Budget:
    return c.Budget(kind=b.kind, value=b.value, text=b.text)


def _opt_budget(b: m.Budget | None) -> c.Budget | None:
    return _budget(b) if b is not None else None


def _role(r: m.Role) -> c.Role:
    return c.Role(
        id=r.id, title=r.title, layer=r.layer, reports_to=r.reports_to, model=r.model, color=r.color,
        tools=tuple(r.tools), description=r.description, responsibilities=tuple(r.responsibilities),
        depth=r.depth, domain=r.domain, kind=r.kind,
    )


def _domain(d: m.Domain) -> c.Domain:
    return c.Domain(
        name=d.name, description=d.description, lead=d.lead, needs=tuple(d.needs),
        members=tuple(
            c.Member(role=x.role, count=x.count, experience=x.experience, hours_per_day=x.hours_per_day,
                     skills=dict(x.skills), learning=tuple(x.learning), performance=dict(x.performance))
            for x in d.members
        ),
    )


def _threshold(t: m.Threshold | None) -> c.Threshold | None:
    return c.Threshold(budget=_budget(t.budget), to=t.to) if t is not None else None


def _notify(ns: list[m.Notification]) -> tuple[c.Notification, ...] | None:
    if not ns:
        return None  # left out of the compiled model, which then reads as before notices existed
    return tuple(c.Notification(to=tuple(n.to), outcomes=tuple(n.outcomes), text=n.text) for n in ns)


def _policy(p: m.EscalationPolicy | None) -> c.EscalationPolicy | None:
    if p is None:
        return None
    return c.EscalationPolicy(
        name=p.name, description=p.description, repeat=p.repeat,
        levels=tuple(c.EscalationLevel(after=_budget(lv.after), to=tuple(lv.to)) for lv in p.levels),
    )


def _state(s: m.State) -> c.State:
    return c.State(
        name=s.name, description=s.description, initial=s.initial, terminal=s.terminal, owner=s.owner,
        sla=tuple(c.TierBudget(tiers=tuple(tb.tiers) if tb.tiers is not None else None, budget=_budget(tb.budget))
                  for tb in s.sla),
        warn=_threshold(s.warn), escalate=_threshold(s.escalate), escalation=_policy(s.escalation),
        notify=_notify(s.notify), heartbeat=_opt_budget(s.heartbeat),
        tiers=tuple(s.tiers), requires=tuple(s.requires),
        transitions=tuple(
            c.Transition(
                source=t.source, target=t.target, label=t.label, guard=t.guard, guard_text=t.guard_text,
                actors=tuple(t.actors), after=_opt_budget(t.after), tiers=tuple(t.tiers),
                gates={g: tuple(ts) for g, ts in t.gates.items()},
            )
            for t in s.transitions
        ),
    )


def _delegation(d: m.Delegation | None) -> c.Delegation | None:
    if d is None:
        return None
    return c.Delegation(chain=tuple(d.chain), acknowledge_within=_opt_budget(d.acknowledge_within),
                        overdue_escalate_to=d.overdue_escalate_to, priorities=tuple(d.priorities))


def _channel(ch: m.Channel) -> c.Channel:
    return c.Channel(name=ch.name, description=ch.description, members=tuple(ch.members),
                     declared=tuple(ch.declared), template=ch.template, domain=ch.domain)


def _handoff(h: m.Handoff) -> c.Handoff:
    return c.Handoff(from_domain=h.from_domain, to_domain=h.to_domain, from_role=h.from_role, to_role=h.to_role,
                     description=h.description,
                     checklist=tuple(h.checklist), accepted_by=h.accepted_by, on_accept=h.on_accept,
                     on_reject=h.on_reject)


def _assignment(a: m.Assignment | None) -> c.Assignment | None:
    if a is None:
        return None
    return c.Assignment(weights=dict(a.weights), filter=a.filter, filter_text=a.filter_text, fit=dict(a.fit),
                        fallback=a.fallback)


def _action(a: m.Action | None) -> c.Action | None:
    return c.Action(kind=a.kind, target=a.target) if a is not None else None


def _capacity(cap: m.Capacity | None) -> c.Capacity | None:
    if cap is None:
        return None
    return c.Capacity(
        hours_per_day=cap.hours_per_day, horizon_days=cap.horizon_days,
        bands=tuple(c.CapacityBand(at=b.at, name=b.name, action=_action(b.action)) for b in cap.bands),
        ic_limit=cap.ic_limit, ic_action=_action(cap.ic_action), domain_limit=cap.domain_limit,
        domain_period=_opt_budget(cap.domain_period), domain_action=_action(cap.domain_action),
    )


def _tier(t: m.Tier) -> c.Tier:
    return c.Tier(
        number=t.number, name=t.name, description=t.description,
        flow=tuple(c.Step(actor=s.actor, stage=s.stage, gate=s.gate) for s in t.flow),
        planning_min=t.planning_min, planning_max=t.planning_max, planning_unit=t.planning_unit,
        gates=tuple(t.gates), stages=tuple(t.stages),
    )


def _gate(g: m.Gate) -> c.Gate:
    return c.Gate(
        name=g.name, description=g.description, reviewer=g.reviewer, transitions=tuple(g.transitions),
        stages=tuple(g.stages), criteria=tuple(g.criteria),
        thresholds={k: dict(v) for k, v in g.thresholds.items()},
        outcomes=tuple(c.Outcome(name=o.name, effect=o.effect, target=o.target) for o in g.outcomes),
        score_categories=tuple(g.score_categories), score_min=g.score_min, score_max=g.score_max,
        bands=tuple(c.ScoreBand(low=b.low, high=b.high, outcome=b.outcome) for b in g.bands),
        notify=_notify(g.notify), tiers=tuple(g.tiers),
    )
