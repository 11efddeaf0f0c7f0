"""The engine: commands in, validated events out.

``Engine(model, store, clock)`` replays the store on open. Every command
refreshes the state from the store (other engines and processes may have
written), validates the command against the state, builds its events and
appends them with the last sequence number it saw; when another writer got
there first (``Conflict``) it refreshes and validates again. A refused command
raises ``Refused`` and appends nothing. One command is one append, so one
transaction.

Time comes only from the clock. ``process_clock()`` fires, in time order, what
is due: SLA warnings and escalations (once per state visit each), missed
heartbeats (once per missed period) and automatic transitions; each firing is
stamped with its due time. Token thresholds are checked when a heartbeat
reports tokens. Protocol deadlines (overdue acknowledgements, domains too
long above their capacity limit, standup cadences) fire in the same order.

The commands of the protocols (handoffs, delegation, broadcasts), of
instruction flows and of reassignment, metrics and standups live in the
mixins ``ProtocolCommands`` (protocols.py), ``FlowCommands`` (flows.py) and
``MeasureCommands`` (measures.py).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from operator import itemgetter
from pathlib import Path
from typing import Any

from .assignment import Scored, TaskNeeds, score_candidates
from .bulk import collector_paused
from .clock import Clock, VirtualClock, WallClock
from .contract.events import Draft, Event
from .contract.guards import compile_guard
from .errors import Conflict, Refused
from .flows import FlowCommands
from .measures import MeasureCommands
from .model import COMPLEXITIES, KINDS, ActorCheck, AgentInfo, GateRec, Model, TransitionRec, load_model
from .parts import HUMAN as HUMAN
from .protocols import ProtocolCommands
from .records import Message, Task, resolve
from .state import (
    ACK,
    AFTER,
    CONSULT,
    DOMAIN,
    ESCALATE,
    HEARTBEAT,
    STANDUP,
    WARN,
    OrgState,
)
from .store import BatchBuffer, EventStore, MemoryStore

MAX_ATTEMPTS = 50
BULK = 1000
"""a refresh of at least this many events runs with the garbage collector paused"""
PROTOCOL_KINDS = {"ack": ACK, "domain": DOMAIN, "standup": STANDUP, "consult": CONSULT}


def _q(name: object) -> str:
    return f"`{name}`"


def _names(items: Iterable[object]) -> str:
    return ", ".join(_q(i) for i in items) or "nothing"


class Engine(ProtocolCommands, FlowCommands, MeasureCommands):
    """Runs one organisation: a loaded model, an event store and a clock."""

    def __init__(
        self,
        model: Model | str | Path | Mapping[str, Any],
        store: EventStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.model = model if isinstance(model, Model) else load_model(model)
        self.store: EventStore = store if store is not None else MemoryStore()
        self.clock: Clock = clock if clock is not None else WallClock()
        self.store.claim(self.model.digest)
        self.state = OrgState(self.model)
        self._getters = _guard_getters(self)
        self._owned_by_assignee = {name: st.owner == "@assignee" for name, st in self.model.states.items()}
        self.refresh()

    # -- plumbing -----------------------------------------------------------------

    def refresh(self) -> int:
        """Apply the events other writers appended; returns how many."""
        state, store = self.state, self.store
        last = store.last_seq()
        if last == state.last_seq:
            return 0
        with collector_paused() if last - state.last_seq >= BULK else nullcontext():
            events = store.read(after=state.last_seq)
            for e in events:
                state.apply(e)
        return len(events)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Record the commands of the ``with`` block in one transaction.

        Each command is validated, applied to the state and returns its events
        as usual (a refused one changes nothing), but the events are appended
        to the store only when the block ends, all of them at once. If the
        block raises, nothing of it is recorded and the state is rebuilt from
        the store; if another writer appended meanwhile, nothing is recorded
        either, and the batch is refused with ``RUN017``. A batch inside a
        batch is part of the outer one."""
        if isinstance(self.store, BatchBuffer):
            yield
            return
        self.refresh()
        real = self.store
        buffer = BatchBuffer(real, self.state.last_seq)
        self.store = buffer
        try:
            yield
        except BaseException:
            self.store = real
            if buffer.events:
                self._reload()
            raise
        self.store = real
        if not buffer.events:
            return
        try:
            real.append(buffer.events, buffer.base)
        except BaseException as exc:
            self._reload()
            if isinstance(exc, Conflict):
                raise Refused(
                    "RUN017",
                    f"another writer appended during the batch; none of its {len(buffer.events)} events was "
                    "recorded, run it again",
                ) from exc
            raise

    def _commit(self, build: Callable[..., list[Draft]], *args: Any) -> list[Event]:
        """Validate-build-append, retried on conflict with a fresh state:
        ``build(now, *args)`` validates against the state and returns the drafts."""
        state, store = self.state, self.store
        for _ in range(MAX_ATTEMPTS):
            if store.last_seq() != state.last_seq:
                self.refresh()
            drafts = build(self.clock.now(), *args)
            if not drafts:
                return []
            base = state.last_seq
            if len(drafts) == 1:
                t, at, actor, data = drafts[0]
                events = [Event(base + 1, t, at, actor, data)]
            else:
                events = [Event(base + i, t, at, actor, data) for i, (t, at, actor, data) in enumerate(drafts, 1)]
            try:
                store.append(events, base)
            except Conflict:
                continue
            apply = state.apply
            for e in events:
                apply(e)
            return events
        raise _contention()

    def _agent(self, as_: str) -> AgentInfo:
        agent = self.model.agents.get(as_)
        if agent is None:
            raise Refused("RUN001", f"unknown agent {_q(as_)}", agent=as_)
        return agent

    def _task(self, task_id: str) -> Task:
        task = self.state.tasks.get(task_id)
        if task is None:
            raise Refused("RUN002", f"unknown task {_q(task_id)}", task=task_id)
        return task

    # -- commands -----------------------------------------------------------------

    def submit_instruction(self, as_: str, text: str, tier: int, id: str | None = None) -> str:
        """Record an instruction at a tier; returns its id (``I1``, ``I2``, ... unless given)."""
        out: list[str] = []

        def build(now: float) -> list[Draft]:
            if as_ != HUMAN:
                self._agent(as_)
            tiers = set(self.model.tier_specs) | set(self.model.tiers)
            if tier not in tiers:
                raise Refused("RUN013", f"tier {tier} is not declared; tiers are {sorted(tiers)}")
            if not text.strip():
                raise Refused("RUN013", "an instruction needs a text")
            iid = id or f"I{len(self.state.instructions) + 1}"
            if iid in self.state.instructions:
                raise Refused("RUN014", f"instruction {_q(iid)} exists already")
            out[:] = [iid]
            return [("instruction_submitted", now, as_, {"instruction": iid, "text": text, "tier": tier, "by": as_})]

        self._commit(build)
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
        priority: str = "normal",
        estimate_hours: float | None = None,
        estimate_tokens: float | None = None,
        dependencies: Sequence[str] = (),
        parent: str | None = None,
        handoff_to: str | None = None,
        id: str | None = None,
        description: str = "",
        acceptance_criteria: Sequence[str] = (),
    ) -> str:
        """Create a task of an instruction (at the instruction's tier) in its
        initial state; returns its id (``T1``, ``T2``, ... unless given).
        ``description`` says what the work is (the title is its name) and
        ``acceptance_criteria`` when it is done, one sentence each."""
        out: list[str] = []
        m = self.model

        def build(now: float) -> list[Draft]:
            self._agent(as_)
            ins = self.state.instructions.get(instruction)
            if ins is None:
                raise Refused("RUN002", f"unknown instruction {_q(instruction)}")
            if ins.tier not in m.tiers:
                raise Refused("RUN013", f"instruction {_q(instruction)} is tier {ins.tier}, which has no task lifecycle")
            if kind not in KINDS:
                raise Refused("RUN013", f"task kind {_q(kind)} is not one of {_names(KINDS)}")
            self._check_planning(ins, kind)
            if self.state.waiting:
                self._check_not_waiting(as_, instruction)
            if domain not in m.domains:
                raise Refused("RUN002", f"unknown domain {_q(domain)}; domains are {_names(m.domains)}")
            if handoff_to is not None and (handoff_to not in m.domains or handoff_to == domain):
                raise Refused("RUN013", f"handoff domain {_q(handoff_to)} must be another declared domain")
            if complexity not in COMPLEXITIES:
                raise Refused("RUN013", f"complexity {_q(complexity)} is not one of {_names(COMPLEXITIES)}")
            if priority not in m.priorities:
                raise Refused("RUN013", f"priority {_q(priority)} is not one of {_names(m.priorities)}")
            unknown = [s for s in (*required_skills, *nice_skills) if s not in m.skills]
            if unknown:
                raise Refused("RUN013", f"unknown skill(s) {_names(unknown)}")
            for est in (estimate_hours, estimate_tokens):
                if est is not None and not est > 0:
                    raise Refused("RUN013", "an estimate must be positive")
            if any(not isinstance(c, str) or not c.strip() for c in acceptance_criteria):
                raise Refused("RUN013", "an acceptance criterion needs a text")
            if not isinstance(description, str):
                raise Refused("RUN013", "a description is a text")
            missing = [d for d in (*dependencies, *([parent] if parent else [])) if d not in self.state.tasks]
            if missing:
                raise Refused("RUN002", f"unknown task(s) {_names(missing)}")
            tid = id or f"T{len(self.state.tasks) + 1}"
            if tid in self.state.tasks:
                raise Refused("RUN014", f"task {_q(tid)} exists already")
            out[:] = [tid]
            data = {
                "task": tid, "instruction": instruction, "kind": kind, "domain": domain, "title": title,
                "tier": ins.tier, "required_skills": list(required_skills), "nice_skills": list(nice_skills),
                "complexity": complexity, "priority": priority, "estimate_hours": estimate_hours,
                "estimate_tokens": estimate_tokens, "dependencies": list(dependencies), "parent": parent,
                "handoff_to": handoff_to, "state": m.initial,
            }
            if description.strip():
                data["description"] = description.strip()
            if acceptance_criteria:
                data["acceptance_criteria"] = [c.strip() for c in acceptance_criteria]
            return [("task_created", now, as_, data)]

        self._commit(build)
        return out[0]

    def move(self, as_: str, task: str, target: str, attest: Sequence[str] = ()) -> list[Event]:
        """Move a task to ``target`` along a declared transition."""
        # The most frequent command: `_commit`'s loop, specialised to its one event.
        state, store, clock, data = self.state, self.store, self.clock, self._move_data
        attempts = MAX_ATTEMPTS
        while attempts:
            attempts -= 1
            if store.last_seq() != state.last_seq:
                self.refresh()
            now = clock.now()
            base = state.last_seq
            events = [Event(base + 1, "task_moved", now, as_, data(now, as_, task, target, attest))]
            try:
                store.append(events, base)
            except Conflict:
                continue
            state.apply(events[0])
            return events
        raise _contention()

    def _move_data(self, now: float, as_: str, task: str, target: str, attest: Sequence[str]) -> dict[str, Any]:
        agent = self.model.agents.get(as_) or self._agent(as_)
        t = self.state.tasks.get(task) or self._task(task)
        if self.state.waiting:
            self._check_not_waiting(as_, t.id)
        if t.handoff is not None:
            h = self.state.handoffs[t.handoff]
            if target in (h.on_accept, h.on_reject):
                side = "accept" if target == h.on_accept else "reject"
                raise Refused(
                    "RUN025",
                    f"task {_q(t.id)} has the open handoff {_q(h.id)}, whose `on {side}` is "
                    f"{_q(t.state + ' -> ' + target)}; use `orchdsl run handoff accept|reject`",
                    task=t.id, handoff=h.id,
                )
        self._check_move(agent, t, target, attest, now)
        return _moved(t, target, attest)

    def assign(self, as_: str, task: str, agent: str | None = None) -> list[Event]:
        """Assign a task and move it to the target of its assignment transition.

        With ``agent``, that member of the task's domain (refused when not a
        member or over the IC capacity limit). Without, the best eligible
        candidate by the model's assignment scoring; when nobody qualifies the
        task is escalated to the declared fallback (an ``assignment_escalated``
        event, the task stays where it is)."""

        def build(now: float) -> list[Draft]:
            actor = self._agent(as_)
            t = self._task(task)
            rec = self._assignment_transition(t)
            self._check_actor(actor, t, rec)
            scored = self._score(t, now)
            if agent is not None:
                info = self._agent(agent)
                if info.domain != t.domain or info.kind != "member":
                    raise Refused(
                        "RUN010",
                        f"{_q(agent)} is not a member of domain {_q(t.domain)}; members are "
                        f"{_names(self.model.domain_members.get(t.domain, ()))}",
                    )
                if self.state.ledger.over_ic_limit(agent):
                    util = self.state.ledger.utilisation(agent)
                    raise Refused(
                        "RUN009",
                        f"{_q(agent)} is at {util:.0%} of capacity, above the IC limit of "
                        f"{self.state.ledger.ic_limit:.0%}; it takes no new work",
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
                rec = self._check_move(actor, t, rec.target, (), now)
            finally:
                t.assignee = saved
            mine = next((s for s in scored if s.agent == chosen), None)
            data = {
                "task": t.id,
                "agent": chosen,
                "mode": mode,
                "score": mine.score if mine else None,
                "factors": mine.factors if mine else None,
                "candidates": [_scored(s) for s in scored],
            }
            return [("task_assigned", now, as_, data), ("task_moved", now, as_, _moved(t, rec.target, ()))]

        return self._commit(build)

    def heartbeat(
        self,
        as_: str,
        task: str,
        tokens: float = 0,
        note: str | None = None,
        remaining_hours: float | None = None,
        actual_hours: float | None = None,
    ) -> list[Event]:
        """The assignee reports progress: tokens spent since the last report,
        an optional note, the remaining estimate and the hours worked so far.
        Token thresholds and token automatic transitions of the current state
        are checked here."""

        def build(now: float) -> list[Draft]:
            agent = self._agent(as_)
            t = self._task(task)
            if self.model.states[t.state].terminal is not None:
                raise Refused("RUN013", f"task {_q(t.id)} is finished ({_q(t.state)})")
            if t.assignee != agent.id:
                raise Refused(
                    "RUN004",
                    f"only the assignee ({_q(t.assignee) if t.assignee else 'nobody is assigned'}) "
                    f"reports heartbeats on {_q(t.id)}",
                )
            if tokens < 0 or any(h is not None and h < 0 for h in (remaining_hours, actual_hours)):
                raise Refused("RUN013", "tokens and hours cannot be negative")
            data: dict[str, Any] = {"task": t.id, "tokens": tokens, "note": note}
            if remaining_hours is not None:
                data["remaining_hours"] = remaining_hours
            if actual_hours is not None:
                data["actual_hours"] = actual_hours
            drafts: list[Draft] = [("heartbeat", now, as_, data)]
            drafts += self._token_checks(t, t.tokens_in_state + tokens, now)
            return drafts

        return self._commit(build)

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

        def build(now: float) -> list[Draft]:
            agent = self._agent(as_)
            t = self._task(task)
            g = self.model.gates.get(gate)
            if g is None:
                raise Refused("RUN002", f"unknown gate {_q(gate)}; gates are {_names(self.model.gates)}")
            tiers = g.opens.get(t.state, frozenset())
            if t.tier not in tiers:
                where = ", ".join(f"{_q(s)} (tiers {sorted(ts)})" for s, ts in sorted(g.opens.items()))
                raise Refused(
                    "RUN011",
                    f"gate {_q(gate)} guards no transition out of {_q(t.state)} at tier {t.tier}; "
                    f"it is decided in {where or 'no task state'}",
                )
            if g.reviewer is not None and not self._permitted(g.reviewer, agent, t):
                raise Refused(
                    "RUN004",
                    f"{_q(agent.id)} may not decide gate {_q(gate)} on {_q(t.id)}: the reviewer is "
                    f"{self._describe(g.reviewer, t)}",
                )
            chosen, total = self._pick_outcome(g, outcome, scores)
            oc = g.outcomes[chosen]
            if oc.effect == "pass":
                for criterion, by_tier in sorted(g.thresholds.items()):
                    need = by_tier.get(t.tier)
                    if need is None:
                        continue
                    got = (measures or {}).get(criterion)
                    if got is None or got < need:
                        raise Refused(
                            "RUN012",
                            f"outcome {_q(chosen)} of gate {_q(gate)} at tier {t.tier} needs "
                            f"{_q(criterion)} >= {need:g}; got {'nothing' if got is None else f'{got:g}'}",
                        )
            data: dict[str, Any] = {
                "task": t.id, "gate": gate, "outcome": chosen, "effect": oc.effect, "state": t.state,
                "visit": t.visit, "scores": dict(scores) if scores else None, "total": total,
                "measures": dict(measures) if measures else None,
            }
            drafts: list[Draft] = [("gate_decided", now, as_, data)]
            if oc.effect == "move" and oc.target is not None and oc.target != t.state:
                moved = _moved(t, oc.target, ())
                moved["gate"] = gate
                drafts.append(("task_moved", now, as_, moved))
            return drafts

        return self._commit(build)

    def _pick_outcome(
        self, g: GateRec, outcome: str | None, scores: Mapping[str, int] | None
    ) -> tuple[str, int | None]:
        """The outcome of a gate decision: given, or picked by the total score's band."""
        gate = g.name
        chosen = outcome
        total = None
        if g.bands:
            if scores is None:
                raise Refused("RUN012", f"gate {_q(gate)} is decided by scores of {_names(g.score_categories)}")
            missing = [c for c in g.score_categories if c not in scores]
            extra = [c for c in scores if c not in g.score_categories]
            if missing or extra:
                raise Refused("RUN012", f"scores missing {_names(missing)}; unknown {_names(extra)}")
            lo, hi = g.score_min, g.score_max
            bad = [c for c, v in scores.items() if (lo is not None and v < lo) or (hi is not None and v > hi)]
            if bad:
                raise Refused("RUN012", f"scores of {_names(bad)} are outside {lo} to {hi}")
            total = sum(scores.values())
            band = next((o for low, high, o in g.bands if low <= total <= high), None)
            if band is None:
                raise Refused("RUN012", f"total score {total} falls in no band of gate {_q(gate)}")
            if chosen is not None and chosen != band:
                raise Refused("RUN012", f"total score {total} gives outcome {_q(band)}, not {_q(chosen)}")
            chosen = band
        if chosen is None or chosen not in g.outcomes:
            raise Refused(
                "RUN012", f"gate {_q(gate)} has outcomes {_names(g.outcomes)}; got {_q(chosen)}"
            )
        return chosen, total

    # -- the clock ----------------------------------------------------------------

    def advance(self, seconds: float) -> list[Event]:
        """Move a virtual clock forward and fire what fell due."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("advance needs a VirtualClock; call process_clock() with a wall clock")
        self.clock.advance(seconds)
        return self.process_clock()

    def process_clock(self) -> list[Event]:
        """Fire every deadline due by now, in time order; returns the events.

        The firings are one command: each event is applied to the state as it
        is made, so a firing sees the ones before it exactly as if they had
        been committed one by one, and all of them are appended in one
        transaction. When another writer appended first, the state is rebuilt
        from the store and the clock processed again."""
        for _ in range(MAX_ATTEMPTS):
            self.refresh()
            base = self.state.last_seq
            try:
                with collector_paused():
                    fired = self._fire_due(self.clock.now())
                    if fired:
                        self.store.append(fired, base)
            except Conflict:
                self._reload()
                continue
            except BaseException:
                if self.state.last_seq != base:
                    self._reload()  # drop what was applied but not stored
                raise
            return fired
        raise _contention()

    def _reload(self) -> None:
        """Rebuild the state from the store."""
        self.state = OrgState(self.model)
        self._getters = _guard_getters(self)
        self.refresh()

    def _record(self, drafts: list[Draft], out: list[Event]) -> None:
        state = self.state
        for typ, at, actor, data in drafts:
            e = Event(state.last_seq + 1, typ, at, actor, data)
            state.apply(e)
            out.append(e)

    def _fire_due(self, now: float) -> list[Event]:
        """Fire, in (due, kind, task) order, every deadline due by ``now``,
        including those that earlier firings make due."""
        state = self.state
        timers, tasks = state.timers, state.tasks
        fired: list[Event] = []
        state.flush()
        # what is due now, as one sorted run; what firings make due joins a heap beside it
        run = _sorted_run(self._pending_of(timers.pop_due(now), now))
        i, n = 0, len(run)
        extra: list[Pending] = []
        later: list[tuple[float, tuple[str]]] = []  # fired tasks' next deadlines after now
        while True:
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
                    self._record(self._fire_protocol(pkey, due, now), fired)
                state.touch_protocol(pkey)
                continue
            # The item is still the task's next deadline: only a firing of the
            # task itself changes that (no other writer is read until the end),
            # and it waits for this item.
            t = tasks[tid]
            visit = t.visit
            drafts = self._fire(tid, visit, due, kind, target, now)
            self._record(drafts, fired)
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
        state, tasks = self.state, self.state.tasks
        next_due = state.next_due
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

    def _fire(self, tid: str, visit: int, due: float, kind: int, target: str, _now: float) -> list[Draft]:
        t = self.state.tasks[tid]
        if t.visit != visit:
            return []
        st = self.model.states[t.state]
        if kind == WARN or kind == ESCALATE:
            name = "warn" if kind == WARN else "escalate"
            if name in t.fired:
                return []
            return [self._sla_draft(t, name, due, "time", due - t.entered_at)]
        if kind == HEARTBEAT:
            if t.hb_due != due or st.heartbeat is None:
                return []
            since = t.last_heartbeat if t.last_heartbeat is not None and t.last_heartbeat >= t.entered_at else t.entered_at
            to = self._agents_of("@assignee", t) + self._agents_of("@lead", t)
            data = {"task": t.id, "state": t.state, "visit": t.visit, "due": due, "since": since, "to": to}
            return [("heartbeat_missed", due, None, data)]
        if kind == AFTER:
            rec = st.out.get(target)
            if rec is None or t.tier not in rec.tiers or not self._automatic_ok(t, rec, due):
                return []
            moved = _moved(t, target, ())
            moved["automatic"] = True
            return [("task_moved", due, None, moved)]
        return []

    def _fire_protocol(self, key: tuple[str, str], due: float, _now: float) -> list[Draft]:
        state = self.state
        if state.protocol_due(key) != (due, PROTOCOL_KINDS[key[0]]):
            return []
        kind, ident = key
        if kind == "ack":
            return [self._overdue_draft(state.delegations[ident], due)]
        if kind == "domain":
            return self._domain_escalation(ident, due)
        if kind == "consult":
            return [self._timed_out_draft(state.consultations[ident], due)]
        return self._standup_drafts(ident, due, due)

    def _token_checks(self, t: Task, tokens: float, now: float) -> list[Draft]:
        st = self.model.states[t.state]
        drafts: list[Draft] = []
        for name, th in (("warn", st.warn), ("escalate", st.escalate)):
            if th is None or name in t.fired:
                continue
            if any(dim == "tokens" and tokens >= amount for dim, amount in resolve(th.budget, st, t)):
                drafts.append(self._sla_draft(t, name, now, "tokens", tokens))
        for rec in st.automatic:
            if rec.after is not None and rec.after.kind == "tokens" and t.tier in rec.tiers:
                if tokens >= rec.after.value and self._automatic_ok(t, rec, now, tokens):
                    moved = _moved(t, rec.target, ())
                    moved["automatic"] = True
                    drafts.append(("task_moved", now, None, moved))
                    break
        return drafts

    def _automatic_ok(self, t: Task, rec: TransitionRec, now: float, tokens: float | None = None) -> bool:
        """An automatic transition happens only when its guard holds and its gates passed."""
        if rec.guard is not None:
            env = self._env(rec, t, now)
            if tokens is not None:
                env["tokens_in_state"] = tokens
            try:
                if not rec.guard(env):
                    return False
            except (KeyError, TypeError):
                return False
        return not self._gate_problems(t, rec)

    def _sla_draft(self, t: Task, name: str, at: float, dim: str, measured: float) -> Draft:
        st = self.model.states[t.state]
        th = st.warn if name == "warn" else st.escalate
        assert th is not None
        actor = th.to or (st.owner if name == "warn" else None) or st.owner or ""
        to = self._agents_of(actor, t)
        text = f"{measured / 3600:g}h" if dim == "time" else f"{measured:g} tokens"
        data = {
            "task": t.id, "state": t.state, "visit": t.visit, "threshold": th.budget.text, "dimension": dim,
            "measured": measured, "measured_text": text, "to_actor": actor, "to": to,
        }
        return ("sla_warning" if name == "warn" else "sla_escalation", at, None, data)

    # -- validation ---------------------------------------------------------------

    def _check_move(
        self, agent: AgentInfo, t: Task, target: str, attest: Sequence[str], now: float
    ) -> TransitionRec:
        st = self.model.states[t.state]
        rec = st.out.get(target)
        if rec is None or t.tier not in rec.tiers:
            options = [r.target for r in st.out.values() if t.tier in r.tiers]
            raise Refused(
                "RUN003",
                f"no transition {_q(t.state + ' -> ' + target)} at tier {t.tier}; from {_q(t.state)} "
                f"task {_q(t.id)} can go to {_names(options)}",
                task=t.id,
            )
        if not self._permitted(rec.actors, agent, t):
            self._check_actor(agent, t, rec)
        if t.assignee is None and self._owned_by_assignee[target]:
            raise Refused(
                "RUN018",
                f"task {_q(t.id)} has no assignee and {_q(target)} is owned by @assignee; assign it instead",
                task=t.id,
            )
        if rec.guard is not None:
            self._check_guard(rec, t, now)
        requires = self.model.states[target].requires
        missing = [r for r in requires if r not in attest] if requires else None
        if missing:
            raise Refused(
                "RUN006",
                f"entering {_q(target)} requires {_names(missing)} to be attested",
                task=t.id,
                missing=missing,
            )
        problems = self._gate_problems(t, rec) if rec.gates else None
        if problems:
            raise Refused(
                "RUN007",
                f"{_q(t.state + ' -> ' + target)} at tier {t.tier} is guarded by gates: " + "; ".join(problems),
                task=t.id,
            )
        return rec

    def _check_actor(self, agent: AgentInfo, t: Task, rec: TransitionRec) -> None:
        if not self._permitted(rec.actors, agent, t):
            note = ""
            if "@peer" in rec.actors.relations and t.assignee == agent.id:
                note = "; the assignee can never act as @peer"
            raise Refused(
                "RUN004",
                f"{_q(agent.id)} may not move {_q(t.id)} from {_q(t.state)} to {_q(rec.target)}: permitted are "
                f"{self._describe(rec.actors, t)}{note}",
                task=t.id,
            )

    def _gate_problems(self, t: Task, rec: TransitionRec) -> list[str]:
        problems = []
        for g in rec.gates_at(t.tier):
            decided = t.decisions.get(g)
            if decided is None:
                problems.append(f"gate {_q(g)} has no decision in this visit of {_q(t.state)}")
            elif self.model.gates[g].outcomes[decided].effect != "pass":
                problems.append(f"gate {_q(g)} decided {_q(decided)}, which does not pass")
        return problems

    def _check_guard(self, rec: TransitionRec, t: Task, now: float) -> None:
        assert rec.guard is not None and rec.guard_tree is not None
        env = self._env(rec, t, now)
        try:
            ok = rec.guard(env)
        except (KeyError, TypeError) as exc:
            raise Refused("RUN016", f"guard {_q(rec.guard_text)} cannot be evaluated: {exc}", task=t.id) from exc
        if ok:
            return
        parts = _false_parts(rec.guard_tree, env)
        detail = "; ".join(parts)
        variables = {v for p in _false_nodes(rec.guard_tree, env) for v in _vars(p)}
        head = f"guard {_q(rec.guard_text)} of {_q(rec.source + ' -> ' + rec.target)} is false: {detail}"
        if variables == {"task.dependencies_met"}:
            unmet = [d for d in t.dependencies if self.model.states[self.state.tasks[d].state].terminal != "success"]
            states = ", ".join(f"{_q(d)} is {_q(self.state.tasks[d].state)}" for d in unmet)
            raise Refused("RUN008", f"{head} ({states})", task=t.id, unmet=unmet)
        if variables == {"assignee.has_capacity"} and t.assignee is not None:
            util = self.state.ledger.utilisation(t.assignee)
            raise Refused(
                "RUN009", f"{head} ({_q(t.assignee)} is at {util:.0%} of capacity)", task=t.id
            )
        raise Refused("RUN005", head, task=t.id)

    def _env(self, rec: TransitionRec, t: Task, now: float) -> dict[str, Any]:
        g = self._getters
        return {v: g[v](t, now) for v in rec.guard_vars if v in g}

    def _permitted(self, check: ActorCheck, agent: AgentInfo, t: Task) -> bool:
        if agent.role in check.roles:
            return True
        for rel in check.relations:
            if rel == "@assignee":
                if t.assignee == agent.id:
                    return True
            elif rel == "@peer":
                if agent.kind == "member" and agent.domain == t.domain and agent.id != t.assignee:
                    return True
            elif rel == "@lead":
                if agent.role == self.model.domain_lead_role.get(t.domain):
                    return True
            elif rel == "@member":
                if agent.kind == "member" and agent.domain == t.domain:
                    return True
            elif rel == "@downstream_lead":
                downstream = self._handoff_domain(t)
                if downstream is not None and agent.role == self.model.domain_lead_role.get(downstream):
                    return True
        return False

    def _agents_of(self, actor: str, t: Task) -> list[str]:
        """The agents an actor names for a task (notification targets)."""
        if actor == "@assignee":
            return [t.assignee] if t.assignee else []
        if actor == "@peer":
            return [a for a in self.model.domain_members.get(t.domain, ()) if a != t.assignee]
        if actor == "@downstream_lead":
            downstream = self._handoff_domain(t)
            return list(self.model.agents_for("@lead", downstream)) if downstream else []
        if actor == "@system":
            return []
        return list(self.model.agents_for(actor, t.domain))

    def _describe(self, check: ActorCheck, t: Task) -> str:
        parts = []
        for a in check.text:
            if not a.startswith("@"):
                parts.append(_q(a))
            elif a == "@system":
                parts.append("@system (the clock only)")
            elif a == "@peer":
                parts.append(f"@peer (a member of {_q(t.domain)} other than the assignee)")
            else:
                who = self._agents_of(a, t)
                parts.append(f"{a} ({_names(who) if who else 'nobody'})")
        return ", ".join(parts)

    # -- assignment ---------------------------------------------------------------

    def _assignment_transition(self, t: Task) -> TransitionRec:
        if t.assignee is not None:
            raise Refused(
                "RUN013", f"task {_q(t.id)} is assigned to {_q(t.assignee)} already; use `reassign`",
                task=t.id,
            )
        st = self.model.states[t.state]
        for rec in st.out.values():
            if t.tier in rec.tiers and self._owned_by_assignee[rec.target]:
                return rec
        options = [r.target for r in st.out.values() if t.tier in r.tiers]
        raise Refused(
            "RUN003",
            f"task {_q(t.id)} cannot be assigned in {_q(t.state)} at tier {t.tier}: no transition leads to a "
            f"state owned by @assignee; from {_q(t.state)} it can go to {_names(options)}",
            task=t.id,
        )

    def _score(self, t: Task, now: float) -> list[Scored]:
        m, ledger = self.model, self.state.ledger
        candidates = [
            replace(m.candidates[a], committed_hours=ledger.committed(a))
            for a in m.domain_members.get(t.domain, ())
            if a in m.candidates
        ]
        needs = TaskNeeds(t.required_skills, t.nice_skills, t.complexity, float(t.estimate_hours or 0.0))
        filt = m.assignment_filter
        scored = score_candidates(needs, candidates, m.weights, m.fit, m.horizon_days, filt)
        out = []
        for s in scored:
            if s.eligible and ledger.over_ic_limit(s.agent):
                s = Scored(s.agent, s.score, s.factors, False, "capacity")
            out.append(s)
        out.sort(key=lambda r: (not r.eligible, -r.score, r.agent))
        return out

    def _fallback(self, actor: AgentInfo, t: Task, scored: list[Scored], now: float) -> list[Draft]:
        fb = self.model.fallback
        if fb is None:
            raise Refused(
                "RUN015",
                f"no member of {_q(t.domain)} qualifies for {_q(t.id)} and the model declares no fallback",
                task=t.id,
            )
        to = self._agents_of(fb, t)
        filt = self.model.assignment.filter_text if self.model.assignment else None
        reason = (
            f"no member of {_q(t.domain)} qualifies for {_q(t.id)}"
            + (f" (filter {_q(filt)})" if filt else "")
            + f"; escalated to {fb}"
        )
        data = {"task": t.id, "to": to, "to_actor": fb, "reason": reason, "candidates": [_scored(s) for s in scored]}
        return [("assignment_escalated", now, actor.id, data)]

    # -- queries ------------------------------------------------------------------

    def task(self, task_id: str) -> dict[str, Any]:
        """A task as data (a copy)."""
        self.refresh()
        return self._task(task_id).dump()

    def inbox(self, agent: str) -> list[Message]:
        self.refresh()
        return list(self.state.inboxes.get(agent, ()))

    def events(self, after: int = 0) -> list[Event]:
        return self.store.read(after)

    def status(self) -> dict[str, Any]:
        """Counts of tasks per state, open escalations, utilisation per member."""
        self.refresh()
        by_state: dict[str, list[str]] = {}
        for t in self.state.tasks.values():
            by_state.setdefault(t.state, []).append(t.id)
        ledger = self.state.ledger
        return {
            "now": self.clock.now(),
            "last_seq": self.state.last_seq,
            "instructions": len(self.state.instructions),
            "tasks": {s: sorted(ids) for s, ids in sorted(by_state.items())},
            "escalations": len(self.state.escalations),
            "utilisation": {a: ledger.utilisation(a) for a in sorted(self.model.candidates)},
        }


# -- helpers -----------------------------------------------------------------------


Pending = tuple[float, int, str, str]
"""(due, kind, task id or protocol ident, target or protocol kind) of a firing"""


def _sorted_run(items: list[Pending]) -> list[Pending]:
    """``sorted(items)`` by stable passes on one field each, last field first:
    each pass compares plain strings or numbers, where many equal due times
    would make tuple comparisons slow. (due, kind, id) is unique per item."""
    if len(items) > 1:
        items.sort(key=itemgetter(2))
        items.sort(key=itemgetter(1))
        items.sort(key=itemgetter(0))
    return items


def _contention() -> Refused:
    return Refused("RUN017", f"the store changed under {MAX_ATTEMPTS} attempts in a row; try again")


def _moved(t: Task, target: str, attest: Sequence[str]) -> dict[str, Any]:
    # `attest` only when something was attested: a dict of strings and numbers
    # is not tracked by the cyclic garbage collector, one holding a list is
    if attest:
        return {"task": t.id, "source": t.state, "target": target, "visit": t.visit, "attest": list(attest)}
    return {"task": t.id, "source": t.state, "target": target, "visit": t.visit}


def _scored(s: Scored) -> dict[str, Any]:
    return {"agent": s.agent, "score": s.score, "factors": s.factors, "eligible": s.eligible, "rejected_by": s.rejected_by}


def _guard_getters(engine: Engine) -> dict[str, Callable[[Task, float], Any]]:
    state = engine.state
    terminal = {name: st.terminal for name, st in engine.model.states.items()}

    def deps_met(t: Task, now: float) -> bool:
        tasks = state.tasks
        return all(terminal[tasks[d].state] == "success" for d in t.dependencies)

    def has_capacity(t: Task, now: float) -> bool:
        return t.assignee is not None and not state.ledger.over_ic_limit(t.assignee)

    def utilization(t: Task, now: float) -> float:
        return state.ledger.utilisation(t.assignee) if t.assignee is not None else 0.0

    return {
        "tier": lambda t, now: t.tier,
        "task.kind": lambda t, now: t.kind,
        "task.complexity": lambda t, now: t.complexity,
        "task.priority": lambda t, now: t.priority,
        "task.domain": lambda t, now: t.domain,
        "task.cross_domain": lambda t, now: t.handoff_to is not None,
        "task.dependencies_met": deps_met,
        "assignee.has_capacity": has_capacity,
        "assignee.utilization": utilization,
        "time_in_state": lambda t, now: now - t.entered_at,
        "tokens_in_state": lambda t, now: t.tokens_in_state,
    }


# -- explaining a false guard ---------------------------------------------------------


def _render(node: Mapping[str, Any], top: bool = True) -> str:
    if "var" in node:
        return str(node["var"])
    if "const" in node:
        c = node["const"]
        return "true" if c is True else "false" if c is False else str(c)
    op = node["op"]
    if op in ("and", "or"):
        text = f" {op} ".join(_render(a, False) for a in node["args"])
        return text if top else f"({text})"
    if op == "not":
        return f"not {_render(node['arg'], False)}"
    if op == "in":
        return f"{_render(node['left'], False)} in [{', '.join(_render(i, False) for i in node['items'])}]"
    return f"{_render(node['left'], False)} {op} {_render(node['right'], False)}"


def _false_nodes(node: Mapping[str, Any], env: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The smallest parts of a false guard that make it false."""
    if node.get("op") == "and":
        out: list[Mapping[str, Any]] = []
        for a in node["args"]:
            if not compile_guard(a)(env):
                out += _false_nodes(a, env)
        return out
    if node.get("op") == "or":
        return [p for a in node["args"] for p in _false_nodes(a, env)]
    return [node]


def _vars(node: Mapping[str, Any]) -> list[str]:
    return sorted(compile_guard(node).variables)


def _false_parts(tree: Mapping[str, Any], env: Mapping[str, Any]) -> list[str]:
    parts = []
    for n in _false_nodes(tree, env):
        values = ", ".join(f"{v} = {_value(env.get(v))}" for v in _vars(n))
        text = f"`{_render(n)}` is false"
        parts.append(f"{text} ({values})" if values and not (_vars(n) == [_render(n)]) else text)
    return parts


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
