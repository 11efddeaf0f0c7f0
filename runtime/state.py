"""The state of a running organisation: the fold of its events.

``OrgState.apply(event)`` is the only way state changes; an engine that
replays a store from the start reaches exactly the state of the engine that
wrote it. ``dump()`` gives a canonical, JSON-ready picture of the state (for
comparing a replayed state with a live one).

Besides the recorded facts the state keeps two derived structures, rebuilt by
the fold itself: the capacity ledger (committed hours per agent) and the
timer heap (SLA thresholds, missed heartbeats and automatic transitions of
each task's current state visit). A timer key is checked against the task
when it fires, so a timer of a visit the task has left is simply dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .capacity import Ledger
from .events import Event
from .model import Budget, Model, StateRec
from .timers import TimerHeap

# Timer kinds; at equal due times SLA notices fire before a heartbeat check,
# and both before an automatic transition leaves the state.
WARN, ESCALATE, HEARTBEAT, AFTER = 0, 1, 2, 3
TIMER_KINDS = {WARN: "warn", ESCALATE: "escalate", HEARTBEAT: "heartbeat", AFTER: "after"}

Due = tuple[float, int, str]
"""(due time, kind, target state of an automatic transition or "")"""

Plan = tuple[tuple[float, int, str], ...]
"""time offsets from entering a state: (offset, kind, target), in firing order"""


@dataclass(slots=True)
class Instruction:
    id: str
    text: str
    tier: int
    by: str
    at: float
    tasks: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Task:
    id: str
    instruction: str
    kind: str
    domain: str
    title: str
    tier: int
    required_skills: tuple[str, ...]
    nice_skills: tuple[str, ...]
    complexity: str
    priority: str
    estimate_hours: float | None
    estimate_tokens: float | None
    dependencies: tuple[str, ...]
    parent: str | None
    handoff_to: str | None
    created_at: float
    state: str
    entered_at: float
    assignee: str | None = None
    visit: int = 1
    tokens_in_state: float = 0.0
    tokens_total: float = 0.0
    last_heartbeat: float | None = None
    hb_due: float | None = None
    attested: set[str] = field(default_factory=set)
    decisions: dict[str, str] = field(default_factory=dict)
    fired: set[str] = field(default_factory=set)
    history: list[tuple[int, float, str, str]] = field(default_factory=list)
    """(seq, at, source, target) of every move"""
    plan: Plan | None = None
    """derived: the time-based deadlines of the current state visit (None: not planned yet)"""
    skipped: frozenset[str] = frozenset()
    """derived: automatic transitions of this visit whose guard or gates failed when due"""

    @property
    def cross_domain(self) -> bool:
        return self.handoff_to is not None

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id, "instruction": self.instruction, "kind": self.kind, "domain": self.domain,
            "title": self.title, "tier": self.tier, "required_skills": list(self.required_skills),
            "nice_skills": list(self.nice_skills), "complexity": self.complexity, "priority": self.priority,
            "estimate_hours": self.estimate_hours, "estimate_tokens": self.estimate_tokens,
            "dependencies": list(self.dependencies), "parent": self.parent, "handoff_to": self.handoff_to,
            "created_at": self.created_at, "state": self.state, "entered_at": self.entered_at,
            "assignee": self.assignee, "visit": self.visit, "tokens_in_state": self.tokens_in_state,
            "tokens_total": self.tokens_total, "last_heartbeat": self.last_heartbeat, "hb_due": self.hb_due,
            "attested": sorted(self.attested), "decisions": dict(sorted(self.decisions.items())),
            "fired": sorted(self.fired), "history": [list(h) for h in self.history],
        }


@dataclass(slots=True)
class Message:
    """An inbox entry: a notice sent to one agent."""

    seq: int
    at: float
    type: str
    task: str | None
    text: str

    def dump(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "type": self.type, "task": self.task, "text": self.text}


def resolve(budget: Budget, state: StateRec, task: Task) -> list[tuple[str, float]]:
    """A budget as amounts for this task in this state: ``("time", seconds)``
    and/or ``("tokens", count)``. An ``estimate`` budget (or a multiple of one)
    applies in each dimension the task has an estimate in, whichever is reached
    first; without an estimate it does not apply (an empty list)."""
    kind = budget.kind
    if kind == "time" or kind == "tokens":
        return [(kind, budget.value)]
    if kind == "estimate":
        out = []
        if task.estimate_hours is not None:
            out.append(("time", budget.value * task.estimate_hours * 3600.0))
        if task.estimate_tokens is not None:
            out.append(("tokens", budget.value * task.estimate_tokens))
        return out
    target = state.target_for(task.tier)
    if target is None or target.kind == "multiple":
        return []
    return [(dim, amount * budget.value) for dim, amount in resolve(target, state, task)]


class OrgState:
    """Tasks, instructions, inboxes, escalations, capacity and timers."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.last_seq = 0
        self.tasks: dict[str, Task] = {}
        self.instructions: dict[str, Instruction] = {}
        self.inboxes: dict[str, list[Message]] = {}
        self.escalations: list[dict[str, Any]] = []
        self.ledger = Ledger.from_model(
            model.capacity,
            {a: c.hours_per_day for a, c in model.candidates.items()},
            {a.id: a.domain for a in model.agents.values()},
        )
        self.timers = TimerHeap()
        """one timer per open task (key: the task id), due at its next deadline"""
        self._dirty: set[str] = set()
        self._beat = {
            name: st.heartbeat.value if st.heartbeat is not None and st.heartbeat.kind == "time" else None
            for name, st in model.states.items()
        }
        self._terminal = {name: st.terminal for name, st in model.states.items()}
        self._plans: dict[tuple[str, int, float | None, float | None], Plan] = {}
        self._apply = {
            "instruction_submitted": self._instruction_submitted,
            "task_created": self._task_created,
            "task_assigned": self._task_assigned,
            "assignment_escalated": self._assignment_escalated,
            "task_moved": self._task_moved,
            "heartbeat": self._heartbeat,
            "gate_decided": self._gate_decided,
            "sla_warning": self._sla_notice,
            "sla_escalation": self._sla_notice,
            "heartbeat_missed": self._heartbeat_missed,
        }

    # -- the fold ---------------------------------------------------------------

    def apply(self, event: Event) -> None:
        if event.seq != self.last_seq + 1:
            raise ValueError(f"event {event.seq} applied after {self.last_seq}")
        handler = self._apply.get(event.type)
        if handler is not None:
            handler(event)
        self.last_seq = event.seq

    def _instruction_submitted(self, e: Event) -> None:
        d = e.data
        self.instructions[d["instruction"]] = Instruction(d["instruction"], d["text"], d["tier"], d["by"], e.at)

    def _task_created(self, e: Event) -> None:
        d = e.data
        task = Task(
            id=d["task"], instruction=d["instruction"], kind=d["kind"], domain=d["domain"], title=d["title"],
            tier=d["tier"], required_skills=tuple(d["required_skills"]), nice_skills=tuple(d["nice_skills"]),
            complexity=d["complexity"], priority=d["priority"], estimate_hours=d["estimate_hours"],
            estimate_tokens=d["estimate_tokens"], dependencies=tuple(d["dependencies"]), parent=d["parent"],
            handoff_to=d["handoff_to"], created_at=e.at, state=d["state"], entered_at=e.at,
        )
        self.tasks[task.id] = task
        self.instructions[task.instruction].tasks.append(task.id)
        self._enter(task, e.at)

    def _task_assigned(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        if task.assignee is not None:
            self.ledger.release(task.id)
        task.assignee = d["agent"]
        self.ledger.commit(d["agent"], task.id, float(task.estimate_hours or 0.0), None)
        self._notify(e, [d["agent"]], task.id, f"you are assigned `{task.id}` ({task.title})")

    def _assignment_escalated(self, e: Event) -> None:
        d = e.data
        self.escalations.append({"seq": e.seq, "at": e.at, "task": d["task"], "to": d["to"], "reason": d["reason"]})
        self._notify(e, d["to"], d["task"], d["reason"])

    def _task_moved(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        task.history.append((e.seq, e.at, task.state, d["target"]))
        task.state = d["target"]
        task.visit += 1
        task.entered_at = e.at
        task.tokens_in_state = 0.0
        if task.decisions:
            task.decisions = {}
        if task.fired:
            task.fired = set()
        attest = d.get("attest")
        if attest:
            task.attested.update(attest)
        if self._terminal[task.state] is not None:
            self.ledger.release(task.id)
        self._enter(task, e.at)

    def _heartbeat(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        tokens = float(d.get("tokens", 0))
        task.tokens_in_state += tokens
        task.tokens_total += tokens
        task.last_heartbeat = e.at
        remaining = d.get("remaining_hours")
        if remaining is not None and task.assignee is not None:
            self.ledger.update_remaining(task.id, float(remaining))
        beat = self.model.states[task.state].heartbeat
        if beat is not None and beat.kind == "time":
            task.hb_due = e.at + beat.value
            self._dirty.add(task.id)

    def _gate_decided(self, e: Event) -> None:
        d = e.data
        self.tasks[d["task"]].decisions[d["gate"]] = d["outcome"]

    def _sla_notice(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        kind = "warn" if e.type == "sla_warning" else "escalate"
        task.fired.add(kind)
        verb = "is late" if kind == "warn" else "is escalated"
        text = f"`{task.id}` {verb}: {d['measured_text']} in `{d['state']}` (threshold {d['threshold']})"
        if kind == "escalate":
            self.escalations.append({"seq": e.seq, "at": e.at, "task": task.id, "to": d["to"], "reason": text})
        self._notify(e, d["to"], task.id, text)
        self._dirty.add(task.id)

    def _heartbeat_missed(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        beat = self.model.states[task.state].heartbeat
        if beat is not None:
            task.hb_due = float(d["due"]) + beat.value
        self._dirty.add(task.id)
        self._notify(e, d["to"], task.id, f"`{task.id}`: no heartbeat since {d['since']} (due {d['due']})")

    # -- helpers ----------------------------------------------------------------

    def _notify(self, e: Event, agents: list[str], task: str | None, text: str) -> None:
        for agent in agents:
            self.inboxes.setdefault(agent, []).append(Message(e.seq, e.at, e.type, task, text))

    def _enter(self, task: Task, at: float) -> None:
        """Start a state visit. Its deadlines are planned lazily, when the clock
        is next processed (``flush``), so a burst of commands costs no timer work."""
        beat = self._beat[task.state]
        task.hb_due = at + beat if beat is not None else None
        if task.skipped:
            task.skipped = frozenset()
        task.plan = None
        self._dirty.add(task.id)

    def flush(self) -> None:
        """Schedule the tasks whose deadlines changed since the last flush."""
        tasks = self.tasks
        for tid in self._dirty:
            self.schedule(tasks[tid])
        self._dirty.clear()

    def plan_of(self, task: Task) -> Plan:
        plan = task.plan
        if plan is None:
            key = (task.state, task.tier, task.estimate_hours, task.estimate_tokens)
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plans[key] = self._plan(self.model.states[task.state], task)
            task.plan = plan
        return plan

    def _plan(self, st: StateRec, task: Task) -> Plan:
        if st.terminal is not None:
            return ()
        items: list[tuple[float, int, str]] = []
        for kind, th in ((WARN, st.warn), (ESCALATE, st.escalate)):
            if th is not None:
                items += [(amount, kind, "") for dim, amount in resolve(th.budget, st, task) if dim == "time"]
        for t in st.automatic:
            if task.tier in t.tiers and t.after is not None and t.after.kind == "time":
                items.append((t.after.value, AFTER, t.target))
        return tuple(sorted(items))

    def next_due(self, task: Task) -> Due | None:
        """The task's earliest deadline of this visit that has not been met."""
        best: Due | None = None
        fired, at = task.fired, task.entered_at
        for offset, kind, target in self.plan_of(task):
            if kind == AFTER:
                if target in task.skipped:
                    continue
            elif (kind == WARN and "warn" in fired) or (kind == ESCALATE and "escalate" in fired):
                continue
            best = (at + offset, kind, target)
            break
        if task.hb_due is not None and (best is None or (task.hb_due, HEARTBEAT) < best[:2]):
            best = (task.hb_due, HEARTBEAT, "")
        return best

    def schedule(self, task: Task) -> None:
        """Keep one timer per open task, at its next deadline."""
        nxt = self.next_due(task)
        if nxt is None:
            self.timers.cancel((task.id,))
        else:
            self.timers.push(nxt[0], (task.id,))

    # -- views ------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The state as canonical JSON-ready data (timers excluded: they are derived)."""
        agents = sorted(self.model.candidates)
        return {
            "last_seq": self.last_seq,
            "instructions": {
                k: {"text": i.text, "tier": i.tier, "by": i.by, "at": i.at, "tasks": list(i.tasks)}
                for k, i in sorted(self.instructions.items())
            },
            "tasks": {k: t.dump() for k, t in sorted(self.tasks.items())},
            "inboxes": {a: [m.dump() for m in msgs] for a, msgs in sorted(self.inboxes.items())},
            "escalations": list(self.escalations),
            "committed": {a: self.ledger.committed(a) for a in agents},
        }
