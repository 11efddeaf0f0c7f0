"""Reassignment, metric inputs, the metrics query, capacity escalations and standups.

``metrics()`` computes every measure of the model's ``metrics`` from the
state (definitions in docs/runtime.md); ``reassign``, ``record_clarification``
and ``record_defect`` record the facts some of them count. Standups are
reports built from the state, one ``standup_reported`` event per report:
on demand (``generate_standups``) and on each standup's cadence, counted from
the organisation's first event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import Refused
from .parts import HUMAN, EngineParts
from .records import resolve

if TYPE_CHECKING:
    from .contract.events import Draft, Event
    from .model import AgentInfo
    from .records import Task

WEEK = 7 * 86_400.0
EXECUTION_STATE = "IN_PROGRESS"
BLOCKED_STATES = ("BLOCKED", "ESCALATED")
ACCURACY = 0.10
"""capacity_accuracy: actual hours within this share of the estimate"""

OPS = {
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
    "==": lambda v, t: v == t,
}


def _q(name: object) -> str:
    return f"`{name}`"


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 12) if whole else None


class MeasureCommands(EngineParts):
    """Reassignment, clarifications, defects, metrics and standups."""

    # -- reassignment ---------------------------------------------------------------

    def reassign(self, as_: str, task: str, to: str | None = None) -> list[Event]:
        """The domain lead moves an assigned task to another member (the best
        eligible candidate other than the current assignee when ``to`` is
        omitted); the capacity commitment moves with it."""

        def build(now: float) -> list[Draft]:
            agent = self._agent(as_)
            t = self._task(task)
            if agent.role != self.model.domain_lead_role.get(t.domain):
                raise Refused("RUN004", f"only the lead of {_q(t.domain)} reassigns its tasks", task=t.id)
            if self.model.states[t.state].terminal is not None:
                raise Refused("RUN013", f"task {_q(t.id)} is finished ({_q(t.state)})", task=t.id)
            current = t.assignee
            if current is None:
                raise Refused("RUN018", f"task {_q(t.id)} has no assignee; assign it instead", task=t.id)
            scored = [s for s in self._score(t, now) if s.agent != current]
            if to is not None:
                info = self._agent(to)
                if info.domain != t.domain or info.kind != "member":
                    raise Refused("RUN010", f"{_q(to)} is not a member of domain {_q(t.domain)}", task=t.id)
                if to == current:
                    raise Refused("RUN013", f"{_q(to)} is the assignee of {_q(t.id)} already", task=t.id)
                ledger = self.state.ledger
                if ledger.over_ic_limit(to):
                    raise Refused(
                        "RUN009",
                        f"{_q(to)} is at {ledger.utilisation(to):.0%} of capacity, above the IC limit of "
                        f"{(ledger.ic_limit or 0):.0%}; it takes no new work",
                        task=t.id,
                    )
                chosen, mode = to, "explicit"
            else:
                best = next((s for s in scored if s.eligible), None)
                if best is None:
                    raise Refused(
                        "RUN015", f"no other member of {_q(t.domain)} qualifies for {_q(t.id)}", task=t.id
                    )
                chosen, mode = best.agent, "automatic"
            mine = next((s for s in scored if s.agent == chosen), None)
            data = {
                "task": t.id, "from": current, "to": chosen, "mode": mode,
                "score": mine.score if mine else None, "factors": mine.factors if mine else None,
            }
            return [("task_reassigned", now, as_, data)]

        return self._commit(build)

    # -- metric inputs ----------------------------------------------------------------

    def record_clarification(self, as_: str, task: str, note: str | None = None) -> list[Event]:
        """The assignee (or, before assignment, a member of the task's domain)
        asked for a clarification of the task; the domain lead is told."""

        def build(now: float) -> list[Draft]:
            agent = self._agent(as_)
            t = self._task(task)
            if t.assignee is not None and agent.id != t.assignee:
                raise Refused("RUN004", f"only the assignee {_q(t.assignee)} records clarifications on {_q(t.id)}")
            if t.assignee is None and (agent.kind != "member" or agent.domain != t.domain):
                raise Refused("RUN004", f"{_q(as_)} is not a member of {_q(t.domain)}")
            to = list(self.model.agents_for("@lead", t.domain))
            return [("clarification_recorded", now, as_, {"task": t.id, "note": note, "to": to})]

        return self._commit(build)

    def record_defect(self, as_: str, task: str, note: str | None = None) -> list[Event]:
        """The domain lead or a reviewer of a gate records a defect found in a task's work."""

        def build(now: float) -> list[Draft]:
            agent = self._agent(as_)
            t = self._task(task)
            lead = agent.role == self.model.domain_lead_role.get(t.domain)
            reviewer = any(
                g.reviewer is not None and self._reviews(g.reviewer.roles, g.reviewer.relations, agent, t)
                for g in self.model.gates.values()
            )
            if not (lead or reviewer):
                raise Refused(
                    "RUN004", f"{_q(as_)} may not record defects on {_q(t.id)}: the domain lead or a gate reviewer does"
                )
            return [("defect_recorded", now, as_, {"task": t.id, "note": note})]

        return self._commit(build)

    def _reviews(self, roles: frozenset[str], relations: frozenset[str], agent: AgentInfo, t: Task) -> bool:
        if agent.role in roles:
            return True
        if "@peer" in relations and agent.kind == "member" and agent.domain == t.domain and agent.id != t.assignee:
            return True
        return "@lead" in relations and agent.role == self.model.domain_lead_role.get(t.domain)

    # -- metrics --------------------------------------------------------------------

    def actual_hours(self, t: Task) -> float | None:
        """Hours worked on a task: the last reported with a heartbeat, else the
        time from its first entry into IN_PROGRESS to its last exit from it."""
        if t.actual_hours is not None:
            return t.actual_hours
        start = end = None
        for _seq, at, source, target in t.history:
            if target == EXECUTION_STATE and start is None:
                start = at
            if source == EXECUTION_STATE:
                end = at
        if start is None or end is None:
            return None
        return (end - start) / 3600.0

    def measure(self, name: str, argument: str | None = None) -> tuple[float | None, int]:
        """One measure from the state: (value or None without data, sample size)."""
        tasks = list(self.state.tasks.values())
        states = self.model.states
        done = [t for t in tasks if states[t.state].terminal == "success"]
        if name == "clarification_free":
            tactical = [t for t in done if t.kind == "tactical"]
            return _ratio(sum(1 for t in tactical if t.clarifications == 0), len(tactical)), len(tactical)
        if name == "reassignment_rate":
            n = self.state.assignment_count
            return _ratio(self.state.reassignment_count, n), n
        if name == "sla_met":
            met = total = 0
            st = states.get(argument or "")
            if st is not None:
                for t in tasks:
                    target = st.target_for(t.tier)
                    limit = next((a for dim, a in resolve(target, st, t) if dim == "time"), None) if target else None
                    if limit is None:
                        continue
                    entered = t.created_at
                    for _seq, at, source, _target in t.history:
                        if source == st.name:
                            total += 1
                            met += at - entered <= limit
                        entered = at
            return _ratio(met, total), total
        if name in ("capacity_accuracy", "within_estimate"):
            pairs = []
            for t in done:
                actual = self.actual_hours(t)
                if actual is not None and t.estimate_hours:
                    pairs.append((actual, t.estimate_hours))
            if name == "capacity_accuracy":
                ok = sum(1 for a, e in pairs if abs(a - e) <= ACCURACY * e + 1e-9)
            else:
                ok = sum(1 for a, e in pairs if a <= e + 1e-9)
            return _ratio(ok, len(pairs)), len(pairs)
        if name == "defect_rate":
            return _ratio(sum(t.defects for t in tasks), len(done)), len(done)
        raise Refused("RUN002", f"unknown measure {_q(name)}")

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Every metric of the model: value, target, op, met (None without data), sample size."""
        self.refresh()
        out: dict[str, dict[str, Any]] = {}
        for m in self.model.metrics:
            try:
                value, n = self.measure(m.measure, m.argument)
            except Refused:  # a measure this runtime does not compute: no data
                value, n = None, 0
            op, target = m.op, m.target
            met = None if value is None or op not in OPS else bool(OPS[op](value, target))
            out[m.name] = {
                "measure": m.measure, "argument": m.argument, "title": m.title,
                "value": value, "target": target, "op": op, "met": met, "samples": n,
            }
        return out

    # -- capacity ---------------------------------------------------------------------

    def _domain_escalation(self, domain: str, due: float) -> list[Draft]:
        ledger = self.state.ledger
        since = self.state.domain_above.get(domain)
        if since is None or not ledger.domain_over_limit(domain):
            return []
        action = self.model.capacity.domain_action if self.model.capacity else None
        target = (action.target if action else None) or "tech-lead"
        to = list(self.model.agents_for(str(target), domain))
        data = {
            "domain": domain, "since": since, "utilisation": ledger.domain_utilisation(domain),
            "limit": ledger.domain_limit, "to_actor": target, "to": to,
        }
        return [("domain_capacity_escalated", due, None, data)]

    def capacity(self) -> dict[str, dict[str, Any]]:
        """Per domain: utilisation, band, since when above the domain limit."""
        self.refresh()
        ledger, state = self.state.ledger, self.state
        out = {}
        for d in self.model.domains:
            util = ledger.domain_utilisation(d)
            band = ledger.band(util)
            out[d] = {"utilisation": util, "band": band.name if band else None,
                      "above_since": state.domain_above.get(d), "escalated": d in state.domain_escalated}
        return out

    # -- standups ---------------------------------------------------------------------

    def schedule_standups(self, as_: str, standups: Sequence[str] | None = None) -> list[Event]:
        """Start the cadence of the named standups (all by default) from now:
        each then reports every ``every`` by the clock. Staff agents (or ``human``) start them."""

        def build(now: float) -> list[Draft]:
            if as_ != HUMAN and self._agent(as_).kind != "staff":
                raise Refused("RUN004", f"{_q(as_)} may not schedule standups: staff roles do")
            declared = list(self.model.standups)
            names = list(standups) if standups is not None else declared
            unknown = [n for n in names if n not in declared]
            if unknown:
                raise Refused("RUN002", f"unknown standup(s) {', '.join(map(_q, unknown))}")
            started = [n for n in names if n in self.state.standup_origin]
            if started:
                raise Refused("RUN021", f"standup(s) {', '.join(map(_q, started))} run on their cadence already")
            if not names:
                raise Refused("RUN013", "no standup to schedule")
            return [("standups_scheduled", now, as_, {"standups": names})]

        return self._commit(build)

    def generate_standups(self, now: float | None = None) -> list[Event]:
        """Every standup's reports now (off cadence: the cadence is not moved)."""

        def build(clock_now: float) -> list[Draft]:
            at = clock_now if now is None else now
            return [d for name in self.model.standups for d in self._standup_drafts(name, at, None)]

        return self._commit(build)

    def _standup_drafts(self, name: str, at: float, due: float | None) -> list[Draft]:
        spec = self.model.standups.get(name)
        if spec is None:
            return []
        source, target = spec.from_, spec.to
        if source == "@member":
            senders = [a for a in self.model.agents.values() if a.kind == "member"]
        elif source == "@lead":
            senders = [a for a in self.model.agents.values() if a.kind == "lead"]
        else:
            senders = [self.model.agents[a] for a in self.model.agents_by_role.get(source, ())]
        since = self.state.standup_last.get(name, self.state.standup_origin.get(name, at))
        drafts: list[Draft] = []
        for agent in senders:
            to = [a for a in self.model.agents_for(target, agent.domain) if a != agent.id]
            report = {s: self._section(s, agent, at, since) for s in spec.sections}
            data = {"standup": name, "from": agent.id, "to": to, "due": due, "since": since, "report": report}
            drafts.append(("standup_reported", at, None if due is not None else agent.id, data))
        return drafts

    def _section(self, section: str, agent: AgentInfo, at: float, since: float) -> Any:
        state, states = self.state, self.model.states
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
            return brief(t for t in scope if t.state in BLOCKED_STATES)
        if section == "help_needed":
            return brief(t for t in scope if t.state == "ESCALATED" or "escalate" in t.fired)
        if section == "accomplishments":
            return brief(t for t in tasks if t.assignee == agent.id and states[t.state].terminal == "success"
                         and t.entered_at >= since)
        if section == "next_up":
            return brief(t for t in mine if t.state == "ASSIGNED")
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
                    "members": {a: ledger.utilisation(a) for a in self.model.domain_members.get(agent.domain or "", ())}}
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
                     "completed": sum(1 for tid in i.tasks if states[state.tasks[tid].state].terminal == "success"),
                     "stages": list(i.stages),
                     "blocked": sum(1 for t in open_of(i) if t.state in BLOCKED_STATES),
                     "at_risk": sum(1 for t in open_of(i) if "warn" in t.fired or "escalate" in t.fired)}
                    for i in state.instructions.values() if i.closed_at is None]
        if section == "capacity_overview":
            ledger = state.ledger
            out = {}
            for d in self.model.domains:
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
