"""The clock: what falls due fires, in time order, as one command.

``Firing.process(now)`` fires, in (due time, kind, id) order, everything due by
the clock: SLA warnings and escalations (once per state visit each), missed
heartbeats (once per missed period), automatic transitions, and the protocol
deadlines (overdue acknowledgements, unanswered consultations, domains too
long above their capacity limit, standup cadences); each firing is stamped
with its due time and sees the ones before it. The firings are applied to the
state as they are made and appended in one transaction, with a virtual clock's
new time; when another writer appended first, the state is rebuilt from the
store and the clock processed again. Token thresholds fire when a heartbeat
reports tokens (``token_checks``).

A pass fires at most ``MAX_FIRINGS`` events: a virtual clock asked to move
further is refused (``RUN039``, nothing recorded: advance in smaller steps); a
wall clock that fell that far behind catches up in several transactions of at
most about that many events each, every one a prefix of the firings in time order.
"""

from __future__ import annotations

import heapq
from operator import itemgetter
from typing import Any

from .bulk import collector_paused
from .context import MAX_ATTEMPTS, Context, contention
from .contract.budgets import span_text
from .contract.events import Draft, Event
from .errors import Conflict, Refused
from .measures import Measures
from .permissions import Permissions
from .protocols import Protocols
from .records import Task, resolve
from .standups import Standups
from .state import ACK, AFTER, CONSULT, DOMAIN, ESCALATE, HEARTBEAT, STANDUP, WARN
from .timefmt import iso

PROTOCOL_KINDS = {"ack": ACK, "domain": DOMAIN, "standup": STANDUP, "consult": CONSULT}

Pending = tuple[float, int, str, str]
"""(due, kind, task id or protocol ident, target or protocol kind) of a firing"""
MAX_FIRINGS = 10_000
"""the most events one clock pass fires"""


class _Overrun(Exception):
    """A pass reached ``MAX_FIRINGS``; ``due`` is the time of its last firing."""

    def __init__(self, due: float) -> None:
        super().__init__(due)
        self.due = due


