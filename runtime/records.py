"""The records of a running organisation's state: what the fold builds and the engine reads.

Instructions, tasks, handoffs, delegations, consultations and inbox
messages, each a mutable record owned by ``OrgState`` (``state.py``); the
fold is the only code that changes them. ``resolve`` turns a state's budget
into the amounts that apply to one task.

The state keeps records of one kind in a ``Table``: a dict whose values may
still be encoded, as a snapshot stores them (``snapshot.py``), and are decoded
the first time they are used, so opening a large state costs little more than
reading it.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, ValuesView
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from .contract.model import Budget
from .model import StateRec

Plan = tuple[tuple[float, int, str], ...]
"""time offsets from entering a state: (offset, kind, target), in firing order"""
Rationale = tuple[str, str, float | None, tuple[str, ...] | None, tuple[float, ...]]
"""an assignment as a task keeps it: mode, agent, score, factor names (one tuple shared by every
task that has the same names: ``rationale_of``) and the factors' values"""
_FACTOR_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}


def rationale_of(mode: str, agent: str, score: float | None, factors: dict[str, float] | None) -> Rationale:
    """The compact form of an assignment's rationale (a few hundred bytes less per assigned task)."""
    if factors is None:
        return (mode, agent, score, None, ())
    names = tuple(sorted(factors))
    names = _FACTOR_NAMES.setdefault(names, names)
    return (mode, agent, score, names, tuple(factors[n] for n in names))


@dataclass(slots=True)
class Instruction:
    id: str
    text: str
    tier: int
    by: str
    at: float
    tasks: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    """the stages of the tier's flow that ran, in the order they first ran"""
    gate_decisions: dict[str, str] = field(default_factory=dict)
    """gate -> outcome of the latest decision on the instruction (stage gates)"""
    closed_at: float | None = None
    closed_by: str | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "text": self.text, "tier": self.tier, "by": self.by, "at": self.at, "tasks": list(self.tasks),
            "stages": list(self.stages), "gate_decisions": dict(sorted(self.gate_decisions.items())),
            "closed_at": self.closed_at, "closed_by": self.closed_by,
        }


@dataclass(slots=True)
class Handoff:
    """A task handed from its domain to another, with the spec's checklist."""

    id: str
    task: str
    from_domain: str
    to_domain: str
    by: str
    at: float
    summary: str
    artifacts: list[str]
    checklist: list[str]
    accepted_by: str
    """the acceptor as the spec names it (``@downstream_lead`` or a role)"""
    on_accept: str
    on_reject: str | None
    ticked: list[str] = field(default_factory=list)
    ticked_by: dict[str, str] = field(default_factory=dict)
    """checklist item -> the agent who ticked it last"""
    status: str = "open"
    """``open``, ``accepted``, ``rejected`` or ``withdrawn`` (the task left the handoff state otherwise)"""
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id, "task": self.task, "from_domain": self.from_domain, "to_domain": self.to_domain,
            "by": self.by, "at": self.at, "summary": self.summary, "artifacts": list(self.artifacts),
            "checklist": list(self.checklist), "accepted_by": self.accepted_by, "on_accept": self.on_accept,
            "on_reject": self.on_reject, "ticked": list(self.ticked), "ticked_by": dict(self.ticked_by),
            "status": self.status,
            "decided_by": self.decided_by, "decided_at": self.decided_at, "reason": self.reason,
        }


@dataclass(slots=True)
class Delegation:
    """Work delegated one hop down the chain, waiting for an acknowledgement."""

    id: str
    sender: str
    to: str
    subject: str
    message: str
    priority: str
    instruction: str | None
    task: str | None
    at: float
    due: float | None
    status: str = "pending"
    """``pending``, ``accepted`` or ``declined``"""
    acknowledged_at: float | None = None
    notes: str = ""
    escalated: bool = False
    seq: int = 0
    """the event that delegated"""
    acknowledged_seq: int | None = None
    """the event that acknowledged"""

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id, "from": self.sender, "to": self.to, "subject": self.subject, "message": self.message,
            "priority": self.priority, "instruction": self.instruction, "task": self.task, "at": self.at,
            "due": self.due, "status": self.status, "acknowledged_at": self.acknowledged_at, "notes": self.notes,
            "escalated": self.escalated, "seq": self.seq, "acknowledged_seq": self.acknowledged_seq,
        }


