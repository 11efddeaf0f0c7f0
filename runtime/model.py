"""The model as the runtime sees it: the compiled model, checked and indexed.

In: the compiled model (a path to ``model.json`` or the parsed dict), as
written by ``orchdsl compile`` in the format of ``contract.model``.
``load_model`` checks the format version and every field against the
contract's types, checks the references the engine follows, and builds the
indexes the command path uses: states, per-(state, target) transition records
with compiled guards and resolved actor checks, gates, agents and their
domains, domain leads and members, skill levels and member profiles for
assignment, and the declared protocols by name.

Nothing here imports the compiler; loading happens once per process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .assignment import Candidate, candidate_from_member
from .contract import model as c
from .contract.codec import ContractError, from_data
from .contract.guards import Guard, compile_guard
from .contract.model import (
    COMPLEXITIES,
    DEFAULT_PRIORITIES,
    FORMAT_VERSION,
    KINDS,
    MAX_REPEAT,
    RELATIONS,
    Budget,
    EscalationPolicy,
    Notification,
)
from .errors import ModelError

__all__ = [
    "COMPLEXITIES", "DEFAULT_PRIORITIES", "FORMAT_VERSION", "KINDS", "RELATIONS", "ActorCheck", "AgentInfo",
    "Budget", "GateRec", "Model", "Outcome", "StateRec", "Threshold", "TransitionRec", "load_model",
]


@dataclass(frozen=True, slots=True)
class ActorCheck:
    """Who may act: role ids, and relations resolved per task by the engine."""

    roles: frozenset[str]
    relations: frozenset[str]
    text: tuple[str, ...]


@dataclass(slots=True)
class TransitionRec:
    source: str
    target: str
    label: str | None
    actors: ActorCheck
    guard: Guard | None
    guard_tree: dict[str, Any] | None
    guard_text: str | None
    guard_vars: tuple[str, ...]
    after: Budget | None
    tiers: frozenset[int]
    gates: tuple[tuple[str, frozenset[int]], ...]

    def gates_at(self, tier: int) -> tuple[str, ...]:
        """The gates guarding this transition at a tier."""
        return tuple(g for g, tiers in self.gates if tier in tiers)


@dataclass(slots=True)
class Threshold:
    budget: Budget
    to: str | None


@dataclass(slots=True)
class StateRec:
    name: str
    initial: bool
    terminal: str | None
    owner: str | None
    sla: tuple[tuple[frozenset[int] | None, Budget], ...]
    warn: Threshold | None
    escalate: Threshold | None
    heartbeat: Budget | None
    tiers: frozenset[int]
    requires: tuple[str, ...]
    out: dict[str, TransitionRec]
    automatic: tuple[TransitionRec, ...]
    escalation: EscalationPolicy | None = None
    notify: tuple[Notification, ...] = ()

    def target_for(self, tier: int) -> Budget | None:
        for tiers, budget in self.sla:
            if tiers is None or tier in tiers:
                return budget
        return None


@dataclass(slots=True)
class Outcome:
    name: str
    effect: str
    target: str | None


@dataclass(slots=True)
class GateRec:
    name: str
    reviewer: ActorCheck | None
    outcomes: dict[str, Outcome]
    opens: dict[str, frozenset[int]]
    """source state -> tiers where the gate guards a transition out of it"""
    thresholds: dict[str, dict[int, float]]
    score_categories: tuple[str, ...]
    score_min: int | None
    score_max: int | None
    bands: tuple[tuple[int, int, str], ...]
    notify: tuple[Notification, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: str
    role: str
    domain: str | None
    kind: str
    """``staff``, ``lead`` or ``member`` (the kind of its role)"""
    works: bool = False
    """works in its domain: a member, or a lead its domain also lists as a member"""


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


def tier_flows(spec: c.CompiledModel) -> dict[int, Flow]:
    """The flow of every tier of the model, indexed by tier number."""
    gate_specs = {g.name: g for g in spec.gates}
    out: dict[int, Flow] = {}
    for t in spec.tiers:
        number = t.number
        steps = t.flow
        stages = tuple(s.stage for s in steps if s.stage)
        actors = {s.stage: s.actor for s in steps if s.stage}
        gates = tuple(dict.fromkeys([*t.gates, *(s.gate for s in steps if s.gate)]))
        stage_gates: dict[str, list[str]] = {}
        for g in gates:
            gate = gate_specs.get(g)
            if gate is None:
                continue
            if gate.tiers and number not in gate.tiers:
                continue
            for stage in gate.stages:
                stage_gates.setdefault(stage, []).append(g)
        out[number] = Flow(number, stages, actors, gates, {k: tuple(v) for k, v in stage_gates.items()})
    return out


@dataclass(slots=True)
class Model:
    """The loaded, indexed compiled model."""

    spec: c.CompiledModel
    """the compiled model as declared by the contract"""
    digest: str
    name: str
    tiers: frozenset[int]
    """the tiers of the task lifecycle"""
    initial: str
    states: dict[str, StateRec]
    roles: dict[str, c.Role]
    role_ancestors: dict[str, tuple[str, ...]]
    agents: dict[str, AgentInfo]
    agents_by_role: dict[str, tuple[str, ...]]
    domains: dict[str, c.Domain]
    domain_lead_role: dict[str, str]
    domain_members: dict[str, tuple[str, ...]]
    gates: dict[str, GateRec]
    skills: frozenset[str]
    experience_rank: dict[str, int]
    candidates: dict[str, Candidate]
    """member agent -> its assignment data (``committed_hours`` 0; the engine fills it in)"""
    priorities: tuple[str, ...]
    weights: dict[str, float]
    assignment_filter: Guard | None
    fit: dict[str, int]
    fallback: str | None
    hours_per_day: float
    horizon_days: float
    capacity: c.Capacity | None
    standups: dict[str, c.Standup] = field(default_factory=dict)
    consultations: dict[str, c.Consultation] = field(default_factory=dict)
    channels: dict[str, c.Channel] = field(default_factory=dict)
    tier_specs: dict[int, c.Tier] = field(default_factory=dict)
    """every declared tier (a tier without tasks too) by number"""
    flows: dict[int, Flow] = field(default_factory=dict)
    """the flow of every declared tier by number"""
    top_roles: tuple[str, ...] = ()
    """the roles at the top of the hierarchy: those the spec declares (peers), else the role that
    reports to nobody"""
    work_states: frozenset[str] = frozenset()
    """where the assignee works on a task: states owned by ``@assignee`` with a heartbeat
    (all non-terminal ``@assignee`` states when none has one); hours worked count there"""
    blocked_states: frozenset[str] = frozenset()
    """where a task waits: states with an automatic transition out, and the targets of
    automatic transitions (a task the clock moves was stuck)"""
    escalated_states: frozenset[str] = frozenset()
    """where the clock moves stuck work: the non-terminal targets of automatic transitions"""
    ready_states: frozenset[str] = frozenset()
    """where assigned work waits to be started: the ``@assignee`` states that assignment leads to
    (from a state not owned by ``@assignee``), other than the work states"""

    @property
    def delegation(self) -> c.Delegation | None:
        return self.spec.delegation

    @property
    def broadcast(self) -> c.Broadcast:
        return self.spec.broadcast

    @property
    def handoffs(self) -> tuple[c.Handoff, ...]:
        return self.spec.handoffs

    @property
    def metrics(self) -> tuple[c.Metric, ...]:
        return self.spec.metrics

    @property
    def assignment(self) -> c.Assignment | None:
        return self.spec.assignment

    @property
    def instructions(self) -> c.Instructions:
        return self.spec.instructions or _NO_RULES

    def agents_for(self, actor: str, domain: str | None) -> tuple[str, ...]:
        """Agents an actor names for a task of ``domain`` (role or @lead/@member);
        used for notification targets, where no per-task relation is needed."""
        if actor == "@lead":
            role = self.domain_lead_role.get(domain or "")
            return self.agents_by_role.get(role, ()) if role else ()
        if actor == "@member":
            return self.domain_members.get(domain or "", ())
        return self.agents_by_role.get(actor, ())

    def agents_of(self, actor: str, assignee: str | None, domain: str, downstream: str | None) -> list[str]:
        """The agents an actor names for one task: its assignee, the domain's other members
        (``@peer``), the lead of its downstream domain, or a role's agents; nobody for ``@system``."""
        if actor == "@assignee":
            return [assignee] if assignee else []
        if actor == "@peer":
            return [a for a in self.domain_members.get(domain, ()) if a != assignee]
        if actor == "@downstream_lead":
            return list(self.agents_for("@lead", downstream)) if downstream else []
        if actor == "@system":
            return []
        return list(self.agents_for(actor, domain))


