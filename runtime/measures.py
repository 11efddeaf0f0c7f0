"""Reassignment, metric inputs, the metrics query and the capacity escalation of domains.

``metrics()`` computes every measure of the model's ``metrics`` from the
state (definitions in docs/runtime.md); ``reassign``, ``record_clarification``
and ``record_defect`` record the facts some of them count. Hours worked on a
task count the time in the model's work states (``Model.work_states``) unless
the assignee reported them.
"""

from __future__ import annotations

from typing import Any

from .candidates import score_task
from .context import Context, q
from .contract.events import Draft, Event
from .errors import Refused
from .model import AgentInfo
from .permissions import Permissions
from .records import Task, resolve

ACCURACY = 0.10
"""capacity_accuracy: actual hours within this share of the estimate"""

OPS = {
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
    "==": lambda v, t: v == t,
}


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 12) if whole else None


class Measures:
    """Reassignment, clarifications, defects, metrics and the capacity escalation of domains."""

    def __init__(self, ctx: Context, perms: Permissions) -> None:
        self.ctx = ctx
        self.perms = perms

    # -- reassignment ---------------------------------------------------------------

    def reassign(self, as_: str, task: str, to: str | None = None) -> list[Event]:
        """The domain lead moves an assigned task to another member (the best
        eligible candidate other than the current assignee when ``to`` is
        omitted); the capacity commitment moves with it."""

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            t = self.ctx.task(task)
            if agent.role != self.ctx.model.domain_lead_role.get(t.domain):
                raise Refused("RUN004", f"only the lead of {q(t.domain)} reassigns its tasks", task=t.id)
            if self.ctx.model.states[t.state].terminal is not None:
                raise Refused("RUN013", f"task {q(t.id)} is finished ({q(t.state)})", task=t.id)
            current = t.assignee
            if current is None:
                raise Refused("RUN018", f"task {q(t.id)} has no assignee; assign it instead", task=t.id)
            scored = [s for s in score_task(self.ctx, t) if s.agent != current]
            if to is not None:
                info = self.ctx.agent(to)
                if info.domain != t.domain or not info.works:
                    raise Refused("RUN010", f"{q(to)} is not a member of domain {q(t.domain)}", task=t.id)
                if to == current:
                    raise Refused("RUN013", f"{q(to)} is the assignee of {q(t.id)} already", task=t.id)
                ledger = self.ctx.state.ledger
                if ledger.over_ic_limit(to):
                    raise Refused(
                        "RUN009",
                        f"{q(to)} is at {ledger.utilisation(to):.0%} of capacity, above the IC limit of "
                        f"{(ledger.ic_limit or 0):.0%}; it takes no new work",
                        task=t.id,
                    )
                chosen, mode = to, "explicit"
            else:
                best = next((s for s in scored if s.eligible), None)
                if best is None:
                    raise Refused(
                        "RUN015", f"no other member of {q(t.domain)} qualifies for {q(t.id)}", task=t.id
                    )
                chosen, mode = best.agent, "automatic"
            mine = next((s for s in scored if s.agent == chosen), None)
            data = {
                "task": t.id, "from": current, "to": chosen, "mode": mode,
                "score": mine.score if mine else None, "factors": mine.factors if mine else None,
            }
            return [("task_reassigned", now, as_, data)]

        return self.ctx.commit(build)

    # -- metric inputs ----------------------------------------------------------------

    def record_clarification(self, as_: str, task: str, note: str | None = None) -> list[Event]:
        """The assignee (or, before assignment, a member of the task's domain)
        asked for a clarification of the task; the domain lead is told."""

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            t = self.ctx.task(task)
            if t.assignee is not None and agent.id != t.assignee:
                raise Refused("RUN004", f"only the assignee {q(t.assignee)} records clarifications on {q(t.id)}")
            if t.assignee is None and (not agent.works or agent.domain != t.domain):
                raise Refused("RUN004", f"{q(as_)} is not a member of {q(t.domain)}")
            to = list(self.ctx.model.agents_for("@lead", t.domain))
            return [("clarification_recorded", now, as_, {"task": t.id, "note": note, "to": to})]

        return self.ctx.commit(build)

    def record_defect(self, as_: str, task: str, note: str | None = None) -> list[Event]:
        """The domain lead or a reviewer of a gate records a defect found in a task's work."""

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            t = self.ctx.task(task)
            lead = agent.role == self.ctx.model.domain_lead_role.get(t.domain)
            reviewer = any(
                g.reviewer is not None and self._reviews(g.reviewer.roles, g.reviewer.relations, agent, t)
                for g in self.ctx.model.gates.values()
            )
            if not (lead or reviewer):
                raise Refused(
                    "RUN004", f"{q(as_)} may not record defects on {q(t.id)}: the domain lead or a gate reviewer does"
                )
            return [("defect_recorded", now, as_, {"task": t.id, "note": note})]

        return self.ctx.commit(build)

    def _reviews(self, roles: frozenset[str], relations: frozenset[str], agent: AgentInfo, t: Task) -> bool:
        if agent.role in roles:
            return True
        if "@peer" in relations and agent.works and agent.domain == t.domain and agent.id != t.assignee:
            return True
        return "@lead" in relations and agent.role == self.ctx.model.domain_lead_role.get(t.domain)

    # -- metrics --------------------------------------------------------------------

    def actual_hours(self, t: Task) -> float | None:
        """Hours worked on a task: the last reported with a heartbeat, else the
        time from its first entry into a work state to its last exit from one."""
        if t.actual_hours is not None:
            return t.actual_hours
        work = self.ctx.model.work_states
        start = end = None
        for _seq, at, source, target in t.history:
            if target in work and start is None:
                start = at
            if source in work:
                end = at
        if start is None or end is None:
            return None
        return (end - start) / 3600.0

    def measure(self, name: str, argument: str | None = None) -> tuple[float | None, int]:
        """One measure from the state: (value or None without data, sample size)."""
        tasks = list(self.ctx.state.tasks.values())
        states = self.ctx.model.states
        done = [t for t in tasks if states[t.state].terminal == "success"]
        if name == "clarification_free":
            tactical = [t for t in done if t.kind == "tactical"]
            return _ratio(sum(1 for t in tactical if t.clarifications == 0), len(tactical)), len(tactical)
        if name == "reassignment_rate":
            n = self.ctx.state.assignment_count
            return _ratio(self.ctx.state.reassignment_count, n), n
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
        raise Refused("RUN002", f"unknown measure {q(name)}")

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Every metric of the model: value, target, op, met (None without data), sample size."""
        self.ctx.refresh()
        out: dict[str, dict[str, Any]] = {}
        for m in self.ctx.model.metrics:
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

    def domain_escalation(self, domain: str, due: float) -> list[Draft]:
        ledger = self.ctx.state.ledger
        since = self.ctx.state.domain_above.get(domain)
        if since is None or not ledger.domain_over_limit(domain):
            return []
        action = self.ctx.model.capacity.domain_action if self.ctx.model.capacity else None
        # without a declared target, the one above the domain's lead
        lead = self.ctx.model.domain_lead_role.get(domain, "")
        target = (action.target if action else None) or next(iter(self.ctx.model.role_ancestors.get(lead, ())), lead)
        to = list(self.ctx.model.agents_for(str(target), domain))
        data = {
            "domain": domain, "since": since, "utilisation": ledger.domain_utilisation(domain),
            "limit": ledger.domain_limit, "to_actor": target, "to": to,
        }
        return [("domain_capacity_escalated", due, None, data)]

    def capacity(self) -> dict[str, dict[str, Any]]:
        """Per domain: utilisation, band, since when above the domain limit."""
        self.ctx.refresh()
        ledger, state = self.ctx.state.ledger, self.ctx.state
        out = {}
        for d in self.ctx.model.domains:
            util = ledger.domain_utilisation(d)
            band = ledger.band(util)
            out[d] = {"utilisation": util, "band": band.name if band else None,
                      "above_since": state.domain_above.get(d), "escalated": d in state.domain_escalated}
        return out