@dataclass(slots=True)
class Consultation:
    """A question put to the actor a declared consultation names, waiting for an answer."""

    id: str
    name: str
    """the consultation of the model"""
    asker: str
    to: tuple[str, ...]
    """the agents who may answer"""
    question: str
    instruction: str | None
    task: str | None
    blocking: bool
    at: float
    due: float | None
    default: str | None
    """the declared default answer, given when the timeout passes (None: none declared)"""
    status: str = "open"
    """``open``, ``answered`` or ``timed_out``"""
    answer: str | None = None
    answered_by: str | None = None
    answered_at: float | None = None
    seq: int = 0
    """the event that asked"""
    answered_seq: int | None = None
    """the event that answered, or gave the default"""

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id, "consultation": self.name, "from": self.asker, "to": list(self.to),
            "question": self.question, "instruction": self.instruction, "task": self.task,
            "blocking": self.blocking, "at": self.at, "due": self.due, "default": self.default,
            "status": self.status, "answer": self.answer, "answered_by": self.answered_by,
            "answered_at": self.answered_at, "seq": self.seq, "answered_seq": self.answered_seq,
        }

    @property
    def subject(self) -> str | None:
        """The task or instruction a blocking question holds up, if any."""
        return self.task or self.instruction


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
    handoff: str | None = None
    """the open handoff of the task, if any"""
    clarifications: int = 0
    defects: int = 0
    reassignments: int = 0
    actual_hours: float | None = None
    """hours worked as last reported with a heartbeat"""
    description: str = ""
    acceptance_criteria: tuple[str, ...] = ()
    assignment: Rationale | None = None
    """the mode, agent, score and factors of the task's latest ``task_assigned`` (``rationale()``)"""
    labels: tuple[str, ...] = ()
    """the labels the task was created with (gates may apply by label)"""
    outputs: tuple[str, ...] = ()
    """the paths of what the work produced, as moves reported them (each once, first report first)"""
    notes: tuple[dict[str, Any], ...] = ()
    """the notes left on moves and gate decisions, oldest first (tuples: a task without any
    holds no list of its own)"""

    def rounds(self, source: str, target: str) -> int:
        """How many times the task went from ``source`` to ``target``."""
        return sum(1 for _, _, s, t in self.history if s == source and t == target)

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
            "handoff": self.handoff, "clarifications": self.clarifications, "defects": self.defects,
            "reassignments": self.reassignments, "actual_hours": self.actual_hours,
            "description": self.description, "acceptance_criteria": list(self.acceptance_criteria),
            "assignment": self.rationale(),
            "labels": list(self.labels), "outputs": list(self.outputs), "notes": [dict(n) for n in self.notes],
        }

    def rationale(self) -> dict[str, Any] | None:
        """The mode, agent, score and factors of the task's latest assignment, or None."""
        if self.assignment is None:
            return None
        mode, agent, score, names, values = self.assignment
        return {"mode": mode, "agent": agent, "score": score,
                "factors": dict(zip(names, values, strict=True)) if names is not None else None}


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


@dataclass(slots=True)
class Launch:
    """An agent process started for a waiting item (the dispatcher's record)."""

    key: str
    agent: str
    kind: str
    what: str
    task: str | None
    attempt: int
    at: float
    running: bool = True
    code: int | None = None
    reason: str | None = None
    ended_at: float | None = None

    def dump(self) -> dict[str, Any]:
        return {"key": self.key, "agent": self.agent, "kind": self.kind, "id": self.what, "task": self.task,
                "attempt": self.attempt, "at": self.at, "running": self.running, "code": self.code,
                "reason": self.reason, "ended_at": self.ended_at}