class Firing:
    """Deadlines of tasks and protocols, fired when the clock passes them."""

    def __init__(self, ctx: Context, perms: Permissions, protocols: Protocols, measures: Measures,
                 standups: Standups) -> None:
        self.ctx = ctx
        self.perms = perms
        self.protocols = protocols
        self.measures = measures
        self.standups = standups

    def process(self) -> list[Event]:
        """Fire every deadline due by now, in time order; returns the events."""
        ctx = self.ctx
        done: list[Event] = []
        attempts = MAX_ATTEMPTS
        while attempts:
            attempts -= 1
            ctx.refresh()
            base = ctx.state.last_seq
            now = ctx.clock.now()
            until = None
            try:
                with collector_paused():
                    try:
                        fired = self._fire_due(now, MAX_FIRINGS)
                    except _Overrun as over:
                        ctx.reload()  # drop the pass; fire a prefix of it, or refuse it
                        if ctx.virtual:
                            raise Refused("RUN039", f"moving the clock to {iso(now)} would fire more than "
                                          f"{MAX_FIRINGS} events (the last of them due at {iso(over.due)}); "
                                          "advance it in smaller steps") from None
                        until = over.due
                        fired = self._fire_due(until, None)
                    if fired or ctx.clock_unsaved():
                        ctx.append(fired, base)
            except Conflict:
                ctx.reload()
                continue
            except BaseException:
                if ctx.state.last_seq != base:
                    ctx.reload()  # drop what was applied but not stored
                raise
            done += fired
            if until is None:
                return done
            attempts = MAX_ATTEMPTS  # a wall clock catching up: the next part
        raise contention()

    def _fire_due(self, now: float, limit: int | None) -> list[Event]:
        """Fire, in (due, kind, task) order, every deadline due by ``now``,
        including those that earlier firings make due; ``_Overrun`` (the state
        then holds part of the pass) once ``limit`` events are fired."""
        ctx = self.ctx
        state = ctx.state
        timers, tasks = state.timers, state.tasks
        fired: list[Event] = []
        state.flush()
        # what is due now, as one sorted run; what firings make due joins a heap beside it
        run = _sorted_run(self._pending_of(timers.pop_due(now), now))
        i, n = 0, len(run)
        extra: list[Pending] = []
        later: list[tuple[float, tuple[str]]] = []  # fired tasks' next deadlines after now
        while True:
            if limit is not None and len(fired) > limit:
                raise _Overrun(fired[-1].at)
            if state.has_changes():  # a firing changed more than its own task (a capacity band, a protocol)
                state.flush()
                for item in self._pending_of(timers.pop_due(now), now):
                    heapq.heappush(extra, item)
            if extra and (i == n or extra[0] < run[i]):
                due, kind, tid, target = heapq.heappop(extra)
            elif i < n:
                due, kind, tid, target = run[i]
                i += 1
            else:
                break
            if kind >= ACK:
                pkey = (target, tid)
                if state.protocol_due(pkey) == (due, kind):
                    ctx.record(self._fire_protocol(pkey, due), fired)
                state.touch_protocol(pkey)
                continue
            # The item is still the task's next deadline: only a firing of the
            # task itself changes that (no other writer is read until the end),
            # and it waits for this item.
            t = tasks[tid]
            visit = t.visit
            drafts = self._fire(t, visit, due, kind, target)
            ctx.record(drafts, fired)
            if not drafts and kind == AFTER and t.visit == visit:
                t.skipped = t.skipped | {target}
            nxt = state.replan(t)  # the task's next deadline, here rather than at a flush
            if nxt is not None:
                if nxt[0] <= now:
                    heapq.heappush(extra, (nxt[0], nxt[1], tid, nxt[2]))
                else:
                    later.append((nxt[0], (tid,)))
        # a timer a flush pushed since is fresher than the one planned at the firing
        timers.push_many([item for item in later if item[1] not in timers])
        return fired

    def _pending_of(self, keys: list[tuple[str, ...]], now: float) -> list[Pending]:
        """What the popped timer keys have due by ``now``; the others are planned afresh."""
        state = self.ctx.state
        tasks, next_due = state.tasks, state.next_due
        items: list[Pending] = []
        for key in keys:
            if len(key) != 1:
                pd = state.protocol_due(key)
                if pd is not None and pd[0] <= now:
                    items.append((pd[0], pd[1], key[1], key[0]))
                else:
                    state.touch_protocol(key)
                continue
            t = tasks[key[0]]
            nxt = next_due(t)
            if nxt is not None and nxt[0] <= now:
                items.append((nxt[0], nxt[1], t.id, nxt[2]))
            else:
                state.touch(t)
        return items

    def _fire(self, t: Task, visit: int, due: float, kind: int, target: str) -> list[Draft]:
        if t.visit != visit:
            return []
        st = self.ctx.model.states[t.state]
        if kind == ESCALATE and target:
            if target in t.fired:
                return []
            return [self.level_draft(t, target, due)]
        if kind == WARN or kind == ESCALATE:
            name = "warn" if kind == WARN else "escalate"
            if name in t.fired:
                return []
            return [self.sla_draft(t, name, due, "time", due - t.entered_at)]
        if kind == HEARTBEAT:
            if t.hb_due != due or st.heartbeat is None:
                return []
            since = t.last_heartbeat if t.last_heartbeat is not None and t.last_heartbeat >= t.entered_at else t.entered_at
            to = self.perms.agents_of("@assignee", t) + self.perms.agents_of("@lead", t)
            data = {"task": t.id, "state": t.state, "visit": t.visit, "due": due, "since": since, "to": to}
            return [("heartbeat_missed", due, None, data)]
        if kind == AFTER:
            rec = st.out.get(target)
            if rec is None or t.tier not in rec.tiers or not self.perms.automatic_ok(t, rec, due):
                return []
            moved = moved_data(t, target, ())
            moved["automatic"] = True
            return [("task_moved", due, None, moved)]
        return []

    def _fire_protocol(self, key: tuple[str, str], due: float) -> list[Draft]:
        state = self.ctx.state
        if state.protocol_due(key) != (due, PROTOCOL_KINDS[key[0]]):
            return []
        kind, ident = key
        if kind == "ack":
            return [self.protocols.overdue_draft(state.delegations[ident], due)]
        if kind == "domain":
            return self.measures.domain_escalation(ident, due)
        if kind == "consult":
            return [self.protocols.timed_out_draft(state.consultations[ident], due)]
        return self.standups.drafts(ident, due, due)

    def token_checks(self, t: Task, tokens: float, now: float) -> list[Draft]:
        """The token thresholds and token automatic transitions ``tokens`` spent in the state reach.

        The rule the checker's ORC315 states too: a threshold at an automatic transition's budget
        fires, then the task moves; a threshold above that budget is never reached, even when one
        heartbeat reports tokens past both (the task left the state at the budget)."""
        st = self.ctx.model.states[t.state]
        leave: tuple[float, Draft] | None = None
        for rec in st.automatic:
            if rec.after is not None and rec.after.kind == "tokens" and t.tier in rec.tiers:
                if tokens >= rec.after.value and self.perms.automatic_ok(t, rec, now, tokens):
                    moved = moved_data(t, rec.target, ())
                    moved["automatic"] = True
                    leave = (rec.after.value, ("task_moved", now, None, moved))
                    break
        reached = tokens if leave is None else min(tokens, leave[0])
        drafts: list[Draft] = []
        for name, th in (("warn", st.warn), ("escalate", st.escalate)):
            if th is None or name in t.fired:
                continue
            if any(dim == "tokens" and reached >= amount for dim, amount in resolve(th.budget, st, t)):
                drafts.append(self.sla_draft(t, name, now, "tokens", tokens))
        if leave is not None:
            drafts.append(leave[1])
        return drafts

    def rounds_out(self, t: Task, target: str, now: float, actor: str | None,
                   moved: dict[str, Any]) -> list[Draft] | None:
        """When ``t.state -> target`` is bounded and its rounds have run out, the events that happen
        instead of the move ``moved``: ``rounds_exhausted``, then the move to the declared path (which
        carries the move's note and outputs); ``None`` when the move may be made."""
        rec = self.ctx.model.states[t.state].out.get(target)
        bound = rec.rounds if rec is not None else None
        if bound is None:
            return None
        done = t.rounds(t.state, target)
        if done < bound.limit:
            return None
        if bound.then is not None:
            to = [t.assignee] if t.assignee else []
        else:
            to = self.perms.agents_of(bound.escalate or "", t)
        data = {"task": t.id, "source": t.state, "target": target, "rounds": done, "then": bound.then,
                "to_actor": bound.escalate, "to": to}
        drafts: list[Draft] = [("rounds_exhausted", now, actor, data)]
        if bound.then is not None:
            instead = dict(moved, target=bound.then, instead_of=target)
            drafts.append(("task_moved", now, actor, instead))
        return drafts

    def sla_draft(self, t: Task, name: str, at: float, dim: str, measured: float) -> Draft:
        st = self.ctx.model.states[t.state]
        th = st.warn if name == "warn" else st.escalate
        assert th is not None
        actor = th.to or (st.owner if name == "warn" else None) or st.owner or ""
        to = self.perms.agents_of(actor, t)
        text = span_text(measured) if dim == "time" else f"{measured:g} tokens"
        data = {
            "task": t.id, "state": t.state, "visit": t.visit, "threshold": th.budget.text, "dimension": dim,
            "measured": measured, "measured_text": text, "to_actor": actor, "to": to,
        }
        return ("sla_warning" if name == "warn" else "sla_escalation", at, None, data)


    def level_draft(self, t: Task, key: str, at: float) -> Draft:
        """The ``sla_escalation`` of one level of the state's escalation policy, in one round."""
        policy = self.ctx.model.states[t.state].escalation
        assert policy is not None
        _, level_text, _, round_text = key.split()  # as ``level_key`` writes it
        level, round_ = int(level_text), int(round_text)
        lv = policy.levels[level - 1]
        measured = at - t.entered_at
        # in a later round the level falls the whole chain's time later than written
        offset = (round_ - 1) * policy.levels[-1].after.value + lv.after.value
        to = self.ctx.state.recipients(lv.to, t)
        data = {
            "task": t.id, "state": t.state, "visit": t.visit,
            "threshold": lv.after.text if round_ == 1 else span_text(offset), "dimension": "time",
            "measured": measured, "measured_text": span_text(measured), "to_actor": ", ".join(lv.to), "to": to,
            "level": level, "round": round_,
        }
        if policy.name:
            data["policy"] = policy.name
        return ("sla_escalation", at, None, data)


def moved_data(t: Task, target: str, attest: Any) -> dict[str, Any]:
    """The data of a ``task_moved`` event of ``t`` to ``target``."""
    # `attest` only when something was attested: a dict of strings and numbers
    # is not tracked by the cyclic garbage collector, one holding a list is
    if attest:
        return {"task": t.id, "source": t.state, "target": target, "visit": t.visit, "attest": list(attest)}
    return {"task": t.id, "source": t.state, "target": target, "visit": t.visit}


def _sorted_run(items: list[Pending]) -> list[Pending]:
    """``sorted(items)`` by stable passes on one field each, last field first:
    each pass compares plain strings or numbers, where many equal due times
    would make tuple comparisons slow. (due, kind, id) is unique per item."""
    if len(items) > 1:
        items.sort(key=itemgetter(2))
        items.sort(key=itemgetter(1))
        items.sort(key=itemgetter(0))
    return items