_NO_RULES = c.Instructions()


def default_priority(priorities: tuple[str, ...]) -> str:
    """The priority a command takes when none is given: the middle one of the declared list
    (``normal`` of ``critical, high, normal, low``)."""
    return priorities[len(priorities) // 2] if priorities else "normal"


def digest_of(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_model(source: str | Path | Mapping[str, Any]) -> Model:
    """Load a compiled model from a path or a parsed dict; ``ModelError`` if unusable.

    The document is checked against the contract's types (``contract.model``)
    and its references are followed; nothing of it is trusted before that."""
    if isinstance(source, Mapping):
        data: Any = source
    else:
        try:
            data = json.loads(Path(source).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read the compiled model `{source}`: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError("the compiled model must be a JSON object")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(f"compiled model format_version is {version!r}; this runtime reads {FORMAT_VERSION}")
    try:
        spec = from_data(c.CompiledModel, data, "the compiled model")
    except ContractError as exc:
        raise ModelError(str(exc)) from exc
    return _index(spec, digest_of(data))


def _actors(actors: tuple[str, ...]) -> ActorCheck:
    return ActorCheck(
        roles=frozenset(a for a in actors if not a.startswith("@")),
        relations=frozenset(a for a in actors if a.startswith("@")),
        text=tuple(actors),
    )


def _index(spec: c.CompiledModel, digest: str) -> Model:
    problems: list[str] = []
    roles = {r.id: r for r in spec.roles}
    ancestors: dict[str, tuple[str, ...]] = {}
    for rid in roles:
        chain: list[str] = []
        cur = roles[rid].reports_to
        while cur and cur in roles and cur not in chain and cur != rid:
            chain.append(cur)
            cur = roles[cur].reports_to
        ancestors[rid] = tuple(chain)

    agents: dict[str, AgentInfo] = {}
    by_role: dict[str, list[str]] = {}
    for a in spec.agents:
        role = roles.get(a.role)
        if role is None:
            problems.append(f"agent `{a.id}` has unknown role `{a.role}`")
            continue
        by_role.setdefault(a.role, []).append(a.id)

    domains = {d.name: d for d in spec.domains}
    working = {(m.role, d.name) for d in domains.values() for m in d.members}
    for a in spec.agents:
        role = roles.get(a.role)
        if role is not None:
            agents[a.id] = AgentInfo(a.id, a.role, a.domain, role.kind, (a.role, a.domain) in working)
    lead_role = {name: d.lead for name, d in domains.items()}
    members = {name: tuple(a.id for a in agents.values() if a.domain == name and a.works) for name in domains}
    skills = frozenset(s for cat in spec.skills.categories for s in cat.skills)
    exp_rank = {lv.name: i for i, lv in enumerate(sorted(spec.experience, key=lambda x: x.value))}

    candidates: dict[str, Candidate] = {}
    capacity = spec.capacity
    default_hpd = capacity.hours_per_day if capacity else 8.0
    for d in domains.values():
        for m in d.members:
            for aid in by_role.get(m.role, ()):
                if agents[aid].domain != d.name:
                    continue
                try:
                    candidates[aid] = candidate_from_member(
                        aid, m, spec.skills.levels, spec.experience, default_hours_per_day=default_hpd
                    )
                except KeyError as exc:
                    problems.append(f"member `{aid}` uses an unknown level {exc}")

    lifecycle = spec.lifecycle
    tiers = frozenset(lifecycle.tiers)
    states: dict[str, StateRec] = {}
    names = {s.name for s in lifecycle.states}
    for s in lifecycle.states:
        out: dict[str, TransitionRec] = {}
        for t in s.transitions:
            if t.target not in names:
                problems.append(f"transition `{s.name} -> {t.target}` leads to an unknown state")
                continue
            try:
                guard = compile_guard(t.guard) if t.guard is not None else None
            except ValueError as exc:
                problems.append(f"guard of `{s.name} -> {t.target}`: {exc}")
                continue
            out[t.target] = TransitionRec(
                source=s.name,
                target=t.target,
                label=t.label,
                actors=_actors(t.actors),
                guard=guard,
                guard_tree=t.guard,
                guard_text=t.guard_text,
                guard_vars=tuple(sorted(guard.variables)) if guard is not None else (),
                after=t.after,
                tiers=frozenset(t.tiers),
                gates=tuple((g, frozenset(ts)) for g, ts in sorted(t.gates.items())),
            )
        states[s.name] = StateRec(
            name=s.name,
            initial=s.initial,
            terminal=s.terminal,
            owner=s.owner,
            sla=tuple((frozenset(tb.tiers) if tb.tiers is not None else None, tb.budget) for tb in s.sla),
            warn=Threshold(s.warn.budget, s.warn.to) if s.warn else None,
            escalate=Threshold(s.escalate.budget, s.escalate.to) if s.escalate else None,
            heartbeat=s.heartbeat,
            tiers=frozenset(s.tiers or tiers),
            requires=s.requires,
            out=out,
            automatic=tuple(t for t in out.values() if t.after is not None),
            escalation=s.escalation,
            notify=s.notify or (),
        )
        if s.escalation is not None:
            problems += _policy_problems(s.name, s.escalation)
    initial = lifecycle.initial or next((s.name for s in states.values() if s.initial), None)
    if initial is None or initial not in states:
        problems.append("the lifecycle has no initial state")

    gates: dict[str, GateRec] = {}
    for g in spec.gates:
        opens: dict[str, set[int]] = {}
        for st in states.values():
            for tr in st.out.values():
                for gname, gtiers in tr.gates:
                    if gname == g.name:
                        opens.setdefault(st.name, set()).update(gtiers & tr.tiers)
        gates[g.name] = GateRec(
            name=g.name,
            reviewer=_actors((g.reviewer,)) if g.reviewer else None,
            outcomes={o.name: Outcome(o.name, o.effect, o.target) for o in g.outcomes},
            opens={k: frozenset(v) for k, v in opens.items()},
            thresholds={crit: {int(t): v for t, v in by_tier.items()} for crit, by_tier in g.thresholds.items()},
            score_categories=g.score_categories,
            score_min=g.score_min,
            score_max=g.score_max,
            bands=tuple((b.low, b.high, b.outcome) for b in g.bands),
            notify=g.notify or (),
        )
        for o in gates[g.name].outcomes.values():
            if o.effect == "move" and o.target not in states:
                problems.append(f"gate `{g.name}` outcome `{o.name}` moves to an unknown state")
        for crit, by_tier in g.thresholds.items():
            if any(not t.lstrip("-").isdigit() for t in by_tier):
                problems.append(f"gate `{g.name}` threshold `{crit}` names a tier that is not a number")

    for rid, role in roles.items():
        if role.kind == "lead" and role.domain and role.domain not in domains:
            problems.append(f"role `{rid}` leads an unknown domain")
    for name, lead in lead_role.items():
        if lead not in roles:
            problems.append(f"domain `{name}` has unknown lead `{lead}`")
    if problems:
        raise ModelError("the compiled model is inconsistent: " + "; ".join(problems))

    assignment = spec.assignment
    filt = assignment.filter if assignment else None
    return Model(
        spec=spec,
        digest=digest,
        name=spec.org.name,
        tiers=tiers,
        initial=str(initial),
        states=states,
        roles=roles,
        role_ancestors=ancestors,
        agents=agents,
        agents_by_role={r: tuple(ids) for r, ids in by_role.items()},
        domains=domains,
        domain_lead_role=lead_role,
        domain_members=members,
        gates=gates,
        skills=skills,
        experience_rank=exp_rank,
        candidates=candidates,
        priorities=(spec.delegation.priorities if spec.delegation and spec.delegation.priorities
                    else DEFAULT_PRIORITIES),
        weights=dict(assignment.weights) if assignment else {},
        assignment_filter=compile_guard(filt) if filt is not None else None,
        fit={cx: exp_rank.get(lv, 0) for cx, lv in assignment.fit.items()} if assignment else {},
        fallback=assignment.fallback if assignment else None,
        hours_per_day=default_hpd,
        horizon_days=capacity.horizon_days if capacity else 3.0,
        capacity=capacity,
        standups={su.name: su for su in spec.standups},
        consultations={x.name: x for x in spec.consultations},
        channels={ch.name: ch for ch in spec.broadcast.channels},
        tier_specs={t.number: t for t in spec.tiers},
        flows=tier_flows(spec),
        top_roles=spec.org.top if spec.org.top is not None else tuple(r.id for r in spec.roles if r.reports_to is None),
        work_states=_work_states(states),
        escalated_states=frozenset(a.target for st in states.values() for a in st.automatic
                                   if states[a.target].terminal is None),
        ready_states=frozenset(
            r.target for st in states.values() if st.owner != "@assignee" and st.terminal is None
            for r in st.out.values() if states[r.target].owner == "@assignee"
        ) - _work_states(states),
        blocked_states=frozenset(
            name for st in states.values() if st.terminal is None
            for name in (st.name, *(a.target for a in st.automatic))
            if st.automatic and states[name].terminal is None
        ),
    )


def _policy_problems(state: str, p: EscalationPolicy) -> list[str]:
    """What makes a state's escalation policy unusable: no level, a level not in time,
    levels out of order, a repeat count out of bounds."""
    times = [lv.after.value for lv in p.levels]
    if (not times or any(lv.after.kind != "time" for lv in p.levels)
            or any(b <= a for a, b in zip(times, times[1:], strict=False))):
        return [f"the escalation policy of `{state}` needs levels at strictly increasing times"]
    if not 0 <= p.repeat <= MAX_REPEAT:
        return [f"the escalation policy of `{state}` repeats {p.repeat} times, more than {MAX_REPEAT}"]
    return []


def _work_states(states: dict[str, StateRec]) -> frozenset[str]:
    assigned = [s for s in states.values() if s.owner == "@assignee" and s.terminal is None]
    beating = [s.name for s in assigned if s.heartbeat is not None]
    return frozenset(beating or (s.name for s in assigned))
