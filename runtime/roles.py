"""Who may issue each runtime command, derived from a loaded model the way the engine checks it.

In: a ``Model``. Out: ``may_issue(model)``, for every command of the table that acts as an agent,
the roles whose agents can ever issue it and have it accepted; ``commands_for(model, agent)``, the
commands one agent may use (the acting commands its role may issue, then every view). The MCP
server offers an agent only these tools, and the compiler's prompts list only these commands.

Each ``Who`` of the command table has one rule here that mirrors how the engine checks the actor
(``permissions.py``, ``tasks.py``, ``protocols.py``, ``flows.py``, ``measures.py``,
``standups.py``); the helpers the engine uses for it are shared where they are functions
(``acts_as``, ``on_hop``, ``handoff_keys``, ``handoff_acceptor``, ``runs_stage``, ``decides``). Relations
resolve by role kind and domain: ``@lead`` is the lead of the task's domain, ``@downstream_lead``
the lead of the domain it is handed to, ``@assignee``, ``@peer`` and ``@member`` members of the
task's domain (``@peer`` never the assignee, so on an assigned task only in a domain of two
members or more).

A rule also asks whether the place the command applies can be reached: the states a task can be
in at each tier, with or without an assignee (through moves, assignment, automatic transitions
and the moves of gate outcomes), which gates can pass, which handoffs can be created, which
stages can run. Guards count as satisfiable unless the tier alone makes them false (the compiler
already leaves such tiers out of a transition's), so the result is exact up to guards that no
task can satisfy. ``OPERATOR`` commands (the clock) are issued by no agent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .contract.commands import COMMANDS, Command, Who
from .contract.guards import partial_eval
from .contract.model import KINDS
from .contract.model import Handoff as HandoffSpec
from .flows import CLOSE, ROUTING, decides
from .gates import MAX_SCORE
from .model import ActorCheck, AgentInfo, GateRec, Model, TransitionRec
from .permissions import acts_as, may_close, may_create, may_submit, runs_stage
from .protocols import DEFAULT_ACCEPTOR, handoff_acceptor, handoff_keys, on_hop, on_link

__all__ = ["commands_for", "may_issue"]

Node = tuple[str, bool]
"""a state a task can be in, and whether it has an assignee there"""


@dataclass(frozen=True, slots=True)
class _Group:
    """The agents of one role in one domain: the engine tells them apart only by id."""

    rep: AgentInfo
    ids: tuple[str, ...]


def _outcomes(g: GateRec) -> frozenset[str]:
    """The outcomes a decision of the gate can have (``gates.pick_outcome``): any declared one,
    or for a banded gate those of the bands a total of allowed scores falls in first."""
    if not g.bands:
        return frozenset(g.outcomes)
    n = len(g.score_categories)
    lo = max(g.score_min if g.score_min is not None else -MAX_SCORE, -MAX_SCORE)
    hi = min(g.score_max if g.score_max is not None else MAX_SCORE, MAX_SCORE)
    if lo > hi:
        return frozenset()
    free = [(n * lo, n * hi)]  # totals no earlier band takes
    found = set()
    for low, high, outcome in g.bands:
        rest = []
        for a, b in free:
            if max(a, low) <= min(b, high):
                if outcome in g.outcomes:
                    found.add(outcome)
                rest += [x for x in ((a, low - 1), (high + 1, b)) if x[0] <= x[1]]
            else:
                rest.append((a, b))
        free = rest
    return frozenset(found)


Profile = tuple[int, bool, bool]
"""what the engine's checks see of a domain: its members (0, 1, or 2 and more: then one is not
the assignee), whether its lead role has agents, whether another domain's lead has (a
``@downstream_lead``)"""


class _Static:
    """The model seen from every place a command can apply."""

    def __init__(self, m: Model) -> None:
        self.m = m
        groups: dict[tuple[str, str | None], list[AgentInfo]] = {}
        for a in m.agents.values():
            groups.setdefault((a.role, a.domain), []).append(a)
        self.groups = [_Group(ags[0], tuple(x.id for x in ags)) for ags in groups.values()]
        self.groups_of: dict[str, list[_Group]] = {}
        for g in self.groups:
            self.groups_of.setdefault(g.rep.role, []).append(g)
        self.everyone = frozenset(m.agents_by_role)
        self.staff = frozenset(g.rep.role for g in self.groups if g.rep.kind == "staff")
        self.owned = {name: st.owner == "@assignee" for name, st in m.states.items()}
        lead = m.domain_lead_role
        self.member_roles = {d: frozenset(m.agents[a].role for a in m.domain_members[d]) for d in m.domains}
        self.lead_roles = {d: frozenset({lead[d]}) & self.everyone for d in m.domains}
        self.other_leads = {d: frozenset(lead[x] for x in m.domains if x != d) & self.everyone for d in m.domains}
        """the leads of the domains a task of ``d`` can be handed to"""
        self.classes: dict[Profile, list[str]] = {}
        for d in m.domains:
            key = (min(len(m.domain_members[d]), 2), bool(self.lead_roles[d]), bool(self.other_leads[d]))
            self.classes.setdefault(key, []).append(d)
        self._who: dict[tuple[ActorCheck, str, bool], frozenset[str]] = {}

        self.submittable = sorted(set(m.tiers) | set(m.tier_specs))
        self.creatable = [t for t in sorted(m.tiers) if m.domains and self._can_plan(t)]
        """tiers at which tasks can be created"""
        self.reach = {(t, key): self._reach(t, ds[0]) for t in self.creatable for key, ds in self.classes.items()}
        """(tier, class of the task's domain) -> where its tasks can be"""

    # -- actors -------------------------------------------------------------------------

    def who(self, check: ActorCheck, domain: str, assigned: bool) -> frozenset[str]:
        """The roles an actor check admits on a task of ``domain`` (``Permissions.permitted``),
        with an assignee (any member) or without, handed (when it is) to any other domain."""
        key = (check, domain, assigned)
        found = self._who.get(key)
        if found is None:
            out = set(check.roles & self.everyone)
            for rel in check.relations:
                if rel == "@assignee" and assigned or rel == "@member":
                    out |= self.member_roles[domain]
                elif rel == "@peer" and (not assigned or len(self.m.domain_members[domain]) >= 2):
                    out |= self.member_roles[domain]
                elif rel == "@lead":
                    out |= self.lead_roles[domain]
                elif rel == "@downstream_lead":
                    out |= self.other_leads[domain]
            found = self._who[key] = frozenset(out)
        return found

    def permits(self, check: ActorCheck, agent: AgentInfo, domain: str, assigned: bool, downstream: str) -> bool:
        """``Permissions.permitted`` for a task of ``domain`` handed to ``downstream``, its
        assignee (when ``assigned``) any member of the domain."""
        if agent.role in check.roles:
            return True
        member = agent.works and agent.domain == domain
        lead = self.m.domain_lead_role
        for rel in check.relations:
            if (rel == "@assignee" and assigned and member
                    or rel == "@peer" and member and (not assigned or len(self.m.domain_members[domain]) >= 2)
                    or rel == "@member" and member
                    or rel == "@lead" and agent.role == lead.get(domain)
                    or rel == "@downstream_lead" and agent.role == lead.get(downstream)):
                return True
        return False

    def assigners(self, check: ActorCheck, domain: str) -> frozenset[str]:
        """The roles ``assign`` admits on a task of ``domain``: the actor check passes before the
        assignment (no assignee) and again with the member it names (``Tasks.assign``)."""
        if not self.m.domain_members[domain]:
            return frozenset()
        out = set(check.roles & self.everyone)
        rel = check.relations
        if "@member" in rel or "@peer" in rel and ("@assignee" in rel or len(self.m.domain_members[domain]) >= 2):
            out |= self.member_roles[domain]  # @peer, then assigned: itself as @assignee, or another member
        if "@lead" in rel:
            out |= self.lead_roles[domain]
        if "@downstream_lead" in rel:
            out |= self.other_leads[domain]
        return frozenset(out)

    def matching(self, test: Callable[[AgentInfo], bool]) -> frozenset[str]:
        return frozenset(g.rep.role for g in self.groups if test(g.rep))

    # -- gates and stages ---------------------------------------------------------------

    def gate_passes(self, g: GateRec, domain: str, assigned: bool) -> bool:
        """A gate of a task can get a passing decision from its reviewer."""
        if not any(g.outcomes[o].effect == "pass" for o in _outcomes(g)):
            return False
        return g.reviewer is None or bool(self.who(g.reviewer, domain, assigned))

    def gates_pass(self, rec: TransitionRec, tier: int, domain: str, assigned: bool) -> bool:
        return all(self.gate_passes(self.m.gates[g], domain, assigned) for g in rec.gates_at(tier))

    @staticmethod
    def may_hold(rec: TransitionRec, tier: int, assigned: bool) -> bool:
        """The guard can hold at this tier (without an assignee, the assignee has no capacity)."""
        if rec.guard_tree is None:
            return True
        known: dict[str, object] = {"tier": tier}
        if not assigned:
            known.update({"assignee.has_capacity": False, "assignee.utilization": 0.0})
        return partial_eval(rec.guard_tree, known) is not False

    def can_move(self, rec: TransitionRec, tier: int, domain: str, assigned: bool) -> bool:
        """A move along ``rec`` passes everything but the actor check (``Permissions.check_move``):
        declared at the tier, an assignee for an ``@assignee`` state, the guard, the gates."""
        return (tier in rec.tiers and (assigned or not self.owned[rec.target]) and self.may_hold(rec, tier, assigned)
                and self.gates_pass(rec, tier, domain, assigned))

    def can_assign(self, state: str, tier: int, domain: str) -> TransitionRec | None:
        """The transition ``assign`` makes from a state without an assignee, if it can pass:
        checked as if assigned, with nothing attested."""
        rec = next((r for r in self.m.states[state].out.values() if tier in r.tiers and self.owned[r.target]), None)
        if (rec is None or self.m.states[rec.target].requires or not self.may_hold(rec, tier, True)
                or not self.gates_pass(rec, tier, domain, False)):
            return None
        return rec

    def stage_gate_ok(self, tier: int, gate: str, passing: bool) -> bool:
        """A stage gate of the tier can be decided (with a passing outcome): it has a reviewer and
        an outcome, and no stage it guards has run by the time an instruction exists."""
        flow = self.m.flows[tier]
        g = self.m.gates[gate]
        guarded = [s for s, gs in flow.stage_gates.items() if gate in gs]
        if ROUTING in flow.stages and ROUTING in guarded:
            return False
        outcomes = _outcomes(g)
        if passing:
            outcomes = frozenset(o for o in outcomes if g.outcomes[o].effect == "pass")
        reviewer = g.reviewer
        return bool(outcomes) and (reviewer is None or bool(self.matching(lambda a: decides(a, reviewer))))

    def stage_open(self, tier: int, stage: str) -> bool:
        """Every gate guarding the stage at this tier can pass (``Flows._check_stage_open``)."""
        flow = self.m.flows.get(tier)
        return flow is None or all(self.stage_gate_ok(tier, g, True) for g in flow.stage_gates.get(stage, ()))

    def _can_plan(self, tier: int) -> bool:
        flow = self.m.flows.get(tier)
        if flow is None:
            return True
        stages = {flow.planning_stage(kind) for kind in KINDS}
        return any(s is None or self.stage_open(tier, s) for s in stages)

    # -- where tasks can be -------------------------------------------------------------

    def _reach(self, tier: int, domain: str) -> set[Node]:
        """Where a task of ``domain`` (and of every domain of its class) can be at ``tier``."""
        m = self.m
        start: Node = (m.initial, False)
        seen = {start}
        todo = [start]
        while todo:
            state, assigned = todo.pop()
            nexts: list[Node] = []
            for rec in m.states[state].out.values():
                if rec.after is not None:  # the clock moves it: no actor, no assignee needed
                    if (tier in rec.tiers and self.may_hold(rec, tier, assigned)
                            and self.gates_pass(rec, tier, domain, assigned)):
                        nexts.append((rec.target, assigned))
                elif self.can_move(rec, tier, domain, assigned) and self.who(rec.actors, domain, assigned):
                    nexts.append((rec.target, assigned))
            assignment = None if assigned else self.can_assign(state, tier, domain)
            if assignment is not None and self.assigners(assignment.actors, domain):
                nexts.append((assignment.target, True))
            for g in m.gates.values():
                if tier in g.opens.get(state, ()) and (g.reviewer is None or self.who(g.reviewer, domain, assigned)):
                    nexts += [(g.outcomes[o].target or state, assigned) for o in _outcomes(g)
                              if g.outcomes[o].effect == "move"]
            for node in nexts:
                if node not in seen:
                    seen.add(node)
                    todo.append(node)
        return seen

    def places(self) -> Iterable[tuple[str, list[tuple[int, str, bool]]]]:
        """Each domain with the places (tier, state, assigned) its tasks can be in, through a
        representative domain of its class."""
        for key, domains in self.classes.items():
            nodes = sorted((t, s, a) for t in self.creatable for s, a in self.reach[t, key])
            for d in domains:
                yield d, nodes

    def working(self, nodes: list[tuple[int, str, bool]]) -> bool:
        """A task can be assigned there and not finished."""
        return any(assigned and self.m.states[s].terminal is None for _, s, assigned in nodes)

    def per_domain(self, checks: Callable[[str, list[tuple[int, str, bool]]], Iterable[tuple[ActorCheck, bool]]],
                   ) -> frozenset[str]:
        """The roles the actor checks ``checks`` finds at a class's places admit, in each domain."""
        out: set[str] = set()
        for key, domains in self.classes.items():
            nodes = [(t, s, a) for t in self.creatable for s, a in self.reach[t, key]]
            found = set(checks(domains[0], nodes))
            for d in domains:
                for check, assigned in found:
                    out |= self.who(check, d, assigned)
        return frozenset(out)

    # -- the rules of ``Who`` ---------------------------------------------------------------

    def movers(self) -> frozenset[str]:
        def checks(d: str, nodes: list[tuple[int, str, bool]]) -> Iterable[tuple[ActorCheck, bool]]:
            for tier, state, assigned in nodes:
                for rec in self.m.states[state].out.values():
                    if self.can_move(rec, tier, d, assigned):
                        yield rec.actors, assigned

        return self.per_domain(checks)

    def task_reviewers(self) -> frozenset[str]:
        anyone = False

        def checks(d: str, nodes: list[tuple[int, str, bool]]) -> Iterable[tuple[ActorCheck, bool]]:
            nonlocal anyone
            for tier, state, assigned in nodes:
                for g in self.m.gates.values():
                    if tier in g.opens.get(state, ()) and _outcomes(g):
                        if g.reviewer is None:
                            anyone = True
                        else:
                            yield g.reviewer, assigned

        found = self.per_domain(checks)
        return self.everyone if anyone else found

    def assigners_anywhere(self) -> frozenset[str]:
        out: set[str] = set()
        for key, domains in self.classes.items():
            checks = {rec.actors for t in self.creatable for s, a in self.reach[t, key]
                      if not a and (rec := self.can_assign(s, t, domains[0])) is not None}
            for d in domains:
                for check in checks:
                    out |= self.assigners(check, d)
        return frozenset(out)

    def assignees(self) -> frozenset[str]:
        return frozenset(r for d, nodes in self.places() if self.working(nodes) for r in self.member_roles[d])

    def reassigners(self) -> frozenset[str]:
        return frozenset(r for d, nodes in self.places()
                         if len(self.m.domain_members[d]) >= 2 and self.working(nodes) for r in self.lead_roles[d])

    @functools.cached_property
    def handoffs(self) -> dict[str, frozenset[str]]:
        """Senders, tickers, acceptors and rejectors of the handoffs tasks can be handed over by."""
        m = self.m
        first: dict[tuple[str, str], HandoffSpec] = {}
        for declared in m.handoffs:
            if declared.to_role is None:
                first.setdefault((declared.from_domain, declared.to_domain), declared)
        out: dict[str, set[str]] = {"send": set(), "tick": set(), "accept": set(), "reject": set()}
        for d1, nodes in self.places():
            if not self.lead_roles[d1]:
                continue
            where: dict[str, list[tuple[int, bool]]] = {}
            for t, s, a in nodes:
                where.setdefault(s, []).append((t, a))
            for d2 in m.domains:
                spec = None if d1 == d2 else next((first[k] for k in handoff_keys(d1, d2) if k in first), None)
                if spec is None or spec.on_accept is None:
                    continue
                source = spec.on_accept[0]
                at = where.get(source)
                if not at:
                    continue
                out["send"] |= self.lead_roles[d1]
                if spec.checklist:
                    out["tick"] |= self.lead_roles[d1]
                    if any(a for _, a in at):
                        out["tick"] |= self.member_roles[d1]
                role = handoff_acceptor(m, spec.accepted_by or DEFAULT_ACCEPTOR, d1, d2)
                self._deciders(spec, str(role), at, d1, d2, out)
        self._role_handoffs(out)
        return {k: frozenset(v) for k, v in out.items()}

    def _role_handoffs(self, out: dict[str, set[str]]) -> None:
        """Handoffs between roles (``protocols.role_handoff``): sent by the handing role as the
        task's assignee or its domain's lead, ticked by that lead or the assignee, accepted or
        rejected by the receiving role when it may make the move."""
        m = self.m
        for spec in m.handoffs:
            if spec.to_role is None or spec.from_role is None or spec.on_accept is None:
                continue
            source = spec.on_accept[0]
            for d1, nodes in self.places():
                at = [(t, a) for t, s, a in nodes if s == source]
                assigned = any(a for _, a in at)
                if not (spec.from_role in self.lead_roles[d1] and at
                        or spec.from_role in self.member_roles[d1] and assigned):
                    continue
                out["send"].add(spec.from_role)
                if spec.checklist:
                    out["tick"] |= self.lead_roles[d1]
                    if assigned:
                        out["tick"] |= self.member_roles[d1]
                self._deciders(spec, spec.to_role, at, d1, d1, out)

    def _deciders(self, spec: HandoffSpec, role: str, at: list[tuple[int, bool]], d1: str, d2: str,
                  out: dict[str, set[str]]) -> None:
        """Add ``role`` as acceptor (and rejector) of a handoff of a task of ``d1`` to ``d2`` when an
        agent of it may make the ``on accept`` (``on reject``) move from where the task can be."""
        assert spec.on_accept is not None
        source = spec.on_accept[0]
        acceptors = self.groups_of.get(role, [])
        ends = [("accept", spec.on_accept[1])] + ([("reject", spec.on_reject[1])] if spec.on_reject else [])
        for verb, target in ends:
            rec = self.m.states[source].out.get(target)
            if rec is not None and any(
                    self.can_move(rec, tier, d1, a) and any(self.permits(rec.actors, g.rep, d1, a, d2)
                                                           for g in acceptors)
                    for tier, a in at):
                out[verb].add(role)

    @functools.cached_property
    def delegation(self) -> tuple[frozenset[str], frozenset[str]]:
        """Who can delegate, and who can receive a delegation (and so acknowledge it)."""
        chain = self.m.delegation.chain if self.m.delegation else ()
        senders: set[str] = set()
        recipients: set[str] = set()
        for up, down in zip(chain, chain[1:], strict=False):
            by_domain: dict[str | None, frozenset[str]] = {}  # a sender matters by its domain only
            for g in self.groups:
                if not on_link(g.rep, up, None):
                    continue
                found = by_domain.get(g.rep.domain)
                if found is None:
                    found = by_domain[g.rep.domain] = self.matching(functools.partial(on_hop, g.rep, up=up, down=down))
                if found:
                    senders.add(g.rep.role)
                    recipients |= found
        return frozenset(senders), frozenset(recipients)

    @functools.cached_property
    def consultations(self) -> tuple[frozenset[str], frozenset[str]]:
        """Who can ask a consultation (someone is there to answer), and who can answer one."""
        m = self.m
        askers: set[str] = set()
        answerers: set[str] = set()
        tasks = bool(self.creatable)
        for spec in m.consultations.values():
            anywhere: set[str] = set()
            if tasks:  # a question about a task goes to the relation in the task's domain
                for d in m.domains:
                    anywhere.update(m.agents_for(spec.to, d))
            for g in self.groups:
                if not acts_as(g.rep, spec.from_):
                    continue
                if spec.to in m.agents:
                    pool = {spec.to}
                elif tasks and g.rep.domain in m.domains:
                    pool = anywhere
                else:
                    pool = anywhere | set(m.agents_for(spec.to, g.rep.domain))
                asking = [x for x in g.ids if len(pool) > 1 or (pool and x not in pool)]
                if asking:
                    askers.add(g.rep.role)
                    heard = pool if len(asking) >= 2 else pool - {asking[0]}
                    answerers |= {m.agents[x].role for x in heard}
        return frozenset(askers), frozenset(answerers)

    def broadcasters(self) -> frozenset[str]:
        spec = self.m.broadcast
        if not (spec.kinds and spec.priorities):
            return frozenset()
        anc = self.m.role_ancestors
        out: set[str] = set()
        for ch in self.m.channels.values():
            # its members, and the ancestors of every member (of no member: everyone)
            above = set(self.everyone)
            for x in ch.members:
                above &= set(anc.get(x, ()))
            out |= set(ch.members) | above
        return frozenset(out) & self.everyone

    def stage_actors(self) -> frozenset[str]:
        out: set[str] = set()
        for tier, flow in self.m.flows.items():
            for stage in flow.stages:
                if stage == ROUTING or not self.stage_open(tier, stage):
                    continue  # routing runs when the instruction is submitted
                out |= self.matching(functools.partial(runs_stage, actor=flow.actors.get(stage)))
        return frozenset(out)

    def stage_reviewers(self) -> frozenset[str]:
        out: set[str] = set()
        for tier, flow in self.m.flows.items():
            for gate in dict.fromkeys(g for gs in flow.stage_gates.values() for g in gs):
                if self.stage_gate_ok(tier, gate, False):
                    reviewer = self.m.gates[gate].reviewer
                    out |= self.everyone if reviewer is None else self.matching(functools.partial(decides, reviewer=reviewer))
        return frozenset(out)

    def clarifiers(self) -> frozenset[str]:
        """Members of a task's domain (before assignment; after it, the assignee)."""
        return frozenset().union(*self.member_roles.values()) if self.creatable else frozenset()

    def defect_recorders(self) -> frozenset[str]:
        """The task's domain lead, or a reviewer of any gate (``Measures._reviews``: its roles,
        ``@peer`` on a task before assignment, ``@lead``)."""
        if not self.creatable:
            return frozenset()
        out = set().union(*self.lead_roles.values())
        for g in self.m.gates.values():
            if g.reviewer is not None:
                out |= g.reviewer.roles & self.everyone
                if "@peer" in g.reviewer.relations:
                    out |= self.clarifiers()
        return frozenset(out)

    def closable(self) -> bool:
        """Some tier's instructions can close: its close gates can pass (one without tasks)."""
        return any(self.stage_open(t, CLOSE) for t in self.submittable)

    def submitters(self) -> frozenset[str]:
        return self.matching(functools.partial(may_submit, self.m))

    def task_creators(self) -> frozenset[str]:
        """Who may create a task of a kind some tier plans (``Tasks.create_task``) in some domain."""
        kinds = {kind for t in self.creatable for kind in KINDS
                 if (flow := self.m.flows.get(t)) is None or (s := flow.planning_stage(kind)) is None
                 or self.stage_open(t, s)}
        return self.matching(lambda a: any(may_create(self.m, a, k, None) for k in kinds))

    def closers(self) -> frozenset[str]:
        """Who may close an instruction of a tier whose close gates can pass."""
        tiers = [t for t in self.submittable if self.stage_open(t, CLOSE)]
        return self.matching(lambda a: any(may_close(self.m, a, t) for t in tiers))


_RULES: dict[Who, Callable[[_Static], frozenset[str]]] = {
    Who.ANYONE: lambda s: s.everyone,
    Who.TRANSITION_ACTOR: _Static.movers,
    Who.ASSIGNER: _Static.assigners_anywhere,
    Who.ASSIGNEE: _Static.assignees,
    Who.MEMBER: _Static.clarifiers,
    Who.TASK_GATE_REVIEWER: _Static.task_reviewers,
    Who.DOMAIN_LEAD: _Static.reassigners,
    Who.HANDOFF_SENDER: lambda s: s.handoffs["send"],
    Who.HANDOFF_TICKER: lambda s: s.handoffs["tick"],
    Who.HANDOFF_ACCEPTOR: lambda s: s.handoffs["accept"],
    Who.HANDOFF_REJECTOR: lambda s: s.handoffs["reject"],
    Who.DELEGATOR: lambda s: s.delegation[0],
    Who.DELEGATE: lambda s: s.delegation[1],
    Who.CONSULT_ASKER: lambda s: s.consultations[0],
    Who.CONSULT_ANSWERER: lambda s: s.consultations[1],
    Who.CHANNEL_SENDER: _Static.broadcasters,
    Who.STAGE_ACTOR: _Static.stage_actors,
    Who.STAGE_GATE_REVIEWER: _Static.stage_reviewers,
    Who.DEFECT_RECORDER: _Static.defect_recorders,
    Who.STAFF: lambda s: s.staff,
    Who.SUBMITTER: _Static.submitters,
    Who.TASK_CREATOR: _Static.task_creators,
    Who.CLOSER: _Static.closers,
    Who.OPERATOR: lambda s: frozenset(),
}
"""each ``Who`` of the table: the roles it admits in a model"""

_APPLIES: dict[str, Callable[[_Static], bool]] = {
    "submit": lambda s: bool(s.submittable),
    "task_create": lambda s: bool(s.creatable),
    "standup_schedule": lambda s: bool(s.m.standups),
    "instruction_close": _Static.closable,
}
"""what a command needs of the model beyond its actor (a tier for instructions, a tier where
tasks can be created, a standup to schedule, a tier whose instructions can close)"""

_CACHE: dict[str, dict[str, frozenset[str]]] = {}
_CACHED = 8


def may_issue(model: Model) -> dict[str, frozenset[str]]:
    """For every command of ``COMMANDS`` that acts as an agent, the ids of the roles that can ever
    issue it and have it accepted by the engine; a role not listed is always refused."""
    found = _CACHE.get(model.digest)
    if found is None:
        static = _Static(model)
        memo: dict[Who, frozenset[str]] = {}
        found = {}
        for c in COMMANDS:
            if not c.acts or c.view:
                continue
            applies = _APPLIES.get(c.name)
            if applies is not None and not applies(static):
                found[c.name] = frozenset()
                continue
            if c.who not in memo:
                memo[c.who] = _RULES[c.who](static)
            found[c.name] = memo[c.who]
        if len(_CACHE) >= _CACHED:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[model.digest] = found
    return dict(found)


def commands_for(model: Model, agent: str) -> list[Command]:
    """The commands an agent may use, in table order: the acting commands its role may issue,
    and every view. ``KeyError`` for an agent the model does not declare."""
    info = model.agents.get(agent)
    if info is None:
        raise KeyError(f"unknown agent `{agent}`")
    allowed = may_issue(model)
    return [c for c in COMMANDS if c.view or (c.acts and info.role in allowed[c.name])]
