"""The state of a running organisation: the fold of its events.

``OrgState.apply(event)`` is the only way state changes; an engine that
replays a store from the start reaches exactly the state of the engine that
wrote it. ``dump()`` gives a canonical, JSON-ready picture of the state (for
comparing a replayed state with a live one).

Besides the recorded facts the state keeps derived structures, rebuilt by
the fold itself: the capacity ledger (committed hours per agent), the timer
heap (SLA thresholds, missed heartbeats and automatic transitions of each
task's current state visit) and two indexes (the strategic tasks that depend
on a task, the escalations of a task). A timer key is checked against the task
when it fires, so a timer of a visit the task has left is simply dropped.

When ``changes`` is set, the fold also notes what each event touched (tasks,
protocol records, capacity, appended messages and entries): the projection
rewrites only those files. Records are kept in ``Table``s, which a snapshot
fills with encoded records that are decoded when first used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .capacity import Ledger
from .contract.codec import to_data
from .contract.events import Event
from .contract.events import EventType as T
from .contract.model import OWNER
from .model import Model, StateRec
from .records import (
    Consultation,
    Delegation,
    Handoff,
    Instruction,
    Launch,
    Message,
    Plan,
    Table,
    Task,
    rationale_of,
    resolve,
)
from .timefmt import iso
from .timers import TimerHeap

# Timer kinds; at equal due times SLA notices fire before a heartbeat check,
# and both before an automatic transition leaves the state. Protocol timers
# (keys of two parts: kind name and id) fire after the task timers of the same time.
WARN, ESCALATE, HEARTBEAT, AFTER = 0, 1, 2, 3
ACK, DOMAIN, STANDUP, CONSULT = 4, 5, 6, 7
TIMER_KINDS = {
    WARN: "warn", ESCALATE: "escalate", HEARTBEAT: "heartbeat", AFTER: "after",
    ACK: "ack", DOMAIN: "domain", STANDUP: "standup", CONSULT: "consult",
}
PROTOCOL_TIMERS = {"ack": ACK, "domain": DOMAIN, "standup": STANDUP, "consult": CONSULT}

Due = tuple[float, int, str]
"""(due time, kind, target state of an automatic transition, ``level_key`` of a policy's level, or "")"""


def level_key(level: int, round_: int) -> str:
    """The timer target, and the mark in ``Task.fired``, of an escalation policy's level
    (both counted from 1) in one round of the chain."""
    return f"level {level} round {round_}"



class UnknownEvent(ValueError):
    """An event of a type the fold has no handler for: the log is not this runtime's."""


@dataclass(slots=True)
class Changes:
    """What the events after ``since`` touched, as the projection needs it."""

    since: int
    tasks: set[str] = field(default_factory=set)
    messages: list[tuple[str, Message, str | None]] = field(default_factory=list)
    """(recipient, message, the acting agent of its event)"""
    escalations: list[dict[str, Any]] = field(default_factory=list)
    """new entries of ``escalations`` and ``protocol_escalations``"""
    handoffs: set[str] = field(default_factory=set)
    delegations: set[str] = field(default_factory=set)
    acknowledgements: set[str] = field(default_factory=set)
    consultations: set[str] = field(default_factory=set)
    broadcasts: list[dict[str, Any]] = field(default_factory=list)
    standups: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[Event] = field(default_factory=list)
    domains: set[str] = field(default_factory=set)
    """domains whose commitments changed"""


class OrgState:
    """Tasks, instructions, inboxes, escalations, capacity and timers."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.last_seq = 0
        self.tasks: Table[Task] = Table(tag="state")
        self.kind_counts: dict[tuple[str, str | None], int] = {}
        """(kind, parent) -> how many tasks of that kind and parent exist (for default ids)"""
        self.kind_totals: dict[str, int] = {}
        """kind -> how many tasks of that kind exist (derived from ``kind_counts``)"""
        self._by_state: dict[str, dict[str, None]] | None = None
        """derived: state -> the ids of the tasks in it, in order of creation; made on first
        use (``by_state``) and then kept by the fold"""
        self.instructions: Table[Instruction] = Table()
        self.inboxes: Table[list[Message]] = Table()
        self.escalations: list[dict[str, Any]] = []
        self.escalations_by_task: dict[str, list[dict[str, Any]]] = {}
        """derived: task -> its entries of ``escalations``"""
        self.strategic_dependents: dict[str, list[str]] = {}
        """derived: task -> the strategic tasks that depend on it"""
        self.consumers: dict[str, list[str]] = {}
        """derived: task -> the tasks that depend on it or are its children (what it leaves,
        outputs and notes, are their inputs)"""
        self.changes: Changes | None = None
        """what the events since ``changes.since`` touched, when the projection asks for it"""
        self.ledger = Ledger.from_model(
            model.capacity,
            {a: c.hours_per_day for a, c in model.candidates.items()},
            {a.id: a.domain for a in model.agents.values()},
        )
        self.timers = TimerHeap()
        """one timer per open task (key: the task id), due at its next deadline,
        and one per open protocol deadline (key: kind name, id)"""
        self._dirty: set[str] = set()
        self._dirty_protocol: set[tuple[str, str]] = set()
        self.flows = model.flows
        self.handoffs: Table[Handoff] = Table(tag="status")
        self.delegations: Table[Delegation] = Table(tag="status")
        self.consultations: Table[Consultation] = Table(tag="status")
        self.waiting: dict[tuple[str, str], str] = {}
        """(asker, task or instruction id) -> the open blocking consultation that holds it up"""
        self.broadcasts: list[dict[str, Any]] = []
        self.protocol_escalations: list[dict[str, Any]] = []
        """escalations not about one task: overdue acknowledgements, domain capacity"""
        self.domain_band: dict[str, str] = {}
        """the capacity band each domain is in (absent: the band of utilisation 0)"""
        self.band_entries: list[dict[str, Any]] = []
        self.domain_above: dict[str, float] = {}
        """domain -> since when it is above the domain limit (the current episode)"""
        self.domain_escalated: set[str] = set()
        self.assignment_count = 0
        self.reassignment_count = 0
        self.standup_origin: dict[str, float] = {}
        """standup -> when its cadence was started (``standups_scheduled``)"""
        self.standup_last: dict[str, float] = {}
        self.standups: list[dict[str, Any]] = []
        self.launches: dict[str, Launch] = {}
        """item key -> its latest launch (``running`` until its exit is recorded)"""
        period = model.capacity.domain_period if model.capacity else None
        self._domain_period = period.value if period is not None and period.kind == "time" else None
        self._standup_every = {
            name: su.every.value for name, su in model.standups.items()
            if su.every.kind == "time" and su.every.value > 0
        }
        self._beat = {
            name: st.heartbeat.value if st.heartbeat is not None and st.heartbeat.kind == "time" else None
            for name, st in model.states.items()
        }
        self._terminal = {name: st.terminal for name, st in model.states.items()}
        self._notices = {name: st.notify for name, st in model.states.items() if st.notify}
        self._plans: dict[tuple[str, int, float | None, float | None], Plan] = {}
        self._apply: dict[str, Callable[[Event], None]] = {
            T.INSTRUCTION_SUBMITTED: self._instruction_submitted,
            T.TASK_CREATED: self._task_created,
            T.TASK_ASSIGNED: self._task_assigned,
            T.ASSIGNMENT_ESCALATED: self._assignment_escalated,
            T.TASK_MOVED: self._task_moved,
            T.HEARTBEAT: self._heartbeat,
            T.GATE_DECIDED: self._gate_decided,
            T.SLA_WARNING: self._sla_notice,
            T.SLA_ESCALATION: self._sla_notice,
            T.HEARTBEAT_MISSED: self._heartbeat_missed,
            T.HANDOFF_CREATED: self._handoff_created,
            T.HANDOFF_TICKED: self._handoff_ticked,
            T.HANDOFF_ACCEPTED: self._handoff_decided,
            T.HANDOFF_REJECTED: self._handoff_decided,
            T.DELEGATED: self._delegated,
            T.DELEGATION_ACKNOWLEDGED: self._delegation_acknowledged,
            T.DELEGATION_OVERDUE: self._delegation_overdue,
            T.CONSULTATION_ASKED: self._consultation_asked,
            T.CONSULTATION_ANSWERED: self._consultation_settled,
            T.CONSULTATION_TIMED_OUT: self._consultation_settled,
            T.BROADCAST_SENT: self._broadcast_sent,
            T.STAGE_RAN: self._stage_ran,
            T.INSTRUCTION_GATE_DECIDED: self._instruction_gate_decided,
            T.INSTRUCTION_CLOSED: self._instruction_closed,
            T.TASK_REASSIGNED: self._task_reassigned,
            T.CLARIFICATION_RECORDED: self._clarification_recorded,
            T.DEFECT_RECORDED: self._defect_recorded,
            T.DOMAIN_CAPACITY_ESCALATED: self._domain_capacity_escalated,
            T.STANDUP_REPORTED: self._standup_reported,
            T.STANDUPS_SCHEDULED: self._standups_scheduled,
            T.AGENT_LAUNCHED: self._agent_launched,
            T.AGENT_EXITED: self._agent_exited,
            T.ROUNDS_EXHAUSTED: self._rounds_exhausted,
        }
        missing = [t for t in T if t not in self._apply]
        if missing:
            raise AssertionError(f"the fold has no handler for {missing}")

    # -- the fold ---------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one event into the state; events come in sequence, of known types only."""
        if event.seq != self.last_seq + 1:
            raise ValueError(f"event {event.seq} applied after {self.last_seq}")
        handler = self._apply.get(event.type)
        if handler is None:
            raise UnknownEvent(f"event {event.seq} has the unknown type `{event.type}`")
        handler(event)
        self.last_seq = event.seq

    def _instruction_submitted(self, e: Event) -> None:
        d = e.data
        ins = self.instructions[d["instruction"]] = Instruction(d["instruction"], d["text"], d["tier"], d["by"], e.at)
        self._stage(ins, "routing")

    def _task_created(self, e: Event) -> None:
        d = e.data
        task = Task(
            id=d["task"], instruction=d["instruction"], kind=d["kind"], domain=d["domain"], title=d["title"],
            tier=d["tier"], required_skills=tuple(d["required_skills"]), nice_skills=tuple(d["nice_skills"]),
            complexity=d["complexity"], priority=d["priority"], estimate_hours=d["estimate_hours"],
            estimate_tokens=d["estimate_tokens"], dependencies=tuple(d["dependencies"]), parent=d["parent"],
            handoff_to=d["handoff_to"], created_at=e.at, state=d["state"], entered_at=e.at,
            description=d.get("description", ""), acceptance_criteria=tuple(d.get("acceptance_criteria", ())),
            labels=tuple(d.get("labels", ())),
        )
        self.tasks[task.id] = task
        if self._by_state is not None:
            self._by_state.setdefault(task.state, {})[task.id] = None
        key = (task.kind, task.parent or None)
        self.kind_counts[key] = self.kind_counts.get(key, 0) + 1
        self.kind_totals[task.kind] = self.kind_totals.get(task.kind, 0) + 1
        for dep in dict.fromkeys([*task.dependencies, *([task.parent] if task.parent else [])]):
            self.consumers.setdefault(dep, []).append(task.id)
        ch = self.changes
        if task.kind == "strategic":
            for dep in task.dependencies:
                self.strategic_dependents.setdefault(dep, []).append(task.id)
                if ch is not None:
                    ch.tasks.add(dep)
        ins = self.instructions[task.instruction]
        ins.tasks.append(task.id)
        flow = self.flows.get(ins.tier)
        if flow is not None:
            stage = flow.planning_stage(task.kind)
            if stage is not None:
                self._stage(ins, stage)
        self._enter(task, e.at)
        if task.state in self._notices:
            self._entered(e, task)

    def _task_assigned(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        previous = task.assignee
        if previous is not None:
            self.ledger.release(task.id)
        task.assignee = d["agent"]
        task.assignment = rationale_of(d["mode"], d["agent"], d.get("score"), d.get("factors"))
        self.ledger.commit(d["agent"], task.id, float(task.estimate_hours or 0.0), None)
        self.assignment_count += 1
        self._stage(self.instructions[task.instruction], "execution")
        self._notify(e, [d["agent"]], task.id, f"you are assigned `{task.id}` ({task.title})")
        self._capacity_changed(task.domain, e)

    def _assignment_escalated(self, e: Event) -> None:
        d = e.data
        self._escalate({"seq": e.seq, "at": e.at, "task": d["task"], "to": d["to"], "reason": d["reason"]})
        self._notify(e, d["to"], d["task"], d["reason"])

    def _task_moved(self, e: Event) -> None:
        seq, _, at, _, d = e
        task = self.tasks[d["task"]]
        target = d["target"]
        task.history.append((seq, at, task.state, target))
        if self._by_state is not None:
            del self._by_state[task.state][task.id]
            self._by_state.setdefault(target, {})[task.id] = None
        task.state = target
        task.visit += 1
        task.entered_at = at
        task.tokens_in_state = 0.0
        if task.decisions:
            task.decisions = {}
        if task.fired:
            task.fired = set()
        attest = d.get("attest")
        if attest:
            task.attested.update(attest)
        if "note" in d or "outputs" in d:
            self._left(task, e, d.get("note"), d.get("outputs"))
        if task.handoff is not None:
            self._withdraw(task, e)
        if self._terminal[target] is not None and self.ledger.release(task.id):
            self._capacity_changed(task.domain, e)
        # _enter(task, at), inline: this is the fold's most frequent event
        beat = self._beat[target]
        task.hb_due = at + beat if beat is not None else None
        if task.skipped:
            task.skipped = frozenset()
        task.plan = None
        self._dirty.add(task.id)
        ch = self.changes
        if ch is not None:
            ch.tasks.add(task.id)
        if target in self._notices:
            self._entered(e, task)

    def _heartbeat(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        tokens = float(d.get("tokens", 0))
        task.tokens_in_state += tokens
        task.tokens_total += tokens
        task.last_heartbeat = e.at
        remaining = d.get("remaining_hours")
        if remaining is not None and task.assignee is not None and self.ledger.agent_of(task.id) is not None:
            self.ledger.update_remaining(task.id, float(remaining))
            self._capacity_changed(task.domain, e)
        actual = d.get("actual_hours")
        if actual is not None:
            task.actual_hours = float(actual)
        beat = self.model.states[task.state].heartbeat
        if beat is not None and beat.kind == "time":
            task.hb_due = e.at + beat.value
            self._dirty.add(task.id)
        self._touched(task.id)

    def _gate_decided(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        task.decisions[d["gate"]] = d["outcome"]
        ch = self.changes
        if ch is not None:
            ch.tasks.add(task.id)
            ch.decisions.append(e)
        if "note" in d:
            self._left(task, e, d["note"], None)
        if self.model.gates[d["gate"]].notify:
            self._decided(e, task, d["gate"], d["outcome"])

    def _left(self, task: Task, e: Event, note: str | None, outputs: list[str] | None) -> None:
        """What a move or a gate decision left on the task: a note, outputs."""
        d = e.data
        for path in outputs or ():
            if path not in task.outputs:
                task.outputs = (*task.outputs, path)
        if note is not None:
            entry: dict[str, Any] = {"seq": e.seq, "at": e.at, "by": e.actor, "state": d.get("source", d.get("state"))}
            if e.type == "gate_decided":
                entry.update(gate=d["gate"], outcome=d["outcome"])
            else:
                entry["to"] = d["target"]
            entry["text"] = note
            task.notes = (*task.notes, entry)

    def _rounds_exhausted(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        n = d["rounds"]
        done = f"`{task.id}` went through `{d['source']} -> {d['target']}` {n} time{'' if n == 1 else 's'}, its limit"
        if d["then"] is not None:
            text = f"{done}; it goes to `{d['then']}` instead"
        else:
            text = f"{done}; escalated to {d['to_actor']}"
            self._escalate({"seq": e.seq, "at": e.at, "task": task.id, "to": d["to"], "reason": text})
        self._notify(e, d["to"], task.id, text)

    def _decided(self, e: Event, task: Task, gate: str, outcome: str) -> None:
        """The notices of a gate's outcome."""
        for n in self.model.gates[gate].notify:
            if not n.outcomes or outcome in n.outcomes:
                said = f"gate `{gate}` decided `{outcome}` on `{task.id}`"
                self._notify(e, self.recipients(n.to, task), task.id, f"{said}: {n.text}" if n.text else said,
                             "notification")

    def _entered(self, e: Event, task: Task) -> None:
        """The notices of the state a task has just entered."""
        for n in self._notices[task.state]:
            said = f"`{task.id}` entered `{task.state}`"
            self._notify(e, self.recipients(n.to, task), task.id, f"{said}: {n.text}" if n.text else said,
                         "notification")

    def recipients(self, actors: tuple[str, ...], task: Task) -> list[str]:
        """The agents a list of actors names for a task, each once, in order; ``@owner`` is
        the owner of the state the task is in."""
        model, out = self.model, []
        for actor in actors:
            if actor == OWNER:
                owner = model.states[task.state].owner
                if owner is None or owner == OWNER:
                    continue
                actor = owner
            for agent in model.agents_of(actor, task.assignee, task.domain, self.downstream(task)):
                if agent not in out:
                    out.append(agent)
        return out

    def downstream(self, task: Task) -> str | None:
        """The downstream domain of a task: its open handoff's, else its declared ``handoff_to``."""
        if task.handoff is not None:
            return self.handoffs[task.handoff].to_domain
        return task.handoff_to

    def _sla_notice(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        kind = "warn" if e.type == "sla_warning" else "escalate"
        level = d.get("level")
        task.fired.add(kind)  # escalated in this visit, by `escalate` or a policy's level
        if level is not None:
            task.fired.add(level_key(level, d["round"]))
        verb = "is late" if kind == "warn" else "is escalated"
        if level is not None:
            policy = f" of `{d['policy']}`" if d.get("policy") else ""
            verb += f" (level {level}{policy}, round {d['round']})"
        text = f"`{task.id}` {verb}: {d['measured_text']} in `{d['state']}` (threshold {d['threshold']})"
        if kind == "escalate":
            self._escalate({"seq": e.seq, "at": e.at, "task": task.id, "to": d["to"], "reason": text})
        self._notify(e, d["to"], task.id, text)
        self._touched(task.id)

    def _heartbeat_missed(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        beat = self.model.states[task.state].heartbeat
        if beat is not None:
            task.hb_due = float(d["due"]) + beat.value
        self._dirty.add(task.id)
        self._touched(task.id)
        self._notify(e, d["to"], task.id, f"`{task.id}`: no heartbeat since {iso(d['since'])} (due {iso(d['due'])})")

    # -- protocols --------------------------------------------------------------

    def _handoff_created(self, e: Event) -> None:
        d = e.data
        h = Handoff(
            id=d["handoff"], task=d["task"], from_domain=d["from_domain"], to_domain=d["to_domain"], by=d["by"],
            at=e.at, summary=d["summary"], artifacts=list(d["artifacts"]), checklist=list(d["checklist"]),
            accepted_by=d["accepted_by"], on_accept=d["on_accept"], on_reject=d["on_reject"],
        )
        self.handoffs[h.id] = h
        self.tasks[h.task].handoff = h.id
        self._touched(h.task, handoff=h.id)
        self._notify(e, d["to"], h.task, f"handoff `{h.id}` of `{h.task}` from `{h.from_domain}`: {h.summary}")

    def _handoff_ticked(self, e: Event) -> None:
        h = self.handoffs[e.data["handoff"]]
        h.ticked.append(e.data["item"])
        if e.actor:
            h.ticked_by[e.data["item"]] = e.actor
        self._touched(None, handoff=h.id)

    def _handoff_decided(self, e: Event) -> None:
        d = e.data
        h = self.handoffs[d["handoff"]]
        h.status = "accepted" if e.type == "handoff_accepted" else "rejected"
        h.decided_by, h.decided_at, h.reason = e.actor, e.at, d.get("reason")
        self.tasks[h.task].handoff = None
        self._touched(h.task, handoff=h.id)
        text = f"handoff `{h.id}` of `{h.task}` {h.status} by `{e.actor}`" + (f": {h.reason}" if h.reason else "")
        self._notify(e, d["to"], h.task, text)

    def _withdraw(self, task: Task, e: Event) -> None:
        h = self.handoffs[task.handoff or ""]
        h.status, h.decided_by, h.decided_at = "withdrawn", e.actor, e.at
        task.handoff = None
        self._touched(None, handoff=h.id)

    def _delegated(self, e: Event) -> None:
        d = e.data
        dl = Delegation(
            id=d["delegation"], sender=d["from"], to=d["to"], subject=d["subject"], message=d["message"],
            priority=d["priority"], instruction=d.get("instruction"), task=d.get("task"), at=e.at, due=d.get("due"),
            seq=e.seq,
        )
        self.delegations[dl.id] = dl
        if self.changes is not None:
            self.changes.delegations.add(dl.id)
        by = f" (acknowledge by {iso(dl.due)})" if dl.due is not None else ""
        self._notify(e, [dl.to], dl.task, f"[{dl.priority}] `{dl.id}` from `{dl.sender}`: {dl.subject}{by}")
        self._dirty_protocol.add(("ack", dl.id))

    def _delegation_acknowledged(self, e: Event) -> None:
        d = e.data
        dl = self.delegations[d["delegation"]]
        dl.status = "accepted" if d["accepted"] else "declined"
        dl.acknowledged_at, dl.notes, dl.acknowledged_seq = e.at, d.get("notes") or "", e.seq
        if self.changes is not None:
            self.changes.delegations.add(dl.id)
            self.changes.acknowledgements.add(dl.id)
        self._notify(e, [dl.sender], dl.task, f"`{dl.id}` {dl.status} by `{dl.to}`" + (f": {dl.notes}" if dl.notes else ""))
        self._dirty_protocol.add(("ack", dl.id))

    def _delegation_overdue(self, e: Event) -> None:
        d = e.data
        dl = self.delegations[d["delegation"]]
        dl.escalated = True
        if self.changes is not None:
            self.changes.delegations.add(dl.id)
        text = f"`{dl.id}` ({dl.subject}) sent to `{dl.to}` is not acknowledged (due {iso(dl.due) if dl.due is not None else 'unknown'})"
        self._escalate_protocol(
            {"seq": e.seq, "at": e.at, "kind": "acknowledgement", "delegation": dl.id, "to": d["to"], "reason": text}
        )
        self._notify(e, d["to"], dl.task, text)

    def _consultation_asked(self, e: Event) -> None:
        d = e.data
        c = Consultation(
            id=d["id"], name=d["consultation"], asker=d["from"], to=tuple(d["to"]), question=d["question"],
            instruction=d.get("instruction"), task=d.get("task"), blocking=bool(d["blocking"]), at=e.at,
            due=d.get("due"), default=d.get("default"), seq=e.seq,
        )
        self.consultations[c.id] = c
        if self.changes is not None:
            self.changes.consultations.add(c.id)
        if c.blocking and c.subject is not None:
            self.waiting[(c.asker, c.subject)] = c.id
        by = f" (answer by {iso(c.due)})" if c.due is not None else ""
        self._notify(e, list(c.to), c.task, f"`{c.id}` ({c.name}) from `{c.asker}`: {c.question}{by}")
        self._dirty_protocol.add(("consult", c.id))

    def _consultation_settled(self, e: Event) -> None:
        d = e.data
        c = self.consultations[d["id"]]
        answered = e.type == "consultation_answered"
        c.status = "answered" if answered else "timed_out"
        c.answer, c.answered_by, c.answered_at, c.answered_seq = d.get("answer"), e.actor, e.at, e.seq
        if self.changes is not None:
            self.changes.consultations.add(c.id)
        if c.subject is not None and self.waiting.get((c.asker, c.subject)) == c.id:
            del self.waiting[(c.asker, c.subject)]
        if answered:
            text = f"`{c.id}` ({c.name}) answered by `{e.actor}`: {c.answer}"
        elif c.answer is not None:
            text = f"`{c.id}` ({c.name}) timed out; the declared default applies: {c.answer}"
        else:
            text = f"`{c.id}` ({c.name}) timed out without an answer; no default is declared"
        self._notify(e, [c.asker], c.task, text)
        self._dirty_protocol.add(("consult", c.id))

    def _broadcast_sent(self, e: Event) -> None:
        d = e.data
        entry = {"seq": e.seq, "at": e.at, "from": e.actor, **d}
        self.broadcasts.append(entry)
        if self.changes is not None:
            self.changes.broadcasts.append(entry)
        self._notify(e, d["to"], None, f"[{d['channel']}/{d['kind']}/{d['priority']}] {d['subject']}: {d['message']}")

    def _stage_ran(self, e: Event) -> None:
        self._stage(self.instructions[e.data["instruction"]], e.data["stage"])

    def _instruction_gate_decided(self, e: Event) -> None:
        d = e.data
        self.instructions[d["instruction"]].gate_decisions[d["gate"]] = d["outcome"]

    def _instruction_closed(self, e: Event) -> None:
        ins = self.instructions[e.data["instruction"]]
        ins.closed_at, ins.closed_by = e.at, e.actor

    def _task_reassigned(self, e: Event) -> None:
        d = e.data
        task = self.tasks[d["task"]]
        ledger = self.ledger
        remaining = ledger.remaining_of(task.id)
        if remaining is None:
            remaining = float(task.estimate_hours or 0.0)
        ledger.commit(d["to"], task.id, remaining, None)
        task.assignee = d["to"]
        task.reassignments += 1
        self.reassignment_count += 1
        self._touched(task.id)
        self._notify(e, [d["to"]], task.id, f"you are assigned `{task.id}` ({task.title}), reassigned from `{d['from']}`")
        self._notify(e, [d["from"]], task.id, f"`{task.id}` is reassigned to `{d['to']}`")
        self._capacity_changed(task.domain, e)

    def _clarification_recorded(self, e: Event) -> None:
        task = self.tasks[e.data["task"]]
        task.clarifications += 1
        self._touched(task.id)
        self._notify(e, e.data["to"], task.id, f"clarification asked on `{task.id}`: {e.data.get('note') or ''}".rstrip(": "))

    def _defect_recorded(self, e: Event) -> None:
        self.tasks[e.data["task"]].defects += 1
        self._touched(e.data["task"])

    def _domain_capacity_escalated(self, e: Event) -> None:
        d = e.data
        self.domain_escalated.add(d["domain"])
        text = (f"domain `{d['domain']}` is at {d['utilisation']:.0%} of capacity, above {d['limit']:.0%} "
                f"since {iso(d['since'])}")
        self._escalate_protocol(
            {"seq": e.seq, "at": e.at, "kind": "domain_capacity", "domain": d["domain"], "to": d["to"], "reason": text}
        )
        self._notify(e, d["to"], None, text)

    def _standup_reported(self, e: Event) -> None:
        d = e.data
        due = d.get("due")
        if due is not None:
            name = d["standup"]
            self.standup_last[name] = max(float(due), self.standup_last.get(name, float(due)))
            self._dirty_protocol.add(("standup", name))
        entry = {"seq": e.seq, "at": e.at, **d}
        self.standups.append(entry)
        if self.changes is not None:
            self.changes.standups.append(entry)
        self._notify(e, d["to"], None, f"standup `{d['standup']}` from `{d['from']}`")

    def _standups_scheduled(self, e: Event) -> None:
        for name in e.data["standups"]:
            if name not in self.standup_origin:
                self.standup_origin[name] = e.at
                self._dirty_protocol.add(("standup", name))

    def _agent_launched(self, e: Event) -> None:
        d = e.data
        self.launches[d["key"]] = Launch(d["key"], d["agent"], d["kind"], d["id"], d.get("task"), d["attempt"], e.at)

    def _agent_exited(self, e: Event) -> None:
        d = e.data
        launch = self.launches[d["key"]]
        launch.running, launch.code, launch.reason, launch.ended_at = False, d.get("code"), d["reason"], e.at

    def _stage(self, ins: Instruction, stage: str) -> None:
        flow = self.flows.get(ins.tier)
        if flow is not None and stage in flow.stages and stage not in ins.stages:
            ins.stages.append(stage)

    def _capacity_changed(self, domain: str, e: Event) -> None:
        """Re-band a domain whose commitments changed: a message per entry into
        a band with an action; the start or end of an episode above the domain limit."""
        ledger = self.ledger
        if self.changes is not None:
            self.changes.domains.add(domain)
        if not ledger.bands and ledger.domain_limit is None:
            return
        util = ledger.domain_utilisation(domain)
        band = ledger.band(util)
        if band is not None:
            before = self.domain_band.get(domain)
            if before is None:
                zero = ledger.band(0.0)
                before = zero.name if zero is not None else ""
            if band.name != before:
                self.domain_band[domain] = band.name
                action = band.action
                to: list[str] = []
                if action and action.target:
                    to = list(self.model.agents_for(action.target, domain))
                entry = {
                    "seq": e.seq, "at": e.at, "domain": domain, "band": band.name, "from": before,
                    "utilisation": util, "action": to_data(action) if action else None, "to": to,
                }
                self.band_entries.append(entry)
                if action and to:
                    verb = "escalated" if action.kind == "escalate" else "notice"
                    text = f"capacity {verb}: domain `{domain}` entered band `{band.name}` at {util:.0%}"
                    for agent in to:
                        self._deliver(agent, Message(e.seq, e.at, "capacity_band", None, text), e.actor)
        if ledger.domain_limit is not None:
            above = util > ledger.domain_limit
            if above and domain not in self.domain_above:
                self.domain_above[domain] = e.at
                self._dirty_protocol.add(("domain", domain))
            elif not above and domain in self.domain_above:
                del self.domain_above[domain]
                self.domain_escalated.discard(domain)
                self._dirty_protocol.add(("domain", domain))

    def domain_utilisation(self, domain: str) -> float:
        """The ledger's domain utilisation (a running total kept as commitments change)."""
        return self.ledger.domain_utilisation(domain)

    def protocol_due(self, key: tuple[str, ...]) -> tuple[float, int] | None:
        """The due time and kind of a protocol timer, or None when it is not open."""
        kind, ident = key[0], key[1]
        if kind == "ack":
            dl = self.delegations.get(ident)
            if dl is None or dl.status != "pending" or dl.escalated or dl.due is None:
                return None
            return (dl.due, ACK)
        if kind == "domain":
            since = self.domain_above.get(ident)
            if since is None or ident in self.domain_escalated or self._domain_period is None:
                return None
            return (since + self._domain_period, DOMAIN)
        if kind == "standup":
            every = self._standup_every.get(ident)
            origin = self.standup_origin.get(ident)
            if every is None or origin is None:
                return None
            return (self.standup_last.get(ident, origin) + every, STANDUP)
        if kind == "consult":
            c = self.consultations.get(ident)
            if c is None or c.status != "open" or c.due is None:
                return None
            return (c.due, CONSULT)
        return None

    # -- helpers ----------------------------------------------------------------

    def _notify(self, e: Event, agents: list[str], task: str | None, text: str, kind: str | None = None) -> None:
        """A message of type ``kind`` (the event's type by default) in each agent's inbox."""
        for agent in agents:
            self._deliver(agent, Message(e.seq, e.at, kind or e.type, task, text), e.actor)

    def _deliver(self, agent: str, message: Message, actor: str | None) -> None:
        self.inboxes.append(agent, message)
        if self.changes is not None:
            self.changes.messages.append((agent, message, actor))

    def _escalate(self, entry: dict[str, Any]) -> None:
        """Record the escalation of a task."""
        self.escalations.append(entry)
        self.escalations_by_task.setdefault(entry["task"], []).append(entry)
        if self.changes is not None:
            self.changes.escalations.append(entry)
            self.changes.tasks.add(entry["task"])

    def _escalate_protocol(self, entry: dict[str, Any]) -> None:
        """Record an escalation that is not about one task."""
        self.protocol_escalations.append(entry)
        if self.changes is not None:
            self.changes.escalations.append(entry)

    def _touched(self, task: str | None, handoff: str | None = None) -> None:
        """Note a task (and a handoff) the event changed."""
        ch = self.changes
        if ch is not None:
            if task is not None:
                ch.tasks.add(task)
            if handoff is not None:
                ch.handoffs.add(handoff)

    def _enter(self, task: Task, at: float) -> None:
        """Start a state visit. Its deadlines are planned lazily, when the clock
        is next processed (``flush``), so a burst of commands costs no timer work."""
        beat = self._beat[task.state]
        task.hb_due = at + beat if beat is not None else None
        if task.skipped:
            task.skipped = frozenset()
        task.plan = None
        self._dirty.add(task.id)
        self._touched(task.id)

    def by_state(self) -> dict[str, dict[str, None]]:
        """State -> the ids of the tasks in it (read-only for the caller): made from the
        tables' tags once, without decoding a task, then kept by the fold."""
        if self._by_state is None:
            index: dict[str, dict[str, None]] = {}
            for tid, st in self.tasks.tags():
                index.setdefault(st, {})[tid] = None
            self._by_state = index
        return self._by_state

    def flush(self) -> None:
        """Schedule the tasks whose deadlines changed since the last flush."""
        dirty = self._dirty
        if dirty:
            tasks, next_due, cancel = self.tasks, self.next_due, self.timers.cancel
            due: list[tuple[float, tuple[str]]] = []
            for tid in dirty:
                nxt = next_due(tasks[tid])
                if nxt is None:
                    cancel((tid,))
                else:
                    due.append((nxt[0], (tid,)))
            self.timers.push_many(due)
            dirty.clear()
        if self._dirty_protocol:
            for key in sorted(self._dirty_protocol):
                self.schedule_protocol(key)
            self._dirty_protocol.clear()

    def has_changes(self) -> bool:
        """Whether a task or a protocol timer waits to be planned afresh."""
        return bool(self._dirty or self._dirty_protocol)

    def replan(self, task: Task) -> Due | None:
        """The task's next deadline, planned now (its timer is the caller's to set)."""
        self._dirty.discard(task.id)
        return self.next_due(task)

    def touch(self, task: Task) -> None:
        """Plan the task's deadlines afresh at the next flush."""
        self._dirty.add(task.id)

    def touch_protocol(self, key: tuple[str, ...]) -> None:
        """Plan a protocol timer (kind, ident) afresh at the next flush."""
        self._dirty_protocol.add((key[0], key[1]))

    def schedule_protocol(self, key: tuple[str, ...]) -> None:
        nxt = self.protocol_due(key)
        if nxt is None:
            self.timers.cancel(key)
        else:
            self.timers.push(nxt[0], key)

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
        policy = st.escalation
        if policy is not None:
            # each round starts again where the last ended: its levels the last level's time later
            period = policy.levels[-1].after.value
            items += [(r * period + lv.after.value, ESCALATE, level_key(i, r + 1))
                      for r in range(policy.repeat + 1) for i, lv in enumerate(policy.levels, 1)]
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
            elif target:
                if target in fired:  # a level of an escalation policy
                    continue
            elif (kind == WARN and "warn" in fired) or (kind == ESCALATE and "escalate" in fired):
                continue
            best = (at + offset, kind, target)
            break
        if task.hb_due is not None and (best is None or (task.hb_due, HEARTBEAT) < best[:2]):
            best = (task.hb_due, HEARTBEAT, "")
        return best

    # -- views ------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The state as canonical JSON-ready data (timers excluded: they are derived)."""
        agents = sorted(self.model.candidates)
        return {
            "last_seq": self.last_seq,
            "instructions": {k: i.dump() for k, i in sorted(self.instructions.items())},
            "tasks": {k: t.dump() for k, t in sorted(self.tasks.items())},
            "inboxes": {a: [m.dump() for m in msgs] for a, msgs in sorted(self.inboxes.items())},
            "escalations": list(self.escalations),
            "committed": {a: self.ledger.committed(a) for a in agents},
            "handoffs": {k: h.dump() for k, h in sorted(self.handoffs.items())},
            "delegations": {k: d.dump() for k, d in sorted(self.delegations.items())},
            "consultations": {k: c.dump() for k, c in sorted(self.consultations.items())},
            "waiting": {f"{a}:{s}": c for (a, s), c in sorted(self.waiting.items())},
            "broadcasts": list(self.broadcasts),
            "protocol_escalations": list(self.protocol_escalations),
            "domain_band": dict(sorted(self.domain_band.items())),
            "band_entries": list(self.band_entries),
            "domain_above": dict(sorted(self.domain_above.items())),
            "domain_escalated": sorted(self.domain_escalated),
            "assignments": self.assignment_count,
            "reassignments": self.reassignment_count,
            "standup_origin": dict(sorted(self.standup_origin.items())),
            "standup_last": dict(sorted(self.standup_last.items())),
            "standups": list(self.standups),
            "launches": {k: v.dump() for k, v in sorted(self.launches.items())},
        }
