"""Commands on instructions and tasks: submit, create, move, assign, heartbeat, gate.

Each command validates against the state and records its events through
``Context.commit`` (``move`` has its own loop, being the most frequent); a
refused command raises ``Refused`` and records nothing. Ids an agent or a
person chooses (``submit --id``, ``task create --id``) follow the one rule for
names, since they become file names; default ids are chosen inside the retry
loop, so two writers never race for one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .assignment import Scored
from .candidates import score_task
from .context import HUMAN, MAX_ATTEMPTS, Context, contention, names, q
from .contract.events import Draft, Event
from .contract.model import COMPLEXITIES, KINDS
from .contract.names import name_problem
from .errors import Conflict, Refused
from .firing import Firing, moved_data
from .flows import Flows
from .gates import check_thresholds, pick_outcome
from .model import AgentInfo, TransitionRec, default_priority
from .permissions import Permissions, may_create, may_submit, rule_text
from .protocols import Protocols
from .records import Message, Task
from .state import OrgState

MAX_TEXT = 100_000
"""the longest text (an instruction, a title, a description, a note) a command takes, in characters"""
MAX_TIER = 1_000


def check_new_id(what: str, ident: str) -> None:
    """An id someone chose for a new entity must be usable as a file name."""
    problem = name_problem(ident)
    if problem is not None:
        raise Refused("RUN013", f"{what} id {q(ident[:120])} cannot be used: {problem}")


def check_text(what: str, text: object, required: bool = True) -> None:
    if not isinstance(text, str):
        raise Refused("RUN013", f"{what} is a text")
    if required and not text.strip():
        raise Refused("RUN013", f"{what} needs a text")
    if len(text) > MAX_TEXT:
        raise Refused("RUN013", f"{what} has {len(text)} characters; at most {MAX_TEXT} are allowed")


def next_task_id(state: OrgState, kind: str, parent: str | None) -> str:
    """``ST{n}`` for strategic tasks; ``TT{st}.{n}`` for tactical ones, where ``st`` is
    the number of the parent strategic task (0 without one) and ``n`` counts its children."""
    tasks, counts = state.tasks, state.kind_counts
    if kind == "strategic":
        n = 1 + sum(c for (k, _), c in counts.items() if k == "strategic")
        while f"ST{n}" in tasks:
            n += 1
        return f"ST{n}"
    m = re.fullmatch(r"ST(\d+)", parent or "")
    st = int(m.group(1)) if m else 0
    n = 1 + counts.get(("tactical", parent or None), 0)
    while f"TT{st}.{n}" in tasks:
        n += 1
    return f"TT{st}.{n}"


class Tasks:
    """Instructions and tasks: their commands and queries."""

    def __init__(self, ctx: Context, perms: Permissions, flows: Flows, firing: Firing, protocols: Protocols) -> None:
        self.ctx = ctx
        self.perms = perms
        self.flows = flows
        self.firing = firing
        self.protocols = protocols

    # -- instructions and tasks ------------------------------------------------------------

    def submit_instruction(self, as_: str, text: str, tier: int, id: str | None = None) -> str:
        """Record an instruction at a tier; returns its id (``I1``, ``I2``, ... unless given)."""
        ctx, out = self.ctx, list[str]()

        def build(now: float) -> list[Draft]:
            if as_ != HUMAN and not may_submit(ctx.model, ctx.agent(as_)):
                raise Refused("RUN004", f"{q(as_)} may not submit instructions: permitted are "
                              f"{rule_text(ctx.model, ctx.model.instructions.submit)}")
            tiers = set(ctx.model.tier_specs) | set(ctx.model.tiers)
            if isinstance(tier, bool) or not isinstance(tier, int) or tier not in tiers:
                raise Refused("RUN013", f"tier {str(tier)[:20]} is not declared; tiers are {sorted(tiers)}")
            check_text("an instruction", text)
            if id is not None:
                check_new_id("an instruction", id)
            iid = id or _next(ctx.state.instructions, "I")
            if iid in ctx.state.instructions:
                raise Refused("RUN014", f"instruction {q(iid)} exists already")
            out[:] = [iid]
            return [("instruction_submitted", now, as_, {"instruction": iid, "text": text, "tier": tier, "by": as_})]

        ctx.commit(build)
        return out[0]

    def create_task(
        self,
        as_: str,
        instruction: str,
        kind: str,
        domain: str,
        title: str,
        *,
        required_skills: Sequence[str] = (),
        nice_skills: Sequence[str] = (),
        complexity: str = "moderate",
        priority: str | None = None,
        estimate_hours: float | None = None,
        estimate_tokens: float | None = None,
        dependencies: Sequence[str] = (),
        parent: str | None = None,
        handoff_to: str | None = None,
        id: str | None = None,
        description: str = "",
        acceptance_criteria: Sequence[str] = (),
    ) -> str:
        """Create a task of an instruction (at the instruction's tier) in its initial state;
        returns its id (``ST{n}``, ``TT{st}.{n}`` unless given). ``description`` says what the
        work is (the title is its name) and ``acceptance_criteria`` when it is done."""
        ctx, out = self.ctx, list[str]()
        m = ctx.model
        chosen_priority = priority if priority is not None else default_priority(m.priorities)

        def build(now: float) -> list[Draft]:
            agent = ctx.agent(as_)
            ins = ctx.instruction(instruction)
            if ins.tier not in m.tiers:
                raise Refused("RUN013", f"instruction {q(instruction)} is tier {ins.tier}, which has no task lifecycle")
            if kind not in KINDS:
                raise Refused("RUN013", f"task kind {q(kind)} is not one of {names(KINDS)}")
            self.flows.check_planning(ins, kind)
            if ctx.state.waiting:
                self.perms.check_not_waiting(as_, instruction)
            if domain not in m.domains:
                raise Refused("RUN002", f"unknown domain {q(domain)}; domains are {names(m.domains)}")
            if not may_create(m, agent, kind, domain):
                raise Refused("RUN004", f"{q(as_)} may not create {kind} tasks in {q(domain)}: permitted are "
                              f"{rule_text(m, m.instructions.create.get(kind, ()), domain)}")
            if handoff_to is not None and (handoff_to not in m.domains or handoff_to == domain):
                raise Refused("RUN013", f"handoff domain {q(handoff_to)} must be another declared domain")
            if complexity not in COMPLEXITIES:
                raise Refused("RUN013", f"complexity {q(complexity)} is not one of {names(COMPLEXITIES)}")
            if chosen_priority not in m.priorities:
                raise Refused("RUN013", f"priority {q(chosen_priority)} is not one of {names(m.priorities)}")
            unknown = [s for s in (*required_skills, *nice_skills) if s not in m.skills]
            if unknown:
                raise Refused("RUN013", f"unknown skill(s) {names(unknown)}")
            for est in (estimate_hours, estimate_tokens):
                if est is not None and not 0 < est < 1e12:
                    raise Refused("RUN013", "an estimate must be positive and finite")
            check_text("a task title", title)
            check_text("a description", description, required=False)
            for c in acceptance_criteria:
                check_text("an acceptance criterion", c)
            missing = [d for d in (*dependencies, *([parent] if parent else [])) if d not in ctx.state.tasks]
            if missing:
                raise Refused("RUN002", f"unknown task(s) {names(missing)}")
            if id is not None:
                check_new_id("a task", id)
            tid = id or next_task_id(ctx.state, kind, parent)
            if tid in ctx.state.tasks:
                raise Refused("RUN014", f"task {q(tid)} exists already")
            out[:] = [tid]
            data = {
                "task": tid, "instruction": instruction, "kind": kind, "domain": domain, "title": title,
                "tier": ins.tier, "required_skills": list(required_skills), "nice_skills": list(nice_skills),
                "complexity": complexity, "priority": chosen_priority, "estimate_hours": estimate_hours,
                "estimate_tokens": estimate_tokens, "dependencies": list(dependencies), "parent": parent,
                "handoff_to": handoff_to, "state": m.initial,
            }
            if description.strip():
                data["description"] = description.strip()
            if acceptance_criteria:
                data["acceptance_criteria"] = [c.strip() for c in acceptance_criteria]
            return [("task_created", now, as_, data)]

        ctx.commit(build)
        return out[0]

    def move(self, as_: str, task: str, target: str, attest: Sequence[str] = ()) -> list[Event]:
        """Move a task to ``target`` along a declared transition."""
        # The most frequent command: `Context.commit`'s loop, specialised to its one event.
        ctx, data = self.ctx, self.move_data
        attempts = MAX_ATTEMPTS
        while attempts:
            attempts -= 1
            state, store = ctx.state, ctx.store
            if store.last_seq() != state.last_seq:
                ctx.refresh()
                state = ctx.state
            now = ctx.clock.now()
            base = state.last_seq
            events = [Event(base + 1, "task_moved", now, as_, data(now, as_, task, target, attest))]
            try:
                ctx.append(events, base)
            except Conflict:
                continue
            state.apply(events[0])
            return events
        raise contention()

    def move_data(self, now: float, as_: str, task: str, target: str, attest: Sequence[str]) -> dict[str, Any]:
        """The data of a move's event after every check of the move (``Refused`` when one fails)."""
        ctx = self.ctx
        state = ctx.state
        agent = ctx.model.agents.get(as_) or ctx.agent(as_)
        t = state.tasks.get(task) or ctx.task(task)
        if state.waiting:
            self.perms.check_not_waiting(as_, t.id)
        if t.handoff is not None:
            h = state.handoffs[t.handoff]
            if target in (h.on_accept, h.on_reject):
                side = "accept" if target == h.on_accept else "reject"
                raise Refused(
                    "RUN025",
                    f"task {q(t.id)} has the open handoff {q(h.id)}, whose `on {side}` is "
                    f"{q(t.state + ' -> ' + target)}; use `orchdsl run handoff accept|reject`",
                    task=t.id, handoff=h.id,
                )
        elif t.handoff_to is not None:
            spec = self.protocols.handoff_spec(t.domain, t.handoff_to)
            move = (t.state, target)
            if spec is not None and move in (spec.on_accept, spec.on_reject):
                raise Refused(
                    "RUN025",
                    f"task {q(t.id)} is handed to {q(t.handoff_to)}: {q(t.state + ' -> ' + target)} is the "
                    f"declared handoff's to make; its domain's lead creates it with `orchdsl run handoff create`",
                    task=t.id,
                )
        self.perms.check_move(agent, t, target, attest, now)
        return moved_data(t, target, attest)

    def assign(self, as_: str, task: str, agent: str | None = None) -> list[Event]:
        """Assign a task and move it to the target of its assignment transition.

        With ``agent``, that member of the task's domain (refused when not a
        member or over the IC capacity limit). Without, the best eligible
        candidate by the model's assignment scoring; when nobody qualifies the
        task is escalated to the declared fallback (an ``assignment_escalated``
        event, the task stays where it is)."""
        ctx, perms = self.ctx, self.perms

        def build(now: float) -> list[Draft]:
            actor = ctx.agent(as_)
            t = ctx.task(task)
            rec = self.assignment_transition(t)
            perms.check_actor(actor, t, rec)
            scored = score_task(ctx, t)
            ledger = ctx.state.ledger
            if agent is not None:
                info = ctx.agent(agent)
                if info.domain != t.domain or not info.works:
                    raise Refused(
                        "RUN010",
                        f"{q(agent)} is not a member of domain {q(t.domain)}; members are "
                        f"{names(ctx.model.domain_members.get(t.domain, ()))}",
                    )
                if ledger.over_ic_limit(agent):
                    raise Refused(
                        "RUN009",
                        f"{q(agent)} is at {ledger.utilisation(agent):.0%} of capacity, above the IC limit of "
                        f"{ledger.ic_limit:.0%}; it takes no new work",
                    )
                chosen, mode = agent, "explicit"
            else:
                best = next((s for s in scored if s.eligible), None)
                if best is None:
                    return self._fallback(actor, t, scored, now)
                chosen, mode = best.agent, "automatic"
            # The assignment transition is checked as if the assignee were set.
            saved = t.assignee
            t.assignee = chosen
            try:
                rec = perms.check_move(actor, t, rec.target, (), now)
            finally:
                t.assignee = saved
            mine = next((s for s in scored if s.agent == chosen), None)
            data = {
                "task": t.id, "agent": chosen, "mode": mode, "score": mine.score if mine else None,
                "factors": mine.factors if mine else None, "candidates": [scored_data(s) for s in scored],
            }
            return [("task_assigned", now, as_, data), ("task_moved", now, as_, moved_data(t, rec.target, ()))]

        return ctx.commit(build)

    def heartbeat(
        self,
        as_: str,
        task: str,
        tokens: float = 0,
        note: str | None = None,
        remaining_hours: float | None = None,
        actual_hours: float | None = None,
    ) -> list[Event]:
        """The assignee reports progress: tokens spent since the last report, an optional
        note, the remaining estimate and the hours worked so far. Token thresholds and
        token automatic transitions of the current state are checked here."""
        ctx = self.ctx

        def build(now: float) -> list[Draft]:
            agent = ctx.agent(as_)
            t = ctx.task(task)
            if ctx.is_terminal(t):
                raise Refused("RUN013", f"task {q(t.id)} is finished ({q(t.state)})")
            if t.assignee != agent.id:
                raise Refused(
                    "RUN004",
                    f"only the assignee ({q(t.assignee) if t.assignee else 'nobody is assigned'}) "
                    f"reports heartbeats on {q(t.id)}",
                )
            for amount in (tokens, remaining_hours, actual_hours):
                if amount is not None and not 0 <= amount < 1e12:
                    raise Refused("RUN013", "tokens and hours must be finite and not negative")
            if note is not None:
                check_text("a note", note, required=False)
            data: dict[str, Any] = {"task": t.id, "tokens": tokens, "note": note}
            if remaining_hours is not None:
                data["remaining_hours"] = remaining_hours
            if actual_hours is not None:
                data["actual_hours"] = actual_hours
            drafts: list[Draft] = [("heartbeat", now, as_, data)]
            drafts += self.firing.token_checks(t, t.tokens_in_state + tokens, now)
            return drafts

        return ctx.commit(build)

    def decide_gate(
        self,
        as_: str,
        task: str,
        gate: str,
        outcome: str | None = None,
        scores: Mapping[str, int] | None = None,
        measures: Mapping[str, float] | None = None,
    ) -> list[Event]:
        """Record a gate decision for the task's current state visit.

        ``scores`` (per score category) pick the outcome by the gate's bands;
        ``measures`` (per criterion) are checked against the gate's thresholds
        for the task's tier when the outcome passes. An outcome ``-> STATE``
        moves the task."""
        ctx, perms = self.ctx, self.perms

        def build(now: float) -> list[Draft]:
            agent = ctx.agent(as_)
            t = ctx.task(task)
            g = ctx.model.gates.get(gate)
            if g is None:
                raise Refused("RUN002", f"unknown gate {q(gate)}; gates are {names(ctx.model.gates)}")
            tiers = g.opens.get(t.state, frozenset())
            if t.tier not in tiers:
                where = ", ".join(f"{q(s)} (tiers {sorted(ts)})" for s, ts in sorted(g.opens.items()))
                raise Refused(
                    "RUN011",
                    f"gate {q(gate)} guards no transition out of {q(t.state)} at tier {t.tier}; "
                    f"it is decided in {where or 'no task state'}",
                )
            if g.reviewer is not None and not perms.permitted(g.reviewer, agent, t):
                raise Refused(
                    "RUN004",
                    f"{q(agent.id)} may not decide gate {q(gate)} on {q(t.id)}: the reviewer is "
                    f"{perms.describe(g.reviewer, t)}",
                )
            chosen, total = pick_outcome(g, outcome, scores)
            check_thresholds(g, chosen, t.tier, measures)
            oc = g.outcomes[chosen]
            data: dict[str, Any] = {
                "task": t.id, "gate": gate, "outcome": chosen, "effect": oc.effect, "state": t.state,
                "visit": t.visit, "scores": dict(scores) if scores else None, "total": total,
                "measures": dict(measures) if measures else None,
            }
            drafts: list[Draft] = [("gate_decided", now, as_, data)]
            if oc.effect == "move" and oc.target is not None and oc.target != t.state:
                moved = moved_data(t, oc.target, ())
                moved["gate"] = gate
                drafts.append(("task_moved", now, as_, moved))
            return drafts

        return ctx.commit(build)

    # -- assignment ---------------------------------------------------------------------

    def assignment_transition(self, t: Task) -> TransitionRec:
        """The transition assignment makes: out of the task's state into a state owned by ``@assignee``."""
        if t.assignee is not None:
            raise Refused(
                "RUN013", f"task {q(t.id)} is assigned to {q(t.assignee)} already; use `reassign`", task=t.id,
            )
        st = self.ctx.model.states[t.state]
        owned = self.perms.owned_by_assignee
        for rec in st.out.values():
            if t.tier in rec.tiers and owned[rec.target]:
                return rec
        options = [r.target for r in st.out.values() if t.tier in r.tiers]
        raise Refused(
            "RUN003",
            f"task {q(t.id)} cannot be assigned in {q(t.state)} at tier {t.tier}: no transition leads to a "
            f"state owned by @assignee; from {q(t.state)} it can go to {names(options)}",
            task=t.id,
        )

    def _fallback(self, actor: AgentInfo, t: Task, scored: list[Scored], now: float) -> list[Draft]:
        m = self.ctx.model
        fb = m.fallback
        if fb is None:
            raise Refused(
                "RUN015", f"no member of {q(t.domain)} qualifies for {q(t.id)} and the model declares no fallback",
                task=t.id,
            )
        to = self.perms.agents_of(fb, t)
        filt = m.assignment.filter_text if m.assignment else None
        reason = (
            f"no member of {q(t.domain)} qualifies for {q(t.id)}"
            + (f" (filter {q(filt)})" if filt else "")
            + f"; escalated to {fb}"
        )
        data = {"task": t.id, "to": to, "to_actor": fb, "reason": reason,
                "candidates": [scored_data(s) for s in scored]}
        return [("assignment_escalated", now, actor.id, data)]

    # -- queries ------------------------------------------------------------------------

    def task(self, task_id: str) -> dict[str, Any]:
        """A task as data (a copy)."""
        self.ctx.refresh()
        return self.ctx.task(task_id).dump()

    def inbox(self, agent: str) -> list[Message]:
        self.ctx.refresh()
        return list(self.ctx.state.inboxes.get(agent, ()))

    def status(self) -> dict[str, Any]:
        """Counts of tasks per state, open escalations, utilisation per member."""
        ctx = self.ctx
        ctx.refresh()
        state = ctx.state
        by_state: dict[str, list[str]] = {}
        for t in state.tasks.values():
            by_state.setdefault(t.state, []).append(t.id)
        ledger = state.ledger
        return {
            "now": ctx.clock.now(),
            "last_seq": state.last_seq,
            "instructions": len(state.instructions),
            "tasks": {s: sorted(ids) for s, ids in sorted(by_state.items())},
            "escalations": len(state.escalations),
            "utilisation": {a: ledger.utilisation(a) for a in sorted(ctx.model.candidates)},
        }


def _next(existing: Mapping[str, object], prefix: str) -> str:
    n = len(existing) + 1
    while f"{prefix}{n}" in existing:
        n += 1
    return f"{prefix}{n}"


def scored_data(s: Scored) -> dict[str, Any]:
    return {"agent": s.agent, "score": s.score, "factors": s.factors, "eligible": s.eligible,
            "rejected_by": s.rejected_by}