V = TypeVar("V")
T = TypeVar("T")


class Encoded:
    """A record still in its snapshot form, with the items appended to it since (list records)."""

    __slots__ = ("text", "tail")

    def __init__(self, text: str, tail: list[Any]) -> None:
        self.text = text
        self.tail = tail


class Table(dict[str, V]):
    """Records by id, in the order they were added; a value may still be encoded
    (a ``str``, or ``Encoded`` with items appended since), and is decoded by
    ``decode(key, text)`` when first read. Keys, ``len`` and ``in`` never decode;
    ``values()`` and ``items()`` decode every record first."""

    __slots__ = ("decode", "tag")

    def __init__(self, decode: Callable[[str, str], V] | None = None, tag: str = "") -> None:
        super().__init__()
        self.decode = decode
        self.tag = tag
        """the field an encoded record keeps in front (``tag TAB rest``), readable without decoding it"""

    def _decoded(self, key: str, value: Any) -> V:
        if self.decode is None:
            raise TypeError(f"record `{key}` is encoded and the table has no decoder")
        if type(value) is Encoded:
            record: Any = self.decode(key, value.text)
            record.extend(value.tail)
        else:
            record = self.decode(key, value)
        dict.__setitem__(self, key, record)  # the key keeps its place
        return record  # type: ignore[no-any-return]

    def __getitem__(self, key: str) -> V:
        value = dict.__getitem__(self, key)
        if type(value) is str or type(value) is Encoded:
            return self._decoded(key, value)
        return value

    @overload
    def get(self, key: str, default: None = None, /) -> V | None: ...

    @overload
    def get(self, key: str, default: V | T, /) -> V | T: ...

    def get(self, key: str, default: Any = None, /) -> Any:
        value = dict.get(self, key, _ABSENT)
        if value is _ABSENT:
            return default
        if type(value) is str or type(value) is Encoded:
            return self._decoded(key, value)
        return value

    def setdefault(self, key: str, default: Any = None) -> V:
        if key in self:
            return self[key]
        dict.__setitem__(self, key, default)
        return default  # type: ignore[no-any-return]

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            value = self[key]
            dict.__delitem__(self, key)
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def values(self) -> ValuesView[V]:  # type: ignore[override]
        self.decode_all()
        return dict.values(self)

    def items(self) -> ItemsView[str, V]:  # type: ignore[override]
        self.decode_all()
        return dict.items(self)

    def tags(self) -> Iterator[tuple[str, str]]:
        """(key, the ``tag`` field) of every record, in order, decoding none."""
        attr = self.tag
        value: Any
        for key, value in dict.items(self):
            if type(value) is str:
                yield key, value[:value.find("\t")]
            else:
                yield key, getattr(value, attr)

    def decode_all(self) -> None:
        for key, value in list(dict.items(self)):
            if type(value) is str or type(value) is Encoded:
                self._decoded(key, value)

    def append(self, key: str, item: Any) -> None:
        """Append to the list recorded under ``key`` (a new one if none), without
        decoding it: an encoded list keeps the item until it is read."""
        value: Any = dict.get(self, key, _ABSENT)
        store: Any = dict.__setitem__
        if value is _ABSENT:
            store(self, key, [item])
        elif type(value) is str:
            store(self, key, Encoded(value, [item]))
        elif type(value) is Encoded:
            value.tail.append(item)
        else:
            value.append(item)

    def raw(self, key: str) -> Any:
        """The value as stored: a record, or its encoded form."""
        return dict.__getitem__(self, key)

    def load(self, entries: Iterable[tuple[str, str]]) -> None:
        """Add encoded records, in order."""
        update: Any = dict.update
        update(self, entries)

    def __eq__(self, other: object) -> bool:
        self.decode_all()
        if isinstance(other, Table):
            other.decode_all()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self.decode_all()
        return dict.__repr__(self)


_ABSENT = object()
